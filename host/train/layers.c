// SPDX-License-Identifier: Apache-2.0
//
// The CPU reference's layers (see layers.h). Plain fp32: every product and sum rounds to binary32
// in program order (the build forbids contraction and fast-math), so the reference is exactly
// reproducible.

#include "layers.h"

#include <math.h>
#include <string.h>

void sparrow_train_encoder_forward(float *out, const uint32_t *inp, const float *wte,
                                   const float *wpe, size_t B, size_t T, size_t C) {
  for (size_t b = 0; b < B; b++) {
    for (size_t t = 0; t < T; t++) {
      float *o = out + (b * T + t) * C;
      const float *we = wte + (size_t)inp[b * T + t] * C;
      const float *pe = wpe + t * C;
      for (size_t c = 0; c < C; c++) {
        o[c] = we[c] + pe[c];
      }
    }
  }
}

void sparrow_train_encoder_backward(float *dwte, float *dwpe, const float *dout,
                                    const uint32_t *inp, size_t B, size_t T, size_t C) {
  for (size_t b = 0; b < B; b++) {
    for (size_t t = 0; t < T; t++) {
      const float *d = dout + (b * T + t) * C;
      float *dwe = dwte + (size_t)inp[b * T + t] * C;
      float *dpe = dwpe + t * C;
      for (size_t c = 0; c < C; c++) {
        dwe[c] += d[c];
        dpe[c] += d[c];
      }
    }
  }
}

void sparrow_train_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                     const float *w, const float *b, size_t N, size_t C) {
  for (size_t n = 0; n < N; n++) {
    const float *x = inp + n * C;
    float m = 0.0f;
    for (size_t c = 0; c < C; c++) {
      m += x[c];
    }
    m /= (float)C;
    float v = 0.0f;
    for (size_t c = 0; c < C; c++) {
      float d = x[c] - m;
      v += d * d;
    }
    v /= (float)C;
    float s = 1.0f / sqrtf(v + SPARROW_TRAIN_LN_EPS);
    float *o = out + n * C;
    for (size_t c = 0; c < C; c++) {
      o[c] = (s * (x[c] - m)) * w[c] + b[c];
    }
    mean[n] = m;
    rstd[n] = s;
  }
}

void sparrow_train_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                      const float *inp, const float *w, const float *mean,
                                      const float *rstd, size_t N, size_t C) {
  for (size_t n = 0; n < N; n++) {
    const float *d = dout + n * C;
    const float *x = inp + n * C;
    float *dx = dinp + n * C;
    float m = mean[n], s = rstd[n];
    // dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)), dnorm = w * dout.
    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
    for (size_t c = 0; c < C; c++) {
      float norm = (x[c] - m) * s;
      float dnorm = w[c] * d[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean /= (float)C;
    dnorm_norm_mean /= (float)C;
    for (size_t c = 0; c < C; c++) {
      float norm = (x[c] - m) * s;
      float dnorm = w[c] * d[c];
      db[c] += d[c];
      dw[c] += norm * d[c];
      dx[c] += s * ((dnorm - dnorm_mean) - norm * dnorm_norm_mean);
    }
  }
}

void sparrow_train_matmul_forward(float *out, const float *inp, const float *W, const float *bias,
                                  const uint8_t *mask, size_t block, size_t N, size_t IC,
                                  size_t OC) {
  size_t bc = mask != NULL ? OC / block : 0;
  for (size_t n = 0; n < N; n++) {
    const float *x = inp + n * IC;
    float *o = out + n * OC;
    for (size_t oc = 0; oc < OC; oc++) {
      o[oc] = bias != NULL ? bias[oc] : 0.0f;
    }
    for (size_t ic = 0; ic < IC; ic++) {
      float xv = x[ic];
      const float *w = W + ic * OC;
      if (mask == NULL) {
        for (size_t oc = 0; oc < OC; oc++) {
          o[oc] += xv * w[oc];
        }
        continue;
      }
      const uint8_t *mrow = mask + (ic / block) * bc;
      for (size_t nb = 0; nb < bc; nb++) {
        if (mrow[nb] == 0) {
          continue;
        }
        for (size_t oc = nb * block; oc < (nb + 1) * block; oc++) {
          o[oc] += xv * w[oc];
        }
      }
    }
  }
}

void sparrow_train_matmul_backward(float *dinp, float *dW, float *dbias, const float *dout,
                                   const float *inp, const float *W, const uint8_t *mask,
                                   size_t block, size_t N, size_t IC, size_t OC) {
  size_t bc = mask != NULL ? OC / block : 0;
  for (size_t n = 0; n < N; n++) {
    const float *d = dout + n * OC;
    const float *x = inp + n * IC;
    float *dx = dinp + n * IC;
    for (size_t ic = 0; ic < IC; ic++) {
      const float *w = W + ic * OC;
      float *dw = dW + ic * OC;
      float xv = x[ic];
      float s = 0.0f;
      if (mask == NULL) {
        for (size_t oc = 0; oc < OC; oc++) {
          s += w[oc] * d[oc];
          dw[oc] += xv * d[oc];
        }
      } else {
        const uint8_t *mrow = mask + (ic / block) * bc;
        for (size_t nb = 0; nb < bc; nb++) {
          if (mrow[nb] == 0) {
            continue;
          }
          for (size_t oc = nb * block; oc < (nb + 1) * block; oc++) {
            s += w[oc] * d[oc];
            dw[oc] += xv * d[oc];
          }
        }
      }
      dx[ic] += s;
    }
    if (dbias != NULL) {
      for (size_t oc = 0; oc < OC; oc++) {
        dbias[oc] += d[oc];
      }
    }
  }
}

void sparrow_train_lmhead_forward(float *logits, const float *inp, const float *wte, size_t N,
                                  size_t C, size_t Vp) {
  for (size_t n = 0; n < N; n++) {
    const float *x = inp + n * C;
    for (size_t v = 0; v < Vp; v++) {
      const float *e = wte + v * C;
      float s = 0.0f;
      for (size_t c = 0; c < C; c++) {
        s += x[c] * e[c];
      }
      logits[n * Vp + v] = s;
    }
  }
}

void sparrow_train_lmhead_backward(float *dinp, float *dwte, const float *dlogits, const float *inp,
                                   const float *wte, size_t N, size_t C, size_t Vp) {
  for (size_t n = 0; n < N; n++) {
    const float *x = inp + n * C;
    float *dx = dinp + n * C;
    for (size_t v = 0; v < Vp; v++) {
      float d = dlogits[n * Vp + v];
      if (d == 0.0f) {
        continue;  // the padding columns (and exact zeros) add nothing
      }
      const float *e = wte + v * C;
      float *de = dwte + v * C;
      for (size_t c = 0; c < C; c++) {
        dx[c] += d * e[c];
        de[c] += d * x[c];
      }
    }
  }
}

void sparrow_train_attention_forward(float *out, float *preatt, float *att, const float *qkv,
                                     size_t B, size_t T, size_t C, size_t NH) {
  size_t C3 = 3 * C, hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  for (size_t b = 0; b < B; b++) {
    for (size_t t = 0; t < T; t++) {
      for (size_t h = 0; h < NH; h++) {
        const float *q = qkv + (b * T + t) * C3 + h * hs;
        float *pre = preatt + ((b * NH + h) * T + t) * T;
        float *a = att + ((b * NH + h) * T + t) * T;
        float maxv = -INFINITY;
        for (size_t t2 = 0; t2 <= t; t2++) {
          const float *k = qkv + (b * T + t2) * C3 + C + h * hs;
          float s = 0.0f;
          for (size_t i = 0; i < hs; i++) {
            s += q[i] * k[i];
          }
          s *= scale;
          pre[t2] = s;
          if (s > maxv) {
            maxv = s;
          }
        }
        float sum = 0.0f;
        for (size_t t2 = 0; t2 <= t; t2++) {
          float e = expf(pre[t2] - maxv);
          a[t2] = e;
          sum += e;
        }
        float inv = 1.0f / sum;
        for (size_t t2 = 0; t2 < T; t2++) {
          if (t2 <= t) {
            a[t2] *= inv;
          } else {
            a[t2] = 0.0f;  // the causal mask: the future gets no weight
            pre[t2] = 0.0f;
          }
        }
        float *o = out + (b * T + t) * C + h * hs;
        for (size_t i = 0; i < hs; i++) {
          o[i] = 0.0f;
        }
        for (size_t t2 = 0; t2 <= t; t2++) {
          const float *v = qkv + (b * T + t2) * C3 + 2 * C + h * hs;
          float w = a[t2];
          for (size_t i = 0; i < hs; i++) {
            o[i] += w * v[i];
          }
        }
      }
    }
  }
}

void sparrow_train_attention_backward(float *dqkv, float *dpreatt, float *datt, const float *dout,
                                      const float *qkv, const float *att, size_t B, size_t T,
                                      size_t C, size_t NH) {
  size_t C3 = 3 * C, hs = C / NH;
  float scale = 1.0f / sqrtf((float)hs);
  for (size_t b = 0; b < B; b++) {
    for (size_t t = 0; t < T; t++) {
      for (size_t h = 0; h < NH; h++) {
        const float *a = att + ((b * NH + h) * T + t) * T;
        float *da = datt + ((b * NH + h) * T + t) * T;
        float *dpre = dpreatt + ((b * NH + h) * T + t) * T;
        const float *d = dout + (b * T + t) * C + h * hs;
        const float *q = qkv + (b * T + t) * C3 + h * hs;
        float *dq = dqkv + (b * T + t) * C3 + h * hs;
        // out = sum_t2 att[t2] v[t2]
        for (size_t t2 = 0; t2 <= t; t2++) {
          const float *v = qkv + (b * T + t2) * C3 + 2 * C + h * hs;
          float *dv = dqkv + (b * T + t2) * C3 + 2 * C + h * hs;
          float s = 0.0f;
          for (size_t i = 0; i < hs; i++) {
            s += v[i] * d[i];
            dv[i] += a[t2] * d[i];
          }
          da[t2] = s;
        }
        // softmax: dpre[t3] = att[t3] (datt[t3] - sum_t2 att[t2] datt[t2])
        float dot = 0.0f;
        for (size_t t2 = 0; t2 <= t; t2++) {
          dot += a[t2] * da[t2];
        }
        for (size_t t2 = 0; t2 <= t; t2++) {
          dpre[t2] = a[t2] * (da[t2] - dot);
        }
        // pre[t2] = scale q . k[t2]
        for (size_t t2 = 0; t2 <= t; t2++) {
          const float *k = qkv + (b * T + t2) * C3 + C + h * hs;
          float *dk = dqkv + (b * T + t2) * C3 + C + h * hs;
          float g = dpre[t2] * scale;
          for (size_t i = 0; i < hs; i++) {
            dq[i] += g * k[i];
            dk[i] += g * q[i];
          }
        }
      }
    }
  }
}

#define GELU_SCALE 0.7978845608028654f  // sqrt(2 / pi)
#define GELU_CUBE 0.044715f

void sparrow_train_gelu_forward(float *out, const float *inp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float cube = GELU_CUBE * x * x * x;
    out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + cube)));
  }
}

void sparrow_train_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float x = inp[i];
    float cube = GELU_CUBE * x * x * x;
    float th = tanhf(GELU_SCALE * (x + cube));
    // sech^2 = 1 - tanh^2 (cosh would overflow for large arguments)
    float sech2 = 1.0f - th * th;
    float local =
        0.5f * (1.0f + th) + x * 0.5f * sech2 * GELU_SCALE * (1.0f + 3.0f * GELU_CUBE * x * x);
    dinp[i] += local * dout[i];
  }
}

void sparrow_train_residual_forward(float *out, const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    out[i] = a[i] + b[i];
  }
}

void sparrow_train_residual_backward(float *da, float *db, const float *dout, size_t n) {
  for (size_t i = 0; i < n; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

void sparrow_train_softmax_ce_forward(float *probs, float *losses, const float *logits,
                                      const uint32_t *targets, size_t N, size_t V, size_t Vp) {
  for (size_t n = 0; n < N; n++) {
    const float *z = logits + n * Vp;
    float *p = probs + n * Vp;
    float maxv = -INFINITY;
    for (size_t v = 0; v < V; v++) {
      if (z[v] > maxv) {
        maxv = z[v];
      }
    }
    float sum = 0.0f;
    for (size_t v = 0; v < V; v++) {
      p[v] = expf(z[v] - maxv);
      sum += p[v];
    }
    float inv = 1.0f / sum;
    for (size_t v = 0; v < Vp; v++) {
      p[v] = v < V ? p[v] * inv : 0.0f;
    }
    if (losses != NULL && targets != NULL) {
      // log-sum-exp form: finite even when the target's probability underflows
      losses[n] = logf(sum) - (z[targets[n]] - maxv);
    }
  }
}

void sparrow_train_softmax_ce_backward(float *dlogits, const float *probs, const uint32_t *targets,
                                       float dloss, size_t N, size_t V, size_t Vp) {
  for (size_t n = 0; n < N; n++) {
    const float *p = probs + n * Vp;
    float *d = dlogits + n * Vp;
    uint32_t y = targets[n];
    for (size_t v = 0; v < V; v++) {
      float indicator = v == y ? 1.0f : 0.0f;
      d[v] += (p[v] - indicator) * dloss;
    }
  }
}
