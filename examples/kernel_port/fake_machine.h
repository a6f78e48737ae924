/* SPDX-License-Identifier: MIT */
/*
 * The fake machine behind hooks.c: one 82093AA I/O APIC (24 pins, behind its
 * index/window pair at 0xFEC00000) and one CPU whose local APIC is reached
 * through the x2APIC MSRs. A real port has no such header: its hooks touch
 * the hardware. port.c uses it to look at the "hardware" from outside, as a
 * logic analyser would.
 */
#ifndef KERNEL_PORT_FAKE_MACHINE_H
#define KERNEL_PORT_FAKE_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#define FAKE_IOAPIC_BASE 0xFEC00000u
#define FAKE_IOAPIC_PINS 24u
/* The CPU's APIC id: deliberately not its index (0), as on real machines. */
#define FAKE_APIC_ID 6u

/* Redirection entry of a pin, bits 63:0 (82093AA 3.2.4), bypassing IOREGSEL. */
uint64_t FakeIoApicPeekEntry(uint32_t Pin);
/* EOI writes the local APIC received (x2APIC MSR 0x80B). */
uint64_t FakeLapicEoiCount(void);
/* The task-priority register as last written (MSR 0x808). */
uint32_t FakeLapicTpr(void);
/* The CPU's interrupt flag (RFLAGS.IF) as the hooks keep it. */
bool FakeInterruptsEnabled(void);

#endif
