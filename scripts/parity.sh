#!/usr/bin/env bash
# make parity: run the three notebook examples (release) and compare their output with what
# PyTorch 2.13 printed on a CPU of the same kind: tests/golden/<oneMKL path>/<kernel family>/
# <example>.txt, made by tools/reference/run.sh. Exits non-zero when an example differs, printing
# the first differing line, and when a set to check is missing.
#
# What is checked, each under the environment that makes this CPU compute like it:
# - every oneMKL dispatch this CPU can tell apart (INITLAB_MKL_DISPATCH): on an Intel CPU both
#   take oneMKL's Intel path (one check, set intel-path/<family>); on another CPU `stock`
#   (set stock/<family>, what stock PyTorch from PyPI prints there) and `intel-path`;
# - on an AVX-512 CPU also the avx2 family of the Intel path: with ATen's kernels limited to AVX2
#   (ATEN_CPU_CAPABILITY=avx2) and oneMKL's too (MKL_ENABLE_INSTRUCTIONS=AVX2) it computes what an
#   AVX2-only CPU computes (checked: all three examples identical to tests/golden/intel-path/avx2
#   on an Intel Xeon with AVX-512).
# PARITY_SETS="intel-path/avx512 …" checks those sets only; PARITY_EXAMPLES the examples.
set -euo pipefail
cd "$(dirname "$0")/.."

# This CPU's kernel family ($family), vendor ($intel) and the set of its stock dispatch ($stock_set).
source scripts/golden-set.sh

# The sets to check, each with the environment that makes this CPU compute like it.
declare -A env_of=()
sets=()
add() { sets+=("$1"); env_of[$1]="$2"; }
add "$stock_set" "INITLAB_MKL_DISPATCH=stock"
if [ "$intel" = no ]; then
    add "intel-path/$family" "INITLAB_MKL_DISPATCH=intel-path"
fi
if [ "$family" = avx512 ]; then
    add "intel-path/avx2" "INITLAB_MKL_DISPATCH=intel-path ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2"
fi
if [ -n "${PARITY_SETS:-}" ]; then
    wanted=(${PARITY_SETS})
    for s in "${wanted[@]}"; do
        if [ -z "${env_of[$s]:-}" ]; then
            echo "parity: PARITY_SETS names $s, which this CPU cannot check (it can: ${sets[*]})" >&2
            exit 2
        fi
    done
    sets=("${wanted[@]}")
fi

examples=(${PARITY_EXAMPLES:-lab09_2_mnist_nn lab09_3_mnist_nn_xavier lab09_4_mnist_nn_deep})
for set in "${sets[@]}"; do
    for ex in "${examples[@]}"; do
        if [ ! -f "tests/golden/$set/$ex.txt" ]; then
            dispatch=${set%%/*}
            echo "parity: no golden file tests/golden/$set/$ex.txt." >&2
            echo "  PyTorch's numbers depend on oneMKL's path and the CPU's kernels; make the set with real PyTorch 2.13" >&2
            echo "  on this CPU: INITLAB_MKL_DISPATCH=$dispatch tools/reference/run.sh   (tools/reference/README.md)" >&2
            exit 1
        fi
    done
done

# Remembers where `$1` first differs from `$2` in $first (always true: for use in a condition).
first_differs() {
    local line
    line=$(cmp "$1" "$2" | sed -E 's/.* line ([0-9]+).*/\1/' || true)
    [ -n "$line" ] || line=$(( $(wc -l < "$1") + 1 ))
    first="line $line: initlab \"$(sed -n "${line}p" "$1")\", PyTorch \"$(sed -n "${line}p" "$2")\""
}

cargo build --release --quiet --examples
status=0
for set in "${sets[@]}"; do
    how="$set: ${env_of[$set]}"
    for ex in "${examples[@]}"; do
        golden="tests/golden/$set/$ex.txt"
        out=$(mktemp)
        start=$(date +%s.%N)
        if ! env ${env_of[$set]} "./target/release/examples/$ex" > "$out"; then
            echo "parity: $ex failed to run ($how)" >&2
            status=1
            rm -f "$out"
            continue
        fi
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        if ! cmp -s "$out" "$golden" && first_differs "$out" "$golden" \
            && env ${env_of[$set]} "./target/release/examples/$ex" > "$out" && cmp -s "$out" "$golden"; then
            # Seen on an Intel Xeon (2 of ~15 runs of lab09_4, the same other value both times, cause
            # unknown): said loudly, and a second difference fails.
            echo "parity: WARNING: $ex differed on its first run ($how): $first; identical on a second run: not deterministic on this machine" >&2
        fi
        if cmp -s "$out" "$golden"; then
            echo "parity: $ex: identical to PyTorch 2.13 ($how, $(wc -l < "$golden") lines, ${secs} s)"
        else
            line=$(cmp "$out" "$golden" | sed -E 's/.* line ([0-9]+).*/\1/' || true)
            [ -n "$line" ] || line=$(( $(wc -l < "$out") + 1 ))
            echo "parity: $ex DIFFERS from $golden ($how), first at line $line:" >&2
            echo "  initlab: $(sed -n "${line}p" "$out")" >&2
            echo "  PyTorch: $(sed -n "${line}p" "$golden")" >&2
            status=1
        fi
        rm -f "$out"
    done
done
exit $status
