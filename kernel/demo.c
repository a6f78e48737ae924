/* STUB: the demo console (make run) is being written. */
#include "kernel.h"

void KiRunDemo(void)
{
    KiPrint("demo: not built yet\n");
}
