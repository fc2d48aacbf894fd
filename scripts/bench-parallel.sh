#!/usr/bin/env bash
# Runs per hour of a multi-seed plan on this machine: one run at a time using every core
# (`--jobs 1`: libtorch's intra-op threads = cores), against J runs at once in worker processes
# with cores/J threads each (`--jobs J`).
#
# Usage: scripts/bench-parallel.sh [shallow|deep|all] [epochs] [runs] [repeats] [jobs]
#   (default: all, 3 epochs, 4 runs, 2 repeats, jobs = 2)
#
# The plan is `initlab compare --inits xavier-uniform --seeds <runs>`: the net with Xavier init
# on all 60,000 images, one run per seed, into a fresh output folder each time (nothing cached),
# charts and summary included. With BENCH_MODE=processes in the environment it times bare
# `initlab train` processes instead, started by xargs -P with OMP_NUM_THREADS set: the same
# question without the executor.
# Every configuration is timed `repeats` times, the two taking turns; the best (shortest) wall time
# is reported, since on a shared machine the noise only ever adds time. OMP_WAIT_POLICY=PASSIVE unless set (GNU
# OpenMP's spin-waiting costs a lot when the cores are shared; see build-notes.md).
set -euo pipefail
cd "$(dirname "$0")/.."

which=${1:-all}
epochs=${2:-3}
runs=${3:-4}
repeats=${4:-2}
jobs=${5:-2}
mode=${BENCH_MODE:-plan}
cores=$(nproc)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
# Every thread count here is set by the script (or by --jobs), not inherited.
unset OMP_NUM_THREADS MKL_NUM_THREADS
bin=./target/release/initlab
[ -x "$bin" ] || cargo build --release --quiet

case $which in
    shallow | deep) models=("$which") ;;
    all) models=(shallow deep) ;;
    *) echo "bench-parallel: unknown model $which (shallow, deep or all)" >&2; exit 2 ;;
esac
if [ "$jobs" -lt 2 ] || [ "$jobs" -gt "$cores" ]; then
    echo "bench-parallel: jobs must be from 2 to the $cores cores" >&2
    exit 2
fi
threads=$(( cores / jobs ))

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One run as a bare process: train <model> <seed> <threads> <out>.
train() {
    OMP_NUM_THREADS=$3 "$bin" train -q --model "$1" --init xavier-uniform --epochs "$epochs" \
        --seed "$2" --out "$4" --name "seed-$2" > /dev/null
}
export -f train
export bin epochs

# One plan: $1 = model, $2 = runs at once, $3 = threads each.
plan() {
    if [ "$mode" = processes ]; then
        seq "$runs" | xargs -P "$2" -I{} bash -c 'train "$0" {} "$1" "$2"' "$1" "$3" "$work/out"
    else
        "$bin" compare -q --model "$1" --inits xavier-uniform --epochs "$epochs" --seed 1 \
            --seeds "$runs" --jobs "$2" --out "$work/out" > /dev/null
    fi
}

# Wall seconds of one plan; $1 = model, $2 = runs at once, $3 = threads each.
timed() {
    local start secs
    rm -rf "$work/out"
    start=$(date +%s.%N)
    plan "$1" "$2" "$3"
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    echo "  $1, $2 at a time × $3 thread(s), try $k: $secs s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    echo "$secs"
}

# The shorter of two times.
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }

echo "$cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg) at the start; $runs runs of $epochs epochs per plan ($mode), best of $repeats"
printf '%-8s %-26s %10s %10s\n' model plan "wall s" "runs/hour"
for m in "${models[@]}"; do
    # The two configurations take turns, so that a change in the machine's load hits both.
    seq_s="" par_s=""
    for k in $(seq "$repeats"); do
        seq_s=$(min "$(timed "$m" 1 "$cores")" "$seq_s")
        par_s=$(min "$(timed "$m" "$jobs" "$threads")" "$par_s")
    done
    printf '%-8s %-26s %10s %10.0f\n' "$m" "1 at a time × $cores threads" "$seq_s" \
        "$(awk -v n="$runs" -v s="$seq_s" 'BEGIN { print n * 3600 / s }')"
    printf '%-8s %-26s %10s %10.0f\n' "$m" "$jobs at a time × $threads thread(s)" "$par_s" \
        "$(awk -v n="$runs" -v s="$par_s" 'BEGIN { print n * 3600 / s }')"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
