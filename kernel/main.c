/*
 * KiSystemStartup: the BSP's C entry. Brings the machine to the state the
 * library expects, in the order simboot.c does on the sim models: console
 * and traps; the pool (from the loader's memory map); the MADT; the local
 * APIC mode, chosen from CPUID, IA32_APIC_BASE and the MADT before any
 * local APIC access (KiSelectLapicMode); the I/O APICs and overrides; then
 * on the BSP its local APIC put in that mode (EN, then EXTD: SDM vol. 3A
 * 11.12.5) before its first register access, its APIC id read from the
 * register and checked against CPUID (smp.c, KiIdentifyProcessor); Ke sized
 * for the CPUs; each CPU's registry entry and local APIC before Ke marks it
 * online; the APs (smp.c, each in the same order). Then the tests.
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "device.h"
#include "kernel.h"

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

/* The I/O APIC, local APIC and PCI BARs live in the uncached fourth GiB of
 * the identity map (boot.S). */
#define KI_MMIO_WINDOW_START 0xC0000000ull
#define KI_MMIO_WINDOW_END 0x100000000ull

/* The legacy PICs stay programmed by the BIOS but fully masked: every line
 * goes through the I/O APIC (and LINT0, where SeaBIOS leaves ExtINT, is
 * masked by HlLapicInitializeProcessor). */
static void KiMaskLegacyPics(void)
{
    KiOutByte(PIC_MASTER_DATA, 0xFF);
    KiOutByte(PIC_SLAVE_DATA, 0xFF);
}

static bool KiInMmioWindow(uint64_t Address)
{
    return Address >= KI_MMIO_WINDOW_START && Address < KI_MMIO_WINDOW_END;
}

static void KiParseMadt(void)
{
    const void *Madt;
    uint32_t Length;
    if (!KiAcpiFindMadt(&Madt, &Length))
        KiPanic("no MADT: cannot find the interrupt controllers");
    IRQ_STATUS Status = HlMadtParse(Madt, Length, &KiMadt);
    if (Status != IRQ_STATUS_SUCCESS)
        KiPanic("MADT at %p (%u bytes) rejected: %s", Madt, Length, IrStatusName(Status));
    KiAcpiPrintMadt(&KiMadt);
}

/* The enabled MADT processors: how many, and the highest APIC id. Disabled
 * entries (hot-plug slots, ACPI 6.5 5.2.12.2) are never started. */
static void KiSurveyProcessors(uint32_t *Enabled, uint32_t *HighestApicId)
{
    *Enabled = 0;
    *HighestApicId = 0;
    for (uint32_t Index = 0; Index < KiMadt.ProcessorCount; Index++) {
        const HL_MADT_PROCESSOR *Processor = &KiMadt.Processors[Index];
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
static void KiSelectLapicMode(void)
{
    uint32_t Registers[4];
    KiCpuid(CPUID_FEATURES, 0, Registers);
    bool Offered = (Registers[2] & CPUID_ECX_X2APIC) != 0;
    bool Refused = KiCommandLineHas("nox2apic");
    bool Available = Offered && !Refused;
    uint64_t ApicBase = PlatReadMsr(MSR_APIC_BASE);
    bool FirmwareX2Apic = (ApicBase & APIC_BASE_EXTD) != 0;

    uint32_t Enabled, HighestApicId;
    KiSurveyProcessors(&Enabled, &HighestApicId);
    bool Needed = Enabled > KI_XAPIC_MAX_CPUS || HighestApicId > KI_XAPIC_MAX_APIC_ID;
    if (Needed && !Available) {
        KiPrint("lapic: %u enabled CPUs, APIC ids up to %u: more than xAPIC can address (255 CPUs, ids 0-254); "
                "x2APIC is %s\n",
                Enabled, HighestApicId, Offered ? "turned off by nox2apic" : "not offered (CPUID.01H:ECX[21] clear)");
        KiExit(KI_EXIT_FAILURE);
    }
    bool X2Apic = FirmwareX2Apic || Available;
    if (FirmwareX2Apic && Refused)
        KiPrint("lapic: nox2apic ignored: firmware handed the BSP over in x2APIC mode\n");

    uint64_t Base = KiMadt.LocalApicAddress;
    uint64_t MsrBase = ApicBase & APIC_BASE_ADDRESS_MASK;
    if (Base != MsrBase)
        KiPrint("lapic: MADT says 0x%lx, IA32_APIC_BASE says 0x%lx; using the MSR\n", Base, MsrBase);
    Base = MsrBase;
    if (!X2Apic && !KiInMmioWindow(Base))
        KiPanic("local APIC at 0x%lx is outside the uncached MMIO window", Base);
    IRQ_STATUS Status = HlLapicSelectMode(X2Apic ? HlLapicModeX2Apic : HlLapicModeXApic, (uintptr_t)Base);
    if (Status != IRQ_STATUS_SUCCESS)
        KiPanic("HlLapicSelectMode: %s", IrStatusName(Status));
    KiPrint("lapic: x2APIC %s%s, firmware left the BSP in %s mode; %u CPUs, APIC ids up to %u: %s mode, base 0x%lx\n",
            Offered ? "offered" : "not offered", Offered && Refused ? " (nox2apic)" : "",
            FirmwareX2Apic ? "x2APIC" : (ApicBase & APIC_BASE_EN) ? "xAPIC" : "disabled", Enabled, HighestApicId,
            KiLapicModeName(), Base);
}

static void KiRegisterInterruptControllers(void)
{
    for (uint32_t Index = 0; Index < KiMadt.IoApicCount; Index++) {
        const HL_MADT_IOAPIC *IoApic = &KiMadt.IoApics[Index];
        IRQ_STATUS Status = KiInMmioWindow(IoApic->Address)
                                ? HlIoApicRegister(IoApic->Id, IoApic->Address, IoApic->GsiBase)
                                : IRQ_STATUS_NOT_SUPPORTED;
        if (Status != IRQ_STATUS_SUCCESS)
            KiPrint("ioapic: id %u at 0x%x not registered: %s\n", IoApic->Id, IoApic->Address, IrStatusName(Status));
    }
    for (uint32_t Index = 0; Index < KiMadt.OverrideCount; Index++) {
        const HL_MADT_OVERRIDE *Override = &KiMadt.Overrides[Index];
        /* Bus 0 is ISA, the only bus ACPI defines for overrides (5.2.12.5). */
        IRQ_STATUS Status = Override->Bus == 0
                                ? HlPicRegisterOverride(Override->SourceIrq, Override->Gsi, Override->Flags)
                                : IRQ_STATUS_NOT_SUPPORTED;
        if (Status != IRQ_STATUS_SUCCESS)
            KiPrint("ioapic: override IRQ %u -> GSI %u not registered: %s\n", Override->SourceIrq, Override->Gsi,
                    IrStatusName(Status));
    }
    KiPrint("ioapic: %u I/O APIC(s) registered\n", HlIoApicGetCount());
}

static void KiInitializeInterruptSystem(void)
{
    KiSelectLapicMode();
    KiRegisterInterruptControllers();
    uint32_t BspApicId;
    if (!KiIdentifyProcessor(0, &BspApicId))
        KiPanic("the boot processor's local APIC cannot be used");
    uint32_t Count = KiAssignProcessors(BspApicId);
    IRQ_STATUS Status = KeInitializeSystem(Count, &KeAmd64VectorLayout);
    if (Status != IRQ_STATUS_SUCCESS)
        KiPanic("KeInitializeSystem(%u): %s", Count, IrStatusName(Status));
    IoResetInterruptManager();
    KiInitializeProcessor(0);
    if (KiPcr[0].Online == 0)
        KiPanic("the boot processor did not initialise");
    KiEnableInterrupts();
}

static char KiCommandLine[MULTIBOOT_CMDLINE_MAX];

/* Copies the loader's command line (it lives in memory the pool may reuse). */
static void KiSaveCommandLine(uint32_t MultibootInfo)
{
    const volatile uint32_t *Info = KiPhysical(MultibootInfo);
    if ((Info[0] & MULTIBOOT_INFO_CMDLINE) == 0)
        return;
    const volatile char *Source = KiPhysical(Info[4]);
    for (uint32_t Index = 0; Index + 1 < MULTIBOOT_CMDLINE_MAX && Source[Index] != 0; Index++)
        KiCommandLine[Index] = Source[Index];
}

bool KiCommandLineHas(const char *Word)
{
    size_t Length = 0;
    while (Word[Length] != 0)
        Length++;
    for (const char *At = KiCommandLine; *At != 0; At++) {
        bool Starts = At == KiCommandLine || At[-1] == ' ';
        if (Starts && memcmp(At, Word, Length) == 0 && (At[Length] == 0 || At[Length] == ' '))
            return true;
    }
    return false;
}

void KiSystemStartup(uint32_t Magic, uint32_t MultibootInfo)
{
    KiInitializePcr(0, 0);
    KiSerialInitialize();
    KiPrint("irqroute reference kernel (multiboot magic 0x%x, info at 0x%x)\n", Magic, MultibootInfo);
    if (Magic != MULTIBOOT_BOOTLOADER_MAGIC)
        KiPanic("not started by a multiboot loader");
    KiSaveCommandLine(MultibootInfo);
    KiInitializeMemory(MultibootInfo);
    if (!KiAllocateProcessor(0))
        KiPanic("no memory for the boot processor's GDT and TSS");
    KiInitializeIdt();
    KiInitializeTss(0);
    KiLoadIdt();
    KiMaskLegacyPics();
    KiCalibrateStall();

    KiParseMadt();
    KiInitializeInterruptSystem();
    uint32_t Running = KiStartProcessors();
    KiPrint("smp: %u CPU(s) running; pool %lu of %lu KiB in use\n", Running, (uint64_t)(KiMemoryInUse() / 1024u),
            (uint64_t)(KiMemorySize() / 1024u));

    KiInitializeDevices();
    if (KiCommandLineHas("demo")) {
        KiRunDemo();
        KiExit(KI_EXIT_SUCCESS);
    }
    KiRunTests();
    uint32_t Failures = KiTestFailures();
    KiPrint("KTEST-SUMMARY %s %u failure(s)\n", Failures == 0 ? "PASS" : "FAIL", Failures);
    KiExit(Failures == 0 ? KI_EXIT_SUCCESS : KI_EXIT_FAILURE);
}
