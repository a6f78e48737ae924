/* SPDX-License-Identifier: MIT */
/*
 * A minimal kernel port of irqroute (irqroute::core, libirqroute) with the
 * program's own platform hooks (hooks.c), no sim: the bring-up in the order
 * docs/porting.md gives (kernel/main.c and kernel/arch/smp.c do the same on
 * QEMU, platform/sim/simboot.c on the sim), then one device interrupt
 * end to end:
 *
 *   1. HlResetHardwareLayer, HlLapicSelectMode   before any local APIC access
 *   2. HlIoApicRegister, HlPicRegisterOverride   what the MADT lists
 *   3. KeInitializeSystem, IoResetInterruptManager
 *   4. per CPU, on that CPU: HlLapicEnable, HlLapicReadId, HlRegisterProcessor,
 *      HlLapicInitializeProcessor, KeInitializeProcessor
 *   5. a driver connects an ISR to ISA IRQ 4 (COM1) with IoConnectInterruptEx;
 *      the redirection entry of GSI 4 now carries the vector and the CPU's
 *      APIC id, unmasked
 *   6. the CPU accepts the vector: the IDT stub calls KeDispatchInterrupt(cpu,
 *      vector) with interrupts disabled; the ISR runs, the EOI reaches the
 *      local APIC
 *   7. the driver disconnects; the entry is masked again
 *
 * Exit status 0 when every step checks out.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "fake_machine.h"

#define PORT_CPU_COUNT 1u
#define PORT_COM1_IRQ 4u

static int PortFailures;

static void PortExpect(bool Condition, const char *What)
{
    printf("  %-4s %s\n", Condition ? "ok" : "FAIL", What);
    if (!Condition)
        PortFailures++;
}

static bool PortStep(const char *Call, IRQ_STATUS Status)
{
    printf("  %-4s %s: %s\n", Status == IRQ_STATUS_SUCCESS ? "ok" : "FAIL", Call, IrStatusName(Status));
    if (Status != IRQ_STATUS_SUCCESS)
        PortFailures++;
    return Status == IRQ_STATUS_SUCCESS;
}

/* ---- Steps 1-3: the system, once, on the boot CPU ---------------------------------- */

static bool PortInitializeSystem(void)
{
    printf("system:\n");
    HlResetHardwareLayer();
    /* x2APIC: the CPU offers it (CPUID.01H:ECX[21] on real hardware). A
     * kernel chooses from CPUID and IA32_APIC_BASE before any CPU touches
     * its local APIC (docs/porting.md, bring-up step 1). */
    if (!PortStep("HlLapicSelectMode(x2APIC)", HlLapicSelectMode(HlLapicModeX2Apic, 0)))
        return false;
    /* From the MADT: one I/O APIC at GSI 0 (the driver reads its version
     * register for the pin count and masks every entry), and QEMU's
     * override of the PIT (IRQ 0 -> GSI 2, flags 0: ISA defaults). */
    if (!PortStep("HlIoApicRegister(0, 0xFEC00000, 0)", HlIoApicRegister(0, FAKE_IOAPIC_BASE, 0)))
        return false;
    PortExpect(HlIoApicLookupGsi(FAKE_IOAPIC_PINS - 1, NULL, NULL) == IRQ_STATUS_SUCCESS &&
                   HlIoApicLookupGsi(FAKE_IOAPIC_PINS, NULL, NULL) == IRQ_STATUS_INVALID_GSI,
               "the version register 0x00170011 gave 24 pins (GSI 0-23)");
    if (!PortStep("HlPicRegisterOverride(IRQ 0 -> GSI 2)", HlPicRegisterOverride(0, 2, 0)))
        return false;
    /* NT amd64's vector layout; a kernel with its own IDT plan passes its
     * own KE_VECTOR_LAYOUT. */
    if (!PortStep("KeInitializeSystem", KeInitializeSystem(PORT_CPU_COUNT, &KeAmd64VectorLayout)))
        return false;
    IoResetInterruptManager();
    return true;
}

/* ---- Step 4: every CPU as it starts, on itself -------------------------------------- */

static bool PortStartProcessor(uint32_t Cpu)
{
    printf("cpu %u:\n", Cpu);
    /* First of all: IA32_APIC_BASE into the selected mode (EN, then EXTD). */
    if (!PortStep("HlLapicEnable", HlLapicEnable()))
        return false;
    /* The id comes from the register, never from the CPU index. */
    uint32_t ApicId = HlLapicReadId();
    PortExpect(ApicId == FAKE_APIC_ID, "HlLapicReadId reads the APIC id from the x2APIC ID register");
    if (!PortStep("HlRegisterProcessor", HlRegisterProcessor(Cpu, ApicId)))
        return false;
    if (!PortStep("HlLapicInitializeProcessor",
                  HlLapicInitializeProcessor(Cpu, KeAmd64VectorLayout.SpuriousVector)))
        return false;
    return PortStep("KeInitializeProcessor", KeInitializeProcessor(Cpu));
}

/* ---- Steps 5-7: a driver ------------------------------------------------------------ */

typedef struct _PORT_SERIAL {
    uint32_t Interrupts;
    KIRQL IrqlInIsr;
} PORT_SERIAL;

/* The ISR: runs at the object's synchronize IRQL, interrupts disabled. A
 * real one reads the UART's IIR to see whether it interrupted. */
static bool PortSerialIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    PORT_SERIAL *Serial = Context;
    Serial->Interrupts++;
    Serial->IrqlInIsr = KeGetCurrentIrql();
    return true;
}

static KINTERRUPT *PortConnectSerial(PORT_SERIAL *Serial)
{
    printf("driver:\n");
    KINTERRUPT *Interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters = {
        .Version = CONNECT_LINE_BASED,
        .LineBased = {
            .InterruptObject = &Interrupt,
            .ServiceRoutine = PortSerialIsr,
            .ServiceContext = Serial,
            /* ISA IRQ 4, edge / active high by the ISA default (no override). */
            .Line = {.Bus = HlBusIsa, .Number = PORT_COM1_IRQ},
            .Irql = KE_IRQL_ANY,
            .Target = {.Kind = IoTargetCpu, .Cpu = 0},
        },
    };
    return PortStep("IoConnectInterruptEx(ISA IRQ 4 -> CPU 0)", IoConnectInterruptEx(&Parameters)) ? Interrupt
                                                                                                   : NULL;
}

/* The redirection entry of GSI 4, read from the fake chip itself. */
static void PortCheckEntryProgrammed(uint8_t Vector)
{
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = FakeIoApicPeekEntry(PORT_COM1_IRQ)};
    printf("  RTE 4 = 0x%016llx (vector 0x%02x)\n", (unsigned long long)Entry.Value, Vector);
    PortExpect(Entry.Bits.Vector == Vector, "the entry carries the allocated vector");
    PortExpect(Entry.Bits.Destination == FAKE_APIC_ID && Entry.Bits.DestinationMode == 0,
               "the entry's physical destination is the CPU's APIC id (6), not its index (0)");
    PortExpect(Entry.Bits.DeliveryMode == HlDeliveryFixed && Entry.Bits.TriggerMode == HlTriggerEdge &&
                   Entry.Bits.Polarity == HlPolarityActiveHigh,
               "fixed delivery, edge, active high (the ISA default)");
    PortExpect(Entry.Bits.Mask == 0, "the entry is unmasked");
}

/* What the IDT stub of Vector does after the CPU accepted it: the CPU
 * cleared IF (an interrupt gate), and the stub calls the dispatcher with
 * the CPU's index. */
static void PortIdtStub(uint8_t Vector)
{
    bool WasEnabled = PlatDisableInterrupts();
    KeDispatchInterrupt(PlatCurrentCpu(), Vector);
    PlatRestoreInterrupts(WasEnabled); /* IRETQ restores RFLAGS.IF */
}

static void PortDeliver(PORT_SERIAL *Serial, KINTERRUPT *Interrupt, uint8_t Vector)
{
    uint64_t EoisBefore = FakeLapicEoiCount();
    PortIdtStub(Vector);
    PortExpect(Serial->Interrupts == 1, "the ISR ran once");
    PortExpect(Serial->IrqlInIsr == KeGetInterruptIrql(Interrupt) && Serial->IrqlInIsr == Vector >> 4,
               "at the vector's IRQL (its priority class)");
    PortExpect(FakeLapicEoiCount() == EoisBefore + 1, "the dispatcher's EOI reached the local APIC");
    PortExpect(KeGetCurrentIrql() == PASSIVE_LEVEL && FakeLapicTpr() == 0, "IRQL and TPR are back at 0");
    PortExpect(KeQueryInterruptCount(Interrupt, 0) == 1, "Ke counted the interrupt on CPU 0");
}

int main(void)
{
    printf("irqroute %s kernel port skeleton\n", IRQROUTE_VERSION_STRING);
    if (!PortInitializeSystem())
        return 1;
    for (uint32_t Cpu = 0; Cpu < PORT_CPU_COUNT; Cpu++) {
        if (!PortStartProcessor(Cpu))
            return 1;
    }

    PORT_SERIAL Serial = {0};
    KINTERRUPT *Interrupt = PortConnectSerial(&Serial);
    if (Interrupt == NULL)
        return 1;
    uint8_t Vector = KeGetInterruptVector(Interrupt);
    PortCheckEntryProgrammed(Vector);

    printf("interrupt:\n");
    PortDeliver(&Serial, Interrupt, Vector);

    printf("disconnect:\n");
    PortStep("IoDisconnectInterrupt", IoDisconnectInterrupt(Interrupt));
    IOAPIC_REDIRECTION_ENTRY Entry = {.Value = FakeIoApicPeekEntry(PORT_COM1_IRQ)};
    PortExpect(Entry.Bits.Mask == 1, "the entry of GSI 4 is masked again (the line's last user left)");
    PortExpect(!KeIsVectorAllocated(0, Vector), "the vector is free again");
    PortExpect(FakeInterruptsEnabled(), "the CPU's interrupt flag is back on");

    printf(PortFailures == 0 ? "PASS: kernel port skeleton\n" : "FAIL: %d check(s)\n", PortFailures);
    return PortFailures == 0 ? 0 : 1;
}
