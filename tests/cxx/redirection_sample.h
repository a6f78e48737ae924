/* SPDX-License-Identifier: MIT */
/*
 * One I/O APIC redirection entry written through every bit-field (82093AA
 * 3.2.4). Bit-field order is the compiler's choice, so C (c_layout.c, which
 * records the value at build time) and C++ (sim_boot.cpp, which compares)
 * must fill the same fields with the same values: both take them from here.
 * Valid C and C++.
 */
#ifndef IRQROUTE_REDIRECTION_SAMPLE_H
#define IRQROUTE_REDIRECTION_SAMPLE_H

#include <irqroute/hl.h>

static inline IOAPIC_REDIRECTION_ENTRY CxxRedirectionSample(void)
{
    IOAPIC_REDIRECTION_ENTRY Entry;
    Entry.Value = 0;
    Entry.Bits.Vector = 0x41;
    Entry.Bits.DeliveryMode = 1;
    Entry.Bits.DestinationMode = 1;
    Entry.Bits.Polarity = 1;
    Entry.Bits.TriggerMode = 1;
    Entry.Bits.Mask = 1;
    Entry.Bits.Destination = 0xA5;
    return Entry;
}

#endif
