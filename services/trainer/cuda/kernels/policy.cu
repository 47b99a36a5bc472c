// Kernels of the trainer's CUDA policy backend: the same network, in the same float32
// arithmetic, as services/trainer/policy's CPU backend (see policy.go for the model).
//
// Every scalar parameter is 64 bits wide (long long or double): gorgonia.org/cu's
// Launch copies each kernel argument as 8 bytes, so a 4-byte int or float parameter
// would read garbage from the upper half.
//
// Regenerate policy.ptx after editing: go generate ./services/trainer/cuda/kernels, which
// runs, here, nvcc -ptx -arch=compute_70 -O3 -o policy.ptx policy.cu
// compute_70 PTX is JIT-compiled by the driver for the GPU it runs on (Volta and later).
// The emulator (emu.cc) compiles this file as C++ for the CPU, with emu.h's definitions
// of the CUDA names it uses; keep to those, or define the new ones there.

extern "C" {

// x[r, k*D+d] = E[ctx[r*K+k]*D + d]
__global__ void embed_gather(const int* ctx, const float* E, float* x, long long n, long long K, long long D) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * K * D) return;
    long long r = i / (K * D), kd = i % (K * D), k = kd / D, d = kd % D;
    x[i] = E[(long long)ctx[r * K + k] * D + d];
}

// out[r, j] = act(b[j] + Σ_i in[r, i]·W[i*outDim + j]); act is tanh when tanhAct != 0.
__global__ void dense_forward(const float* in, const float* W, const float* b, float* out,
                              long long n, long long inDim, long long outDim, long long tanhAct) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * outDim) return;
    long long r = i / outDim, j = i % outDim;
    const float* row = in + r * inDim;
    float acc = b[j];
    for (long long k = 0; k < inDim; k++) acc += row[k] * W[k * outDim + j];
    out[i] = tanhAct ? tanhf(acc) : acc;
}

// z[r, :] = softmax(z[r, :]), one thread per row, the sum in double like the CPU backend.
__global__ void softmax_rows(float* z, long long n, long long A) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    float* row = z + r * A;
    float m = row[0];
    for (long long a = 1; a < A; a++) m = fmaxf(m, row[a]);
    double sum = 0;
    for (long long a = 0; a < A; a++) {
        double e = exp((double)(row[a] - m));
        row[a] = (float)e;
        sum += e;
    }
    double inv = 1.0 / sum;
    for (long long a = 0; a < A; a++) row[a] = (float)((double)row[a] * inv);
}

// logp[r] = log π(actions[r] | row r)
__global__ void gather_logp(const float* p, const int* actions, float* logp, long long n, long long A) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    double v = (double)p[r * A + actions[r]];
    logp[r] = (float)log(fmax(v, 1.401298464324817e-45));
}

// dz[r, a] = coef[r]·(onehot(actions[r])[a] − p[r, a]): ∂(coef·logp)/∂z
__global__ void dlogits(const float* p, const int* actions, const float* coef, float* dz, long long n, long long A) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * A) return;
    long long r = i / A, a = i % A;
    float v = -coef[r] * p[i];
    if (a == actions[r]) v += coef[r];
    dz[i] = v;
}

// dW[k, j] += Σ_r in[r, k]·dout[r, j] and, from the threads of row k == inDim, db[j] += Σ_r dout[r, j]
// (unless db is null).
// One thread per weight summing over rows: deterministic, no atomics.
__global__ void dense_grad_weights(const float* in, const float* dout, float* dW, float* db,
                                   long long n, long long inDim, long long outDim) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (inDim + 1) * outDim) return;
    long long k = i / outDim, j = i % outDim;
    float acc = 0;
    if (k == inDim) {
        if (!db) return;  // a layer without a bias
        for (long long r = 0; r < n; r++) acc += dout[r * outDim + j];
        db[j] += acc;
        return;
    }
    for (long long r = 0; r < n; r++) acc += in[r * inDim + k] * dout[r * outDim + j];
    dW[k * outDim + j] += acc;
}

// din[r, k] = (Σ_j dout[r, j]·W[k*outDim + j]) · (1 − act[r, k]²) when act is not null
// (the input was a tanh output), else without the factor.
__global__ void dense_grad_input(const float* dout, const float* W, const float* act, float* din,
                                 long long n, long long inDim, long long outDim) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * inDim) return;
    long long r = i / inDim, k = i % inDim;
    const float* drow = dout + r * outDim;
    const float* wrow = W + k * outDim;
    float acc = 0;
    for (long long j = 0; j < outDim; j++) acc += wrow[j] * drow[j];
    if (act) {
        float h = act[i];
        acc *= 1 - h * h;
    }
    din[i] = acc;
}

// dE[v, d] += Σ over rows r and slots k with ctx[r*K+k] == v of dx[r, k*D+d].
// One thread per embedding value: deterministic, no atomics.
__global__ void embed_grad(const int* ctx, const float* dx, float* dE, long long n, long long K, long long D, long long V) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= V * D) return;
    long long v = i / D, d = i % D;
    float acc = 0;
    for (long long r = 0; r < n; r++)
        for (long long k = 0; k < K; k++)
            if (ctx[r * K + k] == v) acc += dx[r * K * D + k * D + d];
    dE[i] += acc;
}

// One bias-corrected Adam step, as policy.AdamUpdate computes it; clears the gradient.
__global__ void adam(float* params, float* m, float* v, float* grad, long long n,
                     double beta1, double beta2, double step, double eps) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float b1 = (float)beta1, b2 = (float)beta2, g = grad[i];
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    params[i] -= (float)step * m[i] / ((float)sqrt((double)v[i]) + (float)eps);
    grad[i] = 0;
}

// The transformer (services/trainer/policy/transformer.go). Rows of the batch are
// n contexts of T positions; "token rows" are the n·T positions, each D wide. The
// loops follow the CPU backend's layer functions, in the same order.

// x[r, t, d] = Tok[ctx[r*T+t], d] + Pos[t, d]
__global__ void tf_embed(const int* ctx, const float* Tok, const float* Pos, float* x, long long n, long long T, long long D) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * T * D) return;
    long long r = i / (T * D), t = (i / D) % T, d = i % D;
    x[i] = Tok[(long long)ctx[r * T + t] * D + d] + Pos[t * D + d];
}

// y = (x − μ)/σ·g + b per row of D, keeping μ and 1/σ; one thread per row.
__global__ void layernorm_forward(const float* x, const float* g, const float* b, float* y, float* mu, float* rs,
                                  long long rows, long long D) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* xr = x + r * D;
    double sum = 0;
    for (long long d = 0; d < D; d++) sum += (double)xr[d];
    double mean = sum / (double)D, vs = 0;
    for (long long d = 0; d < D; d++) {
        double e = (double)xr[d] - mean;
        vs += e * e;
    }
    float m = (float)mean, inv = (float)(1.0 / sqrt(vs / (double)D + 1e-5));
    mu[r] = m;
    rs[r] = inv;
    for (long long d = 0; d < D; d++) y[r * D + d] = (xr[d] - m) * inv * g[d] + b[d];
}

// out[r, j] = res[r, j] + b[j] + Σ_k in[r, k]·W[k*outDim + j]; res and b may be null.
__global__ void linear_forward(const float* in, const float* W, const float* b, const float* res, float* out,
                               long long rows, long long inDim, long long outDim) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= rows * outDim) return;
    long long r = i / outDim, j = i % outDim;
    float acc = res ? res[i] : 0.0f;
    if (b) acc += b[j];
    const float* row = in + r * inDim;
    for (long long k = 0; k < inDim; k++) acc += row[k] * W[k * outDim + j];
    out[i] = acc;
}

// g = GELU(u), tanh approximation, in double as the CPU backend computes it.
__global__ void gelu_forward(const float* u, float* g, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double x = (double)u[i];
    g[i] = (float)(0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))));
}

// dg *= GELU'(u), in place.
__global__ void gelu_backward(float* dg, const float* u, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double x = (double)u[i];
    double t = tanh(0.7978845608028654 * (x + 0.044715 * x * x * x));
    dg[i] *= (float)(0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * x * x));
}

// Causal attention, one thread per (row r, head h, position t): the weights att[r, h, t, :]
// (zero above the diagonal) and the output o[r, t, h*dh : (h+1)*dh]. qkv[r, t] holds the
// query, key and value side by side (3D wide).
__global__ void attention_forward(const float* qkv, float* att, float* o, long long n, long long T, long long D, long long H) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * H * T) return;
    long long r = i / (H * T), h = (i / T) % H, t = i % T, dh = D / H;
    const float* base = qkv + r * T * 3 * D;
    float scale = (float)(1.0 / sqrt((double)dh));
    float* w = att + ((r * H + h) * T + t) * T;
    const float* q = base + t * 3 * D + h * dh;
    float mx = -INFINITY;
    for (long long u = 0; u <= t; u++) {
        const float* k = base + u * 3 * D + D + h * dh;
        float s = 0;
        for (long long e = 0; e < dh; e++) s += q[e] * k[e];
        w[u] = s * scale;
        mx = fmaxf(mx, w[u]);
    }
    double sum = 0;
    for (long long u = 0; u <= t; u++) {
        double e = exp((double)(w[u] - mx));
        w[u] = (float)e;
        sum += e;
    }
    double inv = 1.0 / sum;
    for (long long u = 0; u < T; u++) w[u] = u <= t ? (float)((double)w[u] * inv) : 0.0f;
    float* out = o + (r * T + t) * D + h * dh;
    for (long long e = 0; e < dh; e++) {
        float acc = 0;
        for (long long u = 0; u <= t; u++) acc += w[u] * base[u * 3 * D + 2 * D + h * dh + e];
        out[e] = acc;
    }
}

// Attention's backward, first half, one thread per (r, h, t): ds[r, h, t, u], the
// (scaled) gradient of the score of t against u, and the query's gradient.
__global__ void attention_backward_q(const float* qkv, const float* att, const float* dout, float* ds, float* dqkv,
                                     long long n, long long T, long long D, long long H) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * H * T) return;
    long long r = i / (H * T), h = (i / T) % H, t = i % T, dh = D / H;
    const float* base = qkv + r * T * 3 * D;
    float scale = (float)(1.0 / sqrt((double)dh));
    const float* w = att + ((r * H + h) * T + t) * T;
    float* dsr = ds + ((r * H + h) * T + t) * T;
    const float* g = dout + (r * T + t) * D + h * dh;
    float wsum = 0;
    for (long long u = 0; u <= t; u++) {
        const float* v = base + u * 3 * D + 2 * D + h * dh;
        float dp = 0;
        for (long long e = 0; e < dh; e++) dp += g[e] * v[e];
        dsr[u] = dp;
        wsum += w[u] * dp;
    }
    for (long long u = 0; u < T; u++) dsr[u] = u <= t ? w[u] * (dsr[u] - wsum) * scale : 0.0f;
    float* dq = dqkv + (r * T + t) * 3 * D + h * dh;
    for (long long e = 0; e < dh; e++) {
        float acc = 0;
        for (long long u = 0; u <= t; u++) acc += dsr[u] * base[u * 3 * D + D + h * dh + e];
        dq[e] = acc;
    }
}

// Attention's backward, second half, one thread per (r, h, u): the key's and value's
// gradients at position u, from every later position t that attended to it.
__global__ void attention_backward_kv(const float* qkv, const float* att, const float* dout, const float* ds, float* dqkv,
                                      long long n, long long T, long long D, long long H) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * H * T) return;
    long long r = i / (H * T), h = (i / T) % H, u = i % T, dh = D / H;
    const float* base = qkv + r * T * 3 * D;
    float* dk = dqkv + (r * T + u) * 3 * D + D + h * dh;
    float* dv = dk + D;
    for (long long e = 0; e < dh; e++) {
        float ak = 0, av = 0;
        for (long long t = u; t < T; t++) {
            long long st = ((r * H + h) * T + t) * T + u;
            ak += ds[st] * base[t * 3 * D + h * dh + e];
            av += att[st] * dout[(r * T + t) * D + h * dh + e];
        }
        dk[e] = ak;
        dv[e] = av;
    }
}

// xl[r, :] = x[r, T-1, :]: each row's last position, the one the head reads.
__global__ void take_last(const float* x, float* xl, long long n, long long T, long long D) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * D) return;
    long long r = i / D, d = i % D;
    xl[i] = x[(r * T + T - 1) * D + d];
}

// dx[r, t, :] = dxl[r, :] at the last position, zero elsewhere.
__global__ void spread_last(const float* dxl, float* dx, long long n, long long T, long long D) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * T * D) return;
    long long r = i / (T * D), t = (i / D) % T, d = i % D;
    dx[i] = t == T - 1 ? dxl[r * D + d] : 0.0f;
}

// dx = dres + LayerNorm's input gradient given dy; dres may be null. One thread per row.
__global__ void layernorm_backward(const float* x, const float* mu, const float* rs, const float* g, const float* dy,
                                   const float* dres, float* dx, long long rows, long long D) {
    long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float m1 = 0, m2 = 0;
    for (long long d = 0; d < D; d++) {
        long long i = r * D + d;
        float xhat = (x[i] - mu[r]) * rs[r], dxhat = dy[i] * g[d];
        m1 += dxhat;
        m2 += dxhat * xhat;
    }
    m1 /= (float)D;
    m2 /= (float)D;
    for (long long d = 0; d < D; d++) {
        long long i = r * D + d;
        float xhat = (x[i] - mu[r]) * rs[r];
        float v = rs[r] * (dy[i] * g[d] - m1 - xhat * m2);
        if (dres) v += dres[i];
        dx[i] = v;
    }
}

// gg[d] += Σ_r dy[r, d]·x̂[r, d], gb[d] += Σ_r dy[r, d]: one thread per d, no atomics.
__global__ void layernorm_grad_params(const float* x, const float* mu, const float* rs, const float* dy, float* gg, float* gb,
                                      long long rows, long long D) {
    long long d = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    float ag = 0, ab = 0;
    for (long long r = 0; r < rows; r++) {
        long long i = r * D + d;
        ag += dy[i] * ((x[i] - mu[r]) * rs[r]);
        ab += dy[i];
    }
    gg[d] += ag;
    gb[d] += ab;
}

// dTok[v, d] += Σ dx[r, t, d] over positions holding token v, and dPos[t, d] += Σ_r dx[r, t, d];
// threads [0, V·D) do the tokens, [V·D, (V+T)·D) the positions.
__global__ void tf_embed_grad(const int* ctx, const float* dx, float* dTok, float* dPos, long long n, long long T, long long D, long long V) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (V + T) * D) return;
    long long d = i % D;
    float acc = 0;
    if (i < V * D) {
        long long v = i / D;
        for (long long r = 0; r < n; r++)
            for (long long t = 0; t < T; t++)
                if (ctx[r * T + t] == v) acc += dx[(r * T + t) * D + d];
        dTok[i] += acc;
        return;
    }
    long long t = i / D - V;
    for (long long r = 0; r < n; r++) acc += dx[(r * T + t) * D + d];
    dPos[t * D + d] += acc;
}

}
