//! Gathering a plan trained elsewhere ([`ExecOptions::gather_only`]): every run's final result is
//! read from its directory, and nothing is trained. A run that is missing, still running, died
//! while running, interrupted, failed, damaged, of another configuration, or made with another
//! thread count or oneMKL dispatch than the plan asks is never taken for finished: the plan
//! fails with [`NotGathered`], which names each such run with its directory, what it holds and
//! the batch task's log files next to it ([`rundir::batch_logs`]).
//!
//! [`ExecOptions::gather_only`]: crate::engine::executor::ExecOptions

use std::path::PathBuf;

use anyhow::Result;

use crate::base::parity::mkl::{self, MklDispatch};
use crate::engine::executor::{
    result_from_dir, Executor, PlanOutcome, PlannedRun, RunEvent, RunResult, StartKind,
};
use crate::engine::rundir::{self, RunRecord, RunStatus};
use crate::engine::workers::threads_per_job;

/// One run of a plan that cannot be gathered.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    /// The run's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// What its directory holds instead of this plan's final result.
    pub state: String,
    /// The batch task's log files that exist next to it.
    pub logs: Vec<PathBuf>,
}

/// Runs of a plan that are not finished as the plan asks; nothing was drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} of {total} runs of the plan are not finished as it asks, so nothing was drawn:{}", runs.len(), list(runs))]
pub struct NotGathered {
    /// The runs, in plan order.
    pub runs: Vec<Unfinished>,
    /// Runs in the plan.
    pub total: usize,
}

fn list(runs: &[Unfinished]) -> String {
    let mut out = String::new();
    for r in runs {
        out.push_str(&format!(
            "\n  {} ({}): {}",
            r.name,
            r.dir.display(),
            r.state
        ));
        for log in &r.logs {
            out.push_str(&format!("\n    log: {}", log.display()));
        }
    }
    out
}

/// What a run directory holds for a run of spec hash `hash`, when the plan trains with
/// `threads` libtorch threads under `dispatch`: its record when it is this plan's final result,
/// with files that pass their checks, else what it holds instead.
pub fn final_record(
    run: &PlannedRun,
    hash: &str,
    threads: i32,
    dispatch: MklDispatch,
) -> std::result::Result<RunRecord, String> {
    if !run.dir.exists() {
        return Err("missing: no run directory (never started)".into());
    }
    if !run.dir.join(rundir::RUN_FILE).exists() {
        return Err(match rundir::lock_holder(&run.dir) {
            Some(pid) => format!("starting: no {} yet (pid {pid})", rundir::RUN_FILE),
            None => format!("no {}: stopped before it was written", rundir::RUN_FILE),
        });
    }
    let record = rundir::read_record(&run.dir).map_err(|e| format!("unreadable: {e:#}"))?;
    if record.hash != hash {
        return Err(format!(
            "holds another configuration (spec hash {}, the plan's is {hash})",
            record.hash
        ));
    }
    if !record.status.is_final() {
        return Err(unfinished_state(run, &record));
    }
    let made = &record.provenance;
    if made.threads != threads {
        return Err(format!(
            "{}, made with {} libtorch threads where the plan asks {threads}: not reused",
            record.status.name(),
            made.threads
        ));
    }
    if made.mkl_dispatch != dispatch {
        return Err(format!(
            "{}, made under oneMKL dispatch `{}` where the plan asks `{dispatch}`: not reused",
            record.status.name(),
            made.mkl_dispatch
        ));
    }
    rundir::verify_final(&run.dir, &record).map_err(|e| format!("damaged: {e:#}"))?;
    Ok(record)
}

/// How a run that has not ended stands: running (its lock held), died while running,
/// interrupted, or failed.
fn unfinished_state(run: &PlannedRun, record: &RunRecord) -> String {
    let at = match &record.checkpoint {
        Some(ck) => format!(
            "checkpoint after {} epoch(s) and {} batch(es)",
            ck.epochs_done, ck.batches_done
        ),
        None => "no checkpoint".into(),
    };
    match record.status {
        RunStatus::Running => match rundir::lock_holder(&run.dir) {
            Some(pid) => format!("still running (pid {pid}; {at})"),
            None => format!("running, but its process is gone ({at}; resumable)"),
        },
        RunStatus::Interrupted => format!("interrupted ({at}; resumable)"),
        RunStatus::Failed => match &record.detail {
            Some(rundir::EndDetail::Failed { error }) => format!("failed: {error}"),
            _ => "failed".into(),
        },
        s => s.name().to_string(),
    }
}

impl Executor<'_> {
    /// [`Executor::run`] with [`ExecOptions::gather_only`](crate::engine::executor::ExecOptions):
    /// every run read back as cached, or [`NotGathered`] naming those that cannot be.
    pub(crate) fn gather(
        &self,
        plan: &[PlannedRun],
        observer: &mut dyn FnMut(RunEvent),
    ) -> Result<PlanOutcome> {
        let available = tch::get_num_threads();
        let threads = match self.options.jobs {
            1 => available,
            jobs => threads_per_job(available, jobs),
        };
        let dispatch = mkl::dispatch();
        let mut results: Vec<RunResult> = Vec::new();
        let mut missing = Vec::new();
        for run in plan {
            let hash = run.spec.hash();
            let read = final_record(run, &hash, threads, dispatch).and_then(|record| {
                result_from_dir(run, hash, &record, true).map_err(|e| format!("damaged: {e:#}"))
            });
            match read {
                Ok(result) => results.push(result),
                Err(state) => missing.push(Unfinished {
                    name: run.name.clone(),
                    dir: run.dir.clone(),
                    state,
                    logs: rundir::batch_logs(&run.dir)
                        .into_iter()
                        .filter(|p| p.is_file())
                        .collect(),
                }),
            }
        }
        if !missing.is_empty() {
            return Err(NotGathered {
                runs: missing,
                total: plan.len(),
            }
            .into());
        }
        for (i, result) in results.iter().enumerate() {
            observer(RunEvent::Start {
                index: i + 1,
                total: plan.len(),
                run: &result.run,
                how: StartKind::Cached,
            });
            observer(RunEvent::End(result));
        }
        Ok(PlanOutcome {
            results,
            interrupted: false,
        })
    }
}
