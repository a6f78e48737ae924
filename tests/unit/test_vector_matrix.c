/* SPDX-License-Identifier: MIT */
/*
 * The vector matrix (src/ke/vector_matrix.c) on its own: matrices of any size
 * built in test storage, no Ke system. The sim is created only because the
 * matrix's IR_LOCK calls the interrupt-flag hooks, which need a current CPU.
 *
 * Amd64 layout facts the expectations rest on: device vectors 0x30-0xCF
 * (IRQL == class == vector >> 4), minus spurious 0x3F, reboot 0x50 and
 * generic 0xC1: 157 device vectors, 3 reserved inside the range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <irqroute/ke.h>

#include "ki_matrix.h" /* irqroute_ke_matrix_whitebox */
#include "sim.h"

#define AMD64_DEVICE_VECTORS 157u
#define AMD64_RESERVED_IN_RANGE 3u

static void *Storage;

static KI_VECTOR_MATRIX *NewMatrixWithLayout(uint32_t CpuCount, uint32_t OnlineCount, const KE_VECTOR_LAYOUT *Layout)
{
    size_t Size = KiMatrixStorageSize(CpuCount);
    assert_true(Size > 0);
    free(Storage);
    Storage = aligned_alloc(64, (Size + 63u) & ~(size_t)63u);
    assert_non_null(Storage);
    memset(Storage, 0xA5, Size); /* the matrix must not rely on zeroed storage */
    KI_VECTOR_MATRIX *Matrix = NULL;
    assert_int_equal(KiMatrixInitialize(Storage, Size, CpuCount, Layout, &Matrix), IRQ_STATUS_SUCCESS);
    assert_non_null(Matrix);
    for (uint32_t Cpu = 0; Cpu < OnlineCount; Cpu++)
        KiMatrixSetOnline(Matrix, Cpu, true);
    return Matrix;
}

static KI_VECTOR_MATRIX *NewMatrix(uint32_t CpuCount, uint32_t OnlineCount)
{
    return NewMatrixWithLayout(CpuCount, OnlineCount, &KeAmd64VectorLayout);
}

static void AllCpus(IR_CPU_SET *Set)
{
    IrCpuSetFill(Set, IR_MAX_CPUS);
}

static void OneCpu(IR_CPU_SET *Set, uint32_t Cpu)
{
    IrCpuSetZero(Set);
    IrCpuSetAdd(Set, Cpu);
}

/* What an allocation handed out. */
typedef struct _ALLOCATION {
    uint32_t Cpu;
    uint8_t Vector;
} ALLOCATION;

/* KiMatrixAllocate over Mask at Irql, which must succeed. */
static ALLOCATION MustAllocateIn(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Mask, KIRQL Irql)
{
    ALLOCATION Allocation = {.Cpu = IR_CPU_NONE, .Vector = 0};
    assert_int_equal(KiMatrixAllocate(Matrix, Mask, Irql, &Allocation.Cpu, &Allocation.Vector), IRQ_STATUS_SUCCESS);
    return Allocation;
}

/* The same with every CPU allowed. */
static ALLOCATION MustAllocate(KI_VECTOR_MATRIX *Matrix, KIRQL Irql)
{
    IR_CPU_SET All;
    AllCpus(&All);
    return MustAllocateIn(Matrix, &All, Irql);
}

/* The status of an allocation at Irql with every CPU allowed. */
static IRQ_STATUS AllocateAnywhere(KI_VECTOR_MATRIX *Matrix, KIRQL Irql)
{
    IR_CPU_SET All;
    AllCpus(&All);
    uint32_t Cpu;
    uint8_t Vector;
    return KiMatrixAllocate(Matrix, &All, Irql, &Cpu, &Vector);
}

static uint32_t AllocatedOn(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, Cpu, &Usage), IRQ_STATUS_SUCCESS);
    return Usage.Allocated;
}

static bool IsAmd64Reserved(uint32_t Vector)
{
    static const uint8_t Reserved[] = {0x1F, 0x2F, 0x3F, 0x50, 0xC1, 0xD1, 0xD2, 0xE1, 0xE3, 0xFD, 0xFE, 0xFF};
    for (size_t Index = 0; Index < sizeof(Reserved); Index++) {
        if (Reserved[Index] == Vector)
            return true;
    }
    return false;
}

/* The usage report agrees with IsAllocated vector by vector (I1/I2 seen
 * from outside). */
static void CheckConsistent(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t DeviceVectors)
{
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, Cpu, &Usage), IRQ_STATUS_SUCCESS);
    uint32_t Counted = 0;
    uint32_t PerClass[16] = {0};
    for (uint32_t Vector = 0; Vector < 256; Vector++) {
        if (KiMatrixIsAllocated(Matrix, Cpu, (uint8_t)Vector)) {
            Counted++;
            PerClass[Vector >> 4]++;
        }
    }
    assert_int_equal(Usage.Allocated, Counted);
    assert_int_equal(Usage.Allocated + Usage.Available, DeviceVectors);
    for (uint32_t Class = 0; Class < 16; Class++)
        assert_int_equal(Usage.AllocatedPerClass[Class], PerClass[Class]);
}

static void CheckAllConsistent(KI_VECTOR_MATRIX *Matrix, uint32_t CpuCount)
{
    for (uint32_t Cpu = 0; Cpu < CpuCount; Cpu++)
        CheckConsistent(Matrix, Cpu, AMD64_DEVICE_VECTORS);
}

/* ---- Fixtures ----------------------------------------------------------------- */

static int GroupSetup(void **State)
{
    (void)State;
    SIM_CONFIG Config = {.CpuCount = 1};
    if (SimCreate(&Config) != 0)
        return -1;
    SimAttachCpu(0);
    return 0;
}

static int GroupTeardown(void **State)
{
    (void)State;
    free(Storage);
    Storage = NULL;
    SimDetachCpu();
    SimDestroy();
    return 0;
}

/* ---- Initialisation ------------------------------------------------------------- */

static void test_initialize_rejects_bad_arguments(void **State)
{
    (void)State;
    size_t Size = KiMatrixStorageSize(4);
    uint8_t *Buffer = aligned_alloc(64, Size + 64);
    assert_non_null(Buffer);
    KI_VECTOR_MATRIX *Matrix = NULL;

    assert_int_equal(KiMatrixStorageSize(0), 0);
    assert_int_equal(KiMatrixStorageSize(IR_MAX_CPUS + 1), 0);
    assert_true(KiMatrixStorageSize(IR_MAX_CPUS) > KiMatrixStorageSize(4));
    assert_int_equal(KiMatrixInitialize(NULL, Size, 4, &KeAmd64VectorLayout, &Matrix), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixInitialize(Buffer, Size, 4, NULL, &Matrix), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixInitialize(Buffer, Size, 4, &KeAmd64VectorLayout, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixInitialize(Buffer + 8, Size, 4, &KeAmd64VectorLayout, &Matrix),
                     IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixInitialize(Buffer, Size, 0, &KeAmd64VectorLayout, &Matrix), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixInitialize(Buffer, Size, IR_MAX_CPUS + 1, &KeAmd64VectorLayout, &Matrix),
                     IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixInitialize(Buffer, Size - 1, 4, &KeAmd64VectorLayout, &Matrix),
                     IRQ_STATUS_BUFFER_TOO_SMALL);
    KE_VECTOR_LAYOUT Backwards = KeAmd64VectorLayout;
    Backwards.FirstDeviceVector = 0xD0;
    assert_int_equal(KiMatrixInitialize(Buffer, Size, 4, &Backwards, &Matrix), IRQ_STATUS_INVALID_PARAMETER);
    assert_null(Matrix);
    free(Buffer);
}

static void test_fresh_matrix_is_offline_and_empty(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 0);
    IR_CPU_SET Online, All;
    KiMatrixQueryOnline(Matrix, &Online);
    assert_true(IrCpuSetIsEmpty(&Online));
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        assert_false(KiMatrixIsOnline(Matrix, Cpu));
        KE_VECTOR_USAGE Usage;
        assert_int_equal(KiMatrixQueryUsage(Matrix, Cpu, &Usage), IRQ_STATUS_SUCCESS);
        assert_int_equal(Usage.Allocated, 0);
        assert_int_equal(Usage.Available, AMD64_DEVICE_VECTORS);
        assert_int_equal(Usage.Reserved, AMD64_RESERVED_IN_RANGE);
    }
    AllCpus(&All);
    uint32_t Cpu = 77;
    uint8_t Vector = 0;
    assert_int_equal(KiMatrixAllocate(Matrix, &All, KE_IRQL_ANY, &Cpu, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(Cpu, 77); /* outputs untouched on failure */
    CheckAllConsistent(Matrix, 4);
}

static void test_online_set_and_query(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(130, 0);
    KiMatrixSetOnline(Matrix, 0, true);
    KiMatrixSetOnline(Matrix, 64, true);
    KiMatrixSetOnline(Matrix, 129, true);
    KiMatrixSetOnline(Matrix, 129, true); /* twice: still one CPU */
    KiMatrixSetOnline(Matrix, 130, true); /* beyond the count: ignored */
    IR_CPU_SET Online;
    KiMatrixQueryOnline(Matrix, &Online);
    assert_int_equal(IrCpuSetWeight(&Online), 3);
    assert_true(IrCpuSetContains(&Online, 0) && IrCpuSetContains(&Online, 64) && IrCpuSetContains(&Online, 129));
    assert_true(KiMatrixIsOnline(Matrix, 64));
    assert_false(KiMatrixIsOnline(Matrix, 1));
    assert_false(KiMatrixIsOnline(Matrix, 130));

    KiMatrixSetOnline(Matrix, 64, false);
    KiMatrixSetOnline(Matrix, 64, false);
    KiMatrixQueryOnline(Matrix, &Online);
    assert_int_equal(IrCpuSetWeight(&Online), 2);
    assert_false(KiMatrixIsOnline(Matrix, 64));

    /* Setting a CPU online twice must not leave it in two load buckets:
     * three allocations go 0, 129, then back to 0. */
    static const uint32_t Expected[] = {0, 129, 0};
    for (size_t Index = 0; Index < 3; Index++)
        assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, Expected[Index]);

    /* Offline twice must not take a second CPU out of the bucket with it. */
    Matrix = NewMatrix(2, 2);
    KiMatrixSetOnline(Matrix, 1, false);
    KiMatrixSetOnline(Matrix, 1, false);
    for (size_t Index = 0; Index < 2; Index++)
        assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 0);
}

/* ---- IRQL and classes ------------------------------------------------------------ */

static void test_irql_maps_to_its_class(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    for (KIRQL Irql = 3; Irql <= 12; Irql++) {
        uint8_t Vector = MustAllocate(Matrix, Irql).Vector;
        assert_int_equal(Vector >> 4, Irql);
        assert_int_equal(KiMatrixIrqlOfVector(Matrix, Vector), Irql);
        /* The lowest free vector of the class; reboot 0x50 is skipped. */
        assert_int_equal(Vector, Irql == 5 ? 0x51 : (uint8_t)(Irql << 4));
    }
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0x60), 6);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0x6F), 6);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0xCF), 12);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0x30), 3);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0xD1), KE_IRQL_ANY);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0x2F), KE_IRQL_ANY);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0xFF), KE_IRQL_ANY);
}

static void test_irql_6_uses_0x60_to_0x6f_until_exhausted(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    IR_CPU_SET All;
    AllCpus(&All);
    for (uint32_t Expected = 0x60; Expected <= 0x6F; Expected++) {
        ALLOCATION Allocation = MustAllocate(Matrix, 6);
        assert_int_equal(Allocation.Cpu, 0);
        assert_int_equal(Allocation.Vector, Expected);
    }
    KE_VECTOR_USAGE Before, After;
    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, &Before), IRQ_STATUS_SUCCESS);
    assert_int_equal(Before.AllocatedPerClass[6], 16);
    uint32_t Cpu = 99;
    uint8_t Vector = 0x42;
    assert_int_equal(KiMatrixAllocate(Matrix, &All, 6, &Cpu, &Vector), IRQ_STATUS_VECTOR_EXHAUSTED);
    assert_int_equal(Cpu, 99);
    assert_int_equal(Vector, 0x42);
    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, &After), IRQ_STATUS_SUCCESS);
    assert_memory_equal(&Before, &After, sizeof(Before));

    /* Other IRQLs are unaffected; freeing one class-6 vector makes it the next one. */
    assert_int_equal(MustAllocate(Matrix, 7).Vector, 0x70);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x65), IRQ_STATUS_SUCCESS);
    assert_int_equal(MustAllocate(Matrix, 6).Vector, 0x65);
    CheckConsistent(Matrix, 0, AMD64_DEVICE_VECTORS);
}

static void test_class_with_reserved_vector_holds_fifteen(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    /* Class 3 holds spurious 0x3F, class 5 reboot 0x50. */
    static const struct {
        KIRQL Irql;
        uint8_t Reserved;
    } Cases[] = {{3, 0x3F}, {5, 0x50}};
    for (size_t Case = 0; Case < 2; Case++) {
        for (uint32_t Count = 0; Count < 15; Count++)
            assert_int_not_equal(MustAllocate(Matrix, Cases[Case].Irql).Vector, Cases[Case].Reserved);
        assert_int_equal(AllocateAnywhere(Matrix, Cases[Case].Irql), IRQ_STATUS_VECTOR_EXHAUSTED);
    }
}

static void test_invalid_irql(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(2, 2);
    IR_CPU_SET All;
    AllCpus(&All);
    static const KIRQL Bad[] = {PASSIVE_LEVEL, APC_LEVEL, DISPATCH_LEVEL, CLOCK_LEVEL, IPI_LEVEL,
                                HIGH_LEVEL,    16,        200,            0xFE};
    for (size_t Index = 0; Index < sizeof(Bad); Index++) {
        uint32_t Cpu;
        uint8_t Vector;
        assert_int_equal(KiMatrixAllocate(Matrix, &All, Bad[Index], &Cpu, &Vector), IRQ_STATUS_INVALID_IRQL);
        assert_int_equal(KiMatrixAllocateOnSet(Matrix, &All, Bad[Index], &Vector), IRQ_STATUS_INVALID_IRQL);
    }
    CheckAllConsistent(Matrix, 2);
    assert_int_equal(AllocatedOn(Matrix, 0) + AllocatedOn(Matrix, 1), 0);
}

/* ---- Exhaustion and spreading ---------------------------------------------------- */

static void test_cpu_exhaustion_never_hands_out_system_vectors(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    IR_CPU_SET All;
    AllCpus(&All);
    bool Seen[256] = {false};
    for (uint32_t Count = 0; Count < AMD64_DEVICE_VECTORS; Count++) {
        ALLOCATION Allocation = MustAllocate(Matrix, KE_IRQL_ANY);
        uint8_t Vector = Allocation.Vector;
        assert_int_equal(Allocation.Cpu, 0);
        assert_false(Seen[Vector]);
        Seen[Vector] = true;
        assert_in_range(Vector, 0x30, 0xCF);
        assert_false(IsAmd64Reserved(Vector));
    }
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, &Usage), IRQ_STATUS_SUCCESS);
    assert_int_equal(Usage.Allocated, AMD64_DEVICE_VECTORS);
    assert_int_equal(Usage.Available, 0);

    uint8_t Vector;
    assert_int_equal(AllocateAnywhere(Matrix, KE_IRQL_ANY), IRQ_STATUS_VECTOR_EXHAUSTED);
    for (KIRQL Irql = 3; Irql <= 12; Irql++)
        assert_int_equal(AllocateAnywhere(Matrix, Irql), IRQ_STATUS_VECTOR_EXHAUSTED);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &All, KE_IRQL_ANY, &Vector), IRQ_STATUS_INVALID_CPU);
    IR_CPU_SET Zero;
    OneCpu(&Zero, 0);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Zero, KE_IRQL_ANY, &Vector), IRQ_STATUS_VECTOR_EXHAUSTED);
    CheckConsistent(Matrix, 0, AMD64_DEVICE_VECTORS);
}

static void test_any_irql_spreads_over_classes(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    /* One per class 3..12 first, lowest class first ... */
    for (uint32_t Class = 3; Class <= 12; Class++)
        assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Vector >> 4, Class);
    /* ... then round again: every class holds one, so the lowest class. */
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Vector, 0x31);
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, &Usage), IRQ_STATUS_SUCCESS);
    for (uint32_t Class = 4; Class <= 12; Class++)
        assert_int_equal(Usage.AllocatedPerClass[Class], 1);
    assert_int_equal(Usage.AllocatedPerClass[3], 2);
    assert_int_equal(Usage.AllocatedPerClass[13], 0);

    /* The least-used class wins: after freeing class 9's vector, it is next. */
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x90), IRQ_STATUS_SUCCESS);
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Vector, 0x90);
    /* A full class is passed over even when it is the least used elsewhere. */
    CheckConsistent(Matrix, 0, AMD64_DEVICE_VECTORS);
}

static void test_any_irql_skips_full_classes(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    /* Classes 3..11 at 16 (or 15, full) by reservation, class 12 empty. */
    for (uint32_t Vector = 0x30; Vector <= 0xBF; Vector++) {
        if (!IsAmd64Reserved(Vector))
            assert_int_equal(KiMatrixReserve(Matrix, 0, (uint8_t)Vector), IRQ_STATUS_SUCCESS);
    }
    for (uint32_t Count = 0; Count < 15; Count++) /* 0xC1 is reserved */
        assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Vector >> 4, 12);
    assert_int_equal(AllocateAnywhere(Matrix, KE_IRQL_ANY), IRQ_STATUS_VECTOR_EXHAUSTED);
}

/* ---- Least-loaded choice ----------------------------------------------------------- */

static void test_least_loaded_with_lowest_id_ties(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 4);
    /* All at load 0: ties go to the lowest id, so the allocations round-robin. */
    for (uint32_t Round = 0; Round < 3; Round++) {
        for (uint32_t Expected = 0; Expected < 4; Expected++)
            assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, Expected);
    }
    /* Loads 3 3 3 3. Load CPU 0 and 1 further; CPU 2 is then the least loaded. */
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0xA5), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixReserve(Matrix, 1, 0xA5), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixReserve(Matrix, 3, 0xA5), IRQ_STATUS_SUCCESS);
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 2);
    /* Now 4 4 4 4 again; freeing one on CPU 3 makes it the least loaded. */
    assert_int_equal(KiMatrixFree(Matrix, 3, 0xA5), IRQ_STATUS_SUCCESS);
    ALLOCATION Allocation = MustAllocate(Matrix, 9);
    assert_int_equal(Allocation.Cpu, 3);
    assert_int_equal(Allocation.Vector >> 4, 9);
    CheckAllConsistent(Matrix, 4);
}

/* The query names the CPU an allocation would take, and takes nothing. */
static void test_query_least_loaded_takes_nothing(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 3);
    IR_CPU_SET All, Offline;
    AllCpus(&All);
    uint32_t Cpu = 99;
    uint8_t Vector;
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0xA5), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &All, &Cpu), IRQ_STATUS_SUCCESS);
    assert_int_equal(Cpu, 1);
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &All, &Cpu), IRQ_STATUS_SUCCESS);
    assert_int_equal(Cpu, 1); /* nothing was taken: the same answer */
    assert_int_equal(AllocatedOn(Matrix, 1), 0);
    uint32_t Allocated;
    assert_int_equal(KiMatrixAllocate(Matrix, &All, KE_IRQL_ANY, &Allocated, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Allocated, 1);
    IrCpuSetZero(&Offline);
    IrCpuSetAdd(&Offline, 3);
    Cpu = 99;
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &Offline, &Cpu), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(Cpu, 99);
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, NULL, &Cpu), IRQ_STATUS_INVALID_PARAMETER);
    CheckAllConsistent(Matrix, 4);
}

static void test_affinity_limits_the_choice(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(8, 8);
    IR_CPU_SET Mask;
    IrCpuSetZero(&Mask);
    IrCpuSetAdd(&Mask, 5);
    IrCpuSetAdd(&Mask, 7);
    static const uint32_t Expected[] = {5, 7, 5, 7};
    for (size_t Index = 0; Index < 4; Index++)
        assert_int_equal(MustAllocateIn(Matrix, &Mask, 6).Cpu, Expected[Index]);
    for (uint32_t Other = 0; Other < 8; Other++) {
        if (Other != 5 && Other != 7)
            assert_int_equal(AllocatedOn(Matrix, Other), 0);
    }
    /* CPUs beyond the count in the mask are ignored, not an error. */
    IrCpuSetAdd(&Mask, 4000);
    assert_int_equal(MustAllocateIn(Matrix, &Mask, 6).Cpu, 5);
}

static void test_least_loaded_cpu_without_room_in_class_is_skipped(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(2, 2);
    /* CPU 0: class 6 full (load 16). CPU 1: 20 vectors in class 7 and 8 (load 20). */
    for (uint32_t Vector = 0x60; Vector <= 0x6F; Vector++)
        assert_int_equal(KiMatrixReserve(Matrix, 0, (uint8_t)Vector), IRQ_STATUS_SUCCESS);
    for (uint32_t Vector = 0x70; Vector < 0x70 + 20; Vector++)
        assert_int_equal(KiMatrixReserve(Matrix, 1, (uint8_t)Vector), IRQ_STATUS_SUCCESS);
    ALLOCATION Allocation = MustAllocate(Matrix, 6);
    assert_int_equal(Allocation.Cpu, 1);
    assert_int_equal(Allocation.Vector, 0x60);
    /* IRQL 7 is full on CPU 1, free on the less loaded CPU 0. */
    assert_int_equal(MustAllocate(Matrix, 7).Cpu, 0);
    /* Freeing a class-6 vector on CPU 0 makes it eligible for IRQL 6 again. */
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x6A), IRQ_STATUS_SUCCESS);
    Allocation = MustAllocate(Matrix, 6);
    assert_int_equal(Allocation.Cpu, 0);
    assert_int_equal(Allocation.Vector, 0x6A);
    /* Class 6 now full on CPU 0 only; restricted to CPU 0 it is exhaustion,
     * not an empty affinity. */
    IR_CPU_SET Zero;
    OneCpu(&Zero, 0);
    uint32_t Cpu;
    uint8_t Vector;
    assert_int_equal(KiMatrixAllocate(Matrix, &Zero, 6, &Cpu, &Vector), IRQ_STATUS_VECTOR_EXHAUSTED);
    CheckAllConsistent(Matrix, 2);
}

static void test_offline_cpus_are_skipped(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 4);
    KiMatrixSetOnline(Matrix, 0, false);
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 1);
    for (uint32_t Count = 0; Count < 30; Count++)
        assert_int_not_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 0);
    assert_int_equal(AllocatedOn(Matrix, 0), 0);

    /* An offline CPU can be given fixed vectors and keeps them: brought
     * online with load 20, it is not chosen while others are below it. */
    for (uint32_t Vector = 0x80; Vector < 0x80 + 20; Vector++)
        assert_int_equal(KiMatrixReserve(Matrix, 0, (uint8_t)Vector), IRQ_STATUS_SUCCESS);
    KiMatrixSetOnline(Matrix, 0, true);
    assert_int_equal(AllocatedOn(Matrix, 0), 20);
    assert_int_not_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 0);
    CheckAllConsistent(Matrix, 4);
}

static void test_empty_or_offline_affinity(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 2); /* CPUs 2, 3 offline */
    IR_CPU_SET Mask;
    uint32_t Cpu;
    uint8_t Vector;
    IrCpuSetZero(&Mask);
    assert_int_equal(KiMatrixAllocate(Matrix, &Mask, KE_IRQL_ANY, &Cpu, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    IrCpuSetAdd(&Mask, 2);
    IrCpuSetAdd(&Mask, 3);
    assert_int_equal(KiMatrixAllocate(Matrix, &Mask, 6, &Cpu, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    OneCpu(&Mask, 4095); /* only a CPU beyond the count */
    assert_int_equal(KiMatrixAllocate(Matrix, &Mask, 6, &Cpu, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(KiMatrixAllocate(Matrix, NULL, 6, &Cpu, &Vector), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixAllocate(Matrix, &Mask, 6, NULL, &Vector), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixAllocate(Matrix, &Mask, 6, &Cpu, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixAllocate(NULL, &Mask, 6, &Cpu, &Vector), IRQ_STATUS_INVALID_PARAMETER);
    CheckAllConsistent(Matrix, 4);
    for (uint32_t Index = 0; Index < 4; Index++)
        assert_int_equal(AllocatedOn(Matrix, Index), 0);
}

/* ---- Same vector on a set -------------------------------------------------------- */

static void test_same_vector_on_a_set(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 4);
    assert_int_equal(KiMatrixReserve(Matrix, 1, 0x60), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixReserve(Matrix, 2, 0x61), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Set;
    IrCpuSetZero(&Set);
    IrCpuSetAdd(&Set, 0);
    IrCpuSetAdd(&Set, 1);
    IrCpuSetAdd(&Set, 2);
    uint8_t Vector = 0;
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Vector, 0x62);
    for (uint32_t Cpu = 0; Cpu < 3; Cpu++)
        assert_true(KiMatrixIsAllocated(Matrix, Cpu, 0x62));
    assert_false(KiMatrixIsAllocated(Matrix, 3, 0x62));

    /* KE_IRQL_ANY: the lowest device vector free on all of them. */
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, KE_IRQL_ANY, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Vector, 0x30);
    assert_int_equal(AllocatedOn(Matrix, 0), 2);
    assert_int_equal(AllocatedOn(Matrix, 1), 3);
    assert_int_equal(AllocatedOn(Matrix, 3), 0);

    /* The set's vectors count as load: CPU 3 is now the least loaded. */
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 3);
    CheckAllConsistent(Matrix, 4);
}

static void test_same_vector_on_a_set_without_common_vector(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(2, 2);
    for (uint32_t Vector = 0x60; Vector <= 0x67; Vector++)
        assert_int_equal(KiMatrixReserve(Matrix, 0, (uint8_t)Vector), IRQ_STATUS_SUCCESS);
    for (uint32_t Vector = 0x68; Vector <= 0x6F; Vector++)
        assert_int_equal(KiMatrixReserve(Matrix, 1, (uint8_t)Vector), IRQ_STATUS_SUCCESS);
    IR_CPU_SET Both;
    IrCpuSetFill(&Both, 2);
    uint8_t Vector = 0x11;
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Both, 6, &Vector), IRQ_STATUS_VECTOR_EXHAUSTED);
    assert_int_equal(Vector, 0x11);
    assert_int_equal(AllocatedOn(Matrix, 0), 8);
    assert_int_equal(AllocatedOn(Matrix, 1), 8);
    /* Each CPU alone still has class-6 vectors. */
    IR_CPU_SET One;
    OneCpu(&One, 1);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &One, 6, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Vector, 0x60);
    /* Another IRQL has a common vector. */
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Both, 7, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Vector, 0x70);
    CheckAllConsistent(Matrix, 2);
}

static void test_same_vector_on_a_set_rejects_bad_sets(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 3); /* CPU 3 offline */
    IR_CPU_SET Set;
    uint8_t Vector;
    IrCpuSetZero(&Set);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    OneCpu(&Set, 3);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    IrCpuSetAdd(&Set, 0); /* one online, one offline */
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, &Vector), IRQ_STATUS_INVALID_CPU);
    OneCpu(&Set, 0);
    IrCpuSetAdd(&Set, 4); /* beyond the count */
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, &Vector), IRQ_STATUS_INVALID_CPU);
    OneCpu(&Set, 0);
    IrCpuSetAdd(&Set, 4095);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, &Vector), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, NULL, 6, &Vector), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Set, 6, NULL), IRQ_STATUS_INVALID_PARAMETER);
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++)
        assert_int_equal(AllocatedOn(Matrix, Cpu), 0);
}

/* ---- Reserve and free ------------------------------------------------------------ */

static void test_reserve_free_and_double_free(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(2, 1); /* CPU 1 offline */
    assert_false(KiMatrixIsAllocated(Matrix, 0, 0x70));
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS);
    assert_true(KiMatrixIsAllocated(Matrix, 0, 0x70));
    assert_false(KiMatrixIsAllocated(Matrix, 1, 0x70));
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x70), IRQ_STATUS_SHARING_VIOLATION);
    assert_int_equal(AllocatedOn(Matrix, 0), 1);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS);
    assert_false(KiMatrixIsAllocated(Matrix, 0, 0x70));
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x70), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x71), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(AllocatedOn(Matrix, 0), 0);

    /* Offline CPUs accept reservations. */
    assert_int_equal(KiMatrixReserve(Matrix, 1, 0x70), IRQ_STATUS_SUCCESS);
    assert_true(KiMatrixIsAllocated(Matrix, 1, 0x70));
    assert_int_equal(KiMatrixFree(Matrix, 1, 0x70), IRQ_STATUS_SUCCESS);

    /* An allocated vector cannot be reserved again, but can be freed. */
    ALLOCATION Allocation = MustAllocate(Matrix, 8);
    assert_int_equal(KiMatrixReserve(Matrix, Allocation.Cpu, Allocation.Vector), IRQ_STATUS_SHARING_VIOLATION);
    assert_int_equal(KiMatrixFree(Matrix, Allocation.Cpu, Allocation.Vector), IRQ_STATUS_SUCCESS);

    assert_int_equal(KiMatrixReserve(Matrix, 2, 0x70), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixFree(Matrix, 2, 0x70), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixReserve(Matrix, IR_CPU_NONE, 0x70), IRQ_STATUS_INVALID_CPU);
    assert_false(KiMatrixIsAllocated(Matrix, 2, 0x70));
    assert_int_equal(KiMatrixReserve(NULL, 0, 0x70), IRQ_STATUS_INVALID_PARAMETER);
    CheckAllConsistent(Matrix, 2);
}

/* I7: a vector Ke holds (objects linked on it) is refused to KiMatrixFree;
 * Hold takes a free vector or keeps a caller's, ReleaseHeld frees it. */
static void test_held_vector_is_refused_to_free(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(2, 2);
    assert_int_equal(KiMatrixHold(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS); /* free: taken by the hold */
    assert_true(KiMatrixIsAllocated(Matrix, 0, 0x70));
    assert_int_equal(AllocatedOn(Matrix, 0), 1);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x70), IRQ_STATUS_ACCESS_DENIED);
    assert_true(KiMatrixIsAllocated(Matrix, 0, 0x70));
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x70), IRQ_STATUS_SHARING_VIOLATION);
    assert_int_equal(KiMatrixHold(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS); /* a second sharer's link */
    assert_int_equal(AllocatedOn(Matrix, 0), 1);
    assert_int_equal(KiMatrixReleaseHeld(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS);
    assert_false(KiMatrixIsAllocated(Matrix, 0, 0x70));
    assert_int_equal(KiMatrixReleaseHeld(Matrix, 0, 0x70), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x70), IRQ_STATUS_INVALID_STATE);

    /* A vector the caller allocated: held as it is, freed with the last link. */
    ALLOCATION Allocation = MustAllocate(Matrix, 8);
    assert_int_equal(KiMatrixHold(Matrix, Allocation.Cpu, Allocation.Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(AllocatedOn(Matrix, Allocation.Cpu), 1);
    assert_int_equal(KiMatrixFree(Matrix, Allocation.Cpu, Allocation.Vector), IRQ_STATUS_ACCESS_DENIED);
    assert_int_equal(KiMatrixReleaseHeld(Matrix, Allocation.Cpu, Allocation.Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(AllocatedOn(Matrix, Allocation.Cpu), 0);

    /* Held on one CPU says nothing of another. */
    assert_int_equal(KiMatrixHold(Matrix, 1, 0x70), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x70), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixReleaseHeld(Matrix, 1, 0x70), IRQ_STATUS_SUCCESS);

    /* Bad arguments: the statuses of Reserve and Free, nothing changed. */
    assert_int_equal(KiMatrixHold(NULL, 0, 0x70), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixHold(Matrix, 2, 0x70), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixHold(Matrix, 0, 0x20), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(KiMatrixReleaseHeld(Matrix, 0, 0x20), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(AllocatedOn(Matrix, 0) + AllocatedOn(Matrix, 1), 0);
    CheckAllConsistent(Matrix, 2);
}

static void test_system_vectors_cannot_be_reserved_or_freed(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(1, 1);
    static const uint8_t Outside[] = {0x00, 0x1F, 0x20, 0x2F, 0x3F, 0x50, 0xC1, 0xD0, 0xD1, 0xE1, 0xFF};
    for (size_t Index = 0; Index < sizeof(Outside); Index++) {
        assert_int_equal(KiMatrixReserve(Matrix, 0, Outside[Index]), IRQ_STATUS_INVALID_VECTOR);
        assert_int_equal(KiMatrixFree(Matrix, 0, Outside[Index]), IRQ_STATUS_INVALID_VECTOR);
        assert_false(KiMatrixIsAllocated(Matrix, 0, Outside[Index]));
    }
    /* The edges of the device range are device vectors. */
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x30), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0xCF), IRQ_STATUS_SUCCESS);
    assert_int_equal(AllocatedOn(Matrix, 0), 2);
    CheckConsistent(Matrix, 0, AMD64_DEVICE_VECTORS);
}

/* ---- Usage report --------------------------------------------------------------- */

static void test_usage_report(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(2, 2);
    IR_CPU_SET Zero;
    OneCpu(&Zero, 0);
    for (uint32_t Count = 0; Count < 3; Count++)
        (void)MustAllocateIn(Matrix, &Zero, 10);
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x44), IRQ_STATUS_SUCCESS);
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, &Usage), IRQ_STATUS_SUCCESS);
    assert_int_equal(Usage.Allocated, 4);
    assert_int_equal(Usage.Available, AMD64_DEVICE_VECTORS - 4);
    assert_int_equal(Usage.Reserved, AMD64_RESERVED_IN_RANGE);
    assert_int_equal(Usage.AllocatedPerClass[10], 3);
    assert_int_equal(Usage.AllocatedPerClass[4], 1);
    assert_int_equal(AllocatedOn(Matrix, 1), 0);

    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, NULL), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixQueryUsage(NULL, 0, &Usage), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixQueryUsage(Matrix, 2, &Usage), IRQ_STATUS_INVALID_CPU);
    CheckAllConsistent(Matrix, 2);
}

/* ---- Failing calls change nothing ----------------------------------------------- */

typedef struct _SNAPSHOT {
    KE_VECTOR_USAGE Usage[4];
    bool Allocated[4][256];
    IR_CPU_SET Online;
} SNAPSHOT;

static void TakeSnapshot(KI_VECTOR_MATRIX *Matrix, SNAPSHOT *Snapshot)
{
    memset(Snapshot, 0, sizeof(*Snapshot));
    for (uint32_t Cpu = 0; Cpu < 4; Cpu++) {
        assert_int_equal(KiMatrixQueryUsage(Matrix, Cpu, &Snapshot->Usage[Cpu]), IRQ_STATUS_SUCCESS);
        for (uint32_t Vector = 0; Vector < 256; Vector++)
            Snapshot->Allocated[Cpu][Vector] = KiMatrixIsAllocated(Matrix, Cpu, (uint8_t)Vector);
    }
    KiMatrixQueryOnline(Matrix, &Snapshot->Online);
}

static void test_failing_calls_change_nothing(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 3); /* CPU 3 offline */
    IR_CPU_SET All, Empty, Offline, Mixed, JustTwo;
    AllCpus(&All);
    IrCpuSetZero(&Empty);
    OneCpu(&Offline, 3);
    OneCpu(&Mixed, 0);
    IrCpuSetAdd(&Mixed, 3);
    uint32_t Cpu;
    uint8_t Vector;
    /* Some state first: class 6 full on CPU 2, a few vectors elsewhere. */
    for (uint32_t Index = 0x60; Index <= 0x6F; Index++)
        assert_int_equal(KiMatrixReserve(Matrix, 2, (uint8_t)Index), IRQ_STATUS_SUCCESS);
    for (uint32_t Count = 0; Count < 5; Count++)
        (void)MustAllocate(Matrix, KE_IRQL_ANY);
    assert_int_equal(KiMatrixReserve(Matrix, 3, 0x90), IRQ_STATUS_SUCCESS);
    OneCpu(&JustTwo, 2);

    SNAPSHOT Before, After;
    TakeSnapshot(Matrix, &Before);
    assert_int_equal(KiMatrixAllocate(Matrix, &Empty, KE_IRQL_ANY, &Cpu, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(KiMatrixAllocate(Matrix, &Offline, 6, &Cpu, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(KiMatrixAllocate(Matrix, &JustTwo, 6, &Cpu, &Vector), IRQ_STATUS_VECTOR_EXHAUSTED);
    assert_int_equal(KiMatrixAllocate(Matrix, &All, 13, &Cpu, &Vector), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(KiMatrixAllocate(Matrix, NULL, 6, &Cpu, &Vector), IRQ_STATUS_INVALID_PARAMETER);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Mixed, 6, &Vector), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &JustTwo, 6, &Vector), IRQ_STATUS_VECTOR_EXHAUSTED);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &Empty, 6, &Vector), IRQ_STATUS_EMPTY_AFFINITY);
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &All, 6, &Vector), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixReserve(Matrix, 2, 0x60), IRQ_STATUS_SHARING_VIOLATION);
    assert_int_equal(KiMatrixReserve(Matrix, 4, 0x60), IRQ_STATUS_INVALID_CPU);
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0xE1), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0xAA), IRQ_STATUS_INVALID_STATE);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x3F), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(KiMatrixFree(Matrix, 9, 0x60), IRQ_STATUS_INVALID_CPU);
    KiMatrixSetOnline(Matrix, 4, true);
    TakeSnapshot(Matrix, &After);
    assert_memory_equal(&Before, &After, sizeof(Before));

    /* And the least-loaded order survived: five allocations alternated
     * over CPUs 0 and 1 (CPU 2 is at 16), leaving loads 3 and 2. */
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 1);
}

/* ---- Large machines --------------------------------------------------------------- */

static void test_4096_cpus(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(IR_MAX_CPUS, IR_MAX_CPUS);
    IR_CPU_SET All;
    AllCpus(&All);
    /* A full mask fills load 0 in id order, then starts over at CPU 0. */
    for (uint32_t Expected = 0; Expected < IR_MAX_CPUS; Expected++) {
        ALLOCATION Allocation = MustAllocate(Matrix, KE_IRQL_ANY);
        if (Allocation.Cpu != Expected)
            fail_msg("allocation %u went to CPU %u", Expected, Allocation.Cpu);
        assert_int_equal(Allocation.Vector, 0x30);
    }
    ALLOCATION Allocation = MustAllocate(Matrix, 12);
    assert_int_equal(Allocation.Cpu, 0);
    assert_int_equal(Allocation.Vector, 0xC0);

    /* The last CPU alone, and a mask of the top word. */
    IR_CPU_SET Last;
    OneCpu(&Last, 4095);
    assert_int_equal(MustAllocateIn(Matrix, &Last, 6).Cpu, 4095);
    IrCpuSetAdd(&Last, 4032);
    assert_int_equal(MustAllocateIn(Matrix, &Last, 6).Cpu, 4032);
    /* A sparse mask whose CPUs are all above the lowest load: CPU 1000
     * (load 1) is found past the buckets it is not in, then 4032/4095
     * (load 2) once 1000 has caught up. */
    IrCpuSetAdd(&Last, 1000);
    assert_int_equal(MustAllocateIn(Matrix, &Last, KE_IRQL_ANY).Cpu, 1000);
    OneCpu(&Last, 4095);
    IrCpuSetAdd(&Last, 3);
    static const uint32_t ExpectedOfThreeAnd4095[] = {3, 3, 4095};
    for (size_t Index = 0; Index < 3; Index++) {
        Allocation = MustAllocateIn(Matrix, &Last, 6);
        assert_int_equal(Allocation.Cpu, ExpectedOfThreeAnd4095[Index]);
    }
    assert_int_equal(KiMatrixFree(Matrix, 3, 0x60), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixFree(Matrix, 3, 0x61), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixFree(Matrix, 4095, Allocation.Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixFree(Matrix, 1000, 0x40), IRQ_STATUS_SUCCESS);

    /* One vector on all 4096 CPUs: 0x30 is taken everywhere, 0x31 is common. */
    uint8_t Vector;
    assert_int_equal(KiMatrixAllocateOnSet(Matrix, &All, KE_IRQL_ANY, &Vector), IRQ_STATUS_SUCCESS);
    assert_int_equal(Vector, 0x31);
    assert_true(KiMatrixIsAllocated(Matrix, 4095, 0x31));
    assert_true(KiMatrixIsAllocated(Matrix, 2048, 0x31));

    /* Offline every CPU but 4095: the search must still find it. */
    for (uint32_t Index = 0; Index < 4095; Index++)
        KiMatrixSetOnline(Matrix, Index, false);
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Cpu, 4095);
    CheckConsistent(Matrix, 0, AMD64_DEVICE_VECTORS);
    CheckConsistent(Matrix, 4095, AMD64_DEVICE_VECTORS);
    assert_int_equal(AllocatedOn(Matrix, 4095), 4); /* 0x30, 0x60, 0x31, and the last */
    assert_int_equal(AllocatedOn(Matrix, 2048), 2);
}

static void test_allocate_and_free_everything_returns_to_start(void **State)
{
    (void)State;
    enum { CPUS = 70 };
    KI_VECTOR_MATRIX *Matrix = NewMatrix(CPUS, CPUS);
    IR_CPU_SET All;
    AllCpus(&All);
    static uint32_t Cpus[CPUS * AMD64_DEVICE_VECTORS];
    static uint8_t Vectors[CPUS * AMD64_DEVICE_VECTORS];
    uint32_t Count = 0;
    while (KiMatrixAllocate(Matrix, &All, KE_IRQL_ANY, &Cpus[Count], &Vectors[Count]) == IRQ_STATUS_SUCCESS)
        Count++;
    assert_int_equal(Count, CPUS * AMD64_DEVICE_VECTORS);
    /* Least-loaded keeps the loads within one of each other all the way. */
    for (uint32_t Index = 0; Index < Count; Index++)
        assert_int_equal(Cpus[Index], Index % CPUS);
    for (uint32_t Index = 0; Index < Count; Index++)
        assert_int_equal(KiMatrixFree(Matrix, Cpus[Index], Vectors[Index]), IRQ_STATUS_SUCCESS);
    for (uint32_t Cpu = 0; Cpu < CPUS; Cpu++)
        assert_int_equal(AllocatedOn(Matrix, Cpu), 0);
    ALLOCATION Allocation = MustAllocate(Matrix, 6);
    assert_int_equal(Allocation.Cpu, 0);
    assert_int_equal(Allocation.Vector, 0x60);
}

/* ---- Another layout: an IRQL over two classes, a class no IRQL serves ------------- */

static const uint8_t WideReserved[] = {0x45};

static const KE_VECTOR_LAYOUT WideLayout = {
    .FirstDeviceVector = 0x40,
    .LastDeviceVector = 0x7F,
    .ReservedVectors = WideReserved,
    .ReservedVectorCount = 1,
    .SpuriousVector = 0xFF,
    .IpiVector = 0xF0,
    .ClassesOfIrql = {[4] = (1u << 4) | (1u << 5), [6] = 1u << 6},
    .TprOfIrql = {0},
};

static void test_layout_with_wide_irql(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrixWithLayout(1, 1, &WideLayout);
    /* 0x40-0x6F minus 0x45: 47 device vectors; 0x70-0x7F belongs to no IRQL. */
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, 0, &Usage), IRQ_STATUS_SUCCESS);
    assert_int_equal(Usage.Available, 47);
    assert_int_equal(Usage.Reserved, 17);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0x5A), 4);
    assert_int_equal(KiMatrixIrqlOfVector(Matrix, 0x75), KE_IRQL_ANY);
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x75), IRQ_STATUS_INVALID_VECTOR);
    assert_int_equal(KiMatrixReserve(Matrix, 0, 0x45), IRQ_STATUS_INVALID_VECTOR);

    for (uint32_t Count = 0; Count < 31; Count++) {
        uint8_t Vector = MustAllocate(Matrix, 4).Vector;
        assert_in_range(Vector, 0x40, 0x5F);
        assert_int_not_equal(Vector, 0x45);
    }
    assert_int_equal(AllocateAnywhere(Matrix, 4), IRQ_STATUS_VECTOR_EXHAUSTED);
    assert_int_equal(AllocateAnywhere(Matrix, 5), IRQ_STATUS_INVALID_IRQL);
    assert_int_equal(MustAllocate(Matrix, KE_IRQL_ANY).Vector, 0x60);
    CheckConsistent(Matrix, 0, 47);
}

/* ---- The searches by load and by CPU, and lazy buckets ------------------------------------ */

/* Loads CPU Cpu with Count vectors of any IRQL. */
static void LoadCpu(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, uint32_t Count)
{
    IR_CPU_SET One;
    OneCpu(&One, Cpu);
    for (uint32_t Index = 0; Index < Count; Index++)
        (void)MustAllocateIn(Matrix, &One, KE_IRQL_ANY);
}

/* A wide mask (64 CPUs in one word) whose CPUs are all above the lowest
 * load: more CPUs than buckets, so the search goes by load; a two-CPU mask
 * over the same loads goes by CPU. Both find the same least-loaded CPU. */
static void test_wide_and_narrow_masks_away_from_the_lowest_load(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(128, 128);
    for (uint32_t Cpu = 64; Cpu < 128; Cpu++)
        LoadCpu(Matrix, Cpu, Cpu == 90 || Cpu == 110 ? 1u : 2u);
    IR_CPU_SET Wide;
    IrCpuSetZero(&Wide);
    for (uint32_t Cpu = 64; Cpu < 128; Cpu++)
        IrCpuSetAdd(&Wide, Cpu);
    uint32_t Chosen = IR_CPU_NONE;
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &Wide, &Chosen), IRQ_STATUS_SUCCESS);
    assert_int_equal(Chosen, 90);
    IR_CPU_SET Narrow;
    OneCpu(&Narrow, 127);
    IrCpuSetAdd(&Narrow, 110);
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &Narrow, &Chosen), IRQ_STATUS_SUCCESS);
    assert_int_equal(Chosen, 110);
    /* Two allocations on the wide mask: 90, then 110 (90 is at 2 now). */
    assert_int_equal(MustAllocateIn(Matrix, &Wide, KE_IRQL_ANY).Cpu, 90);
    assert_int_equal(MustAllocateIn(Matrix, &Wide, KE_IRQL_ANY).Cpu, 110);
    assert_int_equal(MustAllocateIn(Matrix, &Wide, KE_IRQL_ANY).Cpu, 64);
    CheckAllConsistent(Matrix, 128);
}

/* A CPU that took vectors stays in its old bucket until a search meets it:
 * that search must still see its real load. */
static void test_a_cpu_that_took_vectors_is_not_taken_for_less_loaded(void **State)
{
    (void)State;
    KI_VECTOR_MATRIX *Matrix = NewMatrix(4, 4);
    LoadCpu(Matrix, 0, 3);
    LoadCpu(Matrix, 1, 2);
    LoadCpu(Matrix, 2, 1);
    IR_CPU_SET All;
    AllCpus(&All);
    uint32_t Chosen = IR_CPU_NONE;
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &All, &Chosen), IRQ_STATUS_SUCCESS);
    assert_int_equal(Chosen, 3);
    LoadCpu(Matrix, 3, 4);
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &All, &Chosen), IRQ_STATUS_SUCCESS);
    assert_int_equal(Chosen, 2);
    /* A free lowers a load below a lagging bucket's: found again at once. */
    ALLOCATION Last = MustAllocateIn(Matrix, &All, KE_IRQL_ANY);
    assert_int_equal(Last.Cpu, 2);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x30), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixFree(Matrix, 0, 0x40), IRQ_STATUS_SUCCESS);
    assert_int_equal(KiMatrixQueryLeastLoaded(Matrix, &All, &Chosen), IRQ_STATUS_SUCCESS);
    assert_int_equal(Chosen, 0);
    CheckAllConsistent(Matrix, 4);
}

/* ---- A random walk against a model ------------------------------------------------ */

#define MODEL_CPUS 200u

static uint32_t ModelRandom(uint64_t *Seed)
{
    *Seed = *Seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*Seed >> 33);
}

/* Has Cpu a free vector of Irql (KE_IRQL_ANY: any device vector)? */
static bool ModelHasRoom(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu, KIRQL Irql)
{
    for (uint32_t Vector = 0x30; Vector <= 0xCF; Vector++) {
        if (IsAmd64Reserved(Vector) || (Irql != KE_IRQL_ANY && Vector >> 4 != Irql))
            continue;
        if (!KiMatrixIsAllocated(Matrix, Cpu, (uint8_t)Vector))
            return true;
    }
    return false;
}

/* The rule from first principles: the least-loaded online CPU of Mask with
 * room for Irql, the lowest id on ties. */
static uint32_t ModelChoice(KI_VECTOR_MATRIX *Matrix, const IR_CPU_SET *Mask, KIRQL Irql)
{
    uint32_t Best = IR_CPU_NONE;
    uint32_t BestLoad = UINT32_MAX;
    for (uint32_t Cpu = 0; Cpu < MODEL_CPUS; Cpu++) {
        if (!IrCpuSetContains(Mask, Cpu) || !KiMatrixIsOnline(Matrix, Cpu) || !ModelHasRoom(Matrix, Cpu, Irql))
            continue;
        uint32_t Load = AllocatedOn(Matrix, Cpu);
        if (Load < BestLoad) {
            Best = Cpu;
            BestLoad = Load;
        }
    }
    return Best;
}

/* With KE_IRQL_ANY, the vector: the lowest free one of the CPU's least-used
 * class with room, the lowest such class on ties. */
static uint32_t ModelVector(KI_VECTOR_MATRIX *Matrix, uint32_t Cpu)
{
    KE_VECTOR_USAGE Usage;
    assert_int_equal(KiMatrixQueryUsage(Matrix, Cpu, &Usage), IRQ_STATUS_SUCCESS);
    uint32_t BestVector = 256;
    uint32_t BestLoad = UINT32_MAX;
    for (uint32_t Class = 3; Class <= 12; Class++) {
        for (uint32_t Vector = Class * 16u; Vector < Class * 16u + 16u; Vector++) {
            if (IsAmd64Reserved(Vector) || KiMatrixIsAllocated(Matrix, Cpu, (uint8_t)Vector))
                continue;
            if (Usage.AllocatedPerClass[Class] < BestLoad) {
                BestLoad = Usage.AllocatedPerClass[Class];
                BestVector = Vector;
            }
            break;
        }
    }
    return BestVector;
}

/* A mask of Weight random CPUs (Weight >= MODEL_CPUS: every CPU). */
static void ModelMask(uint64_t *Seed, uint32_t Weight, IR_CPU_SET *Mask)
{
    IrCpuSetZero(Mask);
    if (Weight >= MODEL_CPUS) {
        IrCpuSetFill(Mask, MODEL_CPUS);
        return;
    }
    for (uint32_t Index = 0; Index < Weight; Index++)
        IrCpuSetAdd(Mask, ModelRandom(Seed) % MODEL_CPUS);
}

/* Thousands of random allocations (masks of 1 to all CPUs, IRQL any or
 * fixed), frees and online changes on 200 CPUs (four words): every choice
 * is the model's, whichever search made it. */
static void test_random_walk_matches_the_model(void **State)
{
    (void)State;
    static const uint32_t Weights[] = {1, 2, 3, 8, 40, 150, MODEL_CPUS};
    KI_VECTOR_MATRIX *Matrix = NewMatrix(MODEL_CPUS, MODEL_CPUS);
    static ALLOCATION Held[4096];
    uint32_t HeldCount = 0;
    uint64_t Seed = 16;
    /* Uneven loads to start: CPU c holds c % 37 vectors. */
    for (uint32_t Cpu = 0; Cpu < MODEL_CPUS; Cpu++)
        LoadCpu(Matrix, Cpu, Cpu % 37u);
    for (uint32_t Step = 0; Step < 3000; Step++) {
        uint32_t Action = ModelRandom(&Seed) % 10u;
        if (Action < 6 || HeldCount == 0) {
            IR_CPU_SET Mask;
            ModelMask(&Seed, Weights[ModelRandom(&Seed) % (sizeof(Weights) / sizeof(Weights[0]))], &Mask);
            KIRQL Irql = ModelRandom(&Seed) % 3u == 0 ? (KIRQL)(3u + ModelRandom(&Seed) % 10u) : KE_IRQL_ANY;
            uint32_t Expected = ModelChoice(Matrix, &Mask, Irql);
            uint32_t ExpectedVector = Expected == IR_CPU_NONE || Irql != KE_IRQL_ANY ? 256 : ModelVector(Matrix, Expected);
            ALLOCATION Got = {.Cpu = IR_CPU_NONE};
            IRQ_STATUS Status = KiMatrixAllocate(Matrix, &Mask, Irql, &Got.Cpu, &Got.Vector);
            if (Expected == IR_CPU_NONE) {
                assert_int_not_equal(Status, IRQ_STATUS_SUCCESS);
                continue;
            }
            assert_int_equal(Status, IRQ_STATUS_SUCCESS);
            assert_int_equal(Got.Cpu, Expected);
            if (Irql != KE_IRQL_ANY)
                assert_int_equal(Got.Vector >> 4, Irql);
            else
                assert_int_equal(Got.Vector, ExpectedVector);
            if (HeldCount < sizeof(Held) / sizeof(Held[0]))
                Held[HeldCount++] = Got;
        } else if (Action < 9) {
            uint32_t Index = ModelRandom(&Seed) % HeldCount;
            assert_int_equal(KiMatrixFree(Matrix, Held[Index].Cpu, Held[Index].Vector), IRQ_STATUS_SUCCESS);
            Held[Index] = Held[--HeldCount];
        } else {
            uint32_t Cpu = ModelRandom(&Seed) % MODEL_CPUS;
            KiMatrixSetOnline(Matrix, Cpu, !KiMatrixIsOnline(Matrix, Cpu));
        }
    }
    CheckAllConsistent(Matrix, MODEL_CPUS);
}

int main(void)
{
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_initialize_rejects_bad_arguments),
        cmocka_unit_test(test_fresh_matrix_is_offline_and_empty),
        cmocka_unit_test(test_online_set_and_query),
        cmocka_unit_test(test_irql_maps_to_its_class),
        cmocka_unit_test(test_irql_6_uses_0x60_to_0x6f_until_exhausted),
        cmocka_unit_test(test_class_with_reserved_vector_holds_fifteen),
        cmocka_unit_test(test_invalid_irql),
        cmocka_unit_test(test_cpu_exhaustion_never_hands_out_system_vectors),
        cmocka_unit_test(test_any_irql_spreads_over_classes),
        cmocka_unit_test(test_any_irql_skips_full_classes),
        cmocka_unit_test(test_least_loaded_with_lowest_id_ties),
        cmocka_unit_test(test_query_least_loaded_takes_nothing),
        cmocka_unit_test(test_affinity_limits_the_choice),
        cmocka_unit_test(test_least_loaded_cpu_without_room_in_class_is_skipped),
        cmocka_unit_test(test_offline_cpus_are_skipped),
        cmocka_unit_test(test_empty_or_offline_affinity),
        cmocka_unit_test(test_same_vector_on_a_set),
        cmocka_unit_test(test_same_vector_on_a_set_without_common_vector),
        cmocka_unit_test(test_same_vector_on_a_set_rejects_bad_sets),
        cmocka_unit_test(test_reserve_free_and_double_free),
        cmocka_unit_test(test_held_vector_is_refused_to_free),
        cmocka_unit_test(test_system_vectors_cannot_be_reserved_or_freed),
        cmocka_unit_test(test_usage_report),
        cmocka_unit_test(test_failing_calls_change_nothing),
        cmocka_unit_test(test_4096_cpus),
        cmocka_unit_test(test_allocate_and_free_everything_returns_to_start),
        cmocka_unit_test(test_layout_with_wide_irql),
        cmocka_unit_test(test_wide_and_narrow_masks_away_from_the_lowest_load),
        cmocka_unit_test(test_a_cpu_that_took_vectors_is_not_taken_for_less_loaded),
        cmocka_unit_test(test_random_walk_matches_the_model),
    };
    return cmocka_run_group_tests(Tests, GroupSetup, GroupTeardown);
}
