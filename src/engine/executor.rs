//! The one executor: takes a plan (a list of [`PlannedRun`]s), and for each run opens and locks
//! its directory, reuses it when it holds the same spec's final result (the cache), resumes it
//! when it holds the same spec's checkpoint, otherwise trains it from the start — checkpointing,
//! stopping cleanly when asked, and recording how it ended. Outcomes (complete, unstable,
//! diverged, interrupted) are values in [`RunResult`], not errors.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::data::Mnist;
use crate::dbn::DbnProgress;
use crate::engine::board::RunBoard;
use crate::engine::checkpoint;
use crate::engine::hooks;
use crate::engine::rundir::{
    self, now_utc, CheckpointRef, EndDetail, Provenance, RunDir, RunDirError, RunRecord, RunStatus,
};
use crate::engine::spec::RunSpec;
use crate::model::Mlp;
use crate::plot;
use crate::train::{self, Checkpoint, Control, Ending, History, Progress, Start};

/// One run of a plan: its name (legend label), its directory and its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Name for messages and legends.
    pub name: String,
    /// Its run directory.
    pub dir: PathBuf,
    /// What to run.
    pub spec: RunSpec,
}

/// How the executor treats existing run directories. `Default`: use the cache, checkpoint after
/// every epoch, never replace another spec's run.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOptions {
    /// Reuse a directory's final result of the same spec instead of training again.
    pub use_cache: bool,
    /// Replace a directory that holds another spec's run (or no readable run).
    pub force: bool,
    /// Checkpoint every this many epochs (0: only when interrupted).
    pub checkpoint_every: usize,
    /// Sample the training dynamics every this many steps (0: off). Not part of the spec: it
    /// does not change what the run computes.
    pub monitor_every: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            use_cache: true,
            force: false,
            checkpoint_every: 1,
            monitor_every: crate::dynamics::DEFAULT_EVERY,
        }
    }
}

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartKind {
    /// From scratch.
    Fresh,
    /// From a checkpoint after this many epochs and batches.
    Resumed {
        /// Epochs done.
        epochs_done: usize,
        /// Batches done of the next epoch.
        batches_done: i64,
    },
    /// Read from the cache: nothing trained.
    Cached,
}

/// Progress of a plan, for displays.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// A run starts.
    Start {
        /// 1-based index in the plan.
        index: usize,
        /// Runs in the plan.
        total: usize,
        /// The run.
        run: &'a PlannedRun,
        /// Fresh, resumed or cached.
        how: StartKind,
    },
    /// A planner pretrains a DBN before its runs (the lab's deep sigmoid run).
    Pretrain {
        /// Where the stack goes.
        dir: &'a std::path::Path,
        /// RBMs in the stack.
        layers: usize,
        /// Epochs per RBM.
        epochs: usize,
    },
    /// DBN pretraining progress.
    Dbn(DbnProgress<'a>),
    /// Training progress.
    Train(Progress<'a>),
    /// A run ended (or was read from the cache).
    End(&'a RunResult),
}

/// What became of one run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The planned run.
    pub run: PlannedRun,
    /// The spec's hash.
    pub hash: String,
    /// Where it stands.
    pub status: RunStatus,
    /// How a diverged or unstable run ended.
    pub detail: Option<EndDetail>,
    /// Its epochs.
    pub history: History,
    /// Wall-clock seconds over all sessions (its first measurement when cached).
    pub seconds: f64,
    /// Read from the cache.
    pub cached: bool,
}

impl RunResult {
    /// The best epoch and its test error % ([`History::best`]: chosen on the validation split
    /// when the run has one, else on the test set).
    pub fn best(&self) -> Option<(usize, f64)> {
        self.history.best().map(|b| (b.epoch, b.test_error_percent))
    }

    /// `complete`, `unstable (…)`, `diverged at epoch k`, `interrupted`.
    pub fn status_text(&self) -> String {
        match (&self.status, &self.detail) {
            (RunStatus::Diverged, Some(EndDetail::Diverged { epoch, .. })) => {
                format!("diverged at epoch {epoch}")
            }
            (
                RunStatus::Unstable,
                Some(EndDetail::Unstable {
                    first_loss,
                    final_cost,
                }),
            ) => {
                format!("unstable (cost {final_cost:.3} > first loss {first_loss:.3})")
            }
            (s, _) => s.name().to_string(),
        }
    }
}

/// What a plan produced: every run reached, and the one interrupted, if any (the plan stops there).
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// Results, in plan order, up to and including an interrupted run.
    pub results: Vec<RunResult>,
    /// True when a run was interrupted: the later runs were not started.
    pub interrupted: bool,
}

/// Runs plans on one data set.
pub struct Executor<'a> {
    /// The data every spec of the plan names.
    pub data: &'a Mnist,
    /// Cache, force and checkpoint settings.
    pub options: ExecOptions,
    /// Raised to stop after the current batch (SIGINT).
    pub stop: Option<&'a AtomicBool>,
}

impl Executor<'_> {
    /// Checks every spec before anything runs: settings, the data it names, its init's source.
    pub fn check(&self, plan: &[PlannedRun]) -> Result<()> {
        for run in plan {
            run.spec
                .validate(self.data)
                .with_context(|| format!("run {}", run.name))?;
            anyhow::ensure!(
                content(&run.spec.data) == content(&self.data.identity),
                "run {}: its data ({}) is not the data loaded from {} (the checksums differ)",
                run.name,
                run.spec.data.dir.display(),
                self.data.identity.dir.display()
            );
        }
        Ok(())
    }

    /// Whether `run`'s directory already holds its final result (read without taking the lock).
    pub fn is_final(&self, run: &PlannedRun) -> bool {
        rundir::read_record(&run.dir)
            .map(|r| r.hash == run.spec.hash() && r.status.is_final())
            .unwrap_or(false)
    }

    /// Runs the plan in order; stops after a run that was interrupted.
    pub fn run(
        &self,
        plan: &[PlannedRun],
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<PlanOutcome> {
        self.check(plan)?;
        let mut results = Vec::new();
        for (i, run) in plan.iter().enumerate() {
            // Asked to stop between runs (or during a planner's pretraining): start no other.
            if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Ok(PlanOutcome {
                    results,
                    interrupted: true,
                });
            }
            let result = self
                .run_one(i + 1, plan.len(), run, observer)
                .with_context(|| format!("run {} ({})", run.name, run.dir.display()))?;
            let interrupted = result.status == RunStatus::Interrupted;
            results.push(result);
            if interrupted {
                return Ok(PlanOutcome {
                    results,
                    interrupted: true,
                });
            }
        }
        Ok(PlanOutcome {
            results,
            interrupted: false,
        })
    }

    fn run_one(
        &self,
        index: usize,
        total: usize,
        run: &PlannedRun,
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<RunResult> {
        let hash = run.spec.hash();
        let dir = RunDir::open(&run.dir)?;
        let existing = match dir.read_record() {
            Ok(r) => r,
            Err(e) if self.options.force && e.downcast_ref::<RunDirError>().is_some() => {
                dir.clear()?;
                None
            }
            Err(e) => return Err(e),
        };
        let mut resume: Option<(RunRecord, Checkpoint)> = None;
        if let Some(record) = existing {
            if record.hash != hash {
                if !self.options.force {
                    return Err(RunDirError::OtherSpec {
                        dir: run.dir.clone(),
                        found: record.hash,
                        wanted: hash,
                    }
                    .into());
                }
                dir.clear()?;
            } else if record.status.is_final() {
                if self.options.use_cache {
                    let result = RunResult {
                        run: run.clone(),
                        hash,
                        status: record.status,
                        detail: record.detail.clone(),
                        history: rundir::read_history(&run.dir)?,
                        seconds: record.seconds,
                        cached: true,
                    };
                    observer(RunEvent::Start {
                        index,
                        total,
                        run,
                        how: StartKind::Cached,
                    });
                    observer(RunEvent::End(&result));
                    return Ok(result);
                }
                dir.clear()?;
            } else if record.checkpoint.is_some() {
                let ck = checkpoint::load(&run.dir.join(checkpoint::FILE), &hash)?;
                resume = Some((record, ck));
            } else {
                // Running or interrupted before its first checkpoint: start again.
                dir.clear()?;
            }
        }

        let provenance = Provenance::here();
        let mut record = match &resume {
            Some((r, _)) => RunRecord {
                status: RunStatus::Running,
                provenance,
                ..r.clone()
            },
            None => RunRecord {
                format: rundir::FORMAT.into(),
                name: run.name.clone(),
                status: RunStatus::Running,
                hash: hash.clone(),
                spec: run.spec.clone(),
                checkpoint: None,
                detail: None,
                provenance,
                started: now_utc(),
                ended: None,
                seconds: 0.0,
            },
        };
        dir.write_record(&record)?;
        let how = match &resume {
            Some((_, ck)) => StartKind::Resumed {
                epochs_done: ck.epochs_done,
                batches_done: ck.batches_done,
            },
            None => StartKind::Fresh,
        };
        observer(RunEvent::Start {
            index,
            total,
            run,
            how,
        });
        let seconds_before = record.seconds;
        let started = Instant::now();

        let hook;
        let start = match resume {
            Some((_, ck)) => Start::Resume(Box::new(ck)),
            None => {
                hook = hooks::resolve(run.spec.model.init, &run.spec.source)?;
                Start::Fresh {
                    hook: hook.as_deref(),
                }
            }
        };

        // A new event file, also for a resumed run: it starts after the checkpoint (see
        // `board`).
        let board = RefCell::new(RunBoard::create(&run.dir, run.spec.model.activation)?);
        // The training loop's stop flag: the executor's (Ctrl-C) copied after every progress
        // event, or raised by a failed write to the TensorBoard log.
        let halt = AtomicBool::new(false);
        let checkpoint_path = run.dir.join(checkpoint::FILE);
        let mut on_checkpoint = |ck: &Checkpoint| -> Result<()> {
            // No checkpoint past what the TensorBoard log holds: it is on disk first, and its
            // write error ends the run.
            board.borrow_mut().flush()?;
            checkpoint::save(&checkpoint_path, ck, &hash)?;
            rundir::write_history(&run.dir, &ck.history)?;
            if let Some(log) = &ck.dynamics {
                rundir::write_dynamics(&run.dir, log)?;
            }
            record.checkpoint = Some(CheckpointRef {
                file: checkpoint::FILE.into(),
                epochs_done: ck.epochs_done,
                batches_done: ck.batches_done,
            });
            record.seconds = seconds_before + started.elapsed().as_secs_f64();
            dir.write_record(&record)
        };
        let control = Control {
            checkpoint_every: self.options.checkpoint_every,
            stop: Some(&halt),
            on_checkpoint: &mut on_checkpoint,
            monitor_every: self.options.monitor_every,
        };
        let resuming = matches!(start, Start::Resume(_));
        let outcome = train::train_run(
            &run.spec.model,
            self.data,
            &run.spec.train,
            start,
            control,
            &mut |p| {
                let failed = {
                    let mut board = board.borrow_mut();
                    board.observe(&p);
                    board.failed()
                };
                observer(RunEvent::Train(p));
                // After the observer, which may itself raise the stop flag; the loop checks
                // `halt` right after its events.
                let asked = self.stop.is_some_and(|s| s.load(Ordering::SeqCst));
                halt.store(asked || failed, Ordering::SeqCst);
            },
        )
        .with_context(|| {
            if resuming {
                format!("resuming from {}", checkpoint_path.display())
            } else {
                "training".into()
            }
        })?;
        board.into_inner().flush()?;

        let (status, detail) = match &outcome.ending {
            Ending::Complete => (RunStatus::Complete, None),
            Ending::Unstable {
                first_loss,
                final_cost,
            } => (
                RunStatus::Unstable,
                Some(EndDetail::Unstable {
                    first_loss: *first_loss,
                    final_cost: *final_cost,
                }),
            ),
            Ending::Diverged { epoch, batch, loss } => (
                RunStatus::Diverged,
                Some(EndDetail::Diverged {
                    epoch: *epoch,
                    batch: *batch,
                    loss: loss.to_string(),
                }),
            ),
            Ending::Interrupted(_) => (RunStatus::Interrupted, None),
        };
        record.status = status;
        record.detail = detail.clone();
        record.seconds = seconds_before + started.elapsed().as_secs_f64();
        rundir::write_history(&run.dir, &outcome.history)?;
        if status != RunStatus::Interrupted {
            if status != RunStatus::Diverged {
                save_model(&outcome.model, &run.dir)?;
            }
            let title = format!(
                "{} — {} init",
                run.spec.model.widths.label(),
                run.spec.model.init
            );
            if !outcome.history.epochs.is_empty() {
                plot::loss_chart(&outcome.history, &title, &run.dir.join("loss.png"))?;
            }
            if let Some(log) = outcome.dynamics.as_ref().filter(|d| !d.records.is_empty()) {
                rundir::write_dynamics(&run.dir, log)?;
                crate::dynamics::chart(
                    log,
                    &title,
                    outcome.history.first_batch_loss,
                    &run.dir.join(rundir::DYNAMICS_PNG),
                )?;
            }
            record.checkpoint = None;
            record.ended = Some(now_utc());
        }
        dir.write_record(&record)?;
        if status.is_final() {
            // The record no longer names it: a final run needs no checkpoint.
            let _ = std::fs::remove_file(&checkpoint_path);
        }
        let result = RunResult {
            run: run.clone(),
            hash,
            status,
            detail,
            history: outcome.history,
            seconds: record.seconds,
            cached: false,
        };
        observer(RunEvent::End(&result));
        Ok(result)
    }
}

/// The data's content checksums (the same for a raw file and its gz copy).
fn content(data: &crate::data::DataIdentity) -> Vec<&str> {
    data.files
        .iter()
        .map(|f| f.content_sha256.as_str())
        .collect()
}

/// Writes `model.safetensors` atomically.
pub fn save_model(model: &Mlp, dir: &std::path::Path) -> Result<()> {
    let mut st = crate::io::SafeTensors::default();
    for (name, t) in model.weights() {
        st.tensors.insert(name, t);
    }
    st.write(&dir.join("model.safetensors"))
}
