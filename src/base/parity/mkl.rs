//! oneMKL's kernel choice, and the one switch that decides it: [`MklDispatch`].
//!
//! libtorch's CPU matrix products go through oneMKL, linked statically into `libtorch_cpu.so`.
//! oneMKL asks an internal function, `mkl_serv_intel_cpu_true()`, whether the CPU is made by Intel
//! (libtorch 2.13's copy compares cpuid leaf 0's vendor string with `GenuineIntel` and caches the
//! answer). On "yes" it picks its kernels by the CPU's instruction sets; on "no" (AMD Ryzen and
//! EPYC) it takes another code path, whose kernels round differently. So one PyTorch program
//! prints different numbers on an AMD CPU than on an Intel CPU with the same instruction sets.
//! Notebook 9-3's first epoch on a 2-core AMD EPYC (AVX2, two threads): `cost = 0.246865124` in
//! stock PyTorch 2.13.0 from PyPI, `0.246859848` with oneMKL on its Intel path (the
//! `intel-path/avx2` golden set).
//!
//! initlab's executables (the binary, the examples, the tests) define that function themselves
//! and export it: `build.rs` passes `--undefined` and `--export-dynamic-symbol`, so the dynamic
//! linker binds oneMKL's calls to this definition (an executable's symbols come first). What it
//! answers is the user's choice, [`MklDispatch`] (`INITLAB_MKL_DISPATCH` or `--mkl-dispatch`):
//!
//! - `stock` (the default): the truthful answer, as oneMKL's own check gives it inside PyTorch
//!   from PyPI. initlab then prints what stock PyTorch 2.13.0 prints on this CPU, AMD included;
//! - `intel-path`: always "yes", what PyTorch prints on an Intel CPU with the same instruction
//!   sets, or with a preloaded one-line library (`int mkl_serv_intel_cpu_true(void) { return 1; }`,
//!   as `tools/reference/run.sh` does). On some AMD CPUs it is faster (build-notes.md).
//!
//! On an Intel CPU both answer "yes": the two choices compute the same.
//!
//! The kernels still depend on the instruction sets: an AVX-512 CPU gets oneMKL's AVX-512
//! `sgemm`/LAPACK kernels (and ATen its AVX-512 kernels), an AVX2-only CPU the AVX2 ones, and the
//! two round differently. The golden files of the parity tests therefore come in one set per
//! oneMKL path and kernel family, `tests/golden/<path>/<family>/` ([`golden_set`]), each made by
//! real PyTorch 2.13.0 (`tools/reference/README.md`).
//!
//! Other crates that link `initlab` as a library get the switch only if their own `build.rs`
//! passes the same two linker arguments; otherwise oneMKL keeps its own (stock) check.

use std::os::raw::c_int;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::base::parity::ffi;
use crate::base::switches::Switches;

include!("golden_set.rs");

/// How oneMKL is told to choose its kernels (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MklDispatch {
    /// oneMKL's vendor check answered truthfully, as in PyTorch from PyPI: on a non-Intel CPU
    /// oneMKL takes its non-Intel code path.
    Stock,
    /// oneMKL told it runs on an Intel CPU: kernels chosen by instruction set, as on Intel.
    IntelPath,
}

impl MklDispatch {
    /// Both choices, default first.
    pub const ALL: [MklDispatch; 2] = [MklDispatch::Stock, MklDispatch::IntelPath];

    /// The default: what a learner's own PyTorch from PyPI does on this CPU (build-notes.md,
    /// "oneMKL's dispatch", has the measurements behind the choice).
    pub const DEFAULT: MklDispatch = MklDispatch::Stock;

    /// The value's name, as `INITLAB_MKL_DISPATCH` and `--mkl-dispatch` take it.
    pub fn as_str(self) -> &'static str {
        match self {
            MklDispatch::Stock => "stock",
            MklDispatch::IntelPath => "intel-path",
        }
    }

    /// The answer oneMKL's vendor check gets under this choice, on a CPU whose vendor string is
    /// (`genuine_intel`) or is not `GenuineIntel`.
    pub fn answer(self, genuine_intel: bool) -> bool {
        match self {
            MklDispatch::Stock => genuine_intel,
            MklDispatch::IntelPath => true,
        }
    }
}

impl Default for MklDispatch {
    fn default() -> MklDispatch {
        MklDispatch::DEFAULT
    }
}

impl std::fmt::Display for MklDispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value of `INITLAB_MKL_DISPATCH` or `--mkl-dispatch` that names no [`MklDispatch`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown oneMKL dispatch {0:?}: expected `stock` or `intel-path`")]
pub struct UnknownDispatch(pub String);

impl std::str::FromStr for MklDispatch {
    type Err = UnknownDispatch;

    fn from_str(s: &str) -> Result<MklDispatch, UnknownDispatch> {
        MklDispatch::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDispatch(s.to_string()))
    }
}

/// The dispatch in effect in this process: the installed switches' (the binary installs them
/// before any tensor work), else, in a program that installs none (the notebook examples, the
/// tests), `INITLAB_MKL_DISPATCH` read here once — oneMKL calls in from every program, so this
/// is the edge where such programs meet the variable. A value that names no choice counts as the
/// default there; the binary refuses it.
pub fn dispatch() -> MklDispatch {
    static FROM_ENV: OnceLock<MklDispatch> = OnceLock::new();
    match Switches::installed() {
        Some(s) => s.mkl_dispatch,
        None => *FROM_ENV.get_or_init(|| {
            std::env::var(DISPATCH_VARIABLE)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_default()
        }),
    }
}

/// The environment variable that chooses [`MklDispatch`].
pub const DISPATCH_VARIABLE: &str = "INITLAB_MKL_DISPATCH";

/// What this process answers oneMKL's vendor check: fixed at the first call.
static ANSWER: OnceLock<bool> = OnceLock::new();

/// Whether oneMKL is told it runs on an Intel CPU in this process (its Intel code path), as
/// [`mkl_serv_intel_cpu_true`] answers: decided once, at oneMKL's first question or here.
pub fn intel_path() -> bool {
    *ANSWER.get_or_init(|| dispatch().answer(cpu_is_genuine_intel()))
}

/// oneMKL's "is this an Intel CPU?" check, answered as [`dispatch`] says (see the module
/// documentation); the answer is fixed at the first call, as oneMKL's own check caches it.
#[no_mangle]
pub extern "C" fn mkl_serv_intel_cpu_true() -> c_int {
    c_int::from(intel_path())
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
    let cpu = if cpu_is_genuine_intel() {
        "Intel CPU"
    } else {
        "non-Intel CPU"
    };
    let path = if intel_path() {
        "oneMKL's Intel path (kernels by instruction set)"
    } else {
        "oneMKL's non-Intel path, as in stock PyTorch"
    };
    format!("{cpu}, dispatch {}: {path}", dispatch())
}

/// The name of oneMKL's code path in this process, as golden sets are filed:
/// `"intel-path"` when it is told it runs on Intel ([`intel_path`]), else `"stock"` (the
/// non-Intel path of stock PyTorch on an AMD CPU).
pub fn path_name() -> &'static str {
    path_name_of(intel_path())
}

/// [`path_name`] given the vendor check's answer.
pub fn path_name_of(intel: bool) -> &'static str {
    if intel {
        "intel-path"
    } else {
        "stock"
    }
}

/// The golden set this process's numbers belong to, `<path>/<family>` under `tests/golden/`
/// ([`path_name`], [`kernel_family`]): `intel-path/avx512` on an AVX-512 Intel CPU,
/// `stock/avx2` for stock PyTorch on an AVX2 AMD CPU.
pub fn golden_set() -> String {
    format!("{}/{}", path_name(), kernel_family())
}

/// The family of oneMKL kernels this process runs, as the name of a golden-file set:
/// `"avx512"` when the CPU has AVX-512F, `"avx2"` when it has AVX2 but not AVX-512F, `"other"`
/// otherwise (x86-64 CPUs without AVX2, other architectures).
///
/// It assumes oneMKL's and
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

/// The golden sets (`<path>/<family>`, see [`golden_set`]) that are complete (every file of
/// [`GOLDEN_SET_FILES`]) in the source initlab was built from, recorded by `build.rs`: bit parity
/// with PyTorch 2.13 is checked, hence expected, where this process's set is one of them.
pub fn golden_sets() -> Vec<&'static str> {
    env!("INITLAB_GOLDEN_SETS")
        .split(',')
        .filter(|f| !f.is_empty())
        .collect()
}

/// Notebook 9-3's ending in one golden set, as PyTorch 2.13 printed it on that set's CPUs.
#[derive(Debug, Clone, PartialEq)]
pub struct NotebookEnding {
    /// The golden set, `<path>/<family>` ([`golden_set`]).
    pub set: &'static str,
    /// The last epoch's cost, as printed (`0.007610181`).
    pub cost: &'static str,
    /// The accuracy, as printed (`0.9830999970436096`).
    pub accuracy: &'static str,
}

/// Notebook 9-3's ending in every complete golden set, read by `build.rs` from the golden files
/// themselves ([`QUOTED_NOTEBOOK`]), so that a report quoting them cannot drift from them.
pub fn notebook_endings() -> Vec<NotebookEnding> {
    env!("INITLAB_GOLDEN_ENDINGS")
        .split(',')
        .filter_map(|e| {
            let mut w = e.split(' ');
            Some(NotebookEnding {
                set: w.next().filter(|s| !s.is_empty())?,
                cost: w.next()?,
                accuracy: w.next()?,
            })
        })
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
    fn notebook_endings_come_from_the_golden_files() {
        let endings = notebook_endings();
        assert!(!endings.is_empty());
        for e in &endings {
            let path = format!(
                "{}/tests/golden/{}/{QUOTED_NOTEBOOK}",
                env!("CARGO_MANIFEST_DIR"),
                e.set
            );
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let (cost, accuracy) = notebook_ending(&text).unwrap_or_default();
            assert_eq!(
                (e.cost, e.accuracy),
                (cost.as_str(), accuracy.as_str()),
                "{path}"
            );
        }
        let printed =
            "Epoch: 0014 cost = 0.5\nEpoch: 0015 cost = 0.25\nLearning finished\nAccuracy: 0.98\n";
        assert_eq!(
            notebook_ending(printed),
            Some(("0.25".into(), "0.98".into()))
        );
        assert_eq!(notebook_ending("Epoch: 0001 cost = 1\n"), None);
    }

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
    fn golden_sets_are_known_names() {
        let sets = golden_sets();
        assert!(sets.contains(&"intel-path/avx512"), "{sets:?}");
        for set in sets {
            let (path, family) = set.split_once('/').unwrap_or_default();
            assert!(["intel-path", "stock"].contains(&path), "{set}");
            assert!(["avx512", "avx2", "other"].contains(&family), "{set}");
        }
    }

    #[test]
    fn dispatch_names_round_trip() {
        for d in MklDispatch::ALL {
            assert_eq!(d.as_str().parse::<MklDispatch>(), Ok(d));
            assert_eq!(serde_json::to_string(&d).ok(), Some(format!("\"{d}\"")));
        }
        assert_eq!(MklDispatch::default(), MklDispatch::Stock);
        let bad = "intel".parse::<MklDispatch>();
        assert_eq!(bad, Err(UnknownDispatch("intel".into())));
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("`stock` or `intel-path`"));
    }

    #[test]
    fn stock_answers_like_the_vendor_string_and_intel_path_always_yes() {
        assert!(MklDispatch::Stock.answer(true));
        assert!(!MklDispatch::Stock.answer(false));
        assert!(MklDispatch::IntelPath.answer(true));
        assert!(MklDispatch::IntelPath.answer(false));
        assert_eq!(path_name_of(true), "intel-path");
        assert_eq!(path_name_of(false), "stock");
    }

    #[test]
    fn this_process_answers_as_its_dispatch_says() {
        // The test binary installs no switches: INITLAB_MKL_DISPATCH (or the default) decides.
        let d = dispatch();
        assert_eq!(intel_path(), d.answer(cpu_is_genuine_intel()));
        assert_eq!(mkl_serv_intel_cpu_true(), c_int::from(intel_path()));
        assert_eq!(golden_set(), format!("{}/{}", path_name(), kernel_family()));
    }

    #[test]
    fn stock_is_the_answer_of_onemkls_own_check() {
        // libtorch_cpu.so's own definition, asked directly (not the one oneMKL is bound to).
        let own = ffi::libtorch_vendor_check();
        assert_eq!(own, Some(MklDispatch::Stock.answer(cpu_is_genuine_intel())));
    }

    #[test]
    fn family_of_this_cpu_is_a_known_name() {
        assert!(["avx512", "avx2", "other"].contains(&kernel_family()));
    }
}
