// The first bytes of every cuda-emu stream (cudaStream_t), as a C ABI for the cuDNN stand-in.
// cuDNN runs its work on the stream given to cudnnSetStream; the emulator's streams are queues
// that run when waited on, so the stand-in (a separate library that links no emulator code)
// drains the stream through this header before it computes on the CPU: its results then follow
// every kernel queued before it, as on a device.
#pragma once
#include <stdint.h>

#define CUEMU_STREAM_MAGIC 0x316d727473756d63ull /* "cmustrm1" */

struct CuemuStreamAbi {
  uint64_t magic;
  int (*synchronize)(void* stream);  // runs everything queued on the stream; returns a cudaError_t
};

// The stand-in's side: drains `stream` if it is an emulator stream (null and foreign pointers are
// left alone). Returns the cudaError_t of the queued work, 0 when there was none.
static inline int cuemuDrainStream(void* stream) {
  if (!stream) return 0;
  const struct CuemuStreamAbi* abi = (const struct CuemuStreamAbi*)stream;
  return abi->magic == CUEMU_STREAM_MAGIC ? abi->synchronize(stream) : 0;
}
