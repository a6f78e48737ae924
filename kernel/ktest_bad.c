/* STUB: bad-input KTEST cases being written. */
#include "kernel.h"

void KiRunBadInputTests(void)
{
}
