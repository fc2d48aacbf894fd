//! The `initlab` binary: parses arguments, calls the library, prints results, and turns library
//! errors into messages with the flag that fixes them.

mod cli;
mod console;

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use cli::{Cli, Command};
use console::Console;

use initlab::base::data;
use initlab::base::data::{DataError, Origin};
use initlab::base::nn::model::{join_widths as join, BiasInit, MlpSpec};
use initlab::base::output::plot::{self, RunCurves};
use initlab::engine::doctor;
use initlab::engine::executor::{ExecOptions, Executor, PlannedRun, RunResult};
use initlab::engine::rundir::{self, RunDirError, RunStatus};
use initlab::engine::runs;
use initlab::engine::spec::{InitSource, RunSpec, SpecError};
use initlab::engine::workers::{self, WorkerJob};
use initlab::experiments::eval::{self, TrainedRun};
use initlab::experiments::{compare, inspect, lab, pretrain, study};

/// Raised by the first Ctrl-C (or SIGTERM): training stops after the current batch.
static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
const EXIT_INTERRUPTED: u8 = workers::EXIT_INTERRUPTED as u8;

/// What `run` reports besides errors.
enum Done {
    Ok,
    /// A run was interrupted (its checkpoint saved).
    Interrupted,
    /// The single run of `train` diverged or ended unstable (saved, reported).
    Failed,
}

/// The first Ctrl-C asks training to stop after its batch and save; a second exits at once.
fn install_signal_handler() {
    let result = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: exiting now");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\ninterrupt: stopping after this batch and saving a checkpoint (Ctrl-C again to quit at once)");
    });
    if let Err(e) = result {
        eprintln!("warning: cannot catch Ctrl-C ({e}); an interrupt will lose the current run's progress since its last checkpoint");
    }
}

/// Loads the MNIST-layout data set in `dir`, naming the folder in any error.
fn load_mnist(dir: &Path) -> Result<data::Mnist> {
    data::load_dir(dir).with_context(|| format!("loading MNIST from {}", dir.display()))
}

/// Loads the MNIST a command's data flags lead to (`--data-dir`, else where
/// `initlab::base::data::locate::search` finds it), naming the folder and why it was chosen in any error.
fn load_data(args: &cli::DataArgs) -> Result<data::Mnist> {
    let (origin, dir) = data::data_dir(args.data_dir.as_deref())?;
    data::load_dir(&dir).with_context(|| match origin {
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

/// Whether an error is about values the user gave (exit status 2, like clap's).
fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<SpecError>().is_some())
}

/// The flag that fixes an error, if there is one.
fn hint(e: &anyhow::Error) -> Option<String> {
    for cause in e.chain() {
        if let Some(s) = cause.downcast_ref::<SpecError>() {
            return match s {
                SpecError::NeedsPretrainedDbn => Some(
                    "pass --pretrained DIR with a DBN made by `initlab pretrain --widths …` (the hidden layers of your --model)".into(),
                ),
                SpecError::UnusedPretrainedDbn(_) => {
                    Some("drop --pretrained, or use --init dbn".into())
                }
                SpecError::TrainLimitTooLarge { available, .. } => {
                    Some(format!("use --train-limit {available} or less"))
                }
                SpecError::ValidationTooLarge {
                    available, limit, ..
                } => Some(if *limit > 0 {
                    "lower --validation or --train-limit so that they add up to at most the training images".into()
                } else {
                    format!("use --validation {} or less", available - 1)
                }),
                SpecError::DbnBelow { found, .. } => {
                    Some(format!("use --pretrained {}", shell_word(found)))
                }
                SpecError::BiasSetByInit(_) => Some("drop --bias zeros for this init".into()),
                SpecError::MomentumWithoutSgd(_) => {
                    Some("use --optim sgd with --momentum, or drop --momentum".into())
                }
                SpecError::InputWidth { pixels, .. } => Some(format!(
                    "start --model with {pixels}, e.g. --model {pixels},100,10"
                )),
                SpecError::BatchTooLarge { images, .. } => {
                    Some(format!("use --batch-size {images} or less"))
                }
                SpecError::OutputWidth(_) => {
                    Some("end --model with 10, e.g. --model 784,100,10".into())
                }
            };
        }
        if let Some(r) = cause.downcast_ref::<initlab::engine::runs::RunsBelow>() {
            let parent = r.runs.first().and_then(|p| p.parent()).unwrap_or(&r.dir);
            let glob = parent.join("*");
            return Some(format!(
                "pass the run directories themselves, e.g. {}/",
                glob.display()
            ));
        }
        if let Some(d) = cause.downcast_ref::<DataError>() {
            return Some(match d {
                DataError::Incomplete {
                    origin: Origin::Env,
                    ..
                } => "point INITLAB_DATA at a folder with the four MNIST files, or unset it to use the user data folder, the checkout's data/mnist or the copy compiled into initlab".into(),
                DataError::Incomplete { .. } => {
                    "pass --data-dir a folder with the four MNIST files (gz or raw)".into()
                }
                DataError::NotFound { .. } => "pass --data-dir DIR or set INITLAB_DATA=DIR (a folder with the four MNIST files), or set HOME or XDG_DATA_HOME so that initlab can unpack its own copy".into(),
                DataError::Unpack { .. } => "set XDG_DATA_HOME to a writable folder, or pass --data-dir DIR or set INITLAB_DATA=DIR (a folder with the four MNIST files)".into(),
            });
        }
        if let Some(r) = cause.downcast_ref::<RunDirError>() {
            return match r {
                RunDirError::OtherSpec { .. } => Some(
                    "choose another --name or --out for this configuration, or pass --force to replace that run".into(),
                ),
                RunDirError::NotARun { .. } => Some(
                    "choose another --name or --out, or pass --force to empty that directory".into(),
                ),
                RunDirError::OtherThreads { found, wanted, .. } => {
                    // The plan commands give each run threads / jobs of this process's threads.
                    let available = tch::get_num_threads();
                    let reuse = if *found >= 1 && *found <= available {
                        format!(
                            "pass --jobs {} to reuse it (for `train`: OMP_NUM_THREADS={found})",
                            available / found
                        )
                    } else {
                        format!("run with OMP_NUM_THREADS={found} and --jobs 1 to reuse it")
                    };
                    Some(format!(
                        "{reuse}, or pass --force to train it again with {wanted} thread{}",
                        if *wanted == 1 { "" } else { "s" }
                    ))
                }
                RunDirError::Locked { .. } => None,
            };
        }
    }
    None
}

/// The data directory for a saved run: the one given, else the one it was trained on.
fn run_data_dir(
    given: &Option<std::path::PathBuf>,
    run: &TrainedRun,
) -> Result<std::path::PathBuf> {
    match given {
        Some(dir) => Ok(dir.clone()),
        None if run.data_dir.is_dir() => Ok(run.data_dir.clone()),
        None => anyhow::bail!(
            "{} was trained on {}, which is not a directory here; pass --data-dir DIR",
            run.dir.display(),
            run.data_dir.display()
        ),
    }
}

/// Prints `value` as pretty JSON.
fn emit_json(value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("formatting JSON")?;
    console::emit!("{text}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_signal_handler();
    match run(cli) {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::Interrupted) => ExitCode::from(EXIT_INTERRUPTED),
        Ok(Done::Failed) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(h) = hint(&e) {
                eprintln!("hint: {h}");
            }
            if is_usage_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The executor for `data` with the command's options.
fn executor(data: &data::Mnist, options: ExecOptions) -> Executor<'_> {
    Executor {
        data,
        options,
        stop: Some(&STOP),
    }
}

/// The source of the `dbn` init from `--pretrained`.
fn source(pretrained: &Option<std::path::PathBuf>) -> Result<InitSource> {
    match pretrained {
        Some(dir) => InitSource::pretrained(dir),
        None => Ok(InitSource::None),
    }
}

/// Prints the spec's warnings on stderr.
fn warn(spec: &RunSpec) {
    for w in spec.warnings() {
        eprintln!("warning: {w}");
    }
}

/// After an interrupted plan: where it stopped (the interrupted runs: one, or several side by
/// side) and the command that continues it.
fn report_interrupted<'a>(results: impl Iterator<Item = &'a RunResult>, again: &str) -> Done {
    let stopped: Vec<&RunResult> = results
        .filter(|r| r.status == RunStatus::Interrupted)
        .collect();
    if stopped.is_empty() {
        console::emit!("Interrupted before the next run started.");
    }
    for r in stopped {
        console::emit!(
            "Interrupted: {} holds its checkpoint (status \"interrupted\").",
            r.run.dir.display()
        );
    }
    console::emit!("Resume with: {again}");
    Done::Interrupted
}

/// The hidden `worker` subcommand: trains the one run a plan's executor sends as a line of JSON
/// on stdin ([`workers::serve`]), its progress as JSON lines on stdout; a closed stdin asks it to
/// stop and checkpoint, as Ctrl-C does.
fn run_worker() -> Result<Done> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the worker's job from stdin")?;
    let job: WorkerJob = serde_json::from_str(&line)
        .context("reading the worker's job (one line of JSON on stdin, sent by a plan's executor; `initlab worker` is not for people)")?;
    // The parent closes stdin to ask for a stop (or because it died): stop after the batch.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        STOP.store(true, Ordering::SeqCst);
    });
    let data = load_mnist(&job.data_dir)?;
    let outcome = workers::serve(&job, &data, Some(&STOP), &mut |message| {
        // A parent gone leaves nobody to tell; the run still checkpoints and records itself.
        if let Ok(text) = serde_json::to_string(message) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}").and_then(|_| out.flush());
        }
    })?;
    Ok(if outcome.interrupted {
        Done::Interrupted
    } else {
        Done::Ok
    })
}

/// The command line that ran this process, for "run it again to resume".
fn this_command() -> String {
    std::env::args_os()
        .map(|a| shell_word(Path::new(&a)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(cli: Cli) -> Result<Done> {
    match cli.command {
        Command::Train(args) => {
            let (planned, data) = match &args.resume {
                Some(dir) => {
                    let record = rundir::read_record(dir)?;
                    let data_dir = args
                        .training
                        .data
                        .data_dir
                        .clone()
                        .unwrap_or(record.spec.data.dir.clone());
                    let data = load_mnist(&data_dir)?;
                    let name = dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or(record.name.clone());
                    if record.status.is_final() {
                        console::emit!(
                            "{} is already {}; nothing to resume.",
                            dir.display(),
                            record.status.name()
                        );
                    }
                    let planned = PlannedRun {
                        name,
                        dir: dir.clone(),
                        spec: record.spec,
                    };
                    (planned, data)
                }
                None => {
                    let (model, train) = args.configs();
                    let data = load_data(&args.training.data)?;
                    let spec = RunSpec {
                        model,
                        source: source(&args.pretrained)?,
                        train,
                        data: data.identity.clone(),
                    };
                    spec.validate(&data)?;
                    let name = args
                        .name
                        .clone()
                        .unwrap_or_else(|| default_run_name(&spec.model, &spec.hash()));
                    let planned = PlannedRun {
                        name: name.clone(),
                        dir: args.out.join(&name),
                        spec,
                    };
                    (planned, data)
                }
            };
            warn(&planned.spec);
            let executor = executor(&data, args.run.options());
            let mut console = Console::new(cli.quiet);
            let outcome = executor.run(std::slice::from_ref(&planned), &mut |e| {
                console.run_event(e)
            });
            console.finish();
            let outcome = outcome?;
            let Some(result) = outcome.results.first() else {
                return Ok(Done::Ok);
            };
            match result.status {
                RunStatus::Interrupted => Ok(report_interrupted(
                    outcome.results.iter(),
                    &format!("initlab train --resume {}", shell_word(&planned.dir)),
                )),
                RunStatus::Complete => Ok(Done::Ok),
                RunStatus::Unstable => {
                    eprintln!(
                        "warning: the run is {} (status \"unstable\" in its run.json): it ended worse than it started; try a smaller --lr",
                        result.status_text()
                    );
                    Ok(Done::Ok)
                }
                RunStatus::Diverged => {
                    eprintln!(
                        "error: the run is {}: {}",
                        result.status.name(),
                        result.status_text()
                    );
                    eprintln!("hint: try a smaller init (e.g. --init xavier-uniform or kaiming-normal) or a smaller --lr");
                    Ok(Done::Failed)
                }
                RunStatus::Running => Ok(Done::Ok),
            }
        }
        Command::Lab(args) => {
            if args.run.emit_plan {
                // Its deep DBN run needs the DBN pretrained first: the plan is not known until
                // then, and --emit-plan trains nothing.
                Cli::command()
                    .error(
                        clap::error::ErrorKind::ArgumentConflict,
                        "`lab` cannot --emit-plan: its DBN run needs the DBN pretrained first; use --jobs N to train its runs side by side, or `compare`/`study` with --emit-plan",
                    )
                    .exit();
            }
            let config = args.config();
            let data = load_data(&args.training.data)?;
            // The lab's runs: one at a time with every thread unless --jobs says otherwise.
            let executor = executor(
                &data,
                args.jobs.options(&args.run, ExecOptions::default().jobs),
            );
            let mut console = Console::new(cli.quiet);
            let result = lab::run_lab(&config, &executor, &mut |e| console.run_event(e));
            console.finish();
            let result = result?;
            if result.interrupted {
                return Ok(report_interrupted(
                    result.runs.iter().map(|(_, r)| r),
                    &this_command(),
                ));
            }
            console::emit!("\n{}", results_table(result.runs.iter().map(|(_, r)| r)));
            console::emit!(
                "Chart: {}\nReport: {}\nReport page: {}",
                result.chart.display(),
                result.report.display(),
                result.html.display()
            );
            Ok(Done::Ok)
        }
        Command::Compare(args) => {
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
            let default_jobs = workers::side_by_side_jobs(&plan, data.train.len());
            let options = args.jobs.options(&args.run, default_jobs);
            let jobs = options.jobs;
            let executor = executor(&data, options);
            if args.run.emit_plan {
                return emit_plan(&executor, &plan, &args.run, jobs);
            }
            let mut console = Console::new(cli.quiet);
            let result = compare::run_compare(&config, &executor, &mut |e| console.run_event(e));
            console.finish();
            let result = result?;
            if result.outcome.interrupted {
                return Ok(report_interrupted(
                    result.outcome.results.iter(),
                    &this_command(),
                ));
            }
            console::emit!("\n{}", results_table(result.outcome.results.iter()));
            match &result.chart {
                Some(chart) => console::emit!("Chart: {}", chart.display()),
                None => console::emit!("No chart: no run finished an epoch."),
            }
            console::emit!(
                "Summary: {}\nReport page: {}",
                result.summary.display(),
                result.html.display()
            );
            Ok(Done::Ok)
        }
        Command::Inspect(args) => {
            let mut config = args.config();
            config.source = source(&args.pretrained)?;
            let data = load_data(&args.data)?;
            let result = inspect::run_inspect(&config, &data)?;
            console::emit!("{}", console::inspect_table(&result));
            for f in &result.figures {
                console::emit!("Histograms: {}", f.display());
            }
            console::emit!(
                "Depth chart: {}\nTable: {}",
                result.depth_chart.display(),
                result.table.display()
            );
            Ok(Done::Ok)
        }
        Command::Study(args) => {
            let config = args.config();
            let data = load_data(&args.data)?;
            let plan = study::plan_runs(&config, &data)?;
            let default_jobs = workers::side_by_side_jobs(plan.runs(), data.train.len());
            let options = args.jobs.options(&args.run, default_jobs);
            let jobs = options.jobs;
            let executor = executor(&data, options);
            if args.run.emit_plan {
                return emit_plan(&executor, plan.runs(), &args.run, jobs);
            }
            let mut console = Console::new(cli.quiet);
            let result = study::run_study(&config, plan, &executor, &mut |e| console.run_event(e));
            console.finish();
            let result = result?;
            if result.interrupted {
                return Ok(report_interrupted(
                    result.parts.iter().flat_map(|(_, rs)| rs.iter()),
                    &this_command(),
                ));
            }
            console::emit!(
                "\n{}",
                results_table(result.parts.iter().flat_map(|(_, rs)| rs.iter()))
            );
            console::emit!(
                "Chart: {}\nSummary: {}\nReport page: {}",
                result.chart.display(),
                result.summary.display(),
                result.html.display()
            );
            Ok(Done::Ok)
        }
        Command::Pretrain(args) => {
            let config = args.config();
            if config.widths.len() > 2 && config.widths.last() == Some(&10) {
                eprintln!(
                    "warning: the last width is 10, like an output layer; a DBN covers the hidden layers only (for --model {} pretrain --widths {})",
                    join(&config.widths),
                    join(&config.widths[..config.widths.len() - 1])
                );
            }
            let data = load_data(&args.data)?;
            let mut console = Console::new(cli.quiet);
            let result = pretrain::run_pretrain(&config, &data, &mut |p| console.dbn_progress(p));
            console.finish();
            let result = result?;
            console::emit!("\n{}", console::pretrain_table(&result.dbn));
            for f in &result.files {
                console::emit!("Wrote {}", f.display());
            }
            console::emit!(
                "Fine-tune with: initlab train --model {},10 --activation sigmoid --init dbn --pretrained {}",
                join(&config.widths),
                shell_word(&config.out_dir)
            );
            Ok(Done::Ok)
        }
        Command::Eval(args) => {
            let run = eval::load_trained(&args.run)?;
            let data_dir = run_data_dir(&args.data_dir, &run)?;
            let data = load_mnist(&data_dir)?;
            let evaluation = eval::evaluate(&run.model, &data.test).with_context(|| {
                format!(
                    "evaluating {} on the test set of {}",
                    run.dir.display(),
                    data_dir.display()
                )
            })?;
            let chart = args
                .out
                .clone()
                .unwrap_or_else(|| run.dir.join("confusion.png"));
            let title = format!("{}: confusion matrix", run.name);
            eval::confusion_png(&evaluation, &title, &chart)?;
            if args.json {
                emit_json(&serde_json::json!({
                    "run": run.dir,
                    "data_dir": data_dir,
                    "evaluation": evaluation,
                    "confusion_png": chart,
                }))
                .map(|_| Done::Ok)
            } else {
                console::emit!(
                    "{}",
                    console::evaluation_table(&run, &data_dir, &evaluation)
                );
                console::emit!("Confusion matrix: {}", chart.display());
                Ok(Done::Ok)
            }
        }
        Command::Predict(args) => {
            let run = eval::load_trained(&args.run)?;
            let (digit, short, picture) = match (&args.image, args.index) {
                (Some(path), _) => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| path.display().to_string());
                    let stem = path
                        .file_stem()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "image".into());
                    (
                        eval::read_digit_png(path)?,
                        name,
                        format!("predict-{stem}.png"),
                    )
                }
                (None, Some(index)) => {
                    let data_dir = run_data_dir(&args.data_dir, &run)?;
                    let data = load_mnist(&data_dir)?;
                    (
                        eval::test_digit(&data.test, index, &data_dir)?,
                        format!("test image {index}"),
                        format!("predict-test-{index}.png"),
                    )
                }
                (None, None) => anyhow::bail!("give a PNG file or --index N"),
            };
            let prediction = eval::predict(&run.model, &digit)?;
            let out = args.out.clone().unwrap_or_else(|| run.dir.join(picture));
            let label = digit
                .label
                .map(|l| format!("label {l}, "))
                .unwrap_or_default();
            let title = format!(
                "{short}: {label}predicted {} ({:.1} %)",
                prediction.predicted,
                100.0 * prediction.confidence()
            );
            eval::prediction_png(&digit, &prediction, &title, &out)?;
            let brightness = digit.mean_brightness();
            if brightness > 0.5 {
                eprintln!(
                    "note: {} is mostly bright (mean {brightness:.2}); MNIST digits are white on black, \
                     so invert a dark-on-light picture",
                    digit.source
                );
            }
            if args.json {
                emit_json(&serde_json::json!({
                    "run": run.dir,
                    "prediction": prediction,
                    "picture": out,
                }))
                .map(|_| Done::Ok)
            } else {
                console::emit!("{}", console::prediction_table(&prediction));
                console::emit!("Picture: {}", out.display());
                Ok(Done::Ok)
            }
        }
        Command::Dynamics(args) => {
            let mut logs = Vec::new();
            for dir in &args.runs {
                let run = runs::load_run(dir)
                    .with_context(|| format!("reading run directory {}", dir.display()))?;
                let log = initlab::engine::rundir::read_dynamics(dir, &run.record.spec)?;
                if log.records.is_empty() {
                    anyhow::bail!(
                        "{}: its dynamics.csv has no samples (the run stopped before its first \
                         sampled step)",
                        dir.display()
                    );
                }
                logs.push((run, log));
            }
            let out = match (&args.out, logs.as_slice()) {
                (Some(out), _) => out.clone(),
                (None, [(run, _)]) => run.dir.join("dynamics.png"),
                (None, _) => "dynamics-compare.png".into(),
            };
            if let [(run, log)] = logs.as_slice() {
                let title = format!(
                    "{} — {} init",
                    run.record.spec.model.widths.label(),
                    run.record.spec.model.init
                );
                initlab::base::train::dynamics::chart(
                    log,
                    &title,
                    run.history.first_batch_loss,
                    &out,
                )?;
            } else {
                let named: Vec<(String, initlab::base::train::dynamics::DynamicsLog)> = logs
                    .into_iter()
                    .map(|(run, log)| (run.record.spec.label(), log))
                    .collect();
                initlab::base::train::dynamics::compare_chart(
                    &named,
                    "training dynamics side by side",
                    &out,
                )?;
            }
            console::emit!("Wrote {}", out.display());
            Ok(Done::Ok)
        }
        Command::Doctor(args) => {
            let report = doctor::examine(args.data.data_dir.as_deref());
            if args.json {
                emit_json(&serde_json::to_value(&report).context("formatting the report")?)?;
            } else {
                console::emit!("{}", console::doctor_report(&report));
            }
            Ok(if report.healthy() {
                Done::Ok
            } else {
                Done::Failed
            })
        }
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "initlab", &mut script);
            let text = String::from_utf8(script).context("the completion script is not UTF-8")?;
            console::emit!("{}", text.trim_end());
            Ok(Done::Ok)
        }
        Command::Worker => run_worker(),
        Command::Plot(args) => {
            let mut curves = Vec::new();
            for dir in &args.runs {
                let run = runs::load_run(dir)
                    .with_context(|| format!("reading run directory {}", dir.display()))?;
                curves.push(RunCurves {
                    label: run.record.spec.label(),
                    history: run.history,
                });
            }
            plot::compare_chart(&curves, &args.title, &args.out)?;
            console::emit!("Wrote {}", args.out.display());
            Ok(Done::Ok)
        }
    }
}

/// Prints one self-contained `initlab train` command line per run of `plan` that is not complete
/// (absolute paths; each writes its own run directory, which the same plan then finds complete).
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
    let abs = |p: &Path| -> Result<std::path::PathBuf> {
        std::path::absolute(p).with_context(|| format!("making {} absolute", p.display()))
    };
    for run in plan.iter().filter(|r| !executor.is_final(r)) {
        let s = &run.spec;
        let t = &s.train;
        let mut args: Vec<String> = env.clone();
        args.extend([
            shell_word(&exe),
            "train".into(),
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
        ]);
        if t.momentum != 0.0 {
            args.extend(["--momentum".into(), t.momentum.to_string()]);
        }
        if let Some(n) = t.train_limit {
            args.extend(["--train-limit".into(), n.to_string()]);
        }
        if s.model.bias != BiasInit::default() {
            args.extend(["--bias".into(), s.model.bias.to_string()]);
        }
        if t.lr_schedule != initlab::base::train::LrSchedule::Constant {
            args.extend(["--lr-schedule".into(), t.lr_schedule.to_string()]);
        }
        if t.validation > 0 {
            args.extend(["--validation".into(), t.validation.to_string()]);
        }
        args.extend(["--data-dir".into(), shell_word(&abs(&s.data.dir)?)]);
        if let InitSource::Pretrained { dir, .. } = &s.source {
            args.extend(["--pretrained".into(), shell_word(&abs(dir)?)]);
        }
        let parent = run.dir.parent().unwrap_or(Path::new("."));
        let name = run
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        args.extend([
            "--out".into(),
            shell_word(&abs(parent)?),
            "--name".into(),
            shell_word(Path::new(&name)),
            "--checkpoint-every".into(),
            run_args.checkpoint_every.to_string(),
            "--monitor-every".into(),
            run_args.monitor_every.to_string(),
            "--quiet".into(),
        ]);
        console::emit!("{}", args.join(" "));
    }
    Ok(Done::Ok)
}

/// `shallow-relu-xavier-uniform-1a2b3c4d5e6f`: the model, activation, init and the spec's hash, so
/// that runs of different settings never share a directory.
fn default_run_name(model: &MlpSpec, hash: &str) -> String {
    format!(
        "{}-{}-{}-{hash}",
        model.widths.label(),
        model.activation,
        model.init
    )
}

/// A path as one shell word.
fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || "'\"$\\;&|<>()*?".contains(c)) {
        format!("'{}'", s.replace('\'', "'\\''"))
    } else {
        s
    }
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
