// The one oneDNN CPU engine and stream shared by every op file (conv, linear, batch norm...).
// Creating an engine is not free and primitives are bound to the engine they were made on, so
// all cached primitives must come from this single instance.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

namespace scse {
dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();
}  // namespace scse
