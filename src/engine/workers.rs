//! Runs of a plan side by side, in worker processes ([`ExecOptions::jobs`] > 1).
//!
//! Why processes: libtorch's intra-op thread pool and torch's global random generator belong to
//! the process, so two runs in one process would share (and race on) both. Each worker is the
//! `initlab` binary started with its hidden `worker` subcommand ([`WorkerCommand`]); it trains
//! one planned run into its run directory with the engine's usual code ([`serve`]), and the
//! executor reads the finished run back from that directory, as it reads a cached one.
//!
//! The protocol, all on the worker's standard streams:
//! - stdin: one line of JSON, the [`WorkerJob`]; then nothing. When the executor is asked to stop
//!   (Ctrl-C or SIGTERM reaching only the parent), or dies, the pipe closes: the worker stops
//!   after its batch and saves a checkpoint, as after Ctrl-C.
//! - stdout: one line of JSON per [`WorkerMessage`] (the run's start, each epoch), shown by the
//!   parent as [`RunEvent::WorkerStart`] and [`RunEvent::WorkerEpoch`].
//! - stderr: the worker's error message, if it fails; the parent reports it with the run's
//!   directory ([`RunsFailed`]).
//! - exit status: 0 when the run reached its end, 130 when it was interrupted (its `run.json`
//!   says which), anything else is a failure.
//!
//! Thread count: every run of a side-by-side plan trains with [`threads_per_job`] threads, also
//! the last one left alone, so that a run's numbers depend on the command and not on what else
//! happened to be pending. A run trained with 1 thread differs in the last digits from the same
//! run with 2 (sums are split differently); `run.json` records the count
//! (`provenance.threads`) and the cache serves a run only to a plan with the same count
//! ([`RunDirError::OtherThreads`]).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::data::mnist::Mnist;
use crate::base::parity::mkl;
use crate::base::train::{EpochRecord, Progress};
use crate::engine::executor::{
    decide, result_from_dir, Decision, ExecOptions, Executor, PlanOutcome, PlannedRun, RunEvent,
    RunResult, StartKind, WorkerCommand,
};
use crate::engine::rundir::{self, RunDir, RunDirError, RunStatus};
use crate::engine::spec::RunSpec;

/// Exit status of a worker whose run was interrupted (128 + SIGINT, as the binary's).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Most bytes of a worker's stderr kept for its error message (the end of it).
const STDERR_KEPT: usize = 8 << 10;

/// How often the executor looks at its stop flag while it waits for workers.
const POLL: Duration = Duration::from_millis(100);

/// What one worker process trains, sent as one line of JSON on its stdin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerJob {
    /// The run.
    pub run: PlannedRun,
    /// libtorch intra-op threads to train with.
    pub threads: i32,
    /// The data directory to load (the parent's, whose checksums the spec names).
    pub data_dir: PathBuf,
    /// [`ExecOptions::use_cache`].
    pub use_cache: bool,
    /// [`ExecOptions::force`].
    pub force: bool,
    /// [`ExecOptions::checkpoint_every`].
    pub checkpoint_every: usize,
    /// [`ExecOptions::monitor_every`].
    pub monitor_every: usize,
}

impl WorkerJob {
    /// The worker's executor options: the parent's, one run at a time in the worker itself.
    pub fn options(&self) -> ExecOptions {
        ExecOptions {
            use_cache: self.use_cache,
            force: self.force,
            checkpoint_every: self.checkpoint_every,
            monitor_every: self.monitor_every,
            jobs: 1,
            worker: None,
            gather_only: false,
        }
    }
}

/// What a worker tells its parent, one line of JSON each on stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerMessage {
    /// The run starts (fresh or resumed; cached if it was found complete meanwhile).
    Start {
        /// How.
        how: StartKind,
    },
    /// An epoch finished.
    Epoch(EpochRecord),
}

impl WorkerMessage {
    /// The message a run event becomes in a worker, if any.
    pub fn from_event(event: &RunEvent) -> Option<WorkerMessage> {
        match event {
            RunEvent::Start { how, .. } => Some(WorkerMessage::Start { how: *how }),
            RunEvent::Train(Progress::Epoch(record)) => {
                Some(WorkerMessage::Epoch((*record).clone()))
            }
            _ => None,
        }
    }
}

/// One run whose worker failed: its name, directory and the worker's error.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFailure {
    /// The run's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The worker's error message (or how it ended, when it printed none).
    pub error: String,
}

/// Runs of a side-by-side plan whose workers failed; the plan's other runs were finished (or
/// interrupted, when asked to stop) before this was returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} of {total} runs failed in their worker processes:{}", failures.len(), list(failures))]
pub struct RunsFailed {
    /// The failed runs, in the order they failed.
    pub failures: Vec<RunFailure>,
    /// Runs in the plan.
    pub total: usize,
}

fn list(failures: &[RunFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("\n  {} ({}): {}", f.name, f.dir.display(), f.error))
        .collect()
}

/// Multiply-adds of a run's forward passes over its training examples, all epochs together
/// (`Σ w_i·w_{i+1}` per example × examples × epochs): the size by which
/// [`side_by_side_jobs`] chooses. `train_images` is the data set's training split (the run takes
/// `train_limit` of them when it says so, less its validation images).
pub fn run_work(spec: &RunSpec, train_images: i64) -> f64 {
    let widths = &spec.model.widths.0;
    let per_example: f64 = widths.windows(2).map(|w| (w[0] * w[1]) as f64).sum();
    let t = &spec.train;
    let available = (train_images - t.validation).max(0);
    let examples = t.train_limit.map_or(available, |n| n.min(available));
    per_example * examples as f64 * t.epochs as f64
}

/// Below this [`run_work`] (3·10¹⁰ multiply-adds) a plan's runs train one at a time in the process:
/// a worker's start (process, libtorch, the data: ≈0.8 s a run on the 2-core AMD EPYC) then eats
/// what a second run beside it gains. Measured there, four runs each, one at a time against two
/// at a time: the mean-field study's 40 small nets (at most 2.7·10⁹) 35.3 against 40.4 s; the
/// lab's shallow net for one epoch (1.6·10¹⁰) 0.9–1.2× the speed, its deep net on 20,000 images
/// (2.4·10¹⁰) 0.9–1.1×, the shallow net for two epochs (3.2·10¹⁰) 1.3–2.1×, the deep one for two
/// (1.4·10¹¹) 1.6–1.8×.
pub const SIDE_BY_SIDE_FROM: f64 = 3e10;

/// Runs trained at once by default for a plan of initlab's own experiments (`compare`,
/// `study`): one per libtorch thread of this process, each run then on one thread in its own
/// worker, when the plan's largest run reaches [`SIDE_BY_SIDE_FROM`]; otherwise 1. Two one-thread
/// runs side by side made 1.8× (deep) to 2.1× (shallow) the runs per hour of one two-thread run
/// at a time on the 2-core AMD EPYC (build-notes, "Runs side by side"). The choice depends on
/// the plan only; a `compare` plan's runs are all of one size, so the same settings over more
/// seeds or inits choose alike and reuse each other's runs.
///
/// The lab's own plan keeps one run at a time with every thread ([`ExecOptions::default`]): its
/// numbers are PyTorch's with its default threads.
///
/// [`ExecOptions::default`]: crate::engine::executor::ExecOptions
pub fn side_by_side_jobs(plan: &[PlannedRun], train_images: i64) -> usize {
    let threads = usize::try_from(tch::get_num_threads()).map_or(1, |n| n.max(1));
    let largest = plan
        .iter()
        .map(|r| run_work(&r.spec, train_images))
        .fold(0.0, f64::max);
    if largest >= SIDE_BY_SIDE_FROM {
        threads
    } else {
        1
    }
}

/// libtorch threads of each of `jobs` runs side by side when the process has `available`: an
/// even share, at least 1.
pub fn threads_per_job(available: i32, jobs: usize) -> i32 {
    let jobs = i32::try_from(jobs.max(1)).unwrap_or(i32::MAX);
    (available / jobs).max(1)
}

/// The whole work of a worker process: sets libtorch's threads to the job's, then runs the one
/// planned run with an executor of the job's options, reporting through `emit`. The caller loads
/// `data` from [`WorkerJob::data_dir`] and raises `stop` when the parent closes stdin.
pub fn serve(
    job: &WorkerJob,
    data: &Mnist,
    stop: Option<&AtomicBool>,
    emit: &mut dyn FnMut(&WorkerMessage),
) -> Result<PlanOutcome> {
    anyhow::ensure!(
        job.threads >= 1,
        "a worker needs at least 1 thread, got {}",
        job.threads
    );
    tch::set_num_threads(job.threads);
    crate::base::waits::bind_team(usize::try_from(job.threads).unwrap_or(1));
    let executor = Executor {
        data,
        options: job.options(),
        stop,
    };
    executor.run(std::slice::from_ref(&job.run), &mut |event| {
        if let Some(message) = WorkerMessage::from_event(&event) {
            emit(&message);
        }
    })
}

/// A worker process the executor waits for.
struct Running {
    child: Child,
    /// Its stdin; dropped (closed) to ask it to stop.
    stdin: Option<ChildStdin>,
    /// The tail of its stderr, once it has ended.
    stderr: Option<JoinHandle<String>>,
    /// How it started, once it said so.
    how: Option<StartKind>,
}

/// What a worker's reader thread passes on.
enum Line {
    /// One line of its stdout.
    Text(String),
    /// Its stdout closed: it is ending.
    Closed,
}

impl Executor<'_> {
    /// [`Executor::run`] with `jobs` > 1: reuses what the cache holds here, then trains the rest in
    /// worker processes, up to `jobs` at a time, in plan order.
    pub(crate) fn run_side_by_side(
        &self,
        plan: &[PlannedRun],
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<PlanOutcome> {
        let jobs = self.options.jobs;
        let threads = threads_per_job(tch::get_num_threads(), jobs);
        let total = plan.len();
        let mut results: Vec<Option<RunResult>> = vec![None; total];

        // Every directory is looked at before anything trains: its errors (another spec,
        // another thread count, locked) stop the plan here, as in a plan run one at a time.
        let mut pending = VecDeque::new();
        for (i, run) in plan.iter().enumerate() {
            let context = || format!("run {} ({})", run.name, run.dir.display());
            if self.reusable(run, threads).with_context(context)? {
                let result = self
                    .run_one(i + 1, total, run, threads, observer)
                    .with_context(context)?;
                results[i] = Some(result);
            } else {
                pending.push_back(i);
            }
        }
        let worker = match (&self.options.worker, pending.is_empty()) {
            (_, true) => None,
            (Some(w), false) => Some(w),
            (None, false) => anyhow::bail!(
                "{jobs} runs at once need a worker program (ExecOptions::worker), and none was given"
            ),
        };
        if let Some(worker) = worker {
            observer(RunEvent::SideBySide {
                runs: pending.len(),
                jobs: jobs.min(pending.len()),
                threads,
            });
            let failures =
                self.run_workers(worker, plan, &mut pending, threads, &mut results, observer);
            if !failures.is_empty() {
                return Err(RunsFailed { failures, total }.into());
            }
        }

        let interrupted = results.iter().any(|r| {
            r.as_ref()
                .is_some_and(|r| r.status == RunStatus::Interrupted)
        }) || results.iter().any(Option::is_none);
        // Side by side, the runs reached are a prefix of the plan but for cached runs after the
        // first one not started: the results stop before it, as a plan run in order would.
        let results: Vec<RunResult> = results.into_iter().map_while(|r| r).collect();
        Ok(PlanOutcome {
            results,
            interrupted,
        })
    }

    /// Whether `run`'s directory holds its final result for `threads` threads (read under its
    /// lock, released again); errors for directories the plan may not use.
    fn reusable(&self, run: &PlannedRun, threads: i32) -> Result<bool> {
        // A directory not made yet is made by its worker.
        if !run.dir.exists() {
            return Ok(false);
        }
        let dir = RunDir::open(&run.dir)?;
        let record = match dir.read_record() {
            Ok(r) => r,
            // `--force` empties it: the worker does.
            Err(e) if self.options.force && e.downcast_ref::<RunDirError>().is_some() => None,
            Err(e) => return Err(e),
        };
        let decision = decide(
            &run.dir,
            record.as_ref(),
            &run.spec.hash(),
            threads,
            mkl::dispatch(),
            &self.options,
        )?;
        let (Decision::Reuse, Some(record)) = (decision, record) else {
            return Ok(false);
        };
        // Damaged files are not reused: an error, or with `--force` the worker trains it again.
        match rundir::verify_final(&run.dir, &record) {
            Ok(()) => Ok(true),
            Err(_) if self.options.force => Ok(false),
            Err(e) => Err(e.context(format!(
                "{}: its final result is not reused",
                run.dir.display()
            ))),
        }
    }

    /// Trains the `pending` runs in workers, `jobs` at a time, filling `results`; returns the
    /// failed runs. Stops starting workers, and asks the running ones to stop, when the stop flag
    /// is raised.
    fn run_workers(
        &self,
        worker: &WorkerCommand,
        plan: &[PlannedRun],
        pending: &mut VecDeque<usize>,
        threads: i32,
        results: &mut [Option<RunResult>],
        observer: &mut dyn FnMut(RunEvent),
    ) -> Vec<RunFailure> {
        let total = plan.len();
        let (tx, rx) = mpsc::channel::<(usize, Line)>();
        let mut running: HashMap<usize, Running> = HashMap::new();
        let mut failures = Vec::new();
        let mut launching = true;
        let mut stopping = false;
        loop {
            if !stopping && self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                // Closing their stdin asks the workers to checkpoint and stop; a Ctrl-C at the
                // terminal has reached them already.
                stopping = true;
                launching = false;
                for r in running.values_mut() {
                    r.stdin = None;
                }
            }
            while launching && running.len() < self.options.jobs {
                let Some(i) = pending.pop_front() else {
                    break;
                };
                let run = &plan[i];
                match self.spawn(worker, run, threads, i, &tx) {
                    Ok(r) => {
                        running.insert(i, r);
                    }
                    Err(e) => {
                        // The program cannot be started: nor could the next ones be.
                        failed(observer, &mut failures, (i, total), run, format!("{e:#}"));
                        launching = false;
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            let (i, line) = match rx.recv_timeout(POLL) {
                Ok(message) => message,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                // The executor holds `tx`: the channel cannot close while workers run.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let run = &plan[i];
            match line {
                Line::Text(text) => relay(&text, (i, total), run, &mut running, observer),
                Line::Closed => {
                    let Some(r) = running.remove(&i) else {
                        continue;
                    };
                    match finish(r, run) {
                        Ok(Some(result)) => {
                            observer(RunEvent::End(&result));
                            results[i] = Some(result);
                        }
                        // Stopped before its run started: not reached, like a run not started.
                        Ok(None) => {}
                        Err(error) => failed(observer, &mut failures, (i, total), run, error),
                    }
                }
            }
        }
        failures
    }

    /// Starts the worker for `plan[index]`, its job written to its stdin, reader threads on its
    /// stdout (lines to `tx`) and stderr.
    fn spawn(
        &self,
        worker: &WorkerCommand,
        run: &PlannedRun,
        threads: i32,
        index: usize,
        tx: &mpsc::Sender<(usize, Line)>,
    ) -> Result<Running> {
        let job = WorkerJob {
            run: run.clone(),
            threads,
            data_dir: self.data.identity.dir.clone(),
            use_cache: self.options.use_cache,
            force: self.options.force,
            checkpoint_every: self.options.checkpoint_every,
            monitor_every: self.options.monitor_every,
        };
        let mut line = serde_json::to_string(&job).context("writing the worker's job")?;
        line.push('\n');
        let mut command = Command::new(&worker.program);
        // The worker runs on every CPU, not only on this pinned thread's one.
        crate::base::waits::spawn_unpinned(&mut command);
        let mut child = command
            .args(&worker.args)
            // libtorch and oneMKL start with this many threads; the worker sets it again.
            .env("OMP_NUM_THREADS", threads.to_string())
            // oneMKL's dispatch is fixed at a process's first product: the worker's is this one's.
            .env(mkl::DISPATCH_VARIABLE, mkl::dispatch().as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the worker {}", worker.program.display()))?;
        let mut stdin = child.stdin.take();
        if let Some(pipe) = stdin.as_mut() {
            // A worker that died at once shows as its exit status and stderr, read below.
            let _ = pipe.write_all(line.as_bytes()).and_then(|_| pipe.flush());
        }
        let stdout = child.stdout.take();
        let tx = tx.clone();
        std::thread::spawn(move || {
            if let Some(out) = stdout {
                for text in BufReader::new(out).lines() {
                    let Ok(text) = text else { break };
                    if tx.send((index, Line::Text(text))).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send((index, Line::Closed));
        });
        let stderr = child.stderr.take().map(|mut err| {
            std::thread::spawn(move || {
                let mut kept: Vec<u8> = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > 2 * STDERR_KEPT {
                        kept.drain(..kept.len() - STDERR_KEPT);
                    }
                }
                let start = kept.len().saturating_sub(STDERR_KEPT);
                String::from_utf8_lossy(&kept[start..]).into_owned()
            })
        });
        Ok(Running {
            child,
            stdin,
            stderr,
            how: None,
        })
    }
}

/// Waits for a worker whose stdout closed and reads its run back from the run directory. `None`:
/// it was stopped before its run started or before it could save (its directory holds what it
/// held before, or its last checkpoint), as a run not started. The error is the worker's message.
/// Reports the failure of run `at.0` (0-based) of `at.1` and records it.
fn failed(
    observer: &mut dyn FnMut(RunEvent),
    failures: &mut Vec<RunFailure>,
    at: (usize, usize),
    run: &PlannedRun,
    error: String,
) {
    observer(RunEvent::WorkerFailed {
        index: at.0 + 1,
        total: at.1,
        run,
        error: &error,
    });
    failures.push(RunFailure {
        name: run.name.clone(),
        dir: run.dir.clone(),
        error,
    });
}

fn finish(mut r: Running, run: &PlannedRun) -> std::result::Result<Option<RunResult>, String> {
    r.stdin = None;
    let status = r.child.wait();
    let stderr = r
        .stderr
        .take()
        .and_then(|h| h.join().ok())
        .unwrap_or_default();
    let status = status.map_err(|e| format!("waiting for the worker: {e}"))?;
    let stopped = status.code() == Some(EXIT_INTERRUPTED) || stopped_by_signal(status);
    if stopped && r.how.is_none() {
        return Ok(None);
    }
    if !(status.success() || stopped) {
        let error = worker_error(status, &stderr);
        // The executor's context in the worker names the run, as the report does already.
        let named = format!("run {} ({}): ", run.name, run.dir.display());
        return Err(error.strip_prefix(&named).unwrap_or(&error).to_string());
    }
    let hash = run.spec.hash();
    let record = rundir::read_record(&run.dir).map_err(|e| format!("{e:#}"))?;
    let ended = record.status.is_final() || record.status == RunStatus::Interrupted;
    if stopped && !ended && record.hash == hash {
        return Ok(None);
    }
    if record.hash != hash || !ended {
        return Err(format!(
            "the worker ended ({status}) but {} holds no ended run of this configuration \
             (status \"{}\")",
            run.dir.display(),
            record.status.name()
        ));
    }
    let cached = r.how == Some(StartKind::Cached);
    result_from_dir(run, hash, &record, cached)
        .map(Some)
        .map_err(|e| format!("{e:#}"))
}

/// Whether a worker was ended by SIGINT or SIGTERM: a stop asked for, not a failure (a Ctrl-C at
/// the terminal reaches a worker that is still starting, before it catches Ctrl-C).
fn stopped_by_signal(status: ExitStatus) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        // SIGINT and SIGTERM.
        matches!(status.signal(), Some(2 | 15))
    }
    #[cfg(not(unix))]
    {
        let _ = status;
        false
    }
}

/// A failed worker's message: its `error:` lines (the binary's report, hint included), else the
/// end of its stderr, and how it ended.
fn worker_error(status: ExitStatus, stderr: &str) -> String {
    let text = match stderr.find("error: ") {
        Some(at) => stderr[at + "error: ".len()..].trim(),
        None => stderr.trim(),
    };
    let how = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("{status}"),
    };
    if text.is_empty() {
        format!("the worker ended with {how} and printed nothing")
    } else {
        format!("{} (worker {how})", text.replace('\n', "\n    "))
    }
}

/// Passes a worker's message about `run` (`(index, total)`, 0-based index) on to `observer`.
fn relay(
    text: &str,
    (i, total): (usize, usize),
    run: &PlannedRun,
    running: &mut HashMap<usize, Running>,
    observer: &mut dyn FnMut(RunEvent),
) {
    match serde_json::from_str::<WorkerMessage>(text) {
        Ok(WorkerMessage::Start { how }) => {
            let pid = running.get_mut(&i).map(|r| {
                r.how = Some(how);
                r.child.id()
            });
            observer(RunEvent::WorkerStart {
                index: i + 1,
                total,
                run,
                how,
                pid: pid.unwrap_or(0),
            });
        }
        Ok(WorkerMessage::Epoch(record)) => observer(RunEvent::WorkerEpoch {
            index: i + 1,
            total,
            run,
            record: &record,
        }),
        // Not the protocol (a library writing to stdout): not ours to show.
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::data::mnist::DataIdentity;
    use crate::base::nn::{
        model::{MlpSpec, Widths},
        scheme::InitScheme,
    };
    use crate::base::train::TrainConfig;

    /// A planned run of `widths` for `epochs` over `limit` images (all when `None`).
    fn planned(widths: &[i64], epochs: usize, limit: Option<i64>, validation: i64) -> PlannedRun {
        let mut model = MlpSpec::shallow(InitScheme::XavierUniform);
        model.widths = Widths(widths.to_vec());
        PlannedRun {
            name: "r".into(),
            dir: PathBuf::from("d"),
            spec: RunSpec {
                model,
                source: Default::default(),
                train: TrainConfig {
                    epochs,
                    train_limit: limit,
                    validation,
                    ..TrainConfig::default()
                },
                data: DataIdentity {
                    dir: PathBuf::from("data"),
                    files: Vec::new(),
                },
            },
        }
    }

    #[test]
    fn run_work_counts_forward_multiply_adds_over_the_examples_and_epochs() {
        // 784·256 + 256·256 + 256·10 = 268,800 per example.
        let shallow = planned(&[784, 256, 256, 10], 15, None, 0);
        assert_eq!(run_work(&shallow.spec, 60_000), 268_800.0 * 60_000.0 * 15.0);
        // A limit takes that many; validation images come off the split first.
        let limited = planned(&[784, 32, 10], 3, Some(3_000), 0);
        assert_eq!(run_work(&limited.spec, 60_000), 25_408.0 * 3_000.0 * 3.0);
        let held_out = planned(&[784, 32, 10], 1, Some(55_000), 10_000);
        assert_eq!(run_work(&held_out.spec, 60_000), 25_408.0 * 50_000.0);
    }

    #[test]
    fn plans_of_small_runs_stay_in_the_process_and_large_ones_go_side_by_side() {
        let threads = tch::get_num_threads().max(1) as usize;
        // The README's small compare: 2.3·10⁸ per run.
        let small = vec![planned(&[784, 32, 10], 3, Some(3_000), 0); 9];
        assert_eq!(side_by_side_jobs(&small, 60_000), 1);
        // The mean-field grid's largest net: 2.7·10⁹.
        let meanfield = planned(&[784, 64, 64, 64, 10], 1, Some(15_000), 0);
        assert_eq!(side_by_side_jobs(&[meanfield], 60_000), 1);
        // Two epochs of the lab's shallow net: 3.2·10¹⁰; one large run decides for its plan.
        let lab = planned(&[784, 256, 256, 10], 2, None, 0);
        assert_eq!(
            side_by_side_jobs(std::slice::from_ref(&lab), 60_000),
            threads
        );
        assert_eq!(side_by_side_jobs(&[small[0].clone(), lab], 60_000), threads);
        assert_eq!(side_by_side_jobs(&[], 60_000), 1);
    }

    #[test]
    fn threads_are_shared_evenly_and_never_zero() {
        assert_eq!(threads_per_job(2, 1), 2);
        assert_eq!(threads_per_job(2, 2), 1);
        assert_eq!(threads_per_job(16, 4), 4);
        assert_eq!(threads_per_job(3, 2), 1);
        assert_eq!(threads_per_job(2, 8), 1);
        assert_eq!(threads_per_job(1, 0), 1);
    }

    #[test]
    fn worker_errors_keep_the_message_and_say_how_the_worker_ended() {
        use std::os::unix::process::ExitStatusExt;
        let status = ExitStatus::from_raw(1 << 8);
        let e = worker_error(
            status,
            "warning: x\nerror: opening a/.lock: Is a directory\n",
        );
        assert_eq!(e, "opening a/.lock: Is a directory (worker exit status 1)");
        let killed = ExitStatus::from_raw(9);
        assert!(worker_error(killed, "").contains("printed nothing"));
        assert!(!stopped_by_signal(killed));
        assert!(stopped_by_signal(ExitStatus::from_raw(2)));
        assert!(stopped_by_signal(ExitStatus::from_raw(15)));
        assert!(!stopped_by_signal(status));
    }

    #[test]
    fn messages_round_trip_as_one_line_of_json() {
        let m = WorkerMessage::Start {
            how: StartKind::Resumed {
                epochs_done: 1,
                batches_done: 7,
            },
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(!text.contains('\n'));
        assert_eq!(serde_json::from_str::<WorkerMessage>(&text).unwrap(), m);
    }
}
