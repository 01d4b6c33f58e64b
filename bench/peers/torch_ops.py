"""PyTorch peer for bench/ops.ts: times the same op cases NCHW, as PyTorch users run them.
Reads {cases, runs, warmup} (JSON) from argv[1], prints one JSON document:
{torch, threads, results: [{op, shape, ms, minMs}]}; one progress line per case on stderr.

Run by bench/ops.ts through bench/common.ts runTorchPeer: /usr/bin/python3, all cores, tcmalloc
preloaded when installed and ATEN_CPU_CAPABILITY=avx512. Backward is split like ours:
torch.ops.aten.convolution_backward with an output mask selecting the input gradient (data) or
the weight gradient (weights)."""
import json
import os
import sys
import time

import torch

torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)


def time_ms(fn, warmup, runs):
    """(median, fastest) of `runs` timed calls after `warmup` untimed ones, in ms."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


def conv2d(case):
    n, h, w, cin, cout, k = (case[key] for key in ("n", "h", "w", "cin", "cout", "k"))
    pad = k // 2
    x = torch.randn(n, cin, h, w)
    wt = torch.randn(cout, cin, k, k) * 0.05
    dy = torch.randn(n, cout, h, w)
    args = ([1, 1], [pad, pad], [1, 1], False, [0, 0], 1)
    if case["pass"] == "fwd":
        return lambda: torch.nn.functional.conv2d(x, wt, None, 1, pad)
    mask = [True, False, False] if case["pass"] == "bwdData" else [False, True, False]
    return lambda: torch.ops.aten.convolution_backward(dy, x, wt, None, *args, mask)


# One builder per op kind; a builder returns the function to time (batch norm goes here too).
def batchnorm(case):
    n, h, w, c = (case[key] for key in ("n", "h", "w", "c"))
    x = torch.randn(n, c, h, w)
    dy = torch.randn(n, c, h, w)
    gamma, beta = torch.randn(c), torch.randn(c) * 0.1
    rm, rv = torch.zeros(c), torch.ones(c)
    if case["pass"] == "fwd":
        return lambda: torch.nn.functional.batch_norm(x, rm, rv, gamma, beta, True, 0.1, 1e-5)
    _, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.1, 1e-5)
    mask = [True, True, True]
    return lambda: torch.ops.aten.native_batch_norm_backward(dy, x, gamma, rm, rv, mean, invstd, True, 1e-5, mask)


BUILDERS = {"conv2d": conv2d, "batchnorm": batchnorm}


def main():
    spec = json.loads(sys.argv[1])
    out = []
    with torch.no_grad():
        for case in spec["cases"]:
            fn = BUILDERS[case["kind"]](case)
            ms, min_ms = time_ms(fn, spec["warmup"], spec["runs"])
            out.append({"op": case["op"], "shape": case["shape"], "ms": ms, "minMs": min_ms})
            print(f"torch {case['op']:<22} {case['shape']:<28} {ms:9.2f} ms", file=sys.stderr, flush=True)
    json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
