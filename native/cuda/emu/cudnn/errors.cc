// The thread's last error message and the text helpers messages are made of (emu.h).
#include <cstdio>
#include <string>

#include "cuda/emu/cudnn/emu.h"

#pragma GCC visibility push(hidden)
namespace scse::cudnn_emu {
namespace {
// cuDNN keeps its last error per thread (cudnnGetLastErrorString reads "the current thread's").
thread_local std::string tLastError;

const char* const kDataTypeNames[] = {
    "CUDNN_DATA_FLOAT",   "CUDNN_DATA_DOUBLE",   "CUDNN_DATA_HALF",      "CUDNN_DATA_INT8",
    "CUDNN_DATA_INT32",   "CUDNN_DATA_INT8x4",   "CUDNN_DATA_UINT8",     "CUDNN_DATA_UINT8x4",
    "CUDNN_DATA_INT8x32", "CUDNN_DATA_BFLOAT16", "CUDNN_DATA_INT64",     "CUDNN_DATA_BOOLEAN",
    "CUDNN_DATA_FP8_E4M3", "CUDNN_DATA_FP8_E5M2", "CUDNN_DATA_FAST_FLOAT_FOR_FP8", "CUDNN_DATA_FP8_E8M0",
    "CUDNN_DATA_FP4_E2M1", "CUDNN_DATA_INT4",   "CUDNN_DATA_UINT4",     "CUDNN_DATA_UINT32",
    "CUDNN_DATA_COMPLEX_FP32", "CUDNN_DATA_COMPLEX_FP64",
};
constexpr int kDataTypeCount = int(sizeof kDataTypeNames / sizeof kDataTypeNames[0]);

template <class T>
std::string listText(int nb, const T* v) {
  std::string s = "[";
  for (int i = 0; i < nb; i++) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace

int fail(int status, const char* fn, const std::string& what) {
  tLastError = std::string(fn) + ": " + what;
  return status;
}

std::string takeLastError() {
  std::string s;
  s.swap(tLastError);
  return s;
}

std::string dimsText(int nb, const int64_t* dims) { return listText(nb, dims); }
std::string dimsText(int nb, const int* dims) { return listText(nb, dims); }

bool validTensorDataType(int dataType) { return dataType >= CUDNN_DATA_FLOAT && dataType <= CUDNN_DATA_BFLOAT16; }
bool validFilterDataType(int dataType) { return validTensorDataType(dataType) && dataType != CUDNN_DATA_INT32; }
bool validComputeType(int dataType) {
  return dataType == CUDNN_DATA_FLOAT || dataType == CUDNN_DATA_DOUBLE || dataType == CUDNN_DATA_HALF ||
         dataType == CUDNN_DATA_INT32 || dataType == 14;  // CUDNN_DATA_FAST_FLOAT_FOR_FP8
}

std::string dataTypeText(int dataType) {
  if (dataType < 0 || dataType >= kDataTypeCount) return "an invalid cudnnDataType_t (" + std::to_string(dataType) + ")";
  return std::string(kDataTypeNames[dataType]) + " (" + std::to_string(dataType) + ")";
}

}  // namespace scse::cudnn_emu
#pragma GCC visibility pop
