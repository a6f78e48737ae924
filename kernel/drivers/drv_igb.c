/* SPDX-License-Identifier: MIT */
/*
 * Intel 82576 ("igb", PCI 8086:10c9; QEMU -device igb): a NIC with 25 MSI-X
 * vectors, used here only for its interrupts. Nothing is sent or received.
 *
 * Registers (82576 datasheet 8.8, BAR0, 128 KiB of MMIO, 32-bit accesses):
 *   GPIE  0x1514  bit 4 Multiple MSI-X: EICR bit k is vector k
 *   EICS  0x1520  writing bit k sets cause k in EICR: the vector is raised
 *   EIMS  0x1524  writing bit k enables cause k (EIMC 0x1528 disables)
 *   EIAC  0x152C  bit k: EICR bit k clears itself once vector k was sent, so
 *                 the next EICS write raises it again (no read of EICR)
 *   EITR  0x1680 + 4k  throttling interval of vector k: 0, none
 *   IVAR_MISC 0x1740   maps the "other" causes (link status ...) to a
 *                 vector when its valid bit 7 is set: left 0, they raise none
 * In MSI-X mode a cause that EIMS enables is sent as MSI-X vector k through
 * entry k of the table (PCI 3.0 6.8.2); while that entry is masked the
 * function holds it in the PBA and sends it on unmask.
 *
 * The table and PBA sit in another BAR (BAR3 on the 82576); the capability
 * says which (RkPciDescribeMsix). The entries are Io's to program: the
 * driver only enables MSI-X in the capability and hands the table over
 * (IO_DEVICE_TEMPLATE.MsixTable, or each vector's IoConnectInterruptEx).
 * As "igb" in the device table it has one interrupt, vector 0; the
 * igb_msix KTEST connects them all (ktest_msix.c).
 */
#include "driver.h"
#include "pci.h"

#define IGB_VENDOR_ID 0x8086u
#define IGB_DEVICE_ID 0x10C9u
#define IGB_BAR0_SIZE 0x20000ull

#define IGB_REG_STATUS 0x0008u
#define IGB_REG_GPIE 0x1514u
#define IGB_REG_EICS 0x1520u
#define IGB_REG_EIMS 0x1524u
#define IGB_REG_EIMC 0x1528u
#define IGB_REG_EIAC 0x152Cu
#define IGB_REG_EITR0 0x1680u
#define IGB_REG_IVAR_MISC 0x1740u
#define IGB_GPIE_MULTIPLE_MSIX 0x10u
#define IGB_VECTORS 25u
#define IGB_ALL_VECTORS ((1u << IGB_VECTORS) - 1u)
#define IGB_ABSENT 0xFFFFFFFFu

static RK_PCI_FUNCTION RkpIgb;
static uintptr_t RkpIgbBase;
static HL_MSIX_TABLE RkpIgbTable;

static volatile uint32_t *RkpIgbRegister(uint32_t Offset)
{
    return RkPhysical(RkpIgbBase + Offset);
}

/* MSI-X mode, every vector's cause enabled and auto-cleared, no throttling,
 * no other cause mapped. GPIE first: EIAC takes bits only in MSI-X mode. */
static void RkpIgbSetUpInterrupts(void)
{
    *RkpIgbRegister(IGB_REG_EIMC) = IGB_ALL_VECTORS;
    *RkpIgbRegister(IGB_REG_GPIE) = IGB_GPIE_MULTIPLE_MSIX;
    *RkpIgbRegister(IGB_REG_IVAR_MISC) = 0;
    for (uint32_t Vector = 0; Vector < IGB_VECTORS; Vector++)
        *RkpIgbRegister(IGB_REG_EITR0 + 4u * Vector) = 0;
    *RkpIgbRegister(IGB_REG_EIAC) = IGB_ALL_VECTORS;
    *RkpIgbRegister(IGB_REG_EIMS) = IGB_ALL_VECTORS;
}

static bool RkpIgbProbe(RK_DEVICE *Device)
{
    (void)Device;
    if (!RkPciFind(IGB_VENDOR_ID, IGB_DEVICE_ID, &RkpIgb))
        return false;
    uint64_t Bar = RkPciMemoryBar(&RkpIgb, 0);
    if (!RkInMmioWindow(Bar) || !RkInMmioWindow(Bar + IGB_BAR0_SIZE - 1u)) {
        RkPrint("igb: BAR0 0x%lx is outside the uncached window\n", Bar);
        return false;
    }
    IRQ_STATUS Status = RkPciDescribeMsix(&RkpIgb, &RkpIgbTable);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkPrint("igb: no usable MSI-X table: %s\n", IrStatusName(Status));
        return false;
    }
    RkPciEnableDevice(&RkpIgb, true);
    RkpIgbBase = (uintptr_t)Bar;
    if (*RkpIgbRegister(IGB_REG_STATUS) == IGB_ABSENT) {
        RkpIgbBase = 0;
        return false;
    }
    RkpIgbSetUpInterrupts();
    RkPrint("igb: %02x:%02x.%x BAR0 0x%lx, MSI-X table 0x%lx (%u entries), PBA 0x%lx\n", RkpIgb.Bus, RkpIgb.Device,
            RkpIgb.Function, Bar, (uint64_t)RkpIgbTable.Table, RkpIgbTable.EntryCount,
            (uint64_t)RkpIgbTable.PendingBits);
    return true;
}

bool RkIgbMsix(HL_MSIX_TABLE *Table, uint16_t *RequesterId)
{
    if (RkpIgbBase == 0)
        return false;
    *Table = RkpIgbTable;
    *RequesterId = (uint16_t)(RkpIgb.Bus << 8 | RkpIgb.Device << 3 | RkpIgb.Function);
    return true;
}

uint32_t RkIgbVectorCount(void)
{
    if (RkpIgbBase == 0)
        return 0;
    return RkpIgbTable.EntryCount < IGB_VECTORS ? RkpIgbTable.EntryCount : IGB_VECTORS;
}

IRQ_STATUS RkIgbEnableMsix(bool Enable)
{
    if (RkpIgbBase == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    return RkPciEnableMsix(&RkpIgb, Enable);
}

IRQ_STATUS RkIgbRaiseVector(uint32_t Vector)
{
    if (RkpIgbBase == 0 || Vector >= RkIgbVectorCount())
        return IRQ_STATUS_INVALID_PARAMETER;
    *RkpIgbRegister(IGB_REG_EICS) = 1u << Vector;
    return IRQ_STATUS_SUCCESS;
}

/* One message, vector 0 in entry 0, which Io programs and moves. */
static void RkpIgbDescribe(RK_DEVICE *Device, IO_DEVICE_TEMPLATE *Template)
{
    (void)Device;
    Template->Kind = IoDeviceMessages;
    Template->Count = 1;
    Template->MsixTable = &RkpIgbTable;
    /* Behind a remapping unit its messages are remapped (as edu's). */
    Template->HasRequesterId = true;
    Template->RequesterId = (uint16_t)(RkpIgb.Bus << 8 | RkpIgb.Device << 3 | RkpIgb.Function);
}

static IRQ_STATUS RkpIgbConnected(RK_DEVICE *Device)
{
    (void)Device;
    return RkPciEnableMsix(&RkpIgb, true);
}

static void RkpIgbDisconnecting(RK_DEVICE *Device)
{
    (void)Device;
    (void)RkPciEnableMsix(&RkpIgb, false);
}

static IRQ_STATUS RkpIgbRaise(RK_DEVICE *Device)
{
    (void)Device;
    return RkIgbRaiseVector(0);
}

/* EIAC cleared the cause when the message went out: nothing to acknowledge. */
static bool RkpIgbAcknowledge(RK_DEVICE *Device)
{
    (void)Device;
    return true;
}

const RK_DRIVER RkIgbDriver = {
    .Probe = RkpIgbProbe,
    .DescribeInterrupts = RkpIgbDescribe,
    .Connected = RkpIgbConnected,
    .Disconnecting = RkpIgbDisconnecting,
    .Raise = RkpIgbRaise,
    .Acknowledge = RkpIgbAcknowledge,
};
