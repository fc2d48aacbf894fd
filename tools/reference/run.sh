#!/usr/bin/env bash
# Produce the golden files from real PyTorch 2.13.0 on CPU: this CPU's set in tests/golden/<oneMKL path>/<family>/
# (intel-path or stock; avx512 or avx2, see README.md) and the CPU-independent tests/golden/pyfmt_cases.txt.
#
#   tools/reference/run.sh                          all three notebooks (15 epochs) + parity_details, pyfmt, init_zoo
#   tools/reference/run.sh lab09_3_mnist_nn_xavier  one notebook only
#   tools/reference/run.sh parity_details           parity_details.json only
#   tools/reference/run.sh lab09_2_mnist_nn --epochs 1   quick trial: prints, writes nothing
#
# Idempotent: the venv (tools/reference/.venv, 4.5 GB with torch's CUDA wheels) is made and filled once.
# Environment: PYTHON (default python3), INITLAB_MKL_DISPATCH=stock|intel-path (default stock: PyTorch as installed;
# intel-path preloads the one-function MKL dispatch shim, README.md), INITLAB_GOLDEN_DIR (default
# tests/golden/<oneMKL path>/<kernel family of this CPU>; relative to the repository root) for the CPU-dependent
# files, INITLAB_WHEELS (default ~/.cache/initlab/wheels) a folder of wheels pip may take first.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"

# ---- venv + pinned packages (skipped when the requirements file is unchanged and torch imports)
if [ ! -x "$PY" ]; then
    echo "run.sh: creating $VENV" >&2
    "${PYTHON:-python3}" -m venv "$VENV"
fi
STAMP="$VENV/.initlab-requirements.sha256"
WANT="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ] || ! "$PY" -c 'import torch, torchvision' 2>/dev/null; then
    echo "run.sh: pip install -r requirements.txt (torch pulls ~3.5 GB of wheels)" >&2
    # torch's PyPI wheel needs its CUDA wheels even on CPU (libtorch.so links libtorch_cuda.so, which links cuBLAS,
    # cuDNN, ...), so there is no smaller install that imports; the wheel cache of scripts/setup-libtorch.sh is
    # offered to pip as an extra source
    WHEELS="${INITLAB_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/initlab/wheels}"
    FIND=()
    if [ -d "$WHEELS" ]; then FIND=(--find-links "$WHEELS"); fi
    "$PY" -m pip install --disable-pip-version-check -q "${FIND[@]}" -r "$HERE/requirements.txt"
    echo "$WANT" > "$STAMP"
fi

# ---- oneMKL's dispatch, as initlab's INITLAB_MKL_DISPATCH: `stock` runs PyTorch as installed (on an AMD CPU MKL
# takes its non-Intel path, whose kernels round differently); `intel-path` preloads a one-function library telling
# MKL it runs on an Intel CPU, so it picks its kernels by the CPU's features (cpuid) as on Intel. The same on Intel.
DISPATCH="${INITLAB_MKL_DISPATCH:-stock}"
case "$DISPATCH" in
    stock) ;;
    intel-path)
        SHIM="$VENV/lib/libinitlab_mkl_intel.so"
        if [ ! -f "$SHIM" ]; then
            if ! command -v "${CC:-cc}" >/dev/null 2>&1; then
                echo "run.sh: INITLAB_MKL_DISPATCH=intel-path needs a C compiler (cc) for the MKL dispatch shim" >&2
                exit 1
            fi
            printf 'int mkl_serv_intel_cpu_true(void) { return 1; }\n' > "$VENV/lib/initlab_mkl_intel.c"
            "${CC:-cc}" -shared -fPIC -O2 -o "$SHIM" "$VENV/lib/initlab_mkl_intel.c"
        fi
        export LD_PRELOAD="$SHIM${LD_PRELOAD:+:$LD_PRELOAD}"
        ;;
    *)
        echo "run.sh: INITLAB_MKL_DISPATCH=$DISPATCH: expected stock or intel-path" >&2
        exit 2
        ;;
esac

# the golden files were made on 2 cores; pin the thread count so bigger machines compute the same way
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
# idle OpenMP threads sleep instead of spinning: the same bytes (notebook 9-2 compared); on a shared, loaded 2-core
# machine 9-2 took 149 s this way and 887 s spinning (two runs at different moments)
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export PYTHONDONTWRITEBYTECODE=1

# ---- which golden set: oneMKL's path (intel-path on an Intel CPU or with the shim, else stock) and the kernel family
# of this CPU, from scripts/golden-set.sh (its `family` and `intel`): the same rules as initlab::base::parity::mkl
# (Rust) and lab_notebooks.py (Python, which asks MKL itself).
. "$REPO/scripts/golden-set.sh"
FAMILY=$family
PATHNAME=stock
if [ "$DISPATCH" = intel-path ] || [ "$intel" = yes ]; then
    PATHNAME=intel-path
fi
export INITLAB_GOLDEN_DIR="${INITLAB_GOLDEN_DIR:-tests/golden/$PATHNAME/$FAMILY}"
echo "run.sh: dispatch $DISPATCH, golden set $PATHNAME/$FAMILY, CPU-dependent golden files go to $INITLAB_GOLDEN_DIR" >&2

cd "$REPO"
mkdir -p tests/golden "$INITLAB_GOLDEN_DIR"
case "${1:-all}" in
    all)
        shift || true
        "$PY" "$HERE/lab_notebooks.py" "$@"
        "$PY" "$HERE/parity_details.py"
        "$PY" "$HERE/pyfmt_cases.py"
        "$PY" "$HERE/init_zoo.py"
        ;;
    init_zoo)
        "$PY" "$HERE/init_zoo.py"
        ;;
    pyfmt_cases)
        "$PY" "$HERE/pyfmt_cases.py"
        ;;
    parity_details)
        shift
        "$PY" "$HERE/parity_details.py" "$@"
        ;;
    *)
        "$PY" "$HERE/lab_notebooks.py" "$@"
        ;;
esac
