/*
 * Host-side boot of irqroute on the sim platform: what kernel/ does on QEMU,
 * done on the sim models. Tests, benchmarks and tools start a system here.
 */
#ifndef IRQROUTE_SIMBOOT_H
#define IRQROUTE_SIMBOOT_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "sim.h"

typedef struct _SIM_SYSTEM_CONFIG {
    uint32_t CpuCount;
    const uint32_t *ApicIds;   /* NULL: SimDefaultApicId */
    bool X2Apic;
    bool StartThreads;         /* CPUs as service threads (else: attach + SimServicePending) */
    uint32_t OnlineCount;      /* 0: all; else only CPUs 0..OnlineCount-1 start */
    uint32_t IoApicCount;      /* 0: one 24-pin I/O APIC at GSI 0 */
    SIM_IOAPIC_CONFIG IoApics[SIM_MAX_IOAPICS];
} SIM_SYSTEM_CONFIG;

/* Creates the models, registers I/O APICs, processors and QEMU's MADT
 * overrides (IRQ0 -> GSI2; IRQ 5, 9, 10, 11 level active-high), initialises
 * Ke (amd64 vector layout) and Io, starts every CPU (Hl registry, local APIC,
 * Ke online) and installs KeDispatchInterrupt as the sim's interrupt entry. */
IRQ_STATUS SimBootSystem(const SIM_SYSTEM_CONFIG *Config);
void SimShutdownSystem(void);

#endif
