//! Reading finished runs back: a run directory holds `run.json` (status, spec, hash,
//! provenance), `history.json`/`history.csv` (one row per epoch), `model.safetensors` (the
//! trained weights, once final) and `loss.png`; while running or interrupted also
//! `checkpoint.safetensors`; and one TensorBoard event file per session,
//! `events.out.tfevents.*` ([`crate::engine::board`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::train::History;
use crate::engine::rundir::{self, RunRecord};

/// A run read back from disk.
#[derive(Debug, Clone)]
pub struct SavedRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Its `run.json`.
    pub record: RunRecord,
    /// Its per-epoch records.
    pub history: History,
}

/// A folder was given where a run directory was expected, and run directories lie below it.
#[derive(Debug, thiserror::Error)]
#[error("{} is not a run directory (no run.json), but {} run director{} below it: {}", dir.display(), runs.len(), if runs.len() == 1 { "y lies" } else { "ies lie" }, list(runs))]
pub struct RunsBelow {
    /// The folder given.
    pub dir: PathBuf,
    /// The run directories below it.
    pub runs: Vec<PathBuf>,
}

fn list(runs: &[PathBuf]) -> String {
    let mut names: Vec<String> = runs
        .iter()
        .take(4)
        .map(|p| p.display().to_string())
        .collect();
    if runs.len() > 4 {
        names.push("…".into());
    }
    names.join(", ")
}

/// Reads `run.json` and `history.json` of a run directory.
pub fn load_run(dir: &Path) -> Result<SavedRun> {
    anyhow::ensure!(
        dir.is_dir(),
        "{} is not a directory (expected a run directory with run.json)",
        dir.display()
    );
    if !dir.join(rundir::RUN_FILE).exists() {
        let runs = crate::base::output::io::find_below(dir, rundir::RUN_FILE, 2);
        if !runs.is_empty() {
            return Err(RunsBelow {
                dir: dir.to_path_buf(),
                runs,
            }
            .into());
        }
    }
    let record = rundir::read_record(dir)?;
    let history = rundir::read_history(dir)
        .with_context(|| format!("reading the history of {}", dir.display()))?;
    Ok(SavedRun {
        dir: dir.to_path_buf(),
        record,
        history,
    })
}
