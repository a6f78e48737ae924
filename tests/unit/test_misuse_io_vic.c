/* SPDX-License-Identifier: MIT */
/*
 * Misuse of the Io and Vic interfaces: every refused call returns the status
 * its header comment lists and changes nothing (status.h). Each case checks
 * the status and then the state the call must have left alone. The stale
 * handle cases are the ones AddressSanitizer watches: Io must refuse a
 * disconnected object without reading its freed memory.
 */
#include "testbed.h"
#include "vic_fixture.h"
#include "tb_main.h"

#include <stdatomic.h>
#include <string.h>

#include <irqroute/vic.h>

#define MASK_CPUS 0x7u  /* CPUs 0-2: the online ones */
#define OFFLINE_CPU 3u
#define FREE_GSI 10u
#define NO_GSI 99u
#define SENTINEL ((KINTERRUPT *)(uintptr_t)0x5EED0)

/* ---- Fixtures --------------------------------------------------------------------- */

static void NoteMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    (void)Message;
    atomic_fetch_add((_Atomic uint32_t *)Context, 1);
}

static IRQ_STATUS ConnectMsi(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                             _Atomic uint32_t *Updates)
{
    HL_MSI_MESSAGE Message;
    return TbConnectUpdatedMessage(Interrupt, Record, Target, &Message, NoteMessage, (void *)Updates);
}

/* Every Io call that takes an object refuses Interrupt with Expected
 * (IoQueryInterruptLine included) and writes none of its outputs. */
static void AssertEveryIoCallRefuses(KINTERRUPT *Interrupt, IRQ_STATUS Expected)
{
    uint32_t Cpu = 0xC0C0u, Gsi = 0xC0C0u;
    IR_ROUTING_POLICY Policy = (IR_ROUTING_POLICY)0x77;
    assert_int_equal(IoSetInterruptTarget(Interrupt, 1), Expected);
    assert_int_equal(IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin), Expected);
    assert_int_equal(IoQueryInterruptTarget(Interrupt, &Cpu, &Policy), Expected);
    assert_int_equal(IoQueryInterruptLine(Interrupt, &Gsi), Expected);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), Expected);
    assert_int_equal(Cpu, 0xC0C0u);
    assert_int_equal(Gsi, 0xC0C0u);
    assert_int_equal(Policy, 0x77);
}

/* ---- Before Ke (first: nothing has booted in this process yet) ----------------------- */

static void test_connect_before_ke_is_not_initialized(void **State)
{
    (void)State;
    assert_int_equal(KeQueryProcessorCount(), 0);
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = SENTINEL;
    IR_CPU_SET Mask = TbCpuSetOf(1);
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = &Interrupt, .ServiceRoutine = TbCountingIsr, .ServiceContext = &Record,
                      .Line = {.Bus = HlBusIsa, .Number = 4}, .Irql = KE_IRQL_ANY,
                      .Target = {.Kind = IoTargetCpu, .Cpu = 0}},
    };
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_NOT_INITIALIZED);
    Parameters.LineBased.Target = TbTargetRoutable(&Mask, IR_CPU_NONE);
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_NOT_INITIALIZED);
    assert_int_equal(ConnectMsi(&Interrupt, &Record, (IO_INTERRUPT_TARGET){.Kind = IoTargetCpu}, NULL),
                     IRQ_STATUS_NOT_INITIALIZED);
    assert_int_equal(IoConnectInterrupt(&Interrupt, TbCountingIsr, &Record, NULL, 0x61, 6, 6, Latched, false, &Mask,
                                         false),
                     IRQ_STATUS_NOT_INITIALIZED);
    assert_ptr_equal(Interrupt, SENTINEL);
    assert_int_equal(KeQueryProcessorCount(), 0);
}

/* ---- Stale handles: refused, never read ---------------------------------------------- */

/* A movable line, disconnected: every call on it says NOT_CONNECTED (no
 * read of the freed object: ASan), and the line stays masked. */
static void test_disconnected_movable_line_is_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    IR_CPU_SET Mask = TbCpuSetOf(MASK_CPUS);
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(TbConnectLine(&Interrupt, TbCountingIsr, &Record, HlBusIsa, 4, TbTargetRoutable(&Mask, 1), false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    AssertEveryIoCallRefuses(Interrupt, IRQ_STATUS_NOT_CONNECTED);
    TbAssertUnchanged(&Before);
    assert_int_equal(TbPeekEntry(4).Bits.Mask, 1);
}

/* The same for a fixed line and for movable and fixed messages. */
static void test_disconnected_fixed_and_message_objects_are_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    _Atomic uint32_t Updates = 0;
    IR_CPU_SET Mask = TbCpuSetOf(MASK_CPUS);
    KINTERRUPT *MovableMsi = NULL, *FixedMsi = NULL;
    KINTERRUPT *Line = TbConnectIsaToCpu(&Record, 4, 1);
    assert_int_equal(ConnectMsi(&MovableMsi, &Record, TbTargetRoutable(&Mask, 2), &Updates), IRQ_STATUS_SUCCESS);
    assert_int_equal(ConnectMsi(&FixedMsi, &Record, TbTargetCpu(2), &Updates), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Line), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(MovableMsi), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(FixedMsi), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    uint32_t UpdatesBefore = atomic_load(&Updates);
    AssertEveryIoCallRefuses(Line, IRQ_STATUS_NOT_CONNECTED);
    AssertEveryIoCallRefuses(MovableMsi, IRQ_STATUS_NOT_CONNECTED);
    AssertEveryIoCallRefuses(FixedMsi, IRQ_STATUS_NOT_CONNECTED);
    TbAssertUnchanged(&Before);
    assert_int_equal(atomic_load(&Updates), UpdatesBefore); /* no message rewritten */
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* Two movable lines over Mask, ISA 4 on CPU 1 and ISA 5 on CPU 2, both
 * connected before the first is disconnected (so that no allocator can give
 * the second the first's address): the freed handle in *Freed, the live one
 * returned. */
static KINTERRUPT *ConnectLiveBesideFreed(TB_ISR_RECORD *Record, const IR_CPU_SET *Mask, KINTERRUPT **Freed)
{
    KINTERRUPT *Live = NULL;
    assert_int_equal(TbConnectLine(Freed, TbCountingIsr, Record, HlBusIsa, 4, TbTargetRoutable(Mask, 1), false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbConnectLine(&Live, TbCountingIsr, Record, HlBusIsa, 5, TbTargetRoutable(Mask, 2), false),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(*Freed), IRQ_STATUS_SUCCESS);
    return Live;
}

/* A live object in the same run is still served after the stale calls. */
static void test_stale_calls_leave_live_objects_alone(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    IR_CPU_SET Mask = TbCpuSetOf(MASK_CPUS);
    KINTERRUPT *Gone = NULL;
    KINTERRUPT *Live = ConnectLiveBesideFreed(&Record, &Mask, &Gone);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    AssertEveryIoCallRefuses(Gone, IRQ_STATUS_NOT_CONNECTED);
    TbAssertUnchanged(&Before);
    uint32_t Cpu = 0;
    IR_ROUTING_POLICY Policy = IrRoutingRoundRobin;
    assert_int_equal(IoQueryInterruptTarget(Live, &Cpu, &Policy), IRQ_STATUS_SUCCESS);
    assert_int_equal(Cpu, 2);
    assert_int_equal(Policy, IrRoutingFixedCpu);
    assert_int_equal(IoDisconnectInterrupt(Live), IRQ_STATUS_SUCCESS);
}

/* Io hands a freed address out again (the allocator reuses it; under ASan
 * it does not, and the case is then a plain one): the new object is live,
 * not a stale handle. */
static void test_reused_address_is_live_again(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *First = TbConnectIsaToCpu(&Record, 4, 1);
    assert_int_equal(IoDisconnectInterrupt(First), IRQ_STATUS_SUCCESS);
    KINTERRUPT *Second = TbConnectIsaToCpu(&Record, 4, 1);
    uint32_t Gsi = 0;
    assert_int_equal(IoSetInterruptTarget(Second, 2), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoQueryInterruptTarget(Second, NULL, NULL), IRQ_STATUS_NOT_SUPPORTED);
    assert_int_equal(IoQueryInterruptLine(Second, &Gsi), IRQ_STATUS_SUCCESS);
    assert_int_equal(Gsi, 4);
    assert_int_equal(IoDisconnectInterrupt(Second), IRQ_STATUS_SUCCESS);
    if (Second != First)
        AssertEveryIoCallRefuses(First, IRQ_STATUS_NOT_CONNECTED);
    AssertEveryIoCallRefuses(Second, IRQ_STATUS_NOT_CONNECTED);
}

/* A handle freed more disconnects ago than Io ever recorded (it once kept
 * the last 256): every Io call and Ke's disconnect and owner query still
 * refuse it with NOT_CONNECTED, judged by address in Ke's record of
 * connected objects (ASan: no read of the freed object), and nothing
 * changes. Live is connected first so that no allocator can give it
 * First's address. */
#define MANY_FREES 300u
static void test_handle_freed_long_ago_is_refused_unread(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    _Atomic uint32_t Updates = 0;
    IR_CPU_SET Mask = TbCpuSetOf(MASK_CPUS);
    KINTERRUPT *First = NULL;
    KINTERRUPT *Live = ConnectLiveBesideFreed(&Record, &Mask, &First);
    for (uint32_t Round = 0; Round < MANY_FREES; Round++) {
        KINTERRUPT *Each = NULL;
        assert_int_equal(ConnectMsi(&Each, &Record, TbTargetRoutable(&Mask, 1 + Round % 2), &Updates),
                         IRQ_STATUS_SUCCESS);
        assert_int_equal(IoDisconnectInterrupt(Each), IRQ_STATUS_SUCCESS);
    }

    TB_SNAPSHOT Before = TbTakeSnapshot();
    uint32_t UpdatesBefore = atomic_load(&Updates);
    AssertEveryIoCallRefuses(First, IRQ_STATUS_NOT_CONNECTED);
    bool Freed = true;
    assert_int_equal(KeDisconnectInterrupt(First, &Freed), IRQ_STATUS_NOT_CONNECTED);
    assert_true(Freed);
    assert_int_equal(KeDisconnectInterruptAs(First, KeInterruptOwnerIo, NULL), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(KeQueryInterruptOwner(First), KeInterruptOwnerNone);
    assert_false(KeIsInterruptConnected(First));
    TbAssertUnchanged(&Before);
    assert_int_equal(atomic_load(&Updates), UpdatesBefore);
    assert_int_equal(TbPeekEntry(4).Bits.Mask, 1);

    uint32_t Cpu = 0;
    assert_int_equal(IoQueryInterruptTarget(Live, &Cpu, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Cpu, 2);
    assert_int_equal(KeQueryInterruptOwner(Live), KeInterruptOwnerIo);
    assert_int_equal(IoDisconnectInterrupt(Live), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* A device one of whose interrupts was disconnected on its own: IoRouteDevice
 * refuses before it moves any (the others keep policy and CPU), and
 * IoDisconnectDevice reports the stale one and disconnects the rest. */
static void test_device_with_a_stale_interrupt(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    _Atomic uint32_t Updates = 0;
    IR_CPU_SET Mask = TbCpuSetOf(MASK_CPUS);
    IO_DEVICE_TEMPLATE Template = {.Kind = IoDeviceMessages, .Count = 3, .Routing = IoDeviceRoundRobin,
                                   .Mask = &Mask, .UpdateMessage = NoteMessage, .UpdateContext = &Updates};
    IO_DEVICE_CONNECTION Connection;
    assert_int_equal(IoConnectDevice(&Template, TbCountingIsr, &Record, &Connection), IRQ_STATUS_SUCCESS);
    uint32_t CpuOf0 = 0, CpuOf1 = 0;
    assert_int_equal(IoQueryInterruptTarget(Connection.Interrupts[0], &CpuOf0, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoQueryInterruptTarget(Connection.Interrupts[1], &CpuOf1, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Connection.Interrupts[2]), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    uint32_t UpdatesBefore = atomic_load(&Updates);

    assert_int_equal(IoRouteDevice(&Connection, IoDeviceLowest, 0), IRQ_STATUS_NOT_CONNECTED);
    uint32_t Elsewhere = CpuOf0 == 0 ? 1u : 0u; /* a CPU of the set interrupt 0 is not on */
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, Elsewhere), IRQ_STATUS_NOT_CONNECTED);
    TbAssertUnchanged(&Before);
    assert_int_equal(atomic_load(&Updates), UpdatesBefore);
    for (uint32_t Index = 0; Index < 2; Index++) {
        uint32_t Cpu = 0;
        IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
        assert_int_equal(IoQueryInterruptTarget(Connection.Interrupts[Index], &Cpu, &Policy), IRQ_STATUS_SUCCESS);
        assert_int_equal(Policy, IrRoutingRoundRobin);
        assert_int_equal(Cpu, Index == 0 ? CpuOf0 : CpuOf1);
    }

    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(Connection.Count, 0);
    assert_int_equal(TbTotalAllocatedVectors(), 0);
}

/* IoRouteDevice to a CPU outside the set refuses before it touches any
 * interrupt: none is left FIXED where it was. */
static void test_route_device_refusal_changes_no_interrupt(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    _Atomic uint32_t Updates = 0;
    IR_CPU_SET Mask = TbCpuSetOf(0x3u);
    IO_DEVICE_TEMPLATE Template = {.Kind = IoDeviceMessages, .Count = 2, .Routing = IoDeviceLowest,
                                   .Mask = &Mask, .UpdateMessage = NoteMessage, .UpdateContext = &Updates};
    IO_DEVICE_CONNECTION Connection;
    assert_int_equal(IoConnectDevice(&Template, TbCountingIsr, &Record, &Connection), IRQ_STATUS_SUCCESS);
    uint32_t UpdatesBefore = atomic_load(&Updates);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, 2), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, OFFLINE_CPU), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(IoRouteDevice(&Connection, IoDeviceFixed, IR_CPU_NONE), IRQ_STATUS_INVALID_CPU);
    for (uint32_t Index = 0; Index < 2; Index++) {
        IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
        assert_int_equal(IoQueryInterruptTarget(Connection.Interrupts[Index], NULL, &Policy), IRQ_STATUS_SUCCESS);
        assert_int_equal(Policy, IrRoutingLowestPriority);
    }
    assert_int_equal(atomic_load(&Updates), UpdatesBefore);
    assert_int_equal(IoDisconnectDevice(&Connection), IRQ_STATUS_SUCCESS);
}

/* ---- Objects Ke connected ------------------------------------------------------------- */

/* Caller storage outside the heap, so that it can never be an address Io
 * freed (Io would report that one NOT_CONNECTED: src/io/registry.c). */
static _Alignas(KE_INTERRUPT_ALIGNMENT) uint8_t KeStorage[4096];

static void test_ke_object_is_not_ios(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    IR_CPU_SET Cpus = TbCpuSetOf(1u << 1);
    KE_INTERRUPT_PARAMETERS Parameters = {.ServiceRoutine = TbCountingIsr, .ServiceContext = &Record,
                                          .Vector = 0x61, .Irql = KeIrqlOfVector(0x61),
                                          .SynchronizeIrql = KeIrqlOfVector(0x61), .Mode = Latched, .Cpus = &Cpus};
    assert_true(KeQueryInterruptObjectSize(1) <= sizeof(KeStorage));
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(KeInitializeInterrupt(KeStorage, sizeof(KeStorage), &Parameters, &Interrupt),
                     IRQ_STATUS_SUCCESS);
    /* Built, not connected: nobody's. */
    AssertEveryIoCallRefuses(Interrupt, IRQ_STATUS_NOT_CONNECTED);
    assert_int_equal(KeConnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    AssertEveryIoCallRefuses(Interrupt, IRQ_STATUS_ACCESS_DENIED);
    TbAssertUnchanged(&Before);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerKe);
    assert_true(KeIsVectorAllocated(1, 0x61));
    assert_int_equal(HlLapicSendIpi(SimCpuApicId(1), HlIpiNoShorthand, HlDeliveryFixed, 0x61), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(1), 1);
    assert_int_equal(atomic_load(&Record.Calls), 1);
    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    AssertEveryIoCallRefuses(Interrupt, IRQ_STATUS_NOT_CONNECTED);
}

/* ---- A rolled-back device leaves its entries as they were ------------------------------ */

static void test_rolled_back_device_restores_the_entry(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    /* Something distinctive in the free line's entry: masked, vector 0x45,
     * destination 2, level, active low. */
    IOAPIC_REDIRECTION_ENTRY Old = {0};
    Old.Bits.Vector = 0x45;
    Old.Bits.Mask = 1;
    Old.Bits.TriggerMode = 1;
    Old.Bits.Polarity = 1;
    Old.Bits.Destination = 2;
    assert_int_equal(HlIoApicWriteEntry(FREE_GSI, Old), IRQ_STATUS_SUCCESS);
    uint64_t Written = TbPeekEntry(FREE_GSI).Value;
    uint32_t Vectors = TbTotalAllocatedVectors();

    IO_DEVICE_TEMPLATE Template = {.Kind = IoDeviceLines, .Bus = HlBusGsi, .Lines = {FREE_GSI, NO_GSI}, .Count = 2,
                                   .Routing = IoDeviceFixed, .Cpu = 1};
    IO_DEVICE_CONNECTION Connection;
    assert_int_equal(IoConnectDevice(&Template, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(TbPeekEntry(FREE_GSI).Value, Written); /* bit for bit */
    assert_int_equal(TbTotalAllocatedVectors(), Vectors);
    assert_int_equal(Connection.Count, 0);

    /* A movable template the same. */
    IR_CPU_SET Mask = TbCpuSetOf(MASK_CPUS);
    Template.Routing = IoDeviceRoundRobin;
    Template.Mask = &Mask;
    assert_int_equal(IoConnectDevice(&Template, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(TbPeekEntry(FREE_GSI).Value, Written);
    assert_int_equal(TbTotalAllocatedVectors(), Vectors);
}

/* A line another device uses already is not the rollback's to restore: it
 * stays live for its user. */
static void test_rollback_leaves_a_shared_line_live(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *First = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = &First, .ServiceRoutine = TbCountingIsr, .ServiceContext = &Record,
                      .Line = {.Bus = HlBusPci, .Number = 16}, .Irql = KE_IRQL_ANY, .ShareVector = true,
                      .Target = {.Kind = IoTargetCpu, .Cpu = 1}},
    };
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_SUCCESS);
    TB_SNAPSHOT Before = TbTakeSnapshot();
    IO_DEVICE_TEMPLATE Template = {.Kind = IoDeviceLines, .Bus = HlBusPci, .Lines = {16, NO_GSI}, .Count = 2,
                                   .Share = true, .Routing = IoDeviceFixed, .Cpu = 1};
    IO_DEVICE_CONNECTION Connection;
    assert_int_equal(IoConnectDevice(&Template, TbCountingIsr, &Record, &Connection), IRQ_STATUS_INVALID_GSI);
    TbAssertUnchanged(&Before);
    assert_int_equal(TbPeekEntry(16).Bits.Mask, 0);
    assert_int_equal(IoDisconnectInterrupt(First), IRQ_STATUS_SUCCESS);
}

/* ---- Vic ---------------------------------------------------------------------------- */

/* SIRR to an offline or absent CPU: INVALID_CPU (vic.h), nothing raised. */
static void test_vic_software_request_to_bad_cpu(void **State)
{
    VIC *Vic = *State;
    assert_int_equal(VicSetCpuOnline(Vic, 3, false), IRQ_STATUS_SUCCESS);
    VIC_COUNTERS Before = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 3, 5), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 4, 5), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 1, 0), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicWriteSoftwareRequest(Vic, 1, 16), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(VicWriteSoftwareRequest(NULL, 1, 5), IRQ_STATUS_INVALID_PARAMETER);
    VIC_COUNTERS After = TbVicCounters(Vic, VIC_ALL_CPUS);
    assert_memory_equal(&After, &Before, sizeof(After));
    assert_false(TbVicIsPending(Vic, VIC_ALPHA_SOFTWARE(5), 3));
}

/* Four CPUs, CPU 3 offline. */
#define THREE_ONLINE_TEST(Test) cmocka_unit_test_setup_teardown(Test, TbSetupThreeOfFourCpus, TbTeardown)

TB_TEST_MAIN(
    cmocka_unit_test(test_connect_before_ke_is_not_initialized),
    THREE_ONLINE_TEST(test_disconnected_movable_line_is_refused),
    THREE_ONLINE_TEST(test_disconnected_fixed_and_message_objects_are_refused),
    THREE_ONLINE_TEST(test_stale_calls_leave_live_objects_alone),
    THREE_ONLINE_TEST(test_reused_address_is_live_again),
    THREE_ONLINE_TEST(test_handle_freed_long_ago_is_refused_unread),
    THREE_ONLINE_TEST(test_device_with_a_stale_interrupt),
    THREE_ONLINE_TEST(test_route_device_refusal_changes_no_interrupt),
    THREE_ONLINE_TEST(test_ke_object_is_not_ios),
    THREE_ONLINE_TEST(test_rolled_back_device_restores_the_entry),
    THREE_ONLINE_TEST(test_rollback_leaves_a_shared_line_live),
    cmocka_unit_test_setup_teardown(test_vic_software_request_to_bad_cpu, TbVicSetupAlpha4, TbFreeState))
