/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: bytes -> a sequence of calls on a virtual interrupt
 * controller (include/irqroute/vic.h), with valid and invalid arguments, and
 * after every call the rules and invariants of the Vic's reference model
 * (tests/support/vic_model.h).
 *
 * The first byte chooses the Vic: 1-8 CPUs (bits 0-2) and Alpha-style (32
 * levels, ASTs) or x86-style (16 classes, source = vector; bit 6). Then each
 * operation takes an opcode byte and its arguments (OpVic below;
 * vic_seeds.py writes inputs in this format). The fuzz thread owns every
 * emulated CPU (one owner at a time is the rule). After every call:
 *  - per CPU and summed: Raised == Claimed + Cleared + Migrated + Pending, and Pending
 *    equals the pending source bits plus the ASTSR bits;
 *  - VicIsDeliverable equals the model's reading of vic.h's DELIVERY RULES
 *    (level above the effective level, gates open, machine checks through
 *    everything, ASTs per mode), and a claim or take takes what the rules
 *    name: the highest level, within it the highest source, a source before
 *    an AST at the AST level, the most privileged eligible AST mode, and an
 *    IPI's claim every message sent since the last one;
 *  - a raise lands where its route allows (one online CPU of the route, or
 *    every online CPU of a broadcast) and touches no other source;
 *  - a failing call returns a status vic.h documents for it and changes no
 *    pending bit, counter or CPU state.
 * A library built with -DIRQROUTE_VIC_FAST_PATHS=OFF must pass the same.
 * Any breach aborts (a libFuzzer crash).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/router.h>
#include <irqroute/vic.h>

#define FUZZER_NAME "fuzz_vic"
#include "fuzz_input.h"
#include "vic_model.h"

#define MAX_CPUS REF_VIC_MAX_CPUS

static uint32_t CpuCount;

static VIC *Vic;
static void *VicStorage;
static VIC_CONFIG VicConfig;
static VIC_SOURCE_DESCRIPTOR VicX86Sources[VIC_X86_SOURCE_COUNT];
static uint32_t VicIpiSource;
static uint32_t VicIpiWord[MAX_CPUS];     /* messages sent and not yet claimed */
static uint64_t VicIpiCounts[MAX_CPUS][VIC_IPI_MESSAGE_COUNT];

static REF_VIC_SNAPSHOT VicBefore, VicAfter;

static void VicCreate(bool X86)
{
    if (X86)
        VicX86Config(&VicConfig, CpuCount, VicX86Sources);
    else
        VicAlphaConfig(&VicConfig, CpuCount);
    size_t Size = 0;
    CHECK_STATUS(VicQueryStorageSize(&VicConfig, &Size), IRQ_STATUS_SUCCESS);
    VicStorage = aligned_alloc(VIC_STORAGE_ALIGNMENT, (Size + VIC_STORAGE_ALIGNMENT - 1) & ~(size_t)(VIC_STORAGE_ALIGNMENT - 1));
    CHECK(VicStorage != NULL);
    CHECK_STATUS(VicInitialize(VicStorage, Size, &VicConfig, &Vic), IRQ_STATUS_SUCCESS);
    CHECK(VicInitialize(VicStorage, Size, NULL, &Vic) == IRQ_STATUS_INVALID_PARAMETER);
    VicIpiSource = REF_VIC_MAX_SOURCES;
    for (uint32_t Source = 0; Source < VicConfig.SourceCount; Source++)
        if (VicConfig.Sources[Source].Kind == VicSourceIpi && VicConfig.Sources[Source].Level != 0)
            VicIpiSource = Source;
    memset(VicIpiWord, 0, sizeof(VicIpiWord));
    memset(VicIpiCounts, 0, sizeof(VicIpiCounts));
}

static bool VicSourceExists(uint32_t Source)
{
    return RefVicSourceExists(&VicConfig, Source);
}

static void VicTakeSnapshot(REF_VIC_SNAPSHOT *Snapshot)
{
    const char *Why = RefVicTakeSnapshot(Vic, &VicConfig, Snapshot);
    if (Why != NULL)
        Fail("%s", Why);
}

/* The snapshots around one Vic call: VicBefore taken before Call runs,
 * VicAfter once it has returned its status, for the op to compare. */
static IRQ_STATUS VicSnapshotAfter(IRQ_STATUS Status)
{
    VicTakeSnapshot(&VicAfter);
    return Status;
}
#define VIC_CALL_BETWEEN_SNAPSHOTS(Call) (VicTakeSnapshot(&VicBefore), VicSnapshotAfter(Call))

static bool SnapshotPending(const REF_VIC_SNAPSHOT *Snapshot, uint32_t Cpu, uint32_t Source)
{
    return RefVicSnapshotPending(Snapshot, Cpu, Source);
}

static uint32_t HighestBit(uint32_t Word)
{
    return Word == 0 ? 0 : 31u - (uint32_t)__builtin_clz(Word);
}

static void VicCheckUnchanged(IRQ_STATUS Status, const IRQ_STATUS *Allowed, size_t AllowedCount)
{
    RequireDocumented(Status, Allowed, AllowedCount);
    if (memcmp(&VicBefore, &VicAfter, sizeof(VicBefore)) != 0)
        Fail("Vic: a call that returned %s changed the state", IrStatusName(Status));
}

static uint32_t VicReadCpu(READER *Reader)
{
    return U8(Reader) % (CpuCount + 2);
}

static uint32_t VicReadSource(READER *Reader)
{
    uint8_t Byte = U8(Reader);
    uint32_t Source = Byte % (VicConfig.SourceCount + 4);
    if (Byte == 0xFF)
        Source = U32(Reader);
    return Source;
}

/* Per CPU: raised + merged grew by how much. */
static uint64_t VicTouched(uint32_t Cpu)
{
    return VicAfter.Counters[Cpu].Raised + VicAfter.Counters[Cpu].Merged - VicBefore.Counters[Cpu].Raised -
           VicBefore.Counters[Cpu].Merged;
}

/* Only Source's bits may have changed, and only from 0 to 1. */
static void VicCheckOnlyRaised(uint32_t Source)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        for (uint32_t Word = 0; Word < REF_VIC_MAX_SOURCES / 64; Word++) {
            uint64_t Changed = VicBefore.Pending[Cpu][Word] ^ VicAfter.Pending[Cpu][Word];
            uint64_t Allowed = Word == Source / 64 ? 1ull << (Source % 64) : 0;
            CHECK((Changed & ~Allowed) == 0);
            CHECK((Changed & VicBefore.Pending[Cpu][Word]) == 0);
        }
        CHECK(VicAfter.Counters[Cpu].Claimed == VicBefore.Counters[Cpu].Claimed);
        CHECK(VicAfter.Counters[Cpu].Cleared == VicBefore.Counters[Cpu].Cleared);
    }
}

static void VicOpRaise(READER *Reader, bool OnCpu)
{
    uint32_t Source = VicReadSource(Reader);
    uint32_t Cpu = VicReadCpu(Reader);
    IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
    uint32_t TargetCpu = 0;
    IR_CPU_SET Mask;
    IrCpuSetZero(&Mask);
    if (VicSourceExists(Source))
        CHECK_STATUS(VicQueryRoute(Vic, Source, &Policy, &TargetCpu, &Mask), IRQ_STATUS_SUCCESS);
    IRQ_STATUS Status = VIC_CALL_BETWEEN_SNAPSHOTS(OnCpu ? VicRaiseOnCpu(Vic, Source, Cpu) : VicRaise(Vic, Source));
    if (!VicSourceExists(Source))
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_VECTOR);
    else if (OnCpu && (Cpu >= CpuCount || !VicBefore.States[Cpu].Online))
        CHECK_STATUS(Status, IRQ_STATUS_INVALID_CPU);
    if (Status != IRQ_STATUS_SUCCESS) {
        static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_VECTOR, IRQ_STATUS_INVALID_CPU,
                                             IRQ_STATUS_EMPTY_AFFINITY};
        VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
        return;
    }
    VicCheckOnlyRaised(Source);
    uint64_t Online = 0, Touched = 0;
    for (uint32_t Each = 0; Each < CpuCount; Each++) {
        if (VicBefore.States[Each].Online)
            Online |= 1ull << Each;
        CHECK(VicTouched(Each) <= 1);
        if (VicTouched(Each))
            Touched |= 1ull << Each;
    }
    if (OnCpu) {
        CHECK(Touched == 1ull << Cpu);
    } else if (Source == VicIpiSource || VicConfig.Sources[Source].Kind == VicSourceMachineCheck) {
        CHECK(Touched != 0 && (Touched & ~Online) == 0);
    } else if (Policy == IrRoutingBroadcast) {
        CHECK(Touched == (Mask.Bits[0] & Online));
    } else {
        CHECK(__builtin_popcountll(Touched) == 1 && (Touched & ~Online) == 0);
        if (Policy != IrRoutingFixedCpu)
            CHECK((Touched & Mask.Bits[0]) != 0);
        else if ((Online >> TargetCpu) & 1u)
            CHECK(Touched == 1ull << TargetCpu);
    }
}

static void VicOpClear(READER *Reader)
{
    uint32_t Source = VicReadSource(Reader);
    uint32_t Cpu = VicReadCpu(Reader);
    IRQ_STATUS Status = VIC_CALL_BETWEEN_SNAPSHOTS(VicClear(Vic, Source, Cpu));
    bool Valid = VicSourceExists(Source) && Cpu < CpuCount;
    if (Valid && SnapshotPending(&VicBefore, Cpu, Source)) {
        CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
        CHECK(!SnapshotPending(&VicAfter, Cpu, Source));
        CHECK(VicAfter.Counters[Cpu].Cleared == VicBefore.Counters[Cpu].Cleared + 1);
        if (Source == VicIpiSource)
            VicIpiWord[Cpu] = 0; /* clearing the IPI withdraws its messages (vic.h) */
        return;
    }
    if (Valid)
        CHECK_STATUS(Status, IRQ_STATUS_NOT_PENDING);
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_VECTOR, IRQ_STATUS_INVALID_CPU, IRQ_STATUS_NOT_PENDING,
                                         IRQ_STATUS_INVALID_PARAMETER};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
}

static void VicOpClaim(READER *Reader)
{
    uint32_t Cpu = VicReadCpu(Reader);
    /* Bit 0: end the interrupt after a claim; bit 1: take instead of claim
     * (VicTakeInterrupt: same choice, nothing enters service). */
    uint8_t How = U8(Reader);
    bool End = (How & 1u) != 0;
    bool Take = (How & 2u) != 0;
    VicTakeSnapshot(&VicBefore);
    REF_VIC_EXPECTED Expected =
        Cpu < CpuCount ? RefVicExpectedClaim(&VicConfig, &VicBefore, Cpu) : (REF_VIC_EXPECTED){.Any = false};
    bool Deliverable = VicIsDeliverable(Vic, Cpu);
    VIC_CLAIM Claim = {.Source = 0x5EED};
    IRQ_STATUS Status = Take ? VicTakeInterrupt(Vic, Cpu, &Claim) : VicClaim(Vic, Cpu, &Claim);
    VicTakeSnapshot(&VicAfter);
    if (Cpu < CpuCount && VicBefore.States[Cpu].Online)
        CHECK((Status == IRQ_STATUS_SUCCESS) == Deliverable);
    if (Status != IRQ_STATUS_SUCCESS) {
        CHECK(!Expected.Any || !VicBefore.States[Cpu].Online);
        CHECK(Claim.Source == 0x5EED);
        static const IRQ_STATUS Allowed[] = {IRQ_STATUS_NOTHING_PENDING, IRQ_STATUS_INVALID_CPU,
                                             IRQ_STATUS_INVALID_PARAMETER};
        VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
        return;
    }
    const char *Why = RefVicCheckClaim(&VicConfig, &Expected, Status, &Claim, VicIpiWord[Cpu]);
    if (Why != NULL)
        Fail("Vic CPU %u: %s", Cpu, Why);
    if (Expected.Ast) {
        CHECK(((VicAfter.States[Cpu].AstSummary >> Expected.AstMode) & 1u) == 0);
    } else {
        CHECK(!SnapshotPending(&VicAfter, Cpu, Claim.Source));
        if (Claim.Source == VicIpiSource) {
            for (uint32_t Message = 0; Message < VIC_IPI_MESSAGE_COUNT; Message++)
                VicIpiCounts[Cpu][Message] += (VicIpiWord[Cpu] >> Message) & 1u;
            VicIpiWord[Cpu] = 0;
        }
    }
    CHECK(VicAfter.Counters[Cpu].Claimed == VicBefore.Counters[Cpu].Claimed + 1);
    for (uint32_t Message = 0; Message < VIC_IPI_MESSAGE_COUNT; Message++)
        CHECK(VicQueryIpiCount(Vic, Cpu, Message) == VicIpiCounts[Cpu][Message]);
    if (Take) {
        CHECK(VicAfter.States[Cpu].InService == VicBefore.States[Cpu].InService);
        return;
    }
    CHECK((VicAfter.States[Cpu].InService >> Claim.Level) & 1u);
    if (End) {
        CHECK_STATUS(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
        VIC_CPU_STATE State;
        CHECK_STATUS(VicQueryCpuState(Vic, Cpu, &State), IRQ_STATUS_SUCCESS);
        CHECK(State.InService == (VicAfter.States[Cpu].InService & ~(1u << HighestBit(VicAfter.States[Cpu].InService))));
    }
}

/* The owner's own acts: level, gates, mode, AST registers, end of interrupt, SIRR. */
static void VicOpCpu(READER *Reader, uint8_t Which)
{
    uint32_t Cpu = VicReadCpu(Reader);
    uint32_t Value = U8(Reader);
    uint32_t Keep = U8(Reader) & 0x1F, Set = U8(Reader) & 0x1F;
    VicTakeSnapshot(&VicBefore);
    IRQ_STATUS Status;
    uint32_t Previous = 0xFFFF;
    bool PreviousFlag = false;
    switch (Which) {
    case 0:
        Status = VicSetLevel(Vic, Cpu, Value % (VicConfig.LevelCount + 2), &Previous);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(Previous == VicBefore.States[Cpu].Level);
        break;
    case 1:
        Status = VicSetInterruptsEnabled(Vic, Cpu, Value & 1u, &PreviousFlag);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(PreviousFlag == VicBefore.States[Cpu].InterruptsEnabled);
        break;
    case 2:
        Status = VicSetBarrier(Vic, Cpu, Value & 1u);
        break;
    case 3:
        Status = VicSetPalMode(Vic, Cpu, Value & 1u);
        break;
    case 4:
        Status = VicSetMode(Vic, Cpu, (VIC_PROCESSOR_MODE)(Value % (VicModeCount + 2)));
        break;
    case 5:
        Status = VicWriteAstEnable(Vic, Cpu, Keep, Set, &Previous);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(Previous == VicBefore.States[Cpu].AstEnable);
        break;
    case 6:
        Status = VicWriteAstSummary(Vic, Cpu, Keep, Set, &Previous);
        if (Status == IRQ_STATUS_SUCCESS)
            CHECK(Previous == VicBefore.States[Cpu].AstSummary);
        break;
    case 7:
        Status = VicEndOfInterrupt(Vic, Cpu);
        if (Cpu < CpuCount)
            CHECK(Status == (VicBefore.States[Cpu].InService != 0 ? IRQ_STATUS_SUCCESS : IRQ_STATUS_INVALID_STATE));
        break;
    default: {
        Status = VicWriteSoftwareRequest(Vic, Cpu, Value % (VicConfig.LevelCount + 2));
        uint32_t Summary = 0xFFFFFFFFu;
        if (Cpu < CpuCount) {
            CHECK_STATUS(VicReadSoftwareSummary(Vic, Cpu, &Summary), IRQ_STATUS_SUCCESS);
            if (Status == IRQ_STATUS_SUCCESS)
                CHECK((Summary >> (Value % (VicConfig.LevelCount + 2))) & 1u);
        } else {
            CHECK(VicReadSoftwareSummary(Vic, Cpu, &Summary) != IRQ_STATUS_SUCCESS);
        }
        break;
    }
    }
    VicTakeSnapshot(&VicAfter);
    if (Cpu >= CpuCount)
        CHECK(Status != IRQ_STATUS_SUCCESS);
    if (Status == IRQ_STATUS_SUCCESS) {
        /* Owner acts never touch pending sources (SIRR raises one). */
        if (Which != 8)
            for (uint32_t Each = 0; Each < CpuCount; Each++)
                CHECK(memcmp(VicBefore.Pending[Each], VicAfter.Pending[Each], sizeof(VicBefore.Pending[Each])) == 0);
        if (Which == 0)
            CHECK(VicAfter.States[Cpu].Level == Value % (VicConfig.LevelCount + 2));
        if (Which == 4)
            CHECK(VicAfter.States[Cpu].Mode == (VIC_PROCESSOR_MODE)(Value % (VicModeCount + 2)));
        if (Which == 5)
            CHECK(VicAfter.States[Cpu].AstEnable == (((VicBefore.States[Cpu].AstEnable & Keep) | Set) & 0xFu));
        if (Which == 6)
            CHECK(VicAfter.States[Cpu].AstSummary == (((VicBefore.States[Cpu].AstSummary & Keep) | Set) & 0xFu));
        return;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_CPU, IRQ_STATUS_INVALID_IRQL, IRQ_STATUS_INVALID_PARAMETER,
                                         IRQ_STATUS_INVALID_STATE, IRQ_STATUS_NOT_SUPPORTED};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
}

static void VicOpIpi(READER *Reader)
{
    uint8_t Kind = U8(Reader) % 5;
    uint32_t Cpu = VicReadCpu(Reader);
    IR_CPU_SET Set = SetOfMask(MaskFromByte(U8(Reader)));
    uint32_t Message = U8(Reader) % (VIC_IPI_MESSAGE_COUNT + 2);
    VIC_IPI_TARGET Target = {.Kind = Kind < 4 ? (VIC_IPI_TARGET_KIND)Kind : (VIC_IPI_TARGET_KIND)11, .Cpu = Cpu,
                             .Cpus = &Set};
    VicTakeSnapshot(&VicBefore);
    uint64_t Online = 0;
    for (uint32_t Each = 0; Each < CpuCount; Each++)
        if (VicBefore.States[Each].Online)
            Online |= 1ull << Each;
    uint64_t Targets = 0;
    bool Defect = Kind == 4 || Message >= VIC_IPI_MESSAGE_COUNT || VicIpiSource >= REF_VIC_MAX_SOURCES;
    switch (Kind) {
    case 0:
        Targets = Cpu < 64 ? 1ull << Cpu : 0;
        Defect |= Cpu >= CpuCount || !((Online >> Cpu) & 1u);
        break;
    case 1:
        Targets = Set.Bits[0];
        Defect |= Targets == 0 || (Targets & ~Online) != 0;
        break;
    case 2:
        Targets = Online;
        break;
    case 3:
        Targets = Online & ~(Cpu < 64 ? 1ull << Cpu : 0);
        break;
    default:
        break;
    }
    IRQ_STATUS Status = VicSendIpi(Vic, &Target, Message);
    VicTakeSnapshot(&VicAfter);
    if (Status != IRQ_STATUS_SUCCESS) {
        static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_CPU,
                                             IRQ_STATUS_EMPTY_AFFINITY, IRQ_STATUS_NOT_SUPPORTED};
        VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
        return;
    }
    if (Defect)
        Fail("VicSendIpi kind %u cpu %u message %u succeeded", Kind, Cpu, Message);
    VicCheckOnlyRaised(VicIpiSource);
    for (uint32_t Each = 0; Each < CpuCount; Each++) {
        bool Targeted = (Targets >> Each) & 1u;
        CHECK(VicTouched(Each) == Targeted);
        CHECK(SnapshotPending(&VicAfter, Each, VicIpiSource) == (SnapshotPending(&VicBefore, Each, VicIpiSource) || Targeted));
        if (Targeted)
            VicIpiWord[Each] |= 1u << Message;
    }
}

static void VicOpRoute(READER *Reader)
{
    uint32_t Source = VicReadSource(Reader);
    uint8_t PolicyByte = U8(Reader) % (IrRoutingPolicyCount + 2);
    uint32_t TargetCpu = VicReadCpu(Reader);
    uint8_t MaskByte = U8(Reader);
    IR_CPU_SET Mask = SetOfMask(MaskFromByte(MaskByte));
    IR_ROUTE_CONFIG Config = {.Policy = (IR_ROUTING_POLICY)PolicyByte, .TargetCpu = TargetCpu,
                              .Mask = (MaskByte & 0x80) && Bit(Reader) ? NULL : &Mask};
    IR_ROUTING_POLICY OldPolicy = IrRoutingPolicyCount, NewPolicy;
    uint32_t OldCpu = 0, NewCpu;
    IR_CPU_SET OldMask, NewMask;
    IrCpuSetZero(&OldMask);
    bool Exists = VicSourceExists(Source);
    if (Exists)
        CHECK_STATUS(VicQueryRoute(Vic, Source, &OldPolicy, &OldCpu, &OldMask), IRQ_STATUS_SUCCESS);
    IRQ_STATUS Status = VIC_CALL_BETWEEN_SNAPSHOTS(VicSetRoute(Vic, Source, &Config));
    CHECK(memcmp(&VicBefore, &VicAfter, sizeof(VicBefore)) == 0);
    if (!Exists) {
        CHECK(Status != IRQ_STATUS_SUCCESS);
        return;
    }
    CHECK_STATUS(VicQueryRoute(Vic, Source, &NewPolicy, &NewCpu, &NewMask), IRQ_STATUS_SUCCESS);
    if (Status == IRQ_STATUS_SUCCESS) {
        CHECK(PolicyByte < IrRoutingPolicyCount && NewPolicy == Config.Policy);
        if (Config.Policy == IrRoutingFixedCpu)
            CHECK(NewCpu == TargetCpu && TargetCpu < CpuCount);
        return;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_PARAMETER, IRQ_STATUS_INVALID_VECTOR,
                                         IRQ_STATUS_INVALID_CPU, IRQ_STATUS_EMPTY_AFFINITY};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
    CHECK(NewPolicy == OldPolicy && NewCpu == OldCpu && IrCpuSetEqual(&NewMask, &OldMask));
}

/* VicSetCpuOnline moves device interrupts off offline CPUs (vic.h): only a
 * device source's bit changes, 1 -> 0 on an offline CPU (counted as
 * Migrated there), 0 -> 1 on an online one; a source that left a CPU is
 * pending on an online CPU afterwards (raised there, or merged). */
static void VicCheckMigrations(void)
{
    uint64_t Left[REF_VIC_MAX_SOURCES / 64] = {0}, Arrived[REF_VIC_MAX_SOURCES / 64] = {0},
             OnOnline[REF_VIC_MAX_SOURCES / 64] = {0};
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        bool CpuOnline = VicAfter.States[Cpu].Online;
        uint64_t Gone = 0;
        for (uint32_t Word = 0; Word < REF_VIC_MAX_SOURCES / 64; Word++) {
            uint64_t Before = VicBefore.Pending[Cpu][Word], After = VicAfter.Pending[Cpu][Word];
            for (uint64_t Changed = Before ^ After; Changed != 0; Changed &= Changed - 1u) {
                uint32_t Source = Word * 64u + (uint32_t)__builtin_ctzll(Changed);
                CHECK(Source < VicConfig.SourceCount && VicConfig.Sources[Source].Kind == VicSourceDevice);
            }
            CHECK(CpuOnline ? (Before & ~After) == 0 : (~Before & After) == 0);
            Left[Word] |= Before & ~After;
            Arrived[Word] |= ~Before & After;
            if (CpuOnline)
                OnOnline[Word] |= After;
            Gone += (uint64_t)__builtin_popcountll(Before & ~After);
        }
        CHECK(VicAfter.Counters[Cpu].Migrated == VicBefore.Counters[Cpu].Migrated + Gone);
        CHECK(VicAfter.Counters[Cpu].Claimed == VicBefore.Counters[Cpu].Claimed);
        CHECK(VicAfter.Counters[Cpu].Cleared == VicBefore.Counters[Cpu].Cleared);
    }
    for (uint32_t Word = 0; Word < REF_VIC_MAX_SOURCES / 64; Word++) {
        CHECK((Arrived[Word] & ~Left[Word]) == 0);
        CHECK((Left[Word] & ~OnOnline[Word]) == 0);
    }
}

static void VicOpOnline(READER *Reader)
{
    uint32_t Cpu = VicReadCpu(Reader);
    bool Online = Bit(Reader);
    IRQ_STATUS Status = VIC_CALL_BETWEEN_SNAPSHOTS(VicSetCpuOnline(Vic, Cpu, Online));
    if (Cpu < CpuCount) {
        CHECK_STATUS(Status, IRQ_STATUS_SUCCESS);
        CHECK(VicAfter.States[Cpu].Online == Online);
        VicCheckMigrations();
        return;
    }
    static const IRQ_STATUS Allowed[] = {IRQ_STATUS_INVALID_CPU, IRQ_STATUS_INVALID_PARAMETER};
    VicCheckUnchanged(Status, Allowed, COUNT_OF(Allowed));
}

static void OpVic(READER *Reader)
{
    CurrentOp = "Vic";
    uint8_t Which = U8(Reader) % 16;
    switch (Which) {
    case 0:
    case 1:
    case 2:
        VicOpRaise(Reader, Which == 2);
        break;
    case 3:
        VicOpClear(Reader);
        break;
    case 4:
    case 5:
        VicOpClaim(Reader);
        break;
    case 6:
        VicOpIpi(Reader);
        break;
    case 7:
        VicOpRoute(Reader);
        break;
    case 8:
        VicOpOnline(Reader);
        break;
    default:
        VicOpCpu(Reader, (uint8_t)(Which - 9 + (Which == 15 ? U8(Reader) % 3 : 0)));
        break;
    }
    VicTakeSnapshot(&VicAfter);
    const char *Why = RefVicCheckInvariants(Vic, &VicConfig, &VicAfter);
    if (Why != NULL)
        Fail("Vic: %s", Why);
}

/* ---- One input --------------------------------------------------------------------------------------- */

static void VicDestroy(void)
{
    free(VicStorage);
    VicStorage = NULL;
    Vic = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    READER Reader = {.Data = Data, .Size = Size};
    CurrentOp = "boot";
    uint8_t Shape = U8(&Reader);
    CpuCount = 1u + (Shape & 7u);
    VicCreate((Shape & 0x40) != 0);
    VicTakeSnapshot(&VicAfter);
    const char *Why = RefVicCheckInvariants(Vic, &VicConfig, &VicAfter);
    if (Why != NULL)
        Fail("Vic: %s", Why);
    for (uint32_t Step = 0; Step < 256 && More(&Reader); Step++)
        OpVic(&Reader);
    VicDestroy();
    return 0;
}
