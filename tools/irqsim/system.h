/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine: irqroute booted on the sim platform (simboot.h)
 * with one connected, movable interrupt per scenario device, and the CPUs
 * driven by the calling thread (no service thread per CPU, so 4096 CPUs cost
 * no more threads than 4).
 */
#ifndef IRQSIM_SYSTEM_H
#define IRQSIM_SYSTEM_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/io.h>

#include "scenario.h"

/* Lines are edge GSIs 16-23 of the one I/O APIC (above the ISA range). */
#define IRS_FIRST_LINE_GSI 16u
#define IRS_MAX_LINES 8u

typedef struct _IRS_LIVE_DEVICE {
    const IRS_DEVICE *Spec;
    KINTERRUPT *Interrupt;
    uint32_t Gsi;                /* lines */
    _Atomic uint64_t Address;    /* MSI: the device's address register (Io rewrites it on a move) */
    uint32_t Data;
    uint16_t RequesterId;        /* MSI through the remapping unit */
    bool Storming;               /* the ISR no longer claims it */
    double StormRate;
    double Carry;                /* the fraction of an interrupt owed to the next interval */
    uint32_t Cpu;                /* where it is delivered now (IoQueryInterruptTarget) */
    IR_CPU_SET Affinity;         /* where it may go (IoQueryInterruptAffinity) */
    uint64_t *Seen;              /* KeQueryInterruptCount per CPU at the last collection */
    uint64_t SeenTotal;          /* KeQueryInterruptTotalCount then (what the balancer reads) */
    uint64_t Raised;
} IRS_LIVE_DEVICE;

typedef struct _IRS_SYSTEM {
    uint32_t CpuCount;
    bool Remapped; /* more than 255 CPUs: x2APIC and VT-d interrupt remapping */
    uint32_t DeviceCount;
    IRS_LIVE_DEVICE *Devices;
    IR_CPU_SET Online;
} IRS_SYSTEM;

/* Boots a fresh machine for Scenario and connects its devices, each on the
 * first CPU of its affinity. False with Error set on failure (nothing left
 * running). */
bool IrsSystemBoot(IRS_SYSTEM *System, const IRS_SCENARIO *Scenario, char *Error, size_t ErrorSize);
void IrsSystemShutdown(IRS_SYSTEM *System);
/* Raises Counts[d] interrupts of each device and has its CPU service each
 * one before the next is raised (an IRR bit holds one interrupt). */
void IrsSystemDrive(IRS_SYSTEM *System, const uint64_t *Counts);
/* Device's interrupts since the last call: the total from
 * KeQueryInterruptTotalCount (the counter the library's balancer reads) is
 * returned, and each CPU's share (KeQueryInterruptCount) is added into
 * PerCpu. *Unplaced gets what the per-CPU counts do not account for (0
 * unless Ke's counts disagree with each other). */
uint64_t IrsSystemCollect(IRS_SYSTEM *System, uint32_t Device, uint64_t *PerCpu, uint64_t *Unplaced);
/* Moves Device to Cpu (IoSetInterruptTarget) and records where it is. */
IRQ_STATUS IrsSystemMove(IRS_SYSTEM *System, uint32_t Device, uint32_t Cpu);
/* Reads every device's CPU and affinity again (after moves the runner did
 * not make itself: the library's balancer, a CPU going offline or online).
 * OldCpu (per device, may be NULL) gets where each was. Returns how many
 * devices changed CPU. */
uint32_t IrsSystemRefresh(IRS_SYSTEM *System, uint32_t *OldCpu);
/* IoSetProcessorOffline(Cpu), called on Cpu itself so that Ke's drain (its
 * IPI to Cpu) is taken while the call waits; then IrsSystemRefresh. */
IRQ_STATUS IrsSystemOffline(IRS_SYSTEM *System, uint32_t Cpu, IO_PROCESSOR_OFFLINE_RESULT *Result,
                            uint32_t *OldCpu);
/* IoSetProcessorOnline(Cpu), then IrsSystemRefresh. */
IRQ_STATUS IrsSystemOnline(IRS_SYSTEM *System, uint32_t Cpu, uint32_t *OldCpu);

#endif
