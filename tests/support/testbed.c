/* SPDX-License-Identifier: MIT */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "testbed.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <irqroute/platform.h>

void TbBootConfig(const SIM_SYSTEM_CONFIG *Config)
{
    IRQ_STATUS Status = SimBootSystem(Config);
    if (Status != IRQ_STATUS_SUCCESS)
        fail_msg("SimBootSystem: %s", IrStatusName(Status));
    SimAttachCpu(TB_HOME_CPU);
}

void TbBoot(uint32_t CpuCount, uint32_t OnlineCount, bool Threads)
{
    SIM_SYSTEM_CONFIG Config = {.CpuCount = CpuCount, .OnlineCount = OnlineCount, .StartThreads = Threads};
    TbBootConfig(&Config);
}

void TbShutdown(void)
{
    if (SimAttachedCpu() != SIM_NO_CPU)
        SimDetachCpu();
    SimShutdownSystem();
}

void TbStartHardwareLayer(const SIM_CONFIG *Config)
{
    assert_int_equal(SimCreate(Config), 0);
    HlResetHardwareLayer();
    /* As kernel/main.c: x2APIC whenever the CPUs offer it. */
    assert_int_equal(
        HlLapicSelectMode(Config->X2ApicSupported ? HlLapicModeX2Apic : HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE),
        IRQ_STATUS_SUCCESS);
}

/* Each CPU as kernel/arch/smp.c brings it up: HlLapicEnable first, then the id
 * from its own register. SkipLapic's local APIC is left as firmware left it. */
void TbStartHardwareCpus(uint32_t CpuCount, uint32_t SkipLapic)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        SimAttachCpu(Cpu);
        if (Cpu != SkipLapic)
            TbBringUpAttachedCpu(Cpu);
        else
            assert_int_equal(HlRegisterProcessor(Cpu, SimCpuApicId(Cpu)), IRQ_STATUS_SUCCESS);
        SimDetachCpu();
    }
    SimAttachCpu(TB_HOME_CPU);
    (void)PlatDisableInterrupts();
}

void TbBringUpAttachedCpu(uint32_t Cpu)
{
    assert_int_equal(HlLapicEnable(), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicReadId(), SimCpuApicId(Cpu));
    assert_int_equal(HlRegisterProcessor(Cpu, SimCpuApicId(Cpu)), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicInitializeProcessor(Cpu, TB_SPURIOUS_VECTOR), IRQ_STATUS_SUCCESS);
}

int TbSetupHardware(void **State)
{
    const SIM_CONFIG *Config = *State;
    TbStartHardwareLayer(Config);
    TbStartHardwareCpus(Config->CpuCount, IR_CPU_NONE);
    return 0;
}

/* The LAPIC driver's mode outlives the sim: back to the xAPIC default, as a
 * fresh process has it, so that no test inherits the last one's mode. */
int TbTeardownHardwareLayer(void **State)
{
    (void)State;
    if (SimAttachedCpu() != SIM_NO_CPU)
        SimDetachCpu();
    HlResetHardwareLayer();
    SimDestroy();
    (void)HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE);
    return 0;
}

int TbSetupFourCpus(void **State)
{
    (void)State;
    TbBoot(4, 0, false);
    return 0;
}

int TbSetupThreeOfFourCpus(void **State)
{
    (void)State;
    TbBoot(4, 3, false);
    return 0;
}

int TbTeardown(void **State)
{
    (void)State;
    TbShutdown();
    return 0;
}

int64_t TbNowNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (int64_t)Now.tv_sec * 1000000000ll + Now.tv_nsec;
}

IO_INTERRUPT_TARGET TbTargetCpu(uint32_t Cpu)
{
    return (IO_INTERRUPT_TARGET){.Kind = IoTargetCpu, .Cpu = Cpu};
}

IO_INTERRUPT_TARGET TbTargetRoutable(const IR_CPU_SET *Mask, uint32_t Cpu)
{
    return (IO_INTERRUPT_TARGET){.Kind = IoTargetRoutable, .Mask = Mask, .Cpu = Cpu};
}

uint32_t TbService(uint32_t Cpu)
{
    uint32_t Home = SimAttachedCpu();
    if (Home != SIM_NO_CPU)
        SimDetachCpu();
    SimAttachCpu(Cpu);
    uint32_t Count = SimServicePending();
    SimDetachCpu();
    if (Home != SIM_NO_CPU)
        SimAttachCpu(Home);
    return Count;
}

uint32_t TbServiceMoveRequests(void)
{
    uint32_t Serviced = 0;
    for (uint32_t Cpu = 0; Cpu < SimCpuCount(); Cpu++) {
        if (!SimLapicIrrIsSet(Cpu, KeAmd64VectorLayout.IpiVector))
            continue;
        assert_int_equal(TbService(Cpu), 1);
        Serviced++;
    }
    return Serviced;
}

const uint32_t TbWideApicIds[TB_WIDE_CPUS] = {0x01, 0xFE, 0xFF, 0x100, 0x11F, 0x03};

int TbSetupWide(void **State)
{
    (void)State;
    SIM_SYSTEM_CONFIG Config = {.CpuCount = TB_WIDE_CPUS, .ApicIds = TbWideApicIds, .X2Apic = true};
    TbBootConfig(&Config);
    return 0;
}

IR_CPU_SET TbCpuRange(uint32_t First, uint32_t Last)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (uint32_t Cpu = First; Cpu <= Last; Cpu++)
        IrCpuSetAdd(&Set, Cpu);
    return Set;
}

uint32_t TbCpuOfApicId(uint32_t ApicId)
{
    for (uint32_t Cpu = 0; Cpu < SimCpuCount(); Cpu++) {
        if (SimCpuApicId(Cpu) == ApicId)
            return Cpu;
    }
    fail_msg("no CPU has APIC id %u", ApicId);
    return 0;
}

uint32_t TbEntryCpu(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry = TbPeekEntry(Gsi);
    assert_int_equal(Entry.Bits.DestinationMode, 0);
    return TbCpuOfApicId((uint32_t)Entry.Bits.Destination);
}

uint32_t TbQueryCpu(const KINTERRUPT *Interrupt)
{
    uint32_t Cpu = IR_CPU_NONE;
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Cpu, NULL), IRQ_STATUS_SUCCESS);
    return Cpu;
}

IR_CPU_SET TbCpuList(const uint32_t *Cpus, uint32_t Count)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (uint32_t Index = 0; Index < Count; Index++)
        IrCpuSetAdd(&Set, Cpus[Index]);
    return Set;
}

IR_CPU_SET TbWideUnreachableCpus(void)
{
    static const uint32_t Unreachable[] = {2, 3, 4};
    return TbCpuList(Unreachable, 3);
}

IOAPIC_REDIRECTION_ENTRY TbPeekEntry(uint32_t Gsi)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    Entry.Value = SimIoApicPeekEntry(Gsi);
    return Entry;
}

uint32_t TbTotalAllocatedVectors(void)
{
    uint32_t Total = 0;
    for (uint32_t Cpu = 0; Cpu < KeQueryProcessorCount(); Cpu++) {
        KE_VECTOR_USAGE Usage;
        if (KeQueryVectorUsage(Cpu, &Usage) == IRQ_STATUS_SUCCESS)
            Total += Usage.Allocated;
    }
    return Total;
}

TB_SNAPSHOT TbTakeSnapshot(void)
{
    TB_SNAPSHOT Snapshot = {.Vectors = TbTotalAllocatedVectors()};
    for (uint32_t Gsi = 0; Gsi < 24; Gsi++)
        Snapshot.Entries[Gsi] = SimIoApicPeekEntry(Gsi);
    return Snapshot;
}

/* A masked entry delivers nothing whatever its other fields hold (a freed
 * line keeps its last vector and destination, masked), so two masked entries
 * count as the same state; an unmasked one must match bit for bit. */
void TbAssertUnchanged(const TB_SNAPSHOT *Before)
{
    TB_SNAPSHOT After = TbTakeSnapshot();
    assert_int_equal(After.Vectors, Before->Vectors);
    for (uint32_t Gsi = 0; Gsi < 24; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Old = {.Value = Before->Entries[Gsi]}, New = {.Value = After.Entries[Gsi]};
        if (!(Old.Bits.Mask && New.Bits.Mask))
            assert_int_equal(New.Value, Old.Value);
    }
}

IRQ_STATUS TbConnectLine(KINTERRUPT **Interrupt, PKSERVICE_ROUTINE Isr, void *Context, HL_LINE_BUS Bus,
                         uint32_t Number, IO_INTERRUPT_TARGET Target, bool Share)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {
            .InterruptObject = Interrupt,
            .ServiceRoutine = Isr,
            .ServiceContext = Context,
            .Line = {.Bus = Bus, .Number = Number},
            .Irql = KE_IRQL_ANY,
            .ShareVector = Share,
            .Target = Target,
        },
    };
    return IoConnectInterruptEx(&Parameters);
}

bool TbCountingIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    TB_ISR_RECORD *Record = Context;
    atomic_fetch_add(&Record->Calls, 1);
    atomic_store(&Record->LastCpu, SimAttachedCpu());
    atomic_store(&Record->LastApicId, HlLapicReadId());
    atomic_store(&Record->LastIrql, KeGetCurrentIrql());
    if (Record->Claim && Record->Deassert)
        SimSetGsi(Record->DeassertGsi, false);
    return Record->Claim;
}

IRQ_STATUS TbConnectCounted(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, HL_LINE_BUS Bus, uint32_t Number,
                            uint32_t Cpu, bool Share)
{
    return TbConnectLine(Interrupt, TbCountingIsr, Record, Bus, Number, TbTargetCpu(Cpu), Share);
}

KINTERRUPT *TbConnectIsaToCpu(TB_ISR_RECORD *Record, uint32_t Irq, uint32_t Cpu)
{
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectCounted(&Interrupt, Record, HlBusIsa, Irq, Cpu, false), IRQ_STATUS_SUCCESS);
    return Interrupt;
}

IRQ_STATUS TbConnectMessage(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                            HL_MSI_MESSAGE *Message)
{
    return TbConnectUpdatedMessage(Interrupt, Record, Target, Message, NULL, NULL);
}

KINTERRUPT *TbConnectMessageToCpu(TB_ISR_RECORD *Record, uint32_t Cpu, HL_MSI_MESSAGE *Message)
{
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectMessage(&Interrupt, Record, TbTargetCpu(Cpu), Message), IRQ_STATUS_SUCCESS);
    return Interrupt;
}

IO_CONNECT_INTERRUPT_PARAMETERS TbMessageParameters(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record,
                                                    IO_INTERRUPT_TARGET Target, HL_MSI_MESSAGE *Message)
{
    return (IO_CONNECT_INTERRUPT_PARAMETERS){
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = Interrupt, .ServiceRoutine = TbCountingIsr, .ServiceContext = Record,
                         .Irql = KE_IRQL_ANY, .Target = Target, .Message = Message},
    };
}

IRQ_STATUS TbConnectUpdatedMessage(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                                   HL_MSI_MESSAGE *Message, PIO_MSI_UPDATE_ROUTINE Update, void *UpdateContext)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = TbMessageParameters(Interrupt, Record, Target, Message);
    Parameters.MessageBased.UpdateMessage = Update;
    Parameters.MessageBased.UpdateContext = UpdateContext;
    return IoConnectInterruptEx(&Parameters);
}

void TbAssertLineTargetsRefused(HL_LINE_BUS Bus, uint32_t Number, const TB_REFUSED_TARGET *Cases, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        TB_SNAPSHOT Before = TbTakeSnapshot();
        TB_ISR_RECORD Record = {.Claim = true};
        KINTERRUPT *Interrupt = NULL;
        IRQ_STATUS Status = TbConnectLine(&Interrupt, TbCountingIsr, &Record, Bus, Number, Cases[Index].Target, false);
        if (Status != Cases[Index].Expected)
            fail_msg("refused target %u (kind %d, CPU %u): %s, expected %s", Index, (int)Cases[Index].Target.Kind,
                     Cases[Index].Target.Cpu, IrStatusName(Status), IrStatusName(Cases[Index].Expected));
        assert_null(Interrupt);
        TbAssertUnchanged(&Before);
    }
}

IRQ_STATUS TbConnectCountedAtIrql(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, HL_LINE_BUS Bus, uint32_t Number,
                                  uint32_t Cpu, KIRQL Irql, KIRQL SynchronizeIrql)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = Interrupt, .ServiceRoutine = TbCountingIsr, .ServiceContext = Record,
                      .Line = {.Bus = Bus, .Number = Number}, .Irql = Irql, .SynchronizeIrql = SynchronizeIrql,
                      .Target = TbTargetCpu(Cpu)},
    };
    return IoConnectInterruptEx(&Parameters);
}

void TbAssertHandledOn(uint32_t Cpu, TB_ISR_RECORD *Record)
{
    assert_int_equal(TbService(Cpu), 1);
    assert_int_equal(atomic_load(&Record->LastCpu), Cpu);
}

const SIM_CONFIG TbTwoIoApicConfig = {
    .CpuCount = 4,
    .IoApicCount = 2,
    .IoApics = {
        {.Id = TB_IOAPIC0_ID, .Address = TB_IOAPIC0_BASE, .GsiBase = 0, .PinCount = 24},
        {.Id = TB_IOAPIC1_ID, .Address = TB_IOAPIC1_BASE, .GsiBase = TB_IOAPIC1_GSI_BASE, .PinCount = 16},
    },
};

uint32_t TbNextRandom(uint32_t *Seed)
{
    uint32_t X = *Seed;
    X ^= X << 13;
    X ^= X >> 17;
    X ^= X << 5;
    return *Seed = X;
}

/* ---- Faults ------------------------------------------------------------------------------ */

jmp_buf TbFaultResume;
volatile bool TbFaultExpected;
volatile uint32_t TbFaultCount;
volatile uint64_t TbFaultWhere;
char TbFaultText[512];

static void TbpFaultHandler(const char *Hook, uint64_t Where, const char *Why)
{
    TbFaultCount++;
    TbFaultWhere = Where;
    snprintf(TbFaultText, sizeof(TbFaultText), "%s(0x%llx): %s", Hook, (unsigned long long)Where, Why);
    if (!TbFaultExpected)
        fail_msg("unexpected sim fault: %s", TbFaultText);
    TbFaultExpected = false;
    longjmp(TbFaultResume, 1);
}

void TbCatchFaults(void)
{
    TbFaultCount = 0;
    TbFaultExpected = false;
    TbFaultText[0] = 0;
    SimSetFaultHandler(TbpFaultHandler);
}

bool TbFaultTextHas(const char *Text)
{
    return strstr(TbFaultText, Text) != NULL;
}
