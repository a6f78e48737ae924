/* SPDX-License-Identifier: MIT */
/*
 * Boot: multiboot1 header, the 32-bit entry, the 32 -> 64-bit switch that
 * the BSP and the APs share, and the first 64-bit instructions.
 *
 * Multiboot 1 spec, section 3.2 "Machine state": the loader enters in
 * 32-bit protected mode with paging off, EAX = 0x2BADB002, EBX = the
 * physical address of the multiboot information; GDTR, IDTR and ESP are
 * not to be trusted.
 *
 * Long mode is entered as Intel SDM vol. 3A 9.8.5 "Initializing IA-32e
 * Mode" says: protected mode with PAE (CR4.PAE), CR3 = a PML4, then
 * IA32_EFER.LME, then CR0.PG; then a far jump to a 64-bit code segment.
 * The page tables map the first 4 GiB 1:1 with 2 MiB pages (SDM 4.5,
 * "4-Level Paging", table 4-17); the fourth GiB, where the I/O APIC
 * (0xFEC00000), local APIC (0xFEE00000), HPET and PCI BARs live, is mapped
 * with PCD|PWT (uncached, SDM 11.12.3 table 11-11 gives UC for PCD=1 PWT=1
 * with the power-on PAT). No RAM this kernel uses lies there.
 */
#include "kernel.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
/* Flags bit 0: modules page aligned; bit 1: memory information wanted. */
#define MULTIBOOT_HEADER_FLAGS 0x00000003

#define CR0_PE 0x00000001
#define CR0_NW 0x20000000
#define CR0_CD 0x40000000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xC0000080
#define EFER_LME 0x00000100

/* Page-table entry bits (SDM 4.5, tables 4-14 .. 4-18). */
#define PTE_PRESENT 0x001
#define PTE_WRITE 0x002
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_LARGE 0x080 /* PS: this PDE maps a 2 MiB page */
#define PD_ENTRIES_4GIB 2048
#define PD_FIRST_UNCACHED 1536 /* 3 GiB / 2 MiB */

/* ---- Multiboot header (Multiboot 1 spec 3.1.1): first 8 KiB, 4-aligned ---- */
    .section .multiboot, "a"
    .balign 4
RkMultibootHeader:
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_HEADER_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

/* ---- BSP 32-bit entry ----------------------------------------------------- */
    .section .text
    .code32
    .global _start
_start:
    cli
    cld
    /* Keep the loader's hand-over before anything clobbers EAX/EBX. */
    movl %eax, RkBootMagic
    movl %ebx, RkBootInfo

    /* The loader's GDT is not ours: load the kernel's before using our
     * selectors. Its data segments are flat, so this read is fine. */
    lgdt RkGdtPointer32
    ljmp $RK_SELECTOR_CODE32, $1f
1:  movl $RK_SELECTOR_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss

    /* Zero .bss: the page tables, stacks and every C global live there. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. */
    movl $RkPageDirectoryPointerTable, %eax
    orl $(PTE_PRESENT | PTE_WRITE), %eax
    movl %eax, RkPml4

    movl $RkPageDirectories, %eax
    orl $(PTE_PRESENT | PTE_WRITE), %eax
    movl $RkPageDirectoryPointerTable, %edi
    movl $4, %ecx
2:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 2b

    /* 2048 PDEs of 2 MiB: PDE i maps physical i << 21 (the high dword of
     * every entry stays 0 from the .bss clear). */
    movl $RkPageDirectories, %edi
    xorl %ecx, %ecx
3:  movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_PRESENT | PTE_WRITE | PTE_LARGE), %eax
    cmpl $PD_FIRST_UNCACHED, %ecx
    jb 4f
    orl $(PTE_PCD | PTE_PWT), %eax
4:  movl %eax, (%edi,%ecx,8)
    incl %ecx
    cmpl $PD_ENTRIES_4GIB, %ecx
    jb 3b

    xorl %ebp, %ebp /* EBP = 0: the BSP (the trampoline sets 1 for an AP) */
    jmp RkStartLongMode32

/* Every data segment register from the kernel's flat data descriptor, in
 * 32-bit protected mode and again in 64-bit mode (EAX is clobbered). */
.macro LOAD_DATA_SEGMENTS
    movl $RK_SELECTOR_DATA, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
.endm

/* ---- 32 -> 64-bit switch, shared with the APs ------------------------------
 * Entered in 32-bit protected mode on RK_SELECTOR_CODE32 with the kernel's
 * GDT loaded; EBP = 0 on the BSP, 1 on an AP. Uses no stack. */
    .global RkStartLongMode32
RkStartLongMode32:
    LOAD_DATA_SEGMENTS

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4

    movl $RkPml4, %eax
    movl %eax, %cr3

    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr

    /* An AP leaves INIT with CD and NW set (SDM 9.1.1, table 9-1): turn the
     * caches on as the BSP's firmware did. */
    movl %cr0, %eax
    andl $~(CR0_CD | CR0_NW), %eax
    orl $(CR0_PG | CR0_PE), %eax
    movl %eax, %cr0

    ljmp $RK_SELECTOR_CODE64, $RkLongModeEntry

/* ---- First 64-bit instructions ------------------------------------------- */
    .code64
RkLongModeEntry:
    /* Loading GS zeroes its base; C then sets IA32_GS_BASE and GS is never
     * loaded again. */
    LOAD_DATA_SEGMENTS

    testl %ebp, %ebp
    jnz 5f
    movq $(RkBootStack + RK_BOOT_STACK_SIZE), %rsp
    xorl %ebp, %ebp
    movl RkBootMagic(%rip), %edi
    movl RkBootInfo(%rip), %esi
    call RkSystemStartup
    jmp RkHaltForever

5:  movq RkApBootStack(%rip), %rsp
    xorl %ebp, %ebp
    call RkApStartup

RkHaltForever:
    cli
    hlt
    jmp RkHaltForever

/* ---- GDT (SDM 3.4.5 "Segment Descriptors"; 5.2.1 for the L bit) --------- */
    .section .data
    .balign 16
    .global RkGdt, RkGdtEnd
RkGdt:
    .quad 0                  /* null */
    .quad 0x00AF9B000000FFFF /* 0x08: 64-bit code, DPL 0, L=1, accessed */
    .quad 0x00CF93000000FFFF /* 0x10: flat data, 4 GiB, accessed */
    .quad 0x00CF9B000000FFFF /* 0x18: 32-bit flat code (boot and trampoline) */
RkGdtEnd:
    .if (RkGdtEnd - RkGdt) != (RK_GDT_ENTRIES * 8)
    .error "RK_GDT_ENTRIES does not match the GDT"
    .endif
    /* The boot GDT has no TSS: each CPU switches to a copy of it with its
     * own TSS descriptor (RkInitializeTss, percpu.c). */

    .balign 8
    .word 0
    .global RkGdtPointer32
RkGdtPointer32:
    .word RkGdtEnd - RkGdt - 1
    .long RkGdt

    .balign 8
    .global RkBootMagic, RkBootInfo
RkBootMagic:
    .long 0
RkBootInfo:
    .long 0

/* ---- Page tables ---------------------------------------------------------- */
    .section .bss
    .balign 4096
    .global RkPml4
RkPml4:
    .skip 4096
RkPageDirectoryPointerTable:
    .skip 4096
RkPageDirectories:
    .skip 4 * 4096

    .section .note.GNU-stack, "", @progbits
