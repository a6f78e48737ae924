/* SPDX-License-Identifier: MIT */
/*
 * What device.c asks of each driver (drv_*.c). The device layer owns the
 * connection (template, IoConnectDevice, the common ISR, the counts); a
 * driver knows its hardware: how its interrupts are wired, how to make them
 * come and go, and how to acknowledge one.
 */
#ifndef KERNEL_DRIVER_H
#define KERNEL_DRIVER_H

#include "device.h"
#include "pci.h"

typedef struct _RK_DRIVER {
    /* Finds the hardware and leaves it quiet; false: absent. NULL: a PC
     * chip that is always there, quieted by Stop. */
    bool (*Probe)(RK_DEVICE *Device);
    /* The wiring part of the template: Kind, Bus, Lines, Count, Trigger,
     * Polarity, Share, UpdateMessage (the routing part is device.c's).
     * NULL: one edge-triggered ISA line, IsaIrq (the bus's defaults and the
     * MADT's overrides decide trigger and polarity). */
    void (*DescribeInterrupts)(RK_DEVICE *Device, IO_DEVICE_TEMPLATE *Template);
    uint32_t IsaIrq;
    /* After IoConnectDevice succeeded (edu: writes the MSI message); NULL: none. */
    IRQ_STATUS (*Connected)(RK_DEVICE *Device);
    /* Before IoDisconnectDevice, after Stop (edu: MSI off); NULL: none. */
    void (*Disconnecting)(RK_DEVICE *Device);
    /* The device's own source on and off; NULL: it has none (it interrupts
     * only when raised). */
    IRQ_STATUS (*Start)(RK_DEVICE *Device, uint32_t HzHint);
    IRQ_STATUS (*Stop)(RK_DEVICE *Device);
    /* One interrupt now; NULL: NOT_SUPPORTED. */
    IRQ_STATUS (*Raise)(RK_DEVICE *Device);
    /* The ISR's hardware part: acknowledges the device's interrupt and says
     * whether the device had one (a shared level line asks every sharer). */
    bool (*Acknowledge)(RK_DEVICE *Device);
} RK_DRIVER;

extern const RK_DRIVER RkPitDriver;
extern const RK_DRIVER RkRtcDriver;
extern const RK_DRIVER RkCom1Driver;
extern const RK_DRIVER RkKeyboardDriver;
extern const RK_DRIVER RkEduDriver;
extern const RK_DRIVER RkIgbDriver;

/* edu's PCI function (false before a successful probe). */
bool RkEduPciFunction(RK_PCI_FUNCTION *Function);

/* igb (drv_igb.c): its MSI-X table and requester id (false before a
 * successful probe); how many of its vectors the table has (0: absent);
 * MSI-X on or off in its capability (NOT_SUPPORTED: absent); one raise of
 * vector Vector through EICS (INVALID_PARAMETER: absent, or no such
 * vector). */
bool RkIgbMsix(HL_MSIX_TABLE *Table, uint16_t *RequesterId);
uint32_t RkIgbVectorCount(void);
IRQ_STATUS RkIgbEnableMsix(bool Enable);
IRQ_STATUS RkIgbRaiseVector(uint32_t Vector);

/* Reads (and so clears) the RTC's register C: true when IRQF was up, that
 * is, the periodic interrupt had raised its line (an edge went out) and no
 * ISR has read C since. For a test that must know an edge is pending on a
 * CPU that cannot take it yet. */
bool RkRtcTakePeriodicFlag(void);

/* COM1's receive ring (device.c): the ISR puts, the console takes. */
void RkDevicePutInput(char Character);

/* Polls Condition until it holds or TimeoutUs passes (drivers waiting on a
 * status bit); returns its last value. */
bool RkPollPort(uint16_t Port, uint8_t Mask, uint8_t Value, uint32_t TimeoutUs);

#endif
