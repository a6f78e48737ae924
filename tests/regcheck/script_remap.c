/* SPDX-License-Identifier: MIT */
/*
 * RegcheckRemapScript: a VT-d remapping unit's registers, from its power-up
 * state (nothing enabled: on QEMU the kernel booted with "noremap", on the
 * sim a unit created and never enabled), against QEMU 10's
 * (hw/i386/intel_iommu.c, intel-iommu,intremap=on,eim=on) and the sim's
 * (platform/sim/iommu_model.c). Section numbers: VT-d spec rev. 3.x.
 *
 *  - VER, CAP, ECAP: the fields both report (10.4.1-10.4.3): version 1.0;
 *    CAP.ND (16-bit domain ids), SAGAW (39- and 48-bit), MGAW (48 bits),
 *    FRO (0x220) and NFR (one fault recording register); ECAP.QI, IR, EIM,
 *    IRO (0xF0) and MHMV (15). The DMA-remapping bits each sets beyond
 *    those (QEMU: PSI, SLLPS, MAMV, the drain bits, ECAP.DT/PT/SC) are left
 *    out: the model remaps interrupts only;
 *  - GSTS, FSTS, FECTL at power-up (10.4.5, 10.4.9, 10.4.10: FECTL.IM set);
 *  - IRTA written and read back, then SIRTP: one GCMD command per write,
 *    the value being the persistent bits of GSTS with one bit changed
 *    (10.4.4); GSTS.IRTPS reports it done;
 *  - IQA, then QIE: GSTS.QIES, IQH 0 (10.4.22-10.4.24), IQA read back;
 *  - a wait descriptor with a status write in slot 0 and IQT moved past it:
 *    the status word holds the descriptor's data, IQH has moved to IQT, no
 *    fault (6.5.2.8);
 *  - a tail past the queue (256 descriptors in QS 0): FSTS.IQE, IQH where
 *    it was, FECTL.IP (masked: no fault event sent); IQT back and IQE
 *    cleared (RW1C) clears IP again;
 *  - QIE cleared with the queue empty: QIES clear and IQH reset to 0 (the
 *    IQH register description);
 *  - the cleanup puts IRTA, IQA and IQT back to 0 and disables QI if a
 *    failing step left it on.
 *
 * Left out on purpose, where QEMU 10 and the spec part (docs/qemu.md: the
 * models follow the spec):
 *  - IQA read before QI is enabled: QEMU returns the base latched at the
 *    last QIE (vtd_mem_read returns s->iq), 0 on a fresh unit, where the
 *    register reads back what was written;
 *  - GCMD.CFI / GSTS.CFIS: QEMU has no compatibility-format interrupt
 *    switch in GCMD (vtd_handle_gcmd_write handles TE, SRTP, QIE, SIRTP and
 *    IRE only), so CFIS never sets; the model sets it (10.4.5);
 *  - GCMD.IRE: enabling IR on a running machine whose lines are in
 *    compatibility format blocks them (CFI clear), so the check never does;
 *  - a wait descriptor with both SW and IF (QEMU asserts on it), and one
 *    queued while QI is disabled and fetched at QIE (QEMU fetches at once,
 *    "Windows guests" in vtd_handle_gcmd_qie; the spec asks software to set
 *    IQT to 0 before enabling QI).
 */
#include "regscript.h"
#include "script_steps.h"

#define RD32(N, R, E, M) {.Kind = RegcheckReadIommu32, .Name = (N), .Register = (R), .Expected = (E), .Mask = (M)}
#define RD64(N, R, E, M) {.Kind = RegcheckReadIommu64, .Name = (N), .Register = (R), .Expected = (E), .Mask = (M)}
#define RD64_SYM(N, R, S, E, M) \
    {.Kind = RegcheckReadIommu64, .Name = (N), .Register = (R), .Symbol = (S), .Expected = (E), .Mask = (M)}
#define WR32(N, R, V) {.Kind = RegcheckWriteIommu32, .Name = (N), .Register = (R), .Value = (V)}
#define WR64(N, R, V) {.Kind = RegcheckWriteIommu64, .Name = (N), .Register = (R), .Value = (V)}
#define WR64_SYM(N, R, S, V) {.Kind = RegcheckWriteIommu64, .Name = (N), .Register = (R), .Symbol = (S), .Value = (V)}
#define WAIT(N, Slot, Data) {.Kind = RegcheckQueueWait, .Name = (N), .Register = (Slot), .Value = (Data)}
#define POLL_STATUS(N, E) \
    {.Kind = RegcheckReadWaitStatus, .Name = (N), .Expected = (E), .Mask = ALL32, .Flags = REGCHECK_FLAG_POLL}

#define ALL64 0xFFFFFFFFFFFFFFFFull

/* VER (10.4.1): minor 3:0, major 7:4. */
#define VTD_VERSION_1_0 0x10u
/* CAP (10.4.2): ND 2:0, SAGAW 12:8, MGAW 21:16, FRO 33:24 (in 16-byte
 * units), NFR 47:40 (count - 1). */
#define CAP_CHECKED 0x0000FF03FF3F1F07ull
#define CAP_EXPECTED (6ull | 0x6ull << 8 | 47ull << 16 | (0x220ull / 16u) << 24 | 0ull << 40)
/* ECAP (10.4.3): QI 1, IR 3, EIM 4, IRO 17:8 (in 16-byte units), MHMV 23:20. */
#define ECAP_CHECKED 0x0000000000F3FF1Aull
#define ECAP_EXPECTED (1ull << 1 | 1ull << 3 | 1ull << 4 | (0xF0ull / 16u) << 8 | 15ull << 20)
/* GSTS (10.4.5) and GCMD (10.4.4): the same bit positions. */
#define GSTS_ALL 0xFF800000ull
#define GCMD_QIE 0x04000000u
#define GCMD_SIRTP 0x01000000u
#define GSTS_QIES 0x04000000u
#define GSTS_IRTPS 0x01000000u
/* FSTS (10.4.9): PFO 0, PPF 1, IQE 4, ICE 5, ITE 6, FRI 15:8. */
#define FSTS_CHECKED 0x0000FF73ull
#define FSTS_IQE 0x10u
/* FECTL (10.4.10): IM 31, IP 30. */
#define FECTL_CHECKED 0xC0000000ull
#define FECTL_IM 0x80000000u
#define FECTL_IP 0x40000000u
/* IRTA (10.4.29): base 63:12, EIME 11, S 3:0 (2^(S+1) entries): one 4 KiB
 * page of 16-byte entries is S = 7. */
#define IRTA_EIME_256_ENTRIES 0x807u
/* IQA (10.4.24): base 63:12, QS 2:0 (2^QS pages: 256 descriptors). IQH,
 * IQT (10.4.22, 10.4.23): the descriptor index in 18:4. */
#define IQA_ONE_PAGE 0u
#define IQ_SLOT(Index) ((uint32_t)(Index) << 4)
#define IQ_PAST_THE_END IQ_SLOT(256)
#define WAIT_DATA 0x5A5A0001u

static const REGCHECK_STEP RegcheckpRemapSteps[] = {
    /* ---- What the unit offers ---- */
    RD32("VER 1.0", REGCHECK_VTD_VER, VTD_VERSION_1_0, 0xFFull),
    RD64("CAP ND 16-bit, SAGAW 39/48, MGAW 48, FRO 0x220, one fault record", REGCHECK_VTD_CAP, CAP_EXPECTED,
         CAP_CHECKED),
    RD64("ECAP QI, IR, EIM, IRO 0xF0, MHMV 15", REGCHECK_VTD_ECAP, ECAP_EXPECTED, ECAP_CHECKED),

    /* ---- Power-up: nothing enabled, no fault, fault events masked ---- */
    RD32("power-up: GSTS 0", REGCHECK_VTD_GSTS, 0, GSTS_ALL),
    RD32("power-up: FSTS 0", REGCHECK_VTD_FSTS, 0, FSTS_CHECKED),
    RD32("power-up: FECTL IM", REGCHECK_VTD_FECTL, FECTL_IM, FECTL_CHECKED),
    RD64("power-up: IQH 0", REGCHECK_VTD_IQH, 0, ALL64),

    /* ---- The interrupt remapping table pointer ---- */
    WR64_SYM("IRTA the table, EIME, 256 entries", REGCHECK_VTD_IRTA, RegcheckIommuTable, IRTA_EIME_256_ENTRIES),
    RD64_SYM("IRTA reads back", REGCHECK_VTD_IRTA, RegcheckIommuTable, IRTA_EIME_256_ENTRIES, ALL64),
    WR32("GCMD SIRTP", REGCHECK_VTD_GCMD, GCMD_SIRTP),
    RD32("GSTS IRTPS after SIRTP", REGCHECK_VTD_GSTS, GSTS_IRTPS, GSTS_ALL),

    /* ---- Queued invalidation ---- */
    WR64_SYM("IQA the queue, one page", REGCHECK_VTD_IQA, RegcheckIommuQueue, IQA_ONE_PAGE),
    /* The persistent GSTS bits (none) with QIE: not IRTPS, which would
     * set the table pointer again (10.4.4). */
    WR32("GCMD QIE", REGCHECK_VTD_GCMD, GCMD_QIE),
    RD32("GSTS QIES, IRTPS", REGCHECK_VTD_GSTS, GSTS_QIES | GSTS_IRTPS, GSTS_ALL),
    RD64("IQH 0 with QI enabled", REGCHECK_VTD_IQH, 0, ALL64),
    RD64_SYM("IQA reads back with QI enabled", REGCHECK_VTD_IQA, RegcheckIommuQueue, IQA_ONE_PAGE, ALL64),

    /* ---- A wait descriptor ---- */
    WAIT("wait descriptor, status write, in slot 0", 0, WAIT_DATA),
    WR64("IQT past slot 0", REGCHECK_VTD_IQT, IQ_SLOT(1)),
    POLL_STATUS("the unit wrote the wait descriptor's status data", WAIT_DATA),
    RD64("IQH at IQT after the wait", REGCHECK_VTD_IQH, IQ_SLOT(1), ALL64),
    RD32("FSTS 0 after the wait", REGCHECK_VTD_FSTS, 0, FSTS_CHECKED),

    /* ---- A queue error: the tail past the queue ---- */
    WR64("IQT past the queue's end", REGCHECK_VTD_IQT, IQ_PAST_THE_END),
    RD32("FSTS IQE for a tail past the queue", REGCHECK_VTD_FSTS, FSTS_IQE, FSTS_CHECKED),
    RD64("IQH stays at the head on the error", REGCHECK_VTD_IQH, IQ_SLOT(1), ALL64),
    RD32("FECTL IP (masked) on the error", REGCHECK_VTD_FECTL, FECTL_IM | FECTL_IP, FECTL_CHECKED),
    WR64("IQT back at the head", REGCHECK_VTD_IQT, IQ_SLOT(1)),
    WR32("FSTS IQE cleared (RW1C)", REGCHECK_VTD_FSTS, FSTS_IQE),
    RD32("FSTS 0 once IQE is cleared", REGCHECK_VTD_FSTS, 0, FSTS_CHECKED),
    RD32("FECTL IP clear with nothing left to report", REGCHECK_VTD_FECTL, FECTL_IM, FECTL_CHECKED),

    /* ---- Queued invalidation off, the queue empty ---- */
    WR32("GCMD QIE cleared", REGCHECK_VTD_GCMD, 0),
    RD32("GSTS IRTPS alone after QI is disabled", REGCHECK_VTD_GSTS, GSTS_IRTPS, GSTS_ALL),
    RD64("IQH reset to 0 with QI disabled", REGCHECK_VTD_IQH, 0, ALL64),
};

/* Back to the power-up values (QI off first: IQA may not change under it). */
static const REGCHECK_STEP RegcheckpRemapCleanup[] = {
    WR32("cleanup: GCMD QIE cleared", REGCHECK_VTD_GCMD, 0),
    WR32("cleanup: FSTS IQE cleared", REGCHECK_VTD_FSTS, FSTS_IQE),
    WR64("cleanup: IQT 0", REGCHECK_VTD_IQT, 0),
    WR64("cleanup: IQA 0", REGCHECK_VTD_IQA, 0),
    WR64("cleanup: IRTA 0", REGCHECK_VTD_IRTA, 0),
};

const REGCHECK_SCRIPT RegcheckRemapScript = {
    .Name = "vtd_remap",
    REGCHECK_STEPS(RegcheckpRemapSteps, RegcheckpRemapCleanup),
};
