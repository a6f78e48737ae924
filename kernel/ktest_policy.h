/*
 * What the policy test cases (ktest_policy*.c: KTEST cases 3, 4, 5, 7, 8)
 * share: holding CPUs at chosen IRQLs, a log of the interrupts an ISR saw,
 * waiting with a time limit, and the case entry points.
 */
#ifndef KERNEL_KTEST_POLICY_H
#define KERNEL_KTEST_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/ke.h>

#include "device.h"
#include "kernel.h"

/* ---- Holding CPUs at an IRQL (ktest_policy_hold.c) ------------------------------ */

/* A level for KiHoldSetLevels meaning "leave this CPU as it is". */
#define KI_HOLD_UNCHANGED 0xFEu

/* Every online AP leaves its idle loop for a hold loop: it stays there at
 * the IRQL the test asks for, with interrupts enabled, so every interrupt
 * above that IRQL is still delivered to it, until KiHoldReleaseAll. The
 * caller's CPU takes its levels directly (KeRaiseIrql / KeLowerIrql).
 * Returns false (and releases whoever did enter) when an AP does not answer. */
bool KiHoldEnterAll(void);
/* Levels[Cpu] for each CPU 0 .. KiProcessorCount-1 (KI_HOLD_UNCHANGED: as it
 * is); returns when every CPU runs at its level (recorded IRQL and TPR), or
 * false after a time limit. Levels must stay below IPI_LEVEL: the hold loop
 * is woken by an IPI. */
bool KiHoldSetLevels(const KIRQL *Levels);
/* Back to the idle loop at PASSIVE_LEVEL; the caller's CPU to PASSIVE_LEVEL. */
void KiHoldReleaseAll(void);

/* ---- An ISR-side log of the interrupts of one device -------------------------------- */

#define KI_ISR_LOG_SIZE 256u

typedef struct _KI_ISR_RECORD {
    uint32_t Cpu;    /* the CPU index the dispatcher ran the ISR on */
    uint32_t ApicId; /* the LAPIC id read in the ISR */
    uint8_t Tpr;     /* the TPR read in the ISR: the IRQL the CPU was held at */
} KI_ISR_RECORD;

typedef struct _KI_ISR_LOG {
    volatile uint32_t Reserved; /* slots taken by ISR runs (may exceed KI_ISR_LOG_SIZE: the rest dropped) */
    volatile uint32_t Count;    /* ISR runs whose record is complete */
    KI_ISR_RECORD Records[KI_ISR_LOG_SIZE];
    volatile uint32_t WrongApicId; /* runs whose LAPIC id was not their CPU's */
    volatile uint32_t AfterStop;   /* runs that came after KiIsrLogStop */
    volatile bool Stopped;
} KI_ISR_LOG;

/* Clears Log and makes it Device's observer. */
void KiIsrLogAttach(KI_DEVICE *Device, KI_ISR_LOG *Log);
void KiIsrLogDetach(KI_DEVICE *Device);
/* From now on every ISR run counts as a violation (after a disconnect). */
void KiIsrLogStop(KI_ISR_LOG *Log);
uint32_t KiIsrLogCount(const KI_ISR_LOG *Log);
/* Makes Device raise one interrupt (KiDeviceRaise) and waits until its ISR
 * logged it and the CPU that ran it has finished that dispatch (the
 * router's re-targeting included); Record is that run. False when the raise
 * failed, no run came in time, or the log grew by more than one. */
bool KiRaiseAndLog(KI_DEVICE *Device, KI_ISR_LOG *Log, KI_ISR_RECORD *Record);

/* ---- Time and CPU sets --------------------------------------------------------------- */

/* Polls Condition(Context) every few microseconds until it holds or
 * TimeoutMs passes; returns its last value. */
bool KiWaitFor(bool (*Condition)(void *Context), void *Context, uint32_t TimeoutMs);
void KiStallMilliseconds(uint32_t Milliseconds);
/* Every CPU the kernel runs. */
void KiOnlineSet(IR_CPU_SET *Set);
/* "{0,2,3}" into Buffer. */
void KiFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size);

/* ---- The cases -------------------------------------------------------------------------- */

void KiTestLowestIrql(void);        /* case 3 (ktest_policy_route.c) */
void KiTestLogicalBroadcast(void);  /* case 4 (ktest_policy_broadcast.c) */
void KiTestRoundRobin(void);        /* case 5 (ktest_policy_route.c) */
void KiTestIpiTargets(void);        /* case 7 (ktest_policy_ipi.c) */
void KiTestDisconnectWhileFiring(void); /* case 8 (ktest_policy_disconnect.c) */

#endif
