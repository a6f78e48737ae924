/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary bytes -> HlDmarParse (src/hl/dmar.c) and its
 * queries.
 *
 * Built with -fsanitize=fuzzer,address,undefined. The input is copied into a
 * malloc of exactly its size, so any read past the caller's buffer is an
 * AddressSanitizer report. Beyond "no crash", each input is checked against
 * a reference walk written here from the VT-d spec rev. 3.x chapter 8 and
 * hl.h's rules for HlDmarParse, independently of the parser:
 *  - the status is the reference's (SUCCESS, MALFORMED_TABLE or
 *    INSUFFICIENT_RESOURCES);
 *  - a refused table leaves Info byte for byte as it was;
 *  - an accepted one fills the counts, units and scopes as the reference
 *    reads them, leaves the array entries past the counts alone, and parses
 *    the same way twice; the same table in a buffer one byte short of its
 *    Length is refused;
 *  - the queries agree with a plain search of the reference's units.
 * A mismatch aborts, which libFuzzer reports as a crash with the input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/hl.h>

#define FUZZER_NAME "fuzz_dmar"
#include "fuzz_table.h"

/* Pass 1 of the reference: every structure inside the table (4-byte header,
 * Length >= 4), every DRHD >= 16 bytes with its scopes tiling its body
 * (each >= 8 bytes, an even path, inside the DRHD). */
static bool StructureIsSound(const uint8_t *Table, uint32_t Length)
{
    uint32_t Offset = 48;
    while (Offset < Length) {
        if (Length - Offset < 4)
            return false;
        uint32_t StructureLength = Le16(Table + Offset + 2);
        if (StructureLength < 4 || StructureLength > Length - Offset)
            return false;
        if (Le16(Table + Offset) == 0) {
            if (StructureLength < 16)
                return false;
            uint32_t Scope = 16;
            while (Scope < StructureLength) {
                if (StructureLength - Scope < 6)
                    return false;
                uint32_t ScopeLength = Table[Offset + Scope + 1];
                if (ScopeLength < 8 || ScopeLength % 2 != 0 || ScopeLength > StructureLength - Scope)
                    return false;
                Scope += ScopeLength;
            }
        }
        Offset += StructureLength;
    }
    return true;
}

/* Pass 2: the units in table order into *Out, with the semantic rules; the
 * I/O APIC ids seen so far in a bitmap. */
static IRQ_STATUS ReferenceParse(const uint8_t *Table, size_t Size, HL_DMAR_INFO *Out)
{
    uint32_t Length;
    if (!FuzzHeaderIsSound(Table, Size, "DMAR", 48, &Length) || Table[36] > 63 || !StructureIsSound(Table, Length))
        return IRQ_STATUS_MALFORMED_TABLE;

    bool IoApicSeen[256] = {false};
    uint64_t Bases[64];
    uint32_t BaseCount = 0;
    static bool IncludeAllSeen[65536]; /* one per segment */
    memset(IncludeAllSeen, 0, sizeof(IncludeAllSeen));
    uint32_t Units = 0, Skipped = 0, Unknown = 0;
    for (uint32_t Offset = 48; Offset < Length; Offset += Le16(Table + Offset + 2)) {
        const uint8_t *S = Table + Offset;
        uint32_t Type = Le16(S), StructureLength = Le16(S + 2);
        if (Type != 0) {
            if (Type <= 6)
                Skipped++;
            else
                Unknown++;
            continue;
        }
        uint64_t Base = Le64(S + 8);
        uint16_t Segment = (uint16_t)Le16(S + 6);
        bool IncludeAll = (S[4] & 1u) != 0;
        if (Base == 0 || Base % 0x1000u != 0)
            return IRQ_STATUS_MALFORMED_TABLE;
        for (uint32_t Index = 0; Index < BaseCount; Index++) {
            if (Bases[Index] == Base)
                return IRQ_STATUS_MALFORMED_TABLE;
        }
        if (IncludeAll && IncludeAllSeen[Segment])
            return IRQ_STATUS_MALFORMED_TABLE;
        if (Units == HL_DMAR_MAX_UNITS)
            return IRQ_STATUS_INSUFFICIENT_RESOURCES;
        if (BaseCount < 64)
            Bases[BaseCount++] = Base;
        if (IncludeAll)
            IncludeAllSeen[Segment] = true;
        HL_DMAR_UNIT *Unit = &Out->Units[Units];
        uint32_t Scopes = 0, SkippedScopes = 0;
        for (uint32_t Scope = 16; Scope < StructureLength; Scope += S[Scope + 1]) {
            const uint8_t *D = S + Scope;
            if (D[0] < 1 || D[0] > 5) {
                SkippedScopes++;
                continue;
            }
            uint32_t PathLength = (D[1] - 6u) / 2u;
            for (uint32_t Index = 0; Index < PathLength; Index++) {
                if (D[6 + 2 * Index] > 31 || D[7 + 2 * Index] > 7)
                    return IRQ_STATUS_MALFORMED_TABLE;
            }
            if (D[0] == 3) {
                if (IoApicSeen[D[4]])
                    return IRQ_STATUS_MALFORMED_TABLE;
                IoApicSeen[D[4]] = true;
            }
            if (PathLength > HL_DMAR_MAX_PATH || Scopes == HL_DMAR_MAX_SCOPES_PER_UNIT)
                return IRQ_STATUS_INSUFFICIENT_RESOURCES;
            HL_DMAR_SCOPE *Out1 = &Unit->Scopes[Scopes++];
            Out1->Type = (HL_DMAR_SCOPE_TYPE)D[0];
            Out1->EnumerationId = D[4];
            Out1->StartBus = D[5];
            Out1->PathLength = (uint8_t)PathLength;
            for (uint32_t Index = 0; Index < PathLength; Index++)
                Out1->Path[Index] = (HL_DMAR_PATH_ENTRY){.Device = D[6 + 2 * Index], .Function = D[7 + 2 * Index]};
            Out1->SourceIdKnown = PathLength == 1;
            Out1->SourceId = (uint16_t)(D[5] << 8 | D[6] << 3 | D[7]);
        }
        Unit->RegisterBase = Base;
        Unit->Segment = Segment;
        Unit->IncludePciAll = IncludeAll;
        Unit->ScopeCount = Scopes;
        Unit->SkippedScopeCount = SkippedScopes;
        Units++;
    }
    if (Units == 0)
        return IRQ_STATUS_MALFORMED_TABLE;
    Out->HostAddressWidth = Table[36] + 1u;
    Out->Flags = Table[37];
    Out->UnitCount = Units;
    Out->SkippedStructureCount = Skipped;
    Out->UnknownStructureCount = Unknown;
    return IRQ_STATUS_SUCCESS;
}

static void CompareInfo(const HL_DMAR_INFO *A, const HL_DMAR_INFO *B)
{
    CHECK(A->HostAddressWidth == B->HostAddressWidth && A->Flags == B->Flags && A->UnitCount == B->UnitCount);
    CHECK(A->SkippedStructureCount == B->SkippedStructureCount);
    CHECK(A->UnknownStructureCount == B->UnknownStructureCount);
    for (uint32_t Index = 0; Index < A->UnitCount; Index++) {
        const HL_DMAR_UNIT *P = &A->Units[Index], *Q = &B->Units[Index];
        CHECK(P->RegisterBase == Q->RegisterBase && P->Segment == Q->Segment && P->IncludePciAll == Q->IncludePciAll);
        CHECK(P->ScopeCount == Q->ScopeCount && P->SkippedScopeCount == Q->SkippedScopeCount);
        for (uint32_t ScopeIndex = 0; ScopeIndex < P->ScopeCount; ScopeIndex++) {
            const HL_DMAR_SCOPE *X = &P->Scopes[ScopeIndex], *Y = &Q->Scopes[ScopeIndex];
            CHECK(X->Type == Y->Type && X->EnumerationId == Y->EnumerationId && X->StartBus == Y->StartBus);
            CHECK(X->PathLength == Y->PathLength && X->SourceIdKnown == Y->SourceIdKnown && X->SourceId == Y->SourceId);
            for (uint32_t PathIndex = 0; PathIndex < X->PathLength; PathIndex++)
                CHECK(X->Path[PathIndex].Device == Y->Path[PathIndex].Device &&
                      X->Path[PathIndex].Function == Y->Path[PathIndex].Function);
        }
        /* Scopes past the count keep the fill pattern. */
        CHECK(FuzzTailIsFill(P->Scopes, sizeof(P->Scopes[0]), P->ScopeCount, HL_DMAR_MAX_SCOPES_PER_UNIT));
    }
    CHECK(FuzzTailIsFill(A->Units, sizeof(A->Units[0]), A->UnitCount, HL_DMAR_MAX_UNITS));
}

/* The queries against a plain search of the reference. */
static void CheckQueries(const HL_DMAR_INFO *Parsed, const uint8_t *Data, size_t Size)
{
    uint8_t IoApicId = Size > 0 ? Data[Size - 1] : 0;
    uint32_t ExpectedUnit = UINT32_MAX, IncludeAll = UINT32_MAX;
    const HL_DMAR_SCOPE *Scope = NULL;
    for (uint32_t Index = 0; Index < Parsed->UnitCount; Index++) {
        const HL_DMAR_UNIT *Unit = &Parsed->Units[Index];
        if (Unit->IncludePciAll && Unit->Segment == 0 && IncludeAll == UINT32_MAX)
            IncludeAll = Index;
        for (uint32_t ScopeIndex = 0; ScopeIndex < Unit->ScopeCount && Scope == NULL; ScopeIndex++) {
            if (Unit->Scopes[ScopeIndex].Type == HlDmarScopeIoApic && Unit->Scopes[ScopeIndex].EnumerationId == IoApicId) {
                Scope = &Unit->Scopes[ScopeIndex];
                ExpectedUnit = Index;
            }
        }
    }
    if (ExpectedUnit == UINT32_MAX)
        ExpectedUnit = IncludeAll;
    uint32_t UnitIndex = UINT32_MAX;
    IRQ_STATUS Status = HlDmarFindIoApicUnit(Parsed, IoApicId, &UnitIndex);
    CHECK(Status == (ExpectedUnit == UINT32_MAX ? IRQ_STATUS_NOT_SUPPORTED : IRQ_STATUS_SUCCESS));
    CHECK(UnitIndex == ExpectedUnit);
    uint16_t SourceId = 0;
    Status = HlDmarGetIoApicSourceId(Parsed, IoApicId, &SourceId);
    if (Scope != NULL && Scope->SourceIdKnown)
        CHECK(Status == IRQ_STATUS_SUCCESS && SourceId == Scope->SourceId);
    else
        CHECK(Status == IRQ_STATUS_NOT_SUPPORTED && SourceId == 0);
    /* Every recorded PCI scope with a known source id finds a unit that
     * lists a scope with that requester. */
    for (uint32_t Index = 0; Index < Parsed->UnitCount; Index++) {
        const HL_DMAR_UNIT *Unit = &Parsed->Units[Index];
        for (uint32_t ScopeIndex = 0; ScopeIndex < Unit->ScopeCount; ScopeIndex++) {
            const HL_DMAR_SCOPE *Pci = &Unit->Scopes[ScopeIndex];
            if ((Pci->Type != HlDmarScopePciEndpoint && Pci->Type != HlDmarScopePciBridge) || !Pci->SourceIdKnown)
                continue;
            CHECK(HlDmarFindPciUnit(Parsed, Unit->Segment, (uint8_t)(Pci->SourceId >> 8), (uint8_t)((Pci->SourceId >> 3) & 31u),
                                    (uint8_t)(Pci->SourceId & 7u), &UnitIndex) == IRQ_STATUS_SUCCESS);
            CHECK(UnitIndex <= Index && Parsed->Units[UnitIndex].Segment == Unit->Segment);
        }
    }
}

static void CheckInfo(const HL_DMAR_INFO *Info, const HL_DMAR_INFO *Referenced, const uint8_t *Table, size_t Size)
{
    CompareInfo(Info, Referenced);
    CheckQueries(Info, Table, Size);
}

FUZZ_TABLE_FUZZER(HL_DMAR_INFO, HlDmarParse, ReferenceParse, CheckInfo)
