/* STUB: KTEST cases being written. */
#include "kernel.h"

void KiRunLineTests(void)
{
}
