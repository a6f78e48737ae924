/* SPDX-License-Identifier: MIT */
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

/* Whether a resolved destination can be written into the 8-bit destination
 * field that device interrupts carry (I/O APIC redirection entries, 82093AA
 * 3.2.4 bits 63:56; compatibility-format MSI addresses, SDM vol. 3A 11.11.1
 * bits 19:12). The one rule behind HlIsProcessorReachableByDevices, the PIC
 * service and MSI composition (src/hl/target.c says which destinations fit). */
bool HlpDeviceDestinationFits(const HL_DESTINATION *Destination);

/* An MSI's target and vector checked, then resolved (src/hl/msi.c): the
 * statuses INVALID_PARAMETER (Target NULL), INVALID_VECTOR (outside 10h-FEh,
 * SDM vol. 3A 11.11.2), then HlResolveTarget's. Plain and remapped messages
 * (src/hl/msi_remap.c) both start here. */
IRQ_STATUS HlpResolveMsiTarget(const HL_INTERRUPT_TARGET *Target, uint8_t Vector, HL_DESTINATION *Destination);

/* The id of the I/O APIC that has Gsi (false: none has). */
bool HlpIoApicIdOfGsi(uint32_t Gsi, uint8_t *IoApicId);

/* Interrupt remapping of I/O APIC lines (src/hl/x86/remap.c): whether Gsi's
 * I/O APIC sends through an enabled remapping unit (HlRemapAssignIoApic),
 * and if so which unit and requester id. */
bool HlpRemapCoversGsi(uint32_t Gsi, uint32_t *Unit, uint16_t *SourceId);
/* Whether the requester's messages go through an enabled unit
 * (HlRemapAssignRequester), and which. */
bool HlpRemapCoversRequester(uint16_t RequesterId, uint32_t *Unit);
/* The remapping table index of Gsi's line, allocated on first use and kept
 * until HlpRemapReleaseLine. */
IRQ_STATUS HlpRemapLineIndex(uint32_t Gsi, uint32_t Unit, uint32_t *Index);
/* Gsi's line is free again: its entry is cleared and its index returned. */
void HlpRemapReleaseLine(uint32_t Gsi);

/* Forget the I/O APICs (called by HlResetHardwareLayer). */
void HlpResetIoApics(void);
/* Forget the ISA overrides (called by HlResetHardwareLayer). */
void HlpResetOverrides(void);
/* Forget the interrupt remapping units and free their tables (called by
 * HlResetHardwareLayer). */
void HlpResetRemapUnits(void);
/* Forget that a CPU enabled its local APIC, so that HlLapicSelectMode is
 * accepted again (called by HlResetHardwareLayer). */
void HlpResetLapic(void);

#endif
