//! Adds rpaths to libtorch's `lib/` so that the binary, examples and tests run without
//! `LD_LIBRARY_PATH`, also once installed and the checkout is gone. torch-sys links libtorch but
//! sets no rpath for downstream crates.
//! Also exports initlab's replacement of oneMKL's CPU-vendor check (src/base/parity/mkl.rs), and
//! records what `run.json` and `initlab doctor` report: versions (libtorch's also gates the native
//! fast paths, src/base/parity/ffi.rs), the rpath, the golden sets (oneMKL path and kernel family) in the checkout.
use std::path::{Path, PathBuf};

include!("src/base/parity/golden_set.rs");

fn main() {
    // Link and export initlab::base::parity::mkl::mkl_serv_intel_cpu_true from every executable
    // of the package so that libtorch's oneMKL binds to it (see src/base/parity/mkl.rs).
    println!("cargo:rustc-link-arg=-Wl,--undefined=mkl_serv_intel_cpu_true");
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    // Link libgomp's wait-policy hook (src/base/parity/ffi.rs, a `.preinit_array` entry) into
    // every executable of the package as well (see src/base/waits.rs).
    println!("cargo:rustc-link-arg=-Wl,--undefined=LIBGOMP_WAIT_HOOK");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    println!("cargo:rerun-if-env-changed=INITLAB_LIBTORCH");
    provenance();
    golden_sets();
    let rpath = rpath();
    for dir in &rpath {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
    let joined: Vec<String> = rpath.iter().map(|d| d.display().to_string()).collect();
    println!("cargo:rustc-env=INITLAB_RPATH={}", joined.join(":"));
}

/// The folders the dynamic linker searches for libtorch, in order (after `LD_LIBRARY_PATH`, which
/// comes first with a RUNPATH):
///
/// 1. `INITLAB_LIBTORCH/lib`, when set at build time: where an installed binary should find
///    libtorch at run time, if not where it was built against;
/// 2. `LIBTORCH/lib` resolved to an absolute path without symlinks: for the project's own set-up
///    the cached `~/.cache/initlab/libtorch-2.13.0-cpu/lib`, which outlives the checkout, so a
///    copy of the binary (`make install`, `cargo install --path .`) keeps working when the
///    checkout is moved or deleted;
/// 3. `LIBTORCH/lib` as given (through the checkout's `.libtorch` symlink): re-running
///    scripts/setup-libtorch.sh with another cache then needs no rebuild.
fn rpath() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut push = |dir: PathBuf| {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    };
    if let Some(dir) = std::env::var_os("INITLAB_LIBTORCH").filter(|d| !d.is_empty()) {
        push(absolute(&PathBuf::from(dir).join("lib")));
    }
    if let Some(dir) = std::env::var_os("LIBTORCH").filter(|d| !d.is_empty()) {
        let lib = PathBuf::from(dir).join("lib");
        // Relink when `.libtorch` is pointed at another libtorch: the resolved path changes.
        println!(
            "cargo:rerun-if-changed={}",
            lib.join("libtorch_cpu.so").display()
        );
        if let Ok(resolved) = lib.canonicalize() {
            push(resolved);
        }
        push(absolute(&lib));
    }
    dirs
}

/// `path` made absolute against the build script's directory (the package root), unresolved.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The golden sets complete under `tests/golden/<path>/<family>/` (comma-separated
/// `<path>/<family>` names), for `initlab::base::parity::mkl::golden_sets`: whether bit parity with
/// PyTorch is checked for a CPU's set is known to an installed binary without the checkout. Also
/// each set's ending of notebook 9-3 (`<set> <cost> <accuracy>`, comma-separated), which the
/// lab's report quotes (`mkl::notebook_endings`).
fn golden_sets() {
    let root = Path::new("tests/golden");
    let subdirs = |dir: &Path| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect()
    };
    let mut sets = Vec::new();
    let mut endings = Vec::new();
    for path in ["intel-path", "stock"] {
        let dir = root.join(path);
        println!("cargo:rerun-if-changed={}", dir.display());
        for (family, set) in subdirs(&dir) {
            if GOLDEN_SET_FILES.iter().all(|f| set.join(f).is_file()) {
                sets.push(format!("{path}/{family}"));
                let text = std::fs::read_to_string(set.join(QUOTED_NOTEBOOK)).unwrap_or_default();
                if let Some((cost, accuracy)) = notebook_ending(&text) {
                    endings.push(format!("{path}/{family} {cost} {accuracy}"));
                }
            }
        }
    }
    println!("cargo:rerun-if-changed={}", root.display());
    sets.sort();
    println!("cargo:rustc-env=INITLAB_GOLDEN_SETS={}", sets.join(","));
    endings.sort();
    println!(
        "cargo:rustc-env=INITLAB_GOLDEN_ENDINGS={}",
        endings.join(",")
    );
}

/// Versions recorded in every run's `run.json`: tch's (from Cargo.lock), libtorch's (its
/// `build-version` file) and the git commit when built from a checkout.
fn provenance() {
    let tch = std::fs::read_to_string("Cargo.lock")
        .ok()
        .and_then(|lock| {
            let at = lock.find("name = \"tch\"")?;
            let rest = &lock[at..];
            let v = rest.lines().nth(1)?.strip_prefix("version = \"")?;
            Some(v.trim_end_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=INITLAB_TCH_VERSION={tch}");
    println!("cargo:rerun-if-changed=Cargo.lock");
    let libtorch = std::env::var("LIBTORCH")
        .ok()
        .and_then(|d| std::fs::read_to_string(PathBuf::from(d).join("build-version")).ok())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=INITLAB_LIBTORCH_VERSION={libtorch}");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(c) = commit.filter(|c| !c.is_empty()) {
        println!("cargo:rustc-env=INITLAB_GIT_COMMIT={c}");
        // Rebuild when HEAD moves: its file, and the branches (in the common folder, which a
        // worktree shares with its main checkout).
        let git_path = |args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        };
        let head = git_path(&["rev-parse", "--git-path", "HEAD"]);
        let common = git_path(&["rev-parse", "--git-common-dir"]);
        let watched = [
            head,
            common.as_ref().map(|c| c.join("refs").join("heads")),
            common.map(|c| c.join("packed-refs")),
        ];
        for path in watched.into_iter().flatten().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
