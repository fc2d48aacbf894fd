//! The one executor: takes a plan (a list of [`PlannedRun`]s), and for each run opens and locks
//! its directory, reuses it when it holds the same spec's final result (the cache), resumes it
//! when it holds the same spec's checkpoint, otherwise trains it from the start — checkpointing,
//! stopping cleanly when asked, and recording how it ended. Outcomes (complete, unstable,
//! diverged, interrupted) are values in [`RunResult`], not errors.
//!
//! With [`ExecOptions::jobs`] above 1 the runs that need training go to worker processes, up to
//! `jobs` at a time, each with `threads / jobs` libtorch threads ([`crate::engine::workers`]); the
//! executor still decides what is reused, resumed or trained, and returns the same
//! [`PlanOutcome`]. A run's thread count is part of what it computed: a directory made with
//! another count is neither reused nor resumed ([`RunDirError::OtherThreads`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use crate::base::data::mnist::Mnist;
use crate::base::parity::mkl::{self, MklDispatch};
use crate::base::train::sink::{self, Control, ProgressSink, RunSink};
use crate::base::train::trainer::Trainer;
use crate::base::train::{Checkpoint, EpochRecord, History, Progress};
use crate::engine::board::RunBoard;
use crate::engine::checkpoint;
use crate::engine::hooks;
use crate::engine::rundir::{
    self, now_utc, EndDetail, Provenance, RunDir, RunDirError, RunRecord, RunStatus,
    CHECKPOINT_FILE,
};
use crate::engine::sinks::{RunCharts, RunFiles};
use crate::engine::spec::RunSpec;
use crate::pretraining::dbn::DbnProgress;
use serde::{Deserialize, Serialize};

/// One run of a plan: its name (legend label), its directory and its spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Name for messages and legends.
    pub name: String,
    /// Its run directory.
    pub dir: PathBuf,
    /// What to run.
    pub spec: RunSpec,
}

/// The program that trains one run in a worker process, and its leading arguments; the
/// [`WorkerJob`](crate::engine::workers::WorkerJob) follows on its standard input.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerCommand {
    /// The program (the `initlab` binary).
    pub program: PathBuf,
    /// Its arguments (the hidden subcommand).
    pub args: Vec<OsString>,
}

/// How the executor treats existing run directories, and how many runs it trains at once.
/// `Default`: use the cache, checkpoint after every epoch, never replace another spec's run, one
/// run at a time in this process.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOptions {
    /// Reuse a directory's final result of the same spec, trained with the same number of
    /// libtorch threads as this run would be, instead of training again.
    pub use_cache: bool,
    /// Replace a directory that holds another spec's run (or no readable run).
    pub force: bool,
    /// Checkpoint every this many epochs (0: only when interrupted).
    pub checkpoint_every: usize,
    /// Sample the training dynamics every this many steps (0: off). Not part of the spec: it
    /// does not change what the run computes.
    pub monitor_every: usize,
    /// Runs trained at once. 1: one after the other in this process, with all of libtorch's
    /// threads (the lab's numbers, bit for bit). Above 1: side by side in worker processes
    /// started with [`ExecOptions::worker`], each with
    /// [`threads_per_job`](crate::engine::workers::threads_per_job) threads — results that
    /// differ in the last digits from the one-at-a-time ones, and are recorded with their
    /// thread count. 0 is an error.
    pub jobs: usize,
    /// The program that trains one run in a worker process (needed when `jobs` > 1): the
    /// `initlab` binary with its hidden `worker` subcommand.
    pub worker: Option<WorkerCommand>,
    /// Train nothing: read every run's final result, made with this plan's threads and oneMKL
    /// dispatch, and fail with [`NotGathered`](crate::engine::gather::NotGathered), naming each
    /// run that is missing, running, interrupted, failed or made otherwise, when any is
    /// ([`crate::engine::gather`]). For a plan whose runs were trained elsewhere (`--gather`).
    pub gather_only: bool,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            use_cache: true,
            force: false,
            checkpoint_every: 1,
            monitor_every: crate::base::train::dynamics::DEFAULT_EVERY,
            jobs: 1,
            worker: None,
            gather_only: false,
        }
    }
}

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
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
    /// A run ended (or was read from the cache; or, side by side, its worker process ended).
    End(&'a RunResult),
    /// Runs go side by side ([`ExecOptions::jobs`] > 1): this many of the plan need training
    /// and go to worker processes, up to `jobs` at a time with `threads` threads each.
    SideBySide {
        /// Runs to train (the others were read from the cache).
        runs: usize,
        /// Worker processes at once.
        jobs: usize,
        /// libtorch threads of each.
        threads: i32,
    },
    /// A run started in its worker process.
    WorkerStart {
        /// 1-based index in the plan.
        index: usize,
        /// Runs in the plan.
        total: usize,
        /// The run.
        run: &'a PlannedRun,
        /// Fresh or resumed.
        how: StartKind,
        /// The worker's process id.
        pid: u32,
    },
    /// A run in a worker process finished an epoch.
    WorkerEpoch {
        /// 1-based index in the plan.
        index: usize,
        /// Runs in the plan.
        total: usize,
        /// The run.
        run: &'a PlannedRun,
        /// The epoch.
        record: &'a EpochRecord,
    },
    /// A run's worker process failed. The plan goes on; [`Executor::run`] returns
    /// [`RunsFailed`](crate::engine::workers::RunsFailed) at its end.
    WorkerFailed {
        /// 1-based index in the plan.
        index: usize,
        /// Runs in the plan.
        total: usize,
        /// The run.
        run: &'a PlannedRun,
        /// What went wrong (the worker's error message).
        error: &'a str,
    },
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
    /// Every machine it was trained on ([`RunRecord::machines`]).
    pub machines: Vec<rundir::Machine>,
}

impl RunResult {
    /// The best epoch and its test error % ([`History::best`]: chosen on the validation split
    /// when the run has one, else on the test set).
    pub fn best(&self) -> Option<(usize, f64)> {
        self.history.best().map(|b| (b.epoch, b.test_error_percent))
    }

    /// `complete`, `unstable (…)`, `diverged at epoch k, batch b (loss NaN)`, `interrupted`.
    pub fn status_text(&self) -> String {
        match (&self.status, &self.detail) {
            (RunStatus::Diverged, Some(EndDetail::Diverged { epoch, batch, loss })) => {
                match batch {
                    0 => format!("diverged at epoch {epoch} (test loss {loss})"),
                    b => format!("diverged at epoch {epoch}, batch {b} (loss {loss})"),
                }
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
            (
                RunStatus::Unstable,
                Some(EndDetail::AtChance {
                    accuracy,
                    lowest_loss,
                }),
            ) => {
                format!(
                    "unstable (at chance: accuracy {:.1} %, lowest loss {lowest_loss:.3})",
                    100.0 * accuracy
                )
            }
            (s, _) => s.name().to_string(),
        }
    }
}

/// What a plan produced: every run reached, and the one interrupted, if any (the plan stops there).
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// Results, in plan order, up to and including an interrupted run; side by side, up to the
    /// first run not started (the runs interrupted all come before it).
    pub results: Vec<RunResult>,
    /// True when a run was interrupted: the later runs were not started.
    pub interrupted: bool,
}

/// What to do with a run directory, from its `run.json` (if any) and the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing there: train from the start.
    Fresh,
    /// Something there to remove first (`--force`, `--no-cache`, or a run that died before its
    /// first checkpoint); then train from the start.
    Clear,
    /// Its final result is this run's: read it.
    Reuse,
    /// Its checkpoint is this run's: continue from it.
    Resume,
}

/// The executor's rule for a directory holding `record`, for a run of spec hash `hash` trained
/// with `threads` libtorch threads under oneMKL's `dispatch`. Another spec's run, or this spec's
/// made with another thread count or dispatch (its numbers differ), is an error unless
/// `options.force`. Those two are the plan's choices; the kernel family and CPU are the
/// machine's: a final run or checkpoint made on another one is reused or resumed (a requeued
/// batch task lands on whatever node is free, and refusing would fail it with its checkpoint), and
/// `run.json` lists every machine a run was trained on ([`RunRecord::trained_on`]) so that the
/// plan's summary calls it what it is, statistically comparable and not bit-comparable.
pub(crate) fn decide(
    dir: &std::path::Path,
    record: Option<&RunRecord>,
    hash: &str,
    threads: i32,
    dispatch: MklDispatch,
    options: &ExecOptions,
) -> std::result::Result<Decision, RunDirError> {
    let Some(record) = record else {
        return Ok(Decision::Fresh);
    };
    let made = &record.provenance;
    let other_arithmetic = || {
        if options.force {
            Ok(Decision::Clear)
        } else if made.threads != threads {
            Err(RunDirError::OtherThreads {
                dir: dir.to_path_buf(),
                found: made.threads,
                wanted: threads,
            })
        } else {
            Err(RunDirError::OtherDispatch {
                dir: dir.to_path_buf(),
                found: made.mkl_dispatch,
                wanted: dispatch,
            })
        }
    };
    let same_threads = made.threads == threads && made.mkl_dispatch == dispatch;
    if record.hash != hash {
        if options.force {
            return Ok(Decision::Clear);
        }
        return Err(RunDirError::OtherSpec {
            dir: dir.to_path_buf(),
            found: record.hash.clone(),
            wanted: hash.to_string(),
        });
    }
    if record.status.is_final() {
        return match (options.use_cache, same_threads) {
            (false, _) => Ok(Decision::Clear),
            (true, true) => Ok(Decision::Reuse),
            (true, false) => other_arithmetic(),
        };
    }
    if record.checkpoint.is_some() {
        return if same_threads {
            Ok(Decision::Resume)
        } else {
            other_arithmetic()
        };
    }
    // Running or interrupted before its first checkpoint: start again.
    Ok(Decision::Clear)
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

    /// Whether `run`'s directory already holds its final result, with files that pass their
    /// checks ([`rundir::verify_final`]; read without taking the lock).
    pub fn is_final(&self, run: &PlannedRun) -> bool {
        rundir::read_record(&run.dir)
            .map(|r| {
                r.hash == run.spec.hash()
                    && r.status.is_final()
                    && rundir::verify_final(&run.dir, &r).is_ok()
            })
            .unwrap_or(false)
    }

    /// Runs the plan: in order in this process ([`ExecOptions::jobs`] = 1; stops after a run
    /// that was interrupted), or side by side in worker processes (`jobs` > 1; see
    /// [`crate::engine::workers`]).
    pub fn run(
        &self,
        plan: &[PlannedRun],
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<PlanOutcome> {
        anyhow::ensure!(
            self.options.jobs >= 1,
            "jobs must be at least 1 (runs trained at once), got 0"
        );
        self.check(plan)?;
        if self.options.gather_only {
            return self.gather(plan, observer);
        }
        if self.options.jobs > 1 {
            return self.run_side_by_side(plan, observer);
        }
        let threads = tch::get_num_threads();
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
                .run_one(i + 1, plan.len(), run, threads, observer)
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

    /// Runs one run in this process, which trains with `threads` libtorch threads (the count
    /// the cache compares with a directory's): reads it from the cache, or trains it (fresh or
    /// resumed) with its sinks — the TensorBoard log, the charts, the run directory's files and
    /// the plan's observer.
    pub(crate) fn run_one(
        &self,
        index: usize,
        total: usize,
        run: &PlannedRun,
        threads: i32,
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<RunResult> {
        let hash = run.spec.hash();
        let start = |how| RunEvent::Start {
            index,
            total,
            run,
            how,
        };
        let dir = RunDir::open(&run.dir)?;
        let resume = match self.prepare(&dir, run, &hash, threads)? {
            Prepared::Cached(record) => {
                let result = result_from_dir(run, hash, &record, true)?;
                observer(start(StartKind::Cached));
                observer(RunEvent::End(&result));
                return Ok(result);
            }
            Prepared::Train(resume) => resume,
        };
        let how = match &resume {
            Some((_, ck)) => StartKind::Resumed {
                epochs_done: ck.epochs_done,
                batches_done: ck.batches_done,
            },
            None => StartKind::Fresh,
        };
        let context = || match how {
            StartKind::Resumed { .. } => {
                format!("resuming from {}", run.dir.join(CHECKPOINT_FILE).display())
            }
            _ => "training".to_string(),
        };
        let (earlier, ck) = resume.map_or((None, None), |(r, ck)| (Some(r), Some(ck)));
        // Built before run.json says `running`: a start that fails leaves the directory as it
        // was, and removes it when this start made it (issue 21, item 5).
        let mut trainer = match self.trainer(&run.spec, ck).with_context(context) {
            Ok(t) => t,
            Err(e) => {
                // The start's error is the one to report; a directory that cannot be removed
                // only stays behind, holding no run.json (eval and resume say so).
                let _ = dir.discard_if_unused();
                return Err(e);
            }
        };
        let record = running_record(run, &hash, earlier.as_ref());
        let mut files = RunFiles::start(&dir, record)?;
        observer(start(how));
        let trained = self.train(run, &mut trainer, &mut files, observer);
        if let Err(e) = &trained {
            files.fail(e);
        }
        trained.with_context(context)?;
        let record = files.last_written();
        let result = RunResult {
            run: run.clone(),
            hash,
            status: record.status,
            detail: record.detail.clone(),
            history: trainer.into_state().history,
            seconds: record.seconds,
            cached: false,
            machines: record.machines(),
        };
        observer(RunEvent::End(&result));
        Ok(result)
    }

    /// Trains `run` with `trainer` until it ends, its sinks the TensorBoard log, the charts, the
    /// run directory's `files` and the plan's observer.
    fn train(
        &self,
        run: &PlannedRun,
        trainer: &mut Trainer,
        files: &mut RunFiles,
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<()> {
        let spec = &run.spec;
        // A new event file, also for a resumed run: it starts after the checkpoint (see `board`).
        let mut board = RunBoard::create(&run.dir, spec.model.activation)?;
        let title = spec.model.title();
        let mut charts = RunCharts::new(&run.dir, title);
        let mut forward = ProgressSink(|p| observer(RunEvent::Train(p)));
        let control = Control {
            checkpoint_every: self.options.checkpoint_every,
            stop: self.stop,
        };
        let sinks: &mut [&mut dyn RunSink] = &mut [&mut board, &mut charts, files, &mut forward];
        sink::run(trainer, sinks, control)?;
        Ok(())
    }

    /// The trainer of `spec`: resumed from `ck`, or fresh with its init's data-dependent step.
    fn trainer<'s>(
        &'s self,
        spec: &'s RunSpec,
        ck: Option<Box<Checkpoint>>,
    ) -> Result<Trainer<'s>> {
        let monitor = self.options.monitor_every;
        let (model, train) = (&spec.model, &spec.train);
        match ck {
            Some(ck) => Trainer::resume(model, self.data, train, *ck, monitor),
            None => {
                let hook = hooks::resolve(model.init, &spec.source)?;
                Trainer::fresh(model, self.data, train, hook.as_deref(), monitor)
            }
        }
    }

    /// What to do with `run`'s directory ([`decide`]): read it from the cache, or train it,
    /// resuming from its checkpoint or from the start (after clearing what was there).
    fn prepare(
        &self,
        dir: &RunDir,
        run: &PlannedRun,
        hash: &str,
        threads: i32,
    ) -> Result<Prepared> {
        let existing = match dir.read_record() {
            Ok(r) => r,
            Err(e) if self.options.force && e.downcast_ref::<RunDirError>().is_some() => {
                dir.clear()?;
                None
            }
            Err(e) => return Err(e),
        };
        let Some(record) = existing else {
            return Ok(Prepared::Train(None));
        };
        match decide(
            &run.dir,
            Some(&record),
            hash,
            threads,
            mkl::dispatch(),
            &self.options,
        )? {
            Decision::Fresh => Ok(Prepared::Train(None)),
            Decision::Clear => {
                dir.clear()?;
                Ok(Prepared::Train(None))
            }
            Decision::Reuse => match rundir::verify_final(&run.dir, &record) {
                Ok(()) => Ok(Prepared::Cached(record)),
                Err(e) => self.clear_damaged(dir, e, "its final result is not reused"),
            },
            Decision::Resume => {
                let epochs = record.spec.train.epochs;
                match checkpoint::load(&run.dir.join(CHECKPOINT_FILE), hash, epochs) {
                    Ok(ck) => Ok(Prepared::Train(Some((record, Box::new(ck))))),
                    Err(e) => self.clear_damaged(dir, e, "it cannot be resumed"),
                }
            }
        }
    }

    /// A run directory whose files failed their checks (`error`): with
    /// [`ExecOptions::force`] it is emptied and the run trained from the start; otherwise the
    /// error stands, saying `what` follows from it.
    fn clear_damaged(&self, dir: &RunDir, error: anyhow::Error, what: &str) -> Result<Prepared> {
        if !self.options.force {
            return Err(error.context(format!("{}: {what}", dir.path.display())));
        }
        dir.clear()?;
        Ok(Prepared::Train(None))
    }
}

/// A run directory's fate, decided by [`Executor::prepare`].
enum Prepared {
    /// Its final result is reused.
    Cached(RunRecord),
    /// It is trained: from this record's checkpoint, or from the start.
    Train(Option<(RunRecord, Box<Checkpoint>)>),
}

/// The record of `run` as it starts training here: the earlier record's, resumed, or a new one.
fn running_record(run: &PlannedRun, hash: &str, earlier: Option<&RunRecord>) -> RunRecord {
    let provenance = Provenance::here();
    match earlier {
        // Resumed, perhaps on another machine (a requeued batch task lands where there is
        // room): the list keeps every machine it was trained on.
        Some(r) => RunRecord {
            status: RunStatus::Running,
            detail: None,
            trained_on: r.machines_with(provenance.machine()),
            provenance,
            ..r.clone()
        },
        None => RunRecord {
            format: rundir::FORMAT.into(),
            name: run.name.clone(),
            status: RunStatus::Running,
            hash: hash.to_string(),
            spec: run.spec.clone(),
            checkpoint: None,
            detail: None,
            trained_on: vec![provenance.machine()],
            provenance,
            started: now_utc(),
            ended: None,
            seconds: 0.0,
        },
    }
}

/// The result a run directory holds, read back: `record` is its `run.json`.
pub(crate) fn result_from_dir(
    run: &PlannedRun,
    hash: String,
    record: &RunRecord,
    cached: bool,
) -> Result<RunResult> {
    Ok(RunResult {
        run: run.clone(),
        hash,
        status: record.status,
        detail: record.detail.clone(),
        history: rundir::read_history(&run.dir)?,
        seconds: record.seconds,
        cached,
        machines: record.machines(),
    })
}

/// The data's content checksums (the same for a raw file and its gz copy).
fn content(data: &crate::base::data::mnist::DataIdentity) -> Vec<&str> {
    data.files
        .iter()
        .map(|f| f.content_sha256.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::data::mnist::DataIdentity;
    use crate::base::nn::{model::MlpSpec, scheme::InitScheme};
    use crate::engine::rundir::CheckpointRef;
    use std::path::Path;

    /// A record of `status` (with a checkpoint when `checkpoint`) made with `threads` threads.
    fn record(status: RunStatus, checkpoint: bool, threads: i32) -> RunRecord {
        let spec = RunSpec {
            model: MlpSpec::shallow(InitScheme::XavierUniform),
            source: Default::default(),
            train: Default::default(),
            data: DataIdentity {
                dir: PathBuf::from("data"),
                files: Vec::new(),
            },
        };
        RunRecord {
            format: rundir::FORMAT.into(),
            name: "r".into(),
            status,
            hash: spec.hash(),
            spec,
            checkpoint: checkpoint.then(|| CheckpointRef {
                file: CHECKPOINT_FILE.into(),
                epochs_done: 1,
                batches_done: 0,
            }),
            detail: None,
            provenance: Provenance {
                threads,
                mkl_dispatch: MklDispatch::Stock,
                ..Provenance::here()
            },
            started: now_utc(),
            ended: None,
            seconds: 1.0,
            trained_on: Vec::new(),
        }
    }

    fn rule(r: Option<&RunRecord>, threads: i32, options: &ExecOptions) -> String {
        rule_in(r, threads, MklDispatch::Stock, options)
    }

    fn rule_in(
        r: Option<&RunRecord>,
        threads: i32,
        dispatch: MklDispatch,
        options: &ExecOptions,
    ) -> String {
        let hash = record(RunStatus::Complete, false, 1).hash;
        match decide(Path::new("d"), r, &hash, threads, dispatch, options) {
            Ok(d) => format!("{d:?}"),
            Err(RunDirError::OtherThreads { found, wanted, .. }) => {
                format!("OtherThreads {found}->{wanted}")
            }
            Err(RunDirError::OtherDispatch { found, wanted, .. }) => {
                format!("OtherDispatch {found}->{wanted}")
            }
            Err(e) => format!("{e}"),
        }
    }

    #[test]
    fn the_cache_and_resume_go_by_spec_and_thread_count() {
        let plain = ExecOptions::default();
        let force = ExecOptions {
            force: true,
            ..ExecOptions::default()
        };
        let no_cache = ExecOptions {
            use_cache: false,
            ..ExecOptions::default()
        };
        let complete = record(RunStatus::Complete, false, 2);
        let stopped = record(RunStatus::Interrupted, true, 2);
        let died = record(RunStatus::Running, false, 2);
        assert_eq!(rule(None, 2, &plain), "Fresh");
        assert_eq!(rule(Some(&complete), 2, &plain), "Reuse");
        assert_eq!(rule(Some(&complete), 1, &plain), "OtherThreads 2->1");
        assert_eq!(rule(Some(&complete), 1, &force), "Clear");
        assert_eq!(rule(Some(&complete), 2, &no_cache), "Clear");
        assert_eq!(rule(Some(&complete), 1, &no_cache), "Clear");
        assert_eq!(rule(Some(&stopped), 2, &plain), "Resume");
        assert_eq!(rule(Some(&stopped), 1, &plain), "OtherThreads 2->1");
        assert_eq!(rule(Some(&stopped), 1, &force), "Clear");
        assert_eq!(rule(Some(&died), 1, &plain), "Clear");
        let mut other = complete.clone();
        other.hash = "000000000000".into();
        assert!(rule(Some(&other), 2, &plain).contains("another configuration"));
        assert_eq!(rule(Some(&other), 2, &force), "Clear");
    }

    #[test]
    fn the_cache_and_resume_go_by_onemkls_dispatch() {
        let plain = ExecOptions::default();
        let force = ExecOptions {
            force: true,
            ..ExecOptions::default()
        };
        let intel = MklDispatch::IntelPath;
        let complete = record(RunStatus::Complete, false, 2);
        let stopped = record(RunStatus::Interrupted, true, 2);
        let other = "OtherDispatch stock->intel-path";
        assert_eq!(rule_in(Some(&complete), 2, intel, &plain), other);
        assert_eq!(rule_in(Some(&stopped), 2, intel, &plain), other);
        assert_eq!(rule_in(Some(&complete), 2, intel, &force), "Clear");
        // Threads are named first when both differ.
        assert_eq!(
            rule_in(Some(&complete), 1, intel, &plain),
            "OtherThreads 2->1"
        );
        let mut made = complete.clone();
        made.provenance.mkl_dispatch = intel;
        assert_eq!(rule_in(Some(&made), 2, intel, &plain), "Reuse");
    }

    #[test]
    fn a_checkpoint_made_on_another_kernel_family_is_resumed_and_both_machines_recorded() {
        // The kernel family is the node's, not the plan's: a requeued task resumes wherever it
        // lands (with the plan's threads and dispatch), and run.json lists both machines.
        let mut stopped = record(RunStatus::Interrupted, true, 2);
        stopped.provenance.kernel_family = Some("avx2".into());
        stopped.provenance.cpu = "Some Other CPU".into();
        stopped.trained_on = vec![stopped.provenance.machine()];
        assert_eq!(rule(Some(&stopped), 2, &ExecOptions::default()), "Resume");
        let run = PlannedRun {
            name: "r".into(),
            dir: PathBuf::from("d"),
            spec: stopped.spec.clone(),
        };
        let resumed = running_record(&run, &stopped.hash, Some(&stopped));
        let here = Provenance::here().machine();
        assert_eq!(
            resumed.trained_on,
            [stopped.provenance.machine(), here.clone()]
        );
        assert_eq!(resumed.provenance.machine(), here);
        // Resumed again on a machine already listed: no new entry.
        let again = running_record(&run, &stopped.hash, Some(&resumed));
        assert_eq!(again.trained_on, resumed.trained_on);
        // A fresh run lists the one machine it starts on; a record from before the list, its
        // provenance's.
        assert_eq!(running_record(&run, &stopped.hash, None).trained_on, [here]);
        let mut old = serde_json::to_value(&stopped).unwrap();
        old.as_object_mut().unwrap().remove("trained_on");
        let old: RunRecord = serde_json::from_value(old).unwrap();
        assert!(old.trained_on.is_empty());
        assert_eq!(old.machines(), [stopped.provenance.machine()]);
    }
}
