/* SPDX-License-Identifier: MIT */
/*
 * The 256 IDT entry stubs and their one common path.
 *
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP (SDM vol. 3A 6.14.2, "64-Bit Mode
 * Stack Frame"), plus an error code for vectors 8, 10-14, 17, 21, 29 and 30
 * (SDM 6.15, "Exception and Interrupt Reference"; 6.13 "Error Code").
 * Every stub makes the frame uniform (a 0 error code where the CPU pushed
 * none), pushes its vector and jumps to RkCommonEntry, which saves the
 * general registers and calls
 *     RkInterruptEntry(Cpu, Vector, RK_TRAP_FRAME *Frame)
 * with Cpu read from the per-CPU region (GS). That C function sends
 * exceptions to the register dump and every other vector to the library's
 * central dispatcher: no handler is ever installed in the IDT directly.
 *
 * Stubs are 16-byte aligned: stub v is at RkInterruptStubs + 16 * v (each
 * is at most 2 + 5 + 5 bytes).
 */
#include "kernel.h"

#define RK_STUB_SIZE 16

    .section .text
    .code64
    .balign RK_STUB_SIZE
    .global RkInterruptStubs
RkInterruptStubs:
    .set RkVector, 0
    .rept 256
    .balign RK_STUB_SIZE
    .if (RkVector == 8) || ((RkVector >= 10) && (RkVector <= 14)) || (RkVector == 17) || (RkVector == 21) || (RkVector == 29) || (RkVector == 30)
    /* the CPU pushed an error code */
    .else
    pushq $0
    .endif
    pushq $RkVector
    jmp RkCommonEntry
    .set RkVector, RkVector + 1
    .endr

/* The stack is 16-byte aligned when the CPU starts the frame (SDM 6.14.2);
 * the frame (5 words), error code, vector and 15 registers are 22 words, so
 * RSP is 16-byte aligned again at the call, as the SysV ABI asks. */
RkCommonEntry:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    cld
    movl %gs:RK_PCR_NUMBER, %edi
    movl 15*8(%rsp), %esi
    movq %rsp, %rdx
    call RkInterruptEntry
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp /* vector and error code */
    iretq

    .section .note.GNU-stack, "", @progbits
