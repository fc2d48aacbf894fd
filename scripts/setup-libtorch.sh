#!/usr/bin/env bash
# Obtain a CPU libtorch 2.13.0 for tch 0.26 without the pytorch.org download host,
# and link it into the project as `.libtorch`.
#
# Sources, in this order:
#   1. LIBTORCH_USE_PYTORCH=1  -> tch uses the Python torch install; nothing to do here.
#   2. LIBTORCH=<dir> set by the user (not our own .libtorch) -> used as it is, linked as .libtorch.
#   3. Otherwise: the cached CPU libtorch under ${XDG_CACHE_HOME:-~/.cache}/initlab/libtorch-2.13.0-cpu,
#      built from the PyPI wheels torch==2.13.0, nvidia-cuda-runtime==13.0.96 and
#      nvidia-cuda-cupti==13.0.85 (pip download, unzip lib/ + include/, drop the CUDA libraries).
#
# Idempotent: a second run only checks the cache and the link.
set -euo pipefail

TORCH_VERSION=2.13.0
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
link="$root/.libtorch"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/initlab"
dest="$cache/libtorch-$TORCH_VERSION-cpu"

say() { printf 'setup-libtorch: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [ "${LIBTORCH_USE_PYTORCH:-}" = "1" ]; then
    say "LIBTORCH_USE_PYTORCH=1: tch will use the libtorch of your Python torch install; nothing to set up."
    exit 0
fi

# A LIBTORCH of the user's own (cargo's [env] sets it to .libtorch only inside cargo, not in make).
if [ -n "${LIBTORCH:-}" ] && [ "$(cd "$LIBTORCH" 2>/dev/null && pwd -P)" != "$(cd "$link" 2>/dev/null && pwd -P)" ]; then
    [ -f "$LIBTORCH/lib/libtorch_cpu.so" ] || die "LIBTORCH=$LIBTORCH has no lib/libtorch_cpu.so"
    [ -d "$LIBTORCH/include/torch" ] || die "LIBTORCH=$LIBTORCH has no include/torch"
    ln -sfn "$LIBTORCH" "$link"
    say "using your LIBTORCH=$LIBTORCH (linked as .libtorch)"
    exit 0
fi

complete() {
    [ -f "$1/lib/libtorch_cpu.so" ] && [ -f "$1/lib/libc10.so" ] && [ -d "$1/include/torch" ] \
        && [ -f "$1/.initlab-complete" ]
}

if ! complete "$dest"; then
    command -v python3 >/dev/null || die "python3 (with pip) is needed to download the torch wheel"
    wheels="$cache/wheels"
    mkdir -p "$wheels"
    if ! ls "$wheels"/torch-$TORCH_VERSION-*.whl >/dev/null 2>&1 \
        || ! ls "$wheels"/nvidia_cuda_runtime-$CUDART_VERSION-*.whl >/dev/null 2>&1 \
        || ! ls "$wheels"/nvidia_cuda_cupti-$CUPTI_VERSION-*.whl >/dev/null 2>&1; then
        say "downloading torch==$TORCH_VERSION (about 530 MB) and two small nvidia runtime wheels into $wheels"
        # No --platform: the three wheels carry different manylinux tags, and pip takes a
        # --platform literally; this machine's own tags select the right files.
        python3 -m pip download --quiet --no-deps --only-binary=:all: \
            "torch==$TORCH_VERSION" "nvidia-cuda-runtime==$CUDART_VERSION" "nvidia-cuda-cupti==$CUPTI_VERSION" \
            -d "$wheels" || die "pip download failed (is PyPI reachable?)"
    else
        say "wheels already in $wheels"
    fi
    tmp="$cache/tmp-unpack.$$"
    rm -rf "$tmp"; mkdir -p "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    say "unpacking lib/ and include/ (a minute)"
    python3 - "$tmp" "$wheels" "$TORCH_VERSION" "$CUDART_VERSION" "$CUPTI_VERSION" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, wheels, tv, rv, cv = sys.argv[1:]
out = os.path.join(tmp, "libtorch")
os.makedirs(os.path.join(out, "lib"))
skip = ("libtorch_cuda", "libc10_cuda", "libtorch_nvshmem", "libcaffe2_nvrtc")
with zipfile.ZipFile(glob.glob(os.path.join(wheels, f"torch-{tv}-*.whl"))[0]) as z:
    for info in z.infolist():
        name = info.filename
        if name.startswith("torch/lib/") and not name.endswith("/"):
            base = os.path.basename(name)
            if base.startswith(skip):
                continue
            target = os.path.join(out, "lib", base)
        elif name.startswith("torch/include/") and not name.endswith("/"):
            target = os.path.join(out, name[len("torch/"):])
        else:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
for pattern in (f"nvidia_cuda_runtime-{rv}-*.whl", f"nvidia_cuda_cupti-{cv}-*.whl"):
    with zipfile.ZipFile(glob.glob(os.path.join(wheels, pattern))[0]) as z:
        for info in z.infolist():
            base = os.path.basename(info.filename)
            if "/lib/" in info.filename and (base.startswith("libcudart.so") or base.startswith("libcupti.so")):
                with z.open(info) as src, open(os.path.join(out, "lib", base), "wb") as dst:
                    shutil.copyfileobj(src, dst)
with open(os.path.join(out, "build-version"), "w") as f:
    f.write(tv + "\n")
PY
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/libtorch" "$dest"
    touch "$dest/.initlab-complete"
    say "CPU libtorch $TORCH_VERSION ready in $dest ($(du -sh "$dest" | cut -f1))"
    # The wheels are not needed any more to build or run initlab; they are kept because
    # tools/reference/run.sh (make reference, make compare-python's venv) installs PyTorch from them
    # instead of downloading 530 MB again. INITLAB_KEEP_WHEELS=0 removes them now.
    if [ "${INITLAB_KEEP_WHEELS:-1}" = 0 ]; then
        rm -rf "$wheels"
        say "removed the wheels ($wheels); make reference would download them again"
    else
        say "kept the wheels in $wheels ($(du -sh "$wheels" | cut -f1)) for tools/reference/run.sh; remove them with: rm -rf $wheels (or set INITLAB_KEEP_WHEELS=0 before the first build)"
    fi
else
    say "CPU libtorch $TORCH_VERSION already in $dest"
fi

ln -sfn "$dest" "$link"
say ".libtorch -> $dest"
