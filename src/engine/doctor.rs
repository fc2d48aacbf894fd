//! `initlab doctor`: the facts a bug report needs, each with a verdict and, where something is
//! missing or unusual, what to do about it. Gathering only; the binary prints.
//!
//! What counts as *missing* (the command exits 1): libtorch not loaded from where it should be or
//! of another version than initlab was built against, and data that cannot be found or does not
//! verify. Everything else (no golden set for this CPU's kernels, oneMKL's vendor check not
//! overridden, variables that change the kernels) is a *note*: initlab works, but not bit for bit
//! like PyTorch or not at full speed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::data::locate::{self, DataEnv, Origin};
use crate::base::data::{embedded, mnist};
use crate::base::parity::mkl;
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
pub const THREAD_VARIABLES: [&str; 3] = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"];

/// Gathers the report. `data_flag` is `--data-dir`, as for any command that reads data; nothing
/// is written (the compiled-in data is checked in memory, not unpacked).
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
    let vendor_ok = mkl::cpu_is_genuine_intel() || mkl::vendor_override_bound() == Some(true);
    findings.push(onemkl(vendor_ok));
    findings.push(parity(vendor_ok));
    Report { findings }
}

/// The path of a loaded shared library whose file name is `name`, from `/proc/self/maps`.
fn loaded_library(name: &str) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(PathBuf::from)
        .find(|p| p.file_name().is_some_and(|n| n == name))
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
    let Some(path) = loaded_library("libtorch_cpu.so") else {
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
    let loaded = path
        .parent()
        .and_then(Path::parent)
        .and_then(|root| std::fs::read_to_string(root.join("build-version")).ok())
        .map(|v| v.trim().to_string());
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

/// Where the data comes from and whether it verifies.
fn data(flag: Option<&Path>) -> Finding {
    let env = DataEnv::from_process();
    let search = locate::search(flag, &env);
    let mut details: Vec<String> = search
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
        .collect();
    let fix = "pass --data-dir DIR or set INITLAB_DATA=DIR (a folder with the four MNIST files, gz or raw)";
    let Some((origin, dir)) = search.choice() else {
        return Finding {
            topic: "data",
            verdict: Verdict::Missing,
            value: "no MNIST data found".into(),
            details,
            advice: Some(format!(
                "{fix}, or set HOME or XDG_DATA_HOME so that the copy compiled into initlab can be unpacked"
            )),
        };
    };
    let value = format!("{} ({})", dir.display(), origin.describe());
    if origin == Origin::Embedded {
        return match embedded::verify() {
            Ok(()) => Finding {
                topic: "data",
                verdict: Verdict::Ok,
                value: format!(
                    "the copy compiled into initlab: checksums verify (4 of 4, SHA256SUMS); \
                     unpacked into {} on first use",
                    dir.display()
                ),
                details,
                advice: None,
            },
            Err(e) => Finding {
                topic: "data",
                verdict: Verdict::Missing,
                value,
                details: {
                    details.push(format!("{e:#}"));
                    details
                },
                advice: Some(format!(
                    "this initlab binary is damaged: reinstall it, or {fix}"
                )),
            },
        };
    }
    let found = search
        .chosen
        .map(|i| search.looked[i].found.clone())
        .unwrap_or_default();
    if !mnist::missing_files(dir).is_empty() {
        return Finding {
            topic: "data",
            verdict: Verdict::Missing,
            value: format!("{value}: {found}"),
            details,
            advice: Some(match origin {
                Origin::Env => {
                    "point INITLAB_DATA at a folder with the four MNIST files (gz or raw), \
                    or unset it to use the user data folder, the checkout's copy or the copy \
                    compiled into initlab"
                        .into()
                }
                _ => "pass --data-dir a folder with the four MNIST files (gz or raw), or leave it \
                    out to use INITLAB_DATA, the user data folder, the checkout's copy or the copy \
                    compiled into initlab"
                    .into(),
            }),
        };
    }
    match mnist::verify_dir(dir) {
        Ok(check) if check.fully_verified() => Finding {
            topic: "data",
            verdict: Verdict::Ok,
            value: format!("{value}: checksums verify (4 of 4, SHA256SUMS)"),
            details,
            advice: None,
        },
        Ok(check) => Finding {
            topic: "data",
            verdict: Verdict::Note,
            value: format!(
                "{value}: loads, but {} of 4 files are checksummed",
                check.verified.len()
            ),
            details,
            advice: Some(if check.has_checksum_file {
                "SHA256SUMS there does not list every file: add the missing lines (`sha256sum` of \
                 the decompressed files)"
                    .into()
            } else {
                "no SHA256SUMS there, so the files are checked for structure only (fine for your \
                 own data sets)"
                    .into()
            }),
        },
        Err(e) => {
            details.push(format!("{e:#}"));
            let advice = match origin {
                Origin::UserDir | Origin::Embedded => format!(
                    "delete {} and run again: initlab unpacks its compiled-in copy there; or {fix}",
                    dir.display()
                ),
                Origin::Env => "point INITLAB_DATA at an intact copy, or unset it".into(),
                Origin::Flag => "pass --data-dir an intact copy".into(),
                Origin::Checkout => {
                    format!("restore data/mnist (`git checkout -- data/mnist`), or {fix}")
                }
            };
            Finding {
                topic: "data",
                verdict: Verdict::Missing,
                value: format!("{value}: does not load"),
                details,
                advice: Some(advice),
            }
        }
    }
}

/// libtorch's threads and the variables that set them.
fn threads(n: i32) -> Finding {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut f = Finding::ok(
        "threads",
        format!("libtorch intra-op threads {n}, CPUs available {cpus}"),
    );
    for var in THREAD_VARIABLES {
        if let Some(v) = std::env::var_os(var) {
            f.details.push(format!("{var}={}", v.to_string_lossy()));
        }
    }
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

/// oneMKL's kernel choice.
fn onemkl(vendor_ok: bool) -> Finding {
    let value = format!(
        "{}; kernel family {}",
        mkl::kernel_choice(),
        mkl::kernel_family()
    );
    if vendor_ok {
        Finding::ok("oneMKL", value)
    } else {
        Finding {
            topic: "oneMKL",
            verdict: Verdict::Note,
            value,
            details: vec![format!(
                "mkl_serv_intel_cpu_true resolves to {} (not initlab's)",
                match mkl::vendor_override_bound() {
                    Some(_) => "another definition",
                    None => "nothing",
                }
            )],
            advice: Some(
                "oneMKL's vendor check is not overridden in this executable: sgemm runs on its slow \
                 non-Intel path (see build-notes.md, oneMKL's vendor check); link with build.rs's \
                 two linker arguments"
                    .into(),
            ),
        }
    }
}

/// Whether this machine should print PyTorch's numbers bit for bit.
fn parity(vendor_ok: bool) -> Finding {
    let family = mkl::kernel_family();
    let sets = mkl::golden_families();
    let set_list = if sets.is_empty() {
        "none".to_string()
    } else {
        sets.join(", ")
    };
    let mut details = vec![format!("golden sets in this build: {set_list}")];
    let narrowed: Vec<String> = KERNEL_VARIABLES
        .iter()
        .filter_map(|v| std::env::var_os(v).map(|x| format!("{v}={}", x.to_string_lossy())))
        .collect();
    details.extend(narrowed.iter().cloned());
    let note = |value: String, advice: String, details: Vec<String>| Finding {
        topic: "parity",
        verdict: Verdict::Note,
        value,
        details,
        advice: Some(advice),
    };
    if !sets.contains(&family) {
        return note(
            format!("not checked here: no golden set for kernel family {family}"),
            format!(
                "bit parity with PyTorch 2.13 is only known on CPUs of a family with a golden set; \
                 make one on this CPU with `INITLAB_GOLDEN_DIR=tests/golden/{family} tools/reference/run.sh` \
                 (tools/reference/README.md)"
            ),
            details,
        );
    }
    if !narrowed.is_empty() {
        return note(
            format!(
                "not expected: kernel variables set ({})",
                narrowed.join(", ")
            ),
            "unset them: they change oneMKL's or ATen's kernels and so the rounding".into(),
            details,
        );
    }
    if !vendor_ok {
        return note(
            "not expected: oneMKL's vendor check is not overridden".into(),
            "see the oneMKL line".into(),
            details,
        );
    }
    Finding {
        topic: "parity",
        verdict: Verdict::Ok,
        value: format!(
            "expected: bit for bit with PyTorch 2.13 (golden set tests/golden/{family}; check with `make parity`)"
        ),
        details,
        advice: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_is_found_in_this_process() {
        let _ = tch::get_num_threads();
        let path = loaded_library("libtorch_cpu.so").expect("libtorch_cpu.so is mapped");
        assert!(path.is_absolute(), "{}", path.display());
    }

    #[test]
    fn report_has_every_topic() {
        let r = examine(None);
        let topics: Vec<&str> = r.findings.iter().map(|f| f.topic).collect();
        assert_eq!(
            topics,
            ["initlab", "tch", "libtorch", "data", "threads", "cpu", "oneMKL", "parity"]
        );
        for f in &r.findings {
            assert_eq!(f.verdict == Verdict::Ok, f.advice.is_none(), "{f:?}");
        }
    }
}
