//! Durable run directories: one writer at a time (an advisory lock), and a `run.json` that names
//! the one consistent state the directory holds — `running` (with its last checkpoint),
//! `interrupted`, `complete`, `diverged`, `unstable` or `failed` — with the spec, its hash and where and
//! when the run was made. Every file is written atomically ([`crate::base::output::io::write_atomic`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::output::checksum;
use crate::base::output::io;
use crate::base::parity::mkl::{self, MklDispatch};
use crate::base::train::dynamics::DynamicsLog;
use crate::base::train::{EpochRecord, History};
use crate::engine::spec::RunSpec;

// The files of a run directory: their names are decided here and nowhere else.

/// File name of the run's record.
pub const RUN_FILE: &str = "run.json";
/// The finished epochs as JSON ([`History`]), read back by every command on saved runs.
pub const HISTORY_JSON: &str = "history.json";
/// The same as a table ([`HISTORY_COLUMNS`]).
pub const HISTORY_CSV: &str = "history.csv";
/// The last checkpoint of a run not yet final ([`crate::engine::checkpoint`]).
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The final weights of a complete or unstable run.
pub const MODEL_FILE: &str = "model.safetensors";
/// The run's loss chart.
pub const LOSS_PNG: &str = "loss.png";
/// File name of the lock.
pub const LOCK_FILE: &str = ".lock";
/// The standard output and error of a batch task that trains the run in `dir` (`--slurm`), kept
/// next to the directory (`<dir>.slurm.out`, `<dir>.slurm.err`): inside it, before its
/// `run.json` exists, they would make it no run at all ([`RunDirError::NotARun`]).
pub fn batch_logs(dir: &Path) -> [PathBuf; 2] {
    let mut out = dir.as_os_str().to_owned();
    out.push(".slurm.out");
    let mut err = dir.as_os_str().to_owned();
    err.push(".slurm.err");
    [PathBuf::from(out), PathBuf::from(err)]
}

/// The process id written in the lock of the run directory `dir` when another process holds it
/// now (`Some("?")` if it wrote none); `None` when it is free or has no lock file. The lock is
/// opened read-only without following a link, and a lock taken to look is released at once.
pub fn lock_holder(dir: &Path) -> Option<String> {
    let mut lock = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(LOCK_FILE))
        .ok()?;
    match lock.try_lock() {
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            let pid = pid.trim();
            Some(if pid.is_empty() {
                "?".into()
            } else {
                pid.into()
            })
        }
        _ => None,
    }
}

/// Value of `run.json`'s `format`.
pub const FORMAT: &str = "initlab-run-v1";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Training (or its process died: then the lock is free and the run resumable).
    Running,
    /// Stopped on request; resumable from its checkpoint.
    Interrupted,
    /// All epochs ran.
    Complete,
    /// A loss became NaN or infinite.
    Diverged,
    /// All epochs ran, ending above the first batch's loss, or having learned nothing
    /// (`crate::base::train::learned_nothing`).
    Unstable,
    /// Training stopped on an error before its first checkpoint (the error is in the record's
    /// detail); it starts again from the beginning. A run with a checkpoint that stops on an
    /// error is `interrupted` instead, resumable.
    Failed,
}

impl RunStatus {
    /// Whether the run has reached its end (complete, diverged, unstable): the cache trusts it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Complete | RunStatus::Diverged | RunStatus::Unstable
        )
    }

    /// The name written in `run.json`.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Complete => "complete",
            RunStatus::Diverged => "diverged",
            RunStatus::Unstable => "unstable",
            RunStatus::Failed => "failed",
        }
    }
}

/// The position of the run's last checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRef {
    /// File name inside the run directory.
    pub file: String,
    /// Epochs finished.
    pub epochs_done: usize,
    /// Batches finished of the next epoch.
    pub batches_done: i64,
}

/// Details of how a finished run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum EndDetail {
    /// Where the loss became non-finite.
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch (0: the test loss after the epoch).
        batch: i64,
        /// The loss (NaN or ±inf, written as a string).
        loss: String,
    },
    /// The final train cost above the first batch's loss.
    Unstable {
        /// The first batch's loss.
        first_loss: f64,
        /// The final epoch's train cost.
        final_cost: f64,
    },
    /// The run learned nothing: it ended at chance accuracy, or near it with no loss below a
    /// uniform guess's (`crate::base::train::learned_nothing`); its status is `unstable`.
    AtChance {
        /// The final epoch's test accuracy.
        accuracy: f64,
        /// The lowest train cost or test loss of any epoch.
        lowest_loss: f64,
    },
    /// Training stopped on this error (the run is `failed`, or `interrupted` when a checkpoint
    /// continues it).
    Failed {
        /// The error, with its causes.
        error: String,
    },
}

/// What built and ran the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// initlab's version.
    pub initlab: String,
    /// The tch crate's version.
    pub tch: String,
    /// libtorch's version (from its `build-version` file at build time).
    pub libtorch: String,
    /// The git commit initlab was built from, when built from a checkout.
    pub git_commit: Option<String>,
    /// The CPU's model name.
    pub cpu: String,
    /// libtorch's intra-op threads.
    pub threads: i32,
    /// oneMKL's dispatch the run was made under. Runs written before initlab had the choice
    /// were made on oneMKL's Intel path.
    #[serde(default = "made_before_the_choice")]
    pub mkl_dispatch: MklDispatch,
    /// The family of oneMKL kernels the CPU ran ([`mkl::kernel_family`]: `avx512`, `avx2`,
    /// `other`). Runs of one plan made on different families are statistically comparable, not
    /// bit-comparable. `None` in runs written before initlab recorded it.
    #[serde(default)]
    pub kernel_family: Option<String>,
}

/// The machine a run was trained on, as far as it decides the run's arithmetic: two sessions
/// on equal machines compute the same numbers bit for bit; on different ones (another kernel
/// family, thread count or oneMKL dispatch) the numbers are statistically comparable only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// The family of oneMKL kernels ([`mkl::kernel_family`]); `None` when not recorded.
    pub kernel_family: Option<String>,
    /// The CPU's model name.
    pub cpu: String,
    /// libtorch's intra-op threads.
    pub threads: i32,
    /// oneMKL's dispatch.
    pub mkl_dispatch: MklDispatch,
}

impl Provenance {
    /// The machine of this provenance.
    pub fn machine(&self) -> Machine {
        Machine {
            kernel_family: self.kernel_family.clone(),
            cpu: self.cpu.clone(),
            threads: self.threads,
            mkl_dispatch: self.mkl_dispatch,
        }
    }
}

/// The dispatch of runs whose `run.json` does not name one: initlab always answered oneMKL's
/// vendor check "Intel" then.
fn made_before_the_choice() -> MklDispatch {
    MklDispatch::IntelPath
}

impl Provenance {
    /// This process's versions and machine.
    pub fn here() -> Provenance {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Provenance {
            initlab: env!("CARGO_PKG_VERSION").into(),
            tch: env!("INITLAB_TCH_VERSION").into(),
            libtorch: env!("INITLAB_LIBTORCH_VERSION").into(),
            git_commit: option_env!("INITLAB_GIT_COMMIT").map(String::from),
            cpu,
            threads: tch::get_num_threads(),
            mkl_dispatch: mkl::dispatch(),
            kernel_family: Some(mkl::kernel_family().into()),
        }
    }
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Always [`FORMAT`].
    pub format: String,
    /// The run's name (legend label).
    pub name: String,
    /// Where it stands.
    pub status: RunStatus,
    /// The spec's content hash ([`RunSpec::hash`]).
    pub hash: String,
    /// The spec.
    pub spec: RunSpec,
    /// The last checkpoint (running or interrupted runs).
    pub checkpoint: Option<CheckpointRef>,
    /// How a diverged or unstable run ended.
    pub detail: Option<EndDetail>,
    /// Versions and machine.
    pub provenance: Provenance,
    /// When the run first started (UTC, ISO 8601).
    pub started: String,
    /// When it ended (UTC), once final.
    pub ended: Option<String>,
    /// Wall-clock seconds spent on it, over all sessions.
    pub seconds: f64,
    /// Every machine it was trained on, in order of first use, resumed sessions included
    /// ([`RunRecord::machines`]). Empty in runs written before initlab recorded it.
    #[serde(default)]
    pub trained_on: Vec<Machine>,
}

impl RunRecord {
    /// The machines the run was trained on: [`RunRecord::trained_on`], or the provenance's one
    /// machine in a record written before the list. More than one: the run was resumed on
    /// another kind of machine, and its numbers are no uninterrupted run's bit for bit.
    pub fn machines(&self) -> Vec<Machine> {
        match self.trained_on.is_empty() {
            true => vec![self.provenance.machine()],
            false => self.trained_on.clone(),
        }
    }

    /// [`RunRecord::machines`] with `here` added at the end when it is not among them: the
    /// list of a session that trains the run on `here`.
    pub fn machines_with(&self, here: Machine) -> Vec<Machine> {
        let mut all = self.machines();
        if !all.contains(&here) {
            all.push(here);
        }
        all
    }
}

/// The current UTC time as `2026-11-29T19:04:05Z`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Problems with a run directory that the caller must tell apart.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// Another process holds the directory's lock.
    #[error("run directory {dir} is in use by another initlab process (pid {pid})")]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The holder's process id, as it wrote it (`?` if unreadable).
        pid: String,
    },
    /// The directory's lock file is a symbolic link, a hard link to another file or not a
    /// regular file: writing the holder's pid into it would overwrite whatever it leads to.
    #[error("{lock} is {what}; initlab does not open it, as writing its lock there would overwrite another file")]
    UnsafeLock {
        /// The lock file.
        lock: PathBuf,
        /// What it is instead of a plain file of its own.
        what: String,
    },
    /// The directory holds a run of another spec.
    #[error("run directory {dir} holds a run of another configuration (spec hash {found}, this one is {wanted})")]
    OtherSpec {
        /// The directory.
        dir: PathBuf,
        /// The hash found in its `run.json`.
        found: String,
        /// The hash of the spec asked for.
        wanted: String,
    },
    /// The directory holds a final run or a checkpoint of the same spec, made with another number
    /// of libtorch intra-op threads than this run would use. The thread count changes the order
    /// of floating-point sums, so the result is not the one this run would compute bit for bit
    /// (see `build-notes.md`, "Runs side by side"): it is neither reused nor continued.
    #[error("run directory {dir} holds this configuration trained with {found} libtorch thread{}, and this run would use {wanted}; results differ with the thread count, so it is neither reused nor resumed", if *found == 1 { "" } else { "s" })]
    OtherThreads {
        /// The directory.
        dir: PathBuf,
        /// The threads its `run.json` records (`provenance.threads`).
        found: i32,
        /// The threads this run would train with.
        wanted: i32,
    },
    /// The directory holds a final run or a checkpoint of the same spec made under another oneMKL
    /// dispatch: on a non-Intel CPU its numbers are not this run's (see
    /// [`crate::base::parity::mkl`]), so it is neither reused nor continued.
    #[error("run directory {dir} holds this configuration trained under oneMKL dispatch `{found}`, and this run would use `{wanted}`; results differ between them on non-Intel CPUs, so it is neither reused nor resumed")]
    OtherDispatch {
        /// The directory.
        dir: PathBuf,
        /// The dispatch its `run.json` records (`provenance.mkl_dispatch`).
        found: MklDispatch,
        /// The dispatch of this process.
        wanted: MklDispatch,
    },
    /// The directory holds files but no readable `run.json`.
    #[error("{dir} is not empty and holds no readable initlab run ({why})")]
    NotARun {
        /// The directory.
        dir: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// An open, locked run directory. The lock is released when it is dropped.
#[derive(Debug)]
pub struct RunDir {
    /// The directory.
    pub path: PathBuf,
    /// Whether [`RunDir::open`] made the directory (it did not exist before).
    created: bool,
    _lock: File,
}

impl RunDir {
    /// Creates `path` if needed and takes its lock; a directory locked by another process is a
    /// [`RunDirError::Locked`] error, and nothing in it is touched.
    pub fn open(path: &Path) -> Result<RunDir> {
        let created = !path.exists();
        std::fs::create_dir_all(path)
            .with_context(|| format!("creating run directory {}", path.display()))?;
        let lock_path = path.join(LOCK_FILE);
        let mut lock = open_lock(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = lock.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(RunDirError::Locked {
                    dir: path.to_path_buf(),
                    pid: if pid.is_empty() {
                        "?".into()
                    } else {
                        pid.into()
                    },
                }
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", lock_path.display()))
            }
        }
        // Record the holder for the message another process would print.
        let _ = lock.set_len(0);
        let _ = lock.seek(SeekFrom::Start(0));
        let _ = write!(lock, "{}", std::process::id());
        let _ = lock.flush();
        remove_stale_temporaries(path);
        Ok(RunDir {
            path: path.to_path_buf(),
            created,
            _lock: lock,
        })
    }

    /// Removes the directory when [`RunDir::open`] made it and nothing but the lock is in it:
    /// a run that failed to start leaves no directory behind. Anything else is left as it is.
    pub fn discard_if_unused(self) -> Result<()> {
        let only_lock = std::fs::read_dir(&self.path)
            .with_context(|| format!("listing {}", self.path.display()))?
            .all(|e| e.is_ok_and(|e| e.file_name() == LOCK_FILE));
        if self.created && only_lock {
            let lock = self.path.join(LOCK_FILE);
            std::fs::remove_file(&lock).with_context(|| format!("removing {}", lock.display()))?;
            std::fs::remove_dir(&self.path)
                .with_context(|| format!("removing {}", self.path.display()))?;
        }
        Ok(())
    }

    /// `run.json`'s path.
    pub fn record_path(&self) -> PathBuf {
        self.path.join(RUN_FILE)
    }

    /// The record, if the directory has one; a directory with other files and no readable
    /// record is a [`RunDirError::NotARun`].
    pub fn read_record(&self) -> Result<Option<RunRecord>> {
        let file = self.record_path();
        if !file.exists() {
            let others = std::fs::read_dir(&self.path)
                .with_context(|| format!("listing {}", self.path.display()))?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name() != LOCK_FILE);
            if others {
                return Err(RunDirError::NotARun {
                    dir: self.path.clone(),
                    why: format!("no {RUN_FILE}"),
                }
                .into());
            }
            return Ok(None);
        }
        match read_record(&self.path) {
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(RunDirError::NotARun {
                dir: self.path.clone(),
                why: format!("{e:#}"),
            }
            .into()),
        }
    }

    /// Writes `run.json` atomically.
    pub fn write_record(&self, record: &RunRecord) -> Result<()> {
        io::write_json(&self.record_path(), record)
    }

    /// Removes everything in the directory but the lock (for `--force`).
    pub fn clear(&self) -> Result<()> {
        for entry in std::fs::read_dir(&self.path)
            .with_context(|| format!("listing {}", self.path.display()))?
        {
            let entry = entry.with_context(|| format!("listing {}", self.path.display()))?;
            if entry.file_name() == LOCK_FILE {
                continue;
            }
            let p = entry.path();
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.with_context(|| format!("removing {}", p.display()))?;
        }
        Ok(())
    }
}

/// Opens (creating if needed) the lock file at `lock_path` without following a symbolic link
/// (`O_NOFOLLOW`); a link, a file with other hard links or anything but a regular file is a
/// [`RunDirError::UnsafeLock`], as the pid written into it would land in another file.
fn open_lock(lock_path: &Path) -> Result<File> {
    let unsafe_lock = |what: &str| RunDirError::UnsafeLock {
        lock: lock_path.to_path_buf(),
        what: what.into(),
    };
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(lock_path);
    let lock = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(unsafe_lock("a symbolic link").into())
        }
        Err(e) => return Err(e).with_context(|| format!("opening {}", lock_path.display())),
    };
    let meta = lock
        .metadata()
        .with_context(|| format!("reading the metadata of {}", lock_path.display()))?;
    if !meta.is_file() {
        return Err(unsafe_lock("not a regular file").into());
    }
    if meta.nlink() > 1 {
        return Err(unsafe_lock("a hard link to another file").into());
    }
    Ok(lock)
}

/// Removes the temporary files that [`io::write_atomic`] leaves when its process is killed
/// mid-write (`.NAME.tmp-PID`) from the run directory `dir`, whose lock this process now holds:
/// no other writer of the run exists, and a temporary of a process still alive (a reader writing
/// beside the run without the lock) is kept. Best effort.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temporary_owner) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        let plain = entry.file_type().is_ok_and(|t| t.is_file());
        if plain && (pid == std::process::id() || !alive) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The process id of a temporary file name `.NAME.tmp-PID`, if `name` is one.
fn temporary_owner(name: &str) -> Option<u32> {
    let (head, pid) = name.rsplit_once(".tmp-")?;
    if !head.starts_with('.') || head.len() < 2 || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Reads `dir/run.json` (bounded, strict), naming the file in errors.
pub fn read_record(dir: &Path) -> Result<RunRecord> {
    let file = dir.join(RUN_FILE);
    let record: RunRecord = io::read_json(&file)?;
    anyhow::ensure!(
        record.format == FORMAT,
        "{}: format {:?}, expected {FORMAT:?}",
        file.display(),
        record.format
    );
    Ok(record)
}

/// A column of `history.csv`: its header and its cell for an epoch (`None`: empty).
pub type HistoryColumn = (&'static str, fn(&EpochRecord) -> Option<String>);

/// The columns of `history.csv`, in order. A column whose cells are empty for every epoch (the
/// validation columns of a run without a validation split) is left out.
pub const HISTORY_COLUMNS: &[HistoryColumn] = &[
    ("epoch", |e| Some(e.epoch.to_string())),
    ("train_cost", |e| Some(format!("{:.9}", e.train_cost))),
    ("test_loss", |e| Some(format!("{:.9}", e.test_loss))),
    ("test_accuracy", |e| Some(format!("{:.6}", e.test_accuracy))),
    ("seconds", |e| Some(format!("{:.3}", e.seconds))),
    ("validation_loss", |e| {
        e.validation_loss.map(|v| format!("{v:.9}"))
    }),
    ("validation_accuracy", |e| {
        e.validation_accuracy.map(|v| format!("{v:.6}"))
    }),
    ("learning_rate", |e| {
        e.learning_rate.map(|v| format!("{v:e}"))
    }),
];

/// `history.csv`'s text for `history` ([`HISTORY_COLUMNS`]).
pub fn history_csv(history: &History) -> String {
    let columns: Vec<&HistoryColumn> = (HISTORY_COLUMNS.iter())
        .filter(|(_, cell)| history.epochs.iter().any(|e| cell(e).is_some()))
        .collect();
    let header: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let mut out = header.join(",") + "\n";
    for e in &history.epochs {
        let row: Vec<String> = (columns.iter())
            .map(|(_, cell)| cell(e).unwrap_or_default())
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Writes `history.json` and `history.csv` atomically.
pub fn write_history(dir: &Path, history: &History) -> Result<()> {
    io::write_json(&dir.join(HISTORY_JSON), history)?;
    io::write_atomic(&dir.join(HISTORY_CSV), history_csv(history).as_bytes())
}

/// Reads `history.json` of a run directory (checked against its checksum).
pub fn read_history(dir: &Path) -> Result<History> {
    io::read_json(&dir.join(HISTORY_JSON))
}

/// Checks the files a final run's reuse trusts (`record` is its `run.json`): `history.json`
/// and, unless the run diverged (it has none), `model.safetensors` must be there, whole and
/// match their checksums. The error names the file at fault
/// ([`crate::base::output::checksum::FileError`] for a damaged one).
pub fn verify_final(dir: &Path, record: &RunRecord) -> Result<()> {
    read_history(dir)?;
    if record.status != RunStatus::Diverged {
        io::SafeTensors::read(&dir.join(MODEL_FILE))?;
    }
    Ok(())
}

/// The sampled training dynamics of a run directory ([`DynamicsLog::csv`]).
pub const DYNAMICS_CSV: &str = "dynamics.csv";
/// Their activation histograms ([`DynamicsLog::histograms_csv`]).
pub const DYNAMICS_HISTOGRAMS: &str = "dynamics-histograms.csv";
/// Their chart.
pub const DYNAMICS_PNG: &str = "dynamics.png";
/// The SHA-256 of both dynamics files, as sealed JSON ([`io::write_json`]): CSV has no place for
/// a checksum of its own, and `initlab dynamics` must not draw a file changed after the run.
pub const DYNAMICS_SUMS: &str = "dynamics.sha256.json";
/// Largest dynamics file read back (a 30-layer net sampled every step of 100 epochs stays below).
const MAX_DYNAMICS_BYTES: u64 = 512 << 20;

/// Writes `dynamics.csv` and `dynamics-histograms.csv` atomically, then their checksums
/// ([`DYNAMICS_SUMS`]); a process killed between the files leaves sums that do not match, which
/// [`read_dynamics`] refuses until the run writes them again.
pub fn write_dynamics(dir: &Path, log: &DynamicsLog) -> Result<()> {
    let csv = log.csv();
    let hist = log.histograms_csv();
    io::write_atomic(&dir.join(DYNAMICS_CSV), csv.as_bytes())?;
    io::write_atomic(&dir.join(DYNAMICS_HISTOGRAMS), hist.as_bytes())?;
    let sums = std::collections::BTreeMap::from([
        (DYNAMICS_CSV, checksum::sha256_hex(csv.as_bytes())),
        (DYNAMICS_HISTOGRAMS, checksum::sha256_hex(hist.as_bytes())),
    ]);
    io::write_json(&dir.join(DYNAMICS_SUMS), &sums)
}

/// `text`, read from `dir/name`, checked against the SHA-256 [`DYNAMICS_SUMS`] records for it.
fn check_dynamics_file(
    dir: &Path,
    name: &str,
    text: &str,
    sums: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let path = dir.join(name);
    let Some(recorded) = sums.get(name) else {
        return Err(checksum::FileError::Unverified { path }.into());
    };
    let found = checksum::sha256_hex(text.as_bytes());
    if &found != recorded {
        return Err(checksum::FileError::Mismatch {
            path,
            detail: format!("its SHA-256 is {found}, {DYNAMICS_SUMS} records {recorded}"),
        }
        .into());
    }
    Ok(())
}

/// Reads a run directory's dynamics files for the net of `spec`; the error names the file and
/// says when the run has none.
pub fn read_dynamics(dir: &Path, spec: &RunSpec) -> Result<DynamicsLog> {
    let csv_path = dir.join(DYNAMICS_CSV);
    if !csv_path.exists() {
        anyhow::bail!(
            "{} has no {DYNAMICS_CSV}: the run was trained without monitoring, or by an initlab \
             older than the dynamics monitor",
            dir.display()
        );
    }
    let text = |p: &Path| -> Result<String> {
        String::from_utf8(io::read_bounded(p, MAX_DYNAMICS_BYTES)?)
            .with_context(|| format!("{} is not UTF-8 text", p.display()))
    };
    let csv = text(&csv_path)?;
    let hist = text(&dir.join(DYNAMICS_HISTOGRAMS))?;
    let sums_path = dir.join(DYNAMICS_SUMS);
    if !sums_path.exists() {
        return Err(checksum::FileError::Unverified { path: csv_path }.into());
    }
    let sums: std::collections::BTreeMap<String, String> = io::read_json(&sums_path)?;
    check_dynamics_file(dir, DYNAMICS_CSV, &csv, &sums)?;
    check_dynamics_file(dir, DYNAMICS_HISTOGRAMS, &hist, &sums)?;
    let mut log = DynamicsLog::new(spec.model.activation, spec.model.widths.0.len() - 1, 0, 1);
    log.parse(&csv, &hist)
        .with_context(|| format!("reading the dynamics of {}", dir.display()))?;
    log.every = match log.records.as_slice() {
        [a, b, ..] => (b.step - a.step).max(0) as usize,
        _ => 0,
    };
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::temporary_owner;

    #[test]
    fn only_write_atomic_temporaries_name_an_owner() {
        assert_eq!(
            temporary_owner(".checkpoint.safetensors.tmp-4242"),
            Some(4242)
        );
        assert_eq!(temporary_owner(".run.json.tmp-7"), Some(7));
        assert_eq!(temporary_owner("checkpoint.safetensors.tmp-4242"), None);
        assert_eq!(temporary_owner(".run.json.tmp-"), None);
        assert_eq!(temporary_owner(".run.json.tmp-12a"), None);
        assert_eq!(temporary_owner(".tmp-12"), None);
        assert_eq!(temporary_owner("run.json"), None);
    }
}
