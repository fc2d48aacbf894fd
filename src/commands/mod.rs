//! One module per command group; each command takes its parsed arguments and returns what
//! `main` turns into an exit status. The helpers here are what several groups share.

pub mod doctor;
pub mod inspect;
pub mod plans;
pub mod saved_runs;
pub mod slurm;
pub mod train;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use initlab::base::data;

use initlab::base::data::locate::Origin;
use initlab::engine::executor::{ExecOptions, Executor, RunResult};
use initlab::engine::rundir::RunStatus;
use initlab::engine::spec::{InitSource, RunSpec};

use crate::cli;
use crate::console;

/// Raised by the first Ctrl-C (or SIGTERM, SIGHUP): training stops after the current batch.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Raised when a command hands its plan to an executor: from then on a run directory may be
/// written, and the first interrupt asks training to stop after its batch and checkpoint
/// ([`STOP`]). Before it (loading data, checking flags) nothing has been written: an interrupt
/// ends the process at once.
pub static WORKING: AtomicBool = AtomicBool::new(false);

/// What a command reports besides errors.
pub enum Done {
    Ok,
    /// A run was interrupted (its checkpoint saved).
    Interrupted,
    /// The single run of `train` diverged or ended unstable (saved, reported), or `doctor` found
    /// something missing.
    Failed,
}

/// Loads the MNIST-layout data set in `dir`, naming the folder in any error.
pub fn load_mnist(dir: &Path) -> Result<data::mnist::Mnist> {
    data::mnist::load_dir(dir).with_context(|| format!("loading MNIST from {}", dir.display()))
}

/// Loads the MNIST a command's data flags lead to (`--data-dir`, else where
/// `initlab::base::data::locate::search` finds it), naming the folder and why it was chosen in any error.
pub fn load_data(args: &cli::DataArgs) -> Result<data::mnist::Mnist> {
    let (origin, dir) = data::locate::data_dir(args.data_dir.as_deref())?;
    data::mnist::load_dir(&dir).with_context(|| match origin {
        Origin::Flag => format!("loading MNIST from {}", dir.display()),
        Origin::UserDir | Origin::Embedded => format!(
            "loading MNIST from {} (the user data folder; delete it to have initlab unpack its \
             own copy there again, or pass --data-dir DIR or set INITLAB_DATA=DIR)",
            dir.display()
        ),
        _ => format!(
            "loading MNIST from {} ({})",
            dir.display(),
            origin.describe()
        ),
    })
}

/// The executor for `data` with the command's options, stopped by Ctrl-C; from here on an
/// interrupt stops training after its batch ([`WORKING`]).
pub fn executor(data: &data::mnist::Mnist, options: ExecOptions) -> Executor<'_> {
    WORKING.store(true, Ordering::SeqCst);
    Executor {
        data,
        options,
        stop: Some(&STOP),
    }
}

/// The source of the `dbn` init from `--pretrained`.
pub fn source(pretrained: &Option<PathBuf>) -> Result<InitSource> {
    match pretrained {
        Some(dir) => InitSource::pretrained(dir),
        None => Ok(InitSource::None),
    }
}

/// Prints the spec's warnings on stderr.
pub fn warn(spec: &RunSpec) {
    for w in spec.warnings() {
        eprintln!("warning: {w}");
    }
}

/// Prints `value` as pretty JSON.
pub fn emit_json(value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("formatting JSON")?;
    console::emit!("{text}")?;
    Ok(())
}

/// The command line that ran this process, for "run it again to resume".
pub fn this_command() -> String {
    std::env::args_os()
        .map(|a| shell_word(Path::new(&a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A path as one shell word, for a message a person reads (a name that is not UTF-8 is shown
/// lossily; `--emit-plan` refuses it, as its commands must run as printed).
pub fn shell_word(p: &Path) -> String {
    shell_quote(&p.to_string_lossy())
}

/// `s` as one POSIX shell word: unchanged when every character is one no shell treats
/// specially anywhere in a word (letters, digits, `_ - . / , : + @ % =`), else in single quotes,
/// where nothing is special, each `'` written as `'\''`. Non-ASCII letters are quoted too, as a
/// shell's idea of them depends on its locale.
pub fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// After an interrupted plan: where it stopped (the interrupted runs: one, or several side by
/// side) and the command that continues it.
pub fn report_interrupted<'a>(
    results: impl Iterator<Item = &'a RunResult>,
    again: &str,
) -> Result<Done> {
    let stopped: Vec<&RunResult> = results
        .filter(|r| r.status == RunStatus::Interrupted)
        .collect();
    if stopped.is_empty() {
        console::emit!("Interrupted before the next run started.")?;
    }
    for r in stopped {
        console::emit!(
            "Interrupted: {} holds its checkpoint (status \"interrupted\").",
            r.run.dir.display()
        )?;
    }
    console::emit!("Resume with: {again}")?;
    Ok(Done::Interrupted)
}
