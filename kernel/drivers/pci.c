/* SPDX-License-Identifier: MIT */
/*
 * PCI configuration mechanism #1 (PCI Local Bus 3.0 §3.2.2.3.2): a dword
 * address written to 0xCF8 (bit 31 enable, bus 23:16, device 15:11,
 * function 10:8, register 7:2) selects what 0xCFC..0xCFF read and write.
 * The pair is shared state of the host bridge, so every access runs under
 * one lock with interrupts off (an MSI re-target runs in interrupt context).
 */
#include "kernel.h"
#include "pci.h"

#define PCI_CONFIG_ADDRESS 0xCF8
#define PCI_CONFIG_DATA 0xCFC
#define PCI_CONFIG_ENABLE 0x80000000u

#define PCI_VENDOR_NONE 0xFFFFu
#define PCI_REG_ID 0x00
#define PCI_REG_COMMAND 0x04
#define PCI_REG_STATUS 0x06
#define PCI_REG_HEADER_TYPE 0x0E
#define PCI_REG_BAR0 0x10
#define PCI_REG_CAPABILITIES 0x34
#define PCI_REG_INTERRUPT_LINE 0x3C
#define PCI_COMMAND_MEMORY 0x0002u
#define PCI_COMMAND_BUS_MASTER 0x0004u
#define PCI_COMMAND_INTX_DISABLE 0x0400u
#define PCI_STATUS_CAPABILITIES 0x0010u
#define PCI_HEADER_MULTIFUNCTION 0x80u
#define PCI_BAR_IO 0x1u
#define PCI_BAR_TYPE_MASK 0x6u
#define PCI_BAR_TYPE_64 0x4u
#define PCI_BAR_ADDRESS_MASK 0xFFFFFFF0u
#define PCI_DEVICES_PER_BUS 32u
#define PCI_FUNCTIONS_PER_DEVICE 8u
#define PCI_HEADER_SIZE 0x40u
#define PCI_MAX_CAPABILITIES 48u /* (256 - 64) / 4: more means a loop */

/* MSI capability (§6.8.1): control at +2, address at +4, then either data
 * at +8 (32-bit) or upper address at +8 and data at +12 (64-bit). */
#define MSI_CONTROL 2u
#define MSI_ADDRESS 4u
#define MSI_ADDRESS_HIGH 8u
#define MSI_DATA_32 8u
#define MSI_DATA_64 12u
#define MSI_CONTROL_ENABLE 0x0001u
#define MSI_CONTROL_MULTIPLE_ENABLE 0x0070u
#define MSI_CONTROL_64BIT 0x0080u

/* MSI-X capability (§6.8.2): Message Control at +2 (table size N-1 in
 * 10:0, Function Mask 14, Enable 15), Table Offset/BIR at +4, PBA
 * Offset/BIR at +8. */
#define MSIX_CONTROL 2u
#define MSIX_TABLE 4u
#define MSIX_PBA 8u
#define MSIX_CONTROL_FUNCTION_MASK 0x4000u
#define MSIX_CONTROL_ENABLE 0x8000u
#define PCI_BAR_COUNT 6u

static RK_SPIN_LOCK RkpPciLock = RK_SPIN_LOCK_INIT;

static uint32_t RkpAddressOf(const RK_PCI_FUNCTION *Function, uint8_t Offset)
{
    return PCI_CONFIG_ENABLE | (uint32_t)Function->Bus << 16 | (uint32_t)Function->Device << 11 |
           (uint32_t)Function->Function << 8 | (Offset & 0xFCu);
}

uint32_t RkPciRead32(const RK_PCI_FUNCTION *Function, uint8_t Offset)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpPciLock);
    RkOutLong(PCI_CONFIG_ADDRESS, RkpAddressOf(Function, Offset));
    uint32_t Value = RkInLong(PCI_CONFIG_DATA);
    RkReleaseSpinLock(&RkpPciLock, WasEnabled);
    return Value;
}

void RkPciWrite32(const RK_PCI_FUNCTION *Function, uint8_t Offset, uint32_t Value)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpPciLock);
    RkOutLong(PCI_CONFIG_ADDRESS, RkpAddressOf(Function, Offset));
    RkOutLong(PCI_CONFIG_DATA, Value);
    RkReleaseSpinLock(&RkpPciLock, WasEnabled);
}

uint16_t RkPciRead16(const RK_PCI_FUNCTION *Function, uint8_t Offset)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpPciLock);
    RkOutLong(PCI_CONFIG_ADDRESS, RkpAddressOf(Function, Offset));
    uint16_t Value = RkInWord((uint16_t)(PCI_CONFIG_DATA + (Offset & 2u)));
    RkReleaseSpinLock(&RkpPciLock, WasEnabled);
    return Value;
}

void RkPciWrite16(const RK_PCI_FUNCTION *Function, uint8_t Offset, uint16_t Value)
{
    bool WasEnabled = RkAcquireSpinLock(&RkpPciLock);
    RkOutLong(PCI_CONFIG_ADDRESS, RkpAddressOf(Function, Offset));
    RkOutWord((uint16_t)(PCI_CONFIG_DATA + (Offset & 2u)), Value);
    RkReleaseSpinLock(&RkpPciLock, WasEnabled);
}

/* ---- Enumeration ------------------------------------------------------------------ */

static bool RkpProbeFunction(uint8_t Device, uint8_t Function, RK_PCI_FUNCTION *Found)
{
    RK_PCI_FUNCTION Candidate = {.Bus = 0, .Device = Device, .Function = Function};
    uint32_t Id = RkPciRead32(&Candidate, PCI_REG_ID);
    if ((Id & 0xFFFFu) == PCI_VENDOR_NONE)
        return false;
    Candidate.VendorId = (uint16_t)(Id & 0xFFFFu);
    Candidate.DeviceId = (uint16_t)(Id >> 16);
    *Found = Candidate;
    return true;
}

/* Bus 0 is all QEMU's pc machine has without bridges. */
bool RkPciFind(uint16_t VendorId, uint16_t DeviceId, RK_PCI_FUNCTION *Found)
{
    for (uint8_t Device = 0; Device < PCI_DEVICES_PER_BUS; Device++) {
        RK_PCI_FUNCTION Function;
        if (!RkpProbeFunction(Device, 0, &Function))
            continue;
        uint32_t Header = RkPciRead32(&Function, PCI_REG_HEADER_TYPE & 0xFCu) >> 16;
        uint8_t Functions = (Header & PCI_HEADER_MULTIFUNCTION) ? PCI_FUNCTIONS_PER_DEVICE : 1;
        for (uint8_t Index = 0; Index < Functions; Index++) {
            if (Index > 0 && !RkpProbeFunction(Device, Index, &Function))
                continue;
            if (Function.VendorId == VendorId && Function.DeviceId == DeviceId) {
                *Found = Function;
                return true;
            }
        }
    }
    return false;
}

bool RkPciHostBridge(RK_PCI_FUNCTION *Found)
{
    return RkpProbeFunction(0, 0, Found);
}

uint8_t RkPciFindCapability(const RK_PCI_FUNCTION *Function, uint8_t CapabilityId)
{
    if ((RkPciRead16(Function, PCI_REG_STATUS) & PCI_STATUS_CAPABILITIES) == 0)
        return 0;
    uint8_t Offset = (uint8_t)(RkPciRead32(Function, PCI_REG_CAPABILITIES) & 0xFCu);
    for (uint32_t Count = 0; Count < PCI_MAX_CAPABILITIES && Offset >= PCI_HEADER_SIZE; Count++) {
        uint32_t Header = RkPciRead32(Function, Offset);
        if ((Header & 0xFFu) == CapabilityId)
            return Offset;
        Offset = (uint8_t)((Header >> 8) & 0xFCu);
    }
    return 0;
}

void RkPciEnableDevice(const RK_PCI_FUNCTION *Function, bool DisableIntx)
{
    uint16_t Command = RkPciRead16(Function, PCI_REG_COMMAND);
    Command |= PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER; /* an MSI is a bus-master write */
    Command = DisableIntx ? (uint16_t)(Command | PCI_COMMAND_INTX_DISABLE) : (uint16_t)(Command & ~PCI_COMMAND_INTX_DISABLE);
    RkPciWrite16(Function, PCI_REG_COMMAND, Command);
}

uint64_t RkPciMemoryBar(const RK_PCI_FUNCTION *Function, uint32_t Index)
{
    uint8_t Offset = (uint8_t)(PCI_REG_BAR0 + 4u * Index);
    uint32_t Low = RkPciRead32(Function, Offset);
    if ((Low & PCI_BAR_IO) != 0)
        return 0;
    uint64_t Address = Low & PCI_BAR_ADDRESS_MASK;
    if ((Low & PCI_BAR_TYPE_MASK) == PCI_BAR_TYPE_64)
        Address |= (uint64_t)RkPciRead32(Function, (uint8_t)(Offset + 4u)) << 32;
    return Address;
}

uint8_t RkPciInterruptLine(const RK_PCI_FUNCTION *Function)
{
    return (uint8_t)(RkPciRead32(Function, PCI_REG_INTERRUPT_LINE) & 0xFFu);
}

/* ---- MSI ------------------------------------------------------------------------------ */

IRQ_STATUS RkPciEnableMsi(const RK_PCI_FUNCTION *Function, const HL_MSI_MESSAGE *Message)
{
    uint8_t Msi = RkPciFindCapability(Function, RK_PCI_CAPABILITY_MSI);
    if (Msi == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    uint16_t Control = RkPciRead16(Function, (uint8_t)(Msi + MSI_CONTROL));
    bool Wide = (Control & MSI_CONTROL_64BIT) != 0;
    if (!Wide && (Message->Address >> 32) != 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    /* Off while the message changes, then one vector (MME 0) and on. */
    Control &= (uint16_t)~(MSI_CONTROL_ENABLE | MSI_CONTROL_MULTIPLE_ENABLE);
    RkPciWrite16(Function, (uint8_t)(Msi + MSI_CONTROL), Control);
    RkPciWrite32(Function, (uint8_t)(Msi + MSI_ADDRESS), (uint32_t)Message->Address);
    if (Wide)
        RkPciWrite32(Function, (uint8_t)(Msi + MSI_ADDRESS_HIGH), (uint32_t)(Message->Address >> 32));
    RkPciWrite16(Function, (uint8_t)(Msi + (Wide ? MSI_DATA_64 : MSI_DATA_32)), (uint16_t)Message->Data);
    RkPciWrite16(Function, (uint8_t)(Msi + MSI_CONTROL), (uint16_t)(Control | MSI_CONTROL_ENABLE));
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS RkPciUpdateMsiAddress(const RK_PCI_FUNCTION *Function, uint64_t Address)
{
    uint8_t Msi = RkPciFindCapability(Function, RK_PCI_CAPABILITY_MSI);
    if (Msi == 0 || (Address >> 32) != 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    RkPciWrite32(Function, (uint8_t)(Msi + MSI_ADDRESS), (uint32_t)Address);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS RkPciDisableMsi(const RK_PCI_FUNCTION *Function)
{
    uint8_t Msi = RkPciFindCapability(Function, RK_PCI_CAPABILITY_MSI);
    if (Msi == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    uint16_t Control = RkPciRead16(Function, (uint8_t)(Msi + MSI_CONTROL));
    RkPciWrite16(Function, (uint8_t)(Msi + MSI_CONTROL), (uint16_t)(Control & ~MSI_CONTROL_ENABLE));
    return IRQ_STATUS_SUCCESS;
}

/* ---- MSI-X ---------------------------------------------------------------------------- */

/* Each memory BAR's address if it lies in the uncached window, else 0 (an
 * I/O BAR, an unassigned one, the upper half of a 64-bit BAR). */
static void RkpMsixBars(const RK_PCI_FUNCTION *Function, uintptr_t *Bars)
{
    for (uint32_t Index = 0; Index < PCI_BAR_COUNT; Index++) {
        uint32_t Low = RkPciRead32(Function, (uint8_t)(PCI_REG_BAR0 + 4u * Index));
        uint64_t Address = RkPciMemoryBar(Function, Index);
        Bars[Index] = Address != 0 && RkInMmioWindow(Address) ? (uintptr_t)Address : 0;
        if ((Low & PCI_BAR_IO) == 0 && (Low & PCI_BAR_TYPE_MASK) == PCI_BAR_TYPE_64 && Index + 1u < PCI_BAR_COUNT)
            Bars[++Index] = 0;
    }
}

IRQ_STATUS RkPciDescribeMsix(const RK_PCI_FUNCTION *Function, HL_MSIX_TABLE *Table)
{
    uint8_t Msix = RkPciFindCapability(Function, RK_PCI_CAPABILITY_MSIX);
    if (Msix == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    uintptr_t Bars[PCI_BAR_COUNT];
    RkpMsixBars(Function, Bars);
    return HlMsixDescribeTable(RkPciRead16(Function, (uint8_t)(Msix + MSIX_CONTROL)),
                               RkPciRead32(Function, (uint8_t)(Msix + MSIX_TABLE)),
                               RkPciRead32(Function, (uint8_t)(Msix + MSIX_PBA)), Bars, Table);
}

IRQ_STATUS RkPciEnableMsix(const RK_PCI_FUNCTION *Function, bool Enable)
{
    uint8_t Msix = RkPciFindCapability(Function, RK_PCI_CAPABILITY_MSIX);
    if (Msix == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    uint16_t Control = RkPciRead16(Function, (uint8_t)(Msix + MSIX_CONTROL));
    Control &= (uint16_t)~(MSIX_CONTROL_FUNCTION_MASK | MSIX_CONTROL_ENABLE);
    if (Enable)
        Control |= MSIX_CONTROL_ENABLE;
    RkPciWrite16(Function, (uint8_t)(Msix + MSIX_CONTROL), Control);
    return IRQ_STATUS_SUCCESS;
}
