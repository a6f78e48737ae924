/*
 * The in-kernel test suite. Each case prints one line,
 *     KTEST <name> PASS|FAIL <detail>
 * which tests/qemu/run_ktest.sh reads from the serial console; the exit
 * status (KI_EXIT_SUCCESS / KI_EXIT_FAILURE) says whether all passed.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>

#include "kernel.h"

static uint32_t KiFailures;

void KiTestReport(const char *Name, bool Passed, const char *Format, ...)
{
    va_list Arguments;
    va_start(Arguments, Format);
    bool WasEnabled = KiAcquireConsole();
    KiPrint("KTEST %s %s ", Name, Passed ? "PASS" : "FAIL");
    KiVPrint(Format, Arguments);
    KiPrint("\n");
    KiReleaseConsole(WasEnabled);
    va_end(Arguments);
    if (!Passed)
        KiFailures++;
}

uint32_t KiTestFailures(void)
{
    return KiFailures;
}

/* ---- smp_boot: every enabled MADT processor runs, with its own APIC id ---------- */

/* Why one MADT processor is not properly up, or NULL. */
static const char *KiCheckProcessor(uint32_t MadtIndex, uint32_t *Cpu)
{
    const HL_MADT_PROCESSOR *Processor = &KiMadt.Processors[MadtIndex];
    uint32_t RegisteredId;
    *Cpu = KiCpuOfMadtProcessor(MadtIndex);
    if (*Cpu >= KI_MAX_CPUS)
        return "no CPU index";
    if (__atomic_load_n(&KiPcr[*Cpu].Online, __ATOMIC_ACQUIRE) == 0)
        return "not online";
    if (KiPcr[*Cpu].ApicId != Processor->ApicId)
        return "its LAPIC reports another APIC id";
    if (HlGetProcessorApicId(*Cpu, &RegisteredId) != IRQ_STATUS_SUCCESS || RegisteredId != Processor->ApicId)
        return "Hl registry disagrees";
    if (!KeIsProcessorOnline(*Cpu))
        return "Ke has it offline";
    return NULL;
}

static void KiTestSmpBoot(void)
{
    uint32_t Expected = 0, Up = 0;
    const char *Problem = NULL;
    uint32_t ProblemApicId = 0;
    for (uint32_t Index = 0; Index < KiMadt.ProcessorCount; Index++) {
        if (!KiMadt.Processors[Index].Enabled)
            continue;
        Expected++;
        uint32_t Cpu;
        const char *Why = KiCheckProcessor(Index, &Cpu);
        if (Why == NULL) {
            Up++;
        } else if (Problem == NULL) {
            Problem = Why;
            ProblemApicId = KiMadt.Processors[Index].ApicId;
        }
    }
    bool Passed = Problem == NULL && Up == Expected && KeQueryProcessorCount() == Expected;

    char List[KI_MAX_CPUS * 12] = "";
    size_t Used = 0;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount && Used < sizeof(List); Cpu++)
        Used += KiFormatString(List + Used, sizeof(List) - Used, "%s%u:%u", Cpu ? "," : "", Cpu, KiPcr[Cpu].ApicId);
    KiTestReport("smp_boot", Passed, "%u/%u MADT CPUs online (Ke count %u), cpu:apic %s%s%s", Up, Expected,
                 KeQueryProcessorCount(), List, Problem ? "; first problem: " : "", Problem ? Problem : "");
    if (Problem != NULL)
        KiPrint("KTEST-INFO smp_boot APIC id %u: %s\n", ProblemApicId, Problem);
}

/* ---- madt: the parse matches QEMU's table (shared/qemu-notes.md) --------------- */

static const HL_MADT_OVERRIDE *KiFindOverride(uint8_t IsaIrq)
{
    for (uint32_t Index = 0; Index < KiMadt.OverrideCount; Index++) {
        if (KiMadt.Overrides[Index].Bus == 0 && KiMadt.Overrides[Index].SourceIrq == IsaIrq)
            return &KiMadt.Overrides[Index];
    }
    return NULL;
}

static void KiTestMadt(void)
{
    const HL_MADT_IOAPIC *IoApic = KiMadt.IoApicCount == 1 ? &KiMadt.IoApics[0] : NULL;
    const HL_MADT_OVERRIDE *Pit = KiFindOverride(0);
    HL_INTERRUPT_LINE Line = {.Bus = HlBusIsa, .Number = 0};
    HL_RESOLVED_LINE Resolved = {0};
    IRQ_STATUS Status = HlPicResolveLine(&Line, &Resolved);

    bool IoApicOk = IoApic != NULL && IoApic->Address == HL_IOAPIC_DEFAULT_BASE && IoApic->GsiBase == 0 &&
                    HlIoApicGetCount() == 1;
    bool PitOk = Pit != NULL && Pit->Gsi == 2 && Status == IRQ_STATUS_SUCCESS && Resolved.Gsi == 2 &&
                 Resolved.Trigger == HlTriggerEdge;
    bool LapicOk = KiMadt.LocalApicAddress == HL_LAPIC_DEFAULT_BASE;
    KiTestReport("madt", IoApicOk && PitOk && LapicOk,
                 "ioapics %u (0x%x gsi %u), IRQ0 -> GSI %u (resolved %u, %s, %s), lapic 0x%lx, %u CPUs, "
                 "%u overrides, %u NMIs",
                 KiMadt.IoApicCount, IoApic ? IoApic->Address : 0, IoApic ? IoApic->GsiBase : 0,
                 Pit ? Pit->Gsi : 0xFFFFFFFFu, Resolved.Gsi, Resolved.Trigger == HlTriggerEdge ? "edge" : "level",
                 IrStatusName(Status), KiMadt.LocalApicAddress, KiMadt.ProcessorCount, KiMadt.OverrideCount,
                 KiMadt.NmiCount);
}

/* ---- smp_ipi: every CPU answers a generic call through the dispatcher ----------- */

static uint32_t KiAnsweredApicId[KI_MAX_CPUS];

static void KiRecordApicId(uint32_t Cpu, void *Context)
{
    (void)Context;
    if (Cpu < KI_MAX_CPUS)
        __atomic_store_n(&KiAnsweredApicId[Cpu], HlLapicReadId() + 1u, __ATOMIC_RELEASE);
}

static void KiTestSmpIpi(void)
{
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetAll};
    IRQ_STATUS Status = KeIpiGenericCall(&Target, KiRecordApicId, NULL);
    uint32_t Answered = 0;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (__atomic_load_n(&KiAnsweredApicId[Cpu], __ATOMIC_ACQUIRE) == KiPcr[Cpu].ApicId + 1u)
            Answered++;
    }
    KiTestReport("smp_ipi", Status == IRQ_STATUS_SUCCESS && Answered == KiProcessorCount,
                 "KeIpiGenericCall %s, %u/%u CPUs ran the worker with their own APIC id", IrStatusName(Status),
                 Answered, KiProcessorCount);
}

void KiRunTests(void)
{
    KiTestSmpBoot();
    KiTestMadt();
    KiTestSmpIpi();
    KiRunLineTests();
    KiRunPolicyTests();
    KiRunBadInputTests();
}
