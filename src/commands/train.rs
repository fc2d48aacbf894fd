//! `train` (a new run, or `--resume DIR`), `pretrain` (a DBN) and the hidden `worker` that trains
//! one run of a plan side by side.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};

use initlab::base::data::mnist::Mnist;
use initlab::base::nn::model::{join_widths as join, MlpSpec};
use initlab::engine::executor::{PlannedRun, RunResult};
use initlab::engine::rundir::{self, EndDetail, RunStatus};
use initlab::engine::spec::RunSpec;
use initlab::engine::workers::{self, WorkerJob};
use initlab::experiments::pretrain;

use crate::cli::{PretrainArgs, TrainArgs};
use crate::commands::{
    executor, load_data, load_mnist, report_interrupted, shell_word, source, this_command, warn,
    Done, STOP, WORKING,
};
use crate::console::{self, Console};

/// `initlab train`: trains (or resumes) one run and reports how it ended.
pub fn train(args: TrainArgs, quiet: bool) -> Result<Done> {
    let (planned, data) = match &args.resume {
        Some(dir) => resumed(&args, dir)?,
        None => fresh(&args)?,
    };
    warn(&planned.spec);
    let executor = executor(&data, args.run.options());
    let mut console = Console::new(quiet);
    let outcome = executor.run(std::slice::from_ref(&planned), &mut |e| {
        console.run_event(e)
    });
    console.finish();
    let outcome = outcome?;
    // Stopped before its directory was touched: the same command starts it (or resumes it).
    let again = match (&args.resume, outcome.results.is_empty()) {
        (None, true) => this_command(),
        _ => format!("initlab train --resume {}", shell_word(&planned.dir)),
    };
    console.check_output(outcome.interrupted, &again)?;
    if outcome.interrupted {
        return report_interrupted(outcome.results.iter(), &again);
    }
    let Some(result) = outcome.results.first() else {
        return Ok(Done::Ok);
    };
    Ok(report_end(result))
}

/// The run in `dir` to resume (with the data it was trained on, or `--data-dir`'s).
fn resumed(args: &TrainArgs, dir: &Path) -> Result<(PlannedRun, Mnist)> {
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
        )?;
    }
    let planned = PlannedRun {
        name,
        dir: dir.to_path_buf(),
        spec: record.spec,
    };
    Ok((planned, data))
}

/// The new run the flags describe, validated against its data.
fn fresh(args: &TrainArgs) -> Result<(PlannedRun, Mnist)> {
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
    Ok((planned, data))
}

/// How a run that was not interrupted ended: a warning for an unstable one, an error and a hint
/// for a diverged one.
fn report_end(result: &RunResult) -> Done {
    match result.status {
        RunStatus::Unstable => {
            let why = match result.detail {
                Some(EndDetail::AtChance { .. }) => "it learned nothing, ending no better than a guess; try a smaller --lr, a smaller init (e.g. --init xavier-uniform) or more --epochs",
                _ => "it ended worse than it started; try a smaller --lr",
            };
            eprintln!(
                "warning: the run is {} (status \"unstable\" in its run.json): {why}",
                result.status_text()
            );
            Done::Ok
        }
        RunStatus::Diverged => {
            eprintln!("error: the run {}", result.status_text());
            eprintln!("hint: try a smaller init (e.g. --init xavier-uniform or kaiming-normal) or a smaller --lr");
            Done::Failed
        }
        RunStatus::Complete | RunStatus::Running | RunStatus::Interrupted | RunStatus::Failed => {
            Done::Ok
        }
    }
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

/// `initlab pretrain`: greedy layer-wise DBN pretraining, then the command that fine-tunes it.
pub fn pretrain(args: PretrainArgs, quiet: bool) -> Result<Done> {
    let config = args.config();
    if config.widths.len() > 2 && config.widths.last() == Some(&10) {
        eprintln!(
            "warning: the last width is 10, like an output layer; a DBN covers the hidden layers only (for --model {} pretrain --widths {})",
            join(&config.widths),
            join(&config.widths[..config.widths.len() - 1])
        );
    }
    let data = load_data(&args.data)?;
    let mut console = Console::new(quiet);
    let result = pretrain::run_pretrain(&config, &data, &mut |p| console.dbn_progress(p));
    console.finish();
    let result = result?;
    console.check_output(false, "")?;
    console::emit!("\n{}", console::pretrain_table(&result.dbn))?;
    for f in &result.files {
        console::emit!("Wrote {}", f.display())?;
    }
    console::emit!(
        "Fine-tune with: initlab train --model {},10 --activation sigmoid --init dbn --pretrained {}",
        join(&config.widths),
        shell_word(&config.out_dir)
    )?;
    Ok(Done::Ok)
}

/// The hidden `worker` subcommand: trains the one run a plan's executor sends as a line of JSON
/// on stdin ([`workers::serve`]), its progress as JSON lines on stdout; a closed stdin asks it to
/// stop and checkpoint, as Ctrl-C does.
pub fn worker() -> Result<Done> {
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
    WORKING.store(true, Ordering::SeqCst);
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
