// SPDX-License-Identifier: Apache-2.0
//
// Where a training step runs (docs/training.md, "Backends"). The training loop (trainer.h) drives a
// backend through these calls only, so a device plugs in without touching the loop:
//
//   ref   the CPU reference (backend_ref.c): gpt.h + adamw.h in plain fp32, on the host.
//   sim, sim:model, tcp:..., usb ...   the chip (backend_chip.c): every operator of the step runs
//         on the fabric through the ops library (host/ops) and libsparrow (KBK or DF); the
//         host only moves data (packing, transposes, BSR from the masks) and supplies the scalar
//         constants of the step (learning rate, bias corrections). counters() reports the
//         simulated cycles and DRAM bytes the fabric counted for every operator.
//
// A chip backend runs in an execution mode (sparrow_train_mode_t): kbk, kernel by kernel (every
// operator reads its operands from DRAM and writes its results back), or df, dataflow (a block's
// row-wise operators fused into on-chip sections, docs/dataflow.md). The two give bit-identical
// results by contract; only the counters differ. The reference has no modes and ignores it.
//
// The state a backend holds: the parameters, the AdamW moments m and v (same layout,
// sparrow_gpt_layout_t), the block masks, and the last forward's activations and gradients.

#ifndef SPARROW_HOST_TRAIN_BACKEND_H_
#define SPARROW_HOST_TRAIN_BACKEND_H_

#include <stdint.h>

#include "adamw.h"
#include "gpt.h"
#include "sparrow_train.h"

// The kinds of operator of a step, for the breakdown of the counters.
typedef enum sparrow_train_op_kind {
  SPARROW_TRAIN_OP_EMBEDDING = 0,  // token + position embedding, forward and backward
  SPARROW_TRAIN_OP_LAYERNORM,      // the layernorms, forward and backward
  SPARROW_TRAIN_OP_LINEAR,         // the linear layers' GEMMs (dense) or spmm/spmm_t/sddmm (sparse)
  SPARROW_TRAIN_OP_BIAS,           // their bias adds and bias gradients
  SPARROW_TRAIN_OP_ATTENTION,      // causal self-attention, forward and backward
  SPARROW_TRAIN_OP_GELU,           // GELU, forward and backward
  SPARROW_TRAIN_OP_RESIDUAL,       // residual adds and the gradient joins
  SPARROW_TRAIN_OP_LMHEAD,         // the tied LM head's three GEMMs and the embedding gradient sum
  SPARROW_TRAIN_OP_LOSS,           // softmax cross-entropy (and the softmax of sampling)
  SPARROW_TRAIN_OP_OPTIMIZER,      // the gradient norm and AdamW
  SPARROW_TRAIN_OP_SECTION,        // fused dataflow sections (--mode df: their operators together)
  SPARROW_TRAIN_OP_KINDS
} sparrow_train_op_kind_t;

// "embedding", "layernorm", ... (the JSON keys of the breakdown).
const char *sparrow_train_op_kind_name(sparrow_train_op_kind_t kind);

// How the chip backend runs a step (see the top of this file).
typedef enum sparrow_train_mode {
  SPARROW_TRAIN_MODE_KBK = 0,  // kernel by kernel
  SPARROW_TRAIN_MODE_DF = 1,   // dataflow: fused on-chip sections
} sparrow_train_mode_t;

// "kbk" or "df" (the CLI's --mode values and the JSON's "mode"); "?" for anything else.
const char *sparrow_train_mode_name(sparrow_train_mode_t mode);
// Parses "kbk" or "df"; anything else is E_ARG with a message naming the two.
sparrow_train_status_t sparrow_train_mode_parse(const char *text, sparrow_train_mode_t *mode,
                                                char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

typedef struct sparrow_train_counters {
  uint64_t cycles;      // simulated fabric cycles (0 on the reference)
  uint64_t dram_bytes;  // device DRAM bytes read + written (0 on the reference)
  // The same, per kind of operator (they sum to the totals).
  uint64_t kind_cycles[SPARROW_TRAIN_OP_KINDS];
  uint64_t kind_dram_bytes[SPARROW_TRAIN_OP_KINDS];
  // From the driver's totals (sparrow_totals) over every launch since the backend was opened; all
  // 0 on the reference. Average PCU utilization = pcu_busy / (tiles * cycles); the fraction of
  // cycles the DRAM port is busy = dram_busy / cycles.
  uint64_t pcu_busy;   // busy cycles (a beat moved) summed over the device's PCUs
  uint64_t dram_busy;  // cycles the DRAM port is occupied: ceil((read + written bytes) / dram_bw),
                       // computed once from the totals (dram_bw: bytes per cycle, sparrow_info)
  uint32_t tiles;      // PCUs on the device (one per tile)
} sparrow_train_counters_t;

typedef struct sparrow_train_backend_ops {
  // Replaces the whole state: parameters, moments (NULL: zero) and masks (NULL: dense).
  sparrow_train_status_t (*load)(void *impl, const float *params, const float *m, const float *v,
                                 const uint8_t *masks, char *msg, size_t msg_len);
  // Reads the state back (any of the pointers may be NULL).
  sparrow_train_status_t (*save)(void *impl, float *params, float *m, float *v, char *msg,
                                 size_t msg_len);
  // Forward on B x T tokens; with targets, the mean cross-entropy in *loss.
  sparrow_train_status_t (*forward)(void *impl, const uint32_t *inputs, const uint32_t *targets,
                                    uint32_t B, uint32_t T, float *loss, char *msg, size_t msg_len);
  // The last forward's probabilities at row b, position t (Vp floats).
  sparrow_train_status_t (*probs)(void *impl, uint32_t b, uint32_t t, float *probs, char *msg,
                                  size_t msg_len);
  // Gradients of the last forward's loss (the forward must have had targets).
  sparrow_train_status_t (*backward)(void *impl, char *msg, size_t msg_len);
  // Reads the gradients computed by the last backward (for the device-vs-reference check).
  sparrow_train_status_t (*grads)(void *impl, float *grads, char *msg, size_t msg_len);
  // AdamW step t (from 1) at learning rate lr; *grad_norm gets the norm before clipping.
  sparrow_train_status_t (*step)(void *impl, float lr, uint64_t t, float *grad_norm, char *msg,
                                 size_t msg_len);
  // Cumulative counters since the backend was opened.
  void (*counters)(void *impl, sparrow_train_counters_t *out);
  void (*destroy)(void *impl);
} sparrow_train_backend_ops_t;

typedef struct sparrow_train_backend {
  const char *name;  // "ref", or the device URI
  const sparrow_train_backend_ops_t *ops;
  void *impl;
} sparrow_train_backend_t;

// Opens the backend for device: "ref" is the CPU reference; any other string is a libsparrow device
// URI (driver/include/sparrow.h) and opens the chip backend on it, in execution mode mode (the
// reference ignores it; a value that is not a mode is E_ARG).
sparrow_train_status_t sparrow_train_backend_open(
    const char *device, const sparrow_gpt_config_t *config, const sparrow_adamw_t *adamw,
    sparrow_train_mode_t mode, sparrow_train_backend_t *backend, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Whether device can train, without opening anything: OK for "ref"; for a device, OK when the ops
// library has every operator of a training step, else E_UNSUPPORTED naming the missing ones (the
// CLI asks before spending time on the data).
sparrow_train_status_t sparrow_train_backend_check_device(const char *device, char *msg,
                                                          size_t msg_len)
    __attribute__((warn_unused_result));

// The CPU reference backend itself (what "ref" opens).
sparrow_train_status_t sparrow_train_backend_ref_open(const sparrow_gpt_config_t *config,
                                                      const sparrow_adamw_t *adamw,
                                                      sparrow_train_backend_t *backend, char *msg,
                                                      size_t msg_len)
    __attribute__((warn_unused_result));

// The chip backend itself: opens the device (sparrow_open) and checks that the model fits it.
sparrow_train_status_t sparrow_train_backend_chip_open(
    const char *device, const sparrow_gpt_config_t *config, const sparrow_adamw_t *adamw,
    sparrow_train_mode_t mode, sparrow_train_backend_t *backend, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
// OK when the chip backend can run a training step, else E_UNSUPPORTED naming what is missing.
sparrow_train_status_t sparrow_train_backend_chip_check(const char *device, char *msg,
                                                        size_t msg_len)
    __attribute__((warn_unused_result));

void sparrow_train_backend_close(sparrow_train_backend_t *backend);

// The reference backend's model (for tests that look inside); NULL for other backends.
sparrow_gpt_t *sparrow_train_backend_ref_model(const sparrow_train_backend_t *backend);

#endif  // SPARROW_HOST_TRAIN_BACKEND_H_
