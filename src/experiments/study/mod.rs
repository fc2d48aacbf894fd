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
//! - [`Study::Meanfield`]: Poole et al. (2016) and Schoenholz et al. (2017) — the order-to-chaos
//!   phase diagram of tanh nets computed ([`crate::base::nn::meanfield`]), then a grid of depth × σ_w²
//!   trained with SGD and its test accuracy drawn under the 6 ξ_c line.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::base::data::Mnist;
use crate::base::nn::meanfield::{self, GaussHermite};
use crate::base::nn::{
    model::{BiasInit, Widths},
    scheme::{Activation, InitScheme, MeanFieldParams},
};
use crate::base::optim::OptimizerKind;
use crate::base::output::io;
use crate::base::output::plot;
use crate::base::train::TrainConfig;
use crate::engine::executor::{Executor, PlannedRun, RunEvent, RunResult};
use crate::engine::spec::InitSource;
use crate::experiments::compare::{self, CompareConfig};
use crate::experiments::report_html::{self, Block, Cell, Report, Table};

/// The presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Study {
    /// Glorot & Bengio 2010: standard vs normalized init for tanh, softsign, sigmoid.
    Glorot,
    /// He et al. 2015: Xavier vs He on 30 and 22 ReLU layers.
    He,
    /// The lab's nets with Adam under five inits.
    Lab,
    /// Mean-field theory beside experiment: the phase diagram, ξ_c, and a depth × σ_w² grid.
    Meanfield,
}

impl Study {
    /// Every study.
    pub const ALL: [Study; 4] = [Study::Glorot, Study::He, Study::Lab, Study::Meanfield];

    /// Its name on the command line and in paths.
    pub fn name(self) -> &'static str {
        match self {
            Study::Glorot => "glorot",
            Study::He => "he",
            Study::Lab => "lab",
            Study::Meanfield => "meanfield",
        }
    }
}

impl std::str::FromStr for Study {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Study::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .with_context(|| format!("unknown study {s:?} (expected glorot, he, lab or meanfield)"))
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
    /// The biases: zeros in the papers' studies (their convention), the lab's default in the lab
    /// study.
    pub bias: BiasInit,
    /// Training images held out to choose the best epoch (10,000 in the papers' studies; none in
    /// the lab study, which keeps the lab's 60,000, and in the mean-field study, one epoch long).
    pub validation: i64,
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
            bias: match study {
                Study::Glorot | Study::He => BiasInit::Zeros,
                Study::Lab | Study::Meanfield => BiasInit::TorchDefault,
            },
            validation: match study {
                Study::Glorot | Study::He => 10_000,
                Study::Lab | Study::Meanfield => 0,
            },
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

/// σ_b² of the mean-field study (Schoenholz et al.'s MNIST heatmap).
pub const MEANFIELD_SIGMA_B2: f64 = 0.05;

/// Test accuracy at or above which a cell of the mean-field grid counts as trained.
pub const MEANFIELD_TRAINED_ACCURACY: f64 = 0.5;

/// The mean-field study's grid: numbers of hidden tanh layers (depths) and σ_w² values.
pub fn meanfield_grid(full: bool) -> (Vec<usize>, Vec<f64>) {
    if full {
        (
            (1..=10).map(|k| 10 * k).collect(),
            (0..=12).map(|k| 1.0 + 0.25 * k as f64).collect(),
        )
    } else {
        (
            vec![2, 4, 8, 16, 32],
            vec![0.5, 1.0, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0],
        )
    }
}

/// The parts of a study with their budgets.
pub fn plan(config: &StudyConfig) -> Vec<StudyPart> {
    let full = config.full;
    let train = |optimizer, learning_rate, epochs: usize, limit: Option<i64>| TrainConfig {
        epochs: config.epochs.unwrap_or(epochs),
        learning_rate,
        optimizer,
        train_limit: config.train_limit.or(limit),
        validation: config.validation,
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
                bias: config.bias,
            },
            name,
            labels,
        }
    };
    match config.study {
        Study::Glorot => {
            let width = config.width.unwrap_or(1000);
            // The paper's mini-batches of 10 with --full; 100 (ten times fewer steps) on the budget.
            let glorot_batch = if full { 10 } else { 100 };
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
                        TrainConfig {
                            batch_size: glorot_batch,
                            ..train(OptimizerKind::Sgd, 0.1, epochs, limit)
                        },
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
        Study::Meanfield => {
            let width = config.width.unwrap_or(if full { 300 } else { 64 });
            // 1 epoch of 15,000 images at batch 100: 150 SGD steps per net (5 epochs of 60,000
            // when --full).
            let (epochs, limit) = if full { (5, None) } else { (1, Some(15_000)) };
            let (depths, sigmas) = meanfield_grid(full);
            depths
                .into_iter()
                .map(|depth| {
                    let labels = sigmas
                        .iter()
                        .filter_map(|&w| {
                            let p = MeanFieldParams::new(w, MEANFIELD_SIGMA_B2).ok()?;
                            Some((InitScheme::MeanField(p), format!("depth {depth} σ_w² {w}")))
                        })
                        .collect();
                    part(
                        format!("depth{depth}"),
                        hidden(depth, width),
                        Activation::Tanh,
                        labels,
                        train(OptimizerKind::Sgd, 0.01, epochs, limit),
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
    /// `report.html`, beside it.
    pub html: PathBuf,
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
    let html = config.out_dir.join(report_html::REPORT_FILE);
    if !outcome.interrupted && config.study == Study::Meanfield {
        let (md, tables) = meanfield_outputs(config, &parts)?;
        io::write_atomic(&summary, md.as_bytes())?;
        report_html::write(&html_report(config, &parts, Some(&tables)), &html)?;
    } else if !outcome.interrupted {
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
        report_html::write(&html_report(config, &parts, None), &html)?;
    }
    Ok(StudyResult {
        parts,
        interrupted: outcome.interrupted,
        chart,
        summary,
        html,
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
        Study::Meanfield => format!(
            "Mean-field theory beside experiment: tanh nets, σ_b² = {MEANFIELD_SIGMA_B2}, SGD"
        ),
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
    let _ = writeln!(md, "{}\n", deviations(config));
    let _ = writeln!(
        md,
        "![{}]({}.png)\n",
        config.study.name(),
        config.study.name()
    );
    md.push_str(&runs_table(config, parts).markdown());
    let total: f64 = parts.iter().flat_map(|(_, rs)| rs).map(|r| r.seconds).sum();
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

/// Every run of the study in one table: part, model, run (linked to its directory in HTML),
/// optimizer, epochs, training images, status, final and best test error, seconds.
pub fn runs_table(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> Table {
    let best_header = format!(
        "best test error % (epoch; {})",
        crate::base::train::Best::chosen_on(config.validation > 0)
    );
    let mut table = Table::new(&[
        ("part", false),
        ("model", false),
        ("run", false),
        ("optimizer, lr", false),
        ("epochs", true),
        ("training images", true),
        ("status", false),
        ("final test error %", true),
        (best_header.as_str(), true),
        ("seconds", true),
    ]);
    for (p, runs) in parts {
        let t = &p.compare.train;
        for r in runs {
            let label = if config.seeds.len() > 1 {
                format!(
                    "{}, seed {}",
                    label_of(p, r.run.spec.model.init),
                    r.run.spec.train.seed
                )
            } else {
                label_of(p, r.run.spec.model.init)
            };
            let final_err = r
                .history
                .last()
                .map(|e| format!("{:.2}", e.test_error_percent()))
                .unwrap_or("—".into());
            let best = r
                .best()
                .map(|(ep, e)| format!("{e:.2} ({ep})"))
                .unwrap_or("—".into());
            table.push(vec![
                p.name.clone().into(),
                format!("{} {}", p.compare.widths.compact(), p.compare.activation).into(),
                Cell::link(
                    format!("{} ({})", label, r.run.spec.model.init),
                    report_html::relative_path(&config.out_dir, &r.run.dir),
                ),
                format!("{} {}", t.optimizer, t.learning_rate).into(),
                t.epochs.to_string().into(),
                t.train_limit
                    .map(|n| n.to_string())
                    .unwrap_or(format!("{}", 60_000 - t.validation))
                    .into(),
                r.status_text().into(),
                final_err.into(),
                best.into(),
                format!("{:.0}", r.seconds).into(),
            ]);
        }
    }
    table
}

/// The study's `report.html`: the budget and deviations, per part its charts (and statistics
/// over seeds), every run's row, the mean-field study's theory and grid tables and pictures,
/// and each run's `run.json` in a collapsible section.
pub fn html_report(
    config: &StudyConfig,
    parts: &[(StudyPart, Vec<RunResult>)],
    meanfield: Option<&MeanfieldTables>,
) -> Report {
    let mut blocks = vec![
        Block::Text(format!(
            "Command: `initlab study {}{}`.",
            config.study.name(),
            if config.full { " --full" } else { "" }
        )),
        Block::Text(deviations(config)),
    ];
    if let Some(mf) = meanfield {
        blocks.push(Block::Text(mf.critical.clone()));
        blocks.push(Block::Table(mf.theory.clone()));
        for (file, alt) in [
            ("phase.png", "order-to-chaos phase diagram"),
            ("xi.png", "depth scales"),
        ] {
            if config.out_dir.join(file).is_file() {
                blocks.push(Block::Image {
                    path: PathBuf::from(file),
                    alt: alt.into(),
                });
            }
        }
        blocks.push(Block::Heading("Trained grid (test accuracy %)".into()));
        blocks.push(Block::Table(mf.grid.clone()));
        if config.out_dir.join("meanfield.png").is_file() {
            blocks.push(Block::Image {
                path: PathBuf::from("meanfield.png"),
                alt: "test accuracy with 6 ξ_c".into(),
            });
        }
        blocks.push(Block::Text(mf.bound.clone()));
    }
    for (p, runs) in parts {
        blocks.push(Block::Heading(format!(
            "{}: {} {}, {} {}",
            p.name,
            p.compare.widths.compact(),
            p.compare.activation,
            p.compare.train.optimizer,
            p.compare.train.learning_rate
        )));
        if config.seeds.len() > 1 {
            let st = compare::init_stats(&p.compare.inits, None, runs);
            blocks.push(Block::Table(compare::stats_rows(&st, |i| label_of(p, i))));
        }
        if runs.iter().any(|r| !r.history.epochs.is_empty()) {
            blocks.push(Block::Charts(report_html::run_charts(runs, |r| {
                label_of(p, r.run.spec.model.init)
            })));
        }
    }
    if config.seeds.len() > 1 {
        blocks.push(Block::Text(format!(
            "Mean ± sd of the final test error over {} seeds, its 95 % Student-t interval, and Welch's t-test \
             against the part's first init (bold: p < {}).",
            config.seeds.len(),
            compare::MARK_P
        )));
    }
    blocks.push(Block::Heading("Runs".into()));
    blocks.push(Block::Table(runs_table(config, parts)));
    let all: Vec<RunResult> = parts
        .iter()
        .flat_map(|(_, rs)| rs.iter().cloned())
        .collect();
    blocks.push(Block::Runs(report_html::run_entries(&config.out_dir, &all)));
    let chart_png = format!("{}.png", config.study.name());
    let chart_svg = format!("{}.svg", config.study.name());
    blocks.push(report_html::existing_files(
        &config.out_dir,
        &["summary.md", &chart_png, &chart_svg],
    ));
    Report {
        title: study_title(config),
        blocks,
    }
}

/// The mean-field study's tables and findings, shared by `summary.md` and `report.html`.
#[derive(Debug, Clone)]
pub struct MeanfieldTables {
    /// The critical point in a sentence.
    pub critical: String,
    /// q*, χ₁, c*, ξ_q, ξ_c and 6 ξ_c per σ_w².
    pub theory: Table,
    /// Test accuracy % by depth (rows) and σ_w² (columns).
    pub grid: Table,
    /// How well 6 ξ_c separates the cells that trained from those that did not.
    pub bound: String,
}

/// What this run of the study does differently from the paper it reproduces, in one paragraph.
pub fn deviations(config: &StudyConfig) -> String {
    let bias = match config.bias {
        BiasInit::Zeros => "zero biases, as the paper".to_string(),
        BiasInit::TorchDefault => "torch.nn.Linear's default biases U(±1/√fan_in)".to_string(),
    };
    let validation = if config.validation > 0 {
        format!(
            "the best epoch is chosen on the last {} training images, held out from training",
            config.validation
        )
    } else {
        "the best epoch is chosen on the test set (optimistic)".to_string()
    };
    let budget = if config.full {
        "all training images but the validation split".to_string()
    } else {
        "a subset of the training images and a few epochs (see the table)".to_string()
    };
    match config.study {
        Study::Glorot => format!(
            "Deviations from Glorot & Bengio (2010), Table 1: {budget}; mini-batches of {} (the paper: 10); one \
             learning rate, 0.1, for every net (the paper tuned it per net on validation data); {bias}; {validation}. \
             The paper's test errors (MNIST): tanh 1.76 %, tanh N 1.64 %, softsign 1.64 %, softsign N 1.72 %, \
             sigmoid 2.21 % — for softsign the normalized init did *not* help there. `glorot-standard` and \
             `torch-default` draw from the same distribution, U(±1/√fan_in); only their draws differ.",
            if config.full { 10 } else { 100 }
        ),
        Study::He => format!(
            "Deviations from He et al. (2015), Fig. 3: the paper trained 22- and 30-layer convolutional nets on \
             ImageNet; here fully connected ReLU nets of the same depths learn MNIST with SGD (batch 100), {budget}; \
             {bias}; {validation}. What carries over is the question the figure answers: does the signal survive \
             30 ReLU layers under each init."
        ),
        Study::Lab => format!(
            "The lab's own nets and settings (Adam lr 0.001, batch 100, 15 epochs, all 60,000 images): no paper to \
             deviate from; {bias}; {validation}. `torch-default` and `glorot-standard` would draw from the same \
             distribution, U(±1/√fan_in)."
        ),
        Study::Meanfield => format!(
            "Deviations from Schoenholz et al. (2017), Fig. 6: {budget}, narrower nets and at most 32 layers on the \
             2-core budget (`--full`: depths 10–100, width 300); biases N(0, σ_b²) as in the paper; {validation}."
        ),
    }
}

/// The theory's charts (`phase.png`, `xi.png`), the accuracy heatmap with 6 ξ_c
/// (`meanfield.png`), and the summary's markdown with the tables it was written from.
fn meanfield_outputs(
    config: &StudyConfig,
    parts: &[(StudyPart, Vec<RunResult>)],
) -> Result<(String, MeanfieldTables)> {
    let gh = GaussHermite::default_rule();
    let sb2 = MEANFIELD_SIGMA_B2;
    let critical = meanfield::critical_sigma_w2(&gh, sb2)?;
    let out = &config.out_dir;

    // Phase diagram: χ₁ over σ_w² ∈ [0.5, 4], σ_b² ∈ [0, 0.3], and the line χ₁ = 1.
    let (nx, ny) = (70, 30);
    let xs: Vec<f64> = (0..nx)
        .map(|i| 0.5 + 3.5 * (i as f64 + 0.5) / nx as f64)
        .collect();
    let ys: Vec<f64> = (0..ny)
        .map(|j| 0.3 * (j as f64 + 0.5) / ny as f64)
        .collect();
    let mut chi = Vec::with_capacity(ny);
    for &b in &ys {
        let row: Vec<f64> = xs
            .iter()
            .map(|&w| meanfield::chi1(&gh, w, b))
            .collect::<Result<_>>()?;
        chi.push(row);
    }
    // Denser near σ_b² = 0, where the line is nearly flat: σ_b² = 0.3 (k/40)².
    let mut line = Vec::new();
    for k in 0..=40 {
        let b = 0.3 * (k as f64 / 40.0).powi(2);
        line.push((meanfield::critical_sigma_w2(&gh, b)?, b));
    }
    let phase = plot::Heatmap {
        title: "Order-to-chaos phase diagram of tanh nets: χ₁ = σ_w² E[tanh′(√q* z)²]".into(),
        x_desc: "σ_w²".into(),
        y_desc: "σ_b²".into(),
        value_desc: "χ₁".into(),
        x_edges: (0..=nx).map(|i| 0.5 + 3.5 * i as f64 / nx as f64).collect(),
        y_edges: (0..=ny).map(|j| 0.3 * j as f64 / ny as f64).collect(),
        values: chi,
        range: (0.0, 2.0),
        annotate: None,
        lines: vec![plot::Series {
            band: Vec::new(),
            label: "χ₁ = 1 (ordered left, chaotic right)".into(),
            points: line,
        }],
    };
    plot::heatmap_chart(&phase, &out.join("phase.png"))?;

    // ξ_c and ξ_q against σ_w² at σ_b² = 0.05.
    let sweep: Vec<meanfield::Propagation> = (0..=100)
        .map(|i| meanfield::propagation(&gh, 0.5 + 3.5 * i as f64 / 100.0, sb2))
        .collect::<Result<_>>()?;
    let xi = plot::CurveChart {
        title: format!("Depth scales at σ_b² = {sb2}: ξ_c diverges at the critical σ_w²"),
        x_desc: "σ_w²".into(),
        y_desc: "depth scale (layers, log scale)".into(),
        series: vec![
            plot::Series {
                band: Vec::new(),
                label: "ξ_c (correlations)".into(),
                points: sweep.iter().map(|p| (p.sigma_w2, p.xi_c)).collect(),
            },
            plot::Series {
                band: Vec::new(),
                label: "ξ_q (lengths)".into(),
                points: sweep.iter().map(|p| (p.sigma_w2, p.xi_q)).collect(),
            },
        ],
        markers: vec![(critical, format!("critical σ_w² = {critical:.3}"))],
    };
    plot::curve_chart(&xi, &out.join("xi.png"))?;

    // The trained grid: rows by depth, columns by σ_w².
    let (_, sigmas) = meanfield_grid(config.full);
    let depths: Vec<usize> = parts
        .iter()
        .map(|(p, _)| p.compare.widths.0.len() - 2)
        .collect();
    let accuracy = |r: &RunResult| match r.status {
        crate::engine::rundir::RunStatus::Diverged => f64::NAN,
        _ => r
            .history
            .last()
            .map(|e| e.test_accuracy)
            .unwrap_or(f64::NAN),
    };
    let mut values = Vec::new();
    for (_, runs) in parts {
        let row: Vec<f64> = sigmas
            .iter()
            .map(|&w| {
                runs.iter()
                    .find(|r| match r.run.spec.model.init {
                        InitScheme::MeanField(m) => (m.sigma_w2() - w).abs() < 1e-9,
                        _ => false,
                    })
                    .map(accuracy)
                    .unwrap_or(f64::NAN)
            })
            .collect();
        values.push(row);
    }
    let depth_f: Vec<f64> = depths.iter().map(|&d| d as f64).collect();
    let x_edges = plot::edges_around(&sigmas);
    let y_edges = plot::edges_around(&depth_f);
    let bound_line: Vec<(f64, f64)> = (0..=120)
        .map(|i| {
            let w = x_edges[0] + (x_edges[x_edges.len() - 1] - x_edges[0]) * i as f64 / 120.0;
            meanfield::propagation(&gh, w, sb2).map(|p| (w, 6.0 * p.xi_c))
        })
        .collect::<Result<_>>()?;
    let train = &parts
        .first()
        .map(|(p, _)| p.compare.train.clone())
        .unwrap_or_default();
    let width = parts
        .first()
        .map(|(p, _)| p.compare.widths.0[1])
        .unwrap_or_default();
    let images = train.train_limit.unwrap_or(60_000);
    let steps = train.epochs as i64 * (images / train.batch_size);
    let heat = plot::Heatmap {
        title: format!(
            "Test accuracy of tanh nets, width {width}, {steps} SGD steps (lr {}), σ_b² = {sb2}",
            train.learning_rate
        ),
        x_desc: "σ_w²".into(),
        y_desc: "depth (hidden layers)".into(),
        value_desc: "test accuracy".into(),
        x_edges,
        y_edges,
        values: values.clone(),
        range: (0.1, 1.0),
        annotate: Some((100.0, 0)),
        lines: vec![plot::Series {
            band: Vec::new(),
            label: "6 ξ_c (Schoenholz et al. 2017)".into(),
            points: bound_line,
        }],
    };
    plot::heatmap_chart(&heat, &out.join("meanfield.png"))?;
    plot::heatmap_chart(&heat, &out.join("meanfield.svg"))?;

    // How well 6 ξ_c separates the cells that trained from those that did not.
    let six_xi: Vec<f64> = sigmas
        .iter()
        .map(|&w| meanfield::propagation(&gh, w, sb2).map(|p| 6.0 * p.xi_c))
        .collect::<Result<_>>()?;
    let (mut below, mut below_ok, mut above, mut above_ok) = (0, 0, 0, 0);
    for (d, row) in depths.iter().zip(&values) {
        for (acc, bound) in row.iter().zip(&six_xi) {
            let trained = *acc >= MEANFIELD_TRAINED_ACCURACY;
            if (*d as f64) <= *bound {
                below += 1;
                below_ok += usize::from(trained);
            } else {
                above += 1;
                above_ok += usize::from(trained);
            }
        }
    }

    let critical_line = format!(
        "**Critical point:** at σ_b² = {sb2}, χ₁ = 1 at **σ_w² = {critical:.4}** (ordered below, \
         chaotic above)."
    );
    let mut theory = Table::new(&[
        ("σ_w²", true),
        ("q*", true),
        ("χ₁", true),
        ("c*", true),
        ("ξ_q", true),
        ("ξ_c", true),
        ("6 ξ_c", true),
    ]);
    for &w in &sigmas {
        let p = meanfield::propagation(&gh, w, sb2)?;
        theory.push(vec![
            w.to_string().into(),
            format!("{:.4}", p.q_star).into(),
            format!("{:.4}", p.chi1).into(),
            format!("{:.4}", p.c_star).into(),
            format!("{:.2}", p.xi_q).into(),
            format!("{:.2}", p.xi_c).into(),
            format!("{:.1}", 6.0 * p.xi_c).into(),
        ]);
    }
    let grid_headers: Vec<String> = std::iter::once("depth".to_string())
        .chain(sigmas.iter().map(|w| format!("σ_w² {w}")))
        .collect();
    let grid_columns: Vec<(&str, bool)> = grid_headers.iter().map(|h| (h.as_str(), true)).collect();
    let mut grid = Table::new(&grid_columns);
    for (d, row) in depths.iter().zip(&values) {
        let mut cells: Vec<Cell> = vec![d.to_string().into()];
        for a in row {
            cells.push(if a.is_finite() {
                format!("{:.1}", 100.0 * a).into()
            } else {
                "div".into()
            });
        }
        grid.push(cells);
    }
    let pct = |a: usize, n: usize| {
        if n == 0 {
            "—".to_string()
        } else {
            format!("{:.0} %", 100.0 * a as f64 / n as f64)
        }
    };
    let bound = format!(
        "**How well 6 ξ_c bounds the trainable region** \
         (trained = test accuracy ≥ {:.0} %): of the {below} cells with depth ≤ 6 ξ_c, \
         {below_ok} trained ({}); of the {above} cells above the line, {above_ok} trained ({}).",
        100.0 * MEANFIELD_TRAINED_ACCURACY,
        pct(below_ok, below),
        pct(above_ok, above)
    );
    let tables = MeanfieldTables {
        critical: critical_line,
        theory,
        grid,
        bound,
    };

    let mut md = format!("# {}\n\n", study_title(config));
    let _ = writeln!(
        md,
        "Command: `initlab study meanfield{}`. Poole et al. (2016), Schoenholz et al. (2017): \
         weights N(0, σ_w²/fan_in), biases N(0, σ_b²), tanh. Theory by Gauss–Hermite quadrature \
         with {} nodes.\n",
        if config.full { " --full" } else { "" },
        gh.len()
    );
    let _ = writeln!(md, "{}\n", tables.critical);
    let _ = writeln!(
        md,
        "![phase diagram](phase.png)\n\n![depth scales](xi.png)\n"
    );
    md.push_str(&tables.theory.markdown());
    let _ = writeln!(
        md,
        "\n## Trained grid\n\nWidth {width}, {} epoch(s) of {images} training images at batch {} \
         ({steps} SGD steps, lr {}), seed {}. Test accuracy (%), rows by depth (hidden tanh \
         layers), columns by σ_w²; `div` = diverged.\n",
        train.epochs, train.batch_size, train.learning_rate, train.seed
    );
    md.push_str(&tables.grid.markdown());
    let _ = writeln!(
        md,
        "\n![accuracy with 6 ξ_c](meanfield.png)\n\n{}",
        tables.bound
    );
    let total: f64 = parts.iter().flat_map(|(_, rs)| rs).map(|r| r.seconds).sum();
    let _ = writeln!(
        md,
        "\nTotal training time: {total:.0} s (runs read from the cache count their original time)."
    );
    Ok((md, tables))
}
