// See fiber.h.
#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define CUEMU_ASAN 1
#else
#define CUEMU_ASAN 0
#endif

// cuemu_fiber_switch(void** saveSp, void* newSp): pushes the callee-saved registers and the
// floating-point control words, stores rsp into *saveSp, loads newSp and pops the same frame.
// cuemu_fiber_start: where a new fiber's first switch "returns" to; r12 = arg, r13 = entry.
asm(R"(
  .text
  .globl cuemu_fiber_switch
  .type cuemu_fiber_switch, @function
cuemu_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cuemu_fiber_switch, .-cuemu_fiber_switch

  .globl cuemu_fiber_start
  .type cuemu_fiber_start, @function
cuemu_fiber_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size cuemu_fiber_start, .-cuemu_fiber_start
)");

extern "C" void cuemu_fiber_switch(void** saveSp, void* newSp);
extern "C" void cuemu_fiber_start();

namespace cuemu {

FiberStack::FiberStack(size_t bytes) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  size_ = (bytes + page - 1) / page * page;
  mappingBytes_ = size_ + page;
  mapping_ = mmap(nullptr, mappingBytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping_ == MAP_FAILED) throw std::bad_alloc();
  mprotect(mapping_, page, PROT_NONE);  // guard page: the stack grows down into it
  usable_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() {
  if (mapping_) munmap(mapping_, mappingBytes_);
}

void fiberPrepare(FiberContext* ctx, const FiberStack& stack, void (*entry)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack.base()) + stack.size();
  top &= ~uintptr_t(15);
  auto* slot = reinterpret_cast<uint64_t*>(top);
  // After `ret` pops the start address, rsp = top (16-aligned), so the `call` in
  // cuemu_fiber_start enters `entry` with the ABI's alignment.
  slot[-1] = reinterpret_cast<uint64_t>(&cuemu_fiber_start);
  slot[-2] = 0;                                   // rbp
  slot[-3] = 0;                                   // rbx
  slot[-4] = reinterpret_cast<uint64_t>(arg);     // r12
  slot[-5] = reinterpret_cast<uint64_t>(entry);   // r13
  slot[-6] = 0;                                   // r14
  slot[-7] = 0;                                   // r15
  uint32_t mxcsr = 0;
  uint16_t fpucw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  uint64_t control = mxcsr | (uint64_t(fpucw) << 32);
  std::memcpy(&slot[-8], &control, 8);
  ctx->sp = &slot[-8];
  ctx->stackBottom = stack.base();
  ctx->stackSize = stack.size();
}

void fiberSwitch(FiberContext* from, FiberContext* to) {
#if CUEMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, to->stackBottom, to->stackSize);
  cuemu_fiber_switch(&from->sp, to->sp);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  cuemu_fiber_switch(&from->sp, to->sp);
#endif
}

void fiberExit(FiberContext* from, FiberContext* to) {
#if CUEMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, to->stackBottom, to->stackSize);  // nullptr: this stack is done
#endif
  cuemu_fiber_switch(&from->sp, to->sp);
  __builtin_unreachable();
}

void fiberStarted(FiberContext* caller) {
#if CUEMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &caller->stackBottom, &caller->stackSize);
#else
  (void)caller;
#endif
}

}  // namespace cuemu
