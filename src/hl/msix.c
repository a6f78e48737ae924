/* SPDX-License-Identifier: MIT */
/*
 * MSI-X tables (PCI Local Bus 3.0 6.8.2; PCIe 3.0 7.7): where a device's
 * table and pending bit array live, and the writes that program an entry.
 *
 * The capability (6.8.2.1-6.8.2.5) says where they are: Message Control
 * bits 10:0 hold the table size N-1; the Table Offset/BIR and PBA
 * Offset/BIR registers each name a BAR (bits 2:0, BARs 0-5) and a QWORD
 * aligned offset into it (bits 31:3). Which BARs are memory and where they
 * are mapped is the kernel's (its driver owns configuration space): it
 * hands Hl the addresses, 0 for a BAR that is not memory.
 *
 * A table entry is 16 bytes (6.8.2.6-6.8.2.9): message address (low
 * dword), message upper address, message data, vector control (bit 0:
 * mask; bits 31:1 reserved, preserved on write). The PBA is an array of
 * QWORDs, one bit per entry (6.8.2.10): set while the entry is masked and
 * the function had a message to send, sent and cleared on unmask.
 *
 * The masking rule. 6.8.2.9: "If software changes the Address or Data
 * value of an entry while the entry is unmasked, the result is undefined."
 * An entry is three dwords (four with vector control) and the platform
 * hooks write 32 bits at a time, so no single write can replace one whole
 * message: an unmasked entry is masked, rewritten and unmasked again. An
 * interrupt the device raises in between is held in the PBA and sent on
 * the unmask (6.8.2.10), with the new message: nothing is lost and nothing
 * goes out half-written. An entry that was masked stays masked. The mask
 * bit is written last on the way out, so the device never sees it clear
 * with a stale message.
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/platform.h>

#define MSIX_ENTRY_SIZE 16u
#define MSIX_ENTRY_ADDRESS_LOW 0x0u
#define MSIX_ENTRY_ADDRESS_HIGH 0x4u
#define MSIX_ENTRY_DATA 0x8u
#define MSIX_ENTRY_VECTOR_CONTROL 0xCu
#define MSIX_VECTOR_CONTROL_MASK 0x1u

/* 6.8.2.3: Message Control bits 10:0, the table size encoded as N-1. */
#define MSIX_CONTROL_TABLE_SIZE_MASK 0x7FFu
/* 6.8.2.4, 6.8.2.5: bits 2:0 the BAR indicator, 31:3 the offset. */
#define MSIX_BIR_MASK 0x7u
#define MSIX_OFFSET_MASK 0xFFFFFFF8u
#define MSIX_MAX_BAR 5u

static bool HlpMsixTableUsable(const HL_MSIX_TABLE *Table)
{
    return Table != NULL && Table->Table != 0 && Table->PendingBits != 0 && Table->EntryCount != 0 &&
           Table->EntryCount <= HL_MSIX_MAX_ENTRIES;
}

static bool HlpMsixIndexValid(const HL_MSIX_TABLE *Table, uint32_t Index)
{
    return HlpMsixTableUsable(Table) && Index < Table->EntryCount;
}

static uintptr_t HlpMsixEntry(const HL_MSIX_TABLE *Table, uint32_t Index, uint32_t Field)
{
    return Table->Table + (uintptr_t)Index * MSIX_ENTRY_SIZE + Field;
}

/* A BAR indicator's address plus the offset, or 0: a BIR beyond BAR 5
 * (6.8.2.4: 6 and 7 are reserved) or a BAR that is not mapped memory. */
static uintptr_t HlpMsixLocate(uint32_t OffsetBir, const uintptr_t *BarAddresses)
{
    uint32_t Bir = OffsetBir & MSIX_BIR_MASK;
    if (Bir > MSIX_MAX_BAR || BarAddresses[Bir] == 0)
        return 0;
    return BarAddresses[Bir] + (OffsetBir & MSIX_OFFSET_MASK);
}

IRQ_STATUS HlMsixDescribeTable(uint16_t MessageControl, uint32_t TableOffsetBir, uint32_t PbaOffsetBir,
                               const uintptr_t BarAddresses[HL_MSIX_BAR_COUNT], HL_MSIX_TABLE *Table)
{
    if (BarAddresses == NULL || Table == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uintptr_t TableAddress = HlpMsixLocate(TableOffsetBir, BarAddresses);
    uintptr_t PbaAddress = HlpMsixLocate(PbaOffsetBir, BarAddresses);
    if (TableAddress == 0 || PbaAddress == 0)
        return IRQ_STATUS_NOT_SUPPORTED;
    Table->Table = TableAddress;
    Table->PendingBits = PbaAddress;
    Table->EntryCount = (MessageControl & MSIX_CONTROL_TABLE_SIZE_MASK) + 1u;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlMsixReadEntry(const HL_MSIX_TABLE *Table, uint32_t Index, HL_MSI_MESSAGE *Message, bool *Masked)
{
    if (!HlpMsixIndexValid(Table, Index))
        return IRQ_STATUS_INVALID_PARAMETER;
    if (Message != NULL) {
        uint64_t High = PlatMmioRead32(HlpMsixEntry(Table, Index, MSIX_ENTRY_ADDRESS_HIGH));
        Message->Address = High << 32 | PlatMmioRead32(HlpMsixEntry(Table, Index, MSIX_ENTRY_ADDRESS_LOW));
        Message->Data = PlatMmioRead32(HlpMsixEntry(Table, Index, MSIX_ENTRY_DATA));
    }
    if (Masked != NULL)
        *Masked = (PlatMmioRead32(HlpMsixEntry(Table, Index, MSIX_ENTRY_VECTOR_CONTROL)) &
                   MSIX_VECTOR_CONTROL_MASK) != 0;
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlMsixWriteEntry(const HL_MSIX_TABLE *Table, uint32_t Index, const HL_MSI_MESSAGE *Message)
{
    if (!HlpMsixIndexValid(Table, Index) || Message == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    HL_MSI_MESSAGE Old;
    (void)HlMsixReadEntry(Table, Index, &Old, NULL);
    if (Old.Address == Message->Address && Old.Data == Message->Data)
        return IRQ_STATUS_SUCCESS; /* nothing to change: no mask window */
    uintptr_t Control = HlpMsixEntry(Table, Index, MSIX_ENTRY_VECTOR_CONTROL);
    uint32_t VectorControl = PlatMmioRead32(Control);
    bool WasUnmasked = (VectorControl & MSIX_VECTOR_CONTROL_MASK) == 0;
    if (WasUnmasked)
        PlatMmioWrite32(Control, VectorControl | MSIX_VECTOR_CONTROL_MASK);
    PlatMmioWrite32(HlpMsixEntry(Table, Index, MSIX_ENTRY_ADDRESS_LOW), (uint32_t)Message->Address);
    PlatMmioWrite32(HlpMsixEntry(Table, Index, MSIX_ENTRY_ADDRESS_HIGH), (uint32_t)(Message->Address >> 32));
    PlatMmioWrite32(HlpMsixEntry(Table, Index, MSIX_ENTRY_DATA), Message->Data);
    if (WasUnmasked)
        PlatMmioWrite32(Control, VectorControl & ~MSIX_VECTOR_CONTROL_MASK);
    return IRQ_STATUS_SUCCESS;
}

IRQ_STATUS HlMsixSetMask(const HL_MSIX_TABLE *Table, uint32_t Index, bool Masked)
{
    if (!HlpMsixIndexValid(Table, Index))
        return IRQ_STATUS_INVALID_PARAMETER;
    uintptr_t Control = HlpMsixEntry(Table, Index, MSIX_ENTRY_VECTOR_CONTROL);
    uint32_t VectorControl = PlatMmioRead32(Control);
    uint32_t Wanted = Masked ? VectorControl | MSIX_VECTOR_CONTROL_MASK : VectorControl & ~MSIX_VECTOR_CONTROL_MASK;
    if (Wanted != VectorControl)
        PlatMmioWrite32(Control, Wanted);
    return IRQ_STATUS_SUCCESS;
}

/* 6.8.2.10: pending bit k is bit k mod 64 of QWORD k / 64; read here as
 * the DWORD that holds it (DWORD reads of the PBA are allowed, 6.8.2). */
IRQ_STATUS HlMsixIsPending(const HL_MSIX_TABLE *Table, uint32_t Index, bool *Pending)
{
    if (!HlpMsixIndexValid(Table, Index) || Pending == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Word = PlatMmioRead32(Table->PendingBits + (uintptr_t)(Index / 32u) * 4u);
    *Pending = (Word >> (Index % 32u) & 1u) != 0;
    return IRQ_STATUS_SUCCESS;
}
