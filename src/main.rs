//! The `initlab` binary: parses arguments, hands each command to its module under `commands/`,
//! and turns what it returns into an exit status, and library errors into messages with the flag
//! that fixes them.

mod cli;
mod commands;
mod console;
mod startup;

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::Parser;
use cli::{Cli, Command};
use commands::{shell_word, Done, STOP, WORKING};
use console::OutputFailed;

use initlab::base::data::locate::{DataError, Origin};
use initlab::base::output::checksum::FileError;
use initlab::engine::rundir::RunDirError;
use initlab::engine::runs::RunsBelow;
use initlab::engine::spec::SpecError;
use initlab::engine::workers;

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. SIGTERM and SIGHUP
/// are handled as Ctrl-C and end with the same status (the handler cannot tell them apart).
const EXIT_INTERRUPTED: u8 = workers::EXIT_INTERRUPTED as u8;

/// Ctrl-C, SIGTERM and SIGHUP: before a command hands its plan to the executor ([`WORKING`])
/// nothing has been written, and the process exits at once with status 130. Then the first asks
/// training to stop after its batch and checkpoint; a second exits at once.
fn install_signal_handler() {
    let result = ctrlc::set_handler(|| {
        if !WORKING.load(Ordering::SeqCst) {
            eprintln!("\ninterrupt: nothing was started; exiting");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
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

/// Whether an error is about values the user gave (exit status 2, like clap's).
fn is_usage_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<SpecError>().is_some())
}

/// The flag that fixes an error, if there is one.
fn hint(e: &anyhow::Error) -> Option<String> {
    if let Some(o) = e.downcast_ref::<OutputFailed>() {
        return o.resume.as_ref().map(|r| format!("resume with: {r}"));
    }
    for cause in e.chain() {
        if let Some(s) = cause.downcast_ref::<SpecError>() {
            return Some(spec_hint(s));
        }
        if let Some(r) = cause.downcast_ref::<RunsBelow>() {
            let parent = r.runs.first().and_then(|p| p.parent()).unwrap_or(&r.dir);
            let glob = parent.join("*");
            return Some(format!(
                "pass the run directories themselves, e.g. {}/",
                glob.display()
            ));
        }
        if let Some(d) = cause.downcast_ref::<DataError>() {
            return Some(data_hint(d));
        }
        if let Some(r) = cause.downcast_ref::<RunDirError>() {
            return run_dir_hint(r);
        }
        if let Some(f) = cause.downcast_ref::<FileError>() {
            return Some(file_hint(f));
        }
    }
    None
}

/// What to do about a file that failed its checksum or size check: make it again.
fn file_hint(f: &FileError) -> String {
    let path = f.path();
    let dir = path.parent().map(shell_word).unwrap_or_default();
    match path.file_name().and_then(|n| n.to_str()).unwrap_or("") {
        "dbn.safetensors" | "dbn.json" | "recipe.json" => format!(
            "pretrain the DBN again (`initlab pretrain … --out {dir}`), or point --pretrained at an intact copy"
        ),
        "checkpoint.safetensors" => "the checkpoint is the only one kept: pass --force to train the run again from the start".into(),
        _ => "pass --force (or --no-cache) to train the run again; commands that only read it (eval, predict, plot, dynamics) need it trained again too".into(),
    }
}

/// The flag that fixes a run spec the user described.
fn spec_hint(s: &SpecError) -> String {
    match s {
        SpecError::NeedsPretrainedDbn => {
            "pass --pretrained DIR with a DBN made by `initlab pretrain --widths …` (the hidden layers of your --model)".into()
        }
        SpecError::UnusedPretrainedDbn(_) => "drop --pretrained, or use --init dbn".into(),
        SpecError::TrainLimitTooLarge { available, .. } => {
            format!("use --train-limit {available} or less")
        }
        SpecError::ValidationTooLarge {
            available, limit, ..
        } => {
            if *limit > 0 {
                "lower --validation or --train-limit so that they add up to at most the training images".into()
            } else {
                format!("use --validation {} or less", available - 1)
            }
        }
        SpecError::DbnBelow { found, .. } => format!("use --pretrained {}", shell_word(found)),
        SpecError::BiasSetByInit(_) => "drop --bias zeros for this init".into(),
        SpecError::MomentumWithoutSgd(_) => {
            "use --optim sgd with --momentum, or drop --momentum".into()
        }
        SpecError::InputWidth { pixels, .. } => {
            format!("start --model with {pixels}, e.g. --model {pixels},100,10")
        }
        SpecError::BatchTooLarge { images, .. } => {
            format!("use --batch-size {images} or less")
        }
        SpecError::OutputWidth(_) => "end --model with 10, e.g. --model 784,100,10".into(),
        SpecError::ModelTooLarge { .. } => {
            "use narrower or fewer hidden layers in --model, e.g. --model 784,1000,10".into()
        }
    }
}

/// Where to find (or how to make) the MNIST files the data error misses.
fn data_hint(d: &DataError) -> String {
    match d {
        DataError::Incomplete {
            origin: Origin::Env,
            ..
        } => "point INITLAB_DATA at a folder with the four MNIST files, or unset it to use the user data folder, the checkout's data/mnist or the copy compiled into initlab".into(),
        DataError::Incomplete { .. } => {
            "pass --data-dir a folder with the four MNIST files (gz or raw)".into()
        }
        DataError::NotFound { .. } => "pass --data-dir DIR or set INITLAB_DATA=DIR (a folder with the four MNIST files), or set HOME or XDG_DATA_HOME so that initlab can unpack its own copy".into(),
        DataError::Unpack { .. } => "set XDG_DATA_HOME to a writable folder, or pass --data-dir DIR or set INITLAB_DATA=DIR (a folder with the four MNIST files)".into(),
    }
}

/// The flag that lets a command use (or replace) a run directory it cannot use as it is.
fn run_dir_hint(r: &RunDirError) -> Option<String> {
    match r {
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
        RunDirError::OtherDispatch { found, wanted, .. } => Some(format!(
            "run with --mkl-dispatch {found} (or INITLAB_MKL_DISPATCH={found}) to reuse it, or pass \
             --force to train it again under `{wanted}`"
        )),
        RunDirError::Locked { .. } => None,
        RunDirError::UnsafeLock { lock, .. } => Some(format!(
            "remove {} (a run directory's lock is a plain file initlab makes itself) and run again",
            shell_word(lock)
        )),
    }
}

fn main() -> ExitCode {
    if startup::return_to_deleted_cwd() {
        eprintln!("warning: the working directory has been deleted: relative paths (the default --out included) cannot be read or written; cd to an existing folder, or pass absolute paths");
    }
    let cli = Cli::parse();
    if let Err(e) = install_switches(cli.mkl_dispatch) {
        eprintln!("error: {e}");
        eprintln!("hint: unset INITLAB_MKL_DISPATCH or set it to `stock` or `intel-path`");
        return ExitCode::from(2);
    }
    install_signal_handler();
    // libtorch's threads, a CPU each (src/base/waits.rs); a worker pins its own share.
    if !matches!(cli.command, Command::Worker) {
        initlab::base::waits::bind_team(usize::try_from(tch::get_num_threads()).unwrap_or(1));
    }
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

/// The environment switches (INITLAB_ADAM, INITLAB_MKL_DISPATCH, …), read once, before any
/// tensor work (oneMKL's dispatch is fixed at its first product): the library never reads them.
/// `--mkl-dispatch` overrides the variable.
fn install_switches(flag: Option<initlab::base::parity::mkl::MklDispatch>) -> Result<(), String> {
    let mut switches = initlab::base::switches::Switches::from_env()
        .map_err(|e| format!("environment variable INITLAB_MKL_DISPATCH: {e}"))?;
    if let Some(d) = flag {
        switches.mkl_dispatch = d;
    }
    let _ = switches.install();
    Ok(())
}

/// Runs the command the arguments name.
fn run(cli: Cli) -> anyhow::Result<Done> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Train(args) => commands::train::train(args, quiet),
        Command::Lab(args) => commands::plans::lab(args, quiet),
        Command::Compare(args) => commands::plans::compare(args, quiet),
        Command::Inspect(args) => commands::inspect::inspect(args),
        Command::Study(args) => commands::plans::study(args, quiet),
        Command::Pretrain(args) => commands::train::pretrain(args, quiet),
        Command::Eval(args) => commands::saved_runs::eval(args),
        Command::Predict(args) => commands::saved_runs::predict(args),
        Command::Dynamics(args) => commands::saved_runs::dynamics(args),
        Command::Doctor(args) => commands::doctor::doctor(args),
        Command::Completions(args) => commands::doctor::completions(args),
        Command::Worker => commands::train::worker(),
        Command::Plot(args) => commands::saved_runs::plot(args),
    }
}
