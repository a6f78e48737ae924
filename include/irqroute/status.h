/* SPDX-License-Identifier: MIT */
/*
 * irqroute status codes: one enum for every layer.
 *
 * Every public entry point that can fail returns an IRQ_STATUS. A failing call
 * changes no state (the caller can retry or report); the value names the first
 * rule the input broke.
 */
#ifndef IRQROUTE_STATUS_H
#define IRQROUTE_STATUS_H

#include <irqroute/config.h>

IRQROUTE_BEGIN_DECLS

typedef enum _IRQ_STATUS {
    /* The call did what it names. */
    IRQ_STATUS_SUCCESS = 0,
    /* A required pointer was NULL, or an enum argument had no defined meaning. */
    IRQ_STATUS_INVALID_PARAMETER,
    /* No registered I/O APIC covers the GSI (or the ISA IRQ is above 15). */
    IRQ_STATUS_INVALID_GSI,
    /* The vector is outside the device range, or is a reserved system vector. */
    IRQ_STATUS_INVALID_VECTOR,
    /* A CPU index is beyond the configured count, or an APIC id is unknown. */
    IRQ_STATUS_INVALID_CPU,
    /* The affinity mask is empty or names no online CPU. */
    IRQ_STATUS_EMPTY_AFFINITY,
    /* An IRQL is out of range, does not match the vector's priority class, or
     * the synchronize IRQL is below the interrupt's IRQL. */
    IRQ_STATUS_INVALID_IRQL,
    /* The vector or line is held exclusively, or an exclusive request met sharers. */
    IRQ_STATUS_SHARING_VIOLATION,
    /* A shared line is already connected with the other trigger mode. */
    IRQ_STATUS_TRIGGER_MISMATCH,
    /* The interrupt object is not connected (double disconnect, or never connected). */
    IRQ_STATUS_NOT_CONNECTED,
    /* The interrupt object is connected already. */
    IRQ_STATUS_ALREADY_CONNECTED,
    /* No free vector satisfies the request (affinity, priority class, set). */
    IRQ_STATUS_VECTOR_EXHAUSTED,
    /* The platform allocator hook returned no memory, or a fixed table is full. */
    IRQ_STATUS_INSUFFICIENT_RESOURCES,
    /* The request is well formed but this platform or mode cannot do it. */
    IRQ_STATUS_NOT_SUPPORTED,
    /* The layer has not been initialised (or a platform part is missing). */
    IRQ_STATUS_NOT_INITIALIZED,
    /* A table (ACPI MADT) is malformed: bad length, entry past the end, bad checksum. */
    IRQ_STATUS_MALFORMED_TABLE,
    /* A caller-provided buffer is too small; the needed size is reported. */
    IRQ_STATUS_BUFFER_TOO_SMALL,
    /* Nothing is pending/deliverable (Vic claim, interrupt query). */
    IRQ_STATUS_NOTHING_PENDING,
    /* The source named is not pending (Vic clear). */
    IRQ_STATUS_NOT_PENDING,
    /* The object or resource is not in a state that allows the call. */
    IRQ_STATUS_INVALID_STATE,
    /* The object or vector belongs to someone else: an interrupt object
     * connected through another layer (Io's objects are disconnected through
     * Io only), or a system vector Ke handles itself (the IPI vector). */
    IRQ_STATUS_ACCESS_DENIED,
    /* The hardware did not do what it was told: a command that never showed
     * in its status register, an invalidation queue error (interrupt
     * remapping). Nothing is known to have changed. */
    IRQ_STATUS_DEVICE_ERROR,
    IRQ_STATUS_COUNT
} IRQ_STATUS;

/* A short constant name for a status, for logs and test messages. */
const char *IrStatusName(IRQ_STATUS Status);

IRQROUTE_END_DECLS

#endif
