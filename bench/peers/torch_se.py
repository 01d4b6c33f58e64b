"""PyTorch peer for bench/se.ts: the authors' SE blocks (ai-med squeeze_and_excitation formulation),
NCHW as PyTorch users run them, timed forward and forward+backward. Prints one JSON document.

Run by bench/se.ts with /usr/bin/python3, all cores, tcmalloc preloaded when installed and
ATEN_CPU_CAPABILITY=avx512 (its best configuration on this machine)."""
import json
import os
import sys
import time

import torch
import torch.nn as nn


class ChannelSE(nn.Module):
    def __init__(self, c, r=2):
        super().__init__()
        self.fc1 = nn.Linear(c, c // r, bias=True)
        self.fc2 = nn.Linear(c // r, c, bias=True)

    def forward(self, x):
        n, c = x.shape[:2]
        z = x.mean(dim=(2, 3))
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))
        return x * s.view(n, c, 1, 1)


class SpatialSE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.conv(x))


class ChannelSpatialSE(nn.Module):
    def __init__(self, c, r=2, agg="add"):
        super().__init__()
        self.cse, self.sse, self.agg = ChannelSE(c, r), SpatialSE(c), agg

    def forward(self, x):
        a, b = self.cse(x), self.sse(x)
        return a + b if self.agg == "add" else torch.max(a, b) if self.agg == "max" else a * b


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
