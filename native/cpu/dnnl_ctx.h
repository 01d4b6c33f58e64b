// The process-wide oneDNN CPU engine and the stream every CPU primitive runs on.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

namespace scse {
dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();
}  // namespace scse
