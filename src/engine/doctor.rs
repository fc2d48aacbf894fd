//! `initlab doctor`: the facts a bug report needs, each with a verdict and, where something is
//! missing or unusual, what to do about it. Gathering only; the binary prints.
//!
//! What counts as *missing* (the command exits 1): libtorch not loaded from where it should be or
//! of another version than initlab was built against, and data that cannot be found or does not
//! verify. Everything else (no golden set for this CPU's kernels, oneMKL's vendor check not
//! overridden, variables that change the kernels) is a *note*: initlab works, but not bit for bit
//! like PyTorch or not at full speed; so is a fast path switched off (libtorch's own operations
//! then run: the same bits, slower).

use std::path::Path;

use serde::Serialize;

use crate::base::data::locate::{self, DataEnv, Origin, Search};
use crate::base::data::{embedded, mnist};
use crate::base::optim::fused;
use crate::base::parity::ffi::{self, Off};
use crate::base::parity::{mkl, torch_rng};
use crate::base::waits::{describe_binding, BindChoice, WaitChoice};
use crate::engine::rundir::Provenance;

/// A finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// As it should be.
    Ok,
    /// Works, with a caveat worth knowing.
    Note,
    /// Something needed is missing or wrong: initlab cannot run as it should.
    Missing,
}

/// One fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is about: `initlab`, `libtorch`, `data`, …
    pub topic: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// The fact in one line.
    pub value: String,
    /// More lines of the same fact (paths looked at, variables set).
    pub details: Vec<String>,
    /// What to do, when the verdict is not [`Verdict::Ok`].
    pub advice: Option<String>,
}

impl Finding {
    fn ok(topic: &'static str, value: String) -> Finding {
        Finding {
            topic,
            verdict: Verdict::Ok,
            value,
            details: Vec::new(),
            advice: None,
        }
    }
}

/// Everything `initlab doctor` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings, in the order printed.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when nothing needed is missing.
    pub fn healthy(&self) -> bool {
        self.findings.iter().all(|f| f.verdict != Verdict::Missing)
    }
}

/// Variables that narrow oneMKL's or ATen's kernel choice: with any of them set, the kernel family
/// ([`mkl::kernel_family`]) may not be the one running, and parity is not expected.
pub const KERNEL_VARIABLES: [&str; 3] =
    ["MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ATEN_CPU_CAPABILITY"];

/// Variables about threads, reported when set.
pub const THREAD_VARIABLES: [&str; 2] = ["OMP_NUM_THREADS", "MKL_NUM_THREADS"];

/// Gathers the report. `data_flag` is `--data-dir`, as for any command that reads data; nothing
/// is left written (the compiled-in data is checked in memory, not unpacked; whether it could be
/// is tried with a probe file, removed at once).
pub fn examine(data_flag: Option<&Path>) -> Report {
    let here = Provenance::here();
    let mut findings = vec![
        Finding::ok(
            "initlab",
            match &here.git_commit {
                Some(c) => format!("{} (git {c})", here.initlab),
                None => here.initlab.clone(),
            },
        ),
        Finding::ok("tch", here.tch.clone()),
        libtorch(&here.libtorch),
        data(data_flag),
        threads(here.threads),
        cpu(&here.cpu),
    ];
    // Unbound, oneMKL keeps its own check: harmless where the dispatch answers as it does.
    let genuine = mkl::cpu_is_genuine_intel();
    let vendor_bound =
        mkl::vendor_override_bound() == Some(true) || mkl::dispatch().answer(genuine) == genuine;
    findings.push(onemkl(vendor_bound));
    findings.push(parity(vendor_bound));
    findings.push(fast_paths(
        fused::status(),
        torch_rng::status(),
        ffi::libtorch_versions(),
    ));
    Report { findings }
}

/// Where libtorch was loaded from, and whether it is the version initlab was built against.
fn libtorch(built: &str) -> Finding {
    let mut details = vec![format!(
        "rpath (searched after LD_LIBRARY_PATH): {}",
        match env!("INITLAB_RPATH") {
            "" => "none",
            r => r,
        }
    )];
    if let Some(v) = std::env::var_os("LD_LIBRARY_PATH").filter(|v| !v.is_empty()) {
        details.push(format!("LD_LIBRARY_PATH: {}", v.to_string_lossy()));
    }
    let Some(path) = ffi::loaded_library("libtorch_cpu.so") else {
        return Finding {
            topic: "libtorch",
            verdict: Verdict::Note,
            value: format!(
                "{built} (built against); where it was loaded from is unknown (no /proc/self/maps)"
            ),
            details,
            advice: None,
        };
    };
    // The setup script writes `build-version` beside `lib/`; other libtorch folders have it too.
    let loaded = ffi::loaded_libtorch_version();
    let value = format!("{built}, loaded from {}", path.display());
    match loaded {
        Some(v) if v != built && built != "unknown" => Finding {
            topic: "libtorch",
            verdict: Verdict::Missing,
            value,
            details,
            advice: Some(format!(
                "the libtorch loaded is version {v}, initlab was built against {built}: unset \
                 LD_LIBRARY_PATH, or rebuild and reinstall (`scripts/setup-libtorch.sh && make install`)"
            )),
        },
        _ => Finding {
            topic: "libtorch",
            verdict: Verdict::Ok,
            value,
            details,
            advice: None,
        },
    }
}

/// The advice shared by the data findings that cannot go on.
const DATA_FIX: &str =
    "pass --data-dir DIR or set INITLAB_DATA=DIR (a folder with the four MNIST files, gz or raw)";

/// A data finding.
fn data_finding(
    verdict: Verdict,
    value: String,
    details: Vec<String>,
    advice: Option<String>,
) -> Finding {
    Finding {
        topic: "data",
        verdict,
        value,
        details,
        advice,
    }
}

/// Where the data comes from and whether it verifies.
fn data(flag: Option<&Path>) -> Finding {
    examine_data(flag, &DataEnv::from_process())
}

/// The data finding in the environment `env`: the place [`locate::data_dir_in`] would choose
/// there, and whether a command could read it there — its files load and verify, or, for the
/// copy compiled into initlab, it verifies and can be unpacked where a command would unpack it.
pub fn examine_data(flag: Option<&Path>, env: &DataEnv) -> Finding {
    let search = locate::search(flag, env);
    let details = places_looked(&search);
    let Some((origin, dir)) = search.choice() else {
        return data_finding(
            Verdict::Missing,
            "no MNIST data found".into(),
            details,
            Some(format!(
                "{DATA_FIX}, or set HOME or XDG_DATA_HOME so that the copy compiled into initlab can be unpacked"
            )),
        );
    };
    let value = format!("{} ({})", dir.display(), origin.describe());
    if origin == Origin::Embedded {
        return embedded_data(dir, value, details);
    }
    if !mnist::missing_files(dir).is_empty() {
        let found = search
            .chosen
            .map(|i| search.looked[i].found.clone())
            .unwrap_or_default();
        return incomplete_data(origin, format!("{value}: {found}"), details);
    }
    verified_data(origin, dir, value, details)
}

/// Each place the search looked at, the chosen one marked with an arrow.
fn places_looked(search: &Search) -> Vec<String> {
    search
        .looked
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mark = if Some(i) == search.chosen { "→" } else { " " };
            match &p.dir {
                Some(d) => format!(
                    "{mark} {}: {} ({})",
                    p.origin.describe(),
                    d.display(),
                    p.found
                ),
                None => format!("{mark} {}: {}", p.origin.describe(), p.found),
            }
        })
        .collect()
}

/// The copy compiled into initlab, checked in memory; it is unpacked into `dir` on first use,
/// which must be possible ([`embedded::check_unpackable`]).
fn embedded_data(dir: &Path, value: String, mut details: Vec<String>) -> Finding {
    if let Err(e) = embedded::check_unpackable(dir) {
        details.push(format!("{e:#}"));
        let advice = format!(
            "set XDG_DATA_HOME (or HOME) to a writable folder so that initlab can unpack its \
             copy, or {DATA_FIX}"
        );
        return data_finding(
            Verdict::Missing,
            format!("{value}: cannot be unpacked there"),
            details,
            Some(advice),
        );
    }
    match embedded::verify() {
        Ok(()) => data_finding(
            Verdict::Ok,
            format!(
                "the copy compiled into initlab: checksums verify (4 of 4, SHA256SUMS); \
                 unpacked into {} on first use",
                dir.display()
            ),
            details,
            None,
        ),
        Err(e) => {
            details.push(format!("{e:#}"));
            let advice = format!("this initlab binary is damaged: reinstall it, or {DATA_FIX}");
            data_finding(Verdict::Missing, value, details, Some(advice))
        }
    }
}

/// A folder chosen (by the flag, the variable, …) that lacks some of the four files.
fn incomplete_data(origin: Origin, value: String, details: Vec<String>) -> Finding {
    let advice = match origin {
        Origin::Env => {
            "point INITLAB_DATA at a folder with the four MNIST files (gz or raw), \
            or unset it to use the user data folder, the checkout's copy or the copy \
            compiled into initlab"
        }
        _ => {
            "pass --data-dir a folder with the four MNIST files (gz or raw), or leave it \
            out to use INITLAB_DATA, the user data folder, the checkout's copy or the copy \
            compiled into initlab"
        }
    };
    data_finding(Verdict::Missing, value, details, Some(advice.into()))
}

/// A folder with the four files: whether they load and how many are checksummed.
fn verified_data(origin: Origin, dir: &Path, value: String, mut details: Vec<String>) -> Finding {
    match mnist::verify_dir(dir) {
        Ok(check) if check.fully_verified() => data_finding(
            Verdict::Ok,
            format!("{value}: checksums verify (4 of 4, SHA256SUMS)"),
            details,
            None,
        ),
        Ok(check) => {
            let advice = if check.has_checksum_file {
                "SHA256SUMS there does not list every file: add the missing lines (`sha256sum` of \
                 the decompressed files)"
            } else {
                "no SHA256SUMS there, so the files are checked for structure only (fine for your \
                 own data sets)"
            };
            let value = format!(
                "{value}: loads, but {} of 4 files are checksummed",
                check.verified.len()
            );
            data_finding(Verdict::Note, value, details, Some(advice.into()))
        }
        Err(e) => {
            details.push(format!("{e:#}"));
            let advice = unloadable_advice(origin, dir);
            let value = format!("{value}: does not load");
            data_finding(Verdict::Missing, value, details, Some(advice))
        }
    }
}

/// What to do when the chosen folder's files do not load, by where the folder came from.
fn unloadable_advice(origin: Origin, dir: &Path) -> String {
    match origin {
        Origin::UserDir | Origin::Embedded => format!(
            "delete {} and run again: initlab unpacks its compiled-in copy there; or {DATA_FIX}",
            dir.display()
        ),
        Origin::Env => "point INITLAB_DATA at an intact copy, or unset it".into(),
        Origin::Flag => "pass --data-dir an intact copy".into(),
        Origin::Checkout => {
            format!("restore data/mnist (`git checkout -- data/mnist`), or {DATA_FIX}")
        }
    }
}

/// libtorch's threads and the variables that set them.
fn threads(n: i32) -> Finding {
    // The process's CPUs before initlab pinned its threads (this thread now runs on one).
    let cpus = crate::base::waits::allowed().len();
    let mut f = Finding::ok(
        "threads",
        format!("libtorch intra-op threads {n}, CPUs available {cpus}"),
    );
    for var in THREAD_VARIABLES {
        if let Some(v) = std::env::var_os(var) {
            f.details.push(format!("{var}={}", v.to_string_lossy()));
        }
    }
    let policy = std::env::var("OMP_WAIT_POLICY").ok();
    let spin = std::env::var("GOMP_SPINCOUNT").ok();
    f.details.push(format!(
        "idle threads: {}",
        WaitChoice::describe(policy.as_deref(), spin.as_deref())
    ));
    let choice = BindChoice::of(|name| std::env::var(name).ok());
    f.details.push(format!(
        "placement: {}",
        describe_binding(choice, &crate::base::waits::pinned())
    ));
    f
}

/// The CPU's model and the instruction sets that decide the kernels.
fn cpu(model: &str) -> Finding {
    let vendor = if mkl::cpu_is_genuine_intel() {
        "Intel"
    } else {
        "not Intel"
    };
    let mut f = Finding::ok("cpu", format!("{model} ({vendor})"));
    let flags: Vec<String> = mkl::cpu_features()
        .iter()
        .map(|(name, has)| format!("{name} {}", if *has { "yes" } else { "no" }))
        .collect();
    f.details.push(format!("flags: {}", flags.join(", ")));
    f
}

/// oneMKL's kernel choice: the dispatch asked for, and whether oneMKL's vendor check gets the
/// answer it says (`vendor_bound`: false in an executable linked without build.rs's two linker
/// arguments, where oneMKL keeps its own, stock, check, when the dispatch would answer otherwise).
fn onemkl(vendor_bound: bool) -> Finding {
    let dispatch = mkl::dispatch();
    let value = format!(
        "{}; kernel family {}",
        mkl::kernel_choice(),
        mkl::kernel_family()
    );
    let details = vec![
        format!(
            "dispatch {dispatch} (from --mkl-dispatch or {}; `stock` unless set)",
            mkl::DISPATCH_VARIABLE
        ),
        format!(
            "oneMKL's own vendor check (libtorch_cpu.so's) answers: {}",
            match ffi::libtorch_vendor_check() {
                Some(true) => "Intel",
                Some(false) => "not Intel",
                None => "unknown (not found)",
            }
        ),
    ];
    if vendor_bound {
        return Finding {
            details,
            ..Finding::ok("oneMKL", value)
        };
    }
    Finding {
        topic: "oneMKL",
        verdict: Verdict::Note,
        value,
        details,
        advice: Some(format!(
            "mkl_serv_intel_cpu_true resolves to {} here, so oneMKL keeps its own check and the \
             dispatch `{dispatch}` has no effect; link with build.rs's two linker arguments",
            match mkl::vendor_override_bound() {
                Some(_) => "another definition",
                None => "nothing",
            }
        )),
    }
}

/// Which PyTorch prints the numbers initlab prints here, and whether a golden set checks it.
fn parity(vendor_bound: bool) -> Finding {
    let set = mkl::golden_set();
    let sets = mkl::golden_sets();
    let mut details = vec![format!(
        "golden sets in this build: {}",
        if sets.is_empty() {
            "none".to_string()
        } else {
            sets.join(", ")
        }
    )];
    let narrowed: Vec<String> = KERNEL_VARIABLES
        .iter()
        .filter_map(|v| std::env::var_os(v).map(|x| format!("{v}={}", x.to_string_lossy())))
        .collect();
    details.extend(narrowed.iter().cloned());
    if !mkl::intel_path() && tch::get_num_threads() != 2 {
        details.push(
            "the golden sets are made with 2 threads; oneMKL's non-Intel path rounds differently \
             with other thread counts"
                .into(),
        );
    }
    let who = same_numbers_as();
    let note = |value: String, advice: String| Finding {
        topic: "parity",
        verdict: Verdict::Note,
        value,
        details: details.clone(),
        advice: Some(advice),
    };
    if !vendor_bound {
        return note(
            "not expected: oneMKL's vendor check is not initlab's".into(),
            "see the oneMKL line".into(),
        );
    }
    if !narrowed.is_empty() {
        return note(
            format!(
                "not expected: kernel variables set ({})",
                narrowed.join(", ")
            ),
            "unset them: they change oneMKL's or ATen's kernels and so the rounding".into(),
        );
    }
    if !sets.contains(&set.as_str()) {
        return note(
            format!("the same numbers as {who}, expected but not checked: no golden set {set}"),
            format!(
                "make one on this CPU with `{}={} tools/reference/run.sh` \
                 (tools/reference/README.md), then `make parity`",
                mkl::DISPATCH_VARIABLE,
                mkl::dispatch()
            ),
        );
    }
    Finding {
        topic: "parity",
        verdict: Verdict::Ok,
        value: format!(
            "the same numbers as {who}, bit for bit (golden set tests/golden/{set}; check with \
             `make parity`, or side by side with your Python: `make compare-python`)"
        ),
        details,
        advice: None,
    }
}

/// The PyTorch 2.13.0 that computes what this process computes, in words a learner can act on.
pub fn same_numbers_as() -> String {
    match (mkl::cpu_is_genuine_intel(), mkl::intel_path()) {
        (true, _) => "stock PyTorch 2.13.0 from PyPI on this CPU (an Intel CPU: oneMKL takes its \
                      Intel path under either dispatch)"
            .into(),
        (false, false) => "stock PyTorch 2.13.0 from PyPI on this CPU".into(),
        (false, true) => format!(
            "PyTorch 2.13.0 with oneMKL's Intel path: run it as `LD_PRELOAD={} python3 notebook.py` \
             (make that library with `{}`; tools/reference/run.sh does both)",
            PRELOAD_SHIM, PRELOAD_RECIPE
        ),
    }
}

/// The one-function library that puts PyTorch's oneMKL on its Intel path, and how to make it.
pub const PRELOAD_SHIM: &str = "./libmkl_intel_path.so";
/// See [`PRELOAD_SHIM`].
pub const PRELOAD_RECIPE: &str = "echo 'int mkl_serv_intel_cpu_true(void) { return 1; }' | cc -shared -fPIC -x c -o libmkl_intel_path.so -";

/// Which fast paths run (fused Adam, Bernoulli draws in Rust) and, for each that does not, why;
/// given their [status](fused::status) and the libtorch versions `(built against, loaded)`.
pub fn fast_paths(
    adam: Result<(), Off>,
    rng: Result<(), Off>,
    (built, loaded): (String, Option<String>),
) -> Finding {
    let paths = [("fused Adam", &adam), ("Rust Bernoulli draws", &rng)];
    let value: Vec<String> = paths
        .iter()
        .map(|(name, status)| match status {
            Ok(()) => format!("{name} on"),
            Err(why) => format!("{name} off: {why}"),
        })
        .collect();
    let details = vec![format!(
        "libtorch built against {built}, loaded {}; the interfaces are written for {}",
        loaded.as_deref().unwrap_or("unknown"),
        ffi::WRITTEN_FOR
    )];
    let faults: Vec<&Off> = paths
        .iter()
        .filter_map(|(_, status)| status.as_ref().err())
        .filter(|why| !why.by_user())
        .collect();
    let version = faults
        .iter()
        .any(|why| matches!(why, Off::VersionMismatch(_) | Off::VersionUnknown));
    let advice = match (faults.is_empty(), version) {
        (true, _) => None,
        (false, true) => Some(format!(
            "libtorch's own operations run instead (the same bits, slower); build initlab \
             against libtorch {} (`scripts/setup-libtorch.sh`) for the fast paths",
            ffi::WRITTEN_FOR
        )),
        (false, false) => Some(
            "libtorch's own operations run instead (the same bits, slower): this libtorch lacks \
             what the fast path needs (see build-notes.md)"
                .into(),
        ),
    };
    Finding {
        topic: "speedups",
        verdict: if advice.is_none() {
            Verdict::Ok
        } else {
            Verdict::Note
        },
        value: value.join("; "),
        details,
        advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_is_found_in_this_process() {
        let _ = tch::get_num_threads();
        let path = ffi::loaded_library("libtorch_cpu.so").expect("libtorch_cpu.so is mapped");
        assert!(path.is_absolute(), "{}", path.display());
    }

    #[test]
    fn report_has_every_topic() {
        let r = examine(None);
        let topics: Vec<&str> = r.findings.iter().map(|f| f.topic).collect();
        assert_eq!(
            topics,
            [
                "initlab", "tch", "libtorch", "data", "threads", "cpu", "oneMKL", "parity",
                "speedups"
            ]
        );
        for f in &r.findings {
            assert_eq!(f.verdict == Verdict::Ok, f.advice.is_none(), "{f:?}");
        }
    }

    #[test]
    fn fast_paths_say_which_run_and_why_not() {
        let versions = || ("2.13.0".to_string(), Some("2.13.0".to_string()));
        let on = fast_paths(Ok(()), Ok(()), versions());
        assert_eq!(on.verdict, Verdict::Ok);
        assert_eq!(on.value, "fused Adam on; Rust Bernoulli draws on");
        let user = fast_paths(Err(Off::ByUser("INITLAB_ADAM=unfused")), Ok(()), versions());
        assert_eq!(user.verdict, Verdict::Ok);
        assert!(user
            .value
            .contains("fused Adam off: switched off by the user (INITLAB_ADAM=unfused)"));
        let other = Off::VersionMismatch("2.14.0".into());
        let f = fast_paths(Err(other.clone()), Err(other), ("2.14.0".into(), None));
        assert_eq!(f.verdict, Verdict::Note);
        assert!(
            f.value
                .contains("fused Adam off: version mismatch: libtorch 2.14.0"),
            "{f:?}"
        );
        assert!(
            f.value
                .contains("Rust Bernoulli draws off: version mismatch"),
            "{f:?}"
        );
        assert!(f.advice.is_some_and(|a| a.contains("2.13.0")));
        let missing = fast_paths(Ok(()), Err(Off::SymbolMissing("x")), versions());
        assert_eq!(missing.verdict, Verdict::Note);
        assert!(missing
            .value
            .contains("Rust Bernoulli draws off: symbol missing: x"));
    }
}
