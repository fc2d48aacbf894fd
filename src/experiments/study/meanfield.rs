//! Poole et al. (2016) and Schoenholz et al. (2017): the order-to-chaos phase diagram of tanh nets
//! computed ([`crate::base::nn::meanfield`]), then a grid of depth × σ_w² trained with SGD and its
//! test accuracy drawn under the 6 ξ_c line.

use crate::base::nn::meanfield::chart::curve_chart;
use crate::base::nn::meanfield::chart::heatmap_chart;
use crate::base::nn::meanfield::chart::CurveChart;
use crate::base::output::chart::heatmap::edges_around;
use crate::base::output::chart::heatmap::Heatmap;
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

/// Mean-field theory beside experiment: the phase diagram, ξ_c, and a depth × σ_w² grid.
#[derive(Debug, Clone, Copy)]
pub struct Meanfield;

/// The mean-field study's grid: numbers of hidden tanh layers (depths) and σ_w² values.
pub fn grid(full: bool) -> (Vec<usize>, Vec<f64>) {
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

    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart> {
        let full = config.full;
        let width = config.width.unwrap_or(if full { 300 } else { 64 });
        // 1 epoch of 15,000 images at batch 100: 150 SGD steps per net (5 epochs of 60,000
        // when --full).
        let (epochs, limit) = if full { (5, None) } else { (1, Some(15_000)) };
        let (depths, sigmas) = grid(full);
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
                    config.train(OptimizerKind::Sgd, 0.01, epochs, limit),
                )
            })
            .collect()
    }

    fn deviations(&self, _config: &StudyConfig, shared: &SharedPhrases) -> String {
        let SharedPhrases {
            validation, budget, ..
        } = shared;
        format!(
            "Deviations from Schoenholz et al. (2017), Fig. 6: {budget}, narrower nets and at most 32 layers on the \
             2-core budget (`--full`: depths 10–100, width 300); biases N(0, σ_b²) as in the paper; {validation}."
        )
    }

    /// The theory's charts (`phase.png`, `xi.png`), the accuracy heatmap with 6 ξ_c
    /// (`meanfield.png`, `.svg`), then `summary.md` and `report.html` with the theory and grid
    /// tables.
    fn write_outputs(
        &self,
        config: &StudyConfig,
        parts: &[(StudyPart, Vec<RunResult>)],
    ) -> Result<()> {
        let gh = GaussHermite::default_rule();
        let critical = theory::critical_sigma_w2(&gh, SIGMA_B2)?;
        let out = &config.out_dir;
        heatmap_chart(&phase_diagram(&gh)?, &out.join("phase.png"))?;
        curve_chart(&depth_scales(&gh, critical)?, &out.join("xi.png"))?;
        let trained = TrainedGrid::of(config, parts);
        let heat = accuracy_heatmap(&gh, &trained)?;
        heatmap_chart(&heat, &out.join("meanfield.png"))?;
        heatmap_chart(&heat, &out.join("meanfield.svg"))?;
        let tables = MeanfieldTables::of(&gh, critical, &trained)?;
        let md = summary_markdown(config, parts, &trained, &tables, gh.len());
        io::write_atomic(&config.summary_path(), md.as_bytes())?;
        let report = summary::html_report(config, parts, html_blocks(out, &tables));
        report_html::write(&report, &config.html_path())
    }
}

/// The phase diagram: χ₁ over σ_w² ∈ [0.5, 4], σ_b² ∈ [0, 0.3], and the line χ₁ = 1.
fn phase_diagram(gh: &GaussHermite) -> Result<Heatmap> {
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
        title: "Order-to-chaos phase diagram of tanh nets: χ₁ = σ_w² E[tanh′(√q* z)²]".into(),
        x_desc: "σ_w²".into(),
        y_desc: "σ_b²".into(),
        value_desc: "χ₁".into(),
        x_edges: (0..=nx).map(|i| 0.5 + 3.5 * i as f64 / nx as f64).collect(),
        y_edges: (0..=ny).map(|j| 0.3 * j as f64 / ny as f64).collect(),
        values: chi,
        range: (0.0, 2.0),
        annotate: None,
        lines: vec![Series {
            band: Vec::new(),
            label: "χ₁ = 1 (ordered left, chaotic right)".into(),
            points: line,
        }],
    })
}

/// ξ_c and ξ_q against σ_w² at σ_b² = [`SIGMA_B2`], the critical σ_w² marked.
fn depth_scales(gh: &GaussHermite, critical: f64) -> Result<CurveChart> {
    let sweep: Vec<theory::Propagation> = (0..=100)
        .map(|i| theory::propagation(gh, 0.5 + 3.5 * i as f64 / 100.0, SIGMA_B2))
        .collect::<Result<_>>()?;
    Ok(CurveChart {
        title: format!("Depth scales at σ_b² = {SIGMA_B2}: ξ_c diverges at the critical σ_w²"),
        x_desc: "σ_w²".into(),
        y_desc: "depth scale (layers, log scale)".into(),
        series: vec![
            Series {
                band: Vec::new(),
                label: "ξ_c (correlations)".into(),
                points: sweep.iter().map(|p| (p.sigma_w2, p.xi_c)).collect(),
            },
            Series {
                band: Vec::new(),
                label: "ξ_q (lengths)".into(),
                points: sweep.iter().map(|p| (p.sigma_w2, p.xi_q)).collect(),
            },
        ],
        markers: vec![(critical, format!("critical σ_w² = {critical:.3}"))],
    })
}

/// The trained grid: test accuracy by depth (rows) and σ_w² (columns), and the budget its nets
/// trained on.
struct TrainedGrid {
    /// The columns' σ_w².
    sigmas: Vec<f64>,
    /// The rows' depths (hidden tanh layers), one per part.
    depths: Vec<usize>,
    /// Final test accuracy per cell; NaN where the run diverged or is missing.
    values: Vec<Vec<f64>>,
    /// The parts' training settings (the first part's: every part shares them).
    train: TrainConfig,
    /// The hidden width.
    width: i64,
    /// Training images per epoch.
    images: i64,
    /// SGD steps per net.
    steps: i64,
}

impl TrainedGrid {
    fn of(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> Self {
        let (_, sigmas) = grid(config.full);
        let depths = parts
            .iter()
            .map(|(p, _)| p.compare.widths.0.len() - 2)
            .collect();
        let values = parts
            .iter()
            .map(|(_, runs)| sigmas.iter().map(|&w| cell_accuracy(runs, w)).collect())
            .collect();
        let train = parts
            .first()
            .map(|(p, _)| p.compare.train.clone())
            .unwrap_or_default();
        let width = parts
            .first()
            .map(|(p, _)| p.compare.widths.0[1])
            .unwrap_or_default();
        let images = train.train_limit.unwrap_or(60_000);
        let steps = train.epochs as i64 * (images / train.batch_size);
        TrainedGrid {
            sigmas,
            depths,
            values,
            train,
            width,
            images,
            steps,
        }
    }
}

/// The final test accuracy of the run with σ_w² = `w` among `runs` (NaN if it diverged or is
/// missing).
fn cell_accuracy(runs: &[RunResult], w: f64) -> f64 {
    let accuracy = |r: &RunResult| match r.status {
        RunStatus::Diverged => f64::NAN,
        _ => r
            .history
            .last()
            .map(|e| e.test_accuracy)
            .unwrap_or(f64::NAN),
    };
    runs.iter()
        .find(|r| match r.run.spec.model.init {
            InitScheme::MeanField(m) => (m.sigma_w2() - w).abs() < 1e-9,
            _ => false,
        })
        .map(accuracy)
        .unwrap_or(f64::NAN)
}

/// The trained grid's test accuracy as a heatmap under the line depth = 6 ξ_c.
fn accuracy_heatmap(gh: &GaussHermite, g: &TrainedGrid) -> Result<Heatmap> {
    let depth_f: Vec<f64> = g.depths.iter().map(|&d| d as f64).collect();
    let x_edges = edges_around(&g.sigmas);
    let y_edges = edges_around(&depth_f);
    let bound_line: Vec<(f64, f64)> = (0..=120)
        .map(|i| {
            let w = x_edges[0] + (x_edges[x_edges.len() - 1] - x_edges[0]) * i as f64 / 120.0;
            theory::propagation(gh, w, SIGMA_B2).map(|p| (w, 6.0 * p.xi_c))
        })
        .collect::<Result<_>>()?;
    Ok(Heatmap {
        title: format!(
            "Test accuracy of tanh nets, width {}, {} SGD steps (lr {}), σ_b² = {SIGMA_B2}",
            g.width, g.steps, g.train.learning_rate
        ),
        x_desc: "σ_w²".into(),
        y_desc: "depth (hidden layers)".into(),
        value_desc: "test accuracy".into(),
        x_edges,
        y_edges,
        values: g.values.clone(),
        range: (0.1, 1.0),
        annotate: Some((100.0, 0)),
        lines: vec![Series {
            band: Vec::new(),
            label: "6 ξ_c (Schoenholz et al. 2017)".into(),
            points: bound_line,
        }],
    })
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

impl MeanfieldTables {
    fn of(gh: &GaussHermite, critical: f64, g: &TrainedGrid) -> Result<Self> {
        let bound = bound_sentence(gh, g)?;
        Ok(MeanfieldTables {
            critical: format!(
                "**Critical point:** at σ_b² = {SIGMA_B2}, χ₁ = 1 at **σ_w² = {critical:.4}** \
                 (ordered below, chaotic above)."
            ),
            theory: theory_table(gh, &g.sigmas)?,
            grid: grid_table(g),
            bound,
        })
    }
}

/// How well 6 ξ_c separates the cells that trained from those that did not, in a sentence.
fn bound_sentence(gh: &GaussHermite, g: &TrainedGrid) -> Result<String> {
    let six_xi: Vec<f64> = g
        .sigmas
        .iter()
        .map(|&w| theory::propagation(gh, w, SIGMA_B2).map(|p| 6.0 * p.xi_c))
        .collect::<Result<_>>()?;
    let (mut below, mut below_ok, mut above, mut above_ok) = (0, 0, 0, 0);
    for (d, row) in g.depths.iter().zip(&g.values) {
        for (acc, bound) in row.iter().zip(&six_xi) {
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
    Ok(format!(
        "**How well 6 ξ_c bounds the trainable region** \
         (trained = test accuracy ≥ {:.0} %): of the {below} cells with depth ≤ 6 ξ_c, \
         {below_ok} trained ({}); of the {above} cells above the line, {above_ok} trained ({}).",
        100.0 * TRAINED_ACCURACY,
        pct(below_ok, below),
        pct(above_ok, above)
    ))
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
            w.to_string().into(),
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

/// Test accuracy % by depth (rows) and σ_w² (columns); `div` where a run diverged.
fn grid_table(g: &TrainedGrid) -> Table {
    let headers: Vec<String> = std::iter::once("depth".to_string())
        .chain(g.sigmas.iter().map(|w| format!("σ_w² {w}")))
        .collect();
    let columns: Vec<(&str, bool)> = headers.iter().map(|h| (h.as_str(), true)).collect();
    let mut table = Table::new(&columns);
    for (d, row) in g.depths.iter().zip(&g.values) {
        let mut cells: Vec<Cell> = vec![d.to_string().into()];
        for a in row {
            cells.push(if a.is_finite() {
                format!("{:.1}", 100.0 * a).into()
            } else {
                "div".into()
            });
        }
        table.push(cells);
    }
    table
}

/// `summary.md`: the command, the critical point, the theory's charts and table, the trained
/// grid with its budget, and the bound's score.
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
         with {nodes} nodes.\n",
        full_flag(config),
    );
    let _ = writeln!(md, "{}\n", tables.critical);
    let _ = writeln!(
        md,
        "![phase diagram](phase.png)\n\n![depth scales](xi.png)\n"
    );
    md.push_str(&tables.theory.markdown());
    let t = &g.train;
    let _ = writeln!(
        md,
        "\n## Trained grid\n\nWidth {}, {} epoch(s) of {} training images at batch {} \
         ({} SGD steps, lr {}), seed {}. Test accuracy (%), rows by depth (hidden tanh \
         layers), columns by σ_w²; `div` = diverged.\n",
        g.width, t.epochs, g.images, t.batch_size, g.steps, t.learning_rate, t.seed
    );
    md.push_str(&tables.grid.markdown());
    let _ = writeln!(
        md,
        "\n![accuracy with 6 ξ_c](meanfield.png)\n\n{}",
        tables.bound
    );
    let _ = writeln!(md, "\n{}", total_time(parts));
    md
}

/// The report page's mean-field blocks: the critical point, the theory table and charts, the
/// trained grid and its heatmap, the bound's score (pictures only where they were drawn).
fn html_blocks(out: &Path, tables: &MeanfieldTables) -> Vec<Block> {
    let image = |file: &str, alt: &str| {
        out.join(file).is_file().then(|| Block::Image {
            path: PathBuf::from(file),
            alt: alt.into(),
        })
    };
    let mut blocks = vec![
        Block::Text(tables.critical.clone()),
        Block::Table(tables.theory.clone()),
    ];
    blocks.extend(image("phase.png", "order-to-chaos phase diagram"));
    blocks.extend(image("xi.png", "depth scales"));
    blocks.push(Block::Heading("Trained grid (test accuracy %)".into()));
    blocks.push(Block::Table(tables.grid.clone()));
    blocks.extend(image("meanfield.png", "test accuracy with 6 ξ_c"));
    blocks.push(Block::Text(tables.bound.clone()));
    blocks
}
