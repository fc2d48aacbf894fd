//! Poole et al. (2016) and Schoenholz et al. (2017): the order-to-chaos phase diagram of tanh nets
//! computed ([`crate::base::nn::meanfield`]) with the named inits marked at torch's default bias
//! ([`crate::base::nn::meanfield::named`]), then a grid of log-spaced depths × σ_w² trained with
//! SGD over several seeds, its mean test accuracy after several numbers of steps drawn against
//! 6 ξ_c on both sides of the critical point (Schoenholz et al. 2017, Fig. 5).

use crate::base::nn::meanfield::chart::{curve_chart, heatmap_chart, heatmap_row_chart};
use crate::base::nn::meanfield::chart::{phase_style, CurveChart};
use crate::base::nn::meanfield::named::{named_at_torch_bias, NamedAtTorchBias};
use crate::base::output::chart::heatmap::{edges_around, HeatStyle, Heatmap};
use crate::base::output::chart::series::Series;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::base::nn::meanfield::{self as theory, GaussHermite};
use crate::base::nn::model::BiasInit;
use crate::base::nn::scheme::{Activation, InitScheme, MeanFieldParams};
use crate::base::optim::OptimizerKind;
use crate::base::output::io;
use crate::base::output::table::{Cell, Table};
use crate::base::train::TrainConfig;
use crate::engine::executor::RunResult;
use crate::engine::rundir::RunStatus;
use crate::experiments::report_html::{self, Block};
use crate::experiments::study::summary::{self, full_flag, total_time};
use crate::experiments::study::{hidden, Preset, SharedPhrases, Study, StudyConfig, StudyPart};

/// The study on the command line: `initlab study meanfield`.
pub const STUDY: Study = Study(&Meanfield);

/// σ_b² of the mean-field study (Schoenholz et al.'s MNIST heatmap).
pub const SIGMA_B2: f64 = 0.05;

/// Test accuracy at or above which a cell of the mean-field grid counts as trained.
pub const TRAINED_ACCURACY: f64 = 0.5;

/// Test accuracy of a guess among MNIST's 10 classes: what a diverged run counts as.
pub const CHANCE: f64 = 0.1;

/// Multiply-adds per core-second assumed by the budget estimates: measured ≈ 1.8·10¹⁰ for one
/// run of width 64 and depth 128 on one thread of this project's 2-core machine while busy,
/// ≈ 0.7·10¹⁰ while much busier; 10¹⁰ lies between them.
pub const MAC_PER_CORE_SECOND: f64 = 1e10;

/// The default's bound: minutes of 2-core time.
pub const DEFAULT_BOUND_MINUTES: f64 = 30.0;

/// Test images, evaluated after every epoch.
const TEST_IMAGES: f64 = 10_000.0;

/// Mean-field theory beside experiment: the phase diagram, ξ_c, and a depth × σ_w² grid.
#[derive(Debug, Clone, Copy)]
pub struct Meanfield;

/// The mean-field study's grid: numbers of hidden tanh layers (depths, powers of 2 from 2 to
/// 128, to 256 with `--full`) and σ_w² from 0.5 to 4 in steps of 0.25 (0.125 with `--full`),
/// which puts six values below the critical 1.761 at σ_b² = 0.05 and nine above it.
pub fn grid(full: bool) -> (Vec<usize>, Vec<f64>) {
    let top = if full { 256 } else { 128 };
    let depths = (1..16).map(|k| 1usize << k).take_while(|d| *d <= top);
    let step = if full { 0.125 } else { 0.25 };
    let n = (3.5 / step) as usize;
    let sigmas = (0..=n).map(|k| 0.5 + step * k as f64).collect();
    (depths.collect(), sigmas)
}

/// The hidden width and the SGD budget of every net: width 64, 10 epochs of 20,000 images
/// (2,000 steps of 100); with `--full` width 128, 10 epochs of 30,000 images (3,000 steps).
/// Learning rate 10⁻³: at width 64 and σ_w² = 1.75 depth 128 reaches 73 % after 2,000 steps
/// with it and stays at chance with 10⁻² (one seed, measured).
fn setting(config: &StudyConfig) -> (i64, TrainConfig) {
    let (width, limit) = if config.full {
        (128, 30_000)
    } else {
        (64, 20_000)
    };
    let width = config.width.unwrap_or(width);
    let train = config.train(OptimizerKind::Sgd, 1e-3, 10, Some(limit));
    (width, train)
}

/// The epochs after which accuracy is drawn, one panel each: a tenth, three tenths and all of
/// the epochs (after 200, 600 and 2,000 SGD steps by default), fewer when they coincide.
pub fn panel_epochs(epochs: usize) -> Vec<usize> {
    let mut v = vec![epochs.div_ceil(10), (3 * epochs).div_ceil(10), epochs];
    v.retain(|e| *e > 0);
    v.dedup();
    v
}

/// The work of a mean-field grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Runs: depths × σ_w² × seeds.
    pub runs: usize,
    /// SGD steps per run.
    pub steps: i64,
    /// Multiply-adds of every run together: per step `3 · batch · (784 W + depth W² + 10 W)`
    /// (forward, and backward at twice the forward), plus the forward pass over the 10,000 test
    /// images after each epoch.
    pub multiply_adds: f64,
}

impl Budget {
    /// Minutes of 2-core time at [`MAC_PER_CORE_SECOND`] per core.
    pub fn minutes_on_two_cores(&self) -> f64 {
        self.multiply_adds / MAC_PER_CORE_SECOND / 2.0 / 60.0
    }

    /// The budget in a sentence.
    pub fn sentence(&self) -> String {
        let hours = self.minutes_on_two_cores() / 60.0;
        let time = if hours >= 2.0 {
            format!("≈ {hours:.0} hours")
        } else if self.minutes_on_two_cores() < 1.0 {
            "under a minute".to_string()
        } else {
            format!("≈ {:.0} minutes", self.minutes_on_two_cores())
        };
        format!(
            "{} runs of {} SGD steps, {:.1e} multiply-adds: {time} of 2-core time at 10¹⁰ \
             multiply-adds per core-second",
            self.runs, self.steps, self.multiply_adds
        )
    }
}

/// The work of the grid that `config` trains.
pub fn budget(config: &StudyConfig) -> Budget {
    let (depths, sigmas) = grid(config.full);
    let (width, train) = setting(config);
    let images = train.train_limit.unwrap_or(60_000);
    let steps = train.epochs as i64 * (images / train.batch_size);
    let w = width as f64;
    let nets = (sigmas.len() * config.seeds.len()) as f64;
    let per_depth = |d: usize| {
        let forward = 784.0 * w + d as f64 * w * w + 10.0 * w;
        let train_macs = 3.0 * (steps * train.batch_size) as f64 * forward;
        let test_macs = train.epochs as f64 * TEST_IMAGES * forward;
        nets * (train_macs + test_macs)
    };
    Budget {
        runs: depths.len() * sigmas.len() * config.seeds.len(),
        steps,
        multiply_adds: depths.iter().map(|&d| per_depth(d)).sum(),
    }
}

/// The budgets of the default and of `--full` (their own seeds, no overrides).
fn budgets() -> (Budget, Budget) {
    let default = StudyConfig::new(STUDY);
    let full = StudyConfig {
        full: true,
        seeds: super::default_seeds(STUDY, true, TrainConfig::default().seed),
        ..StudyConfig::new(STUDY)
    };
    (budget(&default), budget(&full))
}

impl Preset for Meanfield {
    fn name(&self) -> &'static str {
        "meanfield"
    }

    fn title(&self) -> String {
        format!("Mean-field theory beside experiment: tanh nets, σ_b² = {SIGMA_B2}, SGD")
    }

    fn bias(&self) -> BiasInit {
        BiasInit::TorchDefault
    }

    fn validation(&self) -> i64 {
        0
    }

    fn seed_count(&self, full: bool) -> usize {
        if full {
            3
        } else {
            2
        }
    }

    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart> {
        let (width, train) = setting(config);
        let (depths, sigmas) = grid(config.full);
        depths
            .into_iter()
            .map(|depth| {
                let labels = sigmas
                    .iter()
                    .filter_map(|&w| {
                        let p = MeanFieldParams::new(w, SIGMA_B2).ok()?;
                        Some((InitScheme::MeanField(p), format!("depth {depth} σ_w² {w}")))
                    })
                    .collect();
                config.part(
                    format!("depth{depth}"),
                    hidden(depth, width),
                    Activation::Tanh,
                    labels,
                    train.clone(),
                )
            })
            .collect()
    }

    fn deviations(&self, config: &StudyConfig, shared: &SharedPhrases) -> String {
        let (default, full) = budgets();
        format!(
            "Deviations from Schoenholz et al. (2017), Fig. 5: test accuracy (not training \
             accuracy) of narrower nets after fewer SGD steps, depths 2–128 (`--full`: 2–256, \
             width 128, σ_w² in steps of 0.125, 3 seeds); biases N(0, σ_b²) as in the paper; {}; \
             the last epoch's accuracy is drawn (no epoch is chosen). Default budget: {}. \
             `--full`: {}. This run: {}.",
            shared.budget,
            default.sentence(),
            full.sentence(),
            budget(config).sentence()
        )
    }

    /// The theory's charts (`phase.png`, `xi.png`), the accuracy panels with 6 ξ_c
    /// (`meanfield.png`, `.svg`), then `summary.md` and `report.html` with the theory and grid
    /// tables.
    fn write_outputs(
        &self,
        config: &StudyConfig,
        parts: &[(StudyPart, Vec<RunResult>)],
    ) -> Result<()> {
        let gh = GaussHermite::default_rule();
        let critical = theory::critical_sigma_w2(&gh, SIGMA_B2)?;
        let trained = TrainedGrid::of(config, parts);
        let named = named_at_torch_bias(&gh, trained.width)?;
        let out = &config.out_dir;
        let (phase, style) = (phase_diagram(&gh)?, phase_style(&named, critical));
        heatmap_chart(&phase, &style, &out.join("phase.png"))?;
        curve_chart(&depth_scales(&gh, critical, &named)?, &out.join("xi.png"))?;
        let panels = accuracy_panels(&gh, &trained, critical)?;
        let title = accuracy_title(&trained);
        let style = accuracy_style(&trained.depths);
        heatmap_row_chart(&panels, &style, &title, &out.join("meanfield.png"))?;
        heatmap_row_chart(&panels, &style, &title, &out.join("meanfield.svg"))?;
        let tables = MeanfieldTables::of(&gh, critical, &named, &trained)?;
        let md = summary_markdown(config, parts, &trained, &tables, gh.len());
        io::write_atomic(&config.summary_path(), md.as_bytes())?;
        let report = summary::html_report(config, parts, html_blocks(out, &tables));
        report_html::write(&report, &config.html_path())
    }
}

/// The phase diagram's σ_w² range: from below torch's default 1/3 to 4.
const PHASE_X: (f64, f64) = (0.2, 4.0);

/// The phase diagram: χ₁ over σ_w² ∈ [0.2, 4], σ_b² ∈ [0, 0.3], and the line χ₁ = 1.
fn phase_diagram(gh: &GaussHermite) -> Result<Heatmap> {
    let (nx, ny) = (76, 30);
    let (x0, x1) = PHASE_X;
    let x_at = |i: f64| x0 + (x1 - x0) * i / nx as f64;
    let xs: Vec<f64> = (0..nx).map(|i| x_at(i as f64 + 0.5)).collect();
    let ys: Vec<f64> = (0..ny)
        .map(|j| 0.3 * (j as f64 + 0.5) / ny as f64)
        .collect();
    let mut chi = Vec::with_capacity(ny);
    for &b in &ys {
        let row: Vec<f64> = xs
            .iter()
            .map(|&w| theory::chi1(gh, w, b))
            .collect::<Result<_>>()?;
        chi.push(row);
    }
    // Denser near σ_b² = 0, where the line is nearly flat: σ_b² = 0.3 (k/40)².
    let mut line = Vec::new();
    for k in 0..=40 {
        let b = 0.3 * (k as f64 / 40.0).powi(2);
        line.push((theory::critical_sigma_w2(gh, b)?, b));
    }
    Ok(Heatmap {
        title: "Phase diagram of tanh nets: χ₁ = σ_w² E[tanh′(√q* z)²]".into(),
        x_desc: "σ_w²".into(),
        y_desc: "σ_b²".into(),
        value_desc: "χ₁ (1: critical)".into(),
        x_edges: (0..=nx).map(|i| x_at(i as f64)).collect(),
        y_edges: (0..=ny).map(|j| 0.3 * j as f64 / ny as f64).collect(),
        values: chi,
        range: (0.0, 2.0),
        annotate: None,
        lines: vec![Series::line("χ₁ = 1 (ordered left, chaotic right)", line)],
    })
}

/// ξ_c and ξ_q against σ_w² at σ_b² = [`SIGMA_B2`], and ξ_c at torch's default bias with the
/// named inits on it; the critical σ_w² of both biases marked.
fn depth_scales(gh: &GaussHermite, critical: f64, named: &NamedAtTorchBias) -> Result<CurveChart> {
    let (x0, x1) = PHASE_X;
    let xs: Vec<f64> = (0..=152)
        .map(|i| x0 + (x1 - x0) * i as f64 / 152.0)
        .collect();
    let sweep = |b: f64| -> Result<Vec<theory::Propagation>> {
        xs.iter().map(|&w| theory::propagation(gh, w, b)).collect()
    };
    let (grid_bias, torch_bias) = (sweep(SIGMA_B2)?, sweep(named.sigma_b2)?);
    let b = named.sigma_b2;
    Ok(CurveChart {
        title: format!(
            "Depth scales: ξ_c diverges at the critical σ_w² (σ_b² = {SIGMA_B2}, and torch's \
             default 1/(3·{}) = {b:.4})",
            named.fan_in
        ),
        x_desc: "σ_w²".into(),
        y_desc: "depth scale (layers, log scale)".into(),
        series: vec![
            Series::line(
                format!("ξ_c, σ_b² = {SIGMA_B2}"),
                grid_bias.iter().map(|p| (p.sigma_w2, p.xi_c)).collect(),
            ),
            Series::line(
                format!("ξ_q, σ_b² = {SIGMA_B2}"),
                grid_bias.iter().map(|p| (p.sigma_w2, p.xi_q)).collect(),
            ),
            Series::line(
                format!("ξ_c, torch default σ_b² = {b:.4}"),
                torch_bias.iter().map(|p| (p.sigma_w2, p.xi_c)).collect(),
            ),
        ],
        markers: vec![
            (
                critical,
                format!("critical σ_w² = {critical:.3} (σ_b² = {SIGMA_B2})"),
            ),
            (
                named.critical,
                format!("critical σ_w² = {:.3} (σ_b² = {b:.4})", named.critical),
            ),
        ],
        points: named
            .points
            .iter()
            .map(|(n, p)| (n.sigma_w2, p.xi_c, short_name(n.name).to_string()))
            .collect(),
    })
}

/// A named init's name short enough for a chart's mark.
fn short_name(name: &str) -> &str {
    name.split(" /").next().unwrap_or(name)
}

/// Accuracy after one number of steps: the mean over seeds per depth (rows) and σ_w² (columns).
#[derive(Debug, Clone)]
struct StepPanel {
    /// After this epoch (1-based).
    epoch: usize,
    /// SGD steps by then.
    steps: i64,
    /// Mean test accuracy per cell (a diverged run counts as [`CHANCE`]); NaN where no run
    /// reached the epoch.
    values: Vec<Vec<f64>>,
}

/// The trained grid: test accuracy by depth (rows) and σ_w² (columns) after several numbers of
/// steps, and the budget its nets trained on.
struct TrainedGrid {
    /// The columns' σ_w².
    sigmas: Vec<f64>,
    /// The rows' depths (hidden tanh layers), one per part.
    depths: Vec<usize>,
    /// One panel per number of steps ([`panel_epochs`]).
    panels: Vec<StepPanel>,
    /// Diverged runs per cell.
    diverged: Vec<Vec<usize>>,
    /// Seeds per cell.
    seeds: usize,
    /// The parts' training settings (the first part's: every part shares them).
    train: TrainConfig,
    /// The hidden width.
    width: i64,
    /// Training images per epoch.
    images: i64,
}

impl TrainedGrid {
    fn of(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> Self {
        let (_, sigmas) = grid(config.full);
        let depths = parts
            .iter()
            .map(|(p, _)| p.compare.widths.0.len() - 2)
            .collect();
        let (width, train) = setting(config);
        let images = train.train_limit.unwrap_or(60_000);
        let per_epoch = images / train.batch_size;
        let cells = |f: &dyn Fn(&[RunResult], f64) -> f64| -> Vec<Vec<f64>> {
            let row = |runs: &[RunResult]| sigmas.iter().map(|&w| f(runs, w)).collect();
            parts.iter().map(|(_, runs)| row(runs)).collect()
        };
        let panels = panel_epochs(train.epochs)
            .into_iter()
            .map(|epoch| StepPanel {
                epoch,
                steps: epoch as i64 * per_epoch,
                values: cells(&|runs, w| cell_accuracy(runs, w, epoch)),
            })
            .collect();
        let diverged = cells(&|runs, w| cell_runs(runs, w).filter(|r| diverged(r)).count() as f64);
        TrainedGrid {
            diverged: diverged
                .into_iter()
                .map(|r| r.into_iter().map(|n| n as usize).collect())
                .collect(),
            sigmas,
            depths,
            panels,
            seeds: config.seeds.len(),
            train,
            width,
            images,
        }
    }
}

/// Whether `r` diverged.
fn diverged(r: &RunResult) -> bool {
    r.status == RunStatus::Diverged
}

/// The runs among `runs` with σ_w² = `w`.
fn cell_runs(runs: &[RunResult], w: f64) -> impl Iterator<Item = &RunResult> {
    runs.iter().filter(move |r| match r.run.spec.model.init {
        InitScheme::MeanField(m) => (m.sigma_w2() - w).abs() < 1e-9,
        _ => false,
    })
}

/// The mean test accuracy after `epoch` of the runs with σ_w² = `w` (a diverged run counts as
/// [`CHANCE`] from the epoch it has no finite accuracy for); NaN when none has a value.
fn cell_accuracy(runs: &[RunResult], w: f64, epoch: usize) -> f64 {
    let value = |r: &RunResult| {
        let at = r.history.epochs.get(epoch - 1).map(|e| e.test_accuracy);
        match at.filter(|a| a.is_finite()) {
            Some(a) if !diverged(r) || epoch < r.history.epochs.len() => Some(a),
            _ if diverged(r) => Some(CHANCE),
            _ => None,
        }
    };
    let values: Vec<f64> = cell_runs(runs, w).filter_map(value).collect();
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// 6 ξ_c at each of `sigmas` (σ_w²), σ_b² = [`SIGMA_B2`] (infinite at the critical point).
fn six_xi_at(gh: &GaussHermite, sigmas: &[f64]) -> Result<Vec<f64>> {
    (sigmas.iter())
        .map(|&w| theory::propagation(gh, w, SIGMA_B2).map(|p| 6.0 * p.xi_c))
        .collect()
}

/// The 6 ξ_c line as a staircase on the cells' edges: over column `i` (between `x_edges[i]` and
/// `x_edges[i + 1]`) it runs along the upper edge of the deepest row whose depth is at most
/// `six_xi[i]` (the grid's lower edge when none is, its upper edge when all are), with vertical
/// steps between columns. `depths` ascending, `y_edges` one longer.
fn six_xi_steps(
    six_xi: &[f64],
    depths: &[f64],
    x_edges: &[f64],
    y_edges: &[f64],
) -> Vec<(f64, f64)> {
    let mut points = Vec::with_capacity(2 * six_xi.len());
    for (i, &bound) in six_xi.iter().enumerate() {
        let below = depths.iter().filter(|&&d| d <= bound).count();
        let y = y_edges[below.min(y_edges.len() - 1)];
        points.push((x_edges[i], y));
        points.push((x_edges[i + 1], y));
    }
    points
}

/// The figure's title.
fn accuracy_title(g: &TrainedGrid) -> String {
    format!(
        "Mean test accuracy (%) of tanh nets, {} seed(s), width {}, SGD lr {}, σ_b² = {SIGMA_B2}: \
         trainable while depth ≲ 6 ξ_c",
        g.seeds, g.width, g.train.learning_rate
    )
}

/// The accuracy panels' style: log depth axis at the depths, whole cells, outlined lines.
fn accuracy_style(depths: &[usize]) -> HeatStyle {
    HeatStyle {
        y_log_ticks: Some(depths.iter().map(|&d| d as f64).collect()),
        outlined: true,
        ..HeatStyle::default()
    }
}

/// Cell boundaries around ascending positive centres on a log axis: geometric means between
/// neighbours, and half a step (in log) beyond the first and the last.
pub fn log_edges_around(centres: &[f64]) -> Vec<f64> {
    let logs: Vec<f64> = centres.iter().map(|c| c.ln()).collect();
    edges_around(&logs).into_iter().map(f64::exp).collect()
}

/// One heatmap per panel of the trained grid: accuracy % on log depth, 6 ξ_c drawn over it.
fn accuracy_panels(gh: &GaussHermite, g: &TrainedGrid, critical: f64) -> Result<Vec<Heatmap>> {
    let depth_f: Vec<f64> = g.depths.iter().map(|&d| d as f64).collect();
    let x_edges = edges_around(&g.sigmas);
    let y_edges = log_edges_around(&depth_f);
    // On the cells' edges, so that no cell is cut: each lies wholly below the line (its depth
    // ≤ 6 ξ_c at its column's σ_w²) or wholly above, as the summary counts them.
    let six_xi = six_xi_at(gh, &g.sigmas)?;
    let label = format!("6 ξ_c on cell edges (∞ at σ_w² {critical:.3})");
    let steps = six_xi_steps(&six_xi, &depth_f, &x_edges, &y_edges);
    let lines = vec![Series::line(label, steps)];
    let panel = |p: &StepPanel| Heatmap {
        title: format!("after {} SGD steps", p.steps),
        x_desc: "σ_w²".into(),
        y_desc: "depth (hidden layers, log scale)".into(),
        value_desc: "test accuracy (%)".into(),
        x_edges: x_edges.clone(),
        y_edges: y_edges.clone(),
        values: (p.values.iter())
            .map(|r| r.iter().map(|a| 100.0 * a).collect())
            .collect(),
        range: (100.0 * CHANCE, 100.0),
        annotate: Some((1.0, 0)),
        lines: lines.clone(),
    };
    Ok(g.panels.iter().map(panel).collect())
}

/// The mean-field study's tables and findings, shared by `summary.md` and `report.html`.
#[derive(Debug, Clone)]
pub struct MeanfieldTables {
    /// The critical point in a sentence.
    pub critical: String,
    /// The named inits at torch's default bias.
    pub named: Table,
    /// The named inits' critical point in a sentence.
    pub named_critical: String,
    /// q*, χ₁, c*, ξ_q, ξ_c and 6 ξ_c per σ_w².
    pub theory: Table,
    /// Mean test accuracy % by depth (rows) and σ_w² (columns), one table per number of steps.
    pub grids: Vec<(String, Table)>,
    /// How well 6 ξ_c separates the cells that trained from those that did not, per number of
    /// steps.
    pub bound: String,
}

impl MeanfieldTables {
    fn of(
        gh: &GaussHermite,
        critical: f64,
        named: &NamedAtTorchBias,
        g: &TrainedGrid,
    ) -> Result<Self> {
        let six_xi = six_xi_at(gh, &g.sigmas)?;
        let bound = (g.panels.iter())
            .map(|p| bound_sentence(&six_xi, g, p))
            .collect::<Vec<_>>()
            .join(" ");
        Ok(MeanfieldTables {
            critical: format!(
                "**Critical point:** at σ_b² = {SIGMA_B2}, χ₁ = 1 at **σ_w² = {critical:.4}** \
                 (ordered below, chaotic above)."
            ),
            named: named_table(named),
            named_critical: format!(
                "With torch's default bias for {} inputs per unit, σ_b² = 1/(3·{}) = {:.5}, the \
                 critical σ_w² is {:.4}.",
                named.fan_in, named.fan_in, named.sigma_b2, named.critical
            ),
            theory: theory_table(gh, &g.sigmas)?,
            grids: (g.panels.iter())
                .map(|p| {
                    let heading = format!("after {} SGD steps (epoch {})", p.steps, p.epoch);
                    (heading, grid_table(g, p))
                })
                .collect(),
            bound,
        })
    }
}

/// Where the named inits sit at torch's default bias: σ_w², χ₁, ξ_c, 6 ξ_c and the phase.
fn named_table(named: &NamedAtTorchBias) -> Table {
    let mut table = Table::new(&[
        ("init", false),
        ("σ_w²", true),
        ("χ₁", true),
        ("ξ_c", true),
        ("6 ξ_c", true),
        ("phase", false),
    ]);
    for (n, p) in &named.points {
        let phase = if p.chi1 < 1.0 { "ordered" } else { "chaotic" };
        table.push(vec![
            n.name.into(),
            format!("{:.3}", n.sigma_w2).into(),
            format!("{:.3}", p.chi1).into(),
            format!("{:.1}", p.xi_c).into(),
            format!("{:.0}", 6.0 * p.xi_c).into(),
            phase.into(),
        ]);
    }
    table
}

/// How well 6 ξ_c separates the cells of panel `p` that trained from those that did not, in a
/// sentence.
fn bound_sentence(six_xi: &[f64], g: &TrainedGrid, p: &StepPanel) -> String {
    let (mut below, mut below_ok, mut above, mut above_ok) = (0, 0, 0, 0);
    for (d, row) in g.depths.iter().zip(&p.values) {
        for (acc, bound) in row.iter().zip(six_xi) {
            let trained = *acc >= TRAINED_ACCURACY;
            if (*d as f64) <= *bound {
                below += 1;
                below_ok += usize::from(trained);
            } else {
                above += 1;
                above_ok += usize::from(trained);
            }
        }
    }
    let pct = |a: usize, n: usize| {
        if n == 0 {
            "—".to_string()
        } else {
            format!("{:.0} %", 100.0 * a as f64 / n as f64)
        }
    };
    format!(
        "**After {} steps** (trained = mean test accuracy ≥ {:.0} %): of the {below} cells \
         with depth ≤ 6 ξ_c, {below_ok} trained ({}); of the {above} cells above the line, \
         {above_ok} trained ({}).",
        p.steps,
        100.0 * TRAINED_ACCURACY,
        pct(below_ok, below),
        pct(above_ok, above)
    )
}

/// q*, χ₁, c*, ξ_q, ξ_c and 6 ξ_c per σ_w².
fn theory_table(gh: &GaussHermite, sigmas: &[f64]) -> Result<Table> {
    let mut table = Table::new(&[
        ("σ_w²", true),
        ("q*", true),
        ("χ₁", true),
        ("c*", true),
        ("ξ_q", true),
        ("ξ_c", true),
        ("6 ξ_c", true),
    ]);
    for &w in sigmas {
        let p = theory::propagation(gh, w, SIGMA_B2)?;
        table.push(vec![
            format!("{w:.3}").into(),
            format!("{:.4}", p.q_star).into(),
            format!("{:.4}", p.chi1).into(),
            format!("{:.4}", p.c_star).into(),
            format!("{:.2}", p.xi_q).into(),
            format!("{:.2}", p.xi_c).into(),
            format!("{:.1}", 6.0 * p.xi_c).into(),
        ]);
    }
    Ok(table)
}

/// Mean test accuracy % of panel `p` by depth (rows) and σ_w² (columns); `†` where a run
/// diverged (counted as chance), `—` where none has a value.
fn grid_table(g: &TrainedGrid, p: &StepPanel) -> Table {
    let headers: Vec<String> = std::iter::once("depth".to_string())
        .chain(g.sigmas.iter().map(|w| format!("σ_w² {w}")))
        .collect();
    let columns: Vec<(&str, bool)> = headers.iter().map(|h| (h.as_str(), true)).collect();
    let mut table = Table::new(&columns);
    for ((d, row), div) in g.depths.iter().zip(&p.values).zip(&g.diverged) {
        let mut cells: Vec<Cell> = vec![d.to_string().into()];
        for (a, n) in row.iter().zip(div) {
            let mark = if *n > 0 { "†" } else { "" };
            cells.push(if a.is_finite() {
                format!("{:.1}{mark}", 100.0 * a).into()
            } else {
                "—".into()
            });
        }
        table.push(cells);
    }
    table
}

/// `summary.md`: the command, the budget, the critical point, the named inits, the theory's
/// charts and table, the trained grid after each number of steps, and the bound's score.
fn summary_markdown(
    config: &StudyConfig,
    parts: &[(StudyPart, Vec<RunResult>)],
    g: &TrainedGrid,
    tables: &MeanfieldTables,
    nodes: usize,
) -> String {
    let mut md = format!("# {}\n\n", Meanfield.title());
    let _ = writeln!(
        md,
        "Command: `initlab study meanfield{}`. Poole et al. (2016), Schoenholz et al. (2017): \
         weights N(0, σ_w²/fan_in), biases N(0, σ_b²), tanh. Theory by Gauss–Hermite quadrature \
         with {nodes} nodes.\n\n{}\n",
        full_flag(config),
        super::deviations(config),
    );
    let _ = writeln!(md, "{}\n", tables.critical);
    let _ = writeln!(
        md,
        "![phase diagram](phase.png)\n\n![depth scales](xi.png)\n"
    );
    let _ = writeln!(md, "## Named inits\n\n{}\n", tables.named_critical);
    md.push_str(&tables.named.markdown());
    let _ = writeln!(md, "\n## Theory at σ_b² = {SIGMA_B2}\n");
    md.push_str(&tables.theory.markdown());
    let t = &g.train;
    let _ = writeln!(
        md,
        "\n## Trained grid\n\nWidth {}, {} epoch(s) of {} training images at batch {} \
         (lr {}), seeds {:?}. Mean test accuracy (%) over the seeds, rows by depth (hidden tanh \
         layers), columns by σ_w²; † = a run diverged and counts as chance (10 %).\n",
        g.width, t.epochs, g.images, t.batch_size, t.learning_rate, config.seeds
    );
    for (heading, table) in &tables.grids {
        let _ = writeln!(md, "### {heading}\n");
        md.push_str(&table.markdown());
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "![accuracy with 6 ξ_c](meanfield.png)\n\n{}",
        tables.bound
    );
    let _ = writeln!(md, "\n{}", total_time(parts));
    md.push_str(&summary::machines_markdown(parts));
    md
}

/// The report page's mean-field blocks: the critical point, the named inits, the theory table
/// and charts, the trained grids and their panels, the bound's score (pictures only where they
/// were drawn).
fn html_blocks(out: &Path, tables: &MeanfieldTables) -> Vec<Block> {
    let image = |file: &str, alt: &str| {
        out.join(file).is_file().then(|| Block::Image {
            path: PathBuf::from(file),
            alt: alt.into(),
        })
    };
    let mut blocks = vec![
        Block::Text(tables.critical.clone()),
        Block::Text(tables.named_critical.clone()),
        Block::Table(tables.named.clone()),
        Block::Table(tables.theory.clone()),
    ];
    blocks.extend(image("phase.png", "order-to-chaos phase diagram"));
    blocks.extend(image("xi.png", "depth scales"));
    for (heading, table) in &tables.grids {
        blocks.push(Block::Heading(format!("Mean test accuracy (%) {heading}")));
        blocks.push(Block::Table(table.clone()));
    }
    blocks.extend(image("meanfield.png", "test accuracy with 6 ξ_c"));
    blocks.push(Block::Text(tables.bound.clone()));
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_six_xi_staircase_runs_on_cell_edges_and_keeps_each_cell_whole() {
        let depths = [2.0, 4.0, 8.0];
        let x_edges = [0.0, 1.0, 2.0, 3.0];
        let y_edges = [1.4, 2.8, 5.7, 11.3];
        // column 0: no depth ≤ 1.5; column 1: 2 and 4 ≤ 5; column 2: all ≤ ∞
        let steps = six_xi_steps(&[1.5, 5.0, f64::INFINITY], &depths, &x_edges, &y_edges);
        assert_eq!(
            steps,
            vec![
                (0.0, 1.4),
                (1.0, 1.4),
                (1.0, 5.7),
                (2.0, 5.7),
                (2.0, 11.3),
                (3.0, 11.3)
            ]
        );
        // every y is an edge, so no cell is crossed
        assert!(steps.iter().all(|(_, y)| y_edges.contains(y)));
    }
    use crate::base::output::chart::heatmap::{ColourScale, NEUTRAL};

    #[test]
    fn the_depth_grid_is_log_spaced_and_tests_the_chaotic_side() {
        for full in [false, true] {
            let (depths, sigmas) = grid(full);
            assert_eq!(depths[0], 2);
            assert!(depths.windows(2).all(|w| w[1] == 2 * w[0]), "{depths:?}");
            assert_eq!(*depths.last().unwrap(), if full { 256 } else { 128 });
            // Several σ_w² on each side of the critical 1.761 at σ_b² = 0.05.
            let below = sigmas.iter().filter(|w| **w < 1.761).count();
            let above = sigmas.iter().filter(|w| **w > 1.761).count();
            assert!(below >= 4 && above >= 4, "{sigmas:?}");
            assert_eq!((sigmas[0], *sigmas.last().unwrap()), (0.5, 4.0));
        }
        // The cells' edges are geometric means: each depth sits in the middle of its cell on
        // a log axis.
        let e = log_edges_around(&[2.0, 4.0, 8.0]);
        let want = [2f64.sqrt(), 8f64.sqrt(), 32f64.sqrt(), 128f64.sqrt()];
        assert!(
            e.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{e:?}"
        );
        assert_eq!(panel_epochs(10), vec![1, 3, 10]);
        assert_eq!(panel_epochs(3), vec![1, 3]);
        assert_eq!(panel_epochs(1), vec![1]);
    }

    #[test]
    fn the_default_fits_its_bound_and_full_does_more() {
        let config = StudyConfig::new(STUDY);
        assert_eq!(config.seeds.len(), 2);
        let b = budget(&config);
        // 7 depths × 15 σ_w² × 2 seeds, 2,000 steps each.
        assert_eq!((b.runs, b.steps), (210, 2000));
        let bound = DEFAULT_BOUND_MINUTES * 60.0 * 2.0 * MAC_PER_CORE_SECOND;
        assert!(b.multiply_adds < bound, "{b:?} vs {bound:e}");
        assert!(
            b.minutes_on_two_cores() < DEFAULT_BOUND_MINUTES,
            "{}",
            b.sentence()
        );
        let (default, full) = budgets();
        assert_eq!(default, b);
        assert!(full.multiply_adds > 10.0 * b.multiply_adds && full.runs > b.runs);
        let text = Meanfield.deviations(&config, &SharedPhrases::of(&config));
        assert!(
            text.contains("Fig. 5") && !text.contains("Fig. 6"),
            "{text}"
        );
        assert!(text.contains(&default.sentence()) && text.contains(&full.sentence()));
    }

    #[test]
    fn chi_one_is_drawn_neutral_and_the_named_inits_are_marked() {
        let scale = ColourScale::Diverging { centre: 1.0 };
        for range in [(0.0, 2.0), (0.0, 3.0), (0.5, 1.2)] {
            assert_eq!(scale.colour(1.0, range), NEUTRAL, "{range:?}");
            assert!(
                scale.colour(0.9, range).2 > scale.colour(0.9, range).0,
                "blue below"
            );
            assert!(
                scale.colour(1.1, range).0 > scale.colour(1.1, range).2,
                "red above"
            );
        }
        let gh = GaussHermite::default_rule();
        let named = named_at_torch_bias(&gh, 64).unwrap();
        let style = phase_style(&named, 1.761);
        assert_eq!(style.scale, scale);
        assert!(style.legend_outside);
        // The three named inits, the critical point at torch's bias, the grid's critical point.
        assert_eq!(style.points.len(), 5);
        assert!((style.points[0].0 - 1.0 / 3.0).abs() < 1e-12);
        assert!((style.points[1].1 - 1.0 / 192.0).abs() < 1e-12);
        assert!((style.points[2].0 - named.critical).abs() < 1e-12);
        assert!((style.points[3].0 - 25.0 / 9.0).abs() < 1e-12);
        let xi = depth_scales(&gh, 1.761, &named).unwrap();
        assert_eq!(xi.points.len(), 3);
    }
}
