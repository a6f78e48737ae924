/* SPDX-License-Identifier: MIT */
/*
 * The routing dump (io.h, IoDumpRoutingState): what is routed where, as
 * text, one line at a time.
 *
 * Io is the top layer, so it can see all three views: Ke's vector tables
 * (KeQueryConnectedVectors, KeQueryVectorObjects: copied under Ke's connect
 * lock), its own records (iop.h) and what Hl reads back from the I/O APIC.
 *
 * LOCKING. The whole dump runs under IopLock, which keeps every connection
 * Io holds alive: a disconnect removes its record under IopLock before Ke
 * unlinks the object and Io frees it (src/io/connect.c). An object found in
 * Ke's tables is read through only when IopFindConnection finds it under
 * that lock; an object connected through Ke alone is shown from the copy
 * Ke made. Lock order as a connect: IopLock, then Ke's connect lock (inside
 * each query), then a route's or an I/O APIC's lock.
 *
 * The core has no printf: each line is built in a stack buffer with
 * src/base/irfmt.h and handed to the writer.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "iop.h"
#include "irfmt.h"

#define IOP_DUMP_LINE 224u

typedef struct _IOP_DUMP {
    IO_DUMP_WRITER Write;
    void *Context;
    IR_FORMAT Format;
    char Line[IOP_DUMP_LINE];
    uint32_t IoCount;
    uint32_t KeCount;
} IOP_DUMP;

/* What each section does with one object of a vector's chain. */
typedef enum _IOP_DUMP_SECTION {
    IopDumpCpus = 0, /* every object, under its vector */
    IopDumpIo,       /* Io's objects, once each (on their lowest CPU) */
    IopDumpKe,       /* objects connected through Ke alone, once each */
} IOP_DUMP_SECTION;

static IR_FORMAT *IopDumpBegin(IOP_DUMP *Dump, const char *Text)
{
    IrFormatStart(&Dump->Format, Dump->Line, sizeof(Dump->Line));
    IrFormatText(&Dump->Format, Text);
    return &Dump->Format;
}

static void IopDumpEnd(IOP_DUMP *Dump)
{
    Dump->Write(Dump->Line, Dump->Context);
}

static void IopFormatVector(IR_FORMAT *Format, uint8_t Vector)
{
    IrFormatText(Format, " vector ");
    IrFormatHex(Format, Vector, 2);
}

static void IopFormatObject(IR_FORMAT *Format, const KINTERRUPT *Interrupt)
{
    IrFormatHex(Format, (uint64_t)(uintptr_t)Interrupt, 1);
}

static const char *IopOwnerName(KE_INTERRUPT_OWNER Owner)
{
    switch (Owner) {
    case KeInterruptOwnerIo:
        return "io";
    case KeInterruptOwnerKe:
        return "ke";
    default:
        return "none";
    }
}

static const char *IopPolicyName(IR_ROUTING_POLICY Policy)
{
    static const char *const Names[IrRoutingPolicyCount] = {"fixed", "round-robin", "lowest", "broadcast",
                                                            "affinity"};
    return (unsigned)Policy < IrRoutingPolicyCount ? Names[Policy] : "unknown";
}

static uint32_t IopCountBits(const uint64_t *Words, uint32_t Count)
{
    uint32_t Bits = 0;
    for (uint32_t Word = 0; Word < Count; Word++) {
        for (uint64_t Value = Words[Word]; Value != 0; Value &= Value - 1u)
            Bits++;
    }
    return Bits;
}

/* ---- The per-CPU section -------------------------------------------------------------- */

static void IopDumpVectorHeader(IOP_DUMP *Dump, uint32_t Cpu, uint8_t Vector, const KE_VECTOR_OBJECT *First,
                                uint32_t Total)
{
    IR_FORMAT *Format = IopDumpBegin(Dump, " ");
    IopFormatVector(Format, Vector);
    IrFormatText(Format, " irql ");
    IrFormatDecimal(Format, KeIrqlOfVector(Vector));
    IrFormatText(Format, First->Mode == LevelSensitive ? " level" : " edge");
    IrFormatText(Format, " objects ");
    IrFormatDecimal(Format, Total);
    KE_VECTOR_STATISTICS Statistics = {0, 0};
    (void)KeQueryVectorStatistics(Cpu, Vector, &Statistics);
    IrFormatText(Format, " dispatched ");
    IrFormatDecimal(Format, Statistics.Dispatched);
    IrFormatText(Format, " unclaimed ");
    IrFormatDecimal(Format, Statistics.Unclaimed);
    IopDumpEnd(Dump);
}

static void IopDumpChainObject(IOP_DUMP *Dump, const KE_VECTOR_OBJECT *Object)
{
    IR_FORMAT *Format = IopDumpBegin(Dump, "    object ");
    IopFormatObject(Format, Object->Interrupt);
    IrFormatText(Format, " ");
    IrFormatText(Format, IopOwnerName(Object->Owner));
    IrFormatText(Format, Object->ShareVector ? " sharable" : " exclusive");
    IrFormatText(Format, " sync-irql ");
    IrFormatDecimal(Format, Object->SynchronizeIrql);
    IrFormatText(Format, " runs ");
    IrFormatDecimal(Format, Object->Count);
    IrFormatText(Format, " claimed ");
    IrFormatDecimal(Format, Object->Claimed);
    IopDumpEnd(Dump);
}

/* ---- The io and ke sections ----------------------------------------------------------- */

/* Policy and destination now: a movable interrupt's from its route, the
 * others' from the CPUs that receive it (one: fixed; more: broadcast). */
static void IopFormatRouting(IR_FORMAT *Format, const IOP_CONNECTION *Connection, const IR_CPU_SET *Cpus)
{
    uint32_t Cpu;
    IR_ROUTING_POLICY Policy;
    if (Connection->Route != NULL &&
        IoQueryInterruptTarget(Connection->Interrupt, &Cpu, &Policy) == IRQ_STATUS_SUCCESS) {
        IrFormatText(Format, " policy ");
        IrFormatText(Format, IopPolicyName(Policy));
        IrFormatText(Format, " to ");
        IrFormatDecimal(Format, Cpu);
    } else if (IrCpuSetWeight(Cpus) > 1u) {
        IrFormatText(Format, " policy broadcast to ");
        IrFormatCpuSet(Format, Cpus);
    } else {
        IrFormatText(Format, " policy fixed to ");
        IrFormatDecimal(Format, IrCpuSetFirst(Cpus));
    }
}

/* The redirection entry as the I/O APIC has it now (82093AA 3.2.4). */
static void IopFormatEntry(IR_FORMAT *Format, const IOP_LINE *Line)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    if (HlIoApicReadEntry(Line->Gsi, &Entry) == IRQ_STATUS_SUCCESS) {
        IrFormatText(Format, Entry.Bits.Mask ? " entry masked dest " : " entry unmasked dest ");
        IrFormatHex(Format, Entry.Bits.Destination, 2);
        IrFormatText(Format, Entry.Bits.DestinationMode ? " logical" : " physical");
    }
    if (Line->Shared)
        IrFormatText(Format, " shared");
}

static void IopDumpConnection(IOP_DUMP *Dump, const KE_VECTOR_OBJECT *Object, uint8_t Vector)
{
    IrLockAssertHeld(&IopLock);
    const IOP_CONNECTION *Connection = IopFindConnection(Object->Interrupt);
    if (Connection == NULL)
        return; /* its disconnect is under way: Ke still has it, Io no longer */
    Dump->IoCount++;
    IR_FORMAT *Format = IopDumpBegin(Dump, "  io ");
    IopFormatObject(Format, Object->Interrupt);
    if (Connection->Kind == IopLineBased) {
        IrFormatText(Format, " gsi ");
        IrFormatDecimal(Format, Connection->Line->Gsi);
    } else {
        IrFormatText(Format, Connection->Kind == IopMessageBased ? " msi" : " vector-only");
    }
    IopFormatVector(Format, Vector);
    IrFormatText(Format, " cpus ");
    IrFormatCpuSet(Format, &Object->Cpus);
    if (Connection->Kind != IopFullySpecified)
        IopFormatRouting(Format, Connection, &Object->Cpus);
    if (Connection->Kind == IopLineBased)
        IopFormatEntry(Format, Connection->Line);
    IopDumpEnd(Dump);
}

static void IopDumpKeObject(IOP_DUMP *Dump, const KE_VECTOR_OBJECT *Object, uint8_t Vector)
{
    Dump->KeCount++;
    IR_FORMAT *Format = IopDumpBegin(Dump, "  ke ");
    IopFormatObject(Format, Object->Interrupt);
    IopFormatVector(Format, Vector);
    IrFormatText(Format, " irql ");
    IrFormatDecimal(Format, Object->Irql);
    IrFormatText(Format, " cpus ");
    IrFormatCpuSet(Format, &Object->Cpus);
    IopDumpEnd(Dump);
}

/* ---- Walking the vector tables ------------------------------------------------------- */

/* One vector of Cpu, for Section. Objects are read one at a time (each is
 * about 600 bytes, with its CPU set), so the dump's stack stays small. */
static void IopDumpVector(IOP_DUMP *Dump, IOP_DUMP_SECTION Section, uint32_t Cpu, uint8_t Vector)
{
    KE_VECTOR_OBJECT Object;
    uint32_t Total = 0;
    for (uint32_t Index = 0;; Index++) {
        if (KeQueryVectorObjects(Cpu, Vector, Index, &Object, 1, &Total) != IRQ_STATUS_SUCCESS || Index >= Total)
            return;
        bool Home = IrCpuSetFirst(&Object.Cpus) == Cpu; /* listed once: on its lowest CPU */
        switch (Section) {
        case IopDumpCpus:
            if (Index == 0)
                IopDumpVectorHeader(Dump, Cpu, Vector, &Object, Total);
            IopDumpChainObject(Dump, &Object);
            break;
        case IopDumpIo:
            if (Home && Object.Owner == KeInterruptOwnerIo)
                IopDumpConnection(Dump, &Object, Vector);
            break;
        case IopDumpKe:
            if (Home && Object.Owner == KeInterruptOwnerKe)
                IopDumpKeObject(Dump, &Object, Vector);
            break;
        }
    }
}

static void IopDumpSection(IOP_DUMP *Dump, IOP_DUMP_SECTION Section, const IR_CPU_SET *Online)
{
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Online) {
        uint64_t Vectors[4];
        if (KeQueryConnectedVectors(Cpu, Vectors) != IRQ_STATUS_SUCCESS)
            continue;
        if (Section == IopDumpCpus) {
            IR_FORMAT *Format = IopDumpBegin(Dump, "cpu ");
            IrFormatDecimal(Format, Cpu);
            IrFormatText(Format, ": ");
            IrFormatDecimal(Format, IopCountBits(Vectors, 4));
            IrFormatText(Format, " vectors");
            IopDumpEnd(Dump);
        }
        for (uint32_t Vector = 0; Vector < 256u; Vector++) {
            if ((Vectors[Vector / 64u] >> (Vector % 64u)) & 1u)
                IopDumpVector(Dump, Section, Cpu, (uint8_t)Vector);
        }
    }
}

IRQ_STATUS IoDumpRoutingState(IO_DUMP_WRITER Write, void *Context)
{
    if (Write == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Count = KeQueryProcessorCount();
    if (Count == 0)
        return IRQ_STATUS_NOT_INITIALIZED;
    IOP_DUMP Dump = {.Write = Write, .Context = Context};
    IR_CPU_SET Online;
    KeQueryOnlineProcessors(&Online);

    IrLockAcquire(&IopLock);
    IR_FORMAT *Format = IopDumpBegin(&Dump, "routing: cpus ");
    IrFormatDecimal(Format, IrCpuSetWeight(&Online));
    IrFormatText(Format, " of ");
    IrFormatDecimal(Format, Count);
    IrFormatText(Format, " online");
    IopDumpEnd(&Dump);
    IopDumpSection(&Dump, IopDumpCpus, &Online);
    IopDumpBegin(&Dump, "io:");
    IopDumpEnd(&Dump);
    IopDumpSection(&Dump, IopDumpIo, &Online);
    IopDumpBegin(&Dump, "ke:");
    IopDumpEnd(&Dump);
    IopDumpSection(&Dump, IopDumpKe, &Online);
    Format = IopDumpBegin(&Dump, "end: ");
    IrFormatDecimal(Format, Dump.IoCount);
    IrFormatText(Format, " io, ");
    IrFormatDecimal(Format, Dump.KeCount);
    IrFormatText(Format, " ke");
    IopDumpEnd(&Dump);
    IrLockRelease(&IopLock);
    return IRQ_STATUS_SUCCESS;
}
