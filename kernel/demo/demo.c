/* SPDX-License-Identifier: MIT */
/*
 * RkRunDemo: `make run`. Every device is connected (FIXED to CPU 0, movable
 * over every CPU), the RTC and PIT tick, the keyboard and edu are raised a
 * few times a second, COM1's receive interrupts bring the typed commands,
 * and the table of counts per CPU, with each device's rate over the last
 * second, is drawn once a second, so a `route` command shows the counts
 * move to other CPUs. The loop also runs the kernel's periodic duties
 * (periodic.h: the storm poll, the balancer).
 */
#include "demo.h"
#include "periodic.h"

#define RK_DEMO_RAISE_MS 250u
#define RK_DEMO_REDRAW_MS 1000u
#define RK_DEMO_POLL_US 1000u
#define RK_ASCII_BACKSPACE 0x08
#define RK_ASCII_DELETE 0x7F

typedef struct _RK_DEMO_STATE {
    bool Plain;
    char Input[RK_DEMO_LINE_MAX];
    uint32_t Length;
    char Reply[RK_DEMO_REPLY_MAX];
    bool Holding; /* a command printed below the table: no redraw until the next */
} RK_DEMO_STATE;

static uint64_t RkpNowMs(void)
{
    return RkQueryMicroseconds() / 1000u;
}

static void RkpConnectAll(void)
{
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        if (!Device->Present)
            continue;
        IRQ_STATUS Status = RkDemoConnect(Device, NULL);
        if (Status != IRQ_STATUS_SUCCESS)
            RkPrint("demo: %s not connected: %s\n", Device->Name, IrStatusName(Status));
    }
}

static void RkpDisconnectAll(void)
{
    for (uint32_t Id = 0; Id < RkDeviceCount; Id++) {
        RK_DEVICE *Device = RkDeviceGet((RK_DEVICE_ID)Id);
        if (Device->Connected)
            (void)RkDeviceDisconnect(Device);
    }
}

/* The devices without a clock of their own get an interrupt now and then. */
static void RkpRaiseSome(void)
{
    static const RK_DEVICE_ID Raised[] = {RkDeviceKeyboard, RkDeviceEdu};
    for (uint32_t Index = 0; Index < sizeof(Raised) / sizeof(Raised[0]); Index++) {
        RK_DEVICE *Device = RkDeviceGet(Raised[Index]);
        if (Device->Connected)
            (void)RkDeviceRaise(Device);
    }
}

/* The periodic duties' news: a line of its own in plain mode, else the
 * reply under the table. */
static void RkpRunPeriodic(RK_DEMO_STATE *State)
{
    char News[RK_DEMO_REPLY_MAX];
    if (!RkPeriodicRun(News, sizeof(News)))
        return;
    if (State->Plain)
        RkPrint("%s\n", News);
    else if (!State->Holding)
        RkFormatString(State->Reply, sizeof(State->Reply), "%s", News);
}

/* In plain mode (logs, tests) a command and its result are lines of their own. */
static bool RkpRunLine(RK_DEMO_STATE *State)
{
    State->Input[State->Length] = 0;
    if (State->Plain)
        RkPrint("> %s\n", State->Input);
    RK_DEMO_NEXT Next = RkDemoExecute(State->Input, State->Reply, sizeof(State->Reply));
    if ((State->Plain || Next == RkDemoHoldScreen) && State->Reply[0] != 0)
        RkPrint("%s\n", State->Reply);
    State->Holding = Next == RkDemoHoldScreen && !State->Plain;
    State->Length = 0;
    State->Input[0] = 0;
    return Next != RkDemoQuit;
}

/* Takes what was typed; returns false when the line was `quit`. */
static bool RkpTakeInput(RK_DEMO_STATE *State)
{
    char Character;
    while (RkDeviceReadInput(&Character)) {
        if (Character == '\r' || Character == '\n') {
            if (!State->Plain)
                RkPrint("\n");
            if (!RkpRunLine(State))
                return false;
        } else if (Character == RK_ASCII_BACKSPACE || Character == RK_ASCII_DELETE) {
            if (State->Length > 0) {
                State->Input[--State->Length] = 0;
                if (!State->Plain)
                    RkPrint("\b \b");
            }
        } else if (Character >= ' ' && State->Length + 1 < RK_DEMO_LINE_MAX) {
            State->Input[State->Length++] = Character;
            State->Input[State->Length] = 0;
            if (!State->Plain)
                RkPrint("%c", Character);
        }
    }
    return true;
}

void RkRunDemo(void)
{
    static RK_DEMO_STATE State;
    State.Plain = RkCommandLineHas("plain");
    RkFormatString(State.Reply, sizeof(State.Reply), "every device starts FIXED on cpu 0; try: route rtc cpu 2");
    RkpConnectAll();
    RkPeriodicInitialize();
    uint64_t Start = RkpNowMs(), NextRaise = Start, NextDraw = Start;
    for (;;) {
        uint64_t Now = RkpNowMs();
        if (Now >= NextRaise) {
            RkpRaiseSome();
            NextRaise = Now + RK_DEMO_RAISE_MS;
        }
        if (Now >= NextDraw && !State.Holding) {
            RkDemoDrawTable(State.Plain, Now - Start, State.Input, State.Reply);
            NextDraw = Now + RK_DEMO_REDRAW_MS;
        }
        if (!RkpTakeInput(&State))
            break;
        RkpRunPeriodic(&State);
        RkStallMicroseconds(RK_DEMO_POLL_US);
    }
    RkpDisconnectAll();
    RkPrint("\ndemo: every device disconnected; bye\n");
}
