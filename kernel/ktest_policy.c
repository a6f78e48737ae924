/* STUB: KTEST cases being written. */
#include "kernel.h"

void KiRunPolicyTests(void)
{
}
