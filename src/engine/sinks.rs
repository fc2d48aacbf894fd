//! The sinks the executor gives every run ([`RunSink`]), besides its TensorBoard log
//! ([`crate::engine::board::RunBoard`]) and the plan's observer: the run directory's files
//! ([`RunFiles`]: checkpoints, history, dynamics, weights and `run.json`) and its charts
//! ([`RunCharts`]). Their order in the executor is the order of writes: the log, the charts, then
//! the files, whose `run.json` comes last and says what the directory holds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::base::nn::model::Mlp;
use crate::base::output::io::SafeTensors;
use crate::base::train::chart::loss_chart;
use crate::base::train::dynamics;
use crate::base::train::sink::RunSink;
use crate::base::train::trainer::TrainState;
use crate::base::train::{Checkpoint, Ending};
use crate::engine::checkpoint;
use crate::engine::rundir::{
    self, now_utc, CheckpointRef, EndDetail, RunDir, RunRecord, RunStatus, CHECKPOINT_FILE,
    DYNAMICS_PNG, LOSS_PNG, MODEL_FILE,
};

/// The run directory as a sink: the one writer of a run's files while it trains. Its record
/// (`run.json`) always names the one consistent state the directory holds.
pub struct RunFiles<'a> {
    dir: &'a RunDir,
    record: RunRecord,
    /// The record as last written.
    written: RunRecord,
    /// Seconds of earlier sessions, and when this one started.
    seconds_before: f64,
    started: Instant,
}

impl<'a> RunFiles<'a> {
    /// Takes over `dir` for a run whose record is `record` (status `running`), writing it.
    pub fn start(dir: &'a RunDir, record: RunRecord) -> Result<Self> {
        dir.write_record(&record)?;
        Ok(RunFiles {
            dir,
            seconds_before: record.seconds,
            written: record.clone(),
            record,
            started: Instant::now(),
        })
    }

    /// The record as last written.
    pub fn last_written(&self) -> &RunRecord {
        &self.written
    }

    /// Writes the record, then remembers it as written.
    fn write(&mut self) -> Result<()> {
        self.dir.write_record(&self.record)?;
        self.written = self.record.clone();
        Ok(())
    }

    /// Records that training stopped on `error`, from the record as last written: `interrupted`
    /// when its checkpoint continues the run, else `failed`; the error in its detail. Best
    /// effort: the error may be the disk's, and the one to report is `error`.
    pub fn fail(&mut self, error: &anyhow::Error) {
        let mut record = self.written.clone();
        record.status = match record.checkpoint {
            Some(_) => RunStatus::Interrupted,
            None => RunStatus::Failed,
        };
        record.detail = Some(EndDetail::Failed {
            error: format!("{error:#}"),
        });
        record.seconds = self.seconds();
        self.record = record;
        let _ = self.write();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path.join(name)
    }

    fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }
}

impl RunSink for RunFiles<'_> {
    fn on_checkpoint(&mut self, ck: &Checkpoint) -> Result<()> {
        checkpoint::save(&self.path(CHECKPOINT_FILE), ck, &self.record.hash)?;
        rundir::write_history(&self.dir.path, &ck.history)?;
        if let Some(log) = &ck.dynamics {
            rundir::write_dynamics(&self.dir.path, log)?;
        }
        self.record.checkpoint = Some(CheckpointRef {
            file: CHECKPOINT_FILE.into(),
            epochs_done: ck.epochs_done,
            batches_done: ck.batches_done,
        });
        self.record.seconds = self.seconds();
        self.write()
    }

    fn on_end(&mut self, state: &TrainState, ending: &Ending) -> Result<()> {
        let (status, detail) = status_of(ending);
        self.record.status = status;
        self.record.detail = detail;
        self.record.seconds = self.seconds();
        rundir::write_history(&self.dir.path, &state.history)?;
        if status != RunStatus::Interrupted {
            if status != RunStatus::Diverged {
                save_model(&state.model, &self.dir.path)?;
            }
            if let Some(log) = state.dynamics.as_ref().filter(|d| !d.records.is_empty()) {
                rundir::write_dynamics(&self.dir.path, log)?;
            }
            self.record.checkpoint = None;
            self.record.ended = Some(now_utc());
        }
        self.write()?;
        if status.is_final() {
            // The record no longer names it: a final run needs no checkpoint.
            let _ = std::fs::remove_file(self.path(CHECKPOINT_FILE));
        }
        Ok(())
    }
}

/// The status `run.json` records for `ending`, and its detail.
pub fn status_of(ending: &Ending) -> (RunStatus, Option<EndDetail>) {
    match *ending {
        Ending::Complete => (RunStatus::Complete, None),
        Ending::Unstable {
            first_loss,
            final_cost,
        } => (
            RunStatus::Unstable,
            Some(EndDetail::Unstable {
                first_loss,
                final_cost,
            }),
        ),
        Ending::AtChance {
            accuracy,
            lowest_loss,
        } => (
            RunStatus::Unstable,
            Some(EndDetail::AtChance {
                accuracy,
                lowest_loss,
            }),
        ),
        Ending::Diverged { epoch, batch, loss } => (
            RunStatus::Diverged,
            Some(EndDetail::Diverged {
                epoch,
                batch,
                loss: loss.to_string(),
            }),
        ),
        Ending::Interrupted(_) => (RunStatus::Interrupted, None),
    }
}

/// Writes `model`'s weights into the run directory `dir` ([`MODEL_FILE`]) atomically.
pub fn save_model(model: &Mlp, dir: &Path) -> Result<()> {
    let mut st = SafeTensors::default();
    for (name, t) in model.weights() {
        st.tensors.insert(name, t);
    }
    st.write(&dir.join(MODEL_FILE))
}

/// A run's charts, drawn when it ends (not when interrupted): the loss chart and, for a
/// monitored run, the dynamics chart.
pub struct RunCharts {
    dir: PathBuf,
    title: String,
}

impl RunCharts {
    /// Charts into `dir`, titled `title`.
    pub fn new(dir: &Path, title: String) -> Self {
        RunCharts {
            dir: dir.to_path_buf(),
            title,
        }
    }
}

impl RunSink for RunCharts {
    fn on_end(&mut self, state: &TrainState, ending: &Ending) -> Result<()> {
        if matches!(ending, Ending::Interrupted(_)) {
            return Ok(());
        }
        let history = &state.history;
        if !history.epochs.is_empty() {
            loss_chart(history, &self.title, &self.dir.join(LOSS_PNG))?;
        }
        if let Some(log) = state.dynamics.as_ref().filter(|d| !d.records.is_empty()) {
            let first = history.first_batch_loss;
            dynamics::chart(log, &self.title, first, &self.dir.join(DYNAMICS_PNG))?;
        }
        Ok(())
    }
}
