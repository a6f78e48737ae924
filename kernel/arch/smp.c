/* SPDX-License-Identifier: MIT */
/*
 * Multiprocessor start-up: CPU numbering, each CPU's local APIC through the
 * library, and the INIT-SIPI-SIPI sequence for the APs.
 *
 * CPU indices: the BSP is 0, the other enabled MADT processors follow in
 * MADT order, up to RK_MAX_CPUS. The APIC id each CPU registers is the one
 * its own local APIC reports, which must match what the MADT said.
 *
 * Order on every CPU (BSP in main.c, APs in RkApStartup), SDM vol. 3A
 * 11.12.5 "x2APIC State Transitions": the mode was chosen once on the BSP
 * (main.c, RkSelectLapicMode, before any local APIC access); each CPU then
 * first puts its own local APIC into that mode (HlLapicEnable: EN, then
 * EXTD; a CPU that firmware already left in x2APIC mode stays there, as
 * INIT does not change IA32_APIC_BASE), only then reads its APIC id from
 * the ID register (32 bits in x2APIC mode, 11.12.5.1), checks it against
 * CPUID (11.12.8.1: CPUID.0BH:EDX is the x2APIC id, its low byte the
 * initial xAPIC id of CPUID.01H:EBX[31:24]), and registers it.
 *
 * APs start one at a time, so the boot mailbox (RkApBootCpu, RkApBootStack)
 * and the library's per-CPU initialisation are never used concurrently.
 * Sequence: Intel SDM vol. 3A 8.4.4.1 "Typical BSP Initialization
 * Sequence" (INIT, 10 ms, SIPI, 200 us, SIPI). A SIPI only starts a CPU
 * that waits for one after an INIT, and a CPU already running ignores the
 * second (docs/qemu.md, "Machines and boot"; apic_sipi() in QEMU's
 * hw/intc/apic.c), so the second SIPI is skipped once the AP is online.
 */
#include <stdatomic.h>

#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "kernel.h"

#define RK_INIT_DELAY_US 10000u
#define RK_SIPI_DELAY_US 200u
#define RK_AP_START_TIMEOUT_US 2000000u
#define RK_NO_CPU 0xFFFFFFFFu

/* CPUID (SDM vol. 2A, "CPUID"): the highest basic leaf, the initial xAPIC
 * id, and leaf 0BH "Extended Topology Enumeration". */
#define CPUID_MAX_LEAF 0x0u
#define CPUID_FEATURES 0x1u
#define CPUID_EXTENDED_TOPOLOGY 0xBu
#define CPUID_01_EBX_APIC_ID_SHIFT 24u
#define CPUID_0B_EBX_PROCESSORS_MASK 0xFFFFu

volatile uint64_t RkApBootStack;
static volatile uint32_t RkApBootCpu;
uint32_t RkProcessorCount;

/* MADT processor index -> CPU index, or RK_NO_CPU. */
static uint32_t RkMadtCpu[HL_MADT_MAX_PROCESSORS];
static uint32_t RkAssignedCount;

uint32_t RkCpuOfMadtProcessor(uint32_t MadtIndex)
{
    return MadtIndex < HL_MADT_MAX_PROCESSORS ? RkMadtCpu[MadtIndex] : RK_NO_CPU;
}

const char *RkLapicModeName(void)
{
    return HlLapicGetMode() == HlLapicModeX2Apic ? "x2APIC" : "xAPIC";
}

/* ---- This CPU's local APIC and APIC id ------------------------------------------------ */

/* The 32-bit x2APIC id from CPUID leaf 0BH, when the CPU offers the leaf
 * (SDM vol. 2A: the leaf exists when the highest basic leaf reaches it
 * and its sub-leaf 0 reports a non-zero EBX[15:0]). */
static bool RkCpuidX2ApicId(uint32_t *ApicId)
{
    uint32_t Registers[4];
    RkCpuid(CPUID_MAX_LEAF, 0, Registers);
    if (Registers[0] < CPUID_EXTENDED_TOPOLOGY)
        return false;
    RkCpuid(CPUID_EXTENDED_TOPOLOGY, 0, Registers);
    if ((Registers[1] & CPUID_0B_EBX_PROCESSORS_MASK) == 0)
        return false;
    *ApicId = Registers[3];
    return true;
}

/* Compares the ID register with CPUID (SDM 11.12.8.1). In x2APIC mode the
 * register is the read-only x2APIC id and must equal CPUID.0BH:EDX. In
 * xAPIC mode software may have rewritten the register (11.4.6), and
 * delivery uses what it holds: a difference from the initial id is only
 * reported. */
static bool RkCheckApicId(uint32_t Cpu, uint32_t ApicId)
{
    uint32_t Registers[4];
    uint32_t CpuidId;
    bool HaveLeaf = RkCpuidX2ApicId(&CpuidId);
    if (HlLapicGetMode() == HlLapicModeX2Apic) {
        if (HaveLeaf && CpuidId != ApicId) {
            RkPrint("cpu %u: x2APIC id register says %u, CPUID.0BH:EDX says %u\n", Cpu, ApicId, CpuidId);
            return false;
        }
        return true;
    }
    RkCpuid(CPUID_FEATURES, 0, Registers);
    uint32_t InitialId = Registers[1] >> CPUID_01_EBX_APIC_ID_SHIFT;
    if (InitialId != ApicId || (HaveLeaf && (CpuidId & 0xFFu) != InitialId))
        RkPrint("cpu %u: xAPIC id register says %u, CPUID.01H:EBX[31:24] %u, CPUID.0BH:EDX %u%s; using the register\n",
                Cpu, ApicId, InitialId, HaveLeaf ? CpuidId : 0u, HaveLeaf ? "" : " (no leaf 0BH)");
    return true;
}

bool RkIdentifyProcessor(uint32_t Cpu, uint32_t *ApicId)
{
    IRQ_STATUS Enabled = HlLapicEnable();
    if (Enabled != IRQ_STATUS_SUCCESS) {
        RkPrint("cpu %u: local APIC not put in %s mode: %s\n", Cpu, RkLapicModeName(), IrStatusName(Enabled));
        return false;
    }
    *ApicId = HlLapicReadId();
    return RkCheckApicId(Cpu, *ApicId);
}

/* ---- CPU numbering --------------------------------------------------------------------- */

static bool RkCanStart(const HL_MADT_PROCESSOR *Processor)
{
    if (!Processor->Enabled)
        return false;
    if (HlLapicGetMode() == HlLapicModeXApic && Processor->ApicId > RK_XAPIC_MAX_APIC_ID) {
        RkPrint("smp: APIC id %u needs x2APIC mode; not started\n", Processor->ApicId);
        return false;
    }
    return true;
}

uint32_t RkAssignProcessors(uint32_t BspApicId)
{
    uint32_t Next = 1;
    uint32_t OverCap = 0, FirstOverCap = 0, LastOverCap = 0;
    for (uint32_t Index = 0; Index < RkMadt.ProcessorCount; Index++) {
        const HL_MADT_PROCESSOR *Processor = &RkMadt.Processors[Index];
        RkMadtCpu[Index] = RK_NO_CPU;
        if (Processor->Enabled && Processor->ApicId == BspApicId) {
            RkMadtCpu[Index] = 0;
        } else if (RkCanStart(Processor)) {
            if (Next >= RK_MAX_CPUS) {
                FirstOverCap = OverCap++ == 0 ? Processor->ApicId : FirstOverCap;
                LastOverCap = Processor->ApicId;
                continue;
            }
            RkMadtCpu[Index] = Next++;
        }
    }
    if (OverCap != 0)
        RkPrint("smp: more than %u CPUs: %u not started (APIC ids %u .. %u)\n", RK_MAX_CPUS, OverCap, FirstOverCap,
                LastOverCap);
    RkAssignedCount = Next;
    return Next;
}

/* ---- Each CPU's initialisation ------------------------------------------------------------ */

void RkInitializeProcessor(uint32_t Cpu)
{
    uint32_t ApicId;
    if (!RkIdentifyProcessor(Cpu, &ApicId))
        return;
    RkGetPcr()->ApicId = ApicId;
    IRQ_STATUS Status = HlRegisterProcessor(Cpu, ApicId);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = HlLapicInitializeProcessor(Cpu, KeAmd64VectorLayout.SpuriousVector);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = KeInitializeProcessor(Cpu);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkPrint("cpu %u: APIC id %u failed to initialise: %s\n", Cpu, ApicId, IrStatusName(Status));
        return;
    }
    __atomic_store_n(&RkGetPcr()->Online, 1u, __ATOMIC_RELEASE);
}

void RkIdleLoop(void)
{
    for (;;) {
        /* STI's one-instruction shadow makes "sti; hlt" atomic: no interrupt
         * slips in between and leaves the CPU halted with work pending. */
        __asm__ volatile("sti\n\thlt" : : : "memory");
    }
}

/* What each AP runs before its first local APIC access (RkStartProcessors'
 * caller says: arch cannot name the layers above it). */
static RK_AP_EARLY_HOOK RkApEarlyHook;

/* The AP's first C code, on the stack RkAllocateProcessor gave it: GS, its
 * own GDT and TSS, the IDT, the early hook (main.c passes the mode-switch
 * register check, which leaves the local APIC as firmware and INIT left
 * it), then (RkInitializeProcessor) its local APIC mode before any other
 * local APIC access. */
void RkApStartup(void)
{
    uint32_t Cpu = RkApBootCpu;
    RkInitializePcr(Cpu, 0);
    RkInitializeTss(Cpu);
    RkLoadIdt();
    if (RkApEarlyHook != NULL)
        RkApEarlyHook(Cpu);
    RkInitializeProcessor(Cpu);
    RkIdleLoop();
}

/* ---- INIT-SIPI-SIPI ------------------------------------------------------------------------ */

static bool RkWaitOnline(uint32_t Cpu, uint64_t TimeoutUs)
{
    uint64_t Deadline = RkQueryMicroseconds() + TimeoutUs;
    while (__atomic_load_n(&RkPcr[Cpu].Online, __ATOMIC_ACQUIRE) == 0) {
        if (RkQueryMicroseconds() > Deadline)
            return false;
        PlatCpuRelax();
    }
    return true;
}

static bool RkStartProcessor(uint32_t Cpu, uint32_t ApicId)
{
    if (!RkAllocateProcessor(Cpu)) {
        RkPrint("cpu %u: APIC id %u: no memory for its stacks (pool %lu of %lu bytes in use); not started\n", Cpu,
                ApicId, (uint64_t)RkMemoryInUse(), (uint64_t)RkMemorySize());
        return false;
    }
    RkApBootCpu = Cpu;
    RkApBootStack = RkPcr[Cpu].StackTop;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    IRQ_STATUS Status = HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryInit, 0);
    RkStallMicroseconds(RK_INIT_DELAY_US);
    for (uint32_t Sipi = 0; Sipi < 2 && Status == IRQ_STATUS_SUCCESS; Sipi++) {
        if (__atomic_load_n(&RkPcr[Cpu].Online, __ATOMIC_ACQUIRE) != 0)
            break;
        Status = HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryStartup, RK_SIPI_VECTOR);
        RkStallMicroseconds(RK_SIPI_DELAY_US);
    }
    if (Status != IRQ_STATUS_SUCCESS) {
        RkPrint("cpu %u: APIC id %u: start-up IPI failed: %s\n", Cpu, ApicId, IrStatusName(Status));
        return false;
    }
    if (!RkWaitOnline(Cpu, RK_AP_START_TIMEOUT_US)) {
        /* INIT puts a late starter back into wait-for-SIPI (SDM 8.4.1), so
         * it cannot wake up later on the mailbox of the next AP. Its stacks
         * stay allocated: nothing is known about when it stopped using them. */
        HlLapicSendIpi(ApicId, HlIpiNoShorthand, HlDeliveryInit, 0);
        RkPrint("cpu %u: APIC id %u did not come up\n", Cpu, ApicId);
        return false;
    }
    return true;
}

uint32_t RkStartProcessors(RK_AP_EARLY_HOOK EarlyHook)
{
    RkApEarlyHook = EarlyHook;
    uint32_t Length = (uint32_t)(RkTrampolineEnd - RkTrampolineStart);
    if (Length > RK_TRAMPOLINE_LIMIT)
        RkPanic("AP trampoline is %u bytes, more than the %u reserved", Length, RK_TRAMPOLINE_LIMIT);
    memcpy(RkPhysical(RK_TRAMPOLINE_ADDRESS), RkTrampolineStart, Length);

    uint32_t Running = 1;
    uint64_t StartUs = RkQueryMicroseconds();
    RkPrint("cpu 0: APIC id %u online (BSP, %s)\n", RkPcr[0].ApicId, RkLapicModeName());
    for (uint32_t Index = 0; Index < RkMadt.ProcessorCount; Index++) {
        uint32_t Cpu = RkMadtCpu[Index];
        if (Cpu == RK_NO_CPU || Cpu == 0)
            continue;
        const HL_MADT_PROCESSOR *Processor = &RkMadt.Processors[Index];
        if (!RkStartProcessor(Cpu, Processor->ApicId))
            continue;
        Running++;
        RkPrint("cpu %u: APIC id %u online (%s, MADT uid %u%s)\n", Cpu, RkPcr[Cpu].ApicId, RkLapicModeName(),
                Processor->AcpiUid, RkPcr[Cpu].ApicId == Processor->ApicId ? "" : ", NOT the MADT's APIC id");
    }
    uint64_t Milliseconds = (RkQueryMicroseconds() - StartUs) / 1000u;
    RkPrint("smp: %u of %u CPU(s) started, %s mode, APs up in %lu ms\n", Running, RkAssignedCount,
            RkLapicModeName(), Milliseconds);
    RkProcessorCount = Running;
    return Running;
}
