// Compile-time conformance of our cuDNN declarations (cuda/cudnn.h) with the real cuDNN 9
// headers: every enum value and constant equals the real one, every function pointer type in
// scse::cudnn::fn equals the real declaration's after mapping it to its ABI types, and the
// algo-perf structs have the same layout. Nothing here runs: a mismatch is a compile error.
// What types cannot show (two int-typed enum parameters in the wrong order, e.g. format and
// dataType of cudnnSetTensor4dDescriptor vs cudnnSetFilter4dDescriptor) the descriptor read-back
// in the same test catches at run time.
//
// Not part of the addon (CMake globs native/cuda/*.cc only, and cuDNN is never a build
// dependency). test/cuda/cudnn_conformance.test.ts compiles it with
//   g++ -std=c++17 -fsyntax-only -I native -I <wheel>/include -I <cuda>/include
// when scripts/cudnn-wheel.mjs has unpacked the nvidia-cudnn-cu13 wheel.

// Ours first (cudnn_getters.h includes cudnn.h): its elaborated `struct cudnnTensorStruct*` etc. must declare scse::cudnn's own
// opaque types (after the real header they would name the global ones), and two of our names
// are macros in the real header, so our values are read before it is included.
#include "cuda/conformance/cudnn_getters.h"
#include "cuda/cudnn.h"

namespace ours {
constexpr int kDimMax = scse::cudnn::CUDNN_DIM_MAX;
constexpr double kBnMinEpsilon = scse::cudnn::CUDNN_BN_MIN_EPSILON;
}  // namespace ours

// cuDNN 9 marks most of the legacy API deprecated; naming it here is the point.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <cudnn.h>

#include <cstddef>
#include <type_traits>

namespace {

// ---- the ABI type of a real parameter / return / member type ------------------------------------
// Every cuDNN enum is passed as a 32-bit int (we declare them as int); the real opaque handle and
// descriptor structs are our own incomplete structs of the same name; everything else is itself.
// Pointers and const are mapped through, so `cudnnDataType_t*` becomes `int*`.
template <class T, class = void>
struct Abi {
  using type = T;
};
template <class T>
struct Abi<T, std::enable_if_t<std::is_enum_v<T> && !std::is_const_v<T>>> {
  static_assert(sizeof(T) == sizeof(int) && alignof(T) == alignof(int), "a cuDNN enum that is not int-sized");
  using type = int;
};
template <class T>
struct Abi<T*> {
  using type = typename Abi<T>::type*;
};
template <class T>
struct Abi<const T> {
  using type = const typename Abi<T>::type;
};
template <class R, class... A>
struct Abi<R (*)(A...)> {
  using type = typename Abi<R>::type (*)(typename Abi<A>::type...);
};

#define SCSE_OPAQUE(real, mine)     \
  template <>                       \
  struct Abi<real> {                \
    using type = scse::cudnn::mine; \
  };
SCSE_OPAQUE(::cudnnContext, cudnnContext)
SCSE_OPAQUE(::cudnnTensorStruct, cudnnTensorStruct)
SCSE_OPAQUE(::cudnnFilterStruct, cudnnFilterStruct)
SCSE_OPAQUE(::cudnnConvolutionStruct, cudnnConvolutionStruct)
SCSE_OPAQUE(::cudnnPoolingStruct, cudnnPoolingStruct)
SCSE_OPAQUE(::cudnnActivationStruct, cudnnActivationStruct)
SCSE_OPAQUE(::CUstream_st, CUstream_st)
SCSE_OPAQUE(::cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionAlgoPerf_t)
SCSE_OPAQUE(::cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionAlgoPerf_t)
SCSE_OPAQUE(::cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionAlgoPerf_t)
#undef SCSE_OPAQUE

// A class template, so that a failure prints what is compared (`What`: a tag named after the
// function, or the real struct) and both types in the "In instantiation of" line.
template <class What, class Real, class Mine>
struct SameType {
  static_assert(std::is_same_v<Real, Mine>, "function type differs from the real cuDNN declaration (see the types above)");
  static constexpr bool value = true;
};

// ---- enum values and constants ---------------------------------------------------------------------
// Every `constexpr` value of cuda/cudnn.h (the test checks this list is complete).
#define SCSE_CUDNN_ENUMS(X)                                                                               \
  X(CUDNN_DATA_FLOAT) X(CUDNN_DATA_DOUBLE) X(CUDNN_DATA_HALF) X(CUDNN_DATA_INT8) X(CUDNN_DATA_INT32)      \
  X(CUDNN_DATA_UINT8) X(CUDNN_DATA_BFLOAT16) X(CUDNN_DATA_INT64)                                          \
  X(CUDNN_TENSOR_NCHW) X(CUDNN_TENSOR_NHWC) X(CUDNN_TENSOR_NCHW_VECT_C)                                   \
  X(CUDNN_CONVOLUTION) X(CUDNN_CROSS_CORRELATION)                                                         \
  X(CUDNN_DEFAULT_MATH) X(CUDNN_TENSOR_OP_MATH) X(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) X(CUDNN_FMA_MATH) \
  X(CUDNN_NOT_PROPAGATE_NAN) X(CUDNN_PROPAGATE_NAN)                                                       \
  X(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) X(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)         \
  X(CUDNN_CONVOLUTION_FWD_ALGO_GEMM) X(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT) X(CUDNN_CONVOLUTION_FWD_ALGO_FFT) \
  X(CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING) X(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD)                         \
  X(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED) X(CUDNN_CONVOLUTION_FWD_ALGO_COUNT)                     \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_0) X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1)                               \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT) X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING)                    \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD) X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED)        \
  X(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT)                                                                \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0) X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1)                           \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT) X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3)                         \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD) X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED)    \
  X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING) X(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT)              \
  X(CUDNN_NON_DETERMINISTIC) X(CUDNN_DETERMINISTIC)                                                       \
  X(CUDNN_BATCHNORM_PER_ACTIVATION) X(CUDNN_BATCHNORM_SPATIAL) X(CUDNN_BATCHNORM_SPATIAL_PERSISTENT)      \
  X(CUDNN_POOLING_MAX) X(CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING)                                     \
  X(CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING) X(CUDNN_POOLING_MAX_DETERMINISTIC)                       \
  X(CUDNN_ACTIVATION_SIGMOID) X(CUDNN_ACTIVATION_RELU) X(CUDNN_ACTIVATION_TANH)                           \
  X(CUDNN_ACTIVATION_CLIPPED_RELU) X(CUDNN_ACTIVATION_ELU) X(CUDNN_ACTIVATION_IDENTITY)                   \
  X(CUDNN_ACTIVATION_SWISH)                                                                               \
  X(CUDNN_SOFTMAX_FAST) X(CUDNN_SOFTMAX_ACCURATE) X(CUDNN_SOFTMAX_LOG)                                    \
  X(CUDNN_SOFTMAX_MODE_INSTANCE) X(CUDNN_SOFTMAX_MODE_CHANNEL)                                            \
  X(CUDNN_STATUS_SUCCESS)

#define SCSE_SAME_VALUE(name)                                                                          \
  static_assert(std::is_enum_v<decltype(::name)>, #name " is not an enumerator in the real header"); \
  static_assert(int(::name) == scse::cudnn::name, #name ": our value differs from the real cuDNN header's");
SCSE_CUDNN_ENUMS(SCSE_SAME_VALUE)
#undef SCSE_SAME_VALUE

// The two that are macros in the real header.
static_assert(ours::kDimMax == CUDNN_DIM_MAX, "CUDNN_DIM_MAX: our value differs from the real cuDNN header's");
static_assert(ours::kBnMinEpsilon == CUDNN_BN_MIN_EPSILON, "CUDNN_BN_MIN_EPSILON: our value differs from the real cuDNN header's");

// cudnnStatus_t itself: an int-sized enum, so our `using cudnnStatus_t = int` is its ABI.
static_assert(std::is_same_v<Abi<::cudnnStatus_t>::type, scse::cudnn::cudnnStatus_t>, "cudnnStatus_t is not int-sized");

// ---- function pointer types: every symbol the loader resolves ---------------------------------------
namespace function {
#define SCSE_TAG(name) struct name;
SCSE_CUDNN_REQUIRED(SCSE_TAG)
SCSE_CUDNN_OPTIONAL(SCSE_TAG)
SCSE_CUDNN_GETTERS(SCSE_TAG)
#undef SCSE_TAG
}  // namespace function
#define SCSE_SAME_FN(name) \
  static_assert(SameType<function::name, Abi<decltype(&::name)>::type, scse::cudnn::fn::name>::value, #name);
SCSE_CUDNN_REQUIRED(SCSE_SAME_FN)
SCSE_CUDNN_OPTIONAL(SCSE_SAME_FN)
#undef SCSE_SAME_FN
// ... and the getters the conformance hooks dlsym (cudnn_getters.h).
#define SCSE_SAME_GETTER(name) \
  static_assert(SameType<function::name, Abi<decltype(&::name)>::type, scse::cudnn::getters::name>::value, #name);
SCSE_CUDNN_GETTERS(SCSE_SAME_GETTER)
#undef SCSE_SAME_GETTER

// ---- the algo-perf structs: ours stands for all three ------------------------------------------------
using Mine = scse::cudnn::cudnnConvolutionAlgoPerf_t;
#define SCSE_SAME_MEMBER(Real, m)                                                                          \
  static_assert(offsetof(Real, m) == offsetof(Mine, m), #Real "::" #m ": offset differs");             \
  static_assert(SameType<Real, Abi<decltype(Real::m)>::type, decltype(Mine::m)>::value, #Real "::" #m ": type");
#define SCSE_SAME_PERF(Real)                                                                               \
  static_assert(sizeof(Real) == sizeof(Mine) && alignof(Real) == alignof(Mine), #Real ": size or alignment"); \
  SCSE_SAME_MEMBER(Real, algo)                                                                             \
  SCSE_SAME_MEMBER(Real, status)                                                                           \
  SCSE_SAME_MEMBER(Real, time)                                                                             \
  SCSE_SAME_MEMBER(Real, memory)                                                                           \
  SCSE_SAME_MEMBER(Real, determinism)                                                                      \
  SCSE_SAME_MEMBER(Real, mathType)                                                                         \
  SCSE_SAME_MEMBER(Real, reserved)
SCSE_SAME_PERF(::cudnnConvolutionFwdAlgoPerf_t)
SCSE_SAME_PERF(::cudnnConvolutionBwdDataAlgoPerf_t)
SCSE_SAME_PERF(::cudnnConvolutionBwdFilterAlgoPerf_t)
#undef SCSE_SAME_PERF
#undef SCSE_SAME_MEMBER

}  // namespace
