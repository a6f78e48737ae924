/* SPDX-License-Identifier: MIT */
/*
 * The sim's CPUs: host threads standing in for processors, the ownership
 * rule that keeps two threads from being one CPU at once, interrupt
 * acceptance, and the platform hooks that need a current CPU (PlatCurrentCpu,
 * the interrupt flag, PlatCpuRelax) plus memory.
 *
 * Ownership. A CPU is owned by at most one thread: nobody, its service
 * thread (while it dispatches), or a thread attached with SimAttachCpu. The
 * owner is the only thread that reads or writes the CPU's LAPIC registers,
 * acknowledges, dispatches and EOIs; other threads only deliver messages
 * into its IRR (lapic_model.c) and inspect. Per CPU, one mutex guards the
 * owner, the kick flag, the stop flag and the count of waiting attachers;
 * one condition variable signals every change of them:
 *  - a service thread sleeps until it is kicked (or stopped) while nobody
 *    owns the CPU and no attacher waits; it then owns the CPU, clears the
 *    kick, dispatches what is deliverable, and gives the CPU back;
 *  - SimAttachCpu waits until nobody owns the CPU (a service thread is then
 *    between interrupts) and takes it; waiting attachers hold the service
 *    thread off, so an attacher is never starved by a stream of kicks;
 *  - SimCpuKick (after an IRR bit is set) sets the kick flag; since the
 *    flag is set after the IRR bit and cleared by the service thread before
 *    it looks at the IRR, no message is left behind by a sleeping thread;
 *  - SimDetachCpu gives the CPU back with a kick, so what arrived while it
 *    was attached is taken by its service thread.
 * The mutex is a leaf: nothing is called while it is held.
 *
 * Acceptance (sim.h; SDM vol. 3A 11.8.3 and 6.8.1): the CPU takes the
 * highest IRR vector whose class is above the PPR class, only while its
 * interrupt flag (IF) is set; taking one clears IF, moves the vector IRR ->
 * ISR and calls the interrupt entry, then restores IF. The flag is per CPU
 * and written only by the owner; it is atomic so that inspection and
 * SimWaitIdle can read it. A CPU nobody owns runs its idle loop, which has
 * IF set: SimDetachCpu sets it.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <irqroute/platform.h>

#include "sim.h"
#include "sim_internal.h"

/* xAPIC ids are 8 bits and 0xFF is the broadcast (SDM 11.6.2.1). */
#define SIMP_XAPIC_MAX_CPUS 255u
#define SIMP_XAPIC_ID_LIMIT 255u
#define SIMP_MAX_ALIGNMENT 4096u
/* How long SimWaitIdle sleeps between looks. */
#define SIMP_IDLE_POLL_NS 50000L

typedef enum _SIMP_OWNER {
    SimpOwnerNone = 0,
    SimpOwnerServiceThread,
    SimpOwnerAttachedThread,
} SIMP_OWNER;

typedef struct _SIMP_CPU {
    pthread_mutex_t Lock;
    pthread_cond_t Changed;
    SIMP_OWNER Owner;        /* Lock */
    uint32_t AttachWaiters;  /* Lock */
    bool Kicked;             /* Lock */
    bool Stop;               /* Lock */
    bool ThreadStarted;      /* the controlling thread only */
    pthread_t Thread;
    _Atomic bool InterruptsEnabled;
} SIMP_CPU;

static SIMP_CPU *SimpCpus;
static uint32_t SimpCpuCount;
static _Atomic bool SimpThreadsRunning;
static _Atomic(SIM_INTERRUPT_ENTRY) SimpEntry;
static _Thread_local uint32_t SimpCurrentCpu = SIM_NO_CPU;

static _Noreturn void SimpCpuFault(const char *Function, const char *Why, uint32_t Cpu)
{
    fprintf(stderr, "sim: %s: %s (CPU %u)\n", Function, Why, Cpu);
    abort();
}

static SIMP_CPU *SimpCpu(const char *Function, uint32_t Cpu)
{
    if (Cpu >= SimpCpuCount)
        SimpCpuFault(Function, "no such CPU", Cpu);
    return &SimpCpus[Cpu];
}

/* The calling thread's CPU; a hook that needs one aborts without it. */
static uint32_t SimpRequireCpu(const char *Function)
{
    uint32_t Cpu = SimpCurrentCpu;
    if (Cpu == SIM_NO_CPU)
        SimpCpuFault(Function, "the calling thread is not attached to a CPU (SimAttachCpu first)", Cpu);
    return Cpu;
}

/* ---- Identity and configuration ------------------------------------------------- */

uint32_t SimDefaultApicId(uint32_t Cpu, uint32_t CpuCount, bool X2ApicSupported)
{
    /* The choice is made for the whole configuration, so the ids stay
     * unique: 2n+1 fits below 255 only while there are at most 127 CPUs. */
    uint32_t HighestOdd = CpuCount == 0 ? 1u : 2u * (CpuCount - 1u) + 1u;
    if (X2ApicSupported || HighestOdd < SIMP_XAPIC_ID_LIMIT)
        return 2u * Cpu + 1u;
    return SIMP_XAPIC_ID_LIMIT - 1u - Cpu;
}

uint32_t SimCpuCount(void)
{
    return SimpCpuCount;
}

uint32_t SimCpuApicId(uint32_t Cpu)
{
    (void)SimpCpu("SimCpuApicId", Cpu);
    return SimLapicModelApicId(Cpu);
}

void SimSetInterruptEntry(SIM_INTERRUPT_ENTRY Entry)
{
    atomic_store_explicit(&SimpEntry, Entry, memory_order_release);
}

/* ---- Acceptance -------------------------------------------------------------------- */

static bool SimpInterruptsEnabled(uint32_t Cpu)
{
    return atomic_load_explicit(&SimpCpus[Cpu].InterruptsEnabled, memory_order_relaxed);
}

/* On the CPU's owner: takes every deliverable vector in priority order.
 * Without an entry nothing is taken (an acknowledged vector would sit in
 * the ISR with nobody to EOI it). */
static uint32_t SimpDispatchPending(uint32_t Cpu)
{
    SIMP_CPU *State = &SimpCpus[Cpu];
    uint32_t Count = 0;
    for (;;) {
        SIM_INTERRUPT_ENTRY Entry = atomic_load_explicit(&SimpEntry, memory_order_acquire);
        if (Entry == NULL)
            break;
        int Vector = SimLapicModelAcknowledge(Cpu);
        if (Vector < 0)
            break;
        bool WasEnabled = atomic_exchange_explicit(&State->InterruptsEnabled, false, memory_order_relaxed);
        Entry(Cpu, (uint8_t)Vector);
        atomic_store_explicit(&State->InterruptsEnabled, WasEnabled, memory_order_relaxed);
        Count++;
    }
    return Count;
}

/* An attached thread at a point where a real CPU would notice interrupts. */
static void SimpAcceptIfEnabled(uint32_t Cpu)
{
    if (SimpInterruptsEnabled(Cpu))
        (void)SimpDispatchPending(Cpu);
}

uint32_t SimServicePending(void)
{
    return SimpDispatchPending(SimpRequireCpu("SimServicePending"));
}

bool SimCpuInterruptsEnabled(uint32_t Cpu)
{
    (void)SimpCpu("SimCpuInterruptsEnabled", Cpu);
    return SimpInterruptsEnabled(Cpu);
}

/* ---- Service threads ------------------------------------------------------------------ */

static bool SimpServiceThreadMayRun(const SIMP_CPU *State)
{
    return State->Kicked && State->Owner == SimpOwnerNone && State->AttachWaiters == 0;
}

static void *SimpServiceThread(void *Argument)
{
    uint32_t Cpu = (uint32_t)(uintptr_t)Argument;
    SIMP_CPU *State = &SimpCpus[Cpu];
    pthread_mutex_lock(&State->Lock);
    for (;;) {
        while (!State->Stop && !SimpServiceThreadMayRun(State))
            pthread_cond_wait(&State->Changed, &State->Lock);
        if (State->Stop)
            break;
        State->Kicked = false;
        State->Owner = SimpOwnerServiceThread;
        pthread_mutex_unlock(&State->Lock);

        SimpCurrentCpu = Cpu;
        SimpAcceptIfEnabled(Cpu);
        SimpCurrentCpu = SIM_NO_CPU;

        pthread_mutex_lock(&State->Lock);
        State->Owner = SimpOwnerNone;
        if (State->AttachWaiters != 0)
            pthread_cond_broadcast(&State->Changed);
    }
    pthread_mutex_unlock(&State->Lock);
    return NULL;
}

void SimCpuKick(uint32_t Cpu)
{
    if (!atomic_load_explicit(&SimpThreadsRunning, memory_order_acquire))
        return;
    SIMP_CPU *State = &SimpCpus[Cpu];
    pthread_mutex_lock(&State->Lock);
    if (!State->Kicked) {
        State->Kicked = true;
        if (State->Owner == SimpOwnerNone)
            pthread_cond_broadcast(&State->Changed);
    }
    pthread_mutex_unlock(&State->Lock);
}

static void SimpSetStop(SIMP_CPU *State, bool Stop)
{
    pthread_mutex_lock(&State->Lock);
    State->Stop = Stop;
    State->Kicked = true; /* a fresh thread looks at its IRR once */
    pthread_cond_broadcast(&State->Changed);
    pthread_mutex_unlock(&State->Lock);
}

void SimStopCpuThreads(void)
{
    for (uint32_t Cpu = 0; Cpu < SimpCpuCount; Cpu++) {
        if (SimpCpus[Cpu].ThreadStarted)
            SimpSetStop(&SimpCpus[Cpu], true);
    }
    for (uint32_t Cpu = 0; Cpu < SimpCpuCount; Cpu++) {
        if (SimpCpus[Cpu].ThreadStarted) {
            pthread_join(SimpCpus[Cpu].Thread, NULL);
            SimpCpus[Cpu].ThreadStarted = false;
        }
    }
    atomic_store_explicit(&SimpThreadsRunning, false, memory_order_release);
}

/* One thread per CPU. Returns 0, or -1 (with no thread left running) when
 * there is no sim or a thread cannot be created. */
int SimStartCpuThreads(void)
{
    if (SimpCpus == NULL)
        return -1;
    if (atomic_load_explicit(&SimpThreadsRunning, memory_order_acquire))
        return 0;
    for (uint32_t Cpu = 0; Cpu < SimpCpuCount; Cpu++)
        SimpSetStop(&SimpCpus[Cpu], false);
    atomic_store_explicit(&SimpThreadsRunning, true, memory_order_release);
    for (uint32_t Cpu = 0; Cpu < SimpCpuCount; Cpu++) {
        SIMP_CPU *State = &SimpCpus[Cpu];
        if (pthread_create(&State->Thread, NULL, SimpServiceThread, (void *)(uintptr_t)Cpu) != 0) {
            SimStopCpuThreads();
            return -1;
        }
        State->ThreadStarted = true;
    }
    return 0;
}

/* ---- Attach / detach ---------------------------------------------------------------------- */

void SimAttachCpu(uint32_t Cpu)
{
    SIMP_CPU *State = SimpCpu("SimAttachCpu", Cpu);
    if (SimpCurrentCpu != SIM_NO_CPU)
        SimpCpuFault("SimAttachCpu", "the calling thread is attached already (SimDetachCpu first)", SimpCurrentCpu);
    pthread_mutex_lock(&State->Lock);
    State->AttachWaiters++;
    while (State->Owner != SimpOwnerNone)
        pthread_cond_wait(&State->Changed, &State->Lock);
    State->AttachWaiters--;
    State->Owner = SimpOwnerAttachedThread;
    pthread_mutex_unlock(&State->Lock);
    SimpCurrentCpu = Cpu;
}

/* The CPU goes back to its idle loop (IF set) and, with a kick, to its
 * service thread. */
void SimDetachCpu(void)
{
    uint32_t Cpu = SimpRequireCpu("SimDetachCpu");
    SIMP_CPU *State = &SimpCpus[Cpu];
    pthread_mutex_lock(&State->Lock);
    if (State->Owner != SimpOwnerAttachedThread) {
        pthread_mutex_unlock(&State->Lock);
        SimpCpuFault("SimDetachCpu", "called on a service thread (from an interrupt entry)", Cpu);
    }
    atomic_store_explicit(&State->InterruptsEnabled, true, memory_order_relaxed);
    State->Owner = SimpOwnerNone;
    State->Kicked = true;
    pthread_cond_broadcast(&State->Changed);
    pthread_mutex_unlock(&State->Lock);
    SimpCurrentCpu = SIM_NO_CPU;
}

uint32_t SimAttachedCpu(void)
{
    return SimpCurrentCpu;
}

/* ---- Waiting for quiet -------------------------------------------------------------------------- */

/* IRR first, owner second: a vector a service thread has acknowledged is
 * no longer in the IRR, but that thread owns the CPU until its dispatch has
 * returned (the acknowledge happens after the owner was published, and the
 * acquire in the IRR read orders this read of the owner after it). */
static bool SimpCpuIsIdle(uint32_t Cpu)
{
    if (SimLapicModelDeliverable(Cpu) >= 0)
        return false;
    SIMP_CPU *State = &SimpCpus[Cpu];
    pthread_mutex_lock(&State->Lock);
    bool Dispatching = State->Owner == SimpOwnerServiceThread;
    pthread_mutex_unlock(&State->Lock);
    return !Dispatching;
}

static bool SimpAllIdle(void)
{
    for (uint32_t Cpu = 0; Cpu < SimpCpuCount; Cpu++) {
        if (!SimpCpuIsIdle(Cpu))
            return false;
    }
    return true;
}

static int64_t SimpNowNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (int64_t)Now.tv_sec * 1000000000 + Now.tv_nsec;
}

/* The caller's own CPU (if attached, with IF set) is serviced while waiting,
 * as a CPU spinning with interrupts enabled would be. */
bool SimWaitIdle(uint32_t TimeoutMs)
{
    int64_t Deadline = SimpNowNs() + (int64_t)TimeoutMs * 1000000;
    for (;;) {
        if (SimpCurrentCpu != SIM_NO_CPU)
            SimpAcceptIfEnabled(SimpCurrentCpu);
        if (SimpAllIdle())
            return true;
        if (SimpNowNs() >= Deadline)
            return false;
        struct timespec Pause = {.tv_sec = 0, .tv_nsec = SIMP_IDLE_POLL_NS};
        nanosleep(&Pause, NULL);
    }
}

/* ---- Platform hooks (platform.h) ------------------------------------------------------------------ */

uint32_t PlatCurrentCpu(void)
{
    return SimpRequireCpu("PlatCurrentCpu");
}

/* A thread attached to no CPU (the boot path before the BSP is attached, a
 * device thread) is no processor: it has no interrupt flag and no interrupt
 * can reach it, so it reads as "disabled" and a restore of that changes
 * nothing. Only PlatCurrentCpu insists on a CPU. */
bool PlatDisableInterrupts(void)
{
    uint32_t Cpu = SimpCurrentCpu;
    if (Cpu == SIM_NO_CPU)
        return false;
    return atomic_exchange_explicit(&SimpCpus[Cpu].InterruptsEnabled, false, memory_order_relaxed);
}

/* STI: pending interrupts are taken right away (the STI shadow is one
 * instruction; nothing in the core depends on it). */
void PlatRestoreInterrupts(bool WasEnabled)
{
    uint32_t Cpu = SimpCurrentCpu;
    if (!WasEnabled || Cpu == SIM_NO_CPU)
        return;
    atomic_store_explicit(&SimpCpus[Cpu].InterruptsEnabled, true, memory_order_relaxed);
    (void)SimpDispatchPending(Cpu);
}

/* A spinning CPU with IF set takes interrupts between iterations. The yield
 * lets the thread it waits for run on a host with fewer cores than CPUs. */
void PlatCpuRelax(void)
{
    uint32_t Cpu = SimpCurrentCpu;
    if (Cpu != SIM_NO_CPU)
        SimpAcceptIfEnabled(Cpu);
    sched_yield();
}

/* C11 aligned_alloc wants a size that is a multiple of the alignment. */
void *PlatAllocateMemory(size_t Size, size_t Alignment)
{
    if (Alignment == 0 || (Alignment & (Alignment - 1u)) != 0 || Alignment > SIMP_MAX_ALIGNMENT)
        return NULL;
    if (Alignment < sizeof(void *))
        Alignment = sizeof(void *);
    size_t Rounded = (Size + Alignment - 1u) & ~(Alignment - 1u);
    if (Rounded < Size)
        return NULL;
    void *Memory = aligned_alloc(Alignment, Rounded == 0 ? Alignment : Rounded);
    if (Memory != NULL)
        memset(Memory, 0, Rounded == 0 ? Alignment : Rounded);
    return Memory;
}

void PlatFreeMemory(void *Memory, size_t Size)
{
    (void)Size;
    free(Memory);
}

/* ---- Lifetime ---------------------------------------------------------------------------------------- */

static bool SimpConfigIsValid(const SIM_CONFIG *Config)
{
    if (Config == NULL || Config->CpuCount == 0 || Config->CpuCount > SIM_MAX_CPUS ||
        Config->IoApicCount > SIM_MAX_IOAPICS)
        return false;
    return Config->X2ApicSupported || Config->CpuCount <= SIMP_XAPIC_MAX_CPUS;
}

static int SimpCreateModels(const SIM_CONFIG *Config)
{
    uint32_t *ApicIds = malloc(Config->CpuCount * sizeof(uint32_t));
    if (ApicIds == NULL)
        return -1;
    for (uint32_t Cpu = 0; Cpu < Config->CpuCount; Cpu++)
        ApicIds[Cpu] = Config->ApicIds != NULL ? Config->ApicIds[Cpu]
                                               : SimDefaultApicId(Cpu, Config->CpuCount, Config->X2ApicSupported);
    int Result = SimLapicModelCreate(Config->CpuCount, ApicIds, Config->X2ApicSupported, Config->FirmwareMode);
    free(ApicIds);
    if (Result == 0)
        Result = SimIoApicModelCreate(Config->IoApics, Config->IoApicCount);
    return Result;
}

static int SimpCreateCpus(uint32_t CpuCount)
{
    SIMP_CPU *Cpus = calloc(CpuCount, sizeof(SIMP_CPU));
    if (Cpus == NULL)
        return -1;
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++) {
        pthread_mutex_init(&Cpus[Cpu].Lock, NULL);
        pthread_cond_init(&Cpus[Cpu].Changed, NULL);
        atomic_init(&Cpus[Cpu].InterruptsEnabled, true);
    }
    SimpCpus = Cpus;
    SimpCpuCount = CpuCount;
    return 0;
}

/* The caller's attachment ends with the sim; other threads must have
 * detached (and stopped sending) before. */
static void SimpTearDown(void)
{
    SimStopCpuThreads();
    SimpCurrentCpu = SIM_NO_CPU;
    for (uint32_t Cpu = 0; Cpu < SimpCpuCount; Cpu++) {
        pthread_cond_destroy(&SimpCpus[Cpu].Changed);
        pthread_mutex_destroy(&SimpCpus[Cpu].Lock);
    }
    free(SimpCpus);
    SimpCpus = NULL;
    SimpCpuCount = 0;
    SimLapicModelDestroy();
    SimIoApicModelDestroy();
}

/* A sim that exists already is torn down first (a test that failed half
 * way may not have done it). An entry set before SimCreate is kept. */
int SimCreate(const SIM_CONFIG *Config)
{
    if (!SimpConfigIsValid(Config))
        return -1;
    SimpTearDown();
    if (SimpCreateModels(Config) != 0 || SimpCreateCpus(Config->CpuCount) != 0) {
        SimpTearDown();
        return -1;
    }
    return 0;
}

/* The entry and the fault handler go too: the next sim must not call into a
 * system (or a test) that is gone. */
void SimDestroy(void)
{
    SimpTearDown();
    atomic_store_explicit(&SimpEntry, NULL, memory_order_release);
    SimSetFaultHandler(NULL);
}
