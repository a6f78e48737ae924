/* SPDX-License-Identifier: MIT */
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

/* A level for RkHoldSetLevels meaning "leave this CPU as it is". */
#define RK_HOLD_UNCHANGED 0xFEu

/* Every online AP leaves its idle loop for a hold loop: it stays there at
 * the IRQL the test asks for, with interrupts enabled, so every interrupt
 * above that IRQL is still delivered to it, until RkHoldReleaseAll. The
 * caller's CPU takes its levels directly (KeRaiseIrql / KeLowerIrql).
 * Returns false (and releases whoever did enter) when an AP does not answer. */
bool RkHoldEnterAll(void);
/* Levels[Cpu] for each CPU 0 .. RkProcessorCount-1 (RK_HOLD_UNCHANGED: as it
 * is); returns when every CPU runs at its level (recorded IRQL and TPR), or
 * false after a time limit. Levels must stay below IPI_LEVEL: the hold loop
 * is woken by an IPI. */
bool RkHoldSetLevels(const KIRQL *Levels);
/* Back to the idle loop at PASSIVE_LEVEL; the caller's CPU to PASSIVE_LEVEL. */
void RkHoldReleaseAll(void);

/* ---- An ISR-side log of the interrupts of one device -------------------------------- */

typedef struct _RK_ISR_RECORD {
    uint32_t Cpu;    /* the CPU index the dispatcher ran the ISR on */
    uint32_t ApicId; /* the LAPIC id read in the ISR */
    uint8_t Tpr;     /* the TPR read in the ISR: the IRQL the CPU was held at */
} RK_ISR_RECORD;

/* The records come from the pool, as many as the case can raise (a number
 * that grows with the CPU count): RkIsrLogCreate / RkIsrLogDestroy. */
typedef struct _RK_ISR_LOG {
    volatile uint32_t Reserved; /* slots taken by ISR runs (may exceed Capacity: the rest dropped) */
    volatile uint32_t Count;    /* ISR runs whose record is complete */
    RK_ISR_RECORD *Records;
    uint32_t Capacity;
    volatile uint32_t WrongApicId; /* runs whose LAPIC id was not their CPU's */
    volatile uint32_t AfterStop;   /* runs that came after RkIsrLogStop */
    volatile bool Stopped;
} RK_ISR_LOG;

/* Room for Capacity records (panics when the pool is exhausted). */
void RkIsrLogCreate(RK_ISR_LOG *Log, uint32_t Capacity);
void RkIsrLogDestroy(RK_ISR_LOG *Log);
/* Clears Log (keeping its records' storage) and makes it Device's observer. */
void RkIsrLogAttach(RK_DEVICE *Device, RK_ISR_LOG *Log);
void RkIsrLogDetach(RK_DEVICE *Device);
/* From now on every ISR run counts as a violation (after a disconnect). */
void RkIsrLogStop(RK_ISR_LOG *Log);
uint32_t RkIsrLogCount(const RK_ISR_LOG *Log);
/* Makes Device raise one interrupt (RkDeviceRaise) and waits until its ISR
 * logged it and the CPU that ran it has finished that dispatch (the
 * router's re-targeting included); Record is that run. False when the raise
 * failed, no run came in time, the log is full, or it grew by more than one. */
bool RkRaiseAndLog(RK_DEVICE *Device, RK_ISR_LOG *Log, RK_ISR_RECORD *Record);

/* Returns once Cpu has finished the interrupt dispatch it may be in (a
 * generic call is answered only after it); false when the call failed. */
bool RkWaitDispatchDone(uint32_t Cpu);

/* Steps whose cost grows with the CPU count take fewer interrupts per CPU
 * (or a sample of the CPUs, RkSampleSet) beyond this many CPUs, so that a
 * boot with hundreds of CPUs stays within seconds, not minutes. */
#define RK_TEST_MANY_CPUS 16u

/* ---- Time ------------------------------------------------------------------------------ */

/* The limit of every wait for something the test caused: a wait ends as soon
 * as its condition holds, so the limit only has to outlast a vCPU thread
 * that a loaded 2-core host leaves descheduled (hundreds of milliseconds
 * have been seen) and never costs time when things work. */
#define RK_TEST_TIMEOUT_MS 5000u

/* Polls Condition(Context) every few microseconds until it holds or
 * TimeoutMs passes by the kernel's clock (RkQueryMicroseconds); returns its
 * last value. */
bool RkWaitFor(bool (*Condition)(void *Context), void *Context, uint32_t TimeoutMs);
/* Whether *Counter reaches Wanted within TimeoutMs. */
bool RkWaitCounter32(const volatile uint32_t *Counter, uint32_t Wanted, uint32_t TimeoutMs);
bool RkWaitCounter64(const volatile uint64_t *Counter, uint64_t Wanted, uint32_t TimeoutMs);
/* Whether *Counter reaches Wanted, waiting as long as it keeps growing: the
 * limit is GapMs without any growth (from the call, then from each step).
 * For a wait on many interrupts of a free-running source: a host that
 * leaves QEMU's threads descheduled slows the count down (KTEST case 8 saw
 * 38 RTC interrupts in 5 s with its polling CPU stalled for 1.2 s at a
 * time), but a source that really stopped still fails within GapMs. */
bool RkWaitCounter32Progress(const volatile uint32_t *Counter, uint32_t Wanted, uint32_t GapMs);
void RkStallMilliseconds(uint32_t Milliseconds);

/* ---- Memory ------------------------------------------------------------------------------ */

/* Zeroed pool memory for a case's per-CPU tables (sized by RkProcessorCount,
 * never by RK_MAX_CPUS); panics when the pool is exhausted, which is a
 * kernel configuration error, not a test verdict. */
void *RkTestAllocate(size_t Size);
void RkTestFree(void *Memory, size_t Size);

/* ---- CPU sets -------------------------------------------------------------------------------- */

/* An I/O APIC redirection entry and a compatibility-format MSI carry an
 * 8-bit destination (82093AA 3.2.4 bits 63:56; SDM vol. 3A 11.11.1 address
 * bits 19:12), and 0xFF there is the xAPIC broadcast: without interrupt
 * remapping a device interrupt reaches APIC ids 0-254 only. IPIs (ICR with
 * a 32-bit destination in x2APIC mode, SDM 11.12.9) reach every CPU. */
#define RK_DEVICE_APIC_ID_LIMIT 0xFFu
/* An MSI address in the remappable format (VT-d 5.1.2.2, bit 4): it names a
 * remapping table entry, not a destination. */
#define RK_MSI_REMAPPABLE_FORMAT (1ull << 4)

/* Every CPU the kernel runs. */
void RkOnlineSet(IR_CPU_SET *Set);
/* Whether a test device's interrupt can be sent to Cpu: APIC id below
 * 255, or any CPU through an enabled remapping unit (RkRemappingIsOn). */
bool RkCpuDeviceReachable(uint32_t Cpu);
/* The online CPUs a device interrupt can reach; returns how many. */
uint32_t RkReachableSet(IR_CPU_SET *Set);
/* At most Limit CPUs of From: all of them when From is that small, else its
 * first and last few, the CPUs either side of every gap (where From skips
 * CPUs: the reachability boundary), and an even spread in between. For the
 * steps whose cost grows with the square of the CPU count. */
void RkSampleSet(const IR_CPU_SET *From, uint32_t Limit, IR_CPU_SET *Sample);
/* "{0,2,3}" into Buffer (ranges as "0-3" beyond a few CPUs). */
void RkFormatCpuSet(const IR_CPU_SET *Set, char *Buffer, uint32_t Size);
/* Connects Device with a Routing that names a CPU no device interrupt can
 * reach: true when the connect is refused with NOT_SUPPORTED and the device
 * stays unconnected; *Status is what the connect returned. The device is
 * never left connected. */
bool RkConnectRefused(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing, IRQ_STATUS *Status);

/* ---- The cases -------------------------------------------------------------------------- */

void RkTestLowestIrql(void);        /* case 3 (ktest_policy_route.c) */
void RkTestLogicalBroadcast(void);  /* case 4 (ktest_policy_broadcast.c) */
void RkTestRoundRobin(void);        /* case 5 (ktest_policy_route.c) */
void RkTestIpiTargets(void);        /* case 7 (ktest_policy_ipi.c) */
void RkTestDisconnectWhileFiring(void); /* case 8 (ktest_policy_disconnect.c) */

#endif
