// The emulated device's C interface, for emu.go. Calls that can fail return null on
// success, else a message that stays valid until the device's next call.
#ifndef REWARDMESH_EMU_API_H
#define REWARDMESH_EMU_API_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct emu_device emu_device;

emu_device* emu_open(void);
void emu_close(emu_device* d);
int emu_kernel_count(void);
const char* emu_kernel_name(int i);
const char* emu_alloc(emu_device* d, int64_t bytes, uintptr_t* out);
const char* emu_free(emu_device* d, uintptr_t p);
const char* emu_copy_in(emu_device* d, uintptr_t dst, const void* src, int64_t bytes);
const char* emu_copy_out(emu_device* d, void* dst, uintptr_t src, int64_t bytes);
const char* emu_zero32(emu_device* d, uintptr_t dst, int64_t n);
const char* emu_launch(emu_device* d, const char* name, unsigned grid, unsigned block, const uint64_t* slots, int nslots);

#ifdef __cplusplus
}
#endif

#endif
