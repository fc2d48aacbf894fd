//! Adds an rpath to libtorch's `lib/` so that the binary, examples and tests run without
//! `LD_LIBRARY_PATH`. torch-sys links libtorch but sets no rpath for downstream crates.
//! Also exports initlab's replacement of oneMKL's CPU-vendor check (src/base/mkl.rs).
use std::path::PathBuf;

fn main() {
    // Link and export initlab::mkl::mkl_serv_intel_cpu_true from every executable of the package
    // so that libtorch's oneMKL binds to it (see src/base/mkl.rs).
    println!("cargo:rustc-link-arg=-Wl,--undefined=mkl_serv_intel_cpu_true");
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    provenance();
    if let Ok(dir) = std::env::var("LIBTORCH") {
        // Keep the path as given (through the `.libtorch` symlink, not resolved): re-running
        // scripts/setup-libtorch.sh with another cache then needs no rebuild.
        let lib = PathBuf::from(dir).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
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
        if std::path::Path::new(".git/HEAD").exists() {
            println!("cargo:rerun-if-changed=.git/HEAD");
            println!("cargo:rerun-if-changed=.git/refs/heads");
        }
    }
}
