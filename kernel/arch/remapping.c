/* SPDX-License-Identifier: MIT */
/*
 * Interrupt remapping at boot: the ACPI DMAR (VT-d spec ch. 8) names the
 * remapping units and which I/O APIC each one serves; with the header's
 * INTR_REMAP flag, each unit is registered and enabled (src/hl/x86/remap.c)
 * and every registered I/O APIC is assigned to its unit with the requester
 * id of its device scope, so that its lines reach every CPU, the APIC ids
 * above 254 included (src/hl/pic.c, REMAPPED LINES). Without a DMAR (QEMU
 * without intel-iommu), or with "noremap" on the command line, nothing
 * changes: device interrupts reach APIC ids 0-254.
 *
 * Once a unit is enabled, compatibility-format interrupts through it are
 * blocked (GCMD.CFI clear): a device whose MSI is not remapped can no longer
 * interrupt. The PCI endpoints the DMAR names are assigned to their unit, so
 * a driver that gives Io its requester id (edu does) gets a remapped
 * message; a message composed by hand in the compatibility format is
 * blocked (the register check's MSI step reports SKIP).
 */
#include <irqroute/hl.h>

#include "kernel.h"

static HL_DMAR_INFO RkDmar;

static void RkAssignIoApics(void)
{
    for (uint32_t Index = 0; Index < RkMadt.IoApicCount; Index++) {
        uint8_t Id = RkMadt.IoApics[Index].Id;
        uint32_t Unit;
        uint16_t SourceId;
        IRQ_STATUS Status = HlDmarFindIoApicUnit(&RkDmar, Id, &Unit);
        if (Status == IRQ_STATUS_SUCCESS)
            Status = HlDmarGetIoApicSourceId(&RkDmar, Id, &SourceId);
        if (Status == IRQ_STATUS_SUCCESS && HlRemapIsEnabled(Unit))
            Status = HlRemapAssignIoApic(Id, Unit, SourceId);
        if (Status == IRQ_STATUS_SUCCESS)
            RkPrint("remap: I/O APIC %u through unit %u as %02x:%02x.%u\n", Id, Unit, SourceId >> 8,
                    (SourceId >> 3) & 0x1Fu, SourceId & 7u);
        else
            RkPrint("remap: I/O APIC %u not remapped: %s\n", Id, IrStatusName(Status));
    }
}

/* Each enabled unit serves the PCI endpoints its scopes name (QEMU lists
 * every device of the root bus; a unit with INCLUDE_PCI_ALL would serve the
 * rest of its segment, which this kernel does not assign yet). */
static void RkAssignRequesters(void)
{
    uint32_t Assigned = 0;
    for (uint32_t Unit = 0; Unit < RkDmar.UnitCount; Unit++) {
        const HL_DMAR_UNIT *Definition = &RkDmar.Units[Unit];
        for (uint32_t Index = 0; Index < Definition->ScopeCount && HlRemapIsEnabled(Unit); Index++) {
            const HL_DMAR_SCOPE *Scope = &Definition->Scopes[Index];
            if (Scope->Type == HlDmarScopePciEndpoint && Scope->SourceIdKnown &&
                HlRemapAssignRequester(Unit, Scope->SourceId) == IRQ_STATUS_SUCCESS)
                Assigned++;
        }
    }
    RkPrint("remap: %u PCI endpoint(s) send their MSIs through a unit\n", Assigned);
}

static void RkEnableUnits(void)
{
    for (uint32_t Unit = 0; Unit < RkDmar.UnitCount; Unit++) {
        uint64_t Base = RkDmar.Units[Unit].RegisterBase;
        IRQ_STATUS Status = RkInMmioWindow(Base) ? HlRemapRegisterUnit(Unit, (uintptr_t)Base)
                                                 : IRQ_STATUS_NOT_SUPPORTED;
        if (Status == IRQ_STATUS_SUCCESS)
            Status = HlRemapEnable(Unit);
        RkPrint("remap: unit %u at 0x%lx: %s\n", Unit, Base,
                Status == IRQ_STATUS_SUCCESS ? "interrupt remapping on" : IrStatusName(Status));
    }
}

void RkInitializeRemapping(void)
{
    const void *Table;
    uint32_t Length;
    if (RkCommandLineHas("noremap") || !RkAcpiFindTable("DMAR", &Table, &Length))
        return;
    IRQ_STATUS Status = HlDmarParse(Table, Length, &RkDmar);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkPrint("remap: DMAR at %p (%u bytes) rejected: %s\n", Table, Length, IrStatusName(Status));
        return;
    }
    if ((RkDmar.Flags & HL_DMAR_FLAG_INTR_REMAP) == 0) {
        RkPrint("remap: the DMAR does not offer interrupt remapping\n");
        return;
    }
    RkEnableUnits();
    RkAssignIoApics();
    RkAssignRequesters();
}

bool RkRemappingIsOn(void)
{
    for (uint32_t Unit = 0; Unit < RkDmar.UnitCount; Unit++) {
        if (HlRemapIsEnabled(Unit))
            return true;
    }
    return false;
}
