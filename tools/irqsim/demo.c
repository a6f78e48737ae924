/* SPDX-License-Identifier: MIT */
/*
 * irqsim --interactive (and `make run-sim`): watch interrupts move between
 * CPUs as routing changes.
 *
 * Boots irqroute on the sim platform (4 CPUs as host threads, one I/O APIC),
 * connects a few devices through IoConnectInterruptEx, lets device threads
 * fire them, and prints a /proc/interrupts-style table each second. Commands
 * typed on stdin change routing at run time:
 *
 *   route <dev> cpu <n>          move it live (the entry's destination only)
 *   route <dev> round-robin      re-target after every interrupt to the next CPU
 *   route <dev> lowest           re-target after every interrupt to the lowest-IRQL CPU
 *   route <dev> affinity <a-b>   reconnect on the least-loaded CPU of a-b
 *   route <dev> broadcast <a-b>  reconnect delivering to every CPU of a-b
 *   disconnect <dev> | connect <dev> | table | help | quit
 *   dump                         the routing state: vectors per CPU, connections (IoDumpRoutingState)
 *
 * Devices start movable (IoTargetRoutable over every CPU) and FIXED to CPU 0.
 * With stdin not a terminal (CI, pipes), or with Scripted, it plays a short
 * script instead.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <irqroute/io.h>

#include "demo.h"
#include "sim.h"
#include "simboot.h"

#define CPU_COUNT 4u

typedef enum { DeviceLine, DeviceMessage } DEVICE_KIND;

typedef struct _DEVICE {
    const char *Name;
    DEVICE_KIND Kind;
    HL_LINE_BUS Bus;
    uint32_t Number;          /* ISA IRQ or GSI */
    uint32_t PeriodMs;        /* how often the device fires */
    IO_INTERRUPT_TARGET Target;
    IR_CPU_SET Mask;
    KINTERRUPT *_Atomic Interrupt;
    _Atomic uint64_t MessageAddress; /* the device's MSI address register */
    HL_MSI_MESSAGE Message;
    uint32_t Gsi;
    _Atomic uint64_t Handled;
} DEVICE;

static DEVICE Devices[] = {
    {.Name = "timer", .Kind = DeviceLine, .Bus = HlBusIsa, .Number = 0, .PeriodMs = 2},
    {.Name = "kbd", .Kind = DeviceLine, .Bus = HlBusIsa, .Number = 1, .PeriodMs = 50},
    {.Name = "com1", .Kind = DeviceLine, .Bus = HlBusIsa, .Number = 4, .PeriodMs = 10},
    {.Name = "rtc", .Kind = DeviceLine, .Bus = HlBusIsa, .Number = 8, .PeriodMs = 4},
    {.Name = "nic", .Kind = DeviceMessage, .PeriodMs = 1},
};
#define DEVICE_COUNT (sizeof(Devices) / sizeof(Devices[0]))

static pthread_mutex_t ControlLock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool Running = true;

/* The device's MSI address register: Io rewrites it when it moves the
 * interrupt (possibly from interrupt context). */
static void UpdateMessage(KINTERRUPT *Interrupt, const HL_MSI_MESSAGE *Message, void *Context)
{
    (void)Interrupt;
    DEVICE *Device = Context;
    atomic_store(&Device->MessageAddress, Message->Address);
}

static bool DeviceIsr(KINTERRUPT *Interrupt, void *Context)
{
    (void)Interrupt;
    DEVICE *Device = Context;
    atomic_fetch_add_explicit(&Device->Handled, 1, memory_order_relaxed);
    return true;
}

/* API calls need a CPU context: borrow CPU 0 for the duration. */
static IRQ_STATUS ConnectDevice(DEVICE *Device)
{
    KINTERRUPT *Interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS Parameters;
    if (Device->Kind == DeviceLine) {
        Parameters = (IO_CONNECT_INTERRUPT_PARAMETERS){
            .Version = CONNECT_LINE_BASED,
            .LineBased = {.InterruptObject = &Interrupt, .ServiceRoutine = DeviceIsr, .ServiceContext = Device,
                          .Line = {.Bus = Device->Bus, .Number = Device->Number}, .Irql = KE_IRQL_ANY,
                          .Target = Device->Target},
        };
    } else {
        Parameters = (IO_CONNECT_INTERRUPT_PARAMETERS){
            .Version = CONNECT_MESSAGE_BASED,
            .MessageBased = {.InterruptObject = &Interrupt, .ServiceRoutine = DeviceIsr, .ServiceContext = Device,
                             .Irql = KE_IRQL_ANY, .Target = Device->Target, .Message = &Device->Message,
                             .UpdateMessage = UpdateMessage, .UpdateContext = Device},
        };
    }
    SimAttachCpu(0);
    IRQ_STATUS Status = IoConnectInterruptEx(&Parameters);
    if (Status == IRQ_STATUS_SUCCESS && Device->Kind == DeviceLine)
        (void)IoQueryInterruptLine(Interrupt, &Device->Gsi);
    if (Status == IRQ_STATUS_SUCCESS && Device->Kind == DeviceMessage)
        atomic_store(&Device->MessageAddress, Device->Message.Address);
    SimDetachCpu();
    if (Status == IRQ_STATUS_SUCCESS)
        atomic_store(&Device->Interrupt, Interrupt);
    return Status;
}

static IRQ_STATUS DisconnectDevice(DEVICE *Device)
{
    KINTERRUPT *Interrupt = atomic_exchange(&Device->Interrupt, NULL);
    if (Interrupt == NULL)
        return IRQ_STATUS_NOT_CONNECTED;
    SimAttachCpu(0);
    IRQ_STATUS Status = IoDisconnectInterrupt(Interrupt);
    SimDetachCpu();
    return Status;
}

static void FireDevice(DEVICE *Device)
{
    if (atomic_load(&Device->Interrupt) == NULL)
        return;
    if (Device->Kind == DeviceLine)
        SimPulseGsi(Device->Gsi);
    else
        SimMsiWrite(atomic_load(&Device->MessageAddress), Device->Message.Data);
}

static void *DeviceThread(void *Argument)
{
    (void)Argument;
    for (uint64_t Tick = 1; atomic_load(&Running); Tick++) {
        struct timespec Delay = {0, 1000000};
        nanosleep(&Delay, NULL);
        pthread_mutex_lock(&ControlLock);
        for (size_t Index = 0; Index < DEVICE_COUNT; Index++) {
            if (Tick % Devices[Index].PeriodMs == 0)
                FireDevice(&Devices[Index]);
        }
        pthread_mutex_unlock(&ControlLock);
    }
    return NULL;
}

static void DescribeTarget(const DEVICE *Device, KINTERRUPT *Interrupt, char *Buffer, size_t Size)
{
    uint32_t Cpu;
    IR_ROUTING_POLICY Policy;
    if (Interrupt != NULL && IoQueryInterruptTarget(Interrupt, &Cpu, &Policy) == IRQ_STATUS_SUCCESS) {
        static const char *const Names[] = {"fixed", "round-robin", "lowest"};
        snprintf(Buffer, Size, "%s", Names[Policy]);
        if (Policy == IrRoutingFixedCpu)
            snprintf(Buffer, Size, "fixed cpu %u", Cpu);
        return;
    }
    switch (Device->Target.Kind) {
    case IoTargetCpu: snprintf(Buffer, Size, "cpu %u", Device->Target.Cpu); break;
    case IoTargetAffinity: snprintf(Buffer, Size, "affinity"); break;
    case IoTargetBroadcast: snprintf(Buffer, Size, "broadcast"); break;
    default: snprintf(Buffer, Size, "fixed cpu 0"); break;
    }
}

static void PrintTable(void)
{
    printf("\n%-6s %-7s %-6s %-13s", "dev", "source", "vector", "routing");
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        printf(" %9s%u", "CPU", Cpu);
    printf("\n");
    for (size_t Index = 0; Index < DEVICE_COUNT; Index++) {
        DEVICE *Device = &Devices[Index];
        KINTERRUPT *Interrupt = atomic_load(&Device->Interrupt);
        char Source[16], Routing[16];
        if (Device->Kind == DeviceLine)
            snprintf(Source, sizeof(Source), "GSI %u", Device->Gsi);
        else
            snprintf(Source, sizeof(Source), "MSI");
        DescribeTarget(Device, Interrupt, Routing, sizeof(Routing));
        if (Interrupt == NULL) {
            printf("%-6s %-7s %-6s %-13s (disconnected)\n", Device->Name, Source, "-", Routing);
            continue;
        }
        printf("%-6s %-7s 0x%-4x %-13s", Device->Name, Source, KeGetInterruptVector(Interrupt), Routing);
        for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
            printf(" %10llu", (unsigned long long)KeQueryInterruptCount(Interrupt, Cpu));
        printf("\n");
    }
    fflush(stdout);
}

static DEVICE *FindDevice(const char *Name)
{
    for (size_t Index = 0; Index < DEVICE_COUNT; Index++) {
        if (strcmp(Devices[Index].Name, Name) == 0)
            return &Devices[Index];
    }
    return NULL;
}

static bool ParseRange(const char *Text, IR_CPU_SET *Mask)
{
    unsigned First, Last;
    if (sscanf(Text, "%u-%u", &First, &Last) != 2) {
        if (sscanf(Text, "%u", &First) != 1)
            return false;
        Last = First;
    }
    IrCpuSetZero(Mask);
    for (unsigned Cpu = First; Cpu <= Last && Cpu < IR_MAX_CPUS; Cpu++)
        IrCpuSetAdd(Mask, Cpu);
    return First <= Last;
}

static void MovableTarget(DEVICE *Device)
{
    IrCpuSetFill(&Device->Mask, CPU_COUNT);
    Device->Target = (IO_INTERRUPT_TARGET){.Kind = IoTargetRoutable, .Cpu = 0, .Mask = &Device->Mask};
}

/* Live moves and policies change only where the entry (or MSI address)
 * points; affinity and broadcast need another vector layout: reconnect. */
static void RouteDevice(DEVICE *Device, const char *How, const char *Argument)
{
    KINTERRUPT *Interrupt = atomic_load(&Device->Interrupt);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    bool Movable = Interrupt != NULL && Device->Target.Kind == IoTargetRoutable;
    if (strcmp(How, "cpu") == 0 && Argument != NULL && Movable) {
        Status = IoSetInterruptPolicy(Interrupt, IrRoutingFixedCpu);
        if (Status == IRQ_STATUS_SUCCESS)
            Status = IoSetInterruptTarget(Interrupt, (uint32_t)strtoul(Argument, NULL, 10));
    } else if (strcmp(How, "round-robin") == 0 && Movable) {
        Status = IoSetInterruptPolicy(Interrupt, IrRoutingRoundRobin);
    } else if (strcmp(How, "lowest") == 0 && Movable) {
        Status = IoSetInterruptPolicy(Interrupt, IrRoutingLowestPriority);
    } else if ((strcmp(How, "affinity") == 0 || strcmp(How, "broadcast") == 0) && Argument != NULL &&
               ParseRange(Argument, &Device->Mask)) {
        IO_INTERRUPT_TARGET Previous = Device->Target;
        DisconnectDevice(Device);
        Device->Target = (IO_INTERRUPT_TARGET){.Kind = How[0] == 'a' ? IoTargetAffinity : IoTargetBroadcast,
                                               .Mask = &Device->Mask};
        Status = ConnectDevice(Device);
        if (Status != IRQ_STATUS_SUCCESS) {
            Device->Target = Previous;
            ConnectDevice(Device);
        }
    } else if (!Movable && Interrupt != NULL && strcmp(How, "cpu") != 0) {
        printf("%s is not movable now: 'connect' it again first\n", Device->Name);
        return;
    } else {
        printf("usage: route <dev> cpu <n> | round-robin | lowest | affinity <a-b> | broadcast <a-b>\n");
        return;
    }
    if (Status != IRQ_STATUS_SUCCESS)
        printf("route %s %s: %s\n", Device->Name, How, IrStatusName(Status));
}

static void PrintHelp(void)
{
    printf("commands: route <dev> cpu <n> | round-robin | lowest | affinity <a-b> | broadcast <a-b>\n"
           "          disconnect <dev> | connect <dev> | table | dump | help | quit\n"
           "devices:  timer kbd com1 rtc nic\n");
}

static void PrintDumpLine(const char *Line, void *Context)
{
    (void)Context;
    printf("%s\n", Line);
}

/* The library's own view of what is routed where (io.h, IoDumpRoutingState). */
static void PrintRoutingDump(void)
{
    IRQ_STATUS Status = IoDumpRoutingState(PrintDumpLine, NULL);
    if (Status != IRQ_STATUS_SUCCESS)
        printf("dump: %s\n", IrStatusName(Status));
}

/* Returns false on quit. */
static bool RunCommand(char *Line)
{
    char *Words[4] = {0};
    int Count = 0;
    for (char *Word = strtok(Line, " \t\r\n"); Word != NULL && Count < 4; Word = strtok(NULL, " \t\r\n"))
        Words[Count++] = Word;
    if (Count == 0)
        return true;
    if (strcmp(Words[0], "quit") == 0 || strcmp(Words[0], "exit") == 0)
        return false;
    if (strcmp(Words[0], "help") == 0) {
        PrintHelp();
        return true;
    }
    if (strcmp(Words[0], "table") == 0) {
        PrintTable();
        return true;
    }
    if (strcmp(Words[0], "dump") == 0) {
        PrintRoutingDump();
        return true;
    }
    DEVICE *Device = Count > 1 ? FindDevice(Words[1]) : NULL;
    if (Device == NULL) {
        printf("unknown command or device; type help\n");
        return true;
    }
    pthread_mutex_lock(&ControlLock);
    IRQ_STATUS Status = IRQ_STATUS_SUCCESS;
    if (strcmp(Words[0], "route") == 0 && Count >= 3)
        RouteDevice(Device, Words[2], Count > 3 ? Words[3] : NULL);
    else if (strcmp(Words[0], "disconnect") == 0)
        Status = DisconnectDevice(Device);
    else if (strcmp(Words[0], "connect") == 0) {
        if (atomic_load(&Device->Interrupt) != NULL) {
            Status = IRQ_STATUS_ALREADY_CONNECTED;
        } else {
            MovableTarget(Device);
            Status = ConnectDevice(Device);
        }
    }
    else
        printf("unknown command; type help\n");
    pthread_mutex_unlock(&ControlLock);
    if (Status != IRQ_STATUS_SUCCESS)
        printf("%s %s: %s\n", Words[0], Device->Name, IrStatusName(Status));
    return true;
}

static void Sleep(unsigned Milliseconds)
{
    struct timespec Delay = {Milliseconds / 1000, (long)(Milliseconds % 1000) * 1000000L};
    nanosleep(&Delay, NULL);
}

static void PlayScript(void)
{
    static const char *const Script[] = {
        "route rtc cpu 1", "route rtc cpu 2", "route rtc cpu 3", "route nic round-robin",
        "route timer lowest", "route com1 affinity 1-3", "route kbd broadcast 0-3", "disconnect rtc",
        "dump",
    };
    printf("(stdin is not a terminal: playing a short script)\n");
    PrintTable();
    for (size_t Index = 0; Index < sizeof(Script) / sizeof(Script[0]); Index++) {
        char Line[64];
        snprintf(Line, sizeof(Line), "%s", Script[Index]);
        printf("\n> %s", Line);
        RunCommand(Line);
        Sleep(300);
        PrintTable();
    }
}

static void Interact(void)
{
    PrintHelp();
    PrintTable();
    char Line[256];
    for (;;) {
        fd_set Readable;
        FD_ZERO(&Readable);
        FD_SET(STDIN_FILENO, &Readable);
        struct timeval Timeout = {1, 0};
        int Ready = select(STDIN_FILENO + 1, &Readable, NULL, NULL, &Timeout);
        if (Ready == 0) {
            PrintTable();
            continue;
        }
        if (Ready < 0 || fgets(Line, sizeof(Line), stdin) == NULL || !RunCommand(Line))
            return;
    }
}

int IrsDemoRun(bool Scripted)
{
    Scripted = Scripted || !isatty(STDIN_FILENO);
    SIM_SYSTEM_CONFIG Config = {.CpuCount = CPU_COUNT, .StartThreads = true};
    IRQ_STATUS Status = SimBootSystem(&Config);
    if (Status != IRQ_STATUS_SUCCESS) {
        fprintf(stderr, "irqsim: boot failed: %s\n", IrStatusName(Status));
        return 1;
    }
    printf("irqsim: %u CPUs (APIC ids", CPU_COUNT);
    for (uint32_t Cpu = 0; Cpu < CPU_COUNT; Cpu++)
        printf(" %u", SimCpuApicId(Cpu));
    printf("), one I/O APIC, QEMU's ISA overrides\n");

    for (size_t Index = 0; Index < DEVICE_COUNT; Index++) {
        MovableTarget(&Devices[Index]);
        Status = ConnectDevice(&Devices[Index]);
        if (Status != IRQ_STATUS_SUCCESS)
            fprintf(stderr, "irqsim: connect %s: %s\n", Devices[Index].Name, IrStatusName(Status));
    }

    pthread_t Firing;
    pthread_create(&Firing, NULL, DeviceThread, NULL);
    if (Scripted)
        PlayScript();
    else
        Interact();
    atomic_store(&Running, false);
    pthread_join(Firing, NULL);
    for (size_t Index = 0; Index < DEVICE_COUNT; Index++)
        DisconnectDevice(&Devices[Index]);
    SimShutdownSystem();
    printf("irqsim: bye\n");
    return 0;
}
