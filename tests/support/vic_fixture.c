/* SPDX-License-Identifier: MIT */
/*
 * The Vic's unit-test fixture (vic_fixture.h).
 */
#include <stdlib.h>
#include <string.h>

#include "vic_fixture.h"

VIC *TbCreateVic(const VIC_CONFIG *Config)
{
    size_t Size = 0;
    assert_int_equal(VicQueryStorageSize(Config, &Size), IRQ_STATUS_SUCCESS);
    assert_int_equal(Size % VIC_STORAGE_ALIGNMENT, 0);
    void *Storage = aligned_alloc(VIC_STORAGE_ALIGNMENT, Size);
    assert_non_null(Storage);
    memset(Storage, 0xA5, Size);
    VIC *Vic;
    assert_int_equal(VicInitialize(Storage, Size, Config, &Vic), IRQ_STATUS_SUCCESS);
    assert_ptr_equal(Vic, Storage);
    return Vic;
}

VIC *TbCreateAlphaVic(uint32_t CpuCount)
{
    VIC_CONFIG Config;
    VicAlphaConfig(&Config, CpuCount);
    return TbCreateVic(&Config);
}

VIC *TbCreateAlphaVicWaking(uint32_t CpuCount, PVIC_WAKE_ROUTINE Wake, void *Context, bool WakeOnPending)
{
    VIC_CONFIG Config;
    VicAlphaConfig(&Config, CpuCount);
    Config.Wake = Wake;
    Config.WakeContext = Context;
    Config.WakeOnPending = WakeOnPending;
    return TbCreateVic(&Config);
}

VIC *TbCreateX86Vic(uint32_t CpuCount)
{
    /* VicInitialize copies what it needs of the table. */
    VIC_SOURCE_DESCRIPTOR Sources[VIC_X86_SOURCE_COUNT];
    VIC_CONFIG Config;
    VicX86Config(&Config, CpuCount, Sources);
    return TbCreateVic(&Config);
}

int TbVicSetupAlpha2(void **State)
{
    *State = TbCreateAlphaVic(2);
    return 0;
}

int TbVicSetupAlpha4(void **State)
{
    *State = TbCreateAlphaVic(4);
    return 0;
}

int TbFreeState(void **State)
{
    free(*State);
    return 0;
}

uint64_t TbVicWord(const VIC *Vic, uint32_t Cpu)
{
    return VicLoadCheckWord(VicGetDeliveryWord(Vic, Cpu));
}

VIC_CLAIM TbVicClaim(VIC *Vic, uint32_t Cpu)
{
    VIC_CLAIM Claim;
    memset(&Claim, 0xCC, sizeof(Claim));
    assert_int_equal(VicClaim(Vic, Cpu, &Claim), IRQ_STATUS_SUCCESS);
    return Claim;
}

VIC_CLAIM TbVicTake(VIC *Vic, uint32_t Cpu)
{
    VIC_CLAIM Claim;
    memset(&Claim, 0xCC, sizeof(Claim));
    assert_int_equal(VicTakeInterrupt(Vic, Cpu, &Claim), IRQ_STATUS_SUCCESS);
    return Claim;
}

VIC_CLAIM TbVicClaimAndEnd(VIC *Vic, uint32_t Cpu)
{
    VIC_CLAIM Claim = TbVicClaim(Vic, Cpu);
    assert_int_equal(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
    return Claim;
}

VIC_CLAIM TbVicRaiseAndClaim(VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    assert_int_equal(VicRaiseOnCpu(Vic, Source, Cpu), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim = TbVicClaim(Vic, Cpu);
    assert_int_equal(Claim.Source, Source);
    return Claim;
}

/* Either way of taking: nothing to take, and the refused call wrote nothing. */
static void TbpAssertNothing(VIC *Vic, uint32_t Cpu, bool Take)
{
    VIC_CLAIM Claim;
    memset(&Claim, 0xCC, sizeof(Claim));
    uint64_t Word = TbVicWord(Vic, Cpu);
    assert_false(VicIsDeliverable(Vic, Cpu));
    IRQ_STATUS Status = Take ? VicTakeInterrupt(Vic, Cpu, &Claim) : VicClaim(Vic, Cpu, &Claim);
    assert_int_equal(Status, IRQ_STATUS_NOTHING_PENDING);
    assert_int_equal(Claim.Source, 0xCCCCCCCCu);
    assert_int_equal(TbVicWord(Vic, Cpu), Word);
}

void TbVicAssertNothingToClaim(VIC *Vic, uint32_t Cpu)
{
    TbpAssertNothing(Vic, Cpu, false);
}

void TbVicAssertNothingToTake(VIC *Vic, uint32_t Cpu)
{
    TbpAssertNothing(Vic, Cpu, true);
}

void TbVicAssertSoftwareFollowsLevel(VIC *Vic, uint32_t Cpu, bool Take)
{
    for (uint32_t Level = 1; Level <= 15; Level++) {
        assert_int_equal(VicSetLevel(Vic, Cpu, Level, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(VicWriteSoftwareRequest(Vic, Cpu, Level), IRQ_STATUS_SUCCESS);
        TbpAssertNothing(Vic, Cpu, Take);
        assert_int_equal(VicSetLevel(Vic, Cpu, Level - 1u, NULL), IRQ_STATUS_SUCCESS);
        VIC_CLAIM Claim = Take ? TbVicTake(Vic, Cpu) : TbVicClaim(Vic, Cpu);
        assert_int_equal(Claim.Source, VIC_ALPHA_SOFTWARE(Level));
        assert_int_equal(Claim.Kind, VicSourceSoftware);
        uint32_t Summary = 0xDEAD;
        assert_int_equal(VicReadSoftwareSummary(Vic, Cpu, &Summary), IRQ_STATUS_SUCCESS);
        assert_int_equal(Summary, 0); /* the delivery clears the SISR bit */
        if (!Take)
            assert_int_equal(VicEndOfInterrupt(Vic, Cpu), IRQ_STATUS_SUCCESS);
    }
}

void TbVicAssertMachineCheckOverridesGates(VIC *Vic, uint32_t Cpu, bool Take)
{
    TbVicCloseEveryGate(Vic, Cpu, 31);
    assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_POWER_FAIL, Cpu), IRQ_STATUS_SUCCESS);
    TbpAssertNothing(Vic, Cpu, Take);
    for (uint32_t Check = 0; Check < 2; Check++) {
        assert_int_equal(VicRaiseOnCpu(Vic, VIC_ALPHA_MACHINE_CHECK, Cpu), IRQ_STATUS_SUCCESS);
        VIC_CLAIM Claim = Take ? TbVicTake(Vic, Cpu) : TbVicClaim(Vic, Cpu);
        assert_int_equal(Claim.Source, VIC_ALPHA_MACHINE_CHECK);
        assert_int_equal(Claim.Kind, VicSourceMachineCheck);
        assert_int_equal(Claim.Level, 31);
    }
    TbpAssertNothing(Vic, Cpu, Take);
    assert_true(TbVicIsPending(Vic, VIC_ALPHA_POWER_FAIL, Cpu));
}

VIC_CLAIM TbVicAssertIpiWaitsForLevel(VIC *Vic, uint32_t Cpu, uint32_t Messages, bool Take)
{
    assert_int_equal(VicSetLevel(Vic, Cpu, 22, NULL), IRQ_STATUS_SUCCESS);
    VIC_IPI_TARGET Target = {.Kind = VicIpiTargetCpu, .Cpu = Cpu};
    for (uint32_t Message = 0; Message < VIC_IPI_MESSAGE_COUNT; Message++)
        if (Messages & 1u << Message)
            assert_int_equal(VicSendIpi(Vic, &Target, (VIC_IPI_MESSAGE)Message), IRQ_STATUS_SUCCESS);
    TbpAssertNothing(Vic, Cpu, Take);
    assert_int_equal(VicSetLevel(Vic, Cpu, 21, NULL), IRQ_STATUS_SUCCESS);
    VIC_CLAIM Claim = Take ? TbVicTake(Vic, Cpu) : TbVicClaim(Vic, Cpu);
    assert_int_equal(Claim.Source, VIC_ALPHA_IPI);
    assert_int_equal(Claim.Level, 22);
    assert_int_equal(Claim.IpiMessages, Messages);
    return Claim;
}

void TbVicCloseEveryGate(VIC *Vic, uint32_t Cpu, uint32_t Level)
{
    assert_int_equal(VicSetLevel(Vic, Cpu, Level, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetInterruptsEnabled(Vic, Cpu, false, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetBarrier(Vic, Cpu, true), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicSetPalMode(Vic, Cpu, true), IRQ_STATUS_SUCCESS);
}

void TbVicSetAsts(VIC *Vic, uint32_t Cpu, VIC_PROCESSOR_MODE Mode, uint32_t Enable, uint32_t Summary)
{
    assert_int_equal(VicSetMode(Vic, Cpu, Mode), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstEnable(Vic, Cpu, 0, Enable, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(VicWriteAstSummary(Vic, Cpu, 0, Summary, NULL), IRQ_STATUS_SUCCESS);
}

bool TbVicSetAstCase(VIC *Vic, uint32_t Cpu, uint32_t Case, uint32_t *AstMode)
{
    uint32_t Mode = Case / 16u, Current = (Case / 4u) % 4u;
    bool Requested = (Case & 1u) != 0, Enabled = (Case & 2u) != 0;
    TbVicSetAsts(Vic, Cpu, (VIC_PROCESSOR_MODE)Current, Enabled ? 1u << Mode : 0, Requested ? 1u << Mode : 0);
    *AstMode = Mode;
    return Requested && Enabled && Current >= Mode;
}

void TbVicAssertAstClaim(const VIC_CLAIM *Claim, uint32_t Mode)
{
    assert_int_equal(Claim->Source, VIC_SOURCE_AST);
    assert_int_equal(Claim->Kind, VicSourceAst);
    assert_int_equal(Claim->Level, VIC_ALPHA_AST_LEVEL);
    assert_int_equal(Claim->AstMode, Mode);
    assert_int_equal(Claim->IpiMessages, 0);
}

bool TbVicIsPending(const VIC *Vic, uint32_t Source, uint32_t Cpu)
{
    bool Pending = false;
    assert_int_equal(VicIsPending(Vic, Source, Cpu, &Pending), IRQ_STATUS_SUCCESS);
    return Pending;
}

uint32_t TbVicPendingOn(const VIC *Vic, uint32_t Source, uint32_t CpuCount)
{
    uint32_t Mask = 0;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        if (TbVicIsPending(Vic, Source, Cpu))
            Mask |= 1u << Cpu;
    return Mask;
}

VIC_CPU_STATE TbVicCpuState(const VIC *Vic, uint32_t Cpu)
{
    VIC_CPU_STATE State;
    assert_int_equal(VicQueryCpuState(Vic, Cpu, &State), IRQ_STATUS_SUCCESS);
    return State;
}

VIC_COUNTERS TbVicCounters(const VIC *Vic, uint32_t Cpu)
{
    VIC_COUNTERS Counters;
    assert_int_equal(VicQueryCounters(Vic, Cpu, &Counters), IRQ_STATUS_SUCCESS);
    return Counters;
}

void TbVicAssertConserved(const VIC *Vic)
{
    VIC_COUNTERS All = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(All.Raised, All.Claimed + All.Cleared + All.Migrated + All.Pending);
}

IR_CPU_SET TbCpuSetOf(uint64_t Bits)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (uint32_t Cpu = 0; Cpu < 64; Cpu++)
        if ((Bits >> Cpu) & 1u)
            IrCpuSetAdd(&Set, Cpu);
    return Set;
}
