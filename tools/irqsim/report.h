/* SPDX-License-Identifier: MIT */
/* What a run says (report.c): one line per strategy, the comparison table,
 * and the check against the scenario's expected outcomes. */
#ifndef IRQSIM_REPORT_H
#define IRQSIM_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "runner.h"
#include "scenario.h"

void IrsReportHeader(const IRS_SCENARIO *Scenario, double Scale);
void IrsReportResult(const IRS_SCENARIO *Scenario, const IRS_RESULT *Result);
/* scenario | bound | balancer | greedy baseline | irqbalance-like baseline |
 * moves (balancer/greedy/irqbalance): one row (--strategy all). */
void IrsReportTable(const IRS_SCENARIO *Scenario, const IRS_RESULT *Results, const bool *Done);
/* Checks every run's expected outcomes; prints each failure; false if any. */
bool IrsReportCheck(const IRS_SCENARIO *Scenario, const IRS_RESULT *Results, const bool *Done);

#endif
