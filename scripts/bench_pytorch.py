"""PyTorch side of `make bench`: the same training as examples/bench_training.rs, data preloaded
as tensors, same batch order source (DataLoader over a TensorDataset), Adam lr 0.001.

Usage: python scripts/bench_pytorch.py [shallow|deep|all] [epochs]
"""
import gzip, os, resource, sys, time

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist")


def idx(name, header):
    with gzip.open(os.path.join(ROOT, name + ".gz")) as f:
        return np.frombuffer(f.read(), np.uint8, offset=header).copy()


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    x = torch.from_numpy(idx("train-images-idx3-ubyte", 16)).view(-1, 784).float().div(255)
    y = torch.from_numpy(idx("train-labels-idx1-ubyte", 8)).long()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    widths = {"shallow": [784, 256, 256, 10], "deep": [784, 512, 512, 512, 512, 10]}
    for name in (["shallow", "deep"] if which == "all" else [which]):
        torch.manual_seed(777)
        w = widths[name]
        layers = []
        for i, (a, b) in enumerate(zip(w, w[1:])):
            lin = torch.nn.Linear(a, b)
            torch.nn.init.xavier_uniform_(lin.weight)
            layers += [lin] + ([torch.nn.ReLU()] if i + 2 < len(w) else [])
        model = torch.nn.Sequential(*layers)
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
        loss_fn = torch.nn.CrossEntropyLoss()
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=100, shuffle=True, drop_last=True)
        times = []
        for _ in range(epochs):
            t = time.perf_counter()
            for bx, by in loader:
                opt.zero_grad()
                loss = loss_fn(model(bx), by)
                loss.backward()
                opt.step()
            times.append(time.perf_counter() - t)
        macs = sum(a * b for a, b in zip(w, w[1:]))
        per = sum(times[1:]) / len(times[1:])
        print(f"{name:<8} epoch 1 (warm-up) {times[0]:.2f} s, then {per:.2f} s per epoch = {6 * macs * 60000 / per / 1e9:.1f} GFLOP/s")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
