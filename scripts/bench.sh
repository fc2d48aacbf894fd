#!/usr/bin/env bash
# `make bench`: every speed and memory ratio of the project's performance goals in one run, with
# PyTorch 2.13 and scikit-learn side by side when the reference venv (tools/reference/.venv, made by
# `make reference`) or a python3 with torch / sklearn is found.
#
#   1. bench_training: seconds per epoch, GFLOP/s, the deep net's training GFLOP/s over the best of
#      at least 5 sgemm samples taken between the epochs, checkpoint and monitor costs;
#   2. whole processes, 5 epochs (EPOCHS), best of REPS (default 2) runs taken in turn: `initlab
#      train` (as a user runs it: run directory, charts, TensorBoard, dynamics monitor) against
#      scripts/bench_pytorch.py (PyTorch with the data preloaded as tensors; oneMKL under the same
#      dispatch as initlab, INITLAB_MKL_DISPATCH: stock by default, intel-path through a preloaded
#      library), shallow and deep; the peak resident memory of `initlab train` shallow;
#   3. bench_rbm: an RBM 784-512 epoch against scikit-learn's BernoulliRBM;
#   4. scripts/bench-busy.sh: epochs on a busy machine, initlab's libgomp wait setting against
#      libgomp's default (BUSY=0 skips it).
#
# Then a table of the ratios against the goals. Nothing here is a pass/fail test: the numbers
# depend on the machine and on what else runs on it (run it on a quiet machine).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
EPOCHS="${EPOCHS:-5}"
REPS="${REPS:-2}"
CARGO="${CARGO:-cargo}"
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench.sh: GNU time (/usr/bin/time) is needed: apt-get install time" >&2; exit 1; }

"$CARGO" build --release --bin initlab --example bench_training --example bench_rbm
work="$(mktemp -d "${TMPDIR:-/tmp}/initlab-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "=== 1. training in one process (cargo run --release --example bench_training -- all 3)"
./target/release/examples/bench_training all 3 | tee "$work/training.txt"

py=""
for p in tools/reference/.venv/bin/python python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' >/dev/null 2>&1; then py="$p"; break; fi
done
# PyTorch runs under initlab's oneMKL dispatch: as installed for `stock` (the default), with the
# one-function library that puts oneMKL on its Intel path preloaded for `intel-path`.
dispatch="${INITLAB_MKL_DISPATCH:-stock}"
export INITLAB_MKL_DISPATCH="$dispatch"
preload=""
if [ -n "$py" ] && [ "$dispatch" = intel-path ]; then
    preload="$work/libmkl_intel_path.so"
    printf 'int mkl_serv_intel_cpu_true(void) { return 1; }\n' | "${CC:-cc}" -shared -fPIC -x c -o "$preload" -
fi
echo "oneMKL dispatch: $dispatch (INITLAB_MKL_DISPATCH), for initlab and PyTorch alike"

# seconds and peak KiB of one command: "SECONDS KIB"
measure() {
    local out="$1"; shift
    "$TIME" -f "%e %M" -o "$out" "$@" >/dev/null 2>"$out.err" || {
        echo "bench.sh: failed: $*" >&2; cat "$out.err" >&2; return 1; }
    cat "$out"
}
best() { sort -g | head -1; }

echo
echo "=== 2. whole processes, $EPOCHS epochs, best of $REPS, taken in turn"
declare -A secs
for net in shallow deep; do
    : > "$work/i-$net"; : > "$work/p-$net"; : > "$work/m-$net"
    for r in $(seq "$REPS"); do
        read -r s k < <(measure "$work/t" ./target/release/initlab train -q --model "$net" --epochs "$EPOCHS" --out "$work/runs-$r")
        echo "$s" >> "$work/i-$net"; echo "$k" >> "$work/m-$net"
        echo "  initlab train --model $net --epochs $EPOCHS: $s s, peak $((k / 1024)) MiB"
        rm -rf "$work/runs-$r"
        if [ -n "$py" ]; then
            read -r s k < <(LD_PRELOAD="$preload" measure "$work/t" "$py" scripts/bench_pytorch.py "$net" "$EPOCHS")
            echo "$s" >> "$work/p-$net"
            echo "  PyTorch $("$py" -c 'import torch; print(torch.__version__)') scripts/bench_pytorch.py $net $EPOCHS${preload:+ (LD_PRELOAD=$preload)}: $s s, peak $((k / 1024)) MiB"
        fi
    done
    secs[i-$net]="$(best < "$work/i-$net")"
    [ -n "$py" ] && secs[p-$net]="$(best < "$work/p-$net")"
done
mem_kib="$(sort -g "$work/m-shallow" | head -1)"

echo
echo "=== 3. RBM epoch (cargo run --release --example bench_rbm)"
./target/release/examples/bench_rbm | tee "$work/rbm.txt"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
meets() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { if (v == "n/a") print "no reference"; else if ((op == "<=" && v <= g) || (op == ">=" && v >= g)) print "met"; else print "NOT met" }'; }
gf="$(sed -n 's/^RATIO deep-gflops-over-sgemm \([0-9.]*\).*/\1/p' "$work/training.txt")"
rbm="$(sed -n 's|^ratio scikit-learn / initlab: \([0-9.]*\)×.*|\1|p' "$work/rbm.txt")"
sh="n/a"; dp="n/a"
if [ -n "$py" ]; then
    sh="$(ratio "${secs[i-shallow]}" "${secs[p-shallow]}")"
    dp="$(ratio "${secs[i-deep]}" "${secs[p-deep]}")"
fi
mib="$(awk -v k="$mem_kib" 'BEGIN { printf "%.0f", k / 1024 }')"
echo
echo "=== summary ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(date -u +%Y-%m-%d))"
echo "| measure | now | goal | |"
echo "|---|---:|---:|---|"
echo "| whole process, $EPOCHS epochs, initlab / PyTorch — shallow | $sh | ≤ 0.6 | $(meets "$sh" "<=" 0.6) |"
echo "| the same — deep 784-512×4-10 | $dp | ≤ 0.7 | $(meets "$dp" "<=" 0.7) |"
echo "| deep net's training GFLOP/s / best sgemm GFLOP/s | ${gf:-n/a} | ≥ 0.5 | $(meets "${gf:-n/a}" ">=" 0.5) |"
echo "| peak resident memory, initlab train shallow (MiB) | $mib | ≤ 400 | $(meets "$mib" "<=" 400) |"
echo "| RBM 784-512 epoch, scikit-learn / initlab | ${rbm:-n/a} | ≥ 3 | $(meets "${rbm:-n/a}" ">=" 3) |"

# 4. a busy machine: the same epochs beside two `yes` and two other trainings (BUSY=0 skips it)
if [ "${BUSY:-1}" != 0 ]; then
    echo
    scripts/bench-busy.sh
fi
