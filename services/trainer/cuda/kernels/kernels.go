//go:generate nvcc -ptx -arch=compute_70 -O3 -o policy.ptx policy.cu

// Package kernels holds the CUDA backend's kernels: policy.cu, the source, and
// policy.ptx, what nvcc made of it (go generate runs the command above), both
// embedded.
//
// It also runs them without a GPU: Emulator (cgo) compiles policy.cu itself for the
// CPU, with the few CUDA names it uses defined in emu.h, and plays the driver's part
// with checks a GPU would not make. The backend's host code is tested against it on
// every machine; only the PTX and the driver are left to a machine with a GPU.
package kernels

import _ "embed"

// PTX is policy.cu compiled by nvcc to PTX, loaded by the driver with cuModuleLoadData.
//
//go:embed policy.ptx
var PTX string

// Source is policy.cu. Embedding it also makes a change to it rebuild the emulator,
// which includes it from C++ where the go command's cache would not see it.
//
//go:embed policy.cu
var Source string

// Names are the kernels policy.cu defines, in the order it defines them.
var Names = []string{
	"embed_gather", "dense_forward", "softmax_rows", "gather_logp", "dlogits",
	"dense_grad_weights", "dense_grad_input", "embed_grad", "adam",
	"tf_embed", "layernorm_forward", "linear_forward", "gelu_forward", "gelu_backward",
	"attention_forward", "attention_backward_q", "attention_backward_kv", "take_last", "spread_last",
	"layernorm_backward", "layernorm_grad_params", "tf_embed_grad",
}
