/* SPDX-License-Identifier: MIT */
/*
 * An emulator's interrupt side around a Vic (irqroute/vic.h), with nothing
 * but the installed library: N vCPU threads, one I/O thread that raises
 * device interrupts, and the Vic between them.
 *
 *   emulator [cpus] [raises]      default 4 vCPUs, 200000 raises
 *
 * What it shows, each at the place it happens:
 *  - the per-instruction check: VicIsDeliverable, one load and a shift, on
 *    every emulated instruction (EmuExecute);
 *  - claim, handle, end of interrupt on the vCPU's own thread (EmuTakeInterrupt);
 *  - the wake callback: a raise on the I/O thread that makes a halted vCPU's
 *    check true kicks it out of its condition variable wait (EmuWake, EmuHalt);
 *  - round-robin routing: each device source rotates over every vCPU
 *    (VicSetRoute with IrRoutingRoundRobin), so the I/O thread never picks a CPU;
 *  - merged raises: a raise on a source already pending on its CPU (EmuDevice
 *    says why that loses no work);
 *  - the platform hook the Vic needs: PlatCpuRelax (below).
 * It checks the Vic's counters at the end and exits 0 only if they add up.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <irqroute/platform.h>
#include <irqroute/vic.h>

/* ---- The platform hook ------------------------------------------------------------ */

/*
 * libirqroute-vic calls one platform hook (irqroute/platform.h): PlatCpuRelax,
 * the spin-wait hint, while two threads reconfigure the same route. The
 * program defines it (without it the link fails on PlatCpuRelax); on x86
 * PAUSE, elsewhere a yield. Every other Plat* hook belongs to the kernel
 * side of the library (libirqroute), which an emulator does not link.
 */
void PlatCpuRelax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    sched_yield();
#endif
}

/* ---- The machine ------------------------------------------------------------------ */

#define EMU_MAX_CPUS 64u
/* The guest program every vCPU runs, in instructions: a burst of work, now
 * and then a critical section with interrupts disabled (CLI ... STI), then
 * HLT until an interrupt arrives. */
#define EMU_BURST 200u
#define EMU_CRITICAL_EVERY 7u   /* every 7th burst runs with interrupts disabled */

/*
 * Four devices on the first vector of four x86 priority classes. The first
 * vector of every class is a "direct" source (vic.h, STATE PER CPU): its
 * pending bit lives in the check word itself, so raising and claiming it is
 * the cheapest path. Put the sources that fire most there.
 */
static const uint32_t EmuDeviceVectors[] = {0x40, 0x60, 0x80, 0xA0};
#define EMU_DEVICE_COUNT (sizeof(EmuDeviceVectors) / sizeof(EmuDeviceVectors[0]))

typedef struct _EMU_MACHINE EMU_MACHINE;

typedef struct _EMU_CPU {
    EMU_MACHINE *Machine;
    uint32_t Index;
    pthread_t Thread;
    pthread_mutex_t Lock;      /* guards the halt wait, nothing else */
    pthread_cond_t Kick;
    uint64_t Instructions;
    uint64_t Handled;          /* interrupts this vCPU claimed and serviced */
    uint64_t EmptyServices;    /* serviced with no work left: another CPU took it first */
    uint64_t Halts;
    uint64_t Wakes;            /* times EmuWake kicked this vCPU */
} EMU_CPU;

struct _EMU_MACHINE {
    VIC *Vic;
    void *VicStorage;
    uint32_t CpuCount;
    EMU_CPU Cpus[EMU_MAX_CPUS];
    /* Per device: work items queued and not yet serviced (a device's
     * receive ring, say). The I/O thread adds, a handler takes them all. */
    _Atomic uint64_t Work[EMU_DEVICE_COUNT];
    _Atomic uint64_t WorkDone;
    _Atomic bool Stop;
    uint64_t RaisesIssued;
};

static int EmuFail(const char *What, IRQ_STATUS Status)
{
    fprintf(stderr, "emulator: %s: %s\n", What, IrStatusName(Status));
    return 1;
}

/* ---- The wake callback ------------------------------------------------------------ */

/*
 * Called by the Vic on the raising thread (here the I/O thread) when a raise
 * made Cpu's check go from false to true. It runs inside VicRaise, so it
 * must not block and must not call owner operations for Cpu: it only kicks.
 * The mutex is held by the vCPU just across its check-then-wait (EmuHalt),
 * never across work, so taking it here waits a few instructions at most.
 * Taking it is also what makes the kick reliable: a vCPU that checked before
 * this raise is inside pthread_cond_wait by the time the lock is ours, and a
 * vCPU that checks after sees the raise.
 */
static void EmuWake(void *Context, uint32_t Cpu)
{
    EMU_MACHINE *Machine = Context;
    EMU_CPU *Target = &Machine->Cpus[Cpu];
    pthread_mutex_lock(&Target->Lock);
    Target->Wakes++;
    pthread_cond_signal(&Target->Kick);
    pthread_mutex_unlock(&Target->Lock);
}

/* ---- A vCPU ---------------------------------------------------------------------------- */

/*
 * The device "driver" of the guest: takes every work item the device has
 * queued. This is why a merged raise loses nothing: the interrupt says
 * "this device needs attention", not "one item arrived". A level-triggered
 * line stays asserted until the driver has drained the device, and two edges
 * before the CPU accepts the first leave one bit in the local APIC's IRR
 * (Intel SDM vol. 3A 11.8.4): hardware merges the same way, and drivers are
 * written to drain. With round-robin routing the same source can be pending
 * on two CPUs at once; the second handler then finds the queue empty
 * (counted as an empty service, as a shared level line's ISR returns false).
 */
static void EmuDevice(EMU_MACHINE *Machine, EMU_CPU *Cpu, uint32_t Vector)
{
    for (uint32_t Device = 0; Device < EMU_DEVICE_COUNT; Device++) {
        if (EmuDeviceVectors[Device] != Vector)
            continue;
        uint64_t Items = atomic_exchange_explicit(&Machine->Work[Device], 0, memory_order_acq_rel);
        atomic_fetch_add_explicit(&Machine->WorkDone, Items, memory_order_relaxed);
        if (Items == 0)
            Cpu->EmptyServices++;
        return;
    }
}

/*
 * What the CPU does when the check says yes, as an x86 CPU accepts an
 * interrupt (SDM vol. 3A 11.8.3 and 11.8.5): take the highest deliverable
 * vector into service (VicClaim: holds off its class and those below), run
 * the handler, then EOI (VicEndOfInterrupt). The claim and the EOI are owner
 * operations: only this vCPU's thread makes them.
 */
static int EmuTakeInterrupt(EMU_MACHINE *Machine, EMU_CPU *Cpu)
{
    VIC_CLAIM Claim;
    IRQ_STATUS Status = VicClaim(Machine->Vic, Cpu->Index, &Claim);
    if (Status == IRQ_STATUS_NOTHING_PENDING)
        return 0; /* the check may say yes once for nothing while a clear races (vic.h) */
    if (Status != IRQ_STATUS_SUCCESS)
        return EmuFail("VicClaim", Status);
    Cpu->Handled++;
    EmuDevice(Machine, Cpu, Claim.Source);
    Status = VicEndOfInterrupt(Machine->Vic, Cpu->Index);
    return Status == IRQ_STATUS_SUCCESS ? 0 : EmuFail("VicEndOfInterrupt", Status);
}

/*
 * HLT: sleep until an interrupt is deliverable (or the machine stops). The
 * check is repeated under the lock the wake callback takes, so a raise
 * between the last instruction's check and the wait is not slept through.
 */
static void EmuHalt(EMU_MACHINE *Machine, EMU_CPU *Cpu)
{
    Cpu->Halts++;
    pthread_mutex_lock(&Cpu->Lock);
    while (!VicIsDeliverable(Machine->Vic, Cpu->Index) &&
           !atomic_load_explicit(&Machine->Stop, memory_order_acquire))
        pthread_cond_wait(&Cpu->Kick, &Cpu->Lock);
    pthread_mutex_unlock(&Cpu->Lock);
}

/* One emulated instruction of the guest program. Instruction 0 of a
 * critical burst is CLI and its last is STI (VicSetInterruptsEnabled: an
 * owner operation, as the instructions are the CPU's own). Interrupts
 * raised meanwhile stay pending, and a second raise of one of them merges. */
static int EmuExecute(EMU_MACHINE *Machine, EMU_CPU *Cpu, uint64_t Burst, uint32_t Step)
{
    bool Critical = Burst % EMU_CRITICAL_EVERY == EMU_CRITICAL_EVERY - 1;
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (Critical && Step == 0)
        Status = VicSetInterruptsEnabled(Machine->Vic, Cpu->Index, false, NULL);
    else if (Critical && Step == EMU_BURST - 1)
        Status = VicSetInterruptsEnabled(Machine->Vic, Cpu->Index, true, NULL);
    Cpu->Instructions++;
    return Status == IRQ_STATUS_SUCCESS ? 0 : EmuFail("VicSetInterruptsEnabled", Status);
}

static void *EmuCpuMain(void *Argument)
{
    EMU_CPU *Cpu = Argument;
    EMU_MACHINE *Machine = Cpu->Machine;
    for (uint64_t Burst = 0;; Burst++) {
        for (uint32_t Step = 0; Step < EMU_BURST; Step++) {
            /* The per-instruction check: one acquire load and a shift. */
            if (VicIsDeliverable(Machine->Vic, Cpu->Index) && EmuTakeInterrupt(Machine, Cpu) != 0)
                return (void *)1;
            if (EmuExecute(Machine, Cpu, Burst, Step) != 0)
                return (void *)1;
        }
        /* Between bursts interrupts are enabled: a stopping machine's vCPU
         * leaves once nothing is deliverable, so nothing stays pending. Stop
         * is read first: every raise happened before it was set, so the
         * check after it sees them all. */
        bool Stopping = atomic_load_explicit(&Machine->Stop, memory_order_acquire);
        if (VicIsDeliverable(Machine->Vic, Cpu->Index))
            continue;
        if (Stopping)
            return NULL;
        EmuHalt(Machine, Cpu);
    }
}

/* ---- The I/O thread --------------------------------------------------------------------- */

/* Devices complete work and interrupt: queue an item, then raise the
 * device's source. The Vic's route picks the vCPU (round robin); the raise
 * is lock-free and may run on any thread. */
static void *EmuIoMain(void *Argument)
{
    EMU_MACHINE *Machine = Argument;
    for (uint64_t Raise = 0; Raise < Machine->RaisesIssued; Raise++) {
        uint32_t Device = (uint32_t)(Raise % EMU_DEVICE_COUNT);
        atomic_fetch_add_explicit(&Machine->Work[Device], 1, memory_order_release);
        IRQ_STATUS Status = VicRaise(Machine->Vic, EmuDeviceVectors[Device]);
        if (Status != IRQ_STATUS_SUCCESS) {
            EmuFail("VicRaise", Status);
            return (void *)1;
        }
        if (Raise % 64 == 63)
            sched_yield(); /* a device model paces itself; this one lets the vCPUs run */
    }
    return NULL;
}

/* ---- Set-up --------------------------------------------------------------------------- */

static int EmuCreateVic(EMU_MACHINE *Machine)
{
    /* The x86 layout: 16 priority classes, source = vector. */
    static VIC_SOURCE_DESCRIPTOR Sources[VIC_X86_SOURCE_COUNT];
    VIC_CONFIG Config;
    VicX86Config(&Config, Machine->CpuCount, Sources);
    Config.Wake = EmuWake;
    Config.WakeContext = Machine;

    /* The Vic allocates nothing: the caller sizes and provides its storage. */
    size_t Size;
    IRQ_STATUS Status = VicQueryStorageSize(&Config, &Size);
    if (Status != IRQ_STATUS_SUCCESS)
        return EmuFail("VicQueryStorageSize", Status);
    Machine->VicStorage = aligned_alloc(VIC_STORAGE_ALIGNMENT, Size);
    if (Machine->VicStorage == NULL)
        return EmuFail("aligned_alloc", IRQ_STATUS_INSUFFICIENT_RESOURCES);
    Status = VicInitialize(Machine->VicStorage, Size, &Config, &Machine->Vic);
    if (Status != IRQ_STATUS_SUCCESS)
        return EmuFail("VicInitialize", Status);

    /* Every device rotates over every vCPU (Mask NULL: all of them). */
    IR_ROUTE_CONFIG Route = {.Policy = IrRoutingRoundRobin, .TargetCpu = 0, .Mask = NULL};
    for (uint32_t Device = 0; Device < EMU_DEVICE_COUNT; Device++) {
        Status = VicSetRoute(Machine->Vic, EmuDeviceVectors[Device], &Route);
        if (Status != IRQ_STATUS_SUCCESS)
            return EmuFail("VicSetRoute", Status);
    }
    return 0;
}

/* ---- The check at the end --------------------------------------------------------------- */

/*
 * Every raise the I/O thread made either set a pending bit (Raised) or
 * found it set already (Merged); every pending bit was claimed (nothing is
 * cleared here, nothing is left pending): issued == Claimed + Merged. The
 * round robin gives each vCPU exactly issued / N raises (merged or not) when
 * N divides the raises of each device, and the work the devices queued was
 * all done, merges or not.
 */
static int EmuCheck(EMU_MACHINE *Machine)
{
    VIC_COUNTERS Total;
    IRQ_STATUS Status = VicQueryCounters(Machine->Vic, VIC_ALL_CPUS, &Total);
    if (Status != IRQ_STATUS_SUCCESS)
        return EmuFail("VicQueryCounters", Status);
    int Failures = 0;
    uint64_t Handled = 0;
    printf("cpu  raised   merged  claimed  handled    empty   halts   wakes\n");
    for (uint32_t Index = 0; Index < Machine->CpuCount; Index++) {
        EMU_CPU *Cpu = &Machine->Cpus[Index];
        VIC_COUNTERS Counters;
        Status = VicQueryCounters(Machine->Vic, Index, &Counters);
        if (Status != IRQ_STATUS_SUCCESS)
            return EmuFail("VicQueryCounters", Status);
        printf("%3u %7llu %8llu %8llu %8llu %8llu %7llu %7llu\n", Index, (unsigned long long)Counters.Raised,
               (unsigned long long)Counters.Merged, (unsigned long long)Counters.Claimed,
               (unsigned long long)Cpu->Handled, (unsigned long long)Cpu->EmptyServices,
               (unsigned long long)Cpu->Halts, (unsigned long long)Cpu->Wakes);
        Handled += Cpu->Handled;
        uint64_t Share = Machine->RaisesIssued / Machine->CpuCount;
        if (Machine->RaisesIssued % ((uint64_t)EMU_DEVICE_COUNT * Machine->CpuCount) == 0 &&
            Counters.Raised + Counters.Merged != Share) {
            fprintf(stderr, "FAIL: cpu %u got %llu raises, round robin gives each %llu\n", Index,
                    (unsigned long long)(Counters.Raised + Counters.Merged), (unsigned long long)Share);
            Failures++;
        }
        if (Counters.Claimed != Cpu->Handled) {
            fprintf(stderr, "FAIL: cpu %u: the Vic counts %llu claims, the vCPU handled %llu\n", Index,
                    (unsigned long long)Counters.Claimed, (unsigned long long)Cpu->Handled);
            Failures++;
        }
    }
    uint64_t WorkDone = atomic_load(&Machine->WorkDone);
    printf("all %7llu %8llu %8llu %8llu   pending %llu, cleared %llu, work items done %llu of %llu\n",
           (unsigned long long)Total.Raised, (unsigned long long)Total.Merged, (unsigned long long)Total.Claimed,
           (unsigned long long)Handled, (unsigned long long)Total.Pending, (unsigned long long)Total.Cleared,
           (unsigned long long)WorkDone, (unsigned long long)Machine->RaisesIssued);
    if (Total.Raised + Total.Merged != Machine->RaisesIssued) {
        fprintf(stderr, "FAIL: %llu raises issued, the Vic saw %llu\n", (unsigned long long)Machine->RaisesIssued,
                (unsigned long long)(Total.Raised + Total.Merged));
        Failures++;
    }
    if (Total.Claimed + Total.Merged != Machine->RaisesIssued || Total.Pending != 0 || Total.Cleared != 0) {
        fprintf(stderr, "FAIL: raised %llu != claimed %llu + merged %llu (pending %llu, cleared %llu)\n",
                (unsigned long long)Machine->RaisesIssued, (unsigned long long)Total.Claimed,
                (unsigned long long)Total.Merged, (unsigned long long)Total.Pending,
                (unsigned long long)Total.Cleared);
        Failures++;
    }
    if (WorkDone != Machine->RaisesIssued) {
        fprintf(stderr, "FAIL: the devices queued %llu items, the handlers took %llu\n",
                (unsigned long long)Machine->RaisesIssued, (unsigned long long)WorkDone);
        Failures++;
    }
    if (Failures == 0)
        printf("PASS: raised %llu == claimed %llu + merged %llu; every work item done\n",
               (unsigned long long)Machine->RaisesIssued, (unsigned long long)Total.Claimed,
               (unsigned long long)Total.Merged);
    return Failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    static EMU_MACHINE Machine;
    Machine.CpuCount = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 4u;
    Machine.RaisesIssued = argc > 2 ? strtoull(argv[2], NULL, 0) : 200000u;
    if (Machine.CpuCount == 0 || Machine.CpuCount > EMU_MAX_CPUS) {
        fprintf(stderr, "usage: %s [cpus 1..%u] [raises]\n", argv[0], EMU_MAX_CPUS);
        return 2;
    }
    printf("irqroute %s: %u vCPUs, %llu device interrupts round robin over 4 devices\n", IRQROUTE_VERSION_STRING,
           Machine.CpuCount, (unsigned long long)Machine.RaisesIssued);
    if (EmuCreateVic(&Machine) != 0)
        return 1;

    for (uint32_t Index = 0; Index < Machine.CpuCount; Index++) {
        EMU_CPU *Cpu = &Machine.Cpus[Index];
        Cpu->Machine = &Machine;
        Cpu->Index = Index;
        pthread_mutex_init(&Cpu->Lock, NULL);
        pthread_cond_init(&Cpu->Kick, NULL);
    }
    for (uint32_t Index = 0; Index < Machine.CpuCount; Index++) {
        if (pthread_create(&Machine.Cpus[Index].Thread, NULL, EmuCpuMain, &Machine.Cpus[Index]) != 0)
            return EmuFail("pthread_create", IRQ_STATUS_INSUFFICIENT_RESOURCES);
    }
    pthread_t Io;
    if (pthread_create(&Io, NULL, EmuIoMain, &Machine) != 0)
        return EmuFail("pthread_create", IRQ_STATUS_INSUFFICIENT_RESOURCES);

    void *Result;
    int Failed = 0;
    pthread_join(Io, &Result);
    Failed |= Result != NULL;
    /* No raise comes any more: tell the vCPUs, kick the halted ones (under
     * their lock, as EmuWake does), and let each drain what it has pending. */
    atomic_store_explicit(&Machine.Stop, true, memory_order_release);
    for (uint32_t Index = 0; Index < Machine.CpuCount; Index++) {
        pthread_mutex_lock(&Machine.Cpus[Index].Lock);
        pthread_cond_signal(&Machine.Cpus[Index].Kick);
        pthread_mutex_unlock(&Machine.Cpus[Index].Lock);
    }
    for (uint32_t Index = 0; Index < Machine.CpuCount; Index++) {
        pthread_join(Machine.Cpus[Index].Thread, &Result);
        Failed |= Result != NULL;
    }
    if (Failed)
        return 1;
    int Status = EmuCheck(&Machine);
    free(Machine.VicStorage);
    return Status;
}
