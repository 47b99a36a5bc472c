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

// dW[k, j] += Σ_r in[r, k]·dout[r, j] and, from the threads of row k == inDim, db[j] += Σ_r dout[r, j].
// One thread per weight summing over rows: deterministic, no atomics.
__global__ void dense_grad_weights(const float* in, const float* dout, float* dW, float* db,
                                   long long n, long long inDim, long long outDim) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (inDim + 1) * outDim) return;
    long long k = i / outDim, j = i % outDim;
    float acc = 0;
    if (k == inDim) {
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

}
