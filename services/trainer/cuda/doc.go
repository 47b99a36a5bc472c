// Package cuda is the trainer's CUDA policy backend: the network of
// services/trainer/policy run by our own kernels (kernels/policy.cu), embedded in the
// binary as PTX and loaded through the driver API of gorgonia.org/cu.
//
// The backend's host code (host.go: buffers, launches, copies, Adam's bias
// correction) is written against Driver and built everywhere. Only cu.go, the Driver
// of a real GPU, imports gorgonia.org/cu, and it is built only with -tags cuda: cu's
// init calls cuInit and exits the process when there is no GPU, so an untagged binary
// must never link it. On machines without a GPU the host code runs on
// kernels.Emulator, which compiles policy.cu itself for the CPU (emu_test.go).
//
// The PTX is generated, and committed, from services/trainer/cuda/kernels with:
//
//	nvcc -ptx -arch=compute_70 -O3 -o policy.ptx policy.cu
//
// (nvcc 11.8 from Debian bookworm's nvidia-cuda-toolkit; compute_70 PTX is compiled by
// the driver for whatever GPU it meets, Volta or newer.)
package cuda
