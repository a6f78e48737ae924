/* SPDX-License-Identifier: MIT */
/*
 * Interrupt targets -> APIC destinations (Intel SDM vol. 3A 11.6.2
 * "Determining IPI Destination"; the I/O APIC and MSI use the same
 * destination field and modes, 82093AA 3.2.4 and SDM 11.11.1).
 *
 * A single CPU is reached by physical destination: its APIC id, as recorded
 * in the registry (never its index). A CPU set is reached by logical
 * destination, built from the logical ids the local APICs were given
 * (HlLapicInitializeProcessor records them):
 *  - xAPIC flat model (11.6.2.2): a message reaches every local APIC whose
 *    LDR[31:24] shares a bit with the destination, so the destination of a
 *    set is the OR of its members' single-bit ids. Only eight CPUs have one.
 *  - x2APIC cluster model (11.12.10.2): the LDR is cluster (bits 31:16) and
 *    a one-hot position in it (bits 15:0), derived from the x2APIC id; a
 *    destination names one cluster and a bitmap, so a set can be expressed
 *    only when all its members share a cluster.
 * Which model applies is the local APIC mode chosen at boot.
 *
 * Device interrupts (I/O APIC redirection entries, compatibility-format
 * MSI) carry only eight destination bits, so not every destination that
 * HlResolveTarget builds can be sent by a device: HlpDeviceDestinationFits is
 * that rule, in one place, and HlIsProcessorReachableByDevices applies it to
 * one CPU. Interrupt remapping (VT-d), which this library does not program yet,
 * widens the field to 32 bits; only HlpDeviceDestinationFits changes then.
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/hl.h>

#include "hlp.h"

/* How a logical id splits (SDM vol. 3A 11.6.2.2, 11.12.10.2): a cluster,
 * which every member of a destination must share and which may be at most
 * MaxCluster, above ClusterShift; a one-hot member bit in MemberMask. */
typedef struct _HLP_LOGICAL_MODEL {
    uint32_t ClusterShift;
    uint32_t MemberMask;
    uint32_t MaxCluster;
} HLP_LOGICAL_MODEL;

/* xAPIC flat: the logical id is LDR[31:24], one bit per CPU, one cluster;
 * CPUs from the ninth on have LDR 0, no bit. */
static const HLP_LOGICAL_MODEL HlpFlatModel = {.ClusterShift = 8, .MemberMask = 0xFFu, .MaxCluster = 0};
/* x2APIC cluster: cluster in 31:16, member bitmap in 15:0. */
static const HLP_LOGICAL_MODEL HlpX2ApicClusterModel = {
    .ClusterShift = 16, .MemberMask = 0xFFFFu, .MaxCluster = 0xFFFFu};

/* The destination field of a redirection entry (82093AA 3.2.4, bits 63:56)
 * and of a compatibility-format MSI address (SDM vol. 3A 11.11.1, bits
 * 19:12) is eight bits wide. */
#define HLP_DEVICE_DESTINATION_MASK 0xFFu
/* Physical 0xFF in that field is the xAPIC broadcast (SDM 11.6.2.1), not a
 * CPU, so the highest APIC id a device can name is 0xFE. */
#define HLP_DEVICE_MAX_PHYSICAL_ID 0xFEu

static bool HlpIsSingleBit(uint32_t Value)
{
    return Value != 0 && (Value & (Value - 1u)) == 0;
}

/* ---- Single CPU: physical destination ------------------------------------------- */

static IRQ_STATUS HlpPhysicalDestination(uint32_t ApicId, HL_DESTINATION *Destination)
{
    Destination->Destination = ApicId;
    Destination->Logical = false;
    Destination->DeliveryMode = HlDeliveryFixed;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS HlpResolveCpu(uint32_t Cpu, HL_DESTINATION *Destination)
{
    uint32_t ApicId;
    IRQ_STATUS Status = HlGetProcessorApicId(Cpu, &ApicId);
    return Status != IRQ_STATUS_SUCCESS ? Status : HlpPhysicalDestination(ApicId, Destination);
}

/* An APIC id nobody registered could be a CPU that is not running (or none
 * at all): a message sent there would be lost, so it is refused. */
static IRQ_STATUS HlpResolveApicId(uint32_t ApicId, HL_DESTINATION *Destination)
{
    uint32_t Cpu;
    IRQ_STATUS Status = HlFindProcessorByApicId(ApicId, &Cpu);
    return Status != IRQ_STATUS_SUCCESS ? Status : HlpPhysicalDestination(ApicId, Destination);
}

/* ---- CPU sets: logical destination ------------------------------------------------ */

/* The logical id of a member: it must be registered (INVALID_CPU) and its
 * local APIC initialised, or logical messages would not reach it
 * (NOT_INITIALIZED: the LDR resets to 0, which matches nothing). */
static IRQ_STATUS HlpMemberLogicalId(uint32_t Cpu, uint32_t *LogicalId)
{
    if (!HlIsProcessorRegistered(Cpu))
        return IRQ_STATUS_INVALID_CPU;
    if (!HlpGetProcessorLogicalId(Cpu, LogicalId))
        return IRQ_STATUS_NOT_INITIALIZED;
    return IRQ_STATUS_SUCCESS;
}

/* The members' cluster with their bitmaps ORed (NOT_SUPPORTED: a member
 * without a one-hot bit, or members in different clusters). */
static IRQ_STATUS HlpLogicalDestination(const IR_CPU_SET *Set, const HLP_LOGICAL_MODEL *Model, uint32_t *Logical)
{
    uint32_t Cluster = 0;
    uint32_t Members = 0;
    bool First = true;
    uint32_t Cpu;
    IR_CPU_SET_FOR_EACH(Cpu, Set) {
        uint32_t LogicalId;
        IRQ_STATUS Status = HlpMemberLogicalId(Cpu, &LogicalId);
        if (Status != IRQ_STATUS_SUCCESS)
            return Status;
        uint32_t MemberCluster = LogicalId >> Model->ClusterShift;
        uint32_t MemberBit = LogicalId & Model->MemberMask;
        if (!HlpIsSingleBit(MemberBit) || MemberCluster > Model->MaxCluster || (!First && MemberCluster != Cluster))
            return IRQ_STATUS_NOT_SUPPORTED;
        Cluster = MemberCluster;
        Members |= MemberBit;
        First = false;
    }
    *Logical = Cluster << Model->ClusterShift | Members;
    return IRQ_STATUS_SUCCESS;
}

static IRQ_STATUS HlpResolveSet(const IR_CPU_SET *Set, HL_DELIVERY_MODE Mode, HL_DESTINATION *Destination)
{
    if (Set == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    if (IrCpuSetIsEmpty(Set))
        return IRQ_STATUS_EMPTY_AFFINITY;
    uint32_t Logical;
    const HLP_LOGICAL_MODEL *Model = HlLapicGetMode() == HlLapicModeX2Apic ? &HlpX2ApicClusterModel : &HlpFlatModel;
    IRQ_STATUS Status = HlpLogicalDestination(Set, Model, &Logical);
    if (Status != IRQ_STATUS_SUCCESS)
        return Status;
    Destination->Destination = Logical;
    Destination->Logical = true;
    Destination->DeliveryMode = Mode;
    return IRQ_STATUS_SUCCESS;
}

/* ---- The entry point ----------------------------------------------------------------- */

/* Destination is written only on success (each resolver fills it last). */
IRQ_STATUS HlResolveTarget(const HL_INTERRUPT_TARGET *Target, HL_DESTINATION *Destination)
{
    if (Target == NULL || Destination == NULL)
        return IRQ_STATUS_INVALID_PARAMETER;
    switch (Target->Kind) {
    case HlTargetCpu:
        return HlpResolveCpu(Target->Cpu, Destination);
    case HlTargetApicId:
        return HlpResolveApicId(Target->ApicId, Destination);
    case HlTargetCpuSetFixed:
        return HlpResolveSet(Target->CpuSet, HlDeliveryFixed, Destination);
    case HlTargetCpuSetLowestPriority:
        /* The chipset picks one CPU of the set (SDM 11.6.2.4); QEMU always
         * picks the lowest-numbered one, so a router that wants real
         * arbitration re-targets in software instead (src/io/route.c). */
        return HlpResolveSet(Target->CpuSet, HlDeliveryLowestPriority, Destination);
    default:
        return IRQ_STATUS_INVALID_PARAMETER;
    }
}

/* ---- Device interrupts: the 8-bit destination field ----------------------------------- */

/* A device message's eight destination bits reach the local APICs
 * zero-extended (SDM vol. 3A 11.12: x2APIC-mode local APICs compare a 32-bit
 * destination; QEMU's I/O APIC and MSI paths do the same):
 *  - physical: APIC ids 0 to 0xFE. In x2APIC mode, CPUs with an id of 0xFF
 *    or above cannot be named at all without interrupt remapping.
 *  - logical: an xAPIC flat destination is eight bits already. An x2APIC
 *    cluster destination (cluster << 16 | member bitmap, 11.12.10.2) fits
 *    when it is at most 0xFF: cluster 0, members 0-7, which are the CPUs
 *    with x2APIC ids 0-7. Any other cluster or member bit does not fit.
 * The same test serves both modes because the flat model never builds a
 * logical destination above 0xFF (HlpFlatModel: cluster 0 only). */
bool HlpDeviceDestinationFits(const HL_DESTINATION *Destination)
{
    if (Destination->Logical)
        return Destination->Destination <= HLP_DEVICE_DESTINATION_MASK;
    return Destination->Destination <= HLP_DEVICE_MAX_PHYSICAL_ID;
}

/* A device interrupt for one CPU is sent by physical destination (its APIC
 * id), as the PIC service and MSI composition build it for HlTargetCpu. */
bool HlIsProcessorReachableByDevices(uint32_t Cpu)
{
    HL_DESTINATION Destination;
    return HlpResolveCpu(Cpu, &Destination) == IRQ_STATUS_SUCCESS && HlpDeviceDestinationFits(&Destination);
}
