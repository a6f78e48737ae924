/* STUB: the device layer (kernel/device.h) is being written. */
#include "device.h"

void KiInitializeDevices(void)
{
}
