// SPDX-License-Identifier: Apache-2.0
//
// Where a training step runs (docs/training.md, "Backends"). The training loop (trainer.h) drives a
// backend through these calls only, so a device plugs in without touching the loop:
//
//   ref   the CPU reference (backend_ref.c): gpt.h + adamw.h in plain fp32, on the host.
//   sim, sim:model, tcp:..., usb ...   the chip: every operator of the step on the fabric through
//         the ops library and libsparrow. It needs the fabric operators of issue 5 (LayerNorm,
//         attention, GELU, softmax-CE, AdamW ...) and the sparse linear layers of issue 4; until
//         they exist, opening a device fails with SPARROW_TRAIN_E_UNSUPPORTED. A chip backend
//         implements the same calls with the parameters, moments and activations in device DRAM,
//         and reports the simulated cycles and DRAM bytes through counters().
//
// The state a backend holds: the parameters, the AdamW moments m and v (same layout,
// sparrow_gpt_layout_t), the block masks, and the last forward's activations and gradients.

#ifndef SPARROW_HOST_TRAIN_BACKEND_H_
#define SPARROW_HOST_TRAIN_BACKEND_H_

#include <stdint.h>

#include "adamw.h"
#include "gpt.h"
#include "sparrow_train.h"

typedef struct sparrow_train_counters {
  uint64_t cycles;      // simulated fabric cycles (0 on the reference)
  uint64_t dram_bytes;  // device DRAM bytes read + written (0 on the reference)
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

// Opens the backend for device: "ref" is the CPU reference; any other URI fails with
// SPARROW_TRAIN_E_UNSUPPORTED (the chip backend comes with the fabric operators of issue 5).
sparrow_train_status_t sparrow_train_backend_open(const char *device,
                                                  const sparrow_gpt_config_t *config,
                                                  const sparrow_adamw_t *adamw,
                                                  sparrow_train_backend_t *backend, char *msg,
                                                  size_t msg_len)
    __attribute__((warn_unused_result));

// Whether device can train today, without opening anything: OK for "ref", E_UNSUPPORTED with the
// reason otherwise (the CLI asks before spending time on the data).
sparrow_train_status_t sparrow_train_backend_check_device(const char *device, char *msg,
                                                          size_t msg_len)
    __attribute__((warn_unused_result));

// The CPU reference backend itself (what "ref" opens).
sparrow_train_status_t sparrow_train_backend_ref_open(const sparrow_gpt_config_t *config,
                                                      const sparrow_adamw_t *adamw,
                                                      sparrow_train_backend_t *backend, char *msg,
                                                      size_t msg_len)
    __attribute__((warn_unused_result));

void sparrow_train_backend_close(sparrow_train_backend_t *backend);

// The reference backend's model (for tests that look inside); NULL for other backends.
sparrow_gpt_t *sparrow_train_backend_ref_model(const sparrow_train_backend_t *backend);

#endif  // SPARROW_HOST_TRAIN_BACKEND_H_
