// cuda-emu scheduler: runs a kernel launch block by block on the calling OS thread; the threads of
// a block are fibers that switch only where CUDA threads can wait for each other.
//
// Semantics enforced (those of sm_70+ with independent thread scheduling):
//  - __syncthreads is a block barrier: it releases when every thread of the block has reached it,
//    at the same call site. A thread that exits while others wait (or before others arrive), or
//    threads waiting at different sites, is a "divergent __syncthreads" fault.
//  - warp operations (__shfl_*_sync, __syncwarp, __ballot/__any/__all_sync) wait only for the
//    lanes of their mask in the caller's warp. Faults: the caller not in its own mask, a mask
//    naming a lane that has exited or does not exist, lanes of overlapping masks at different
//    operations, a shuffle reading a lane outside the mask.
//  - no runnable thread while some have not finished: deadlock, with every waiting thread's site.
//  - static and dynamic shared memory are per block, poisoned with 0xFF bytes (a float NaN, an
//    int -1) at the start of every block; dynamic shared memory has exactly the requested size
//    (a red zone behind it catches writes past the end; under AddressSanitizer it is an exact
//    heap block instead).
// Every fault names the kernel, its launch site, the block and the threads involved.
//
// Schedules (SCSE_CUEMU_ORDER): forward and reverse sweep the threads in index order (and the
// blocks likewise), running each until it waits; random shuffles both every sweep; warp runs one
// warp at a time until all its lanes wait, which exposes a missing __syncthreads between warps.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "emu.h"
#include "fiber.h"

namespace cuemu {

__thread ThreadIndex tls{};  // __thread: no per-access initialisation wrapper (ThreadIndex is trivial)

namespace {

constexpr size_t kSharedRedZone = 64;
constexpr unsigned char kPoison = 0xFF;
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
constexpr bool kAsan = true;
constexpr size_t kDefaultStack = 256 * 1024;
#else
constexpr bool kAsan = false;
constexpr size_t kDefaultStack = 64 * 1024;
#endif

enum class State { kNotStarted, kReady, kAtBarrier, kAtWarpOp, kDone };

struct Thread {
  FiberContext ctx;
  uint3 idx{};
  int linear = 0;
  State state = State::kNotStarted;
  const char* file = nullptr;  // where it waits
  int line = 0;
  uint64_t result = 0;         // a warp operation's answer
};

struct WarpPending {
  WarpOpKind kind = kSyncWarp;
  unsigned mask = 0;
  int width = 32;
  const char* file = nullptr;
  int line = 0;
  unsigned arrived = 0;
  uint64_t value[32] = {};
  int param[32] = {};
};

// Under AddressSanitizer, makes the bytes of a shared-memory allocation behind its `bytes` (the
// alignment slack) unaddressable, so an access one element past the end is reported by ASan
// (without ASan the red zone behind it catches writes instead).
void poisonTail(const unsigned char* mem, size_t total, const void* aligned, size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
  const auto* end = static_cast<const unsigned char*>(aligned) + bytes;
  ASAN_POISON_MEMORY_REGION(end, size_t(mem + total - end));
#else
  (void)mem, (void)total, (void)aligned, (void)bytes;
#endif
}

struct SharedBlock {
  std::unique_ptr<unsigned char[]> mem;
  size_t bytes = 0;
  void* aligned = nullptr;
};

const char* opName(WarpOpKind k) {
  switch (k) {
    case kShflIdx: return "__shfl_sync";
    case kShflUp: return "__shfl_up_sync";
    case kShflDown: return "__shfl_down_sync";
    case kShflXor: return "__shfl_xor_sync";
    case kBallot: return "__ballot_sync";
    case kAny: return "__any_sync";
    case kAll: return "__all_sync";
    default: return "__syncwarp";
  }
}

std::string baseName(const char* file) {
  if (!file) return "?";
  const char* s = std::strrchr(file, '/');
  return s ? s + 1 : file;
}

std::string site(const char* file, int line) { return baseName(file) + ":" + std::to_string(line); }

std::string hexMask(unsigned m) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", m);
  return b;
}

// Lists thread numbers compactly: "0-15, 17".
std::string ranges(const std::vector<int>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) j++;
    if (!s.empty()) s += ", ";
    s += std::to_string(ids[i]);
    if (j > i) s += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return s;
}

// Static shared memory learned per kernel launch site, for the launch-time limit check.
std::mutex gStaticMutex;
std::map<std::string, size_t>* gStaticBytes = nullptr;

std::string siteKey(const LaunchSite& s) { return std::string(s.kernel) + "@" + s.file + ":" + std::to_string(s.line) + s.caller; }

// Fiber stacks of this OS thread, reused by every block it runs.
thread_local std::vector<std::unique_ptr<FiberStack>> tStacks;
thread_local size_t tStackBytes = 0;

class Block;
thread_local Block* tBlock = nullptr;

class Block {
 public:
  Block(const Kernel& k, uint3 idx, std::mt19937_64& rng) : k_(k), idx_(idx), rng_(rng) {
    const dim3 b = k.cfg.block;
    n_ = int(b.x * b.y * b.z);
    threads_.resize(size_t(n_));
    for (int i = 0; i < n_; i++) {
      Thread& t = threads_[size_t(i)];
      t.linear = i;
      t.idx = uint3{unsigned(i) % b.x, unsigned(i) / b.x % b.y, unsigned(i) / (b.x * b.y)};
    }
    warps_.resize(size_t((n_ + 31) / 32));
    doneLanes_.assign(warps_.size(), 0u);
    live_ = n_;
    // Dynamic shared memory: exactly the requested size, poisoned.
    const size_t dyn = k.cfg.sharedBytes;
    dynamic_.bytes = dyn;
    const size_t total = dyn + (kAsan ? 0 : kSharedRedZone) + 16;
    dynamic_.mem.reset(new unsigned char[total]);
    dynamic_.aligned = alignUp(dynamic_.mem.get());
    std::memset(dynamic_.aligned, kPoison, dyn + (kAsan ? 0 : kSharedRedZone));
    poisonTail(dynamic_.mem.get(), total, dynamic_.aligned, dyn);
    sharedUsed_ = dyn;
  }

  // Runs the block to completion; false after a fault.
  bool run() {
    prepareStacks();
    Block* outer = tBlock;
    tBlock = this;
    tls.block = idx_;
    tls.blockSize = k_.cfg.block;
    tls.gridSize = k_.cfg.grid;
    const Order order = settings().order;
    std::vector<int> sweep(static_cast<size_t>(n_));
    for (int i = 0; i < n_; i++) sweep[size_t(i)] = i;
    if (order == Order::kReverse) std::reverse(sweep.begin(), sweep.end());
    while (fault_.empty() && done_ < n_) {
      if (order == Order::kRandom) std::shuffle(sweep.begin(), sweep.end(), rng_);
      bool progressed = false;
      if (order == Order::kWarp) {
        for (size_t w = 0; w < warps_.size() && fault_.empty(); w++) {
          for (bool again = true; again && fault_.empty();) {  // this warp until all its lanes wait
            again = false;
            for (int i = int(w) * 32; i < std::min(n_, int(w) * 32 + 32) && fault_.empty(); i++) {
              if (runnable(i)) again = progressed = true, resume(i);
            }
          }
        }
      } else {
        for (int i : sweep) {
          if (!fault_.empty()) break;
          if (runnable(i)) progressed = true, resume(i);
        }
      }
      if (!progressed && fault_.empty() && done_ < n_) deadlock();
    }
    if (fault_.empty()) checkDynamicRedZone();
    tBlock = outer;
    return fault_.empty();
  }

  const std::string& fault() const { return fault_; }
  cudaError_t faultCode() const { return faultCode_; }
  size_t staticBytes() const { return staticUsed_; }

  // ---- called on a fiber -----------------------------------------------------------------------
  void barrier(const char* file, int line) {
    Thread& t = current();
    if (exited_ > 0) {
      fail(cudaErrorLaunchFailure, "divergent __syncthreads: thread " + std::to_string(t.linear) + " waits at " +
                                       site(file, line) + " but threads " + ranges(doneThreads()) +
                                       " of the block have exited without reaching it");
    }
    if (atBarrier_ == 0) barFile_ = file, barLine_ = line;
    atBarrier_++;
    t.state = State::kAtBarrier;
    t.file = file, t.line = line;
    if (atBarrier_ == live_) releaseBarrier();
    yield(t);
  }

  uint64_t warpOp(WarpOpKind kind, unsigned mask, uint64_t value, int param, int width, const char* file, int line) {
    Thread& t = current();
    const int lane = t.linear % 32, w = t.linear / 32;
    const unsigned bit = 1u << lane;
    // Built only when something is wrong: this runs for every lane of every warp operation.
    auto whoText = [&] {
      return "lane " + std::to_string(lane) + " of warp " + std::to_string(w) + " (thread " + std::to_string(t.linear) +
             ") at " + site(file, line);
    };
    if (!(mask & bit)) fail(cudaErrorLaunchFailure, std::string(opName(kind)) + ": " + whoText() + " is not in its own mask " + hexMask(mask));
    if (width <= 0 || width > 32 || (width & (width - 1)))
      fail(cudaErrorLaunchFailure, std::string(opName(kind)) + ": " + whoText() + ": width " + std::to_string(width) +
                                       " is not a power of two up to 32");
    const int first = w * 32;
    const unsigned exists = n_ - first >= 32 ? 0xffffffffu : (1u << (n_ - first)) - 1;
    if (mask & ~exists)
      fail(cudaErrorLaunchFailure, std::string(opName(kind)) + ": " + whoText() + ": mask " + hexMask(mask) +
                                       " names lanes that do not exist in a block of " + std::to_string(n_) + " threads");
    if (const unsigned gone = mask & doneLanes_[size_t(w)]) {
      fail(cudaErrorLaunchFailure, std::string(opName(kind)) + ": " + whoText() + " waits for lane " +
                                       std::to_string(__builtin_ctz(gone)) + " of mask " + hexMask(mask) + ", which has exited");
    }
    std::vector<WarpPending>& pend = warps_[size_t(w)];
    WarpPending* op = nullptr;
    for (WarpPending& p : pend) {
      if (p.mask == mask) op = &p;
      else if (p.mask & mask)
        fail(cudaErrorLaunchFailure, std::string(opName(kind)) + ": divergent warp operation: " + whoText() + " with mask " +
                                         hexMask(mask) + " while lanes " + hexMask(p.arrived) + " wait in " + opName(p.kind) +
                                         " at " + site(p.file, p.line) + " with mask " + hexMask(p.mask));
    }
    if (!op) {
      pend.emplace_back();
      op = &pend.back();
      op->kind = kind, op->mask = mask, op->width = width, op->file = file, op->line = line;
    } else if (op->kind != kind || op->width != width || op->line != line || op->file != file) {
      fail(cudaErrorLaunchFailure, std::string(opName(kind)) + ": divergent warp operation: " + whoText() + " while lanes " +
                                       hexMask(op->arrived) + " of mask " + hexMask(mask) + " wait in " + opName(op->kind) +
                                       " at " + site(op->file, op->line));
    }
    op->value[lane] = value;
    op->param[lane] = param;
    op->arrived |= bit;
    t.state = State::kAtWarpOp;
    t.file = file, t.line = line;
    if (op->arrived == mask) complete(w, *op);
    yield(t);
    return t.result;
  }

  unsigned activeMask() {
    Thread& t = current();
    const int first = t.linear / 32 * 32;
    unsigned m = 0;
    for (int l = 0; l < 32 && first + l < n_; l++)
      if (threads_[size_t(first + l)].state != State::kDone) m |= 1u << l;
    return m;
  }

  void* dynamicShared() { return dynamic_.aligned; }

  void* staticShared(const void* key, size_t bytes, size_t align, const char* name, const char* file, int line) {
    auto it = statics_.find(key);
    if (it != statics_.end()) return it->second.aligned;
    if (sharedUsed_ + bytes > kSharedPerBlock) {
      fail(cudaErrorInvalidValue, "__shared__ " + std::string(name) + " at " + site(file, line) + " (" + std::to_string(bytes) +
                                      " bytes) takes the block's shared memory to " + std::to_string(sharedUsed_ + bytes) +
                                      " bytes, over the device's " + std::to_string(kSharedPerBlock) + " per block");
    }
    SharedBlock& s = statics_[key];
    s.bytes = bytes;
    s.mem.reset(new unsigned char[bytes + align]);
    s.aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(s.mem.get()) + align - 1) / align * align);
    std::memset(s.aligned, kPoison, bytes);
    poisonTail(s.mem.get(), bytes + align, s.aligned, bytes);
    sharedUsed_ += bytes;
    staticUsed_ += bytes;
    return s.aligned;
  }

  // Called on the finishing fiber.
  void exited(Thread& t) {
    t.state = State::kDone;
    live_--, exited_++, done_++;
    doneLanes_[size_t(t.linear / 32)] |= 1u << (t.linear % 32);
    if (atBarrier_ > 0) {
      fail(cudaErrorLaunchFailure, "divergent __syncthreads: thread " + std::to_string(t.linear) + " exited while threads " +
                                       ranges(threadsIn(State::kAtBarrier)) + " wait at " + site(barFile_, barLine_));
    }
    const int w = t.linear / 32, lane = t.linear % 32;
    for (const WarpPending& p : warps_[size_t(w)]) {
      if (p.mask >> lane & 1)
        fail(cudaErrorLaunchFailure, std::string(opName(p.kind)) + ": lane " + std::to_string(lane) + " of warp " +
                                         std::to_string(w) + " exited while lanes " + hexMask(p.arrived) + " wait for it at " +
                                         site(p.file, p.line) + " (mask " + hexMask(p.mask) + ")");
    }
  }

  FiberContext& schedulerContext() { return scheduler_; }
  Thread& current() { return threads_[size_t(current_)]; }

 private:
  static void* alignUp(void* p) {
    return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(p) + 15) / 16 * 16);
  }

  bool runnable(int i) const {
    const State s = threads_[size_t(i)].state;
    return s == State::kNotStarted || s == State::kReady;
  }

  static void threadMain(void* arg) {
    Block* b = static_cast<Block*>(arg);
    fiberStarted(&b->scheduler_);
    b->k_.body.run(b->k_.body.closure);
    Thread& t = b->current();
    b->exited(t);  // may record a fault; the scheduler sees it
    fiberExit(&t.ctx, &b->scheduler_);
  }

  void prepareStacks() {
    const size_t want = settings().stackBytes ? settings().stackBytes : kDefaultStack;
    if (tStackBytes != want) tStacks.clear(), tStackBytes = want;
    while (tStacks.size() < size_t(n_)) tStacks.push_back(std::make_unique<FiberStack>(want));
  }

  void resume(int i) {
    Thread& t = threads_[size_t(i)];
    current_ = i;
    tls.thread = t.idx;
    if (t.state == State::kNotStarted) fiberPrepare(&t.ctx, *tStacks[size_t(i)], &threadMain, this);
    t.state = State::kReady;
    fiberSwitch(&scheduler_, &t.ctx);
  }

  // Back to the scheduler; returns when this thread is resumed. After a fault the scheduler never
  // resumes anyone again, so a faulting thread simply stays suspended.
  void yield(Thread& t) { fiberSwitch(&t.ctx, &scheduler_); }

  [[noreturn]] void fail(cudaError_t code, const std::string& what) {
    if (fault_.empty()) {
      fault_ = describeKernel(k_.site) + ", block (" + std::to_string(idx_.x) + "," + std::to_string(idx_.y) + "," +
               std::to_string(idx_.z) + "): " + what;
      faultCode_ = code;
    }
    Thread& t = current();
    for (;;) fiberSwitch(&t.ctx, &scheduler_);  // never resumed
  }

  void releaseBarrier() {
    for (Thread& t : threads_) {
      if (t.state == State::kAtBarrier && (t.line != barLine_ || t.file != barFile_)) {
        fail(cudaErrorLaunchFailure, "divergent __syncthreads: threads wait at different barriers: " + describeWaiters());
      }
    }
    for (Thread& t : threads_)
      if (t.state == State::kAtBarrier) t.state = State::kReady;
    atBarrier_ = 0;
  }

  void complete(int w, WarpPending& op) {
    const int first = w * 32;
    for (int l = 0; l < 32; l++) {
      if (!(op.mask >> l & 1)) continue;
      uint64_t r = 0;
      const int base = l & ~(op.width - 1);
      int src = l;
      switch (op.kind) {
        case kShflIdx: src = base + ((op.param[l] % op.width) + op.width) % op.width; break;
        case kShflUp: src = l - op.param[l] < base ? l : l - op.param[l]; break;
        case kShflDown: src = l + op.param[l] >= base + op.width ? l : l + op.param[l]; break;
        case kShflXor: {
          const int s = l ^ op.param[l];
          src = s < 0 || s > 31 || (s & ~(op.width - 1)) > base ? l : s;
          break;
        }
        default: break;
      }
      if (op.kind <= kShflXor) {
        if (!(op.mask >> src & 1)) {
          fail(cudaErrorLaunchFailure, std::string(opName(op.kind)) + " at " + site(op.file, op.line) + ": lane " +
                                           std::to_string(l) + " reads lane " + std::to_string(src) + ", which is not in the mask " +
                                           hexMask(op.mask) + " (undefined on a GPU)");
        }
        r = op.value[src];
      } else if (op.kind == kBallot || op.kind == kAny || op.kind == kAll) {
        unsigned votes = 0;
        for (int j = 0; j < 32; j++)
          if ((op.mask >> j & 1) && op.value[j]) votes |= 1u << j;
        r = op.kind == kBallot ? votes : op.kind == kAny ? (votes != 0) : (votes == op.mask);
      }
      Thread& t = threads_[size_t(first + l)];
      t.result = r;
      t.state = State::kReady;
    }
    std::vector<WarpPending>& pend = warps_[size_t(w)];
    const size_t at = size_t(&op - pend.data());
    if (at + 1 != pend.size()) pend[at] = pend.back();
    pend.pop_back();
  }

  std::vector<int> threadsIn(State s) const {
    std::vector<int> v;
    for (const Thread& t : threads_)
      if (t.state == s) v.push_back(t.linear);
    return v;
  }
  std::vector<int> doneThreads() const { return threadsIn(State::kDone); }

  // "threads 0-15 at se.cu:40 (__syncthreads); threads 16-31 at se.cu:52 (warp operation)".
  std::string describeWaiters() const {
    std::map<std::string, std::vector<int>> by;
    for (const Thread& t : threads_) {
      if (t.state == State::kAtBarrier) by[site(t.file, t.line) + " (__syncthreads)"].push_back(t.linear);
      if (t.state == State::kAtWarpOp) by[site(t.file, t.line) + " (warp operation)"].push_back(t.linear);
    }
    std::string s;
    for (auto& [where, ids] : by) s += (s.empty() ? "" : "; ") + std::string("threads ") + ranges(ids) + " at " + where;
    const std::vector<int> done = doneThreads();
    if (!done.empty()) s += "; threads " + ranges(done) + " exited";
    return s;
  }

  void deadlock() {
    const std::string what = "deadlock: no thread can continue: " + describeWaiters();
    fault_ = describeKernel(k_.site) + ", block (" + std::to_string(idx_.x) + "," + std::to_string(idx_.y) + "," +
             std::to_string(idx_.z) + "): " + what;
    faultCode_ = cudaErrorLaunchFailure;
  }

  void checkDynamicRedZone() {
    if (kAsan) return;
    const auto* z = static_cast<const unsigned char*>(dynamic_.aligned) + dynamic_.bytes;
    for (size_t i = 0; i < kSharedRedZone; i++) {
      if (z[i] != kPoison) {
        fault_ = describeKernel(k_.site) + ", block (" + std::to_string(idx_.x) + "," + std::to_string(idx_.y) + "," +
                 std::to_string(idx_.z) + "): wrote past the end of its " + std::to_string(dynamic_.bytes) +
                 " bytes of dynamic shared memory (byte " + std::to_string(dynamic_.bytes + i) + ")";
        faultCode_ = cudaErrorIllegalAddress;
        return;
      }
    }
  }

  const Kernel& k_;
  uint3 idx_;
  std::mt19937_64& rng_;
  int n_ = 0;
  std::vector<Thread> threads_;
  std::vector<std::vector<WarpPending>> warps_;
  std::vector<unsigned> doneLanes_;  // per warp: lanes that have exited
  int current_ = 0;
  int live_ = 0, exited_ = 0, done_ = 0, atBarrier_ = 0;
  const char* barFile_ = nullptr;
  int barLine_ = 0;
  SharedBlock dynamic_;
  std::map<const void*, SharedBlock> statics_;
  size_t sharedUsed_ = 0, staticUsed_ = 0;
  FiberContext scheduler_;
  std::string fault_;
  cudaError_t faultCode_ = cudaSuccess;
};

Block& block(const char* what) {
  if (!tBlock) {
    std::fprintf(stderr, "cuda-emu: %s called outside a kernel\n", what);
    std::abort();  // a device function called from host code: a programming error, as on a GPU build (it would not link)
  }
  return *tBlock;
}

}  // namespace

std::string describeKernel(const LaunchSite& s) {
  return "kernel " + std::string(s.kernel) + " (launched at " + site(s.file, s.line) + " in " + s.caller + ")";
}

size_t knownStaticShared(const LaunchSite& s) {
  std::lock_guard<std::mutex> lock(gStaticMutex);
  if (!gStaticBytes) return 0;
  auto it = gStaticBytes->find(siteKey(s));
  return it == gStaticBytes->end() ? 0 : it->second;
}

bool runKernel(const Kernel& k) {
  const dim3 g = k.cfg.grid;
  const int64_t blocks = int64_t(g.x) * g.y * g.z;
  std::vector<int64_t> order(static_cast<size_t>(blocks));
  for (int64_t i = 0; i < blocks; i++) order[size_t(i)] = i;
  std::mt19937_64 rng(settings().seed);
  if (settings().order == Order::kReverse) std::reverse(order.begin(), order.end());
  if (settings().order == Order::kRandom) std::shuffle(order.begin(), order.end(), rng);
  size_t staticBytes = 0;
  for (int64_t b : order) {
    const uint3 idx{unsigned(b % g.x), unsigned(b / g.x % g.y), unsigned(b / (int64_t(g.x) * g.y))};
    Block blk(k, idx, rng);
    if (!blk.run()) {
      raiseAsync(blk.faultCode(), blk.fault());
      return false;
    }
    staticBytes = std::max(staticBytes, blk.staticBytes());
  }
  if (staticBytes) {
    std::lock_guard<std::mutex> lock(gStaticMutex);
    if (!gStaticBytes) gStaticBytes = new std::map<std::string, size_t>();
    (*gStaticBytes)[siteKey(k.site)] = staticBytes;
  }
  std::string broken;
  if (!checkRedZones(&broken)) {
    raiseAsync(cudaErrorIllegalAddress, describeKernel(k.site) + ": " + broken);
    return false;
  }
  return true;
}

void syncthreads(const char* file, int line) { block("__syncthreads").barrier(file, line); }

uint64_t warpOp(WarpOpKind kind, unsigned mask, uint64_t value, int param, int width, const char* file, int line) {
  return block(opName(kind)).warpOp(kind, mask, value, param, width, file, line);
}

unsigned activeMask() { return block("__activemask").activeMask(); }

void* dynamicShared() { return block("extern __shared__").dynamicShared(); }

void* staticShared(const void* key, size_t bytes, size_t align, const char* name, const char* file, int line) {
  return block("__shared__").staticShared(key, bytes, align, name, file, line);
}

const char* orderName(Order o) {
  switch (o) {
    case Order::kForward: return "forward";
    case Order::kReverse: return "reverse";
    case Order::kRandom: return "random";
    default: return "warp";
  }
}

namespace {
bool parseOrder(const char* s, Order* o) {
  const std::string v = s ? s : "";
  if (v == "forward") *o = Order::kForward;
  else if (v == "reverse") *o = Order::kReverse;
  else if (v == "random") *o = Order::kRandom;
  else if (v == "warp") *o = Order::kWarp;
  else return false;
  return true;
}
}  // namespace

Settings& settings() {
  static Settings* s = [] {
    auto* r = new Settings();
    if (const char* o = std::getenv("SCSE_CUEMU_ORDER"); o && *o && !parseOrder(o, &r->order)) {
      std::fprintf(stderr, "cuda-emu: SCSE_CUEMU_ORDER=%s is not one of forward, reverse, random, warp; using forward\n", o);
    }
    if (const char* seed = std::getenv("SCSE_CUEMU_SEED"); seed && *seed) r->seed = std::strtoull(seed, nullptr, 10);
    if (const char* kb = std::getenv("SCSE_CUEMU_STACK_KB"); kb && *kb) r->stackBytes = size_t(std::strtoull(kb, nullptr, 10)) * 1024;
    return r;
  }();
  return *s;
}

}  // namespace cuemu

extern "C" void cuemuSetOrder(const char* order, unsigned long long seed) {
  cuemu::Order o;
  if (cuemu::parseOrder(order, &o)) cuemu::settings().order = o;
  cuemu::settings().seed = seed;
}
