//! The commands that read saved run directories: `eval`, `predict`, `plot` and `dynamics`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use initlab::base::data::drawing::DrawingConfig;
use initlab::base::train::chart::{compare_chart, RunCurves};
use initlab::base::train::dynamics::{self, DynamicsLog};
use initlab::engine::rundir;
use initlab::engine::runs::{self, SavedRun};
use initlab::experiments::eval::{self, Digit, TrainedRun};
use initlab::experiments::picture;

use crate::cli::{DynamicsArgs, EvalArgs, PlotArgs, PredictArgs};
use crate::commands::{emit_json, load_mnist, Done};
use crate::console;

/// The data directory for a saved run: the one given, else the one it was trained on.
fn run_data_dir(given: &Option<PathBuf>, run: &TrainedRun) -> Result<PathBuf> {
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

/// `initlab eval`: a saved run on the test set, with its confusion-matrix picture.
pub fn eval(args: EvalArgs) -> Result<Done> {
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
        )?;
        console::emit!("Confusion matrix: {}", chart.display())?;
        Ok(Done::Ok)
    }
}

/// `initlab predict`: one digit classified by a saved run, drawn with its probabilities.
pub fn predict(args: PredictArgs) -> Result<Done> {
    let run = eval::load_trained(&args.run)?;
    let (digit, short, picture) = chosen_digit(&args, &run)?;
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
    if brightness > 0.5 && digit.preparation.is_none() {
        eprintln!(
            "note: {} is mostly bright (mean {brightness:.2}); MNIST digits are white on black: \
             add --prepare always to invert and centre a dark-on-light picture",
            digit.source
        );
    }
    if args.json {
        emit_json(&serde_json::json!({
            "run": run.dir,
            "prediction": prediction,
            "preparation": digit.preparation,
            "picture": out,
        }))
        .map(|_| Done::Ok)
    } else {
        console::emit!("{}", console::prediction_table(&prediction, &digit))?;
        console::emit!("Picture: {}", out.display())?;
        Ok(Done::Ok)
    }
}

/// The digit `predict` classifies (a PNG, else a test image), with a short name for the
/// picture's title and the picture's file name.
fn chosen_digit(args: &PredictArgs, run: &TrainedRun) -> Result<(Digit, String, String)> {
    match (&args.image, args.index) {
        (Some(path), _) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            let stem = path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into());
            let digit = picture::read_digit(path, args.prepare, &DrawingConfig::default())?;
            Ok((digit, name, format!("predict-{stem}.png")))
        }
        (None, Some(index)) => {
            let data_dir = run_data_dir(&args.data_dir, run)?;
            let data = load_mnist(&data_dir)?;
            Ok((
                eval::test_digit(&data.test, index, &data_dir)?,
                format!("test image {index}"),
                format!("predict-test-{index}.png"),
            ))
        }
        (None, None) => anyhow::bail!("give a PNG file or --index N"),
    }
}

/// `initlab plot`: the saved runs' curves in one chart.
pub fn plot(args: PlotArgs) -> Result<Done> {
    let mut curves = Vec::new();
    for dir in &args.runs {
        let run = runs::load_run(dir)
            .with_context(|| format!("reading run directory {}", dir.display()))?;
        curves.push(RunCurves {
            label: run.record.spec.label(),
            history: run.history,
        });
    }
    compare_chart(&curves, &args.title, &args.out)?;
    console::emit!("Wrote {}", args.out.display())?;
    Ok(Done::Ok)
}

/// `initlab dynamics`: one run's training dynamics redrawn, or several runs' side by side.
pub fn dynamics(args: DynamicsArgs) -> Result<Done> {
    let mut logs = Vec::new();
    for dir in &args.runs {
        let run = runs::load_run(dir)
            .with_context(|| format!("reading run directory {}", dir.display()))?;
        let log = rundir::read_dynamics(dir, &run.record.spec)?;
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
        (None, [(run, _)]) => run.dir.join(initlab::engine::rundir::DYNAMICS_PNG),
        (None, _) => "dynamics-compare.png".into(),
    };
    draw_dynamics(logs, &out)?;
    console::emit!("Wrote {}", out.display())?;
    Ok(Done::Ok)
}

/// One run's dynamics chart, or the runs' comparison chart, at `out`.
fn draw_dynamics(logs: Vec<(SavedRun, DynamicsLog)>, out: &std::path::Path) -> Result<()> {
    if let [(run, log)] = logs.as_slice() {
        let title = run.record.spec.model.title();
        dynamics::chart(log, &title, run.history.first_batch_loss, out)?;
    } else {
        let named: Vec<(String, DynamicsLog)> = logs
            .into_iter()
            .map(|(run, log)| (run.record.spec.label(), log))
            .collect();
        dynamics::compare_chart(&named, "training dynamics side by side", out)?;
    }
    Ok(())
}
