/* SPDX-License-Identifier: MIT */
/*
 * KeAmd64VectorLayout: how an NT-style amd64 kernel lays out its 256 vectors.
 *
 * On amd64 the IRQL is the task-priority class the CPU runs at: KeRaiseIrql
 * writes CR8, which is the local APIC TPR's class (Intel SDM vol. 3A 11.8.3.1
 * "Task and Processor Priorities": an interrupt is held in the IRR while its
 * vector >> 4 is at or below the processor-priority class). So a device
 * interrupt at IRQL n must use a vector of class n, and TPR n << 4 holds back
 * exactly the IRQLs 0..n.
 *
 * Vectors 0x00-0x1F are the CPU's exceptions (SDM vol. 3A 6.2) and class 0x1/0x2
 * carry the software APC and DPC vectors; devices get classes 3-12
 * (0x30-0xCF). Classes 13-15 belong to the clock, IPIs and the top-priority
 * vectors. The reserved vectors are the fixed set the kernel installs for
 * itself; three of them (spurious 0x3F, reboot 0x50, generic 0xC1) sit inside
 * the device range and are therefore never handed out.
 */
#include <irqroute/ke.h>

static const uint8_t KipAmd64ReservedVectors[] = {
    0x1F, /* APC */
    0x2F, /* DPC */
    0x3F, /* spurious (also SpuriousVector below) */
    0x50, /* reboot */
    0xC1, /* generic call */
    0xD1, /* clock */
    0xD2, /* clock IPI */
    0xE1, /* IPI (also IpiVector below) */
    0xE3, /* local APIC error */
    0xFD, /* profile */
    0xFE, /* performance counters */
    0xFF, /* NMI */
};

#define KIP_CLASS(Class) ((uint16_t)(1u << (Class)))

const KE_VECTOR_LAYOUT KeAmd64VectorLayout = {
    .FirstDeviceVector = 0x30,
    .LastDeviceVector = 0xCF,
    .ReservedVectors = KipAmd64ReservedVectors,
    .ReservedVectorCount = sizeof(KipAmd64ReservedVectors) / sizeof(KipAmd64ReservedVectors[0]),
    .SpuriousVector = 0x3F,
    .IpiVector = 0xE1,
    /* IRQL n <-> class n for the device IRQLs; PASSIVE..DISPATCH and
     * CLOCK..HIGH have no device vectors. */
    .ClassesOfIrql = {
        [3] = KIP_CLASS(3),
        [4] = KIP_CLASS(4),
        [5] = KIP_CLASS(5),
        [6] = KIP_CLASS(6),
        [7] = KIP_CLASS(7),
        [8] = KIP_CLASS(8),
        [9] = KIP_CLASS(9),
        [10] = KIP_CLASS(10),
        [11] = KIP_CLASS(11),
        [12] = KIP_CLASS(12),
    },
    .TprOfIrql = {
        0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70,
        0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0, 0xE0, 0xF0,
    },
};
