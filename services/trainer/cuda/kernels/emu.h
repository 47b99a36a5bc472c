// The CUDA names policy.cu uses, defined for a C++ compiler, so that the emulator
// runs the kernels' own source. Each emulated thread sees its indexes in these
// thread_local variables, set by emu_launch before it calls the kernel.
#ifndef REWARDMESH_EMU_H
#define REWARDMESH_EMU_H

#include <math.h>

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };

extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

// Kernels become ordinary functions with internal linkage; emu.cc takes their
// addresses for its launch table.
#define __global__ static

#endif
