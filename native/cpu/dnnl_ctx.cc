#include "cpu/dnnl_ctx.h"

namespace scse {

// Function-local statics: made on first use (after the addon has loaded), thread-safe in C++11.
dnnl::engine& cpuEngine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& cpuStream() {
  static dnnl::stream s(cpuEngine());
  return s;
}

}  // namespace scse
