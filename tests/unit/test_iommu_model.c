/* SPDX-License-Identifier: MIT */
/*
 * The sim's VT-d remapping unit model (platform/sim/iommu_model.c), driven
 * through its registers as an interrupt remapping driver would (VT-d spec
 * rev. 3.x: 5.1 interrupt remapping, 6.5.2 queued invalidation, 7 fault
 * recording, 9.10 the IRTE, 10.4 the registers): latch a table with SIRTP,
 * enable queued invalidation, then IR, one GCMD bit per write; write IRTEs
 * in memory, invalidate the interrupt entry cache through the queue and
 * wait for it with a status-write wait descriptor; then requests. Each
 * remapping fault reason is provoked and read back from the fault recording
 * registers; the entry cache keeps an IRTE changed without invalidation;
 * accesses the unit refuses fault (SimSetFaultHandler).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "tb_main.h"

#define BASE 0xFED90000u
#define REG(Offset) ((uintptr_t)BASE + (Offset))
#define VER 0x000u
#define CAP 0x008u
#define ECAP 0x010u
#define GCMD 0x018u
#define GSTS 0x01Cu
#define FSTS 0x034u
#define FECTL 0x038u
#define IQH 0x080u
#define IQT 0x088u
#define IQA 0x090u
#define ICS 0x09Cu
#define IRTA 0x0B8u
#define FRCD0 0x220u

#define GCMD_TE (1u << 31)
#define GCMD_QIE (1u << 26)
#define GCMD_IRE (1u << 25)
#define GCMD_SIRTP (1u << 24)
#define GCMD_CFI (1u << 23)
/* 10.4.4: the one-shot bits are left out of the value written back. */
#define GSTS_PERSISTENT_MASK 0x96FFFFFFu

#define FSTS_PFO (1u << 0)
#define FSTS_PPF (1u << 1)
#define FSTS_IQE (1u << 4)
#define FECTL_IP (1u << 30)

#define TABLE_SIZE_FIELD 7u /* 2^(7+1) = 256 entries */
#define TABLE_ENTRIES 256u
#define QUEUE_ENTRIES 256u  /* IQA.QS 0: one page */

#define IOAPIC_SID 0xFF00u
#define EDU_SID 0x0018u /* 00:03.0 */

typedef struct _IRTE {
    uint64_t Low;
    uint64_t High;
} IRTE;

static IRTE *Table;
static uint64_t *Queue; /* pairs: low, high */
static uint32_t Tail;
static volatile uint32_t *Status;
static uint32_t Faults;
static char LastFault[512];

static void CountFault(const char *Hook, uint64_t Where, const char *Why)
{
    (void)Hook;
    (void)Where;
    Faults++;
    strncpy(LastFault, Why, sizeof(LastFault) - 1);
}

static uint32_t Read32(uint32_t Offset)
{
    return (uint32_t)SimIommuMmioRead(REG(Offset), 4);
}

static void Write32(uint32_t Offset, uint32_t Value)
{
    SimIommuMmioWrite(REG(Offset), 4, Value);
}

static uint64_t Read64(uint32_t Offset)
{
    return SimIommuMmioRead(REG(Offset), 8);
}

static void Write64(uint32_t Offset, uint64_t Value)
{
    SimIommuMmioWrite(REG(Offset), 8, Value);
}

/* 10.4.4: one command per write, the others as GSTS reports them. */
static void Command(uint32_t Bit, bool On)
{
    uint32_t Value = Read32(GSTS) & GSTS_PERSISTENT_MASK;
    Value = On ? Value | Bit : Value & ~Bit;
    Write32(GCMD, Value);
}

static int CreateUnit(bool Eim, uint32_t Records)
{
    SIM_IOMMU_CONFIG Config = {.Address = BASE, .ExtendedInterruptMode = Eim, .FaultRecordCount = Records};
    if (SimIommuCreate(&Config, 1) != 0)
        return -1;
    Table = aligned_alloc(4096, TABLE_ENTRIES * sizeof(IRTE));
    Queue = aligned_alloc(4096, QUEUE_ENTRIES * 16u);
    Status = aligned_alloc(64, 64);
    if (Table == NULL || Queue == NULL || Status == NULL)
        return -1;
    memset(Table, 0, TABLE_ENTRIES * sizeof(IRTE));
    memset(Queue, 0, QUEUE_ENTRIES * 16u);
    *Status = 0;
    Tail = 0;
    Faults = 0;
    LastFault[0] = 0;
    SimSetFaultHandler(CountFault);
    return 0;
}

static int Setup(void **State)
{
    (void)State;
    return CreateUnit(true, 4);
}

static int SetupNoEim(void **State)
{
    (void)State;
    return CreateUnit(false, 4);
}

static int Teardown(void **State)
{
    (void)State;
    SimSetFaultHandler(NULL);
    SimIommuDestroy();
    free(Table);
    free(Queue);
    free((void *)Status);
    return 0;
}

/* ---- The driver's side ------------------------------------------------------------- */

static void Submit(uint64_t Low, uint64_t High)
{
    Queue[Tail * 2] = Low;
    Queue[Tail * 2 + 1] = High;
    Tail = (Tail + 1u) % QUEUE_ENTRIES;
    Write64(IQT, (uint64_t)Tail << 4);
}

/* An invalidation wait descriptor (6.5.2.8) with a status write, and the
 * driver's wait for it. */
static void WaitForQueue(void)
{
    *Status = 0;
    Submit(5u | 1u << 5 | (uint64_t)0x600D << 32, (uint64_t)(uintptr_t)Status);
    assert_int_equal(*Status, 0x600D);
    assert_int_equal(Read64(IQH), Read64(IQT));
}

/* 6.5.2.7: G clear = global, set = index-selective over 2^Mask entries. */
static void InvalidateAll(void)
{
    Submit(4u, 0);
    WaitForQueue();
}

static void InvalidateIndex(uint32_t Index, uint32_t Mask)
{
    Submit(4u | 1u << 4 | (uint64_t)Mask << 27 | (uint64_t)Index << 32, 0);
    WaitForQueue();
}

/* Writes one IRTE in memory and invalidates the entry cache, so the next
 * request sees it (6.5.2.7: software invalidates after changing an IRTE). */
static void PublishEntry(uint32_t Index, IRTE Value)
{
    Table[Index] = Value;
    InvalidateAll();
}

static void EnableRemapping(bool Eime)
{
    Write64(IRTA, (uint64_t)(uintptr_t)Table | (Eime ? 1u << 11 : 0u) | TABLE_SIZE_FIELD);
    Command(GCMD_SIRTP, true);
    assert_true(Read32(GSTS) & GCMD_SIRTP); /* IRTPS */
    Write64(IQT, 0);
    Write64(IQA, (uint64_t)(uintptr_t)Queue);
    Command(GCMD_QIE, true);
    assert_true(Read32(GSTS) & GCMD_QIE);
    InvalidateAll(); /* 10.4.4: after SIRTP, a global invalidation */
    Command(GCMD_IRE, true);
    assert_int_equal(Read32(GSTS), GCMD_QIE | GCMD_IRE | GCMD_SIRTP);
}

/* IRTE (9.10): present, fixed, physical, edge unless Level. */
static IRTE Entry(uint8_t Vector, uint32_t Destination, bool Eime, bool Level, uint16_t Sid, uint32_t Sq,
                  uint32_t Svt)
{
    uint64_t Dst = Eime ? (uint64_t)Destination << 32 : (uint64_t)(Destination & 0xFFu) << 40;
    return (IRTE){.Low = 1u | (Level ? 1u << 4 : 0u) | (uint64_t)Vector << 16 | Dst,
                  .High = Sid | (uint64_t)Sq << 16 | (uint64_t)Svt << 18};
}

static uint64_t MsiAddress(uint32_t Handle, bool Shv)
{
    return 0xFEE00000u | (Handle & 0x7FFFu) << 5 | 1u << 4 | (Shv ? 1u << 3 : 0u) | ((Handle >> 15) & 1u) << 2;
}

static SIM_IOMMU_OUTCOME Msi(uint32_t Handle, uint16_t Sid, SIM_IOMMU_INTERRUPT *Interrupt)
{
    return SimIommuRemapMsi(0, MsiAddress(Handle, false), 0, Sid, Interrupt);
}

/* An MSI through handle Handle from Sid is blocked with fault reason Reason
 * (VT-d spec ch. 7, interrupt-remapping fault reasons). */
static void AssertMsiFault(uint32_t Handle, uint16_t Sid, uint8_t Reason)
{
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(Msi(Handle, Sid, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, Reason);
}

/* The fault record n: reason, source id, index; F set. */
static void AssertRecord(uint32_t Record, uint8_t Reason, uint16_t Sid, uint16_t Index)
{
    uint64_t Low = Read64(FRCD0 + Record * 16u);
    uint64_t High = Read64(FRCD0 + Record * 16u + 8u);
    assert_true(High >> 63);
    assert_int_equal((High >> 32) & 0xFFu, Reason);
    assert_int_equal(High & 0xFFFFu, Sid);
    assert_int_equal(Low >> 48, Index);
}

static void ClearRecord(uint32_t Record)
{
    Write32(FRCD0 + Record * 16u + 12u, 1u << 31);
}

/* ---- Registers ------------------------------------------------------------------------ */

static void test_power_up_registers(void **State)
{
    (void)State;
    assert_int_equal(Read32(VER), 0x10);
    uint64_t Cap = Read64(CAP);
    assert_int_equal(Cap & 7u, 6);                      /* ND: 16-bit domain ids */
    assert_int_equal(((Cap >> 24) & 0x3FFu) * 16u, FRCD0); /* FRO */
    assert_int_equal((Cap >> 40) & 0xFFu, 3);           /* NFR: 4 records */
    assert_int_equal(Read32(CAP + 4), (uint32_t)(Cap >> 32));
    uint64_t Ecap = Read64(ECAP);
    assert_true(Ecap & (1u << 1)); /* QI */
    assert_true(Ecap & (1u << 3)); /* IR */
    assert_true(Ecap & (1u << 4)); /* EIM */
    assert_int_equal(Read32(GSTS), 0);
    assert_int_equal(Read32(FSTS), 0);
    assert_int_equal(Read32(FECTL), 1u << 31); /* IM */
    assert_int_equal(Faults, 0);
}

static void test_no_eim_unit(void **State)
{
    (void)State;
    assert_false(Read64(ECAP) & (1u << 4));
    Write64(IRTA, (uint64_t)(uintptr_t)Table | 1u << 11 | TABLE_SIZE_FIELD);
    assert_int_equal(Faults, 1);
    assert_int_equal(Read64(IRTA), 0);
}

static void test_access_widths_and_offsets(void **State)
{
    (void)State;
    (void)SimIommuMmioRead(REG(GSTS), 8); /* a 32-bit register */
    assert_int_equal(Faults, 1);
    (void)SimIommuMmioRead(REG(VER), 2);
    assert_int_equal(Faults, 2);
    (void)SimIommuMmioRead(REG(CAP + 4), 8); /* 64-bit, misaligned */
    assert_int_equal(Faults, 3);
    assert_int_equal(SimIommuMmioRead(REG(0x100), 4), 0); /* nothing there */
    assert_int_equal(Faults, 4);
    (void)SimIommuMmioRead(REG(0x020), 8); /* RTADDR: DMA remapping */
    assert_int_equal(Faults, 5);
    Write32(GSTS, GCMD_QIE); /* GSTS for GCMD */
    assert_int_equal(Faults, 6);
    assert_int_equal(Read32(GSTS), 0);
    Write64(CAP, 0);
    assert_int_equal(Faults, 7);
    Write64(IQH, 0x10);
    assert_int_equal(Faults, 8);
    Write64(IRTA, (uint64_t)(uintptr_t)Table | 0x10u); /* reserved bit 4 */
    assert_int_equal(Faults, 9);
    Write32(FRCD0, 0); /* the low half of a fault record */
    assert_int_equal(Faults, 10);
    (void)SimIommuMmioRead(REG(FRCD0 + 4u * 16u), 8); /* only 4 records */
    assert_int_equal(Faults, 11);
    /* 64-bit registers take 32-bit halves. */
    Write32(IQA, 0x1000);
    Write32(IQA + 4, 0x12);
    assert_int_equal(Read64(IQA), 0x1200001000ull);
    assert_int_equal(Faults, 11);
}

static void test_gcmd_one_command_per_write(void **State)
{
    (void)State;
    /* IR before a table is latched. */
    Command(GCMD_IRE, true);
    assert_int_equal(Faults, 1);
    assert_int_equal(Read32(GSTS), 0);
    Write64(IRTA, (uint64_t)(uintptr_t)Table | 1u << 11 | TABLE_SIZE_FIELD);
    /* Two commands at once. */
    Write32(GCMD, GCMD_SIRTP | GCMD_QIE);
    assert_int_equal(Faults, 2);
    assert_int_equal(Read32(GSTS), 0);
    Command(GCMD_SIRTP, true);
    Command(GCMD_QIE, true);
    assert_int_equal(Read32(GSTS), GCMD_SIRTP | GCMD_QIE);
    /* IRE written alone clears QIE: two changes. */
    Write32(GCMD, GCMD_IRE);
    assert_int_equal(Faults, 3);
    assert_int_equal(Read32(GSTS), GCMD_SIRTP | GCMD_QIE);
    Write32(GCMD, GCMD_QIE | 1u); /* reserved bit */
    assert_int_equal(Faults, 4);
    Command(GCMD_TE, true); /* DMA remapping */
    assert_int_equal(Faults, 5);
    Command(GCMD_IRE, true);
    Command(GCMD_CFI, true);
    assert_int_equal(Read32(GSTS), GCMD_SIRTP | GCMD_QIE | GCMD_IRE | GCMD_CFI);
    Command(GCMD_CFI, false);
    Command(GCMD_IRE, false);
    assert_int_equal(Read32(GSTS), GCMD_SIRTP | GCMD_QIE);
    /* A write that changes nothing is no command. */
    Write32(GCMD, GCMD_QIE);
    assert_int_equal(Faults, 5);
    /* IQA may not move under an enabled queue. */
    Write64(IQA, (uint64_t)(uintptr_t)Queue);
    assert_int_equal(Faults, 6);
}

/* ---- Requests -------------------------------------------------------------------------------- */

static void test_remap_msi_x2apic_destination(void **State)
{
    (void)State;
    EnableRemapping(true);
    Table[5] = Entry(0x41, 300, true, false, EDU_SID, 0, 1);
    InvalidateIndex(5, 0);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(Msi(5, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Vector, 0x41);
    assert_int_equal(Interrupt.Destination, 300);
    assert_false(Interrupt.Logical);
    assert_false(Interrupt.Level);
    assert_int_equal(Interrupt.DeliveryMode, 0);
    assert_int_equal(Interrupt.Index, 5);
    /* Handle 4 + subhandle 1 (SHV). */
    assert_int_equal(SimIommuRemapMsi(0, MsiAddress(4, true), 1, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Index, 5);
    assert_int_equal(Interrupt.Destination, 300);
    /* Without SHV the subhandle is not added. */
    assert_int_equal(SimIommuRemapMsi(0, MsiAddress(4, false), 1, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x22);
    assert_int_equal(SimIommuRecordedFaultCount(0), 1);
    assert_int_equal(Faults, 0);
}

static void test_remap_modes_and_xapic_destination(void **State)
{
    (void)State;
    EnableRemapping(false);
    IRTE Value = Entry(0x52, 0xAB, false, true, EDU_SID, 0, 0);
    Value.Low |= 1u << 2 | 1u << 3 | 1u << 5; /* logical, redirection hint, lowest priority */
    PublishEntry(9, Value);
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(Msi(9, 0x1234, &Interrupt), SimIommuRemapped); /* SVT 0: any requester */
    assert_int_equal(Interrupt.Destination, 0xAB);
    assert_true(Interrupt.Logical);
    assert_true(Interrupt.RedirectionHint);
    assert_true(Interrupt.Level);
    assert_int_equal(Interrupt.DeliveryMode, 1);
    assert_int_equal(Interrupt.Vector, 0x52);
}

/* A redirection entry in remappable format (5.1.5.1): index 15:0 from bits
 * 11 and 63:49, format bit 48. */
static void test_remap_ioapic_entry(void **State)
{
    (void)State;
    EnableRemapping(true);
    PublishEntry(7, Entry(0x30, 0x1000, true, true, IOAPIC_SID, 0, 1));
    uint64_t Rte = 0x30u | 1u << 15 | 1ull << 48 | (uint64_t)7 << 49;
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SimIommuRemapIoApicEntry(0, Rte, IOAPIC_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 0x1000);
    assert_true(Interrupt.Level);
    assert_int_equal(Interrupt.Index, 7);
    /* Bit 11 is index bit 15: beyond this 256-entry table. */
    assert_int_equal(SimIommuRemapIoApicEntry(0, Rte | 1u << 11, IOAPIC_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x21);
    AssertRecord(0, 0x21, IOAPIC_SID, 0x8007);
    /* Bits 10:8 must be 000 in remappable format. */
    assert_int_equal(SimIommuRemapIoApicEntry(0, Rte | 1u << 8, IOAPIC_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x20);
}

/* ---- Faults --------------------------------------------------------------------------------------- */

static void test_fault_not_present_recorded_and_cleared(void **State)
{
    (void)State;
    EnableRemapping(true);
    SIM_IOMMU_INTERRUPT Interrupt;
    AssertMsiFault(3, EDU_SID, 0x22);
    uint32_t Fsts = Read32(FSTS);
    assert_true(Fsts & FSTS_PPF);
    assert_int_equal((Fsts >> 8) & 0xFFu, 0); /* FRI */
    assert_true(Read32(FECTL) & FECTL_IP);
    AssertRecord(0, 0x22, EDU_SID, 3);
    assert_int_equal(SimIommuRecordedFaultCount(0), 1);
    /* The next fault goes to the next record, FRI stays on the first. */
    assert_int_equal(Msi(4, EDU_SID, &Interrupt), SimIommuBlocked);
    AssertRecord(1, 0x22, EDU_SID, 4);
    assert_int_equal((Read32(FSTS) >> 8) & 0xFFu, 0);
    /* A 32-bit write of the low dword of the high half leaves F alone. */
    Write32(FRCD0 + 8u, 0xFFFFFFFFu);
    AssertRecord(0, 0x22, EDU_SID, 3);
    ClearRecord(0);
    ClearRecord(1);
    assert_false(Read64(FRCD0 + 8u) >> 63);
    assert_int_equal(Read32(FSTS) & FSTS_PPF, 0);
    assert_int_equal(Read32(FECTL) & FECTL_IP, 0);
    assert_int_equal(Faults, 0);
}

static void test_fault_index_beyond_table(void **State)
{
    (void)State;
    EnableRemapping(true);
    SIM_IOMMU_INTERRUPT Interrupt;
    AssertMsiFault(TABLE_ENTRIES, EDU_SID, 0x21);
    AssertRecord(0, 0x21, EDU_SID, TABLE_ENTRIES);
    /* The last entry is inside. */
    PublishEntry(TABLE_ENTRIES - 1, Entry(0x40, 1, true, false, 0, 0, 0));
    assert_int_equal(Msi(TABLE_ENTRIES - 1, EDU_SID, &Interrupt), SimIommuRemapped);
}

/* 9.10 SVT/SQ: full compare, function bits ignored, bus range. */
static void test_fault_source_id(void **State)
{
    (void)State;
    EnableRemapping(true);
    Table[1] = Entry(0x40, 1, true, false, EDU_SID, 0, 1);
    Table[2] = Entry(0x41, 1, true, false, 0x0018, 3, 1); /* SQ 3: ignore bits 2:0 */
    Table[3] = Entry(0x42, 1, true, false, 0x0305, 0, 2); /* buses 3..5 */
    InvalidateAll();
    SIM_IOMMU_INTERRUPT Interrupt;
    AssertMsiFault(1, EDU_SID + 1, 0x26);
    AssertRecord(0, 0x26, EDU_SID + 1, 1);
    assert_int_equal(Msi(2, 0x001F, &Interrupt), SimIommuRemapped);
    assert_int_equal(Msi(2, 0x0020, &Interrupt), SimIommuBlocked);
    assert_int_equal(Msi(3, 0x0300, &Interrupt), SimIommuRemapped);
    assert_int_equal(Msi(3, 0x05FF, &Interrupt), SimIommuRemapped);
    assert_int_equal(Msi(3, 0x0600, &Interrupt), SimIommuBlocked);
    assert_int_equal(Msi(3, 0x02FF, &Interrupt), SimIommuBlocked);
    assert_int_equal(SimIommuRecordedFaultCount(0), 4);
}

/* FPD: a qualified fault of the entry is not recorded. */
static void test_fault_processing_disable(void **State)
{
    (void)State;
    EnableRemapping(true);
    Table[1] = Entry(0x40, 1, true, false, EDU_SID, 0, 1);
    Table[1].Low |= 1u << 1;
    Table[2].Low = 1u << 1; /* not present, FPD */
    InvalidateAll();
    AssertMsiFault(1, 0x0001, 0x26);
    AssertMsiFault(2, EDU_SID, 0x22);
    assert_int_equal(SimIommuRecordedFaultCount(0), 0);
    assert_int_equal(SimIommuDroppedFaultCount(0), 2);
    assert_int_equal(Read32(FSTS), 0);
}

static void test_fault_reserved_entry_fields(void **State)
{
    (void)State;
    EnableRemapping(false);
    Table[1] = Entry(0x40, 1, false, false, 0, 0, 0);
    Table[1].Low |= 1u << 15; /* IM: posted, not supported */
    Table[2] = Entry(0x40, 1, false, false, 0, 0, 0);
    Table[2].Low |= 1ull << 32; /* destination bit 32 without EIME */
    Table[3] = Entry(0x40, 1, false, false, 0, 0, 3); /* SVT 3 */
    Table[4] = Entry(0x40, 1, false, false, 0, 0, 0);
    Table[4].Low |= 3u << 5; /* delivery mode 3 */
    InvalidateAll();
    for (uint32_t Index = 1; Index <= 4; Index++) {
        AssertMsiFault(Index, EDU_SID, 0x24);
    }
    AssertRecord(3, 0x24, EDU_SID, 4);
}

static void test_fault_request_reserved(void **State)
{
    (void)State;
    EnableRemapping(true);
    PublishEntry(1, Entry(0x40, 1, true, false, 0, 0, 0));
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(SimIommuRemapMsi(0, MsiAddress(1, false), 0x10000u, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x20);
    AssertRecord(0, 0x20, EDU_SID, 1);
    /* An address outside the interrupt window is no interrupt at all. */
    assert_int_equal(SimIommuRemapMsi(0, 0xFED00000u, 0, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Faults, 1);
}

static void test_fault_table_invalid(void **State)
{
    (void)State;
    Write64(IRTA, TABLE_SIZE_FIELD); /* base 0 */
    Command(GCMD_SIRTP, true);
    Command(GCMD_IRE, true);
    AssertMsiFault(1, EDU_SID, 0x23);
    AssertRecord(0, 0x23, EDU_SID, 1);
}

/* Compatibility format: blocked while IR is on and CFI clear (0x25). */
static void test_compatibility_format(void **State)
{
    (void)State;
    uint64_t Compat = 0xFEE00000u | 0x07u << 12;
    SIM_IOMMU_INTERRUPT Interrupt;
    /* IR off: everything passes as compatibility format, remappable too. */
    assert_int_equal(SimIommuRemapMsi(0, Compat, 0x8035u, EDU_SID, &Interrupt), SimIommuPassThrough);
    assert_int_equal(Interrupt.Destination, 7);
    assert_int_equal(Interrupt.Vector, 0x35);
    assert_true(Interrupt.Level);
    assert_int_equal(Msi(1, EDU_SID, &Interrupt), SimIommuPassThrough);
    EnableRemapping(true);
    assert_int_equal(SimIommuRemapMsi(0, Compat, 0x35u, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x25);
    AssertRecord(0, 0x25, EDU_SID, 0);
    uint64_t Rte = 0x36u | (uint64_t)3 << 56;
    assert_int_equal(SimIommuRemapIoApicEntry(0, Rte, IOAPIC_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Interrupt.FaultReason, 0x25);
    Command(GCMD_CFI, true);
    assert_int_equal(SimIommuRemapIoApicEntry(0, Rte, IOAPIC_SID, &Interrupt), SimIommuPassThrough);
    assert_int_equal(Interrupt.Destination, 3);
    assert_int_equal(Interrupt.Vector, 0x36);
}

/* NFR records; a fault finding the next record still pending sets PFO and
 * is lost, and so is every fault while PFO stays set. */
static void test_fault_overflow(void **State)
{
    (void)State;
    EnableRemapping(true);
    SIM_IOMMU_INTERRUPT Interrupt;
    for (uint32_t Index = 0; Index < 4; Index++)
        assert_int_equal(Msi(Index, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(Read32(FSTS) & FSTS_PFO, 0);
    assert_int_equal(Msi(10, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_true(Read32(FSTS) & FSTS_PFO);
    assert_int_equal(SimIommuRecordedFaultCount(0), 4);
    assert_int_equal(SimIommuDroppedFaultCount(0), 1);
    ClearRecord(0);
    assert_int_equal(Msi(11, EDU_SID, &Interrupt), SimIommuBlocked);
    assert_int_equal(SimIommuDroppedFaultCount(0), 2); /* PFO still set */
    Write32(FSTS, FSTS_PFO);
    assert_int_equal(Msi(12, EDU_SID, &Interrupt), SimIommuBlocked);
    AssertRecord(0, 0x22, EDU_SID, 12);
    assert_int_equal(SimIommuRecordedFaultCount(0), 5);
}

/* ---- The entry cache ------------------------------------------------------------------------------------ */

/* A driver that changes an IRTE and forgets the invalidation keeps getting
 * the old entry, until an invalidation covering it. */
static void test_stale_entry_until_invalidated(void **State)
{
    (void)State;
    EnableRemapping(true);
    PublishEntry(20, Entry(0x40, 300, true, false, EDU_SID, 0, 1));
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(Msi(20, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 300);
    /* Move it: one 64-bit store of the low half, no invalidation. */
    Table[20].Low = Entry(0x40, 301, true, false, EDU_SID, 0, 1).Low;
    assert_int_equal(Msi(20, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 300);
    /* An index-selective invalidation of another block changes nothing. */
    InvalidateIndex(16, 2); /* 16-19 */
    assert_int_equal(Msi(20, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 300);
    InvalidateIndex(21, 1); /* 20-21: the aligned block holding 21 */
    assert_int_equal(Msi(20, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 301);
    /* Clearing P without invalidation: still delivered from the cache. */
    Table[20].Low = 0;
    assert_int_equal(Msi(20, EDU_SID, &Interrupt), SimIommuRemapped);
    InvalidateAll();
    AssertMsiFault(20, EDU_SID, 0x22);
}

/* CAP.CM is clear: a not-present entry is never cached (ch. 6, caching
 * mode), so an entry made present needs no invalidation to be seen. */
static void test_not_present_entry_not_cached(void **State)
{
    (void)State;
    EnableRemapping(true);
    SIM_IOMMU_INTERRUPT Interrupt;
    AssertMsiFault(30, EDU_SID, 0x22);
    assert_int_equal(Read64(CAP) & (1u << 7), 0); /* CM */
    Table[30] = Entry(0x44, 7, true, false, EDU_SID, 0, 1);
    assert_int_equal(Msi(30, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 7);
}

/* A new table latched by SIRTP does not drop cached entries either. */
static void test_sirtp_keeps_cache(void **State)
{
    (void)State;
    EnableRemapping(true);
    PublishEntry(2, Entry(0x40, 5, true, false, 0, 0, 0));
    SIM_IOMMU_INTERRUPT Interrupt;
    assert_int_equal(Msi(2, EDU_SID, &Interrupt), SimIommuRemapped);
    IRTE *Other = aligned_alloc(4096, TABLE_ENTRIES * sizeof(IRTE));
    assert_non_null(Other);
    memset(Other, 0, TABLE_ENTRIES * sizeof(IRTE));
    Other[2] = Entry(0x40, 6, true, false, 0, 0, 0);
    Write64(IRTA, (uint64_t)(uintptr_t)Other | 1u << 11 | TABLE_SIZE_FIELD);
    Command(GCMD_SIRTP, true);
    assert_int_equal(Msi(2, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 5);
    InvalidateAll();
    assert_int_equal(Msi(2, EDU_SID, &Interrupt), SimIommuRemapped);
    assert_int_equal(Interrupt.Destination, 6);
    free(Other);
}

/* ---- The queue ------------------------------------------------------------------------------------------------ */

static void test_queue_error_and_resume(void **State)
{
    (void)State;
    EnableRemapping(true);
    uint64_t Head = Read64(IQH);
    Submit(9u, 0); /* no such descriptor type */
    assert_true(Read32(FSTS) & FSTS_IQE);
    assert_int_equal(Read64(IQH), Head);
    /* Disabling QI with the descriptor still queued is refused. */
    Command(GCMD_QIE, false);
    assert_int_equal(Faults, 1);
    assert_true(Read32(GSTS) & GCMD_QIE);
    /* Fix it (a global IEC invalidation), clear IQE: fetching resumes. */
    Queue[Head >> 4 << 1] = 4u;
    Write32(FSTS, FSTS_IQE);
    assert_int_equal(Read64(IQH), Read64(IQT));
    /* Reserved bits of an IEC descriptor and a wait without a status address. */
    Submit(4u | 1u << 12, 0);
    assert_true(Read32(FSTS) & FSTS_IQE);
    Queue[(Read64(IQH) >> 4) * 2] = 4u;
    Write32(FSTS, FSTS_IQE);
    Submit(5u | 1u << 5, 0);
    assert_true(Read32(FSTS) & FSTS_IQE);
    Queue[(Read64(IQH) >> 4) * 2] = 4u;
    Write32(FSTS, FSTS_IQE);
    WaitForQueue();
    Command(GCMD_QIE, false);
    assert_int_equal(Read32(GSTS) & GCMD_QIE, 0);
    assert_int_equal(Faults, 1);
}

/* A tail past the queue's end is a queue error, not a fault. */
static void test_queue_tail_beyond_queue(void **State)
{
    (void)State;
    EnableRemapping(true);
    Write64(IQT, (uint64_t)QUEUE_ENTRIES << 4);
    assert_true(Read32(FSTS) & FSTS_IQE);
    assert_int_equal(Faults, 0);
}

/* The wait descriptor's interrupt flag sets ICS.IWC (RW1C). */
static void test_wait_interrupt_flag(void **State)
{
    (void)State;
    EnableRemapping(true);
    assert_int_equal(Read32(ICS), 0);
    Submit(5u | 1u << 4, 0);
    assert_int_equal(Read32(ICS), 1);
    Write32(ICS, 1);
    assert_int_equal(Read32(ICS), 0);
    /* IQH restarts at 0 when QI is enabled again. */
    assert_int_equal(Read64(IQH), (uint64_t)Tail << 4);
    Command(GCMD_QIE, false);
    Write64(IQT, 0);
    Command(GCMD_QIE, true);
    assert_int_equal(Read64(IQH), 0);
    Tail = 0;
    WaitForQueue();
}

#define IOMMU_TEST(Name) cmocka_unit_test_setup_teardown(Name, Setup, Teardown)

TB_TEST_MAIN(
    IOMMU_TEST(test_power_up_registers),
    cmocka_unit_test_setup_teardown(test_no_eim_unit, SetupNoEim, Teardown),
    IOMMU_TEST(test_access_widths_and_offsets),
    IOMMU_TEST(test_gcmd_one_command_per_write),
    IOMMU_TEST(test_remap_msi_x2apic_destination),
    IOMMU_TEST(test_remap_modes_and_xapic_destination),
    IOMMU_TEST(test_remap_ioapic_entry),
    IOMMU_TEST(test_fault_not_present_recorded_and_cleared),
    IOMMU_TEST(test_fault_index_beyond_table),
    IOMMU_TEST(test_fault_source_id),
    IOMMU_TEST(test_fault_processing_disable),
    IOMMU_TEST(test_fault_reserved_entry_fields),
    IOMMU_TEST(test_fault_request_reserved),
    IOMMU_TEST(test_fault_table_invalid),
    IOMMU_TEST(test_compatibility_format),
    IOMMU_TEST(test_fault_overflow),
    IOMMU_TEST(test_stale_entry_until_invalidated),
    IOMMU_TEST(test_not_present_entry_not_cached),
    IOMMU_TEST(test_sirtp_keeps_cache),
    IOMMU_TEST(test_queue_error_and_resume),
    IOMMU_TEST(test_queue_tail_beyond_queue),
    IOMMU_TEST(test_wait_interrupt_flag))
