/* SPDX-License-Identifier: MIT */
/*
 * Register scripts: one list of register accesses and expected values, run
 * unchanged on the sim's local APIC and I/O APIC models (tests/unit/
 * test_regcheck.c) and on QEMU's (kernel/ktest/ktest_regcheck.c), so that
 * the two are checked against each other step by step. The script is data
 * shared by both sides; the interpreter (regscript.c) is freestanding C11 and
 * reaches registers only through the platform hooks (platform.h), the Hl and Ke
 * public APIs, and REGCHECK_ADAPTER for what only the platform can do
 * (drive an I/O APIC input, make a device write an MSI).
 *
 * A step either acts (a register write, an IPI, a pin, an MSI, letting the
 * CPU take interrupts) or reads one register and compares it under a mask
 * with what it expects. Values that legitimately differ between platforms
 * (the CPU's APIC id and what derives from it) are symbolic. A script runs
 * with interrupts disabled on the calling CPU, except in "accept" steps, so
 * IRR bits stay visible between steps.
 *
 * Register interface. The interpreter follows the running CPU's own
 * IA32_APIC_BASE (SDM vol. 3A 11.4.4), not the mode Hl selected: EXTD set,
 * x2APIC MSRs; EN set and EXTD clear, xAPIC MMIO; EN clear, no local APIC
 * register at all (a step that needs one fails). A "write IA32_APIC_BASE"
 * step moves the CPU between the modes (11.12.5, figure 11-27), and the
 * steps after it use the new mode's interface. Whatever the steps did,
 * RegcheckRun puts EN and EXTD back as it found them, through the allowed
 * transitions only, after the cleanup steps. IPI steps go through Hl, which
 * uses the selected mode's interface: they fail while the CPU is in the
 * other mode.
 *
 * Registers (Register field):
 *  - local APIC steps: the xAPIC offset 0x000-0x3F0 (SDM vol. 3A 11.4.1,
 *    table 11-1); in x2APIC mode the interpreter uses MSR 0x800 + offset/16
 *    (11.12.1.2, table 11-6);
 *  - I/O APIC steps: the index IOREGSEL selects (82093AA 3.1.1): 0x00 ID,
 *    0x01 version, 0x02 arbitration, 0x10 + 2n / 0x11 + 2n entry n;
 *  - VT-d steps: the byte offset in the remapping unit's register page
 *    (VT-d spec rev. 3.x, 10.4), at REGCHECK_ADAPTER.IommuAddress. 64-bit
 *    registers are accessed as two aligned doublewords, low first (10.2).
 *    The unit's memory (interrupt remapping table, invalidation queue,
 *    wait status word) is the interpreter's, from PlatAllocateMemory
 *    (identity-mapped: the unit is given the addresses as they are).
 */
#ifndef IRQROUTE_REGSCRIPT_H
#define IRQROUTE_REGSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/status.h>

/* ---- Register numbers ------------------------------------------------------------ */

#define REGCHECK_LAPIC_ID 0x020u
#define REGCHECK_LAPIC_VERSION 0x030u
#define REGCHECK_LAPIC_TPR 0x080u
#define REGCHECK_LAPIC_PPR 0x0A0u
#define REGCHECK_LAPIC_EOI 0x0B0u
#define REGCHECK_LAPIC_LDR 0x0D0u
#define REGCHECK_LAPIC_DFR 0x0E0u
#define REGCHECK_LAPIC_SVR 0x0F0u
#define REGCHECK_LAPIC_ISR0 0x100u
#define REGCHECK_LAPIC_TMR0 0x180u
#define REGCHECK_LAPIC_IRR0 0x200u
#define REGCHECK_LAPIC_ESR 0x280u
#define REGCHECK_LAPIC_ICR_LOW 0x300u
#define REGCHECK_LAPIC_ICR_HIGH 0x310u
#define REGCHECK_LAPIC_LVT_TIMER 0x320u
#define REGCHECK_LAPIC_LVT_LINT0 0x350u
#define REGCHECK_LAPIC_LVT_LINT1 0x360u
#define REGCHECK_LAPIC_LVT_ERROR 0x370u
#define REGCHECK_LAPIC_TIMER_DIVIDE 0x3E0u
#define REGCHECK_LAPIC_SELF_IPI 0x3F0u /* x2APIC only */

/* The 32-bit word of a 256-bit register (ISR, TMR, IRR) that holds Vector:
 * eight registers 16 bytes apart, vector 32k+b in bit b of register k
 * (11.8.4, figure 11-20). */
#define REGCHECK_ISR(Vector) (REGCHECK_LAPIC_ISR0 + ((uint32_t)(Vector) >> 5) * 0x10u)
#define REGCHECK_TMR(Vector) (REGCHECK_LAPIC_TMR0 + ((uint32_t)(Vector) >> 5) * 0x10u)
#define REGCHECK_IRR(Vector) (REGCHECK_LAPIC_IRR0 + ((uint32_t)(Vector) >> 5) * 0x10u)

/* In a "read in service" step: the vector the handler was entered with. */
#define REGCHECK_TAKEN_VECTOR 0xFFFu

#define REGCHECK_IOAPIC_ID 0x00u
#define REGCHECK_IOAPIC_VERSION 0x01u
#define REGCHECK_IOAPIC_ARBITRATION 0x02u
#define REGCHECK_IOAPIC_RTE_LOW(Pin) (0x10u + 2u * (uint32_t)(Pin))
#define REGCHECK_IOAPIC_RTE_HIGH(Pin) (0x11u + 2u * (uint32_t)(Pin))

#define REGCHECK_VTD_VER 0x000u
#define REGCHECK_VTD_CAP 0x008u
#define REGCHECK_VTD_ECAP 0x010u
#define REGCHECK_VTD_GCMD 0x018u
#define REGCHECK_VTD_GSTS 0x01Cu
#define REGCHECK_VTD_FSTS 0x034u
#define REGCHECK_VTD_FECTL 0x038u
#define REGCHECK_VTD_IQH 0x080u
#define REGCHECK_VTD_IQT 0x088u
#define REGCHECK_VTD_IQA 0x090u
#define REGCHECK_VTD_IRTA 0x0B8u

/* An accept step's Value when any number of interrupts may come (clean-up). */
#define REGCHECK_ANY_COUNT 0xFFFFFFFFu

/* ---- Steps ---------------------------------------------------------------------- */

typedef enum _REGCHECK_KIND {
    RegcheckReadLapic = 0,   /* read Register, compare with Expected under Mask */
    RegcheckWriteLapic,      /* write Value to Register */
    RegcheckReadApicBase,    /* read IA32_APIC_BASE (MSR 0x1B, 11.4.4) */
    RegcheckWriteApicBase,   /* IA32_APIC_BASE: EN and EXTD from Value, base and BSP as read (11.12.5) */
    RegcheckReadIoApic,      /* IOREGSEL = Register, read IOWIN */
    RegcheckWriteIoApic,     /* IOREGSEL = Register, IOWIN = Value */
    RegcheckWriteIoApicEoi,  /* EOI register (I/O xAPIC, version 0x20) = Value (a vector) */
    RegcheckSendSelfIpi,     /* HlLapicSendIpi(self shorthand, fixed, vector Value) */
    RegcheckSendIpiToSelfId, /* HlLapicSendIpi(own APIC id, no shorthand, fixed, vector Value) */
    RegcheckAssertPin,       /* adapter: drive I/O APIC input (GSI) Value high */
    RegcheckDeassertPin,     /* adapter: drive it low */
    RegcheckSendMsi,         /* adapter: MSI to the own APIC id (physical), data Value */
    RegcheckAccept,          /* let the CPU take interrupts; Value = how many must come */
    RegcheckReadInService,   /* Register as the handler of interrupt #Value of the last accept read it */
    RegcheckReadIommu32,     /* VT-d register Register (32 bits), compared with Expected under Mask */
    RegcheckReadIommu64,     /* the same, 64 bits */
    RegcheckWriteIommu32,    /* VT-d register Register = Value (Symbol: see REGCHECK_SYMBOL) */
    RegcheckWriteIommu64,    /* the same, 64 bits */
    RegcheckQueueWait,       /* an invalidation wait descriptor (VT-d 6.5.2.8, status write) in queue
                              * slot Register, status data Value, to the status word (cleared first) */
    RegcheckReadWaitStatus,  /* the status word the unit writes, compared with Expected */
} REGCHECK_KIND;

/* When a step runs: the running CPU's state at that step (IA32_APIC_BASE),
 * or what it offers. */
typedef enum _REGCHECK_MODE {
    RegcheckBothModes = 0, /* always (also while the local APIC is disabled) */
    RegcheckXApicOnly,     /* EN set, EXTD clear */
    RegcheckX2ApicOnly,    /* EXTD set */
    RegcheckX2ApicOffered, /* the CPU offers x2APIC (REGCHECK_ADAPTER.X2ApicOffered), any state */
    RegcheckDisabledOnly,  /* EN clear: only IA32_APIC_BASE steps make sense */
} REGCHECK_MODE;

/* IA32_APIC_BASE (11.4.4, figure 11-5): a RegcheckWriteApicBase step's
 * Value is the OR of the bits wanted. Refused transitions (11.12.5.1: EXTD
 * with EN clear, disabled -> x2APIC, x2APIC -> xAPIC, EXTD where x2APIC is
 * not offered; each a #GP on the hardware) fail the step unwritten. */
#define REGCHECK_APIC_BASE_EXTD 0x400u
#define REGCHECK_APIC_BASE_EN 0x800u
#define REGCHECK_APIC_BASE_DISABLED 0u
#define REGCHECK_APIC_BASE_XAPIC REGCHECK_APIC_BASE_EN
#define REGCHECK_APIC_BASE_X2APIC (REGCHECK_APIC_BASE_EN | REGCHECK_APIC_BASE_EXTD)

/* How the interpreter turns Expected (reads) or Value (writes) into the
 * number it uses; "id" is the running CPU's APIC id from the Hl registry,
 * "cpu" its index. */
typedef enum _REGCHECK_SYMBOL {
    RegcheckLiteral = 0,
    RegcheckSelfIdRegister,   /* the ID register: xAPIC id << 24 (11.4.6), x2APIC id (11.12.5.1) */
    RegcheckSelfDestination8, /* id << 24: an RTE's or the xAPIC ICR's 8-bit destination field */
    RegcheckSelfFlatLdr,      /* xAPIC flat model as HlLapicInitializeProcessor sets it: (1 << cpu) << 24, cpu < 8 */
    RegcheckSelfClusterLdr,   /* x2APIC: (id >> 4) << 16 | 1 << (id & 15) (11.12.10.2) */
    RegcheckVectorBit,        /* 1 << (the number % 32): the bit of vector N in its ISR/TMR/IRR word */
    RegcheckIommuTable,       /* the interpreter's 4 KiB interrupt remapping table's address | the number */
    RegcheckIommuQueue,       /* the interpreter's 4 KiB invalidation queue's address | the number */
} REGCHECK_SYMBOL;

/* Read steps may poll: a message from a device can take a moment to arrive. */
#define REGCHECK_FLAG_POLL 0x1u

typedef struct _REGCHECK_STEP {
    REGCHECK_KIND Kind;
    REGCHECK_MODE Mode;
    const char *Name;       /* what the step checks, named in a failure */
    uint32_t Register;
    uint32_t Value;         /* written value, vector, GSI, MSI data, count, interrupt number */
    uint64_t Expected;      /* reads: compared under Mask */
    uint64_t Mask;
    REGCHECK_SYMBOL Symbol; /* applies to Expected (reads) or Value (writes) */
    uint32_t Flags;
} REGCHECK_STEP;

typedef struct _REGCHECK_SCRIPT {
    const char *Name;
    const REGCHECK_STEP *Steps;
    uint32_t StepCount;
    /* Run after the steps whether they passed or not (failures ignored):
     * puts back what the steps changed. */
    const REGCHECK_STEP *CleanupSteps;
    uint32_t CleanupStepCount;
    /* The vectors the script's interrupts use: each gets the interpreter's
     * snapshot handler (KeSetSystemVectorHandler) for the run. They must be
     * system vectors of the Ke layout, with no handler of their own. */
    const uint8_t *Vectors;
    uint32_t VectorCount;
} REGCHECK_SCRIPT;

/* A script's step arrays in its initialiser, each with its count. */
#define REGCHECK_COUNT_OF(Array) ((uint32_t)(sizeof(Array) / sizeof((Array)[0])))
#define REGCHECK_STEPS(Main, Cleanup)                                                                      \
    .Steps = (Main), .StepCount = REGCHECK_COUNT_OF(Main), .CleanupSteps = (Cleanup),                      \
    .CleanupStepCount = REGCHECK_COUNT_OF(Cleanup)

/* ---- Platform adapter ----------------------------------------------------------- */

typedef struct _REGCHECK_ADAPTER {
    /* Drives I/O APIC input Gsi high (Asserted) or low. False: cannot. */
    bool (*SetPin)(void *Context, uint32_t Gsi, bool Asserted);
    /* Makes a device write Data to Address (a compatibility-format MSI,
     * SDM 11.11). False: cannot. */
    bool (*SendMsi)(void *Context, uint64_t Address, uint32_t Data);
    void *Context;
    /* The MMIO base of the I/O APIC the I/O APIC steps address. */
    uintptr_t IoApicAddress;
    /* The running CPU offers x2APIC (CPUID.01H:ECX[21]): RegcheckX2ApicOffered
     * steps run, and EXTD may be set. */
    bool X2ApicOffered;
    /* The running CPU's APIC id when it is not in the Hl registry (an AP
     * checked before it registers); NULL: the registry's. */
    const uint32_t *ApicId;
    /* The register page of the VT-d unit the VT-d steps address (0: none,
     * such a step fails). */
    uintptr_t IommuAddress;
} REGCHECK_ADAPTER;

/* ---- Running --------------------------------------------------------------------- */

typedef struct _REGCHECK_RESULT {
    bool Passed;
    uint32_t StepsRun;      /* steps executed (the other mode's are skipped) */
    uint32_t StepsSkipped;
    uint32_t StepsInX2Apic; /* of StepsRun, those run with the CPU in x2APIC mode */
    /* The first failing step (Passed false). */
    uint32_t FailedIndex;
    const REGCHECK_STEP *FailedStep;
    bool X2Apic;            /* the mode the script started in */
    bool FailedInX2Apic;    /* the interface in use at the failing step */
    bool Compared;          /* a read that differed (else Why says what failed) */
    uint64_t Read;          /* masked */
    uint64_t Expected;      /* masked, symbols resolved */
    const char *Why;
} REGCHECK_RESULT;

/* The VT-d steps' memory: RegcheckRun allocates it for a script with VT-d
 * steps (INSUFFICIENT_RESOURCES when it cannot) and frees it after. */
#define REGCHECK_IOMMU_PAGE 4096u

/* Runs Script on the calling CPU (registered with Hl, or its APIC id in the
 * adapter; Ke initialised when the script has vectors), interrupts disabled
 * except in accept steps; leaves IA32_APIC_BASE's EN and EXTD as found.
 *   SUCCESS            the script ran (Result->Passed says whether every step matched)
 *   INVALID_PARAMETER  a NULL argument
 *   INVALID_STATE      another run is in progress
 *   INVALID_CPU        no APIC id for the calling CPU (neither adapter nor Hl registry)
 *   INVALID_VECTOR     a script vector the Ke layout does not let the
 *                      interpreter handle (KeSetSystemVectorHandler refused it)
 *   INSUFFICIENT_RESOURCES  no memory for the VT-d steps' table and queue
 * Nothing is changed when it fails. */
IRQ_STATUS RegcheckRun(const REGCHECK_SCRIPT *Script, const REGCHECK_ADAPTER *Adapter, REGCHECK_RESULT *Result);

/* "step <name>: register <register> read 0x.. expected 0x..", or "step
 * <name>: <why>", NUL-terminated and truncated to Size. Returns the length. */
size_t RegcheckFormatFailure(const REGCHECK_RESULT *Result, char *Buffer, size_t Size);
/* The register a step touches: "LAPIC IRR[1] (0x210)", with ", MSR 0x821"
 * in x2APIC mode; "IOAPIC RTE 1 low (0x12)"; "IA32_APIC_BASE (MSR 0x1B)". */
size_t RegcheckFormatRegister(const REGCHECK_STEP *Step, bool X2Apic, char *Buffer, size_t Size);

/* The shared script: local APIC and I/O APIC registers, IPIs, a level
 * line on GSI REGCHECK_TEST_GSI and an MSI (script_lapic_ioapic.c). */
#define REGCHECK_TEST_GSI 1u
extern const REGCHECK_SCRIPT RegcheckLapicIoApicScript;

/* The IA32_APIC_BASE transitions (script_lapic_ioapic.c too): for a CPU
 * nothing else uses yet (an AP before it is brought up), from the state
 * firmware left it in; RegcheckRun leaves it in that state again. */
extern const REGCHECK_SCRIPT RegcheckModeSwitchScript;

/* A VT-d remapping unit in its power-up state, nothing enabled
 * (script_remap.c): capabilities, the table pointer, queued invalidation
 * with a wait descriptor, a queue error, one GCMD command at a time. Leaves
 * the unit disabled again. */
extern const REGCHECK_SCRIPT RegcheckRemapScript;

#endif
