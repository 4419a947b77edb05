// SPDX-License-Identifier: Apache-2.0
//
// Checkpoint files (see ckpt.h; the layout is docs/training.md's "Checkpoint format"). Fields are
// put into the header at fixed offsets, little-endian, one by one: no struct is written as is.

#include "ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoints write float arrays as they are in memory: a little-endian host is required"
#endif

// Header offsets (bytes).
enum {
  OFF_MAGIC = 0,
  OFF_VERSION = 8,
  OFF_HEADER_BYTES = 12,
  OFF_N_LAYER = 16,
  OFF_N_HEAD = 20,
  OFF_N_EMBD = 24,
  OFF_N_CTX = 28,
  OFF_BATCH = 32,
  OFF_VOCAB = 36,
  OFF_VOCAB_PADDED = 40,
  OFF_BLOCK = 44,
  OFF_DENSITY_DEN = 48,
  OFF_MASK_KIND = 52,
  OFF_MASKS_ACTIVE = 56,
  OFF_VAL_BATCHES = 60,
  OFF_SEED = 64,
  OFF_STEPS = 72,
  OFF_WARMUP = 80,
  OFF_DENSE_STEPS = 88,
  OFF_STEP = 96,
  OFF_RNG = 104,
  OFF_DATA_BYTES = 112,
  OFF_DATA_HASH = 120,
  OFF_LR = 128,
  OFF_LR_MIN_RATIO = 132,
  OFF_BETA1 = 136,
  OFF_BETA2 = 140,
  OFF_EPS = 144,
  OFF_WEIGHT_DECAY = 148,
  OFF_CLIP = 152,
  OFF_EVAL_EVERY = 156,
  OFF_N_PARAMS = 160,
  OFF_MASK_BYTES = 168,
  OFF_CKPT_EVERY = 176,
  OFF_CYCLES = 184,
  OFF_DRAM_BYTES = 192,
  OFF_VOCAB_CHARS = 256,
};

static void put_u32(uint8_t *h, size_t off, uint32_t v) {
  for (int i = 0; i < 4; i++) {
    h[off + i] = (uint8_t)(v >> (8 * i));
  }
}

static void put_u64(uint8_t *h, size_t off, uint64_t v) {
  for (int i = 0; i < 8; i++) {
    h[off + i] = (uint8_t)(v >> (8 * i));
  }
}

static void put_f32(uint8_t *h, size_t off, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(h, off, v);
}

static uint32_t get_u32(const uint8_t *h, size_t off) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    v |= (uint32_t)h[off + i] << (8 * i);
  }
  return v;
}

static uint64_t get_u64(const uint8_t *h, size_t off) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) {
    v |= (uint64_t)h[off + i] << (8 * i);
  }
  return v;
}

static float get_f32(const uint8_t *h, size_t off) {
  uint32_t v = get_u32(h, off);
  float f;
  memcpy(&f, &v, 4);
  return f;
}

static void encode_header(const sparrow_train_ckpt_t *c,
                          uint8_t h[SPARROW_TRAIN_CKPT_HEADER_BYTES]) {
  const sparrow_train_run_t *r = &c->run;
  memset(h, 0, SPARROW_TRAIN_CKPT_HEADER_BYTES);
  memcpy(h + OFF_MAGIC, SPARROW_TRAIN_CKPT_MAGIC, 8);
  put_u32(h, OFF_VERSION, SPARROW_TRAIN_CKPT_VERSION);
  put_u32(h, OFF_HEADER_BYTES, SPARROW_TRAIN_CKPT_HEADER_BYTES);
  put_u32(h, OFF_N_LAYER, r->model.n_layer);
  put_u32(h, OFF_N_HEAD, r->model.n_head);
  put_u32(h, OFF_N_EMBD, r->model.n_embd);
  put_u32(h, OFF_N_CTX, r->model.n_ctx);
  put_u32(h, OFF_BATCH, r->model.batch);
  put_u32(h, OFF_VOCAB, r->model.vocab);
  put_u32(h, OFF_VOCAB_PADDED, r->model.vocab_padded);
  put_u32(h, OFF_BLOCK, r->model.block);
  put_u32(h, OFF_DENSITY_DEN, r->density_den);
  put_u32(h, OFF_MASK_KIND, (uint32_t)r->mask_kind);
  put_u32(h, OFF_MASKS_ACTIVE, c->masks_active ? 1u : 0u);
  put_u32(h, OFF_VAL_BATCHES, r->val_batches);
  put_u64(h, OFF_SEED, r->seed);
  put_u64(h, OFF_STEPS, r->steps);
  put_u64(h, OFF_WARMUP, r->warmup);
  put_u64(h, OFF_DENSE_STEPS, r->dense_steps);
  put_u64(h, OFF_STEP, c->step);
  put_u64(h, OFF_RNG, c->rng);
  put_u64(h, OFF_DATA_BYTES, c->data_bytes);
  put_u64(h, OFF_DATA_HASH, c->data_hash);
  put_f32(h, OFF_LR, r->adamw.lr);
  put_f32(h, OFF_LR_MIN_RATIO, r->adamw.lr_min_ratio);
  put_f32(h, OFF_BETA1, r->adamw.beta1);
  put_f32(h, OFF_BETA2, r->adamw.beta2);
  put_f32(h, OFF_EPS, r->adamw.eps);
  put_f32(h, OFF_WEIGHT_DECAY, r->adamw.weight_decay);
  put_f32(h, OFF_CLIP, r->adamw.clip);
  put_u32(h, OFF_EVAL_EVERY, r->eval_every);
  put_u32(h, OFF_CKPT_EVERY, r->ckpt_every);
  put_u64(h, OFF_N_PARAMS, c->n_params);
  put_u64(h, OFF_MASK_BYTES, c->mask_bytes);
  put_u64(h, OFF_CYCLES, c->cycles);
  put_u64(h, OFF_DRAM_BYTES, c->dram_bytes);
  memcpy(h + OFF_VOCAB_CHARS, c->chars, r->model.vocab <= 256 ? r->model.vocab : 256);
}

static void decode_header(const uint8_t *h, sparrow_train_ckpt_t *c) {
  sparrow_train_run_t *r = &c->run;
  r->model.n_layer = get_u32(h, OFF_N_LAYER);
  r->model.n_head = get_u32(h, OFF_N_HEAD);
  r->model.n_embd = get_u32(h, OFF_N_EMBD);
  r->model.n_ctx = get_u32(h, OFF_N_CTX);
  r->model.batch = get_u32(h, OFF_BATCH);
  r->model.vocab = get_u32(h, OFF_VOCAB);
  r->model.vocab_padded = get_u32(h, OFF_VOCAB_PADDED);
  r->model.block = get_u32(h, OFF_BLOCK);
  r->density_den = get_u32(h, OFF_DENSITY_DEN);
  r->mask_kind = (sparrow_train_mask_kind_t)get_u32(h, OFF_MASK_KIND);
  c->masks_active = get_u32(h, OFF_MASKS_ACTIVE) != 0;
  r->val_batches = get_u32(h, OFF_VAL_BATCHES);
  r->seed = get_u64(h, OFF_SEED);
  r->steps = get_u64(h, OFF_STEPS);
  r->warmup = get_u64(h, OFF_WARMUP);
  r->dense_steps = get_u64(h, OFF_DENSE_STEPS);
  c->step = get_u64(h, OFF_STEP);
  c->rng = get_u64(h, OFF_RNG);
  c->data_bytes = get_u64(h, OFF_DATA_BYTES);
  c->data_hash = get_u64(h, OFF_DATA_HASH);
  r->adamw.lr = get_f32(h, OFF_LR);
  r->adamw.lr_min_ratio = get_f32(h, OFF_LR_MIN_RATIO);
  r->adamw.beta1 = get_f32(h, OFF_BETA1);
  r->adamw.beta2 = get_f32(h, OFF_BETA2);
  r->adamw.eps = get_f32(h, OFF_EPS);
  r->adamw.weight_decay = get_f32(h, OFF_WEIGHT_DECAY);
  r->adamw.clip = get_f32(h, OFF_CLIP);
  r->eval_every = get_u32(h, OFF_EVAL_EVERY);
  r->ckpt_every = get_u32(h, OFF_CKPT_EVERY);
  c->n_params = get_u64(h, OFF_N_PARAMS);
  c->mask_bytes = get_u64(h, OFF_MASK_BYTES);
  c->cycles = get_u64(h, OFF_CYCLES);
  c->dram_bytes = get_u64(h, OFF_DRAM_BYTES);
  memcpy(c->chars, h + OFF_VOCAB_CHARS, 256);
}

static bool put(FILE *f, uint64_t *hash, const void *data, size_t len) {
  *hash = sparrow_train_fnv1a(*hash, data, len);
  return len == 0 || fwrite(data, 1, len, f) == len;
}

// fsync of the directory holding path, so that the rename itself is durable.
static void sync_dir(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (slash == NULL) {
    strcpy(dir, ".");
  } else {
    size_t n = (size_t)(slash - path);
    if (n >= sizeof(dir)) {
      return;
    }
    memcpy(dir, path, n == 0 ? 1 : n);
    dir[n == 0 ? 1 : n] = '\0';
  }
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

sparrow_train_status_t sparrow_train_ckpt_write(const char *path, const sparrow_train_ckpt_t *c,
                                                char *msg, size_t msg_len) {
  if (path == NULL || c == NULL || c->params == NULL || c->m == NULL || c->v == NULL ||
      c->masks == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "checkpoint: missing arrays");
  }
  char tmp[4200];
  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
    return sparrow_train_fail(SPARROW_TRAIN_E_ARG, msg, msg_len, "checkpoint path too long");
  }
  FILE *f = fopen(tmp, "wb");
  if (f == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot create checkpoint '%s': %s",
                              tmp, strerror(errno));
  }
  uint8_t header[SPARROW_TRAIN_CKPT_HEADER_BYTES];
  encode_header(c, header);
  uint64_t hash = SPARROW_TRAIN_FNV_INIT;
  size_t fb = (size_t)c->n_params * sizeof(float);
  bool ok = put(f, &hash, header, sizeof(header)) && put(f, &hash, c->params, fb) &&
            put(f, &hash, c->m, fb) && put(f, &hash, c->v, fb) &&
            put(f, &hash, c->masks, (size_t)c->mask_bytes);
  uint8_t tail[8];
  put_u64(tail, 0, hash);
  ok = ok && fwrite(tail, 1, 8, f) == 8;
  int err = errno;
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (!ok) {
    err = errno;
  }
  if (fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    remove(tmp);
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot write checkpoint '%s': %s",
                              tmp, strerror(err));
  }
  if (rename(tmp, path) != 0) {
    err = errno;
    remove(tmp);
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len,
                              "cannot rename checkpoint '%s' to '%s': %s", tmp, path,
                              strerror(err));
  }
  sync_dir(path);
  return SPARROW_TRAIN_OK;
}

void sparrow_train_ckpt_free(sparrow_train_ckpt_t *c) {
  if (c == NULL) {
    return;
  }
  free(c->params);
  free(c->m);
  free(c->v);
  free(c->masks);
  c->params = c->m = c->v = NULL;
  c->masks = NULL;
}

sparrow_train_status_t sparrow_train_ckpt_read(const char *path, sparrow_train_ckpt_t *out,
                                               char *msg, size_t msg_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return sparrow_train_fail(SPARROW_TRAIN_E_IO, msg, msg_len, "cannot open checkpoint '%s': %s",
                              path, strerror(errno));
  }
  uint8_t h[SPARROW_TRAIN_CKPT_HEADER_BYTES];
  size_t got = fread(h, 1, sizeof(h), f);
  if (got < 16 || memcmp(h, SPARROW_TRAIN_CKPT_MAGIC, 8) != 0) {
    fclose(f);
    return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                              "'%s' is not a Sparrow checkpoint (no %s magic)", path,
                              SPARROW_TRAIN_CKPT_MAGIC);
  }
  uint32_t version = get_u32(h, OFF_VERSION);
  if (version != SPARROW_TRAIN_CKPT_VERSION) {
    fclose(f);
    return sparrow_train_fail(
        SPARROW_TRAIN_E_FORMAT, msg, msg_len,
        "checkpoint '%s' has format version %u; this sparrow reads version %u", path, version,
        SPARROW_TRAIN_CKPT_VERSION);
  }
  if (got < sizeof(h) || get_u32(h, OFF_HEADER_BYTES) != SPARROW_TRAIN_CKPT_HEADER_BYTES) {
    fclose(f);
    return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                              "checkpoint '%s': truncated or malformed header", path);
  }
  sparrow_train_ckpt_t c;
  memset(&c, 0, sizeof(c));
  decode_header(h, &c);
  char why[200] = "";
  sparrow_gpt_layout_t layout;
  if (sparrow_gpt_layout_init(&c.run.model, &layout, why, sizeof(why)) != SPARROW_TRAIN_OK) {
    fclose(f);
    return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                              "checkpoint '%s': bad model: %s", path, why);
  }
  bool sizes_ok = layout.n_params == c.n_params && layout.mask_bytes == c.mask_bytes;
  sparrow_gpt_layout_free(&layout);
  if (!sizes_ok) {
    fclose(f);
    return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                              "checkpoint '%s': %llu parameters and %llu mask bytes do not match "
                              "its model",
                              path, (unsigned long long)c.n_params,
                              (unsigned long long)c.mask_bytes);
  }
  uint32_t den = c.run.density_den;
  if ((den != 1 && den != 2 && den != 4 && den != 8) || (uint32_t)c.run.mask_kind > 1 ||
      c.run.steps == 0 || c.step > c.run.steps || c.run.val_batches == 0 || c.run.eval_every == 0 ||
      c.run.ckpt_every == 0) {
    fclose(f);
    return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                              "checkpoint '%s': bad run fields (density 1/%u, mask kind %u, step "
                              "%llu of %llu, %u validation batches)",
                              path, den, (unsigned)c.run.mask_kind, (unsigned long long)c.step,
                              (unsigned long long)c.run.steps, c.run.val_batches);
  }
  size_t fb = (size_t)c.n_params * sizeof(float);
  c.params = malloc(fb);
  c.m = malloc(fb);
  c.v = malloc(fb);
  c.masks = malloc(c.mask_bytes);
  if (!c.params || !c.m || !c.v || !c.masks) {
    fclose(f);
    sparrow_train_ckpt_free(&c);
    return sparrow_train_fail(SPARROW_TRAIN_E_NOMEM, msg, msg_len, "checkpoint '%s': out of memory",
                              path);
  }
  uint64_t hash = sparrow_train_fnv1a(SPARROW_TRAIN_FNV_INIT, h, sizeof(h));
  uint8_t tail[9];
  bool ok = fread(c.params, 1, fb, f) == fb && fread(c.m, 1, fb, f) == fb &&
            fread(c.v, 1, fb, f) == fb && fread(c.masks, 1, c.mask_bytes, f) == c.mask_bytes &&
            fread(tail, 1, 9, f) == 8;  // exactly 8 bytes left: the checksum
  fclose(f);
  if (!ok) {
    sparrow_train_ckpt_free(&c);
    return sparrow_train_fail(
        SPARROW_TRAIN_E_FORMAT, msg, msg_len,
        "checkpoint '%s' is truncated or has trailing bytes (expected %llu "
        "bytes)",
        path, (unsigned long long)(SPARROW_TRAIN_CKPT_HEADER_BYTES + 3 * fb + c.mask_bytes + 8));
  }
  hash = sparrow_train_fnv1a(hash, c.params, fb);
  hash = sparrow_train_fnv1a(hash, c.m, fb);
  hash = sparrow_train_fnv1a(hash, c.v, fb);
  hash = sparrow_train_fnv1a(hash, c.masks, c.mask_bytes);
  if (hash != get_u64(tail, 0)) {
    sparrow_train_ckpt_free(&c);
    return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                              "checkpoint '%s' is corrupt (checksum mismatch)", path);
  }
  for (uint64_t i = 0; i < c.mask_bytes; i++) {
    if (c.masks[i] > 1) {
      sparrow_train_ckpt_free(&c);
      return sparrow_train_fail(SPARROW_TRAIN_E_FORMAT, msg, msg_len,
                                "checkpoint '%s': mask byte %llu is %u (0 or 1 expected)", path,
                                (unsigned long long)i, c.masks[i]);
    }
  }
  *out = c;
  return SPARROW_TRAIN_OK;
}
