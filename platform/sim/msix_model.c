/* SPDX-License-Identifier: MIT */
/*
 * MSI-X functions: a table and a pending bit array in MMIO, as PCI Local
 * Bus 3.0 6.8.2 defines them, behind a device that raises vector k on
 * demand (SimMsixRaise), as a NIC's queue k does.
 *
 * Table entry k: 16 bytes at TableAddress + 16k (6.8.2.6-6.8.2.9): address
 * low, address high, data, vector control (bit 0 mask; 31:1 reserved, read
 * as 0). PBA: QWORDs, bit k for entry k (6.8.2.10), read-only. After reset
 * every entry is masked (6.8.2.9: "the Mask bit is set after reset").
 *
 * What the hardware does, and so the model:
 *  - a raise of an unmasked entry sends its message at once (SimMsiWrite,
 *    or SimMsiWriteThroughIommu for a function behind a VT-d unit);
 *  - a raise of a masked entry sets its pending bit and sends nothing;
 *    further raises while masked merge into that one bit;
 *  - clearing the mask bit of an entry whose pending bit is set clears it
 *    and sends the message the entry holds then, once.
 * Accesses are aligned DWORDs or QWORDs (6.8.2: "DWORD or QWORD"); any
 * other size or alignment, a write to the PBA, or an access past the table
 * faults (SimFault). An address or data write to an unmasked entry is
 * accepted but counted (SimMsixUnmaskedRewriteCount): 6.8.2.9 makes the
 * result undefined, so a driver that does it is wrong even when it works.
 *
 * Decisions are made under the model's lock; the message is sent after it
 * is dropped (delivery takes no model lock, and SimFault may not be called
 * under one).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_internal.h"

#define MSIX_ENTRY_SIZE 16u
#define MSIX_VECTOR_CONTROL 0xCu
#define MSIX_MASK_BIT 0x1u
#define MSIX_MAX_ENTRIES 2048u

typedef struct _SIMP_MSIX_ENTRY {
    uint32_t AddressLow;
    uint32_t AddressHigh;
    uint32_t Data;
    bool Masked;
    bool Pending;
    uint64_t Sent;
} SIMP_MSIX_ENTRY;

typedef struct _SIMP_MSIX_DEVICE {
    bool InUse;
    SIM_MSIX_CONFIG Config;
    SIMP_MSIX_ENTRY *Entries;
    uint64_t UnmaskedRewrites;
} SIMP_MSIX_DEVICE;

static pthread_mutex_t SimpMsixLock = PTHREAD_MUTEX_INITIALIZER;
static SIMP_MSIX_DEVICE SimpMsixDevices[SIM_MAX_MSIX_DEVICES];

/* A message to send once the lock is dropped. */
typedef struct _SIMP_MSIX_SEND {
    bool Send;
    uint64_t Address;
    uint32_t Data;
    SIM_MSIX_CONFIG Config;
} SIMP_MSIX_SEND;

static uint32_t SimpPbaBytes(uint32_t EntryCount)
{
    return (EntryCount + 63u) / 64u * 8u;
}

static bool SimpOverlaps(uintptr_t A, uint32_t ASize, uintptr_t B, uint32_t BSize)
{
    return A < B + BSize && B < A + ASize;
}

static bool SimpConfigValid(const SIM_MSIX_CONFIG *Config)
{
    if (Config == NULL || Config->EntryCount == 0 || Config->EntryCount > MSIX_MAX_ENTRIES)
        return false;
    if (Config->TableAddress == 0 || Config->PbaAddress == 0 || Config->TableAddress % 8u != 0 ||
        Config->PbaAddress % 8u != 0)
        return false;
    return !SimpOverlaps(Config->TableAddress, Config->EntryCount * MSIX_ENTRY_SIZE, Config->PbaAddress,
                         SimpPbaBytes(Config->EntryCount));
}

int SimMsixCreate(const SIM_MSIX_CONFIG *Config, uint32_t *Device)
{
    if (!SimpConfigValid(Config) || Device == NULL)
        return -1;
    SIMP_MSIX_ENTRY *Entries = calloc(Config->EntryCount, sizeof(*Entries));
    if (Entries == NULL)
        return -1;
    for (uint32_t Index = 0; Index < Config->EntryCount; Index++)
        Entries[Index].Masked = true;
    pthread_mutex_lock(&SimpMsixLock);
    int Result = -1;
    for (uint32_t Slot = 0; Slot < SIM_MAX_MSIX_DEVICES; Slot++) {
        if (!SimpMsixDevices[Slot].InUse) {
            SimpMsixDevices[Slot] = (SIMP_MSIX_DEVICE){.InUse = true, .Config = *Config, .Entries = Entries};
            *Device = Slot;
            Result = 0;
            break;
        }
    }
    pthread_mutex_unlock(&SimpMsixLock);
    if (Result != 0)
        free(Entries);
    return Result;
}

void SimMsixDestroy(void)
{
    pthread_mutex_lock(&SimpMsixLock);
    for (uint32_t Slot = 0; Slot < SIM_MAX_MSIX_DEVICES; Slot++) {
        free(SimpMsixDevices[Slot].Entries);
        SimpMsixDevices[Slot] = (SIMP_MSIX_DEVICE){0};
    }
    pthread_mutex_unlock(&SimpMsixLock);
}

static SIMP_MSIX_SEND SimpSendOf(const SIMP_MSIX_DEVICE *Device, SIMP_MSIX_ENTRY *Entry)
{
    Entry->Sent++;
    return (SIMP_MSIX_SEND){.Send = true,
                            .Address = (uint64_t)Entry->AddressHigh << 32 | Entry->AddressLow,
                            .Data = Entry->Data,
                            .Config = Device->Config};
}

static void SimpSend(const SIMP_MSIX_SEND *Send)
{
    if (!Send->Send)
        return;
    if (Send->Config.ThroughIommu)
        SimMsiWriteThroughIommu(Send->Config.IommuUnit, Send->Config.RequesterId, Send->Address, Send->Data);
    else
        SimMsiWrite(Send->Address, Send->Data);
}

/* The device under the lock, or NULL (unknown device or entry: misuse of
 * the sim, not an access hardware refuses). */
static SIMP_MSIX_DEVICE *SimpDevice(uint32_t Device, uint32_t Entry)
{
    if (Device >= SIM_MAX_MSIX_DEVICES || !SimpMsixDevices[Device].InUse ||
        Entry >= SimpMsixDevices[Device].Config.EntryCount)
        return NULL;
    return &SimpMsixDevices[Device];
}

void SimMsixRaise(uint32_t Device, uint32_t Entry)
{
    SIMP_MSIX_SEND Send = {0};
    pthread_mutex_lock(&SimpMsixLock);
    SIMP_MSIX_DEVICE *Found = SimpDevice(Device, Entry);
    if (Found == NULL) {
        pthread_mutex_unlock(&SimpMsixLock);
        abort(); /* a test raised an entry the device does not have */
    }
    SIMP_MSIX_ENTRY *Slot = &Found->Entries[Entry];
    if (Slot->Masked)
        Slot->Pending = true;
    else
        Send = SimpSendOf(Found, Slot);
    pthread_mutex_unlock(&SimpMsixLock);
    SimpSend(&Send);
}

uint64_t SimMsixSentCount(uint32_t Device, uint32_t Entry)
{
    pthread_mutex_lock(&SimpMsixLock);
    SIMP_MSIX_DEVICE *Found = SimpDevice(Device, Entry);
    uint64_t Sent = Found != NULL ? Found->Entries[Entry].Sent : 0;
    pthread_mutex_unlock(&SimpMsixLock);
    return Sent;
}

uint64_t SimMsixUnmaskedRewriteCount(uint32_t Device)
{
    pthread_mutex_lock(&SimpMsixLock);
    uint64_t Count = Device < SIM_MAX_MSIX_DEVICES ? SimpMsixDevices[Device].UnmaskedRewrites : 0;
    pthread_mutex_unlock(&SimpMsixLock);
    return Count;
}

/* ---- MMIO -------------------------------------------------------------------------------- */

static uint32_t SimpReadEntryDword(const SIMP_MSIX_ENTRY *Entry, uint32_t Field)
{
    switch (Field) {
    case 0x0: return Entry->AddressLow;
    case 0x4: return Entry->AddressHigh;
    case 0x8: return Entry->Data;
    default: return Entry->Masked ? MSIX_MASK_BIT : 0u;
    }
}

static void SimpWriteEntryDword(SIMP_MSIX_DEVICE *Device, SIMP_MSIX_ENTRY *Entry, uint32_t Field, uint32_t Value,
                                SIMP_MSIX_SEND *Send)
{
    if (Field == MSIX_VECTOR_CONTROL) {
        bool Unmasking = Entry->Masked && (Value & MSIX_MASK_BIT) == 0;
        Entry->Masked = (Value & MSIX_MASK_BIT) != 0;
        if (Unmasking && Entry->Pending) {
            Entry->Pending = false;
            *Send = SimpSendOf(Device, Entry);
        }
        return;
    }
    if (!Entry->Masked)
        Device->UnmaskedRewrites++;
    if (Field == 0x0)
        Entry->AddressLow = Value;
    else if (Field == 0x4)
        Entry->AddressHigh = Value;
    else
        Entry->Data = Value;
}

static uint32_t SimpReadPbaDword(const SIMP_MSIX_DEVICE *Device, uint32_t Offset)
{
    uint32_t Word = 0;
    for (uint32_t Bit = 0; Bit < 32u; Bit++) {
        uint32_t Index = Offset / 4u * 32u + Bit;
        if (Index < Device->Config.EntryCount && Device->Entries[Index].Pending)
            Word |= 1u << Bit;
    }
    return Word;
}

/* Which device's table or PBA holds Address, under the lock. */
static SIMP_MSIX_DEVICE *SimpDecode(uintptr_t Address, bool *Pba, uint32_t *Offset)
{
    for (uint32_t Slot = 0; Slot < SIM_MAX_MSIX_DEVICES; Slot++) {
        SIMP_MSIX_DEVICE *Device = &SimpMsixDevices[Slot];
        if (!Device->InUse)
            continue;
        uint32_t TableBytes = Device->Config.EntryCount * MSIX_ENTRY_SIZE;
        if (Address >= Device->Config.TableAddress && Address - Device->Config.TableAddress < TableBytes) {
            *Pba = false;
            *Offset = (uint32_t)(Address - Device->Config.TableAddress);
            return Device;
        }
        if (Address >= Device->Config.PbaAddress &&
            Address - Device->Config.PbaAddress < SimpPbaBytes(Device->Config.EntryCount)) {
            *Pba = true;
            *Offset = (uint32_t)(Address - Device->Config.PbaAddress);
            return Device;
        }
    }
    return NULL;
}

/* One DWORD of the table or PBA. */
static void SimpAccessDword(SIMP_MSIX_DEVICE *Device, bool Pba, uint32_t Offset, bool Write, uint32_t *Value,
                            SIMP_MSIX_SEND *Send)
{
    if (Pba) {
        *Value = SimpReadPbaDword(Device, Offset);
        return;
    }
    SIMP_MSIX_ENTRY *Entry = &Device->Entries[Offset / MSIX_ENTRY_SIZE];
    uint32_t Field = Offset % MSIX_ENTRY_SIZE;
    if (Write)
        SimpWriteEntryDword(Device, Entry, Field, *Value, Send);
    else
        *Value = SimpReadEntryDword(Entry, Field);
}

bool SimMsixModelAccess(const char *Hook, uintptr_t Address, uint32_t Size, bool Write, uint64_t *Value)
{
    pthread_mutex_lock(&SimpMsixLock);
    bool Pba = false;
    uint32_t Offset = 0;
    SIMP_MSIX_DEVICE *Device = SimpDecode(Address, &Pba, &Offset);
    if (Device == NULL) {
        pthread_mutex_unlock(&SimpMsixLock);
        return false;
    }
    const char *Refused = NULL;
    if ((Size != 4u && Size != 8u) || Offset % Size != 0)
        Refused = "MSI-X table and PBA take aligned DWORD or QWORD accesses only (PCI 3.0 6.8.2)";
    else if (Pba && Write)
        Refused = "the pending bit array is read-only (PCI 3.0 6.8.2.10)";
    SIMP_MSIX_SEND Sends[2] = {{0}};
    if (Refused == NULL) {
        uint32_t Low = (uint32_t)*Value, High = (uint32_t)(*Value >> 32);
        SimpAccessDword(Device, Pba, Offset, Write, &Low, &Sends[0]);
        if (Size == 8u)
            SimpAccessDword(Device, Pba, Offset + 4u, Write, &High, &Sends[1]);
        if (!Write)
            *Value = Size == 8u ? (uint64_t)High << 32 | Low : Low;
    } else if (!Write) {
        *Value = 0;
    }
    pthread_mutex_unlock(&SimpMsixLock);
    if (Refused != NULL) {
        SimFault(Hook, Address, "%s", Refused);
        return true;
    }
    SimpSend(&Sends[0]);
    SimpSend(&Sends[1]);
    return true;
}
