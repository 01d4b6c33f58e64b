"""PyTorch peer for bench/se.ts: the authors' SE blocks (ai-med squeeze_and_excitation formulation,
as in torch_models.py), NCHW as PyTorch users run them, timed forward and forward+backward.
Prints one JSON document.

Run by bench/se.ts with /usr/bin/python3, all cores, tcmalloc preloaded when installed and
ATEN_CPU_CAPABILITY=avx512 (its best configuration on this machine)."""
import json
import os
import sys
import time

import torch

# the SE blocks of the models' twin (same directory): cSE, sSE and scSE with add/max/mul
from torch_models import ChannelSE, ChannelSpatialSE, SpatialSE


def median_ms(fn, reps):
    fn()
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    rows = []
    for n, h, w, c in cfg["shapes"]:
        x = torch.randn(n, c, h, w)
        for block in cfg["blocks"]:
            m = {"cse": lambda: ChannelSE(c), "sse": lambda: SpatialSE(c), "scse": lambda: ChannelSpatialSE(c)}[block]()
            with torch.no_grad():
                fwd = median_ms(lambda: m(x), cfg["reps"])
            xg = x.clone().requires_grad_(True)
            dy = torch.randn_like(x)

            def step():
                y = m(xg)
                y.backward(dy)
                xg.grad = None
                m.zero_grad(set_to_none=True)

            fb = median_ms(step, cfg["reps"])
            rows.append({"block": block, "shape": [n, h, w, c], "pass": "fwd", "ms": fwd})
            rows.append({"block": block, "shape": [n, h, w, c], "pass": "fwdbwd", "ms": fb})
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}))


if __name__ == "__main__":
    main()
