// SPDX-License-Identifier: Apache-2.0
//
// Entry points of the per-configuration halves of the fabric bench (each includes its own model).

#ifndef SPARROW_TESTS_RTL_FABRIC_TB_CONFIGS_H_
#define SPARROW_TESTS_RTL_FABRIC_TB_CONFIGS_H_

#include "fabric_tb.h"

void fabric_tb_run_s(fabric_tb::Results &res);
void fabric_tb_run_m(fabric_tb::Results &res);

#endif  // SPARROW_TESTS_RTL_FABRIC_TB_CONFIGS_H_
