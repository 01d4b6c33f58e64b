// Argument checking for native ops. Every check throws scse::OpError with a message naming the
// op, the argument, what was expected and what was given; the export wrapper (core/registry.h)
// turns it into a JS error, so bad input never aborts the process.
#pragma once
#include <napi.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace scse {

struct OpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& op, const std::string& msg) { throw OpError(op + ": " + msg); }

Shape shapeArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);
std::vector<int64_t> intsArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);
double numberArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);
int64_t intArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);
bool boolArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);
std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);

// A live tensor of the given dtype; `optional` accepts null/undefined and returns nullptr.
NTensor* tensorArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg,
                   DType dtype = DType::F32, bool optional = false);
// A live tensor of either dtype.
NTensor* anyTensorArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg);
std::vector<NTensor*> tensorListArg(const Napi::CallbackInfo& info, size_t i, const char* op, const char* arg,
                                    DType dtype = DType::F32);

void expectRank(const NTensor* t, size_t rank, const char* op, const char* arg);
void expectShape(const NTensor* t, const Shape& want, const char* op, const char* arg);
void expectSameShape(const NTensor* a, const NTensor* b, const char* op, const char* argA, const char* argB);

}  // namespace scse
