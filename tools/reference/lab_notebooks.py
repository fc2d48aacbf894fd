#!/usr/bin/env python3
"""Re-run the three MNIST notebooks of DLZTA season 2, Lab 9 (weight initialisation) on CPU.

Each notebook's stdout is written verbatim to <golden set>/<name>.txt (for full 15-epoch runs), where the golden set
is $INITLAB_GOLDEN_DIR or tests/golden/<oneMKL path>/<kernel family of this CPU> (intel-path or stock, see
mkl_path_name(); avx512 or avx2, see kernel_family()).
The computation follows the notebooks statement by statement (see shared/reference/lab-facts.md):
  random.seed(s); torch.manual_seed(777); MNIST datasets (ToTensor); DataLoader(100, shuffle, drop_last);
  Linear layers built in order; weights re-initialised in order (the last call's value is displayed);
  Sequential; CrossEntropyLoss; Adam(lr=0.001); train; evaluate on raw 0-255 test pixels; one random sample.

The MNIST data come from the project's data/mnist/*.gz, decompressed into a temporary root laid out
as torchvision's MNIST expects (<root>/MNIST/raw/<name without .gz>); nothing is downloaded.

Usage: lab_notebooks.py [NOTEBOOK ...] [--epochs N] [--out-dir DIR]
"""
import argparse
import contextlib
import ctypes
import gzip
import io
import os
import random
import shutil
import sys
import tempfile
import time

import torch
import torchvision.datasets as dsets
import torchvision.transforms as transforms

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MNIST_GZ_DIR = os.path.join(REPO, "data", "mnist")
GOLDEN_ROOT = os.path.join(REPO, "tests", "golden")


def kernel_family():
    """The golden set this CPU's numbers belong to: 'avx512' when /proc/cpuinfo lists avx512f, 'avx2' when it lists
    avx2 (and not avx512f), 'other' otherwise. oneMKL (with the dispatch shim) and ATen choose their kernels by these
    instruction sets, and the kernels round differently. Same rule as initlab::mkl::kernel_family (Rust) and
    scripts/parity.sh."""
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    return "other"


def mkl_intel_path():
    """Whether MKL (linked into libtorch_cpu) takes its Intel-CPU code paths here: the answer of MKL's own
    `mkl_serv_intel_cpu_true`, as MKL's internal calls resolve it (an LD_PRELOADed definition wins).
    None when it cannot be asked."""
    candidates = [None, os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")]
    for lib in candidates:
        try:
            fn = ctypes.CDLL(lib).mkl_serv_intel_cpu_true
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_int
        return bool(fn())
    return None


def mkl_path_name():
    """The oneMKL path this process takes, as golden sets are filed: 'intel-path' when MKL's vendor check says Intel
    (an Intel CPU, or the preloaded shim of run.sh under INITLAB_MKL_DISPATCH=intel-path), 'stock' otherwise (stock
    PyTorch on an AMD CPU). Same names as initlab::base::parity::mkl::path_name (Rust)."""
    return "stock" if mkl_intel_path() is False else "intel-path"


def golden_dir():
    """$INITLAB_GOLDEN_DIR (relative paths are taken from the repository root), else
    tests/golden/<oneMKL path>/<kernel family>."""
    env = os.environ.get("INITLAB_GOLDEN_DIR")
    if env:
        return os.path.join(REPO, env)
    return os.path.join(GOLDEN_ROOT, mkl_path_name(), kernel_family())


GOLDEN_DIR = golden_dir()
FULL_EPOCHS = 15

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# name -> (python random seed, layer sizes, init function name, indices of the layers used by Sequential)
NOTEBOOKS = {
    "lab09_2_mnist_nn": dict(py_seed=111, sizes=[(784, 256), (256, 256), (256, 10)],
                             init="normal_", used=3),
    "lab09_3_mnist_nn_xavier": dict(py_seed=777, sizes=[(784, 256), (256, 256), (256, 10)],
                                    init="xavier_uniform_", used=3),
    # five layers built and initialised, but only linear1..linear3 go into the Sequential (notebook quirk)
    "lab09_4_mnist_nn_deep": dict(py_seed=777, sizes=[(784, 512), (512, 512), (512, 512), (512, 512), (512, 10)],
                                  init="xavier_uniform_", used=3),
}


@contextlib.contextmanager
def mnist_root():
    """Temporary dataset root with <root>/MNIST/raw/<idx files> decompressed from data/mnist/*.gz."""
    tmp = tempfile.mkdtemp(prefix="initlab-mnist-")
    try:
        raw = os.path.join(tmp, "MNIST", "raw")
        os.makedirs(raw)
        for name in MNIST_FILES:
            with gzip.open(os.path.join(MNIST_GZ_DIR, name + ".gz"), "rb") as src, \
                    open(os.path.join(raw, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def mkl_shim_loaded():
    return "initlab_mkl_intel" in os.environ.get("LD_PRELOAD", "")


ATEN_CAPABILITY = {"avx512": "AVX512", "avx2": "AVX2"}


def warn_if_host_differs():
    """Golden sets are filed by oneMKL path (Intel or stock non-Intel: the kernels round differently) and kernel
    family (the instruction sets): warns when the process is not what the target folder is for."""
    family = kernel_family()
    capability = torch.backends.cpu.get_cpu_capability()
    if ATEN_CAPABILITY.get(family) != capability:
        print("WARNING: ATen CPU capability is %s, but this CPU's kernel family is %s" % (capability, family),
              file=sys.stderr)
    here = "%s/%s" % (mkl_path_name(), family)
    target = "/".join(os.path.normpath(GOLDEN_DIR).split(os.sep)[-2:])
    if target.split("/")[-1] in ("avx512", "avx2", "other") and target != here:
        print("WARNING: writing into the golden set %s (%s) from a process whose set is %s: its numbers are not "
              "that set's" % (target, GOLDEN_DIR, here), file=sys.stderr)


class NoProbe:
    """Hooks used by parity_details.py; they only read values and never touch any generator."""

    def on_init(self, layers, shown):
        pass

    def on_epoch_start(self, epoch):
        pass

    def on_batch(self, epoch, index, X, Y, cost):
        pass

    def on_epoch_end(self, epoch, avg_cost):
        pass


def run_notebook(name, root, epochs=FULL_EPOCHS, probe=None):
    """The notebook's cells, in order. Prints exactly what the notebook prints."""
    cfg = NOTEBOOKS[name]
    probe = probe or NoProbe()
    device = 'cpu'

    # for reproducibility
    random.seed(cfg["py_seed"])
    torch.manual_seed(777)

    # parameters
    learning_rate = 0.001
    training_epochs = epochs
    batch_size = 100

    # MNIST dataset
    mnist_train = dsets.MNIST(root=root, train=True, transform=transforms.ToTensor(), download=False)
    mnist_test = dsets.MNIST(root=root, train=False, transform=transforms.ToTensor(), download=False)

    # dataset loader
    data_loader = torch.utils.data.DataLoader(dataset=mnist_train, batch_size=batch_size,
                                              shuffle=True, drop_last=True)

    # nn layers (each Linear draws its weight, then its bias, from the global generator)
    layers = [torch.nn.Linear(i, o, bias=True) for (i, o) in cfg["sizes"]]
    relu = torch.nn.ReLU()

    # initialization, in layer order; the cell displays the value of the last call
    init = getattr(torch.nn.init, cfg["init"])
    shown = None
    for layer in layers:
        shown = init(layer.weight)
    print(repr(shown))
    probe.on_init(layers, shown)

    # model: linear1, relu, linear2, relu, linear3 (also in the deep notebook)
    linear1, linear2, linear3 = layers[0], layers[1], layers[2]
    model = torch.nn.Sequential(linear1, relu, linear2, relu, linear3).to(device)

    # define cost/loss & optimizer
    criterion = torch.nn.CrossEntropyLoss().to(device)    # Softmax is internally computed.
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

    total_batch = len(data_loader)
    for epoch in range(training_epochs):
        avg_cost = 0
        probe.on_epoch_start(epoch)

        for index, (X, Y) in enumerate(data_loader):
            # reshape input image into [batch_size by 784]
            # label is not one-hot encoded
            X = X.view(-1, 28 * 28).to(device)
            Y = Y.to(device)

            optimizer.zero_grad()
            hypothesis = model(X)
            cost = criterion(hypothesis, Y)
            cost.backward()
            optimizer.step()

            avg_cost += cost / total_batch
            probe.on_batch(epoch, index, X, Y, cost)

        print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(avg_cost))
        probe.on_epoch_end(epoch, avg_cost)

    print('Learning finished')

    # Test the model using test sets (raw 0-255 pixels, as in the notebooks)
    with torch.no_grad():
        X_test = mnist_test.test_data.view(-1, 28 * 28).float().to(device)
        Y_test = mnist_test.test_labels.to(device)

        prediction = model(X_test)
        correct_prediction = torch.argmax(prediction, 1) == Y_test
        accuracy = correct_prediction.float().mean()
        print('Accuracy:', accuracy.item())

        # Get one and predict
        r = random.randint(0, len(mnist_test) - 1)
        X_single_data = mnist_test.test_data[r:r + 1].view(-1, 28 * 28).float().to(device)
        Y_single_data = mnist_test.test_labels[r:r + 1].to(device)

        print('Label: ', Y_single_data.item())
        single_prediction = model(X_single_data)
        print('Prediction: ', torch.argmax(single_prediction, 1).item())


class Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                    help="one or more of: " + ", ".join(NOTEBOOKS) + " (default: all)")
    ap.add_argument("--epochs", type=int, default=FULL_EPOCHS,
                    help="training epochs (default 15; other values print only, unless --out-dir is given)")
    ap.add_argument("--out-dir", default=None,
                    help="where <name>.txt goes (default $INITLAB_GOLDEN_DIR or tests/golden/<oneMKL path>/<kernel "
                         "family> for 15-epoch runs, nowhere otherwise)")
    ap.add_argument("--print-only", action="store_true",
                    help="write no file, whatever the epochs (make compare-python)")
    args = ap.parse_args(argv)

    names = args.notebooks or list(NOTEBOOKS)
    for n in names:
        if n not in NOTEBOOKS:
            ap.error("unknown notebook %r; known: %s" % (n, ", ".join(NOTEBOOKS)))
    out_dir = None if args.print_only else (args.out_dir or (GOLDEN_DIR if args.epochs == FULL_EPOCHS else None))

    print("torch %s, torchvision %s, %d threads, ATen %s, MKL Intel path: %s, golden set %s/%s, epochs=%d, output: %s"
          % (torch.__version__, sys.modules["torchvision"].__version__, torch.get_num_threads(),
             torch.backends.cpu.get_cpu_capability(), mkl_intel_path(), mkl_path_name(), kernel_family(),
             args.epochs, out_dir or "stdout only"),
          file=sys.stderr)
    warn_if_host_differs()
    with mnist_root() as root:
        for n in names:
            print("== %s" % n, file=sys.stderr)
            t0 = time.time()
            if out_dir:
                os.makedirs(out_dir, exist_ok=True)
                path = os.path.join(out_dir, n + ".txt")
                # keep the text in memory and write the file only once the run is complete
                buf = io.StringIO()
                with contextlib.redirect_stdout(Tee(buf, sys.stdout)):
                    run_notebook(n, root, args.epochs)
                with open(path, "w", newline="\n") as f:
                    f.write(buf.getvalue())
            else:
                run_notebook(n, root, args.epochs)
            sys.stdout.flush()
            print("== %s took %.1f s%s" % (n, time.time() - t0, (" -> " + path) if out_dir else ""),
                  file=sys.stderr)


if __name__ == "__main__":
    main()
