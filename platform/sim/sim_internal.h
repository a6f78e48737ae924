/* SPDX-License-Identifier: MIT */
/*
 * Contracts between the sim's parts (not for tests, bench or tools).
 *
 *   ioapic_model.c   82093AA model: registers, pins, Remote IRR, EOI
 *   lapic_model.c    local APIC model per CPU: IA32_APIC_BASE (mode), IRR/ISR/TMR, TPR/PPR,
 *                    EOI, ICR, LDR/DFR, SVR; the x2APIC #GP rules
 *   sim_bus.c        address decode for PlatMmio* and PlatMsr* (per the accessing CPU's
 *                    mode), the APIC bus (message -> LAPIC(s)), MSI writes, faults
 *   sim_cpu.c        CPUs as host threads, attach/detach, the platform hooks
 *                    (PlatCurrentCpu, interrupt flag, PlatCpuRelax, memory)
 *   iommu_model.c    VT-d remapping units: interrupt remapping registers, the
 *                    invalidation queue, IRTE decode and cache, fault recording
 *   msix_model.c     MSI-X functions: the table and PBA in MMIO, mask and pending
 */
#ifndef IRQROUTE_SIM_INTERNAL_H
#define IRQROUTE_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

/* One interrupt message as an I/O APIC, an MSI write or an ICR sends it. */
typedef struct _SIM_APIC_MESSAGE {
    uint32_t Destination;   /* physical APIC id or logical bits (8-bit xAPIC, 32-bit x2APIC) */
    bool Logical;           /* destination mode */
    uint8_t DeliveryMode;   /* 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 6 SIPI, 7 ExtINT */
    uint8_t Vector;
    bool Level;             /* trigger mode: level messages set the TMR bit */
    uint8_t Shorthand;      /* ICR only: 0 none, 1 self, 2 all incl. self, 3 all excl. self */
    uint32_t SourceCpu;     /* ICR only: the sending CPU (for self shorthands) */
} SIM_APIC_MESSAGE;

/* ---- sim_bus.c -------------------------------------------------------------- */
/* Routes a message to the LAPIC(s) it addresses, each matched in its own
 * mode (physical: 0xFFFFFFFF reaches all, 0xFF every xAPIC-mode LAPIC, an
 * xAPIC-mode LAPIC compares 8 bits; logical: xAPIC flat/cluster per DFR,
 * x2APIC cluster<<16|bitmap; lowest priority = the addressed LAPIC with the
 * lowest TPR class, ties to the lowest APIC id). Returns how many LAPICs
 * accepted it into their IRR. */
uint32_t SimBusDeliver(const SIM_APIC_MESSAGE *Message);
/* What a VT-d unit let through or remapped (SimIommuRemap*), as a message
 * from no CPU. */
void SimBusDeliverFromIommu(const SIM_IOMMU_INTERRUPT *Interrupt);
/* Reports an access the hardware refuses (sim.h, SimSetFaultHandler):
 * prints and aborts without a handler, else calls it; returns only if the
 * handler does, and the caller then drops the access. Format is printf's;
 * no sim lock may be held by the caller. */
void SimFault(const char *Hook, uint64_t Where, const char *Format, ...) __attribute__((format(printf, 3, 4)));

/* ---- ioapic_model.c ------------------------------------------------------ */
int SimIoApicModelCreate(const SIM_IOAPIC_CONFIG *Configs, uint32_t Count);
void SimIoApicModelDestroy(void);
/* MMIO access of Size bytes if Address falls in an I/O APIC window: returns
 * true and reads/writes *Value (an access the model refuses faults through
 * SimFault under Hook's name, and reads 0); false when the address is not
 * an I/O APIC's. */
bool SimIoApicModelAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value);
/* A LAPIC EOI for a level-triggered vector (the EOI broadcast, SDM 11.8.5):
 * clears Remote IRR of every level entry with this vector, re-sending if the
 * pin is still asserted. */
void SimIoApicModelEoi(uint8_t Vector);

/* ---- lapic_model.c ----------------------------------------------------- */
int SimLapicModelCreate(uint32_t CpuCount, const uint32_t *ApicIds, bool X2ApicSupported,
                        SIM_LAPIC_MODE FirmwareMode);
void SimLapicModelDestroy(void);
/* IA32_APIC_BASE of the given CPU (SDM 11.4.4). A write the CPU refuses
 * (reserved bits, an invalid transition, EXTD without x2APIC support:
 * 11.12.5) faults through SimFault and changes nothing. */
uint64_t SimLapicModelReadApicBase(uint32_t Cpu);
void SimLapicModelWriteApicBase(uint32_t Cpu, uint64_t Value);
SIM_LAPIC_MODE SimLapicModelMode(uint32_t Cpu);
/* The xAPIC MMIO page's physical address (IA32_APIC_BASE[39:12]). */
uint64_t SimLapicModelMmioBase(uint32_t Cpu);
/* Register access for the given CPU's LAPIC, which the bus has checked is
 * in the matching mode: xAPIC MMIO offset (0x000-0xFF0, 16-byte aligned) or
 * x2APIC MSR (0x800-0x8FF; a refused access faults, a read then gives 0). */
uint32_t SimLapicModelMmioRead(uint32_t Cpu, uint32_t Offset);
void SimLapicModelMmioWrite(uint32_t Cpu, uint32_t Offset, uint32_t Value);
uint64_t SimLapicModelMsrRead(uint32_t Cpu, uint32_t Msr);
void SimLapicModelMsrWrite(uint32_t Cpu, uint32_t Msr, uint64_t Value);
/* Sets the IRR (and TMR) bit for Vector on Cpu (lock-free; wakes the CPU). */
void SimLapicModelAccept(uint32_t Cpu, uint8_t Vector, bool Level);
/* One message the bus routed to Cpu's LAPIC, handled as its delivery mode
 * says (fixed/lowest priority: Accept unless software-disabled or an illegal
 * vector; NMI, INIT, SIPI, SMI, ExtINT: recorded; a globally disabled APIC
 * takes nothing). True when the vector entered the IRR. */
bool SimLapicModelReceive(uint32_t Cpu, const SIM_APIC_MESSAGE *Message);
/* Highest IRR vector the CPU would accept now (class above PPR), or -1. */
int SimLapicModelDeliverable(uint32_t Cpu);
/* INTA: moves that vector from IRR to ISR and returns it (or -1). */
int SimLapicModelAcknowledge(uint32_t Cpu);
/* The 32-bit initial APIC id (an xAPIC-mode LAPIC answers to its low 8 bits). */
uint32_t SimLapicModelApicId(uint32_t Cpu);
/* xAPIC mode: LDR[31:24]; x2APIC mode: the whole derived LDR. */
uint32_t SimLapicModelLogicalId(uint32_t Cpu);
/* xAPIC mode: the DFR model, bits 31:28 (1111b flat, 0000b cluster). */
uint32_t SimLapicModelDestinationModel(uint32_t Cpu);
uint8_t SimLapicModelTprClass(uint32_t Cpu);
/* Software-enabled (SVR bit 8) and globally enabled. */
bool SimLapicModelEnabled(uint32_t Cpu);

/* ---- sim_cpu.c -------------------------------------------------------------- */
/* Wakes the CPU's service thread (something entered its IRR). */
void SimCpuKick(uint32_t Cpu);

/* ---- iommu_model.c ---------------------------------------------------------- */
/* MMIO access of Size bytes if Address falls in a remapping unit's register
 * page: returns true and reads/writes *Value (an access the unit refuses
 * faults through SimFault under Hook's name, and reads 0); false when the
 * address is no unit's. The bus decode (sim_bus.c) can call it next to
 * SimIoApicModelAccess. */
bool SimIommuModelAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value);

/* ---- msix_model.c ------------------------------------------------------------- */
/* MMIO access of Size bytes if Address falls in an MSI-X function's table
 * or PBA: returns true and reads/writes *Value (a refused access faults
 * through SimFault under Hook's name, and reads 0); false otherwise. */
bool SimMsixModelAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value);

#endif
