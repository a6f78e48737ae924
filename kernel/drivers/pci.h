/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration space (mechanism #1, PCI Local Bus 3.0 §3.2.2.3.2) and
 * the MSI and MSI-X capabilities (§6.8.1, §6.8.2), as much as the kernel's
 * drivers need.
 */
#ifndef KERNEL_PCI_H
#define KERNEL_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

typedef struct _RK_PCI_FUNCTION {
    uint8_t Bus;
    uint8_t Device;
    uint8_t Function;
    uint16_t VendorId;
    uint16_t DeviceId;
} RK_PCI_FUNCTION;

#define RK_PCI_CAPABILITY_MSI 0x05u
#define RK_PCI_CAPABILITY_MSIX 0x11u

uint32_t RkPciRead32(const RK_PCI_FUNCTION *Function, uint8_t Offset);
void RkPciWrite32(const RK_PCI_FUNCTION *Function, uint8_t Offset, uint32_t Value);
uint16_t RkPciRead16(const RK_PCI_FUNCTION *Function, uint8_t Offset);
void RkPciWrite16(const RK_PCI_FUNCTION *Function, uint8_t Offset, uint16_t Value);

/* The first function on bus 0 with the ids; false when there is none. */
bool RkPciFind(uint16_t VendorId, uint16_t DeviceId, RK_PCI_FUNCTION *Found);
/* The host bridge, 00:00.0 (for tests that need a function without MSI). */
bool RkPciHostBridge(RK_PCI_FUNCTION *Found);
/* The offset of the capability with this id, 0 when there is none (or the
 * list is malformed: a loop or a pointer into the header). */
uint8_t RkPciFindCapability(const RK_PCI_FUNCTION *Function, uint8_t CapabilityId);

/* Command register: memory space, bus master, INTx disable. */
void RkPciEnableDevice(const RK_PCI_FUNCTION *Function, bool DisableIntx);
/* Base address register Index as a memory address (0: not a memory BAR). */
uint64_t RkPciMemoryBar(const RK_PCI_FUNCTION *Function, uint32_t Index);
/* The interrupt line register (the ISA IRQ the firmware routed INTA# to). */
uint8_t RkPciInterruptLine(const RK_PCI_FUNCTION *Function);

/* Writes Message into the MSI capability (one vector) and enables it.
 * NOT_SUPPORTED: the function has no MSI capability, or the address needs
 * 64 bits and the capability has 32. */
IRQ_STATUS RkPciEnableMsi(const RK_PCI_FUNCTION *Function, const HL_MSI_MESSAGE *Message);
/* Rewrites only the address (one 32-bit write: the device sees the old or
 * the new destination, never a mixture). */
IRQ_STATUS RkPciUpdateMsiAddress(const RK_PCI_FUNCTION *Function, uint64_t Address);
IRQ_STATUS RkPciDisableMsi(const RK_PCI_FUNCTION *Function);

/* Where the function's MSI-X table and PBA are (§6.8.2): the capability's
 * registers and the memory BARs they name, which must lie in the kernel's
 * uncached MMIO window (a BAR outside it, or an I/O BAR, counts as not
 * memory: HlMsixDescribeTable then refuses). NOT_SUPPORTED: no MSI-X
 * capability, or as HlMsixDescribeTable. */
IRQ_STATUS RkPciDescribeMsix(const RK_PCI_FUNCTION *Function, HL_MSIX_TABLE *Table);
/* Message Control (§6.8.2.3): MSI-X Enable (bit 15) on with Function Mask
 * (bit 14) clear, so each entry's own mask bit decides; or Enable off.
 * NOT_SUPPORTED: no MSI-X capability. */
IRQ_STATUS RkPciEnableMsix(const RK_PCI_FUNCTION *Function, bool Enable);

#endif
