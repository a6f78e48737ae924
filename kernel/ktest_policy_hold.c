/*
 * Holding CPUs at chosen IRQLs, for the tests of IRQL-driven routing.
 *
 * The kernel's APs have no work queue: they sit in KiIdleLoop ("sti; hlt")
 * and run only what interrupts bring them. So a hold is entered from an IPI
 * message handler (KeIpiUser0) and stays there: the handler retires the IPI
 * vector from the local APIC's in-service register at once (EOI), raises
 * the CPU to the level the test asks for (KeRaiseIrql: recorded IRQL + TPR),
 * and waits in "sti; hlt" with interrupts enabled. Interrupts above that
 * IRQL are then accepted as on any running CPU (Intel SDM vol. 3A 11.8.3:
 * only the processor priority, max(TPR, highest in-service class), gates
 * delivery, and nothing is left in service). The IPI's system handler runs
 * after the dispatcher has left its dispatch bookkeeping (src/ke/dispatch.c),
 * so a held CPU is "not dispatching" for KeDisconnectInterrupt's drain, and
 * each device interrupt it takes is an ordinary outermost dispatch whose
 * interrupted IRQL is the held level.
 *
 * When the hold ends the dispatcher's own EOI for the IPI finds nothing in
 * service (every interrupt taken during the hold sent its own EOI before
 * returning) and is ignored (SDM 11.8.5; QEMU's apic_eoi returns early).
 *
 * Level changes and the release are posted in KiHoldDesired and the CPU is
 * woken by another KeIpiUser0, which finds the CPU already holding and
 * returns; IPI_LEVEL is above every level a test may ask for.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest_policy.h"

#define KI_HOLD_NONE 0xFFu    /* KiHoldCurrent: not in the hold loop */
#define KI_HOLD_RELEASE 0xFFu /* KiHoldDesired: leave the hold loop */
#define KI_HOLD_TIMEOUT_MS KI_TEST_TIMEOUT_MS
#define KI_HOLD_MESSAGE KeIpiUser0

/* One entry per running CPU, from the pool at the first KiHoldEnterAll
 * (kept: every case that holds uses the same CPUs). */
static uint8_t *KiHoldDesired;
static uint8_t *KiHoldCurrent;
static uint8_t *KiHoldTpr;
static uint32_t KiHoldCpus;

static void KiHoldAllocate(void)
{
    if (KiHoldCpus != 0)
        return;
    KiHoldDesired = KiTestAllocate(KiProcessorCount);
    KiHoldCurrent = KiTestAllocate(KiProcessorCount);
    KiHoldTpr = KiTestAllocate(KiProcessorCount);
    __atomic_store_n(&KiHoldCpus, KiProcessorCount, __ATOMIC_RELEASE);
}

static KIRQL KiMoveIrql(KIRQL From, KIRQL To)
{
    if (To < From)
        KeLowerIrql(To);
    else if (To > From)
        KeRaiseIrql(To);
    return To;
}

/* Interrupts are disabled except inside "sti; hlt": STI's one-instruction
 * shadow makes the pair atomic, so a wake-up IPI that arrives after the
 * check below is taken by the HLT instead of being missed. */
static void KiHoldLoop(uint32_t Cpu)
{
    KIRQL Entry = KeGetCurrentIrql();
    KIRQL Held = Entry;
    HlLapicEndOfInterrupt(); /* the IPI leaves the in-service register: see the header */
    for (;;) {
        uint8_t Wanted = __atomic_load_n(&KiHoldDesired[Cpu], __ATOMIC_ACQUIRE);
        if (Wanted == KI_HOLD_RELEASE)
            break;
        if (Wanted < IPI_LEVEL)
            Held = KiMoveIrql(Held, Wanted);
        __atomic_store_n(&KiHoldTpr[Cpu], HlLapicReadTaskPriority(), __ATOMIC_RELAXED);
        __atomic_store_n(&KiHoldCurrent[Cpu], Held, __ATOMIC_RELEASE);
        __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
    }
    KiMoveIrql(Held, Entry);
}

static void KiHoldMessage(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Message;
    (void)Context;
    if (Cpu >= __atomic_load_n(&KiHoldCpus, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&KiHoldCurrent[Cpu], __ATOMIC_ACQUIRE) != KI_HOLD_NONE)
        return; /* a wake-up for a CPU already holding */
    if (__atomic_load_n(&KiHoldDesired[Cpu], __ATOMIC_ACQUIRE) == KI_HOLD_RELEASE)
        return; /* a stale message after a release */
    __atomic_store_n(&KiHoldCurrent[Cpu], KeGetCurrentIrql(), __ATOMIC_RELEASE);
    KiHoldLoop(Cpu);
    __atomic_store_n(&KiHoldCurrent[Cpu], KI_HOLD_NONE, __ATOMIC_RELEASE);
}

static void KiHoldWake(uint32_t Cpu)
{
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
    (void)KeSendIpi(&Target, KI_HOLD_MESSAGE);
}

/* Whether every AP's KiHoldCurrent equals KiHoldDesired (KI_HOLD_NONE for a
 * release: the two markers are the same value). */
static bool KiHoldSettled(void *Context)
{
    (void)Context;
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Cpu != Self && __atomic_load_n(&KiHoldCurrent[Cpu], __ATOMIC_ACQUIRE) !=
                               __atomic_load_n(&KiHoldDesired[Cpu], __ATOMIC_RELAXED))
            return false;
    }
    return true;
}

bool KiHoldEnterAll(void)
{
    KiHoldAllocate();
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        __atomic_store_n(&KiHoldCurrent[Cpu], KI_HOLD_NONE, __ATOMIC_RELAXED);
        __atomic_store_n(&KiHoldDesired[Cpu], PASSIVE_LEVEL, __ATOMIC_RELEASE);
    }
    if (KeSetIpiMessageHandler(KI_HOLD_MESSAGE, KiHoldMessage, NULL) != IRQ_STATUS_SUCCESS)
        return false;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Cpu != Self)
            KiHoldWake(Cpu);
    }
    if (KiWaitFor(KiHoldSettled, NULL, KI_HOLD_TIMEOUT_MS))
        return true;
    KiHoldReleaseAll();
    return false;
}

/* The recorded IRQL and the TPR the CPU read itself agree with Level. */
static bool KiHoldIsAt(uint32_t Cpu, KIRQL Level)
{
    uint8_t Tpr = Cpu == PlatCurrentCpu() ? HlLapicReadTaskPriority()
                                          : __atomic_load_n(&KiHoldTpr[Cpu], __ATOMIC_RELAXED);
    return KeQueryProcessorIrql(Cpu) == Level && Tpr == KeAmd64VectorLayout.TprOfIrql[Level];
}

bool KiHoldSetLevels(const KIRQL *Levels)
{
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Levels[Cpu] == KI_HOLD_UNCHANGED || Levels[Cpu] >= IPI_LEVEL)
            continue;
        if (Cpu == Self) {
            KiMoveIrql(KeGetCurrentIrql(), Levels[Cpu]);
            continue;
        }
        __atomic_store_n(&KiHoldDesired[Cpu], Levels[Cpu], __ATOMIC_RELEASE);
        KiHoldWake(Cpu);
    }
    if (!KiWaitFor(KiHoldSettled, NULL, KI_HOLD_TIMEOUT_MS))
        return false;
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Levels[Cpu] != KI_HOLD_UNCHANGED && !KiHoldIsAt(Cpu, Levels[Cpu]))
            return false;
    }
    return true;
}

void KiHoldReleaseAll(void)
{
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < KiProcessorCount; Cpu++) {
        if (Cpu == Self)
            continue;
        __atomic_store_n(&KiHoldDesired[Cpu], KI_HOLD_RELEASE, __ATOMIC_RELEASE);
        KiHoldWake(Cpu);
    }
    if (!KiWaitFor(KiHoldSettled, NULL, KI_HOLD_TIMEOUT_MS))
        KiPrint("KTEST-INFO hold: a CPU did not leave its hold loop\n");
    (void)KeSetIpiMessageHandler(KI_HOLD_MESSAGE, NULL, NULL);
    KeLowerIrql(PASSIVE_LEVEL);
}
