/* SPDX-License-Identifier: MIT */
/*
 * RkSystemStartup: the BSP's C entry. Brings the machine to the state the
 * library expects, in the order simboot.c does on the sim models: console
 * and traps; the pool (from the loader's memory map); the MADT; the local
 * APIC mode, chosen from CPUID, IA32_APIC_BASE and the MADT before any
 * local APIC access (RkSelectLapicMode); the I/O APICs and overrides; then
 * on the BSP its local APIC put in that mode (EN, then EXTD: SDM vol. 3A
 * 11.12.5) before its first register access, its APIC id read from the
 * register and checked against CPUID (smp.c, RkIdentifyProcessor); Ke sized
 * for the CPUs; each CPU's registry entry and local APIC before Ke marks it
 * online; the APs (smp.c, each in the same order). Then the tests.
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "demo.h"
#include "device.h"
#include "kernel.h"
#include "ktest.h"

/* Multiboot 1 spec 3.2: EAX holds this when a compliant loader started us. */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* Multiboot 1 spec 3.3: the information structure's flags and command line. */
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_CMDLINE_MAX 256u

/* 8259A: interrupt mask registers of the master and slave (OCW1). */
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA 0xA1

#define CPUID_FEATURES 1u
#define CPUID_ECX_X2APIC (1u << 21) /* SDM vol. 2A table 3-10 */
#define MSR_APIC_BASE 0x1Bu
#define APIC_BASE_ADDRESS_MASK 0xFFFFFF000ull /* bits 35:12 (SDM 11.4.4) */
#define APIC_BASE_EXTD (1ull << 10)            /* x2APIC mode (SDM 11.12.1) */
#define APIC_BASE_EN (1ull << 11)              /* APIC global enable (SDM 11.4.3) */

/* The legacy PICs stay programmed by the BIOS but fully masked: every line
 * goes through the I/O APIC (and LINT0, where SeaBIOS leaves ExtINT, is
 * masked by HlLapicInitializeProcessor). */
static void RkMaskLegacyPics(void)
{
    RkOutByte(PIC_MASTER_DATA, 0xFF);
    RkOutByte(PIC_SLAVE_DATA, 0xFF);
}

static void RkParseMadt(void)
{
    const void *Madt;
    uint32_t Length;
    if (!RkAcpiFindMadt(&Madt, &Length))
        RkPanic("no MADT: cannot find the interrupt controllers");
    IRQ_STATUS Status = HlMadtParse(Madt, Length, &RkMadt);
    if (Status != IRQ_STATUS_SUCCESS)
        RkPanic("MADT at %p (%u bytes) rejected: %s", Madt, Length, IrStatusName(Status));
    RkAcpiPrintMadt(&RkMadt);
}

/* The enabled MADT processors: how many, and the highest APIC id. Disabled
 * entries (hot-plug slots, ACPI 6.5 5.2.12.2) are never started. */
static void RkSurveyProcessors(uint32_t *Enabled, uint32_t *HighestApicId)
{
    *Enabled = 0;
    *HighestApicId = 0;
    for (uint32_t Index = 0; Index < RkMadt.ProcessorCount; Index++) {
        const HL_MADT_PROCESSOR *Processor = &RkMadt.Processors[Index];
        if (!Processor->Enabled)
            continue;
        (*Enabled)++;
        if (Processor->ApicId > *HighestApicId)
            *HighestApicId = Processor->ApicId;
    }
}

/* Before any local APIC register access on any CPU (only IA32_APIC_BASE is
 * read here): x2APIC when the CPU offers it (CPUID.01H:ECX[21]) unless the
 * command line says "nox2apic" (as if it did not), and always when firmware
 * already switched the BSP to x2APIC (IA32_APIC_BASE.EXTD): leaving x2APIC
 * means disabling the APIC (SDM 11.12.5), and firmware that switches one
 * CPU switches all (SeaBIOS does with more than 255 CPUs), which INIT does
 * not undo. A machine whose enabled CPUs need x2APIC (more than 255 of
 * them, or an APIC id above 254) while it is not available is refused here,
 * with a message and the failure status, not left to fault later. */
static void RkSelectLapicMode(void)
{
    uint32_t Registers[4];
    RkCpuid(CPUID_FEATURES, 0, Registers);
    bool Offered = (Registers[2] & CPUID_ECX_X2APIC) != 0;
    bool Refused = RkCommandLineHas("nox2apic");
    bool Available = Offered && !Refused;
    uint64_t ApicBase = PlatReadMsr(MSR_APIC_BASE);
    bool FirmwareX2Apic = (ApicBase & APIC_BASE_EXTD) != 0;

    uint32_t Enabled, HighestApicId;
    RkSurveyProcessors(&Enabled, &HighestApicId);
    bool Needed = Enabled > RK_XAPIC_MAX_CPUS || HighestApicId > RK_XAPIC_MAX_APIC_ID;
    if (Needed && !Available) {
        RkPrint("lapic: %u enabled CPUs, APIC ids up to %u: more than xAPIC can address (255 CPUs, ids 0-254); "
                "x2APIC is %s\n",
                Enabled, HighestApicId, Offered ? "turned off by nox2apic" : "not offered (CPUID.01H:ECX[21] clear)");
        RkExit(RK_EXIT_FAILURE);
    }
    bool X2Apic = FirmwareX2Apic || Available;
    if (FirmwareX2Apic && Refused)
        RkPrint("lapic: nox2apic ignored: firmware handed the BSP over in x2APIC mode\n");

    uint64_t Base = RkMadt.LocalApicAddress;
    uint64_t MsrBase = ApicBase & APIC_BASE_ADDRESS_MASK;
    if (Base != MsrBase)
        RkPrint("lapic: MADT says 0x%lx, IA32_APIC_BASE says 0x%lx; using the MSR\n", Base, MsrBase);
    Base = MsrBase;
    if (!X2Apic && !RkInMmioWindow(Base))
        RkPanic("local APIC at 0x%lx is outside the uncached MMIO window", Base);
    IRQ_STATUS Status = HlLapicSelectMode(X2Apic ? HlLapicModeX2Apic : HlLapicModeXApic, (uintptr_t)Base);
    if (Status != IRQ_STATUS_SUCCESS)
        RkPanic("HlLapicSelectMode: %s", IrStatusName(Status));
    RkPrint("lapic: x2APIC %s%s, firmware left the BSP in %s mode; %u CPUs, APIC ids up to %u: %s mode, base 0x%lx\n",
            Offered ? "offered" : "not offered", Offered && Refused ? " (nox2apic)" : "",
            FirmwareX2Apic ? "x2APIC" : (ApicBase & APIC_BASE_EN) ? "xAPIC" : "disabled", Enabled, HighestApicId,
            RkLapicModeName(), Base);
}

static void RkRegisterInterruptControllers(void)
{
    for (uint32_t Index = 0; Index < RkMadt.IoApicCount; Index++) {
        const HL_MADT_IOAPIC *IoApic = &RkMadt.IoApics[Index];
        IRQ_STATUS Status = RkInMmioWindow(IoApic->Address)
                                ? HlIoApicRegister(IoApic->Id, IoApic->Address, IoApic->GsiBase)
                                : IRQ_STATUS_NOT_SUPPORTED;
        if (Status != IRQ_STATUS_SUCCESS)
            RkPrint("ioapic: id %u at 0x%x not registered: %s\n", IoApic->Id, IoApic->Address, IrStatusName(Status));
    }
    for (uint32_t Index = 0; Index < RkMadt.OverrideCount; Index++) {
        const HL_MADT_OVERRIDE *Override = &RkMadt.Overrides[Index];
        /* Bus 0 is ISA, the only bus ACPI defines for overrides (5.2.12.5). */
        IRQ_STATUS Status = Override->Bus == 0
                                ? HlPicRegisterOverride(Override->SourceIrq, Override->Gsi, Override->Flags)
                                : IRQ_STATUS_NOT_SUPPORTED;
        if (Status != IRQ_STATUS_SUCCESS)
            RkPrint("ioapic: override IRQ %u -> GSI %u not registered: %s\n", Override->SourceIrq, Override->Gsi,
                    IrStatusName(Status));
    }
    RkPrint("ioapic: %u I/O APIC(s) registered\n", HlIoApicGetCount());
}

static void RkInitializeInterruptSystem(void)
{
    RkSelectLapicMode();
    RkRegisterInterruptControllers();
    RkInitializeRemapping();
    uint32_t BspApicId;
    if (!RkIdentifyProcessor(0, &BspApicId))
        RkPanic("the boot processor's local APIC cannot be used");
    uint32_t Count = RkAssignProcessors(BspApicId);
    IRQ_STATUS Status = KeInitializeSystem(Count, &KeAmd64VectorLayout);
    if (Status != IRQ_STATUS_SUCCESS)
        RkPanic("KeInitializeSystem(%u): %s", Count, IrStatusName(Status));
    IoResetInterruptManager();
    RkInitializeProcessor(0);
    if (RkPcr[0].Online == 0)
        RkPanic("the boot processor did not initialise");
    RkEnableInterrupts();
}

static char RkCommandLine[MULTIBOOT_CMDLINE_MAX];

/* Copies the loader's command line (it lives in memory the pool may reuse). */
static void RkSaveCommandLine(uint32_t MultibootInfo)
{
    const volatile uint32_t *Info = RkPhysical(MultibootInfo);
    if ((Info[0] & MULTIBOOT_INFO_CMDLINE) == 0)
        return;
    const volatile char *Source = RkPhysical(Info[4]);
    for (uint32_t Index = 0; Index + 1 < MULTIBOOT_CMDLINE_MAX && Source[Index] != 0; Index++)
        RkCommandLine[Index] = Source[Index];
}

bool RkCommandLineHas(const char *Word)
{
    size_t Length = 0;
    while (Word[Length] != 0)
        Length++;
    for (const char *At = RkCommandLine; *At != 0; At++) {
        bool Starts = At == RkCommandLine || At[-1] == ' ';
        if (Starts && memcmp(At, Word, Length) == 0 && (At[Length] == 0 || At[Length] == ' '))
            return true;
    }
    return false;
}

void RkSystemStartup(uint32_t Magic, uint32_t MultibootInfo)
{
    RkInitializePcr(0, 0);
    RkSerialInitialize();
    RkPrint("irqroute reference kernel (multiboot magic 0x%x, info at 0x%x)\n", Magic, MultibootInfo);
    if (Magic != MULTIBOOT_BOOTLOADER_MAGIC)
        RkPanic("not started by a multiboot loader");
    RkSaveCommandLine(MultibootInfo);
    RkInitializeMemory(MultibootInfo);
    if (!RkAllocateProcessor(0))
        RkPanic("no memory for the boot processor's GDT and TSS");
    RkInitializeIdt();
    RkInitializeTss(0);
    RkLoadIdt();
    RkMaskLegacyPics();
    RkCalibrateStall();

    RkParseMadt();
    RkInitializeInterruptSystem();
    uint32_t Running = RkStartProcessors(RkRunModeSwitchCheck);
    RkPrint("smp: %u CPU(s) running; pool %lu of %lu KiB in use\n", Running, (uint64_t)(RkMemoryInUse() / 1024u),
            (uint64_t)(RkMemorySize() / 1024u));

    RkInitializeDevices();
    if (RkCommandLineHas("demo")) {
        RkRunDemo();
        RkExit(RK_EXIT_SUCCESS);
    }
    RkRunTests();
    uint32_t Failures = RkTestFailures();
    RkPrint("KTEST-SUMMARY %s %u failure(s)\n", Failures == 0 ? "PASS" : "FAIL", Failures);
    RkExit(Failures == 0 ? RK_EXIT_SUCCESS : RK_EXIT_FAILURE);
}
