#!/usr/bin/env bash
# make parity: run the three notebook examples (release) and compare their output with what
# PyTorch 2.13 printed on a CPU of the same kernel family (tests/golden/<family>/<example>.txt,
# made by tools/reference/run.sh). Exits non-zero on the first example that differs, printing the
# first differing line, and when this CPU's family has no golden set.
set -euo pipefail
cd "$(dirname "$0")/.."

# The kernel family, hence the golden set: oneMKL (with initlab's vendor override) and ATen pick
# their kernels by the CPU's instruction sets, and the AVX-512 and AVX2 kernels round differently.
# Same rule as initlab::mkl::kernel_family (Rust) and tools/reference/run.sh:
# avx512f -> avx512, else avx2 -> avx2, else other.
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    family=avx512
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    family=avx2
else
    family=other
fi
goldens="tests/golden/$family"

examples=(${PARITY_EXAMPLES:-lab09_2_mnist_nn lab09_3_mnist_nn_xavier lab09_4_mnist_nn_deep})
for ex in "${examples[@]}"; do
    if [ ! -f "$goldens/$ex.txt" ]; then
        echo "parity: no golden file $goldens/$ex.txt for this CPU's kernel family ($family)." >&2
        echo "  PyTorch's numbers depend on the CPU's kernels; make the set with real PyTorch 2.13 on such a CPU:" >&2
        echo "  INITLAB_GOLDEN_DIR=$goldens tools/reference/run.sh   (tools/reference/README.md)" >&2
        exit 1
    fi
done

cargo build --release --quiet --examples
status=0
for ex in "${examples[@]}"; do
    golden="$goldens/$ex.txt"
    out=$(mktemp)
    start=$(date +%s.%N)
    if ! "./target/release/examples/$ex" > "$out"; then
        echo "parity: $ex failed to run" >&2
        status=1
        continue
    fi
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if cmp -s "$out" "$golden"; then
        echo "parity: $ex: identical to PyTorch 2.13 ($family kernels, $(wc -l < "$golden") lines, ${secs} s)"
    else
        line=$(cmp "$out" "$golden" | sed -E 's/.* line ([0-9]+).*/\1/' || true)
        [ -n "$line" ] || line=$(( $(wc -l < "$out") + 1 ))
        echo "parity: $ex DIFFERS from $golden ($family kernels), first at line $line:" >&2
        echo "  initlab: $(sed -n "${line}p" "$out")" >&2
        echo "  PyTorch: $(sed -n "${line}p" "$golden")" >&2
        status=1
    fi
    rm -f "$out"
done
exit $status
