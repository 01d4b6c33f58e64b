#!/usr/bin/env bash
# scripts/emu-sanitize.sh: the CUDA kernels' own tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (issue 14, item 3). Run it once per change of native/cuda/; it is not part of CI.
#
# What it proves: every native/cuda/*.cu kernel and *.cc host file (libscse_cuda, run on the CUDA
# emulator native/cuda/emu/), the emulator itself and the cuDNN stand-in (libscse_cudnn_emu) make
# no out-of-bounds, use-after-free or undefined-behaviour access (signed overflow, misaligned or
# null access, bad shift, invalid enum/bool, ...) on any path that the emulator's self-test and
# the GPU suites (test/gpu, test/cuda, test/emu) exercise. Under ASan the emulator gives cudaMalloc
# blocks and dynamic shared memory their exact size and leaves out-of-bounds accesses to ASan, so
# "ASan reports nothing" covers device memory too (the self-test checks that the word past each
# kind of block is poisoned; cudaMalloc rounds to 256 bytes as CUDA does: an overrun inside that
# rounding is invisible here, as on a GPU). Not covered: the addon's own code
# (native/addon.cc, core, cpu, the dispatch_*.cc glue) is built without sanitizers, and a path no
# test takes proves nothing.
#
# Steps: 1. cmake-js builds SCSE_CUDA=EMU with SCSE_EMU_EXTRA_FLAGS (the sanitizer flags) into
#           build-emu-asan/ and checks that every compile line of scse_cuda, scse_cudnn_emu and
#           cuemu_selftest carries them;
#        2. build-emu-asan/Release/cuemu_selftest must print "N passed, 0 failed";
#        3. the GPU suites run against the sanitized addon (node with libasan/libubsan preloaded),
#           through scripts/test-emu.mjs with SCSE_EMU_BUILD_DIR=build-emu-asan (the self-test's
#           vitest wrapper is left out: step 2 ran it, and under ASan it skips the three
#           deliberate out-of-bounds kernels that the wrapper looks for).
# ASan reports are written to build-emu-asan/sanitize/asan.<pid> (one file per reporting process,
# vitest's workers and their children included); UBSan, combined with ASan, ignores log_path and
# reports on stderr, so the self-test's and the suites' output is searched for its reports too.
# All are printed at the end.
# Exit code 0 only if the build, every test and the sanitizers are clean; the last line is a summary.
#
# Time on 2 cores: ~9 min in all from scratch: the build ~4-5 min (seconds to a minute when only
# a few files changed), the self-test ~1 s, the suites ~3.5 min.
#   --no-build   use build-emu-asan/ as it is
#   extra args   passed to vitest instead of the default suites (e.g. test/gpu/ops.test.ts)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=build-emu-asan
logs=$out/sanitize
flags='-fsanitize=address,undefined;-fno-omit-frame-pointer;-fno-sanitize-recover=undefined'
build=1
suites=()
for a in "$@"; do
  if [[ $a == --no-build ]]; then build=0; else suites+=("$a"); fi
done
((${#suites[@]})) || suites=(test/gpu test/cuda test/emu --exclude test/emu/emulator.test.ts)

status=0
summary=()
now() { date +%s; }

# ---- 1. build ----------------------------------------------------------------------------------
t0=$(now)
if ((build)); then
  while pgrep -x ninja >/dev/null; do
    echo "emu-sanitize: another build (ninja) is running; waiting for it"
    sleep 20
  done
  echo "emu-sanitize: building SCSE_CUDA=EMU with ${flags//;/ } into $out/"
  if ! node node_modules/cmake-js/bin/cmake-js compile --directory . --out "$out" --CDSCSE_CUDA=EMU \
    "--CDSCSE_EMU_EXTRA_FLAGS=$flags"; then
    echo "emu-sanitize: FAILED: the build failed"
    exit 1
  fi
fi
[[ -x $out/Release/cuemu_selftest && -f $out/Release/scse.node ]] || {
  echo "emu-sanitize: FAILED: $out/Release/{cuemu_selftest,scse.node} missing (run without --no-build)"
  exit 1
}
# Every compile line of the three emulated targets must carry the flags (the addon's own target,
# scse, is built without them).
commands=$(ninja -C "$out" -t commands scse_cuda scse_cudnn_emu cuemu_selftest | grep -E ' -c [^ ]+$' || true)
compiled=$(grep -c . <<<"$commands" || true)
plain=$(grep -vc -- '-fsanitize=address,undefined' <<<"$commands" || true)
if ((compiled == 0 || plain != 0)); then
  echo "emu-sanitize: FAILED: $plain of $compiled compile lines lack -fsanitize=address,undefined"
  exit 1
fi
echo "emu-sanitize: $compiled compile lines (scse_cuda, scse_cudnn_emu, cuemu_selftest) carry the sanitizer flags"
summary+=("build $(($(now) - t0))s")

rm -rf "$logs"
mkdir -p "$logs"
logs_abs=$root/$logs
# detect_leaks=0: node and V8 keep their allocations to exit. log_path: each process that reports
# writes its own file, so reports from vitest's worker processes are not lost in their output.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$logs_abs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# A UBSan report ("file:line:col: runtime error: ...") or any sanitizer's "==pid==ERROR:" line.
report_re='^[^ ]+:[0-9]+:[0-9]+: runtime error: |==[0-9]+==ERROR: [A-Za-z]+Sanitizer'

# ---- 2. the emulator's self-test ---------------------------------------------------------------
t0=$(now)
echo "emu-sanitize: $out/Release/cuemu_selftest"
set +e
"$out/Release/cuemu_selftest" >"$logs/selftest.out" 2>"$logs/selftest.err"
rc=$?
set -e
grep -v '^ok ' "$logs/selftest.out" || true
selftest=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logs/selftest.out" || true)
if [[ $rc -ne 0 || ! $selftest =~ \ 0\ failed$ ]]; then
  echo "emu-sanitize: self-test FAILED (exit $rc); its stderr is $logs/selftest.err"
  status=1
fi
summary+=("self-test ${selftest:-crashed (exit $rc)} $(($(now) - t0))s")

# ---- 3. the GPU suites against the sanitized addon ---------------------------------------------
t0=$(now)
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
# ASan's dlopen interceptor makes libasan the caller of every dlopen, so a library's own
# RPATH=$ORIGIN no longer finds its siblings: the real cuDNN (libcudnn.so.9 opening
# libcudnn_graph.so.9, test/cuda/cudnn_conformance.test.ts) aborts with "Invalid handle. Cannot
# load symbol cudnnGetVersion" unless its folder is on the search path.
cudnn_ref=${SCSE_CUDNN_REFERENCE:-$root/.cache/cudnn}
if [[ -d $cudnn_ref/lib ]]; then export LD_LIBRARY_PATH="$cudnn_ref/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
echo "emu-sanitize: vitest ${suites[*]} against $out/Release/scse.node (LD_PRELOAD=$preload)"
set +e
LD_PRELOAD=$preload SCSE_EMU_BUILD_DIR=$out node scripts/test-emu.mjs --no-build --testTimeout=600000 "${suites[@]}" \
  2>&1 | tee "$logs/suites.out"
rc=${PIPESTATUS[0]}
set -e
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$logs/suites.out" | tail -1 || true)
# Tests of a file whose worker died (a sanitizer abort) are in none of those counts.
notrun=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(r.numTotalTests - r.numPassedTests - r.numFailedTests - r.numPendingTests - r.numTodoTests)' \
  "$out/vitest-emu.json" 2>/dev/null || echo '?')
if [[ $rc -ne 0 || ! $counts =~ \ 0\ failed, || $notrun != 0 ]]; then
  echo "emu-sanitize: suites FAILED (exit $rc, $notrun tests not run)"
  status=1
fi
summary+=("suites ${counts:-crashed (exit $rc)}, $notrun not run $(($(now) - t0))s")

# ---- sanitizer reports -------------------------------------------------------------------------
shopt -s nullglob
reports=("$logs"/asan.*)
for f in "${reports[@]}"; do
  echo "==== sanitizer report $f"
  cat "$f"
done
n=${#reports[@]}
for f in "$logs/selftest.err" "$logs/suites.out"; do
  k=$(grep -cE "$report_re" "$f" || true)
  if ((k)); then
    echo "==== $k sanitizer report(s) in $f:"
    grep -E -A12 "$report_re" "$f"
    n=$((n + k))
  fi
done
if ((n)); then status=1; fi
summary+=("$n sanitizer reports")

line=$(printf '; %s' "${summary[@]}")
echo "emu-sanitize: $( ((status)) && echo FAILED || echo OK ): ${line:2}"
exit $status
