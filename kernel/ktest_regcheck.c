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
 *
 * KTEST "regcheck_mode": the IA32_APIC_BASE transitions (the script
 * RegcheckModeSwitchScript, run on the sim by test_regcheck too) on one AP
 * during its start-up, before anything else touches its local APIC
 * (KiApStartup calls KiRunModeSwitchCheck before KiInitializeProcessor):
 * the AP holds the state INIT and firmware left, nothing sends it messages
 * yet, and RegcheckRun gives it back in the mode it was found in, its
 * registers at their INIT values, so the bring-up that follows is the
 * usual one. The AP is the last CPU whose APIC id fits the xAPIC ID
 * register (0-254: the script's xAPIC steps need that), whatever mode
 * firmware left it in (x2APIC with SeaBIOS past 255 CPUs); x2APIC steps run
 * where its CPUID offers x2APIC. The AP stores the result; the BSP reports
 * it here, after the boot:
 *     KTEST regcheck_mode PASS <n> steps on cpu <N> (...)
 *     KTEST regcheck_mode FAIL step <name>: register <register> read 0x.. expected 0x.. on cpu <N>
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

/* CPUID.01H:ECX[21] (SDM vol. 2A table 3-10), IA32_APIC_BASE (vol. 3A 11.4.4). */
#define KIP_CPUID_FEATURES 1u
#define KIP_CPUID_ECX_X2APIC (1u << 21)
#define KIP_MSR_APIC_BASE 0x1Bu
#define KIP_NO_AP 0u /* the BSP is never the mode-switch AP */

/* ---- regcheck_mode: the AP's part ------------------------------------------------------ */

typedef struct _KIP_MODE_CHECK {
    uint32_t Cpu;
    uint32_t ApicId;
    bool X2ApicOffered;
    uint64_t FoundApicBase; /* IA32_APIC_BASE as the AP found it */
    IRQ_STATUS Status;
    REGCHECK_RESULT Result;
} KIP_MODE_CHECK;

/* Written by the AP, then KipModeCheckDone (release); the BSP reads it
 * after an acquire of the flag. */
static KIP_MODE_CHECK KipModeCheck;
static uint32_t KipModeCheckDone;

/* The last CPU index whose MADT APIC id is 0-254, or KIP_NO_AP. */
static uint32_t KipModeCheckCpu(uint32_t *ApicId)
{
    uint32_t Chosen = KIP_NO_AP;
    for (uint32_t Index = 0; Index < KiMadt.ProcessorCount; Index++) {
        uint32_t Cpu = KiCpuOfMadtProcessor(Index);
        if (Cpu >= KI_MAX_CPUS || Cpu <= Chosen || KiMadt.Processors[Index].ApicId > KI_XAPIC_MAX_APIC_ID)
            continue;
        Chosen = Cpu;
        *ApicId = KiMadt.Processors[Index].ApicId;
    }
    return Chosen;
}

void KiRunModeSwitchCheck(uint32_t Cpu)
{
    /* APs start one at a time (smp.c): the choice is made once. */
    static uint32_t ChosenCpu = KI_MAX_CPUS, ChosenApicId;
    if (ChosenCpu == KI_MAX_CPUS)
        ChosenCpu = KipModeCheckCpu(&ChosenApicId);
    if (Cpu == KIP_NO_AP || Cpu != ChosenCpu)
        return;
    uint32_t Registers[4];
    KiCpuid(KIP_CPUID_FEATURES, 0, Registers);
    KIP_MODE_CHECK *Check = &KipModeCheck;
    Check->Cpu = Cpu;
    Check->ApicId = ChosenApicId;
    Check->X2ApicOffered = (Registers[2] & KIP_CPUID_ECX_X2APIC) != 0;
    Check->FoundApicBase = PlatReadMsr(KIP_MSR_APIC_BASE);
    /* No I/O APIC, pin or MSI step: the adapter only says what the CPU is. */
    REGCHECK_ADAPTER Adapter = {.X2ApicOffered = Check->X2ApicOffered, .ApicId = &Check->ApicId};
    Check->Status = RegcheckRun(&RegcheckModeSwitchScript, &Adapter, &Check->Result);
    __atomic_store_n(&KipModeCheckDone, 1u, __ATOMIC_RELEASE);
}

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

/* ---- regcheck_mode: the BSP's report ---------------------------------------------------- */

static const char *KipApicBaseModeName(uint64_t ApicBase)
{
    if ((ApicBase & REGCHECK_APIC_BASE_EXTD) != 0)
        return "x2APIC";
    return (ApicBase & REGCHECK_APIC_BASE_EN) != 0 ? "xAPIC" : "disabled";
}

static void KipReportModeSwitchCheck(void)
{
    const KIP_MODE_CHECK *Check = &KipModeCheck;
    if (__atomic_load_n(&KipModeCheckDone, __ATOMIC_ACQUIRE) == 0) {
        uint32_t ApicId = 0;
        uint32_t Cpu = KipModeCheckCpu(&ApicId);
        if (Cpu == KIP_NO_AP)
            KiPrint("KTEST-INFO regcheck_mode not run: no AP with an APIC id below 255\n");
        else
            KiTestReport("regcheck_mode", false, "cpu %u (APIC id %u) did not run the script", Cpu, ApicId);
        return;
    }
    if (Check->Status != IRQ_STATUS_SUCCESS) {
        KiTestReport("regcheck_mode", false, "cannot run on cpu %u: %s", Check->Cpu, IrStatusName(Check->Status));
        return;
    }
    if (!Check->Result.Passed) {
        char Message[256];
        (void)RegcheckFormatFailure(&Check->Result, Message, sizeof(Message));
        KiTestReport("regcheck_mode", false, "%s on cpu %u", Message, Check->Cpu);
        return;
    }
    KiTestReport("regcheck_mode", true, "%u steps on cpu %u (APIC id %u, handed over in %s mode, x2APIC %s: %u steps)",
                 Check->Result.StepsRun, Check->Cpu, Check->ApicId, KipApicBaseModeName(Check->FoundApicBase),
                 Check->X2ApicOffered ? "offered" : "not offered", Check->Result.StepsInX2Apic);
}

/* ---- regcheck ------------------------------------------------------------------------------- */

static void KipRunLapicIoApicScript(void)
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

void KiRunRegcheckTest(void)
{
    KipRunLapicIoApicScript();
    KipReportModeSwitchCheck();
}
