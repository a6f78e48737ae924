/*
 * Io — the I/O manager's interrupt services.
 *
 * IoConnectInterrupt has NT's semantics: one object out, connected on a
 * vector the caller names, on every CPU of ProcessorEnableMask.
 * IoConnectInterruptEx adds line-based connection (a GSI, ISA IRQ or PCI line
 * plus a target CPU, affinity mask or broadcast set: the vector is allocated
 * here and the I/O APIC programmed through Hl) and message-based connection
 * (MSI: the vector is allocated here and the message composed for the caller
 * to write into the device).
 *
 * Objects are allocated with PlatAllocateMemory and freed by
 * IoDisconnectInterrupt, which returns only when the ISR can never run again:
 * the line is masked if nobody else uses it, and the vector is free.
 */
#ifndef IRQROUTE_IO_H
#define IRQROUTE_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "cpuset.h"
#include "hl.h"
#include "ke.h"
#include "status.h"

/* Forgets every connection record (after KeInitializeSystem, in tests). */
void IoResetInterruptManager(void);

/* FloatingSave = true is not supported (IRQ_STATUS_NOT_SUPPORTED): ISRs must
 * not touch FPU/SSE state. Irql must equal KeIrqlOfVector(Vector). */
IRQ_STATUS IoConnectInterrupt(KINTERRUPT **InterruptObject, PKSERVICE_ROUTINE ServiceRoutine, void *ServiceContext,
                              KSPIN_LOCK *SpinLock, uint32_t Vector, KIRQL Irql, KIRQL SynchronizeIrql,
                              KINTERRUPT_MODE InterruptMode, bool ShareVector, const IR_CPU_SET *ProcessorEnableMask,
                              bool FloatingSave);

typedef enum _IO_CONNECT_VERSION {
    CONNECT_FULLY_SPECIFIED = 1,
    CONNECT_LINE_BASED = 2,
    CONNECT_MESSAGE_BASED = 3,
} IO_CONNECT_VERSION;

/* Where a line- or message-based interrupt is delivered. */
typedef enum _IO_TARGET_KIND {
    IoTargetDefault = 0,  /* FIXED to CPU 0 (the router's default) */
    IoTargetCpu,          /* one CPU index */
    IoTargetAffinity,     /* the least-loaded online CPU of the mask */
    IoTargetBroadcast,    /* every CPU of the mask: one vector on all, logical fixed delivery */
} IO_TARGET_KIND;

typedef struct _IO_INTERRUPT_TARGET {
    IO_TARGET_KIND Kind;
    uint32_t Cpu;
    const IR_CPU_SET *Mask;
} IO_INTERRUPT_TARGET;

typedef struct _IO_CONNECT_FULLY_SPECIFIED_PARAMETERS {
    KINTERRUPT **InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    uint32_t Vector;
    KIRQL Irql;
    KIRQL SynchronizeIrql;
    KINTERRUPT_MODE InterruptMode;
    bool ShareVector;
    const IR_CPU_SET *ProcessorEnableMask;
    bool FloatingSave;
} IO_CONNECT_FULLY_SPECIFIED_PARAMETERS;

typedef struct _IO_CONNECT_LINE_BASED_PARAMETERS {
    KINTERRUPT **InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    HL_INTERRUPT_LINE Line;
    KIRQL Irql;            /* KE_IRQL_ANY: any device class */
    KIRQL SynchronizeIrql; /* 0: the IRQL the vector gets */
    bool ShareVector;
    IO_INTERRUPT_TARGET Target;
} IO_CONNECT_LINE_BASED_PARAMETERS;

typedef struct _IO_CONNECT_MESSAGE_BASED_PARAMETERS {
    KINTERRUPT **InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    void *ServiceContext;
    KSPIN_LOCK *SpinLock;
    KIRQL Irql;            /* KE_IRQL_ANY: any device class */
    KIRQL SynchronizeIrql; /* 0: the IRQL the vector gets */
    IO_INTERRUPT_TARGET Target;
    HL_MSI_MESSAGE *Message; /* out: what the driver writes into the device */
} IO_CONNECT_MESSAGE_BASED_PARAMETERS;

typedef struct _IO_CONNECT_INTERRUPT_PARAMETERS {
    IO_CONNECT_VERSION Version;
    union {
        IO_CONNECT_FULLY_SPECIFIED_PARAMETERS FullySpecified;
        IO_CONNECT_LINE_BASED_PARAMETERS LineBased;
        IO_CONNECT_MESSAGE_BASED_PARAMETERS MessageBased;
    };
} IO_CONNECT_INTERRUPT_PARAMETERS;

IRQ_STATUS IoConnectInterruptEx(IO_CONNECT_INTERRUPT_PARAMETERS *Parameters);

/* Unlinks, waits until no CPU runs the ISR, masks the line if this was its
 * last user, frees the vector, frees the object. Other sharers keep running. */
IRQ_STATUS IoDisconnectInterrupt(KINTERRUPT *InterruptObject);

/* The GSI a line-based object is connected to (IRQ_STATUS_INVALID_PARAMETER
 * for other kinds). */
IRQ_STATUS IoQueryInterruptLine(const KINTERRUPT *InterruptObject, uint32_t *Gsi);

#endif
