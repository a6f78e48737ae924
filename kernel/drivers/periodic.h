/* SPDX-License-Identifier: MIT */
/*
 * The kernel's periodic duties (periodic.c), run from a passive-level loop
 * on the BSP (the demo's console loop calls RkPeriodicRun every time round):
 *  - the storm poll, IoPollStormedInterrupts, every RK_STORM_POLL_MS (it
 *    also advances Ke's storm clock: docs/storms.md);
 *  - one IrBalancer over the connected devices' movable interrupts
 *    (balance.h), a round once a second while balancing is on, or once on
 *    request.
 * The kernel's test suite runs no periodic work: its cases poll and
 * balance themselves where they need it.
 */
#ifndef KERNEL_PERIODIC_H
#define KERNEL_PERIODIC_H

#include <stdbool.h>
#include <stdint.h>

#include <irqroute/balance.h>

#include "device.h"

/* Linux polls stormed lines every 100 ms (kernel/irq/spurious.c). */
#define RK_STORM_POLL_MS 100u
#define RK_BALANCE_PERIOD_MS 1000u

/* The balancer's storage from the pool (panics when the pool is exhausted);
 * balancing starts off. Call once, after the devices are probed. */
void RkPeriodicInitialize(void);
/* Call often at PASSIVE_LEVEL with interrupts enabled, from one CPU: runs
 * what is due. Returns true when it wrote news into Message (a balancing
 * round that planned, a storm masked or a stormed line given back). */
bool RkPeriodicRun(char *Message, uint32_t Size);

/* Balancing on (a round each RK_BALANCE_PERIOD_MS) or off. */
void RkBalancerEnable(bool Enable);
bool RkBalancerIsEnabled(void);
/* The next rounds until one plans (the first after a change of the
 * devices' connections only measures), then the report in Message. */
void RkBalancerRequestOnce(void);

/* The device one of whose interrupts Interrupt is, or NULL. */
RK_DEVICE *RkDeviceOfInterrupt(const KINTERRUPT *Interrupt);

#endif
