/* SPDX-License-Identifier: MIT */
/*
 * MSI-X (PCI Local Bus 3.0 6.8.2): Hl's table writer (src/hl/msix.c) and
 * Io's MSI-X entries (IO_CONNECT_MESSAGE_BASED_PARAMETERS.MsixTable,
 * IO_DEVICE_TEMPLATE.MsixTable), against the sim's MSI-X function
 * (platform/sim/msix_model.c): a table and PBA in MMIO whose raise is held
 * in the PBA while the entry is masked and sent on unmask.
 *
 * The rule under test: an entry's address and data are never written while
 * it is unmasked (6.8.2.9; the model counts such writes), an interrupt
 * raised while masked is delivered once on unmask, never lost, and each
 * message goes to its own CPU and moves on its own.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>

#include "testbed.h"

#define TABLE_BASE 0xFEB00000u
#define PBA_BASE 0xFEB01000u
#define ENTRY_COUNT 25u /* the 82576's vectors */
#define CPU_COUNT 4u
#define MSIX_REQUESTER 0x0020u /* 00:04.0 */

static uint32_t Device;
static HL_MSIX_TABLE Table;

static void CreateFunction(bool ThroughIommu)
{
    SIM_MSIX_CONFIG Config = {.TableAddress = TABLE_BASE, .PbaAddress = PBA_BASE, .EntryCount = ENTRY_COUNT,
                              .ThroughIommu = ThroughIommu, .RequesterId = MSIX_REQUESTER};
    assert_int_equal(SimMsixCreate(&Config, &Device), 0);
    Table = (HL_MSIX_TABLE){.Table = TABLE_BASE, .PendingBits = PBA_BASE, .EntryCount = ENTRY_COUNT};
}

static int Setup(void **State)
{
    (void)State;
    TbBoot(CPU_COUNT, 0, false);
    CreateFunction(false);
    return 0;
}

static int SetupWideRemapped(void **State)
{
    (void)State;
    SIM_SYSTEM_CONFIG Config = {.CpuCount = TB_WIDE_CPUS, .ApicIds = TbWideApicIds, .X2Apic = true,
                                .InterruptRemapping = true};
    TbBootConfig(&Config);
    CreateFunction(true);
    assert_int_equal(HlRemapAssignRequester(0, MSIX_REQUESTER), IRQ_STATUS_SUCCESS);
    return 0;
}

static int Teardown(void **State)
{
    SimMsixDestroy();
    return TbTeardown(State);
}

static IR_CPU_SET FirstCpus(uint32_t Count)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    for (uint32_t Cpu = 0; Cpu < Count; Cpu++)
        IrCpuSetAdd(&Set, Cpu);
    return Set;
}

static bool Masked(uint32_t Entry)
{
    bool Mask = false;
    assert_int_equal(HlMsixReadEntry(&Table, Entry, NULL, &Mask), IRQ_STATUS_SUCCESS);
    return Mask;
}

static bool Pending(uint32_t Entry)
{
    bool Bit = false;
    assert_int_equal(HlMsixIsPending(&Table, Entry, &Bit), IRQ_STATUS_SUCCESS);
    return Bit;
}

/* Message-based connect of entry Entry, movable over Mask from Cpu. */
static IRQ_STATUS ConnectEntry(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                               uint32_t Entry, HL_MSI_MESSAGE *Message)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = Interrupt, .ServiceRoutine = TbCountingIsr, .ServiceContext = Record,
                         .Irql = KE_IRQL_ANY, .Target = Target, .Message = Message, .MsixTable = &Table,
                         .MsixEntry = Entry, .HasRequesterId = true, .RequesterId = MSIX_REQUESTER},
    };
    return IoConnectInterruptEx(&Parameters);
}

static void RaiseExpect(uint32_t Entry, uint32_t Cpu, TB_ISR_RECORD *Record)
{
    SimMsixRaise(Device, Entry);
    TbAssertHandledOn(Cpu, Record);
}

/* ---- Hl: the capability and the table writer ------------------------------------------- */

/* The 82576's capability: 25 entries, table and PBA in BAR 3. */
static void test_describe_table_from_capability(void **State)
{
    (void)State;
    uintptr_t Bars[HL_MSIX_BAR_COUNT] = {0xFE000000u, 0, 0, 0xFE100000u, 0, 0};
    HL_MSIX_TABLE Described;
    assert_int_equal(HlMsixDescribeTable(ENTRY_COUNT - 1u, 0x3u, 0x2003u, Bars, &Described), IRQ_STATUS_SUCCESS);
    assert_int_equal(Described.Table, 0xFE100000u);
    assert_int_equal(Described.PendingBits, 0xFE102000u);
    assert_int_equal(Described.EntryCount, ENTRY_COUNT);

    /* A BAR that is not memory, a reserved indicator: refused, nothing written. */
    HL_MSIX_TABLE Untouched = {.Table = 1, .PendingBits = 2, .EntryCount = 3};
    assert_int_equal(HlMsixDescribeTable(0, 0x2u, 0x3u, Bars, &Untouched), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlMsixDescribeTable(0, 0x3u, 0x6u, Bars, &Untouched), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlMsixDescribeTable(0, 0x7u, 0x3u, Bars, &Untouched), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(HlMsixDescribeTable(0, 0x3u, 0x3u, NULL, &Untouched), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixDescribeTable(0, 0x3u, 0x3u, Bars, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(Untouched.Table, 1);
    assert_int_equal(Untouched.PendingBits, 2);
    assert_int_equal(Untouched.EntryCount, 3);
}

/* An unmasked entry is rewritten masked and unmasked again; a masked one
 * stays masked; the model saw no address or data write to an unmasked entry. */
static void test_write_entry_masks_around_the_rewrite(void **State)
{
    (void)State;
    HL_MSI_MESSAGE First = {.Address = 0xFEE01000u, .Data = 0x41};
    HL_MSI_MESSAGE Second = {.Address = 0x00000001FEE02000ull, .Data = 0x42};
    assert_true(Masked(2)); /* after reset (6.8.2.9) */
    assert_int_equal(HlMsixWriteEntry(&Table, 2, &First), IRQ_STATUS_SUCCESS);
    assert_true(Masked(2));
    assert_int_equal(HlMsixSetMask(&Table, 2, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlMsixWriteEntry(&Table, 2, &Second), IRQ_STATUS_SUCCESS);
    assert_false(Masked(2));
    HL_MSI_MESSAGE Read;
    assert_int_equal(HlMsixReadEntry(&Table, 2, &Read, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Read.Address, Second.Address);
    assert_int_equal(Read.Data, Second.Data);
    assert_int_equal(SimMsixUnmaskedRewriteCount(Device), 0);
}

/* Bad input: an index past the table, a NULL message, a table with no
 * entries: refused, nothing written. */
static void test_bad_index_writes_nothing(void **State)
{
    (void)State;
    HL_MSI_MESSAGE Message = {.Address = 0xFEE01000u, .Data = 0x41};
    HL_MSIX_TABLE Empty = Table;
    Empty.EntryCount = 0;
    bool Bit;
    assert_int_equal(HlMsixWriteEntry(&Table, ENTRY_COUNT, &Message), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixWriteEntry(&Table, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixWriteEntry(NULL, 0, &Message), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixWriteEntry(&Empty, 0, &Message), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixSetMask(&Table, ENTRY_COUNT, false), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixIsPending(&Table, ENTRY_COUNT, &Bit), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(HlMsixIsPending(&Table, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    for (uint32_t Entry = 0; Entry < ENTRY_COUNT; Entry++) {
        HL_MSI_MESSAGE Read;
        assert_int_equal(HlMsixReadEntry(&Table, Entry, &Read, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(Read.Address, 0);
        assert_int_equal(Read.Data, 0);
        assert_true(Masked(Entry));
    }
}

/* ConnectEntry to one CPU, which must succeed; the message goes into the
 * entry, where the device reads it, so the caller needs no copy. */
static KINTERRUPT *ConnectEntryToCpu(TB_ISR_RECORD *Record, uint32_t Cpu, uint32_t Entry)
{
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message;
    assert_int_equal(ConnectEntry(&Interrupt, Record, TbTargetCpu(Cpu), Entry, &Message), IRQ_STATUS_SUCCESS);
    return Interrupt;
}

/* ---- Io: one message per entry ------------------------------------------------------------- */

/* A raise while the entry is masked is held in the PBA (several merge into
 * one) and delivered once, on its CPU, when the entry is unmasked. */
static void test_masked_raise_held_in_pba_delivered_once_on_unmask(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectEntryToCpu(&Record, 2, 7);
    assert_false(Masked(7));
    RaiseExpect(7, 2, &Record);

    assert_int_equal(HlMsixSetMask(&Table, 7, true), IRQ_STATUS_SUCCESS);
    SimMsixRaise(Device, 7);
    SimMsixRaise(Device, 7);
    assert_int_equal(TbService(2), 0);
    assert_true(Pending(7));
    assert_int_equal(SimMsixSentCount(Device, 7), 1);

    assert_int_equal(HlMsixSetMask(&Table, 7, false), IRQ_STATUS_SUCCESS);
    assert_false(Pending(7));
    assert_int_equal(SimMsixSentCount(Device, 7), 2);
    TbAssertHandledOn(2, &Record);
    assert_int_equal(TbService(2), 0);
    assert_int_equal(atomic_load(&Record.Calls), 2);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

/* N messages, each to its own CPU, each moved on its own: the move
 * rewrites only its entry (masked around the rewrite), the others stay. */
static void test_messages_spread_and_move_each_on_its_own(void **State)
{
    (void)State;
    IR_CPU_SET All = FirstCpus(CPU_COUNT);
    TB_ISR_RECORD Records[CPU_COUNT];
    KINTERRUPT *Interrupts[CPU_COUNT];
    HL_MSI_MESSAGE Messages[CPU_COUNT];
    for (uint32_t Entry = 0; Entry < CPU_COUNT; Entry++) {
        Records[Entry] = (TB_ISR_RECORD){.Claim = true};
        IO_INTERRUPT_TARGET Routable = TbTargetRoutable(&All, IrRouteSpreadCpu(&All, Entry));
        assert_int_equal(ConnectEntry(&Interrupts[Entry], &Records[Entry], Routable, Entry, &Messages[Entry]),
                         IRQ_STATUS_SUCCESS);
    }
    for (uint32_t Entry = 0; Entry < CPU_COUNT; Entry++)
        RaiseExpect(Entry, Entry, &Records[Entry]);
    for (uint32_t Entry = 0; Entry < CPU_COUNT; Entry++) {
        uint32_t Cpu = (Entry + 1u) % CPU_COUNT;
        assert_int_equal(IoSetInterruptTarget(Interrupts[Entry], Cpu), IRQ_STATUS_SUCCESS);
        RaiseExpect(Entry, Cpu, &Records[Entry]);
        /* The entries not moved yet still go where they went. */
        for (uint32_t Other = Entry + 1u; Other < CPU_COUNT; Other++)
            RaiseExpect(Other, Other, &Records[Other]);
        assert_false(Masked(Entry));
    }
    assert_int_equal(SimMsixUnmaskedRewriteCount(Device), 0);
    for (uint32_t Entry = 0; Entry < CPU_COUNT; Entry++) {
        assert_int_equal(IoDisconnectInterrupt(Interrupts[Entry]), IRQ_STATUS_SUCCESS);
        assert_true(Masked(Entry));
    }
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* Disconnect masks the entry before the vector goes: a later raise is held,
 * reaches no CPU. */
static void test_disconnect_masks_the_entry(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = ConnectEntryToCpu(&Record, 1, 3);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_true(Masked(3));
    SimMsixRaise(Device, 3);
    assert_true(Pending(3));
    assert_int_equal(TbService(1), 0);
}

/* An entry past the table is refused before anything is allocated. */
static void test_connect_refuses_entry_past_the_table(void **State)
{
    (void)State;
    TB_SNAPSHOT Before = TbTakeSnapshot();
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message;
    assert_int_equal(ConnectEntry(&Interrupt, &Record, TbTargetCpu(1), ENTRY_COUNT, &Message),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_null(Interrupt);
    TbAssertUnchanged(&Before);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* A device template: message i in entry i, spread one per CPU. */
static void test_template_spreads_entries(void **State)
{
    (void)State;
    IR_CPU_SET All = FirstCpus(CPU_COUNT);
    TB_ISR_RECORD Record = {.Claim = true};
    IO_DEVICE_TEMPLATE Template = {.Name = "msix", .Kind = IoDeviceMessages, .Count = CPU_COUNT,
                                   .Routing = IoDeviceSpread, .Mask = &All, .MsixTable = &Table};
    IO_DEVICE_CONNECTION Connection;
    assert_int_equal(IoConnectDevice(&Template, TbCountingIsr, &Record, &Connection), IRQ_STATUS_SUCCESS);
    for (uint32_t Entry = 0; Entry < CPU_COUNT; Entry++) {
        HL_MSI_MESSAGE Read;
        assert_int_equal(HlMsixReadEntry(&Table, Entry, &Read, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(Read.Address, Connection.Messages[Entry].Address);
        assert_int_equal(Read.Data, Connection.Messages[Entry].Data);
        RaiseExpect(Entry, IrRouteSpreadCpu(&All, Entry), &Record);
    }
    assert_true(Masked(CPU_COUNT)); /* no message, no unmask */
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
}

/* Through a remapping unit: the entry holds the remappable-format message,
 * written once; moves rewrite the remapping entry and leave the table as
 * it is, and every CPU (APIC ids past 254 too) is reached. */
static void test_remapped_entries_move_in_the_remapping_table(void **State)
{
    (void)State;
    IR_CPU_SET All = FirstCpus(TB_WIDE_CPUS);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = NULL;
    HL_MSI_MESSAGE Message;
    assert_int_equal(ConnectEntry(&Interrupt, &Record, TbTargetRoutable(&All, 0), 5, &Message), IRQ_STATUS_SUCCESS);
    assert_int_equal(Message.Address & (1u << 4), 1u << 4);
    for (uint32_t Step = 0; Step < TB_WIDE_CPUS; Step++) {
        uint32_t Cpu = (Step * 5u + 3u) % TB_WIDE_CPUS;
        assert_int_equal(IoSetInterruptTarget(Interrupt, Cpu), IRQ_STATUS_SUCCESS);
        HL_MSI_MESSAGE Read;
        assert_int_equal(HlMsixReadEntry(&Table, 5, &Read, NULL), IRQ_STATUS_SUCCESS);
        assert_int_equal(Read.Address, Message.Address);
        assert_int_equal(Read.Data, Message.Data);
        RaiseExpect(5, Cpu, &Record);
    }
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
}

#define MSIX_TEST(Test) cmocka_unit_test_setup_teardown(Test, Setup, Teardown)

int main(void)
{
    const struct CMUnitTest Tests[] = {
        MSIX_TEST(test_describe_table_from_capability),
        MSIX_TEST(test_write_entry_masks_around_the_rewrite),
        MSIX_TEST(test_bad_index_writes_nothing),
        MSIX_TEST(test_masked_raise_held_in_pba_delivered_once_on_unmask),
        MSIX_TEST(test_messages_spread_and_move_each_on_its_own),
        MSIX_TEST(test_disconnect_masks_the_entry),
        MSIX_TEST(test_connect_refuses_entry_past_the_table),
        MSIX_TEST(test_template_spreads_entries),
        cmocka_unit_test_setup_teardown(test_remapped_entries_move_in_the_remapping_table, SetupWideRemapped,
                                        Teardown),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
