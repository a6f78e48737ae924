/*
 * KiSystemStartup: the BSP's C entry. Brings the machine to the state the
 * library expects, in the order simboot.c does on the sim models: console
 * and traps, the MADT, the local APIC mode before any local APIC access,
 * I/O APICs and overrides, Ke sized for the CPUs, then each CPU's registry
 * entry and local APIC before Ke marks it online. Then the tests.
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

/* The mode comes from the CPU at run time: x2APIC when CPUID offers it
 * (never under QEMU 7.2 TCG), else xAPIC at the MADT's address. */
static void KiSelectLapicMode(void)
{
    uint32_t Registers[4];
    KiCpuid(CPUID_FEATURES, 0, Registers);
    bool X2Apic = (Registers[2] & CPUID_ECX_X2APIC) != 0;
    uint64_t Base = KiMadt.LocalApicAddress;
    uint64_t MsrBase = PlatReadMsr(MSR_APIC_BASE) & APIC_BASE_ADDRESS_MASK;
    if (Base != MsrBase)
        KiPrint("lapic: MADT says 0x%lx, IA32_APIC_BASE says 0x%lx; using the MSR\n", Base, MsrBase);
    Base = MsrBase;
    if (!X2Apic && !KiInMmioWindow(Base))
        KiPanic("local APIC at 0x%lx is outside the uncached MMIO window", Base);
    IRQ_STATUS Status = HlLapicSelectMode(X2Apic ? HlLapicModeX2Apic : HlLapicModeXApic, (uintptr_t)Base);
    if (Status != IRQ_STATUS_SUCCESS)
        KiPanic("HlLapicSelectMode: %s", IrStatusName(Status));
    KiPrint("lapic: CPUID.01H:ECX[21] x2APIC %s: %s mode, base 0x%lx\n", X2Apic ? "offered" : "not offered",
            X2Apic ? "x2APIC" : "xAPIC", Base);
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
    IRQ_STATUS Enabled = HlLapicEnable();
    if (Enabled != IRQ_STATUS_SUCCESS)
        KiPanic("HlLapicEnable on the boot processor: %s", IrStatusName(Enabled));
    uint32_t Count = KiAssignProcessors(HlLapicReadId());
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
    KiInitializeMemory();
    KiInitializeIdt();
    KiInitializeTss(0);
    KiLoadIdt();
    KiMaskLegacyPics();
    KiCalibrateStall();
    KiPrint("timer: TSC %lu kHz (PIT channel 2)\n", KiTscPerMillisecond());

    KiParseMadt();
    KiInitializeInterruptSystem();
    uint32_t Running = KiStartProcessors();
    KiPrint("smp: %u CPU(s) running; pool %lu bytes in use\n", Running, (uint64_t)KiMemoryInUse());

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
