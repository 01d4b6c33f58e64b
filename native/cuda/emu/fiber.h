// cuda-emu fibers: one stack and one saved register set per CUDA thread of the running block.
// A hand-written x86-64 switch (callee-saved registers, MXCSR and the x87 control word) instead of
// ucontext, whose swapcontext makes two sigprocmask system calls per switch; a block of 256
// threads that meets a barrier in a loop switches hundreds of thousands of times.
#pragma once
#include <cstddef>

namespace cuemu {

struct FiberContext {
  void* sp = nullptr;
  // The stack this context runs on (AddressSanitizer must be told about every stack switch).
  const void* stackBottom = nullptr;
  size_t stackSize = 0;
};

// A fiber stack: mmap'ed, with an inaccessible guard page below it so that an overflow faults
// instead of corrupting the neighbouring fiber.
class FiberStack {
 public:
  explicit FiberStack(size_t bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  void* base() const { return usable_; }
  size_t size() const { return size_; }

 private:
  void* mapping_ = nullptr;
  size_t mappingBytes_ = 0;
  void* usable_ = nullptr;
  size_t size_ = 0;
};

// Makes `ctx` start entry(arg) on `stack` when first switched to. entry must never return: it
// ends by switching away for the last time (fiberExit).
void fiberPrepare(FiberContext* ctx, const FiberStack& stack, void (*entry)(void*), void* arg);
// Saves the running context into `from` and resumes `to`; returns when something switches back.
void fiberSwitch(FiberContext* from, FiberContext* to);
// The last switch out of a finished fiber (its stack may be reused after this).
[[noreturn]] void fiberExit(FiberContext* from, FiberContext* to);
// To be called first thing in a fiber's entry: completes the switch that started it, and records
// the bounds of the stack it came from in `caller` (AddressSanitizer bookkeeping; no-op otherwise).
void fiberStarted(FiberContext* caller);

}  // namespace cuemu
