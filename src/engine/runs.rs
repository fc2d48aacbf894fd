//! Reading finished runs back: a run directory holds `run.json` (status, spec, hash,
//! provenance), `history.json`/`history.csv` (one row per epoch), `model.safetensors` (the
//! trained weights, once final) and `loss.png`; while running or interrupted also
//! `checkpoint.safetensors`; and one TensorBoard event file per session,
//! `events.out.tfevents.*` ([`crate::engine::board`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::engine::rundir::{self, RunRecord};
use crate::train::History;

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

/// Reads `run.json` and `history.json` of a run directory.
pub fn load_run(dir: &Path) -> Result<SavedRun> {
    anyhow::ensure!(
        dir.is_dir(),
        "{} is not a directory (expected a run directory with run.json)",
        dir.display()
    );
    let record = rundir::read_record(dir)?;
    let history = rundir::read_history(dir)
        .with_context(|| format!("reading the history of {}", dir.display()))?;
    Ok(SavedRun {
        dir: dir.to_path_buf(),
        record,
        history,
    })
}
