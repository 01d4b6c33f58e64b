// Strided tensors: a Layout is a tensor descriptor's dims and strides (in elements), and walk()
// visits every index of a shape, handing the callback the element offset of each of several
// tensors at that index. A tensor whose dim is 1 where the shape's is larger is broadcast along
// that dim (its stride counts as 0): cudnnAddTensor's bias and batch norm's per-channel
// parameters are such tensors.
#pragma once
#include <array>
#include <cstdint>

namespace scse::cudnn_emu {

constexpr int kMaxDims = 8;  // CUDNN_DIM_MAX

struct Layout {
  int nb = 0;
  int64_t dim[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};

  int64_t count() const {
    int64_t n = 1;
    for (int i = 0; i < nb; i++) n *= dim[i];
    return n;
  }
  // One past the largest offset an element of the tensor has: the buffer size it spans.
  int64_t span() const {
    int64_t last = 0;
    for (int i = 0; i < nb; i++) last += (dim[i] - 1) * stride[i];
    return last + 1;
  }
  bool sameDims(const Layout& o) const {
    if (nb != o.nb) return false;
    for (int i = 0; i < nb; i++)
      if (dim[i] != o.dim[i]) return false;
    return true;
  }
};

// Strides of `t` for walking `shape`: broadcast dims (1 in t) get stride 0.
inline void walkStrides(const Layout& shape, const Layout& t, int64_t* out) {
  for (int i = 0; i < shape.nb; i++) out[i] = t.dim[i] == 1 ? 0 : t.stride[i];
}

// Calls f(off) with `off` an array of M offsets (one per tensor in `ts`) for every index of
// `shape`. Loop order follows the first tensor's strides (smallest innermost) so that it is read
// in memory order whatever its layout (NCHW, NHWC or anything else). Every tensor in `ts` must
// have shape's dims or 1 in each dimension.
template <size_t M, class F>
void walk(const Layout& shape, const std::array<const Layout*, M>& ts, F&& f) {
  const int nb = shape.nb;
  if (nb <= 0) return;
  int64_t st[M][kMaxDims];
  for (size_t m = 0; m < M; m++) walkStrides(shape, *ts[m], st[m]);
  // order[0] = outermost dimension; a stable insertion sort by the first tensor's stride.
  int order[kMaxDims];
  for (int i = 0; i < nb; i++) order[i] = i;
  for (int i = 1; i < nb; i++) {
    for (int j = i; j > 0 && st[0][order[j - 1]] < st[0][order[j]]; j--) {
      const int t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  }
  for (int i = 0; i < nb; i++)
    if (shape.dim[i] <= 0) return;
  const int inner = order[nb - 1];
  const int64_t innerN = shape.dim[inner];
  int64_t idx[kMaxDims] = {};
  std::array<int64_t, M> base{};
  for (;;) {
    std::array<int64_t, M> off = base;
    for (int64_t i = 0; i < innerN; i++) {
      f(off);
      for (size_t m = 0; m < M; m++) off[m] += st[m][inner];
    }
    // Odometer over the outer dimensions, innermost of them first.
    int level = nb - 2;
    for (; level >= 0; level--) {
      const int d = order[level];
      idx[d]++;
      for (size_t m = 0; m < M; m++) base[m] += st[m][d];
      if (idx[d] < shape.dim[d]) break;
      for (size_t m = 0; m < M; m++) base[m] -= st[m][d] * idx[d];
      idx[d] = 0;
    }
    if (level < 0) return;
  }
}

}  // namespace scse::cudnn_emu
