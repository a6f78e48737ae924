/*
 * KiRunDemo: `make run`. Every device is connected (FIXED to CPU 0, movable
 * over every CPU), the RTC and PIT tick, the keyboard and edu are raised a
 * few times a second, COM1's receive interrupts bring the typed commands,
 * and the table of counts per CPU is drawn once a second, so a `route`
 * command shows the counts move to other CPUs.
 */
#include "demo.h"

#define KI_DEMO_RAISE_MS 250u
#define KI_DEMO_REDRAW_MS 1000u
#define KI_DEMO_POLL_US 1000u
#define KI_ASCII_BACKSPACE 0x08
#define KI_ASCII_DELETE 0x7F

typedef struct _KI_DEMO_STATE {
    bool Plain;
    char Input[KI_DEMO_LINE_MAX];
    uint32_t Length;
    char Reply[KI_DEMO_REPLY_MAX];
} KI_DEMO_STATE;

static uint64_t KipNowMs(void)
{
    return KiQueryMicroseconds() / 1000u;
}

static void KipConnectAll(void)
{
    for (uint32_t Id = 0; Id < KiDeviceCount; Id++) {
        KI_DEVICE *Device = KiDeviceGet((KI_DEVICE_ID)Id);
        if (!Device->Present)
            continue;
        IRQ_STATUS Status = KiDemoConnect(Device, NULL);
        if (Status != IRQ_STATUS_SUCCESS)
            KiPrint("demo: %s not connected: %s\n", Device->Name, IrStatusName(Status));
    }
}

static void KipDisconnectAll(void)
{
    for (uint32_t Id = 0; Id < KiDeviceCount; Id++) {
        KI_DEVICE *Device = KiDeviceGet((KI_DEVICE_ID)Id);
        if (Device->Connected)
            (void)KiDeviceDisconnect(Device);
    }
}

/* The devices without a clock of their own get an interrupt now and then. */
static void KipRaiseSome(void)
{
    static const KI_DEVICE_ID Raised[] = {KiDeviceKeyboard, KiDeviceEdu};
    for (uint32_t Index = 0; Index < sizeof(Raised) / sizeof(Raised[0]); Index++) {
        KI_DEVICE *Device = KiDeviceGet(Raised[Index]);
        if (Device->Connected)
            (void)KiDeviceRaise(Device);
    }
}

/* In plain mode (logs, tests) a command and its result are lines of their own. */
static bool KipRunLine(KI_DEMO_STATE *State)
{
    State->Input[State->Length] = 0;
    if (State->Plain)
        KiPrint("> %s\n", State->Input);
    bool More = KiDemoExecute(State->Input, State->Reply, sizeof(State->Reply));
    if (State->Plain && State->Reply[0] != 0)
        KiPrint("%s\n", State->Reply);
    State->Length = 0;
    State->Input[0] = 0;
    return More;
}

/* Takes what was typed; returns false when the line was `quit`. */
static bool KipTakeInput(KI_DEMO_STATE *State)
{
    char Character;
    while (KiDeviceReadInput(&Character)) {
        if (Character == '\r' || Character == '\n') {
            if (!State->Plain)
                KiPrint("\n");
            if (!KipRunLine(State))
                return false;
        } else if (Character == KI_ASCII_BACKSPACE || Character == KI_ASCII_DELETE) {
            if (State->Length > 0) {
                State->Input[--State->Length] = 0;
                if (!State->Plain)
                    KiPrint("\b \b");
            }
        } else if (Character >= ' ' && State->Length + 1 < KI_DEMO_LINE_MAX) {
            State->Input[State->Length++] = Character;
            State->Input[State->Length] = 0;
            if (!State->Plain)
                KiPrint("%c", Character);
        }
    }
    return true;
}

void KiRunDemo(void)
{
    static KI_DEMO_STATE State;
    State.Plain = KiCommandLineHas("plain");
    KiFormatString(State.Reply, sizeof(State.Reply), "every device starts FIXED on cpu 0; try: route rtc cpu 2");
    KipConnectAll();
    uint64_t Start = KipNowMs(), NextRaise = Start, NextDraw = Start;
    for (;;) {
        uint64_t Now = KipNowMs();
        if (Now >= NextRaise) {
            KipRaiseSome();
            NextRaise = Now + KI_DEMO_RAISE_MS;
        }
        if (Now >= NextDraw) {
            KiDemoDrawTable(State.Plain, (Now - Start) / 1000u, State.Input, State.Reply);
            NextDraw = Now + KI_DEMO_REDRAW_MS;
        }
        if (!KipTakeInput(&State))
            break;
        KiStallMicroseconds(KI_DEMO_POLL_US);
    }
    KipDisconnectAll();
    KiPrint("\ndemo: every device disconnected; bye\n");
}
