/* SPDX-License-Identifier: MIT */
/*
 * Misuse of the Ke and Hl interfaces: every refused call returns the status
 * its header comment lists and changes nothing (status.h). Each case checks
 * the status and then the state the call must have left alone.
 */
#include "testbed.h"
#include "tb_main.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define IPI_VECTOR 0xE1u
#define SPURIOUS_VECTOR 0x3Fu
#define CLOCK_VECTOR 0xD1u
#define OBJECT_CPU 1u
#define OBJECT_VECTOR 0x61u
#define OTHER_VECTOR 0x62u
#define OFFLINE_CPU 3u
#define SENTINEL_CPU 0xDEADu

/* ---- Fixtures --------------------------------------------------------------------- */

/* The hardware layer alone: the sim created and xAPIC selected, no I/O
 * APIC, no CPU started. */
static int SetupHardwareOnly(void **State)
{
    (void)State;
    SIM_CONFIG Config = {.CpuCount = 2};
    TbStartHardwareLayer(&Config);
    SimAttachCpu(TB_HOME_CPU);
    return 0;
}

/* Caller storage for an object on one CPU. */
typedef struct _OBJECT_STORAGE {
    void *Memory;
    size_t Size;
} OBJECT_STORAGE;

static OBJECT_STORAGE NewStorage(void)
{
    OBJECT_STORAGE Storage = {.Size = KeQueryInterruptObjectSize(1)};
    size_t Rounded = (Storage.Size + KE_INTERRUPT_ALIGNMENT - 1) & ~(size_t)(KE_INTERRUPT_ALIGNMENT - 1);
    Storage.Memory = aligned_alloc(KE_INTERRUPT_ALIGNMENT, Rounded);
    assert_non_null(Storage.Memory);
    memset(Storage.Memory, 0, Rounded);
    return Storage;
}

/* Fresh storage holding the same bytes as Storage (an object's image). */
static OBJECT_STORAGE CopyOfStorage(const OBJECT_STORAGE *Storage)
{
    OBJECT_STORAGE Copy = NewStorage();
    memcpy(Copy.Memory, Storage->Memory, Storage->Size);
    return Copy;
}

static IR_CPU_SET OneCpu(uint32_t Cpu)
{
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, Cpu);
    return Set;
}

static KE_INTERRUPT_PARAMETERS ObjectParameters(TB_ISR_RECORD *Record, uint8_t Vector, const IR_CPU_SET *Cpus)
{
    return (KE_INTERRUPT_PARAMETERS){.ServiceRoutine = TbCountingIsr, .ServiceContext = Record, .Vector = Vector,
                                     .Irql = KeIrqlOfVector(Vector), .SynchronizeIrql = KeIrqlOfVector(Vector),
                                     .Mode = Latched, .Cpus = Cpus};
}

/* An object initialized (not connected) in Storage for Vector on OBJECT_CPU. */
static KINTERRUPT *InitializeKeObject(const OBJECT_STORAGE *Storage, TB_ISR_RECORD *Record, uint8_t Vector)
{
    IR_CPU_SET Cpus = OneCpu(OBJECT_CPU);
    KE_INTERRUPT_PARAMETERS Parameters = ObjectParameters(Record, Vector, &Cpus);
    KINTERRUPT *Interrupt = NULL;
    assert_int_equal(KeInitializeInterrupt(Storage->Memory, Storage->Size, &Parameters, &Interrupt),
                     IRQ_STATUS_SUCCESS);
    return Interrupt;
}

/* An object connected through Ke on OBJECT_CPU, OBJECT_VECTOR. */
static KINTERRUPT *ConnectKeObject(OBJECT_STORAGE *Storage, TB_ISR_RECORD *Record)
{
    KINTERRUPT *Interrupt = InitializeKeObject(Storage, Record, OBJECT_VECTOR);
    assert_int_equal(KeConnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    return Interrupt;
}

/* Fires Vector on Cpu as a local APIC message and lets Cpu take it. */
static void FireVector(uint32_t Cpu, uint8_t Vector)
{
    assert_int_equal(HlLapicSendIpi(SimCpuApicId(Cpu), HlIpiNoShorthand, HlDeliveryFixed, Vector),
                     IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(Cpu), 1);
}

/* ---- Ke's own system vectors -------------------------------------------------------- */

static _Atomic uint32_t IntruderCalls;
static _Atomic uint32_t MessagesHandled;

static void IntruderHandler(uint32_t Cpu, uint8_t Vector, void *Context)
{
    (void)Cpu;
    (void)Vector;
    (void)Context;
    atomic_fetch_add(&IntruderCalls, 1);
}

static void MessageHandler(uint32_t Cpu, KE_IPI_MESSAGE Message, void *Context)
{
    (void)Cpu;
    (void)Message;
    (void)Context;
    atomic_fetch_add(&MessagesHandled, 1);
}

/* The IPI vector cannot be taken over (nor its handler removed): IPIs keep
 * reaching Ke's message handlers. The spurious vector is no system vector. */
static void test_ipi_vector_cannot_be_taken_over(void **State)
{
    (void)State;
    atomic_store(&IntruderCalls, 0);
    atomic_store(&MessagesHandled, 0);
    assert_int_equal(KeSetIpiMessageHandler(KeIpiUser0, MessageHandler, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeSetSystemVectorHandler(IPI_VECTOR, IntruderHandler, NULL), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KeSetSystemVectorHandler(IPI_VECTOR, NULL, NULL), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KeSetSystemVectorHandler(SPURIOUS_VECTOR, IntruderHandler, NULL), IRQ_STATUS_INVALID_VECTOR);

    KE_IPI_TARGET Target = {.Kind = KeIpiTargetCpu, .Cpu = OBJECT_CPU};
    assert_int_equal(KeSendIpi(&Target, KeIpiUser0), IRQ_STATUS_SUCCESS);
    assert_int_equal(TbService(OBJECT_CPU), 1);
    assert_int_equal(atomic_load(&MessagesHandled), 1);
    assert_int_equal(KeQueryIpiCount(OBJECT_CPU, KeIpiUser0), 1);
    assert_int_equal(atomic_load(&IntruderCalls), 0);

    /* Other system vectors stay the caller's. */
    assert_int_equal(KeSetSystemVectorHandler(CLOCK_VECTOR, IntruderHandler, NULL), IRQ_STATUS_SUCCESS);
    FireVector(OBJECT_CPU, CLOCK_VECTOR);
    assert_int_equal(atomic_load(&IntruderCalls), 1);
}

/* A layout whose IPI vector is not a system vector is refused, and the
 * running system stays as it was. */
static void test_layout_with_unusable_ipi_vector_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    OBJECT_STORAGE Storage = NewStorage();
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);

    static const uint8_t Unusable[] = {OBJECT_VECTOR, SPURIOUS_VECTOR, 0x10};
    for (uint32_t Index = 0; Index < sizeof(Unusable); Index++) {
        KE_VECTOR_LAYOUT Layout = KeAmd64VectorLayout;
        Layout.IpiVector = Unusable[Index];
        assert_int_equal(KeInitializeSystem(2, &Layout), IRQ_STATUS_INVALID_PARAMETER);
        assert_int_equal(KeQueryProcessorCount(), 4);
        assert_true(KeIsProcessorOnline(OBJECT_CPU));
        assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerKe);
        assert_true(KeIsVectorAllocated(OBJECT_CPU, OBJECT_VECTOR));
    }
    FireVector(OBJECT_CPU, OBJECT_VECTOR);
    assert_int_equal(atomic_load(&Record.Calls), 1);
    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    free(Storage.Memory);
}

/* ---- Interrupt objects ------------------------------------------------------------------- */

/* Re-initialising a connected object in place is refused: the object, its
 * vector and its ISR stay as they were, and the later disconnect works. */
static void test_reinitialize_connected_object_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    TB_ISR_RECORD OtherRecord = {.Claim = true};
    OBJECT_STORAGE Storage = NewStorage();
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);

    IR_CPU_SET Cpus = OneCpu(OBJECT_CPU);
    KE_INTERRUPT_PARAMETERS Other = ObjectParameters(&OtherRecord, OTHER_VECTOR, &Cpus);
    KINTERRUPT *Out = NULL;
    assert_int_equal(KeInitializeInterrupt(Storage.Memory, Storage.Size, &Other, &Out),
                     IRQ_STATUS_ALREADY_CONNECTED);
    assert_null(Out);
    assert_int_equal(KeGetInterruptVector(Interrupt), OBJECT_VECTOR);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerKe);
    FireVector(OBJECT_CPU, OBJECT_VECTOR);
    assert_int_equal(atomic_load(&Record.Calls), 1);
    assert_int_equal(atomic_load(&OtherRecord.Calls), 0);

    bool Freed = false;
    assert_int_equal(KeDisconnectInterrupt(Interrupt, &Freed), IRQ_STATUS_SUCCESS);
    assert_true(Freed);
    assert_false(KeIsVectorAllocated(OBJECT_CPU, OBJECT_VECTOR));
    /* Disconnected, the storage is the caller's again. */
    assert_int_equal(KeInitializeInterrupt(Storage.Memory, Storage.Size, &Other, &Out), IRQ_STATUS_SUCCESS);
    assert_ptr_equal(Out, Storage.Memory);
    assert_int_equal(KeGetInterruptVector(Out), OTHER_VECTOR);
    free(Storage.Memory);
}

/* The refusal comes from Ke's record of connected objects, not from bytes
 * that look like a connected object: a copy of one is fresh storage. */
static void test_copy_of_connected_object_is_fresh_storage(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    OBJECT_STORAGE Storage = NewStorage();
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);
    OBJECT_STORAGE Copy = CopyOfStorage(&Storage);

    assert_false(KeIsInterruptConnected(InitializeKeObject(&Copy, &Record, OTHER_VECTOR)));
    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    free(Copy.Memory);
    free(Storage.Memory);
}

/* Storage that overlaps a connected object without starting at it would
 * be written over it all the same: refused, the object untouched. */
static void test_initialize_over_part_of_connected_object_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    TB_ISR_RECORD OtherRecord = {.Claim = true};
    IR_CPU_SET Cpus = OneCpu(OBJECT_CPU);
    size_t Size = KeQueryInterruptObjectSize(1);
    uint8_t *Block = aligned_alloc(KE_INTERRUPT_ALIGNMENT, 4 * Size);
    assert_non_null(Block);
    memset(Block, 0, 4 * Size);
    OBJECT_STORAGE Storage = {.Memory = Block + Size, .Size = Size};
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);
    uint8_t *Copy = malloc(Size);
    assert_non_null(Copy);
    memcpy(Copy, Interrupt, Size);

    KE_INTERRUPT_PARAMETERS Other = ObjectParameters(&OtherRecord, OTHER_VECTOR, &Cpus);
    KINTERRUPT *Out = NULL;
    /* Ending inside it, and starting inside it. */
    assert_int_equal(KeInitializeInterrupt(Block + KE_INTERRUPT_ALIGNMENT, Size, &Other, &Out),
                     IRQ_STATUS_ALREADY_CONNECTED);
    assert_int_equal(KeInitializeInterrupt(Block + Size + KE_INTERRUPT_ALIGNMENT, Size, &Other, &Out),
                     IRQ_STATUS_ALREADY_CONNECTED);
    assert_null(Out);
    assert_memory_equal(Interrupt, Copy, Size);
    /* Right next to it, on either side: fresh storage. */
    assert_int_equal(KeInitializeInterrupt(Block, Size, &Other, &Out), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeInitializeInterrupt(Block + 2 * Size, Size, &Other, &Out), IRQ_STATUS_SUCCESS);
    assert_memory_equal(Interrupt, Copy, Size);
    FireVector(OBJECT_CPU, OBJECT_VECTOR);
    assert_int_equal(atomic_load(&Record.Calls), 1);
    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    free(Copy);
    free(Block);
}

/* KeShutdownSystem: refused while an object is connected (it keeps
 * running); once nothing is, Ke is as before KeInitializeSystem. */
static void test_shutdown_with_connected_object_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    OBJECT_STORAGE Storage = NewStorage();
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);
    assert_int_equal(KeShutdownSystem(), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(KeQueryProcessorCount(), 4);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerKe);
    assert_true(KeIsVectorAllocated(OBJECT_CPU, OBJECT_VECTOR));
    FireVector(OBJECT_CPU, OBJECT_VECTOR);
    assert_int_equal(atomic_load(&Record.Calls), 1);

    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeShutdownSystem(), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeQueryProcessorCount(), 0);
    assert_int_equal(KeShutdownSystem(), IRQ_STATUS_NOT_INITIALIZED);
    IR_CPU_SET Cpus = OneCpu(OBJECT_CPU);
    uint32_t Cpu = SENTINEL_CPU;
    uint8_t Vector = 0;
    assert_int_equal(KeAllocateVector(&Cpus, KE_IRQL_ANY, &Cpu, &Vector), IRQ_STATUS_NOT_INITIALIZED);
    assert_int_equal(Cpu, SENTINEL_CPU);
    KE_INTERRUPT_PARAMETERS Parameters = ObjectParameters(&Record, OBJECT_VECTOR, &Cpus);
    KINTERRUPT *Out = NULL;
    assert_int_equal(KeInitializeInterrupt(Storage.Memory, Storage.Size, &Parameters, &Out),
                     IRQ_STATUS_NOT_INITIALIZED);
    assert_int_equal(KeConnectInterrupt(Interrupt), IRQ_STATUS_NOT_INITIALIZED);
    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_NOT_INITIALIZED);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerNone);
    assert_false(KeIsProcessorOnline(OBJECT_CPU));
    free(Storage.Memory);
}

/* An object Io connected is disconnected through Io only: Ke refuses and
 * leaves the line's entry, the vector and the object alone. */
static void test_io_object_refused_by_ke_disconnect(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    KINTERRUPT *Interrupt = TbConnectIsaToCpu(&Record, 4, OBJECT_CPU);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerIo);
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    TB_SNAPSHOT Before = TbTakeSnapshot();

    bool Freed = true;
    assert_int_equal(KeDisconnectInterrupt(Interrupt, &Freed), IRQ_STATUS_ACCESS_DENIED);
    assert_true(Freed); /* untouched */
    assert_int_equal(KeConnectInterruptAs(Interrupt, KeInterruptOwnerIo), IRQ_STATUS_ALREADY_CONNECTED);
    assert_int_equal(KeConnectInterrupt(Interrupt), IRQ_STATUS_ALREADY_CONNECTED);
    TbAssertUnchanged(&Before);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerIo);
    assert_true(KeIsVectorAllocated(OBJECT_CPU, Vector));
    SimPulseGsi(4);
    assert_int_equal(TbService(OBJECT_CPU), 1);
    assert_int_equal(atomic_load(&Record.Calls), 1);

    /* Io frees its objects at disconnect: only the vector and the entry
     * remain to be looked at. */
    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_SUCCESS);
    assert_false(KeIsVectorAllocated(OBJECT_CPU, Vector));
    assert_int_equal(TbPeekEntry(4).Bits.Mask, 1);
}

/* The reverse: an object Ke connected is not Io's to disconnect, nor may a
 * caller claim to be Io for it. Bad owners are bad parameters. */
static void test_ke_object_refused_by_io_disconnect(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    OBJECT_STORAGE Storage = NewStorage();
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);
    TB_SNAPSHOT Before = TbTakeSnapshot();

    assert_int_equal(IoDisconnectInterrupt(Interrupt), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KeDisconnectInterruptAs(Interrupt, KeInterruptOwnerIo, NULL), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KeDisconnectInterruptAs(Interrupt, KeInterruptOwnerNone, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeDisconnectInterruptAs(Interrupt, (KE_INTERRUPT_OWNER)7, NULL), IRQ_STATUS_INVALID_PARAMETER);
    TbAssertUnchanged(&Before);
    assert_int_equal(KeQueryInterruptOwner(Interrupt), KeInterruptOwnerKe);
    FireVector(OBJECT_CPU, OBJECT_VECTOR);
    assert_int_equal(atomic_load(&Record.Calls), 1);

    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_NOT_CONNECTED);

    /* Connecting with no owner, or an unknown one, links nothing. */
    assert_int_equal(KeConnectInterruptAs(Interrupt, KeInterruptOwnerNone), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeConnectInterruptAs(Interrupt, (KE_INTERRUPT_OWNER)7), IRQ_STATUS_INVALID_PARAMETER);
    assert_false(KeIsInterruptConnected(Interrupt));
    assert_false(KeIsVectorAllocated(OBJECT_CPU, OBJECT_VECTOR));
    free(Storage.Memory);
}

/* NULL is a bad parameter (status.h), not "not connected". */
static void test_disconnect_null_is_invalid_parameter(void **State)
{
    (void)State;
    bool Freed = true;
    assert_int_equal(KeDisconnectInterrupt(NULL, &Freed), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KeDisconnectInterruptAs(NULL, KeInterruptOwnerIo, &Freed), IRQ_STATUS_INVALID_PARAMETER);
    assert_true(Freed);
    assert_int_equal(KeQueryInterruptOwner(NULL), KeInterruptOwnerNone);
}

/* A vector with objects connected on it is theirs: KeFreeVector refuses. */
static void test_free_vector_under_connected_object_refused(void **State)
{
    (void)State;
    TB_ISR_RECORD Record = {.Claim = true};
    OBJECT_STORAGE Storage = NewStorage();
    KINTERRUPT *Interrupt = ConnectKeObject(&Storage, &Record);

    assert_int_equal(KeFreeVector(OBJECT_CPU, OBJECT_VECTOR), IRQ_STATUS_ACCESS_DENIED);
    assert_true(KeIsVectorAllocated(OBJECT_CPU, OBJECT_VECTOR));
    assert_int_equal(KeFreeVector(4, OBJECT_VECTOR), IRQ_STATUS_INVALID_CPU);
    FireVector(OBJECT_CPU, OBJECT_VECTOR);
    assert_int_equal(atomic_load(&Record.Calls), 1);

    assert_int_equal(KeDisconnectInterrupt(Interrupt, NULL), IRQ_STATUS_SUCCESS);
    assert_false(KeIsVectorAllocated(OBJECT_CPU, OBJECT_VECTOR));
    assert_int_equal(KeFreeVector(OBJECT_CPU, OBJECT_VECTOR), IRQ_STATUS_INVALID_STATE);
    /* A vector taken by the caller and never connected is the caller's. */
    assert_int_equal(KeReserveVector(OBJECT_CPU, OBJECT_VECTOR), IRQ_STATUS_SUCCESS);
    assert_int_equal(KeFreeVector(OBJECT_CPU, OBJECT_VECTOR), IRQ_STATUS_SUCCESS);
    free(Storage.Memory);
}

/* ---- IPIs --------------------------------------------------------------------------- */

static _Atomic uint32_t WorkerRuns;

static void CountingWorker(uint32_t Cpu, void *Context)
{
    (void)Cpu;
    (void)Context;
    atomic_fetch_add(&WorkerRuns, 1);
}

/* A CPU Ke has online but Hl never registered: the set is refused before
 * the first IPI leaves, so the registered member gets nothing either. A
 * CPU number past the set's range is an invalid CPU, not an empty set. */
static void test_ipi_to_unregistered_cpu_sends_nothing(void **State)
{
    (void)State;
    assert_int_equal(KeInitializeProcessor(OFFLINE_CPU), IRQ_STATUS_SUCCESS);
    assert_false(HlIsProcessorRegistered(OFFLINE_CPU));
    IR_CPU_SET Set = OneCpu(OBJECT_CPU);
    IrCpuSetAdd(&Set, OFFLINE_CPU);
    KE_IPI_TARGET Target = {.Kind = KeIpiTargetSet, .Cpus = &Set};
    uint64_t Delivered = SimDeliveredCount(OBJECT_CPU);
    assert_int_equal(KeSendIpi(&Target, KeIpiReschedule), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(SimDeliveredCount(OBJECT_CPU), Delivered);
    assert_false(SimLapicIrrIsSet(OBJECT_CPU, IPI_VECTOR));
    assert_int_equal(TbService(OBJECT_CPU), 0);
    assert_int_equal(KeQueryIpiCount(OBJECT_CPU, KeIpiReschedule), 0);

    atomic_store(&WorkerRuns, 0);
    assert_int_equal(KeIpiGenericCall(&Target, CountingWorker, NULL), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(atomic_load(&WorkerRuns), 0);
    assert_false(SimLapicIrrIsSet(OBJECT_CPU, IPI_VECTOR));

    KE_IPI_TARGET Beyond = {.Kind = KeIpiTargetCpu, .Cpu = IR_MAX_CPUS};
    assert_int_equal(KeSendIpi(&Beyond, KeIpiReschedule), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KeIpiGenericCall(&Beyond, CountingWorker, NULL), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(atomic_load(&WorkerRuns), 0);
}

/* ---- Hl: configuration that only makes sense before the CPUs run ---------------------- */

/* Once a CPU has enabled its local APIC, the mode and base are fixed: a
 * late HlLapicSelectMode is refused and the APIC keeps working where it is. */
static void test_select_mode_after_lapic_enabled_refused(void **State)
{
    (void)State;
    /* Before any CPU: selecting again is fine. */
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicEnable(), IRQ_STATUS_SUCCESS);

    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, 0xFED00000u), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(HlLapicGetMode(), HlLapicModeXApic);
    /* The base did not move: the ID register is still read from the APIC. */
    assert_int_equal(HlLapicReadId(), SimCpuApicId(TB_HOME_CPU));
    assert_int_equal(HlLapicInitializeProcessor(TB_HOME_CPU, TB_SPURIOUS_VECTOR), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicReadTaskPriority(), 0);

    /* A reset (re-initialisation) allows a new selection. */
    HlResetHardwareLayer();
    assert_int_equal(HlLapicSelectMode(HlLapicModeXApic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
}

/* A registered CPU was checked against the selected mode (its id): the
 * mode cannot change under it either. */
static void test_select_mode_after_registration_refused(void **State)
{
    (void)State;
    assert_int_equal(HlRegisterProcessor(1, 0x20), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(HlLapicGetMode(), HlLapicModeXApic);
    HlResetHardwareLayer();
    assert_int_equal(HlLapicSelectMode(HlLapicModeX2Apic, HL_LAPIC_DEFAULT_BASE), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlLapicGetMode(), HlLapicModeX2Apic);
}

/* An override must land on a GSI some registered I/O APIC has (so I/O APICs
 * come first, as in the MADT order kernel/main.c follows); a refused one
 * leaves the IRQ's earlier override in place. */
static void test_override_to_uncovered_gsi_refused(void **State)
{
    (void)State;
    HL_INTERRUPT_LINE Irq3 = {.Bus = HlBusIsa, .Number = 3};
    assert_int_equal(HlPicRegisterOverride(3, 7, 0xF), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlIoApicRegister(0, HL_IOAPIC_DEFAULT_BASE, 0), IRQ_STATUS_SUCCESS);
    HL_RESOLVED_LINE Resolved;
    assert_int_equal(HlPicResolveLine(&Irq3, &Resolved), IRQ_STATUS_SUCCESS);
    assert_int_equal(Resolved.Gsi, 3); /* the refused override left nothing */

    assert_int_equal(HlPicRegisterOverride(3, 7, 0xF), IRQ_STATUS_SUCCESS);
    /* The sim's I/O APIC has 24 pins: GSI 23 is its last, 24 nobody's. */
    assert_int_equal(HlIoApicLookupGsi(23, NULL, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlPicRegisterOverride(3, 24, 0), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlPicRegisterOverride(3, 0xFFFFFFFFu, 0), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(HlPicResolveLine(&Irq3, &Resolved), IRQ_STATUS_SUCCESS);
    assert_int_equal(Resolved.Gsi, 7);
    assert_int_equal(Resolved.Trigger, HlTriggerLevel);
    assert_int_equal(Resolved.Polarity, HlPolarityActiveLow);
}

/* NULL outputs are allowed (an existence test); what is given is written,
 * and nothing is written for a GSI nobody has. */
static void test_lookup_gsi_outputs(void **State)
{
    (void)State;
    assert_int_equal(HlIoApicRegister(0, HL_IOAPIC_DEFAULT_BASE, 0), IRQ_STATUS_SUCCESS);
    uint32_t Index = SENTINEL_CPU;
    uint32_t Pin = SENTINEL_CPU;
    assert_int_equal(HlIoApicLookupGsi(5, NULL, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(HlIoApicLookupGsi(5, NULL, &Pin), IRQ_STATUS_SUCCESS);
    assert_int_equal(Pin, 5);
    assert_int_equal(HlIoApicLookupGsi(6, &Index, NULL), IRQ_STATUS_SUCCESS);
    assert_int_equal(Index, 0);
    Index = SENTINEL_CPU;
    Pin = SENTINEL_CPU;
    assert_int_equal(HlIoApicLookupGsi(24, &Index, &Pin), IRQ_STATUS_INVALID_GSI);
    assert_int_equal(Index, SENTINEL_CPU);
    assert_int_equal(Pin, SENTINEL_CPU);
}

/* Four CPUs, CPU 3 offline (Ke) and unregistered (Hl). */
#define THREE_ONLINE_TEST(Test) cmocka_unit_test_setup_teardown(Test, TbSetupThreeOfFourCpus, TbTeardown)

TB_TEST_MAIN(
    THREE_ONLINE_TEST(test_ipi_vector_cannot_be_taken_over),
    THREE_ONLINE_TEST(test_layout_with_unusable_ipi_vector_refused),
    THREE_ONLINE_TEST(test_reinitialize_connected_object_refused),
    THREE_ONLINE_TEST(test_copy_of_connected_object_is_fresh_storage),
    THREE_ONLINE_TEST(test_initialize_over_part_of_connected_object_refused),
    THREE_ONLINE_TEST(test_shutdown_with_connected_object_refused),
    THREE_ONLINE_TEST(test_io_object_refused_by_ke_disconnect),
    THREE_ONLINE_TEST(test_ke_object_refused_by_io_disconnect),
    THREE_ONLINE_TEST(test_disconnect_null_is_invalid_parameter),
    THREE_ONLINE_TEST(test_free_vector_under_connected_object_refused),
    THREE_ONLINE_TEST(test_ipi_to_unregistered_cpu_sends_nothing),
    cmocka_unit_test_setup_teardown(test_select_mode_after_lapic_enabled_refused, SetupHardwareOnly,
                                    TbTeardownHardwareLayer),
    cmocka_unit_test_setup_teardown(test_select_mode_after_registration_refused, SetupHardwareOnly,
                                    TbTeardownHardwareLayer),
    cmocka_unit_test_setup_teardown(test_override_to_uncovered_gsi_refused, SetupHardwareOnly,
                                    TbTeardownHardwareLayer),
    cmocka_unit_test_setup_teardown(test_lookup_gsi_outputs, SetupHardwareOnly, TbTeardownHardwareLayer))
