#!/usr/bin/env bash
# make compare-python: one notebook of the lab in your own Python (PyTorch 2.13.0) and its Rust port
# (the example of the same name) on this machine, printed side by side with the first differing
# line marked. Exit 0 only when the two outputs are identical, 1 when they differ, 2 on bad usage.
#
#   scripts/compare-python.sh [--python PATH] [NOTEBOOK ...]
#   make compare-python [PYTHON=PATH] [NOTEBOOK="lab09_2_mnist_nn lab09_4_mnist_nn_deep"]
#
# NOTEBOOK: lab09_2_mnist_nn, lab09_3_mnist_nn_xavier (default), lab09_4_mnist_nn_deep, or all.
# The Python: --python, else $PYTHON, else the reference venv tools/reference/.venv (made by
# tools/reference/run.sh), else python3; it needs torch 2.13.0 and torchvision (0.28.0).
# Both sides run with the same OMP_NUM_THREADS (default: this machine's CPUs) and the same oneMKL
# dispatch: INITLAB_MKL_DISPATCH=stock (default) runs your PyTorch as installed; intel-path preloads
# into it the one-function library that puts oneMKL on its Intel path (built here with cc), as
# initlab does for itself (src/base/parity/mkl.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
python="${PYTHON:-}"
notebooks=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --python) [ $# -ge 2 ] || { echo "compare-python: --python needs a path" >&2; exit 2; }
                  python="$2"; shift 2 ;;
        --python=*) python="${1#--python=}"; shift ;;
        -*) echo "compare-python: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) notebooks+=("$1"); shift ;;
    esac
done
known=(lab09_2_mnist_nn lab09_3_mnist_nn_xavier lab09_4_mnist_nn_deep)
if [ ${#notebooks[@]} -eq 0 ]; then notebooks=(${NOTEBOOK:-lab09_3_mnist_nn_xavier}); fi
if [ "${notebooks[*]}" = all ]; then notebooks=("${known[@]}"); fi
for nb in "${notebooks[@]}"; do
    case " ${known[*]} " in
        *" $nb "*) ;;
        *) echo "compare-python: unknown notebook $nb; known: ${known[*]} (or all)" >&2; exit 2 ;;
    esac
done

if [ -z "$python" ]; then
    if [ -x tools/reference/.venv/bin/python ]; then python=tools/reference/.venv/bin/python; else python=python3; fi
fi
if ! command -v "$python" >/dev/null 2>&1; then
    echo "compare-python: no Python at $python; pass --python PATH (or PYTHON=PATH)" >&2
    exit 2
fi
version=$("$python" -c 'import torch, torchvision; print(torch.__version__.split("+")[0])' 2>/dev/null) || {
    echo "compare-python: $python cannot import torch and torchvision." >&2
    echo "  install them (pip install torch==2.13.0 torchvision==0.28.0), or let tools/reference/run.sh make its venv" >&2
    exit 2
}
if [ "$version" != 2.13.0 ]; then
    echo "compare-python: $python has PyTorch $version; the lab's numbers are PyTorch 2.13.0's (other versions draw and round differently)" >&2
    exit 2
fi

dispatch="${INITLAB_MKL_DISPATCH:-stock}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
preload=""
case "$dispatch" in
    stock) ;;
    intel-path)
        printf 'int mkl_serv_intel_cpu_true(void) { return 1; }\n' > "$work/shim.c"
        "${CC:-cc}" -shared -fPIC -O2 -o "$work/libmkl_intel_path.so" "$work/shim.c" || {
            echo "compare-python: INITLAB_MKL_DISPATCH=intel-path needs a C compiler (cc) for the preloaded library" >&2
            exit 2
        }
        preload="$work/libmkl_intel_path.so"
        ;;
    *) echo "compare-python: INITLAB_MKL_DISPATCH=$dispatch: expected stock or intel-path" >&2; exit 2 ;;
esac
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(nproc)}"
export INITLAB_MKL_DISPATCH="$dispatch"

cargo build --release --quiet --examples
status=0
for nb in "${notebooks[@]}"; do
    echo "== $nb: $python (PyTorch $version) and examples/$nb.rs, $OMP_NUM_THREADS threads, oneMKL dispatch $dispatch" >&2
    env ${preload:+LD_PRELOAD="$preload"} "$python" tools/reference/lab_notebooks.py "$nb" --print-only \
        > "$work/python.txt" 2> "$work/python.err" || {
        echo "compare-python: the notebook failed in Python:" >&2
        cat "$work/python.err" >&2
        exit 1
    }
    "./target/release/examples/$nb" > "$work/rust.txt"
    # Side by side: line number, Python's line, Rust's line; `>>` marks the first difference.
    awk -v width=62 '
        NR == FNR { py[FNR] = $0; n = FNR; next }
        { rs[FNR] = $0; if (FNR > n) n = FNR }
        END {
            printf "   %4s  %-*s | %s\n", "line", width, "Python (PyTorch)", "Rust (initlab)"
            for (i = 1; i <= n; i++) {
                mark = "  "
                if (!first && py[i] != rs[i]) { mark = ">>"; first = i }
                printf "%s %4d  %-*s | %s\n", mark, i, width, substr(py[i], 1, width), substr(rs[i], 1, width)
            }
            if (first) {
                printf "first difference at line %d:\n  Python: %s\n  Rust:   %s\n", first, py[first], rs[first]
                exit 1
            }
        }' "$work/python.txt" "$work/rust.txt" || status=1
    if cmp -s "$work/python.txt" "$work/rust.txt"; then
        echo "$nb: identical ($(wc -l < "$work/rust.txt") lines)"
    else
        echo "$nb: DIFFERENT" >&2
        status=1
    fi
done
exit $status
