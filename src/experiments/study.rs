//! `initlab study`: presets that reproduce the papers' experiments on a 2-core budget, each one
//! command writing its charts and a markdown summary.
//!
//! - [`Study::Glorot`]: Glorot & Bengio (2010), Table 1 / Fig. 11 — five hidden layers of 1000
//!   tanh, softsign or sigmoid units trained with SGD, "standard" init U(±1/√n) against the
//!   normalized ("N", Xavier) init.
//! - [`Study::He`]: He et al. (2015), Fig. 3 — a 30-layer ReLU net with SGD stalls with Xavier and
//!   trains with He (`kaiming_normal_`, fan-in); at 22 layers both train, He earlier.
//! - [`Study::Lab`]: the lab's shallow and deep nets with Adam under N(0,1), torch's default,
//!   Xavier, He and LSUV.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::compare::{self, CompareConfig};
use crate::data::Mnist;
use crate::engine::executor::{Executor, PlannedRun, RunEvent, RunResult};
use crate::engine::spec::InitSource;
use crate::io;
use crate::model::{Activation, InitScheme, Widths};
use crate::optim::OptimizerKind;
use crate::plot;
use crate::train::TrainConfig;

/// The presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Study {
    /// Glorot & Bengio 2010: standard vs normalized init for tanh, softsign, sigmoid.
    Glorot,
    /// He et al. 2015: Xavier vs He on 30 and 22 ReLU layers.
    He,
    /// The lab's nets with Adam under five inits.
    Lab,
}

impl Study {
    /// Every study.
    pub const ALL: [Study; 3] = [Study::Glorot, Study::He, Study::Lab];

    /// Its name on the command line and in paths.
    pub fn name(self) -> &'static str {
        match self {
            Study::Glorot => "glorot",
            Study::He => "he",
            Study::Lab => "lab",
        }
    }
}

impl std::str::FromStr for Study {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Study::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .with_context(|| format!("unknown study {s:?} (expected glorot, he or lab)"))
    }
}

/// Settings of a study run.
#[derive(Debug, Clone)]
pub struct StudyConfig {
    /// Which study.
    pub study: Study,
    /// The papers' full-size setting (all 60,000 images, more epochs) instead of the 2-core budget.
    pub full: bool,
    /// Override the epochs of every part.
    pub epochs: Option<usize>,
    /// Override the training subset of every part.
    pub train_limit: Option<i64>,
    /// Override the hidden-layer width (tests use small nets).
    pub width: Option<i64>,
    /// The seeds: every (configuration, seed) is one run.
    pub seeds: Vec<i64>,
    /// Output directory (`runs/study/<name>`).
    pub out_dir: PathBuf,
}

impl StudyConfig {
    /// The study's 2-core budget with the lab's seed, written to `runs/study/<name>`.
    pub fn new(study: Study) -> Self {
        StudyConfig {
            study,
            full: false,
            epochs: None,
            train_limit: None,
            width: None,
            seeds: vec![TrainConfig::default().seed],
            out_dir: PathBuf::from("runs").join("study").join(study.name()),
        }
    }
}

/// One comparison inside a study.
#[derive(Debug, Clone)]
pub struct StudyPart {
    /// Short name (sub-directory), e.g. `tanh`.
    pub name: String,
    /// Legend label per init, e.g. `tanh N` for the normalized init.
    pub labels: Vec<(InitScheme, String)>,
    /// The comparison.
    pub compare: CompareConfig,
}

fn hidden(n: usize, width: i64) -> Widths {
    let mut w = vec![784];
    w.extend(std::iter::repeat_n(width, n));
    w.push(10);
    Widths(w)
}

/// The parts of a study with their budgets.
pub fn plan(config: &StudyConfig) -> Vec<StudyPart> {
    let full = config.full;
    let train = |optimizer, learning_rate, epochs: usize, limit: Option<i64>| TrainConfig {
        epochs: config.epochs.unwrap_or(epochs),
        learning_rate,
        optimizer,
        train_limit: config.train_limit.or(limit),
        ..TrainConfig::default()
    };
    let part = |name: String,
                widths: Widths,
                activation,
                labels: Vec<(InitScheme, String)>,
                t: TrainConfig| {
        StudyPart {
            compare: CompareConfig {
                widths,
                activation,
                inits: labels.iter().map(|(i, _)| *i).collect(),
                train: t,
                source: InitSource::None,
                out_dir: config.out_dir.join(&name),
                title: None,
                seeds: config.seeds.clone(),
                baseline: None,
            },
            name,
            labels,
        }
    };
    match config.study {
        Study::Glorot => {
            let width = config.width.unwrap_or(1000);
            let (epochs, limit) = if full { (30, None) } else { (8, Some(20_000)) };
            [Activation::Tanh, Activation::Softsign, Activation::Sigmoid]
                .into_iter()
                .map(|act| {
                    let labels = vec![
                        (InitScheme::GlorotStandard, act.name().to_string()),
                        (InitScheme::XavierUniform, format!("{} N", act.name())),
                    ];
                    part(
                        act.name().to_string(),
                        hidden(5, width),
                        act,
                        labels,
                        train(OptimizerKind::Sgd, 0.1, epochs, limit),
                    )
                })
                .collect()
        }
        Study::He => {
            let width = config.width.unwrap_or(256);
            let (epochs, limit) = if full { (30, None) } else { (8, Some(20_000)) };
            // Learning rates per depth: the largest of 0.01/0.03/0.1 at which He's net stays stable.
            [(30usize, 0.03), (22, 0.1)]
                .into_iter()
                .map(|(depth, lr)| {
                    let labels = vec![
                        (InitScheme::XavierUniform, format!("{depth} layers Xavier")),
                        (InitScheme::KaimingNormal, format!("{depth} layers He")),
                    ];
                    // `depth` weight layers: depth − 1 hidden layers.
                    part(
                        format!("relu{depth}"),
                        hidden(depth - 1, width),
                        Activation::Relu,
                        labels,
                        train(OptimizerKind::Sgd, lr, epochs, limit),
                    )
                })
                .collect()
        }
        Study::Lab => {
            let inits = [
                InitScheme::Normal,
                InitScheme::TorchDefault,
                InitScheme::XavierUniform,
                InitScheme::KaimingNormal,
                InitScheme::Lsuv,
            ];
            // The lab's own setting already fits the budget: --full changes nothing here.
            let (epochs, limit) = (15, None);
            let mut nets = vec![("shallow", Widths::shallow()), ("deep", Widths::deep())];
            if let Some(w) = config.width {
                nets = vec![("shallow", hidden(2, w)), ("deep", hidden(4, w))];
            }
            nets.into_iter()
                .map(|(name, widths)| {
                    let labels = inits.iter().map(|&i| (i, format!("{name} {i}"))).collect();
                    part(
                        name.to_string(),
                        widths,
                        Activation::Relu,
                        labels,
                        train(OptimizerKind::Adam, 0.001, epochs, limit),
                    )
                })
                .collect()
        }
    }
}

/// What a study wrote.
#[derive(Debug, Clone)]
pub struct StudyResult {
    /// Each part's runs.
    pub parts: Vec<(StudyPart, Vec<RunResult>)>,
    /// True when a run was interrupted (nothing is drawn then).
    pub interrupted: bool,
    /// The combined chart (`<study>.png`).
    pub chart: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
}

/// Every part's runs in one plan (part by part), through one executor, then the combined chart
/// and summary.
pub fn run_study(
    config: &StudyConfig,
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<StudyResult> {
    let parts = plan(config);
    let mut runs: Vec<PlannedRun> = Vec::new();
    let mut sizes = Vec::new();
    for p in &parts {
        let planned = part_runs(config, p, executor.data)?;
        sizes.push(planned.len());
        runs.extend(planned);
    }
    executor.check(&runs)?;
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let outcome = executor.run(&runs, observer)?;
    let mut results = outcome.results.into_iter();
    let parts: Vec<(StudyPart, Vec<RunResult>)> = parts
        .into_iter()
        .zip(sizes)
        .map(|(p, n)| {
            let rs: Vec<RunResult> = results.by_ref().take(n).collect();
            (p, rs)
        })
        .collect();
    let chart = config.out_dir.join(format!("{}.png", config.study.name()));
    let summary = config.out_dir.join("summary.md");
    if !outcome.interrupted {
        let curves: Vec<_> = parts
            .iter()
            .flat_map(|(p, rs)| compare::seed_groups(rs, |r| label_of(p, r.run.spec.model.init)))
            .collect();
        let title = study_title(config);
        plot::seeds_chart(&curves, &title, &chart)?;
        plot::seeds_chart(
            &curves,
            &title,
            &config.out_dir.join(format!("{}.svg", config.study.name())),
        )?;
        io::write_atomic(&summary, summary_markdown(config, &parts).as_bytes())?;
    }
    Ok(StudyResult {
        parts,
        interrupted: outcome.interrupted,
        chart,
        summary,
    })
}

fn part_runs(config: &StudyConfig, part: &StudyPart, data: &Mnist) -> Result<Vec<PlannedRun>> {
    compare::plan(&part.compare, data)
        .with_context(|| format!("study {} part {}", config.study.name(), part.name))
}

/// Every run of the study, part by part, as the executor gets them.
pub fn plan_runs(config: &StudyConfig, data: &Mnist) -> Result<Vec<PlannedRun>> {
    let mut runs = Vec::new();
    for p in plan(config) {
        runs.extend(part_runs(config, &p, data)?);
    }
    Ok(runs)
}

/// The part's legend label of `init`.
fn label_of(part: &StudyPart, init: InitScheme) -> String {
    part.labels
        .iter()
        .find(|(i, _)| *i == init)
        .map(|(_, l)| l.clone())
        .unwrap_or(init.to_string())
}

fn study_title(config: &StudyConfig) -> String {
    match config.study {
        Study::Glorot => {
            "Glorot & Bengio 2010: standard vs normalized (N) init, 5×1000 hidden, SGD".into()
        }
        Study::He => "He et al. 2015: Xavier vs He init for deep ReLU nets, SGD".into(),
        Study::Lab => "The lab's nets with Adam: N(0,1), torch default, Xavier, He, LSUV".into(),
    }
}

/// The study's markdown summary: the budget, then one table per part.
pub fn summary_markdown(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> String {
    let mut md = format!("# {}\n\n", study_title(config));
    let _ = writeln!(
        md,
        "Command: `initlab study {}{}`. Budget: {}.\n",
        config.study.name(),
        if config.full { " --full" } else { "" },
        if config.full {
            "the full-size setting"
        } else {
            "the 2-core default (see the table for epochs and training images)"
        }
    );
    let _ = writeln!(
        md,
        "![{}]({}.png)\n",
        config.study.name(),
        config.study.name()
    );
    let _ = writeln!(md, "| part | model | run | optimizer, lr | epochs | training images | status | final test error % | best test error % (epoch) | seconds |");
    let _ = writeln!(md, "|---|---|---|---|---:|---:|---|---:|---:|---:|");
    let mut total = 0.0;
    for (p, runs) in parts {
        let t = &p.compare.train;
        for r in runs {
            total += r.seconds;
            let label = label_of(p, r.run.spec.model.init);
            let final_err = r
                .history
                .last()
                .map(|e| format!("{:.2}", e.test_error_percent()))
                .unwrap_or("—".into());
            let best = r
                .best()
                .map(|(ep, e)| format!("{e:.2} ({ep})"))
                .unwrap_or("—".into());
            let _ = writeln!(
                md,
                "| {} | {} {} | {} ({}) | {} {} | {} | {} | {} | {} | {} | {:.0} |",
                p.name,
                p.compare.widths.compact(),
                p.compare.activation,
                label,
                r.run.spec.model.init,
                t.optimizer,
                t.learning_rate,
                t.epochs,
                t.train_limit
                    .map(|n| n.to_string())
                    .unwrap_or("60000".into()),
                r.status_text(),
                final_err,
                best,
                r.seconds
            );
        }
    }
    let _ = writeln!(
        md,
        "\nTotal training time: {:.0} s (runs read from the cache count their original time).",
        total
    );
    if config.seeds.len() > 1 {
        let _ = writeln!(
            md,
            "\n## Over {} seeds\n\nMean ± sd of the final test error, its 95 % Student-t interval, and Welch's \
             t-test against the part's first init (bold: p < {}).\n",
            config.seeds.len(),
            compare::MARK_P
        );
        for (p, runs) in parts {
            let _ = writeln!(md, "### {}\n", p.name);
            let st = compare::init_stats(&p.compare.inits, None, runs);
            md.push_str(&compare::stats_table(&st, |i| label_of(p, i)));
            md.push('\n');
        }
    }
    md
}
