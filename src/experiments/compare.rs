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
use crate::base::train::{TrainConfig, HELD_OUT};
use crate::engine::executor::{Executor, PlanOutcome, PlannedRun, RunEvent, RunResult};
use crate::engine::rundir::RunStatus;
use crate::engine::spec::{InitSource, RunSpec};
use crate::experiments::machines::Machines;
use crate::experiments::report_html::{self, Block, Report};

/// Settings of a comparison. `Default`: the lab's shallow net under N(0,1), torch's default,
/// Xavier and He, with the lab's training settings but the last [`HELD_OUT`] training images held
/// out, since its summary chooses a best epoch.
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
            train: TrainConfig {
                validation: HELD_OUT,
                ..TrainConfig::default()
            },
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

/// The test error % of a uniform guess over MNIST's 10 classes, `100 · (1 − 1/10)` = 90: what a
/// diverged run counts with in the statistics over seeds.
pub const CHANCE_ERROR_PERCENT: f64 = 90.0;

/// The final test error % a run counts with in the statistics over seeds, so that no run is
/// silently dropped: its last epoch's when it ended (complete or unstable — the at-chance kind
/// included, whose measured error is already near chance); [`CHANCE_ERROR_PERCENT`] when it
/// diverged (its last finite epoch is not where it ended); none when it has not ended (running,
/// interrupted, failed) or has no epoch.
pub fn counted_final(r: &RunResult) -> Option<f64> {
    match r.status {
        RunStatus::Diverged => Some(CHANCE_ERROR_PERCENT),
        RunStatus::Complete | RunStatus::Unstable => {
            r.history.last().map(|e| e.test_error_percent())
        }
        RunStatus::Running | RunStatus::Interrupted | RunStatus::Failed => None,
    }
}

/// The best-epoch test error % a run counts with, by the rule of [`counted_final`]: a diverged
/// run at [`CHANCE_ERROR_PERCENT`], an ended one at its best epoch ([`RunResult::best`]).
pub fn counted_best(r: &RunResult) -> Option<f64> {
    match r.status {
        RunStatus::Diverged => Some(CHANCE_ERROR_PERCENT),
        RunStatus::Complete | RunStatus::Unstable => r.best().map(|b| b.1),
        RunStatus::Running | RunStatus::Interrupted | RunStatus::Failed => None,
    }
}

/// Per-init statistics over seeds, every ended run counted ([`counted_final`]: a diverged run at
/// chance-level error).
#[derive(Debug, Clone)]
pub struct InitStats {
    /// The init.
    pub init: InitScheme,
    /// Its runs (one per seed).
    pub runs: usize,
    /// Runs that diverged, counted at [`CHANCE_ERROR_PERCENT`].
    pub diverged: usize,
    /// Runs that ended unstable (above their first loss, or at chance), counted as measured.
    pub unstable: usize,
    /// Runs that have not ended (running or interrupted): left out, and said so.
    pub not_ended: usize,
    /// Final test error % over the counted runs.
    pub final_error: stats::Summary,
    /// Best test error % over the same runs (chosen on the validation split when there is one,
    /// else on the test set: optimistic).
    pub best_error: stats::Summary,
    /// Mean final train cost over the runs that ended without diverging.
    pub final_cost: f64,
    /// The comparison with the baseline (`None` for the baseline itself, or when either side
    /// has no counted run).
    pub vs_baseline: Option<Comparison>,
    /// Wall-clock seconds of all its runs.
    pub seconds: f64,
}

/// One init against the baseline, on the counted final test errors of both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Mean final test error minus the baseline's, in percentage points.
    pub diff: f64,
    /// Welch's test and the difference's 95 % Welch interval (`None` with fewer than two runs
    /// on a side, or no spread on either).
    pub welch: Option<stats::Welch>,
    /// The permutation test of the same difference (`None` with fewer than two runs on a side).
    pub permutation: Option<stats::Permutation>,
    /// Runs counted: this init's, the baseline's.
    pub sizes: (usize, usize),
}

/// The significance level marked in the tables (Glorot & Bengio mark their Table 1 the same way).
pub const MARK_P: f64 = 0.005;

/// Statistics per init, in the order of `inits`, tested against `baseline` (default: the first).
pub fn init_stats(
    inits: &[InitScheme],
    baseline: Option<InitScheme>,
    runs: &[RunResult],
) -> Vec<InitStats> {
    let base = baseline.or(inits.first().copied());
    let base_finals: Vec<f64> = base
        .map(|b| counted(runs, b, counted_final))
        .unwrap_or_default();
    inits
        .iter()
        .map(|&init| {
            let base_finals = (Some(init) != base).then_some(base_finals.as_slice());
            one_init_stats(init, runs, base_finals)
        })
        .collect()
}

/// The counted values (`rule`: [`counted_final`] or [`counted_best`]) of `init`'s runs.
fn counted(runs: &[RunResult], init: InitScheme, rule: fn(&RunResult) -> Option<f64>) -> Vec<f64> {
    runs.iter()
        .filter(|r| r.run.spec.model.init == init)
        .filter_map(rule)
        .collect()
}

/// One init's [`InitStats`], compared with `base_finals` unless it is the baseline (`None`).
fn one_init_stats(init: InitScheme, runs: &[RunResult], base_finals: Option<&[f64]>) -> InitStats {
    let mine: Vec<&RunResult> = runs
        .iter()
        .filter(|r| r.run.spec.model.init == init)
        .collect();
    let with_status = |s: RunStatus| mine.iter().filter(|r| r.status == s).count();
    let finals = counted(runs, init, counted_final);
    let costs: Vec<f64> = mine
        .iter()
        .filter(|r| matches!(r.status, RunStatus::Complete | RunStatus::Unstable))
        .filter_map(|r| r.history.last().map(|e| e.train_cost))
        .collect();
    InitStats {
        init,
        runs: mine.len(),
        diverged: with_status(RunStatus::Diverged),
        unstable: with_status(RunStatus::Unstable),
        not_ended: mine.iter().filter(|r| !r.status.is_final()).count(),
        final_error: stats::summarize(&finals),
        best_error: stats::summarize(&counted(runs, init, counted_best)),
        final_cost: stats::summarize(&costs).mean,
        vs_baseline: base_finals.and_then(|b| compare_samples(&finals, b)),
        seconds: mine.iter().map(|r| r.seconds).sum(),
    }
}

/// `a` against the baseline's `b`: the difference of means, Welch's test and interval, and the
/// permutation test (`None` when a side is empty).
pub fn compare_samples(a: &[f64], b: &[f64]) -> Option<Comparison> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(Comparison {
        diff: stats::summarize(a).mean - stats::summarize(b).mean,
        welch: stats::welch(a, b),
        permutation: stats::permutation_test(a, b),
        sizes: (a.len(), b.len()),
    })
}

/// A p-value with two significant digits (`0.0041`, `0.12`), in scientific notation below 0.001.
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        return format!("{p:.1e}");
    }
    // Decimals for two significant digits: 0.1 ≤ p → 2, 0.01 ≤ p < 0.1 → 3, below → 4.
    let decimals = (1.0 - p.log10().floor()).clamp(1.0, 4.0) as usize;
    format!("{p:.decimals$}")
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

/// The statistics table: per init its runs, how many diverged, final test error (mean ± sd, 95 %
/// interval), best test error, the difference from the baseline with its 95 % Welch interval,
/// Welch's p and the permutation p (each bold below [`MARK_P`], and nothing else bold), final
/// train cost and seconds. Diverged runs count at [`CHANCE_ERROR_PERCENT`] in every error column
/// and both tests ([`stats_note`] says so under it). The Markdown summaries and `report.html` are
/// both written from it.
pub fn stats_rows(stats: &[InitStats], label: impl Fn(InitScheme) -> String) -> Table {
    let mut table = Table::new(&[
        ("init", false),
        ("runs", true),
        ("diverged (at 90 %)", true),
        ("final test error % (mean ± sd)", true),
        ("95 % interval", true),
        ("best test error % (mean ± sd)", true),
        ("difference vs baseline, points [95 % Welch interval]", true),
        ("Welch p", true),
        ("permutation p", true),
        ("final train cost", true),
        ("seconds, all runs", true),
    ]);
    for st in stats {
        let cost = if st.final_cost.is_finite() {
            format!("{:.6}", st.final_cost)
        } else {
            "—".into()
        };
        let mut row = vec![
            label(st.init).into(),
            runs_cell(st).into(),
            format!("{} of {}", st.diverged, st.runs).into(),
            mean_sd(&st.final_error).into(),
            interval(&st.final_error).into(),
            mean_sd(&st.best_error).into(),
        ];
        row.extend(comparison_cells(st.vs_baseline.as_ref()));
        row.extend([cost.into(), format!("{:.1}", st.seconds).into()]);
        table.push(row);
    }
    table
}

/// `3`, or `3 (1 unstable, 1 not ended)`.
fn runs_cell(st: &InitStats) -> String {
    let mut notes = Vec::new();
    if st.unstable > 0 {
        notes.push(format!("{} unstable", st.unstable));
    }
    if st.not_ended > 0 {
        notes.push(format!("{} not ended, left out", st.not_ended));
    }
    if notes.is_empty() {
        st.runs.to_string()
    } else {
        format!("{} ({})", st.runs, notes.join(", "))
    }
}

/// The difference `+0.24 [-0.07, +0.55]`, Welch's p and the permutation p (`(MC)` when
/// resampled); each p bold below [`MARK_P`]; `baseline` and dashes for the baseline's own row.
pub fn comparison_cells(c: Option<&Comparison>) -> [Cell; 3] {
    let Some(c) = c else {
        return ["baseline".into(), "—".into(), "—".into()];
    };
    let diff = match c.welch {
        Some(w) => format!(
            "{:+.2} [{:+.2}, {:+.2}]",
            c.diff,
            c.diff - w.ci95,
            c.diff + w.ci95
        ),
        None => format!("{:+.2}", c.diff),
    };
    let marked = |p: f64, text: String| {
        if p < MARK_P {
            Cell::strong(text)
        } else {
            text.into()
        }
    };
    let welch = c.welch.map_or("—".into(), |w| marked(w.p, fmt_p(w.p)));
    let perm = c.permutation.map_or("—".into(), |p| {
        let mc = if p.exact { "" } else { " (MC)" };
        marked(p.p, format!("{}{mc}", fmt_p(p.p)))
    });
    [diff.into(), welch, perm]
}

/// How to read the statistics table, against `baseline` (`xavier-uniform`, `the part's first
/// init`): what counts, the intervals, both tests, what bold means.
pub fn stats_note(baseline: &str) -> String {
    format!(
        "No run is left out for diverging: a diverged run counts at chance level, {CHANCE_ERROR_PERCENT:.0} % test \
         error (a uniform guess over the 10 classes), in the mean, sd, intervals and both tests (and in the best \
         column), and the diverged column says how many; unstable runs (ending above their first loss, or at \
         chance) count with the error they ended at; runs that have not ended are left out and counted in the runs \
         column. The final train cost averages the runs that did not diverge. The 95 % interval is the Student-t \
         interval of the mean final test error over seeds. The difference is the mean final test error minus \
         {baseline}'s, in percentage points, with its 95 % Welch interval (the t quantile at the Welch–Satterthwaite \
         degrees of freedom); Welch p is Welch's t-test of the same numbers; permutation p is the exact two-sided \
         permutation test of the difference of means over all C(n₁+n₂, n₁) splits of the pooled runs (a \
         fixed-seed Monte Carlo over {} random splits, marked MC, where there are more than {}). Bold: p < \
         {MARK_P}, in either p column; nothing else is bold. Seconds are summed over an init's runs. An init with a single run gets no interval and no test.",
        thousands(stats::RESAMPLES),
        thousands(stats::EXACT_SPLITS)
    )
}

/// `20000` as `20,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        // A comma before each group of three digits from the right.
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// When seeds are so few that the exact permutation p cannot reach [`MARK_P`]: the sentence that
/// says so, for the comparison of `stats` with the highest floor ([`stats::permutation_floor`]).
pub fn few_seeds_note(stats: &[InitStats]) -> Option<String> {
    let (floor, (n1, n2)) = stats
        .iter()
        .filter_map(|st| st.vs_baseline)
        .filter(|c| c.permutation.is_some())
        .filter_map(|c| Some((stats::permutation_floor(c.sizes.0, c.sizes.1)?, c.sizes)))
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    if floor < MARK_P {
        return None;
    }
    let runs = if n1 == n2 {
        format!("{n1} runs per init")
    } else {
        format!("{n1} and {n2} runs")
    };
    Some(format!(
        "With {runs} the exact permutation p cannot fall below {} (only the observed split{} as extreme), so it \
         can never reach {MARK_P}, however large the difference; Welch's p can, because it assumes normally \
         distributed errors. More seeds are what would make the permutation test decisive.",
        fmt_p(floor),
        if n1 == n2 { " and its mirror are" } else { " is" }
    ))
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
    for note in notes(config, &st) {
        let _ = writeln!(md, "\n{note}");
    }
    md.push('\n');
    md.push_str(&runs_rows(&config.out_dir, runs).markdown());
    if runs.iter().any(|r| !r.history.epochs.is_empty()) {
        let _ = writeln!(md, "\n![test error and train cost per epoch](compare.png)");
    } else {
        let _ = writeln!(md, "\n{NO_CHART}");
    }
    md.push_str(&Machines::of(runs).markdown());
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

/// The paragraphs under the statistics table: how to read it, when seeds are too few for the
/// permutation test, and when two inits are the same distribution.
fn notes(config: &CompareConfig, stats: &[InitStats]) -> Vec<String> {
    let mut notes = Vec::new();
    let base = config.baseline.or(config.inits.first().copied());
    if let Some(b) = base {
        notes.push(format!(
            "A net that guesses uniformly over the 10 classes starts at a loss of ln 10 ≈ 2.303 (first-batch loss \
             below); a loss far above it means the init makes confident wrong guesses before any training. {} {}",
            stats_note(&b.to_string()),
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
    notes.extend(few_seeds_note(stats));
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
    blocks.extend(notes(config, &st).into_iter().map(Block::Text));
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
    blocks.extend(Machines::of(runs).blocks());
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

/// `text` as one CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, a
/// quote or a line break, so a run directory's name cannot shift or split a row.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The summary table as CSV: one row per run; `counted_test_error_percent` is the final test error
/// the statistics count it with ([`counted_final`]: 90 for a diverged run).
pub fn summary_csv(runs: &[RunResult]) -> String {
    let mut out = String::from("init,seed,status,diverged_epoch,final_test_error_percent,counted_test_error_percent,best_test_error_percent,best_epoch,final_train_cost,seconds,run_dir\n");
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
            "{},{},{},{},{},{},{},{},{},{:.3},{}",
            r.run.spec.model.init,
            r.run.spec.train.seed,
            r.status.name(),
            diverged,
            last.map(|e| format!("{:.4}", e.test_error_percent()))
                .unwrap_or_default(),
            counted_final(r)
                .map(|e| format!("{e:.4}"))
                .unwrap_or_default(),
            best_err,
            best_epoch,
            last.map(|e| format!("{:.9}", e.train_cost))
                .unwrap_or_default(),
            r.seconds,
            csv_field(&r.run.dir.display().to_string())
        );
    }
    out
}

#[cfg(test)]
mod csv_tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field("runs/a"), "runs/a");
        assert_eq!(csv_field("runs/a,b"), "\"runs/a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::data::mnist::DataIdentity;
    use crate::base::nn::model::MlpSpec;
    use crate::base::train::{EpochRecord, History};
    use crate::engine::rundir::EndDetail;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    /// A run of `init` that ended with `status` after epochs of the given test errors (%).
    fn run(init: InitScheme, seed: i64, status: RunStatus, errors: &[f64]) -> RunResult {
        let epochs = errors
            .iter()
            .enumerate()
            .map(|(i, e)| EpochRecord {
                epoch: i + 1,
                train_cost: 0.25,
                test_loss: 0.3,
                test_accuracy: 1.0 - e / 100.0,
                seconds: 1.0,
                validation_loss: None,
                validation_accuracy: None,
                learning_rate: None,
            })
            .collect();
        let detail = (status == RunStatus::Diverged).then(|| EndDetail::Diverged {
            epoch: errors.len() + 1,
            batch: 3,
            loss: "NaN".into(),
        });
        RunResult {
            run: PlannedRun {
                name: format!("{init}-{seed}"),
                dir: PathBuf::from("runs"),
                spec: RunSpec {
                    model: MlpSpec::shallow(init),
                    source: Default::default(),
                    train: TrainConfig {
                        seed,
                        ..TrainConfig::default()
                    },
                    data: DataIdentity {
                        dir: PathBuf::from("data"),
                        files: Vec::new(),
                    },
                },
            },
            hash: String::new(),
            status,
            detail,
            history: History {
                epochs,
                first_batch_loss: Some(2.3),
            },
            seconds: 2.0,
            cached: false,
            machines: Vec::new(),
        }
    }

    /// `init`'s complete runs, one per final test error (%).
    fn complete(init: InitScheme, errors: &[f64]) -> Vec<RunResult> {
        let seeds = 1..;
        errors
            .iter()
            .zip(seeds)
            .map(|(&e, s)| run(init, s, RunStatus::Complete, &[50.0, e]))
            .collect()
    }

    #[test]
    fn diverged_runs_count_at_chance_in_table_and_tests() {
        let mut runs = complete(InitScheme::Normal, &[10.0, 11.0, 12.0]);
        runs.extend(complete(InitScheme::XavierUniform, &[2.0, 2.2]));
        // Diverged in its second epoch, after a first epoch at 2.1 %: counted at 90, not 2.1.
        runs.push(run(
            InitScheme::XavierUniform,
            3,
            RunStatus::Diverged,
            &[2.1],
        ));
        let inits = [InitScheme::Normal, InitScheme::XavierUniform];
        let st = init_stats(&inits, None, &runs);
        let x = &st[1];
        assert_eq!((x.runs, x.diverged, x.final_error.n), (3, 1, 3));
        close(x.final_error.mean, (2.0 + 2.2 + 90.0) / 3.0, 1e-9);
        close(x.best_error.mean, (2.0 + 2.2 + 90.0) / 3.0, 1e-9);
        // The train cost averages the two runs that did not diverge.
        close(x.final_cost, 0.25, 1e-15);
        // The tests use the table's numbers: scipy's ttest_ind([2, 2.2, 90], [10, 11, 12],
        // equal_var=False) gives p = 0.55833, interval [-105.599, 146.399].
        let c = x.vs_baseline.unwrap();
        let w = c.welch.unwrap();
        close(w.p, 0.558_328_055_484_217_3, 1e-6);
        close(c.diff - w.ci95, -105.598_727_601_816_49, 1e-6);
        close(c.diff + w.ci95, 146.398_727_601_816_5, 1e-6);
        assert_eq!(c.sizes, (3, 3));
        let md = stats_table(&st, |i| i.to_string());
        let row = md
            .lines()
            .find(|l| l.starts_with("| xavier-uniform"))
            .unwrap();
        assert!(
            row.starts_with("| xavier-uniform | 3 | 1 of 3 | 31.40 ± 50.75 | "),
            "{row}"
        );
        // With the 90 in either group every split is at least as far apart: p = 20/20 (itertools).
        assert!(
            row.contains("| +20.40 [-105.60, +146.40] | 0.56 | 1.0 |"),
            "{row}"
        );
        assert!(
            md.contains("| normal | 3 | 0 of 3 | 11.00 ± 1.00 |"),
            "{md}"
        );
    }

    #[test]
    fn unstable_runs_count_as_measured_and_unended_ones_are_left_out_but_shown() {
        let mut runs = complete(InitScheme::Normal, &[10.0, 11.0]);
        // At chance: it ended, with the error it measured.
        runs.push(run(InitScheme::Normal, 3, RunStatus::Unstable, &[88.65]));
        runs.push(run(InitScheme::Normal, 4, RunStatus::Interrupted, &[30.0]));
        let st = init_stats(&[InitScheme::Normal], None, &runs);
        let n = &st[0];
        assert_eq!(
            (n.runs, n.unstable, n.not_ended, n.final_error.n),
            (4, 1, 1, 3)
        );
        close(n.final_error.mean, (10.0 + 11.0 + 88.65) / 3.0, 1e-9);
        assert!(n.vs_baseline.is_none());
        let md = stats_table(&st, |i| i.to_string());
        assert!(
            md.contains("| normal | 4 (1 unstable, 1 not ended, left out) | 0 of 4 | "),
            "{md}"
        );
        assert!(md.contains("| baseline | — | — |"), "{md}");
        let csv = summary_csv(&runs);
        assert!(csv.contains("normal,3,unstable,,88.6500,88.6500,"), "{csv}");
        assert!(csv.contains("normal,4,interrupted,,30.0000,,"), "{csv}");
    }

    #[test]
    fn difference_interval_and_both_p_values_match_independent_computations() {
        // scipy 1.17 ttest_ind(..., equal_var=False): p = 0.11334, interval [-0.5468, 0.0708];
        // itertools enumeration: 32 of the 252 splits at least as far apart, p = 0.127.
        let mut runs = complete(InitScheme::KaimingNormal, &[2.37, 2.07, 2.43, 1.92, 2.08]);
        runs.extend(complete(
            InitScheme::XavierUniform,
            &[1.76, 1.92, 1.84, 1.87, 2.29],
        ));
        let inits = [InitScheme::KaimingNormal, InitScheme::XavierUniform];
        let st = init_stats(&inits, None, &runs);
        let c = st[1].vs_baseline.unwrap();
        let (w, perm) = (c.welch.unwrap(), c.permutation.unwrap());
        close(c.diff, 1.936 - 2.174, 1e-9);
        close(c.diff - w.ci95, -0.546_761_400_804_706_8, 1e-9);
        close(c.diff + w.ci95, 0.070_761_400_804_706_78, 1e-9);
        assert!(c.diff - w.ci95 < c.diff && c.diff < c.diff + w.ci95);
        close(w.p, 0.113_338_551_826_497_98, 1e-8);
        assert!(perm.exact);
        close(perm.p, 32.0 / 252.0, 1e-12);
        let md = stats_table(&st, |i| i.to_string());
        assert!(
            md.contains("| -0.24 [-0.55, +0.07] | 0.11 | 0.13 |"),
            "{md}"
        );
        // Five seeds each: the floor is 2/252 ≈ 0.0079, above 0.005, so the table says so.
        let note = few_seeds_note(&st).unwrap();
        assert!(
            note.contains("5 runs per init") && note.contains("0.0079"),
            "{note}"
        );
        assert!(!md.contains("**"), "{md}");
    }

    #[test]
    fn bold_marks_only_p_below_the_threshold() {
        // scipy: Welch p = 1.17e-5; the permutation p with 3 against 3 cannot go below 0.1.
        let mut runs = complete(InitScheme::Normal, &[5.0, 5.1, 5.3]);
        runs.extend(complete(InitScheme::XavierUniform, &[1.0, 1.1, 1.2]));
        let inits = [InitScheme::Normal, InitScheme::XavierUniform];
        let st = init_stats(&inits, None, &runs);
        close(
            st[1].vs_baseline.unwrap().welch.unwrap().p,
            1.173_920_674_997_29e-5,
            1e-9,
        );
        let md = stats_table(&st, |i| i.to_string());
        assert!(md.contains("| **1.2e-5** | 0.10 |"), "{md}");
        assert_eq!(md.matches("**").count(), 2, "{md}");
        let note = few_seeds_note(&st).unwrap();
        assert!(
            note.starts_with("With 3 runs per init the exact permutation p cannot fall below 0.10"),
            "{note}"
        );
        assert!(stats_note("normal")
            .contains("Bold: p < 0.005, in either p column; nothing else is bold."));
    }

    #[test]
    fn the_note_states_the_resampling_limits() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(200_000), "200,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        let note = stats_note("xavier-uniform");
        assert!(note.contains(
            "Monte Carlo over 20,000 random splits, marked MC, where there are more than 200,000"
        ));
        assert!(
            note.contains("minus xavier-uniform's")
                && note.contains("counts at chance level, 90 % test error")
        );
    }

    #[test]
    fn p_values_with_two_significant_digits() {
        assert_eq!(fmt_p(0.004), "0.0040");
        assert_eq!(fmt_p(0.0412), "0.041");
        assert_eq!(fmt_p(0.1), "0.10");
        assert_eq!(fmt_p(0.558), "0.56");
        assert_eq!(fmt_p(1.0), "1.0");
        assert_eq!(fmt_p(0.000_41), "4.1e-4");
    }
}
