// SPDX-License-Identifier: Apache-2.0
//
// The execution plan of one transformer block (docs/dataflow.md): its operators forward and
// backward, in order, grouped into stages. A stage is either one kernel (an operator that reads its
// inputs from DRAM and writes its outputs to DRAM) or a fused section (df_section.h): consecutive
// row-wise operators that stream into each other through the PMUs. The plan is data built from the
// block's shape, the fabric and the mode; the trainer's chip backend executes it, so kernel by
// kernel (every operator its own stage) and dataflow run the very same operators in the same order
// and differ only in where the tensors between them live.
//
// Tensors are named by role within the block (sparrow_df_tensor_t); the executor binds each to its
// storage. A tensor produced inside a section is kept (also written to DRAM) when anything outside
// the section reads it: a later stage, the backward pass, or the next block.

#ifndef SPARROW_HOST_OPS_DF_PLAN_H_
#define SPARROW_HOST_OPS_DF_PLAN_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_df_mode {
  SPARROW_DF_MODE_KBK = 0,  // kernel by kernel: every operator its own stage
  SPARROW_DF_MODE_DF = 1,   // dataflow: row-wise chains fused into sections
} sparrow_df_mode_t;

typedef enum sparrow_df_tensor {
  SPARROW_DF_T_NONE = 0,
  // Forward.
  SPARROW_DF_T_X,          // the block's input (the embedding, or the previous block's RESID3)
  SPARROW_DF_T_LN1,        // layernorm 1 of X (with its mean and rstd)
  SPARROW_DF_T_QKV_MM,     // LN1 W_qkv, before the bias
  SPARROW_DF_T_QKV,        // + b_qkv
  SPARROW_DF_T_ATTY,       // causal self-attention of QKV
  SPARROW_DF_T_PROJ_MM,    // ATTY W_proj
  SPARROW_DF_T_PROJ,       // + b_proj
  SPARROW_DF_T_RESID2,     // X + PROJ
  SPARROW_DF_T_LN2,        // layernorm 2 of RESID2
  SPARROW_DF_T_FC_MM,      // LN2 W_fc
  SPARROW_DF_T_FCH,        // + b_fc
  SPARROW_DF_T_FCHG,       // gelu(FCH)
  SPARROW_DF_T_FCPROJ_MM,  // FCHG W_fcproj
  SPARROW_DF_T_FCPROJ,     // + b_fcproj
  SPARROW_DF_T_RESID3,     // RESID2 + FCPROJ: the block's output
  SPARROW_DF_T_LN_NEXT,    // the next block's layernorm 1 of RESID3, or the final layernorm
  // Backward (D_: the gradient of the loss with respect to it).
  SPARROW_DF_T_D_LN_NEXT,  // last block only: the final layernorm's output gradient
  SPARROW_DF_T_D_RESID3,
  SPARROW_DF_T_D_FCHG,
  SPARROW_DF_T_D_FCH,
  SPARROW_DF_T_D_LN2,
  SPARROW_DF_T_D_LN2_X,  // layernorm 2's input gradient (RESID2's other branch joins it)
  SPARROW_DF_T_D_RESID2,
  SPARROW_DF_T_D_ATTY,
  SPARROW_DF_T_D_QKV,
  SPARROW_DF_T_D_LN1,
  SPARROW_DF_T_D_LN1_X,  // layernorm 1's input gradient (X's other branch joins it)
  SPARROW_DF_T_D_X,      // the block's input gradient (the previous block's D_RESID3)
  SPARROW_DF_T_COUNT
} sparrow_df_tensor_t;

typedef enum sparrow_df_op {
  // Row-wise (may join a section).
  SPARROW_DF_OP_LAYERNORM = 0,     // in[0] -> out[0] with layernorm `param`
  SPARROW_DF_OP_BIAS_ADD,          // in[0] + bias of linear `param` -> out[0]
  SPARROW_DF_OP_RESIDUAL_ADD,      // in[0] + in[1] -> out[0]
  SPARROW_DF_OP_GELU,              // gelu(in[0]) -> out[0]
  SPARROW_DF_OP_GELU_BWD,          // in[1] * gelu'(in[0]) -> out[0]
  SPARROW_DF_OP_LAYERNORM_BWD_DX,  // layernorm `param`'s dx from x in[0], dy in[1] -> out[0]
  // Kernels (section boundaries).
  SPARROW_DF_OP_LINEAR,             // in[0] W of linear `param` -> out[0] (GEMM or spmm)
  SPARROW_DF_OP_ATTENTION,          // in[0] -> out[0]
  SPARROW_DF_OP_LINEAR_BWD,         // x in[0], dy in[1] -> dx out[0] and dW (GEMM or spmm_t, sddmm)
  SPARROW_DF_OP_BIAS_BWD,           // column sums of dy in[0] -> db of linear `param`
  SPARROW_DF_OP_ATTENTION_BWD,      // dy in[0] -> d QKV out[0]
  SPARROW_DF_OP_LAYERNORM_BWD_DGB,  // layernorm `param`'s dgamma, dbeta from x in[0], dy in[1]
  SPARROW_DF_OP_COUNT
} sparrow_df_op_t;

// Which linear layer or layernorm a node's parameters are.
enum {
  SPARROW_DF_LIN_QKV = 0,
  SPARROW_DF_LIN_ATTPROJ = 1,
  SPARROW_DF_LIN_FC = 2,
  SPARROW_DF_LIN_FCPROJ = 3,
};
enum {
  SPARROW_DF_LN_1 = 0,     // the block's layernorm 1
  SPARROW_DF_LN_2 = 1,     // the block's layernorm 2
  SPARROW_DF_LN_NEXT = 2,  // the next block's layernorm 1, or the final layernorm
};

typedef struct sparrow_df_node {
  sparrow_df_op_t op;
  uint32_t param;  // SPARROW_DF_LIN_* or SPARROW_DF_LN_* (0 when the operator has none)
  sparrow_df_tensor_t in[2], out;
} sparrow_df_node_t;

#define SPARROW_DF_PLAN_MAX_NODES 40u
#define SPARROW_DF_PLAN_MAX_STAGES 40u

typedef struct sparrow_df_stage {
  uint32_t first, count;  // nodes [first, first + count) of the plan
  bool fused;             // a section (else count == 1: a kernel)
  // Of a section: which of its nodes' outputs stay in the PMUs, and of those which are kept.
  bool onchip[SPARROW_DF_PLAN_MAX_NODES];
  bool keep[SPARROW_DF_PLAN_MAX_NODES];
} sparrow_df_stage_t;

// The block's shape: n = batch * context token rows of width C. (The density is not part of it:
// it changes which kernels the linear layers run, GEMM or spmm, not the plan.)
typedef struct sparrow_df_shape {
  uint32_t batch, context, width, heads;
  bool first;  // the model's first block (its layernorm 1 runs here)
  bool last;   // the model's last block (its backward starts at the final layernorm)
} sparrow_df_shape_t;

typedef struct sparrow_df_plan {
  sparrow_df_mode_t mode;
  sparrow_df_shape_t shape;
  uint32_t nnodes;
  sparrow_df_node_t node[SPARROW_DF_PLAN_MAX_NODES];
  uint32_t nfwd_stages, nstages;  // stages [0, nfwd_stages) are the forward pass
  sparrow_df_stage_t stage[SPARROW_DF_PLAN_MAX_STAGES];
} sparrow_df_plan_t;

// Builds the plan of a block of that shape for the fabric. In DF mode, a maximal run of consecutive
// row-wise nodes, each (after the first) reading something an earlier one of the run produced,
// becomes a section when its linked rows fit a PMU (one row of every on-chip tensor, rows of
// width rounded up to the fabric's lanes); a run that does not fit is cut where it stops fitting.
// A single node is a section only when it reads a broadcast (a bias or layernorm weights, loaded
// once per launch instead of once per row). SPARROW_OPS_E_ARG for an impossible shape.
sparrow_ops_status_t sparrow_df_plan_block(const sparrow_df_shape_t *shape,
                                           const sparrow_ops_fabric_t *fabric,
                                           sparrow_df_mode_t mode, sparrow_df_plan_t *plan,
                                           char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Names, for messages and the plan's description.
const char *sparrow_df_tensor_name(sparrow_df_tensor_t t);
const char *sparrow_df_op_name(sparrow_df_op_t op);
bool sparrow_df_op_rowwise(sparrow_df_op_t op);

// Columns of a tensor of the block (C, 3C or 4C; 0 for NONE).
uint32_t sparrow_df_tensor_cols(const sparrow_df_shape_t *shape, sparrow_df_tensor_t t);

// The plan as text, one stage per line ("section: a -> [b] -> c" with on-chip tensors in brackets
// and kept ones marked *), into buf (always terminated). Returns the length it needed.
size_t sparrow_df_plan_describe(const sparrow_df_plan_t *plan, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_DF_PLAN_H_
