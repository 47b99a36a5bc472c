// Package cuda is the trainer's CUDA policy backend: the network of
// services/trainer/policy run by our own kernels (kernels/policy.cu), embedded in the
// binary as PTX and loaded through the driver API of gorgonia.org/cu.
//
// Everything that imports gorgonia.org/cu is built only with -tags cuda: cu's init
// calls cuInit and exits the process when there is no GPU, so an untagged binary must
// never link it. Without the tag this package is only this file.
//
// The PTX is generated, and committed, with:
//
//	nvcc -ptx -arch=compute_70 -O3 -o kernels/policy.ptx kernels/policy.cu
//
// (nvcc 11.8 from Debian bookworm's nvidia-cuda-toolkit; compute_70 PTX is compiled by
// the driver for whatever GPU it meets, Volta or newer.)
package cuda

//go:generate nvcc -ptx -arch=compute_70 -O3 -o kernels/policy.ptx kernels/policy.cu
