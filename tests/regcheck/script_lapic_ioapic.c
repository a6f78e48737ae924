/* SPDX-License-Identifier: MIT */
/*
 * The register script: what the sim's local APIC and I/O APIC models must
 * answer exactly as QEMU's do (the IA32_APIC_BASE transitions are the
 * other script, script_mode_switch.c).
 *
 * RegcheckLapicIoApicScript runs on CPU 0 / the BSP after boot (local
 * APIC initialised by HlLapicInitializeProcessor with spurious vector 0x3F,
 * TPR 0, flat LDR or the x2APIC cluster LDR; every RTE masked; no device
 * connected), so it checks the state boot leaves as well as the registers'
 * behaviour.
 *
 * Left out on purpose (QEMU 10 and the SDM disagree, so neither answer can
 * be required of the model): APR (QEMU reads 0 in both modes, the SDM
 * computes it, 11.8.3 figure 11-15; in x2APIC the SDM makes it reserved,
 * table 11-6); ICR high read in x2APIC (table 11-6: no such MSR; QEMU
 * answers); the ESR after an error (QEMU ignores the ESR write that should
 * make errors readable and clear them, 11.5.3); reserved bits of TPR, SVR
 * (bit 9) and the LVTs (QEMU stores whatever is written, the model keeps
 * them zero: only defined bits are written, and compared); reserved RTE
 * bits 55:17 (82093AA 3.2.4; QEMU stores them, the sim reports writing one
 * as a driver fault: never written);
 * writes to the xAPIC ID (model specific, 11.4.6); the timer current count
 * (the model has no timer). Nothing in it disables the local APIC or
 * changes its mode: the kernel runs it while the system is live.
 *
 * Vectors: system vectors of KeAmd64VectorLayout that nothing else uses
 * (0x2C below the device range, 0xD8-0xEA above it), so the interpreter's
 * handler takes them.
 */
#include "regscript.h"
#include "script_steps.h"

/* ---- Vectors ------------------------------------------------------------------------ */

#define VEC_BLOCKED 0x2Cu   /* class 2: held back by TPR 0x25, taken at TPR 0x15 */
#define VEC_HIGH 0xE8u      /* class 14: taken above TPR 0x25 */
#define VEC_SELF_REG 0xE9u  /* x2APIC SELF IPI register */
#define VEC_PHYSICAL 0xEAu  /* fixed IPI to the own APIC id, no shorthand */
#define VEC_LEVEL 0xD8u     /* the level-triggered RTE of REGCHECK_TEST_GSI */
#define VEC_MSI 0xDAu       /* an MSI to the own APIC id */

static const uint8_t RegcheckpVectors[] = {VEC_BLOCKED, VEC_HIGH, VEC_SELF_REG, VEC_PHYSICAL, VEC_LEVEL, VEC_MSI};

#define PIN REGCHECK_TEST_GSI

static const REGCHECK_STEP RegcheckpSteps[] = {
    /* ---- Identity and what boot programmed ---- */
    READ_SYM(RegcheckBothModes, "LAPIC ID is the registered APIC id", REGCHECK_LAPIC_ID, RegcheckSelfIdRegister, ALL32),
    /* 11.4.8: version 0x14 (xAPIC family), 6 LVT entries, no EOI-broadcast suppression. */
    READ("LAPIC version 0x00050014", REGCHECK_LAPIC_VERSION, 0x00050014u, 0x01FF00FFull),
    {.Kind = RegcheckReadApicBase, .Mode = RegcheckXApicOnly, .Name = "IA32_APIC_BASE xAPIC: 0xFEE00000, EN, BSP",
     .Expected = APIC_BASE_XAPIC, .Mask = APIC_BASE_CHECKED},
    {.Kind = RegcheckReadApicBase, .Mode = RegcheckX2ApicOnly, .Name = "IA32_APIC_BASE x2APIC: 0xFEE00000, EN, EXTD, BSP",
     .Expected = APIC_BASE_X2APIC, .Mask = APIC_BASE_CHECKED},
    READ_SYM(RegcheckXApicOnly, "LAPIC LDR flat bit of the CPU", REGCHECK_LAPIC_LDR, RegcheckSelfFlatLdr, 0xFF000000ull),
    READ_IN(RegcheckXApicOnly, "LAPIC DFR flat model", REGCHECK_LAPIC_DFR, 0xFFFFFFFFu, ALL32),
    READ_SYM(RegcheckX2ApicOnly, "LAPIC LDR x2APIC cluster id", REGCHECK_LAPIC_LDR, RegcheckSelfClusterLdr, ALL32),
    /* 11.9: enabled, spurious vector 0x3F (KeAmd64VectorLayout). */
    READ("LAPIC SVR enabled, vector 0x3F", REGCHECK_LAPIC_SVR, 0x0000013Fu, 0x000011FFull),
    READ("LAPIC LVT LINT0 masked", REGCHECK_LAPIC_LVT_LINT0, 0x00010000u, LVT_CHECKED),
    READ("LAPIC LVT LINT1 NMI", REGCHECK_LAPIC_LVT_LINT1, 0x00000400u, LVT_CHECKED),
    /* 11.5.3: write, then read; nothing has gone wrong yet. */
    WRITE("LAPIC ESR write before read", REGCHECK_LAPIC_ESR, 0),
    READ("LAPIC ESR no error", REGCHECK_LAPIC_ESR, 0, 0xFFull),
    READ("LAPIC TPR 0 at PASSIVE_LEVEL", REGCHECK_LAPIC_TPR, 0, 0xFFull),
    READ("LAPIC ISR word of 0xE8 empty", REGCHECK_ISR(VEC_HIGH), 0, ALL32),
    READ("LAPIC IRR word of 0xE8 empty", REGCHECK_IRR(VEC_HIGH), 0, ALL32),

    /* ---- LVT and timer divide: write, read back ---- */
    WRITE("LAPIC LVT timer masked periodic 0xEE", REGCHECK_LAPIC_LVT_TIMER, 0x000300EEu),
    READ("LAPIC LVT timer after write", REGCHECK_LAPIC_LVT_TIMER, 0x000300EEu, LVT_CHECKED),
    WRITE("LAPIC LVT timer masked again", REGCHECK_LAPIC_LVT_TIMER, 0x00010000u),
    READ("LAPIC LVT timer after second write", REGCHECK_LAPIC_LVT_TIMER, 0x00010000u, LVT_CHECKED),
    WRITE("LAPIC timer divide by 1", REGCHECK_LAPIC_TIMER_DIVIDE, 0xBu),
    READ("LAPIC timer divide after write", REGCHECK_LAPIC_TIMER_DIVIDE, 0xBu, 0xBull),
    WRITE("LAPIC timer divide back to 2", REGCHECK_LAPIC_TIMER_DIVIDE, 0),
    READ("LAPIC timer divide after second write", REGCHECK_LAPIC_TIMER_DIVIDE, 0, 0xBull),

    /* ---- TPR and PPR (11.8.3.1) ---- */
    WRITE("LAPIC TPR write 0x25", REGCHECK_LAPIC_TPR, 0x25u),
    READ("LAPIC TPR after write", REGCHECK_LAPIC_TPR, 0x25u, 0xFFull),
    READ("LAPIC PPR = TPR with nothing in service", REGCHECK_LAPIC_PPR, 0x25u, 0xFFull),

    /* ---- A self IPI held back by the TPR stays in the IRR ---- */
    SELF_IPI("self IPI 0x2C", VEC_BLOCKED),
    READ_BIT("LAPIC IRR has 0x2C", REGCHECK_IRR(VEC_BLOCKED), VEC_BLOCKED),
    READ("LAPIC ISR word of 0x2C empty", REGCHECK_ISR(VEC_BLOCKED), 0, ALL32),
    READ("LAPIC TMR word of 0x2C clear (edge)", REGCHECK_TMR(VEC_BLOCKED), 0, ALL32),
    READ("LAPIC PPR ignores the IRR", REGCHECK_LAPIC_PPR, 0x25u, 0xFFull),
    READ("LAPIC ICR low self, fixed 0x2C", REGCHECK_LAPIC_ICR_LOW, ICR_SELF_FIXED | VEC_BLOCKED, ICR_LOW_CHECKED),
    ACCEPT("TPR 0x25 holds 0x2C back", 0),
    READ_BIT("LAPIC IRR still has 0x2C", REGCHECK_IRR(VEC_BLOCKED), VEC_BLOCKED),

    /* ---- A higher class passes the TPR; PPR takes the ISR class ---- */
    SELF_IPI("self IPI 0xE8", VEC_HIGH),
    READ_BIT("LAPIC IRR has 0xE8", REGCHECK_IRR(VEC_HIGH), VEC_HIGH),
    ACCEPT("0xE8 taken above TPR 0x25, 0x2C not", 1),
    IN_SERVICE("0xE8 in service", 0, REGCHECK_TAKEN_VECTOR, VEC_HIGH),
    IN_SERVICE_BIT("ISR has 0xE8 in its handler", 0, REGCHECK_ISR(VEC_HIGH), VEC_HIGH),
    IN_SERVICE("PPR is the ISR class (TPR class lower)", 0, REGCHECK_LAPIC_PPR, 0xE0u),
    IN_SERVICE_BIT("IRR keeps 0x2C while 0xE8 is in service", 0, REGCHECK_IRR(VEC_BLOCKED), VEC_BLOCKED),
    IN_SERVICE("IRR of 0xE8 cleared at acceptance", 0, REGCHECK_IRR(VEC_HIGH), 0),
    READ("LAPIC ISR of 0xE8 clear after EOI", REGCHECK_ISR(VEC_HIGH), 0, ALL32),
    READ("LAPIC PPR = TPR again after EOI", REGCHECK_LAPIC_PPR, 0x25u, 0xFFull),

    /* ---- Lower the TPR below class 2: 0x2C is taken ---- */
    WRITE("LAPIC TPR write 0x15", REGCHECK_LAPIC_TPR, 0x15u),
    READ("LAPIC PPR = TPR 0x15", REGCHECK_LAPIC_PPR, 0x15u, 0xFFull),
    ACCEPT("0x2C taken at TPR 0x15", 1),
    IN_SERVICE("0x2C in service", 0, REGCHECK_TAKEN_VECTOR, VEC_BLOCKED),
    IN_SERVICE_BIT("ISR has 0x2C in its handler", 0, REGCHECK_ISR(VEC_BLOCKED), VEC_BLOCKED),
    IN_SERVICE("PPR 0x20 for 0x2C over TPR 0x15", 0, REGCHECK_LAPIC_PPR, 0x20u),
    IN_SERVICE("TPR 0x15 in the handler", 0, REGCHECK_LAPIC_TPR, 0x15u),
    READ("LAPIC IRR word of 0x2C empty", REGCHECK_IRR(VEC_BLOCKED), 0, ALL32),
    READ("LAPIC ISR word of 0x2C empty after EOI", REGCHECK_ISR(VEC_BLOCKED), 0, ALL32),
    WRITE("LAPIC TPR write 0", REGCHECK_LAPIC_TPR, 0),
    READ("LAPIC PPR 0", REGCHECK_LAPIC_PPR, 0, 0xFFull),

    /* ---- Two pending: the higher vector first, each EOI clears the highest ISR bit ---- */
    SELF_IPI("self IPI 0x2C again", VEC_BLOCKED),
    SELF_IPI("self IPI 0xE8 again", VEC_HIGH),
    ACCEPT("both taken at TPR 0", 2),
    IN_SERVICE("0xE8 first", 0, REGCHECK_TAKEN_VECTOR, VEC_HIGH),
    IN_SERVICE_BIT("0x2C waits in the IRR under 0xE8", 0, REGCHECK_IRR(VEC_BLOCKED), VEC_BLOCKED),
    IN_SERVICE("0x2C second", 1, REGCHECK_TAKEN_VECTOR, VEC_BLOCKED),
    IN_SERVICE("ISR of 0xE8 cleared by its EOI", 1, REGCHECK_ISR(VEC_HIGH), 0),
    IN_SERVICE("PPR 0x20 for 0x2C over TPR 0", 1, REGCHECK_LAPIC_PPR, 0x20u),

    /* ---- Fixed IPI to the own APIC id, physical destination ---- */
    {.Kind = RegcheckSendIpiToSelfId, .Name = "IPI 0xEA to the own APIC id", .Value = VEC_PHYSICAL},
    READ_BIT("LAPIC IRR has 0xEA", REGCHECK_IRR(VEC_PHYSICAL), VEC_PHYSICAL),
    READ("LAPIC ICR low physical, fixed 0xEA", REGCHECK_LAPIC_ICR_LOW, ICR_PHYSICAL_FIXED | VEC_PHYSICAL,
         ICR_LOW_CHECKED),
    {.Kind = RegcheckReadLapic, .Mode = RegcheckXApicOnly, .Name = "LAPIC ICR high holds the own APIC id",
     .Register = REGCHECK_LAPIC_ICR_HIGH, .Symbol = RegcheckSelfDestination8, .Mask = 0xFF000000ull},
    ACCEPT("0xEA taken", 1),
    IN_SERVICE("0xEA in service", 0, REGCHECK_TAKEN_VECTOR, VEC_PHYSICAL),

    /* ---- x2APIC SELF IPI register (11.12.11): fixed, edge, to this APIC ---- */
    WRITE_IN(RegcheckX2ApicOnly, "SELF IPI 0xE9", REGCHECK_LAPIC_SELF_IPI, VEC_SELF_REG),
    {.Kind = RegcheckReadLapic, .Mode = RegcheckX2ApicOnly, .Name = "LAPIC IRR has 0xE9 from SELF IPI",
     .Register = REGCHECK_IRR(VEC_SELF_REG), .Expected = VEC_SELF_REG, .Symbol = RegcheckVectorBit, .Mask = ALL32},
    {.Kind = RegcheckAccept, .Mode = RegcheckX2ApicOnly, .Name = "0xE9 taken", .Value = 1},
    {.Kind = RegcheckReadInService, .Mode = RegcheckX2ApicOnly, .Name = "0xE9 in service", .Value = 0,
     .Register = REGCHECK_TAKEN_VECTOR, .Expected = VEC_SELF_REG, .Mask = ALL32},

    /* ---- I/O APIC identity (82093AA 3.2.1-3.2.3; version 0x20 I/O xAPIC, 24 pins) ---- */
    IO_READ("IOAPIC version 0x20, 24 entries", REGCHECK_IOAPIC_VERSION, 0x00170020u, 0x00FF00FFull),
    IO_READ("IOAPIC ID 0", REGCHECK_IOAPIC_ID, 0, 0x0F000000ull),
    IO_READ("IOAPIC arbitration id = ID", REGCHECK_IOAPIC_ARBITRATION, 0, 0x0F000000ull),
    IO_READ("IOAPIC RTE 1 masked after boot", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_MASKED, RTE_MASKED),

    /* ---- RTE write and read back: written read-only bits stay clear ---- */
    IO_WRITE("IOAPIC RTE 1 high destination 0xFF", REGCHECK_IOAPIC_RTE_HIGH(PIN), 0xFF000000u),
    IO_READ("IOAPIC RTE 1 high destination 0xFF", REGCHECK_IOAPIC_RTE_HIGH(PIN), 0xFF000000u, ALL32),
    /* Masked, level, active low, Remote IRR and delivery status written as 1,
     * logical, lowest priority, vector 0x9A. */
    IO_WRITE("IOAPIC RTE 1 low with read-only bits set", REGCHECK_IOAPIC_RTE_LOW(PIN), 0x0001F99Au),
    IO_READ("IOAPIC RTE 1 low read-only bits stay 0", REGCHECK_IOAPIC_RTE_LOW(PIN), 0x0001A99Au, RTE_LOW_DEFINED),
    {.Kind = RegcheckWriteIoApic, .Name = "IOAPIC RTE 1 high own APIC id", .Register = REGCHECK_IOAPIC_RTE_HIGH(PIN),
     .Symbol = RegcheckSelfDestination8},
    {.Kind = RegcheckReadIoApic, .Name = "IOAPIC RTE 1 high reads the own APIC id",
     .Register = REGCHECK_IOAPIC_RTE_HIGH(PIN), .Symbol = RegcheckSelfDestination8, .Mask = RTE_HIGH_DESTINATION},
    IO_WRITE("IOAPIC RTE 1 low masked level 0xD8", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_MASKED | RTE_LEVEL | VEC_LEVEL),
    IO_READ("IOAPIC RTE 1 low masked level 0xD8", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_MASKED | RTE_LEVEL | VEC_LEVEL,
            RTE_LOW_DEFINED),
    IO_WRITE("IOAPIC RTE 1 unmask", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_LEVEL | VEC_LEVEL),
    IO_READ("IOAPIC RTE 1 low unmasked, Remote IRR clear", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_LEVEL | VEC_LEVEL,
            RTE_LOW_NO_STATUS),

    /* ---- A level-triggered delivery (82093AA 3.2.4; SDM 11.8.4, 11.8.5) ---- */
    {.Kind = RegcheckAssertPin, .Name = "assert GSI 1", .Value = PIN},
    POLL_BIT("LAPIC IRR has 0xD8 from the RTE", REGCHECK_IRR(VEC_LEVEL), VEC_LEVEL),
    READ_BIT("LAPIC TMR has 0xD8 (level)", REGCHECK_TMR(VEC_LEVEL), VEC_LEVEL),
    IO_READ("IOAPIC RTE 1 Remote IRR set by the delivery", REGCHECK_IOAPIC_RTE_LOW(PIN),
            RTE_REMOTE_IRR | RTE_LEVEL | VEC_LEVEL, RTE_LOW_NO_STATUS),
    {.Kind = RegcheckDeassertPin, .Name = "deassert GSI 1", .Value = PIN},
    IO_READ("IOAPIC RTE 1 Remote IRR stays until EOI", REGCHECK_IOAPIC_RTE_LOW(PIN),
            RTE_REMOTE_IRR | RTE_LEVEL | VEC_LEVEL, RTE_LOW_NO_STATUS),
    ACCEPT("0xD8 taken", 1),
    IN_SERVICE("0xD8 in service", 0, REGCHECK_TAKEN_VECTOR, VEC_LEVEL),
    IN_SERVICE_BIT("ISR has 0xD8 in its handler", 0, REGCHECK_ISR(VEC_LEVEL), VEC_LEVEL),
    IN_SERVICE_BIT("TMR has 0xD8 in its handler", 0, REGCHECK_TMR(VEC_LEVEL), VEC_LEVEL),
    IN_SERVICE("PPR 0xD0 for 0xD8", 0, REGCHECK_LAPIC_PPR, 0xD0u),
    IO_POLL("IOAPIC RTE 1 Remote IRR cleared by the EOI broadcast", REGCHECK_IOAPIC_RTE_LOW(PIN),
            RTE_LEVEL | VEC_LEVEL, RTE_LOW_NO_STATUS),
    READ_BIT("LAPIC TMR keeps 0xD8 after EOI", REGCHECK_TMR(VEC_LEVEL), VEC_LEVEL),

    /* ---- Again, the Remote IRR cleared through the I/O APIC's EOI register ---- */
    {.Kind = RegcheckAssertPin, .Name = "assert GSI 1 again", .Value = PIN},
    POLL_BIT("LAPIC IRR has 0xD8 again", REGCHECK_IRR(VEC_LEVEL), VEC_LEVEL),
    {.Kind = RegcheckDeassertPin, .Name = "deassert GSI 1 again", .Value = PIN},
    IO_READ("IOAPIC RTE 1 Remote IRR set again", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_REMOTE_IRR | RTE_LEVEL | VEC_LEVEL,
            RTE_LOW_NO_STATUS),
    {.Kind = RegcheckWriteIoApicEoi, .Name = "IOAPIC EOI register 0xD8", .Value = VEC_LEVEL},
    IO_READ("IOAPIC RTE 1 Remote IRR cleared by the EOI register", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_LEVEL | VEC_LEVEL,
            RTE_LOW_NO_STATUS),
    ACCEPT("0xD8 taken again", 1),
    IN_SERVICE("0xD8 in service again", 0, REGCHECK_TAKEN_VECTOR, VEC_LEVEL),

    /* ---- An edge message of the same vector clears its TMR bit (11.8.4) ---- */
    SELF_IPI("self IPI 0xD8 (edge)", VEC_LEVEL),
    READ("LAPIC TMR of 0xD8 cleared by an edge", REGCHECK_TMR(VEC_LEVEL), 0, ALL32),
    READ_BIT("LAPIC IRR has the edge 0xD8", REGCHECK_IRR(VEC_LEVEL), VEC_LEVEL),
    ACCEPT("edge 0xD8 taken", 1),
    IN_SERVICE("TMR clear in the edge 0xD8's handler", 0, REGCHECK_TMR(VEC_LEVEL), 0),
    IO_WRITE("IOAPIC RTE 1 masked", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_MASKED),
    IO_WRITE("IOAPIC RTE 1 high 0", REGCHECK_IOAPIC_RTE_HIGH(PIN), 0),
    IO_READ("IOAPIC RTE 1 low masked edge", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_MASKED, RTE_LOW_DEFINED),
    IO_READ("IOAPIC RTE 1 high 0", REGCHECK_IOAPIC_RTE_HIGH(PIN), 0, RTE_HIGH_DESTINATION),

    /* ---- An MSI to the own APIC id (SDM 11.11) ---- */
    {.Kind = RegcheckSendMsi, .Name = "MSI 0xDA, fixed, edge", .Value = VEC_MSI},
    POLL_BIT("LAPIC IRR has 0xDA from the MSI", REGCHECK_IRR(VEC_MSI), VEC_MSI),
    READ("LAPIC TMR of 0xDA clear (edge MSI)", REGCHECK_TMR(VEC_MSI), 0, ALL32),
    ACCEPT("0xDA taken", 1),
    IN_SERVICE("0xDA in service", 0, REGCHECK_TAKEN_VECTOR, VEC_MSI),
    IN_SERVICE_BIT("ISR has 0xDA in its handler", 0, REGCHECK_ISR(VEC_MSI), VEC_MSI),

    /* ---- Everything back as boot left it ---- */
    READ("LAPIC IRR word of 0xE8 empty at the end", REGCHECK_IRR(VEC_HIGH), 0, ALL32),
    READ("LAPIC IRR word of 0xD8 empty at the end", REGCHECK_IRR(VEC_LEVEL), 0, ALL32),
    READ("LAPIC ISR word of 0xD8 empty at the end", REGCHECK_ISR(VEC_LEVEL), 0, ALL32),
    READ("LAPIC ISR word of 0xE8 empty at the end", REGCHECK_ISR(VEC_HIGH), 0, ALL32),
    READ("LAPIC TPR 0 at the end", REGCHECK_LAPIC_TPR, 0, 0xFFull),
    READ("LAPIC PPR 0 at the end", REGCHECK_LAPIC_PPR, 0, 0xFFull),
    READ("LAPIC ESR still no error", REGCHECK_LAPIC_ESR, 0, 0xFFull),
};

/* Whatever step failed: the line low, its entry masked, the TPR at
 * PASSIVE_LEVEL, the timer registers as boot left them, and the script's
 * vectors drained from the IRR (the handler is still installed). */
static const REGCHECK_STEP RegcheckpCleanup[] = {
    {.Kind = RegcheckDeassertPin, .Name = "cleanup: deassert GSI 1", .Value = PIN},
    IO_WRITE("cleanup: RTE 1 masked", REGCHECK_IOAPIC_RTE_LOW(PIN), RTE_MASKED),
    IO_WRITE("cleanup: RTE 1 high 0", REGCHECK_IOAPIC_RTE_HIGH(PIN), 0),
    WRITE("cleanup: LVT timer masked", REGCHECK_LAPIC_LVT_TIMER, 0x00010000u),
    WRITE("cleanup: timer divide", REGCHECK_LAPIC_TIMER_DIVIDE, 0),
    WRITE("cleanup: TPR 0", REGCHECK_LAPIC_TPR, 0),
    ACCEPT("cleanup: drain", REGCHECK_ANY_COUNT),
};

const REGCHECK_SCRIPT RegcheckLapicIoApicScript = {
    .Name = "lapic_ioapic",
    REGCHECK_STEPS(RegcheckpSteps, RegcheckpCleanup),
    .Vectors = RegcheckpVectors,
    .VectorCount = REGCHECK_COUNT_OF(RegcheckpVectors),
};
