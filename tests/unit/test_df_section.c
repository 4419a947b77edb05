// SPDX-License-Identifier: Apache-2.0
//
// Dataflow sections (host/ops/df_section.c, docs/dataflow.md) through the driver on a spawned
// sparrow-sim with the golden model: a section's outputs are bit for bit those of the same
// operators run kernel by kernel, its DRAM traffic is what the layout says, its cycles are the
// estimate, and bad sections are refused with a reason.

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "df_plan.h"
#include "df_section.h"
#include "nn_exec.h"
#include "simd_ops.h"
#include "sparrow.h"
#include "sparrow_nn.h"

static uint32_t *words(size_t n) {
  uint32_t *w = calloc(n == 0 ? 1 : n, sizeof(uint32_t));
  ck_assert_ptr_nonnull(w);
  return w;
}

// Floats in [-scale, scale) from a 64-bit LCG, as bit patterns.
static void fill(uint64_t seed, size_t n, float scale, uint32_t *out) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1u;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    float f = ((float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f) * scale;
    memcpy(&out[i], &f, sizeof(f));
  }
}

static void expect_exact(const char *what, size_t n, const uint32_t *got, const uint32_t *want) {
  for (size_t i = 0; i < n; ++i) {
    ck_assert_msg(got[i] == want[i], "%s: element %zu is 0x%08x, kernel by kernel gives 0x%08x",
                  what, i, got[i], want[i]);
  }
}

static sparrow_dev_t *open_model(const char *uri) {
  sparrow_dev_t *dev = NULL;
  char msg[400] = "";
  ck_assert_msg(sparrow_open(uri, &dev, msg, sizeof(msg)) == SPARROW_OK,
                "cannot open %s (is build/bin/sparrow-sim built?): %s", uri, msg);
  return dev;
}

static sparrow_ops_fabric_t fabric_of(sparrow_dev_t *dev) {
  sparrow_info_t info;
  ck_assert_int_eq(sparrow_info(dev, &info), SPARROW_OK);
  sparrow_ops_fabric_t f;
  sparrow_ops_fabric_from_info(&info, &f);
  return f;
}

// The block's "attention out" chain as a section: bias_add(t, bias) -> residual_add(x, .) ->
// layernorm(gamma, beta), the biased t on chip only, the residual sum also kept in DRAM. e gets the
// three executors (the caller frees them).
static void attn_out_section(const sparrow_ops_fabric_t *fab, uint32_t m, uint32_t c,
                             const uint32_t *t, const uint32_t *x, const uint32_t *bias,
                             const uint32_t *gamma, const uint32_t *beta, sparrow_ops_exec_t e[3],
                             sparrow_df_section_t *sec) {
  char msg[400] = "";
  const uint32_t *in0[2] = {t, bias};
  const uint32_t *in1[2] = {x, t};  // input 1 comes from the PMU: its image is not used
  ck_assert_msg(sparrow_ops_simd_prepare(fab, SPARROW_OPS_BIAS_ADD, m, c, in0, &e[0], msg,
                                         sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_msg(sparrow_ops_simd_prepare(fab, SPARROW_OPS_RESIDUAL_ADD, m, c, in1, &e[1], msg,
                                         sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_msg(sparrow_ops_layernorm_prepare(fab, m, c, x, gamma, beta, &e[2], msg, sizeof(msg)) ==
                    SPARROW_OPS_OK,
                "%s", msg);
  memset(sec, 0, sizeof(*sec));
  sec->name = "attention out";
  sec->nsteps = 3;
  for (uint32_t k = 0; k < 3; ++k) {
    sec->step[k] = (sparrow_df_step_t){&e[k], 0};
  }
  sec->nlinks = 2;
  sec->link[0] = (sparrow_df_link_t){0, e[0].job[0].out_buf, 1, 1, false};
  sec->link[1] = (sparrow_df_link_t){1, e[1].job[0].out_buf, 2, 0, true};
}

static void free_execs(sparrow_ops_exec_t *e, uint32_t n) {
  for (uint32_t k = 0; k < n; ++k) {
    sparrow_ops_exec_free(&e[k]);
  }
}

// y = layernorm(x + (t + bias)) as a section (bias_add -> residual_add -> layernorm) against the
// three operators kernel by kernel: the block's "attention out" section.
static void check_residual_layernorm(const char *uri, uint32_t m, uint32_t c, uint64_t seed) {
  sparrow_dev_t *dev = open_model(uri);
  sparrow_ops_fabric_t fab = fabric_of(dev);
  char msg[400] = "";
  size_t mc = (size_t)m * c;
  uint32_t *t = words(mc), *x = words(mc), *bias = words(c), *gamma = words(c), *beta = words(c);
  fill(seed, mc, 2.0f, t);
  fill(seed + 1, mc, 2.0f, x);
  fill(seed + 2, c, 0.5f, bias);
  fill(seed + 3, c, 1.5f, gamma);
  fill(seed + 4, c, 0.5f, beta);

  // Kernel by kernel.
  uint32_t *tb = words(mc), *r = words(mc), *y = words(mc), *mean = words(m), *rstd = words(m);
  sparrow_ops_simd_stats_t kbk[3];
  const uint32_t *in0[2] = {t, bias};
  uint32_t *out0[2] = {tb, NULL};
  ck_assert_msg(sparrow_ops_simd(dev, SPARROW_OPS_BIAS_ADD, m, c, in0, out0, &kbk[0], msg,
                                 sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  const uint32_t *in1[2] = {x, tb};
  uint32_t *out1[2] = {r, NULL};
  ck_assert_msg(sparrow_ops_simd(dev, SPARROW_OPS_RESIDUAL_ADD, m, c, in1, out1, &kbk[1], msg,
                                 sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_msg(sparrow_ops_layernorm(dev, m, c, r, gamma, beta, y, mean, rstd, &kbk[2], msg,
                                      sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);

  // The section: the residual sum is kept (the backward needs it), the biased t is not.
  sparrow_ops_exec_t e[3];
  sparrow_df_section_t sec;
  attn_out_section(&fab, m, c, t, x, bias, gamma, beta, e, &sec);
  sparrow_df_layout_t lay;
  ck_assert_msg(sparrow_df_section_layout(&sec, &fab, &lay, msg, sizeof(msg)) == SPARROW_OPS_OK,
                "%s", msg);
  ck_assert_uint_eq(lay.onchip_bufs, 2);
  ck_assert_uint_eq(lay.kept_bufs, 1);
  ck_assert_uint_eq(lay.broadcast_bufs, 2);  // the bias, and gamma with beta
  ck_assert(lay.chunk_rows >= 1);
  sparrow_ops_simd_stats_t df;
  memset(&df, 0, sizeof(df));
  ck_assert_msg(sparrow_df_section_run(dev, &sec, &df, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  uint32_t *r_df = words(mc), *y_df = words(mc), *mean_df = words(m), *rstd_df = words(m);
  uint32_t *out_r[2] = {r_df, NULL};
  sparrow_ops_simd_finish(&e[1], SPARROW_OPS_RESIDUAL_ADD, m, c, out_r);
  sparrow_ops_layernorm_finish(&e[2], m, c, y_df, mean_df, rstd_df);
  expect_exact("residual sum", mc, r_df, r);
  expect_exact("layernorm y", mc, y_df, y);
  expect_exact("layernorm mean", m, mean_df, mean);
  expect_exact("layernorm rstd", m, rstd_df, rstd);
  ck_assert_uint_eq(df.fp_status, kbk[0].fp_status | kbk[1].fp_status | kbk[2].fp_status);
  if (strstr(uri, "model") != NULL) {
    ck_assert_uint_eq(df.cycles, df.est_cycles);  // the golden model counts its estimate
  }

  // DRAM: t once, x once, the bias and gamma/beta once per launch per busy tile, the programs;
  // written: the kept sum and layernorm's y rows. Kernel by kernel moves far more.
  uint64_t kbk_bytes = 0, kbk_cycles = 0;
  for (int i = 0; i < 3; ++i) {
    kbk_bytes += kbk[i].dram_rd_bytes + kbk[i].dram_wr_bytes;
    kbk_cycles += kbk[i].cycles;
  }
  uint64_t np = (c + fab.lanes - 1u) / fab.lanes * fab.lanes;
  uint64_t want_wr = 4u * m * np + 4u * m * (np + fab.lanes);
  ck_assert_uint_eq(df.dram_wr_bytes, want_wr);
  uint64_t df_bytes = df.dram_rd_bytes + df.dram_wr_bytes;
  ck_assert(df_bytes < kbk_bytes);
  printf(
      "  %s %ux%u: section exact; %u chunk rows, %u launch(es); DRAM %llu B vs %llu B kernel by "
      "kernel; %llu vs %llu cycles\n",
      uri, m, c, lay.chunk_rows, df.launches, (unsigned long long)df_bytes,
      (unsigned long long)kbk_bytes, (unsigned long long)df.cycles, (unsigned long long)kbk_cycles);
  free_execs(e, 3);
  free(t), free(x), free(bias), free(gamma), free(beta), free(tb), free(r), free(y), free(mean);
  free(rstd), free(r_df), free(y_df), free(mean_df), free(rstd_df);
  sparrow_close(dev);
}

START_TEST(test_residual_layernorm_s) {
  check_residual_layernorm("sim:model,config=S", 37, 24, 11);  // uneven rows, padded columns
}
END_TEST

START_TEST(test_residual_layernorm_m) {
  check_residual_layernorm("sim:model,config=M", 256, 256, 12);
}
END_TEST

START_TEST(test_residual_layernorm_rtl) {
  check_residual_layernorm("sim:rtl,config=S", 37, 24, 11);  // the RTL fabric: same bits
}
END_TEST

START_TEST(test_residual_layernorm_chunks) {
  // Rows of 200 columns: a PMU of configuration S holds 8 of them next to the broadcasts, so each
  // tile works through its 27 rows in 4 chunks.
  check_residual_layernorm("sim:model,config=S", 53, 200, 13);
}
END_TEST

// h = t + bias (kept) and g = gelu(h): the MLP's first section.
START_TEST(test_bias_gelu) {
  sparrow_dev_t *dev = open_model("sim:model,config=S");
  sparrow_ops_fabric_t fab = fabric_of(dev);
  char msg[400] = "";
  const uint32_t m = 21, n = 40;
  size_t mn = (size_t)m * n;
  uint32_t *t = words(mn), *bias = words(n), *h = words(mn), *g = words(mn);
  fill(21, mn, 3.0f, t);
  fill(22, n, 1.0f, bias);
  const uint32_t *in0[2] = {t, bias};
  uint32_t *out0[2] = {h, NULL};
  ck_assert(sparrow_ops_simd(dev, SPARROW_OPS_BIAS_ADD, m, n, in0, out0, NULL, msg, sizeof(msg)) ==
            SPARROW_OPS_OK);
  const uint32_t *in1[2] = {h, NULL};
  uint32_t *out1[2] = {g, NULL};
  ck_assert(sparrow_ops_simd(dev, SPARROW_OPS_GELU, m, n, in1, out1, NULL, msg, sizeof(msg)) ==
            SPARROW_OPS_OK);

  sparrow_ops_exec_t e_bias, e_gelu;
  ck_assert(sparrow_ops_simd_prepare(&fab, SPARROW_OPS_BIAS_ADD, m, n, in0, &e_bias, msg,
                                     sizeof(msg)) == SPARROW_OPS_OK);
  const uint32_t *in1_df[2] = {t, NULL};
  ck_assert(sparrow_ops_simd_prepare(&fab, SPARROW_OPS_GELU, m, n, in1_df, &e_gelu, msg,
                                     sizeof(msg)) == SPARROW_OPS_OK);
  sparrow_df_section_t sec;
  memset(&sec, 0, sizeof(sec));
  sec.name = "mlp in";
  sec.nsteps = 2;
  sec.step[0] = (sparrow_df_step_t){&e_bias, 0};
  sec.step[1] = (sparrow_df_step_t){&e_gelu, 0};
  sec.nlinks = 1;
  sec.link[0] = (sparrow_df_link_t){0, e_bias.job[0].out_buf, 1, 0, true};
  sparrow_ops_simd_stats_t df;
  memset(&df, 0, sizeof(df));
  ck_assert_msg(sparrow_df_section_run(dev, &sec, &df, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  uint32_t *h_df = words(mn), *g_df = words(mn);
  uint32_t *oh[2] = {h_df, NULL}, *og[2] = {g_df, NULL};
  sparrow_ops_simd_finish(&e_bias, SPARROW_OPS_BIAS_ADD, m, n, oh);
  sparrow_ops_simd_finish(&e_gelu, SPARROW_OPS_GELU, m, n, og);
  expect_exact("bias add (kept)", mn, h_df, h);
  expect_exact("gelu", mn, g_df, g);
  ck_assert_uint_eq(df.cycles, df.est_cycles);
  sparrow_ops_exec_free(&e_bias);
  sparrow_ops_exec_free(&e_gelu);
  free(t), free(bias), free(h), free(g), free(h_df), free(g_df);
  sparrow_close(dev);
}
END_TEST

// A program memory too small for one chunk's phases is refused; a smaller one than the section
// needs in one launch splits it into several launches.
START_TEST(test_launch_split_and_refusals) {
  sparrow_ops_fabric_t fab = {2, 4, 4096, 1024, 16, 64, 100};
  char msg[400] = "";
  const uint32_t m = 64, c = 200;
  size_t mc = (size_t)m * c;
  uint32_t *x = words(mc), *bias = words(c), *gamma = words(c), *beta = words(c);
  const uint32_t *in0[2] = {x, bias};
  sparrow_ops_exec_t e[3];
  sparrow_df_section_t sec;
  attn_out_section(&fab, m, c, x, x, bias, gamma, beta, e, &sec);
  uint64_t addr[SPARROW_DF_MAX_STEPS][SPARROW_OPS_EXEC_MAX_BUFS];
  memset(addr, 0, sizeof(addr));
  for (uint32_t s = 0; s < 3; ++s) {
    for (uint32_t b = 0; b < SPARROW_OPS_EXEC_MAX_BUFS; ++b) {
      addr[s][b] = 0x100000u * (1u + s * SPARROW_OPS_EXEC_MAX_BUFS + b);
    }
  }
  sparrow_df_layout_t lay;
  ck_assert(sparrow_df_section_layout(&sec, &fab, &lay, msg, sizeof(msg)) == SPARROW_OPS_OK);
  uint32_t chunks = (m / fab.tiles + lay.chunk_rows - 1u) / lay.chunk_rows;
  ck_assert_uint_gt(chunks, 2);
  sparrow_ops_programs_t progs;
  ck_assert_msg(
      sparrow_df_section_build(&sec, &fab, (const uint64_t(*)[SPARROW_OPS_EXEC_MAX_BUFS])addr,
                               &progs, NULL, msg, sizeof(msg)) == SPARROW_OPS_OK,
      "%s", msg);
  size_t one_launch = progs.lengths[0];
  ck_assert_uint_eq(progs.count, 1);
  sparrow_ops_programs_free(&progs);
  // Program memory for about half of it: more launches, each with its own preamble.
  fab.prog_entries = (uint32_t)(one_launch / 2u);
  ck_assert_msg(
      sparrow_df_section_build(&sec, &fab, (const uint64_t(*)[SPARROW_OPS_EXEC_MAX_BUFS])addr,
                               &progs, NULL, msg, sizeof(msg)) == SPARROW_OPS_OK,
      "%s", msg);
  ck_assert_uint_gt(progs.count, 1);
  for (size_t i = 0; i < progs.count; ++i) {
    ck_assert_uint_le(progs.lengths[i], fab.prog_entries);
  }
  sparrow_ops_programs_free(&progs);
  // Too little for one chunk.
  fab.prog_entries = 40;
  ck_assert_int_eq(
      sparrow_df_section_build(&sec, &fab, (const uint64_t(*)[SPARROW_OPS_EXEC_MAX_BUFS])addr,
                               &progs, NULL, msg, sizeof(msg)),
      SPARROW_OPS_E_UNSUPPORTED);
  ck_assert_msg(strstr(msg, "program entries") != NULL, "%s", msg);
  fab.prog_entries = 1024;

  // A link backwards, a link into a buffer the step does not read, a step walking other rows.
  sparrow_df_section_t bad = sec;
  bad.link[0] = (sparrow_df_link_t){1, e[1].job[0].out_buf, 0, 0, false};
  ck_assert_int_eq(sparrow_df_section_layout(&bad, &fab, &lay, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "earlier step") != NULL, "%s", msg);
  bad = sec;
  bad.link[1].to_buf = e[2].job[0].out_buf;
  ck_assert_int_eq(sparrow_df_section_layout(&bad, &fab, &lay, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  sparrow_ops_exec_t e_short;
  ck_assert(sparrow_ops_simd_prepare(&fab, SPARROW_OPS_BIAS_ADD, m - 1u, c, in0, &e_short, msg,
                                     sizeof(msg)) == SPARROW_OPS_OK);
  bad = sec;
  bad.step[0].exec = &e_short;
  ck_assert_int_eq(sparrow_df_section_layout(&bad, &fab, &lay, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "rows") != NULL, "%s", msg);
  bad = sec;
  bad.step[1].exec = &e[0];
  ck_assert_int_eq(sparrow_df_section_layout(&bad, &fab, &lay, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  // Rows too wide for a PMU: one row of the two linked tensors needs more lines than it has.
  sparrow_ops_fabric_t small = fab;
  small.pmu_words = 256;  // 64 lines: one row of the two linked tensors needs 100
  sparrow_ops_exec_t e_small[3];
  attn_out_section(&small, m, c, x, x, bias, gamma, beta, e_small, &bad);
  ck_assert_int_eq(sparrow_df_section_layout(&bad, &small, &lay, msg, sizeof(msg)),
                   SPARROW_OPS_E_UNSUPPORTED);
  ck_assert_msg(strstr(msg, "do not fit") != NULL, "%s", msg);
  free_execs(e_small, 3);
  sparrow_ops_exec_free(&e_short);
  free_execs(e, 3);
  free(x), free(bias), free(gamma), free(beta);
}
END_TEST

// The block plan for a non-default width, head count and context: every operator once, in order;
// the row-wise chains fused with the right tensors on chip and kept; a PMU too small for the MLP's
// rows cuts that section.
static uint32_t count_fused(const sparrow_df_plan_t *p) {
  uint32_t n = 0;
  for (uint32_t s = 0; s < p->nstages; ++s) {
    n += p->stage[s].fused;
  }
  return n;
}

START_TEST(test_block_plan) {
  sparrow_ops_fabric_t fab = {2, 4, 4096, 1024, 16, 64, 100};
  sparrow_df_shape_t shape = {2, 48, 96, 3, true, false};
  sparrow_df_plan_t kbk, df;
  char msg[200] = "";
  ck_assert(sparrow_df_plan_block(&shape, &fab, SPARROW_DF_MODE_KBK, &kbk, msg, sizeof(msg)) ==
            SPARROW_OPS_OK);
  ck_assert(sparrow_df_plan_block(&shape, &fab, SPARROW_DF_MODE_DF, &df, msg, sizeof(msg)) ==
            SPARROW_OPS_OK);
  ck_assert_uint_eq(kbk.nnodes, df.nnodes);
  ck_assert_uint_eq(kbk.nnodes, 15u + 16u);  // first block: layernorm 1 here; not the last
  ck_assert_uint_eq(kbk.nstages, kbk.nnodes);
  ck_assert_uint_eq(count_fused(&kbk), 0);
  ck_assert_mem_eq(kbk.node, df.node, sizeof(kbk.node[0]) * kbk.nnodes);
  uint32_t next = 0;
  for (uint32_t s = 0; s < df.nstages; ++s) {
    ck_assert_uint_eq(df.stage[s].first, next);
    next += df.stage[s].count;
  }
  ck_assert_uint_eq(next, df.nnodes);
  // Forward: ln1, qkv bias, attention out (3 operators), mlp in (2), mlp out (3); backward: the
  // two layernorm dx + residual joins.
  ck_assert_uint_eq(count_fused(&df), 7);
  char text[4096];
  ck_assert_uint_lt(sparrow_df_plan_describe(&df, text, sizeof(text)), sizeof(text));
  printf("%s", text);
  ck_assert_ptr_nonnull(strstr(text,
                               "bias_add(attproj) proj_mm:[proj] -> residual_add "
                               "x,[proj]:[resid2]* -> layernorm(ln2) [resid2]*:ln2"));
  ck_assert_ptr_nonnull(strstr(text, "bias_add(fc) fc_mm:[fch]* -> gelu [fch]*:fchg"));
  ck_assert_ptr_nonnull(strstr(text,
                               "residual_add resid2,[fcproj]:[resid3]* -> "
                               "layernorm(ln_next) [resid3]*:ln_next"));
  ck_assert_ptr_nonnull(strstr(text,
                               "layernorm_bwd_dx(ln1) x,d_ln1:[d_ln1_x] -> residual_add "
                               "d_resid2,[d_ln1_x]:d_x"));
  // 4C = 384 columns are 96 lines a row on 4 lanes: a PMU of 64 lines cannot hold one, so the MLP's
  // first section is cut to its bias add alone (still a section: the bias is a broadcast).
  fab.pmu_words = 256;
  ck_assert(sparrow_df_plan_block(&shape, &fab, SPARROW_DF_MODE_DF, &df, msg, sizeof(msg)) ==
            SPARROW_OPS_OK);
  sparrow_df_plan_describe(&df, text, sizeof(text));
  ck_assert_ptr_nonnull(strstr(text, "section bias_add(fc) fc_mm:fch\n"));
  ck_assert_ptr_nonnull(strstr(text, "kernel  gelu fch:fchg"));
  // Bad shapes.
  shape.heads = 5;
  ck_assert_int_eq(sparrow_df_plan_block(&shape, &fab, SPARROW_DF_MODE_DF, &df, msg, sizeof(msg)),
                   SPARROW_OPS_E_ARG);
  ck_assert_ptr_nonnull(strstr(msg, "multiple of the heads"));
}
END_TEST

static Suite *df_suite(void) {
  Suite *suite = suite_create("df_section");
  TCase *tc = tcase_create("sections");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_residual_layernorm_s);
  tcase_add_test(tc, test_residual_layernorm_m);
  tcase_add_test(tc, test_residual_layernorm_rtl);
  tcase_add_test(tc, test_residual_layernorm_chunks);
  tcase_add_test(tc, test_bias_gelu);
  tcase_add_test(tc, test_launch_split_and_refusals);
  tcase_add_test(tc, test_block_plan);
  suite_add_tcase(suite, tc);
  return suite;
}

int main(void) {
  SRunner *runner = srunner_create(df_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
