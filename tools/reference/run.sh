#!/usr/bin/env bash
# Produce the golden files in tests/golden/ from real PyTorch 2.13.0 on CPU.
#
#   tools/reference/run.sh                          all three notebooks (15 epochs) + parity_details.json
#   tools/reference/run.sh lab09_3_mnist_nn_xavier  one notebook only
#   tools/reference/run.sh parity_details           parity_details.json only
#   tools/reference/run.sh lab09_2_mnist_nn --epochs 1   quick trial: prints, writes nothing
#
# Idempotent: the venv (tools/reference/.venv, ~5 GB with torch's CUDA wheels) is made and filled once.
# Environment: PYTHON (default python3), INITLAB_REF_NO_MKL_SHIM=1 to skip the MKL dispatch shim (README.md).
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
    "$PY" -m pip install --disable-pip-version-check -q -r "$HERE/requirements.txt"
    echo "$WANT" > "$STAMP"
fi

# ---- MKL dispatch shim: MKL (inside libtorch_cpu) gives non-Intel CPUs a generic sgemm kernel whose rounding
# differs from its AVX-512 kernel; the golden numbers are those of the AVX-512 path. This one-function library,
# preloaded, tells MKL it runs on an Intel CPU; it then picks its kernel by the CPU's features (cpuid) as on Intel.
# On an Intel CPU it changes nothing.
if [ "${INITLAB_REF_NO_MKL_SHIM:-0}" != 1 ]; then
    SHIM="$VENV/lib/libinitlab_mkl_intel.so"
    if [ ! -f "$SHIM" ]; then
        if command -v "${CC:-cc}" >/dev/null 2>&1; then
            printf 'int mkl_serv_intel_cpu_true(void) { return 1; }\n' > "$VENV/lib/initlab_mkl_intel.c"
            "${CC:-cc}" -shared -fPIC -O2 -o "$SHIM" "$VENV/lib/initlab_mkl_intel.c"
        else
            echo "run.sh: WARNING: no C compiler, running without the MKL dispatch shim" >&2
        fi
    fi
    if [ -f "$SHIM" ]; then
        export LD_PRELOAD="$SHIM${LD_PRELOAD:+:$LD_PRELOAD}"
    fi
fi

# the golden files were made on 2 cores; pin the thread count so bigger machines compute the same way
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export PYTHONDONTWRITEBYTECODE=1

cd "$REPO"
mkdir -p tests/golden
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
