#!/usr/bin/env python3
"""Write <golden set>/parity_details.json ($INITLAB_GOLDEN_DIR or tests/golden/<oneMKL path>/<kernel family>): exact reference values for bit-parity tests of the Rust port.

Every float32 is given twice: as a decimal with 9 significant digits ("f32", round-trips exactly) and as its
IEEE-754 bit pattern ("hex", e.g. "0x3c1a2b3c"). Losses and costs are also given the way the notebooks print
them ("dec9", '{:.9f}'). f64 values are given as Python's shortest round-trip repr and as float.hex().

Sections:
  environment   versions, thread count, CPU, whether MKL was told it runs on an Intel CPU (see README.md)
  notebooks     per notebook: the displayed (last re-initialised) weight: shape, first/last row, sums;
                epoch 1: first 8 labels and loss of batches 1-3, avg_cost; the DataLoader's generator draws
  init          torch.nn.Linear(4, 3) and torch.nn.init.* on torch.empty(3, 4), each right after manual_seed(0)
  python_random Python's Mersenne Twister: randint / getrandbits sequences, each right after random.seed(s)
  adam          torch.optim.Adam step sequences on a (5,) parameter with recorded gradients

Usage: parity_details.py [--out PATH]
"""
import argparse
import contextlib
import io
import json
import math
import os
import platform
import random
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_notebooks as ln  # noqa: E402

OUT_DEFAULT = os.path.join(ln.GOLDEN_DIR, "parity_details.json")


# ---------------------------------------------------------------- number formatting

def f32_hex(x):
    return "0x%08x" % struct.unpack("<I", struct.pack("<f", float(x)))[0]


def f32_dec(x):
    return "%.9g" % float(x)


def f32_values(t):
    """A float32 tensor (any shape) -> {"f32": [...], "hex": [...]} over its flattened values."""
    vals = t.detach().to(torch.float32).reshape(-1).tolist()
    return {"f32": [f32_dec(v) for v in vals], "hex": [f32_hex(v) for v in vals]}


def f32_scalar(x, dec9=False):
    x = float(x)
    d = {"f32": f32_dec(x), "hex": f32_hex(x)}
    if dec9:
        d = {"dec9": "{:.9f}".format(x), **d}
    return d


def f64_value(x):
    x = float(x)
    return {"f64": repr(x), "hex": x.hex()}


def i64_value(x):
    x = int(x)
    return {"i64": str(x), "hex": "0x%016x" % (x & 0xFFFFFFFFFFFFFFFF)}


# ---------------------------------------------------------------- the notebooks

class StopRun(Exception):
    pass


def peek_int64_draws(count):
    """The next `count` int64 values torch.empty((), dtype=int64).random_() would draw from the global
    generator, computed on a copy of its state (the global generator is not touched)."""
    g = torch.Generator()
    g.set_state(torch.get_rng_state())
    return [int(torch.empty((), dtype=torch.int64).random_(generator=g).item()) for _ in range(count)]


def permutation_from_seed(seed, n):
    g = torch.Generator()
    g.manual_seed(seed)
    return torch.randperm(n, generator=g)


class Recorder(ln.NoProbe):
    """Collects the values; stops the run once it has what it needs (nothing here changes the computation)."""

    def __init__(self, train_data, train_targets, epochs_needed):
        self.train_data = train_data          # uint8 (60000, 28, 28)
        self.train_targets = train_targets    # int64 (60000,)
        self.epochs_needed = epochs_needed
        self.rec = {"batches": [], "loader_draws": [], "checks": {}}
        self.perms = {}

    def on_init(self, layers, shown):
        w = shown.detach()
        self.rec["displayed_weight"] = {
            "layer": "linear%d.weight" % len(layers),
            "shape": list(w.shape),
            "first_row": f32_values(w[0]),
            "last_row": f32_values(w[-1]),
            "sum_f64_exact": f64_value(math.fsum(w.reshape(-1).tolist())),
            "sum_f64_torch": f64_value(w.double().sum().item()),
            "note": "sum_f64_exact is the correctly rounded sum of the f32 values (math.fsum); "
                    "sum_f64_torch is w.double().sum() (its own summation order)",
        }

    def on_epoch_start(self, epoch):
        # iter(DataLoader) draws the workers' base seed, then RandomSampler draws its permutation seed
        base_seed, sampler_seed = peek_int64_draws(2)
        self.rec["loader_draws"].append({"epoch": epoch + 1, "base_seed": i64_value(base_seed),
                                         "sampler_seed": i64_value(sampler_seed)})
        self.perms[epoch] = permutation_from_seed(sampler_seed, len(self.train_targets))
        if epoch == 0:
            ahead = peek_int64_draws(4)
            self.rec["draws_ahead_from_epoch1"] = ahead
        if epoch >= 1:
            # nothing else uses the global generator during training: epoch 2's pair = draws 3 and 4 of epoch 1's state
            self.rec["checks"]["epoch%d_draws_follow_epoch1_state" % (epoch + 1)] = (
                self.rec["draws_ahead_from_epoch1"][2 * epoch:2 * epoch + 2] == [base_seed, sampler_seed])

    def on_batch(self, epoch, index, X, Y, cost):
        perm = self.perms[epoch]
        if index < 3:
            idx = perm[index * 100:(index + 1) * 100]
            expect_x = (self.train_data[idx].to(torch.float32) / 255).view(-1, 28 * 28)
            key = "epoch%d_batch%d_matches_permutation" % (epoch + 1, index + 1)
            self.rec["checks"][key] = bool(torch.equal(Y, self.train_targets[idx]) and torch.equal(X, expect_x))
        if epoch == 0 and index < 3:
            self.rec["batches"].append({
                "batch": index + 1,
                "first_8_labels": Y[:8].tolist(),
                "loss": f32_scalar(cost.item(), dec9=True),
            })
        if epoch + 1 == self.epochs_needed and index == 2:
            raise StopRun()

    def on_epoch_end(self, epoch, avg_cost):
        if epoch == 0:
            self.rec["epoch1_avg_cost"] = f32_scalar(avg_cost.item(), dec9=True)


def notebook_details(name, root):
    import torchvision.datasets as dsets
    train = dsets.MNIST(root=root, train=True, download=False)
    # each notebook is followed to batch 3 of epoch 2, to check epoch 2's generator draws and order too
    rec = Recorder(train.data, train.targets, epochs_needed=2)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            ln.run_notebook(name, root, epochs=ln.FULL_EPOCHS, probe=rec)
        except StopRun:
            pass
    r = rec.rec
    printed = out.getvalue().splitlines()
    epoch1_line = [l for l in printed if l.startswith("Epoch: 0001")]
    r["epoch1_line"] = epoch1_line[0] if epoch1_line else None
    golden = os.path.join(ln.GOLDEN_DIR, name + ".txt")
    if os.path.exists(golden):
        with open(golden) as f:
            r["checks"]["epoch1_line_matches_golden_txt"] = r["epoch1_line"] in f.read().splitlines()
    r["epoch1_permutation_first_10"] = rec.perms[0][:10].tolist()
    r["epoch2_permutation_first_10"] = rec.perms[1][:10].tolist()
    del r["draws_ahead_from_epoch1"]
    return r


# ---------------------------------------------------------------- init functions

def init_details():
    d = {}
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    d["Linear(4,3)"] = {"weight_shape": [3, 4], "weight": f32_values(lin.weight), "bias": f32_values(lin.bias)}
    cases = [
        ("kaiming_normal_(fan_in,relu)", lambda t: torch.nn.init.kaiming_normal_(t, mode='fan_in', nonlinearity='relu')),
        ("kaiming_uniform_(fan_in,relu)", lambda t: torch.nn.init.kaiming_uniform_(t, mode='fan_in', nonlinearity='relu')),
        ("xavier_normal_", lambda t: torch.nn.init.xavier_normal_(t)),
        ("xavier_uniform_", lambda t: torch.nn.init.xavier_uniform_(t)),
        ("normal_(0,1)", lambda t: torch.nn.init.normal_(t, 0.0, 1.0)),
    ]
    for key, fn in cases:
        torch.manual_seed(0)
        t = fn(torch.empty(3, 4))
        d[key + " on empty(3,4)"] = {"shape": [3, 4], "values": f32_values(t)}
    d["note"] = "each entry: torch.manual_seed(0), then the call; values row-major"
    return d


# ---------------------------------------------------------------- Python random

def python_random_details():
    d = {"randint(0,9999)x5": []}
    for s in (777, 111, 0, 1, 42, 2 ** 40 + 5, 123456789):
        random.seed(s)
        d["randint(0,9999)x5"].append({"seed": s, "values": [random.randint(0, 9999) for _ in range(5)]})
    random.seed(777)
    d["seed777_getrandbits"] = {"getrandbits(32)x3": [random.getrandbits(32) for _ in range(3)],
                                "then_getrandbits(64)": str(random.getrandbits(64))}
    random.seed(5)
    d["seed5_randint(0,59999)x3"] = [random.randint(0, 59999) for _ in range(3)]
    d["note"] = "each sequence starts right after random.seed(seed); the getrandbits(64) value follows the three " \
                "getrandbits(32) calls and is a decimal string (it may exceed 2**53)"
    return d


# ---------------------------------------------------------------- Adam

def adam_run(**kwargs):
    torch.manual_seed(0)
    p = torch.randn(5).requires_grad_()
    p0 = p.detach().clone()
    opt = torch.optim.Adam([p], lr=0.001, **kwargs)
    steps = []
    for i in range(6):
        g = torch.randn(5)
        p.grad = g.clone()
        opt.step()
        steps.append({"step": i + 1, "grad": f32_values(g), "param_after": f32_values(p)})
    opts = {"lr": 0.001}
    opts.update(kwargs)
    return {"options": opts, "param_initial": f32_values(p0), "steps": steps}


def adam_details():
    return {
        "note": "torch.manual_seed(0); p = torch.randn(5) (requires_grad); opt = torch.optim.Adam([p], ...); "
                "6 times: p.grad = torch.randn(5); opt.step(). Defaults betas=(0.9, 0.999), eps=1e-8; "
                "CPU default path (_single_tensor_adam).",
        "runs": [adam_run(), adam_run(weight_decay=0.01, amsgrad=True)],
    }


# ---------------------------------------------------------------- main

def environment():
    import numpy
    import torchvision
    vendor = model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id") and vendor is None:
                    vendor = line.split(":", 1)[1].strip()
                if line.startswith("model name") and model is None:
                    model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {
        "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": numpy.__version__,
        "python": platform.python_version(), "torch_threads": torch.get_num_threads(),
        "cpu_vendor": vendor, "cpu_model": model,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernel_family": ln.kernel_family(),
        "mkl_intel_dispatch_shim_preloaded": ln.mkl_shim_loaded(),
        "mkl_takes_intel_path": ln.mkl_intel_path(),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT_DEFAULT)
    args = ap.parse_args(argv)
    ln.warn_if_host_differs()

    doc = {"format": "initlab parity details v1", "environment": environment(), "notebooks": {}}
    with ln.mnist_root() as root:
        for name in ln.NOTEBOOKS:
            print("== parity details: %s" % name, file=sys.stderr)
            doc["notebooks"][name] = notebook_details(name, root)
    doc["init"] = init_details()
    doc["python_random"] = python_random_details()
    doc["adam"] = adam_details()

    failed = [(n, k) for n, r in doc["notebooks"].items() for k, ok in r["checks"].items() if not ok]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", newline="\n") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)
    print("wrote %s" % args.out, file=sys.stderr)
    if failed:
        print("CHECKS FAILED: %s" % failed, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
