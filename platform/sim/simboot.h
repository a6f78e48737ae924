/* SPDX-License-Identifier: MIT */
/*
 * Host-side boot of irqroute on the sim platform: what kernel/ does on QEMU,
 * done on the sim models. Tests, benchmarks and tools start a system here.
 */
#ifndef IRQROUTE_SIMBOOT_H
#define IRQROUTE_SIMBOOT_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "sim.h"

IRQROUTE_BEGIN_DECLS

typedef struct _SIM_SYSTEM_CONFIG {
    uint32_t CpuCount;
    const uint32_t *ApicIds;   /* NULL: SimDefaultApicId */
    /* The CPUs offer x2APIC (CPUID.01H:ECX[21]), and the boot then selects
     * x2APIC mode, as kernel/main.c does. */
    bool X2Apic;
    /* The state firmware leaves each CPU's local APIC in (SIM_CONFIG):
     * xAPIC by default; x2APIC as SeaBIOS with more than 255 CPUs (the CPUs
     * then offer x2APIC; without X2Apic the boot fails with INVALID_STATE,
     * as HlLapicEnable says); or disabled. */
    SIM_LAPIC_MODE FirmwareMode;
    bool StartThreads;         /* CPUs as service threads (else: attach + SimServicePending) */
    uint32_t OnlineCount;      /* 0: all; else only CPUs 0..OnlineCount-1 start */
    uint32_t IoApicCount;      /* 0: one 24-pin I/O APIC at GSI 0 */
    SIM_IOAPIC_CONFIG IoApics[SIM_MAX_IOAPICS];
    /* A VT-d remapping unit (SIM_IOMMU_DEFAULT_BASE, extended interrupt
     * mode) with every I/O APIC behind it, requester FF:nn.0 for the nth, as
     * QEMU's q35 with intel-iommu,intremap=on,eim=on; the boot enables it
     * and assigns the I/O APICs as a kernel does from the DMAR
     * (HlRemapRegisterUnit, HlRemapEnable, HlRemapAssignIoApic). */
    bool InterruptRemapping;
} SIM_SYSTEM_CONFIG;

/* Creates the models, selects the local APIC mode, registers the I/O APICs
 * and QEMU's MADT overrides (IRQ0 -> GSI2; IRQ 5, 9, 10, 11 level
 * active-high), initialises Ke (amd64 vector layout) and Io, and starts
 * every CPU as a kernel does, on the CPU itself: HlLapicEnable, the id read
 * from its local APIC, HlRegisterProcessor, HlLapicInitializeProcessor,
 * KeInitializeProcessor. Installs KeDispatchInterrupt as the sim's
 * interrupt entry. */
IRQ_STATUS SimBootSystem(const SIM_SYSTEM_CONFIG *Config);
void SimShutdownSystem(void);

IRQROUTE_END_DECLS

#endif
