//! `initlab compare`: one architecture trained under several initializations, drawn as the
//! seed's figure (test error per epoch, one line per init) with a summary table. A planner: it
//! describes one [`RunSpec`] per init, the [executor](crate::engine::executor) runs, caches and
//! resumes them (`<out>/runs/<init>-<hash>/`), and the summary is drawn from the results.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Result};

use crate::data::Mnist;
use crate::engine::executor::{Executor, PlanOutcome, PlannedRun, RunEvent, RunResult};
use crate::engine::rundir::RunStatus;
use crate::engine::spec::{InitSource, RunSpec};
use crate::io;
use crate::model::{Activation, InitScheme, MlpSpec, Widths};
use crate::plot::{self, RunCurves};
use crate::train::TrainConfig;

/// Settings of a comparison. `Default`: the lab's shallow net under N(0,1), torch's default,
/// Xavier and He, with the lab's training settings.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The architecture.
    pub widths: Widths,
    /// Its nonlinearity.
    pub activation: Activation,
    /// The inits to compare, in legend order.
    pub inits: Vec<InitScheme>,
    /// Shared training settings.
    pub train: TrainConfig,
    /// Where the `dbn` init takes its weights from.
    pub source: InitSource,
    /// Output directory: `compare.png`/`.svg`, `summary.md`/`.csv`, `runs/<init>-<hash>/`.
    pub out_dir: PathBuf,
    /// Chart title (default: the architecture and optimizer).
    pub title: Option<String>,
}

impl Default for CompareConfig {
    fn default() -> Self {
        CompareConfig {
            widths: Widths::shallow(),
            activation: Activation::Relu,
            inits: vec![
                InitScheme::Normal,
                InitScheme::TorchDefault,
                InitScheme::XavierUniform,
                InitScheme::KaimingNormal,
            ],
            train: TrainConfig::default(),
            source: InitSource::None,
            out_dir: PathBuf::from("runs").join("compare"),
            title: None,
        }
    }
}

/// What a comparison produced.
#[derive(Debug, Clone)]
pub struct CompareResult {
    /// The runs, in the order of the inits (up to an interrupted one).
    pub outcome: PlanOutcome,
    /// `compare.png` (not drawn when a run was interrupted).
    pub chart: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
}

/// The comparison's runs: one spec per init, each in `<out>/runs/<init>-<hash>`.
pub fn plan(config: &CompareConfig, data: &Mnist) -> Result<Vec<PlannedRun>> {
    ensure!(!config.inits.is_empty(), "no init schemes to compare");
    for (i, a) in config.inits.iter().enumerate() {
        ensure!(
            !config.inits[..i].contains(a),
            "the init {a} is listed twice (aliases included): the two runs would be identical"
        );
    }
    Ok(config
        .inits
        .iter()
        .map(|&init| {
            let spec = RunSpec {
                model: MlpSpec {
                    widths: config.widths.clone(),
                    activation: config.activation,
                    init,
                },
                source: if init == InitScheme::Dbn {
                    config.source.clone()
                } else {
                    InitSource::None
                },
                train: config.train.clone(),
                data: data.identity.clone(),
            };
            PlannedRun {
                name: init.to_string(),
                dir: config
                    .out_dir
                    .join("runs")
                    .join(format!("{init}-{}", spec.hash())),
                spec,
            }
        })
        .collect())
}

/// Plans, runs (through `executor`) and summarises the comparison.
pub fn run_compare(
    config: &CompareConfig,
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<CompareResult> {
    let plan = plan(config, executor.data)?;
    executor.check(&plan)?;
    std::fs::create_dir_all(&config.out_dir).map_err(|e| {
        anyhow::anyhow!(
            "creating output directory {}: {e}",
            config.out_dir.display()
        )
    })?;
    let outcome = executor.run(&plan, observer)?;
    let chart = config.out_dir.join("compare.png");
    let summary = config.out_dir.join("summary.md");
    if !outcome.interrupted {
        let title = config
            .title
            .clone()
            .unwrap_or_else(|| default_title(config));
        let curves = curves(&outcome.results, |r| r.run.name.clone());
        plot::compare_chart(&curves, &title, &chart)?;
        plot::compare_chart(&curves, &title, &config.out_dir.join("compare.svg"))?;
        io::write_atomic(
            &summary,
            summary_markdown(config, &outcome.results).as_bytes(),
        )?;
        io::write_atomic(
            &config.out_dir.join("summary.csv"),
            summary_csv(&outcome.results).as_bytes(),
        )?;
    }
    Ok(CompareResult {
        outcome,
        chart,
        summary,
    })
}

/// One curve per run, labelled by `label`, with "(diverged, epoch k)" added where it diverged.
pub fn curves(results: &[RunResult], label: impl Fn(&RunResult) -> String) -> Vec<RunCurves> {
    results
        .iter()
        .map(|r| {
            let base = label(r);
            let label = match (r.status, &r.detail) {
                (
                    RunStatus::Diverged,
                    Some(crate::engine::rundir::EndDetail::Diverged { epoch, .. }),
                ) => format!("{base} (diverged, epoch {epoch})"),
                (RunStatus::Unstable, _) => format!("{base} (unstable)"),
                _ => base,
            };
            RunCurves {
                label,
                history: r.history.clone(),
            }
        })
        .collect()
}

fn default_title(config: &CompareConfig) -> String {
    format!(
        "{} {}, {} lr {}",
        config.widths.label(),
        config.activation,
        config.train.optimizer,
        config.train.learning_rate
    )
}

/// The summary table as markdown.
pub fn summary_markdown(config: &CompareConfig, runs: &[RunResult]) -> String {
    let t = &config.train;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# {}\n",
        config
            .title
            .clone()
            .unwrap_or_else(|| default_title(config))
    );
    let _ = writeln!(
        md,
        "Model {} ({}), {} epochs, batch {}, {} lr {}, seed {}{}.\n",
        config.widths.compact(),
        config.activation,
        t.epochs,
        t.batch_size,
        t.optimizer,
        t.learning_rate,
        t.seed,
        t.train_limit
            .map(|n| format!(", first {n} training images"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "| init | status | final test error % | best test error % (epoch) | final train cost | seconds |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for r in runs {
        let last = r.history.last();
        let final_err = last
            .map(|e| format!("{:.2}", e.test_error_percent()))
            .unwrap_or("—".into());
        let best = r
            .best()
            .map(|(ep, err)| format!("{err:.2} ({ep})"))
            .unwrap_or("—".into());
        let cost = last
            .map(|e| format!("{:.6}", e.train_cost))
            .unwrap_or("—".into());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.1} |",
            r.run.name,
            r.status_text(),
            final_err,
            best,
            cost,
            r.seconds
        );
    }
    let _ = writeln!(md, "\n![test error and train cost per epoch](compare.png)");
    md
}

/// The summary table as CSV.
pub fn summary_csv(runs: &[RunResult]) -> String {
    let mut out = String::from("init,status,diverged_epoch,final_test_error_percent,best_test_error_percent,best_epoch,final_train_cost,seconds,run_dir\n");
    for r in runs {
        let last = r.history.last();
        let diverged = match &r.detail {
            Some(crate::engine::rundir::EndDetail::Diverged { epoch, .. }) => epoch.to_string(),
            _ => String::new(),
        };
        let (best_epoch, best_err) = r
            .best()
            .map(|(e, v)| (e.to_string(), format!("{v:.4}")))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.3},{}",
            r.run.name,
            r.status.name(),
            diverged,
            last.map(|e| format!("{:.4}", e.test_error_percent()))
                .unwrap_or_default(),
            best_err,
            best_epoch,
            last.map(|e| format!("{:.9}", e.train_cost))
                .unwrap_or_default(),
            r.seconds,
            r.run.dir.display()
        );
    }
    out
}
