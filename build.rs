//! Adds an rpath to libtorch's `lib/` so that the binary, examples and tests run without
//! `LD_LIBRARY_PATH`. torch-sys links libtorch but sets no rpath for downstream crates.
//! Also exports initlab's replacement of oneMKL's CPU-vendor check (src/mkl.rs).
use std::path::PathBuf;

fn main() {
    // Link and export initlab::mkl::mkl_serv_intel_cpu_true from every executable of the package
    // so that libtorch's oneMKL binds to it (see src/mkl.rs).
    println!("cargo:rustc-link-arg=-Wl,--undefined=mkl_serv_intel_cpu_true");
    println!("cargo:rustc-link-arg=-Wl,--export-dynamic-symbol=mkl_serv_intel_cpu_true");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        // Keep the path as given (through the `.libtorch` symlink, not resolved): re-running
        // scripts/setup-libtorch.sh with another cache then needs no rebuild.
        let lib = PathBuf::from(dir).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
