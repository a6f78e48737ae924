/* SPDX-License-Identifier: MIT */
/*
 * The routing dump (IoDumpRoutingState, io.h): a few interrupts connected
 * on the sim (a fixed line, a movable line under round robin, a broadcast
 * MSI, an object connected through Ke alone), dumped into a buffer; every
 * line the format promises is checked, with the values the test set up.
 */
#include "testbed.h"

#include <stdio.h>

#include "dump_on_failure.h"
#include "tb_main.h"

static TB_DUMP Dump;

static char *Format(char *Buffer, size_t Size, const char *Pattern, ...) __attribute__((format(printf, 3, 4)));
static char *Format(char *Buffer, size_t Size, const char *Pattern, ...)
{
    va_list Arguments;
    va_start(Arguments, Pattern);
    vsnprintf(Buffer, Size, Pattern, Arguments);
    va_end(Arguments);
    return Buffer;
}

static bool Isr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    (void)Context;
    return true;
}

static IR_CPU_SET Cpus(uint32_t First, uint32_t Second)
{
    const uint32_t List[] = {First, Second};
    return TbCpuList(List, First == Second ? 1u : 2u);
}

static void UpdateMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    (void)Message;
    (void)Context;
}

typedef struct _SETUP {
    KINTERRUPT *Fixed;   /* ISA IRQ 4 (GSI 4), fixed to CPU 1 */
    KINTERRUPT *Movable; /* ISA IRQ 3 (GSI 3), movable over {1,2}, on CPU 2, round robin */
    KINTERRUPT *Msi;     /* MSI broadcast to {0,2} */
    KINTERRUPT *KeOnly;  /* vector 0x90 on CPU 3, connected through Ke */
    _Alignas(KE_INTERRUPT_ALIGNMENT) unsigned char KeStorage[4096];
} SETUP;

static SETUP Setup;

static void ConnectAll(void)
{
    assert_int_equal(TbConnectLine(&Setup.Fixed, Isr, NULL, HlBusIsa, 4, TbTargetCpu(1), false), IRQ_STATUS_SUCCESS);

    IR_CPU_SET MovableSet = Cpus(1, 2);
    IO_INTERRUPT_TARGET Routable = {.Kind = IoTargetRoutable, .Cpu = 2, .Mask = &MovableSet};
    assert_int_equal(TbConnectLine(&Setup.Movable, Isr, NULL, HlBusIsa, 3, Routable, false), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoSetInterruptPolicy(Setup.Movable, IrRoutingRoundRobin), IRQ_STATUS_SUCCESS);
    /* The spread took a new vector (CPU 1 has the first one taken); the
     * first interrupt on it lets CPU 2 give the old one up (it takes the
     * request right after), and a second brings the rotation back to 2. */
    SimPulseGsi(3);
    assert_int_equal(TbService(2), 2);
    SimPulseGsi(3);
    assert_int_equal(TbService(1), 1);

    IR_CPU_SET BroadcastSet = Cpus(0, 2);
    HL_MSI_MESSAGE Message;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_MESSAGE_BASED,
        .MessageBased = {.InterruptObject = &Setup.Msi, .ServiceRoutine = Isr, .Irql = KE_IRQL_ANY,
                         .Target = {.Kind = IoTargetBroadcast, .Mask = &BroadcastSet}, .Message = &Message,
                         .UpdateMessage = UpdateMessage},
    };
    assert_int_equal(IoConnectInterruptEx(&Parameters), IRQ_STATUS_SUCCESS);

    IR_CPU_SET Cpu3 = Cpus(3, 3);
    KE_INTERRUPT_PARAMETERS KeParameters = {
        .ServiceRoutine = Isr, .Vector = 0x90, .Irql = KeIrqlOfVector(0x90), .SynchronizeIrql = KeIrqlOfVector(0x90),
        .Mode = Latched, .Cpus = &Cpu3,
    };
    assert_true(KeQueryInterruptObjectSize(1) <= sizeof(Setup.KeStorage));
    assert_int_equal(KeInitializeInterrupt(Setup.KeStorage, sizeof(Setup.KeStorage), &KeParameters, &Setup.KeOnly),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(KeConnectInterrupt(Setup.KeOnly), IRQ_STATUS_SUCCESS);
}

static void DisconnectAll(void)
{
    if (Setup.Fixed != NULL)
        assert_int_equal(IoDisconnectInterrupt(Setup.Fixed), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Setup.Movable), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Setup.Msi), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeDisconnectInterrupt(Setup.KeOnly, NULL), IRQ_STATUS_SUCCESS);
}

static void test_dump_lists_cpus_connections_and_ke_objects(void **State)
{
    (void)State;
    ConnectAll();
    /* One interrupt on the fixed line, taken by CPU 1. */
    SimPulseGsi(4);
    assert_int_equal(TbService(1), 1);

    TbCollectRoutingState(&Dump);
    char Line[256];
    uint8_t Fixed = KeGetInterruptVector(Setup.Fixed);
    uint8_t Movable = KeGetInterruptVector(Setup.Movable);
    uint8_t Msi = KeGetInterruptVector(Setup.Msi);

    TB_ASSERT_DUMP_HAS_LINE(&Dump, "routing: cpus 4 of 4 online");
    /* CPU 0: the MSI; 1: the fixed line and the movable one's vector; 2: the
     * movable line and the MSI; 3: the Ke object. */
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "cpu 0: 1 vectors");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "cpu 1: 2 vectors");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "cpu 2: 2 vectors");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "cpu 3: 1 vectors");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line), "  vector 0x%02x irql %u edge objects 1 dispatched 1 unclaimed 0",
                                          Fixed, KeIrqlOfVector(Fixed)));
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line), "    object %p io exclusive sync-irql %u runs 1 claimed 1",
                                          (void *)Setup.Fixed, KeIrqlOfVector(Fixed)));
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line), "    object %p ke exclusive sync-irql 9 runs 0 claimed 0",
                                          (void *)Setup.KeOnly));

    TB_ASSERT_DUMP_HAS_LINE(&Dump, "io:");
    /* The default APIC ids are 2 * CPU + 1 (platform/sim/sim.h). */
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line),
                                          "  io %p gsi 4 vector 0x%02x cpus {1} policy fixed to 1 entry unmasked dest "
                                          "0x03 physical",
                                          (void *)Setup.Fixed, Fixed));
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line),
                                          "  io %p gsi 3 vector 0x%02x cpus {1,2} policy round-robin to 2 entry "
                                          "unmasked dest 0x05 physical",
                                          (void *)Setup.Movable, Movable));
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line), "  io %p msi vector 0x%02x cpus {0,2} policy broadcast to {0,2}",
                                          (void *)Setup.Msi, Msi));
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "ke:");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, Format(Line, sizeof(Line), "  ke %p vector 0x90 irql 9 cpus {3}", (void *)Setup.KeOnly));
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "end: 3 io, 1 ke");
    /* Each connection once, although its vector is on several CPUs. */
    assert_int_equal(TbDumpCountLines(&Dump, "  io "), 3);
    assert_int_equal(TbDumpCountLines(&Dump, "  ke "), 1);
    DisconnectAll();
}

/* After a disconnect the line's connection is gone from the dump, its
 * vector from CPU 1's table; what is left is still listed. */
static void test_dump_follows_disconnect(void **State)
{
    (void)State;
    ConnectAll();
    assert_int_equal(IoDisconnectInterrupt(Setup.Fixed), IRQ_STATUS_SUCCESS);
    char Line[256];
    TbCollectRoutingState(&Dump);
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "cpu 1: 1 vectors");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "end: 2 io, 1 ke");
    assert_int_equal(TbDumpCountLines(&Dump, Format(Line, sizeof(Line), "  io %p", (void *)Setup.Fixed)), 0);
    Setup.Fixed = NULL;
    DisconnectAll();

    TbCollectRoutingState(&Dump);
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "cpu 0: 0 vectors");
    TB_ASSERT_DUMP_HAS_LINE(&Dump, "end: 0 io, 0 ke");
    assert_int_equal(Dump.Lines, 8); /* header, four CPUs, io:, ke:, end */
}

/* The Ke queries the dump is built on (src/ke/query.c): a shared vector's
 * objects in dispatch order, read one at a time with Skip, and the refusals. */
static void test_ke_queries(void **State)
{
    (void)State;
    KINTERRUPT *First = NULL, *Second = NULL;
    assert_int_equal(TbConnectLine(&First, Isr, NULL, HlBusIsa, 10, TbTargetCpu(2), true), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbConnectLine(&Second, Isr, NULL, HlBusIsa, 10, TbTargetCpu(2), true), IRQ_STATUS_SUCCESS);
    uint8_t Vector = KeGetInterruptVector(First);
    assert_int_equal(KeGetInterruptVector(Second), Vector);

    uint64_t Vectors[4];
    assert_int_equal(KeQueryConnectedVectors(2, Vectors), IRQ_STATUS_SUCCESS);
    assert_true((Vectors[Vector / 64] >> (Vector % 64)) & 1u);
    /* Nothing else is connected on CPU 2. */
    Vectors[Vector / 64] &= ~((uint64_t)1 << (Vector % 64));
    assert_true((Vectors[0] | Vectors[1] | Vectors[2] | Vectors[3]) == 0);
    KE_VECTOR_OBJECT Object;
    uint32_t Total = 99;
    assert_int_equal(KeQueryVectorObjects(2, Vector, 0, &Object, 1, &Total), IRQ_STATUS_SUCCESS);
    assert_int_equal(Total, 2);
    assert_ptr_equal(Object.Interrupt, First);
    assert_int_equal(Object.Owner, KeInterruptOwnerIo);
    assert_true(Object.ShareVector);
    assert_int_equal(Object.Mode, LevelSensitive); /* ISA IRQ 10: level (QEMU's override) */
    assert_int_equal(KeQueryVectorObjects(2, Vector, 1, &Object, 1, &Total), IRQ_STATUS_SUCCESS);
    assert_ptr_equal(Object.Interrupt, Second);
    assert_true(IrCpuSetContains(&Object.Cpus, 2) && IrCpuSetWeight(&Object.Cpus) == 1);
    /* Past the end: nothing copied, the total still told. */
    Object.Interrupt = NULL;
    assert_int_equal(KeQueryVectorObjects(2, Vector, 2, &Object, 1, &Total), IRQ_STATUS_SUCCESS);
    assert_int_equal(Total, 2);
    assert_null(Object.Interrupt);
    assert_int_equal(KeQueryVectorObjects(2, Vector, 0, NULL, 0, &Total), IRQ_STATUS_SUCCESS);
    assert_int_equal(Total, 2);

    Total = 7;
    assert_int_equal(KeQueryVectorObjects(4, Vector, 0, &Object, 1, &Total), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KeQueryVectorObjects(2, Vector, 0, NULL, 1, &Total), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeQueryVectorObjects(2, Vector, 0, &Object, 1, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(Total, 7);
    assert_int_equal(KeQueryConnectedVectors(4, Vectors), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KeQueryConnectedVectors(2, NULL), IRQ_STATUS_INVALID_PARAMETER);

    assert_int_equal(IoDisconnectInterrupt(First), IRQ_STATUS_SUCCESS);
    assert_int_equal(IoDisconnectInterrupt(Second), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeQueryVectorObjects(2, Vector, 0, &Object, 1, &Total), IRQ_STATUS_SUCCESS);
    assert_int_equal(Total, 0);
}

static void test_dump_refuses_a_null_writer(void **State)
{
    (void)State;
    assert_int_equal(IoDumpRoutingState(NULL, NULL), IRQ_STATUS_INVALID_PARAMETER);
}

TB_TEST_MAIN(
    cmocka_unit_test_setup_teardown(test_dump_lists_cpus_connections_and_ke_objects, TbSetupFourCpus, TbTeardown),
    cmocka_unit_test_setup_teardown(test_dump_follows_disconnect, TbSetupFourCpus, TbTeardown),
    cmocka_unit_test_setup_teardown(test_ke_queries, TbSetupFourCpus, TbTeardown),
    cmocka_unit_test_setup_teardown(test_dump_refuses_a_null_writer, TbSetupFourCpus, TbTeardown))
