//! The `initlab` binary: parses arguments, calls the library, prints results and the error chain.

mod cli;
mod console;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command};
use console::Console;

use initlab::dbn::DbnInit;
use initlab::eval::{self, TrainedRun};
use initlab::lab::{self, LabEvent};
use initlab::lsuv::DataDependentInit;
use initlab::model::InitScheme;
use initlab::plot::{self, RunCurves};
use initlab::runs::{self, RunConfig};
use initlab::study::StudyEvent;
use initlab::{compare, data, inspect, pretrain, study, train};

/// Loads the MNIST-layout data set in `dir`, naming the folder in any error.
fn load_mnist(dir: &std::path::Path) -> Result<data::Mnist> {
    data::load_dir(dir).with_context(|| format!("loading MNIST from {}", dir.display()))
}

/// Prints a summary file and where the chart and summary are.
fn show_summary(summary: &std::path::Path, chart: &std::path::Path) -> Result<()> {
    console::emit!("\n{}", read(summary)?);
    console::emit!("Chart: {}\nSummary: {}", chart.display(), summary.display());
    Ok(())
}

/// Reads a text file the program has just written.
fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) => {
            let (spec, config) = args.configs();
            let data_dir = args.training.data_dir();
            let data = load_mnist(&data_dir)?;
            let hook = match (&args.pretrained, spec.init) {
                (Some(dir), InitScheme::Dbn) => Some(DbnInit::load(dir)?),
                (Some(_), init) => {
                    anyhow::bail!("--pretrained is only used by --init dbn, not {init}")
                }
                (None, _) => None,
            };
            let hook_ref = hook.as_ref().map(|h| h as &dyn DataDependentInit);
            let mut console = Console::new(cli.quiet);
            let result = train::train_with(&spec, &data, &config, hook_ref, &mut |p| {
                console.progress(p)
            });
            console.finish();
            let (model, history) = result?;
            console::emit!("Learning finished");
            if let Some(last) = history.last() {
                console::emit!(
                    "Accuracy: {:.4} (test loss {:.4}, {:.2} s per epoch)",
                    last.test_accuracy,
                    last.test_loss,
                    history.seconds_per_epoch()
                );
            }
            let name = args.run_name();
            let dir = args.out.join(&name);
            let run_config = RunConfig {
                name,
                model: spec,
                train: config,
                data_dir,
                pretrained: args.pretrained.clone(),
            };
            runs::save_run(&dir, &run_config, &history, &model)?;
            console::emit!(
                "Saved {} (history.csv, history.json, config.json, model.safetensors, loss.png)",
                dir.display()
            );
            Ok(())
        }
        Command::Lab(args) => {
            let config = args.config();
            let data = load_mnist(&config.data_dir)?;
            let mut console = Console::new(cli.quiet);
            let result = lab::run_lab(&config, &data, &mut |event| match event {
                LabEvent::RunStart { index, total, run } => {
                    console.println(&format!(
                        "\n== run {index}/{total}: {} ({} net, {} init) ==",
                        run.name,
                        run.spec.widths.label(),
                        run.spec.init
                    ));
                }
                LabEvent::Pretrain { epochs, layers, .. } => console.println(&format!(
                    "DBN pretraining: {layers} RBMs, {epochs} epochs each"
                )),
                LabEvent::Dbn(p) => console.dbn_progress(p),
                LabEvent::Train(p) => console.progress(p),
                LabEvent::RunEnd { history, dir, .. } => {
                    console.finish();
                    console.println("Learning finished");
                    if let Some(last) = history.last() {
                        console.println(&format!(
                            "Accuracy: {:.4}  ({:.2} s per epoch, saved in {})",
                            last.test_accuracy,
                            history.seconds_per_epoch(),
                            dir.display()
                        ));
                    }
                }
            });
            console.finish();
            let result = result?;
            console::emit!("\n{}", read(&result.report)?);
            console::emit!(
                "Chart: {}\nReport: {}",
                result.chart.display(),
                result.report.display()
            );
            Ok(())
        }
        Command::Compare(args) => {
            let config = args.config();
            let data = load_mnist(&config.data_dir)?;
            let mut console = Console::new(cli.quiet);
            let result = compare::run_compare(&config, &data, &mut |e| console.compare_event(e));
            console.finish();
            let result = result?;
            show_summary(&result.summary, &result.chart)
        }
        Command::Inspect(args) => {
            let config = args.config();
            let data_dir = args.data_dir();
            let data = load_mnist(&data_dir)?;
            let n = args.batch.min(data.test.len());
            let inputs = data.test.images_unit().narrow(0, 0, n); // [n, 784]
            let labels = data.test.labels.narrow(0, 0, n); // [n]
            let result = inspect::run_inspect(&config, &inputs, &labels)?;
            console::emit!("{}", read(&result.table)?);
            for f in &result.figures {
                console::emit!("Histograms: {}", f.display());
            }
            console::emit!(
                "Depth chart: {}\nTable: {}",
                result.depth_chart.display(),
                result.table.display()
            );
            Ok(())
        }
        Command::Study(args) => {
            let config = args.config();
            let data = load_mnist(&config.data_dir)?;
            let mut console = Console::new(cli.quiet);
            let result = study::run_study(&config, &data, &mut |e| match e {
                StudyEvent::PartStart { name } => console.println(&format!("\n### part {name}")),
                StudyEvent::Compare(e) => console.compare_event(e),
            });
            console.finish();
            let result = result?;
            show_summary(&result.summary, &result.chart)
        }
        Command::Pretrain(args) => {
            let config = args.config();
            let data_dir = args.data_dir();
            let data = load_mnist(&data_dir)?;
            let mut console = Console::new(cli.quiet);
            let result = pretrain::run_pretrain(&config, &data, &mut |p| console.dbn_progress(p));
            console.finish();
            let result = result?;
            console::emit!("\n{}", read(&config.out_dir.join("pretrain.md"))?);
            for f in &result.files {
                console::emit!("Wrote {}", f.display());
            }
            console::emit!(
                "Fine-tune with: initlab train --model {},10 --activation sigmoid --init dbn --pretrained {}",
                config.widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(","),
                config.out_dir.display()
            );
            Ok(())
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
            } else {
                console::emit!(
                    "{}",
                    console::evaluation_table(&run, &data_dir, &evaluation)
                );
                console::emit!("Confusion matrix: {}", chart.display());
                Ok(())
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
            } else {
                console::emit!("{}", console::prediction_table(&prediction));
                console::emit!("Picture: {}", out.display());
                Ok(())
            }
        }
        Command::Plot(args) => {
            let mut curves = Vec::new();
            for dir in &args.runs {
                let run = runs::load_run(dir)
                    .with_context(|| format!("reading run directory {}", dir.display()))?;
                let label = run.config.model.label();
                curves.push(RunCurves {
                    label,
                    history: run.history,
                });
            }
            plot::compare_chart(&curves, &args.title, &args.out)?;
            console::emit!("Wrote {}", args.out.display());
            Ok(())
        }
    }
}
