#!/usr/bin/env bash
# TensorBoard's own reader on initlab's event files: trains a tiny run, and a run interrupted and
# resumed (two event files), and loads each directory with tensorboard's EventAccumulator
# (scripts/check-tensorboard.py), which checks every record's CRC32C and must find the epoch
# train costs of history.csv, every step's loss once, the histograms and the dynamics scalars.
#
# The first call creates a small venv with tensorboard at tools/tb/.venv (git-ignored; about
# 180 MB, needs PyPI; ≈30 s); later calls reuse it (≈3 s a check).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=tools/tb/.venv
if ! "$venv/bin/python" -c 'import tensorboard' >/dev/null 2>&1; then
  echo "--- creating $venv (pip install tensorboard)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check tensorboard
fi
echo "--- $("$venv/bin/python" -c 'import tensorboard; print("tensorboard", tensorboard.__version__)')"

cargo build --release --quiet
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "--- a tiny run"
target/release/initlab train --model 784,16,10 --epochs 2 --train-limit 1000 --monitor-every 7 \
  --out "$tmp" --name r --quiet >/dev/null
"$venv/bin/python" scripts/check-tensorboard.py "$tmp/r"

echo "--- a run stopped with Ctrl-C (SIGINT) after its first checkpoint, then resumed"
target/release/initlab train --model 784,64,10 --epochs 4 --train-limit 20000 --monitor-every 37 \
  --out "$tmp" --name resumed --quiet >/dev/null &
pid=$!
until grep -q '"epochs_done": [1-9]' "$tmp/resumed/run.json" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
kill -INT "$pid" 2>/dev/null || true
status=0
wait "$pid" || status=$?
if [ "$status" -ne 130 ]; then
  echo "(the run was not interrupted: exit status $status)"
fi
target/release/initlab train --quiet --resume "$tmp/resumed" >/dev/null
"$venv/bin/python" scripts/check-tensorboard.py "$tmp/resumed"
