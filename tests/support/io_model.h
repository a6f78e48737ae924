/* SPDX-License-Identifier: MIT */
/*
 * The Io reference model: what the connections made through Hl/Ke/Io should
 * have done to the system, and the checks of the system against it. It
 * follows the live connections (object, kind, GSI, vector, CPU set, trigger,
 * movable, ISR behaviour, connection order) and the vectors taken directly
 * (KeAllocateVector / KeReserveVector), says what the dispatcher must run
 * for one delivery (RefIoExpectDispatch: the chain in connection order, a
 * level-sensitive chain stopping at its first claim), and compares the
 * vector allocator, the I/O APIC's entries, the objects and the local APICs
 * of the sim with it. It also follows the Hl state calls change after boot
 * (the processor registry, the local APIC mode, what each ISA IRQ resolves
 * to, which system vectors have a caller's handler), and a snapshot
 * (RefIoTakeSnapshot / RefIoCheckUnchanged) says whether a refused call left
 * everything as it was.
 *
 * Used by the Io fuzzer (tests/fuzz/fuzz_io.c), and usable by unit tests on
 * the sim: it asserts nothing itself and needs no cmocka; a check returns
 * NULL or what is wrong.
 */
#ifndef IRQROUTE_IO_MODEL_H
#define IRQROUTE_IO_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#define REF_IO_MAX_CPUS 8u
#define REF_IO_MAX_OBJECTS 40u
#define REF_IO_MAX_DIRECT (64u + REF_IO_MAX_CPUS)
#define REF_IO_MAX_GSIS 40u
#define REF_IO_MAX_REGISTERED 32u
/* CPU indices whose registration the checks probe (beyond the sim's 8). */
#define REF_IO_PROBED_CPUS 16u
#define REF_IO_ISA_IRQS 16u
#define REF_IO_MAX_REQUESTERS 4u
/* The highest physical destination an 8-bit field can name (0xFF is the
 * broadcast): redirection entries and compatibility-format MSIs (SDM vol.
 * 3A 11.11.1; 82093AA 3.2.4). */
#define REF_IO_MAX_DESTINATION8 0xFEu

/* RefIoKe: connected by a caller of Ke directly (KeConnectInterrupt on
 * caller storage), not by Io. */
typedef enum _REF_IO_OBJECT_KIND { RefIoLine = 0, RefIoMessage, RefIoFully, RefIoKe } REF_IO_OBJECT_KIND;

/* One (CPU, vector) whose chain holds an object (ke.h, A MOVE IN TWO
 * PHASES): a movable object's active link(s), and old links a move left
 * retiring until the old CPU takes them out. */
typedef struct _REF_IO_LINK {
    uint8_t Cpu;
    uint8_t Vector;
} REF_IO_LINK;

/* A movable object on one CPU has its set's slots plus two (src/io/connect.c),
 * a spread one its set's: at most 2 * 8 + 2 links. */
#define REF_IO_MAX_LINKS 32u

typedef struct _REF_IO_OBJECT {
    bool Live;          /* slot taken: connect in progress or connected */
    bool Connected;     /* the connect returned SUCCESS */
    REF_IO_OBJECT_KIND Kind;
    KINTERRUPT *Object;
    uint64_t Sequence;  /* connection order: the chain order on each CPU */
    bool Claim;         /* what the ISR returns */
    uint64_t Calls;
    uint64_t ExpectedCalls;
    uint32_t Gsi;       /* lines */
    bool Level;
    bool Broadcast;
    bool Movable;
    bool Shared;
    HL_MSI_MESSAGE Message; /* message-based (moves update it) */
    uint8_t Vector;     /* KeGetInterruptVector: the vector it is delivered with */
    uint64_t Cpus;      /* where it is linked (KeGetInterruptCpus), as a mask (at most 8 CPUs) */
    /* Every (CPU, vector) it is linked on: Cpus x {Vector} for an object
     * that does not move; for a movable one its active links and the old
     * links still retiring (RefIoActiveLink says which). */
    REF_IO_LINK Links[REF_IO_MAX_LINKS];
    uint32_t LinkCount;
    /* Movable (IoTargetRoutable) only: the CPUs it may move to
     * (IoQueryInterruptAffinity), where it is delivered
     * (IoQueryInterruptTarget: always in Affinity, linked there with
     * Vector), its policy, and whether it is spread (linked with Vector on
     * every CPU of Affinity: ROUND_ROBIN, LOWEST, a shareable line) or on
     * the one CPU Target. */
    uint64_t Affinity;
    /* Every CPU it has been linked on: a link a move retired keeps its
     * counts (KeQueryInterruptCount) until its slot is reused. */
    uint64_t EverCpus;
    uint32_t Target;
    IR_ROUTING_POLICY Policy;
    bool Spread;
    KINTERRUPT_MODE Mode;
    KIRQL SynchronizeIrql;
    uint8_t Device;     /* 1 + the fuzzer's device slot (IoConnectDevice), 0: none */
    bool Remapped;      /* message-based through the remapping unit (RequesterId assigned) */
    uint16_t RequesterId;
} REF_IO_OBJECT;

typedef struct _REF_IO_DIRECT_VECTOR {
    uint32_t Cpu;
    uint8_t Vector;
} REF_IO_DIRECT_VECTOR;

typedef struct _REF_IO_PROCESSOR {
    uint32_t Cpu;
    uint32_t ApicId;
} REF_IO_PROCESSOR;

typedef struct _REF_IO_MODEL {
    uint32_t CpuCount;
    uint64_t OnlineMask;
    uint32_t GsiCount;
    uint32_t DeviceVectorCount; /* device vectors per CPU (allocated + available) */
    REF_IO_OBJECT Objects[REF_IO_MAX_OBJECTS];
    uint64_t NextSequence;
    REF_IO_DIRECT_VECTOR Direct[REF_IO_MAX_DIRECT];
    uint32_t DirectCount;
    /* The processor registry (HlRegisterProcessor) and the local APIC mode. */
    REF_IO_PROCESSOR Processors[REF_IO_MAX_REGISTERED];
    uint32_t ProcessorCount;
    HL_LAPIC_MODE LapicMode;
    /* What each ISA IRQ resolves to with default options (the overrides). */
    HL_RESOLVED_LINE Isa[REF_IO_ISA_IRQS];
    /* System vectors with a handler of the caller's (KeSetSystemVectorHandler). */
    bool SystemHandler[256];
    /* Interrupt remapping (SIM_SYSTEM_CONFIG.InterruptRemapping): the I/O
     * APICs send through an enabled unit, and these PCI requesters are
     * assigned to it (HlRemapAssignRequester). */
    bool Remapping;
    uint16_t Requesters[REF_IO_MAX_REQUESTERS];
    uint32_t RequesterCount;
} REF_IO_MODEL;

/* What a refused call must leave as it was: everything the library reports
 * about vectors, entries, live objects and routes, and line resolution. */
typedef struct _REF_IO_SNAPSHOT {
    uint64_t Entries[REF_IO_MAX_GSIS];
    uint64_t Vectors[REF_IO_MAX_CPUS][4];
    KE_INTERRUPT_OWNER Owner[REF_IO_MAX_OBJECTS];
    uint8_t Vector[REF_IO_MAX_OBJECTS];
    uint64_t Cpus[REF_IO_MAX_OBJECTS];
    IRQ_STATUS TargetStatus[REF_IO_MAX_OBJECTS];
    uint32_t TargetCpu[REF_IO_MAX_OBJECTS];
    IR_ROUTING_POLICY Policy[REF_IO_MAX_OBJECTS];
    uint32_t Retiring[REF_IO_MAX_OBJECTS];
    IRQ_STATUS AffinityStatus[REF_IO_MAX_OBJECTS];
    uint64_t Affinity[REF_IO_MAX_OBJECTS];
    REF_IO_LINK Links[REF_IO_MAX_OBJECTS][REF_IO_MAX_LINKS];
    uint32_t LinkCount[REF_IO_MAX_OBJECTS];
    IRQ_STATUS GsiStatus[REF_IO_MAX_GSIS];
    HL_RESOLVED_LINE GsiLines[REF_IO_MAX_GSIS];
} REF_IO_SNAPSHOT;

/* An empty model of a system just booted. */
void RefIoReset(REF_IO_MODEL *Model, uint32_t CpuCount, uint64_t OnlineMask, uint32_t GsiCount,
                uint32_t DeviceVectorCount);
/* A vector the amd64 layout gives to devices (KeAmd64VectorLayout). */
bool RefIoIsDeviceVector(uint32_t Vector);
bool RefIoIsOnline(const REF_IO_MODEL *Model, uint32_t Cpu);

/* ---- Vectors -------------------------------------------------------------------------- */

/* Object is linked on (Cpu, Vector), actively or retiring. */
bool RefIoLinked(const REF_IO_OBJECT *Object, uint32_t Cpu, uint8_t Vector);
/* Object is linked with Vector on a CPU of Mask. */
bool RefIoLinkedOnAny(const REF_IO_OBJECT *Object, uint64_t Mask, uint8_t Vector);
/* (Cpu, Vector) is a link the device may be pointed at: every link of an
 * object that does not move; a movable one's (Target, Vector), or with
 * Vector on each CPU of Affinity when spread. The others are retiring. */
bool RefIoActiveLink(const REF_IO_OBJECT *Object, uint32_t Cpu, uint8_t Vector);
/* How many of its links are retiring (KeQueryInterruptRetiringLinks). */
uint32_t RefIoRetiringLinks(const REF_IO_OBJECT *Object);
/* Links = Cpus x {Vector} (an object that does not move, or a new one). */
void RefIoSetPlainLinks(REF_IO_OBJECT *Object);
/* Reads Object's links from Ke's chains (KeQueryVectorObjects on every
 * connected vector of every CPU) into Links / *Count, ordered by CPU then
 * vector. False if there are more than REF_IO_MAX_LINKS. */
bool RefIoReadLinks(const REF_IO_MODEL *Model, const KINTERRUPT *Interrupt, REF_IO_LINK *Links, uint32_t *Count);
/* Links and Cpus from the library (after a move the model checked). */
void RefIoLoadLinks(const REF_IO_MODEL *Model, REF_IO_OBJECT *Object);

/* A connection holds Vector on Cpu. */
bool RefIoCovers(const REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector);
/* The index of a directly taken (Cpu, Vector), or -1. */
int RefIoFindDirect(const REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector);
void RefIoAddDirect(REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector);
void RefIoRemoveDirect(REF_IO_MODEL *Model, int Index);
/* A connection or a direct allocation holds Vector on Cpu. */
bool RefIoAllocated(const REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector);

/* ---- Objects -------------------------------------------------------------------------- */

/* A free slot, cleared and marked live; NULL when all are taken. */
REF_IO_OBJECT *RefIoTakeSlot(REF_IO_MODEL *Model);
uint32_t RefIoConnectedCount(const REF_IO_MODEL *Model);
/* The Nth connected object (N < RefIoConnectedCount). */
REF_IO_OBJECT *RefIoConnected(REF_IO_MODEL *Model, uint32_t N);
/* A connected line's object on Gsi, or NULL. */
const REF_IO_OBJECT *RefIoLineUser(const REF_IO_MODEL *Model, uint32_t Gsi);
/* One delivery of Vector on Cpu: each object the dispatcher runs gains an
 * expected call. */
void RefIoExpectDispatch(REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector);

/* ---- The system against the model -------------------------------------------------------- */

/* Each modelled (CPU, vector) allocated, and per CPU and per class as many
 * as the model accounts for: the allocated sets are equal. */
const char *RefIoCheckVectors(const REF_IO_MODEL *Model);
/* A GSI with a line user is unmasked with its vector and trigger and no
 * Remote IRR; every other GSI is masked. */
const char *RefIoCheckEntries(const REF_IO_MODEL *Model);
/* Every connected object reports the model's vector, mode, CPUs (online
 * ones) and links (Ke's chains hold it on exactly the model's (CPU,
 * vector) pairs); a movable one its affinity, destination (in the
 * affinity, linked there with its vector) and policy, and as many retiring
 * links as the model has links that are not active. */
const char *RefIoCheckObjects(const REF_IO_MODEL *Model);
/* Nothing left in any IRR or ISR, and the caller at PASSIVE_LEVEL. */
const char *RefIoCheckQuiet(const REF_IO_MODEL *Model);
/* Every ISR ran exactly as often as the dispatcher's rules say. */
const char *RefIoCheckCalls(const REF_IO_MODEL *Model);

/* ---- Hl state: the registry, the ISA lines -------------------------------------------------- */

/* Reads the registry, the local APIC mode and the ISA lines of a system just
 * booted into the model (the boot is not what is checked). */
void RefIoLoadHardware(REF_IO_MODEL *Model);
/* An accepted HlRegisterProcessor of a new pair. */
void RefIoRecordProcessor(REF_IO_MODEL *Model, uint32_t Cpu, uint32_t ApicId);
/* The registered CPU of ApicId, or IR_CPU_NONE. */
uint32_t RefIoCpuOfApicId(const REF_IO_MODEL *Model, uint32_t ApicId);
/* Whether Cpu is registered, and its APIC id (any 32-bit value in x2APIC
 * mode, 0xFFFFFFFF included: no sentinel can stand for "none"). */
bool RefIoApicIdOf(const REF_IO_MODEL *Model, uint32_t Cpu, uint32_t *ApicId);
/* The registry answers as the model (every recorded pair both ways, the
 * limit, no other probed CPU registered) and the mode is the model's. */
const char *RefIoCheckRegistry(const REF_IO_MODEL *Model);
/* Every ISA IRQ resolves as the model says (HlPicResolveLine, default options). */
const char *RefIoCheckIsaLines(const REF_IO_MODEL *Model);
/* What an accepted HlPicRegisterOverride makes IsaIrq resolve to (ACPI 6.x
 * table 5.50 flags; 0 conforms to ISA: edge, active high). */
HL_RESOLVED_LINE RefIoOverrideLine(uint32_t Gsi, uint16_t Flags);

/* ---- Reach (docs/design.md, Interrupt remapping) -------------------------------------------- */

/* RequesterId's messages go through the enabled unit (assigned with
 * HlRemapAssignRequester while remapping is on). */
bool RefIoRequesterRemapped(const REF_IO_MODEL *Model, uint16_t RequesterId);
/* A device can name Cpu as a physical destination: with remapping every
 * registered CPU (the table entry holds 32 bits), lines of a remapped I/O
 * APIC (Remapped: Model->Remapping for lines, RefIoRequesterRemapped for a
 * message) included; otherwise an APIC id of at most REF_IO_MAX_DESTINATION8. */
bool RefIoReachable(const REF_IO_MODEL *Model, uint32_t Cpu, bool Remapped);
/* The CPUs (of the first REF_IO_MAX_CPUS) RefIoReachable names. */
uint64_t RefIoReachableMask(const REF_IO_MODEL *Model, bool Remapped);

/* ---- Refused calls ----------------------------------------------------------------------------- */

void RefIoTakeSnapshot(const REF_IO_MODEL *Model, REF_IO_SNAPSHOT *Snapshot);
/* Nothing the snapshot holds changed (a masked entry may change while it
 * stays masked: it delivers nothing). */
const char *RefIoCheckUnchanged(const REF_IO_MODEL *Model, const REF_IO_SNAPSHOT *Snapshot);

#endif
