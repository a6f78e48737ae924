/*
 * Contracts between the sim's parts (not for tests, bench or tools).
 *
 *   ioapic_model.c   82093AA model: registers, pins, Remote IRR, EOI
 *   lapic_model.c    local APIC model per CPU: IRR/ISR/TMR, TPR/PPR, EOI, ICR, LDR/DFR, SVR
 *   sim_bus.c        address decode for PlatMmio* and PlatMsr*, the APIC bus
 *                    (message -> LAPIC(s)), MSI writes
 *   sim_cpu.c        CPUs as host threads, attach/detach, the platform hooks
 *                    (PlatCurrentCpu, interrupt flag, PlatCpuRelax, memory)
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
/* Routes a message to the LAPIC(s) it addresses (physical id; 0xFF in xAPIC /
 * 0xFFFFFFFF in x2APIC physical = all; logical flat/cluster per DFR; x2APIC
 * logical cluster<<16|bitmap; lowest priority = the addressed LAPIC with the
 * lowest TPR class, ties to the lowest APIC id). Returns how many LAPICs
 * accepted it into their IRR. */
uint32_t SimBusDeliver(const SIM_APIC_MESSAGE *Message);

/* ---- ioapic_model.c ------------------------------------------------------ */
int SimIoApicModelCreate(const SIM_IOAPIC_CONFIG *Configs, uint32_t Count);
void SimIoApicModelDestroy(void);
/* MMIO access if Address falls in an I/O APIC window: returns true and
 * reads/writes *Value; false when the address is not an I/O APIC's. */
bool SimIoApicModelAccess(uintptr_t Address, bool Write, uint32_t *Value);
/* A LAPIC EOI for a level-triggered vector (the EOI broadcast, SDM 11.8.5):
 * clears Remote IRR of every level entry with this vector, re-sending if the
 * pin is still asserted. */
void SimIoApicModelEoi(uint8_t Vector);

/* ---- lapic_model.c ----------------------------------------------------- */
int SimLapicModelCreate(uint32_t CpuCount, const uint32_t *ApicIds, bool X2Apic);
void SimLapicModelDestroy(void);
/* Register access for the given CPU's LAPIC: xAPIC MMIO offset (0x000-0xFF0)
 * or x2APIC MSR (0x800-0x8FF). */
uint32_t SimLapicModelMmioRead(uint32_t Cpu, uint32_t Offset);
void SimLapicModelMmioWrite(uint32_t Cpu, uint32_t Offset, uint32_t Value);
uint64_t SimLapicModelMsrRead(uint32_t Cpu, uint32_t Msr);
void SimLapicModelMsrWrite(uint32_t Cpu, uint32_t Msr, uint64_t Value);
/* Sets the IRR (and TMR) bit for Vector on Cpu (lock-free; wakes the CPU). */
void SimLapicModelAccept(uint32_t Cpu, uint8_t Vector, bool Level);
/* One message the bus routed to Cpu's LAPIC, handled as its delivery mode
 * says (fixed/lowest priority: Accept unless software-disabled or an illegal
 * vector; NMI, INIT, SIPI, SMI, ExtINT: recorded). True when the vector
 * entered the IRR. */
bool SimLapicModelReceive(uint32_t Cpu, const SIM_APIC_MESSAGE *Message);
/* Highest IRR vector the CPU would accept now (class above PPR), or -1. */
int SimLapicModelDeliverable(uint32_t Cpu);
/* INTA: moves that vector from IRR to ISR and returns it (or -1). */
int SimLapicModelAcknowledge(uint32_t Cpu);
uint32_t SimLapicModelApicId(uint32_t Cpu);
uint32_t SimLapicModelLogicalId(uint32_t Cpu);
uint8_t SimLapicModelTprClass(uint32_t Cpu);
bool SimLapicModelEnabled(uint32_t Cpu);
bool SimLapicModelX2Apic(void);

/* ---- sim_cpu.c -------------------------------------------------------------- */
/* Wakes the CPU's service thread (something entered its IRR). */
void SimCpuKick(uint32_t Cpu);

#endif
