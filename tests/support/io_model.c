/* SPDX-License-Identifier: MIT */
/*
 * The Io reference model (io_model.h).
 */
#include <stdio.h>
#include <string.h>

#include "io_model.h"
#include "model_why.h"
#include "sim.h"

void RefIoReset(REF_IO_MODEL *Model, uint32_t CpuCount, uint64_t OnlineMask, uint32_t GsiCount,
                uint32_t DeviceVectorCount)
{
    memset(Model, 0, sizeof(*Model));
    Model->CpuCount = CpuCount;
    Model->OnlineMask = OnlineMask;
    Model->GsiCount = GsiCount;
    Model->DeviceVectorCount = DeviceVectorCount;
}

bool RefIoIsDeviceVector(uint32_t Vector)
{
    const KE_VECTOR_LAYOUT *Layout = &KeAmd64VectorLayout;
    if (Vector < Layout->FirstDeviceVector || Vector > Layout->LastDeviceVector)
        return false;
    for (uint32_t Index = 0; Index < Layout->ReservedVectorCount; Index++) {
        if (Layout->ReservedVectors[Index] == Vector)
            return false;
    }
    return true;
}

bool RefIoIsOnline(const REF_IO_MODEL *Model, uint32_t Cpu)
{
    return Cpu < Model->CpuCount && ((Model->OnlineMask >> Cpu) & 1u);
}

/* ---- Links ---------------------------------------------------------------------------- */

bool RefIoLinked(const REF_IO_OBJECT *Object, uint32_t Cpu, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < Object->LinkCount; Index++)
        if (Object->Links[Index].Cpu == Cpu && Object->Links[Index].Vector == Vector)
            return true;
    return false;
}

bool RefIoLinkedOnAny(const REF_IO_OBJECT *Object, uint64_t Mask, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < Object->LinkCount; Index++)
        if (Object->Links[Index].Vector == Vector && ((Mask >> Object->Links[Index].Cpu) & 1u))
            return true;
    return false;
}

bool RefIoActiveLink(const REF_IO_OBJECT *Object, uint32_t Cpu, uint8_t Vector)
{
    if (!Object->Movable)
        return RefIoLinked(Object, Cpu, Vector);
    if (Vector != Object->Vector)
        return false;
    return Object->Spread ? ((Object->Affinity >> Cpu) & 1u) != 0 : Cpu == Object->Target;
}

uint32_t RefIoRetiringLinks(const REF_IO_OBJECT *Object)
{
    uint32_t Retiring = 0;
    for (uint32_t Index = 0; Index < Object->LinkCount; Index++)
        Retiring += !RefIoActiveLink(Object, Object->Links[Index].Cpu, Object->Links[Index].Vector);
    return Retiring;
}

static uint64_t RefpCpusOfLinks(const REF_IO_LINK *Links, uint32_t Count)
{
    uint64_t Cpus = 0;
    for (uint32_t Index = 0; Index < Count; Index++)
        Cpus |= 1ull << Links[Index].Cpu;
    return Cpus;
}

void RefIoSetPlainLinks(REF_IO_OBJECT *Object)
{
    Object->LinkCount = 0;
    for (uint32_t Cpu = 0; Cpu < REF_IO_MAX_CPUS; Cpu++)
        if ((Object->Cpus >> Cpu) & 1u)
            Object->Links[Object->LinkCount++] = (REF_IO_LINK){.Cpu = (uint8_t)Cpu, .Vector = Object->Vector};
    Object->EverCpus |= Object->Cpus;
}

/* The objects linked on Cpu's chain of Vector, if Vectors (Cpu's connected
 * vectors, KeQueryConnectedVectors) has it: false for a vector without a
 * chain, a failed query, or more objects than the model holds. */
static bool RefpReadChain(uint32_t Cpu, const uint64_t Vectors[4], uint32_t Vector, KE_VECTOR_OBJECT *Objects,
                          uint32_t *Total)
{
    *Total = 0;
    if (!((Vectors[Vector / 64u] >> (Vector % 64u)) & 1u))
        return false;
    return KeQueryVectorObjects(Cpu, (uint8_t)Vector, 0, Objects, REF_IO_MAX_OBJECTS, Total) == IRQ_STATUS_SUCCESS &&
           *Total <= REF_IO_MAX_OBJECTS;
}

bool RefIoReadLinks(const REF_IO_MODEL *Model, const KINTERRUPT *Interrupt, REF_IO_LINK *Links, uint32_t *Count)
{
    *Count = 0;
    IR_CPU_SET Cpus;
    KeGetInterruptCpus(Interrupt, &Cpus);
    for (uint32_t Cpu = 0; Cpu < Model->CpuCount; Cpu++) {
        if (!IrCpuSetContains(&Cpus, Cpu))
            continue; /* RefIoCheckObjects reads every chain */
        uint64_t Vectors[4];
        if (KeQueryConnectedVectors(Cpu, Vectors) != IRQ_STATUS_SUCCESS)
            continue;
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            KE_VECTOR_OBJECT Objects[REF_IO_MAX_OBJECTS];
            uint32_t Total = 0;
            if (!RefpReadChain(Cpu, Vectors, Vector, Objects, &Total))
                continue;
            for (uint32_t Index = 0; Index < Total; Index++) {
                if (Objects[Index].Interrupt != Interrupt)
                    continue;
                if (*Count >= REF_IO_MAX_LINKS)
                    return false;
                Links[(*Count)++] = (REF_IO_LINK){.Cpu = (uint8_t)Cpu, .Vector = (uint8_t)Vector};
            }
        }
    }
    return true;
}

void RefIoLoadLinks(const REF_IO_MODEL *Model, REF_IO_OBJECT *Object)
{
    (void)RefIoReadLinks(Model, Object->Object, Object->Links, &Object->LinkCount);
    Object->Cpus = RefpCpusOfLinks(Object->Links, Object->LinkCount);
    Object->EverCpus |= Object->Cpus;
}

/* ---- Vectors -------------------------------------------------------------------------- */

bool RefIoCovers(const REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Object = &Model->Objects[Index];
        if (Object->Connected && RefIoLinked(Object, Cpu, Vector))
            return true;
    }
    return false;
}

int RefIoFindDirect(const REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector)
{
    for (uint32_t Index = 0; Index < Model->DirectCount; Index++) {
        if (Model->Direct[Index].Cpu == Cpu && Model->Direct[Index].Vector == Vector)
            return (int)Index;
    }
    return -1;
}

void RefIoAddDirect(REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector)
{
    if (Model->DirectCount < REF_IO_MAX_DIRECT)
        Model->Direct[Model->DirectCount++] = (REF_IO_DIRECT_VECTOR){.Cpu = Cpu, .Vector = Vector};
}

void RefIoRemoveDirect(REF_IO_MODEL *Model, int Index)
{
    Model->Direct[Index] = Model->Direct[--Model->DirectCount];
}

bool RefIoAllocated(const REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector)
{
    return RefIoCovers(Model, Cpu, Vector) || RefIoFindDirect(Model, Cpu, Vector) >= 0;
}

/* ---- Objects -------------------------------------------------------------------------- */

REF_IO_OBJECT *RefIoTakeSlot(REF_IO_MODEL *Model)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        if (!Model->Objects[Index].Live) {
            Model->Objects[Index] = (REF_IO_OBJECT){.Live = true};
            return &Model->Objects[Index];
        }
    }
    return NULL;
}

uint32_t RefIoConnectedCount(const REF_IO_MODEL *Model)
{
    uint32_t Count = 0;
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++)
        Count += Model->Objects[Index].Connected;
    return Count;
}

REF_IO_OBJECT *RefIoConnected(REF_IO_MODEL *Model, uint32_t N)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        if (Model->Objects[Index].Connected && N-- == 0)
            return &Model->Objects[Index];
    }
    return NULL;
}

const REF_IO_OBJECT *RefIoLineUser(const REF_IO_MODEL *Model, uint32_t Gsi)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Object = &Model->Objects[Index];
        if (Object->Connected && Object->Kind == RefIoLine && Object->Gsi == Gsi)
            return Object;
    }
    return NULL;
}

/* The objects linked on Cpu for Vector, in connection order; a
 * level-sensitive chain stops at the first claim. */
void RefIoExpectDispatch(REF_IO_MODEL *Model, uint32_t Cpu, uint8_t Vector)
{
    if (!RefIoIsDeviceVector(Vector))
        return;
    bool Done[REF_IO_MAX_OBJECTS] = {false};
    for (;;) {
        REF_IO_OBJECT *Next = NULL;
        uint32_t NextIndex = 0;
        for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
            REF_IO_OBJECT *Object = &Model->Objects[Index];
            if (Done[Index] || !Object->Connected || !RefIoLinked(Object, Cpu, Vector))
                continue;
            if (Next == NULL || Object->Sequence < Next->Sequence) {
                Next = Object;
                NextIndex = Index;
            }
        }
        if (Next == NULL)
            return;
        Done[NextIndex] = true;
        Next->ExpectedCalls++;
        if (Next->Claim && Next->Mode == LevelSensitive)
            return;
    }
}

/* ---- The system against the model -------------------------------------------------------- */

/* The modelled vectors of every CPU: bit v of word v / 64. */
static void RefpIoModelledVectors(const REF_IO_MODEL *Model, uint64_t Vectors[REF_IO_MAX_CPUS][4])
{
    memset(Vectors, 0, sizeof(uint64_t) * REF_IO_MAX_CPUS * 4u);
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Object = &Model->Objects[Index];
        for (uint32_t Link = 0; Object->Connected && Link < Object->LinkCount; Link++) {
            uint8_t Cpu = Object->Links[Link].Cpu, Vector = Object->Links[Link].Vector;
            if (Cpu < Model->CpuCount)
                Vectors[Cpu][Vector / 64u] |= 1ull << (Vector % 64u);
        }
    }
    for (uint32_t Index = 0; Index < Model->DirectCount; Index++)
        Vectors[Model->Direct[Index].Cpu][Model->Direct[Index].Vector / 64u] |= 1ull << (Model->Direct[Index].Vector % 64u);
}

const char *RefIoCheckVectors(const REF_IO_MODEL *Model)
{
    uint64_t Vectors[REF_IO_MAX_CPUS][4];
    RefpIoModelledVectors(Model, Vectors);
    for (uint32_t Cpu = 0; Cpu < Model->CpuCount; Cpu++) {
        uint32_t Modelled = 0, PerClass[16] = {0};
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            if (!((Vectors[Cpu][Vector / 64u] >> (Vector % 64u)) & 1u))
                continue;
            Modelled++;
            PerClass[Vector >> 4]++;
            if (!KeIsVectorAllocated(Cpu, (uint8_t)Vector))
                return RefpFail("CPU %u vector %#x: the model holds it, the allocator says free", Cpu, Vector);
        }
        KE_VECTOR_USAGE Usage;
        if (KeQueryVectorUsage(Cpu, &Usage) != IRQ_STATUS_SUCCESS)
            return RefpFail("CPU %u: KeQueryVectorUsage failed", Cpu);
        if (Usage.Allocated != Modelled)
            return RefpFail("CPU %u: %u vectors allocated, the model accounts for %u", Cpu, Usage.Allocated,
                              Modelled);
        for (uint32_t Class = 0; Class < 16; Class++)
            if (Usage.AllocatedPerClass[Class] != PerClass[Class])
                return RefpFail("CPU %u class %u: %u allocated, the model accounts for %u", Cpu, Class,
                                  Usage.AllocatedPerClass[Class], PerClass[Class]);
        if (Usage.Allocated + Usage.Available != Model->DeviceVectorCount)
            return RefpFail("CPU %u: %u allocated + %u available, not the %u device vectors", Cpu,
                              Usage.Allocated, Usage.Available, Model->DeviceVectorCount);
    }
    return NULL;
}

const char *RefIoCheckEntries(const REF_IO_MODEL *Model)
{
    for (uint32_t Gsi = 0; Gsi < Model->GsiCount; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Entry = {.Value = SimIoApicPeekEntry(Gsi)};
        const REF_IO_OBJECT *User = RefIoLineUser(Model, Gsi);
        if (User == NULL) {
            if (!Entry.Bits.Mask)
                return RefpFail("GSI %u unmasked (%#llx) with no connection", Gsi, (unsigned long long)Entry.Value);
            continue;
        }
        if (Entry.Bits.Mask || Entry.Bits.Vector != User->Vector || Entry.Bits.TriggerMode != User->Level)
            return RefpFail("GSI %u entry %#llx, model: vector %#x level %d", Gsi, (unsigned long long)Entry.Value,
                              User->Vector, User->Level);
        if (Entry.Bits.RemoteIrr)
            return RefpFail("GSI %u: Remote IRR left set after every CPU serviced", Gsi);
    }
    return NULL;
}

/* Slot Index's object when it is connected, with the CPUs the library
 * holds it on; NULL for a free slot. */
static const REF_IO_OBJECT *RefpConnectedSlot(const REF_IO_MODEL *Model, uint32_t Index, IR_CPU_SET *Cpus)
{
    const REF_IO_OBJECT *Object = &Model->Objects[Index];
    if (!Object->Connected)
        return NULL;
    KeGetInterruptCpus(Object->Object, Cpus);
    return Object;
}

/* Ke's chains in one pass: each connected model object's links, in the
 * order RefIoReadLinks gives; an object in a chain the model does not hold
 * as connected is what is wrong. */
typedef struct _REF_LIBRARY_LINKS {
    REF_IO_LINK Links[REF_IO_MAX_OBJECTS][REF_IO_MAX_LINKS];
    uint32_t Count[REF_IO_MAX_OBJECTS];
} REF_LIBRARY_LINKS;

static int RefpSlotOf(const REF_IO_MODEL *Model, const KINTERRUPT *Interrupt)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++)
        if (Model->Objects[Index].Connected && Model->Objects[Index].Object == Interrupt)
            return (int)Index;
    return -1;
}

static const char *RefpReadAllLinks(const REF_IO_MODEL *Model, REF_LIBRARY_LINKS *Library)
{
    memset(Library->Count, 0, sizeof(Library->Count));
    for (uint32_t Cpu = 0; Cpu < Model->CpuCount; Cpu++) {
        uint64_t Vectors[4];
        IRQ_STATUS Status = KeQueryConnectedVectors(Cpu, Vectors);
        /* Ke shut down (KeShutdownSystem, refused while anything is
         * connected): no chains at all. */
        if (Status == IRQ_STATUS_NOT_INITIALIZED && RefIoConnectedCount(Model) == 0)
            return NULL;
        if (Status != IRQ_STATUS_SUCCESS)
            return RefpFail("CPU %u: KeQueryConnectedVectors failed (%s)", Cpu, IrStatusName(Status));
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            if (!((Vectors[Vector / 64u] >> (Vector % 64u)) & 1u))
                continue;
            KE_VECTOR_OBJECT Objects[REF_IO_MAX_OBJECTS];
            uint32_t Total = 0;
            if (!RefpReadChain(Cpu, Vectors, Vector, Objects, &Total))
                return RefpFail("CPU %u vector %#x: KeQueryVectorObjects failed (%u objects)", Cpu, Vector, Total);
            for (uint32_t Index = 0; Index < Total; Index++) {
                int Slot = RefpSlotOf(Model, Objects[Index].Interrupt);
                if (Slot < 0)
                    return RefpFail("CPU %u vector %#x: an object the model does not hold connected is linked",
                                    Cpu, Vector);
                if (Library->Count[Slot] >= REF_IO_MAX_LINKS)
                    return RefpFail("object %d: more than %u links", Slot, REF_IO_MAX_LINKS);
                Library->Links[Slot][Library->Count[Slot]++] =
                    (REF_IO_LINK){.Cpu = (uint8_t)Cpu, .Vector = (uint8_t)Vector};
            }
        }
    }
    return NULL;
}

static const char *RefpCheckLinks(const REF_IO_OBJECT *Object, uint32_t Index, const REF_IO_LINK *Links,
                                  uint32_t Count)
{
    bool Same = Count == Object->LinkCount;
    for (uint32_t Link = 0; Same && Link < Count; Link++)
        Same = RefIoLinked(Object, Links[Link].Cpu, Links[Link].Vector);
    if (!Same) {
        char Have[160] = "", Want[160] = "";
        size_t Used = 0;
        for (uint32_t Link = 0; Link < Count && Used < sizeof(Have) - 12; Link++)
            Used += (size_t)snprintf(Have + Used, sizeof(Have) - Used, " %u:%#x", Links[Link].Cpu,
                                     Links[Link].Vector);
        Used = 0;
        for (uint32_t Link = 0; Link < Object->LinkCount && Used < sizeof(Want) - 12; Link++)
            Used += (size_t)snprintf(Want + Used, sizeof(Want) - Used, " %u:%#x", Object->Links[Link].Cpu,
                                     Object->Links[Link].Vector);
        return RefpFail("object %u: linked on (cpu:vector)%s, the model says%s", Index, Have, Want);
    }
    return NULL;
}

/* A movable object: its route as the model has it. */
static const char *RefpCheckRoute(const REF_IO_OBJECT *Object, uint32_t Index)
{
    uint32_t Target = IR_CPU_NONE;
    IR_ROUTING_POLICY Policy = IrRoutingPolicyCount;
    IR_CPU_SET Affinity;
    IrCpuSetZero(&Affinity);
    IRQ_STATUS Status = IoQueryInterruptTarget(Object->Object, &Target, &Policy);
    if (Status != IRQ_STATUS_SUCCESS || Target != Object->Target || Policy != Object->Policy)
        return RefpFail("object %u: IoQueryInterruptTarget %s CPU %u policy %d, the model: CPU %u policy %d", Index,
                        IrStatusName(Status), Target, (int)Policy, Object->Target, (int)Object->Policy);
    Status = IoQueryInterruptAffinity(Object->Object, &Affinity);
    bool Beyond = false;
    for (uint32_t Word = 1; Word < IR_CPU_SET_WORDS; Word++)
        Beyond |= Affinity.Bits[Word] != 0;
    if (Status != IRQ_STATUS_SUCCESS || Beyond || Affinity.Bits[0] != Object->Affinity)
        return RefpFail("object %u: IoQueryInterruptAffinity %s %#llx, the model %#llx", Index, IrStatusName(Status),
                        (unsigned long long)Affinity.Bits[0], (unsigned long long)Object->Affinity);
    if (!((Object->Affinity >> Object->Target) & 1u) || !RefIoLinked(Object, Object->Target, Object->Vector))
        return RefpFail("object %u: delivered to CPU %u vector %#x, not a linked CPU of its affinity %#llx", Index,
                        Object->Target, Object->Vector, (unsigned long long)Object->Affinity);
    if (Object->Spread)
        for (uint32_t Cpu = 0; Cpu < REF_IO_MAX_CPUS; Cpu++)
            if (((Object->Affinity >> Cpu) & 1u) && !RefIoLinked(Object, Cpu, Object->Vector))
                return RefpFail("object %u: spread, but not linked on CPU %u with vector %#x", Index, Cpu,
                                Object->Vector);
    uint32_t Retiring = KeQueryInterruptRetiringLinks(Object->Object);
    if (Retiring != RefIoRetiringLinks(Object))
        return RefpFail("object %u: %u links retiring, the model has %u links not active", Index, Retiring,
                        RefIoRetiringLinks(Object));
    return NULL;
}

const char *RefIoCheckObjects(const REF_IO_MODEL *Model)
{
    static REF_LIBRARY_LINKS Library;
    const char *Why = RefpReadAllLinks(Model, &Library);
    if (Why != NULL)
        return Why;
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        IR_CPU_SET Cpus;
        const REF_IO_OBJECT *Object = RefpConnectedSlot(Model, Index, &Cpus);
        if (Object == NULL)
            continue;
        bool Beyond = false;
        for (uint32_t Word = 1; Word < IR_CPU_SET_WORDS; Word++)
            Beyond |= Cpus.Bits[Word] != 0;
        if (!KeIsInterruptConnected(Object->Object) || KeGetInterruptVector(Object->Object) != Object->Vector ||
            KeGetInterruptMode(Object->Object) != Object->Mode || Beyond || Cpus.Bits[0] != Object->Cpus ||
            (Object->Cpus & ~Model->OnlineMask) != 0 ||
            Object->Cpus != RefpCpusOfLinks(Object->Links, Object->LinkCount))
            return RefpFail("object %u (vector %#x, cpus %#llx): the library reports vector %#x cpus %#llx", Index,
                              Object->Vector, (unsigned long long)Object->Cpus, KeGetInterruptVector(Object->Object),
                              (unsigned long long)Cpus.Bits[0]);
        Why = RefpCheckLinks(Object, Index, Library.Links[Index], Library.Count[Index]);
        if (Why == NULL && Object->Movable)
            Why = RefpCheckRoute(Object, Index);
        if (Why != NULL)
            return Why;
    }
    return NULL;
}

const char *RefIoCheckQuiet(const REF_IO_MODEL *Model)
{
    for (uint32_t Cpu = 0; Cpu < Model->CpuCount; Cpu++) {
        for (uint32_t Vector = 16; Vector < 256; Vector++) {
            if (SimLapicIrrIsSet(Cpu, (uint8_t)Vector) || SimLapicIsrIsSet(Cpu, (uint8_t)Vector))
                return RefpFail("CPU %u vector %#x still in IRR/ISR after servicing", Cpu, Vector);
        }
    }
    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        return RefpFail("IRQL %u after servicing, not PASSIVE_LEVEL", (unsigned)KeGetCurrentIrql());
    return NULL;
}

const char *RefIoCheckCalls(const REF_IO_MODEL *Model)
{
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Object = &Model->Objects[Index];
        if (Object->Connected && Object->Calls != Object->ExpectedCalls)
            return RefpFail("object %u (vector %#x, cpus %#llx, mode %d, claim %d): ISR ran %llu times, the "
                              "dispatcher's rules say %llu",
                              Index, Object->Vector, (unsigned long long)Object->Cpus, (int)Object->Mode,
                              Object->Claim, (unsigned long long)Object->Calls,
                              (unsigned long long)Object->ExpectedCalls);
    }
    return NULL;
}

/* ---- Hl state: the registry, the ISA lines -------------------------------------------------- */

static IRQ_STATUS RefpResolve(HL_LINE_BUS Bus, uint32_t Number, HL_RESOLVED_LINE *Resolved)
{
    HL_INTERRUPT_LINE Line = {.Bus = Bus, .Number = Number, .Trigger = HlLineDefault, .Polarity = HlLineDefault};
    *Resolved = (HL_RESOLVED_LINE){0};
    return HlPicResolveLine(&Line, Resolved);
}

void RefIoLoadHardware(REF_IO_MODEL *Model)
{
    Model->ProcessorCount = 0;
    for (uint32_t Cpu = 0; Cpu < REF_IO_PROBED_CPUS; Cpu++) {
        uint32_t ApicId;
        if (HlGetProcessorApicId(Cpu, &ApicId) == IRQ_STATUS_SUCCESS)
            RefIoRecordProcessor(Model, Cpu, ApicId);
    }
    Model->LapicMode = HlLapicGetMode();
    for (uint32_t Irq = 0; Irq < REF_IO_ISA_IRQS; Irq++)
        (void)RefpResolve(HlBusIsa, Irq, &Model->Isa[Irq]);
    memset(Model->SystemHandler, 0, sizeof(Model->SystemHandler));
}

void RefIoRecordProcessor(REF_IO_MODEL *Model, uint32_t Cpu, uint32_t ApicId)
{
    if (Model->ProcessorCount < REF_IO_MAX_REGISTERED)
        Model->Processors[Model->ProcessorCount++] = (REF_IO_PROCESSOR){.Cpu = Cpu, .ApicId = ApicId};
}

uint32_t RefIoCpuOfApicId(const REF_IO_MODEL *Model, uint32_t ApicId)
{
    for (uint32_t Index = 0; Index < Model->ProcessorCount; Index++)
        if (Model->Processors[Index].ApicId == ApicId)
            return Model->Processors[Index].Cpu;
    return IR_CPU_NONE;
}

bool RefIoApicIdOf(const REF_IO_MODEL *Model, uint32_t Cpu, uint32_t *ApicId)
{
    for (uint32_t Index = 0; Index < Model->ProcessorCount; Index++) {
        if (Model->Processors[Index].Cpu == Cpu) {
            *ApicId = Model->Processors[Index].ApicId;
            return true;
        }
    }
    return false;
}

bool RefIoRequesterRemapped(const REF_IO_MODEL *Model, uint16_t RequesterId)
{
    for (uint32_t Index = 0; Model->Remapping && Index < Model->RequesterCount; Index++) {
        if (Model->Requesters[Index] == RequesterId)
            return true;
    }
    return false;
}

bool RefIoReachable(const REF_IO_MODEL *Model, uint32_t Cpu, bool Remapped)
{
    uint32_t ApicId;
    if (!RefIoApicIdOf(Model, Cpu, &ApicId))
        return false;
    return Remapped || ApicId <= REF_IO_MAX_DESTINATION8;
}

uint64_t RefIoReachableMask(const REF_IO_MODEL *Model, bool Remapped)
{
    uint64_t Mask = 0;
    for (uint32_t Cpu = 0; Cpu < REF_IO_MAX_CPUS; Cpu++) {
        if (RefIoReachable(Model, Cpu, Remapped))
            Mask |= 1ull << Cpu;
    }
    return Mask;
}

const char *RefIoCheckRegistry(const REF_IO_MODEL *Model)
{
    uint32_t Limit = 0;
    for (uint32_t Index = 0; Index < Model->ProcessorCount; Index++) {
        const REF_IO_PROCESSOR *Processor = &Model->Processors[Index];
        uint32_t ApicId = IR_CPU_NONE, Cpu = IR_CPU_NONE;
        if (HlGetProcessorApicId(Processor->Cpu, &ApicId) != IRQ_STATUS_SUCCESS || ApicId != Processor->ApicId)
            return RefpFail("CPU %u: registered with APIC id %#x, the registry says %#x", Processor->Cpu,
                            Processor->ApicId, ApicId);
        if (HlFindProcessorByApicId(Processor->ApicId, &Cpu) != IRQ_STATUS_SUCCESS || Cpu != Processor->Cpu)
            return RefpFail("APIC id %#x: CPU %u in the model, the registry finds %u", Processor->ApicId,
                            Processor->Cpu, Cpu);
        if (Processor->Cpu + 1u > Limit)
            Limit = Processor->Cpu + 1u;
    }
    for (uint32_t Cpu = 0; Cpu < REF_IO_PROBED_CPUS; Cpu++) {
        uint32_t ApicId;
        if (!RefIoApicIdOf(Model, Cpu, &ApicId) && HlIsProcessorRegistered(Cpu))
            return RefpFail("CPU %u registered, the model has no such registration", Cpu);
    }
    if (HlGetProcessorLimit() != Limit)
        return RefpFail("processor limit %u, the model's %u", HlGetProcessorLimit(), Limit);
    if (HlLapicGetMode() != Model->LapicMode)
        return RefpFail("local APIC mode %d, the model's %d", (int)HlLapicGetMode(), (int)Model->LapicMode);
    return NULL;
}

const char *RefIoCheckIsaLines(const REF_IO_MODEL *Model)
{
    for (uint32_t Irq = 0; Irq < REF_IO_ISA_IRQS; Irq++) {
        HL_RESOLVED_LINE Resolved;
        IRQ_STATUS Status = RefpResolve(HlBusIsa, Irq, &Resolved);
        const HL_RESOLVED_LINE *Want = &Model->Isa[Irq];
        if (Status != IRQ_STATUS_SUCCESS || Resolved.Gsi != Want->Gsi || Resolved.Trigger != Want->Trigger ||
            Resolved.Polarity != Want->Polarity)
            return RefpFail("ISA IRQ %u resolves to GSI %u trigger %d polarity %d (%s), the model: %u %d %d", Irq,
                            Resolved.Gsi, (int)Resolved.Trigger, (int)Resolved.Polarity, IrStatusName(Status),
                            Want->Gsi, (int)Want->Trigger, (int)Want->Polarity);
    }
    return NULL;
}

HL_RESOLVED_LINE RefIoOverrideLine(uint32_t Gsi, uint16_t Flags)
{
    /* Polarity bits 1:0 (01 high, 11 low), trigger bits 3:2 (01 edge, 11 level). */
    return (HL_RESOLVED_LINE){.Gsi = Gsi,
                              .Trigger = ((Flags >> 2) & 3u) == 3u ? HlTriggerLevel : HlTriggerEdge,
                              .Polarity = (Flags & 3u) == 3u ? HlPolarityActiveLow : HlPolarityActiveHigh};
}

/* ---- Refused calls ----------------------------------------------------------------------------- */

void RefIoTakeSnapshot(const REF_IO_MODEL *Model, REF_IO_SNAPSHOT *Snapshot)
{
    memset(Snapshot, 0, sizeof(*Snapshot));
    for (uint32_t Gsi = 0; Gsi < Model->GsiCount && Gsi < REF_IO_MAX_GSIS; Gsi++) {
        Snapshot->Entries[Gsi] = SimIoApicPeekEntry(Gsi);
        Snapshot->GsiStatus[Gsi] = RefpResolve(HlBusGsi, Gsi, &Snapshot->GsiLines[Gsi]);
    }
    for (uint32_t Cpu = 0; Cpu < Model->CpuCount; Cpu++)
        for (uint32_t Vector = 0; Vector < 256; Vector++)
            if (KeIsVectorAllocated(Cpu, (uint8_t)Vector))
                Snapshot->Vectors[Cpu][Vector / 64u] |= 1ull << (Vector % 64u);
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        IR_CPU_SET Cpus;
        const REF_IO_OBJECT *Object = RefpConnectedSlot(Model, Index, &Cpus);
        if (Object == NULL)
            continue;
        Snapshot->Owner[Index] = KeQueryInterruptOwner(Object->Object);
        Snapshot->Vector[Index] = KeGetInterruptVector(Object->Object);
        Snapshot->Cpus[Index] = Cpus.Bits[0];
        Snapshot->TargetStatus[Index] =
            IoQueryInterruptTarget(Object->Object, &Snapshot->TargetCpu[Index], &Snapshot->Policy[Index]);
        IR_CPU_SET Affinity;
        IrCpuSetZero(&Affinity);
        Snapshot->AffinityStatus[Index] = IoQueryInterruptAffinity(Object->Object, &Affinity);
        Snapshot->Affinity[Index] = Affinity.Bits[0];
        Snapshot->Retiring[Index] = KeQueryInterruptRetiringLinks(Object->Object);
    }
    static REF_LIBRARY_LINKS Library;
    if (RefpReadAllLinks(Model, &Library) == NULL) {
        memcpy(Snapshot->Links, Library.Links, sizeof(Snapshot->Links));
        memcpy(Snapshot->LinkCount, Library.Count, sizeof(Snapshot->LinkCount));
    }
}

const char *RefIoCheckUnchanged(const REF_IO_MODEL *Model, const REF_IO_SNAPSHOT *Snapshot)
{
    for (uint32_t Gsi = 0; Gsi < Model->GsiCount && Gsi < REF_IO_MAX_GSIS; Gsi++) {
        IOAPIC_REDIRECTION_ENTRY Old = {.Value = Snapshot->Entries[Gsi]}, New = {.Value = SimIoApicPeekEntry(Gsi)};
        if (!(Old.Bits.Mask && New.Bits.Mask) && Old.Value != New.Value)
            return RefpFail("GSI %u changed by a refused call: %#llx -> %#llx", Gsi, (unsigned long long)Old.Value,
                            (unsigned long long)New.Value);
        HL_RESOLVED_LINE Line;
        IRQ_STATUS Status = RefpResolve(HlBusGsi, Gsi, &Line);
        const HL_RESOLVED_LINE *Was = &Snapshot->GsiLines[Gsi];
        if (Status != Snapshot->GsiStatus[Gsi] || Line.Gsi != Was->Gsi || Line.Trigger != Was->Trigger ||
            Line.Polarity != Was->Polarity)
            return RefpFail("GSI %u resolves otherwise after a refused call", Gsi);
    }
    for (uint32_t Cpu = 0; Cpu < Model->CpuCount; Cpu++)
        for (uint32_t Vector = 0; Vector < 256; Vector++) {
            bool Was = (Snapshot->Vectors[Cpu][Vector / 64u] >> (Vector % 64u)) & 1u;
            if (KeIsVectorAllocated(Cpu, (uint8_t)Vector) != Was)
                return RefpFail("CPU %u vector %#x %s by a refused call", Cpu, Vector, Was ? "freed" : "allocated");
        }
    static REF_LIBRARY_LINKS Library;
    const char *Why = RefpReadAllLinks(Model, &Library);
    if (Why != NULL)
        return Why;
    for (uint32_t Index = 0; Index < REF_IO_MAX_OBJECTS; Index++) {
        const REF_IO_OBJECT *Object = &Model->Objects[Index];
        if (!Object->Connected || Snapshot->Owner[Index] == KeInterruptOwnerNone)
            continue;
        IR_CPU_SET Cpus;
        KeGetInterruptCpus(Object->Object, &Cpus);
        uint32_t TargetCpu = 0;
        IR_ROUTING_POLICY Policy = IrRoutingFixedCpu;
        IRQ_STATUS TargetStatus = IoQueryInterruptTarget(Object->Object, &TargetCpu, &Policy);
        if (KeQueryInterruptOwner(Object->Object) != Snapshot->Owner[Index] ||
            KeGetInterruptVector(Object->Object) != Snapshot->Vector[Index] || Cpus.Bits[0] != Snapshot->Cpus[Index])
            return RefpFail("object %u (vector %#x) changed owner, vector or CPUs by a refused call", Index,
                            Object->Vector);
        IR_CPU_SET Affinity;
        IrCpuSetZero(&Affinity);
        IRQ_STATUS AffinityStatus = IoQueryInterruptAffinity(Object->Object, &Affinity);
        if (AffinityStatus != Snapshot->AffinityStatus[Index] || Affinity.Bits[0] != Snapshot->Affinity[Index] ||
            KeQueryInterruptRetiringLinks(Object->Object) != Snapshot->Retiring[Index])
            return RefpFail("object %u: affinity %#llx (%s) or %u retiring links after a refused call, was %#llx "
                            "(%s), %u",
                            Index, (unsigned long long)Affinity.Bits[0], IrStatusName(AffinityStatus),
                            KeQueryInterruptRetiringLinks(Object->Object), (unsigned long long)Snapshot->Affinity[Index],
                            IrStatusName(Snapshot->AffinityStatus[Index]), Snapshot->Retiring[Index]);
        const REF_IO_LINK *Links = Library.Links[Index];
        uint32_t Count = Library.Count[Index];
        bool Same = Count == Snapshot->LinkCount[Index];
        for (uint32_t Link = 0; Same && Link < Count; Link++)
            Same = Links[Link].Cpu == Snapshot->Links[Index][Link].Cpu &&
                   Links[Link].Vector == Snapshot->Links[Index][Link].Vector;
        if (!Same)
            return RefpFail("object %u: its links changed by a refused call (%u, were %u)", Index, Count,
                            Snapshot->LinkCount[Index]);
        if (TargetStatus != Snapshot->TargetStatus[Index] ||
            (TargetStatus == IRQ_STATUS_SUCCESS &&
             (TargetCpu != Snapshot->TargetCpu[Index] || Policy != Snapshot->Policy[Index])))
            return RefpFail("object %u: target CPU %u policy %d (%s) after a refused call, was %u %d (%s)", Index,
                            TargetCpu, (int)Policy, IrStatusName(TargetStatus), Snapshot->TargetCpu[Index],
                            (int)Snapshot->Policy[Index], IrStatusName(Snapshot->TargetStatus[Index]));
    }
    return NULL;
}
