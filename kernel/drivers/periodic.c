/* SPDX-License-Identifier: MIT */
/*
 * The kernel's periodic duties (periodic.h): the storm poll and the
 * balancer, both from one passive-level loop, so that they never run
 * concurrently with each other or with the loop's own commands (the
 * balancer wants one caller at a time: balance.h, IrBalancerRound).
 *
 * The balancer holds interrupt objects, and a device that is reconnected
 * gets new ones (the old are freed): before each round the set of the
 * devices' interrupts is compared with what the balancer holds, and when it
 * changed the balancer is built again in the same storage (it has nothing
 * to tear down). Its first round after that only measures.
 */
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "periodic.h"

#define RK_BALANCE_MAX_INTERRUPTS (RkDeviceCount * IO_DEVICE_MAX_INTERRUPTS)
#define RK_BALANCE_REPORT_MOVES 8u

typedef struct _RK_PERIODIC {
    void *Storage;
    size_t StorageSize;
    IR_BALANCER *Balancer;
    KINTERRUPT *Held[RK_BALANCE_MAX_INTERRUPTS]; /* the interrupts the balancer was built with */
    uint32_t HeldCount;
    bool Enabled;
    bool OncePending;
    uint64_t NextPollMs;
    uint64_t NextRoundMs;
    uint64_t Storms[RkDeviceCount]; /* IO_INTERRUPT_STORM.Storms last seen */
} RK_PERIODIC;

static RK_PERIODIC RkpPeriodic;

static uint64_t RkpNowMs(void)
{
    return RkQueryMicroseconds() / 1000u;
}

void RkPeriodicInitialize(void)
{
    RK_PERIODIC *Periodic = &RkpPeriodic;
    IRQ_STATUS Status = IrBalancerQueryStorageSize(RK_BALANCE_MAX_INTERRUPTS, &Periodic->StorageSize);
    if (Status == IRQ_STATUS_SUCCESS)
        Periodic->Storage = PlatAllocateMemory(Periodic->StorageSize, sizeof(uint64_t));
    if (Periodic->Storage == NULL)
        RkPanic("periodic: no balancer storage (%s, %lu bytes)", IrStatusName(Status),
                (uint64_t)Periodic->StorageSize);
    Periodic->NextPollMs = Periodic->NextRoundMs = RkpNowMs();
}

RK_DEVICE *RkDeviceOfInterrupt(const KINTERRUPT *Interrupt)
{
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        for (uint32_t Index = 0; Device->Connected && Index < Device->Connection.Count; Index++) {
            if (Device->Connection.Interrupts[Index] == Interrupt)
                return Device;
        }
    }
    return NULL;
}

/* ---- The storm poll ------------------------------------------------------------------------- */

/* A device whose storm count grew since the last poll: masked (or, a plain
 * MSI, only reported) for a storm. */
static const char *RkpNewStorm(RK_PERIODIC *Periodic)
{
    const char *Name = NULL;
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        IO_INTERRUPT_STORM Storm;
        if (!Device->Connected || IoQueryInterruptStorm(Device->Connection.Interrupts[0], &Storm) != IRQ_STATUS_SUCCESS)
            continue;
        if (Storm.Storms > Periodic->Storms[Id] && Name == NULL)
            Name = Device->Name;
        Periodic->Storms[Id] = Storm.Storms;
    }
    return Name;
}

static bool RkpPollStorms(RK_PERIODIC *Periodic, char *Message, uint32_t Size)
{
    uint32_t Unmasked = IoPollStormedInterrupts();
    const char *Stormed = RkpNewStorm(Periodic);
    if (Stormed != NULL)
        RkFormatString(Message, Size, "storm: nobody claims %s's interrupts: masked, polled every %u ms and more",
                       Stormed, RK_STORM_POLL_MS);
    else if (Unmasked != 0)
        RkFormatString(Message, Size, "storm: %u stormed source(s) claimed again: unmasked", Unmasked);
    return Stormed != NULL || Unmasked != 0;
}

/* ---- The balancer ------------------------------------------------------------------------------- */

void RkBalancerEnable(bool Enable)
{
    RkpPeriodic.Enabled = Enable;
}

bool RkBalancerIsEnabled(void)
{
    return RkpPeriodic.Enabled;
}

void RkBalancerRequestOnce(void)
{
    RkpPeriodic.OncePending = true;
}

/* The connected devices' interrupts, in device order. */
static uint32_t RkpCollect(KINTERRUPT **Interrupts)
{
    uint32_t Count = 0;
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        const RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        for (uint32_t Index = 0; Device->Connected && Index < Device->Connection.Count; Index++)
            Interrupts[Count++] = Device->Connection.Interrupts[Index];
    }
    return Count;
}

/* Built again when the devices' interrupts changed. Interrupts the
 * balancer refuses (not movable: broadcast, affinity, a plain fixed
 * connection) are left out. */
static void RkpSyncBalancer(RK_PERIODIC *Periodic)
{
    KINTERRUPT *Now[RK_BALANCE_MAX_INTERRUPTS];
    uint32_t Count = RkpCollect(Now);
    if (Periodic->Balancer != NULL && Count == Periodic->HeldCount &&
        memcmp(Now, Periodic->Held, Count * sizeof(Now[0])) == 0)
        return;
    Periodic->Balancer = NULL;
    if (IrBalancerInitialize(Periodic->Storage, Periodic->StorageSize, RK_BALANCE_MAX_INTERRUPTS, NULL,
                             &Periodic->Balancer) != IRQ_STATUS_SUCCESS)
        return;
    for (uint32_t Index = 0; Index < Count; Index++)
        (void)IrBalancerAddInterrupt(Periodic->Balancer, Now[Index], IrBalanceHintBalance, 1u);
    memcpy(Periodic->Held, Now, Count * sizeof(Now[0]));
    Periodic->HeldCount = Count;
}

/* "round 3: pit 0->3, kbd 0->2 (INVALID_STATE); max load 24 -> 16 (bound 14)" */
static void RkpFormatRound(const IR_BALANCE_REPORT *Report, char *Message, uint32_t Size)
{
    size_t Used = RkFormatString(Message, Size, "balance: round %u:", Report->Round);
    uint32_t Shown = Report->MovesTried < Report->MoveCapacity ? Report->MovesTried : Report->MoveCapacity;
    for (uint32_t Index = 0; Index < Shown && Used + 1u < Size; Index++) {
        const IR_BALANCER_MOVE *Move = &Report->Moves[Index];
        const RK_DEVICE *Device = RkDeviceOfInterrupt(Move->Interrupt);
        Used += RkFormatString(Message + Used, Size - Used, "%s moved %s cpu %u -> %u%s%s%s", Index ? "," : "",
                               Device ? Device->Name : "?", Move->From, Move->To,
                               Move->Status == IRQ_STATUS_SUCCESS ? "" : " (refused: ",
                               Move->Status == IRQ_STATUS_SUCCESS ? "" : IrStatusName(Move->Status),
                               Move->Status == IRQ_STATUS_SUCCESS ? "" : ")");
    }
    if (Report->MovesTried == 0 && Used + 1u < Size)
        Used += RkFormatString(Message + Used, Size - Used, " no move");
    if (Used + 1u < Size)
        RkFormatString(Message + Used, Size - Used, "; max load %lu -> %lu interrupts/s (bound %lu)",
                       Report->MaxLoadBefore, Report->MaxLoadAfter, Report->Bound);
}

static bool RkpBalance(RK_PERIODIC *Periodic, char *Message, uint32_t Size)
{
    RkpSyncBalancer(Periodic);
    if (Periodic->Balancer == NULL)
        return false;
    IR_BALANCER_MOVE Moves[RK_BALANCE_REPORT_MOVES];
    IR_BALANCE_REPORT Report = {.Moves = Moves, .MoveCapacity = RK_BALANCE_REPORT_MOVES};
    if (IrBalancerRound(Periodic->Balancer, &Report) != IRQ_STATUS_SUCCESS || !Report.Planned)
        return false; /* a round that only measured: a once request waits for the next */
    bool Once = Periodic->OncePending;
    Periodic->OncePending = false;
    if (!Once && Report.MovesTried == 0)
        return false; /* balancing on: only rounds that moved are news */
    RkpFormatRound(&Report, Message, Size);
    return true;
}

bool RkPeriodicRun(char *Message, uint32_t Size)
{
    RK_PERIODIC *Periodic = &RkpPeriodic;
    uint64_t Now = RkpNowMs();
    bool News = false;
    if (Now >= Periodic->NextPollMs) {
        News = RkpPollStorms(Periodic, Message, Size);
        Periodic->NextPollMs = Now + RK_STORM_POLL_MS;
    }
    if (Now >= Periodic->NextRoundMs) {
        Periodic->NextRoundMs = Now + RK_BALANCE_PERIOD_MS;
        if ((Periodic->Enabled || Periodic->OncePending) && !News)
            News = RkpBalance(Periodic, Message, Size);
    }
    return News;
}
