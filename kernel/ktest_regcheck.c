/*
 * KTEST "regcheck": the differential register check, QEMU side. The shared
 * script (tests/regcheck/script_lapic_ioapic.c) runs on the BSP's local
 * APIC and on the I/O APIC through the shared interpreter, exactly as
 * tests/unit/test_regcheck.c runs it on the sim's models; a register that
 * reads otherwise than the script expects fails the case with the step's
 * name and the register:
 *     KTEST regcheck PASS <n> steps
 *     KTEST regcheck FAIL step <name>: register <register> read 0x.. expected 0x..
 *
 * The platform's part (REGCHECK_ADAPTER):
 *  - the test GSI (1) is the PS/2 keyboard's ISA IRQ 1, which QEMU's MADT
 *    does not override. QEMU's 8042 holds IRQ 1 high while its output
 *    buffer has a byte for the keyboard and its keyboard interrupt is
 *    enabled (a level, whatever the RTE says): command 0xD2 puts a byte
 *    there (assert), reading port 0x60 takes it out (deassert);
 *  - MSIs come from edu: its MSI capability is given the script's address
 *    and data, one raise (BAR0 + 0x60) sends one message, then the status
 *    is acknowledged and MSI disabled again.
 * Both devices must be disconnected (the other cases leave them so); the
 * keyboard's interrupt enable in the 8042 is on only for the run, while the
 * script owns GSI 1's redirection entry.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "pci.h"
#include "regscript.h"

#define KIP_KEYBOARD_ISA_IRQ 1u

static bool KipRegcheckSetPin(void *Context, uint32_t Gsi, bool Asserted)
{
    KI_DEVICE *Keyboard = Context;
    if (Gsi != REGCHECK_TEST_GSI)
        return false;
    if (Asserted)
        return KiDeviceRaise(Keyboard) == IRQ_STATUS_SUCCESS;
    /* Takes the byte (if any): the 8042 lowers IRQ 1. */
    (void)Keyboard->Driver->Acknowledge(Keyboard);
    return true;
}

static bool KipRegcheckSendMsi(void *Context, uint64_t Address, uint32_t Data)
{
    (void)Context;
    KI_DEVICE *Edu = KiDeviceGet(KiDeviceEdu);
    KI_PCI_FUNCTION Function;
    if (Edu == NULL || !Edu->Present || Edu->Connected || !KiEduPciFunction(&Function))
        return false;
    HL_MSI_MESSAGE Message = {.Address = Address, .Data = Data};
    if (KiPciEnableMsi(&Function, &Message) != IRQ_STATUS_SUCCESS)
        return false;
    /* QEMU's edu sends the message from the raise write itself. */
    IRQ_STATUS Status = KiDeviceRaise(Edu);
    (void)Edu->Driver->Acknowledge(Edu);
    (void)KiPciDisableMsi(&Function);
    return Status == IRQ_STATUS_SUCCESS;
}

/* Why the platform cannot run the script here, or NULL. */
static const char *KipRegcheckPrerequisites(KI_DEVICE *Keyboard)
{
    HL_INTERRUPT_LINE Line = {.Bus = HlBusIsa, .Number = KIP_KEYBOARD_ISA_IRQ};
    HL_RESOLVED_LINE Resolved;
    if (Keyboard == NULL || !Keyboard->Present || Keyboard->Connected)
        return "the PS/2 keyboard (the test GSI's device) is absent or connected";
    if (HlPicResolveLine(&Line, &Resolved) != IRQ_STATUS_SUCCESS || Resolved.Gsi != REGCHECK_TEST_GSI)
        return "ISA IRQ 1 is not GSI 1";
    if (KiMadt.IoApicCount == 0 || KiMadt.IoApics[0].GsiBase != 0)
        return "no I/O APIC with GSI 1 in the MADT";
    if (PlatCurrentCpu() != 0)
        return "not on the boot processor";
    return NULL;
}

void KiRunRegcheckTest(void)
{
    const REGCHECK_SCRIPT *Script = &RegcheckLapicIoApicScript;
    KI_DEVICE *Keyboard = KiDeviceGet(KiDeviceKeyboard);
    const char *Missing = KipRegcheckPrerequisites(Keyboard);
    if (Missing != NULL) {
        KiTestReport("regcheck", false, "cannot run: %s", Missing);
        return;
    }
    REGCHECK_ADAPTER Adapter = {
        .SetPin = KipRegcheckSetPin,
        .SendMsi = KipRegcheckSendMsi,
        .Context = Keyboard,
        .IoApicAddress = KiMadt.IoApics[0].Address,
    };
    REGCHECK_RESULT Result = {0};
    IRQ_STATUS Status = KiDeviceStart(Keyboard, 0);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = RegcheckRun(Script, &Adapter, &Result);
    /* GSI 1's entry is masked again (the script's cleanup): the line may
     * move while the 8042 is quietened. */
    (void)KiDeviceStop(Keyboard);
    (void)Keyboard->Driver->Acknowledge(Keyboard);
    if (Status != IRQ_STATUS_SUCCESS) {
        KiTestReport("regcheck", false, "cannot run: %s", IrStatusName(Status));
        return;
    }
    if (!Result.Passed) {
        char Message[256];
        (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
        KiTestReport("regcheck", false, "%s", Message);
        return;
    }
    KiTestReport("regcheck", true, "%u steps", Result.StepsRun);
    KiPrint("KTEST-INFO regcheck script %s in %s mode: %u steps run, %u of the other mode skipped\n", Script->Name,
            Result.X2Apic ? "x2APIC" : "xAPIC", Result.StepsRun, Result.StepsSkipped);
}
