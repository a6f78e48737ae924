/* SPDX-License-Identifier: MIT */
/*
 * AP trampoline: copied to RK_TRAMPOLINE_ADDRESS (0x8000) by smp.c and
 * started there by a start-up IPI with vector 0x08.
 *
 * After INIT and SIPI the AP runs in real mode with CS = vector << 8 (base
 * 0x8000) and IP = 0 (SDM vol. 3A 8.4.4.1, "Typical AP Initialization
 * Sequence", and 11.6.1). The code is therefore addressed relative to CS:
 * every operand below is an offset from RkTrampolineStart, fixed at
 * assembly time, so the copy works wherever this blob was linked.
 *
 * real mode -> protected mode (SDM 9.9.1 "Switching to Protected Mode"):
 * load the kernel's GDT (its 32-bit base is below 4 GiB, so the 32-bit
 * LGDT form reaches it), set CR0.PE, far-jump to the kernel's 32-bit code
 * segment. From there the AP takes the same path to long mode as the BSP
 * (boot.S, RkStartLongMode32), with EBP = 1 marking it an AP.
 */
#include "kernel.h"

    .section .rodata.trampoline, "a"
    .code16
    .global RkTrampolineStart, RkTrampolineEnd
RkTrampolineStart:
    cli
    cld
    lgdtl %cs:(RkTrampolineGdtPointer - RkTrampolineStart)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    movl $1, %ebp
    /* 16-bit code, 32-bit offset: the far jump leaves real mode for the
     * kernel's flat 32-bit code segment. */
    ljmpl $RK_SELECTOR_CODE32, $RkStartLongMode32

    .balign 8
    .word 0
RkTrampolineGdtPointer:
    .word RK_GDT_ENTRIES * 8 - 1 /* boot.S checks the count */
    .long RkGdt
RkTrampolineEnd:

    .section .note.GNU-stack, "", @progbits
