// The emulated device behind Emulator (emu.go): memory with guard zones, and a launch
// that runs every thread of a grid, one after another (twice: in order and in reverse,
// to catch threads that race), on the kernels of policy.cu.
//
// A launch reads each argument as the kernel declares it from an 8-byte slot, as
// cuLaunchKernel does with what gorgonia.org/cu passes; a parameter narrower than 8
// bytes fails to compile here (static_assert), as it would misread on a GPU.

#include "emu.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

thread_local uint3 threadIdx, blockIdx;
thread_local dim3 blockDim, gridDim;

#include "policy.cu"

#include "emu_api.h"

namespace {

// Each allocation sits between two guard zones as large as itself (at least 4 KiB),
// filled with 0xff (a NaN as float, -1 as int) and checked after each launch: a
// kernel that writes outside its buffer by up to its size is caught, not left to
// corrupt a neighbour, and one that reads outside it reads NaN or a bad index.
constexpr size_t kMinGuard = 4096;
constexpr unsigned char kFill = 0xff;

struct Alloc {
  unsigned char* raw;  // guard bytes, the allocation, guard bytes
  size_t size, guard;
};

}  // namespace

struct emu_device {
  std::mutex mu;
  std::map<uintptr_t, Alloc> allocs;  // by the address handed out
  std::string last;                   // the message an emu_* call returned

  const char* fail(std::string msg) {
    last = std::move(msg);
    return last.c_str();
  }

  // The allocation holding [p, p+n), or null.
  const Alloc* holding(uintptr_t p, size_t n) {
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return nullptr;
    --it;
    if (p - it->first > it->second.size || n > it->second.size - (p - it->first)) return nullptr;
    return &it->second;
  }

  // Checks every allocation's guard zones and names the first one a kernel wrote
  // over. Overwritten zones are filled again, so the next launch is judged afresh.
  bool guards_intact(std::string* where) {
    bool intact = true;
    for (auto& [addr, a] : allocs) {
      unsigned char* zones[2] = {a.raw, a.raw + a.guard + a.size};
      for (int z = 0; z < 2; z++) {
        for (size_t i = 0; i < a.guard; i++) {
          if (zones[z][i] != kFill) {
            if (intact) {
              *where = "the " + std::to_string(a.size) + "-byte allocation at 0x" + hex(addr) +
                       (z == 0 ? ": before its start" : ": past its end");
            }
            intact = false;
            std::memset(zones[z], kFill, a.guard);
            break;
          }
        }
      }
    }
    return intact;
  }

  static std::string hex(uintptr_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%llx", (unsigned long long)v);
    return buf;
  }
};

namespace {

// A pointer argument must be null or point into a live allocation, as a pointer a GPU
// could dereference must.
template <typename T>
bool valid_arg(emu_device* d, const T& v) {
  if constexpr (std::is_pointer_v<T>) {
    return v == nullptr || d->holding(reinterpret_cast<uintptr_t>(v), 0) != nullptr;
  } else {
    return true;
  }
}

template <typename... A, size_t... I>
const char* run(emu_device* d, const char* name, void (*kernel)(A...), unsigned grid, unsigned block,
                const uint64_t* slots, int nslots, std::index_sequence<I...>) {
  static_assert(((sizeof(A) == 8) && ...), "kernel parameters must be 8 bytes wide: gorgonia.org/cu passes 8");
  if (nslots != int(sizeof...(A))) {
    return d->fail(std::string(name) + ": " + std::to_string(nslots) + " arguments for " +
                   std::to_string(sizeof...(A)) + " parameters");
  }
  std::tuple<A...> args;
  ((std::memcpy(&std::get<I>(args), &slots[I], 8)), ...);
  int bad = -1;
  ((bad < 0 && !valid_arg(d, std::get<I>(args)) ? (void)(bad = int(I)) : (void)0), ...);
  if (bad >= 0) {
    return d->fail(std::string(name) + ": argument " + std::to_string(bad) + " (0x" + emu_device::hex(slots[bad]) +
                   ") is not device memory");
  }
  // The memory the kernel can reach: the allocations its pointer arguments point into.
  std::vector<const Alloc*> reach;
  (
      [&] {
        if constexpr (std::is_pointer_v<A>) {
          if (std::get<I>(args) == nullptr) return;
          const Alloc* a = d->holding(reinterpret_cast<uintptr_t>(std::get<I>(args)), 0);
          if (std::find(reach.begin(), reach.end(), a) == reach.end()) reach.push_back(a);
        }
      }(),
      ...);
  auto snapshot = [&] {
    std::vector<std::vector<unsigned char>> s;
    for (const Alloc* a : reach) s.emplace_back(a->raw, a->raw + a->size + 2 * a->guard);
    return s;
  };
  auto restore = [&](const std::vector<std::vector<unsigned char>>& s) {
    for (size_t i = 0; i < reach.size(); i++) std::memcpy(reach[i]->raw, s[i].data(), s[i].size());
  };
  gridDim = {grid, 1, 1};
  blockDim = {block, 1, 1};
  auto thread = [&](unsigned b, unsigned t) {
    blockIdx = {b, 0, 0};
    threadIdx = {t, 0, 0};
    kernel(std::get<I>(args)...);
  };
  // The grid runs twice from the same memory: threads in order, then in reverse.
  // On a GPU they run at once, so a kernel whose result depends on their order (one
  // thread reading what another writes, two writing one place) has a race; here the
  // two results then differ.
  auto before = snapshot();
  for (unsigned b = 0; b < grid; b++)
    for (unsigned t = 0; t < block; t++) thread(b, t);
  auto forward = snapshot();
  restore(before);
  for (unsigned b = grid; b-- > 0;)
    for (unsigned t = block; t-- > 0;) thread(b, t);
  std::string where;
  if (!d->guards_intact(&where)) return d->fail(std::string(name) + " wrote outside its memory: " + where);
  for (size_t i = 0; i < reach.size(); i++) {
    if (std::memcmp(reach[i]->raw, forward[i].data(), forward[i].size()) != 0) {
      return d->fail(std::string(name) + ": its result depends on the order its threads run in (a race between threads)");
    }
  }
  return nullptr;
}

template <typename... A>
const char* launch(emu_device* d, const char* name, void (*kernel)(A...), unsigned grid, unsigned block,
                   const uint64_t* slots, int nslots) {
  return run(d, name, kernel, grid, block, slots, nslots, std::index_sequence_for<A...>{});
}

struct Entry {
  const char* name;
  const char* (*launch)(emu_device*, unsigned, unsigned, const uint64_t*, int);
};

#define KERNEL(k) \
  Entry { #k, [](emu_device* d, unsigned g, unsigned b, const uint64_t* s, int n) { return launch(d, #k, k, g, b, s, n); } }

const Entry kKernels[] = {
    KERNEL(embed_gather), KERNEL(dense_forward),      KERNEL(softmax_rows),     KERNEL(gather_logp), KERNEL(dlogits),
    KERNEL(dense_grad_weights), KERNEL(dense_grad_input), KERNEL(embed_grad), KERNEL(adam),
    KERNEL(tf_embed), KERNEL(layernorm_forward), KERNEL(linear_forward), KERNEL(gelu_forward), KERNEL(gelu_backward),
    KERNEL(attention_forward), KERNEL(attention_backward_q), KERNEL(attention_backward_kv), KERNEL(take_last),
    KERNEL(spread_last), KERNEL(layernorm_backward), KERNEL(layernorm_grad_params), KERNEL(tf_embed_grad),
};

}  // namespace

extern "C" {

emu_device* emu_open(void) { return new emu_device; }

void emu_close(emu_device* d) {
  for (auto& [addr, a] : d->allocs) delete[] a.raw;
  delete d;
}

int emu_kernel_count(void) { return int(sizeof kKernels / sizeof kKernels[0]); }

const char* emu_kernel_name(int i) { return kKernels[i].name; }

const char* emu_alloc(emu_device* d, int64_t bytes, uintptr_t* out) {
  std::lock_guard<std::mutex> lock(d->mu);
  if (bytes <= 0) return d->fail("allocate " + std::to_string(bytes) + " bytes: size must be positive");
  size_t size = size_t(bytes), guard = size > kMinGuard ? size : kMinGuard;
  auto* raw = new (std::nothrow) unsigned char[size + 2 * guard];
  if (raw == nullptr) return d->fail("allocate " + std::to_string(bytes) + " bytes: out of memory");
  std::memset(raw, kFill, size + 2 * guard);  // fresh device memory is not zeroed
  uintptr_t addr = reinterpret_cast<uintptr_t>(raw + guard);
  d->allocs[addr] = Alloc{raw, size, guard};
  *out = addr;
  return nullptr;
}

const char* emu_free(emu_device* d, uintptr_t p) {
  std::lock_guard<std::mutex> lock(d->mu);
  auto it = d->allocs.find(p);
  if (it == d->allocs.end()) return d->fail("free 0x" + emu_device::hex(p) + ": not the start of an allocation");
  delete[] it->second.raw;
  d->allocs.erase(it);
  return nullptr;
}

const char* emu_copy_in(emu_device* d, uintptr_t dst, const void* src, int64_t bytes) {
  std::lock_guard<std::mutex> lock(d->mu);
  if (bytes < 0 || d->holding(dst, size_t(bytes)) == nullptr)
    return d->fail("copy " + std::to_string(bytes) + " bytes to 0x" + emu_device::hex(dst) + ": outside device memory");
  std::memcpy(reinterpret_cast<void*>(dst), src, size_t(bytes));
  return nullptr;
}

const char* emu_copy_out(emu_device* d, void* dst, uintptr_t src, int64_t bytes) {
  std::lock_guard<std::mutex> lock(d->mu);
  if (bytes < 0 || d->holding(src, size_t(bytes)) == nullptr)
    return d->fail("copy " + std::to_string(bytes) + " bytes from 0x" + emu_device::hex(src) + ": outside device memory");
  std::memcpy(dst, reinterpret_cast<const void*>(src), size_t(bytes));
  return nullptr;
}

const char* emu_zero32(emu_device* d, uintptr_t dst, int64_t n) {
  std::lock_guard<std::mutex> lock(d->mu);
  if (n < 0 || n > INT64_MAX / 4 || d->holding(dst, size_t(n) * 4) == nullptr)
    return d->fail("set " + std::to_string(n) + " words at 0x" + emu_device::hex(dst) + ": outside device memory");
  std::memset(reinterpret_cast<void*>(dst), 0, size_t(n) * 4);
  return nullptr;
}

const char* emu_launch(emu_device* d, const char* name, unsigned grid, unsigned block, const uint64_t* slots, int nslots) {
  std::lock_guard<std::mutex> lock(d->mu);
  for (const Entry& e : kKernels) {
    if (std::strcmp(e.name, name) == 0) return e.launch(d, grid, block, slots, nslots);
  }
  return d->fail(std::string("no kernel named ") + name);
}

}  // extern "C"
