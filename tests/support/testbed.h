/* SPDX-License-Identifier: MIT */
/*
 * Test fixtures over the sim: boot a system, act as a CPU, service a CPU.
 *
 * Deterministic tests boot without service threads: the test thread is
 * attached to a "home" CPU for API calls, and TbService(cpu) takes what is
 * pending on another CPU, as that CPU would when it next enabled interrupts.
 */
#ifndef IRQROUTE_TESTBED_H
#define IRQROUTE_TESTBED_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <irqroute/hl.h>
#include <irqroute/io.h>
#include <irqroute/ke.h>

#include "sim.h"
#include "simboot.h"

#define TB_HOME_CPU 0u

/* Boots CpuCount CPUs (OnlineCount of them started; 0 = all) and attaches
 * the test thread to TB_HOME_CPU. Fails the test on error. */
void TbBoot(uint32_t CpuCount, uint32_t OnlineCount, bool Threads);
void TbBootConfig(const SIM_SYSTEM_CONFIG *Config);
void TbShutdown(void);
/* cmocka fixtures: four CPUs without service threads; shut down. */
int TbSetupFourCpus(void **State);
/* Four CPUs without service threads, CPU 3 never started (offline). */
int TbSetupThreeOfFourCpus(void **State);
int TbTeardown(void **State);
/* Monotonic time in ns, for the liveness bounds of concurrency tests (a
 * lost interrupt must not hang a test; nothing asserts a duration). */
int64_t TbNowNs(void);
/* A cmocka test run on a fresh four-CPU boot (TbSetupFourCpus). */
#define TB_FOUR_CPU_TEST(Test) cmocka_unit_test_setup_teardown(Test, TbSetupFourCpus, TbTeardown)
/* Two cmocka tests, Name_xapic and Name_x2apic, running Body(false) and
 * Body(true): one scenario in each local APIC mode. */
#define TB_TESTS_IN_BOTH_LAPIC_MODES(Name, Body) \
    static void Name##_xapic(void **State)       \
    {                                            \
        (void)State;                             \
        Body(false);                             \
    }                                            \
    static void Name##_x2apic(void **State)      \
    {                                            \
        (void)State;                             \
        Body(true);                              \
    }
/* The hardware layer alone on the sim (no Ke), for the Hl tests: creates
 * the sim from Config and selects its LAPIC mode (x2APIC when the CPUs offer
 * it); then, after the caller has registered what it needs (I/O APICs,
 * overrides), brings every CPU up as a kernel does (HlLapicEnable, the id
 * read back, HlRegisterProcessor, HlLapicInitializeProcessor; SkipLapic only
 * registers, its local APIC left as firmware left it; IR_CPU_NONE: none) and
 * leaves the test thread on TB_HOME_CPU with interrupts disabled. */
#define TB_SPURIOUS_VECTOR 0xFFu
void TbStartHardwareLayer(const SIM_CONFIG *Config);
void TbStartHardwareCpus(uint32_t CpuCount, uint32_t SkipLapic);
/* One CPU brought up as kernel/arch/smp.c does, by the test thread attached
 * to it: HlLapicEnable, the id read back (it must be the sim's), then
 * HlRegisterProcessor and HlLapicInitializeProcessor (TB_SPURIOUS_VECTOR). */
void TbBringUpAttachedCpu(uint32_t Cpu);
int TbTeardownHardwareLayer(void **State);
/* cmocka fixture: the hardware layer on the machine *State names (a const
 * SIM_CONFIG, given per test by TB_HARDWARE_TEST), every CPU brought up. */
int TbSetupHardware(void **State);
#define TB_HARDWARE_TEST(Test, Config) \
    cmocka_unit_test_prestate_setup_teardown(Test, TbSetupHardware, TbTeardownHardwareLayer, (void *)(Config))
/* x2APIC, six CPUs, for the "reachable by a device" tests: CPUs 0, 1 and 5
 * have APIC ids a device's 8-bit destination can name (1, 0xFE, 3); 2, 3
 * and 4 (0xFF, 0x100, 0x11F) have not (Intel SDM vol. 3A 11.12: x2APIC ids
 * are 32 bits; an I/O APIC or MSI destination holds 8). */
#define TB_WIDE_CPUS 6u
extern const uint32_t TbWideApicIds[TB_WIDE_CPUS];
/* cmocka fixture: boots those six CPUs without service threads. */
int TbSetupWide(void **State);
/* The wide system's CPUs no device reaches: 2, 3 and 4. */
IR_CPU_SET TbWideUnreachableCpus(void);
/* The set of the Count CPUs listed in Cpus. */
IR_CPU_SET TbCpuList(const uint32_t *Cpus, uint32_t Count);
/* CPUs First..Last. */
IR_CPU_SET TbCpuRange(uint32_t First, uint32_t Last);
/* The CPU whose APIC id is ApicId (the test fails if none). */
uint32_t TbCpuOfApicId(uint32_t ApicId);
/* The CPU a line's redirection entry sends to (physical destination). */
uint32_t TbEntryCpu(uint32_t Gsi);
/* Where a movable interrupt is delivered now (IoQueryInterruptTarget must succeed). */
uint32_t TbQueryCpu(const KINTERRUPT *Interrupt);
/* Four CPUs and two I/O APICs: the first (id 2) with 24 pins for GSIs 0-23,
 * the second (id 3) with 16 for GSIs 24-39. */
#define TB_IOAPIC0_ID 2u
#define TB_IOAPIC1_ID 3u
#define TB_IOAPIC0_BASE 0xFEC00000u
#define TB_IOAPIC1_BASE 0xFEC01000u
#define TB_IOAPIC1_GSI_BASE 24u
extern const SIM_CONFIG TbTwoIoApicConfig;
/* ---- Faults the sim raises (SimSetFaultHandler) --------------------------------
 * TbCatchFaults installs a handler (after the sim is created: SimDestroy
 * removes it) that counts each fault in TbFaultCount (from 0); a fault outside TB_EXPECT_FAULT
 * fails the test with the sim's message. TB_EXPECT_FAULT(Statement, Text)
 * runs Statement, which must fault exactly once with Text in the message;
 * the faulting access is abandoned there (longjmp), as a #GP would end the
 * instruction. Variables that Statement changes must be volatile. */
void TbCatchFaults(void);
extern jmp_buf TbFaultResume;
extern volatile bool TbFaultExpected;
extern volatile uint32_t TbFaultCount;
extern volatile uint64_t TbFaultWhere;
extern char TbFaultText[512];
bool TbFaultTextHas(const char *Text);

/* Runs Statement, which must leave through longjmp(Resume) exactly once: a
 * handler counts into Count and jumps while Armed is set (What names the
 * event in a failure). The core of TB_EXPECT_FAULT, and of any other hook
 * that abandons the statement the same way. */
#define TB_EXPECT_ONE_JUMP(Statement, Resume, Armed, Count, What)                                      \
    do {                                                                                               \
        uint32_t TbpCountBefore = (Count);                                                             \
        if (setjmp(Resume) == 0) {                                                                     \
            (Armed) = true;                                                                            \
            Statement;                                                                                 \
        }                                                                                              \
        (Armed) = false;                                                                               \
        if ((Count) != TbpCountBefore + 1u)                                                            \
            fail_msg("%s: expected one %s, got %u", #Statement, What, (Count) - TbpCountBefore);       \
    } while (0)

#define TB_EXPECT_FAULT(Statement, Text)                                                               \
    do {                                                                                               \
        TB_EXPECT_ONE_JUMP(Statement, TbFaultResume, TbFaultExpected, TbFaultCount, "fault");          \
        if (!TbFaultTextHas(Text))                                                                     \
            fail_msg("%s: fault \"%s\" does not say \"%s\"", #Statement, TbFaultText, Text);            \
    } while (0)

/* The tests' random scripts: xorshift32, so a seed replays a script. */
uint32_t TbNextRandom(uint32_t *Seed);
/* A line- or message-based target: one CPU. */
IO_INTERRUPT_TARGET TbTargetCpu(uint32_t Cpu);
/* A movable target: Cpu (IR_CPU_NONE: the library picks) within Mask. */
IO_INTERRUPT_TARGET TbTargetRoutable(const IR_CPU_SET *Mask, uint32_t Cpu);
/* Services Cpu's pending interrupts from the test thread, then re-attaches
 * to the home CPU. Returns how many were dispatched. */
uint32_t TbService(uint32_t Cpu);
/* Services every CPU whose IRR holds the IPI vector, where a move's retire
 * request waits (src/ke/link.c), each of them taking exactly that one
 * interrupt; returns how many CPUs there were. Call it after a move in a
 * test without service threads, before counting a CPU's interrupts. */
uint32_t TbServiceMoveRequests(void);

/* A connected line's routing as the I/O APIC holds it. */
IOAPIC_REDIRECTION_ENTRY TbPeekEntry(uint32_t Gsi);
/* Total device vectors allocated on every CPU (leak checks). */
uint32_t TbTotalAllocatedVectors(void);

/* What a failed call must leave alone: vectors in use on every CPU and the
 * first I/O APIC's 24 redirection entries. */
typedef struct _TB_SNAPSHOT {
    uint32_t Vectors;
    uint64_t Entries[24];
} TB_SNAPSHOT;

TB_SNAPSHOT TbTakeSnapshot(void);
void TbAssertUnchanged(const TB_SNAPSHOT *Before);

/* Line-based connection with the common defaults. */
IRQ_STATUS TbConnectLine(KINTERRUPT **Interrupt, PKSERVICE_ROUTINE Isr, void *Context, HL_LINE_BUS Bus,
                         uint32_t Number, IO_INTERRUPT_TARGET Target, bool Share);

/* A counting ISR: records where it ran and how often. */
typedef struct _TB_ISR_RECORD {
    _Atomic uint64_t Calls;
    _Atomic uint32_t LastCpu;
    _Atomic uint32_t LastApicId;
    _Atomic uint32_t LastIrql;
    bool Claim;
    /* A level-triggered device drops its line when serviced: with
     * DeassertGsi set, a claiming ISR deasserts it (as a driver's ISR clears
     * its device's interrupt condition). */
    bool Deassert;
    uint32_t DeassertGsi;
} TB_ISR_RECORD;

bool TbCountingIsr(KINTERRUPT *Interrupt, void *Context);
/* Servicing Cpu (TbService) dispatches exactly one interrupt, and Record's
 * ISR ran there. */
void TbAssertHandledOn(uint32_t Cpu, TB_ISR_RECORD *Record);
/* TbConnectLine with TbCountingIsr counting into Record, targeted at one CPU. */
IRQ_STATUS TbConnectCounted(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, HL_LINE_BUS Bus, uint32_t Number,
                            uint32_t Cpu, bool Share);
/* TbConnectCounted of ISA IRQ Irq to Cpu, unshared, which must succeed:
 * returns the object. */
KINTERRUPT *TbConnectIsaToCpu(TB_ISR_RECORD *Record, uint32_t Irq, uint32_t Cpu);
/* Message-based connection with TbCountingIsr counting into Record, at
 * KE_IRQL_ANY; the message the device is to write in *Message. */
IRQ_STATUS TbConnectMessage(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                            HL_MSI_MESSAGE *Message);
/* TbConnectMessage to one CPU, which must succeed: returns the object. */
KINTERRUPT *TbConnectMessageToCpu(TB_ISR_RECORD *Record, uint32_t Cpu, HL_MSI_MESSAGE *Message);
/* The parameters TbConnectMessage passes to IoConnectInterruptEx, for a test
 * that adds to them (an update routine, a requester id). */
IO_CONNECT_INTERRUPT_PARAMETERS TbMessageParameters(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record,
                                                    IO_INTERRUPT_TARGET Target, HL_MSI_MESSAGE *Message);
/* The same with the driver's routine that rewrites the device's message
 * when the interrupt moves (required for a movable target). */
IRQ_STATUS TbConnectUpdatedMessage(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, IO_INTERRUPT_TARGET Target,
                                   HL_MSI_MESSAGE *Message, PIO_MSI_UPDATE_ROUTINE Update, void *UpdateContext);
/* One line-based connect that bad input must have refused: the target and
 * the documented status it is refused with. */
typedef struct _TB_REFUSED_TARGET {
    IO_INTERRUPT_TARGET Target;
    IRQ_STATUS Expected;
} TB_REFUSED_TARGET;
/* Connects Bus/Number (TbCountingIsr, not shared) once per case: each is
 * refused with its Expected status and leaves nothing behind, no object
 * handed out and the vectors and I/O APIC entries as they were. */
void TbAssertLineTargetsRefused(HL_LINE_BUS Bus, uint32_t Number, const TB_REFUSED_TARGET *Cases, uint32_t Count);
/* The same, not shared, at a requested Irql and SynchronizeIrql (0: none
 * asked for, the ISR runs at Irql). */
IRQ_STATUS TbConnectCountedAtIrql(KINTERRUPT **Interrupt, TB_ISR_RECORD *Record, HL_LINE_BUS Bus, uint32_t Number,
                                  uint32_t Cpu, KIRQL Irql, KIRQL SynchronizeIrql);

#endif
