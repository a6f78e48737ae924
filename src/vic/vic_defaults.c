/* SPDX-License-Identifier: MIT */
/*
 * Default source tables: an Alpha system (OpenVMS PALcode IPL assignments)
 * and the x86 priority classes.
 *
 * Alpha (Alpha SRM, OpenVMS PALcode; as the reference emulator assigns them):
 * software interrupts 1-15 at IPL 1-15 (SIRR/SISR), ASTs at IPL 2, device
 * interrupts at IPL 20-23, interval clock and interprocessor interrupts at
 * 22, performance counters at 29, power fail at 30, machine check at 31.
 * Sixteen device sources per device IPL (64 in all, as many as a
 * Tsunami-class chipset's DRIR has bits); an emulator with other needs
 * passes a table of its own (up to 32 sources a level).
 */
#include <stdbool.h>
#include <stdint.h>

#include <irqroute/vic.h>

#define SW(n) [VIC_ALPHA_SOFTWARE(n)] = {n, VicSourceSoftware}
#define DEVICE_LEVEL(ipl)                                                                              \
    [VIC_ALPHA_DEVICE(ipl, 0)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 1)] = {ipl, VicSourceDevice},   \
    [VIC_ALPHA_DEVICE(ipl, 2)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 3)] = {ipl, VicSourceDevice},   \
    [VIC_ALPHA_DEVICE(ipl, 4)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 5)] = {ipl, VicSourceDevice},   \
    [VIC_ALPHA_DEVICE(ipl, 6)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 7)] = {ipl, VicSourceDevice},   \
    [VIC_ALPHA_DEVICE(ipl, 8)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 9)] = {ipl, VicSourceDevice},   \
    [VIC_ALPHA_DEVICE(ipl, 10)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 11)] = {ipl, VicSourceDevice}, \
    [VIC_ALPHA_DEVICE(ipl, 12)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 13)] = {ipl, VicSourceDevice}, \
    [VIC_ALPHA_DEVICE(ipl, 14)] = {ipl, VicSourceDevice}, [VIC_ALPHA_DEVICE(ipl, 15)] = {ipl, VicSourceDevice}

/* Source 0 is a hole (level 0), so that source n is software interrupt n. */
const VIC_SOURCE_DESCRIPTOR VicAlphaSources[VIC_ALPHA_SOURCE_COUNT] = {
    [0] = {0, VicSourceDevice},
    SW(1), SW(2), SW(3), SW(4), SW(5), SW(6), SW(7), SW(8),
    SW(9), SW(10), SW(11), SW(12), SW(13), SW(14), SW(15),
    [VIC_ALPHA_IPI] = {22, VicSourceIpi},
    [VIC_ALPHA_CLOCK] = {22, VicSourceClock},
    [VIC_ALPHA_PERFORMANCE0] = {29, VicSourcePerformance},
    [VIC_ALPHA_PERFORMANCE1] = {29, VicSourcePerformance},
    [VIC_ALPHA_POWER_FAIL] = {30, VicSourcePowerFail},
    [VIC_ALPHA_MACHINE_CHECK] = {31, VicSourceMachineCheck},
    DEVICE_LEVEL(20), DEVICE_LEVEL(21), DEVICE_LEVEL(22), DEVICE_LEVEL(23),
};

void VicAlphaConfig(VIC_CONFIG *Config, uint32_t CpuCount)
{
    Config->CpuCount = CpuCount;
    Config->LevelCount = 32;
    Config->SourceCount = VIC_ALPHA_SOURCE_COUNT;
    Config->Sources = VicAlphaSources;
    Config->AstLevel = VIC_ALPHA_AST_LEVEL;
    Config->Wake = NULL;
    Config->WakeContext = NULL;
    Config->WakeOnPending = false;
}

/* x86: the priority class is the vector's high nibble (SDM vol. 3A 11.8.3),
 * the TPR/PPR compare classes, so level = vector >> 4 and 16 vectors share a
 * level. Vectors 0-15 are exceptions, never interrupts: holes. */
void VicX86Config(VIC_CONFIG *Config, uint32_t CpuCount, VIC_SOURCE_DESCRIPTOR Sources[VIC_X86_SOURCE_COUNT])
{
    for (uint32_t Vector = 0; Vector < VIC_X86_SOURCE_COUNT; Vector++) {
        Sources[Vector].Level = Vector >> 4;
        Sources[Vector].Kind = VicSourceDevice;
    }
    Sources[VIC_X86_IPI_VECTOR].Kind = VicSourceIpi;
    Sources[VIC_X86_CLOCK_VECTOR].Kind = VicSourceClock;
    Sources[VIC_X86_PERFORMANCE_VECTOR].Kind = VicSourcePerformance;
    Config->CpuCount = CpuCount;
    Config->LevelCount = 16;
    Config->SourceCount = VIC_X86_SOURCE_COUNT;
    Config->Sources = Sources;
    Config->AstLevel = 0;
    Config->Wake = NULL;
    Config->WakeContext = NULL;
    Config->WakeOnPending = false;
}
