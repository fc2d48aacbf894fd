#!/usr/bin/env bash
# make parity: run the three notebook examples (release) and compare their output with what
# PyTorch 2.13 printed on a CPU of the same kernel family (tests/golden/<family>/<example>.txt,
# made by tools/reference/run.sh). Exits non-zero when an example differs, printing the first
# differing line, and when this CPU's family has no golden set.
#
# An AVX-512 CPU also checks the avx2 set: with ATen's kernels limited to AVX2
# (ATEN_CPU_CAPABILITY=avx2) and oneMKL's too (MKL_ENABLE_INSTRUCTIONS=AVX2), it computes what an
# AVX2-only CPU computes (checked: all three examples identical to tests/golden/avx2 on an Intel
# Xeon with AVX-512). PARITY_FAMILIES=avx512 (or avx2) checks one family only.
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

# The families to check, each with the environment that makes this CPU compute like it.
declare -A limit=([avx512]="" [avx2]="ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2")
families=("$family")
if [ "$family" = avx512 ] && [ -d tests/golden/avx2 ]; then
    families+=(avx2)
fi
if [ -n "${PARITY_FAMILIES:-}" ]; then
    families=(${PARITY_FAMILIES})
fi

examples=(${PARITY_EXAMPLES:-lab09_2_mnist_nn lab09_3_mnist_nn_xavier lab09_4_mnist_nn_deep})
for fam in "${families[@]}"; do
    for ex in "${examples[@]}"; do
        if [ ! -f "tests/golden/$fam/$ex.txt" ]; then
            echo "parity: no golden file tests/golden/$fam/$ex.txt for the kernel family $fam." >&2
            echo "  PyTorch's numbers depend on the CPU's kernels; make the set with real PyTorch 2.13 on such a CPU:" >&2
            echo "  INITLAB_GOLDEN_DIR=tests/golden/$fam tools/reference/run.sh   (tools/reference/README.md)" >&2
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
for fam in "${families[@]}"; do
    how=$fam
    [ "$fam" = "$family" ] || how="$fam kernels on this $family CPU: ${limit[$fam]}"
    for ex in "${examples[@]}"; do
        golden="tests/golden/$fam/$ex.txt"
        out=$(mktemp)
        start=$(date +%s.%N)
        if ! env ${limit[$fam]} "./target/release/examples/$ex" > "$out"; then
            echo "parity: $ex failed to run ($how)" >&2
            status=1
            rm -f "$out"
            continue
        fi
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        if ! cmp -s "$out" "$golden" && first_differs "$out" "$golden" \
            && env ${limit[$fam]} "./target/release/examples/$ex" > "$out" && cmp -s "$out" "$golden"; then
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
