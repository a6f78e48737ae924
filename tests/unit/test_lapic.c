/* SPDX-License-Identifier: MIT */
/*
 * The local APIC: the driver (src/hl/x86/lapic.c) against the sim's model
 * (platform/sim/lapic_model.c) and bus (sim_bus.c), in xAPIC and x2APIC
 * mode, with APIC ids that are never the CPU index.
 *
 * No Ke or Io: the sim is created bare, firmware having left every CPU in
 * xAPIC mode (x2APIC offered or not), and every CPU is brought up by the
 * driver on its own attached thread, as a kernel's start-up path would:
 * HlLapicEnable (into x2APIC mode where selected), the id from its register,
 * HlLapicInitializeProcessor. Mode transitions and the #GP rules are
 * test_lapic_mode.c's. The test thread then stays attached to
 * HOME_CPU; the sim's interrupt entry records (CPU, vector) and, unless a
 * test wants the ISR left set, sends the EOI through the driver.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#include "sim.h"
#include "testbed.h"
#include "tb_main.h"

/* SDM vol. 3A 11.4.1 table 11-1 (x2APIC MSR = 0x800 + offset / 16). */
#define LAPIC_BASE 0xFEE00000u
#define LAPIC_ID 0x020u
#define LAPIC_VERSION 0x030u
#define LAPIC_PPR 0x0A0u
#define LAPIC_LDR 0x0D0u
#define LAPIC_DFR 0x0E0u
#define LAPIC_SVR 0x0F0u
#define LAPIC_ESR 0x280u
#define LAPIC_ICR_LOW 0x300u
#define LAPIC_ICR_HIGH 0x310u
#define LAPIC_LVT_LINT0 0x350u
#define LAPIC_LVT_LINT1 0x360u
#define X2APIC_MSR_ICR 0x830u
#define X2APIC_MSR_SELF_IPI 0x83Fu
#define IA32_APIC_BASE 0x1Bu

#define SVR_ENABLE 0x100u
#define LVT_MASKED 0x10000u
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_LOGICAL (1u << 11)
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)

/* MSI (SDM 11.11). */
#define MSI_BASE 0xFEE00000ull
#define MSI_LOGICAL (1ull << 2)
#define MSI_REDIRECTION_HINT (1ull << 3)
#define MSI_LEVEL_ASSERT (1u << 14)
#define MSI_TRIGGER_LEVEL (1u << 15)

#define MODE_FIXED 0u
#define MODE_NMI 4u
#define MODE_INIT 5u
#define MODE_STARTUP 6u

#define HOME_CPU 0u
#define MAX_TEST_CPUS 255u
#define SPURIOUS_VECTOR TB_SPURIOUS_VECTOR /* what TbBringUpAttachedCpu programs */
#define LOG_SIZE 64u

/* ---- Recording interrupt entry ---------------------------------------------------- */

typedef struct _DISPATCH_RECORD {
    uint32_t Cpu;
    uint8_t Vector;
    uint32_t CurrentCpu;   /* PlatCurrentCpu inside the entry */
    bool InterruptsOn;     /* the CPU's IF inside the entry */
    bool InService;        /* the vector's ISR bit inside the entry */
} DISPATCH_RECORD;

static DISPATCH_RECORD Log[LOG_SIZE];
static uint32_t LogCount;
static bool AutoEoi;
static bool X2Apic;

static void RecordingEntry(uint32_t Cpu, uint8_t Vector)
{
    if (LogCount < LOG_SIZE)
        Log[LogCount++] = (DISPATCH_RECORD){
            .Cpu = Cpu,
            .Vector = Vector,
            .CurrentCpu = PlatCurrentCpu(),
            .InterruptsOn = SimCpuInterruptsEnabled(Cpu),
            .InService = SimLapicIsrIsSet(Cpu, Vector),
        };
    if (AutoEoi)
        HlLapicEndOfInterrupt();
}

static uint32_t DispatchCount(uint32_t Cpu, uint8_t Vector)
{
    uint32_t Count = 0;
    for (uint32_t Index = 0; Index < LogCount; Index++)
        Count += Log[Index].Cpu == Cpu && Log[Index].Vector == Vector;
    return Count;
}

/* ---- Register access as the calling CPU ----------------------------------------------- */

static uint32_t LapicRead(uint32_t Offset)
{
    if (X2Apic)
        return (uint32_t)PlatReadMsr(0x800u + Offset / 16u);
    return PlatMmioRead32(LAPIC_BASE + Offset);
}

static void LapicWrite(uint32_t Offset, uint32_t Value)
{
    if (X2Apic)
        PlatWriteMsr(0x800u + Offset / 16u, Value);
    else
        PlatMmioWrite32(LAPIC_BASE + Offset, Value);
}

static void SwitchCpu(uint32_t Cpu)
{
    SimDetachCpu();
    SimAttachCpu(Cpu);
}

/* Takes what Cpu has pending, as that CPU, then comes home. */
static uint32_t ServiceCpu(uint32_t Cpu)
{
    SwitchCpu(Cpu);
    uint32_t Count = SimServicePending();
    SwitchCpu(HOME_CPU);
    return Count;
}

static void SetTprOn(uint32_t Cpu, uint8_t Tpr)
{
    SwitchCpu(Cpu);
    HlLapicWriteTaskPriority(Tpr);
    SwitchCpu(HOME_CPU);
}

/* ---- Fixture ---------------------------------------------------------------------- */

/* Brings up CPUs 0..Initialized-1 through the driver, which must have
 * chosen x2APIC mode exactly when the machine supports it; the others keep
 * the reset state (software-disabled). */
static void Boot(uint32_t CpuCount, uint32_t Initialized, bool UseX2Apic, const uint32_t *ApicIds)
{
    SIM_CONFIG Config = {.CpuCount = CpuCount, .ApicIds = ApicIds, .X2ApicSupported = UseX2Apic};
    TbStartHardwareLayer(&Config);
    assert_int_equal(HlLapicGetMode(), UseX2Apic ? HlLapicModeX2Apic : HlLapicModeXApic);
    X2Apic = UseX2Apic;
    LogCount = 0;
    AutoEoi = true;
    SimSetInterruptEntry(RecordingEntry);
    for (uint32_t Cpu = 0; Cpu < Initialized; Cpu++) {
        SimAttachCpu(Cpu);
        TbBringUpAttachedCpu(Cpu);
        SimDetachCpu();
    }
    SimAttachCpu(HOME_CPU);
}

/* The attached CPU's LDR is Ldr, read from the register and through the
 * driver, which reports Dfr beside it. */
static void AssertLogicalDestination(uint32_t Ldr, uint32_t Dfr)
{
    assert_int_equal(LapicRead(LAPIC_LDR), Ldr);
    uint32_t ReadLdr = 0, ReadDfr = 0xAAu;
    assert_int_equal(HlLapicReadLogicalDestination(&ReadLdr, &ReadDfr), IRQ_STATUS_SUCCESS);
    assert_int_equal(ReadLdr, Ldr);
    assert_int_equal(ReadDfr, Dfr);
}

static const uint32_t XApicIds[4] = {0x07, 0x03, 0x40, 0xFE};
static const uint32_t X2ApicIds[4] = {0x1000, 0x05, 0x12345, 0x12C};

static uint64_t MsiAddress(uint32_t Destination)
{
    return MSI_BASE | (uint64_t)Destination << 12;
}

/* ---- Identity and initialisation ------------------------------------------------------ */

/* The ids come from the registers, not from the CPU index; the driver leaves
 * the flat logical model (LDR bit n for CPU n < 8), SVR enabled with the
 * spurious vector, LINT0 masked and LINT1 NMI. */
static void test_xapic_ids_and_initial_state(void **State)
{
    (void)State;
    Boot(4, 4, false, XApicIds);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        SwitchCpu(Cpu);
        assert_int_equal(HlLapicReadId(), XApicIds[Cpu]);
        assert_int_equal(LapicRead(LAPIC_ID), XApicIds[Cpu] << 24);
        assert_int_equal(LapicRead(LAPIC_VERSION), 0x00050014u);
        assert_int_equal(LapicRead(LAPIC_SVR), SVR_ENABLE | SPURIOUS_VECTOR);
        assert_int_equal(LapicRead(LAPIC_DFR), 0xFFFFFFFFu);
        AssertLogicalDestination((1u << Cpu) << 24, 0xFFFFFFFFu);
        assert_int_equal(LapicRead(LAPIC_LVT_LINT0) & LVT_MASKED, LVT_MASKED);
        assert_int_equal(LapicRead(LAPIC_LVT_LINT1), 0x400u);
        assert_int_equal(HlLapicReadTaskPriority(), 0);
        assert_int_equal(PlatReadMsr(IA32_APIC_BASE) & 0xC00u, 0x800u); /* EN, not EXTD */
    }
    SwitchCpu(HOME_CPU);
}

/* SeaBIOS leaves SVR 0x1FF and the BSP's LINT0 on ExtINT, unmasked
 * (docs/qemu.md): initialisation masks it and keeps LINT1 on NMI. */
static void test_initialize_masks_firmware_lint0(void **State)
{
    (void)State;
    SIM_CONFIG Config = {.CpuCount = 1};
    assert_int_equal(SimCreate(&Config), 0);
    SimAttachCpu(HOME_CPU);
    X2Apic = false;
    PlatMmioWrite32(LAPIC_BASE + LAPIC_SVR, 0x1FFu);
    PlatMmioWrite32(LAPIC_BASE + LAPIC_LVT_LINT0, 0x8700u);
    assert_int_equal(LapicRead(LAPIC_LVT_LINT0), 0x8700u);
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicInitializeProcessor(HOME_CPU, 0x3F), IRQ_STATUS_SUCCESS);
    assert_int_equal(LapicRead(LAPIC_LVT_LINT0) & LVT_MASKED, LVT_MASKED);
    assert_int_equal(LapicRead(LAPIC_LVT_LINT1), 0x400u);
    assert_int_equal(LapicRead(LAPIC_SVR), SVR_ENABLE | 0x3Fu);
}

/* CPUs 8 and up have no flat logical id (LDR 0). */
static void test_xapic_ninth_cpu_has_no_logical_id(void **State)
{
    (void)State;
    Boot(10, 10, false, NULL);
    SwitchCpu(7);
    assert_int_equal(LapicRead(LAPIC_LDR), 0x80000000u);
    SwitchCpu(9);
    assert_int_equal(LapicRead(LAPIC_LDR), 0);
    assert_int_equal(HlLapicReadId(), SimCpuApicId(9));
    SwitchCpu(HOME_CPU);
}

/* x2APIC: 32-bit ids above 255, IA32_APIC_BASE EXTD, and the read-only LDR
 * derived from the id (SDM 11.12.10.2). */
static void test_x2apic_ids_and_derived_ldr(void **State)
{
    (void)State;
    Boot(4, 4, true, X2ApicIds);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        SwitchCpu(Cpu);
        uint32_t Id = X2ApicIds[Cpu];
        assert_int_equal(HlLapicReadId(), Id);
        AssertLogicalDestination((Id >> 4) << 16 | 1u << (Id & 15u), 0); /* x2APIC has no DFR */
        assert_int_equal(LapicRead(LAPIC_SVR), SVR_ENABLE | SPURIOUS_VECTOR);
        assert_int_equal(PlatReadMsr(IA32_APIC_BASE) & 0xC00u, 0xC00u);
    }
    SwitchCpu(HOME_CPU);
}

static void test_bad_arguments_are_refused(void **State)
{
    (void)State;
    Boot(2, 2, false, NULL);
    assert_int_equal(HlLapicSelectMode((HL_LAPIC_MODE)7, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, 0), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE + 0x10), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicGetMode(), HlLapicModeXApic);
    assert_int_equal(HlLapicInitializeProcessor(HOME_CPU, 0x0F), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(HlLapicInitializeProcessor(IR_MAX_CPUS, SPURIOUS_VECTOR), IRQ_STATUS_INVALID_CPU);
    uint32_t Register = 0;
    assert_int_equal(HlLapicReadLogicalDestination(NULL, &Register), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicReadLogicalDestination(&Register, NULL), IRQ_STATUS_INVALID_PARAMETER);

    uint32_t Target = SimCpuApicId(1);
    assert_int_equal(HlLapicSendIpi(0x100, HlIpiNoShorthand, HlDeliveryFixed, 0x60), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(HlLapicSendIpi(Target, HlIpiNoShorthand, HlDeliveryFixed, 0x0F), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(HlLapicSendIpi(Target, HlIpiNoShorthand, HlDeliveryExtInt, 0x60), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicSendIpi(Target, (HL_IPI_SHORTHAND)4, HlDeliveryFixed, 0x60), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicSendIpi(Target, HlIpiSelf, HlDeliveryNmi, 0), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlLapicSendIpi(Target, HlIpiAllIncludingSelf, HlDeliveryInit, 0), IRQ_STATUS_INVALID_PARAMETER);
    for (uint32_t Cpu = 0; Cpu < 2; Cpu++)
        for (uint32_t Mode = 0; Mode < 8; Mode++)
            assert_int_equal(SimLapicReceivedCount(Cpu, (uint8_t)Mode), 0);
}

/* ---- Priorities (SDM 11.8.3) ----------------------------------------------------------- */

/* A vector whose class is at or below the TPR class stays in the IRR;
 * lowering the TPR delivers it at once (the write is an acceptance point). */
static void test_tpr_holds_and_lowering_delivers(void **State)
{
    (void)State;
    Boot(2, 2, false, XApicIds);
    HlLapicWriteTaskPriority(0x50);
    assert_int_equal(HlLapicReadTaskPriority(), 0x50);
    assert_int_equal(SimLapicTpr(HOME_CPU), 0x50);
    SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), 0x45);
    SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), 0x5F);
    SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), 0x61);
    assert_int_equal(SimServicePending(), 1);
    assert_int_equal(DispatchCount(HOME_CPU, 0x61), 1);
    assert_true(SimLapicIrrIsSet(HOME_CPU, 0x5F));
    assert_true(SimLapicIrrIsSet(HOME_CPU, 0x45));

    HlLapicWriteTaskPriority(0x40);
    assert_int_equal(DispatchCount(HOME_CPU, 0x5F), 1);
    assert_true(SimLapicIrrIsSet(HOME_CPU, 0x45));
    HlLapicWriteTaskPriority(0);
    assert_int_equal(LogCount, 3);
    assert_int_equal(Log[2].Vector, 0x45);
    assert_false(SimLapicIrrIsSet(HOME_CPU, 0x45));
}

/* With interrupts disabled nothing is taken; enabling takes the highest
 * vector first, one class after the other. */
static void test_highest_vector_first(void **State)
{
    (void)State;
    Boot(2, 2, false, XApicIds);
    bool WasEnabled = PlatDisableInterrupts();
    assert_true(WasEnabled);
    static const uint8_t Vectors[] = {0x41, 0x92, 0x63, 0x93, 0xB0};
    for (unsigned Index = 0; Index < sizeof(Vectors); Index++)
        SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), Vectors[Index]);
    PlatCpuRelax();
    assert_int_equal(LogCount, 0);
    PlatRestoreInterrupts(WasEnabled);
    static const uint8_t Expected[] = {0xB0, 0x93, 0x92, 0x63, 0x41};
    assert_int_equal(LogCount, sizeof(Expected));
    for (unsigned Index = 0; Index < sizeof(Expected); Index++) {
        assert_int_equal(Log[Index].Vector, Expected[Index]);
        assert_int_equal(Log[Index].Cpu, HOME_CPU);
        assert_int_equal(Log[Index].CurrentCpu, HOME_CPU);
        assert_false(Log[Index].InterruptsOn);
        assert_true(Log[Index].InService);
    }
    assert_true(SimCpuInterruptsEnabled(HOME_CPU));
    assert_int_equal(SimEoiCount(HOME_CPU), sizeof(Expected));
}

/* An EOI clears the highest ISR bit only; while a vector is in service,
 * vectors of its class or lower wait (PPR). */
static void test_eoi_clears_highest_in_service(void **State)
{
    (void)State;
    Boot(2, 2, false, XApicIds);
    AutoEoi = false;
    SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), 0x41);
    assert_int_equal(SimServicePending(), 1);
    SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), 0x81);
    assert_int_equal(SimServicePending(), 1);
    assert_true(SimLapicIsrIsSet(HOME_CPU, 0x41));
    assert_true(SimLapicIsrIsSet(HOME_CPU, 0x81));
    assert_int_equal(LapicRead(LAPIC_PPR), 0x80);

    SimMsiWrite(MsiAddress(XApicIds[HOME_CPU]), 0x75);
    assert_int_equal(SimServicePending(), 0);
    uint64_t Eois = SimEoiCount(HOME_CPU);
    HlLapicEndOfInterrupt();
    assert_int_equal(SimEoiCount(HOME_CPU), Eois + 1);
    assert_false(SimLapicIsrIsSet(HOME_CPU, 0x81));
    assert_true(SimLapicIsrIsSet(HOME_CPU, 0x41));
    assert_int_equal(LapicRead(LAPIC_PPR), 0x40);
    assert_int_equal(SimServicePending(), 1);
    assert_int_equal(Log[2].Vector, 0x75);
    HlLapicEndOfInterrupt();
    HlLapicEndOfInterrupt();
    assert_false(SimLapicIsrIsSet(HOME_CPU, 0x41));
    assert_false(SimLapicIsrIsSet(HOME_CPU, 0x75));
    HlLapicEndOfInterrupt(); /* nothing in service: counted, harmless */
    assert_int_equal(SimEoiCount(HOME_CPU), Eois + 4);
}

/* ---- IPIs (SDM 11.6) ------------------------------------------------------------------------ */

/* A physical IPI reaches the CPU whose APIC id it names, only that one. The
 * ICR holds level = 1 and the destination in bits 31:24 of the high dword. */
static void test_physical_ipi_xapic(void **State)
{
    (void)State;
    Boot(4, 4, false, XApicIds);
    assert_int_equal(HlLapicSendIpi(XApicIds[2], HlIpiNoShorthand, HlDeliveryFixed, 0x71), IRQ_STATUS_SUCCESS);
    assert_int_equal(LapicRead(LAPIC_ICR_LOW), ICR_LEVEL_ASSERT | 0x71u);
    assert_int_equal(LapicRead(LAPIC_ICR_HIGH), XApicIds[2] << 24);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x71), Cpu == 2);
    assert_false(SimLapicTmrIsSet(2, 0x71));
    assert_int_equal(SimDeliveredCount(2), 0); /* an IPI, not a device message */
    assert_int_equal(SimLapicReceivedCount(2, MODE_FIXED), 1);
    assert_int_equal(ServiceCpu(2), 1);
    assert_int_equal(Log[0].Cpu, 2);
    assert_int_equal(Log[0].CurrentCpu, 2);
    assert_int_equal(Log[0].Vector, 0x71);
    /* An id nobody has: nobody. */
    assert_int_equal(HlLapicSendIpi(0x55, HlIpiNoShorthand, HlDeliveryFixed, 0x72), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_false(SimLapicIrrIsSet(Cpu, 0x72));
}

/* Logical flat destinations (as the driver programmed LDR/DFR) from a raw
 * ICR write and from an I/O APIC-style logical MSI: every CPU with a bit in
 * common. */
static void test_logical_flat_destinations(void **State)
{
    (void)State;
    Boot(4, 4, false, XApicIds);
    LapicWrite(LAPIC_ICR_HIGH, 0x06u << 24);
    LapicWrite(LAPIC_ICR_LOW, ICR_LEVEL_ASSERT | ICR_LOGICAL | 0x73u);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x73), Cpu == 1 || Cpu == 2);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0x09ull << 12), 0x74);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x74), Cpu == 0 || Cpu == 3);
    /* Cluster model (DFR 0): the cluster nibble must match, cluster 0xF
     * addresses every cluster (SDM 11.6.2.2; QEMU 10), and a member bit
     * must be common. */
    SwitchCpu(3);
    LapicWrite(LAPIC_DFR, 0x0FFFFFFFu);
    LapicWrite(LAPIC_LDR, 0x21u << 24); /* cluster 2, member 1 */
    SwitchCpu(HOME_CPU);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0x21ull << 12), 0x75);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0xFFull << 12), 0x76);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0x31ull << 12), 0x77);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0xF2ull << 12), 0x78);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0xF1ull << 12), 0x79);
    assert_true(SimLapicIrrIsSet(3, 0x75));
    assert_true(SimLapicIrrIsSet(3, 0x76));
    assert_false(SimLapicIrrIsSet(3, 0x77)); /* cluster 3 */
    assert_false(SimLapicIrrIsSet(3, 0x78)); /* every cluster, member 2 */
    assert_true(SimLapicIrrIsSet(3, 0x79));
    assert_true(SimLapicIrrIsSet(0, 0x76)); /* flat CPUs: 0xFF hits every LDR bit */
    assert_true(SimLapicIrrIsSet(0, 0x79));
}

/* Shorthands: self, all including self, all excluding self. The home CPU
 * holds everything back with TPR 0xF0 so its IRR can be looked at. */
static void ShorthandsOn(bool UseX2Apic)
{
    Boot(4, 4, UseX2Apic, UseX2Apic ? X2ApicIds : XApicIds);
    HlLapicWriteTaskPriority(0xF0);
    assert_int_equal(HlLapicSendIpi(0xDEAD, HlIpiSelf, HlDeliveryFixed, 0x81), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicSendIpi(0, HlIpiAllIncludingSelf, HlDeliveryFixed, 0x82), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicSendIpi(0, HlIpiAllExcludingSelf, HlDeliveryFixed, 0x83), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x81), Cpu == HOME_CPU);
        assert_true(SimLapicIrrIsSet(Cpu, 0x82));
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x83), Cpu != HOME_CPU);
    }
    HlLapicWriteTaskPriority(0);
    assert_int_equal(DispatchCount(HOME_CPU, 0x82), 1);
    assert_int_equal(Log[0].Vector, 0x82);
    assert_int_equal(Log[1].Vector, 0x81);
    assert_int_equal(ServiceCpu(3), 2);
    assert_int_equal(DispatchCount(3, 0x83), 1);
}

TB_TESTS_IN_BOTH_LAPIC_MODES(test_shorthands, ShorthandsOn)

/* x2APIC: one 64-bit ICR with a 32-bit destination; cluster logical
 * destinations (cluster 31:16, member mask 15:0); 0xFFFFFFFF broadcast;
 * the SELF IPI MSR. */
static void test_x2apic_ipis_and_cluster_logical(void **State)
{
    (void)State;
    /* Logical ids 1:bit0, 1:bit1, 2:bit1, 1:bit2: CPUs 1 and 2 share member
     * bit 1 in different clusters. */
    static const uint32_t Ids[4] = {0x10, 0x11, 0x21, 0x12};
    Boot(4, 4, true, Ids);
    assert_int_equal(HlLapicSendIpi(0x21, HlIpiNoShorthand, HlDeliveryFixed, 0x91), IRQ_STATUS_SUCCESS);
    assert_int_equal(PlatReadMsr(X2APIC_MSR_ICR), (uint64_t)0x21 << 32 | ICR_LEVEL_ASSERT | 0x91u);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x91), Cpu == 2);

    PlatWriteMsr(X2APIC_MSR_ICR, (uint64_t)(1u << 16 | 0x6u) << 32 | ICR_LOGICAL | 0x92u);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x92), Cpu == 1 || Cpu == 3);
    PlatWriteMsr(X2APIC_MSR_ICR, (uint64_t)(2u << 16 | 0x2u) << 32 | ICR_LOGICAL | 0x93u);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0x93), Cpu == 2);
    PlatWriteMsr(X2APIC_MSR_ICR, (uint64_t)0xFFFFFFFFu << 32 | ICR_LOGICAL | 0x94u);
    assert_int_equal(HlLapicSendIpi(0xFFFFFFFFu, HlIpiNoShorthand, HlDeliveryFixed, 0x95), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 1; Cpu < 4; Cpu++) {
        assert_true(SimLapicIrrIsSet(Cpu, 0x94));
        assert_true(SimLapicIrrIsSet(Cpu, 0x95));
    }
    /* Without a disable/restore pair around the send, the self IPI waits in
     * the IRR for the next acceptance point. */
    PlatWriteMsr(X2APIC_MSR_SELF_IPI, 0x96);
    assert_true(SimLapicIrrIsSet(HOME_CPU, 0x96));
    assert_false(SimLapicIrrIsSet(1, 0x96));
    PlatCpuRelax();
    assert_int_equal(DispatchCount(HOME_CPU, 0x96), 1);
    assert_int_equal(DispatchCount(HOME_CPU, 0x94), 1);
}

/* Lowest priority: one CPU of the addressed set, the lowest TPR class,
 * ties to the lowest APIC id; a software-disabled APIC takes no part. */
static void test_lowest_priority_arbitration(void **State)
{
    (void)State;
    static const uint32_t Ids[4] = {0x01, 0x0C, 0x09, 0x04};
    Boot(4, 4, false, Ids);
    SetTprOn(1, 0x30);
    SetTprOn(2, 0x10);
    SetTprOn(3, 0x1F);
    uint64_t Set123 = MSI_BASE | MSI_LOGICAL | MSI_REDIRECTION_HINT | (0x0Eull << 12);
    SimMsiWrite(Set123, 0xA1); /* RH=1 turns a fixed message into lowest priority */
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0xA1), Cpu == 3); /* class 1 tie: id 4 < id 9 */

    SetTprOn(3, 0x20);
    SimMsiWrite(MSI_BASE | MSI_LOGICAL | (0x0Eull << 12), 0x100u | 0xA2u); /* data mode 001 */
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0xA2), Cpu == 2);

    /* CPU 2 software-disabled: CPU 3 (class 2) beats CPU 1 (class 3). */
    SwitchCpu(2);
    LapicWrite(LAPIC_SVR, SPURIOUS_VECTOR);
    SwitchCpu(HOME_CPU);
    SimMsiWrite(Set123, 0xA3);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0xA3), Cpu == 3);

    /* Physical lowest priority through the driver: only that id competes. */
    assert_int_equal(HlLapicSendIpi(Ids[1], HlIpiNoShorthand, HlDeliveryLowestPriority, 0xA4), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimLapicIrrIsSet(Cpu, 0xA4), Cpu == 1);
}

/* ---- MSI (SDM 11.11) ------------------------------------------------------------------------------ */

static void test_msi_decode(void **State)
{
    (void)State;
    Boot(4, 4, false, XApicIds);
    SimMsiWrite(MsiAddress(XApicIds[1]), 0x66);
    assert_true(SimLapicIrrIsSet(1, 0x66));
    assert_false(SimLapicTmrIsSet(1, 0x66));
    assert_int_equal(SimDeliveredCount(1), 1);

    SimMsiWrite(MsiAddress(XApicIds[2]), MSI_TRIGGER_LEVEL | MSI_LEVEL_ASSERT | 0x67u);
    assert_true(SimLapicIrrIsSet(2, 0x67));
    assert_true(SimLapicTmrIsSet(2, 0x67));
    /* A level de-assert message carries no interrupt. */
    SimMsiWrite(MsiAddress(XApicIds[2]), MSI_TRIGGER_LEVEL | 0x68u);
    assert_false(SimLapicIrrIsSet(2, 0x68));

    /* NMI is recorded, not put in the IRR; reserved mode 011 is dropped. */
    SimMsiWrite(MsiAddress(XApicIds[3]), (MODE_NMI << 8) | 0x69u);
    assert_int_equal(SimLapicReceivedCount(3, MODE_NMI), 1);
    assert_false(SimLapicIrrIsSet(3, 0x69));
    SimMsiWrite(MsiAddress(XApicIds[3]), (3u << 8) | 0x6Au);
    assert_false(SimLapicIrrIsSet(3, 0x6A));
    assert_int_equal(SimDeliveredCount(3), 0);

    /* Physical 0xFF is the broadcast. */
    SimMsiWrite(MsiAddress(0xFF), 0x6B);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_true(SimLapicIrrIsSet(Cpu, 0x6B));

    /* The edge message after the level one clears the TMR bit (11.8.4). */
    AutoEoi = false;
    SimMsiWrite(MsiAddress(XApicIds[2]), 0x67);
    assert_false(SimLapicTmrIsSet(2, 0x67));
}

/* ---- Software-disabled APIC, INIT and start-up (SDM 11.4.7.2, 8.4.4) ---------------------------- */

/* CPU 3 never initialised (reset state: SVR 0xFF): fixed interrupts are
 * refused, INIT and SIPI are taken (a SIPI only after an INIT, once). */
static void test_software_disabled_apic_and_startup(void **State)
{
    (void)State;
    Boot(4, 3, false, XApicIds);
    assert_int_equal(HlLapicSendIpi(XApicIds[3], HlIpiNoShorthand, HlDeliveryFixed, 0x71), IRQ_STATUS_SUCCESS);
    SimMsiWrite(MsiAddress(XApicIds[3]), 0x72);
    assert_false(SimLapicIrrIsSet(3, 0x71));
    assert_false(SimLapicIrrIsSet(3, 0x72));
    assert_int_equal(SimDeliveredCount(3), 0);

    assert_int_equal(HlLapicSendIpi(XApicIds[3], HlIpiNoShorthand, HlDeliveryStartup, 0x08), IRQ_STATUS_SUCCESS);
    assert_int_equal(SimLapicReceivedCount(3, MODE_STARTUP), 0); /* no INIT yet */
    assert_int_equal(HlLapicSendIpi(XApicIds[3], HlIpiNoShorthand, HlDeliveryInit, 0), IRQ_STATUS_SUCCESS);
    assert_int_equal(LapicRead(LAPIC_ICR_LOW), ICR_LEVEL_ASSERT | (MODE_INIT << 8));
    assert_int_equal(HlLapicSendIpi(XApicIds[3], HlIpiNoShorthand, HlDeliveryStartup, 0x08), IRQ_STATUS_SUCCESS);
    assert_int_equal(LapicRead(LAPIC_ICR_LOW), ICR_LEVEL_ASSERT | (MODE_STARTUP << 8) | 0x08u);
    assert_int_equal(HlLapicSendIpi(XApicIds[3], HlIpiNoShorthand, HlDeliveryStartup, 0x09), IRQ_STATUS_SUCCESS);
    assert_int_equal(SimLapicReceivedCount(3, MODE_INIT), 1);
    assert_int_equal(SimLapicReceivedCount(3, MODE_STARTUP), 1);
    assert_int_equal(SimLapicStartupVector(3), 0x08);
    assert_int_equal(SimLapicReceivedCount(2, MODE_INIT), 0);

    /* An enabled APIC that software disables holds its IRR, masks its LVT
     * and takes the vector once enabled again. */
    SimMsiWrite(MsiAddress(XApicIds[1]), 0x73);
    SwitchCpu(1);
    LapicWrite(LAPIC_SVR, SPURIOUS_VECTOR);
    assert_int_equal(LapicRead(LAPIC_LVT_LINT1) & LVT_MASKED, LVT_MASKED);
    LapicWrite(LAPIC_LVT_LINT1, 0x400u); /* cannot unmask while disabled */
    assert_int_equal(LapicRead(LAPIC_LVT_LINT1) & LVT_MASKED, LVT_MASKED);
    assert_int_equal(SimServicePending(), 0);
    assert_true(SimLapicIrrIsSet(1, 0x73));
    SimMsiWrite(MsiAddress(XApicIds[1]), 0x74);
    assert_false(SimLapicIrrIsSet(1, 0x74));
    LapicWrite(LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);
    assert_int_equal(SimServicePending(), 1);
    assert_int_equal(Log[0].Vector, 0x73);
    SwitchCpu(HOME_CPU);
}

/* A fixed IPI with an illegal vector (0-15) is not sent and sets "send
 * illegal vector", readable after an ESR write (SDM 11.5.3). */
static void test_illegal_vector_sets_esr(void **State)
{
    (void)State;
    Boot(2, 2, false, XApicIds);
    LapicWrite(LAPIC_ICR_HIGH, XApicIds[1] << 24);
    LapicWrite(LAPIC_ICR_LOW, ICR_LEVEL_ASSERT | 0x05u);
    assert_int_equal(SimLapicReceivedCount(1, MODE_FIXED), 0);
    assert_int_equal(LapicRead(LAPIC_ESR), 0);
    LapicWrite(LAPIC_ESR, 0);
    assert_int_equal(LapicRead(LAPIC_ESR), ESR_SEND_ILLEGAL_VECTOR);
    LapicWrite(LAPIC_ESR, 0);
    assert_int_equal(LapicRead(LAPIC_ESR), 0);
}

/* ---- The interrupt entry on other CPUs --------------------------------------------------------------- */

/* An attached thread takes only its own CPU's interrupts, with its own CPU
 * number, IF clear and the vector in service. */
static void test_entry_called_on_attached_cpu(void **State)
{
    (void)State;
    Boot(4, 4, false, XApicIds);
    SimMsiWrite(MsiAddress(XApicIds[2]), 0x51);
    SimMsiWrite(MsiAddress(XApicIds[3]), 0x52);
    assert_int_equal(SimServicePending(), 0);
    assert_int_equal(ServiceCpu(2), 1);
    assert_int_equal(LogCount, 1);
    assert_int_equal(Log[0].Cpu, 2);
    assert_int_equal(Log[0].CurrentCpu, 2);
    assert_int_equal(Log[0].Vector, 0x51);
    assert_false(Log[0].InterruptsOn);
    assert_true(Log[0].InService);
    assert_true(SimLapicIrrIsSet(3, 0x52));
    assert_int_equal(SimEoiCount(2), 1);
    assert_int_equal(SimEoiCount(HOME_CPU), 0);
    assert_int_equal(ServiceCpu(3), 1);
    assert_int_equal(Log[1].Cpu, 3);
    /* Every CPU is quiet now. */
    assert_true(SimWaitIdle(1000));
}

/* ---- Configuration ------------------------------------------------------------------------------------ */

static void test_default_ids_and_bad_configurations(void **State)
{
    (void)State;
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(SimDefaultApicId(Cpu, 4, false), 2 * Cpu + 1);
    /* 255 xAPIC CPUs: unique ids below 0xFF, none the CPU index but one. */
    uint32_t Seen[8] = {0};
    for (uint32_t Cpu = 0; Cpu < 255; Cpu++) {
        uint32_t Id = SimDefaultApicId(Cpu, 255, false);
        assert_true(Id < 0xFF);
        assert_int_equal(Seen[Id / 32] >> (Id % 32) & 1u, 0);
        Seen[Id / 32] |= 1u << (Id % 32);
    }
    assert_int_equal(SimDefaultApicId(300, 400, true), 601);

    /* More than 255 CPUs, or an id above 0xFE, only on CPUs that offer x2APIC. */
    SIM_CONFIG TooMany = {.CpuCount = 256};
    assert_int_equal(SimCreate(&TooMany), -1);
    static const uint32_t Wide[2] = {1, 0x100};
    SIM_CONFIG WideXApic = {.CpuCount = 2, .ApicIds = Wide};
    assert_int_equal(SimCreate(&WideXApic), -1);
    SIM_CONFIG WideX2Apic = {.CpuCount = 2, .ApicIds = Wide, .X2ApicSupported = true};
    assert_int_equal(SimCreate(&WideX2Apic), 0);
    SimDestroy();
    static const uint32_t AllOnes[2] = {1, 0xFFFFFFFFu};
    SIM_CONFIG X2ApicBroadcastId = {.CpuCount = 2, .ApicIds = AllOnes, .X2ApicSupported = true};
    assert_int_equal(SimCreate(&X2ApicBroadcastId), -1);
    static const uint32_t Duplicate[2] = {4, 4};
    SIM_CONFIG Duplicated = {.CpuCount = 2, .ApicIds = Duplicate};
    assert_int_equal(SimCreate(&Duplicated), -1);
    static const uint32_t Broadcast[2] = {1, 0xFF};
    SIM_CONFIG BroadcastId = {.CpuCount = 2, .ApicIds = Broadcast};
    assert_int_equal(SimCreate(&BroadcastId), -1);
    SIM_CONFIG None = {.CpuCount = 0};
    assert_int_equal(SimCreate(&None), -1);
    assert_int_equal(SimCreate(NULL), -1);
}

/* The largest xAPIC system: 255 CPUs, an all-excluding-self IPI reaches the
 * 254 others. */
static void test_255_cpus_xapic_broadcast(void **State)
{
    (void)State;
    Boot(MAX_TEST_CPUS, MAX_TEST_CPUS, false, NULL);
    assert_int_equal(SimCpuCount(), MAX_TEST_CPUS);
    assert_int_equal(HlLapicSendIpi(0, HlIpiAllExcludingSelf, HlDeliveryFixed, 0xC3), IRQ_STATUS_SUCCESS);
    uint32_t Reached = 0;
    for (uint32_t Cpu = 0; Cpu < MAX_TEST_CPUS; Cpu++)
        Reached += SimLapicIrrIsSet(Cpu, 0xC3);
    assert_int_equal(Reached, MAX_TEST_CPUS - 1);
    assert_false(SimLapicIrrIsSet(HOME_CPU, 0xC3));
    SwitchCpu(200);
    assert_int_equal(HlLapicReadId(), SimDefaultApicId(200, MAX_TEST_CPUS, false));
    SwitchCpu(HOME_CPU);
}

/* x2APIC holds SIM_MAX_CPUS CPUs with 32-bit ids (no threads needed): the
 * last one is reached by a physical IPI and by lowest priority when it
 * alone runs at TPR 0. */
static void test_max_cpus_x2apic(void **State)
{
    (void)State;
    const uint32_t Last = SIM_MAX_CPUS - 1u;
    Boot(SIM_MAX_CPUS, SIM_MAX_CPUS, true, NULL);
    assert_int_equal(SimCpuApicId(Last), 2u * Last + 1u);
    assert_int_equal(HlLapicSendIpi(SimCpuApicId(Last), HlIpiNoShorthand, HlDeliveryFixed, 0xB1),
                     IRQ_STATUS_SUCCESS);
    assert_true(SimLapicIrrIsSet(Last, 0xB1));
    assert_false(SimLapicIrrIsSet(Last - 1u, 0xB1));

    for (uint32_t Cpu = 0; Cpu < Last; Cpu++)
        SetTprOn(Cpu, 0x20);
    PlatWriteMsr(X2APIC_MSR_ICR, (uint64_t)0xFFFFFFFFu << 32 | (1u << 8) | 0xB2u); /* lowest priority, all */
    uint32_t Reached = 0;
    for (uint32_t Cpu = 0; Cpu < SIM_MAX_CPUS; Cpu++)
        Reached += SimLapicIrrIsSet(Cpu, 0xB2);
    assert_int_equal(Reached, 1);
    assert_true(SimLapicIrrIsSet(Last, 0xB2));
    SwitchCpu(Last);
    assert_int_equal(HlLapicReadId(), 2u * Last + 1u);
    assert_int_equal(SimServicePending(), 2);
    SwitchCpu(HOME_CPU);
}

TB_TEST_MAIN(
    cmocka_unit_test_teardown(test_xapic_ids_and_initial_state, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_initialize_masks_firmware_lint0, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_xapic_ninth_cpu_has_no_logical_id, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_ids_and_derived_ldr, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_bad_arguments_are_refused, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_tpr_holds_and_lowering_delivers, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_highest_vector_first, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_eoi_clears_highest_in_service, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_physical_ipi_xapic, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_logical_flat_destinations, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_shorthands_xapic, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_shorthands_x2apic, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_x2apic_ipis_and_cluster_logical, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_lowest_priority_arbitration, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_msi_decode, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_software_disabled_apic_and_startup, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_illegal_vector_sets_esr, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_entry_called_on_attached_cpu, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_default_ids_and_bad_configurations, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_255_cpus_xapic_broadcast, TbTeardownHardwareLayer),
    cmocka_unit_test_teardown(test_max_cpus_x2apic, TbTeardownHardwareLayer))
