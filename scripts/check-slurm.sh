#!/usr/bin/env bash
# A plan through a real Slurm, requeue included (issue 22): starts a one-node cluster of its own
# (scripts/slurm-local.sh), submits a 4-run `compare` with --slurm --submit, requeues one array
# task mid-run with `scontrol requeue`, waits for the gathering job, and checks that every run is
# complete and bit-identical (model.safetensors bytes, history.json but for its wall-clock
# seconds) to the same plan trained here with the same threads per run. Then a small `lab`
# the same way: its DBN pretraining job, the array that waits for it, the gathering job's report
# and charts, and the runs and the DBN bit-identical to `lab` here. Cleans up on every exit:
# cancels its jobs, stops the daemons it started, removes its files.
#
#   scripts/check-slurm.sh            # INITLAB=path/to/initlab to test another binary
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
INITLAB=${INITLAB:-${CARGO_TARGET_DIR:-$ROOT/target}/release/initlab}
[ -x "$INITLAB" ] || { echo "check-slurm: no initlab at $INITLAB (cargo build --release)" >&2; exit 1; }

work=$(mktemp -d /tmp/initlab-check-slurm.XXXXXX)
export SLURM_LOCAL_DIR=$work/cluster
export SLURM_CONF=$SLURM_LOCAL_DIR/slurm.conf
started=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ $started = 1 ]; then
        # Jobs first (their processes are not the daemons'), then the daemons.
        squeue -h -o %A 2>/dev/null | sort -u | xargs -r scancel 2>/dev/null || true
        for _ in $(seq 60); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
        scripts/slurm-local.sh stop || true
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The plan: 4 runs long enough (≈20–40 s each with one thread) to requeue one mid-run.
PLAN=(compare --model 784,256,256,10 --inits normal,xavier-uniform --seeds 2 --epochs 3
    --train-limit 40000 --monitor-every 0 --jobs 2)
start=$SECONDS

echo "== one-node Slurm"
scripts/slurm-local.sh start
started=1

echo "== submitting the plan (--slurm --submit)"
"$INITLAB" --quiet "${PLAN[@]}" --out "$work/cluster-runs" --slurm "$work/jobs" --submit | tee "$work/submit.txt"
array=$(sed -n 's/^Submitted array.sbatch: job //p' "$work/submit.txt")
gather=$(sed -n 's/^Submitted gather.sbatch: job //p' "$work/submit.txt")
[ -n "$array" ] && [ -n "$gather" ] || { echo "check-slurm: no job ids in the output" >&2; exit 1; }

# Task 1's run directory, from the array script.
run1=$(sed -n 's/^1) run=//p' "$work/jobs/array.sbatch")
echo "== waiting for task 1 ($run1) to checkpoint, then requeueing it"
state() {
    python3 - "$1" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1] + "/run.json"))
    print(r["status"], "checkpoint" if r.get("checkpoint") else "none")
except Exception:
    print("none none")
EOF
}
for _ in $(seq 600); do
    read -r status ck < <(state "$run1")
    [ "$status" = running ] && [ "$ck" = checkpoint ] && break
    [ "$status" = complete ] && { echo "check-slurm: task 1 ended before it could be requeued; make the runs longer" >&2; exit 1; }
    sleep 0.5
done
[ "$status" = running ] || { echo "check-slurm: task 1 never checkpointed" >&2; exit 1; }
scontrol requeue "${array}_1"
echo "requeued ${array}_1 at $(date -u +%FT%TZ), $((SECONDS - start)) s after the start"

# Waits up to $2 seconds for job $1 to end, prints its log ($3), and fails unless it completed.
wait_for() {
    local jobstate=
    for _ in $(seq "$2"); do
        jobstate=$(scontrol show job "$1" -o | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
        case "$jobstate" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
        sleep 1
    done
    cat "$3" || true
    [ "$jobstate" = COMPLETED ] || { echo "check-slurm: job $1 ended ${jobstate:-not at all}" >&2; exit 1; }
}

# Every run under $1 (a folder of run directories) is finished and bit-identical to the one of
# the same name under $2 (weights, history but for wall-clock seconds) and trained on one
# machine; $3 runs expected.
same_runs() {
    python3 - "$@" <<'EOF'
import json, os, sys
local, cluster, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = sorted(d for d in os.listdir(local) if os.path.isfile(os.path.join(local, d, "run.json")))
assert len(names) == expected, names
def history(d):
    h = json.load(open(os.path.join(d, "history.json")))
    # Wall-clock seconds differ between any two runs, and so does the checksum of the file.
    h.pop("initlab_sha256", None)
    for e in h["epochs"]:
        e.pop("seconds", None)
    return h
for n in names:
    a, b = os.path.join(local, n), os.path.join(cluster, n)
    rb = json.load(open(os.path.join(b, "run.json")))
    ra = json.load(open(os.path.join(a, "run.json")))
    assert rb["status"] == ra["status"] and rb["status"] in ("complete", "unstable"), (n, rb["status"])
    assert rb["provenance"]["threads"] == ra["provenance"]["threads"], n
    assert len(rb["trained_on"]) == 1, f"{n}: trained on {rb['trained_on']}"
    assert open(os.path.join(a, "model.safetensors"), "rb").read() == open(os.path.join(b, "model.safetensors"), "rb").read(), f"{n}: weights differ"
    assert history(a) == history(b), f"{n}: history differs"
    print(f"{n}: {rb['status']}, weights and history identical")
EOF
}

echo "== waiting for the gathering job $gather"
requeued_at=$SECONDS
wait_for "$gather" 540 "$work/jobs/logs/gather-$gather.out"
restarts=$(scontrol show job "${array}_1" -o | sed -n 's/.* Restarts=\([0-9]*\).*/\1/p')
[ "${restarts:-0}" -ge 1 ] || { echo "check-slurm: task 1 was not restarted (Restarts=$restarts)" >&2; exit 1; }
grep -q "restart 1" "$work/jobs/logs/task-${array}_1.out" || { echo "check-slurm: no restart in task 1's log" >&2; exit 1; }
cluster_s=$((SECONDS - start))
echo "gathered $((SECONDS - requeued_at)) s after the requeue"
grep -h "restart" "$work"/jobs/logs/task-*.out

echo "== the same plan trained here"
local_start=$SECONDS
"$INITLAB" --quiet "${PLAN[@]}" --out "$work/local-runs" >/dev/null
local_s=$((SECONDS - local_start))

echo "== comparing"
same_runs "$work/local-runs/runs" "$work/cluster-runs/runs" 4
# The requeued run resumed from its checkpoint: a resumed run starts a second event file.
events=$(find "$run1" -maxdepth 1 -name 'events.out.tfevents*' | wc -l)
[ "$events" -ge 2 ] || { echo "check-slurm: $run1 has $events event file(s) (not resumed?)" >&2; exit 1; }
echo "$(basename "$run1"): resumed after the requeue ($events event files)"
grep -q "^All 4 runs were trained on one kind of machine" "$work/cluster-runs/summary.md" ||
    { echo "check-slurm: summary.md does not name the one kind of machine" >&2; exit 1; }

# The lab: its DBN pretrained in a first job, the array waiting for it (afterok), the gathering
# job drawing report.md, report.html and compare.png; small enough to take seconds.
LAB=(lab --epochs 1 --train-limit 2000 --dbn-epochs 1 --monitor-every 0 --jobs 2)
echo "== the lab through Slurm (--slurm --submit)"
lab_start=$SECONDS
"$INITLAB" --quiet "${LAB[@]}" --out "$work/cluster-lab" --slurm "$work/lab-jobs" --submit | tee "$work/lab-submit.txt"
dbn=$(sed -n 's/^Submitted pretrain.sbatch: job //p' "$work/lab-submit.txt")
gather=$(sed -n 's/^Submitted gather.sbatch: job //p' "$work/lab-submit.txt")
[ -n "$dbn" ] && [ -n "$gather" ] || { echo "check-slurm: no DBN or gathering job in the lab's output" >&2; exit 1; }
wait_for "$gather" 300 "$work/lab-jobs/logs/gather-$gather.out"
lab_s=$((SECONDS - lab_start))
grep -q "^DBN: " "$work/lab-jobs/logs/dbn-$dbn.out" || { echo "check-slurm: the DBN job's log names no DBN" >&2; exit 1; }
for f in report.md report.html compare.png compare.svg dbn/dbn.safetensors; do
    [ -s "$work/cluster-lab/$f" ] || { echo "check-slurm: the lab's gathering job wrote no $f" >&2; exit 1; }
done
grep -q "^All 5 runs were trained on one kind of machine" "$work/cluster-lab/report.md" ||
    { echo "check-slurm: the lab's report.md does not name the one kind of machine" >&2; exit 1; }
echo "== the same lab here"
lab_local_start=$SECONDS
"$INITLAB" --quiet "${LAB[@]}" --out "$work/local-lab" >/dev/null
lab_local_s=$((SECONDS - lab_local_start))
same_runs "$work/local-lab" "$work/cluster-lab" 5
cmp "$work/local-lab/dbn/dbn.safetensors" "$work/cluster-lab/dbn/dbn.safetensors"
echo "dbn: pretrained stack identical"
echo "check-slurm: ok; through Slurm (submit to gathered, one task requeued) ${cluster_s} s, the same plan here ${local_s} s; the lab through Slurm (DBN job, 5 tasks, gathered) ${lab_s} s, here ${lab_local_s} s; all $((SECONDS - start)) s"
