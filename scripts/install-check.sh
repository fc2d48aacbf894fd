#!/usr/bin/env bash
# make install-check (part of .ci/run): `make install` into a temporary PREFIX (reusing the
# release build), then the installed initlab run from / with the checkout out of reach, as after
# `rm -rf` of the checkout: libtorch must come through the rpath to the cached libtorch, MNIST from
# the copy compiled into the binary, unpacked into a temporary XDG_DATA_HOME.
#
# The checkout is hidden in a private mount namespace (`unshare -rm`, a tmpfs mounted over it for
# the check's processes only; nothing is moved). Where namespaces are not permitted the check
# still runs, with the checkout in place, and says so.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/initlab-install-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s.%N)

say() { printf 'install-check: %s\n' "$*"; }
fail() { printf 'install-check: FAILED: %s\n' "$*" >&2; exit 1; }

prefix="$tmp/prefix"
if ! make -C "$root" --no-print-directory install PREFIX="$prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log" >&2
    fail "make install PREFIX=$prefix"
fi
bin="$prefix/bin/initlab"
[ -x "$bin" ] || fail "$bin was not installed"
for f in share/bash-completion/completions/initlab share/zsh/site-functions/_initlab \
         share/fish/vendor_completions.d/initlab.fish; do
    [ -s "$prefix/$f" ] || fail "$prefix/$f is missing or empty"
    grep -q doctor "$prefix/$f" || fail "$prefix/$f does not name the subcommands"
done

# What runs with the checkout hidden: doctor, one short training, doctor again. Everything it
# needs is passed in the environment; it runs from / and touches nothing under the checkout.
cat >"$tmp/inner.sh" <<'INNER'
set -euo pipefail
cd /
unset INITLAB_DATA LIBTORCH LD_LIBRARY_PATH
export XDG_DATA_HOME="$CHECK_TMP/xdg" OMP_WAIT_POLICY=PASSIVE
"$CHECK_BIN" doctor >"$CHECK_TMP/doctor-before.txt" 2>&1
"$CHECK_BIN" train --epochs 1 --train-limit 1000 --out "$CHECK_TMP/runs" --quiet \
    >"$CHECK_TMP/train.txt" 2>&1
"$CHECK_BIN" doctor >"$CHECK_TMP/doctor-after.txt" 2>&1
INNER

hidden=no
mkdir "$tmp/probe"
if unshare -rm mount -t tmpfs -o size=1m initlab-probe "$tmp/probe" 2>/dev/null; then
    hidden=yes
    CHECK_TMP="$tmp" CHECK_BIN="$bin" CHECK_ROOT="$root" unshare -rm bash -c \
        'mount -t tmpfs -o ro,size=1m initlab-hidden "$CHECK_ROOT" && bash "$CHECK_TMP/inner.sh"' \
        || status=$?
else
    say "note: private mounts are not permitted here (unshare -rm mount …); running with the checkout in place"
    CHECK_TMP="$tmp" CHECK_BIN="$bin" bash "$tmp/inner.sh" || status=$?
fi
if [ "${status:-0}" != 0 ]; then
    for f in doctor-before.txt train.txt doctor-after.txt; do
        [ -f "$tmp/$f" ] && { echo "--- $f" >&2; cat "$tmp/$f" >&2; }
    done
    fail "the installed initlab failed (status $status)"
fi

# libtorch came from outside the checkout; the data from the compiled-in copy, then the user folder.
loaded=$(grep -m1 'libtorch_cpu.so' "$tmp/doctor-before.txt" | sed -E 's/.*loaded from //')
case "$loaded" in
    "$root"/*|"") fail "libtorch was loaded from '$loaded', not through the cache's rpath" ;;
esac
if [ "$hidden" = yes ]; then
    grep -q 'the copy compiled into initlab: checksums verify' "$tmp/doctor-before.txt" \
        || { cat "$tmp/doctor-before.txt" >&2; fail "doctor did not choose the compiled-in data"; }
    grep -q "$tmp/xdg/initlab/mnist (the user data folder" "$tmp/doctor-after.txt" \
        || { cat "$tmp/doctor-after.txt" >&2; fail "the data was not unpacked into XDG_DATA_HOME"; }
fi
grep -q 'checksums verify' "$tmp/doctor-after.txt" || fail "the data does not verify"
run=$(ls -d "$tmp"/runs/*/ 2>/dev/null | head -1)
[ -n "$run" ] && grep -q '"status": "complete"' "$run/run.json" \
    || { cat "$tmp/train.txt" >&2; fail "no complete run under $tmp/runs"; }
grep -q 'Accuracy' "$tmp/train.txt" || { cat "$tmp/train.txt" >&2; fail "train printed no accuracy"; }

data=$(grep -m1 -E '^ok +data ' "$tmp/doctor-after.txt" | sed -E 's/^ok +data +//')
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
say "ok: installed into a temporary PREFIX, ran from / with the checkout $( [ "$hidden" = yes ] && echo hidden || echo "in place" ): \
libtorch from $loaded; data $data; $(grep -m1 Accuracy "$tmp/train.txt" | sed -E 's/ +\(.*//'); ${secs} s"
