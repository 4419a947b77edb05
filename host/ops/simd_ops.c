// SPDX-License-Identifier: Apache-2.0
//
// The SIMD operators (simd_ops.h, docs/ops.md "SIMD operators"): their programs, their jobs for
// the generic runner, the device images of their tensors, and the run through the driver.

#include "simd_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_exec.h"
#include "simd_special.h"
#include "sparrow_ref.h"  // the GELU constants: the reference defines the operator

#define AL SPARROW_SIMD_PRED_ALWAYS
#define IMM SPARROW_SIMD_SRC_IMM
#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u
#define F_HALF 0x3F000000u

#define M SPARROW_OPS_SIMD_MATRIX
#define V SPARROW_OPS_SIMD_VECTOR

static const sparrow_ops_simd_op_info_t kOps[SPARROW_OPS_SIMD_OP_COUNT] = {
    [SPARROW_OPS_RESIDUAL_ADD] =
        {"residual_add", "y = a + b", 2, 1, {"a", "b"}, {"y", NULL}, {M, M}, {M, M}},
    [SPARROW_OPS_RESIDUAL_ADD_BWD] = {"residual_add_bwd",
                                      "da = dy, db = dy (copies)",
                                      1,
                                      2,
                                      {"dy", NULL},
                                      {"da", "db"},
                                      {M, M},
                                      {M, M}},
    [SPARROW_OPS_BIAS_ADD] = {"bias_add",
                              "y[i][j] = x[i][j] + bias[j]",
                              2,
                              1,
                              {"x", "bias"},
                              {"y", NULL},
                              {M, V},
                              {M, M}},
    [SPARROW_OPS_BIAS_ADD_BWD] = {"bias_add_bwd",
                                  "dbias[j] = sum over i of dy[i][j]",
                                  1,
                                  1,
                                  {"dy", NULL},
                                  {"dbias", NULL},
                                  {M, M},
                                  {V, M}},
    [SPARROW_OPS_GELU] =
        {"gelu", "y = gelu(x), tanh form", 1, 1, {"x", NULL}, {"y", NULL}, {M, M}, {M, M}},
    [SPARROW_OPS_GELU_BWD] =
        {"gelu_bwd", "dx = dy * gelu'(x)", 2, 1, {"x", "dy"}, {"dx", NULL}, {M, M}, {M, M}},
};

#undef M
#undef V

const sparrow_ops_simd_op_info_t *sparrow_ops_simd_info(sparrow_ops_simd_op_t op) {
  return (unsigned)op < SPARROW_OPS_SIMD_OP_COUNT ? &kOps[op] : NULL;
}

bool sparrow_ops_simd_find(const char *name, sparrow_ops_simd_op_t *op) {
  for (unsigned i = 0; name != NULL && i < SPARROW_OPS_SIMD_OP_COUNT; ++i) {
    if (strcmp(kOps[i].name, name) == 0) {
      *op = (sparrow_ops_simd_op_t)i;
      return true;
    }
  }
  return false;
}

size_t sparrow_ops_simd_elems(sparrow_ops_simd_shape_t shape, uint32_t m, uint32_t n) {
  return shape == SPARROW_OPS_SIMD_VECTOR ? (size_t)n : (size_t)m * n;
}

// ---------------------------------------------------------------------------------------------------
// Device images.

static uint32_t padded(uint32_t n, uint32_t lanes) {
  return (uint32_t)(((uint64_t)n + lanes - 1u) / lanes * lanes);
}

uint64_t sparrow_ops_simd_image_bytes(sparrow_ops_simd_shape_t shape, uint32_t lanes, uint32_t m,
                                      uint32_t n) {
  uint64_t np = padded(n, lanes);
  return 4ull * np * (shape == SPARROW_OPS_SIMD_VECTOR ? 1u : m);
}

void sparrow_ops_simd_pack(sparrow_ops_simd_shape_t shape, uint32_t lanes, uint32_t m, uint32_t n,
                           const uint32_t *host, uint32_t *image) {
  uint32_t np = padded(n, lanes);
  uint32_t rows = shape == SPARROW_OPS_SIMD_VECTOR ? 1u : m;
  memset(image, 0, (size_t)sparrow_ops_simd_image_bytes(shape, lanes, m, n));
  for (uint32_t i = 0; i < rows; ++i) {
    memcpy(&image[(size_t)i * np], &host[(size_t)i * n], 4u * (size_t)n);
  }
}

void sparrow_ops_simd_unpack(sparrow_ops_simd_shape_t shape, uint32_t lanes, uint32_t m, uint32_t n,
                             const uint32_t *image, uint32_t *host) {
  uint32_t np = padded(n, lanes);
  uint32_t rows = shape == SPARROW_OPS_SIMD_VECTOR ? 1u : m;
  for (uint32_t i = 0; i < rows; ++i) {
    memcpy(&host[(size_t)i * n], &image[(size_t)i * np], 4u * (size_t)n);
  }
}

// ---------------------------------------------------------------------------------------------------
// GELU.

void sparrow_simd_gelu(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  sparrow_simd_reg_require(as, dst);
  sparrow_simd_reg_require(as, x);
  uint32_t t = sparrow_simd_reg_alloc(as);
  uint32_t h = sparrow_simd_reg_alloc(as);
  sparrow_simd_fmul(as, AL, t, x, x, 0);
  sparrow_simd_fmul(as, AL, t, t, x, 0);
  sparrow_simd_fmul(as, AL, t, IMM, t, SPARROW_REF_GELU_C1);
  sparrow_simd_fadd(as, AL, t, x, t, 0);
  sparrow_simd_fmul(as, AL, t, IMM, t, SPARROW_REF_GELU_K);
  sparrow_simd_tanh(as, t, t);
  sparrow_simd_fadd(as, AL, t, IMM, t, F_ONE);  // g = 1 + th
  sparrow_simd_fmul(as, AL, h, IMM, x, F_HALF);
  sparrow_simd_fmul(as, AL, dst, h, t, 0);
  sparrow_simd_reg_free(as, h);
  sparrow_simd_reg_free(as, t);
}

void sparrow_simd_gelu_bwd(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x, uint32_t dy) {
  sparrow_simd_reg_require(as, dst);
  sparrow_simd_reg_require(as, x);
  sparrow_simd_reg_require(as, dy);
  uint32_t x2 = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as);
  sparrow_simd_fmul(as, AL, x2, x, x, 0);
  sparrow_simd_fmul(as, AL, t, x2, x, 0);
  sparrow_simd_fmul(as, AL, t, IMM, t, SPARROW_REF_GELU_C1);
  sparrow_simd_fadd(as, AL, t, x, t, 0);
  sparrow_simd_fmul(as, AL, t, IMM, t, SPARROW_REF_GELU_K);
  sparrow_simd_tanh(as, t, t);  // th
  uint32_t g = sparrow_simd_reg_alloc(as);
  sparrow_simd_fadd(as, AL, g, IMM, t, F_ONE);
  sparrow_simd_fmul(as, AL, g, IMM, g, F_HALF);  // a = 0.5 (1 + th)
  sparrow_simd_fmul(as, AL, t, t, t, 0);         // th^2
  sparrow_simd_fsub(as, AL, t, IMM, t, F_ONE);   // s = 1 - th^2
  sparrow_simd_fmul(as, AL, x2, IMM, x2, SPARROW_REF_GELU_C3);
  sparrow_simd_fadd(as, AL, x2, IMM, x2, F_ONE);
  sparrow_simd_fmul(as, AL, x2, IMM, x2, SPARROW_REF_GELU_K);  // d = K (1 + C3 x^2)
  uint32_t h = sparrow_simd_reg_alloc(as);
  sparrow_simd_fmul(as, AL, h, IMM, x, F_HALF);
  sparrow_simd_fmul(as, AL, h, h, t, 0);
  sparrow_simd_fmul(as, AL, h, h, x2, 0);  // b = 0.5 x s d
  sparrow_simd_fadd(as, AL, g, g, h, 0);   // gelu'(x)
  sparrow_simd_fmul(as, AL, dst, dy, g, 0);
  sparrow_simd_reg_free(as, h);
  sparrow_simd_reg_free(as, g);
  sparrow_simd_reg_free(as, t);
  sparrow_simd_reg_free(as, x2);
}

// ---------------------------------------------------------------------------------------------------
// Programs and jobs.

// A row-wise stream over matrices (or a broadcast vector) of np words per row.
static sparrow_ops_simd_stream_t row_stream(sparrow_ops_simd_shape_t shape, uint32_t tensors,
                                            uint32_t lanes, uint32_t m, uint32_t n) {
  sparrow_ops_simd_stream_t s;
  memset(&s, 0, sizeof(s));
  uint32_t np = padded(n, lanes);
  s.tensors = tensors;
  s.tensor_bytes = sparrow_ops_simd_image_bytes(shape, lanes, m, n);
  s.beats = np / lanes;
  s.beat_stride = 4u * lanes;
  s.passes = 1;
  s.row_stride = shape == SPARROW_OPS_SIMD_VECTOR ? 0u : 4u * np;
  return s;
}

// body: POP a (and b); op; PUSH. Registers: r0 = a, r1 = b.
static void emit_rowwise(sparrow_simd_asm_t *as, sparrow_ops_simd_op_t op) {
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  uint32_t a = sparrow_simd_reg_alloc(as);
  sparrow_simd_pop(as, a, SPARROW_SIMD_PORT_A);
  switch (op) {
    case SPARROW_OPS_RESIDUAL_ADD:
    case SPARROW_OPS_BIAS_ADD: {
      uint32_t b = sparrow_simd_reg_alloc(as);
      sparrow_simd_pop(as, b, SPARROW_SIMD_PORT_B);
      sparrow_simd_fadd(as, AL, a, a, b, 0);
      sparrow_simd_push(as, AL, a, 0);
      break;
    }
    case SPARROW_OPS_RESIDUAL_ADD_BWD:
      // The gradient passes to both branches unchanged: a bit copy, no arithmetic (so no flag,
      // and a NaN keeps its payload, as the identity must).
      sparrow_simd_push(as, AL, a, 0);
      sparrow_simd_push(as, AL, a, 0);
      break;
    case SPARROW_OPS_GELU:
      sparrow_simd_gelu(as, a, a);
      sparrow_simd_push(as, AL, a, 0);
      break;
    case SPARROW_OPS_GELU_BWD: {
      uint32_t dy = sparrow_simd_reg_alloc(as);
      sparrow_simd_pop(as, dy, SPARROW_SIMD_PORT_B);
      sparrow_simd_gelu_bwd(as, dy, a, dy);
      sparrow_simd_push(as, AL, dy, 0);
      break;
    }
    default:
      break;
  }
  sparrow_simd_seg_end(as);
}

// Column sums: one SIMD row per strip of `lanes` columns, its beats the m rows in order, one
// accumulator per lane. The body adds the beat popped one iteration earlier, then pops the next
// (one issue group per beat: the POP ends it): the first add is +0 + +0 = +0, exact and without
// flags, so the accumulator goes through exactly the golden sums, +0.0 then dy[0][j], dy[1][j], ...
static void emit_column_sums(sparrow_simd_asm_t *as) {
  uint32_t acc = sparrow_simd_reg_alloc(as);
  uint32_t v = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, acc, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, v, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_fadd(as, AL, acc, acc, v, 0);
  sparrow_simd_pop(as, v, SPARROW_SIMD_PORT_A);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_fadd(as, AL, acc, acc, v, 0);
  sparrow_simd_push(as, AL, acc, 0);
  sparrow_simd_seg_end(as);
}

sparrow_ops_status_t sparrow_ops_simd_job(sparrow_ops_simd_op_t op, uint32_t lanes, uint32_t m,
                                          uint32_t n, sparrow_simd_asm_t *code,
                                          sparrow_ops_simd_job_t *job) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(op);
  if (info == NULL || code == NULL || job == NULL || lanes == 0 || m == 0 || n == 0) {
    return SPARROW_OPS_E_ARG;
  }
  memset(job, 0, sizeof(*job));
  sparrow_simd_asm_init(code);
  job->code = code;
  job->passes = 1;
  uint32_t np = padded(n, lanes);
  if (op == SPARROW_OPS_BIAS_ADD_BWD) {
    emit_column_sums(code);
    job->rows = np / lanes;  // strips
    job->beats = m;
    sparrow_ops_simd_stream_t *in = &job->in[0];
    in->tensors = 1;
    in->tensor_bytes = sparrow_ops_simd_image_bytes(SPARROW_OPS_SIMD_MATRIX, lanes, m, n);
    in->beats = m;
    in->beat_stride = 4u * np;  // down the column strip
    in->passes = 1;
    in->row_stride = 4u * lanes;  // the next strip
    sparrow_ops_simd_stream_t *out = &job->out;
    out->tensors = 1;
    out->tensor_bytes = sparrow_ops_simd_image_bytes(SPARROW_OPS_SIMD_VECTOR, lanes, m, n);
    out->beats = 1;
    out->beat_stride = 0;
    out->passes = 1;
    out->row_stride = 4u * lanes;
  } else {
    emit_rowwise(code, op);
    job->rows = m;
    job->beats = np / lanes;
    for (uint32_t i = 0; i < info->inputs; ++i) {
      job->in[i] = row_stream(info->in_shape[i], 1, lanes, m, n);
    }
    job->out = row_stream(info->out_shape[0], info->outputs, lanes, m, n);
  }
  return sparrow_simd_asm_check(code, NULL, 0) == SPARROW_SIMD_ASM_OK ? SPARROW_OPS_OK
                                                                      : SPARROW_OPS_E_ARG;
}

// ---------------------------------------------------------------------------------------------------
// As an executor (nn_exec.h), and through the driver.

sparrow_ops_status_t sparrow_ops_simd_prepare(const sparrow_ops_fabric_t *fabric,
                                              sparrow_ops_simd_op_t op, uint32_t m, uint32_t n,
                                              const uint32_t *const *in, sparrow_ops_exec_t *exec,
                                              char *msg, size_t msg_len) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(op);
  if (fabric == NULL || info == NULL || in == NULL || exec == NULL || m == 0 || n == 0) {
    sparrow_ops_set_msg(msg, msg_len, "simd operator: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  for (uint32_t i = 0; i < info->inputs; ++i) {
    if (in[i] == NULL) {
      sparrow_ops_set_msg(msg, msg_len, "%s: input %s is NULL", info->name, info->in_names[i]);
      return SPARROW_OPS_E_ARG;
    }
  }
  sparrow_ops_exec_init(exec, fabric);
  uint32_t lanes = fabric->lanes;
  sparrow_simd_asm_t *code = sparrow_ops_exec_new_code(exec);
  sparrow_ops_simd_job_t job;
  sparrow_ops_status_t ost =
      code == NULL ? SPARROW_OPS_E_NOMEM : sparrow_ops_simd_job(op, lanes, m, n, code, &job);
  if (ost != SPARROW_OPS_OK) {
    char why[120] = "host out of memory";
    if (code != NULL) {
      sparrow_simd_asm_status_t ast = sparrow_simd_asm_check(code, why, sizeof(why));
      sparrow_ops_set_msg(msg, msg_len, "%s: no program for %ux%u on %u lanes (%s: %s)", info->name,
                          m, n, lanes, sparrow_simd_asm_status_name(ast), why);
    } else {
      sparrow_ops_set_msg(msg, msg_len, "%s: %s", info->name, why);
    }
    sparrow_ops_exec_free(exec);
    return ost;
  }
  // Buffers: the inputs in order (input i on read channel i), then the output; a stream's
  // tensors lie tensor_bytes apart in its buffer.
  uint32_t in_buf[SPARROW_OPS_SIMD_INPUTS] = {SPARROW_OPS_EXEC_NONE, SPARROW_OPS_EXEC_NONE};
  const uint64_t in_off[SPARROW_OPS_SIMD_INPUTS] = {0, 0};
  uint32_t out_buf = SPARROW_OPS_EXEC_NONE;
  for (uint32_t i = 0; i < info->inputs && ost == SPARROW_OPS_OK; ++i) {
    ost = sparrow_ops_exec_add_buf(exec, info->in_names[i],
                                   (uint64_t)job.in[i].tensors * job.in[i].tensor_bytes,
                                   SPARROW_OPS_EXEC_IN, &in_buf[i]);
    if (ost == SPARROW_OPS_OK) {
      sparrow_ops_simd_pack(info->in_shape[i], lanes, m, n, in[i], exec->buf[in_buf[i]].image);
    }
  }
  if (ost == SPARROW_OPS_OK) {
    ost = sparrow_ops_exec_add_buf(exec, info->out_names[0],
                                   (uint64_t)job.out.tensors * job.out.tensor_bytes,
                                   SPARROW_OPS_EXEC_OUT, &out_buf);
  }
  if (ost != SPARROW_OPS_OK) {
    sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", info->name);
  } else {
    ost = sparrow_ops_exec_add_simd(exec, &job, in_buf, in_off, out_buf, 0, msg, msg_len);
  }
  if (ost != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
  }
  return ost;
}

void sparrow_ops_simd_finish(const sparrow_ops_exec_t *exec, sparrow_ops_simd_op_t op, uint32_t m,
                             uint32_t n, uint32_t *const *out) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(op);
  const sparrow_ops_exec_job_t *job = &exec->job[0];
  const uint32_t *image = exec->buf[job->out_buf].image;
  for (uint32_t j = 0; j < info->outputs; ++j) {
    sparrow_ops_simd_unpack(info->out_shape[j], exec->fabric.lanes, m, n,
                            image + (size_t)(j * job->simd.out.tensor_bytes / 4u), out[j]);
  }
}

sparrow_ops_status_t sparrow_ops_simd(sparrow_dev_t *dev, sparrow_ops_simd_op_t op, uint32_t m,
                                      uint32_t n, const uint32_t *const *in, uint32_t *const *out,
                                      sparrow_ops_simd_stats_t *stats, char *msg, size_t msg_len) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(op);
  if (dev == NULL || info == NULL || in == NULL || out == NULL || m == 0 || n == 0) {
    sparrow_ops_set_msg(msg, msg_len, "simd operator: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  for (uint32_t j = 0; j < info->outputs; ++j) {
    if (out[j] == NULL) {
      sparrow_ops_set_msg(msg, msg_len, "%s: output %s is NULL", info->name, info->out_names[j]);
      return SPARROW_OPS_E_ARG;
    }
  }
  sparrow_ops_simd_stats_t local;
  if (stats == NULL) {
    stats = &local;
  }
  memset(stats, 0, sizeof(*stats));
  sparrow_ops_fabric_t fabric;
  uint64_t dram_bytes = 0;
  sparrow_ops_status_t ost = sparrow_ops_exec_device(dev, &fabric, &dram_bytes, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  sparrow_ops_exec_t exec;
  ost = sparrow_ops_simd_prepare(&fabric, op, m, n, in, &exec, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  char name[64];
  snprintf(name, sizeof(name), "%s %ux%u", info->name, m, n);
  ost = sparrow_ops_exec_fits(&exec, dram_bytes, name, msg, msg_len);
  if (ost == SPARROW_OPS_OK) {
    ost = sparrow_ops_exec_run(dev, &exec, stats, msg, msg_len);
  }
  if (ost == SPARROW_OPS_OK) {
    sparrow_ops_simd_finish(&exec, op, m, n, out);
  }
  sparrow_ops_exec_free(&exec);
  return ost;
}
