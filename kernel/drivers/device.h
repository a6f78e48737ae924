/* SPDX-License-Identifier: MIT */
/*
 * The reference kernel's devices: what the test suite (ktest_*.c) and the
 * demo console (demo.c) know of the drivers (device.c, drv_*.c, pci.c).
 *
 * Every device interrupt is connected through the library only
 * (IoConnectDevice / IoConnectInterruptEx): no driver touches the IDT, the
 * I/O APIC or a vector number. Each driver's ISR acknowledges its device,
 * counts the interrupt for the CPU that ran it and records that CPU's LAPIC
 * id (read from the LAPIC in the ISR, not from a table), so a test can say
 * which CPU really took each interrupt.
 */
#ifndef KERNEL_DEVICE_H
#define KERNEL_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/io.h>

#include "kernel.h"

typedef enum _RK_DEVICE_ID {
    RkDevicePit = 0,  /* "pit":  8254 channel 0, ISA IRQ0 (GSI 2 through QEMU's override), edge */
    RkDeviceRtc,      /* "rtc":  MC146818 periodic interrupt, ISA IRQ8, edge; the ISR reads register C */
    RkDeviceCom1,     /* "com1": 16550 at 0x3F8, ISA IRQ4, receive (and transmit-empty on demand) */
    RkDeviceKeyboard, /* "kbd":  8042 PS/2 keyboard, ISA IRQ1; raised on demand by command 0xD2 */
    RkDeviceEdu,      /* "edu":  QEMU edu PCI 1234:11e8, one MSI, raised by writing 0x60 */
    RkDeviceIgb,      /* "igb":  Intel 82576 PCI 8086:10c9 (optional), MSI-X vector 0, raised through EICS */
    RkDeviceCount
} RK_DEVICE_ID;

typedef struct _RK_DEVICE RK_DEVICE;

/* How a device's interrupts are routed: the template's routing fields. */
typedef struct _RK_DEVICE_ROUTING {
    IO_DEVICE_ROUTING Routing; /* IoDeviceFixed, IoDeviceRoundRobin, IoDeviceLowest, IoDeviceBroadcast, IoDeviceAffinity */
    uint32_t Cpu;              /* IoDeviceFixed; IR_CPU_NONE with a Mask: least loaded of the mask */
    IR_CPU_SET Mask;           /* empty: every online CPU */
    bool NotMovable;           /* IoDeviceFixed only: a plain IoTargetCpu connection (not movable) */
} RK_DEVICE_ROUTING;

struct _RK_DEVICE {
    const char *Name;        /* "pit", "rtc", "com1", "kbd", "edu", "igb" */
    RK_DEVICE_ID Id;
    const struct _RK_DRIVER *Driver;
    bool Present;            /* found by RkInitializeDevices (edu, igb: on the PCI bus; others: always) */
    bool Connected;
    bool Shared;             /* connected with the share flag (level lines shared with another ISR) */
    RK_DEVICE_ROUTING Routing;   /* as connected, or as last re-routed */
    IR_CPU_SET ConnectedSet;     /* the CPU set the connection may move over */
    bool Started;                /* RkDeviceStart'ed (re-started after a reconnect) */
    uint32_t Hz;                 /* the rate it was started with */
    IO_DEVICE_CONNECTION Connection;
    /* ISR runs per CPU index (this device's ISR claimed the interrupt);
     * CpuCount entries from the pool (RkInitializeDevices). */
    volatile uint64_t *Count;
    /* ISR runs per CPU index, claimed or not (as /proc/interrupts counts):
     * under BROADCAST every CPU of the set runs the ISR, one of them claims. */
    volatile uint64_t *Runs;
    uint32_t CpuCount; /* RkProcessorCount when the devices were probed */
    volatile uint32_t LastApicId; /* LAPIC id read in the last ISR run */
    volatile uint64_t Raised;     /* RkDeviceRaise calls that asked the device for one interrupt */
    /* An extra routine the ISR calls after counting (a test's probe or the
     * demo's keyboard echo); NULL: none. Runs at the device's IRQL. */
    void (*Observer)(RK_DEVICE *Device, uint32_t Cpu, void *Context);
    void *ObserverContext;
};

/* Probes every device (PCI scan for edu, with its BAR and MSI capability),
 * leaves each one quiet (no interrupt source enabled) and disconnected, and
 * gives it per-CPU counts for every running CPU (from the pool; panics when
 * the pool is exhausted). Call once after the CPUs are online. */
void RkInitializeDevices(void);

RK_DEVICE *RkDeviceGet(RK_DEVICE_ID Id);
/* By name ("pit", "rtc", "com1", "kbd", "edu", "igb"); NULL if unknown. */
RK_DEVICE *RkDeviceByName(const char *Name);

/* Connects the device's interrupts with Routing (NULL: the default template,
 * FIXED to CPU 0), through IoConnectDevice; line devices are made movable
 * (IoTargetRoutable over the mask) whenever the routing allows, so that
 * RkDeviceRoute can move them live. NOT_SUPPORTED: device absent (or, for
 * edu, without an MSI capability);
 * ALREADY_CONNECTED / the Io status otherwise. Counts are not reset. */
IRQ_STATUS RkDeviceConnect(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing);
/* IoDisconnectDevice; afterwards the ISR never runs again. The device's
 * interrupt source is stopped first (RkDeviceStop). */
IRQ_STATUS RkDeviceDisconnect(RK_DEVICE *Device);
/* Changes the routing of a connected device while it may fire: a move
 * within the connected set (fixed CPU, round-robin, lowest) is done live
 * with IoRouteDevice (IoSetInterruptPolicy / IoSetInterruptTarget per
 * interrupt), never masking the line;
 * anything else reconnects (disconnect, connect). */
IRQ_STATUS RkDeviceRoute(RK_DEVICE *Device, const RK_DEVICE_ROUTING *Routing);

/* Starts / stops the device's own interrupt source: PIT periodic at HzHint,
 * RTC periodic (rate from HzHint, rounded to a power of two 2..8192 Hz),
 * COM1 receive interrupts, keyboard (enables its IRQ in the 8042), edu (MSI
 * enable bit). HzHint 0: the driver's default. */
IRQ_STATUS RkDeviceStart(RK_DEVICE *Device, uint32_t HzHint);
IRQ_STATUS RkDeviceStop(RK_DEVICE *Device);
/* Makes the device raise one interrupt now, where it can (edu: write 0x60;
 * kbd: 8042 command 0xD2 + byte; com1: transmit-holding-empty; pit: a mode 0
 * one-shot, one edge, INVALID_STATE while started; rtc: NOT_SUPPORTED, it is
 * periodic only, drv_rtc.c says why). */
IRQ_STATUS RkDeviceRaise(RK_DEVICE *Device);

uint64_t RkDeviceTotal(const RK_DEVICE *Device);
void RkDeviceResetCounts(RK_DEVICE *Device);
/* Waits (polling, interrupts enabled on this CPU) until the device's total
 * reaches Total or TimeoutMs passes; returns whether it did. */
bool RkDeviceWaitTotal(const RK_DEVICE *Device, uint64_t Total, uint32_t TimeoutMs);

/* The GSI of a line device or the MSI address/data of edu, and the vector, for
 * display ("GSI 8", "MSI"); false when not connected. */
bool RkDeviceDescribe(const RK_DEVICE *Device, char *Buffer, uint32_t Size);

/* edu: the next RkDeviceConnect uses PCI INTA# (a shared, level-triggered
 * line) instead of MSI (false, the default). */
void RkEduUseLegacyInterrupt(bool Legacy);

/* The console's input: bytes COM1's receive ISR took from the UART (a ring
 * the ISR fills), or, while COM1 is not connected, a byte polled from the
 * UART. Returns false when there is none. */
bool RkDeviceReadInput(char *Character);

#endif
