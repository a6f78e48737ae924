/* SPDX-License-Identifier: MIT */
/*
 * Holding CPUs at chosen IRQLs, for the tests of IRQL-driven routing.
 *
 * The kernel's APs have no work queue: they sit in RkIdleLoop ("sti; hlt")
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
 * Level changes and the release are posted in RkHoldDesired and the CPU is
 * woken by another KeIpiUser0, which finds the CPU already holding and
 * returns; IPI_LEVEL is above every level a test may ask for.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "ktest_policy.h"

#define RK_HOLD_NONE 0xFFu    /* RkHoldCurrent: not in the hold loop */
#define RK_HOLD_RELEASE 0xFFu /* RkHoldDesired: leave the hold loop */
#define RK_HOLD_TIMEOUT_MS RK_TEST_TIMEOUT_MS
#define RK_HOLD_MESSAGE KeIpiUser0

/* One entry per running CPU, from the pool at the first RkHoldEnterAll
 * (kept: every case that holds uses the same CPUs). */
static uint8_t *RkHoldDesired;
static uint8_t *RkHoldCurrent;
static uint8_t *RkHoldTpr;
static uint32_t RkHoldCpus;

static void RkHoldAllocate(void)
{
    if (RkHoldCpus != 0)
        return;
    RkHoldDesired = RkTestAllocate(RkProcessorCount);
    RkHoldCurrent = RkTestAllocate(RkProcessorCount);
    RkHoldTpr = RkTestAllocate(RkProcessorCount);
    __atomic_store_n(&RkHoldCpus, RkProcessorCount, __ATOMIC_RELEASE);
}

static KIRQL RkMoveIrql(KIRQL From, KIRQL To)
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
static void RkHoldLoop(uint32_t Cpu)
{
    KIRQL Entry = KeGetCurrentIrql();
    KIRQL Held = Entry;
    HlLapicEndOfInterrupt(); /* the IPI leaves the in-service register: see the header */
    for (;;) {
        uint8_t Wanted = __atomic_load_n(&RkHoldDesired[Cpu], __ATOMIC_ACQUIRE);
        if (Wanted == RK_HOLD_RELEASE)
            break;
        if (Wanted < IPI_LEVEL)
            Held = RkMoveIrql(Held, Wanted);
        __atomic_store_n(&RkHoldTpr[Cpu], HlLapicReadTaskPriority(), __ATOMIC_RELAXED);
        __atomic_store_n(&RkHoldCurrent[Cpu], Held, __ATOMIC_RELEASE);
        __asm__ volatile("sti\n\thlt\n\tcli" : : : "memory");
    }
    RkMoveIrql(Held, Entry);
}

static void RkHoldMessage(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Message;
    (void)Context;
    if (Cpu >= __atomic_load_n(&RkHoldCpus, __ATOMIC_ACQUIRE) ||
        __atomic_load_n(&RkHoldCurrent[Cpu], __ATOMIC_ACQUIRE) != RK_HOLD_NONE)
        return; /* a wake-up for a CPU already holding */
    if (__atomic_load_n(&RkHoldDesired[Cpu], __ATOMIC_ACQUIRE) == RK_HOLD_RELEASE)
        return; /* a stale message after a release */
    __atomic_store_n(&RkHoldCurrent[Cpu], KeGetCurrentIrql(), __ATOMIC_RELEASE);
    RkHoldLoop(Cpu);
    __atomic_store_n(&RkHoldCurrent[Cpu], RK_HOLD_NONE, __ATOMIC_RELEASE);
}

static void RkHoldWake(uint32_t Cpu)
{
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = Cpu};
    (void)KeSendIpi(&Target, RK_HOLD_MESSAGE);
}

/* Whether every AP's RkHoldCurrent equals RkHoldDesired (RK_HOLD_NONE for a
 * release: the two markers are the same value). */
static bool RkHoldSettled(void *Context)
{
    (void)Context;
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Cpu != Self && __atomic_load_n(&RkHoldCurrent[Cpu], __ATOMIC_ACQUIRE) !=
                               __atomic_load_n(&RkHoldDesired[Cpu], __ATOMIC_RELAXED))
            return false;
    }
    return true;
}

bool RkHoldEnterAll(void)
{
    RkHoldAllocate();
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        __atomic_store_n(&RkHoldCurrent[Cpu], RK_HOLD_NONE, __ATOMIC_RELAXED);
        __atomic_store_n(&RkHoldDesired[Cpu], PASSIVE_LEVEL, __ATOMIC_RELEASE);
    }
    if (KeSetIpiMessageHandler(RK_HOLD_MESSAGE, RkHoldMessage, NULL) != IRQ_STATUS_SUCCESS)
        return false;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Cpu != Self)
            RkHoldWake(Cpu);
    }
    if (RkWaitFor(RkHoldSettled, NULL, RK_HOLD_TIMEOUT_MS))
        return true;
    RkHoldReleaseAll();
    return false;
}

/* The recorded IRQL and the TPR the CPU read itself agree with Level. */
static bool RkHoldIsAt(uint32_t Cpu, KIRQL Level)
{
    uint8_t Tpr = Cpu == PlatCurrentCpu() ? HlLapicReadTaskPriority()
                                          : __atomic_load_n(&RkHoldTpr[Cpu], __ATOMIC_RELAXED);
    return KeQueryProcessorIrql(Cpu) == Level && Tpr == KeAmd64VectorLayout.TprOfIrql[Level];
}

bool RkHoldSetLevels(const KIRQL *Levels)
{
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Levels[Cpu] == RK_HOLD_UNCHANGED || Levels[Cpu] >= IPI_LEVEL)
            continue;
        if (Cpu == Self) {
            RkMoveIrql(KeGetCurrentIrql(), Levels[Cpu]);
            continue;
        }
        __atomic_store_n(&RkHoldDesired[Cpu], Levels[Cpu], __ATOMIC_RELEASE);
        RkHoldWake(Cpu);
    }
    if (!RkWaitFor(RkHoldSettled, NULL, RK_HOLD_TIMEOUT_MS))
        return false;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Levels[Cpu] != RK_HOLD_UNCHANGED && !RkHoldIsAt(Cpu, Levels[Cpu]))
            return false;
    }
    return true;
}

void RkHoldReleaseAll(void)
{
    uint32_t Self = PlatCurrentCpu();
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        if (Cpu == Self)
            continue;
        __atomic_store_n(&RkHoldDesired[Cpu], RK_HOLD_RELEASE, __ATOMIC_RELEASE);
        RkHoldWake(Cpu);
    }
    if (!RkWaitFor(RkHoldSettled, NULL, RK_HOLD_TIMEOUT_MS))
        RkPrint("KTEST-INFO hold: a CPU did not leave its hold loop\n");
    (void)KeSetIpiMessageHandler(RK_HOLD_MESSAGE, NULL, NULL);
    KeLowerIrql(PASSIVE_LEVEL);
}
