// SPDX-License-Identifier: Apache-2.0
//
// Row-wise operators on the PCU's SIMD mode (docs/ops.md, "SIMD operators"), each one job of the
// generic runner (simd_run.h), forward and backward:
//
//   residual_add      y = a + b                          a, b, y: m x n
//   residual_add_bwd  da = dy, db = dy (bit copies)       dy, da, db: m x n
//   bias_add          y[i][j] = x[i][j] + bias[j]         x, y: m x n; bias: n
//   bias_add_bwd      dbias[j] = sum over i of dy[i][j]   dy: m x n; dbias: n (x's gradient is dy)
//   gelu              y = gelu(x), tanh form              x, y: m x n
//   gelu_bwd          dx = dy * gelu'(x)                  x, dy, dx: m x n
//
// Each element is exactly the golden-order sequence of host/ref (sparrow_ref_<op>_golden); the
// column sums of bias_add_bwd add the rows in ascending order from +0.0, one accumulator per column
// (no lane tree). Tensors are binary32 bit patterns, row-major.

#ifndef SPARROW_HOST_OPS_SIMD_OPS_H_
#define SPARROW_HOST_OPS_SIMD_OPS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simd_asm.h"
#include "simd_run.h"
#include "sparrow.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_ops_simd_op {
  SPARROW_OPS_RESIDUAL_ADD = 0,
  SPARROW_OPS_RESIDUAL_ADD_BWD,
  SPARROW_OPS_BIAS_ADD,
  SPARROW_OPS_BIAS_ADD_BWD,
  SPARROW_OPS_GELU,
  SPARROW_OPS_GELU_BWD,
  SPARROW_OPS_SIMD_OP_COUNT,
} sparrow_ops_simd_op_t;

#define SPARROW_OPS_SIMD_MAX_TENSORS 2u

typedef enum sparrow_ops_simd_shape {
  SPARROW_OPS_SIMD_MATRIX = 0,  // m x n
  SPARROW_OPS_SIMD_VECTOR = 1,  // n (one value per column)
} sparrow_ops_simd_shape_t;

typedef struct sparrow_ops_simd_op_info {
  const char *name;  // "gelu_bwd": the CLI's operator name
  const char *summary;
  uint32_t inputs, outputs;
  const char *in_names[SPARROW_OPS_SIMD_MAX_TENSORS];
  const char *out_names[SPARROW_OPS_SIMD_MAX_TENSORS];
  sparrow_ops_simd_shape_t in_shape[SPARROW_OPS_SIMD_MAX_TENSORS];
  sparrow_ops_simd_shape_t out_shape[SPARROW_OPS_SIMD_MAX_TENSORS];
} sparrow_ops_simd_op_info_t;

// The operator's description; NULL for an op out of range.
const sparrow_ops_simd_op_info_t *sparrow_ops_simd_info(sparrow_ops_simd_op_t op);
// The operator called name; false when there is none.
bool sparrow_ops_simd_find(const char *name, sparrow_ops_simd_op_t *op);
// Elements of a tensor of that shape.
size_t sparrow_ops_simd_elems(sparrow_ops_simd_shape_t shape, uint32_t m, uint32_t n);

// The operator's SIMD program and job for m x n tensors on a device with `lanes` lanes; the
// streams' buffers are the device images of sparrow_ops_simd_pack (inputs: input i on read
// channel i; outputs: interleaved on the write channel, output j at byte j * tensor_bytes).
// The job points at *code.
sparrow_ops_status_t sparrow_ops_simd_job(sparrow_ops_simd_op_t op, uint32_t lanes, uint32_t m,
                                          uint32_t n, sparrow_simd_asm_t *code,
                                          sparrow_ops_simd_job_t *job)
    __attribute__((warn_unused_result));

// Device images: a matrix is m rows of np words (np = n rounded up to lanes, zeros in the padding),
// a vector np words. Bytes of one image:
uint64_t sparrow_ops_simd_image_bytes(sparrow_ops_simd_shape_t shape, uint32_t lanes, uint32_t m,
                                      uint32_t n);
void sparrow_ops_simd_pack(sparrow_ops_simd_shape_t shape, uint32_t lanes, uint32_t m, uint32_t n,
                           const uint32_t *host, uint32_t *image);
void sparrow_ops_simd_unpack(sparrow_ops_simd_shape_t shape, uint32_t lanes, uint32_t m, uint32_t n,
                             const uint32_t *image, uint32_t *host);

// Runs the operator on the device: allocates, packs and writes the inputs, runs the job, reads
// and unpacks the outputs, frees. in[i] / out[j] are the operator's tensors in its order
// (sparrow_ops_simd_info). stats (may be NULL) is zeroed, then filled. On failure msg says why.
sparrow_ops_status_t sparrow_ops_simd(sparrow_dev_t *dev, sparrow_ops_simd_op_t op, uint32_t m,
                                      uint32_t n, const uint32_t *const *in, uint32_t *const *out,
                                      sparrow_ops_simd_stats_t *stats, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// The operator as a one-job executor (nn_exec.h), for dataflow sections (df_section.h): buffer i
// holds input i packed from in[i] (IN), the next buffer the outputs (OUT, interleaved as above).
// sparrow_ops_simd_finish unpacks the outputs from the executor's images. sparrow_ops_simd is
// prepare, sparrow_ops_exec_run and finish.
struct sparrow_ops_exec;
sparrow_ops_status_t sparrow_ops_simd_prepare(const sparrow_ops_fabric_t *fabric,
                                              sparrow_ops_simd_op_t op, uint32_t m, uint32_t n,
                                              const uint32_t *const *in,
                                              struct sparrow_ops_exec *exec, char *msg,
                                              size_t msg_len) __attribute__((warn_unused_result));
void sparrow_ops_simd_finish(const struct sparrow_ops_exec *exec, sparrow_ops_simd_op_t op,
                             uint32_t m, uint32_t n, uint32_t *const *out);

// The GELU macros the operators use (docs/simd.md): dst = gelu(x) and dst = dy * gelu'(x), in
// the golden order of sparrow_ref_gelu_golden / _bwd_golden. dst may equal x (and dy).
void sparrow_simd_gelu(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x);
void sparrow_simd_gelu_bwd(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x, uint32_t dy);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SIMD_OPS_H_
