/* SPDX-License-Identifier: MIT */
/*
 * Bad input on real hardware: each case feeds the library something wrong
 * and passes when the call refuses it with the documented status, says so
 * on the console, changes nothing, and the kernel keeps running.
 */
#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "ktest.h"
#include "pci.h"

/* ---- Malformed MADTs (ACPI 6.x 5.2.12) ---------------------------------------------- */

#define MADT_HEADER_SIZE 44u /* SDT header (36) + local APIC address + flags */
#define MADT_LENGTH_OFFSET 4u
#define MADT_CHECKSUM_OFFSET 9u
#define MADT_TYPE_LOCAL_APIC 0u
#define MADT_TYPE_IOAPIC 1u
#define MADT_LOCAL_APIC_SIZE 8u
#define MADT_IOAPIC_SIZE 12u
#define MADT_UNKNOWN_TYPE 0x7Fu
#define RK_BAD_MADT_MAX 128u

typedef struct _RK_MADT_BUILDER {
    uint8_t Bytes[RK_BAD_MADT_MAX];
    uint32_t Length;
} RK_MADT_BUILDER;

static void RkpPut32(uint8_t *At, uint32_t Value)
{
    for (uint32_t Index = 0; Index < 4; Index++)
        At[Index] = (uint8_t)(Value >> (8 * Index));
}

/* Length and checksum from what was added, so only the defect we plant
 * makes the table bad. */
static void RkpMadtSeal(RK_MADT_BUILDER *Madt)
{
    RkpPut32(&Madt->Bytes[MADT_LENGTH_OFFSET], Madt->Length);
    Madt->Bytes[MADT_CHECKSUM_OFFSET] = 0;
    uint8_t Sum = 0;
    for (uint32_t Index = 0; Index < Madt->Length; Index++)
        Sum = (uint8_t)(Sum + Madt->Bytes[Index]);
    Madt->Bytes[MADT_CHECKSUM_OFFSET] = (uint8_t)(0u - Sum);
}

static void RkpMadtBegin(RK_MADT_BUILDER *Madt)
{
    memset(Madt, 0, sizeof(*Madt));
    memcpy(Madt->Bytes, "APIC", 4);
    Madt->Bytes[8] = 4; /* revision */
    RkpPut32(&Madt->Bytes[36], HL_LAPIC_DEFAULT_BASE);
    Madt->Length = MADT_HEADER_SIZE;
}

static void RkpMadtAdd(RK_MADT_BUILDER *Madt, uint8_t Type, uint8_t Length)
{
    uint8_t *Entry = &Madt->Bytes[Madt->Length];
    Entry[0] = Type;
    Entry[1] = Length;
    if (Type == MADT_TYPE_LOCAL_APIC && Length == MADT_LOCAL_APIC_SIZE)
        Entry[4] = 1; /* enabled */
    if (Type == MADT_TYPE_IOAPIC && Length == MADT_IOAPIC_SIZE)
        RkpPut32(&Entry[4], HL_IOAPIC_DEFAULT_BASE);
    Madt->Length += Length;
}

static HL_MADT_INFO RkpMadtInfo; /* large: not on the stack */

static IRQ_STATUS RkpParse(const RK_MADT_BUILDER *Madt, uint32_t Length)
{
    return HlMadtParse(Madt->Bytes, Length, &RkpMadtInfo);
}

/* Each defect, the length handed to the parser, and what must come back. */
static bool RkpMadtCase(const char *Name, IRQ_STATUS Expected, IRQ_STATUS Seen)
{
    bool Passed = Seen == Expected;
    RkPrint("bad-input: MADT %s -> %s (expected %s)\n", Name, IrStatusName(Seen), IrStatusName(Expected));
    return Passed;
}

static void RkTestBadMadt(void)
{
    static RK_MADT_BUILDER Madt;
    uint32_t Passed = 0, Cases = 0;

    RkpMadtBegin(&Madt); /* the header cut short */
    RkpMadtAdd(&Madt, MADT_TYPE_IOAPIC, MADT_IOAPIC_SIZE);
    RkpMadtSeal(&Madt);
    Cases++, Passed += RkpMadtCase("short length", IRQ_STATUS_MALFORMED_TABLE, RkpParse(&Madt, MADT_HEADER_SIZE - 8u));

    RkpMadtBegin(&Madt); /* the last entry says it is longer than what is left */
    RkpMadtAdd(&Madt, MADT_TYPE_LOCAL_APIC, MADT_LOCAL_APIC_SIZE);
    RkpMadtAdd(&Madt, MADT_TYPE_IOAPIC, MADT_IOAPIC_SIZE);
    Madt.Bytes[Madt.Length - MADT_IOAPIC_SIZE + 1] = 40;
    RkpMadtSeal(&Madt);
    Cases++, Passed += RkpMadtCase("entry past the table", IRQ_STATUS_MALFORMED_TABLE, RkpParse(&Madt, Madt.Length));

    RkpMadtBegin(&Madt); /* a zero-length entry would loop for ever */
    RkpMadtAdd(&Madt, MADT_TYPE_IOAPIC, MADT_IOAPIC_SIZE);
    RkpMadtAdd(&Madt, MADT_TYPE_LOCAL_APIC, 0);
    Madt.Length += 2;
    RkpMadtSeal(&Madt);
    Cases++, Passed += RkpMadtCase("zero-length entry", IRQ_STATUS_MALFORMED_TABLE, RkpParse(&Madt, Madt.Length));

    RkpMadtBegin(&Madt); /* no I/O APIC */
    RkpMadtAdd(&Madt, MADT_TYPE_LOCAL_APIC, MADT_LOCAL_APIC_SIZE);
    RkpMadtSeal(&Madt);
    Cases++, Passed += RkpMadtCase("no I/O APIC", IRQ_STATUS_MALFORMED_TABLE, RkpParse(&Madt, Madt.Length));

    RkpMadtBegin(&Madt); /* unknown types are skipped (ACPI adds types), not errors */
    RkpMadtAdd(&Madt, MADT_TYPE_LOCAL_APIC, MADT_LOCAL_APIC_SIZE);
    RkpMadtAdd(&Madt, MADT_UNKNOWN_TYPE, 6);
    RkpMadtAdd(&Madt, MADT_TYPE_IOAPIC, MADT_IOAPIC_SIZE);
    RkpMadtSeal(&Madt);
    IRQ_STATUS Unknown = RkpParse(&Madt, Madt.Length);
    bool Skipped = Unknown == IRQ_STATUS_SUCCESS && RkpMadtInfo.UnknownEntryCount == 1 && RkpMadtInfo.IoApicCount == 1;
    Cases++, Passed += RkpMadtCase("unknown entry type (skipped)", IRQ_STATUS_SUCCESS, Unknown) && Skipped;

    RkTestReport("bad_madt", Passed == Cases,
                 "%u/%u malformed tables refused with MALFORMED_TABLE (short length, entry past the end, zero-length "
                 "entry, no I/O APIC) or accepted with the unknown entry skipped; the live MADT is untouched",
                 Passed, Cases);
}

/* ---- Lines, CPUs, devices ----------------------------------------------------------------- */

static bool RkpNeverRuns(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    (void)Context;
    return false;
}

static IRQ_STATUS RkpConnectGsi(uint32_t Gsi, IO_INTERRUPT_TARGET Target, KINTERRUPT **Object)
{
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {.InterruptObject = Object, .ServiceRoutine = RkpNeverRuns,
                      .Line = {.Bus = HlBusGsi, .Number = Gsi}, .Irql = KE_IRQL_ANY, .Target = Target},
    };
    return IoConnectInterruptEx(&Parameters);
}

static bool RkpExpect(const char *What, IRQ_STATUS Expected, IRQ_STATUS Seen)
{
    RkPrint("bad-input: %s -> %s (expected %s)\n", What, IrStatusName(Seen), IrStatusName(Expected));
    return Seen == Expected;
}

static uint32_t RkpUsedVectors(void)
{
    uint32_t Used = 0;
    for (uint32_t Cpu = 0; Cpu < RkProcessorCount; Cpu++) {
        KE_VECTOR_USAGE Usage;
        if (KeQueryVectorUsage(Cpu, &Usage) == IRQ_STATUS_SUCCESS)
            Used += Usage.Allocated;
    }
    return Used;
}

static void RkTestBadRouting(void)
{
    KINTERRUPT *Object = NULL;
    uint32_t VectorsBefore = RkpUsedVectors();
    IO_INTERRUPT_TARGET Cpu0 = {.Kind = IoTargetCpu, .Cpu = 0};
    bool Gsi = RkpExpect("GSI 200 (no I/O APIC covers it)", IRQ_STATUS_INVALID_GSI, RkpConnectGsi(200, Cpu0, &Object));

    IO_INTERRUPT_TARGET Missing = {.Kind = IoTargetCpu, .Cpu = RkProcessorCount + 5u};
    bool Cpu = RkpExpect("GSI 8 to a CPU that does not exist", IRQ_STATUS_INVALID_CPU, RkpConnectGsi(8, Missing, &Object));

    HL_INTERRUPT_TARGET NoApic = {.Kind = HlTargetCpu, .Cpu = RkProcessorCount + 5u};
    HL_MSI_MESSAGE Message;
    bool Apic = RkpExpect("MSI composed for an APIC id no CPU has", IRQ_STATUS_INVALID_CPU,
                          HlMsiComposeMessage(&NoApic, 0x50, HlTriggerEdge, &Message));

    IR_CPU_SET Empty;
    IrCpuSetZero(&Empty);
    IO_INTERRUPT_TARGET EmptyMask = {.Kind = IoTargetAffinity, .Mask = &Empty};
    bool Mask = RkpExpect("GSI 8 with an empty affinity", IRQ_STATUS_EMPTY_AFFINITY, RkpConnectGsi(8, EmptyMask, &Object));

    IOAPIC_REDIRECTION_ENTRY Entry = {0};
    bool Masked = HlIoApicReadEntry(8, &Entry) == IRQ_STATUS_SUCCESS && Entry.Bits.Mask != 0;
    bool Unchanged = RkpUsedVectors() == VectorsBefore && Object == NULL && Masked;
    RkTestReport("bad_routing", Gsi && Cpu && Apic && Mask && Unchanged,
                 "GSI outside every I/O APIC -> INVALID_GSI, a CPU / APIC id that does not exist -> INVALID_CPU, "
                 "an empty mask -> EMPTY_AFFINITY; no vector taken (%u before, %u after), GSI 8 still masked",
                 VectorsBefore, RkpUsedVectors());
}

/* A PCI function without an MSI capability (the host bridge): the kernel's
 * PCI layer refuses to program a message into it. */
static void RkTestMsiIncapable(void)
{
    RK_PCI_FUNCTION Bridge;
    HL_MSI_MESSAGE Message = {.Address = 0xFEE00000u, .Data = 0x50};
    bool Found = RkPciHostBridge(&Bridge);
    uint8_t Capability = Found ? RkPciFindCapability(&Bridge, RK_PCI_CAPABILITY_MSI) : 0xFF;
    IRQ_STATUS Status = Found ? RkPciEnableMsi(&Bridge, &Message) : IRQ_STATUS_INVALID_PARAMETER;
    bool Passed = Found && Capability == 0 && RkpExpect("MSI on the host bridge 00:00.0", IRQ_STATUS_NOT_SUPPORTED, Status);
    RkTestReport("bad_msi_device", Passed, "host bridge %04x:%04x has no MSI capability: enabling MSI -> %s",
                 Found ? Bridge.VendorId : 0, Found ? Bridge.DeviceId : 0, IrStatusName(Status));
}

void RkRunBadInputTests(void)
{
    RkTestBadMadt();
    RkTestBadRouting();
    RkTestMsiIncapable();
}
