/* SPDX-License-Identifier: MIT */
/*
 * The NT-like kernel's own view, for a translation unit that includes
 * irqroute's headers: only names irqroute does not use (Nt*). The kernel's
 * Ke... and Io... functions themselves are declared in nt_kernel.c alone, since in a
 * unit that includes irqroute/config.h built with IRQROUTE_SYMBOL_PREFIX the
 * names KeRaiseIrql, IoConnectInterrupt ... are irqroute's (docs/porting.md,
 * "Linking into a kernel with its own Ke... and Io...").
 */
#ifndef NT_KERNEL_H
#define NT_KERNEL_H

/* Exercises the kernel's KeRaiseIrql, KeLowerIrql, KeAcquireSpinLock,
 * KeReleaseSpinLock, IoConnectInterrupt, IoDisconnectInterrupt and
 * KeSynchronizeExecution; returns the number of checks that failed. */
int NtKernelSelfCheck(void);
/* The NT-like kernel's own IRQL (not irqroute's). */
unsigned NtKernelCurrentIrql(void);
/* Raises the kernel's IRQL with its own KeRaiseIrql (returns the old one). */
unsigned NtKernelRaiseIrql(unsigned NewIrql);

#endif
