# SCSE_CUDA=EMU: the CUDA backend built from the same native/cuda sources, run by cuda-emu on the CPU.
# Included from CMakeLists.txt with SCSE_CUDA_SRC (host .cc + .cu files of native/cuda) set.
#  - every .cu/.cuh is rewritten (launch syntax and __shared__ only: rewrite_cu.mjs) into
#    ${CMAKE_BINARY_DIR}/emu-src/cuda/, which comes first on the include path so that the kernels'
#    `#include "cuda/kernels.cuh"` finds the rewritten copy;
#  - g++ compiles them with FMA contraction on (as nvcc does by default) against emu/include;
#  - scse_cudnn_emu is the cuDNN stand-in, loaded at run time through SCSE_CUDNN_PATH.
set(SCSE_EMU_DIR ${CMAKE_SOURCE_DIR}/native/cuda/emu)
set(SCSE_EMU_SRC_DIR ${CMAKE_BINARY_DIR}/emu-src)
file(GLOB SCSE_CU_INPUTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/native/cuda/*.cu ${CMAKE_SOURCE_DIR}/native/cuda/*.cuh)
set(SCSE_REWRITE_ARGS)
set(SCSE_REWRITTEN)
set(SCSE_REWRITTEN_CU)
foreach(in ${SCSE_CU_INPUTS})
  get_filename_component(name ${in} NAME)
  if(name MATCHES "\\.cu$")
    set(out ${SCSE_EMU_SRC_DIR}/cuda/${name}.cc)
    list(APPEND SCSE_REWRITTEN_CU ${out})
  else()
    set(out ${SCSE_EMU_SRC_DIR}/cuda/${name})
  endif()
  list(APPEND SCSE_REWRITE_ARGS ${in} ${out})
  list(APPEND SCSE_REWRITTEN ${out})
endforeach()
find_program(SCSE_NODE node REQUIRED)
add_custom_command(OUTPUT ${SCSE_REWRITTEN}
  COMMAND ${SCSE_NODE} ${SCSE_EMU_DIR}/rewrite_cu.mjs ${SCSE_REWRITE_ARGS}
  DEPENDS ${SCSE_CU_INPUTS} ${SCSE_EMU_DIR}/rewrite_cu.mjs
  COMMENT "cuda-emu: rewriting launch syntax and __shared__ of native/cuda/*.cu, *.cuh")

set(SCSE_CUDA_HOST_SRC ${SCSE_CUDA_SRC})
list(FILTER SCSE_CUDA_HOST_SRC EXCLUDE REGEX "\\.cu$")
file(GLOB SCSE_EMU_RUNTIME_SRC CONFIGURE_DEPENDS ${SCSE_EMU_DIR}/*.cc)
add_library(scse_cuda STATIC ${SCSE_CUDA_HOST_SRC} ${SCSE_REWRITTEN_CU} ${SCSE_EMU_RUNTIME_SRC} ${SCSE_REWRITTEN})
target_include_directories(scse_cuda BEFORE PRIVATE ${SCSE_EMU_SRC_DIR} ${SCSE_EMU_DIR}/include ${SCSE_EMU_DIR})
target_include_directories(scse_cuda PRIVATE ${CMAKE_SOURCE_DIR}/native ${CMAKE_BINARY_DIR}/generated)
target_compile_definitions(scse_cuda PRIVATE SCSE_CUDA_EMU=1)
# -ffp-contract=fast with FMA available: a*b+c contracts as nvcc contracts it, so the CPU-vs-GPU
# tolerances are exercised as a real device would exercise them.
target_compile_options(scse_cuda PRIVATE -O2 -march=x86-64-v3 -ffp-contract=fast -Wall -Wextra -Wno-unused-parameter
                       ${SCSE_EMU_EXTRA_FLAGS})
target_link_libraries(scse_cuda PUBLIC ${CMAKE_DL_LIBS})

file(GLOB SCSE_CUDNN_EMU_SRC CONFIGURE_DEPENDS ${SCSE_EMU_DIR}/cudnn/*.cc)
if(SCSE_CUDNN_EMU_SRC)
  add_library(scse_cudnn_emu SHARED ${SCSE_CUDNN_EMU_SRC})
  set_target_properties(scse_cudnn_emu PROPERTIES CXX_VISIBILITY_PRESET hidden)
  target_include_directories(scse_cudnn_emu PRIVATE ${CMAKE_SOURCE_DIR}/native ${SCSE_EMU_DIR})
  target_compile_options(scse_cudnn_emu PRIVATE -O2 -march=x86-64-v3 -Wall -Wextra ${SCSE_EMU_EXTRA_FLAGS})
  # Only cuDNN's names are exported (g++ would also export weak std:: template instances).
  target_link_options(scse_cudnn_emu PRIVATE -Wl,--version-script=${SCSE_EMU_DIR}/cudnn/exports.map)
  # Lands next to scse.node (cmake-js sets the output directory), where the EMU build looks for it.
  add_dependencies(scse scse_cudnn_emu)
endif()

# The emulator's own tests (test/emu/emulator.test.ts runs them): broken and correct kernels.
set(SCSE_EMU_SELFTEST ${SCSE_EMU_SRC_DIR}/emu-test/selftest.cu.cc)
add_custom_command(OUTPUT ${SCSE_EMU_SELFTEST}
  COMMAND ${SCSE_NODE} ${SCSE_EMU_DIR}/rewrite_cu.mjs ${SCSE_EMU_DIR}/test/selftest.cu ${SCSE_EMU_SELFTEST}
  DEPENDS ${SCSE_EMU_DIR}/test/selftest.cu ${SCSE_EMU_DIR}/rewrite_cu.mjs
  COMMENT "cuda-emu: rewriting the emulator's self-test kernels")
add_executable(cuemu_selftest ${SCSE_EMU_SELFTEST} ${SCSE_EMU_RUNTIME_SRC})
target_include_directories(cuemu_selftest BEFORE PRIVATE ${SCSE_EMU_DIR}/include ${SCSE_EMU_DIR})
target_compile_options(cuemu_selftest PRIVATE -O1 -Wall -Wno-unused-parameter ${SCSE_EMU_EXTRA_FLAGS})
target_link_options(cuemu_selftest PRIVATE ${SCSE_EMU_EXTRA_FLAGS})
set_target_properties(cuemu_selftest PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/Release)
add_dependencies(scse cuemu_selftest)
