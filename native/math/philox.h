// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator. Each 128-bit counter maps to four independent u32 under a 64-bit key,
// so element i of a draw is a pure function of (key, i): results do not depend on how the
// elements are split over threads or CUDA blocks.
#pragma once
#include <cstdint>

#include "math/common.h"

namespace scse::math {

struct Philox4 {
  uint32_t v[4];
};

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // round multipliers
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // key schedule (golden ratio, sqrt(3) - 1)
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
// Second key word of every draw; the first is the user's seed. "SCSE" in ASCII: any constant
// works, a fixed one keeps draws reproducible across versions.
constexpr uint32_t kPhiloxKeyTag = 0x53435345u;

SCSE_HD Philox4 philoxRound(Philox4 c, uint32_t k0, uint32_t k1) {
  const uint64_t p0 = uint64_t(kPhiloxM0) * c.v[0];
  const uint64_t p1 = uint64_t(kPhiloxM1) * c.v[2];
  Philox4 r;
  r.v[0] = uint32_t(p1 >> 32) ^ c.v[1] ^ k0;
  r.v[1] = uint32_t(p1);
  r.v[2] = uint32_t(p0 >> 32) ^ c.v[3] ^ k1;
  r.v[3] = uint32_t(p0);
  return r;
}

// Ten rounds, the key bumped between consecutive rounds (Random123's philox4x32 with R = 10).
SCSE_HD Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  c = philoxRound(c, k0, k1);
  for (int r = 1; r < 10; r++) {
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
    c = philoxRound(c, k0, k1);
  }
  return c;
}

// Block `block` (64-bit) of the draw (seed, stream): counter = (block lo, block hi, stream, 0).
// Element i of a draw reads lane i % 4 of block i / 4.
SCSE_HD Philox4 philoxBlock(uint32_t seed, uint32_t stream, uint64_t block) {
  Philox4 c;
  c.v[0] = uint32_t(block);
  c.v[1] = uint32_t(block >> 32);
  c.v[2] = stream;
  c.v[3] = 0;
  return philox4x32_10(c, seed, kPhiloxKeyTag);
}

// Uniform in [0, 1): the top 24 bits, exactly representable as a float.
SCSE_HD float uniformFromU32(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }

// Uniform in (0, 1]: for logarithms.
SCSE_HD float uniformOpenZeroFromU32(uint32_t x) { return float((x >> 8) + 1u) * (1.0f / 16777216.0f); }

// Box-Muller: two uniforms give two independent standard normals (cos and sin branches).
SCSE_HD void boxMuller(uint32_t a, uint32_t b, float* z0, float* z1) {
  const float u1 = uniformOpenZeroFromU32(a);
  const float u2 = uniformFromU32(b);
  const float r = sqrtf(-2.0f * logf(u1));
  const float theta = 6.28318530717958647692f * u2;
  *z0 = r * cosf(theta);
  *z1 = r * sinf(theta);
}

// Standard normal element i (lane = i % 4) of a block: lanes (0,1) share one Box-Muller pair,
// lanes (2,3) the other.
SCSE_HD float normalFromBlock(const Philox4& b, int lane) {
  float z0, z1;
  const int pair = lane >> 1;
  boxMuller(b.v[2 * pair], b.v[2 * pair + 1], &z0, &z1);
  return (lane & 1) ? z1 : z0;
}

// lo + (hi - lo) * u (one rounding), kept below hi when float rounding would reach it.
SCSE_HD float uniformInRange(uint32_t x, float lo, float hi) {
  float v = fmadd(hi - lo, uniformFromU32(x), lo);
  return (v >= hi && hi > lo) ? nextafterf(hi, lo) : v;
}

// mean + sd * z (one rounding) for a standard normal z.
SCSE_HD float scaledNormal(float z, float mean, float sd) { return fmadd(sd, z, mean); }

// Dropout: element dropped with probability p (u < p), kept ones scaled to keep the mean.
SCSE_HD float dropoutMaskValue(uint32_t x, float p, float keepScale) { return uniformFromU32(x) < p ? 0.0f : keepScale; }

}  // namespace scse::math
