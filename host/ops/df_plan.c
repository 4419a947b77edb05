// SPDX-License-Identifier: Apache-2.0
//
// The execution plan of a transformer block (df_plan.h, docs/dataflow.md).

#include "df_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "df_section.h"

static const char *const kTensorNames[SPARROW_DF_T_COUNT] = {
    "-",       "x",         "ln1",      "qkv_mm",  "qkv",   "atty",      "proj_mm", "proj",
    "resid2",  "ln2",       "fc_mm",    "fch",     "fchg",  "fcproj_mm", "fcproj",  "resid3",
    "ln_next", "d_ln_next", "d_resid3", "d_fchg",  "d_fch", "d_ln2",     "d_ln2_x", "d_resid2",
    "d_atty",  "d_qkv",     "d_ln1",    "d_ln1_x", "d_x"};

static const char *const kOpNames[SPARROW_DF_OP_COUNT] = {
    "layernorm", "bias_add",  "residual_add", "gelu",     "gelu_bwd",      "layernorm_bwd_dx",
    "linear",    "attention", "linear_bwd",   "bias_bwd", "attention_bwd", "layernorm_bwd_dgb"};

static const char *const kLinNames[] = {"qkv", "attproj", "fc", "fcproj"};
static const char *const kLnNames[] = {"ln1", "ln2", "ln_next"};

const char *sparrow_df_tensor_name(sparrow_df_tensor_t t) {
  return (unsigned)t < SPARROW_DF_T_COUNT ? kTensorNames[t] : "?";
}

const char *sparrow_df_op_name(sparrow_df_op_t op) {
  return (unsigned)op < SPARROW_DF_OP_COUNT ? kOpNames[op] : "?";
}

bool sparrow_df_op_rowwise(sparrow_df_op_t op) {
  return op <= SPARROW_DF_OP_LAYERNORM_BWD_DX;
}

static bool op_has_param(sparrow_df_op_t op, bool *is_ln) {
  *is_ln = op == SPARROW_DF_OP_LAYERNORM || op == SPARROW_DF_OP_LAYERNORM_BWD_DX ||
           op == SPARROW_DF_OP_LAYERNORM_BWD_DGB;
  return *is_ln || op == SPARROW_DF_OP_BIAS_ADD || op == SPARROW_DF_OP_LINEAR ||
         op == SPARROW_DF_OP_LINEAR_BWD || op == SPARROW_DF_OP_BIAS_BWD;
}

// Row-wise operators that read a broadcast vector (a bias, layernorm weights).
static bool op_reads_broadcast(sparrow_df_op_t op) {
  return op == SPARROW_DF_OP_BIAS_ADD || op == SPARROW_DF_OP_LAYERNORM ||
         op == SPARROW_DF_OP_LAYERNORM_BWD_DX;
}

uint32_t sparrow_df_tensor_cols(const sparrow_df_shape_t *s, sparrow_df_tensor_t t) {
  switch (t) {
    case SPARROW_DF_T_NONE:
    case SPARROW_DF_T_COUNT:
      return 0;
    case SPARROW_DF_T_QKV_MM:
    case SPARROW_DF_T_QKV:
    case SPARROW_DF_T_D_QKV:
      return 3u * s->width;
    case SPARROW_DF_T_FC_MM:
    case SPARROW_DF_T_FCH:
    case SPARROW_DF_T_FCHG:
    case SPARROW_DF_T_D_FCHG:
    case SPARROW_DF_T_D_FCH:
      return 4u * s->width;
    default:
      return s->width;
  }
}

// ---------------------------------------------------------------------------------------------------
// The block's operators, in order.

static void add(sparrow_df_plan_t *p, sparrow_df_op_t op, uint32_t param, sparrow_df_tensor_t in0,
                sparrow_df_tensor_t in1, sparrow_df_tensor_t out) {
  sparrow_df_node_t *n = &p->node[p->nnodes++];
  n->op = op;
  n->param = param;
  n->in[0] = in0;
  n->in[1] = in1;
  n->out = out;
}

static uint32_t forward_nodes(sparrow_df_plan_t *p) {
  const sparrow_df_tensor_t none = SPARROW_DF_T_NONE;
  if (p->shape.first) {
    add(p, SPARROW_DF_OP_LAYERNORM, SPARROW_DF_LN_1, SPARROW_DF_T_X, none, SPARROW_DF_T_LN1);
  }
  add(p, SPARROW_DF_OP_LINEAR, SPARROW_DF_LIN_QKV, SPARROW_DF_T_LN1, none, SPARROW_DF_T_QKV_MM);
  add(p, SPARROW_DF_OP_BIAS_ADD, SPARROW_DF_LIN_QKV, SPARROW_DF_T_QKV_MM, none, SPARROW_DF_T_QKV);
  add(p, SPARROW_DF_OP_ATTENTION, 0, SPARROW_DF_T_QKV, none, SPARROW_DF_T_ATTY);
  add(p, SPARROW_DF_OP_LINEAR, SPARROW_DF_LIN_ATTPROJ, SPARROW_DF_T_ATTY, none,
      SPARROW_DF_T_PROJ_MM);
  add(p, SPARROW_DF_OP_BIAS_ADD, SPARROW_DF_LIN_ATTPROJ, SPARROW_DF_T_PROJ_MM, none,
      SPARROW_DF_T_PROJ);
  add(p, SPARROW_DF_OP_RESIDUAL_ADD, 0, SPARROW_DF_T_X, SPARROW_DF_T_PROJ, SPARROW_DF_T_RESID2);
  add(p, SPARROW_DF_OP_LAYERNORM, SPARROW_DF_LN_2, SPARROW_DF_T_RESID2, none, SPARROW_DF_T_LN2);
  add(p, SPARROW_DF_OP_LINEAR, SPARROW_DF_LIN_FC, SPARROW_DF_T_LN2, none, SPARROW_DF_T_FC_MM);
  add(p, SPARROW_DF_OP_BIAS_ADD, SPARROW_DF_LIN_FC, SPARROW_DF_T_FC_MM, none, SPARROW_DF_T_FCH);
  add(p, SPARROW_DF_OP_GELU, 0, SPARROW_DF_T_FCH, none, SPARROW_DF_T_FCHG);
  add(p, SPARROW_DF_OP_LINEAR, SPARROW_DF_LIN_FCPROJ, SPARROW_DF_T_FCHG, none,
      SPARROW_DF_T_FCPROJ_MM);
  add(p, SPARROW_DF_OP_BIAS_ADD, SPARROW_DF_LIN_FCPROJ, SPARROW_DF_T_FCPROJ_MM, none,
      SPARROW_DF_T_FCPROJ);
  add(p, SPARROW_DF_OP_RESIDUAL_ADD, 0, SPARROW_DF_T_RESID2, SPARROW_DF_T_FCPROJ,
      SPARROW_DF_T_RESID3);
  add(p, SPARROW_DF_OP_LAYERNORM, SPARROW_DF_LN_NEXT, SPARROW_DF_T_RESID3, none,
      SPARROW_DF_T_LN_NEXT);
  return p->nnodes;
}

static void backward_nodes(sparrow_df_plan_t *p) {
  const sparrow_df_tensor_t none = SPARROW_DF_T_NONE;
  if (p->shape.last) {
    add(p, SPARROW_DF_OP_LAYERNORM_BWD_DX, SPARROW_DF_LN_NEXT, SPARROW_DF_T_RESID3,
        SPARROW_DF_T_D_LN_NEXT, SPARROW_DF_T_D_RESID3);
    add(p, SPARROW_DF_OP_LAYERNORM_BWD_DGB, SPARROW_DF_LN_NEXT, SPARROW_DF_T_RESID3,
        SPARROW_DF_T_D_LN_NEXT, none);
  }
  add(p, SPARROW_DF_OP_LINEAR_BWD, SPARROW_DF_LIN_FCPROJ, SPARROW_DF_T_FCHG, SPARROW_DF_T_D_RESID3,
      SPARROW_DF_T_D_FCHG);
  add(p, SPARROW_DF_OP_BIAS_BWD, SPARROW_DF_LIN_FCPROJ, SPARROW_DF_T_D_RESID3, none, none);
  add(p, SPARROW_DF_OP_GELU_BWD, 0, SPARROW_DF_T_FCH, SPARROW_DF_T_D_FCHG, SPARROW_DF_T_D_FCH);
  add(p, SPARROW_DF_OP_LINEAR_BWD, SPARROW_DF_LIN_FC, SPARROW_DF_T_LN2, SPARROW_DF_T_D_FCH,
      SPARROW_DF_T_D_LN2);
  add(p, SPARROW_DF_OP_BIAS_BWD, SPARROW_DF_LIN_FC, SPARROW_DF_T_D_FCH, none, none);
  add(p, SPARROW_DF_OP_LAYERNORM_BWD_DX, SPARROW_DF_LN_2, SPARROW_DF_T_RESID2, SPARROW_DF_T_D_LN2,
      SPARROW_DF_T_D_LN2_X);
  add(p, SPARROW_DF_OP_RESIDUAL_ADD, 0, SPARROW_DF_T_D_RESID3, SPARROW_DF_T_D_LN2_X,
      SPARROW_DF_T_D_RESID2);
  add(p, SPARROW_DF_OP_LAYERNORM_BWD_DGB, SPARROW_DF_LN_2, SPARROW_DF_T_RESID2, SPARROW_DF_T_D_LN2,
      none);
  add(p, SPARROW_DF_OP_LINEAR_BWD, SPARROW_DF_LIN_ATTPROJ, SPARROW_DF_T_ATTY, SPARROW_DF_T_D_RESID2,
      SPARROW_DF_T_D_ATTY);
  add(p, SPARROW_DF_OP_BIAS_BWD, SPARROW_DF_LIN_ATTPROJ, SPARROW_DF_T_D_RESID2, none, none);
  add(p, SPARROW_DF_OP_ATTENTION_BWD, 0, SPARROW_DF_T_D_ATTY, none, SPARROW_DF_T_D_QKV);
  add(p, SPARROW_DF_OP_LINEAR_BWD, SPARROW_DF_LIN_QKV, SPARROW_DF_T_LN1, SPARROW_DF_T_D_QKV,
      SPARROW_DF_T_D_LN1);
  add(p, SPARROW_DF_OP_BIAS_BWD, SPARROW_DF_LIN_QKV, SPARROW_DF_T_D_QKV, none, none);
  add(p, SPARROW_DF_OP_LAYERNORM_BWD_DX, SPARROW_DF_LN_1, SPARROW_DF_T_X, SPARROW_DF_T_D_LN1,
      SPARROW_DF_T_D_LN1_X);
  add(p, SPARROW_DF_OP_RESIDUAL_ADD, 0, SPARROW_DF_T_D_RESID2, SPARROW_DF_T_D_LN1_X,
      SPARROW_DF_T_D_X);
  add(p, SPARROW_DF_OP_LAYERNORM_BWD_DGB, SPARROW_DF_LN_1, SPARROW_DF_T_X, SPARROW_DF_T_D_LN1,
      none);
}

// ---------------------------------------------------------------------------------------------------
// Stages.

static bool reads(const sparrow_df_node_t *n, sparrow_df_tensor_t t) {
  return t != SPARROW_DF_T_NONE && (n->in[0] == t || n->in[1] == t);
}

// Whether node j reads a tensor produced by one of the nodes [first, j).
static bool connected(const sparrow_df_plan_t *p, uint32_t first, uint32_t j) {
  for (uint32_t i = first; i < j; ++i) {
    if (reads(&p->node[j], p->node[i].out)) {
      return true;
    }
  }
  return false;
}

// PMU lines one row of the on-chip tensors of nodes [first, end) needs.
static uint64_t onchip_row_lines(const sparrow_df_plan_t *p, uint32_t first, uint32_t end,
                                 uint32_t lanes) {
  uint64_t lines = 0;
  for (uint32_t i = first; i < end; ++i) {
    for (uint32_t j = i + 1u; j < end; ++j) {
      if (reads(&p->node[j], p->node[i].out)) {
        lines += (sparrow_df_tensor_cols(&p->shape, p->node[i].out) + lanes - 1u) / lanes;
        break;
      }
    }
  }
  return lines;
}

// Block outputs: read by the next block (forward) or the previous one (backward).
static bool block_output(const sparrow_df_plan_t *p, sparrow_df_tensor_t t) {
  return t == SPARROW_DF_T_RESID3 || t == SPARROW_DF_T_LN_NEXT || t == SPARROW_DF_T_D_X ||
         (t == SPARROW_DF_T_D_RESID3 && p->shape.last);
}

static void mark_links(sparrow_df_plan_t *p, sparrow_df_stage_t *st) {
  uint32_t end = st->first + st->count;
  for (uint32_t i = st->first; i < end; ++i) {
    sparrow_df_tensor_t t = p->node[i].out;
    bool inside = false, outside = block_output(p, t);
    for (uint32_t j = 0; j < p->nnodes; ++j) {
      if (j != i && reads(&p->node[j], t)) {
        if (j > i && j < end) {
          inside = true;
        } else {
          outside = true;
        }
      }
    }
    st->onchip[i - st->first] = inside;
    st->keep[i - st->first] = inside && outside;
  }
}

static void make_stages(sparrow_df_plan_t *p, uint32_t first, uint32_t end, uint64_t pmu_lines,
                        uint32_t lanes) {
  uint32_t i = first;
  while (i < end) {
    sparrow_df_stage_t *st = &p->stage[p->nstages++];
    memset(st, 0, sizeof(*st));
    st->first = i;
    st->count = 1;
    const sparrow_df_op_t op = p->node[i].op;
    if (p->mode == SPARROW_DF_MODE_DF && sparrow_df_op_rowwise(op)) {
      uint32_t j = i + 1u;
      while (j < end && j - i < SPARROW_DF_MAX_STEPS && sparrow_df_op_rowwise(p->node[j].op) &&
             connected(p, i, j) && onchip_row_lines(p, i, j + 1u, lanes) < pmu_lines) {
        ++j;
      }
      st->count = j - i;
      st->fused = st->count > 1 || op_reads_broadcast(op);
      if (st->fused) {
        mark_links(p, st);
      }
    }
    i += st->count;
  }
}

sparrow_ops_status_t sparrow_df_plan_block(const sparrow_df_shape_t *shape,
                                           const sparrow_ops_fabric_t *fabric,
                                           sparrow_df_mode_t mode, sparrow_df_plan_t *plan,
                                           char *msg, size_t msg_len) {
  if (shape == NULL || fabric == NULL || plan == NULL || fabric->lanes == 0 ||
      (mode != SPARROW_DF_MODE_KBK && mode != SPARROW_DF_MODE_DF)) {
    sparrow_ops_set_msg(msg, msg_len, "block plan: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  if (shape->batch == 0 || shape->context == 0 || shape->width == 0 || shape->heads == 0 ||
      shape->width % shape->heads != 0) {
    sparrow_ops_set_msg(
        msg, msg_len,
        "block plan: impossible shape (batch %u, context %u, width %u, heads %u: the width "
        "must be a multiple of the heads)",
        shape->batch, shape->context, shape->width, shape->heads);
    return SPARROW_OPS_E_ARG;
  }
  memset(plan, 0, sizeof(*plan));
  plan->mode = mode;
  plan->shape = *shape;
  uint32_t fwd_end = forward_nodes(plan);
  backward_nodes(plan);
  uint64_t pmu_lines = fabric->pmu_words / fabric->lanes;
  make_stages(plan, 0, fwd_end, pmu_lines, fabric->lanes);
  plan->nfwd_stages = plan->nstages;
  make_stages(plan, fwd_end, plan->nnodes, pmu_lines, fabric->lanes);
  return SPARROW_OPS_OK;
}

// ---------------------------------------------------------------------------------------------------
// Description.

typedef struct out_buf {
  char *buf;
  size_t len, need;
} out_buf_t;

static void emit(out_buf_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out_buf_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = o->need < o->len ? o->len - o->need : 0;
  int n = vsnprintf(room != 0 ? o->buf + o->need : NULL, room, fmt, ap);
  va_end(ap);
  o->need += n > 0 ? (size_t)n : 0;
}

static void emit_tensor(out_buf_t *o, const sparrow_df_plan_t *p, const sparrow_df_stage_t *st,
                        sparrow_df_tensor_t t) {
  for (uint32_t k = 0; st->fused && k < st->count; ++k) {
    if (p->node[st->first + k].out == t && st->onchip[k]) {
      emit(o, "[%s]%s", sparrow_df_tensor_name(t), st->keep[k] ? "*" : "");
      return;
    }
  }
  emit(o, "%s", sparrow_df_tensor_name(t));
}

size_t sparrow_df_plan_describe(const sparrow_df_plan_t *plan, char *buf, size_t len) {
  out_buf_t o = {buf, len, 0};
  if (buf != NULL && len != 0) {
    buf[0] = '\0';
  }
  for (uint32_t s = 0; s < plan->nstages; ++s) {
    const sparrow_df_stage_t *st = &plan->stage[s];
    emit(&o, "%s %-7s ", s < plan->nfwd_stages ? "fwd" : "bwd", st->fused ? "section" : "kernel");
    for (uint32_t k = 0; k < st->count; ++k) {
      const sparrow_df_node_t *n = &plan->node[st->first + k];
      bool is_ln = false;
      emit(&o, "%s%s", k != 0 ? " -> " : "", sparrow_df_op_name(n->op));
      if (op_has_param(n->op, &is_ln)) {
        emit(&o, "(%s)", is_ln ? kLnNames[n->param % 3u] : kLinNames[n->param % 4u]);
      }
      emit(&o, " ");
      for (uint32_t i = 0; i < 2; ++i) {
        if (n->in[i] != SPARROW_DF_T_NONE) {
          emit(&o, "%s", i != 0 ? "," : "");
          emit_tensor(&o, plan, st, n->in[i]);
        }
      }
      if (n->out != SPARROW_DF_T_NONE) {
        emit(&o, ":");
        emit_tensor(&o, plan, st, n->out);
      }
    }
    emit(&o, "\n");
  }
  return o.need;
}
