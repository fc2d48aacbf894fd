#!/usr/bin/env bash
# make parity: run the three notebook examples (release) and compare their output with what
# PyTorch 2.13 printed (tests/golden/<example>.txt, made by tools/reference/run.sh).
# Exits non-zero on the first example that differs, printing the first differing line.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=(${PARITY_EXAMPLES:-lab09_2_mnist_nn lab09_3_mnist_nn_xavier lab09_4_mnist_nn_deep})
cargo build --release --quiet --examples
status=0
for ex in "${examples[@]}"; do
    golden="tests/golden/$ex.txt"
    out=$(mktemp)
    start=$(date +%s.%N)
    if ! "./target/release/examples/$ex" > "$out"; then
        echo "parity: $ex failed to run" >&2
        status=1
        continue
    fi
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if cmp -s "$out" "$golden"; then
        echo "parity: $ex: identical to PyTorch 2.13 ($(wc -l < "$golden") lines, ${secs} s)"
    else
        line=$(cmp "$out" "$golden" | sed -E 's/.* line ([0-9]+).*/\1/' || true)
        [ -n "$line" ] || line=$(( $(wc -l < "$out") + 1 ))
        echo "parity: $ex DIFFERS from $golden, first at line $line:" >&2
        echo "  initlab: $(sed -n "${line}p" "$out")" >&2
        echo "  PyTorch: $(sed -n "${line}p" "$golden")" >&2
        status=1
    fi
    rm -f "$out"
done
exit $status
