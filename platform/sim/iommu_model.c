/* SPDX-License-Identifier: MIT */
/*
 * Sim model of an Intel VT-d remapping unit, interrupt remapping only, as
 * QEMU 10 presents it (hw/i386/intel_iommu.c: version 1.0, fault recording
 * at 0x220, IOTLB registers at 0xF0, 16-bit domain ids). Section numbers are
 * those of the VT-d architecture specification rev. 3.x: 5.1 interrupt
 * remapping (request formats 5.1.2, 5.1.5), 6.5.2 queued invalidation, 7.1
 * and 7.3 interrupt remapping faults and their recording, 9.10 the IRTE,
 * chapter 10 the registers (10.2 access rules, 10.4 register layouts).
 *
 * Registers (10.4), per unit, in a 4 KiB page:
 *   0x000 VER   32 RO  0x10 (1.0, as QEMU)
 *   0x008 CAP   64 RO  ND 6 (16-bit domain ids), SAGAW 39/48-bit, MGAW 48,
 *                      FRO 0x220 (in 16-byte units), NFR (configured - 1)
 *   0x010 ECAP  64 RO  QI, IR, EIM (configured), IRO 0xF0, MHMV 15
 *   0x018 GCMD  32 WO  one command per write (below)
 *   0x01C GSTS  32 RO  QIES, IRES, IRTPS, CFIS
 *   0x034 FSTS  32     PFO, IQE (RW1C), PPF and FRI (RO)
 *   0x038 FECTL 32     IM (RW), IP (RO); FEDATA, FEADDR, FEUADDR 0x03C-0x044
 *   0x080 IQH   64 RO  0x088 IQT 64, 0x090 IQA 64, 0x09C ICS 32 (IWC, RW1C)
 *   0x0A0 IECTL, IEDATA, IEADDR, IEUADDR 32; 0x0B0 IQERCD 64 RO (reads 0)
 *   0x0B8 IRTA  64     base 63:12, EIME 11, S 3:0 (2^(S+1) entries)
 *   0x220 + 16 n       fault recording register n: 128 bits (FI 63:12 of the
 *                      low half; SID 15:0, FR 39:32, F 63 of the high half)
 *
 * Faults (SimFault), where hardware leaves the result undefined or the
 * access can only be a driver's mistake; the access then has no effect:
 *  - an access that is not an aligned 32-bit one to a 32-bit register, or an
 *    aligned 32- or 64-bit one to a 64-bit register (10.2);
 *  - an offset with no register, or a DMA-remapping register (RTADDR, CCMD,
 *    AFLOG, PMEN and the protected memory ranges, the IOTLB registers): the
 *    model has no DMA remapping, so no interrupt remapping driver may touch
 *    them;
 *  - a write to a read-only register (VER, CAP, ECAP, GSTS, IQH, IQERCD, the
 *    low half of a fault record): it does nothing on hardware, so it means
 *    a wrong offset (GSTS for GCMD, most often);
 *  - reserved bits written as 1 (GCMD 22:0, IRTA 10:4 and EIME without
 *    ECAP.EIM, IQA 11:3, IQT 3:0 and 63:19);
 *  - GCMD: more than one command in one write. 10.4.4: software reads GSTS,
 *    changes one bit, and writes the result; a write that toggles QIE and
 *    IRE together (writing IRE alone while QI is enabled clears QIE) is the
 *    classic bug. A command the model has no part for (TE, SRTP, SFL, EAFL,
 *    WBF) faults too, and so do enabling IR before SIRTP has latched a table
 *    (10.4.4, IRE: the table pointer must be set first), disabling QI with
 *    descriptors left in the queue (6.5.2: software waits until IQH equals
 *    IQT), and writing IQA while QI is enabled (IQA register description).
 *
 * Hardware-detected errors are reported as hardware reports them, not as
 * faults: a descriptor of an unknown type or with reserved bits set, a tail
 * beyond the queue, a wait descriptor whose status address is 0 or not
 * 4-byte aligned set FSTS.IQE and stop the queue at that descriptor (IQH
 * stays on it) until software clears IQE, and fetching then resumes there
 * (6.5.2, queued invalidation errors).
 *
 * Interrupt requests (5.1.2, 5.1.5; SimIommuRemapMsi and
 * SimIommuRemapIoApicEntry). A compatibility-format request passes while
 * IR is disabled or GSTS.CFIS is set, and is blocked with fault 0x25 while
 * IR is enabled and CFIS clear. A remappable-format request while IR is
 * disabled is processed as a compatibility one (5.1: with IRES clear every
 * request is in compatibility format; QEMU does the same). With IR enabled
 * the interrupt_index is checked against the latched table size (0x21), the
 * table address (0 is no memory: 0x23), the IRTE is read (from the entry
 * cache if there), checked for presence (0x22), reserved fields (0x24:
 * bits 14:12, 31:24, IM (no posted interrupts: ECAP.PI clear), delivery
 * modes 3 and 6, destination bits 63:48 and 39:32 without EIME, bits 127:84,
 * SVT 3), and for its source (0x26, 9.10 table "SVT/SQ": SVT 1 compares the
 * requester id with SID under the SQ mask (SQ 1-3 ignore bit 2, bits 2:1,
 * bits 2:0: function bits), SVT 2 checks the requester's bus lies in
 * SID[15:8]..SID[7:0]). Reserved fields of the request itself (data bits
 * 31:16 of a remappable MSI; bits 10:8 and 47:17 of a remappable
 * redirection entry) give 0x20. Fault numbers are QEMU's and the spec's
 * (7.1 table "Interrupt Remapping Fault Conditions").
 *
 * Fault recording (7.3.1 "Primary Fault Logging"): a fault goes to the
 * record after the last one written (wrapping over NFR records); if that
 * record's F bit is still set, or FSTS.PFO is, nothing is recorded and PFO
 * is set. FRI holds the record the first pending fault went to. Faults 0x22,
 * 0x24 and 0x26 are "qualified": an entry with FPD set records none. A fault
 * event sets FECTL.IP (the fault event interrupt itself is not sent: the
 * model has no path to the APIC bus yet); IP clears once no F, PFO or IQE
 * bit is left.
 *
 * The interrupt entry cache (ch. 6, caching and invalidation). The unit may
 * keep any present IRTE it has read (CAP.CM is clear, so never a
 * not-present one: making an entry present needs no invalidation), and
 * this model keeps every one, for
 * every index, until an interrupt entry cache invalidation descriptor (6.5.2.7:
 * global, or index-selective over the 2^IM-aligned block holding IIDX)
 * drops it. Neither SIRTP nor enabling IR drops it: 10.4.4 asks software to
 * invalidate globally after SIRTP. So a driver that changes an IRTE and
 * forgets the invalidation keeps getting the old entry, as on hardware whose
 * cache happens to hold it.
 *
 * Locking: one mutex per unit over its registers and cache. Table and
 * queue memory is the driver's, read with atomic 64-bit loads (an IRTE's
 * halves separately, as the driver updates them: 9.10 asks for the low half
 * to be written in one 64-bit store). A fault is raised after the mutex is
 * released (its handler may longjmp).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "sim.h"
#include "sim_internal.h"

/* ---- Registers (10.4) --------------------------------------------------------------- */

#define VTD_VER 0x000u
#define VTD_CAP 0x008u
#define VTD_ECAP 0x010u
#define VTD_GCMD 0x018u
#define VTD_GSTS 0x01Cu
#define VTD_FSTS 0x034u
#define VTD_FECTL 0x038u
#define VTD_FEDATA 0x03Cu
#define VTD_FEADDR 0x040u
#define VTD_FEUADDR 0x044u
#define VTD_IQH 0x080u
#define VTD_IQT 0x088u
#define VTD_IQA 0x090u
#define VTD_ICS 0x09Cu
#define VTD_IECTL 0x0A0u
#define VTD_IEDATA 0x0A4u
#define VTD_IEADDR 0x0A8u
#define VTD_IEUADDR 0x0ACu
#define VTD_IQERCD 0x0B0u
#define VTD_IRTA 0x0B8u
#define VTD_FRO 0x220u /* fault recording registers, 16 bytes each */
#define VTD_FRCD_SIZE 16u
#define VTD_PAGE 0x1000u

/* Registers the model has no part for (DMA remapping), refused by name. */
#define VTD_RTADDR 0x020u
#define VTD_CCMD 0x028u
#define VTD_AFLOG 0x058u
#define VTD_PMEN 0x064u
#define VTD_PHMLIMIT_END 0x080u
#define VTD_IRO 0x0F0u /* IVA at +0, IOTLB at +8 (ECAP.IRO) */
#define VTD_IOTLB_END 0x100u

#define VTD_VERSION 0x10u
/* CAP (10.4.2): ND 2:0, SAGAW 12:8, MGAW 21:16, FRO 33:24, NFR 47:40. */
#define CAP_ND_16BIT 6ull
#define CAP_SAGAW_39_48 (0x6ull << 8)
#define CAP_MGAW_48 (47ull << 16)
#define CAP_FRO_SHIFT 24u
#define CAP_NFR_SHIFT 40u
/* ECAP (10.4.3): QI 1, IR 3, EIM 4, IRO 17:8, MHMV 23:20. */
#define ECAP_QI (1ull << 1)
#define ECAP_IR (1ull << 3)
#define ECAP_EIM (1ull << 4)
#define ECAP_IRO_SHIFT 8u
#define ECAP_MHMV 15u
#define ECAP_MHMV_SHIFT 20u

/* GCMD/GSTS (10.4.4, 10.4.5): the same bit positions. */
#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define GCMD_SFL (1u << 29)
#define GCMD_EAFL (1u << 28)
#define GCMD_WBF (1u << 27)
#define GCMD_QIE (1u << 26)
#define GCMD_IRE (1u << 25)
#define GCMD_SIRTP (1u << 24)
#define GCMD_CFI (1u << 23)
#define GCMD_RESERVED 0x007FFFFFu
/* Commands that stay on (reflected in GSTS until turned off) and one-shot
 * ones (GSTS reports them done). */
#define GCMD_PERSISTENT (GCMD_TE | GCMD_EAFL | GCMD_QIE | GCMD_IRE | GCMD_CFI)
#define GCMD_ONE_SHOT (GCMD_SRTP | GCMD_SFL | GCMD_WBF | GCMD_SIRTP)
#define GCMD_NOT_MODELLED (GCMD_TE | GCMD_SRTP | GCMD_SFL | GCMD_EAFL | GCMD_WBF)
#define GSTS_QIES GCMD_QIE
#define GSTS_IRES GCMD_IRE
#define GSTS_IRTPS GCMD_SIRTP
#define GSTS_CFIS GCMD_CFI

/* FSTS, FECTL, ICS, IECTL (their register descriptions in 10.4). */
#define FSTS_PFO (1u << 0)
#define FSTS_PPF (1u << 1)
#define FSTS_IQE (1u << 4)
#define FSTS_ICE (1u << 5)
#define FSTS_ITE (1u << 6)
#define FSTS_RW1C (FSTS_PFO | FSTS_IQE | FSTS_ICE | FSTS_ITE)
#define FSTS_FRI_SHIFT 8u
#define FECTL_IM (1u << 31)
#define FECTL_IP (1u << 30)
#define ICS_IWC 1u
#define IECTL_IM (1u << 31)
#define IECTL_IP (1u << 30)

/* IRTA (10.4, Interrupt Remapping Table Address Register): base 63:12,
 * EIME 11, reserved 10:4, S 3:0. */
#define IRTA_BASE_MASK 0xFFFFFFFFFFFFF000ull
#define IRTA_EIME (1ull << 11)
#define IRTA_RESERVED 0x7F0ull
#define IRTA_SIZE_MASK 0xFull

/* IQA (10.4, Invalidation Queue Address Register): base 63:12, DW 11
 * (reserved without ECAP.SMTS), 10:3 reserved, QS 2:0 (2^QS pages of 256
 * 128-bit descriptors). IQT/IQH: QT/QH in 18:4 for 128-bit descriptors. */
#define IQA_BASE_MASK 0xFFFFFFFFFFFFF000ull
#define IQA_RESERVED 0xFF8ull
#define IQA_QS_MASK 0x7ull
#define IQ_INDEX_SHIFT 4u
#define IQ_INDEX_MASK 0x7FFFull
#define IQT_RESERVED (~(IQ_INDEX_MASK << IQ_INDEX_SHIFT))
#define IQ_ENTRIES_PER_PAGE 256u

/* Invalidation descriptors (6.5.2): type 3:0 with 6:4 in bits 11:9. */
#define DESC_TYPE_LOW_MASK 0xFull
#define DESC_TYPE_HIGH_SHIFT 9u
#define DESC_TYPE_HIGH_MASK 0x7ull
#define DESC_CONTEXT_CACHE 1u
#define DESC_IOTLB 2u
#define DESC_DEVICE_TLB 3u
#define DESC_IEC 4u
#define DESC_WAIT 5u
/* Interrupt entry cache invalidate (6.5.2.7): G 4 (1 = index selective),
 * IM 31:27, IIDX 47:32; the rest and the high half reserved. */
#define IEC_G (1ull << 4)
#define IEC_IM_SHIFT 27u
#define IEC_IM_MASK 0x1Full
#define IEC_IIDX_SHIFT 32u
#define IEC_RESERVED_LOW 0xFFFF000007FFF1E0ull
/* Invalidation wait (6.5.2.8): IF 4, SW 5, FN 6, PD 7, status data 63:32;
 * high half: status address 63:2. */
#define WAIT_IF (1ull << 4)
#define WAIT_SW (1ull << 5)
#define WAIT_RESERVED_LOW 0x00000000FFFFF100ull
#define WAIT_RESERVED_HIGH 0x3ull
#define DESC_TYPE_BITS (DESC_TYPE_LOW_MASK | DESC_TYPE_HIGH_MASK << DESC_TYPE_HIGH_SHIFT)

/* IRTE (9.10), low half: P 0, FPD 1, DM 2, RH 3, TM 4, DLM 7:5, AVAIL 11:8,
 * reserved 14:12, IM 15, V 23:16, reserved 31:24, DST 63:32 (xAPIC: 47:40,
 * the rest reserved); high half: SID 15:0, SQ 17:16, SVT 19:18, reserved
 * 63:20. */
#define IRTE_P (1ull << 0)
#define IRTE_FPD (1ull << 1)
#define IRTE_DM (1ull << 2)
#define IRTE_RH (1ull << 3)
#define IRTE_TM (1ull << 4)
#define IRTE_DLM_SHIFT 5u
#define IRTE_DLM_MASK 0x7ull
#define IRTE_VECTOR_SHIFT 16u
#define IRTE_RESERVED_LOW 0x00000000FF00F000ull /* 14:12, IM 15, 31:24 */
#define IRTE_RESERVED_XAPIC_DST 0xFFFF00FF00000000ull
#define IRTE_DST_SHIFT 32u
#define IRTE_XAPIC_DST_SHIFT 40u
#define IRTE_SQ_SHIFT 16u
#define IRTE_SVT_SHIFT 18u
#define IRTE_RESERVED_HIGH 0xFFFFFFFFFFF00000ull
#define SVT_NONE 0u
#define SVT_SID_SQ 1u
#define SVT_BUS_RANGE 2u
#define SIMP_IRTE_ENTRIES 65536u

/* Interrupt requests (5.1.2, 5.1.5): MSI address 0xFEE in 31:20. */
#define MSI_WINDOW_MASK 0xFFFFFFFFFFF00000ull
#define MSI_WINDOW 0xFEE00000ull
#define MSI_REMAPPABLE (1u << 4)
#define MSI_SHV (1u << 3)
#define MSI_HANDLE_15 (1u << 2)
#define MSI_HANDLE_SHIFT 5u
#define MSI_HANDLE_MASK 0x7FFFu
#define MSI_SUBHANDLE_MASK 0xFFFFu
#define MSI_COMPAT_DEST_SHIFT 12u
#define MSI_COMPAT_RH (1u << 3)
#define MSI_COMPAT_DM (1u << 2)
#define MSI_DATA_LEVEL (1u << 15)
#define RTE_REMAPPABLE (1ull << 48)
#define RTE_HANDLE_15 (1ull << 11)
#define RTE_HANDLE_SHIFT 49u
#define RTE_RESERVED 0x0000FFFFFFFE0700ull /* 10:8 and 47:17 */
#define RTE_DM (1ull << 11)
#define RTE_LEVEL (1ull << 15)
#define RTE_DEST_SHIFT 56u

/* Fault reasons (7.1, "Interrupt Remapping Fault Conditions"). */
#define FR_REQUEST_RESERVED 0x20u
#define FR_INDEX_OVER 0x21u
#define FR_NOT_PRESENT 0x22u
#define FR_TABLE_INVALID 0x23u
#define FR_ENTRY_RESERVED 0x24u
#define FR_COMPATIBILITY_BLOCKED 0x25u
#define FR_SOURCE_ID 0x26u

#define SIMP_MAX_FAULT_RECORDS 16u

typedef struct _SIMP_IRTE_CACHE {
    bool Valid;
    uint64_t Low;
    uint64_t High;
} SIMP_IRTE_CACHE;

typedef struct _SIMP_FAULT_RECORD {
    uint64_t Low;
    uint64_t High;
} SIMP_FAULT_RECORD;

typedef struct _SIMP_IOMMU {
    pthread_mutex_t Lock;
    uintptr_t Address;
    bool Eim;
    uint32_t FaultRecordCount;
    uint32_t Gsts;
    uint64_t Irta;            /* as written */
    uint64_t ActiveTable;     /* latched by SIRTP (10.4.4) */
    uint32_t ActiveEntries;
    bool ActiveEime;
    uint64_t Iqa, Iqh, Iqt;
    uint32_t Ics;
    uint32_t Fsts;            /* PFO, IQE, ICE, ITE, FRI; PPF is computed */
    uint32_t Fectl;
    uint32_t FeData, FeAddress, FeUpperAddress;
    uint32_t Iectl;
    uint32_t IeData, IeAddress, IeUpperAddress;
    SIMP_FAULT_RECORD Records[SIMP_MAX_FAULT_RECORDS];
    uint32_t NextRecord;
    uint64_t RecordedFaults;
    uint64_t DroppedFaults;
    SIMP_IRTE_CACHE *Cache;   /* SIMP_IRTE_ENTRIES, by interrupt_index */
} SIMP_IOMMU;

static SIMP_IOMMU SimpIommus[SIM_MAX_IOMMUS];
static uint32_t SimpIommuCount;

/* ---- Memory (the driver's: table, queue, status words) ------------------------------ */

static uint64_t SimpLoad64(uint64_t Address)
{
    return __atomic_load_n((const uint64_t *)(uintptr_t)Address, __ATOMIC_ACQUIRE);
}

static void SimpStore32(uint64_t Address, uint32_t Value)
{
    __atomic_store_n((uint32_t *)(uintptr_t)Address, Value, __ATOMIC_RELEASE);
}

/* ---- Register values ------------------------------------------------------------------- */

static uint64_t SimpCap(const SIMP_IOMMU *Unit)
{
    return CAP_ND_16BIT | CAP_SAGAW_39_48 | CAP_MGAW_48 | (uint64_t)(VTD_FRO / 16u) << CAP_FRO_SHIFT |
           (uint64_t)(Unit->FaultRecordCount - 1u) << CAP_NFR_SHIFT;
}

static uint64_t SimpEcap(const SIMP_IOMMU *Unit)
{
    return ECAP_QI | ECAP_IR | (Unit->Eim ? ECAP_EIM : 0) | (uint64_t)(VTD_IRO / 16u) << ECAP_IRO_SHIFT |
           (uint64_t)ECAP_MHMV << ECAP_MHMV_SHIFT;
}

static bool SimpAnyRecordPending(const SIMP_IOMMU *Unit)
{
    for (uint32_t Index = 0; Index < Unit->FaultRecordCount; Index++) {
        if ((Unit->Records[Index].High >> 63) != 0)
            return true;
    }
    return false;
}

static uint32_t SimpFsts(const SIMP_IOMMU *Unit)
{
    return Unit->Fsts | (SimpAnyRecordPending(Unit) ? FSTS_PPF : 0u);
}

/* FECTL.IP stays set while something is left to report. */
static void SimpUpdateFaultEvent(SIMP_IOMMU *Unit)
{
    if (!SimpAnyRecordPending(Unit) && (Unit->Fsts & (FSTS_PFO | FSTS_IQE)) == 0)
        Unit->Fectl &= ~FECTL_IP;
}

static uint32_t SimpQueueEntries(const SIMP_IOMMU *Unit)
{
    return IQ_ENTRIES_PER_PAGE << (Unit->Iqa & IQA_QS_MASK);
}

/* ---- Fault recording (7.3.1) --------------------------------------------------------------- */

static bool SimpIsQualified(uint8_t Reason)
{
    return Reason == FR_NOT_PRESENT || Reason == FR_ENTRY_RESERVED || Reason == FR_SOURCE_ID;
}

static void SimpRecordFault(SIMP_IOMMU *Unit, uint8_t Reason, uint16_t SourceId, uint16_t Index, bool Fpd)
{
    if ((SimpIsQualified(Reason) && Fpd) || (Unit->Fsts & FSTS_PFO) != 0) {
        Unit->DroppedFaults++;
        return;
    }
    SIMP_FAULT_RECORD *Record = &Unit->Records[Unit->NextRecord];
    if ((Record->High >> 63) != 0) {
        Unit->Fsts |= FSTS_PFO;
        Unit->Fectl |= FECTL_IP;
        Unit->DroppedFaults++;
        return;
    }
    if (!SimpAnyRecordPending(Unit))
        Unit->Fsts = (Unit->Fsts & ~(0xFFu << FSTS_FRI_SHIFT)) | Unit->NextRecord << FSTS_FRI_SHIFT;
    /* FI 63:48 holds the interrupt_index for remapping faults; T is 0 (an
     * interrupt request is a write). */
    Record->Low = (uint64_t)Index << 48;
    Record->High = 1ull << 63 | (uint64_t)Reason << 32 | SourceId;
    Unit->NextRecord = (Unit->NextRecord + 1u) % Unit->FaultRecordCount;
    Unit->Fectl |= FECTL_IP;
    Unit->RecordedFaults++;
}

/* ---- The invalidation queue (6.5.2) ----------------------------------------------------------- */

static void SimpInvalidateEntries(SIMP_IOMMU *Unit, uint32_t First, uint32_t Count)
{
    for (uint32_t Index = First; Index < First + Count && Index < SIMP_IRTE_ENTRIES; Index++)
        Unit->Cache[Index].Valid = false;
}

/* 6.5.2.7. False for a descriptor with reserved bits set or a mask above
 * ECAP.MHMV. */
static bool SimpInvalidateEntryCache(SIMP_IOMMU *Unit, uint64_t Low, uint64_t High)
{
    uint32_t Mask = (uint32_t)((Low >> IEC_IM_SHIFT) & IEC_IM_MASK);
    if ((Low & IEC_RESERVED_LOW) != 0 || High != 0 || Mask > ECAP_MHMV)
        return false;
    if ((Low & IEC_G) == 0) {
        SimpInvalidateEntries(Unit, 0, SIMP_IRTE_ENTRIES);
        return true;
    }
    uint32_t Count = 1u << Mask;
    uint32_t First = (uint32_t)(Low >> IEC_IIDX_SHIFT) & 0xFFFFu & ~(Count - 1u);
    SimpInvalidateEntries(Unit, First, Count);
    return true;
}

/* 6.5.2.8: everything before it is done (the model completes descriptors
 * in order, at once), then the status write and/or IWC. */
static bool SimpWait(SIMP_IOMMU *Unit, uint64_t Low, uint64_t High)
{
    if ((Low & WAIT_RESERVED_LOW) != 0 || (High & WAIT_RESERVED_HIGH) != 0)
        return false;
    if ((Low & WAIT_SW) != 0) {
        if (High == 0)
            return false; /* no memory there: the model cannot write it */
        SimpStore32(High, (uint32_t)(Low >> 32));
    }
    if ((Low & WAIT_IF) != 0) {
        Unit->Ics |= ICS_IWC;
        Unit->Iectl |= IECTL_IP;
    }
    return true;
}

static bool SimpExecuteDescriptor(SIMP_IOMMU *Unit, uint64_t Low, uint64_t High)
{
    uint32_t Type = (uint32_t)(Low & DESC_TYPE_LOW_MASK) |
                    (uint32_t)((Low >> DESC_TYPE_HIGH_SHIFT) & DESC_TYPE_HIGH_MASK) << 4;
    switch (Type) {
    case DESC_CONTEXT_CACHE:
    case DESC_IOTLB:
    case DESC_DEVICE_TLB:
        return true; /* DMA remapping caches: none modelled, nothing to drop */
    case DESC_IEC:
        return SimpInvalidateEntryCache(Unit, Low, High);
    case DESC_WAIT:
        return SimpWait(Unit, Low, High);
    default:
        return false;
    }
}

static void SimpQueueError(SIMP_IOMMU *Unit)
{
    Unit->Fsts |= FSTS_IQE;
    Unit->Fectl |= FECTL_IP;
}

/* Fetches and completes descriptors from IQH up to IQT while QI is enabled
 * and no queue error is pending; an invalid one sets IQE and stays at IQH. */
static void SimpProcessQueue(SIMP_IOMMU *Unit)
{
    if ((Unit->Gsts & GSTS_QIES) == 0 || (Unit->Fsts & FSTS_IQE) != 0)
        return;
    uint32_t Entries = SimpQueueEntries(Unit);
    uint32_t Tail = (uint32_t)((Unit->Iqt >> IQ_INDEX_SHIFT) & IQ_INDEX_MASK);
    uint32_t Head = (uint32_t)((Unit->Iqh >> IQ_INDEX_SHIFT) & IQ_INDEX_MASK);
    uint64_t Base = Unit->Iqa & IQA_BASE_MASK;
    if (Head == Tail)
        return;
    /* A tail past the queue, or a queue at address 0 (no memory there). */
    if (Tail >= Entries || Base == 0) {
        SimpQueueError(Unit);
        return;
    }
    while (Head != Tail) {
        uint64_t Descriptor = Base + (uint64_t)Head * 16u;
        if (!SimpExecuteDescriptor(Unit, SimpLoad64(Descriptor), SimpLoad64(Descriptor + 8))) {
            SimpQueueError(Unit);
            return;
        }
        Head = (Head + 1u) % Entries;
        Unit->Iqh = (uint64_t)Head << IQ_INDEX_SHIFT;
    }
}

/* ---- GCMD (10.4.4) -------------------------------------------------------------------------------- */

static uint32_t SimpBitCount(uint32_t Value)
{
    return (uint32_t)__builtin_popcount(Value);
}

/* Why the command write is refused, or NULL. */
static const char *SimpCommandRefusal(const SIMP_IOMMU *Unit, uint32_t Value)
{
    if ((Value & GCMD_RESERVED) != 0)
        return "GCMD bits 22:0 are reserved (10.4.4)";
    uint32_t Changed = (Value ^ Unit->Gsts) & GCMD_PERSISTENT;
    uint32_t Commands = Changed | (Value & GCMD_ONE_SHOT);
    if (SimpBitCount(Commands) > 1)
        return "more than one command in one GCMD write (10.4.4: read GSTS, change one bit, write it back)";
    if ((Commands & GCMD_NOT_MODELLED) != 0)
        return "a DMA-remapping command (TE, SRTP, SFL, EAFL, WBF): the model remaps interrupts only";
    if ((Commands & GCMD_IRE) != 0 && (Value & GCMD_IRE) != 0 && (Unit->Gsts & GSTS_IRTPS) == 0)
        return "IR enabled before SIRTP latched an interrupt remapping table (10.4.4 IRE)";
    if ((Commands & GCMD_QIE) != 0 && (Value & GCMD_QIE) == 0 && Unit->Iqh != (Unit->Iqt & ~IQT_RESERVED))
        return "QI disabled with descriptors left in the queue (6.5.2: wait for IQH == IQT)";
    return NULL;
}

static void SimpCommand(SIMP_IOMMU *Unit, uint32_t Value)
{
    uint32_t Changed = (Value ^ Unit->Gsts) & GCMD_PERSISTENT;
    if ((Value & GCMD_SIRTP) != 0) {
        /* 10.4.4 SIRTP: IRTA's address, size and mode take effect here. */
        Unit->ActiveTable = Unit->Irta & IRTA_BASE_MASK;
        Unit->ActiveEntries = 2u << (Unit->Irta & IRTA_SIZE_MASK);
        Unit->ActiveEime = (Unit->Irta & IRTA_EIME) != 0;
        Unit->Gsts |= GSTS_IRTPS;
    }
    if ((Changed & GCMD_QIE) != 0) {
        Unit->Gsts ^= GSTS_QIES;
        /* IQH is reset to 0 whenever QI is disabled (10.4, Invalidation
         * Queue Head Register; QEMU's vtd_handle_gcmd_qie does it there too),
         * and fetching restarts from it when QI is enabled again. */
        Unit->Iqh = 0;
        if ((Unit->Gsts & GSTS_QIES) != 0)
            SimpProcessQueue(Unit);
    }
    if ((Changed & GCMD_IRE) != 0)
        Unit->Gsts ^= GSTS_IRES;
    if ((Changed & GCMD_CFI) != 0)
        Unit->Gsts ^= GSTS_CFIS;
}

/* ---- Register accesses ----------------------------------------------------------------------------------- */

typedef enum _SIMP_REGISTER_KIND { SimpNone, SimpReg32, SimpReg64, SimpNotModelled } SIMP_REGISTER_KIND;

/* The register at Offset (its start in *Base), or SimpNone. */
static SIMP_REGISTER_KIND SimpRegisterAt(const SIMP_IOMMU *Unit, uint32_t Offset, uint32_t *Base)
{
    static const uint32_t Registers32[] = {VTD_VER,    VTD_GCMD,   VTD_GSTS,    VTD_FSTS,    VTD_FECTL,
                                           VTD_FEDATA, VTD_FEADDR, VTD_FEUADDR, VTD_ICS,     VTD_IECTL,
                                           VTD_IEDATA, VTD_IEADDR, VTD_IEUADDR};
    static const uint32_t Registers64[] = {VTD_CAP, VTD_ECAP, VTD_IQH, VTD_IQT, VTD_IQA, VTD_IQERCD, VTD_IRTA};
    for (uint32_t Index = 0; Index < sizeof(Registers32) / sizeof(Registers32[0]); Index++) {
        if (Offset == Registers32[Index]) {
            *Base = Offset;
            return SimpReg32;
        }
    }
    for (uint32_t Index = 0; Index < sizeof(Registers64) / sizeof(Registers64[0]); Index++) {
        if (Offset - Registers64[Index] < 8u) {
            *Base = Registers64[Index];
            return SimpReg64;
        }
    }
    if (Offset >= VTD_FRO && Offset < VTD_FRO + Unit->FaultRecordCount * VTD_FRCD_SIZE) {
        *Base = Offset & ~7u; /* a fault record is two 64-bit halves */
        return SimpReg64;
    }
    if ((Offset >= VTD_RTADDR && Offset < VTD_CCMD + 8u) || (Offset >= VTD_AFLOG && Offset < VTD_AFLOG + 8u) ||
        (Offset >= VTD_PMEN && Offset < VTD_PHMLIMIT_END) || (Offset >= VTD_IRO && Offset < VTD_IOTLB_END))
        return SimpNotModelled;
    return SimpNone;
}

static bool SimpIsFaultRecord(uint32_t Base)
{
    return Base >= VTD_FRO;
}

static uint64_t SimpRead64(const SIMP_IOMMU *Unit, uint32_t Base)
{
    if (SimpIsFaultRecord(Base)) {
        const SIMP_FAULT_RECORD *Record = &Unit->Records[(Base - VTD_FRO) / VTD_FRCD_SIZE];
        return ((Base - VTD_FRO) % VTD_FRCD_SIZE) == 0 ? Record->Low : Record->High;
    }
    switch (Base) {
    case VTD_CAP: return SimpCap(Unit);
    case VTD_ECAP: return SimpEcap(Unit);
    case VTD_IQH: return Unit->Iqh;
    case VTD_IQT: return Unit->Iqt;
    case VTD_IQA: return Unit->Iqa;
    case VTD_IRTA: return Unit->Irta;
    default: return 0; /* IQERCD: no error detail is recorded */
    }
}

static uint32_t SimpRead32(const SIMP_IOMMU *Unit, uint32_t Offset)
{
    switch (Offset) {
    case VTD_VER: return VTD_VERSION;
    case VTD_GSTS: return Unit->Gsts;
    case VTD_FSTS: return SimpFsts(Unit);
    case VTD_FECTL: return Unit->Fectl;
    case VTD_FEDATA: return Unit->FeData;
    case VTD_FEADDR: return Unit->FeAddress;
    case VTD_FEUADDR: return Unit->FeUpperAddress;
    case VTD_ICS: return Unit->Ics;
    case VTD_IECTL: return Unit->Iectl;
    case VTD_IEDATA: return Unit->IeData;
    case VTD_IEADDR: return Unit->IeAddress;
    case VTD_IEUADDR: return Unit->IeUpperAddress;
    default: return 0; /* GCMD reads 0 (write-only) */
    }
}

/* A 64-bit register's new value from a write of Size bytes at Offset. */
static uint64_t SimpMerge(uint64_t Old, uint32_t Base, uint32_t Offset, uint32_t Size, uint64_t Value)
{
    if (Size == 8u)
        return Value;
    uint32_t Shift = (Offset - Base) * 8u;
    return (Old & ~(0xFFFFFFFFull << Shift)) | (Value & 0xFFFFFFFFull) << Shift;
}

/* Why a write of New to the 64-bit register at Base is refused, or NULL. */
static const char *SimpWrite64Refusal(const SIMP_IOMMU *Unit, uint32_t Base, uint64_t New)
{
    if (SimpIsFaultRecord(Base))
        return ((Base - VTD_FRO) % VTD_FRCD_SIZE) == 0 ? "the low half of a fault record is read-only"
                                                        : NULL;
    switch (Base) {
    case VTD_IRTA:
        if ((New & IRTA_RESERVED) != 0)
            return "IRTA bits 10:4 are reserved";
        return (New & IRTA_EIME) != 0 && !Unit->Eim ? "IRTA.EIME set on a unit without ECAP.EIM" : NULL;
    case VTD_IQA:
        if ((Unit->Gsts & GSTS_QIES) != 0)
            return "IQA written while queued invalidation is enabled";
        return (New & IQA_RESERVED) != 0 ? "IQA bits 11:3 are reserved (no ECAP.SMTS, so DW too)" : NULL;
    case VTD_IQT:
        return (New & IQT_RESERVED) != 0 ? "IQT bits 3:0 and 63:19 are reserved (128-bit descriptors)" : NULL;
    default:
        return "read-only register (VER, CAP, ECAP, GSTS, IQH, IQERCD): the write would do nothing";
    }
}

static void SimpWrite64(SIMP_IOMMU *Unit, uint32_t Base, uint32_t Offset, uint32_t Size, uint64_t New)
{
    if (SimpIsFaultRecord(Base)) {
        /* F (bit 63) is RW1C; the other bits are status a read-modify-write carries back. */
        SIMP_FAULT_RECORD *Record = &Unit->Records[(Base - VTD_FRO) / VTD_FRCD_SIZE];
        if ((New >> 63) != 0 && (Size == 8u || Offset != Base))
            Record->High &= ~(1ull << 63);
        SimpUpdateFaultEvent(Unit);
        return;
    }
    switch (Base) {
    case VTD_IRTA:
        Unit->Irta = New;
        break;
    case VTD_IQA:
        Unit->Iqa = New;
        break;
    default: /* IQT: the low half carries QT; writing it starts fetching */
        Unit->Iqt = New;
        if (Size == 8u || Offset == Base)
            SimpProcessQueue(Unit);
        break;
    }
}

static const char *SimpWrite32Refusal(const SIMP_IOMMU *Unit, uint32_t Offset, uint32_t Value)
{
    switch (Offset) {
    case VTD_GCMD: return SimpCommandRefusal(Unit, Value);
    case VTD_VER:
    case VTD_GSTS: return "read-only register (VER, GSTS): the write would do nothing (GCMD is at 0x18)";
    default: return NULL;
    }
}

static void SimpWrite32(SIMP_IOMMU *Unit, uint32_t Offset, uint32_t Value)
{
    switch (Offset) {
    case VTD_GCMD:
        SimpCommand(Unit, Value);
        break;
    case VTD_FSTS: {
        bool QueueErrorCleared = (Value & FSTS_IQE) != 0 && (Unit->Fsts & FSTS_IQE) != 0;
        Unit->Fsts &= ~(Value & FSTS_RW1C);
        SimpUpdateFaultEvent(Unit);
        if (QueueErrorCleared)
            SimpProcessQueue(Unit); /* fetching resumes at IQH */
        break;
    }
    case VTD_FECTL: Unit->Fectl = (Unit->Fectl & FECTL_IP) | (Value & FECTL_IM); break;
    case VTD_FEDATA: Unit->FeData = Value; break;
    case VTD_FEADDR: Unit->FeAddress = Value; break;
    case VTD_FEUADDR: Unit->FeUpperAddress = Value; break;
    case VTD_ICS: Unit->Ics &= ~(Value & ICS_IWC); break;
    case VTD_IECTL: Unit->Iectl = (Unit->Iectl & IECTL_IP) | (Value & IECTL_IM); break;
    case VTD_IEDATA: Unit->IeData = Value; break;
    case VTD_IEADDR: Unit->IeAddress = Value; break;
    default: Unit->IeUpperAddress = Value; break;
    }
}

/* The access of Size bytes at Offset, with the lock held; why it is refused, or NULL. */
static const char *SimpAccess(SIMP_IOMMU *Unit, uint32_t Offset, uint32_t Size, bool Write, uint64_t *Value)
{
    uint32_t Base = 0;
    SIMP_REGISTER_KIND Kind = SimpRegisterAt(Unit, Offset, &Base);
    if (Kind == SimpNone)
        return "no register at this offset";
    if (Kind == SimpNotModelled)
        return "a DMA-remapping register: the model remaps interrupts only";
    if (Kind == SimpReg32 && Size != 4u)
        return "not a 32-bit access to a 32-bit register (10.2)";
    if (Kind == SimpReg64 && !((Size == 4u && Offset % 4u == 0) || (Size == 8u && Offset == Base)))
        return "not an aligned 32- or 64-bit access to a 64-bit register (10.2)";
    if (Kind == SimpReg32) {
        if (!Write) {
            *Value = SimpRead32(Unit, Offset);
            return NULL;
        }
        const char *Refusal = SimpWrite32Refusal(Unit, Offset, (uint32_t)*Value);
        if (Refusal == NULL)
            SimpWrite32(Unit, Offset, (uint32_t)*Value);
        return Refusal;
    }
    uint64_t Old = SimpRead64(Unit, Base);
    if (!Write) {
        *Value = Size == 8u ? Old : (uint32_t)(Old >> ((Offset - Base) * 8u));
        return NULL;
    }
    uint64_t New = SimpMerge(Old, Base, Offset, Size, *Value);
    const char *Refusal = SimpWrite64Refusal(Unit, Base, New);
    if (Refusal == NULL)
        SimpWrite64(Unit, Base, Offset, Size, New);
    return Refusal;
}

static SIMP_IOMMU *SimpFindUnit(uintptr_t Address)
{
    for (uint32_t Index = 0; Index < SimpIommuCount; Index++) {
        if (Address >= SimpIommus[Index].Address && Address - SimpIommus[Index].Address < VTD_PAGE)
            return &SimpIommus[Index];
    }
    return NULL;
}

bool SimIommuModelAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value)
{
    SIMP_IOMMU *Unit = SimpFindUnit(Address);
    if (Unit == NULL)
        return false;
    uint64_t Data = Write ? *Value : 0u;
    uint32_t Offset = (uint32_t)(Address - Unit->Address);
    pthread_mutex_lock(&Unit->Lock);
    const char *Refusal = SimpAccess(Unit, Offset, Size, Write, &Data);
    pthread_mutex_unlock(&Unit->Lock);
    if (!Write)
        *Value = Refusal == NULL ? Data : 0u;
    if (Refusal != NULL)
        SimFault(Hook, Address, "VT-d unit at 0x%" PRIxPTR ": %u-byte %s at +0x%03X: %s", Unit->Address, Size,
                 Write ? "write" : "read", Offset, Refusal);
    return true;
}

uint64_t SimIommuMmioRead(uintptr_t Address, uint32_t Size)
{
    uint64_t Value = 0;
    if (!SimIommuModelAccess("SimIommuMmioRead", Address, Size, false, &Value))
        SimFault("SimIommuMmioRead", Address, "no VT-d unit at this address");
    return Value;
}

void SimIommuMmioWrite(uintptr_t Address, uint32_t Size, uint64_t Value)
{
    if (!SimIommuModelAccess("SimIommuMmioWrite", Address, Size, true, &Value))
        SimFault("SimIommuMmioWrite", Address, "no VT-d unit at this address");
}

/* ---- Interrupt requests (5.1.2, 5.1.5, 9.10) ------------------------------------------------------------ */

/* A request decoded from either source. */
typedef struct _SIMP_REQUEST {
    bool Remappable;
    bool ReservedSet;            /* remappable: a reserved field of the request is set */
    uint32_t Index;              /* remappable: handle (+ subhandle): may exceed 16 bits */
    SIM_IOMMU_INTERRUPT Compat;  /* compatibility: the request's own fields */
} SIMP_REQUEST;

/* 9.10 "SVT/SQ": whether the requester may use the entry. */
static bool SimpSourceMatches(uint64_t High, uint16_t SourceId)
{
    static const uint16_t SqMasks[4] = {0xFFFF, 0xFFFB, 0xFFF9, 0xFFF8};
    uint32_t Svt = (uint32_t)(High >> IRTE_SVT_SHIFT) & 3u;
    uint16_t Sid = (uint16_t)High;
    if (Svt == SVT_SID_SQ) {
        uint16_t Mask = SqMasks[(High >> IRTE_SQ_SHIFT) & 3u];
        return (SourceId & Mask) == (Sid & Mask);
    }
    if (Svt == SVT_BUS_RANGE) {
        uint32_t Bus = SourceId >> 8;
        return Bus >= (uint32_t)(Sid >> 8) && Bus <= (uint32_t)(Sid & 0xFFu);
    }
    return true;
}

static bool SimpEntryReservedSet(const SIMP_IOMMU *Unit, uint64_t Low, uint64_t High)
{
    uint32_t Mode = (uint32_t)(Low >> IRTE_DLM_SHIFT) & IRTE_DLM_MASK;
    if ((Low & IRTE_RESERVED_LOW) != 0 || (High & IRTE_RESERVED_HIGH) != 0 || Mode == 3u || Mode == 6u)
        return true;
    if (((High >> IRTE_SVT_SHIFT) & 3u) == 3u)
        return true;
    return !Unit->ActiveEime && (Low & IRTE_RESERVED_XAPIC_DST) != 0;
}

static void SimpDecodeEntry(const SIMP_IOMMU *Unit, uint64_t Low, uint32_t Index, SIM_IOMMU_INTERRUPT *Interrupt)
{
    *Interrupt = (SIM_IOMMU_INTERRUPT){
        .Destination = Unit->ActiveEime ? (uint32_t)(Low >> IRTE_DST_SHIFT)
                                        : (uint32_t)(Low >> IRTE_XAPIC_DST_SHIFT) & 0xFFu,
        .Logical = (Low & IRTE_DM) != 0,
        .RedirectionHint = (Low & IRTE_RH) != 0,
        .DeliveryMode = (uint8_t)((Low >> IRTE_DLM_SHIFT) & IRTE_DLM_MASK),
        .Vector = (uint8_t)(Low >> IRTE_VECTOR_SHIFT),
        .Level = (Low & IRTE_TM) != 0,
        .Index = (uint16_t)Index,
    };
}

/* The IRTE for Index: from the cache, else from memory (a present one is
 * then cached). */
static void SimpFetchEntry(SIMP_IOMMU *Unit, uint32_t Index, uint64_t *Low, uint64_t *High)
{
    SIMP_IRTE_CACHE *Cached = &Unit->Cache[Index];
    if (Cached->Valid) {
        *Low = Cached->Low;
        *High = Cached->High;
        return;
    }
    uint64_t Entry = Unit->ActiveTable + (uint64_t)Index * 16u;
    *Low = SimpLoad64(Entry);
    *High = SimpLoad64(Entry + 8);
    if ((*Low & IRTE_P) != 0)
        *Cached = (SIMP_IRTE_CACHE){.Valid = true, .Low = *Low, .High = *High};
}

/* A remapping fault: recorded (or dropped) and reported in Interrupt. */
static SIM_IOMMU_OUTCOME SimpBlock(SIMP_IOMMU *Unit, uint8_t Reason, uint16_t SourceId, uint32_t Index, bool Fpd,
                                   SIM_IOMMU_INTERRUPT *Interrupt)
{
    SimpRecordFault(Unit, Reason, SourceId, (uint16_t)Index, Fpd);
    *Interrupt = (SIM_IOMMU_INTERRUPT){.Index = (uint16_t)Index, .FaultReason = Reason};
    return SimIommuBlocked;
}

static SIM_IOMMU_OUTCOME SimpRemapLocked(SIMP_IOMMU *Unit, const SIMP_REQUEST *Request, uint16_t SourceId,
                                         SIM_IOMMU_INTERRUPT *Interrupt)
{
    bool Enabled = (Unit->Gsts & GSTS_IRES) != 0;
    if (!Request->Remappable || !Enabled) {
        if (Enabled && (Unit->Gsts & GSTS_CFIS) == 0)
            return SimpBlock(Unit, FR_COMPATIBILITY_BLOCKED, SourceId, 0, false, Interrupt);
        *Interrupt = Request->Compat;
        return SimIommuPassThrough;
    }
    if (Request->ReservedSet)
        return SimpBlock(Unit, FR_REQUEST_RESERVED, SourceId, Request->Index, false, Interrupt);
    if (Request->Index >= Unit->ActiveEntries)
        return SimpBlock(Unit, FR_INDEX_OVER, SourceId, Request->Index, false, Interrupt);
    if (Unit->ActiveTable == 0)
        return SimpBlock(Unit, FR_TABLE_INVALID, SourceId, Request->Index, false, Interrupt);
    uint64_t Low, High;
    SimpFetchEntry(Unit, Request->Index, &Low, &High);
    bool Fpd = (Low & IRTE_FPD) != 0;
    if ((Low & IRTE_P) == 0)
        return SimpBlock(Unit, FR_NOT_PRESENT, SourceId, Request->Index, Fpd, Interrupt);
    if (SimpEntryReservedSet(Unit, Low, High))
        return SimpBlock(Unit, FR_ENTRY_RESERVED, SourceId, Request->Index, Fpd, Interrupt);
    if (!SimpSourceMatches(High, SourceId))
        return SimpBlock(Unit, FR_SOURCE_ID, SourceId, Request->Index, Fpd, Interrupt);
    SimpDecodeEntry(Unit, Low, Request->Index, Interrupt);
    return SimIommuRemapped;
}

static SIM_IOMMU_OUTCOME SimpRemap(uint32_t UnitIndex, const SIMP_REQUEST *Request, uint16_t SourceId,
                                   SIM_IOMMU_INTERRUPT *Interrupt)
{
    if (UnitIndex >= SimpIommuCount || Interrupt == NULL) {
        SimFault("SimIommuRemap", UnitIndex, "no such VT-d unit, or no result to fill");
        return SimIommuBlocked;
    }
    SIMP_IOMMU *Unit = &SimpIommus[UnitIndex];
    pthread_mutex_lock(&Unit->Lock);
    SIM_IOMMU_OUTCOME Outcome = SimpRemapLocked(Unit, Request, SourceId, Interrupt);
    pthread_mutex_unlock(&Unit->Lock);
    return Outcome;
}

SIM_IOMMU_OUTCOME SimIommuRemapMsi(uint32_t Unit, uint64_t Address, uint32_t Data, uint16_t SourceId,
                                   SIM_IOMMU_INTERRUPT *Interrupt)
{
    if ((Address & MSI_WINDOW_MASK) != MSI_WINDOW) {
        SimFault("SimIommuRemapMsi", Address, "not an interrupt request (0xFEExxxxx, VT-d 5.1.2)");
        if (Interrupt != NULL)
            *Interrupt = (SIM_IOMMU_INTERRUPT){0};
        return SimIommuBlocked;
    }
    uint32_t Low = (uint32_t)Address;
    SIMP_REQUEST Request = {
        .Remappable = (Low & MSI_REMAPPABLE) != 0,
        /* 5.1.5.2: data bits 31:16 are reserved in remappable format. */
        .ReservedSet = (Data & ~MSI_SUBHANDLE_MASK) != 0,
        .Index = ((Low & MSI_HANDLE_15) != 0 ? 1u << 15 : 0u) | ((Low >> MSI_HANDLE_SHIFT) & MSI_HANDLE_MASK),
        .Compat = {.Destination = (Low >> MSI_COMPAT_DEST_SHIFT) & 0xFFu,
                   .Logical = (Low & MSI_COMPAT_DM) != 0,
                   .RedirectionHint = (Low & MSI_COMPAT_RH) != 0,
                   .DeliveryMode = (uint8_t)((Data >> 8) & 7u),
                   .Vector = (uint8_t)Data,
                   .Level = (Data & MSI_DATA_LEVEL) != 0},
    };
    if ((Low & MSI_SHV) != 0)
        Request.Index += Data & MSI_SUBHANDLE_MASK;
    return SimpRemap(Unit, &Request, SourceId, Interrupt);
}

SIM_IOMMU_OUTCOME SimIommuRemapIoApicEntry(uint32_t Unit, uint64_t Entry, uint16_t SourceId,
                                           SIM_IOMMU_INTERRUPT *Interrupt)
{
    SIMP_REQUEST Request = {
        .Remappable = (Entry & RTE_REMAPPABLE) != 0,
        .ReservedSet = (Entry & RTE_RESERVED) != 0,
        .Index = ((Entry & RTE_HANDLE_15) != 0 ? 1u << 15 : 0u) | (uint32_t)(Entry >> RTE_HANDLE_SHIFT),
        .Compat = {.Destination = (uint32_t)(Entry >> RTE_DEST_SHIFT),
                   .Logical = (Entry & RTE_DM) != 0,
                   .DeliveryMode = (uint8_t)((Entry >> 8) & 7u),
                   .Vector = (uint8_t)Entry,
                   .Level = (Entry & RTE_LEVEL) != 0},
    };
    return SimpRemap(Unit, &Request, SourceId, Interrupt);
}

/* One of a unit's fault counters, read under its lock (0 for no unit). */
static uint64_t SimpReadFaultCounter(uint32_t Unit, bool Dropped)
{
    if (Unit >= SimpIommuCount)
        return 0;
    SIMP_IOMMU *Iommu = &SimpIommus[Unit];
    pthread_mutex_lock(&Iommu->Lock);
    uint64_t Count = Dropped ? Iommu->DroppedFaults : Iommu->RecordedFaults;
    pthread_mutex_unlock(&Iommu->Lock);
    return Count;
}

uint64_t SimIommuRecordedFaultCount(uint32_t Unit)
{
    return SimpReadFaultCounter(Unit, false);
}

uint64_t SimIommuDroppedFaultCount(uint32_t Unit)
{
    return SimpReadFaultCounter(Unit, true);
}

/* ---- Lifetime -------------------------------------------------------------------------------------------- */

static bool SimpIommuConfigIsValid(const SIM_IOMMU_CONFIG *Configs, uint32_t Count)
{
    for (uint32_t Index = 0; Index < Count; Index++) {
        if (Configs[Index].Address == 0 || Configs[Index].Address % VTD_PAGE != 0 ||
            Configs[Index].FaultRecordCount > SIMP_MAX_FAULT_RECORDS)
            return false;
        for (uint32_t Other = 0; Other < Index; Other++) {
            if (Configs[Other].Address == Configs[Index].Address)
                return false;
        }
    }
    return true;
}

int SimIommuCreate(const SIM_IOMMU_CONFIG *Configs, uint32_t Count)
{
    if (Configs == NULL || Count == 0 || Count > SIM_MAX_IOMMUS || !SimpIommuConfigIsValid(Configs, Count))
        return -1;
    SimIommuDestroy();
    for (uint32_t Index = 0; Index < Count; Index++) {
        SIMP_IOMMU *Unit = &SimpIommus[Index];
        *Unit = (SIMP_IOMMU){
            .Address = Configs[Index].Address,
            .Eim = Configs[Index].ExtendedInterruptMode,
            .FaultRecordCount = Configs[Index].FaultRecordCount == 0 ? 1u : Configs[Index].FaultRecordCount,
            .Fectl = FECTL_IM, /* 10.4.10: the fault event interrupt is masked at reset */
            .Iectl = IECTL_IM,
            .Cache = calloc(SIMP_IRTE_ENTRIES, sizeof(SIMP_IRTE_CACHE)),
        };
        pthread_mutex_init(&Unit->Lock, NULL);
        if (Unit->Cache == NULL) {
            SimpIommuCount = Index + 1u;
            SimIommuDestroy();
            return -1;
        }
    }
    SimpIommuCount = Count;
    return 0;
}

void SimIommuDestroy(void)
{
    for (uint32_t Index = 0; Index < SimpIommuCount; Index++) {
        pthread_mutex_destroy(&SimpIommus[Index].Lock);
        free(SimpIommus[Index].Cache);
        SimpIommus[Index].Cache = NULL;
    }
    SimpIommuCount = 0;
}
