"""PyTorch twin of src/models: U-Net, SD-Net and QuickNAT's FC-DenseNet with SE blocks after every
encoder and decoder block, NCHW, with the same options and the same state-dict names as ours
(encode1.conv1.weight, encode1.bn1.running_mean, encode1.se.cSE.fc1.weight, bottleneck...,
decode1..., classifier.weight). decode1 is the deepest decoder (it takes encode4's skip).

Run with Debian's PyTorch: /usr/bin/python3 bench/peers/torch_models.py <mode>
  count   stdin: JSON {"model", "opts"} -> stdout: {"params": n, "keys": [...]}
  grad    stdin: JSON {"cases": [case + "labels": {"shape", "offset"} (float32 class ids, [N, H, W]),
                 "float64": bool]} -> stdout: {"cases": [{"loss", "out", "grads": {name: {"shape", "offset"}}}]}:
             mean cross-entropy of a train-mode forward and the gradient of every parameter (our
             layouts), written to `<file>.grad`.
  parity  stdin: JSON {"cases": [case, ...]} -> stdout: JSON {"cases": [result, ...]}
    case   = {"model", "opts", "file", "index": {name: {"shape", "offset"}}, "input": {"shape", "offset"}}
             `file` holds raw little-endian float32 data; offsets are in bytes. Tensors are in our
             layouts: conv weights OHWI [out, kH, kW, in], transposed-conv weights [in, kH, kW, out],
             the input NHWC. BatchNorm's num_batches_tracked is absent (PyTorch inserts 0).
    result = {"params", "out": path, "eval": {"shape", "offset"}, "train": {...},
              "buffers": {name: {"shape", "offset"}}}: logits (NHWC) of an eval-mode forward, then of a
             train-mode forward (batch statistics), then the running statistics after that train
             forward, written to `<file>.out`.
"""
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)


# ---- SE blocks (names as in src/nn/se.ts) -------------------------------------------------------
class ChannelSE(nn.Module):
    def __init__(self, c, reduction=2, bias=True):
        super().__init__()
        self.fc1 = nn.Linear(c, c // reduction, bias=bias)
        self.fc2 = nn.Linear(c // reduction, c, bias=bias)

    def excitation(self, x):
        z = x.mean(dim=(2, 3))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))[:, :, None, None]

    def forward(self, x):
        return x * self.excitation(x)


class SpatialSE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, 1, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.conv(x))


class ChannelSpatialSE(nn.Module):
    def __init__(self, c, reduction=2, bias=True, aggregation="add"):
        super().__init__()
        self.cSE = ChannelSE(c, reduction, bias)
        self.sSE = SpatialSE(c)
        self.aggregation = aggregation

    def forward(self, x):
        a, b = self.cSE(x), self.sSE(x)
        if self.aggregation == "add":
            return a + b
        if self.aggregation == "max":
            return torch.max(a, b)
        if self.aggregation == "mul":
            return a * b
        raise ValueError(f"aggregation must be add|max|mul, got {self.aggregation!r}")


def make_se(kind, c, o):
    r, bias = o.get("reduction", 2), o.get("bias", True)
    if kind == "none":
        return None
    if kind == "cse":
        return ChannelSE(c, r, bias)
    if kind == "sse":
        return SpatialSE(c)
    if kind == "scse":
        return ChannelSpatialSE(c, r, bias, o.get("aggregation", "add"))
    raise ValueError(f"se must be none|cse|sse|scse, got {kind!r}")


# ---- blocks ------------------------------------------------------------------------------------
class Block(nn.Module):
    """A block ends with Dropout2d (p > 0) and then its SE module, registered last as `se`."""

    def add_tail(self, c, cfg, with_se):
        self.drop = nn.Dropout2d(cfg["dropout"]) if cfg["dropout"] > 0 else None
        se = make_se(cfg["se"], c, cfg["seOptions"]) if with_se else None
        if se is not None:
            self.se = se
        else:
            self.se = None

    def tail(self, h):
        if self.drop is not None:
            h = self.drop(h)
        return self.se(h) if self.se is not None else h


def unpool_concat(x, skip, indices):
    up = F.max_unpool2d(x, indices, 2, 2, output_size=skip.shape[2:])
    return torch.cat([skip, up], dim=1)


class UNetBlock(Block):
    def __init__(self, in_c, cfg, kind):
        super().__init__()
        f, k = cfg["filters"], cfg["kernel"]
        p = (k - 1) // 2
        self.up = nn.ConvTranspose2d(in_c, f, 2, stride=2) if kind == "decoder" else None
        self.conv1 = nn.Conv2d(2 * f if kind == "decoder" else in_c, f, k, padding=p)
        self.bn1 = nn.BatchNorm2d(f)
        self.conv2 = nn.Conv2d(f, f, k, padding=p)
        self.bn2 = nn.BatchNorm2d(f)
        self.add_tail(f, cfg, kind != "bottleneck")

    def forward(self, x, skip=None, indices=None):
        h = torch.cat([skip, self.up(x)], dim=1) if self.up is not None else x
        h = torch.relu(self.bn1(self.conv1(h)))
        h = torch.relu(self.bn2(self.conv2(h)))
        return self.tail(h)


class SDNetBlock(Block):
    def __init__(self, in_c, cfg, kind):
        super().__init__()
        f, k = cfg["filters"], cfg["kernel"]
        self.decoder = kind == "decoder"
        self.conv1 = nn.Conv2d(2 * f if self.decoder else in_c, f, k, padding=(k - 1) // 2)
        self.bn1 = nn.BatchNorm2d(f)
        self.add_tail(f, cfg, kind != "bottleneck")

    def forward(self, x, skip=None, indices=None):
        h = unpool_concat(x, skip, indices) if self.decoder else x
        return self.tail(torch.relu(self.bn1(self.conv1(h))))


class DenseBlock(Block):
    """QuickNAT's dense block; one PReLU slope shared by its three uses; outputs o3."""

    def __init__(self, in_c, cfg, kind):
        super().__init__()
        f, k = cfg["filters"], cfg["kernel"]
        p = (k - 1) // 2
        self.decoder = kind == "decoder"
        c = 2 * f if self.decoder else in_c
        self.prelu = nn.PReLU(1, 0.25)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv1 = nn.Conv2d(c, f, k, padding=p)
        self.bn2 = nn.BatchNorm2d(c + f)
        self.conv2 = nn.Conv2d(c + f, f, k, padding=p)
        self.bn3 = nn.BatchNorm2d(c + 2 * f)
        self.conv3 = nn.Conv2d(c + 2 * f, f, 1)
        self.add_tail(f, cfg, kind != "bottleneck")

    def forward(self, x, skip=None, indices=None):
        h = unpool_concat(x, skip, indices) if self.decoder else x
        o1 = self.conv1(self.prelu(self.bn1(h)))
        o2 = self.conv2(self.prelu(self.bn2(torch.cat([h, o1], dim=1))))
        o3 = self.conv3(self.prelu(self.bn3(torch.cat([h, o1, o2], dim=1))))
        return self.tail(o3)


BLOCKS = {"unet": UNetBlock, "sdnet": SDNetBlock, "densenet": DenseBlock}
DEFAULT_KERNEL = {"unet": 5, "sdnet": 7, "densenet": 5}


def resolve(model, opts):
    return {
        "inChannels": opts.get("inChannels", 1),
        "numClasses": opts["numClasses"],
        "filters": opts.get("filters", 64),
        "kernel": opts.get("kernel", DEFAULT_KERNEL[model]),
        "dropout": opts.get("dropout", 0),
        "se": opts.get("se", "none"),
        "seOptions": opts.get("seOptions", {}),
    }


class FCNN(nn.Module):
    def __init__(self, model, opts):
        super().__init__()
        cfg = resolve(model, opts)
        blk, f = BLOCKS[model], cfg["filters"]
        for i in range(4):
            setattr(self, f"encode{i + 1}", blk(cfg["inChannels"] if i == 0 else f, cfg, "encoder"))
        self.bottleneck = blk(f, cfg, "bottleneck")
        for i in range(4):
            setattr(self, f"decode{i + 1}", blk(f, cfg, "decoder"))
        self.classifier = nn.Conv2d(f, cfg["numClasses"], 1)

    def forward(self, x):
        skips, indices = [], []
        for i in range(4):
            s = getattr(self, f"encode{i + 1}")(x)
            x, idx = F.max_pool2d(s, 2, 2, return_indices=True)
            skips.append(s)
            indices.append(idx)
        x = self.bottleneck(x)
        for i in range(4):
            x = getattr(self, f"decode{i + 1}")(x, skips[3 - i], indices[3 - i])
        return self.classifier(x)


def build(model, opts):
    return FCNN(model, opts)


# ---- weight exchange -----------------------------------------------------------------------------
def to_torch_layout(t):
    # OHWI conv and [in, kH, kW, out] transposed-conv weights both become PyTorch's layout by moving
    # the last axis to position 1 ([out, in, kH, kW] resp. [in, out, kH, kW]); NHWC -> NCHW alike.
    return t.permute(0, 3, 1, 2).contiguous() if t.dim() == 4 else t


def from_torch_layout(t):
    return t.permute(0, 2, 3, 1).contiguous() if t.dim() == 4 else t


def read(raw, entry):
    n = int(np.prod(entry["shape"])) if entry["shape"] else 1
    a = np.frombuffer(raw, dtype="<f4", count=n, offset=entry["offset"])
    return torch.from_numpy(a.copy()).reshape(entry["shape"])


def count(job):
    m = build(job["model"], job["opts"])
    return {"params": sum(p.numel() for p in m.parameters()), "keys": list(m.state_dict().keys())}


def parity_case(case):
    m = build(case["model"], case["opts"])
    raw = open(case["file"], "rb").read()
    state = {name: to_torch_layout(read(raw, e)) for name, e in case["index"].items()}
    m.load_state_dict(state, strict=True)
    x = to_torch_layout(read(raw, case["input"]))
    out, index, offset = [], {}, 0

    def put(key, t):
        nonlocal offset
        a = from_torch_layout(t.detach()).numpy().astype("<f4")
        index[key] = {"shape": list(a.shape), "offset": offset}
        out.append(a.tobytes())
        offset += a.nbytes

    with torch.no_grad():
        m.eval()
        put("eval", m(x))
        m.train()
        put("train", m(x))
    buffers = {}
    for name, b in m.named_buffers():
        if name.endswith("num_batches_tracked"):
            continue
        put(name, b)
        buffers[name] = index.pop(name)
    path = case["file"] + ".out"
    with open(path, "wb") as fh:
        fh.write(b"".join(out))
    return {"params": sum(p.numel() for p in m.parameters()), "out": path, "eval": index["eval"], "train": index["train"], "buffers": buffers}


def grad_case(case):
    """Train-mode forward, mean cross-entropy against int labels, backward; float64 when asked."""
    dtype = torch.float64 if case.get("float64", False) else torch.float32
    m = build(case["model"], case["opts"]).to(dtype)
    raw = open(case["file"], "rb").read()
    state = {name: to_torch_layout(read(raw, e)).to(dtype) for name, e in case["index"].items()}
    m.load_state_dict(state, strict=True)
    x = to_torch_layout(read(raw, case["input"])).to(dtype)
    labels = read(raw, case["labels"]).round().long()
    m.train()
    loss = F.cross_entropy(m(x), labels)
    loss.backward()
    out, index, offset = [], {}, 0
    for name, p in m.named_parameters():
        a = from_torch_layout(p.grad.detach()).to(torch.float32).numpy().astype("<f4")
        index[name] = {"shape": list(a.shape), "offset": offset}
        out.append(a.tobytes())
        offset += a.nbytes
    path = case["file"] + ".grad"
    with open(path, "wb") as fh:
        fh.write(b"".join(out))
    return {"loss": loss.item(), "out": path, "grads": index}


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    job = json.load(sys.stdin)
    if mode == "count":
        res = count(job)
    elif mode == "parity":
        res = {"cases": [parity_case(c) for c in job["cases"]]}
    elif mode == "grad":
        res = {"cases": [grad_case(c) for c in job["cases"]]}
    else:
        sys.exit(f"usage: torch_models.py count|parity|grad < job.json (got {mode!r})")
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
