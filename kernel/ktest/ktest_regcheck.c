/* SPDX-License-Identifier: MIT */
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
 * (main.c gives RkRunModeSwitchCheck to RkStartProcessors as the AP early hook):
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
 *
 * KTEST "regcheck_remap": the VT-d script (tests/regcheck/script_remap.c,
 * run on the sim by test_regcheck too) on the first remapping unit the
 * DMAR names, in its power-up state: it runs only when the kernel has not
 * enabled remapping (the "noremap" boot, kernel/arch/remapping.c), and
 * reports SKIP without a DMAR unit or with remapping on. The script leaves
 * the unit disabled, as it found it.
 */
#include <irqroute/hl.h>
#include <irqroute/ke.h>
#include <irqroute/platform.h>

#include "device.h"
#include "driver.h"
#include "kernel.h"
#include "ktest.h"
#include "pci.h"
#include "regscript.h"

#define RK_KEYBOARD_ISA_IRQ 1u

/* CPUID.01H:ECX[21] (SDM vol. 2A table 3-10), IA32_APIC_BASE (vol. 3A 11.4.4). */
#define RK_CPUID_FEATURES 1u
#define RK_CPUID_ECX_X2APIC (1u << 21)
#define RK_MSR_APIC_BASE 0x1Bu
#define RK_NO_AP 0u /* the BSP is never the mode-switch AP */

/* ---- regcheck_mode: the AP's part ------------------------------------------------------ */

typedef struct _RK_MODE_CHECK {
    uint32_t Cpu;
    uint32_t ApicId;
    bool X2ApicOffered;
    uint64_t FoundApicBase; /* IA32_APIC_BASE as the AP found it */
    IRQ_STATUS Status;
    REGCHECK_RESULT Result;
} RK_MODE_CHECK;

/* Written by the AP, then RkpModeCheckDone (release); the BSP reads it
 * after an acquire of the flag. */
static RK_MODE_CHECK RkpModeCheck;
static uint32_t RkpModeCheckDone;

/* The last CPU index whose MADT APIC id is 0-254, or RK_NO_AP. */
static uint32_t RkpModeCheckCpu(uint32_t *ApicId)
{
    uint32_t Chosen = RK_NO_AP;
    for (uint32_t Index = 0; Index < RkMadt.ProcessorCount; Index++) {
        uint32_t Cpu = RkCpuOfMadtProcessor(Index);
        if (Cpu >= RK_MAX_CPUS || Cpu <= Chosen || RkMadt.Processors[Index].ApicId > RK_XAPIC_MAX_APIC_ID)
            continue;
        Chosen = Cpu;
        *ApicId = RkMadt.Processors[Index].ApicId;
    }
    return Chosen;
}

void RkRunModeSwitchCheck(uint32_t Cpu)
{
    /* APs start one at a time (smp.c): the choice is made once. */
    static uint32_t ChosenCpu = RK_MAX_CPUS, ChosenApicId;
    if (ChosenCpu == RK_MAX_CPUS)
        ChosenCpu = RkpModeCheckCpu(&ChosenApicId);
    if (Cpu == RK_NO_AP || Cpu != ChosenCpu)
        return;
    uint32_t Registers[4];
    RkCpuid(RK_CPUID_FEATURES, 0, Registers);
    RK_MODE_CHECK *Check = &RkpModeCheck;
    Check->Cpu = Cpu;
    Check->ApicId = ChosenApicId;
    Check->X2ApicOffered = (Registers[2] & RK_CPUID_ECX_X2APIC) != 0;
    Check->FoundApicBase = PlatReadMsr(RK_MSR_APIC_BASE);
    /* No I/O APIC, pin or MSI step: the adapter only says what the CPU is. */
    REGCHECK_ADAPTER Adapter = {.X2ApicOffered = Check->X2ApicOffered, .ApicId = &Check->ApicId};
    Check->Status = RegcheckRun(&RegcheckModeSwitchScript, &Adapter, &Check->Result);
    __atomic_store_n(&RkpModeCheckDone, 1u, __ATOMIC_RELEASE);
}

static bool RkpRegcheckSetPin(void *Context, uint32_t Gsi, bool Asserted)
{
    RK_DEVICE *Keyboard = Context;
    if (Gsi != REGCHECK_TEST_GSI)
        return false;
    if (Asserted)
        return RkDeviceRaise(Keyboard) == IRQ_STATUS_SUCCESS;
    /* Takes the byte (if any): the 8042 lowers IRQ 1. */
    (void)Keyboard->Driver->Acknowledge(Keyboard);
    return true;
}

static bool RkpRegcheckSendMsi(void *Context, uint64_t Address, uint32_t Data)
{
    (void)Context;
    RK_DEVICE *Edu = RkDeviceGet(RkDeviceEdu);
    RK_PCI_FUNCTION Function;
    if (Edu == NULL || !Edu->Present || Edu->Connected || !RkEduPciFunction(&Function))
        return false;
    HL_MSI_MESSAGE Message = {.Address = Address, .Data = Data};
    if (RkPciEnableMsi(&Function, &Message) != IRQ_STATUS_SUCCESS)
        return false;
    /* QEMU's edu sends the message from the raise write itself. */
    IRQ_STATUS Status = RkDeviceRaise(Edu);
    (void)Edu->Driver->Acknowledge(Edu);
    (void)RkPciDisableMsi(&Function);
    return Status == IRQ_STATUS_SUCCESS;
}

/* Why the platform cannot run the script here, or NULL. */
static const char *RkpRegcheckPrerequisites(RK_DEVICE *Keyboard)
{
    HL_INTERRUPT_LINE Line = {.Bus = HlBusIsa, .Number = RK_KEYBOARD_ISA_IRQ};
    HL_RESOLVED_LINE Resolved;
    if (Keyboard == NULL || !Keyboard->Present || Keyboard->Connected)
        return "the PS/2 keyboard (the test GSI's device) is absent or connected";
    if (HlPicResolveLine(&Line, &Resolved) != IRQ_STATUS_SUCCESS || Resolved.Gsi != REGCHECK_TEST_GSI)
        return "ISA IRQ 1 is not GSI 1";
    if (RkMadt.IoApicCount == 0 || RkMadt.IoApics[0].GsiBase != 0)
        return "no I/O APIC with GSI 1 in the MADT";
    if (PlatCurrentCpu() != 0)
        return "not on the boot processor";
    return NULL;
}

/* ---- regcheck_mode: the BSP's report ---------------------------------------------------- */

static const char *RkpApicBaseModeName(uint64_t ApicBase)
{
    if ((ApicBase & REGCHECK_APIC_BASE_EXTD) != 0)
        return "x2APIC";
    return (ApicBase & REGCHECK_APIC_BASE_EN) != 0 ? "xAPIC" : "disabled";
}

static void RkpReportModeSwitchCheck(void)
{
    const RK_MODE_CHECK *Check = &RkpModeCheck;
    if (__atomic_load_n(&RkpModeCheckDone, __ATOMIC_ACQUIRE) == 0) {
        uint32_t ApicId = 0;
        uint32_t Cpu = RkpModeCheckCpu(&ApicId);
        if (Cpu == RK_NO_AP)
            RkPrint("KTEST-INFO regcheck_mode not run: no AP with an APIC id below 255\n");
        else
            RkTestReport("regcheck_mode", false, "cpu %u (APIC id %u) did not run the script", Cpu, ApicId);
        return;
    }
    if (Check->Status != IRQ_STATUS_SUCCESS) {
        RkTestReport("regcheck_mode", false, "cannot run on cpu %u: %s", Check->Cpu, IrStatusName(Check->Status));
        return;
    }
    if (!Check->Result.Passed) {
        char Message[256];
        (void)RegcheckFormatFailure(&Check->Result, Message, sizeof(Message));
        RkTestReport("regcheck_mode", false, "%s on cpu %u", Message, Check->Cpu);
        return;
    }
    RkTestReport("regcheck_mode", true, "%u steps on cpu %u (APIC id %u, handed over in %s mode, x2APIC %s: %u steps)",
                 Check->Result.StepsRun, Check->Cpu, Check->ApicId, RkpApicBaseModeName(Check->FoundApicBase),
                 Check->X2ApicOffered ? "offered" : "not offered", Check->Result.StepsInX2Apic);
}

/* ---- regcheck_remap --------------------------------------------------------------------------- */

/* Large (the scopes of every unit): not on the stack. */
static HL_DMAR_INFO RkpRegcheckDmar;

/* The first DMAR unit's register page, or NULL with *Why saying why not. */
static bool RkpFindIdleUnit(uintptr_t *Base, const char **Why)
{
    const void *Table;
    uint32_t Length;
    if (!RkAcpiFindTable("DMAR", &Table, &Length) ||
        HlDmarParse(Table, Length, &RkpRegcheckDmar) != IRQ_STATUS_SUCCESS || RkpRegcheckDmar.UnitCount == 0) {
        *Why = "no VT-d remapping unit (no DMAR, or one without a DRHD)";
        return false;
    }
    if (RkRemappingIsOn()) {
        *Why = "the kernel enabled interrupt remapping: the unit is not in its power-up state (boot with noremap)";
        return false;
    }
    uint64_t Address = RkpRegcheckDmar.Units[0].RegisterBase;
    if (!RkInMmioWindow(Address)) {
        *Why = "the unit's registers are outside the kernel's MMIO window";
        return false;
    }
    *Base = (uintptr_t)Address;
    return true;
}

static void RkpRunRemapScript(void)
{
    uintptr_t Base = 0;
    const char *Why = NULL;
    if (!RkpFindIdleUnit(&Base, &Why)) {
        RkTestSkip("regcheck_remap", Why);
        return;
    }
    const REGCHECK_SCRIPT *Script = &RegcheckRemapScript;
    REGCHECK_ADAPTER Adapter = {.IommuAddress = Base};
    REGCHECK_RESULT Result = {0};
    IRQ_STATUS Status = RegcheckRun(Script, &Adapter, &Result);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkTestReport("regcheck_remap", false, "cannot run: %s", IrStatusName(Status));
        return;
    }
    if (!Result.Passed) {
        char Message[256];
        (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
        RkTestReport("regcheck_remap", false, "%s", Message);
        return;
    }
    RkTestReport("regcheck_remap", true, "%u steps on the unit at 0x%lx", Result.StepsRun, (unsigned long)Base);
}

/* ---- regcheck ------------------------------------------------------------------------------- */

static void RkpRunLapicIoApicScript(void)
{
    if (RkSkipIfMsiBlocked("regcheck"))
        return;
    const REGCHECK_SCRIPT *Script = &RegcheckLapicIoApicScript;
    RK_DEVICE *Keyboard = RkDeviceGet(RkDeviceKeyboard);
    const char *Missing = RkpRegcheckPrerequisites(Keyboard);
    if (Missing != NULL) {
        RkTestReport("regcheck", false, "cannot run: %s", Missing);
        return;
    }
    REGCHECK_ADAPTER Adapter = {
        .SetPin = RkpRegcheckSetPin,
        .SendMsi = RkpRegcheckSendMsi,
        .Context = Keyboard,
        .IoApicAddress = RkMadt.IoApics[0].Address,
    };
    REGCHECK_RESULT Result = {0};
    IRQ_STATUS Status = RkDeviceStart(Keyboard, 0);
    if (Status == IRQ_STATUS_SUCCESS)
        Status = RegcheckRun(Script, &Adapter, &Result);
    /* GSI 1's entry is masked again (the script's cleanup): the line may
     * move while the 8042 is quietened. */
    (void)RkDeviceStop(Keyboard);
    (void)Keyboard->Driver->Acknowledge(Keyboard);
    if (Status != IRQ_STATUS_SUCCESS) {
        RkTestReport("regcheck", false, "cannot run: %s", IrStatusName(Status));
        return;
    }
    if (!Result.Passed) {
        char Message[256];
        (void)RegcheckFormatFailure(&Result, Message, sizeof(Message));
        RkTestReport("regcheck", false, "%s", Message);
        return;
    }
    RkTestReport("regcheck", true, "%u steps", Result.StepsRun);
    RkPrint("KTEST-INFO regcheck script %s in %s mode: %u steps run, %u of the other mode skipped\n", Script->Name,
            Result.X2Apic ? "x2APIC" : "xAPIC", Result.StepsRun, Result.StepsSkipped);
}

void RkRunRegcheckTest(void)
{
    RkpRunLapicIoApicScript();
    RkpReportModeSwitchCheck();
    RkpRunRemapScript();
}
