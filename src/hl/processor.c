/* SPDX-License-Identifier: MIT */
/*
 * The processor registry: CPU index <-> local APIC id, and the logical id
 * each local APIC was given.
 *
 * A CPU index is the kernel's number for a CPU (0 .. N-1); its APIC id is
 * whatever the firmware and the package topology gave it (QEMU's -smp with
 * sockets and cores leaves holes, x2APIC ids can exceed 255), so nothing may
 * assume one equals the other. Each CPU records the pair once as it starts
 * (HlRegisterProcessor), and its local APIC driver records the logical id it
 * programmed (HlpSetProcessorLogicalId), so that targets can be resolved to
 * destinations without touching another CPU's registers.
 *
 * INVARIANTS
 *  R1 An entry's ApicId (LogicalId) is written before the Registered
 *     (LogicalIdValid) bit of its State is set with a release operation, and
 *     read only after that bit was seen with an acquire load: a reader on any
 *     CPU sees either "not registered" or the complete entry.
 *  R2 No two registered CPUs have the same APIC id, and a registered CPU's
 *     APIC id never changes (until HlResetHardwareLayer). Registrations are
 *     serialised by HlpRegistryLock so the duplicate check and the publish
 *     are one step; readers take no lock.
 *  R3 HlpProcessorLimit is one above the highest registered index; it only
 *     grows (release), and grows before the entry is published, so a reader
 *     that saw a CPU registered and then scans below the limit finds it.
 *
 * Tables are static and sized IR_MAX_CPUS: the registry needs no memory
 * hook and works before the kernel has an allocator. HlResetHardwareLayer
 * runs while nothing else uses the layer (tests, re-initialisation).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "hlp.h"
#include "irlock.h"

#define HLP_PROCESSOR_REGISTERED 0x1u
#define HLP_PROCESSOR_LOGICAL_ID_VALID 0x2u

/* xAPIC ids are eight bits (ID register bits 31:24, SDM vol. 3A 11.4.6), and
 * 0xFF is the physical broadcast destination (11.6.2.1): no xAPIC-mode CPU
 * can have an id of 0xFF or above. */
#define HLP_XAPIC_MAX_ID 0xFEu

typedef struct _HLP_PROCESSOR {
    _Atomic uint32_t State;     /* HLP_PROCESSOR_* bits */
    _Atomic uint32_t ApicId;    /* valid once REGISTERED is seen (R1) */
    _Atomic uint32_t LogicalId; /* valid once LOGICAL_ID_VALID is seen (R1) */
} HLP_PROCESSOR;

static HLP_PROCESSOR HlpProcessors[IR_MAX_CPUS];
static _Atomic uint32_t HlpProcessorLimit;
/* Taken by registration only, never from an interrupt handler. */
static IR_LOCK HlpRegistryLock = IR_LOCK_INIT;

/* ---- Reading (lock-free, any CPU) ----------------------------------------------- */

static bool HlpHasState(uint32_t Cpu, uint32_t Bit)
{
    return (atomic_load_explicit(&HlpProcessors[Cpu].State, memory_order_acquire) & Bit) != 0;
}

bool HlIsProcessorRegistered(uint32_t Cpu)
{
    return Cpu < IR_MAX_CPUS && HlpHasState(Cpu, HLP_PROCESSOR_REGISTERED);
}

uint32_t HlGetProcessorLimit(void)
{
    return atomic_load_explicit(&HlpProcessorLimit, memory_order_acquire);
}

IRQ_STATUS HlGetProcessorApicId(uint32_t Cpu, uint32_t *ApicId)
{
    if (ApicId == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (!HlIsProcessorRegistered(Cpu))
        return IRQ_STATUS_INVALID_CPU;
    *ApicId = atomic_load_explicit(&HlpProcessors[Cpu].ApicId, memory_order_relaxed);
    return IRQ_STATUS_SUCCESS;
}

/* A linear scan: lookups by APIC id are rare (resolving an HlTargetApicId
 * target, start-up) and the registry has no memory for an index. */
static uint32_t HlpFindApicId(uint32_t ApicId)
{
    uint32_t Limit = HlGetProcessorLimit();
    for (uint32_t Cpu = 0; Cpu < Limit; Cpu++) {
        if (HlpHasState(Cpu, HLP_PROCESSOR_REGISTERED) &&
            atomic_load_explicit(&HlpProcessors[Cpu].ApicId, memory_order_relaxed) == ApicId)
            return Cpu;
    }
    return IR_CPU_NONE;
}

IRQ_STATUS HlFindProcessorByApicId(uint32_t ApicId, uint32_t *Cpu)
{
    if (Cpu == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    uint32_t Found = HlpFindApicId(ApicId);
    if (Found == IR_CPU_NONE)
        return IRQ_STATUS_INVALID_CPU;
    *Cpu = Found;
    return IRQ_STATUS_SUCCESS;
}

/* ---- Registration ------------------------------------------------------------------ */

/* Under HlpRegistryLock. Re-registering the same pair is allowed (a CPU
 * brought up again); a CPU that already has another APIC id, or an APIC id
 * another CPU has, is refused (R2): either would make a destination reach a
 * CPU the caller did not name. */
static IRQ_STATUS HlpRegisterLocked(uint32_t Cpu, uint32_t ApicId)
{
    IrLockAssertHeld(&HlpRegistryLock);
    HLP_PROCESSOR *Processor = &HlpProcessors[Cpu];
    if (HlpHasState(Cpu, HLP_PROCESSOR_REGISTERED))
        return atomic_load_explicit(&Processor->ApicId, memory_order_relaxed) == ApicId ? IRQ_STATUS_SUCCESS
                                                                                       : IRQ_STATUS_INVALID_CPU;
    if (HlpFindApicId(ApicId) != IR_CPU_NONE)
        return IRQ_STATUS_INVALID_CPU;

    /* The limit grows before the entry is published: a reader that sees the
     * CPU registered must also find it when it scans below the limit (R3). */
    if (Cpu + 1u > atomic_load_explicit(&HlpProcessorLimit, memory_order_relaxed))
        atomic_store_explicit(&HlpProcessorLimit, Cpu + 1u, memory_order_release);
    atomic_store_explicit(&Processor->ApicId, ApicId, memory_order_relaxed);
    atomic_fetch_or_explicit(&Processor->State, HLP_PROCESSOR_REGISTERED, memory_order_release);
    return IRQ_STATUS_SUCCESS;
}

/* An id the selected local APIC mode cannot give a CPU: registering it would
 * let a destination built from it reach every CPU (0xFF) or none. */
/* 0xFFFFFFFF is the x2APIC broadcast id (SDM vol. 3A 11.12.9), so no CPU
 * has it in either mode (the MADT parser skips it as naming no processor). */
#define HLP_X2APIC_BROADCAST_ID 0xFFFFFFFFu

static bool HlpIsPossibleApicId(uint32_t ApicId)
{
    if (ApicId == HLP_X2APIC_BROADCAST_ID)
        return false;
    return HlLapicGetMode() != HlLapicModeXApic || ApicId <= HLP_XAPIC_MAX_ID;
}

IRQ_STATUS HlRegisterProcessor(uint32_t Cpu, uint32_t ApicId)
{
    if (Cpu >= IR_MAX_CPUS || !HlpIsPossibleApicId(ApicId))
        return IRQ_STATUS_INVALID_CPU;
    IrLockAcquire(&HlpRegistryLock);
    IRQ_STATUS Status = HlpRegisterLocked(Cpu, ApicId);
    IrLockRelease(&HlpRegistryLock);
    return Status;
}

/* ---- Logical ids (written by the local APIC driver) ---------------------------------- */

/* Called on the CPU itself by HlLapicInitializeProcessor. A CPU that
 * re-initialises its local APIC overwrites its own id; a reader sees the old
 * or the new value, each a complete word. */
void HlpSetProcessorLogicalId(uint32_t Cpu, uint32_t LogicalId)
{
    if (Cpu >= IR_MAX_CPUS)
        return;
    atomic_store_explicit(&HlpProcessors[Cpu].LogicalId, LogicalId, memory_order_relaxed);
    atomic_fetch_or_explicit(&HlpProcessors[Cpu].State, HLP_PROCESSOR_LOGICAL_ID_VALID, memory_order_release);
}

bool HlpGetProcessorLogicalId(uint32_t Cpu, uint32_t *LogicalId)
{
    if (Cpu >= IR_MAX_CPUS || LogicalId == NULL || !HlpHasState(Cpu, HLP_PROCESSOR_LOGICAL_ID_VALID))
        return false;
    *LogicalId = atomic_load_explicit(&HlpProcessors[Cpu].LogicalId, memory_order_relaxed);
    return true;
}

/* ---- Reset ------------------------------------------------------------------------------ */

/* Every entry is cleared, not only those below the limit: a logical id can be
 * recorded for a CPU that never registered. */
void HlResetHardwareLayer(void)
{
    IrLockAcquire(&HlpRegistryLock);
    atomic_store_explicit(&HlpProcessorLimit, 0, memory_order_release);
    for (uint32_t Cpu = 0; Cpu < IR_MAX_CPUS; Cpu++)
        atomic_store_explicit(&HlpProcessors[Cpu].State, 0, memory_order_release);
    IrLockRelease(&HlpRegistryLock);
    HlpResetIoApics();
    HlpResetOverrides();
    HlpResetLapic();
    HlpResetRemapUnits();
}
