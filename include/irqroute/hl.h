/* SPDX-License-Identifier: MIT */
/*
 * Hl — the hardware layer interface.
 *
 * Processor registry (CPU index <-> APIC id, recorded at CPU start-up), local
 * APIC (xAPIC MMIO or x2APIC MSRs, chosen at run time), I/O APICs (several,
 * each with its GSI base), the GSI-level "PIC" service that programs
 * redirection entries for a target CPU or CPU set, MSI message composition and
 * the ACPI MADT parser.
 *
 * The register-level drivers live in platform/x86/ and reach registers only
 * through the platform hooks (platform.h), so the same code drives QEMU's
 * hardware and the sim models. Hl includes nothing from Ke or Io.
 */
#ifndef IRQROUTE_HL_H
#define IRQROUTE_HL_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpuset.h"
#include "status.h"

IRQROUTE_BEGIN_DECLS

/* ======================================================================== */
/* Processor registry                                                       */
/* ======================================================================== */

/* Records CPU index Cpu as having local APIC id ApicId. Called once per CPU
 * as it starts (never assume ApicId == Cpu), after HlLapicSelectMode (which
 * is refused from the first registration on).
 *   SUCCESS      recorded, or the same pair was recorded already
 *   INVALID_CPU  Cpu >= IR_MAX_CPUS; Cpu has another APIC id already;
 *                another CPU has ApicId; or xAPIC mode is selected
 *                (HlLapicGetMode) and ApicId >= 0xFF: xAPIC ids are eight
 *                bits and 0xFF is the broadcast id (SDM vol. 3A 11.4.6,
 *                11.6.2.1), so no CPU can have it; or ApicId is
 *                0xFFFFFFFF, the x2APIC broadcast id (11.12.9), in either mode
 * Nothing is recorded on failure. */
IRQ_STATUS HlRegisterProcessor(uint32_t Cpu, uint32_t ApicId);
/* Forgets every processor, I/O APIC and override, and that any CPU enabled
 * its local APIC, so HlLapicSelectMode is accepted again (the selected mode
 * stays until then). Tests and re-initialisation, while nothing uses the layer. */
void HlResetHardwareLayer(void);
/*   SUCCESS, INVALID_PARAMETER (ApicId NULL), INVALID_CPU (Cpu not
 *   registered). *ApicId is written only on success. */
IRQ_STATUS HlGetProcessorApicId(uint32_t Cpu, uint32_t *ApicId);
/*   SUCCESS, INVALID_PARAMETER (Cpu NULL), INVALID_CPU (no registered CPU
 *   has ApicId). *Cpu is written only on success. */
IRQ_STATUS HlFindProcessorByApicId(uint32_t ApicId, uint32_t *Cpu);
/* True when HlRegisterProcessor recorded Cpu (false for Cpu >= IR_MAX_CPUS). */
bool HlIsProcessorRegistered(uint32_t Cpu);
/* One above the highest registered CPU index. */
uint32_t HlGetProcessorLimit(void);

/* ======================================================================== */
/* Local APIC (Intel SDM vol. 3A ch. 11 "Advanced Programmable Interrupt     */
/* Controller"): src/hl/x86/lapic.c                                        */
/* ======================================================================== */

#define HL_LAPIC_DEFAULT_BASE 0xFEE00000u

typedef enum _HL_LAPIC_MODE {
    HlLapicModeXApic = 0, /* MMIO at the base address, 8-bit physical ids */
    HlLapicModeX2Apic,    /* MSRs 0x800-0x8FF, 32-bit ids (SDM 11.12) */
} HL_LAPIC_MODE;

/* Selects the mode for all CPUs; call before any CPU initialises its local
 * APIC. x2APIC must be offered by the CPU (CPUID.01H:ECX[21]); a CPU that
 * firmware handed over in x2APIC mode (IA32_APIC_BASE.EXTD set) needs
 * x2APIC selected. XApicBase is ignored for x2APIC.
 *   SUCCESS
 *   INVALID_PARAMETER  Mode not one of the enum; xAPIC with a base of 0 or
 *                      one that is not 4 KiB aligned (IA32_APIC_BASE, 11.4.4)
 *   INVALID_STATE      too late: since the last HlResetHardwareLayer a CPU
 *                      has enabled its local APIC (HlLapicEnable,
 *                      HlLapicInitializeProcessor) or been registered
 *                      (HlRegisterProcessor), in the mode selected then
 * Nothing changes on failure. */
IRQ_STATUS HlLapicSelectMode(HL_LAPIC_MODE Mode, uintptr_t XApicBase);
/* The mode HlLapicSelectMode selected (xAPIC until one is selected). */
HL_LAPIC_MODE HlLapicGetMode(void);
/* On the calling CPU, before any other local APIC access (HlLapicReadId
 * included): brings IA32_APIC_BASE into the selected mode, EN first, then
 * EXTD for x2APIC (SDM 11.12.5). Idempotent.
 *   SUCCESS        the CPU's local APIC is enabled in the selected mode
 *   INVALID_STATE  firmware left this CPU in x2APIC mode but xAPIC is selected */
IRQ_STATUS HlLapicEnable(void);
/* On the calling CPU: HlLapicEnable, then enables the local APIC with
 * SpuriousVector, TPR 0, and the logical destination (xAPIC flat model: bit
 * Cpu for Cpu < 8; x2APIC: the read-only cluster LDR). Records the CPU's
 * logical id for HlTargetCpuSetFixed destinations.
 *   SUCCESS, INVALID_CPU (Cpu >= IR_MAX_CPUS), INVALID_VECTOR (below 0x20),
 *   INVALID_STATE (as HlLapicEnable) */
IRQ_STATUS HlLapicInitializeProcessor(uint32_t Cpu, uint8_t SpuriousVector);
/* This CPU's APIC id: xAPIC ID[31:24], x2APIC the 32-bit id (SDM 11.4.6,
 * 11.12.5.1). Only after HlLapicEnable on this CPU. */
uint32_t HlLapicReadId(void);
/* This CPU's LDR and DFR (x2APIC: the LDR, and 0 for the DFR it lacks).
 *   SUCCESS, INVALID_PARAMETER (Ldr or Dfr NULL; nothing read) */
IRQ_STATUS HlLapicReadLogicalDestination(uint32_t *Ldr, uint32_t *Dfr);
/* Writes the calling CPU's EOI register: the highest in-service interrupt
 * ends (SDM 11.8.5). KeDispatchInterrupt sends it for every interrupt it
 * dispatches; a kernel calls it only for vectors it handles outside Ke. */
void HlLapicEndOfInterrupt(void);
/* Writes the calling CPU's TPR (SDM 11.8.3.1): interrupts whose priority
 * class (vector >> 4) is at or below Tpr >> 4 wait in the IRR. Ke owns the
 * TPR once KeInitializeSystem has run: KeRaiseIrql and KeLowerIrql write it
 * from the layout's TprOfIrql (docs/porting.md, IRQL and the TPR). */
void HlLapicWriteTaskPriority(uint8_t Tpr);
/* The calling CPU's TPR as the local APIC holds it. */
uint8_t HlLapicReadTaskPriority(void);
/* Whether Vector is requested (IRR) or in service (ISR) on the calling CPU
 * (SDM 11.8.4): an interrupt on it may still be dispatched here. */
bool HlLapicIsVectorPending(uint8_t Vector);

typedef enum _HL_IPI_SHORTHAND {
    HlIpiNoShorthand = 0,
    HlIpiSelf = 1,
    HlIpiAllIncludingSelf = 2,
    HlIpiAllExcludingSelf = 3,
} HL_IPI_SHORTHAND;

typedef enum _HL_DELIVERY_MODE {
    HlDeliveryFixed = 0,
    HlDeliveryLowestPriority = 1,
    HlDeliverySmi = 2,
    HlDeliveryNmi = 4,
    HlDeliveryInit = 5,
    HlDeliveryStartup = 6,
    HlDeliveryExtInt = 7,
} HL_DELIVERY_MODE;

/* Writes the ICR (SDM 11.6.1). Destination is a physical APIC id unless
 * Shorthand is used. Waits for the previous IPI's delivery status (xAPIC).
 *   SUCCESS
 *   INVALID_PARAMETER  DeliveryMode reserved (3, 7: ExtInt is not an IPI)
 *                      or unknown; Shorthand unknown, or Self or
 *                      AllIncludingSelf with a mode other than fixed
 *   INVALID_VECTOR     a fixed or lowest-priority IPI with Vector below 0x10
 *   INVALID_CPU        xAPIC, no shorthand, DestinationApicId above 0xFF
 *   INVALID_STATE      xAPIC: the previous IPI was still pending after the
 *                      bounded wait
 * Nothing is sent on failure. */
IRQ_STATUS HlLapicSendIpi(uint32_t DestinationApicId, HL_IPI_SHORTHAND Shorthand,
                          HL_DELIVERY_MODE DeliveryMode, uint8_t Vector);

/* ======================================================================== */
/* Interrupt targets                                                        */
/* ======================================================================== */

typedef enum _HL_TARGET_KIND {
    HlTargetCpu = 0,             /* one CPU index, physical destination = its APIC id */
    HlTargetApicId,              /* one APIC id, physical destination (must be registered) */
    HlTargetCpuSetFixed,         /* every CPU of the set: logical destination, fixed delivery */
    HlTargetCpuSetLowestPriority /* one CPU of the set, chosen by the chipset (lowest-priority mode) */
} HL_TARGET_KIND;

typedef struct _HL_INTERRUPT_TARGET {
    HL_TARGET_KIND Kind;
    uint32_t Cpu;              /* HlTargetCpu */
    uint32_t ApicId;           /* HlTargetApicId */
    const IR_CPU_SET *CpuSet;  /* the two set kinds */
} HL_INTERRUPT_TARGET;

/* The resolved destination field and mode of a target. */
typedef struct _HL_DESTINATION {
    uint32_t Destination;      /* APIC id, or logical destination bits */
    bool Logical;              /* destination mode: false physical, true logical */
    HL_DELIVERY_MODE DeliveryMode;
} HL_DESTINATION;

/* Resolves a target against the registry and the local APICs' logical ids.
 * Destination is written only on success.
 *   SUCCESS
 *   INVALID_PARAMETER  Target or Destination NULL, unknown Kind, NULL CpuSet
 *   INVALID_CPU        an unregistered CPU or APIC id (a set member too)
 *   EMPTY_AFFINITY     an empty set
 *   NOT_INITIALIZED    a set member whose local APIC has no logical id yet
 *   NOT_SUPPORTED      a set the logical model cannot express (flat mode:
 *                      CPUs 0-7 only; x2APIC: one cluster) */
IRQ_STATUS HlResolveTarget(const HL_INTERRUPT_TARGET *Target, HL_DESTINATION *Destination);

/* Whether a device interrupt (an I/O APIC redirection entry or a
 * compatibility-format MSI, both with an 8-bit destination field) can be
 * delivered to Cpu: Cpu is registered and its APIC id is below 0xFF, the
 * xAPIC broadcast id (82093AA 3.2.4 bits 63:56; SDM vol. 3A 11.11.1). In
 * x2APIC mode a CPU with an id of 0xFF or above is reachable by IPIs but by
 * no device interrupt without interrupt remapping. Lock-free; false for
 * Cpu >= IR_MAX_CPUS. */
bool HlIsProcessorReachableByDevices(uint32_t Cpu);
/* The same for the line with GSI Gsi: every registered CPU when the line's
 * I/O APIC sends through an enabled remapping unit (HlRemapAssignIoApic:
 * the destination lives in the unit's 32-bit table entry), else as
 * HlIsProcessorReachableByDevices. */
bool HlIsProcessorReachableByLine(uint32_t Gsi, uint32_t Cpu);

/* ======================================================================== */
/* I/O APIC (Intel 82093AA datasheet): src/hl/x86/ioapic.c                */
/* ======================================================================== */

#define HL_MAX_IOAPICS 16u
#define HL_IOAPIC_DEFAULT_BASE 0xFEC00000u

typedef enum _HL_TRIGGER_MODE { HlTriggerEdge = 0, HlTriggerLevel = 1 } HL_TRIGGER_MODE;
typedef enum _HL_POLARITY { HlPolarityActiveHigh = 0, HlPolarityActiveLow = 1 } HL_POLARITY;

/* One 64-bit redirection table entry (82093AA section 3.2.4). */
typedef union _IOAPIC_REDIRECTION_ENTRY {
    struct {
        uint64_t Vector : 8;          /* 7:0 */
        uint64_t DeliveryMode : 3;    /* 10:8   HL_DELIVERY_MODE */
        uint64_t DestinationMode : 1; /* 11     0 physical, 1 logical */
        uint64_t DeliveryStatus : 1;  /* 12     read-only: 1 = send pending */
        uint64_t Polarity : 1;        /* 13     0 high, 1 low */
        uint64_t RemoteIrr : 1;       /* 14     read-only, level only */
        uint64_t TriggerMode : 1;     /* 15     0 edge, 1 level */
        uint64_t Mask : 1;            /* 16 */
        uint64_t Reserved : 39;       /* 55:17  (keep 48-55 zero) */
        uint64_t Destination : 8;     /* 63:56 */
    } Bits;
    struct {
        uint32_t Low;
        uint32_t High;
    } Words;
    uint64_t Value;
} IOAPIC_REDIRECTION_ENTRY;

/* Registers an I/O APIC at Address whose pins start at GsiBase. Reads the
 * version register for the pin count and masks every entry.
 *   SUCCESS
 *   INVALID_PARAMETER       Address 0 or not 16-byte aligned, an Address
 *                           registered already, or nothing answers there
 *                           (the version register reads all ones)
 *   INSUFFICIENT_RESOURCES  HL_MAX_IOAPICS are registered
 *   NOT_SUPPORTED           more pins than an 8-bit IOREGSEL reaches (120)
 *   INVALID_GSI             its GSIs run past 0xFFFFFFFF or overlap another
 *                           I/O APIC's
 * Nothing is registered and no entry is written on failure. */
IRQ_STATUS HlIoApicRegister(uint8_t IoApicId, uintptr_t Address, uint32_t GsiBase);
/* How many I/O APICs HlIoApicRegister has registered. */
uint32_t HlIoApicGetCount(void);
/* Finds the I/O APIC and pin of a GSI. IoApicIndex and Pin may be NULL: a
 * caller that only asks whether some I/O APIC has the GSI passes NULL for
 * both (the PIC service does).
 *   SUCCESS, INVALID_GSI (no registered I/O APIC has Gsi; nothing written) */
IRQ_STATUS HlIoApicLookupGsi(uint32_t Gsi, uint32_t *IoApicIndex, uint32_t *Pin);
/*   SUCCESS, INVALID_PARAMETER (Entry NULL), INVALID_GSI */
IRQ_STATUS HlIoApicReadEntry(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY *Entry);
/* Writes an entry: high word (destination) first, then the low word, so an
 * unmasking write never fires towards a stale destination. Register pairs
 * (IOREGSEL then IOWIN) are serialised per I/O APIC with interrupts disabled.
 * Read-only and reserved bits are written as zero.
 *   SUCCESS
 *   INVALID_GSI        no registered I/O APIC has Gsi
 *   INVALID_PARAMETER  a reserved delivery mode (011b, 110b; 82093AA 3.2.4)
 *   INVALID_VECTOR     an unmasked fixed or lowest-priority entry with a
 *                      vector outside 0x10-0xFE
 * The entry is unchanged on failure. */
IRQ_STATUS HlIoApicWriteEntry(uint32_t Gsi, IOAPIC_REDIRECTION_ENTRY Entry);
/* Sets or clears the entry's mask bit, nothing else.
 *   SUCCESS
 *   INVALID_GSI        no registered I/O APIC has Gsi
 *   INVALID_PARAMETER, INVALID_VECTOR  the entry with the new mask would be
 *                      refused by HlIoApicWriteEntry (unmasking an entry that
 *                      was never given a usable vector; a reserved delivery
 *                      mode left by firmware)
 * The entry is unchanged on failure. */
IRQ_STATUS HlIoApicSetMask(uint32_t Gsi, bool Masked);
/* Clears a Remote IRR left set on the entry by a previous user (directed EOI
 * on an I/O xAPIC, edge/level toggle on an 82093AA); nothing if clear.
 *   SUCCESS, INVALID_GSI (no registered I/O APIC has Gsi) */
IRQ_STATUS HlIoApicClearRemoteIrr(uint32_t Gsi);

/* ======================================================================== */
/* PIC service: GSI routing                                                 */
/* ======================================================================== */

typedef enum _HL_LINE_BUS {
    HlBusGsi = 0, /* Number is a GSI; an override landing on it gives its flags,
                     else GSI < 16 takes ISA defaults and the rest PCI defaults */
    HlBusIsa,     /* Number is an ISA IRQ 0-15, resolved through the MADT overrides */
    HlBusPci,     /* Number is a GSI; PCI default: level, active low */
} HL_LINE_BUS;

typedef enum _HL_LINE_OPTION { HlLineDefault = 0, HlLineEdge, HlLineLevel, HlLineActiveHigh, HlLineActiveLow } HL_LINE_OPTION;

typedef struct _HL_INTERRUPT_LINE {
    HL_LINE_BUS Bus;
    uint32_t Number;
    HL_LINE_OPTION Trigger;  /* HlLineDefault, HlLineEdge or HlLineLevel */
    HL_LINE_OPTION Polarity; /* HlLineDefault, HlLineActiveHigh or HlLineActiveLow */
} HL_INTERRUPT_LINE;

typedef struct _HL_RESOLVED_LINE {
    uint32_t Gsi;
    HL_TRIGGER_MODE Trigger;
    HL_POLARITY Polarity;
} HL_RESOLVED_LINE;

/* MPS INTI flags of an override (ACPI 6.x table 5.50): polarity bits 1:0,
 * trigger bits 3:2; 0 means "conforms to the bus" (ISA: edge, high). The
 * last override of an IRQ wins. Register the I/O APICs first (the MADT
 * order): the GSI must be one of theirs.
 *   SUCCESS
 *   INVALID_GSI        IsaIrq above 15, or no registered I/O APIC has Gsi
 *   INVALID_PARAMETER  a reserved (10b) polarity or trigger encoding
 * Nothing is recorded on failure (an earlier override of IsaIrq stays). */
IRQ_STATUS HlPicRegisterOverride(uint8_t IsaIrq, uint32_t Gsi, uint16_t Flags);
/* The GSI, trigger and polarity of a line (HL_LINE_BUS says how).
 *   SUCCESS
 *   INVALID_PARAMETER  Line or Resolved NULL, Bus unknown, Trigger or
 *                      Polarity not an option of its kind
 *   INVALID_GSI        an ISA IRQ above 15, or no registered I/O APIC has
 *                      the resulting GSI
 * Resolved is written only on success. */
IRQ_STATUS HlPicResolveLine(const HL_INTERRUPT_LINE *Line, HL_RESOLVED_LINE *Resolved);

/* Programs the redirection entry of Gsi: Vector, the target's destination,
 * trigger and polarity, and unmasks it (last). Nothing forces the BSP.
 *   SUCCESS
 *   INVALID_PARAMETER  Target NULL, Trigger or Polarity not one of the enum,
 *                      or as HlResolveTarget
 *   INVALID_GSI        no registered I/O APIC has Gsi
 *   INVALID_VECTOR     Vector outside 0x10-0xFE (82093AA 3.2.4)
 *   INVALID_CPU, EMPTY_AFFINITY, NOT_INITIALIZED  as HlResolveTarget
 *   NOT_SUPPORTED      as HlResolveTarget, or the destination does not fit
 *                      the entry's 8 bits: a physical APIC id of 0xFF or
 *                      above (see HlIsProcessorReachableByDevices), or an
 *                      x2APIC logical destination above 0xFF (anything but
 *                      cluster 0 members 0-7, i.e. x2APIC ids 0-7)
 * The entry is unchanged on failure. */
IRQ_STATUS HlPicAllocateSystemInterrupt(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target,
                                        HL_TRIGGER_MODE Trigger, HL_POLARITY Polarity);
/* Moves a live line to another vector/destination without masking it: an
 * edge that arrives while masked is lost (82093AA 3.2.4), so the entry is
 * rewritten in place, high word first.
 *   SUCCESS
 *   INVALID_PARAMETER, INVALID_GSI, INVALID_VECTOR, INVALID_CPU,
 *   EMPTY_AFFINITY, NOT_INITIALIZED  as HlPicAllocateSystemInterrupt
 *   NOT_SUPPORTED      as HlPicAllocateSystemInterrupt, or a change of
 *                      destination mode on an unmasked edge line
 *   INVALID_STATE      a level line whose Remote IRR is set would get a new
 *                      vector: retry once the interrupt in flight is EOIed
 * The entry is unchanged on failure. */
IRQ_STATUS HlPicRetargetSystemInterrupt(uint32_t Gsi, uint8_t Vector, const HL_INTERRUPT_TARGET *Target);
/* Masks the entry of Gsi (the line's last user has gone).
 *   SUCCESS, INVALID_GSI, INVALID_PARAMETER (as HlIoApicSetMask) */
IRQ_STATUS HlPicFreeSystemInterrupt(uint32_t Gsi);

/* ======================================================================== */
/* MSI (Intel SDM vol. 3A 11.11)                                            */
/* ======================================================================== */

typedef struct _HL_MSI_MESSAGE {
    uint64_t Address;
    uint32_t Data;
} HL_MSI_MESSAGE;

/* Address 0xFEE00000 | destination << 12 | destination mode << 2
 * (| redirection hint << 3 for lowest priority); data = vector |
 * delivery mode << 8 | trigger << 15 (| assert << 14 for level).
 *   SUCCESS
 *   INVALID_PARAMETER  Target or Message NULL, Trigger not one of the enum,
 *                      or as HlResolveTarget
 *   INVALID_VECTOR     Vector outside 0x10-0xFE (SDM 11.11.2)
 *   INVALID_CPU, EMPTY_AFFINITY, NOT_INITIALIZED  as HlResolveTarget
 *   NOT_SUPPORTED      as HlResolveTarget, or the destination does not fit
 *                      the address's 8 bits (the rule of
 *                      HlPicAllocateSystemInterrupt): it needs interrupt
 *                      remapping
 * Message is written only on success. */
IRQ_STATUS HlMsiComposeMessage(const HL_INTERRUPT_TARGET *Target, uint8_t Vector, HL_TRIGGER_MODE Trigger,
                               HL_MSI_MESSAGE *Message);

/* ======================================================================== */
/* MSI-X tables (PCI Local Bus 3.0 6.8.2): src/hl/msix.c                    */
/* ======================================================================== */

/* 6.8.2.3: at most 2048 entries (Message Control bits 10:0 hold N-1). */
#define HL_MSIX_MAX_ENTRIES 2048u
/* Base address registers a BAR indicator names: BARs 0-5 (6.8.2.4). */
#define HL_MSIX_BAR_COUNT 6u

/* Where a function's MSI-X table and pending bit array are (addresses the
 * caller has mapped uncached, as PlatMmioRead32 takes them) and how many
 * entries the table has. Entry k is 16 bytes at Table + 16k: address low,
 * address high, data, vector control (bit 0 masks the entry); pending bit
 * k is bit k of the PBA (6.8.2.6-6.8.2.10). */
typedef struct _HL_MSIX_TABLE {
    uintptr_t Table;
    uintptr_t PendingBits;
    uint32_t EntryCount; /* 1 .. HL_MSIX_MAX_ENTRIES */
} HL_MSIX_TABLE;

/* The table from the capability's registers as the device's driver read
 * them from configuration space: MessageControl (table size N-1 in bits
 * 10:0), the Table and PBA Offset/BIR registers (BAR indicator in bits 2:0,
 * offset in 31:3), and BarAddresses[i], where the driver mapped memory BAR
 * i (0: BAR i is not a memory BAR, or not mapped).
 *   SUCCESS
 *   INVALID_PARAMETER  BarAddresses or Table NULL
 *   NOT_SUPPORTED      a BAR indicator of 6 or 7 (reserved), or one that
 *                      names a BAR whose address is 0
 * Table is written only on success; nothing is read or written on the
 * device. */
IRQ_STATUS HlMsixDescribeTable(uint16_t MessageControl, uint32_t TableOffsetBir, uint32_t PbaOffsetBir,
                               const uintptr_t BarAddresses[HL_MSIX_BAR_COUNT], HL_MSIX_TABLE *Table);
/* Writes Message into entry Index. The entry's address and data may not
 * change while it is unmasked (6.8.2.9), and no single write replaces them
 * together, so an unmasked entry is masked, rewritten and unmasked again:
 * an interrupt raised in between waits in the PBA and is sent on the
 * unmask, with the new message, once. A masked entry stays masked; an
 * entry that already holds Message is not touched. The caller serialises
 * writes to one entry (Io does, under the interrupt's route lock).
 *   SUCCESS
 *   INVALID_PARAMETER  Table or Message NULL, Table's addresses 0, its
 *                      EntryCount 0 or above HL_MSIX_MAX_ENTRIES, or Index
 *                      not below EntryCount
 * Nothing is written on failure. */
IRQ_STATUS HlMsixWriteEntry(const HL_MSIX_TABLE *Table, uint32_t Index, const HL_MSI_MESSAGE *Message);
/* Entry Index's message and mask bit (either pointer may be NULL).
 * SUCCESS; INVALID_PARAMETER (as HlMsixWriteEntry; nothing read). */
IRQ_STATUS HlMsixReadEntry(const HL_MSIX_TABLE *Table, uint32_t Index, HL_MSI_MESSAGE *Message, bool *Masked);
/* Sets or clears entry Index's mask bit (vector control bit 0), keeping the
 * reserved bits. Unmasking an entry whose pending bit is set makes the
 * device send the held message (6.8.2.10). SUCCESS; INVALID_PARAMETER (as
 * HlMsixWriteEntry; nothing written). */
IRQ_STATUS HlMsixSetMask(const HL_MSIX_TABLE *Table, uint32_t Index, bool Masked);
/* Whether entry Index's pending bit is set: the device raised it while it
 * was masked and holds the message. SUCCESS; INVALID_PARAMETER (as
 * HlMsixWriteEntry, or Pending NULL; nothing read or written). */
IRQ_STATUS HlMsixIsPending(const HL_MSIX_TABLE *Table, uint32_t Index, bool *Pending);

/* ======================================================================== */
/* Interrupt remapping (Intel VT-d spec ch. 5.1, 9.10): src/hl/x86/remap.c  */
/* ======================================================================== */

/* Remapping units (DMAR DRHD structures) Hl can drive. */
#define HL_REMAP_MAX_UNITS 8u

/* Which requesters an IRTE accepts (9.10 SVT): any, the one SourceId
 * (with SourceQualifier saying which of its function bits to compare), or
 * a bus range (SourceId = start bus << 8 | end bus). */
typedef enum _HL_REMAP_VERIFY {
    HlRemapVerifyNone = 0,
    HlRemapVerifyRequester = 1,
    HlRemapVerifyBus = 2,
} HL_REMAP_VERIFY;

/* What an interrupt remapping table entry says: the destination (an APIC
 * id, 32 bits in x2APIC mode; a logical destination with Logical), the
 * delivery mode (fixed or lowest priority), vector and trigger mode, and
 * who may use it. */
typedef struct _HL_REMAP_ENTRY {
    uint32_t Destination;
    bool Logical;
    HL_DELIVERY_MODE DeliveryMode;
    uint8_t Vector;
    HL_TRIGGER_MODE Trigger;
    uint16_t SourceId;        /* bus << 8 | device << 3 | function */
    uint8_t SourceQualifier;  /* 9.10 SQ: 0 compares all 16 bits */
    HL_REMAP_VERIFY SourceValidation;
} HL_REMAP_ENTRY;

/* One recorded fault (VT-d 7.x; fault recording registers, 11.4.14). */
typedef struct _HL_REMAP_FAULT {
    uint8_t Reason;    /* 0x20-0x27: interrupt remapping faults (7.1.2 table) */
    uint16_t SourceId; /* the requester */
    uint16_t Index;    /* the interrupt index it used */
} HL_REMAP_FAULT;

/* Registers the unit whose registers are at RegisterBase (the DRHD's
 * address, 4 KiB aligned) as number Unit, after reading its extended
 * capabilities. After HlLapicSelectMode.
 *   SUCCESS
 *   INVALID_PARAMETER  Unit >= HL_REMAP_MAX_UNITS, RegisterBase 0 or not
 *                      4 KiB aligned
 *   INVALID_STATE      Unit is registered already
 *   NOT_SUPPORTED      the unit does not offer interrupt remapping, queued
 *                      invalidation (the only way to invalidate its
 *                      interrupt entry cache), or, in x2APIC mode, the
 *                      extended interrupt mode; or nothing answers there
 * Nothing is registered on failure. */
IRQ_STATUS HlRemapRegisterUnit(uint32_t Unit, uintptr_t RegisterBase);
/* Turns remapping on: allocates the table (4096 entries) and the
 * invalidation queue (PlatAllocateMemory; identity-mapped memory), sets the
 * table pointer (EIME in x2APIC mode), enables the queue, invalidates the
 * entry cache, enables remapping; compatibility-format interrupts stay
 * blocked (CFI clear). From then on every interrupt through the unit needs
 * a present entry.
 *   SUCCESS
 *   INVALID_PARAMETER       Unit not registered
 *   INVALID_STATE           enabled already, or an earlier attempt failed
 *   INSUFFICIENT_RESOURCES  no memory (nothing changed)
 *   DEVICE_ERROR            the unit did not confirm a step */
IRQ_STATUS HlRemapEnable(uint32_t Unit);
/* True when HlRemapEnable turned remapping on for Unit (false for a unit
 * that is not registered). */
bool HlRemapIsEnabled(uint32_t Unit);
/* A free table index. SUCCESS; NOT_INITIALIZED (the unit is not enabled);
 * INVALID_PARAMETER (Index NULL); INSUFFICIENT_RESOURCES (table full).
 * *Index is written only on success. */
IRQ_STATUS HlRemapAllocateEntry(uint32_t Unit, uint32_t *Index);
/* Writes the entry at Index and invalidates the unit's cached copy; returns
 * once the unit has confirmed it. A live entry whose requester fields stay
 * the same changes in one 64-bit store (a move); otherwise it is taken out,
 * rewritten and put back present.
 *   SUCCESS
 *   NOT_INITIALIZED    the unit is not enabled
 *   INVALID_PARAMETER  Entry NULL, Index not allocated, a vector outside
 *                      0x10-0xFE, a delivery mode other than fixed or
 *                      lowest priority, an unknown trigger or validation kind
 *   NOT_SUPPORTED      a destination above 255 without x2APIC mode
 *   DEVICE_ERROR       the invalidation did not complete (the entry is
 *                      written; the unit may use its cached copy) */
IRQ_STATUS HlRemapWriteEntry(uint32_t Unit, uint32_t Index, const HL_REMAP_ENTRY *Entry);
/* Clears the entry (not present), invalidates it and returns the index.
 * SUCCESS; NOT_INITIALIZED; INVALID_PARAMETER (not allocated); DEVICE_ERROR
 * (as HlRemapWriteEntry; the index is returned all the same). */
IRQ_STATUS HlRemapFreeEntry(uint32_t Unit, uint32_t Index);
/* The remappable-format MSI for Index (5.1.2.2): handle in the address,
 * SHV clear, data 0. SUCCESS; INVALID_PARAMETER (Message NULL, Index beyond
 * the table). */
IRQ_STATUS HlRemapComposeMsi(uint32_t Index, HL_MSI_MESSAGE *Message);
/* The remappable-format redirection entry for Index (5.1.5.1), masked,
 * with the line's vector (the IRTE's: level EOIs match on it), trigger and
 * polarity. SUCCESS; INVALID_PARAMETER (Entry NULL, Index beyond the
 * table, an unknown trigger or polarity). */
IRQ_STATUS HlRemapComposeIoApicEntry(uint32_t Index, uint8_t Vector, HL_TRIGGER_MODE Trigger, HL_POLARITY Polarity,
                                     IOAPIC_REDIRECTION_ENTRY *Entry);
/* The I/O APIC whose id is IoApicId sends through Unit as requester
 * SourceId (the DMAR's I/O APIC scope: HlDmarFindIoApicUnit,
 * HlDmarGetIoApicSourceId). While Unit is enabled, HlPicAllocateSystemInterrupt
 * programs that I/O APIC's lines in remappable format: the redirection
 * entry names a table entry that holds the destination (any APIC id) and
 * vector, and a move rewrites only that entry (HlPicRetargetSystemInterrupt).
 *   SUCCESS
 *   INVALID_PARAMETER       Unit not registered
 *   INVALID_STATE           the I/O APIC is assigned already
 *   INSUFFICIENT_RESOURCES  HL_MAX_IOAPICS assigned */
IRQ_STATUS HlRemapAssignIoApic(uint8_t IoApicId, uint32_t Unit, uint16_t SourceId);
/* The PCI requester SourceId (bus << 8 | device << 3 | function: the DMAR's
 * endpoint scope) signals its MSIs through Unit: while Unit is enabled,
 * HlMsiIsRemapped says so and HlMsiComposeRemapped serves it.
 *   SUCCESS
 *   INVALID_PARAMETER       Unit not registered
 *   INVALID_STATE           the requester is assigned already
 *   INSUFFICIENT_RESOURCES  256 requesters assigned */
IRQ_STATUS HlRemapAssignRequester(uint32_t Unit, uint16_t SourceId);
/* Takes every recorded fault out of the unit's fault recording registers
 * (clearing them), counts them, and copies up to Capacity into Faults;
 * *Count is how many were copied. SUCCESS; NOT_INITIALIZED (Unit not
 * registered); INVALID_PARAMETER (Count NULL, or Faults NULL with a
 * Capacity). */
IRQ_STATUS HlRemapCollectFaults(uint32_t Unit, HL_REMAP_FAULT *Faults, uint32_t Capacity, uint32_t *Count);
/* Faults taken by HlRemapCollectFaults so far (0 for an unknown unit). */
uint64_t HlRemapQueryFaultCount(uint32_t Unit);

/* ---- Remapped MSI (VT-d 5.1.2.2): src/hl/msi_remap.c ----------------------- */

/* A remapped message's table entry, kept by its user for the moves and the
 * free. */
typedef struct _HL_MSI_REMAPPING {
    uint32_t Unit;
    uint32_t Index;
    uint16_t RequesterId;
} HL_MSI_REMAPPING;

/* Whether RequesterId's messages go through an enabled remapping unit
 * (HlRemapAssignRequester). */
bool HlMsiIsRemapped(uint16_t RequesterId);
/* A table entry for RequesterId's message to Target with Vector (edge,
 * fixed or lowest priority as the target resolves; the requester checked),
 * and the remappable-format message naming it, which never changes after:
 * moves rewrite the entry (HlMsiRetargetRemapped). Any APIC id is a valid
 * destination in x2APIC mode.
 *   SUCCESS
 *   INVALID_PARAMETER  Target, Remapping or Message NULL, or as HlResolveTarget
 *   INVALID_VECTOR     Vector outside 0x10-0xFE
 *   NOT_SUPPORTED      the requester is not under an enabled unit
 *   INVALID_CPU, EMPTY_AFFINITY, NOT_INITIALIZED  as HlResolveTarget
 *   INSUFFICIENT_RESOURCES  the unit's table is full
 *   DEVICE_ERROR       as HlRemapWriteEntry
 * Remapping and Message are written only on success; nothing is kept on
 * failure. */
IRQ_STATUS HlMsiComposeRemapped(uint16_t RequesterId, const HL_INTERRUPT_TARGET *Target, uint8_t Vector,
                                HL_MSI_REMAPPING *Remapping, HL_MSI_MESSAGE *Message);
/* Points the message at Target with Vector: the entry rewritten and
 * invalidated (one 64-bit store when only the destination or vector
 * changes). The statuses of HlMsiComposeRemapped but NOT_SUPPORTED, and
 * HlRemapWriteEntry's for a freed entry (INVALID_PARAMETER). */
IRQ_STATUS HlMsiRetargetRemapped(const HL_MSI_REMAPPING *Remapping, const HL_INTERRUPT_TARGET *Target,
                                 uint8_t Vector);
/* Clears and frees the entry: a message the device still sends faults
 * (not present) and reaches no CPU. SUCCESS; INVALID_PARAMETER (NULL, or
 * not allocated); NOT_INITIALIZED; DEVICE_ERROR. */
IRQ_STATUS HlMsiFreeRemapped(const HL_MSI_REMAPPING *Remapping);

/* ======================================================================== */
/* ACPI MADT (ACPI 6.x section 5.2.12)                                      */
/* ======================================================================== */

#define HL_MADT_MAX_PROCESSORS IR_MAX_CPUS
#define HL_MADT_MAX_OVERRIDES 48u
#define HL_MADT_MAX_NMIS 16u

typedef struct _HL_MADT_PROCESSOR {
    uint32_t ApicId;
    uint32_t AcpiUid;
    bool Enabled;   /* flags bit 0 */
    bool OnlineCapable; /* flags bit 1 */
    bool X2Apic;    /* came from a type 9 entry */
} HL_MADT_PROCESSOR;

typedef struct _HL_MADT_IOAPIC {
    uint8_t Id;
    uint32_t Address;
    uint32_t GsiBase;
} HL_MADT_IOAPIC;

typedef struct _HL_MADT_OVERRIDE {
    uint8_t Bus;
    uint8_t SourceIrq;
    uint32_t Gsi;
    uint16_t Flags;
} HL_MADT_OVERRIDE;

typedef struct _HL_MADT_NMI {
    uint32_t AcpiUid;   /* 0xFF (or 0xFFFFFFFF for x2APIC) = all processors, else a recorded processor's */
    uint16_t Flags;
    uint8_t Lint;
} HL_MADT_NMI;

typedef struct _HL_MADT_INFO {
    uint64_t LocalApicAddress; /* after an address override entry (type 5) */
    uint32_t Flags;            /* bit 0: PCAT_COMPAT (8259s present) */
    uint32_t ProcessorCount;
    uint32_t IoApicCount;
    uint32_t OverrideCount;
    uint32_t NmiCount;
    uint32_t UnknownEntryCount; /* skipped, not an error */
    uint32_t IgnoredProcessorCount; /* processor entries skipped (see HlMadtParse) */
    uint32_t UnmatchedNmiCount;     /* NMI entries for no recorded processor, skipped */
    HL_MADT_PROCESSOR Processors[HL_MADT_MAX_PROCESSORS];
    HL_MADT_IOAPIC IoApics[HL_MAX_IOAPICS];
    HL_MADT_OVERRIDE Overrides[HL_MADT_MAX_OVERRIDES];
    HL_MADT_NMI Nmis[HL_MADT_MAX_NMIS];
} HL_MADT_INFO;

/* Parses a whole MADT (header included, signature "APIC"). Every length and
 * count is checked against Length, and never a byte outside [Table,
 * Table+Length) is read nor an entry past an Info array's capacity written.
 *
 * Processor entries (type 0 Local APIC, type 9 Local x2APIC, ACPI 6.x
 * 5.2.12.2 and 5.2.12.12) may be mixed. Recorded: every one except
 *  - an APIC id that names no processor: type 0 id 0xFF, type 9 id
 *    0xFFFFFFFF (the broadcast ids; firmware marks absent processors so);
 *  - a type 9 entry with an id below 255 when the table also has a usable
 *    (enabled or online-capable) type 0 processor: 5.2.12.12 says processors
 *    below 255 use type 0, so it describes one of them again. A table of
 *    type 9 entries only is recorded whatever the ids.
 * Those are skipped and counted in IgnoredProcessorCount. Recorded
 * processors, disabled ones included, all have different APIC ids.
 * NMI entries (type 4 with an 8-bit UID, type 0xA with a 32-bit one,
 * 5.2.12.7 and 5.2.12.13) are recorded when the UID means "all" (0xFF,
 * 0xFFFFFFFF) or is the AcpiUid of a recorded processor of either type;
 * the others apply to no processor and are skipped and counted in
 * UnmatchedNmiCount. Unknown entry types are skipped and counted too.
 *
 *   SUCCESS                 Info holds the counts and the entries below them
 *                           (the arrays past the counts are not written)
 *   INVALID_PARAMETER       Table or Info NULL
 *   MALFORMED_TABLE         Length below the 44-byte header or the header's
 *                           Length beyond Length, signature not "APIC", a
 *                           checksum that is not zero, an entry shorter than 2
 *                           bytes or running past the table, a known entry
 *                           shorter than its type, two recorded processors
 *                           with one APIC id, or no I/O APIC (every interrupt
 *                           this library routes needs one)
 *   INSUFFICIENT_RESOURCES  the table is well formed but has more recorded
 *                           processors, I/O APICs, overrides or NMIs than
 *                           HL_MADT_MAX_PROCESSORS, HL_MAX_IOAPICS,
 *                           HL_MADT_MAX_OVERRIDES or HL_MADT_MAX_NMIS
 * On failure Info is left as it was. Entries are checked in table order:
 * a structural defect anywhere wins over the rest; after that the first
 * duplicate or overflow in table order decides the status. */
IRQ_STATUS HlMadtParse(const void *Table, size_t Length, HL_MADT_INFO *Info);

/* ======================================================================== */
/* ACPI DMAR (Intel VT-d spec rev. 3.x ch. 8): src/hl/dmar.c               */
/* ======================================================================== */

#define HL_DMAR_MAX_UNITS 8u
#define HL_DMAR_MAX_SCOPES_PER_UNIT 64u
/* Path entries kept per device scope (8.3.1: one per bridge crossed, plus
 * the device itself). */
#define HL_DMAR_MAX_PATH 4u

/* DMAR header flags (8.1). */
#define HL_DMAR_FLAG_INTR_REMAP 0x1u     /* the platform supports interrupt remapping */
#define HL_DMAR_FLAG_X2APIC_OPT_OUT 0x2u /* firmware asks the OS not to use x2APIC with IR */

/* Device scope types (8.3.1, "Device Scope Structure"). */
typedef enum _HL_DMAR_SCOPE_TYPE {
    HlDmarScopePciEndpoint = 1,
    HlDmarScopePciBridge = 2, /* the bridge and every device below it */
    HlDmarScopeIoApic = 3,    /* EnumerationId is the I/O APIC id (8.3.1.1) */
    HlDmarScopeHpet = 4,      /* EnumerationId is the HPET number (8.3.1.2) */
    HlDmarScopeAcpiNamespace = 5, /* EnumerationId is an ANDD device number (8.3.1.3) */
} HL_DMAR_SCOPE_TYPE;

typedef struct _HL_DMAR_PATH_ENTRY {
    uint8_t Device;   /* 0-31 */
    uint8_t Function; /* 0-7 */
} HL_DMAR_PATH_ENTRY;

typedef struct _HL_DMAR_SCOPE {
    HL_DMAR_SCOPE_TYPE Type;
    uint8_t EnumerationId;
    uint8_t StartBus;
    uint8_t PathLength; /* entries in Path (1..HL_DMAR_MAX_PATH) */
    HL_DMAR_PATH_ENTRY Path[HL_DMAR_MAX_PATH];
    /* The requester id the device's interrupts carry, bus << 8 | device << 3
     * | function (VT-d 5.1.1 "Identifying Origination of Interrupt
     * Requests", the SID of an IRTE, 9.10): valid when SourceIdKnown, that is
     * when the path has one entry (the device sits on StartBus). A longer
     * path crosses bridges whose secondary bus numbers live in PCI
     * configuration space, which a table parser cannot read. */
    bool SourceIdKnown;
    uint16_t SourceId;
} HL_DMAR_SCOPE;

/* One DMA Remapping Hardware Unit Definition (DRHD, 8.3). */
typedef struct _HL_DMAR_UNIT {
    uint64_t RegisterBase; /* 4 KiB aligned, non-zero */
    uint16_t Segment;
    bool IncludePciAll;    /* flags bit 0: every PCI device of Segment not named by another unit */
    uint32_t ScopeCount;
    uint32_t SkippedScopeCount; /* scopes of a reserved type (0, 6 and up), skipped */
    HL_DMAR_SCOPE Scopes[HL_DMAR_MAX_SCOPES_PER_UNIT];
} HL_DMAR_UNIT;

typedef struct _HL_DMAR_INFO {
    uint32_t HostAddressWidth;  /* the header's field + 1 (bits of DMA address) */
    uint32_t Flags;             /* HL_DMAR_FLAG_* (the header's flags byte) */
    uint32_t UnitCount;
    /* Remapping structures skipped by their Length: the known ones this
     * library does not use (RMRR 1, ATSR 2, RHSA 3, ANDD 4, SATC 5, SIDP 6)
     * and reserved types (7 and up) counted apart. */
    uint32_t SkippedStructureCount;
    uint32_t UnknownStructureCount;
    HL_DMAR_UNIT Units[HL_DMAR_MAX_UNITS];
} HL_DMAR_INFO;

/* Parses a whole DMAR (header included, signature "DMAR"). Never reads a
 * byte outside [Table, Table+Length) nor writes past an Info array.
 *
 * Accepted: DRHD structures (type 0) with their device scopes, recorded in
 * table order; other remapping structures skipped by their Length and
 * counted; scopes of a reserved type inside a DRHD skipped and counted.
 *
 *   SUCCESS                 Info holds the header fields, the counts and
 *                           the units and scopes below them (array entries
 *                           past the counts are not written)
 *   INVALID_PARAMETER       Table or Info NULL
 *   MALFORMED_TABLE         Length below the 48-byte header or the header's
 *                           Length beyond Length, signature not "DMAR", a
 *                           checksum that is not zero, a host address width
 *                           above 64 bits; a remapping structure shorter than
 *                           its 4-byte header or running past the table; a
 *                           DRHD shorter than 16 bytes, with a register base
 *                           of 0 or not 4 KiB aligned, or with the register
 *                           base of an earlier unit, or a second
 *                           INCLUDE_PCI_ALL unit for one segment (8.3: at
 *                           most one per segment); a device scope shorter
 *                           than 8 bytes (the 6-byte header and one path
 *                           entry), with an odd path length or running past
 *                           its DRHD, a path entry with a device above 31 or
 *                           a function above 7; two I/O APIC scopes with one
 *                           I/O APIC id; no DRHD at all
 *   INSUFFICIENT_RESOURCES  a well-formed table with more than
 *                           HL_DMAR_MAX_UNITS DRHDs, more than
 *                           HL_DMAR_MAX_SCOPES_PER_UNIT recorded scopes in
 *                           one, or a path longer than HL_DMAR_MAX_PATH
 * On failure Info is left as it was: the table is checked whole before
 * anything is stored. A structural defect (bounds, lengths) anywhere wins
 * over the rest; after that the first defect in table order decides. */
IRQ_STATUS HlDmarParse(const void *Table, size_t Length, HL_DMAR_INFO *Info);

/* The unit whose interrupt remapping an I/O APIC's interrupts go through:
 * the unit with an I/O APIC scope for IoApicId, else the INCLUDE_PCI_ALL
 * unit of segment 0. (8.3.1.1 wants every I/O APIC listed, under an
 * INCLUDE_PCI_ALL unit too; the fallback keeps a table that forgot one
 * usable, but then its source id is unknown: see below.)
 * *UnitIndex indexes Info->Units; written only on success.
 *   SUCCESS
 *   INVALID_PARAMETER  Info or UnitIndex NULL
 *   NOT_SUPPORTED      no unit covers the I/O APIC: its interrupts are not
 *                      remapped */
IRQ_STATUS HlDmarFindIoApicUnit(const HL_DMAR_INFO *Info, uint8_t IoApicId, uint32_t *UnitIndex);

/* The source id an I/O APIC's interrupt requests carry (its scope's
 * StartBus and path, 8.3.1.1): what an IRTE's SID must hold for them.
 * *SourceId is written only on success.
 *   SUCCESS
 *   INVALID_PARAMETER  Info or SourceId NULL
 *   NOT_SUPPORTED      no scope names the I/O APIC (with INCLUDE_PCI_ALL
 *                      alone the firmware has not said where it sits), or
 *                      its path crosses bridges (SourceIdKnown false) */
IRQ_STATUS HlDmarGetIoApicSourceId(const HL_DMAR_INFO *Info, uint8_t IoApicId, uint16_t *SourceId);

/* The unit a PCI requester (Segment, Bus, Device, Function) is under: a
 * unit with a PCI endpoint scope for exactly that requester, or a PCI
 * bridge scope whose bridge is that requester (a device below a bridge is
 * found by asking with the bridge, since the scope's bus range lives in
 * the bridge's configuration space); else the INCLUDE_PCI_ALL unit of the
 * segment. Only scopes with SourceIdKnown are compared.
 *   SUCCESS
 *   INVALID_PARAMETER  Info or UnitIndex NULL, Device above 31 or Function
 *                      above 7
 *   NOT_SUPPORTED      no unit covers the requester */
IRQ_STATUS HlDmarFindPciUnit(const HL_DMAR_INFO *Info, uint16_t Segment, uint8_t Bus, uint8_t Device,
                             uint8_t Function, uint32_t *UnitIndex);

IRQROUTE_END_DECLS

#endif
