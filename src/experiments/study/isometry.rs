//! Saxe et al. (2014) and Pennington, Schoenholz & Ganguli (2017): dynamical isometry. Gaussian
//! and scaled-orthogonal weights at criticality side by side — the singular values of the
//! input-output Jacobian at init over depth ([`crate::base::nn::isometry`]), then the same tanh
//! nets trained with SGD at a few depths.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::base::nn::isometry::{
    input_variance, jacobian_spectra, JacobianNet, SpectrumStats, Transfer, WeightDraw, RESOLVED,
};
use crate::base::nn::meanfield::{self as theory, GaussHermite};
use crate::base::nn::model::BiasInit;
use crate::base::nn::scheme::{Activation, InitScheme, MeanFieldParams};
use crate::base::optim::OptimizerKind;
use crate::base::output::chart::panel::{panels_chart, Panel};
use crate::base::output::chart::series::Series;
use crate::base::output::io;
use crate::base::output::table::Table;
use crate::engine::executor::RunResult;
use crate::engine::rundir::RunStatus;
use crate::experiments::report_html::{self, Block};
use crate::experiments::study::summary::{self, total_time};
use crate::experiments::study::{hidden, Preset, SharedPhrases, Study, StudyConfig, StudyPart};

/// The study on the command line: `initlab study isometry`.
pub const STUDY: Study = Study(&Isometry);

/// σ_b² of the tanh nets (as the mean-field study's): the critical σ_w² is computed at it.
pub const SIGMA_B2: f64 = 0.05;

/// Gaussian vs orthogonal weights at criticality: Jacobian spectra and learning speed over depth.
#[derive(Debug, Clone, Copy)]
pub struct Isometry;

/// The spectrum half's settings; `Default` is the 2-core preset.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumPlan {
    /// Units per layer of the Jacobian nets.
    pub width: i64,
    /// Depths (layers) at which the spectrum is taken, ascending.
    pub depths: Vec<usize>,
    /// Input points per net (each gives `width` singular values).
    pub points: i64,
    /// Seed of each net's draw.
    pub seed: i64,
}

impl Default for SpectrumPlan {
    fn default() -> Self {
        SpectrumPlan {
            width: 256,
            depths: vec![2, 4, 8, 16, 32, 64],
            points: 4,
            seed: 1,
        }
    }
}

impl SpectrumPlan {
    /// The preset, `--full` (width 512, depths to 128, 8 points) or the 2-core default; the
    /// study's `--width` overrides the width.
    pub fn of(config: &StudyConfig) -> Self {
        let base = if config.full {
            SpectrumPlan {
                width: 512,
                depths: vec![2, 4, 8, 16, 32, 64, 128],
                points: 8,
                ..SpectrumPlan::default()
            }
        } else {
            SpectrumPlan::default()
        };
        SpectrumPlan {
            width: config.width.unwrap_or(base.width),
            ..base
        }
    }
}

/// The training half's settings; `Default` is the 2-core preset.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainPlan {
    /// Hidden tanh layers of each trained net.
    pub depths: Vec<usize>,
    /// Hidden width.
    pub width: i64,
    /// Epochs: the test error is read after each, i.e. every `images / 100` SGD steps.
    pub epochs: usize,
    /// Training images per epoch.
    pub images: Option<i64>,
    /// SGD's learning rate (the mean-field study's).
    pub learning_rate: f64,
}

impl Default for TrainPlan {
    fn default() -> Self {
        TrainPlan {
            depths: vec![4, 16, 32],
            width: 128,
            epochs: 4,
            images: Some(5_000),
            learning_rate: 0.01,
        }
    }
}

impl TrainPlan {
    /// The preset, `--full` (width 256, 5 epochs of 60,000) or the 2-core default, the study's
    /// overrides applied.
    pub fn of(config: &StudyConfig) -> Self {
        let base = if config.full {
            TrainPlan {
                width: 256,
                epochs: 5,
                images: None,
                ..TrainPlan::default()
            }
        } else {
            TrainPlan::default()
        };
        TrainPlan {
            width: config.width.unwrap_or(base.width),
            epochs: config.epochs.unwrap_or(base.epochs),
            images: config.train_limit.or(base.images),
            ..base
        }
    }
}

/// The critical σ_w² of tanh at [`SIGMA_B2`] by the mean-field code (χ₁ = 1).
pub fn critical_sigma_w2() -> Result<f64> {
    theory::critical_sigma_w2(&GaussHermite::default_rule(), SIGMA_B2)
}

/// The two inits trained at each depth: Gaussian and orthogonal at the critical point (rounded to
/// millionths, as [`MeanFieldParams`] stores it).
pub fn critical_inits() -> Result<[InitScheme; 2]> {
    let p = MeanFieldParams::new(critical_sigma_w2()?, SIGMA_B2)?;
    Ok([
        InitScheme::MeanField(p),
        InitScheme::MeanField(p.with_orthogonal()),
    ])
}

/// Gaussian or orthogonal, for the study's labels.
fn draw_of(init: InitScheme) -> WeightDraw {
    match init {
        InitScheme::MeanField(p) if p.orthogonal => WeightDraw::Orthogonal,
        _ => WeightDraw::Gaussian,
    }
}

impl Preset for Isometry {
    fn name(&self) -> &'static str {
        "isometry"
    }

    fn title(&self) -> String {
        "Dynamical isometry: Gaussian vs orthogonal weights at criticality (tanh, SGD)".into()
    }

    fn bias(&self) -> BiasInit {
        BiasInit::TorchDefault
    }

    fn validation(&self) -> i64 {
        0
    }

    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart> {
        let t = TrainPlan::of(config);
        let Ok(inits) = critical_inits() else {
            return Vec::new();
        };
        t.depths
            .iter()
            .map(|&depth| {
                let labels = inits
                    .iter()
                    .map(|&i| (i, format!("depth {depth} {}", draw_of(i).name())))
                    .collect();
                let mut train = config.train(OptimizerKind::Sgd, t.learning_rate, t.epochs, None);
                train.train_limit = t.images;
                config.part(
                    format!("depth{depth}"),
                    hidden(depth, t.width),
                    Activation::Tanh,
                    labels,
                    train,
                )
            })
            .collect()
    }

    fn deviations(&self, _config: &StudyConfig, shared: &SharedPhrases) -> String {
        let SharedPhrases {
            validation, budget, ..
        } = shared;
        format!(
            "Deviations from Pennington, Schoenholz & Ganguli (2017): their spectra are of width-1000 nets \
             with free-probability predictions beside them, here width 256 (`--full`: 512) and measured \
             only; their training is CIFAR-10 over many thousands of steps with tuned learning rates, here \
             MNIST with SGD at one learning rate, {budget}; the tanh nets sit at σ_b² = {SIGMA_B2} (q* is \
             not small, so orthogonal weights reach only approximate isometry); {validation}."
        )
    }

    /// The Jacobian spectra, the chart (`isometry.png`, `.svg`), `spectrum.csv`, `training.csv`,
    /// `summary.md` and `report.html`.
    fn write_outputs(
        &self,
        config: &StudyConfig,
        parts: &[(StudyPart, Vec<RunResult>)],
    ) -> Result<()> {
        let critical = critical_sigma_w2()?;
        let plan = SpectrumPlan::of(config);
        let spectra = spectrum_rows(&plan, critical)?;
        let trained = training_rows(parts);
        let out = &config.out_dir;
        let panels = chart_panels(&spectra, &trained, critical);
        let title = self.title();
        panels_chart(&panels, &title, &config.chart_path())?;
        panels_chart(&panels, &title, &out.join("isometry.svg"))?;
        io::write_atomic(
            &out.join("spectrum.csv"),
            spectrum_csv(&plan, &spectra).as_bytes(),
        )?;
        io::write_atomic(&out.join("training.csv"), training_csv(&trained).as_bytes())?;
        let tables = IsometryTables::of(&plan, critical, &spectra, &trained);
        let md = summary_markdown(config, parts, &tables);
        io::write_atomic(&config.summary_path(), md.as_bytes())?;
        let report = summary::html_report(config, parts, html_blocks(out, &tables));
        report_html::write(&report, &config.html_path())
    }
}

/// One net family of the spectrum half: its nonlinearity and variances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Case {
    /// tanh or linear.
    pub transfer: Transfer,
    /// σ_w².
    pub sigma_w2: f64,
    /// σ_b².
    pub sigma_b2: f64,
}

/// The two families: tanh at the critical σ_w² for σ_b² = [`SIGMA_B2`], and a linear net at
/// σ_w² = 1, σ_b² = 0 (where orthogonal weights give an exact isometry).
pub fn cases(critical: f64) -> [Case; 2] {
    [
        Case {
            transfer: Transfer::Tanh,
            sigma_w2: critical,
            sigma_b2: SIGMA_B2,
        },
        Case {
            transfer: Transfer::Linear,
            sigma_w2: 1.0,
            sigma_b2: 0.0,
        },
    ]
}

/// The spectrum of one (case, weights, depth).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumRow {
    /// The net family.
    pub case: Case,
    /// Gaussian or orthogonal.
    pub weights: WeightDraw,
    /// Layers.
    pub depth: usize,
    /// What the study reports of its singular values.
    pub stats: SpectrumStats,
}

/// The Jacobian net of `case` with `weights` under `plan`, its inputs at the fixed point q*
/// (tanh) or of unit variance (linear).
fn jacobian_net(plan: &SpectrumPlan, case: Case, weights: WeightDraw) -> Result<JacobianNet> {
    let q = match case.transfer {
        Transfer::Tanh => {
            theory::q_star(&GaussHermite::default_rule(), case.sigma_w2, case.sigma_b2)?
        }
        Transfer::Linear => case.sigma_w2 + case.sigma_b2,
    };
    Ok(JacobianNet {
        transfer: case.transfer,
        weights,
        sigma_w2: case.sigma_w2,
        sigma_b2: case.sigma_b2,
        width: plan.width,
        input_variance: input_variance(q, case.sigma_w2, case.sigma_b2),
    })
}

/// Every spectrum of the study: each case, each weight draw (one net, seeded), each depth.
pub fn spectrum_rows(plan: &SpectrumPlan, critical: f64) -> Result<Vec<SpectrumRow>> {
    let mut rows = Vec::new();
    for case in cases(critical) {
        for weights in [WeightDraw::Gaussian, WeightDraw::Orthogonal] {
            tch::manual_seed(plan.seed);
            let net = jacobian_net(plan, case, weights)?;
            for (depth, values) in jacobian_spectra(&net, &plan.depths, plan.points)? {
                rows.push(SpectrumRow {
                    case,
                    weights,
                    depth,
                    stats: SpectrumStats::of(&values),
                });
            }
        }
    }
    Ok(rows)
}

/// One trained net's test error after each epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainedRow {
    /// Hidden tanh layers.
    pub depth: usize,
    /// Gaussian or orthogonal.
    pub weights: WeightDraw,
    /// Seed.
    pub seed: i64,
    /// `(SGD steps, test error %)` after each epoch; empty if the run diverged.
    pub errors: Vec<(i64, f64)>,
}

impl TrainedRow {
    /// The last test error (NaN if none).
    pub fn last_error(&self) -> f64 {
        self.errors.last().map_or(f64::NAN, |e| e.1)
    }
}

/// Every run's test error after each epoch, part by part.
pub fn training_rows(parts: &[(StudyPart, Vec<RunResult>)]) -> Vec<TrainedRow> {
    let mut rows = Vec::new();
    for (p, runs) in parts {
        let t = &p.compare.train;
        let steps = t.train_limit.unwrap_or(60_000) / t.batch_size;
        for r in runs {
            let spec = &r.run.spec;
            let errors = match r.status {
                RunStatus::Diverged => Vec::new(),
                _ => (r.history.epochs.iter())
                    .map(|e| (e.epoch as i64 * steps, 100.0 * (1.0 - e.test_accuracy)))
                    .collect(),
            };
            rows.push(TrainedRow {
                depth: p.compare.widths.0.len() - 2,
                weights: draw_of(spec.model.init),
                seed: spec.train.seed,
                errors,
            });
        }
    }
    rows
}

/// `(SGD steps, test error %)` after each epoch.
type Curve = Vec<(i64, f64)>;

/// Picks one point of a curve (its first or last).
type Pick = fn(&[(i64, f64)]) -> Option<&(i64, f64)>;

/// The two weight draws, Gaussian first.
const DRAWS: [WeightDraw; 2] = [WeightDraw::Gaussian, WeightDraw::Orthogonal];

/// A case in words: `tanh, σ_w² = 1.761, σ_b² = 0.05`.
fn case_words(case: Case) -> String {
    format!(
        "{}, σ_w² = {:.3}, σ_b² = {}",
        case.transfer.name(),
        case.sigma_w2,
        case.sigma_b2
    )
}

/// One spectrum panel: per weight draw the median singular value with its 5–95 % band over
/// depth, and the largest singular value dashed.
fn spectrum_panel(rows: &[SpectrumRow], case: Case) -> Panel {
    let of = |w: WeightDraw| -> Vec<&SpectrumRow> {
        (rows.iter())
            .filter(|r| r.case == case && r.weights == w)
            .collect()
    };
    let series = DRAWS
        .iter()
        .map(|&w| Series {
            label: format!("{} (median; band 5–95 %)", w.name()),
            points: of(w)
                .iter()
                .map(|r| (r.depth as f64, r.stats.p50))
                .collect(),
            band: (of(w).iter())
                .map(|r| (r.depth as f64, r.stats.p05.max(RESOLVED), r.stats.p95))
                .collect(),
        })
        .collect();
    let dashed = DRAWS
        .iter()
        .map(|&w| {
            let points = of(w)
                .iter()
                .map(|r| (r.depth as f64, r.stats.max))
                .collect();
            Series::line(format!("{} largest", w.name()), points)
        })
        .collect();
    Panel {
        title: case_words(case),
        x_desc: "depth (layers)".into(),
        y_desc: "singular values σ of the Jacobian at init (cut at 1e-14)".into(),
        series,
        log_y: true,
        dashed,
        ..Default::default()
    }
}

/// The mean over seeds of the test error after each step count, per (depth, weight draw):
/// `(depth, draw, [(steps, error %)])`, NaN where a seed diverged.
fn mean_errors(trained: &[TrainedRow]) -> Vec<(usize, WeightDraw, Curve)> {
    let mut keys: Vec<(usize, WeightDraw)> = Vec::new();
    for r in trained {
        if !keys.contains(&(r.depth, r.weights)) {
            keys.push((r.depth, r.weights));
        }
    }
    let steps: Vec<i64> = (trained.iter())
        .max_by_key(|r| r.errors.len())
        .map(|r| r.errors.iter().map(|e| e.0).collect())
        .unwrap_or_default();
    keys.into_iter()
        .map(|(d, w)| {
            let runs: Vec<&TrainedRow> = (trained.iter())
                .filter(|r| r.depth == d && r.weights == w)
                .collect();
            let errors = (steps.iter().enumerate())
                .map(|(k, &s)| {
                    let at = |r: &&TrainedRow| r.errors.get(k).map_or(f64::NAN, |e| e.1);
                    (s, runs.iter().map(at).sum::<f64>() / runs.len() as f64)
                })
                .collect();
            (d, w, errors)
        })
        .collect()
}

/// The error panel: per weight draw the test error after the last step over depth, the error
/// after the first epoch dashed.
fn error_panel(trained: &[TrainedRow]) -> Panel {
    let means = mean_errors(trained);
    let at = |w: WeightDraw, pick: Pick| -> Vec<(f64, f64)> {
        (means.iter())
            .filter(|m| m.1 == w)
            .filter_map(|m| pick(&m.2).map(|e| (m.0 as f64, e.1)))
            .collect()
    };
    let steps = |pick: Pick| means.first().and_then(|m| pick(&m.2)).map_or(0, |e| e.0);
    let (first, last) = (steps(<[_]>::first), steps(<[_]>::last));
    // One line per weight draw, its errors as `pick` reads them.
    let lines = |label: &dyn Fn(WeightDraw) -> String, pick: Pick| -> Vec<Series> {
        (DRAWS.iter())
            .map(|&w| Series::line(label(w), at(w, pick)))
            .collect()
    };
    Panel {
        title: format!("Test error after {last} SGD steps (dashed: after {first})"),
        x_desc: "depth (hidden tanh layers)".into(),
        y_desc: "test error % (log scale)".into(),
        series: lines(
            &|w| format!("{} (after {last} steps)", w.name()),
            <[_]>::last,
        ),
        log_y: true,
        dashed: lines(
            &|w| format!("{} after {first} steps", w.name()),
            <[_]>::first,
        ),
        ..Default::default()
    }
}

/// The chart's panels: the spectrum of each case, then the test error over depth.
fn chart_panels(spectra: &[SpectrumRow], trained: &[TrainedRow], critical: f64) -> Vec<Panel> {
    let mut panels: Vec<Panel> = (cases(critical).into_iter())
        .map(|c| spectrum_panel(spectra, c))
        .collect();
    if !trained.is_empty() {
        panels.push(error_panel(trained));
    }
    panels
}

/// `spectrum.csv`: one line per (case, weights, depth).
fn spectrum_csv(plan: &SpectrumPlan, rows: &[SpectrumRow]) -> String {
    let mut csv = String::from(
        "activation,sigma_w2,sigma_b2,weights,depth,width,points,mean_sq,var_sq,max,p05,p50,p95\n",
    );
    for r in rows {
        let s = &r.stats;
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.case.transfer.name(),
            r.case.sigma_w2,
            r.case.sigma_b2,
            r.weights.name(),
            r.depth,
            plan.width,
            plan.points,
            s.mean_sq,
            s.var_sq,
            s.max,
            s.p05,
            s.p50,
            s.p95
        );
    }
    csv
}

/// `training.csv`: one line per run and epoch (no lines for a diverged run).
fn training_csv(rows: &[TrainedRow]) -> String {
    let mut csv = String::from("depth,weights,seed,steps,test_error_percent\n");
    for r in rows {
        for (steps, error) in &r.errors {
            let _ = writeln!(
                csv,
                "{},{},{},{steps},{error}",
                r.depth,
                r.weights.name(),
                r.seed
            );
        }
    }
    csv
}

/// The study's tables and findings, shared by `summary.md` and `report.html`.
#[derive(Debug, Clone)]
pub struct IsometryTables {
    /// The critical point and the spectrum budget in a sentence.
    pub critical: String,
    /// Per case, weights and depth: mean and variance of λ², largest σ, percentiles, decades.
    pub spectrum: Table,
    /// What the spectra show at the deepest depth, in sentences.
    pub spectrum_finding: String,
    /// Test error % per depth and weights after each step count (mean over seeds).
    pub training: Table,
    /// What the training budget can and cannot show.
    pub training_finding: String,
}

impl IsometryTables {
    fn of(
        plan: &SpectrumPlan,
        critical: f64,
        spectra: &[SpectrumRow],
        trained: &[TrainedRow],
    ) -> Self {
        IsometryTables {
            critical: format!(
                "**Critical point:** for tanh at σ_b² = {SIGMA_B2} the mean-field code puts χ₁ = 1 at \
                 **σ_w² = {critical:.6}**. Spectra: one net per row group, width {}, {} input points \
                 ({} singular values per depth), seed {}.",
                plan.width,
                plan.points,
                plan.width * plan.points,
                plan.seed
            ),
            spectrum: spectrum_table(spectra),
            spectrum_finding: spectrum_finding(spectra, critical),
            training: training_table(trained),
            training_finding: training_finding(trained),
        }
    }
}

/// Per case, weights and depth: mean and variance of λ², largest σ, percentiles of σ, and the
/// 5–95 % spread in decades.
fn spectrum_table(rows: &[SpectrumRow]) -> Table {
    let mut table = Table::new(&[
        ("net", false),
        ("weights", false),
        ("depth", true),
        ("mean λ²", true),
        ("var λ²", true),
        ("largest σ", true),
        ("σ 5 %", true),
        ("σ median", true),
        ("σ 95 %", true),
        ("decades 5–95 %", true),
    ]);
    for r in rows {
        let s = &r.stats;
        table.push(vec![
            case_words(r.case).into(),
            r.weights.name().into(),
            r.depth.to_string().into(),
            format!("{:.3}", s.mean_sq).into(),
            format!("{:.3}", s.var_sq).into(),
            format!("{:.3}", s.max).into(),
            if s.p05 < RESOLVED {
                format!("≤ {RESOLVED:.0e}").into()
            } else {
                format!("{:.3e}", s.p05).into()
            },
            format!("{:.3e}", s.p50).into(),
            format!("{:.3}", s.p95).into(),
            match s.decades() {
                (d, true) => format!("> {d:.1}").into(),
                (d, false) => format!("{d:.2}").into(),
            },
        ]);
    }
    table
}

/// What the spectra show at the deepest depth: per case, Gaussian beside orthogonal.
fn spectrum_finding(rows: &[SpectrumRow], critical: f64) -> String {
    let deepest = rows.iter().map(|r| r.depth).max().unwrap_or(0);
    let mut text = format!("**At depth {deepest}:** ");
    for case in cases(critical) {
        let at = |w: WeightDraw| {
            rows.iter()
                .find(|r| r.case == case && r.weights == w && r.depth == deepest)
        };
        if let (Some(g), Some(o)) = (at(WeightDraw::Gaussian), at(WeightDraw::Orthogonal)) {
            let _ = write!(
                text,
                "{}: mean λ² {:.2} (Gaussian) and {:.2} (orthogonal); var λ² {:.2} against {:.3}; \
                 largest σ {:.2} against {:.2}; median σ {:.1e} against {:.1e}. ",
                case_words(case),
                g.stats.mean_sq,
                o.stats.mean_sq,
                g.stats.var_sq,
                o.stats.var_sq,
                g.stats.max,
                o.stats.max,
                g.stats.p50,
                o.stats.p50
            );
        }
    }
    let _ = write!(
        text,
        "Pennington et al. (2017): at χ₁ = 1 the mean of λ² stays near 1 for both, the variance grows \
         linearly with depth for Gaussian weights and far more slowly for orthogonal ones (exactly 0 in \
         the linear net). A 5 % quantile below {RESOLVED:.0e} is zero to f64 precision (SVD \
         resolves σ down to about ε·σ_max): the table writes `≤ {RESOLVED:.0e}` and the chart cuts the \
         band there, so the Gaussian nets' true spread is wider than drawn."
    );
    text
}

/// Test error % per depth and weights after each step count (mean over seeds; `div` where a
/// seed diverged).
fn training_table(trained: &[TrainedRow]) -> Table {
    let means = mean_errors(trained);
    let steps: Vec<String> = (means.first().map(|m| m.2.as_slice()))
        .unwrap_or_default()
        .iter()
        .map(|e| format!("after {} steps", e.0))
        .collect();
    let mut columns: Vec<(&str, bool)> = vec![("depth", true), ("weights", false)];
    columns.extend(steps.iter().map(|s| (s.as_str(), true)));
    let mut table = Table::new(&columns);
    for (depth, w, errors) in &means {
        let mut cells = vec![depth.to_string().into(), w.name().into()];
        cells.extend(errors.iter().map(|e| {
            if e.1.is_finite() {
                format!("{:.1}", e.1).into()
            } else {
                "div".into()
            }
        }));
        table.push(cells);
    }
    table
}

/// The training half's finding: the orthogonal minus Gaussian error after the last step per
/// depth, and what so small a budget can and cannot show.
fn training_finding(trained: &[TrainedRow]) -> String {
    let means = mean_errors(trained);
    let last = |d: usize, w: WeightDraw| {
        (means.iter())
            .find(|m| m.0 == d && m.1 == w)
            .and_then(|m| m.2.last().copied())
    };
    let mut depths: Vec<usize> = means.iter().map(|m| m.0).collect();
    depths.dedup();
    let diffs: Vec<String> = (depths.iter())
        .filter_map(|&d| {
            let (g, o) = (
                last(d, WeightDraw::Gaussian)?,
                last(d, WeightDraw::Orthogonal)?,
            );
            Some(format!(
                "depth {d}: {:+.1} points after {} steps",
                o.1 - g.1,
                o.0
            ))
        })
        .collect();
    let seeds = (trained.iter().map(|r| r.seed)).collect::<std::collections::BTreeSet<_>>();
    let seeds = match seeds.len() {
        1 => "one seed gives no interval (run with `--seeds 3` or more)".to_string(),
        n => format!(
            "{n} seeds give wide intervals and a Welch p that rarely reaches the 0.005 mark (see \
             \"Over {n} seeds\")"
        ),
    };
    let diffs = if diffs.is_empty() {
        "no runs".to_string()
    } else {
        diffs.join("; ")
    };
    format!(
        "**Orthogonal minus Gaussian test error** (mean over seeds) — {diffs}. What this budget can \
         show: whether, at the same σ_w² and σ_b², orthogonal weights are ahead after the same few \
         SGD steps and whether the gap widens with depth. What it cannot: {seeds}; a few hundred steps \
         at one learning rate say nothing of the final error; and Pennington et al.'s speed-up \
         (learning in a depth-independent number of steps) needs a small q* (σ_b² near 0) and \
         learning rates tuned per depth."
    )
}

/// `summary.md`: the command and papers, the critical point, the chart, the spectrum table and
/// finding, the training table and finding, the deviations, the time.
fn summary_markdown(
    config: &StudyConfig,
    parts: &[(StudyPart, Vec<RunResult>)],
    tables: &IsometryTables,
) -> String {
    let mut md = format!("# {}\n\n", Isometry.title());
    let _ = writeln!(
        md,
        "Command: `{}`. Saxe, McClelland & Ganguli (2014), \"Exact solutions to \
         the nonlinear dynamics of learning in deep linear neural networks\"; Pennington, Schoenholz & \
         Ganguli (2017), \"Resurrecting the sigmoid in deep learning through dynamical isometry\". \
         Jacobian J = D_L W_L ⋯ D_1 W_1 built in f64 at init, its singular values σ (λ² = σ²) by \
         `torch.svd(J, compute_uv=False)`; Gaussian weights N(0, σ_w²/N) (`normal_`), orthogonal σ_w · Q \
         (`orthogonal_`), biases N(0, σ_b²).\n",
        summary::command_line(config),
    );
    let _ = writeln!(md, "{}\n", tables.critical);
    let _ = writeln!(md, "![isometry](isometry.png)\n");
    let _ = writeln!(md, "## Jacobian spectra at init\n");
    md.push_str(&tables.spectrum.markdown());
    let _ = writeln!(md, "\n{}\n", tables.spectrum_finding);
    let _ = writeln!(md, "## Learning speed over depth\n");
    md.push_str(&tables.training.markdown());
    let _ = writeln!(md, "\n{}\n", tables.training_finding);
    let _ = writeln!(md, "{}\n", super::deviations(config));
    md.push_str(&summary::runs_table(config, parts).markdown());
    let _ = writeln!(md, "\n{}", total_time(parts));
    if config.seeds.len() > 1 {
        md.push_str(&summary::seeds_markdown(config, parts));
    }
    md.push_str(&summary::machines_markdown(parts));
    md
}

/// The report page's blocks: the critical point, the chart, both tables and their findings.
fn html_blocks(out: &Path, tables: &IsometryTables) -> Vec<Block> {
    let mut blocks = vec![Block::Text(tables.critical.clone())];
    if out.join("isometry.png").is_file() {
        blocks.push(Block::Image {
            path: PathBuf::from("isometry.png"),
            alt: "Jacobian spectra and test error over depth".into(),
        });
    }
    blocks.extend([
        Block::Heading("Jacobian spectra at init".into()),
        Block::Table(tables.spectrum.clone()),
        Block::Text(tables.spectrum_finding.clone()),
        Block::Heading("Learning speed over depth (test error %)".into()),
        Block::Table(tables.training.clone()),
        Block::Text(tables.training_finding.clone()),
    ]);
    blocks
}
