/*
 * Private interface of the Hl layer, shared by src/hl/ and the x86 drivers in
 * platform/x86/ (which implement part of Hl). Nothing above Hl includes it.
 */
#ifndef IRQROUTE_HLP_H
#define IRQROUTE_HLP_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

/* The logical APIC id a CPU's local APIC ended up with (xAPIC: LDR[31:24] in
 * the flat model; x2APIC: the derived 32-bit LDR), recorded by
 * HlLapicInitializeProcessor so HlResolveTarget can build logical
 * destinations without touching another CPU's registers. */
void HlpSetProcessorLogicalId(uint32_t Cpu, uint32_t LogicalId);
bool HlpGetProcessorLogicalId(uint32_t Cpu, uint32_t *LogicalId);

/* Forget the I/O APICs (called by HlResetHardwareLayer). */
void HlpResetIoApics(void);
/* Forget the ISA overrides (called by HlResetHardwareLayer). */
void HlpResetOverrides(void);

#endif
