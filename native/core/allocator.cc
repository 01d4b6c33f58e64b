#include "core/allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace scse {
namespace {

std::mutex gMutex;
std::map<size_t, std::vector<void*>> gFree;  // rounded size -> cached blocks
MemoryStats gStats;

constexpr size_t kAlign = 64;
constexpr size_t kHuge = size_t(2) << 20;

// Size classes: powers of two up to 1 MiB, then multiples of 2 MiB (huge-page friendly), so a
// block serves requests within a bounded factor of its size.
size_t roundSize(size_t bytes) {
  if (bytes < kAlign) return kAlign;
  if (bytes <= (size_t(1) << 20)) {
    size_t s = kAlign;
    while (s < bytes) s <<= 1;
    return s;
  }
  return (bytes + kHuge - 1) / kHuge * kHuge;
}

}  // namespace

size_t cpuAllocLimit() {
  // A block larger than physical memory could only be had through overcommit or swap and would
  // get the process OOM-killed when touched; refusing it makes the failure immediate and clear.
  static const size_t limit = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : SIZE_MAX / 2;
  }();
  return limit;
}

void* cpuAlloc(size_t bytes, size_t* rounded) {
  if (bytes > cpuAllocLimit()) throw std::bad_alloc();  // also keeps roundSize from overflowing
  size_t r = roundSize(bytes);
  *rounded = r;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    auto it = gFree.find(r);
    if (it != gFree.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      gStats.bytesInUse += r;
      return p;
    }
  }
  size_t align = r >= kHuge ? kHuge : kAlign;
  void* p = std::aligned_alloc(align, r);
  if (!p) {
    cpuEmptyCache();
    p = std::aligned_alloc(align, r);
    if (!p) throw std::bad_alloc();
  }
  if (r >= kHuge) madvise(p, r, MADV_HUGEPAGE);
  std::lock_guard<std::mutex> lock(gMutex);
  gStats.bytesInUse += r;
  gStats.bytesReserved += r;
  gStats.allocations += 1;
  return p;
}

void cpuFree(void* p, size_t rounded) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(gMutex);
  gFree[rounded].push_back(p);
  gStats.bytesInUse -= rounded;
}

void cpuEmptyCache() {
  std::lock_guard<std::mutex> lock(gMutex);
  for (auto& [size, blocks] : gFree) {
    for (void* p : blocks) {
      std::free(p);
      gStats.bytesReserved -= size;
    }
  }
  gFree.clear();
}

MemoryStats cpuMemoryStats() {
  std::lock_guard<std::mutex> lock(gMutex);
  return gStats;
}

}  // namespace scse
