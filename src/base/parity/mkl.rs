//! oneMKL's kernel choice on non-Intel CPUs, and why initlab overrides one of its checks.
//!
//! libtorch's CPU matrix products go through oneMKL, linked statically into `libtorch_cpu.so`.
//! oneMKL uses its fast AVX2/AVX-512 `sgemm` kernels only when an internal function,
//! `mkl_serv_intel_cpu_true()`, says the CPU is made by Intel; on other x86-64 CPUs (the AMD EPYC
//! machines this project runs on) it falls back to a slower kernel that also rounds differently.
//! Two consequences for a port that promises PyTorch's numbers:
//!
//! - the same PyTorch program prints different epoch costs on AMD and on Intel. Notebook 9-3's
//!   epoch-1 cost is `0.246763036` on the fast path of an AVX-512 CPU (PyTorch 2.13 on Intel, and
//!   `tests/golden/avx512/`), but `0.246979773` on the fallback with two threads and `0.246896714`
//!   with one (on an AVX2-only CPU the fast path gives `0.246859848`, see below);
//! - training is slower: on this project's 2-core AMD machines `sgemm` 2048² runs at ≈100 GFLOP/s
//!   on the fallback and ≈450 GFLOP/s on the fast path.
//!
//! initlab's executables (the binary, examples, tests) therefore define that function themselves,
//! always answering "yes", and export it: `build.rs` passes `--undefined` and
//! `--export-dynamic-symbol` to the linker, so the dynamic linker binds oneMKL's call to this
//! definition (an executable's symbols come first). oneMKL then picks its kernels by the CPU's
//! features, as it does on Intel, with the same results as on an Intel CPU with the same
//! instruction sets and independent of the thread count. On an Intel CPU nothing changes. The reference PyTorch runs under `tools/reference/`
//! do the same with a preloaded one-line C library.
//!
//! Other crates that link `initlab` as a library get this only if their own `build.rs` passes the
//! same two linker arguments (or they preload such a library).
//!
//! With the vendor check answered, the kernels still depend on the CPU's instruction sets: an
//! AVX-512 CPU gets oneMKL's AVX-512 `sgemm`/LAPACK kernels (and ATen its AVX-512 kernels), an
//! AVX2-only CPU the AVX2 ones, and the two round differently. [`kernel_family`] names the family
//! this CPU gets; the golden files of the parity tests come in one set per family
//! (`tests/golden/<family>/`, see `tools/reference/README.md`).

use std::os::raw::c_int;

use crate::base::parity::ffi;

include!("golden_set.rs");

/// oneMKL's "is this an Intel CPU?" check, replaced: always 1 (see the module documentation).
#[no_mangle]
pub extern "C" fn mkl_serv_intel_cpu_true() -> c_int {
    1
}

/// True when the CPU's vendor string (cpuid leaf 0) is `GenuineIntel`.
pub fn cpu_is_genuine_intel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let r = std::arch::x86_64::__cpuid(0);
        let mut vendor = [0u8; 12];
        vendor[..4].copy_from_slice(&r.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&r.edx.to_le_bytes());
        vendor[8..].copy_from_slice(&r.ecx.to_le_bytes());
        &vendor == b"GenuineIntel"
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How oneMKL chooses kernels in this process, in words (for reports and benchmarks).
pub fn kernel_choice() -> String {
    if cpu_is_genuine_intel() {
        "Intel CPU: oneMKL's own kernel choice".to_string()
    } else {
        "non-Intel CPU: oneMKL's vendor check overridden, kernels chosen by CPU features (see initlab::base::parity::mkl)".to_string()
    }
}

/// The family of oneMKL kernels this process runs, as the name of a golden-file set:
/// `"avx512"` when the CPU has AVX-512F, `"avx2"` when it has AVX2 but not AVX-512F, `"other"`
/// otherwise (x86-64 CPUs without AVX2, other architectures).
///
/// This is oneMKL's dispatch by CPU features, which applies to every x86-64 CPU here because
/// initlab overrides oneMKL's vendor check (see the module documentation). It assumes oneMKL's and
/// ATen's own choice is not narrowed by environment variables such as `MKL_ENABLE_INSTRUCTIONS`,
/// `MKL_CBWR` or `ATEN_CPU_CAPABILITY`. `scripts/parity.sh` and `tools/reference/run.sh` apply the
/// same rule to the flags of `/proc/cpuinfo` (`avx512f`, `avx2`).
pub fn kernel_family() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        family_of(
            std::arch::is_x86_feature_detected!("avx512f"),
            std::arch::is_x86_feature_detected!("avx2"),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "other"
    }
}

/// The instruction sets that decide the kernels, and whether this CPU has them (for reports).
pub fn cpu_features() -> Vec<(&'static str, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        vec![
            ("avx", has!("avx")),
            ("avx2", has!("avx2")),
            ("fma", has!("fma")),
            ("avx512f", has!("avx512f")),
            ("avx512bw", has!("avx512bw")),
            ("avx512vl", has!("avx512vl")),
            ("avx512vnni", has!("avx512vnni")),
        ]
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

/// The kernel families that have a complete golden set (`tests/golden/<family>/`, every file of
/// [`GOLDEN_SET_FILES`]) in the source initlab was built from, recorded by `build.rs`: bit parity
/// with PyTorch 2.13 is checked, hence expected, on CPUs of these families.
pub fn golden_families() -> Vec<&'static str> {
    env!("INITLAB_GOLDEN_FAMILIES")
        .split(',')
        .filter(|f| !f.is_empty())
        .collect()
}

/// Whether oneMKL's calls to its vendor check reach [`mkl_serv_intel_cpu_true`] here: true when
/// the process-wide lookup of that name (what the dynamic linker binds `libtorch_cpu.so`'s call
/// to) finds this definition, i.e. when the executable exports it (`build.rs`'s linker
/// arguments). `None` when the name is not found at all (no oneMKL loaded).
pub fn vendor_override_bound() -> Option<bool> {
    // The address is compared, never called.
    let found = ffi::address(c"mkl_serv_intel_cpu_true")?;
    Some(std::ptr::eq(
        found as *const (),
        mkl_serv_intel_cpu_true as *const (),
    ))
}

/// The x86-64 rule of [`kernel_family`], given whether the CPU has AVX-512F and AVX2.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn family_of(avx512f: bool, avx2: bool) -> &'static str {
    if avx512f {
        "avx512"
    } else if avx2 {
        "avx2"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_follows_the_cpu_flags() {
        assert_eq!(family_of(true, true), "avx512");
        assert_eq!(family_of(false, true), "avx2");
        assert_eq!(family_of(false, false), "other");
    }

    #[test]
    fn the_override_is_what_onemkl_binds_to_in_this_package() {
        // build.rs links and exports it from every executable of the package, this test's too.
        assert_eq!(vendor_override_bound(), Some(true));
    }

    #[test]
    fn golden_families_are_known_names() {
        for f in golden_families() {
            assert!(["avx512", "avx2", "other"].contains(&f), "{f}");
        }
    }

    #[test]
    fn family_of_this_cpu_is_a_known_name() {
        assert!(["avx512", "avx2", "other"].contains(&kernel_family()));
    }
}
