/* placeholder until fixtures land */
int IrTestSupportPlaceholder;
