//! The plan commands, `lab`, `compare` and `study`: each builds its plan once, then
//! [`run_plan`] trains it with a console and prints what came of it; `--emit-plan` prints the
//! plan's `initlab train` commands instead ([`emit_plan`]), `--slurm DIR` writes them as Slurm
//! jobs ([`slurm::write_jobs`]) and `--gather` draws what they made, training nothing.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use initlab::base::data::mnist::Mnist;
use initlab::base::nn::model::{join_widths as join, BiasInit};
use initlab::base::parity::mkl;
use initlab::base::train::LrSchedule;
use initlab::engine::executor::{ExecOptions, Executor, PlannedRun, RunEvent, RunResult};
use initlab::engine::spec::{InitSource, RunSpec, SpecError};
use initlab::engine::workers;
use initlab::experiments::compare::{self, CompareResult};
use initlab::experiments::lab::{self, LabResult};
use initlab::experiments::study::dbn::DbnStudyResult;
use initlab::experiments::study::{self, StudyConfig, StudyResult};

use crate::cli::{self, Cli, CompareArgs, LabArgs, StudyArgs};
use crate::commands::{
    executor, load_data, report_interrupted, shell_quote, slurm, source, this_command, warn, Done,
};
use crate::console::{self, Console};

/// What the shared end of a plan command needs from the result of its library call.
trait PlanReport {
    /// Whether a run was interrupted (nothing is drawn then).
    fn interrupted(&self) -> bool;
    /// The runs, in the plan's order.
    fn results(&self) -> Vec<&RunResult>;
    /// The lines naming the files written, printed below the results table.
    fn file_lines(&self) -> Vec<String>;
}

impl PlanReport for LabResult {
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn results(&self) -> Vec<&RunResult> {
        self.runs.iter().map(|(_, r)| r).collect()
    }

    fn file_lines(&self) -> Vec<String> {
        vec![
            format!("Chart: {}", self.chart.display()),
            format!("Report: {}", self.report.display()),
            format!("Report page: {}", self.html.display()),
        ]
    }
}

impl PlanReport for CompareResult {
    fn interrupted(&self) -> bool {
        self.outcome.interrupted
    }

    fn results(&self) -> Vec<&RunResult> {
        self.outcome.results.iter().collect()
    }

    fn file_lines(&self) -> Vec<String> {
        vec![
            match &self.chart {
                Some(chart) => format!("Chart: {}", chart.display()),
                None => "No chart: no run finished an epoch.".into(),
            },
            format!("Summary: {}", self.summary.display()),
            format!("Report page: {}", self.html.display()),
        ]
    }
}

impl PlanReport for StudyResult {
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    fn results(&self) -> Vec<&RunResult> {
        self.parts.iter().flat_map(|(_, rs)| rs.iter()).collect()
    }

    fn file_lines(&self) -> Vec<String> {
        vec![
            format!("Chart: {}", self.chart.display()),
            format!("Summary: {}", self.summary.display()),
            format!("Report page: {}", self.html.display()),
        ]
    }
}

impl PlanReport for DbnStudyResult {
    fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// The sweep's runs, then the other seeds' runs of the chosen recipes.
    fn results(&self) -> Vec<&RunResult> {
        let swept = |r: &&RunResult| self.sweep.iter().any(|s| s.run.dir == r.run.dir);
        let others = self.runs.iter().filter(|r| !swept(r));
        self.sweep.iter().chain(others).collect()
    }

    fn file_lines(&self) -> Vec<String> {
        vec![
            format!("Chart: {}", self.chart.display()),
            format!("Summary: {}", self.summary.display()),
            format!("Report page: {}", self.html.display()),
        ]
    }
}

/// The shape every plan command shares: `go` trains the plan with a console showing its
/// progress; then either where it was interrupted and how to resume, or the results table and
/// the files written.
fn run_plan<R: PlanReport>(
    quiet: bool,
    go: impl FnOnce(&mut dyn FnMut(RunEvent)) -> Result<R>,
) -> Result<Done> {
    let mut console = Console::new(quiet);
    let result = go(&mut |e| console.run_event(e));
    console.finish();
    let result = result?;
    console.check_output(result.interrupted(), &this_command())?;
    if result.interrupted() {
        return report_interrupted(result.results().into_iter(), &this_command());
    }
    console::emit!("\n{}", results_table(result.results().into_iter()))?;
    for line in result.file_lines() {
        console::emit!("{line}")?;
    }
    Ok(Done::Ok)
}

/// The executor of a built plan: `--jobs`, else side by side when its runs are large enough;
/// with the number of runs at once.
fn plan_executor<'a>(
    data: &'a Mnist,
    plan: &[PlannedRun],
    jobs: &cli::JobsArgs,
    run: &cli::RunArgs,
) -> (Executor<'a>, usize) {
    let default_jobs = workers::side_by_side_jobs(plan, data.train.len());
    let options = jobs.options(run, default_jobs);
    let jobs = options.jobs;
    (executor(data, options), jobs)
}

/// `initlab lab`: the lab's five runs (its DBN pretrained first), chart and reports.
pub fn lab(args: LabArgs, quiet: bool) -> Result<Done> {
    if args.plan_out.emit_plan {
        // Its deep DBN run needs the DBN pretrained first: the plan is not known until
        // then, and --emit-plan trains nothing.
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "`lab` cannot --emit-plan: its DBN run needs the DBN pretrained first; use --jobs N to train its runs side by side, --slurm DIR for a cluster, or `compare`/`study` with --emit-plan",
            )
            .exit();
    }
    let config = args.config();
    let data = load_data(&args.training.data)?;
    // The lab's runs: one at a time with every thread unless --jobs says otherwise.
    let jobs = args.jobs.jobs(ExecOptions::default().jobs);
    let mut executor = executor(&data, args.jobs.options(&args.run, jobs));
    if args.pretrain_only {
        let mut console = Console::new(quiet);
        let dbn = lab::prepare_dbn(&config, &data, true, &mut |e| console.run_event(e));
        console.finish();
        console::emit!("DBN: {}", dbn?.display())?;
        return Ok(Done::Ok);
    }
    if let Some(dir) = &args.plan_out.slurm {
        return lab_slurm(&config, &executor, &args, jobs, dir);
    }
    executor.options.gather_only = args.plan_out.gather;
    let mut gathered = Vec::new();
    let done = run_plan(quiet, |observer| {
        let result = lab::run_lab(&config, &executor, observer)?;
        gathered = result.runs.iter().map(|(_, r)| r.clone()).collect();
        Ok(result)
    })?;
    after_gather(&args.plan_out, &gathered, done)
}

/// `lab --slurm`: its DBN as a first job when it is not pretrained yet (the DBN run planned with
/// a source no finished run matches), then its runs and the gathering job.
fn lab_slurm(
    config: &lab::LabConfig,
    executor: &Executor,
    args: &LabArgs,
    jobs: usize,
    dir: &Path,
) -> Result<Done> {
    let dbn = lab::dbn_dir(config);
    let ready = lab::dbn_ready(config);
    let source = match ready {
        true => InitSource::pretrained(&dbn)?,
        false => InitSource::Pretrained {
            dir: dbn,
            sha256: "not pretrained yet".into(),
        },
    };
    let plan: Vec<PlannedRun> = lab::plan_from(config, executor.data, source)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let recipe = lab::dbn_recipe(config);
    // CD-1 on each RBM: about three passes over its weights per image.
    let images = recipe.train_limit.unwrap_or(executor.data.train.len()) as f64;
    let per_image: f64 = recipe.widths.windows(2).map(|w| (w[0] * w[1]) as f64).sum();
    let pretrain_work = (!ready).then_some(3.0 * per_image * images * recipe.epochs as f64);
    let planner = slurm_planner("lab", jobs, &args.run, &args.plan_out, pretrain_work);
    slurm::write_jobs(executor, &plan, &planner, dir)
}

/// `initlab compare`: one architecture under several inits (and seeds), planned once.
pub fn compare(args: CompareArgs, quiet: bool) -> Result<Done> {
    let mut config = args.config();
    config.source = source(&args.pretrained)?;
    let data = load_data(&args.training.data)?;
    if args.pretrained.is_some() && !config.inits.iter().any(|i| i.needs_pretrained()) {
        return Err(SpecError::UnusedPretrainedDbn(config.inits[0]).into());
    }
    let plan = compare::plan(&config, &data)?;
    for p in &plan {
        p.spec.validate(&data)?;
        warn(&p.spec);
    }
    let (mut executor, jobs) = plan_executor(&data, &plan, &args.jobs, &args.run);
    if args.plan_out.emit_plan {
        return emit_plan(&executor, &plan, &args.run, jobs);
    }
    if let Some(dir) = &args.plan_out.slurm {
        let planner = slurm_planner("compare", jobs, &args.run, &args.plan_out, None);
        return slurm::write_jobs(&executor, &plan, &planner, dir);
    }
    executor.options.gather_only = args.plan_out.gather;
    let mut gathered = Vec::new();
    let done = run_plan(quiet, |observer| {
        let result = compare::run_compare(&config, &plan, &executor, observer)?;
        gathered = result.outcome.results.clone();
        Ok(result)
    })?;
    after_gather(&args.plan_out, &gathered, done)
}

/// What `--slurm` needs of a plan command.
fn slurm_planner<'a>(
    name: &'a str,
    jobs: usize,
    run_args: &'a cli::RunArgs,
    out: &'a cli::PlanOutArgs,
    pretrain_work: Option<f64>,
) -> slurm::Planner<'a> {
    slurm::Planner {
        name,
        jobs,
        run_args,
        out,
        pretrain_work,
    }
}

/// After a plan ran: with `--gather`, the machines its runs were made on.
fn after_gather(out: &cli::PlanOutArgs, results: &[RunResult], done: Done) -> Result<Done> {
    if out.gather && matches!(done, Done::Ok) {
        slurm::print_machines(results.iter())?;
    }
    Ok(done)
}

/// `initlab study`: a paper's experiment, re-run on a small budget.
pub fn study(args: StudyArgs, quiet: bool) -> Result<Done> {
    let config = args.config();
    let data = load_data(&args.data)?;
    if config.study == study::dbn::STUDY {
        return dbn_study(&args, &config, &data, quiet);
    }
    let plan = study::plan_runs(&config, &data)?;
    let (mut executor, jobs) = plan_executor(&data, plan.runs(), &args.jobs, &args.run);
    if args.plan_out.emit_plan {
        return emit_plan(&executor, plan.runs(), &args.run, jobs);
    }
    if let Some(dir) = &args.plan_out.slurm {
        let planner = slurm_planner("study", jobs, &args.run, &args.plan_out, None);
        return slurm::write_jobs(&executor, plan.runs(), &planner, dir);
    }
    executor.options.gather_only = args.plan_out.gather;
    let mut gathered = Vec::new();
    let done = run_plan(quiet, |observer| {
        let result = study::run_study(&config, plan, &executor, observer)?;
        gathered = result.results().into_iter().cloned().collect();
        Ok(result)
    })?;
    after_gather(&args.plan_out, &gathered, done)
}

/// `initlab study dbn`: planned in stages (each seed's DBN before its runs, the seeds' learning
/// rates from the sweep), so it has no `--emit-plan`.
fn dbn_study(args: &StudyArgs, config: &StudyConfig, data: &Mnist, quiet: bool) -> Result<Done> {
    if args.plan_out.emit_plan {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "`study dbn` cannot --emit-plan: its runs need each seed's DBN pretrained first and their learning \
                 rates chosen by its sweep; use --jobs N to train its runs side by side",
            )
            .exit();
    }
    let sizing = [study::dbn::sizing_run(config, data)?];
    let (executor, _) = plan_executor(data, &sizing, &args.jobs, &args.run);
    run_plan(quiet, |observer| {
        study::dbn::run_dbn_study(config, &executor, observer)
    })
}

/// A short aligned table of runs: name, status, final test error, final train cost, directory.
fn results_table<'a>(results: impl Iterator<Item = &'a RunResult>) -> String {
    let rows: Vec<Vec<String>> = results
        .map(|r| {
            let last = r.history.last();
            vec![
                r.run.name.clone(),
                r.status_text(),
                last.map(|e| format!("{:.2} %", e.test_error_percent()))
                    .unwrap_or("—".into()),
                last.map(|e| format!("{:.6}", e.train_cost))
                    .unwrap_or("—".into()),
                r.run.dir.display().to_string(),
            ]
        })
        .collect();
    console::aligned(
        &["run", "status", "test error", "train cost", "directory"],
        &rows,
        &[2, 3],
    )
}

/// Prints one self-contained `initlab train` command line per run of `plan` that is not complete
/// (absolute paths; each writes its own run directory, which the same plan then finds complete).
/// Every word is shell-quoted ([`shell_quote`]): the lines are run by `sh -c`, so a name is data,
/// never code.
fn emit_plan(
    executor: &Executor,
    plan: &[PlannedRun],
    run_args: &cli::RunArgs,
    jobs: usize,
) -> Result<Done> {
    let exe = std::env::current_exe().context("finding initlab's own path")?;
    // Each command trains with the threads a run of this plan gets with `jobs` runs at once, so
    // that the plan reuses what the commands made (`env` works with or without a shell).
    let available = tch::get_num_threads();
    let threads = workers::threads_per_job(available, jobs);
    let env: Vec<String> = if jobs > 1 {
        vec!["env".into(), format!("OMP_NUM_THREADS={threads}")]
    } else {
        Vec::new()
    };
    for run in plan.iter().filter(|r| !executor.is_final(r)) {
        let mut args: Vec<String> = env.clone();
        args.extend(train_command(&exe, run, run_args)?);
        let words: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        console::emit!("{}", words.join(" "))?;
    }
    Ok(Done::Ok)
}

/// The self-contained `initlab train` command (its words, unquoted) that trains `run` into its
/// directory with the program `exe`: absolute paths, this process's oneMKL dispatch, the
/// command's checkpoint and monitoring settings.
pub(crate) fn train_command(
    exe: &Path,
    run: &PlannedRun,
    run_args: &cli::RunArgs,
) -> Result<Vec<String>> {
    let mut args = vec![utf8(exe)?, "train".into()];
    // The run's numbers depend on oneMKL's dispatch: each line carries this process's, so a
    // shell (or another machine) without INITLAB_MKL_DISPATCH makes the run this plan reuses.
    args.extend(["--mkl-dispatch".into(), mkl::dispatch().as_str().into()]);
    args.extend(spec_flags(&run.spec));
    args.extend(path_flags(run)?);
    args.extend([
        "--checkpoint-every".into(),
        run_args.checkpoint_every.to_string(),
        "--monitor-every".into(),
        run_args.monitor_every.to_string(),
        "--quiet".into(),
    ]);
    Ok(args)
}

/// The `train` flags that give a run `spec`'s model and training settings (those at their
/// defaults left out where `train` allows).
fn spec_flags(s: &RunSpec) -> Vec<String> {
    let t = &s.train;
    let mut args: Vec<String> = vec![
        "--model".into(),
        join(&s.model.widths.0),
        "--activation".into(),
        s.model.activation.to_string(),
        "--init".into(),
        s.model.init.to_string(),
        "--epochs".into(),
        t.epochs.to_string(),
        "--batch-size".into(),
        t.batch_size.to_string(),
        "--lr".into(),
        t.learning_rate.to_string(),
        "--seed".into(),
        t.seed.to_string(),
        "--optim".into(),
        t.optimizer.to_string(),
    ];
    if t.momentum != 0.0 {
        args.extend(["--momentum".into(), t.momentum.to_string()]);
    }
    if let Some(n) = t.train_limit {
        args.extend(["--train-limit".into(), n.to_string()]);
    }
    if s.model.bias != BiasInit::default() {
        args.extend(["--bias".into(), s.model.bias.to_string()]);
    }
    if t.lr_schedule != LrSchedule::Constant {
        args.extend(["--lr-schedule".into(), t.lr_schedule.to_string()]);
    }
    if t.validation > 0 {
        args.extend(["--validation".into(), t.validation.to_string()]);
    }
    args
}

/// The flags naming a run's files as absolute paths: its data, its DBN, its directory.
fn path_flags(run: &PlannedRun) -> Result<Vec<String>> {
    let abs = |p: &Path| -> Result<String> {
        let abs =
            std::path::absolute(p).with_context(|| format!("making {} absolute", p.display()))?;
        utf8(&abs)
    };
    let s = &run.spec;
    let mut args: Vec<String> = vec!["--data-dir".into(), abs(&s.data.dir)?];
    if let InitSource::Pretrained { dir, .. } = &s.source {
        args.extend(["--pretrained".into(), abs(dir)?]);
    }
    let parent = run.dir.parent().unwrap_or(Path::new("."));
    let name = run.dir.file_name().map(Path::new).unwrap_or(Path::new(""));
    args.extend(["--out".into(), abs(parent)?, "--name".into(), utf8(name)?]);
    Ok(args)
}

/// A path of a printed command as text: a path that is not UTF-8 is refused, naming it, as
/// printing it would change it and the command would write (or read) elsewhere.
fn utf8(p: &Path) -> Result<String> {
    match p.to_str() {
        Some(s) => Ok(s.to_string()),
        None => anyhow::bail!(
            "--emit-plan and --slurm cannot write {}: the path is not valid UTF-8, so a \
             command cannot name it exactly; use names in UTF-8 for --out, --data-dir and \
             --pretrained, or train the plan here",
            p.to_string_lossy()
        ),
    }
}
