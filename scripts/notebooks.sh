#!/usr/bin/env bash
# make notebooks: the lab's Rust notebooks (notebooks/lab09_{2,3,4}.ipynb, evcxr Jupyter kernel),
# executed headless and checked: the lines their cells print must equal the golden file of the
# example each mirrors, for this CPU's set (tests/golden/<set>/<example>.txt, the lines PyTorch 2.13
# printed; scripts/notebooks.py compares them and shows the first difference).
#
#   scripts/notebooks.sh [check] [NOTEBOOK.ipynb ...]   set up, run the notebooks, compare (default: all three)
#   scripts/notebooks.sh setup                          set up only
#   scripts/notebooks.sh lab                            set up, add JupyterLab, open notebooks/ in it
#
# Set-up, all under ${XDG_CACHE_HOME:-~/.cache}/initlab and each step skipped when already done:
#   - libtorch (scripts/setup-libtorch.sh);
#   - the evcxr Jupyter kernel, `cargo install evcxr_jupyter` from crates.io into tools/ (a large
#     build, once);
#   - a Python venv notebook-venv/ with Jupyter's runner (nbclient; notebooks/requirements.txt);
#   - the kernel registered inside that venv (share/jupyter/kernels/rust), with LIBTORCH and
#     LD_LIBRARY_PATH in its environment; nothing is written to your own Jupyter or evcxr config.
#   - evcxr's build folder evcxr-build/, where the notebooks build initlab and tch once.
# NOTEBOOK_CELL_TIMEOUT (seconds per cell, default 1800: the first cell builds tch on a first run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

EVCXR_VERSION=0.22.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/initlab"
tools="$cache/tools"
venv="$cache/notebook-venv"
kernel_dir="$venv/share/jupyter/kernels/rust"
# evcxr's build folder (its EVCXR_TMPDIR), shared by the three notebooks and every checkout: tch,
# libtorch's C++ wrapper and initlab are compiled once, not at every kernel start.
build_dir="$cache/evcxr-build"
evcxr="$tools/bin/evcxr_jupyter"

say() { printf 'notebooks: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

mode=check
case "${1:-}" in
    check | setup | lab) mode=$1; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see scripts/notebooks.sh --help)" ;;
esac

# libtorch: the kernel's cargo builds tch against it, and the notebook process loads it.
setup_libtorch() {
    scripts/setup-libtorch.sh
    [ -f .libtorch/lib/libtorch_cpu.so ] \
        || die "no libtorch at .libtorch (LIBTORCH_USE_PYTORCH=1 is not supported here: unset it and run make setup)"
    libtorch=$(cd .libtorch && pwd -P)
}

# The evcxr kernel binary, built from crates.io once.
setup_evcxr() {
    if [ -x "$evcxr" ] && cargo install --list --root "$tools" 2>/dev/null \
        | grep -qx "evcxr_jupyter v$EVCXR_VERSION:"; then
        say "evcxr_jupyter $EVCXR_VERSION already in $tools"
        return
    fi
    command -v cargo >/dev/null || die "cargo is needed to install evcxr_jupyter"
    say "installing evcxr_jupyter $EVCXR_VERSION from crates.io into $tools (a large build: ≈20 min on 2 busy cores, once)"
    cargo install --quiet --locked evcxr_jupyter --version "$EVCXR_VERSION" --root "$tools" \
        || die "cargo install evcxr_jupyter $EVCXR_VERSION failed (is crates.io reachable?)"
}

# The venv with Jupyter's runner; re-made when notebooks/requirements.txt changes.
setup_venv() {
    local stamp="$venv/.initlab-requirements" want
    want=$(sha256sum notebooks/requirements.txt | cut -d' ' -f1)
    if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        say "Jupyter runner already in $venv"
        return
    fi
    command -v python3 >/dev/null || die "python3 (with venv and pip) is needed for Jupyter's runner"
    say "creating $venv (pip install -r notebooks/requirements.txt)"
    python3 -m venv "$venv" || die "python3 -m venv $venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r notebooks/requirements.txt \
        || die "pip install -r notebooks/requirements.txt failed (is PyPI reachable?)"
    echo "$want" > "$stamp"
}

# The kernel spec inside the venv: evcxr's own files, then its kernel.json given the environment
# the kernel needs (rewritten every time: cheap, and follows a moved libtorch or toolchain):
# libtorch for the build and the loader; Rust's own libstd-*.so for the loader too (evcxr links
# each cell against it, and the relative rpath rustc writes misses it when the build folder and
# ~/.rustup share a parent, as here); the shared build folder; and JUPYTER_PATH, which keeps
# evcxr's start-up self-update check on this copy, not the user's.
setup_kernel() {
    local host rust_lib
    host=$(rustc -vV | sed -n 's/^host: //p')
    rust_lib="$(rustc --print sysroot)/lib/rustlib/$host/lib"
    ls "$rust_lib"/libstd-*.so >/dev/null 2>&1 || die "no libstd-*.so in $rust_lib (rustc --print sysroot)"
    local stamp="$kernel_dir/.initlab-evcxr"
    if [ ! -f "$kernel_dir/kernel.json" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$EVCXR_VERSION" ]; then
        say "registering the evcxr kernel in $kernel_dir"
        JUPYTER_PATH="$venv/share/jupyter" "$evcxr" --install >/dev/null \
            || die "evcxr_jupyter --install failed"
        echo "$EVCXR_VERSION" > "$stamp"
    fi
    "$venv/bin/python" - "$kernel_dir/kernel.json" "$libtorch" "$rust_lib" "$venv/share/jupyter" "$build_dir" <<'EOF'
import json, sys
path, libtorch, rust_lib, jupyter_path, build_dir = sys.argv[1:]
with open(path) as f:
    spec = json.load(f)
spec["display_name"] = "Rust (initlab)"
spec["env"] = {
    "LIBTORCH": libtorch,
    "LD_LIBRARY_PATH": libtorch + "/lib:" + rust_lib,
    "EVCXR_TMPDIR": build_dir,
    "JUPYTER_PATH": jupyter_path,
}
with open(path + ".tmp", "w") as f:
    json.dump(spec, f, indent=2)
EOF
    mv "$kernel_dir/kernel.json.tmp" "$kernel_dir/kernel.json"
}

# The build folder gets the project's Cargo.lock on first use, so that the notebooks build
# initlab's dependencies at the versions the project tests.
seed_build_folder() {
    mkdir -p "$build_dir"
    [ -f "$build_dir/Cargo.lock" ] || cp Cargo.lock "$build_dir/Cargo.lock"
}

setup_libtorch
setup_evcxr
setup_venv
setup_kernel
seed_build_folder
say "set up: kernel \"Rust (initlab)\" in $venv"

case "$mode" in
    setup) exit 0 ;;
    lab)
        if ! "$venv/bin/python" -c 'import jupyterlab' 2>/dev/null; then
            say "adding JupyterLab to $venv (notebooks/requirements-lab.txt)"
            "$venv/bin/pip" install --quiet --disable-pip-version-check -r notebooks/requirements-lab.txt \
                || die "pip install -r notebooks/requirements-lab.txt failed"
        fi
        say "opening JupyterLab on notebooks/ (stop it with Ctrl-C)"
        exec "$venv/bin/jupyter" lab --notebook-dir="$root/notebooks"
        ;;
esac

source scripts/golden-set.sh
golden="tests/golden/$stock_set"
for ex in lab09_2_mnist_nn lab09_3_mnist_nn_xavier lab09_4_mnist_nn_deep; do
    [ -f "$golden/$ex.txt" ] || die "no golden file $golden/$ex.txt for this CPU (see make parity)"
done
notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks/lab09_2.ipynb notebooks/lab09_3.ipynb notebooks/lab09_4.ipynb)

# The runner's environment reaches the kernels: an empty evcxr config folder, so that a user's
# own init.evcxr or prelude does not change what the check runs.
export EVCXR_CONFIG_DIR="$cache/evcxr-config"
mkdir -p "$EVCXR_CONFIG_DIR"
# libgomp's passive waiting, as the other check scripts: on a busy machine its default spinning
# costs several times the training time (build-notes.md, "A busy machine"); same numbers either way.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
start=$(date +%s)
status=0
"$venv/bin/python" scripts/notebooks.py --golden-dir "$golden" --out target/notebooks \
    --timeout "${NOTEBOOK_CELL_TIMEOUT:-1800}" "${notebooks[@]}" || status=$?
say "done in $(( $(date +%s) - start )) s (executed copies in target/notebooks/)"
exit $status
