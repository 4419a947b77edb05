// SPDX-License-Identifier: Apache-2.0
//
// The chip backend's transformer blocks (backend_chip.h): each block's forward and backward is the
// plan the ops library builds for it (df_plan.h) in the backend's mode, executed stage by stage.
// A kernel stage runs its operator alone (DRAM in, DRAM out); a section stage runs its operators
// as one dataflow section (df_section.h) with the links the plan marks. Both run the operators'
// own programs, so the two modes give the same bits; the counters show where they differ.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_chip.h"
#include "df_plan.h"
#include "df_section.h"
#include "nn_exec.h"

typedef struct block {
  chip_impl_t *ci;
  uint32_t l, n, C, B, T;
  sparrow_ops_fabric_t fabric;
  sparrow_df_plan_t plan;
  uint32_t *t[SPARROW_DF_T_COUNT];  // where each tensor of the block lives on the host
  // A layernorm backward whose dx job has run and whose column sums are still to come.
  sparrow_ops_exec_t ln_bwd[3];
  bool ln_bwd_live[3];
} block_t;

typedef struct ln_params {
  const uint32_t *w, *b;
  uint32_t *mean, *rstd;
  uint32_t *dw, *db;
} ln_params_t;

static bool is_last(const block_t *b) {
  return b->l + 1u == b->ci->c.n_layer;
}

static void bind(block_t *b) {
  chip_impl_t *ci = b->ci;
  chip_layer_t *a = &ci->layers[b->l];
  uint32_t **t = b->t;
  memset(b->t, 0, sizeof(b->t));
  t[SPARROW_DF_T_X] = b->l == 0 ? ci->encoded : ci->layers[b->l - 1u].resid3;
  t[SPARROW_DF_T_LN1] = a->ln1;
  t[SPARROW_DF_T_QKV_MM] = t[SPARROW_DF_T_PROJ_MM] = ci->tmp;
  t[SPARROW_DF_T_FC_MM] = t[SPARROW_DF_T_FCPROJ_MM] = ci->tmp;
  t[SPARROW_DF_T_QKV] = a->qkv;
  t[SPARROW_DF_T_ATTY] = a->atty;
  t[SPARROW_DF_T_PROJ] = a->attproj;
  t[SPARROW_DF_T_RESID2] = a->resid2;
  t[SPARROW_DF_T_LN2] = a->ln2;
  t[SPARROW_DF_T_FCH] = a->fch;
  t[SPARROW_DF_T_FCHG] = a->fchg;
  t[SPARROW_DF_T_FCPROJ] = a->fcproj;
  t[SPARROW_DF_T_RESID3] = a->resid3;
  t[SPARROW_DF_T_LN_NEXT] = is_last(b) ? ci->lnf : ci->layers[b->l + 1u].ln1;
  // The backward's scratch: d_res carries the residual stream's gradient from block to block.
  t[SPARROW_DF_T_D_LN_NEXT] = ci->d_lnf;
  t[SPARROW_DF_T_D_RESID3] = t[SPARROW_DF_T_D_X] = ci->d_res;
  t[SPARROW_DF_T_D_FCHG] = ci->d_fchg;
  t[SPARROW_DF_T_D_FCH] = ci->d_fch;
  t[SPARROW_DF_T_D_LN2] = t[SPARROW_DF_T_D_LN1] = ci->d_ln;
  t[SPARROW_DF_T_D_LN2_X] = t[SPARROW_DF_T_D_LN1_X] = ci->d_x;
  t[SPARROW_DF_T_D_RESID2] = ci->d_resid2;
  t[SPARROW_DF_T_D_ATTY] = ci->d_atty;
  t[SPARROW_DF_T_D_QKV] = ci->d_qkv;
}

static ln_params_t ln_params(const block_t *b, uint32_t which) {
  chip_impl_t *ci = b->ci;
  uint32_t l = b->l;
  sparrow_gpt_tensor_t w = SPARROW_GPT_LN1W, bias = SPARROW_GPT_LN1B;
  chip_layer_t *a = &ci->layers[l];
  ln_params_t p;
  if (which == SPARROW_DF_LN_2) {
    w = SPARROW_GPT_LN2W, bias = SPARROW_GPT_LN2B;
    p.mean = a->ln2_mean, p.rstd = a->ln2_rstd;
  } else if (which == SPARROW_DF_LN_NEXT && is_last(b)) {
    w = SPARROW_GPT_LNFW, bias = SPARROW_GPT_LNFB;
    p.mean = ci->lnf_mean, p.rstd = ci->lnf_rstd;
  } else if (which == SPARROW_DF_LN_NEXT) {
    l++;
    p.mean = ci->layers[l].ln1_mean, p.rstd = ci->layers[l].ln1_rstd;
  } else {
    p.mean = a->ln1_mean, p.rstd = a->ln1_rstd;
  }
  p.w = chip_tensor(ci, ci->params, w, l);
  p.b = chip_tensor(ci, ci->params, bias, l);
  p.dw = chip_tensor(ci, ci->grads, w, l);
  p.db = chip_tensor(ci, ci->grads, bias, l);
  return p;
}

static sparrow_train_op_kind_t node_kind(sparrow_df_op_t op) {
  switch (op) {
    case SPARROW_DF_OP_LAYERNORM:
    case SPARROW_DF_OP_LAYERNORM_BWD_DX:
    case SPARROW_DF_OP_LAYERNORM_BWD_DGB:
      return SPARROW_TRAIN_OP_LAYERNORM;
    case SPARROW_DF_OP_BIAS_ADD:
    case SPARROW_DF_OP_BIAS_BWD:
      return SPARROW_TRAIN_OP_BIAS;
    case SPARROW_DF_OP_RESIDUAL_ADD:
      return SPARROW_TRAIN_OP_RESIDUAL;
    case SPARROW_DF_OP_GELU:
    case SPARROW_DF_OP_GELU_BWD:
      return SPARROW_TRAIN_OP_GELU;
    case SPARROW_DF_OP_ATTENTION:
    case SPARROW_DF_OP_ATTENTION_BWD:
      return SPARROW_TRAIN_OP_ATTENTION;
    default:
      return SPARROW_TRAIN_OP_LINEAR;
  }
}

static void node_name(const block_t *b, const sparrow_df_node_t *nd, char *out, size_t len) {
  snprintf(out, len, "layer %u %s -> %s", b->l, sparrow_df_op_name(nd->op),
           sparrow_df_tensor_name(nd->out));
}

// The SIMD operator of a row-wise node (layernorm and its backward have their own executors).
static bool simd_op_of(sparrow_df_op_t op, sparrow_ops_simd_op_t *out) {
  switch (op) {
    case SPARROW_DF_OP_BIAS_ADD:
      *out = SPARROW_OPS_BIAS_ADD;
      return true;
    case SPARROW_DF_OP_RESIDUAL_ADD:
      *out = SPARROW_OPS_RESIDUAL_ADD;
      return true;
    case SPARROW_DF_OP_GELU:
      *out = SPARROW_OPS_GELU;
      return true;
    case SPARROW_DF_OP_GELU_BWD:
      *out = SPARROW_OPS_GELU_BWD;
      return true;
    default:
      return false;
  }
}

// A row-wise node's executor, its images packed from the host tensors (an input a section feeds
// from the PMU is packed too, and not used).
static sparrow_ops_status_t prepare(const block_t *b, const sparrow_df_node_t *nd,
                                    sparrow_ops_exec_t *e, char *why, size_t why_len) {
  uint32_t *const *t = b->t;
  sparrow_ops_simd_op_t op;
  if (simd_op_of(nd->op, &op)) {
    uint32_t cols = sparrow_df_tensor_cols(&b->plan.shape, nd->out);
    const uint32_t *in[2] = {t[nd->in[0]], t[nd->in[1]]};
    if (nd->op == SPARROW_DF_OP_BIAS_ADD) {
      in[1] =
          chip_tensor(b->ci, b->ci->params, chip_lin_bias((sparrow_gpt_linear_t)nd->param), b->l);
    }
    return sparrow_ops_simd_prepare(&b->fabric, op, b->n, cols, in, e, why, why_len);
  }
  ln_params_t p = ln_params(b, nd->param);
  if (nd->op == SPARROW_DF_OP_LAYERNORM) {
    return sparrow_ops_layernorm_prepare(&b->fabric, b->n, b->C, t[nd->in[0]], p.w, p.b, e, why,
                                         why_len);
  }
  return sparrow_ops_layernorm_bwd_prepare(&b->fabric, b->n, b->C, t[nd->in[0]], p.w, p.mean,
                                           p.rstd, t[nd->in[1]], e, why, why_len);
}

// Unpacks a row-wise node's output from its executor into the host tensor.
static void finish(const block_t *b, const sparrow_df_node_t *nd, const sparrow_ops_exec_t *e) {
  uint32_t *out = b->t[nd->out];
  sparrow_ops_simd_op_t op;
  if (simd_op_of(nd->op, &op)) {
    uint32_t *outs[2] = {out, NULL};
    sparrow_ops_simd_finish(e, op, b->n, sparrow_df_tensor_cols(&b->plan.shape, nd->out), outs);
  } else if (nd->op == SPARROW_DF_OP_LAYERNORM) {
    ln_params_t p = ln_params(b, nd->param);
    sparrow_ops_layernorm_finish(e, b->n, b->C, out, p.mean, p.rstd);
  } else {
    sparrow_ops_layernorm_bwd_finish(e, b->n, b->C, out, NULL, NULL);
  }
}

// ---------------------------------------------------------------------------------------------------
// Kernel stages.

static sparrow_train_status_t run_rowwise_kernel(block_t *b, const sparrow_df_node_t *nd, char *msg,
                                                 size_t msg_len) {
  chip_impl_t *ci = b->ci;
  char what[96], why[400] = "";
  node_name(b, nd, what, sizeof(what));
  bool ln_bwd = nd->op == SPARROW_DF_OP_LAYERNORM_BWD_DX;
  sparrow_ops_exec_t local;
  sparrow_ops_exec_t *e = ln_bwd ? &b->ln_bwd[nd->param] : &local;
  sparrow_ops_status_t ost = prepare(b, nd, e, why, sizeof(why));
  if (ost != SPARROW_OPS_OK) {
    return chip_op_fail(ci, ost, what, why, msg, msg_len);
  }
  b->ln_bwd_live[nd->param] |= ln_bwd;
  sparrow_ops_simd_stats_t s;
  memset(&s, 0, sizeof(s));
  ost = sparrow_ops_exec_run_jobs(ci->dev, e, 0, ln_bwd ? 1u : e->njobs, &s, why, sizeof(why));
  if (ost == SPARROW_OPS_OK) {
    finish(b, nd, e);
  }
  if (!ln_bwd) {
    sparrow_ops_exec_free(e);
  }
  return chip_simd_result(ci, ost, &s, what, why, msg, msg_len);
}

// The layernorm backward's column sums (its second job), into the weight gradients.
static sparrow_train_status_t run_ln_dgb(block_t *b, const sparrow_df_node_t *nd, char *msg,
                                         size_t msg_len) {
  chip_impl_t *ci = b->ci;
  char what[96], why[400] = "";
  node_name(b, nd, what, sizeof(what));
  if (!b->ln_bwd_live[nd->param]) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len,
                              "%s: the plan runs it before its dx job", what);
  }
  sparrow_ops_exec_t *e = &b->ln_bwd[nd->param];
  sparrow_ops_simd_stats_t s;
  memset(&s, 0, sizeof(s));
  sparrow_ops_status_t ost = sparrow_ops_exec_run_jobs(ci->dev, e, 1, 1, &s, why, sizeof(why));
  if (ost == SPARROW_OPS_OK) {
    ln_params_t p = ln_params(b, nd->param);
    sparrow_ops_layernorm_bwd_finish(e, b->n, b->C, NULL, p.dw, p.db);
  }
  sparrow_ops_exec_free(e);
  b->ln_bwd_live[nd->param] = false;
  return chip_simd_result(ci, ost, &s, what, why, msg, msg_len);
}

static sparrow_train_status_t run_kernel(block_t *b, const sparrow_df_node_t *nd, char *msg,
                                         size_t msg_len) {
  chip_impl_t *ci = b->ci;
  uint32_t *const *t = b->t;
  sparrow_gpt_linear_t lin = (sparrow_gpt_linear_t)nd->param;
  ci->kind = node_kind(nd->op);
  if (sparrow_df_op_rowwise(nd->op)) {
    return run_rowwise_kernel(b, nd, msg, msg_len);
  }
  switch (nd->op) {
    case SPARROW_DF_OP_LINEAR:
      return chip_linear_mm(ci, b->l, lin, t[nd->in[0]], b->n, t[nd->out], msg, msg_len);
    case SPARROW_DF_OP_LINEAR_BWD:
      return chip_linear_bwd_mm(ci, b->l, lin, t[nd->in[0]], t[nd->in[1]], b->n, t[nd->out], msg,
                                msg_len);
    case SPARROW_DF_OP_BIAS_BWD: {
      char what[96];
      node_name(b, nd, what, sizeof(what));
      return chip_simd(ci, what, SPARROW_OPS_BIAS_ADD_BWD, b->n, ci->layout.weight_cols[lin],
                       t[nd->in[0]], NULL, chip_tensor(ci, ci->grads, chip_lin_bias(lin), b->l),
                       NULL, msg, msg_len);
    }
    case SPARROW_DF_OP_ATTENTION:
      return chip_attention_fwd(ci, b->l, b->B, b->T, msg, msg_len);
    case SPARROW_DF_OP_ATTENTION_BWD:
      return chip_attention_bwd(ci, b->l, b->B, b->T, msg, msg_len);
    case SPARROW_DF_OP_LAYERNORM_BWD_DGB:
      return run_ln_dgb(b, nd, msg, msg_len);
    default:
      return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "layer %u: no kernel for %s",
                                b->l, sparrow_df_op_name(nd->op));
  }
}

// ---------------------------------------------------------------------------------------------------
// Section stages.

// The buffer of node j's executor that its input `in` streams from.
static bool input_buf(const sparrow_df_node_t *nd, const sparrow_ops_exec_t *e,
                      sparrow_df_tensor_t in, uint32_t *buf) {
  if (nd->op == SPARROW_DF_OP_LAYERNORM_BWD_DX) {
    return false;  // x and dy share one interleaved image: not a stream of whole rows of either
  }
  for (uint32_t i = 0; i < 2; ++i) {
    if (nd->in[i] == in && e->job[0].simd.in[i].tensors != 0) {
      *buf = e->job[0].in_buf[i];
      return true;
    }
  }
  return false;
}

static sparrow_train_status_t run_section(block_t *b, const sparrow_df_stage_t *st, char *msg,
                                          size_t msg_len) {
  chip_impl_t *ci = b->ci;
  const sparrow_df_node_t *nodes = &b->plan.node[st->first];
  char what[96], why[400] = "";
  snprintf(what, sizeof(what), "layer %u section %s..%s", b->l, sparrow_df_op_name(nodes[0].op),
           sparrow_df_op_name(nodes[st->count - 1u].op));
  sparrow_ops_exec_t *e = calloc(st->count, sizeof(*e));
  if (e == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "%s: host out of memory", what);
  }
  sparrow_df_section_t sec;
  memset(&sec, 0, sizeof(sec));
  sec.name = what;
  sparrow_ops_status_t ost = SPARROW_OPS_OK;
  uint32_t prepared = 0;
  for (uint32_t k = 0; k < st->count && ost == SPARROW_OPS_OK; ++k, ++prepared) {
    ost = prepare(b, &nodes[k], &e[k], why, sizeof(why));
    sec.step[k] = (sparrow_df_step_t){&e[k], 0};
  }
  sec.nsteps = st->count;
  // Links: each on-chip output into every later node of the section that reads it.
  for (uint32_t k = 0; k < st->count && ost == SPARROW_OPS_OK; ++k) {
    for (uint32_t j = k + 1u; st->onchip[k] && j < st->count && ost == SPARROW_OPS_OK; ++j) {
      uint32_t to_buf = 0;
      if (nodes[j].in[0] != nodes[k].out && nodes[j].in[1] != nodes[k].out) {
        continue;
      }
      if (!input_buf(&nodes[j], &e[j], nodes[k].out, &to_buf) ||
          sec.nlinks >= SPARROW_DF_MAX_LINKS) {
        snprintf(why, sizeof(why), "the plan links %s into %s, which cannot read it on chip",
                 sparrow_df_tensor_name(nodes[k].out), sparrow_df_op_name(nodes[j].op));
        ost = SPARROW_OPS_E_ARG;
        break;
      }
      sec.link[sec.nlinks++] = (sparrow_df_link_t){k, e[k].job[0].out_buf, j, to_buf, st->keep[k]};
    }
  }
  sparrow_ops_simd_stats_t s;
  memset(&s, 0, sizeof(s));
  if (ost == SPARROW_OPS_OK) {
    ost = sparrow_df_section_run(ci->dev, &sec, &s, why, sizeof(why));
  }
  for (uint32_t k = 0; k < prepared; ++k) {
    bool ln_bwd = nodes[k].op == SPARROW_DF_OP_LAYERNORM_BWD_DX;
    if (ost == SPARROW_OPS_OK && (!st->onchip[k] || st->keep[k])) {
      finish(b, &nodes[k], &e[k]);
    }
    if (ost == SPARROW_OPS_OK && ln_bwd) {
      b->ln_bwd[nodes[k].param] = e[k];  // its column sums run later, as a kernel
      b->ln_bwd_live[nodes[k].param] = true;
    } else {
      sparrow_ops_exec_free(&e[k]);
    }
  }
  free(e);
  ci->kind = SPARROW_TRAIN_OP_SECTION;
  return chip_simd_result(ci, ost, &s, what, why, msg, msg_len);
}

// ---------------------------------------------------------------------------------------------------
// Blocks.

static sparrow_train_status_t block_init(chip_impl_t *ci, uint32_t l, block_t *b, char *msg,
                                         size_t msg_len) {
  memset(b, 0, sizeof(*b));
  b->ci = ci;
  b->l = l;
  b->B = ci->cur_b;
  b->T = ci->cur_t;
  b->n = b->B * b->T;
  b->C = ci->c.n_embd;
  sparrow_ops_fabric_from_info(&ci->info, &b->fabric);
  sparrow_df_shape_t shape = {b->B, b->T, b->C, ci->c.n_head, l == 0, l + 1u == ci->c.n_layer};
  char why[200] = "";
  sparrow_df_mode_t mode =
      ci->mode == SPARROW_TRAIN_MODE_DF ? SPARROW_DF_MODE_DF : SPARROW_DF_MODE_KBK;
  if (sparrow_df_plan_block(&shape, &b->fabric, mode, &b->plan, why, sizeof(why)) !=
      SPARROW_OPS_OK) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "layer %u: %s", l, why);
  }
  bind(b);
  return SPARROW_TRAIN_OK;
}

static void block_free(block_t *b) {
  for (uint32_t i = 0; i < 3; ++i) {
    if (b->ln_bwd_live[i]) {
      sparrow_ops_exec_free(&b->ln_bwd[i]);
    }
  }
}

static sparrow_train_status_t run_stages(block_t *b, uint32_t first, uint32_t end, char *msg,
                                         size_t msg_len) {
  sparrow_train_status_t st = SPARROW_TRAIN_OK;
  for (uint32_t s = first; s < end && st == SPARROW_TRAIN_OK; ++s) {
    const sparrow_df_stage_t *stage = &b->plan.stage[s];
    st = stage->fused ? run_section(b, stage, msg, msg_len)
                      : run_kernel(b, &b->plan.node[stage->first], msg, msg_len);
  }
  return st;
}

// The forward (stages before nfwd_stages) or the backward (the rest) of block l's plan.
static sparrow_train_status_t run_block(chip_impl_t *ci, uint32_t l, bool forward, char *msg,
                                        size_t msg_len) {
  block_t *b = malloc(sizeof(*b));
  if (b == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "host out of memory");
  }
  sparrow_train_status_t st = block_init(ci, l, b, msg, msg_len);
  if (st == SPARROW_TRAIN_OK) {
    st = forward ? run_stages(b, 0, b->plan.nfwd_stages, msg, msg_len)
                 : run_stages(b, b->plan.nfwd_stages, b->plan.nstages, msg, msg_len);
  }
  block_free(b);
  free(b);
  return st;
}

sparrow_train_status_t chip_block_forward(chip_impl_t *ci, uint32_t l, char *msg, size_t msg_len) {
  return run_block(ci, l, true, msg, msg_len);
}

sparrow_train_status_t chip_block_backward(chip_impl_t *ci, uint32_t l, char *msg, size_t msg_len) {
  return run_block(ci, l, false, msg, msg_len);
}
