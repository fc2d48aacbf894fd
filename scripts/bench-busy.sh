#!/usr/bin/env bash
# `make bench-busy` (also the last part of `make bench`): how initlab's epochs keep their speed on a
# busy machine. One shallow epoch and one deep epoch (20,000 images, `initlab train`) and one RBM
# epoch (784-500 CD-1 on 10,000 images, `initlab pretrain`), each REPS (3) times, in three
# conditions:
#   quiet     nothing else running;
#   yes       beside two `yes > /dev/null` (two busy processes, one per core of a 2-core machine);
#   trainings beside two other two-thread trainings (`initlab train --model deep --no-cache` in a
#             loop, started with the same setting as the measured run: two more initlab processes).
# under two libgomp settings:
#   initlab   what initlab sets for itself when the user set neither OMP_WAIT_POLICY nor
#             GOMP_SPINCOUNT: a short spin, and its OpenMP threads pinned a CPU each
#             (src/base/waits.rs; INITLAB_BIND_THREADS=0 as a setting measures the spin alone);
#   spin      libgomp's own default (GOMP_SPINCOUNT=300000 spin iterations), i.e. before initlab
#             chose (SETTINGS=… may name other `VAR=value` settings, comma-separated).
# Prints the median seconds per epoch of each cell, then the ratio busy / quiet against the goals
# of issue 21 (shallow epoch: ≤ 2.5× beside two `yes`, ≤ 4× beside two trainings, and the quiet
# epoch no slower than libgomp's default). Timings: run it on an otherwise quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/initlab}
REPS=${REPS:-3}
SETTINGS=${SETTINGS:-initlab,GOMP_SPINCOUNT=300000}
[ -x "$BIN" ] || { echo "error: $BIN not found: run \`cargo build --release\` first" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/initlab-bench-busy.XXXXXX")
helpers=()
stop_helpers() {
    for p in "${helpers[@]:-}"; do [ -n "$p" ] && kill -- "-$p" 2>/dev/null || true; done
    helpers=()
    wait 2>/dev/null || true
}
trap 'stop_helpers; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# env for a setting label: `initlab` → nothing (initlab chooses), `VAR=value` → that.
setting_env() { [ "$1" = initlab ] && echo "INITLAB_BENCH=1" || echo "$1"; }

# seconds of one epoch: "shallow" | "deep" | "rbm" under setting $2
epoch() {
    local kind=$1 env dir
    env=$(setting_env "$2")
    dir=$(mktemp -d "$work/run.XXXX")
    case $kind in
    shallow | deep)
        env "$env" "$BIN" train -q --model "$kind" --epochs 1 --train-limit 20000 --monitor-every 0 \
            --out "$dir" --force 2>&1 | grep -oE '[0-9.]+ s per epoch' | head -1 | cut -d' ' -f1 ;;
    rbm)
        env "$env" "$BIN" pretrain -q --widths 784,500 --epochs 1 --train-limit 10000 --out "$dir" \
            >/dev/null 2>&1
        awk -F'|' '/^\| 1 \|/ { gsub(/ /, "", $6); print $6 }' "$dir/pretrain.md" ;;
    esac
    rm -rf "$dir"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cell() { local i; for ((i = 0; i < REPS; i++)); do epoch "$1" "$2"; done | median; }

start_load() {
    local condition=$1 env
    env=$(setting_env "$2")
    case $condition in
    yes)
        for _ in 1 2; do setsid yes >/dev/null & helpers+=($!); done ;;
    trainings)
        for i in 1 2; do
            setsid bash -c "while :; do env '$env' '$BIN' train -q --model deep --epochs 1 \
                --train-limit 20000 --monitor-every 0 --out '$work/load$i' --force --no-cache >/dev/null 2>&1; done" &
            helpers+=($!)
        done ;;
    esac
    [ "$condition" = quiet ] || sleep 3
}

declare -A T
IFS=, read -ra settings <<<"$SETTINGS"
for s in "${settings[@]}"; do
    for condition in quiet yes trainings; do
        start_load "$condition" "$s"
        for kind in shallow deep rbm; do
            T[$s,$condition,$kind]=$(cell "$kind" "$s")
            echo "  $s, $condition, $kind epoch: ${T[$s,$condition,$kind]} s" >&2
        done
        stop_helpers
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo "=== busy machine: median s per epoch of $REPS ($cpu, $(nproc) cores, $(date -u +%Y-%m-%d))"
echo "| setting | epoch | quiet | beside two yes | beside two trainings | × yes | × trainings |"
echo "|---|---|---:|---:|---:|---:|---:|"
base=${settings[-1]}
for s in "${settings[@]}"; do
    for kind in shallow deep rbm; do
        q=${T[$s,quiet,$kind]}
        # ratios against the quiet epoch of libgomp's default (the last setting)
        qb=${T[$base,quiet,$kind]}
        echo "| $s | $kind | $q | ${T[$s,yes,$kind]} | ${T[$s,trainings,$kind]} | $(ratio "${T[$s,yes,$kind]}" "$qb") | $(ratio "${T[$s,trainings,$kind]}" "$qb") |"
    done
done
first=${settings[0]}
verdict() { awk -v v="$1" -v g="$2" 'BEGIN { print (v <= g) ? "met" : "NOT met" }'; }
y=$(ratio "${T[$first,yes,shallow]}" "${T[$base,quiet,shallow]}")
t=$(ratio "${T[$first,trainings,shallow]}" "${T[$base,quiet,shallow]}")
q=$(ratio "${T[$first,quiet,shallow]}" "${T[$base,quiet,shallow]}")
echo "goal: shallow epoch beside two yes ≤ 2.5× quiet: $y× ($(verdict "$y" 2.5)); beside two trainings ≤ 4×: $t× ($(verdict "$t" 4)); quiet vs libgomp's default: $q× ($(verdict "$q" 1.1))"
