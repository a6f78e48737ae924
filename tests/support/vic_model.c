/* SPDX-License-Identifier: MIT */
/*
 * The Vic's reference model (vic_model.h).
 */
#include <string.h>

#include "model_why.h"
#include "vic_model.h"

static uint32_t RefpHighestBit(uint32_t Word)
{
    return Word == 0 ? 0 : 31u - (uint32_t)__builtin_clz(Word);
}

static uint32_t RefpEffectiveLevel(const VIC_CPU_STATE *State)
{
    uint32_t Serving = RefpHighestBit(State->InService);
    return State->Level > Serving ? State->Level : Serving;
}

bool RefVicSourceExists(const VIC_CONFIG *Config, uint32_t Source)
{
    return Source < Config->SourceCount && Config->Sources[Source].Level != 0;
}

const char *RefVicTakeSnapshot(const VIC *Vic, const VIC_CONFIG *Config, REF_VIC_SNAPSHOT *Snapshot)
{
    memset(Snapshot, 0, sizeof(*Snapshot));
    for (uint32_t Cpu = 0; Cpu < Config->CpuCount; Cpu++) {
        if (VicQueryCounters(Vic, Cpu, &Snapshot->Counters[Cpu]) != IRQ_STATUS_SUCCESS ||
            VicQueryCpuState(Vic, Cpu, &Snapshot->States[Cpu]) != IRQ_STATUS_SUCCESS)
            return RefpFail("CPU %u: a query failed", Cpu);
        for (uint32_t Source = 0; Source < Config->SourceCount; Source++) {
            bool Pending = false;
            IRQ_STATUS Status = VicIsPending(Vic, Source, Cpu, &Pending);
            if (!RefVicSourceExists(Config, Source)) {
                if (Status == IRQ_STATUS_SUCCESS)
                    return RefpFail("VicIsPending accepted source %u, which does not exist", Source);
                continue;
            }
            if (Status != IRQ_STATUS_SUCCESS)
                return RefpFail("VicIsPending(source %u, CPU %u) returned %s", Source, Cpu, IrStatusName(Status));
            if (Pending)
                Snapshot->Pending[Cpu][Source / 64] |= 1ull << (Source % 64);
        }
    }
    return NULL;
}

bool RefVicSnapshotPending(const REF_VIC_SNAPSHOT *Snapshot, uint32_t Cpu, uint32_t Source)
{
    return (Snapshot->Pending[Cpu][Source / 64] >> (Source % 64)) & 1u;
}

/* The most privileged eligible AST mode of a CPU (vic.h: ASTSR<M> and
 * ASTEN<M> set, the current mode M or less privileged); VicModeCount: none. */
static uint32_t RefpAstMode(const VIC_CPU_STATE *State)
{
    for (uint32_t Mode = 0; Mode < VicModeCount; Mode++) {
        if (((State->AstSummary & State->AstEnable) >> Mode) & 1u && (uint32_t)State->Mode >= Mode)
            return Mode;
    }
    return VicModeCount;
}

REF_VIC_EXPECTED RefVicExpectedClaim(const VIC_CONFIG *Config, const REF_VIC_SNAPSHOT *Snapshot, uint32_t Cpu)
{
    const VIC_CPU_STATE *State = &Snapshot->States[Cpu];
    REF_VIC_EXPECTED Best = {.Any = false};
    uint32_t Effective = RefpEffectiveLevel(State);
    bool GatesOpen = State->InterruptsEnabled && !State->InBarrier && !State->InPalMode;
    for (uint32_t Source = 0; Source < Config->SourceCount; Source++) {
        if (!RefVicSourceExists(Config, Source) || !RefVicSnapshotPending(Snapshot, Cpu, Source))
            continue;
        uint32_t Level = Config->Sources[Source].Level;
        bool Deliverable = Config->Sources[Source].Kind == VicSourceMachineCheck || (GatesOpen && Level > Effective);
        /* Highest level; within a level the highest-numbered source. */
        if (Deliverable && (!Best.Any || Level > Best.Level || (Level == Best.Level && Source > Best.Source)))
            Best = (REF_VIC_EXPECTED){.Any = true, .Source = Source, .Level = Level};
    }
    if (Config->AstLevel != 0 && GatesOpen && Effective < Config->AstLevel &&
        (!Best.Any || Best.Level < Config->AstLevel)) {
        uint32_t Mode = RefpAstMode(State);
        if (Mode < VicModeCount)
            Best = (REF_VIC_EXPECTED){.Any = true, .Ast = true, .Level = Config->AstLevel, .AstMode = Mode};
    }
    return Best;
}

static const char *RefpCheckCpu(const VIC *Vic, const VIC_CONFIG *Config, const REF_VIC_SNAPSHOT *Snapshot,
                                uint32_t Cpu)
{
    const VIC_COUNTERS *Counters = &Snapshot->Counters[Cpu];
    const VIC_CPU_STATE *State = &Snapshot->States[Cpu];
    if (Counters->Raised != Counters->Claimed + Counters->Cleared + Counters->Migrated + Counters->Pending)
        return RefpFail("CPU %u: raised %llu != claimed %llu + cleared %llu + migrated %llu + pending %llu", Cpu,
                        (unsigned long long)Counters->Raised, (unsigned long long)Counters->Claimed,
                        (unsigned long long)Counters->Cleared, (unsigned long long)Counters->Migrated,
                        (unsigned long long)Counters->Pending);
    uint64_t Bits = (uint64_t)__builtin_popcount(State->AstSummary & 0xFu);
    for (uint32_t Word = 0; Word < REF_VIC_MAX_SOURCES / 64; Word++)
        Bits += (uint64_t)__builtin_popcountll(Snapshot->Pending[Cpu][Word]);
    if (Counters->Pending != Bits)
        return RefpFail("CPU %u: Pending counter %llu, pending bits + ASTSR bits %llu", Cpu,
                        (unsigned long long)Counters->Pending, (unsigned long long)Bits);
    if (State->EffectiveLevel != RefpEffectiveLevel(State))
        return RefpFail("CPU %u: effective level %u, the rules say %u", Cpu, State->EffectiveLevel,
                        RefpEffectiveLevel(State));
    bool Expected = RefVicExpectedClaim(Config, Snapshot, Cpu).Any;
    if (State->Online && VicIsDeliverable(Vic, Cpu) != Expected)
        return RefpFail("CPU %u: VicIsDeliverable %d, the rules say %d", Cpu, VicIsDeliverable(Vic, Cpu), Expected);
    return NULL;
}

const char *RefVicCheckInvariants(const VIC *Vic, const VIC_CONFIG *Config, const REF_VIC_SNAPSHOT *Snapshot)
{
    VIC_COUNTERS Sum = {0};
    for (uint32_t Cpu = 0; Cpu < Config->CpuCount; Cpu++) {
        const char *Why = RefpCheckCpu(Vic, Config, Snapshot, Cpu);
        if (Why != NULL)
            return Why;
        const VIC_COUNTERS *Counters = &Snapshot->Counters[Cpu];
        Sum.Raised += Counters->Raised;
        Sum.Merged += Counters->Merged;
        Sum.Claimed += Counters->Claimed;
        Sum.Cleared += Counters->Cleared;
        Sum.Migrated += Counters->Migrated;
        Sum.Pending += Counters->Pending;
    }
    VIC_COUNTERS All;
    if (VicQueryCounters(Vic, VIC_ALL_CPUS, &All) != IRQ_STATUS_SUCCESS || memcmp(&All, &Sum, sizeof(All)) != 0)
        return RefpFail("the counters of VIC_ALL_CPUS are not the sum over the CPUs");
    if (VicIsDeliverable(Vic, Config->CpuCount))
        return RefpFail("a CPU out of range is deliverable");
    return NULL;
}

const char *RefVicCheckClaim(const VIC_CONFIG *Config, const REF_VIC_EXPECTED *Expected, IRQ_STATUS Status,
                             const VIC_CLAIM *Claim, uint32_t Messages)
{
    if (Status != IRQ_STATUS_SUCCESS)
        return Expected->Any ? RefpFail("the claim returned %s, the rules name level %u", IrStatusName(Status),
                                        Expected->Level)
                             : NULL;
    if (!Expected->Any)
        return RefpFail("the claim took source %u, the rules say nothing is deliverable", Claim->Source);
    if (Expected->Ast) {
        if (Claim->Source != VIC_SOURCE_AST || Claim->Kind != VicSourceAst || Claim->AstMode != Expected->AstMode ||
            Claim->Level != Expected->Level)
            return RefpFail("the claim took source %u (AST mode %u), the rules name the AST of mode %u",
                            Claim->Source, Claim->AstMode, Expected->AstMode);
        return NULL;
    }
    if (Claim->Source != Expected->Source)
        return RefpFail("the claim took source %u (level %u), the rules name %u (level %u)", Claim->Source,
                        Claim->Level, Expected->Source, Expected->Level);
    if (Claim->Level != Expected->Level || Claim->Kind != Config->Sources[Claim->Source].Kind)
        return RefpFail("the claim of source %u says level %u kind %u", Claim->Source, Claim->Level,
                        (unsigned)Claim->Kind);
    uint32_t Wanted = Claim->Kind == VicSourceIpi ? Messages : 0;
    if (Claim->IpiMessages != Wanted)
        return RefpFail("the claim of source %u took IPI messages %#x, sent %#x", Claim->Source, Claim->IpiMessages,
                        Wanted);
    return NULL;
}
