/* SPDX-License-Identifier: MIT */
/*
 * The IA32_APIC_BASE transitions.
 *
 * RegcheckModeSwitchScript: the mode switches of SDM vol. 3A 11.12.5 (figure
 * 11-27) on a CPU nothing else uses yet, an AP before its bring-up (on QEMU
 * after the INIT and start-up IPI that woke it; on the sim a CPU never
 * started), so its local APIC holds the INIT state (11.4.7.3: the power-up
 * values, but the id and IA32_APIC_BASE) and takes no interrupt:
 *   - handed over in x2APIC mode (SeaBIOS with more than 255 CPUs) or
 *     disabled: that state is read, then the CPU goes (through disabled) to
 *     xAPIC, where the other hand-overs start;
 *   - xAPIC: the INIT state, then TPR, SVR, DFR, LDR and three LVT entries
 *     written and read back;
 *   - xAPIC -> x2APIC where the CPU offers it: IA32_APIC_BASE, the 32-bit
 *     id, the LDR derived from the id (11.12.10.2), and what survives the
 *     switch (11.12.5.1, "State Changes From xAPIC Mode to x2APIC Mode":
 *     everything but the LDR, the xAPIC id written and the ICR high half; the
 *     TPR, SVR and LVTs are read, QEMU's apic_set_base keeps them too);
 *   - x2APIC (or xAPIC, where x2APIC is not offered) -> disabled -> xAPIC.
 * RegcheckRun then puts IA32_APIC_BASE back as found; the cleanup steps have
 * put the registers back to their INIT values first, so the CPU's bring-up
 * continues as if nothing had run.
 *
 * Left out on purpose: after disabled -> xAPIC every register but the ID,
 * the version and SVR bit 8. The SDM resets them on the way into disabled
 * (11.12.5.1; the models do), QEMU 10 only clears SVR bit 8 (apic_set_base)
 * and keeps TPR, LDR, DFR, the SVR vector and the LVTs as they were; coming
 * from x2APIC its xAPIC LDR even holds 1 << (id & 15) cut to eight bits,
 * written when x2APIC was entered. Never attempted: the refused transitions
 * (a #GP, test_lapic_mode covers them on the models), the DFR in x2APIC mode,
 * the ICR (no message is sent), and the ESR (no error happens).
 */
#include "regscript.h"
#include "script_steps.h"

/* Values written in xAPIC mode; each survives the switch to x2APIC. */
#define MS_TPR 0x20u
#define MS_SVR 0x000001EFu        /* software-enabled, spurious vector 0xEF (11.9) */
#define MS_DFR_CLUSTER 0x0FFFFFFFu /* model 0000b; bits 27:0 read as ones (11.6.2.2) */
#define MS_LDR 0x08000000u        /* logical id bit 3 */
#define MS_LVT_TIMER 0x000300E5u  /* periodic, masked, vector 0xE5 (figure 11-8) */
#define MS_LVT_LINT1 0x00010400u  /* NMI, masked */
#define MS_LVT_ERROR 0x000100E6u  /* masked, vector 0xE6 */
/* Written through the MSR interface, and after the way back. */
#define MS_TPR_X2APIC 0x30u
#define MS_TPR_AGAIN 0x10u
#define MS_LDR_AGAIN 0x04000000u

/* INIT state (11.4.7.1). */
#define MS_SVR_RESET 0x000000FFu
#define MS_LVT_RESET 0x00010000u
#define MS_DFR_FLAT 0xFFFFFFFFu
#define SVR_CHECKED 0x1FFull /* vector, software enable */
#define SVR_ENABLE 0x100ull

/* IA32_APIC_BASE of an AP (BSP clear) at the default base. */
#define AP_BASE_DISABLED 0xFEE00000ull
#define AP_BASE_XAPIC (AP_BASE_DISABLED | REGCHECK_APIC_BASE_XAPIC)
#define AP_BASE_X2APIC (AP_BASE_DISABLED | REGCHECK_APIC_BASE_X2APIC)

#define SET_BASE(Mode_, N, Bits) {.Kind = RegcheckWriteApicBase, .Mode = (Mode_), .Name = (N), .Value = (Bits)}
#define READ_BASE(Mode_, N, E) \
    {.Kind = RegcheckReadApicBase, .Mode = (Mode_), .Name = (N), .Expected = (E), .Mask = APIC_BASE_CHECKED}

/* The three LVT entries the script writes (timer, LINT1, error), read or
 * written in a row: each step named Prefix "LVT <entry>" Suffix. */
#define READ_LVTS(Mode_, Prefix, Suffix, Timer, Lint1, Error)                                              \
    READ_IN(Mode_, Prefix "LVT timer" Suffix, REGCHECK_LAPIC_LVT_TIMER, Timer, LVT_CHECKED),               \
    READ_IN(Mode_, Prefix "LVT LINT1" Suffix, REGCHECK_LAPIC_LVT_LINT1, Lint1, LVT_CHECKED),               \
    READ_IN(Mode_, Prefix "LVT error" Suffix, REGCHECK_LAPIC_LVT_ERROR, Error, LVT_CHECKED)
#define WRITE_LVTS(Mode_, Prefix, Suffix, Timer, Lint1, Error)                                             \
    WRITE_IN(Mode_, Prefix "LVT timer" Suffix, REGCHECK_LAPIC_LVT_TIMER, Timer),                           \
    WRITE_IN(Mode_, Prefix "LVT LINT1" Suffix, REGCHECK_LAPIC_LVT_LINT1, Lint1),                           \
    WRITE_IN(Mode_, Prefix "LVT error" Suffix, REGCHECK_LAPIC_LVT_ERROR, Error)

/* Entered xAPIC mode (after INIT, or again after disabled): the base, the
 * 8-bit id in bits 31:24 and the version, each step named Prefix "...". */
#define READ_XAPIC_ENTERED(Prefix)                                                                         \
    READ_BASE(RegcheckXApicOnly, Prefix "IA32_APIC_BASE 0xFEE00000, EN, not the BSP", AP_BASE_XAPIC),     \
    READ_SYM(RegcheckXApicOnly, Prefix "ID id << 24", REGCHECK_LAPIC_ID, RegcheckSelfIdRegister, 0xFF000000ull), \
    READ_IN(RegcheckXApicOnly, Prefix "version 0x00050014", REGCHECK_LAPIC_VERSION, 0x00050014u, 0x01FF00FFull)

static const REGCHECK_STEP RegcheckpModeSteps[] = {
    /* ---- Handed over in x2APIC mode or disabled: read it, then go to xAPIC ---- */
    READ_BASE(RegcheckX2ApicOnly, "handed over in x2APIC: IA32_APIC_BASE EN, EXTD, not the BSP", AP_BASE_X2APIC),
    READ_SYM(RegcheckX2ApicOnly, "handed over in x2APIC: ID the 32-bit id", REGCHECK_LAPIC_ID, RegcheckSelfIdRegister,
             ALL32),
    READ_SYM(RegcheckX2ApicOnly, "handed over in x2APIC: LDR the cluster id", REGCHECK_LAPIC_LDR,
             RegcheckSelfClusterLdr, ALL32),
    READ_IN(RegcheckX2ApicOnly, "handed over in x2APIC: SVR 0xFF after INIT", REGCHECK_LAPIC_SVR, MS_SVR_RESET,
            SVR_CHECKED),
    SET_BASE(RegcheckX2ApicOnly, "handed over in x2APIC: x2APIC -> disabled", REGCHECK_APIC_BASE_DISABLED),
    READ_BASE(RegcheckDisabledOnly, "disabled: IA32_APIC_BASE EN and EXTD clear, base kept", AP_BASE_DISABLED),
    SET_BASE(RegcheckDisabledOnly, "disabled -> xAPIC", REGCHECK_APIC_BASE_XAPIC),

    /* ---- xAPIC: what INIT left ---- */
    READ_XAPIC_ENTERED("xAPIC: "),
    READ_IN(RegcheckXApicOnly, "xAPIC: LDR 0 after INIT", REGCHECK_LAPIC_LDR, 0, ALL32),
    READ_IN(RegcheckXApicOnly, "xAPIC: DFR flat (all ones) after INIT", REGCHECK_LAPIC_DFR, MS_DFR_FLAT, ALL32),
    READ_IN(RegcheckXApicOnly, "xAPIC: SVR 0xFF after INIT", REGCHECK_LAPIC_SVR, MS_SVR_RESET, SVR_CHECKED),
    READ_IN(RegcheckXApicOnly, "xAPIC: TPR 0 after INIT", REGCHECK_LAPIC_TPR, 0, 0xFFull),
    READ_LVTS(RegcheckXApicOnly, "xAPIC: ", " masked after INIT", MS_LVT_RESET, MS_LVT_RESET, MS_LVT_RESET),

    /* ---- xAPIC: write, read back (the SVR first: a software-disabled APIC
     * keeps every LVT masked, 11.4.7.2) ---- */
    WRITE_IN(RegcheckXApicOnly, "xAPIC: SVR enabled, vector 0xEF", REGCHECK_LAPIC_SVR, MS_SVR),
    WRITE_IN(RegcheckXApicOnly, "xAPIC: TPR 0x20", REGCHECK_LAPIC_TPR, MS_TPR),
    WRITE_IN(RegcheckXApicOnly, "xAPIC: DFR cluster model", REGCHECK_LAPIC_DFR, MS_DFR_CLUSTER),
    WRITE_IN(RegcheckXApicOnly, "xAPIC: LDR 0x08000000", REGCHECK_LAPIC_LDR, MS_LDR),
    WRITE_IN(RegcheckXApicOnly, "xAPIC: LVT timer periodic 0xE5, masked", REGCHECK_LAPIC_LVT_TIMER, MS_LVT_TIMER),
    WRITE_IN(RegcheckXApicOnly, "xAPIC: LVT LINT1 NMI, masked", REGCHECK_LAPIC_LVT_LINT1, MS_LVT_LINT1),
    WRITE_IN(RegcheckXApicOnly, "xAPIC: LVT error 0xE6, masked", REGCHECK_LAPIC_LVT_ERROR, MS_LVT_ERROR),
    READ_IN(RegcheckXApicOnly, "xAPIC: SVR 0x1EF", REGCHECK_LAPIC_SVR, MS_SVR, SVR_CHECKED),
    READ_IN(RegcheckXApicOnly, "xAPIC: TPR 0x20", REGCHECK_LAPIC_TPR, MS_TPR, 0xFFull),
    READ_IN(RegcheckXApicOnly, "xAPIC: PPR 0x20 (TPR, nothing in service)", REGCHECK_LAPIC_PPR, MS_TPR, 0xFFull),
    READ_IN(RegcheckXApicOnly, "xAPIC: DFR cluster model", REGCHECK_LAPIC_DFR, MS_DFR_CLUSTER, ALL32),
    READ_IN(RegcheckXApicOnly, "xAPIC: LDR 0x08000000", REGCHECK_LAPIC_LDR, MS_LDR, ALL32),
    READ_LVTS(RegcheckXApicOnly, "xAPIC: ", "", MS_LVT_TIMER, MS_LVT_LINT1, MS_LVT_ERROR),

    /* ---- xAPIC -> x2APIC (11.12.5.1), where offered ---- */
    SET_BASE(RegcheckX2ApicOffered, "xAPIC -> x2APIC (EXTD)", REGCHECK_APIC_BASE_X2APIC),
    READ_BASE(RegcheckX2ApicOnly, "x2APIC: IA32_APIC_BASE EN, EXTD, base kept", AP_BASE_X2APIC),
    READ_SYM(RegcheckX2ApicOnly, "x2APIC: ID the 32-bit id", REGCHECK_LAPIC_ID, RegcheckSelfIdRegister, ALL32),
    READ_SYM(RegcheckX2ApicOnly, "x2APIC: LDR derived from the id, the xAPIC LDR gone", REGCHECK_LAPIC_LDR,
             RegcheckSelfClusterLdr, ALL32),
    READ_IN(RegcheckX2ApicOnly, "x2APIC: version 0x00050014", REGCHECK_LAPIC_VERSION, 0x00050014u, 0x01FF00FFull),
    READ_IN(RegcheckX2ApicOnly, "x2APIC: SVR kept", REGCHECK_LAPIC_SVR, MS_SVR, SVR_CHECKED),
    READ_IN(RegcheckX2ApicOnly, "x2APIC: TPR kept", REGCHECK_LAPIC_TPR, MS_TPR, 0xFFull),
    READ_IN(RegcheckX2ApicOnly, "x2APIC: PPR kept", REGCHECK_LAPIC_PPR, MS_TPR, 0xFFull),
    READ_LVTS(RegcheckX2ApicOnly, "x2APIC: ", " kept", MS_LVT_TIMER, MS_LVT_LINT1, MS_LVT_ERROR),
    WRITE_IN(RegcheckX2ApicOnly, "x2APIC: TPR 0x30 through MSR 0x808", REGCHECK_LAPIC_TPR, MS_TPR_X2APIC),
    READ_IN(RegcheckX2ApicOnly, "x2APIC: TPR 0x30", REGCHECK_LAPIC_TPR, MS_TPR_X2APIC, 0xFFull),

    /* ---- Either enabled mode -> disabled -> xAPIC ---- */
    SET_BASE(RegcheckX2ApicOnly, "x2APIC -> disabled (EN and EXTD clear)", REGCHECK_APIC_BASE_DISABLED),
    SET_BASE(RegcheckXApicOnly, "xAPIC -> disabled (x2APIC not offered)", REGCHECK_APIC_BASE_DISABLED),
    READ_BASE(RegcheckDisabledOnly, "disabled again: IA32_APIC_BASE EN and EXTD clear", AP_BASE_DISABLED),
    SET_BASE(RegcheckDisabledOnly, "disabled -> xAPIC again", REGCHECK_APIC_BASE_XAPIC),
    READ_XAPIC_ENTERED("xAPIC again: "),
    READ_IN(RegcheckXApicOnly, "xAPIC again: SVR software-disabled by the disable", REGCHECK_LAPIC_SVR, 0, SVR_ENABLE),
    /* The MMIO interface answers again. */
    WRITE_IN(RegcheckXApicOnly, "xAPIC again: SVR enabled, vector 0xEF", REGCHECK_LAPIC_SVR, MS_SVR),
    WRITE_IN(RegcheckXApicOnly, "xAPIC again: TPR 0x10", REGCHECK_LAPIC_TPR, MS_TPR_AGAIN),
    WRITE_IN(RegcheckXApicOnly, "xAPIC again: DFR flat", REGCHECK_LAPIC_DFR, MS_DFR_FLAT),
    WRITE_IN(RegcheckXApicOnly, "xAPIC again: LDR 0x04000000", REGCHECK_LAPIC_LDR, MS_LDR_AGAIN),
    READ_IN(RegcheckXApicOnly, "xAPIC again: SVR 0x1EF", REGCHECK_LAPIC_SVR, MS_SVR, SVR_CHECKED),
    READ_IN(RegcheckXApicOnly, "xAPIC again: TPR 0x10", REGCHECK_LAPIC_TPR, MS_TPR_AGAIN, 0xFFull),
    READ_IN(RegcheckXApicOnly, "xAPIC again: DFR flat", REGCHECK_LAPIC_DFR, MS_DFR_FLAT, ALL32),
    READ_IN(RegcheckXApicOnly, "xAPIC again: LDR 0x04000000", REGCHECK_LAPIC_LDR, MS_LDR_AGAIN, ALL32),
};

/* From wherever a failure stopped: into xAPIC mode, every register the
 * steps wrote back to its INIT value (the SVR last: disabling it masks the
 * LVTs on the models), then RegcheckRun restores IA32_APIC_BASE. */
static const REGCHECK_STEP RegcheckpModeCleanup[] = {
    SET_BASE(RegcheckX2ApicOnly, "cleanup: x2APIC -> disabled", REGCHECK_APIC_BASE_DISABLED),
    SET_BASE(RegcheckDisabledOnly, "cleanup: disabled -> xAPIC", REGCHECK_APIC_BASE_XAPIC),
    WRITE_LVTS(RegcheckXApicOnly, "cleanup: ", " masked", MS_LVT_RESET, MS_LVT_RESET, MS_LVT_RESET),
    WRITE_IN(RegcheckXApicOnly, "cleanup: TPR 0", REGCHECK_LAPIC_TPR, 0),
    WRITE_IN(RegcheckXApicOnly, "cleanup: LDR 0", REGCHECK_LAPIC_LDR, 0),
    WRITE_IN(RegcheckXApicOnly, "cleanup: DFR flat", REGCHECK_LAPIC_DFR, MS_DFR_FLAT),
    WRITE_IN(RegcheckXApicOnly, "cleanup: SVR 0xFF", REGCHECK_LAPIC_SVR, MS_SVR_RESET),
};

const REGCHECK_SCRIPT RegcheckModeSwitchScript = {
    .Name = "mode_switch",
    REGCHECK_STEPS(RegcheckpModeSteps, RegcheckpModeCleanup),
};
