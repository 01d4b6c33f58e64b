"""PyTorch peer for bench/train.ts: the training-step throughput of one network of the twin
(bench/peers/torch_models.py, same architectures and names), in one process per configuration so
that its peak RSS is its own.

Run by bench/train.ts through runTorchPeer (/usr/bin/python3, all cores, tcmalloc, AVX-512):
  torch_train.py '{"net", "se", "filters", "size", "batch", "classes", "steps", "warmup", "channelsLast"}'
prints one JSON document: {"torch", "threads", "msPerStep", "times", "peakRssMB", "baseRssMB", "otherCores", "loss"}
(otherCores: CPU the rest of the machine used during the timed steps, as in bench/train.ts).
With "paired": true (and "pairs" instead of "se"/"steps"): the network built twice, without SE and
with scSE, stepped alternately (none, scse, then scse, none, ...) after "warmup" steps of each, as
bench/train.ts --paired does; prints {"torch", "none": [ms...], "scse": [ms...]}.

One step = train-mode forward of a [batch, 1, size, size] batch (NCHW, or channels_last when asked:
model and input converted, as the PyTorch docs recommend), the loss of the paper's training (the
per-pixel weighted cross-entropy mean + soft Dice over the foreground classes, 1:1, as combinedLoss),
backward, SGD (lr 0.01, momentum 0.95, weight decay 1e-4), zero_grad(set_to_none=True)."""
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

from torch_models import build  # the twin's builders (same directory)

torch.set_num_threads(os.cpu_count())


def soft_dice(logits, labels, eps=1e-5, smooth_nr=1e-5):
    """1 - mean over classes 1..K-1 of (2 sum p*g + smooth_nr) / (sum p + sum g + eps), sums over the
    whole batch: the definition of src/ops/dice.ts (diceLoss with its defaults)."""
    p = logits.softmax(dim=1)
    g = torch.zeros_like(p).scatter_(1, labels.unsqueeze(1), 1.0)  # one-hot, the usual idiom
    dims = (0, 2, 3)
    inter = (p * g).sum(dims)
    den = p.sum(dims) + g.sum(dims)
    dice = (2 * inter + smooth_nr) / (den + eps)
    return 1 - dice[1:].mean()


def rss_mb(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy_seconds():
    """Busy CPU time of the whole machine (/proc/stat user+nice+system+irq+softirq+steal, USER_HZ 100)."""
    try:
        with open("/proc/stat") as fh:
            f = [int(v) for v in fh.readline().split()[1:]]
        return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100
    except (OSError, ValueError, IndexError):
        return float("nan")


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def make_step(a, se):
    """One training step of network a["net"] with SE `se` on fixed data, as a closure."""
    torch.manual_seed(0)
    n, s, k = a["batch"], a["size"], a["classes"]
    model = build(a["net"], {"numClasses": k, "filters": a["filters"], "se": se})
    model.train()
    x = torch.randn(n, 1, s, s)
    labels = torch.randint(0, k, (n, s, s))
    weights = torch.rand(n, s, s) * 4 + 1  # stands in for median-frequency + boundary weights
    if a.get("channelsLast", False):
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.95, weight_decay=1e-4)

    def step():
        logits = model(x)
        ce = (F.cross_entropy(logits, labels, reduction="none") * weights).mean()
        loss = ce + soft_dice(logits, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return step


def paired(a):
    steps = {"none": make_step(a, "none"), "scse": make_step(a, "scse")}
    times = {"none": [], "scse": []}
    for i in range(a["warmup"] + a["pairs"]):
        for se in ("none", "scse") if i % 2 == 0 else ("scse", "none"):
            t0 = time.perf_counter()
            steps[se]()
            dt = (time.perf_counter() - t0) * 1e3
            if i >= a["warmup"]:
                times[se].append(dt)
            print(f"torch {a['net']} paired {i + 1}/{a['warmup'] + a['pairs']} {se} {dt:.0f} ms", file=sys.stderr, flush=True)
    json.dump({"torch": torch.__version__, **times}, sys.stdout)


def main():
    a = json.loads(sys.argv[1])
    if a.get("paired"):
        return paired(a)
    step = make_step(a, a["se"])

    base = rss_mb("VmRSS")
    label = f"torch{'-cl' if a.get('channelsLast') else ''} {a['net']}/{a['se']}"
    times, loss = [], float("nan")
    total = a["warmup"] + a["steps"]
    mark = (0.0, 0.0, 0.0)
    for i in range(total):
        if i == a["warmup"]:
            mark = (machine_busy_seconds(), own_cpu_seconds(), time.perf_counter())
        t0 = time.perf_counter()
        loss = step()
        dt = (time.perf_counter() - t0) * 1e3
        if i >= a["warmup"]:
            times.append(dt)
        print(f"{label} step {i + 1}/{total} {dt:.0f} ms loss {loss:.4f}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - mark[2]
    others = max(0.0, (machine_busy_seconds() - mark[0] - (own_cpu_seconds() - mark[1])) / wall)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    ts = sorted(times)
    json.dump(
        {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "msPerStep": ts[len(ts) // 2],
            "times": times,
            "peakRssMB": peak,
            "baseRssMB": base,
            "otherCores": others,
            "loss": loss,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
