/* SPDX-License-Identifier: MIT */
/*
 * The reference kernel's shared interface, what arch/ offers the layers
 * above it (drivers/, ktest/, demo/, main.c): boot layout, per-CPU control
 * region, console, time, memory, ACPI and SMP. Every kernel name carries the
 * prefix Rk (RK_ for macros and types, Rkp for a file's own helpers), so it
 * is never mistaken for the library's (Ke, Ki, Hl, Io, Ir, Vic).
 *
 * This header is shared by the C files and the GNU assembler files
 * (arch/boot.S, arch/trampoline.S, arch/interrupt.S); the part the
 * assembler sees is the block of plain #defines below, everything else is
 * guarded by __ASSEMBLER__.
 */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

/* ---- Layout shared with the assembler --------------------------------------- */

/* GDT selectors (boot.S builds the table). */
#define RK_SELECTOR_CODE64 0x08
#define RK_SELECTOR_DATA 0x10
#define RK_SELECTOR_CODE32 0x18
#define RK_GDT_ENTRIES 4 /* the boot GDT; each CPU's own GDT adds its TSS descriptor */
#define RK_SELECTOR_TSS (RK_GDT_ENTRIES * 8)
/* Interrupt stack table slot for NMI, #DF and #MC (SDM 6.14.5): they run on
 * a stack of their own, so even a stack overflow ends in a register dump
 * rather than a triple fault. */
#define RK_IST_FAULT 1
#define RK_FAULT_STACK_SIZE 8192

/* CPUs this kernel can start: the library's limit (IR_MAX_CPUS, checked in
 * percpu.c); what QEMU's q35 offers (4096 with x2APIC). Only the small
 * per-CPU tables (RK_PCR) are static arrays of this size: the stacks, TSS and
 * GDT of each CPU are allocated from the pool when the CPU is started. */
#define RK_MAX_CPUS 4096
/* xAPIC ids are 8 bits and 0xFF is the broadcast (SDM vol. 3A 11.6.2.1):
 * without x2APIC a machine has at most 255 CPUs, with ids 0-254. */
#define RK_XAPIC_MAX_APIC_ID 0xFE
#define RK_XAPIC_MAX_CPUS 255
#define RK_STACK_SIZE 16384
/* The BSP's stack, in .bss: the tests run on it. Larger than an AP's, but
 * no place for arrays of RK_MAX_CPUS entries (4096 x 76 bytes of
 * KE_VECTOR_USAGE alone would be 311 KiB): those belong in static storage. */
#define RK_BOOT_STACK_SIZE (64 * 1024)

/* The AP trampoline runs from here: the SIPI vector is its page number
 * (SDM vol. 3A 8.4.4.1 / 11.6.1, "Start-Up"), 0x08 -> 0x8000. QEMU's
 * multiboot loader puts the memory map at 0x9000 and the multiboot
 * information at 0x9500 (docs/qemu.md; MULTIBOOT_STRUCT_ADDR in QEMU's
 * hw/i386/multiboot.c), so the trampoline must fit below 0x9000. */
#define RK_TRAMPOLINE_ADDRESS 0x8000
#define RK_TRAMPOLINE_LIMIT 0x1000
#define RK_SIPI_VECTOR (RK_TRAMPOLINE_ADDRESS >> 12)

/* Byte offsets in RK_PCR (checked against the C layout in percpu.c). */
#define RK_PCR_NUMBER 8

/* isa-debug-exit values; QEMU exits with (value << 1) | 1. */
#define RK_EXIT_SUCCESS 0x10 /* host status 33 */
#define RK_EXIT_FAILURE 0x11 /* host status 35 */
#define RK_EXIT_PANIC 0x12   /* host status 37 */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <irqroute/hl.h>

/* ---- Port I/O and CPU instructions ------------------------------------------------ */

/* RkOutByte/RkInByte, RkOutWord/RkInWord, RkOutLong/RkInLong: one pair per
 * operand size of OUT and IN (Intel SDM vol. 2: the port in DX or an 8-bit
 * immediate, the value in AL, AX or EAX). */
#define RK_PORT_ACCESSORS(Size, Type, Suffix)                                \
    static inline void RkOut##Size(uint16_t Port, Type Value)               \
    {                                                                        \
        __asm__ volatile("out" Suffix " %0, %1" : : "a"(Value), "Nd"(Port)); \
    }                                                                        \
    static inline Type RkIn##Size(uint16_t Port)                             \
    {                                                                        \
        Type Value;                                                          \
        __asm__ volatile("in" Suffix " %1, %0" : "=a"(Value) : "Nd"(Port));  \
        return Value;                                                        \
    }

RK_PORT_ACCESSORS(Byte, uint8_t, "b")
RK_PORT_ACCESSORS(Word, uint16_t, "w")
RK_PORT_ACCESSORS(Long, uint32_t, "l")

#undef RK_PORT_ACCESSORS

static inline uint64_t RkReadTsc(void)
{
    uint32_t Low, High;
    __asm__ volatile("rdtsc" : "=a"(Low), "=d"(High));
    return (uint64_t)High << 32 | Low;
}

/* CPUID (SDM vol. 2A, "CPUID"). */
static inline void RkCpuid(uint32_t Leaf, uint32_t Subleaf, uint32_t Registers[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(Registers[0]), "=b"(Registers[1]), "=c"(Registers[2]), "=d"(Registers[3])
                     : "a"(Leaf), "c"(Subleaf));
}

static inline void RkEnableInterrupts(void)
{
    __asm__ volatile("sti" : : : "memory");
}

static inline void RkHalt(void)
{
    __asm__ volatile("hlt" : : : "memory");
}

/* A pointer to physical memory (identity mapped). The empty asm hides the
 * constant from gcc, which otherwise warns about "array bounds" of objects
 * it believes live at small fixed addresses (the BIOS data area, 0x8000). */
static inline void *RkPhysical(uintptr_t Address)
{
    __asm__("" : "+r"(Address));
    return (void *)Address;
}

/* ---- Per-CPU control region (percpu.c) ------------------------------------------ */

/* One per CPU, reached through the GS base (IA32_GS_BASE, SDM vol. 3A
 * 3.4.4 "Segment Loading Instructions in IA-32e Mode"). This kernel never
 * enters user mode, so GS is never swapped. */
typedef struct _RK_PCR {
    struct _RK_PCR *Self; /* offset 0 */
    uint32_t Number;      /* offset 8 (RK_PCR_NUMBER): the CPU index */
    uint32_t ApicId;
    uint64_t StackTop;
    volatile uint32_t Online;
    struct _RK_PROCESSOR_TABLES *Tables; /* this CPU's GDT and TSS (percpu.c) */
} RK_PCR;

extern RK_PCR RkPcr[RK_MAX_CPUS];
extern uint32_t RkProcessorCount; /* CPUs running, BSP included (RkStartProcessors) */

/* Points this CPU's GS base at RkPcr[Cpu] (StackTop and Tables, set by
 * RkAllocateProcessor, are kept). */
void RkInitializePcr(uint32_t Cpu, uint32_t ApicId);
RK_PCR *RkGetPcr(void);
/* On the BSP, before Cpu runs: allocates Cpu's stack (the BSP keeps its
 * boot stack), its fault stack, GDT and TSS from the pool. Returns false
 * when the pool is exhausted (nothing is kept then). */
bool RkAllocateProcessor(uint32_t Cpu);
/* On Cpu itself, after RkAllocateProcessor: loads its own GDT and its TSS
 * (the IST stack for NMI, #DF, #MC). */
void RkInitializeTss(uint32_t Cpu);

/* ---- Console (serial.c, print.c) ------------------------------------------------- */

void RkSerialInitialize(void);
void RkSerialPutChar(char Character);
/* Returns true and the byte when COM1 has received one (polled). */
bool RkSerialTryGetChar(char *Character);

/* printf subset: %s %c %d %u %x %lx %ld %lu %p %%, with optional '0' flag and
 * width (%08x). Lines from different CPUs never interleave. */
void RkPrint(const char *Format, ...) __attribute__((format(printf, 1, 2)));
void RkVPrint(const char *Format, va_list Arguments);
/* The same formatting into Buffer (NUL-terminated, truncated to Size);
 * returns the length written. */
size_t RkFormatString(char *Buffer, size_t Size, const char *Format, ...) __attribute__((format(printf, 3, 4)));
/* Holds the console across several RkPrint calls (recursive on one CPU);
 * returns whether interrupts were enabled, for RkReleaseConsole. */
bool RkAcquireConsole(void);
void RkReleaseConsole(bool WasEnabled);
/* Prints and exits QEMU with RK_EXIT_PANIC. */
__attribute__((noreturn)) void RkPanic(const char *Format, ...) __attribute__((format(printf, 1, 2)));
/* Writes Value to isa-debug-exit; halts if the device is absent. */
__attribute__((noreturn)) void RkExit(uint32_t Value);

/* ---- Spin lock (spinlock.c) ---------------------------------------------------------- */

/* The kernel's own lock, for state shared between CPUs and with an ISR. */
typedef struct _RK_SPIN_LOCK {
    _Atomic bool Locked;
} RK_SPIN_LOCK;
#define RK_SPIN_LOCK_INIT {false}

/* Interrupts off, then the lock; returns whether interrupts were enabled. */
bool RkAcquireSpinLock(RK_SPIN_LOCK *Lock);
void RkReleaseSpinLock(RK_SPIN_LOCK *Lock, bool WasEnabled);
/* In an ISR (interrupts are already off): the lock alone. */
void RkAcquireSpinLockInIsr(RK_SPIN_LOCK *Lock);
void RkReleaseSpinLockInIsr(RK_SPIN_LOCK *Lock);

/* ---- Time (timer.c) ---------------------------------------------------------------- */

/* Chooses the clock (the HPET main counter when there is a usable one, else
 * the TSC) and measures the TSC rate against it (median of bracketed
 * samples); prints a "timer:" line. */
void RkCalibrateStall(void);
/* Waits at least Microseconds by the clock, which keeps counting while the
 * vCPU is descheduled (a stall only makes the wait longer). */
void RkStallMicroseconds(uint64_t Microseconds);
/* An estimate for cheap TSC-based loops; deadlines use RkQueryMicroseconds. */
uint64_t RkTscPerMillisecond(void);
/* Microseconds since RkCalibrateStall, read from the clock. */
uint64_t RkQueryMicroseconds(void);
/* "HPET at 0xfed00000, period 10000000 fs, ...; TSC ... kHz (...)". */
void RkTimeSourceDescription(char *Buffer, size_t Size);

/* ---- The MMIO window ---------------------------------------------------------------- */

/* The I/O APIC, local APIC, remapping units and PCI BARs live in the
 * uncached fourth GiB of the identity map (boot.S). */
#define RK_MMIO_WINDOW_START 0xC0000000ull
#define RK_MMIO_WINDOW_END 0x100000000ull

static inline bool RkInMmioWindow(uint64_t Address)
{
    return Address >= RK_MMIO_WINDOW_START && Address < RK_MMIO_WINDOW_END;
}

/* ---- Memory (memory.c) ------------------------------------------------------------- */

/* Builds the pool from the loader's memory map (multiboot information flags
 * bit 6, else mem_upper): the RAM between the kernel's end and the uncached
 * MMIO window. Reads the multiboot information before writing anything. */
void RkInitializeMemory(uint32_t MultibootInfo);
size_t RkMemoryInUse(void);
size_t RkMemorySize(void); /* bytes the pool manages, in use or free */
void *memset(void *Destination, int Value, size_t Size);
void *memcpy(void *Destination, const void *Source, size_t Size);
void *memmove(void *Destination, const void *Source, size_t Size);
int memcmp(const void *A, const void *B, size_t Size);

/* ---- Interrupts (idt.c, interrupt.S) ----------------------------------------------- */

/* What the common entry path pushed, lowest address first. */
typedef struct _RK_TRAP_FRAME {
    uint64_t R15, R14, R13, R12, R11, R10, R9, R8;
    uint64_t Rbp, Rdi, Rsi, Rdx, Rcx, Rbx, Rax;
    uint64_t Vector;
    uint64_t ErrorCode; /* pushed by the CPU for some exceptions, else 0 */
    uint64_t Rip, Cs, Rflags, Rsp, Ss; /* the CPU's frame (SDM 6.14.2) */
} RK_TRAP_FRAME;

/* Builds the IDT once (BSP); every CPU then loads it. */
void RkInitializeIdt(void);
void RkLoadIdt(void);
/* Called by the common stub with interrupts disabled. */
void RkInterruptEntry(uint32_t Cpu, uint32_t Vector, RK_TRAP_FRAME *Frame);

/* ---- ACPI (acpi.c) ---------------------------------------------------------------- */

/* Finds the RSDP and walks the RSDT (or XSDT) to the MADT, checking every
 * checksum and length on the way. Returns false when there is none. The
 * parsed MADT (HlMadtParse) is kept in RkMadt. */
bool RkAcpiFindMadt(const void **Madt, uint32_t *Length);
/* Any other table by its four-character signature ("DMAR"): false if absent. */
bool RkAcpiFindTable(const char *Signature, const void **Table, uint32_t *Length);
extern HL_MADT_INFO RkMadt;
void RkAcpiPrintMadt(const HL_MADT_INFO *Info);

/* ---- Interrupt remapping (remapping.c) ----------------------------------------------- */

/* After the I/O APICs are registered and the local APIC mode is chosen:
 * the DMAR's units enabled and the I/O APICs assigned to them (nothing
 * without a DMAR or with "noremap"). */
void RkInitializeRemapping(void);
/* Whether some remapping unit is on. */
bool RkRemappingIsOn(void);

/* ---- SMP (smp.c) ------------------------------------------------------------------- */

/* Numbers the enabled MADT processors (BSP 0, the others in MADT order);
 * returns how many CPUs the kernel will run. */
uint32_t RkAssignProcessors(uint32_t BspApicId);
/* Code an AP runs before its first local APIC access (NULL: none). */
typedef void (*RK_AP_EARLY_HOOK)(uint32_t Cpu);
/* Starts every enabled MADT processor other than the BSP, each running
 * EarlyHook first. Returns the number of CPUs running (BSP included). */
uint32_t RkStartProcessors(RK_AP_EARLY_HOOK EarlyHook);
/* The CPU index the kernel gave each MADT processor (RK_MAX_CPUS or more:
 * none). */
uint32_t RkCpuOfMadtProcessor(uint32_t MadtIndex);
/* An AP's C entry (boot.S), on the stack the BSP put in RkApBootStack. */
__attribute__((noreturn)) void RkApStartup(void);
/* On the calling CPU: puts its local APIC in the selected mode before any
 * other access (HlLapicEnable), then reads its APIC id from the ID register
 * and checks it against CPUID (leaf 0BH where offered). False, with a
 * message, when either fails. */
bool RkIdentifyProcessor(uint32_t Cpu, uint32_t *ApicId);
/* Brings up this CPU's local APIC and registers it (BSP and APs); sets its
 * RK_PCR Online flag when everything succeeded. */
void RkInitializeProcessor(uint32_t Cpu);
/* "x2APIC" or "xAPIC": the mode every local APIC runs in. */
const char *RkLapicModeName(void);
/* The idle loop: interrupts on, hlt. */
__attribute__((noreturn)) void RkIdleLoop(void);

/* ---- The AP early hook main.c gives arch (ktest/ktest_regcheck.c) ------------------ */

/* On an AP before RkInitializeProcessor (RK_AP_EARLY_HOOK): on the one AP
 * chosen for it, runs the IA32_APIC_BASE transitions script and gives the
 * local APIC back as found (KTEST regcheck_mode); elsewhere nothing. The mode
 * switch can only be checked before the CPU's local APIC is in use, so the
 * check sits in the AP's start path rather than in the suite (ktest/ktest.h). */
void RkRunModeSwitchCheck(uint32_t Cpu);

/* ---- Boot options (main.c) ------------------------------------------------------------ */

/* Whether the multiboot command line (QEMU -append) contains Word as a
 * whole blank-separated word. */
bool RkCommandLineHas(const char *Word);

/* ---- Boot (boot.S, main.c) ----------------------------------------------------------- */

__attribute__((noreturn)) void RkSystemStartup(uint32_t Magic, uint32_t MultibootInfo);
extern const char RkTrampolineStart[], RkTrampolineEnd[];
extern volatile uint64_t RkApBootStack; /* read by the AP's first 64-bit instructions */

#endif /* __ASSEMBLER__ */
#endif
