#!/usr/bin/env python3
"""One epoch of scikit-learn's BernoulliRBM on MNIST, timed, for `examples/bench_rbm.rs`.

Reads the project's data/mnist/*.gz itself (numpy + gzip, no torchvision), scales the pixels to
[0, 1] (grey levels, not binarized: what initlab feeds its RBM), fits

    BernoulliRBM(n_components=512, learning_rate=0.1, batch_size=100, n_iter=1, random_state=0)

on the 60,000 training images and prints, on one line each:

    sklearn_seconds <seconds of fit(), the fastest of --repeat fits>
    sklearn_version <version>
    sklearn_pll <mean score_samples() over the 10,000 test images>
    sklearn_pll10 <the same averaged over 10 draws of the flipped units>

Options: --dtype float32|float64 (default float32, initlab's precision; scikit-learn keeps the
input's dtype), --repeat (default 1), --no-pll (the time and version only), --hidden, --lr,
--batch, --epochs, --train-limit.
"""

import argparse
import gzip
import pathlib
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.exit("bench_rbm_sklearn.py needs numpy and scikit-learn: pip install scikit-learn")


def read_images(path: pathlib.Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in range(0, 16, 4))
    if magic != 0x803:
        sys.exit(f"{path}: wrong magic number {magic:#x}, expected 0x803")
    if len(data) != 16 + n * rows * cols:
        sys.exit(f"{path}: {len(data) - 16} bytes of pixels, the header says {n}x{rows}x{cols}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def main() -> None:
    root = pathlib.Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=pathlib.Path, default=root / "data" / "mnist")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--repeat", type=int, default=1, help="fits to time; the fastest is printed")
    p.add_argument("--no-pll", action="store_true", help="print the time only (no sklearn_pll lines)")
    args = p.parse_args()

    try:
        import sklearn
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        sys.exit("bench_rbm_sklearn.py needs scikit-learn: pip install scikit-learn")

    dtype = np.dtype(args.dtype)
    train = read_images(args.data / "train-images-idx3-ubyte.gz")
    test = read_images(args.data / "t10k-images-idx3-ubyte.gz")
    if args.train_limit is not None:
        train = train[: args.train_limit]
    x_train = train.astype(dtype) / dtype.type(255)
    x_test = test.astype(dtype) / dtype.type(255)

    # Best of --repeat fits (each from scratch, same random_state): robust to other load.
    times = []
    for _ in range(args.repeat):
        rbm = BernoulliRBM(
            n_components=args.hidden,
            learning_rate=args.lr,
            batch_size=args.batch,
            n_iter=args.epochs,
            random_state=0,
        )
        started = time.perf_counter()
        rbm.fit(x_train)
        times.append(time.perf_counter() - started)
    seconds = min(times)
    print(f"sklearn_seconds {seconds:.4f}")
    print(f"sklearn_version {sklearn.__version__}")
    if args.no_pll:
        return
    # score_samples flips one unit per image drawn by RandomState(random_state): random_state=0 is
    # the standard single draw; the mean over 10 draws (random states 0..9) has less noise.
    pll = float(rbm.score_samples(x_test).mean())
    draws = []
    for seed in range(10):
        rbm.random_state = seed
        draws.append(float(rbm.score_samples(x_test).mean()))
    print(f"sklearn_pll {pll:.4f}")
    print(f"sklearn_pll10 {np.mean(draws):.4f}")


if __name__ == "__main__":
    main()
