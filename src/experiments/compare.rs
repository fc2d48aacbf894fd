//! `initlab compare`: one architecture trained under several initializations, drawn as the
//! seed's figure (test error per epoch, one line per init) with a summary table. A planner: it
//! describes one [`RunSpec`] per init, the [executor](crate::engine::executor) runs, caches and
//! resumes them (`<out>/runs/<init>-<hash>/`), and the summary is drawn from the results.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};

use crate::base::data::mnist::Mnist;
use crate::base::nn::{
    model::{BiasInit, MlpSpec, Widths},
    scheme::{Activation, InitScheme},
};
use crate::base::output::io;
use crate::base::output::stats;
use crate::base::output::table::{markdown_text, Cell, Table};
use crate::base::train::chart::seeds_chart;
use crate::base::train::TrainConfig;
use crate::engine::executor::{Executor, PlanOutcome, PlannedRun, RunEvent, RunResult};
use crate::engine::rundir::RunStatus;
use crate::engine::spec::{InitSource, RunSpec};
use crate::experiments::report_html::{self, Block, Report};

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
    /// Output directory: `compare.png`/`.svg`, `summary.md`/`.csv`, `report.html`,
    /// `runs/<init>-<hash>/`.
    pub out_dir: PathBuf,
    /// Chart title (default: the architecture and optimizer).
    pub title: Option<String>,
    /// The seeds: every (init, seed) is one run (default: the training settings' seed alone).
    pub seeds: Vec<i64>,
    /// The init the others are tested against (default: the first).
    pub baseline: Option<InitScheme>,
    /// The biases of every run (default: `torch.nn.Linear`'s, as in the lab).
    pub bias: BiasInit,
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
            seeds: vec![TrainConfig::default().seed],
            baseline: None,
            bias: BiasInit::default(),
        }
    }
}

/// What a comparison produced.
#[derive(Debug, Clone)]
pub struct CompareResult {
    /// The runs, in the order of the inits (up to an interrupted one).
    pub outcome: PlanOutcome,
    /// `compare.png`; `None` when a run was interrupted or no run finished an epoch (the summary
    /// says so instead of drawing empty axes).
    pub chart: Option<PathBuf>,
    /// `summary.md`.
    pub summary: PathBuf,
    /// `report.html`, beside it.
    pub html: PathBuf,
}

/// The comparison's runs: one spec per (init, seed), init by init, each in
/// `<out>/runs/<init>-seed<seed>-<hash>`.
pub fn plan(config: &CompareConfig, data: &Mnist) -> Result<Vec<PlannedRun>> {
    ensure!(!config.inits.is_empty(), "no init schemes to compare");
    ensure!(!config.seeds.is_empty(), "no seeds to run");
    for (i, a) in config.inits.iter().enumerate() {
        ensure!(
            !config.inits[..i].contains(a),
            "the init {a} is listed twice (aliases included): the two runs would be identical"
        );
    }
    for (i, a) in config.seeds.iter().enumerate() {
        ensure!(
            !config.seeds[..i].contains(a),
            "the seed {a} is listed twice"
        );
    }
    if let Some(b) = config.baseline {
        ensure!(
            config.inits.contains(&b),
            "the baseline {b} is not one of the compared inits"
        );
    }
    let several = config.seeds.len() > 1;
    let mut plan = Vec::new();
    for &init in &config.inits {
        for &seed in &config.seeds {
            let spec = RunSpec {
                model: MlpSpec {
                    bias: if config.bias.conflicts_with(init) {
                        // Mean-field and DBN set their own biases; the others get the choice.
                        BiasInit::TorchDefault
                    } else {
                        config.bias
                    },
                    widths: config.widths.clone(),
                    activation: config.activation,
                    init,
                },
                source: config.source.for_scheme(init),
                train: TrainConfig {
                    seed,
                    ..config.train.clone()
                },
                data: data.identity.clone(),
            };
            plan.push(PlannedRun {
                name: if several {
                    format!("{init} seed {seed}")
                } else {
                    init.to_string()
                },
                dir: config
                    .out_dir
                    .join("runs")
                    .join(format!("{init}-seed{seed}-{}", spec.hash())),
                spec,
            });
        }
    }
    Ok(plan)
}

/// Runs `plan` (through `executor`) and summarises the comparison; `plan` is the one
/// [`plan`] made of `config` (the caller builds it once: to choose `--jobs`, print it, or run it).
pub fn run_compare(
    config: &CompareConfig,
    plan: &[PlannedRun],
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<CompareResult> {
    executor.check(plan)?;
    std::fs::create_dir_all(&config.out_dir).map_err(|e| {
        anyhow::anyhow!(
            "creating output directory {}: {e}",
            config.out_dir.display()
        )
    })?;
    let outcome = executor.run(plan, observer)?;
    let mut chart = None;
    let summary = config.out_dir.join("summary.md");
    let html = config.out_dir.join(report_html::REPORT_FILE);
    if !outcome.interrupted {
        let title = config
            .title
            .clone()
            .unwrap_or_else(|| default_title(config));
        let groups = crate::experiments::seeds::seed_groups(&outcome.results, |r| {
            r.run.spec.model.init.to_string()
        });
        if outcome.results.iter().any(|r| !r.history.epochs.is_empty()) {
            let png = config.out_dir.join("compare.png");
            seeds_chart(&groups, &title, &png)?;
            seeds_chart(&groups, &title, &config.out_dir.join("compare.svg"))?;
            chart = Some(png);
        } else {
            // An old chart would belong to other runs.
            for old in ["compare.png", "compare.svg"] {
                let _ = std::fs::remove_file(config.out_dir.join(old));
            }
        }
        io::write_atomic(
            &summary,
            summary_markdown(config, &outcome.results).as_bytes(),
        )?;
        io::write_atomic(
            &config.out_dir.join("summary.csv"),
            summary_csv(&outcome.results).as_bytes(),
        )?;
        report_html::write(&html_report(config, &outcome.results), &html)?;
    }
    Ok(CompareResult {
        outcome,
        chart,
        summary,
        html,
    })
}

fn default_title(config: &CompareConfig) -> String {
    format!(
        "{} {}, {} lr {}{}",
        config.widths.label(),
        config.activation,
        config.train.optimizer,
        config.train.learning_rate,
        schedule_note(&config.train)
    )
}

/// Per-init statistics over seeds: final and best test error of the runs that finished.
#[derive(Debug, Clone)]
pub struct InitStats {
    /// The init.
    pub init: InitScheme,
    /// Runs planned (one per seed).
    pub runs: usize,
    /// Runs that diverged.
    pub diverged: usize,
    /// Final test error % over the runs with a last epoch.
    pub final_error: stats::Summary,
    /// Best test error % over the same runs (chosen on the test set: optimistic).
    pub best_error: stats::Summary,
    /// Mean final train cost.
    pub final_cost: f64,
    /// Welch's test of the final test error against the baseline (`None` for the baseline itself
    /// or with fewer than two finished seeds on either side).
    pub vs_baseline: Option<stats::Welch>,
    /// Wall-clock seconds of all its runs.
    pub seconds: f64,
}

/// The significance level marked in the tables (Glorot & Bengio mark their Table 1 the same way).
pub const MARK_P: f64 = 0.005;

/// Statistics per init, in the order of `inits`, tested against `baseline` (default: the first).
pub fn init_stats(
    inits: &[InitScheme],
    baseline: Option<InitScheme>,
    runs: &[RunResult],
) -> Vec<InitStats> {
    let finals = |init: InitScheme| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.run.spec.model.init == init && r.status != RunStatus::Diverged)
            .filter_map(|r| r.history.last().map(|e| e.test_error_percent()))
            .collect()
    };
    let base = baseline.or(inits.first().copied());
    let base_finals = base.map(finals).unwrap_or_default();
    inits
        .iter()
        .map(|&init| {
            let mine: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.run.spec.model.init == init)
                .collect();
            let finished: Vec<&&RunResult> = mine
                .iter()
                .filter(|r| r.status != RunStatus::Diverged && r.history.last().is_some())
                .collect();
            let f = finals(init);
            let bests: Vec<f64> = finished
                .iter()
                .filter_map(|r| r.best().map(|b| b.1))
                .collect();
            let costs: Vec<f64> = finished
                .iter()
                .filter_map(|r| r.history.last().map(|e| e.train_cost))
                .collect();
            InitStats {
                init,
                runs: mine.len(),
                diverged: mine
                    .iter()
                    .filter(|r| r.status == RunStatus::Diverged)
                    .count(),
                final_error: stats::summarize(&f),
                best_error: stats::summarize(&bests),
                final_cost: stats::summarize(&costs).mean,
                vs_baseline: if Some(init) == base {
                    None
                } else {
                    stats::welch(&f, &base_finals)
                },
                seconds: mine.iter().map(|r| r.seconds).sum(),
            }
        })
        .collect()
}

/// A p-value for tables: three decimals from 0.001 up (`0.004`, `0.028`, `0.512`), scientific
/// with two significant digits below (`3.9e-5`).
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// `mean ± sd` with two decimals (the mean alone for one value, `—` for none).
pub fn mean_sd(s: &stats::Summary) -> String {
    match s.n {
        0 => "—".into(),
        1 => format!("{:.2}", s.mean),
        _ => format!("{:.2} ± {:.2}", s.mean, s.sd),
    }
}

/// The 95 % interval of the mean as `[low, high]` (`—` without one).
pub fn interval(s: &stats::Summary) -> String {
    if s.ci95.is_finite() {
        format!("[{:.2}, {:.2}]", s.mean - s.ci95, s.mean + s.ci95)
    } else {
        "—".into()
    }
}

/// The statistics table as markdown rows (shared with the studies).
pub fn stats_table(stats: &[InitStats], label: impl Fn(InitScheme) -> String) -> String {
    stats_rows(stats, label).markdown()
}

/// The statistics table: per init its runs, final test error (mean ± sd, 95 % interval), best
/// test error, Welch's p against the baseline (bold below [`MARK_P`]), final train cost and
/// seconds. The Markdown summaries and `report.html` are both written from it.
pub fn stats_rows(stats: &[InitStats], label: impl Fn(InitScheme) -> String) -> Table {
    let mut table = Table::new(&[
        ("init", false),
        ("runs", true),
        ("final test error % (mean ± sd)", true),
        ("95 % interval", true),
        ("best test error % (mean ± sd)", true),
        ("p vs baseline", true),
        ("final train cost", true),
        ("seconds", true),
    ]);
    for st in stats {
        let runs = if st.diverged > 0 {
            format!("{} ({} diverged)", st.runs, st.diverged)
        } else {
            st.runs.to_string()
        };
        let p = match st.vs_baseline {
            Some(w) if w.p < MARK_P => Cell::strong(fmt_p(w.p)),
            Some(w) => fmt_p(w.p).into(),
            None => "—".into(),
        };
        let cost = if st.final_cost.is_finite() {
            format!("{:.6}", st.final_cost)
        } else {
            "—".into()
        };
        table.push(vec![
            label(st.init).into(),
            runs.into(),
            mean_sd(&st.final_error).into(),
            interval(&st.final_error).into(),
            mean_sd(&st.best_error).into(),
            p,
            cost.into(),
            format!("{:.1}", st.seconds).into(),
        ]);
    }
    table
}

/// Each run's row: name (linked to its directory, relative to `base`, in HTML), status,
/// first-batch loss, final and best test error, final train cost, seconds.
pub fn runs_rows(base: &Path, runs: &[RunResult]) -> Table {
    let mut table = Table::new(&[
        ("run", false),
        ("status", false),
        ("first-batch loss", true),
        ("final test error %", true),
        ("best test error % (epoch)", true),
        ("final train cost", true),
        ("seconds", true),
    ]);
    for r in runs {
        let last = r.history.last();
        table.push(vec![
            Cell::link(
                r.run.name.clone(),
                report_html::relative_path(base, &r.run.dir),
            ),
            r.status_text().into(),
            r.history
                .first_batch_loss
                .map(|l| format!("{l:.3}"))
                .unwrap_or("—".into())
                .into(),
            last.map(|e| format!("{:.2}", e.test_error_percent()))
                .unwrap_or("—".into())
                .into(),
            r.best()
                .map(|(ep, err)| format!("{err:.2} ({ep})"))
                .unwrap_or("—".into())
                .into(),
            last.map(|e| format!("{:.6}", e.train_cost))
                .unwrap_or("—".into())
                .into(),
            format!("{:.1}", r.seconds).into(),
        ]);
    }
    table
}

/// The summary as markdown: settings, the statistics table over seeds, each run's status.
pub fn summary_markdown(config: &CompareConfig, runs: &[RunResult]) -> String {
    let mut md = String::new();
    let title = config
        .title
        .clone()
        .unwrap_or_else(|| default_title(config));
    let _ = writeln!(md, "# {}\n", markdown_text(&title));
    let _ = writeln!(md, "{}\n", settings_line(config));
    let st = init_stats(&config.inits, config.baseline, runs);
    md.push_str(&stats_table(&st, |i| i.to_string()));
    for note in notes(config) {
        let _ = writeln!(md, "\n{note}");
    }
    md.push('\n');
    md.push_str(&runs_rows(&config.out_dir, runs).markdown());
    if runs.iter().any(|r| !r.history.epochs.is_empty()) {
        let _ = writeln!(md, "\n![test error and train cost per epoch](compare.png)");
    } else {
        let _ = writeln!(md, "\n{NO_CHART}");
    }
    md
}

/// Said instead of a chart when no run finished an epoch.
const NO_CHART: &str =
    "No chart: every run stopped before its first epoch ended, so there is no epoch to draw.";

/// `Model … (relu), 2 epochs, batch 100, adam lr 0.001, seeds 777, 778, first 1000 training images.`
fn settings_line(config: &CompareConfig) -> String {
    let t = &config.train;
    let seeds = config
        .seeds
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Model {} ({}), {} epochs, batch {}, {} lr {}{}, seed{} {}{}{}{}.",
        config.widths.compact(),
        config.activation,
        t.epochs,
        t.batch_size,
        t.optimizer,
        t.learning_rate,
        schedule_note(t),
        if config.seeds.len() > 1 { "s" } else { "" },
        seeds,
        t.train_limit
            .map(|n| format!(", first {n} training images"))
            .unwrap_or_default(),
        if t.validation > 0 {
            format!(
                ", the last {} training images held out for validation",
                t.validation
            )
        } else {
            String::new()
        },
        if config.bias == BiasInit::Zeros {
            ", zero biases"
        } else {
            ""
        }
    )
}

/// ` (cosine schedule)` when the learning rate is not constant.
fn schedule_note(t: &TrainConfig) -> String {
    match t.lr_schedule {
        crate::base::train::LrSchedule::Constant => String::new(),
        s => format!(" ({s} schedule)"),
    }
}

/// The paragraphs under the statistics table: how to read it, and when two inits are the same
/// distribution.
fn notes(config: &CompareConfig) -> Vec<String> {
    let mut notes = Vec::new();
    let base = config.baseline.or(config.inits.first().copied());
    if let Some(b) = base {
        notes.push(format!(
            "A net that guesses uniformly over the 10 classes starts at a loss of ln 10 ≈ 2.303 (first-batch loss \
             below); a loss far above it means the init makes confident wrong guesses before any training. \
             The interval is the 95 % Student-t interval of the mean final test error over seeds; p is Welch's \
             t-test of the final test error against {b} (bold: p < {MARK_P}). {} One seed gives no interval \
             and no test.",
            if config.train.validation > 0 {
                format!(
                    "\"Best\" is the test error at the epoch of highest accuracy on the validation split (the last \
                     {} training images, held out from training).",
                    config.train.validation
                )
            } else {
                "\"Best\" is chosen on the test set itself, an optimistic number (`--validation N` holds out a \
                 validation split to choose it honestly)."
                    .to_string()
            }
        ));
    }
    if config.inits.contains(&InitScheme::GlorotStandard)
        && config.inits.contains(&InitScheme::TorchDefault)
    {
        notes.push(
            "`glorot-standard` and `torch-default` draw from the same distribution, U(±1/√fan_in): their runs \
             differ only by their random draws, so their difference is seed noise by construction."
                .to_string(),
        );
    }
    // A Kaiming scheme on a gain-1 activation is LeCun's init: say so.
    notes.extend(InitScheme::lecun_note(&config.inits, config.activation));
    notes
}

/// The comparison's `report.html`: settings, the statistics table, the charts, each run's row
/// and its `run.json` in a collapsible section.
pub fn html_report(config: &CompareConfig, runs: &[RunResult]) -> Report {
    let st = init_stats(&config.inits, config.baseline, runs);
    let mut blocks = vec![
        Block::Text(settings_line(config)),
        Block::Table(stats_rows(&st, |i| i.to_string())),
    ];
    blocks.extend(notes(config).into_iter().map(Block::Text));
    blocks.push(Block::Heading("Per epoch".into()));
    if runs.iter().any(|r| !r.history.epochs.is_empty()) {
        blocks.push(Block::Charts(report_html::run_charts(runs, |r| {
            r.run.spec.model.init.to_string()
        })));
    } else {
        blocks.push(Block::Text(NO_CHART.into()));
    }
    blocks.push(Block::Heading("Runs".into()));
    blocks.push(Block::Table(runs_rows(&config.out_dir, runs)));
    blocks.push(Block::Runs(report_html::run_entries(&config.out_dir, runs)));
    blocks.push(report_html::existing_files(
        &config.out_dir,
        &["summary.md", "summary.csv", "compare.png", "compare.svg"],
    ));
    Report {
        title: config
            .title
            .clone()
            .unwrap_or_else(|| default_title(config)),
        blocks,
    }
}

/// The summary table as CSV.
pub fn summary_csv(runs: &[RunResult]) -> String {
    let mut out = String::from("init,seed,status,diverged_epoch,final_test_error_percent,best_test_error_percent,best_epoch,final_train_cost,seconds,run_dir\n");
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
            "{},{},{},{},{},{},{},{},{:.3},{}",
            r.run.spec.model.init,
            r.run.spec.train.seed,
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
