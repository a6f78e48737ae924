/* SPDX-License-Identifier: MIT */
/*
 * The step constructors and register masks the register scripts share
 * (script_lapic_ioapic.c, script_mode_switch.c). Data only: every script is
 * a table of REGCHECK_STEP built with these.
 */
#ifndef IRQROUTE_REGCHECK_SCRIPT_STEPS_H
#define IRQROUTE_REGCHECK_SCRIPT_STEPS_H

#include "regscript.h"

/* ---- Step constructors ----------------------------------------------------------------- */

#define ALL32 0xFFFFFFFFull

#define READ(N, R, E, M) {.Kind = RegcheckReadLapic, .Name = (N), .Register = (R), .Expected = (E), .Mask = (M)}
#define READ_IN(Mode_, N, R, E, M) \
    {.Kind = RegcheckReadLapic, .Mode = (Mode_), .Name = (N), .Register = (R), .Expected = (E), .Mask = (M)}
#define READ_SYM(Mode_, N, R, S, M) \
    {.Kind = RegcheckReadLapic, .Mode = (Mode_), .Name = (N), .Register = (R), .Symbol = (S), .Mask = (M)}
/* The ISR/TMR/IRR word of vector V holds exactly V's bit (or nothing). */
#define READ_BIT(N, R, V) \
    {.Kind = RegcheckReadLapic, .Name = (N), .Register = (R), .Expected = (V), .Symbol = RegcheckVectorBit, .Mask = ALL32}
#define POLL_BIT(N, R, V)                                                                                         \
    {.Kind = RegcheckReadLapic, .Name = (N), .Register = (R), .Expected = (V), .Symbol = RegcheckVectorBit, \
     .Mask = ALL32, .Flags = REGCHECK_FLAG_POLL}
#define WRITE(N, R, V) {.Kind = RegcheckWriteLapic, .Name = (N), .Register = (R), .Value = (V)}
#define WRITE_IN(Mode_, N, R, V) {.Kind = RegcheckWriteLapic, .Mode = (Mode_), .Name = (N), .Register = (R), .Value = (V)}

#define IO_READ(N, R, E, M) {.Kind = RegcheckReadIoApic, .Name = (N), .Register = (R), .Expected = (E), .Mask = (M)}
#define IO_POLL(N, R, E, M) \
    {.Kind = RegcheckReadIoApic, .Name = (N), .Register = (R), .Expected = (E), .Mask = (M), .Flags = REGCHECK_FLAG_POLL}
#define IO_WRITE(N, R, V) {.Kind = RegcheckWriteIoApic, .Name = (N), .Register = (R), .Value = (V)}

#define SELF_IPI(N, V) {.Kind = RegcheckSendSelfIpi, .Name = (N), .Value = (V)}
#define ACCEPT(N, Count) {.Kind = RegcheckAccept, .Name = (N), .Value = (Count)}
/* What the handler of interrupt #I of the last accept read at its entry. */
#define IN_SERVICE(N, I, R, E) \
    {.Kind = RegcheckReadInService, .Name = (N), .Register = (R), .Value = (I), .Expected = (E), .Mask = ALL32}
#define IN_SERVICE_BIT(N, I, R, V)                                                                      \
    {.Kind = RegcheckReadInService, .Name = (N), .Register = (R), .Value = (I), .Expected = (V), \
     .Symbol = RegcheckVectorBit, .Mask = ALL32}

/* ---- Masks and values ------------------------------------------------------------------ */

/* IA32_APIC_BASE (11.4.4): base 35:12, EN 11, EXTD 10, BSP 8. */
#define APIC_BASE_CHECKED 0xFFFFFFD00ull
#define APIC_BASE_XAPIC 0xFEE00900ull  /* 0xFEE00000, EN, BSP */
#define APIC_BASE_X2APIC 0xFEE00D00ull /* and EXTD */
/* LVT (11.5.1 figure 11-8): every defined bit but the read-only delivery
 * status (12), which is transient. */
#define LVT_CHECKED 0x0007EFFFull
/* ICR low (11.6.1 figure 11-12): vector, delivery mode, destination mode,
 * level, trigger, shorthand; not the delivery status (12). */
#define ICR_LOW_CHECKED 0x000CCFFFull
#define ICR_SELF_FIXED 0x00044000u  /* shorthand self, level assert (as HlLapicSendIpi writes it) */
#define ICR_PHYSICAL_FIXED 0x00004000u
/* RTE low dword (82093AA 3.2.4): vector 7:0, delivery mode 10:8,
 * destination mode 11, delivery status 12, polarity 13, Remote IRR 14,
 * trigger 15, mask 16; 31:17 reserved. */
#define RTE_LOW_DEFINED 0x0001FFFFull
#define RTE_LOW_NO_STATUS 0x0001EFFFull /* without the transient delivery status */
#define RTE_HIGH_DESTINATION 0xFF000000ull
#define RTE_MASKED 0x00010000u
#define RTE_LEVEL 0x00008000u
#define RTE_REMOTE_IRR 0x00004000u
#endif
