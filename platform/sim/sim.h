/* SPDX-License-Identifier: MIT */
/*
 * The sim platform: register-accurate 82093AA I/O APIC and local APIC models
 * on host threads, and the platform hooks (platform.h) that route the x86
 * drivers' MMIO/MSR accesses to them.
 *
 * Local APIC modes. Every CPU has its own IA32_APIC_BASE: firmware hands
 * each over in SIM_CONFIG.FirmwareMode, and software moves it between
 * disabled, xAPIC and x2APIC with the SDM's rules (11.12.5), so during
 * bring-up one CPU may still be in xAPIC mode while another is in x2APIC
 * mode. What a CPU's access reaches, and how a message matches it, follows
 * that CPU's own mode; an access its mode refuses is a fault (below).
 *
 * Threads and CPUs. Every thread that calls into the core must be "attached"
 * to a simulated CPU (PlatCurrentCpu is that CPU; calling it unattached
 * aborts with a message; the interrupt-flag hooks on an unattached thread,
 * as during boot, report "disabled" and do nothing). A CPU is owned by one
 * thread at a time: its service
 * thread (SimStartCpuThreads) while idle, or a thread that attached to it.
 * SimAttachCpu waits until the CPU's service thread is between interrupts.
 *
 * Interrupt acceptance follows the SDM (vol. 3A 11.8.3): a CPU accepts the
 * highest IRR vector whose class is above its PPR class, only while its
 * interrupt flag is set. A service thread accepts whenever it is idle; an
 * attached thread accepts at the points where a real CPU would notice: in
 * PlatCpuRelax, PlatRestoreInterrupts(true), after a TPR write, and in
 * SimServicePending. Acceptance clears IF, moves the vector IRR->ISR, and
 * calls the interrupt entry (the sim's IDT: every vector goes to it).
 *
 * This header is hosted code's view (tests, bench, tools); the models live in
 * platform/sim/ (one .c per part) and include nothing above Hl.
 */
#ifndef IRQROUTE_SIM_H
#define IRQROUTE_SIM_H

#include <irqroute/config.h>

#include <stdbool.h>
#include <stdint.h>

IRQROUTE_BEGIN_DECLS

#define SIM_MAX_CPUS 4096u
#define SIM_MAX_IOAPICS 8u

typedef void (*SIM_INTERRUPT_ENTRY)(uint32_t Cpu, uint8_t Vector);

typedef struct _SIM_IOAPIC_CONFIG {
    uint8_t Id;
    uintptr_t Address;   /* MMIO base: IOREGSEL at +0x00, IOWIN at +0x10, EOI at +0x40 */
    uint32_t GsiBase;
    uint32_t PinCount;   /* 1..120 (IOREGSEL is 8 bits: 0x10 + 2n); version reports PinCount-1 */
    /* An I/O xAPIC behind VT-d unit IommuUnit (SimIommuCreate), its requests
     * carrying SourceId: it keeps bits 63:48 of an entry (the remappable
     * format, VT-d 5.1.5.1) and every message goes through the unit, which
     * remaps it, lets a compatibility one through, or blocks it. */
    bool BehindIommu;
    uint32_t IommuUnit;
    uint16_t SourceId;
} SIM_IOAPIC_CONFIG;

/* A local APIC's mode, as IA32_APIC_BASE holds it (SDM vol. 3A 11.4.4 and
 * 11.12.5): EN set and EXTD clear is xAPIC, both set x2APIC, both clear
 * globally disabled (EXTD set with EN clear is the invalid state, refused by
 * the model). xAPIC is 0: the state firmware hands over by default. */
typedef enum _SIM_LAPIC_MODE {
    SimLapicXApic = 0,
    SimLapicX2Apic,
    SimLapicDisabled,
} SIM_LAPIC_MODE;

typedef struct _SIM_CONFIG {
    uint32_t CpuCount;          /* 1..SIM_MAX_CPUS (without X2ApicSupported: at most 255) */
    const uint32_t *ApicIds;    /* NULL: SimDefaultApicId; above 0xFE only with X2ApicSupported */
    /* The CPUs offer x2APIC (CPUID.01H:ECX[21]): without it, setting
     * IA32_APIC_BASE.EXTD raises #GP. */
    bool X2ApicSupported;
    /* The state firmware leaves every CPU's local APIC in: xAPIC (0, as
     * SeaBIOS normally does), x2APIC (as SeaBIOS with more than 255 CPUs;
     * needs X2ApicSupported) or disabled. Every other register holds its
     * power-up value (software-disabled, LVTs masked). */
    SIM_LAPIC_MODE FirmwareMode;
    uint32_t IoApicCount;       /* 0: one 24-pin I/O APIC, id 0, 0xFEC00000, GSI 0 */
    SIM_IOAPIC_CONFIG IoApics[SIM_MAX_IOAPICS];
} SIM_CONFIG;

/* The default, deliberately not identity and not contiguous, so that no code
 * can get away with APIC id == CPU index: 2*Cpu+1 while that stays below 255,
 * else 254-Cpu (8-bit ids), or 2*Cpu+1 (X2ApicSupported: 32-bit ids). */
uint32_t SimDefaultApicId(uint32_t Cpu, uint32_t CpuCount, bool X2ApicSupported);

/* Builds the models (all RTEs masked; LAPICs software-disabled, in
 * FirmwareMode, as firmware hands them over). Returns 0, or -1 on bad
 * config. No threads are started. */
int SimCreate(const SIM_CONFIG *Config);
/* Stops service threads and frees the models. */
void SimDestroy(void);
uint32_t SimCpuCount(void);
uint32_t SimCpuApicId(uint32_t Cpu);

/* The sim's IDT: called for every accepted vector, on the accepting CPU's
 * thread, with that CPU's IF clear. */
void SimSetInterruptEntry(SIM_INTERRUPT_ENTRY Entry);

/* ---- CPU ownership ---------------------------------------------------------- */
int SimStartCpuThreads(void);
void SimStopCpuThreads(void);
void SimAttachCpu(uint32_t Cpu);
void SimDetachCpu(void);
/* The CPU the calling thread is attached to, or SIM_NO_CPU. */
#define SIM_NO_CPU 0xFFFFFFFFu
uint32_t SimAttachedCpu(void);
/* On the attached CPU: accepts and dispatches every deliverable interrupt
 * (as if IF were set for a moment). Returns how many were dispatched. */
uint32_t SimServicePending(void);
/* Waits (bounded by TimeoutMs) until no CPU has an IRR vector it could accept
 * and no service thread is dispatching. Returns false on timeout. */
bool SimWaitIdle(uint32_t TimeoutMs);
/* The interrupt flag of a CPU (tests). */
bool SimCpuInterruptsEnabled(uint32_t Cpu);

/* ---- Faults ------------------------------------------------------------------ */
/* An access the hardware refuses is a driver bug, and the sim reports it
 * exactly where the hardware would refuse: RDMSR/WRMSR that raise #GP (an
 * x2APIC MSR outside x2APIC mode, a read-only or absent register, reserved
 * bits, an invalid IA32_APIC_BASE transition), xAPIC MMIO that the CPU does
 * not decode (its APIC in x2APIC mode or disabled), and I/O APIC accesses
 * whose result the 82093AA leaves undefined (see ioapic_model.c). Hook names
 * the access (PlatReadMsr, PlatMmioWrite32, SimMmioRead ...), Where the MSR
 * or the address, Why what the hardware says (valid until the next fault on
 * this thread).
 * With no handler the sim prints the fault and aborts. A handler runs on the
 * faulting thread with no sim lock held: it may longjmp out (a test counting
 * #GPs), or return, and the access then has had no effect (a read gives 0),
 * as an instruction skipped by a #GP handler. SimDestroy removes it. */
typedef void (*SIM_FAULT_HANDLER)(const char *Hook, uint64_t Where, const char *Why);
void SimSetFaultHandler(SIM_FAULT_HANDLER Handler);

/* ---- Debug checks -------------------------------------------------------------- */
/* A failed debug check of the core (IRQROUTE_DEBUG_CHECKS=1, src/base/irassert.h)
 * reaches PlatAssertionFailed (platform.h), which prints it on stderr and
 * aborts. A test that provokes one on purpose installs a handler: it runs on
 * the thread whose check failed, with File, Line and the expression's text,
 * and should leave by longjmp (if it returns, the sim prints and aborts all
 * the same). The check may fail under a lock of the core, which then stays
 * taken: provoke only checks made outside locks, or boot the system again.
 * NULL removes the handler; it stays installed until then (SimDestroy keeps
 * it). */
typedef void (*SIM_ASSERT_HANDLER)(const char *File, uint32_t Line, const char *Expression);
void SimSetAssertHandler(SIM_ASSERT_HANDLER Handler);

/* A load or store of Size bytes (1, 2, 4 or 8) by the calling thread (for
 * the local APIC: by the CPU it is attached to), as an instruction would
 * make it; PlatMmioRead32/PlatMmioWrite32 are the Size 4 case. Both the
 * local APIC (SDM 11.4.1) and the I/O APIC (82093AA 3.0) take only aligned
 * 32-bit accesses: any other size faults. */
uint64_t SimMmioRead(uintptr_t Address, uint32_t Size);
void SimMmioWrite(uintptr_t Address, uint32_t Size, uint64_t Value);

/* ---- Devices ------------------------------------------------------------------ */
/* Drives an I/O APIC input pin (GSI) high or low. A rising edge on an
 * unmasked edge-triggered entry sends one message; on a masked one it is lost
 * (82093AA 3.2.4). A level entry sends while the pin is asserted, unmasked
 * and Remote IRR is clear. */
void SimSetGsi(uint32_t Gsi, bool Asserted);
/* Edge pulse: assert then deassert. */
void SimPulseGsi(uint32_t Gsi);
/* A device's MSI memory write (SDM 11.11); narrower writes do not exist here. */
void SimMsiWrite(uint64_t Address, uint32_t Data);
/* The same write by PCI requester RequesterId through VT-d unit Unit
 * (SimIommuCreate): delivered as the unit remaps it or lets it through, or
 * not at all when the unit blocks it (a fault it records). */
void SimMsiWriteThroughIommu(uint32_t Unit, uint16_t RequesterId, uint64_t Address, uint32_t Data);

/* ---- MSI-X functions (msix_model.c) --------------------------------------------- */
/* A PCI function's MSI-X table and pending bit array (PCI 3.0 6.8.2) in
 * MMIO, decoded by the sim's bus (PlatMmioRead32/PlatMmioWrite32,
 * SimMmioRead/SimMmioWrite: aligned DWORD or QWORD accesses; other sizes,
 * PBA writes fault), every entry masked after creation. SimMsixRaise is the
 * function's event for entry k: sent at once when unmasked, else held in
 * the PBA and sent, once, when the entry is unmasked. */
#define SIM_MAX_MSIX_DEVICES 4u

typedef struct _SIM_MSIX_CONFIG {
    uintptr_t TableAddress; /* EntryCount * 16 bytes, QWORD aligned */
    uintptr_t PbaAddress;   /* one bit per entry in QWORDs, QWORD aligned */
    uint32_t EntryCount;    /* 1..2048 */
    /* Messages go through VT-d unit IommuUnit as requester RequesterId
     * (SimMsiWriteThroughIommu), else straight to the APIC bus (SimMsiWrite). */
    bool ThroughIommu;
    uint32_t IommuUnit;
    uint16_t RequesterId;
} SIM_MSIX_CONFIG;

/* Returns 0 and the device's number in *Device, or -1: a bad configuration
 * (sizes, alignment, the table overlapping the PBA), Device NULL, or
 * SIM_MAX_MSIX_DEVICES exist. The windows must not overlap another
 * device's (the I/O APICs, the remapping units and the LAPIC page are
 * decoded first). */
int SimMsixCreate(const SIM_MSIX_CONFIG *Config, uint32_t *Device);
/* Removes every MSI-X function (SimDestroy does not). */
void SimMsixDestroy(void);
/* The function raises entry Entry (aborts for an entry it lacks). */
void SimMsixRaise(uint32_t Device, uint32_t Entry);
/* Messages entry Entry sent so far (raised unmasked, or held and sent on
 * unmask). */
uint64_t SimMsixSentCount(uint32_t Device, uint32_t Entry);
/* Address or data writes that reached an unmasked entry: PCI 3.0 6.8.2.9
 * leaves their result undefined, so a correct driver makes none. */
uint64_t SimMsixUnmaskedRewriteCount(uint32_t Device);

/* ---- Inspection (tests) -------------------------------------------------------- */
bool SimLapicIrrIsSet(uint32_t Cpu, uint8_t Vector);
bool SimLapicIsrIsSet(uint32_t Cpu, uint8_t Vector);
bool SimLapicTmrIsSet(uint32_t Cpu, uint8_t Vector);
uint8_t SimLapicTpr(uint32_t Cpu);
/* The mode a CPU's IA32_APIC_BASE is in now. */
SIM_LAPIC_MODE SimLapicMode(uint32_t Cpu);
/* Raw redirection entry, bypassing the register interface. */
uint64_t SimIoApicPeekEntry(uint32_t Gsi);
/* Messages the I/O APICs and MSI writes delivered to a CPU's LAPIC so far. */
uint64_t SimDeliveredCount(uint32_t Cpu);
/* EOIs a CPU's LAPIC received so far. */
uint64_t SimEoiCount(uint32_t Cpu);
/* Messages a CPU's LAPIC took so far, by delivery mode (0 fixed ... 7
 * ExtINT; any source). INIT and start-up IPIs are recorded, not acted on: a
 * start-up counts only after an INIT, and only the first one (as QEMU). */
uint64_t SimLapicReceivedCount(uint32_t Cpu, uint8_t DeliveryMode);
/* The vector (start page) of the last start-up IPI a CPU took. */
uint8_t SimLapicStartupVector(uint32_t Cpu);

/* ---- VT-d remapping units, interrupt remapping only (iommu_model.c) ------------- */
/* A register-accurate model of an Intel VT-d remapping unit's interrupt
 * remapping (VT-d spec rev. 3.x: ch. 5 interrupt remapping, 6.5.2 queued
 * invalidation, ch. 7 fault recording, 9.10 the IRTE, ch. 10 registers):
 * VER, CAP, ECAP, GCMD/GSTS, IRTA, IQH/IQT/IQA, ICS, FSTS, FECTL and the
 * fault recording registers, an interrupt entry cache that only an
 * invalidation refreshes, and faults where the unit would refuse an access
 * (SimSetFaultHandler). DMA remapping is not modelled. Units are separate
 * from SimCreate and not yet decoded by the sim's MMIO bus nor on the I/O
 * APIC and MSI delivery paths: their registers are reached through
 * SimIommuMmioRead/SimIommuMmioWrite, their interrupts through the request
 * functions below. Table and queue addresses are host addresses (the sim's
 * physical memory is the host's, PlatAllocateMemory). */
#define SIM_MAX_IOMMUS 4u
#define SIM_IOMMU_DEFAULT_BASE 0xFED90000u /* QEMU q35's unit */

typedef struct _SIM_IOMMU_CONFIG {
    uintptr_t Address;          /* the 4 KiB register page */
    bool ExtendedInterruptMode; /* ECAP.EIM: 32-bit (x2APIC) destinations with IRTA.EIME */
    uint32_t FaultRecordCount;  /* fault recording registers, CAP.NFR + 1: 1..16 (0: 1, as QEMU) */
} SIM_IOMMU_CONFIG;

/* Builds Count units (power-up state: everything disabled, FECTL.IM set).
 * Returns 0, or -1 on a bad configuration (Count 0 or above
 * SIM_MAX_IOMMUS, an address 0 or not page aligned, two on one page, a
 * FaultRecordCount above 16). */
int SimIommuCreate(const SIM_IOMMU_CONFIG *Configs, uint32_t Count);
void SimIommuDestroy(void);
/* A load or store of Size bytes at a unit's register, as a driver makes it
 * (ch. 10.2: 32-bit registers take aligned 32-bit accesses, 64-bit ones
 * aligned 32- or 64-bit accesses; anything else faults). An address outside
 * every unit's page faults too. */
uint64_t SimIommuMmioRead(uintptr_t Address, uint32_t Size);
void SimIommuMmioWrite(uintptr_t Address, uint32_t Size, uint64_t Value);

typedef enum _SIM_IOMMU_OUTCOME {
    SimIommuRemapped = 0, /* Interrupt is the IRTE's */
    SimIommuPassThrough,  /* a compatibility-format request let through (IR off, or on with
                             GSTS.CFIS set): Interrupt is the request's own fields */
    SimIommuBlocked,      /* a remapping fault (FaultReason); recorded unless the entry's FPD
                             is set or the recording registers overflowed; nothing delivered */
} SIM_IOMMU_OUTCOME;

typedef struct _SIM_IOMMU_INTERRUPT {
    uint32_t Destination; /* APIC id or logical destination: 32 bits with IRTA.EIME, else 8 */
    bool Logical;
    bool RedirectionHint;
    uint8_t DeliveryMode; /* 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT */
    uint8_t Vector;
    bool Level;
    uint16_t Index;       /* the interrupt_index (remappable requests) */
    uint8_t FaultReason;  /* SimIommuBlocked: 0x20-0x26 (ch. 7, "Interrupt Remapping Fault Conditions") */
} SIM_IOMMU_INTERRUPT;

/* An MSI write (address, data) by the requester SourceId (bus << 8 | device
 * << 3 | function) reaching unit Unit. Remappable format (address bit 4):
 * handle = address bit 2 << 15 | bits 19:5, plus the data's subhandle
 * (15:0) when SHV (bit 3) is set. An address outside 0xFEE00000-0xFEEFFFFF
 * is not an interrupt: it faults (SimFault) and gives SimIommuBlocked with
 * FaultReason 0. */
SIM_IOMMU_OUTCOME SimIommuRemapMsi(uint32_t Unit, uint64_t Address, uint32_t Data, uint16_t SourceId,
                                   SIM_IOMMU_INTERRUPT *Interrupt);
/* The interrupt an I/O APIC redirection entry sends (82093AA 3.2.4; in the
 * remappable format of VT-d 5.1.5.1 when bit 48 is set: index bit 15 in bit
 * 11, bits 14:0 in 63:49, no subhandle). */
SIM_IOMMU_OUTCOME SimIommuRemapIoApicEntry(uint32_t Unit, uint64_t Entry, uint16_t SourceId,
                                           SIM_IOMMU_INTERRUPT *Interrupt);
/* Faults a unit recorded in its fault recording registers so far, and
 * faults it did not record (FPD set, or FSTS.PFO: overflow). */
uint64_t SimIommuRecordedFaultCount(uint32_t Unit);
uint64_t SimIommuDroppedFaultCount(uint32_t Unit);

IRQROUTE_END_DECLS

#endif
