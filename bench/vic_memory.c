/* SPDX-License-Identifier: MIT */
/*
 * vic_memory: the Vic's memory per CPU at a few machine sizes, for the Alpha
 * and the x86 configurations (VicAlphaConfig, VicX86Config), printed as a
 * table (bench/run.py prints it under the timings, next to Ke's). Not a
 * timed case: the figures are sizes, the same on every run.
 *
 * VicQueryStorageSize is everything the Vic uses (it allocates nothing):
 * the header, the source table, one route per source (whose CPU sets grow
 * with the CPU count: router.h) and one block per CPU (the check word's
 * line, the owner's line, the IPI counters and a pending word per level:
 * src/vic/vic.c has the layout). Per CPU = total / CPUs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <irqroute/vic.h>

static size_t StorageSize(const VIC_CONFIG *Config)
{
    size_t Size;
    if (VicQueryStorageSize(Config, &Size) != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "vic_memory: VicQueryStorageSize refused the configuration\n");
        exit(1);
    }
    return Size;
}

int main(void)
{
    static const uint32_t Sizes[] = {4, 256, 4096};
    static VIC_SOURCE_DESCRIPTOR X86Sources[VIC_X86_SOURCE_COUNT];
    printf("%-6s %14s %12s %14s %12s\n", "CPUs", "Alpha total", "Alpha/CPU", "x86 total", "x86/CPU");
    for (uint32_t Index = 0; Index < sizeof(Sizes) / sizeof(Sizes[0]); Index++) {
        uint32_t Cpus = Sizes[Index];
        VIC_CONFIG Alpha;
        VIC_CONFIG X86;
        VicAlphaConfig(&Alpha, Cpus);
        VicX86Config(&X86, Cpus, X86Sources);
        size_t AlphaSize = StorageSize(&Alpha);
        size_t X86Size = StorageSize(&X86);
        printf("%-6u %14zu %12.1f %14zu %12.1f\n", Cpus, AlphaSize, (double)AlphaSize / Cpus, X86Size,
               (double)X86Size / Cpus);
    }
    return 0;
}
