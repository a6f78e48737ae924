/*
 * Multiprocessor start-up: CPU numbering, each CPU's local APIC through the
 * library, and the INIT-SIPI-SIPI sequence for the APs.
 *
 * CPU indices: the BSP is 0, the other enabled MADT processors follow in
 * MADT order. The APIC id each CPU registers is the one its own local APIC
 * reports (HlLapicReadId), which must match what the MADT said.
 *
 * APs start one at a time, so the boot mailbox (KiApBootCpu, KiApBootStack)
 * and the library's per-CPU initialisation are never used concurrently.
 * Sequence: Intel SDM vol. 3A 8.4.4.1 "Typical BSP Initialization
 * Sequence" (INIT, 10 ms, SIPI, 200 us, SIPI). QEMU 7.2 takes a SIPI only
 * after an INIT and ignores the second one (shared/qemu-notes.md).
 */
#include <stdatomic.h>

#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "kernel.h"

#define KI_INIT_DELAY_US 10000u
#define KI_SIPI_DELAY_US 200u
#define KI_AP_START_TIMEOUT_US 2000000u
#define KI_NO_CPU 0xFFFFFFFFu
/* 0xFF is the xAPIC broadcast id: such a CPU cannot be addressed alone. */
#define KI_XAPIC_MAX_APIC_ID 0xFEu

volatile uint64_t KiApBootStack;
static volatile uint32_t KiApBootCpu;
uint32_t KiProcessorCount;

/* MADT processor index -> CPU index, or KI_NO_CPU. */
static uint32_t KiMadtCpu[HL_MADT_MAX_PROCESSORS];
static uint32_t KiAssignedCount;

uint32_t KiCpuOfMadtProcessor(uint32_t MadtIndex)
{
    return MadtIndex < HL_MADT_MAX_PROCESSORS ? KiMadtCpu[MadtIndex] : KI_NO_CPU;
}

static bool KiCanStart(const HL_MADT_PROCESSOR *Processor)
{
    if (!Processor->Enabled)
        return false;
    if (HlLapicGetMode() == HlLapicModeXApic && Processor->ApicId > KI_XAPIC_MAX_APIC_ID) {
        KiPrint("smp: APIC id %u needs x2APIC mode; not started\n", Processor->ApicId);
        return false;
    }
    return true;
}

uint32_t KiAssignProcessors(uint32_t BspApicId)
{
    uint32_t Next = 1;
    for (uint32_t Index = 0; Index < KiMadt.ProcessorCount; Index++) {
        const HL_MADT_PROCESSOR *Processor = &KiMadt.Processors[Index];
        KiMadtCpu[Index] = KI_NO_CPU;
        if (Processor->Enabled && Processor->ApicId == BspApicId) {
            KiMadtCpu[Index] = 0;
        } else if (KiCanStart(Processor)) {
            if (Next >= KI_MAX_CPUS) {
                KiPrint("smp: more than %u CPUs; APIC id %u not started\n", KI_MAX_CPUS, Processor->ApicId);
                continue;
            }
            KiMadtCpu[Index] = Next++;
        }
    }
    KiAssignedCount = Next;
    return Next;
}

void KiInitializeProcessor(uint32_t Cpu)
{
    IRQ_STATUS Enabled = HlLapicEnable();
    if (Enabled != IRQ_STATUS_SUCCESS) {
        KiPrint("cpu %u: local APIC not enabled: %s\n", Cpu, IrStatusName(Enabled));
        return;
    }
    uint32_t ApicId = HlLapicReadId();
    KiGetPcr()->ApicId = ApicId;
    IRQ_STATUS Status = HlRegisterProcessor(Cpu, ApicId);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlLapicInitializeProcessor(Cpu, KeAmd64VectorLayout.SpuriousVector);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KeInitializeProcessor(Cpu);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiPrint("cpu %u: APIC id %u failed to initialise: %s\n", Cpu, ApicId, IrStatusName(Status));
        return;
    }
    __atomic_store_n(&KiGetPcr()->Online, 1u, __ATOMIC_RELEASE);
}

void KiIdleLoop(void)
{
    for (;;) {
        /* STI's one-instruction shadow makes "sti; hlt" atomic: no interrupt
         * slips in between and leaves the CPU halted with work pending. */
        __asm__ volatile("sti\n\thlt" : : : "memory");
    }
}

void KiApStartup(void)
{
    uint32_t Cpu = KiApBootCpu;
    KiInitializePcr(Cpu, 0);
    KiInitializeTss(Cpu);
    KiLoadIdt();
    KiInitializeProcessor(Cpu);
    KiIdleLoop();
}

static bool KiWaitOnline(uint32_t Cpu, uint64_t TimeoutUs)
{
    uint64_t Start = KiReadTsc();
    uint64_t Limit = KiTscPerMillisecond() * TimeoutUs / 1000u;
    while (__atomic_load_n(&KiPcr[Cpu].Online, __ATOMIC_ACQUIRE) == 0) {
        if (KiReadTsc() - Start > Limit)
            return false;
        PlatCpuRelax();
    }
    return true;
}

static bool KiStartProcessor(uint32_t Cpu, uint32_t ApicId)
{
    KiApBootCpu = Cpu;
    KiApBootStack = KiStackTopOf(Cpu);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    IRQ_STATUS Status = HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryInit, 0);
    KiStallMicroseconds(KI_INIT_DELAY_US);
    for (uint32_t Sipi = 0; Sipi < 2 && Status == IRQ_STATUS_SUCCESS; Sipi++) {
        if (__atomic_load_n(&KiPcr[Cpu].Online, __ATOMIC_ACQUIRE) != 0)
            break;
        Status = HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryStartup, KI_SIPI_VECTOR);
        KiStallMicroseconds(KI_SIPI_DELAY_US);
    }
    if (Status != IRQ_STATUS_SUCCESS) {
        KiPrint("cpu %u: APIC id %u: start-up IPI failed: %s\n", Cpu, ApicId, IrStatusName(Status));
        return false;
    }
    if (!KiWaitOnline(Cpu, KI_AP_START_TIMEOUT_US)) {
        /* INIT puts a late starter back into wait-for-SIPI (SDM 8.4.1), so
         * it cannot wake up later on the mailbox of the next AP. */
        HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryInit, 0);
        KiPrint("cpu %u: APIC id %u did not come up\n", Cpu, ApicId);
        return false;
    }
    return true;
}

uint32_t KiStartProcessors(void)
{
    uint32_t Length = (uint32_t)(KiTrampolineEnd - KiTrampolineStart);
    if (Length > KI_TRAMPOLINE_LIMIT)
        KiPanic("AP trampoline is %u bytes, more than the %u reserved", Length, KI_TRAMPOLINE_LIMIT);
    memcpy(KiPhysical(KI_TRAMPOLINE_ADDRESS), KiTrampolineStart, Length);

    uint32_t Running = 1;
    KiPrint("cpu 0: APIC id %u online (BSP, %s)\n", KiPcr[0].ApicId,
            HlLapicGetMode() == HlLapicModeX2Apic ? "x2APIC" : "xAPIC");
    for (uint32_t Index = 0; Index < KiMadt.ProcessorCount; Index++) {
        uint32_t Cpu = KiMadtCpu[Index];
        if (Cpu == KI_NO_CPU || Cpu == 0)
            continue;
        uint32_t ApicId = KiMadt.Processors[Index].ApicId;
        if (!KiStartProcessor(Cpu, ApicId))
            continue;
        Running++;
        KiPrint("cpu %u: APIC id %u online (MADT uid %u)\n", Cpu, KiPcr[Cpu].ApicId,
                KiMadt.Processors[Index].AcpiUid);
    }
    KiProcessorCount = Running;
    return Running;
}
