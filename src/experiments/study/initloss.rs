//! "Fix the initial loss" (Karpathy, *Building makemore* part 3): a fresh classifier over 10
//! classes should score about `ln 10 = 2.302585`, uniform guessing; a net whose logits start large
//! scores far above it and spends its first steps only shrinking them (the loss curve's "hockey
//! stick"). Scaling the last layer ×0.01 and zeroing its bias
//! ([`LastLayerFix`]) brings the logits near 0. The lab's shallow net with Adam, under N(0,1),
//! Xavier and He, each as built and fixed; every step's loss is recorded. A teaching step after
//! the lab, not a paper's experiment.
//!
//! These runs train outside the executor (they change the init after the scheme, which a run's
//! spec cannot say), so the study has no parts; it trains in [`Preset::write_outputs_with`].

use std::fmt::Write as _;

use anyhow::{Context, Result};

use crate::base::data::mnist::Mnist;
use crate::base::nn::hook::DataDependentInit;
use crate::base::nn::last_layer::{uniform_loss, LastLayerFix};
use crate::base::nn::model::{BiasInit, MlpSpec, Widths};
use crate::base::nn::scheme::{Activation, InitScheme};
use crate::base::optim::OptimizerKind;
use crate::base::output::chart::panel::{panels_chart, Panel};
use crate::base::output::chart::series::Series;
use crate::base::output::io;
use crate::base::output::table::Table;
use crate::base::train::trainer::{EpochEnd, Step, Trainer};
use crate::base::train::{evaluate, TrainConfig};
use crate::engine::executor::RunResult;
use crate::experiments::report_html::{self, Block};
use crate::experiments::study::summary::{self, command_line};
use crate::experiments::study::{hidden, Preset, SharedPhrases, Study, StudyConfig, StudyPart};

/// The study on the command line: `initlab study initloss`.
pub const STUDY: Study = Study(&InitLoss);

/// The inits compared: the lab's N(0,1) (notebook 9-2), Xavier (9-3) and He.
pub const INITS: [InitScheme; 3] = [
    InitScheme::Normal,
    InitScheme::XavierUniform,
    InitScheme::KaimingNormal,
];

/// The lab's net with and without the last-layer fix, every step's loss.
#[derive(Debug, Clone, Copy)]
pub struct InitLoss;

/// The settings of the study's runs: the lab's shallow net and Adam, one epoch of every image
/// (600 steps) unless overridden; `--full` trains 3 epochs.
pub fn train_config(config: &StudyConfig) -> TrainConfig {
    let epochs = if config.full { 3 } else { 1 };
    TrainConfig {
        epochs: config.epochs.unwrap_or(epochs),
        train_limit: config.train_limit,
        optimizer: OptimizerKind::Adam,
        learning_rate: 0.001,
        validation: 0,
        seed: config
            .seeds
            .first()
            .copied()
            .unwrap_or(TrainConfig::default().seed),
        ..TrainConfig::default()
    }
}

/// The net: the lab's 784-256-256-10 ReLU, or two hidden layers of `--width`.
fn widths(config: &StudyConfig) -> Widths {
    config
        .width
        .map(|w| hidden(2, w))
        .unwrap_or_else(Widths::shallow)
}

/// One run: an init with or without the fix, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct LossCurve {
    /// The scheme.
    pub init: InitScheme,
    /// Whether the last layer was scaled ×0.01 with a zero bias.
    pub fixed: bool,
    /// The fresh net's mean loss on the whole test set, before any step.
    pub initial_test_loss: f64,
    /// Every step's batch loss (before its update), step 1 first; it stops at a diverged step.
    pub losses: Vec<f64>,
    /// Test error (%) after each epoch.
    pub test_error: Vec<f64>,
    /// Training seconds.
    pub seconds: f64,
}

impl LossCurve {
    /// The legend label: the init, and the fix when applied.
    pub fn label(&self) -> String {
        if self.fixed {
            format!("{}, last layer ×0.01", self.init)
        } else {
            self.init.to_string()
        }
    }

    /// Mean loss over steps `from..=to` (1-based, clipped to the steps taken).
    pub fn mean_loss(&self, from: usize, to: usize) -> Option<f64> {
        let to = to.min(self.losses.len());
        let from = from.max(1);
        (from <= to).then(|| self.losses[from - 1..to].iter().sum::<f64>() / (to + 1 - from) as f64)
    }
}

/// Trains `init` on the study's net, fixed or not, recording every step's loss.
pub fn run_curve(
    config: &StudyConfig,
    data: &Mnist,
    init: InitScheme,
    fixed: bool,
) -> Result<LossCurve> {
    let spec = MlpSpec {
        widths: widths(config),
        activation: Activation::Relu,
        init,
        bias: config.bias,
    };
    let train = train_config(config);
    let fix = LastLayerFix::default();
    let hook: Option<&dyn DataDependentInit> = if fixed { Some(&fix) } else { None };
    let mut trainer = Trainer::fresh(&spec, data, &train, hook, 0)
        .with_context(|| format!("study initloss: {init}"))?;
    let test = &data.test;
    let (initial_test_loss, _) =
        evaluate(&trainer.state().model, &test.images_unit(), &test.labels);
    let mut curve = LossCurve {
        init,
        fixed,
        initial_test_loss,
        losses: Vec::new(),
        test_error: Vec::new(),
        seconds: 0.0,
    };
    while !trainer.finished() {
        while trainer.batches_left() {
            match trainer.step()? {
                Step::Trained { loss, .. } => curve.losses.push(loss),
                Step::Diverged { loss, .. } => {
                    curve.losses.push(loss);
                    return Ok(curve);
                }
            }
        }
        match trainer.end_epoch()? {
            EpochEnd::Done(e) => {
                curve.test_error.push(e.test_error_percent());
                curve.seconds += e.seconds;
            }
            EpochEnd::Diverged { .. } => return Ok(curve),
        }
    }
    Ok(curve)
}

/// Every init as built and fixed, in that order per init.
pub fn run_curves(config: &StudyConfig, data: &Mnist) -> Result<Vec<LossCurve>> {
    let mut out = Vec::new();
    for init in INITS {
        for fixed in [false, true] {
            out.push(run_curve(config, data, init, fixed)?);
        }
    }
    Ok(out)
}

impl Preset for InitLoss {
    fn name(&self) -> &'static str {
        "initloss"
    }

    fn title(&self) -> String {
        "Fix the initial loss: the lab's net with its last layer ×0.01 (Adam)".into()
    }

    fn bias(&self) -> BiasInit {
        BiasInit::TorchDefault
    }

    fn validation(&self) -> i64 {
        0
    }

    fn parts(&self, _config: &StudyConfig) -> Vec<StudyPart> {
        Vec::new()
    }

    fn deviations(&self, config: &StudyConfig, shared: &SharedPhrases) -> String {
        let t = train_config(config);
        let images = t
            .train_limit
            .map_or("all 60,000".to_string(), |n| format!("the first {n}"));
        format!(
            "Not a paper's experiment: Karpathy's makemore part 3 fixes the initial loss of a character-level \
             MLP; here the lab's shallow net ({} ReLU) with the lab's Adam (lr 0.001, batch 100), {} epoch(s) \
             of {images} training images, seed {}; {}. The fix: after the init, the last layer's weights \
             ×0.01 and its bias 0. Uniform guessing over 10 classes scores ln 10 = {:.6}.",
            widths(config).compact(),
            t.epochs,
            t.seed,
            shared.bias,
            uniform_loss(10)
        )
    }

    fn write_outputs_with(
        &self,
        config: &StudyConfig,
        data: &Mnist,
        parts: &[(StudyPart, Vec<RunResult>)],
    ) -> Result<()> {
        let curves = run_curves(config, data)?;
        let title = self.title();
        let panels = chart_panels(&curves);
        panels_chart(&panels, &title, &config.chart_path())?;
        panels_chart(&panels, &title, &config.out_dir.join("initloss.svg"))?;
        io::write_atomic(
            &config.out_dir.join("losses.csv"),
            losses_csv(&curves).as_bytes(),
        )?;
        let table = curves_table(&curves);
        io::write_atomic(
            &config.summary_path(),
            summary_markdown(config, &curves, &table).as_bytes(),
        )?;
        let blocks = vec![
            Block::Image {
                path: "initloss.png".into(),
                alt: title,
            },
            Block::Table(table),
            Block::Text(finding(&curves)),
        ];
        let report = summary::html_report(config, parts, blocks);
        report_html::write(&report, &config.html_path())
    }
}

/// Two panels of every step's loss (log y): as built, and with the last layer fixed; one line per
/// init in the same colour in both, and a flat line at ln 10.
fn chart_panels(curves: &[LossCurve]) -> Vec<Panel> {
    let steps = curves
        .iter()
        .map(|c| c.losses.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let ln10 = Series::line(
        "ln 10 guide (a uniform guess)",
        vec![(1.0, uniform_loss(10)), (steps as f64, uniform_loss(10))],
    );
    [false, true]
        .into_iter()
        .map(|fixed| {
            let mut series: Vec<Series> = curves
                .iter()
                .filter(|c| c.fixed == fixed)
                .map(|c| {
                    let points = c
                        .losses
                        .iter()
                        .enumerate()
                        .filter(|(_, l)| l.is_finite() && **l > 0.0)
                        .map(|(k, &l)| ((k + 1) as f64, l))
                        .collect();
                    Series::line(c.init.to_string(), points)
                })
                .collect();
            series.push(ln10.clone());
            Panel {
                title: if fixed {
                    "last layer ×0.01, bias 0".into()
                } else {
                    "as built".into()
                },
                x_desc: "step (batch of 100)".into(),
                y_desc: "training loss (log scale)".into(),
                series,
                log_y: true,
                ..Panel::default()
            }
        })
        .collect()
}

/// Per run: the fresh net's test loss, the first step's, the mean of steps 1–10 and of the
/// last 50, and the test error after the last epoch.
fn curves_table(curves: &[LossCurve]) -> Table {
    let mut table = Table::new(&[
        ("init", false),
        ("last layer", false),
        ("test loss at init", true),
        ("loss, step 1", true),
        ("mean loss, steps 1–10", true),
        ("mean loss, last 50 steps", true),
        ("steps", true),
        ("test error % after", true),
        ("seconds", true),
    ]);
    let num = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
    for c in curves {
        let n = c.losses.len();
        table.push(vec![
            c.init.to_string().into(),
            if c.fixed {
                "×0.01, bias 0"
            } else {
                "as built"
            }
            .into(),
            format!("{:.4}", c.initial_test_loss).into(),
            num(c.losses.first().copied()).into(),
            num(c.mean_loss(1, 10)).into(),
            num(c.mean_loss(n.saturating_sub(49), n)).into(),
            n.to_string().into(),
            c.test_error
                .last()
                .map_or("—".to_string(), |e| format!("{e:.2}"))
                .into(),
            format!("{:.0}", c.seconds).into(),
        ]);
    }
    table
}

/// How close a fixed net's test loss must come to ln 10 to count as "at the uniform loss".
pub const NEAR_UNIFORM: f64 = 0.05;

/// What the runs show, in one paragraph of measured numbers.
fn finding(curves: &[LossCurve]) -> String {
    let mut text = format!(
        "Uniform guessing scores ln 10 = {:.4}. The fresh nets' test loss, as built → with the fix:",
        uniform_loss(10)
    );
    let (mut near, mut far) = (Vec::new(), Vec::new());
    for pair in curves.chunks(2) {
        if let [built, fixed] = pair {
            let _ = write!(
                text,
                " {} {:.3} → {:.3};",
                built.init, built.initial_test_loss, fixed.initial_test_loss
            );
            let off = (fixed.initial_test_loss - uniform_loss(10)).abs();
            if off < NEAR_UNIFORM {
                near.push(built.init.to_string());
            } else {
                far.push(built.init.to_string());
            }
        }
    }
    text.pop();
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let _ = write!(
        text,
        ". Within {NEAR_UNIFORM} of ln 10 with the fix: {}; not: {} (the fix divides the logits by 100, \
         which reaches ln 10 only where they were of order 1 or less).",
        list(&near),
        list(&far)
    );
    text
}

/// `summary.md`: the command, what the study does, the chart, the table and the finding.
fn summary_markdown(config: &StudyConfig, curves: &[LossCurve], table: &Table) -> String {
    let mut md = format!("# {}\n\n", config.study.preset().title_for(config));
    let _ = writeln!(md, "Command: `{}`.\n", command_line(config));
    let _ = writeln!(md, "{}\n", crate::experiments::study::deviations(config));
    md.push_str("![initloss](initloss.png)\n\n");
    md.push_str(&table.markdown());
    let _ = writeln!(md, "\n{}\n", finding(curves));
    let total: f64 = curves.iter().map(|c| c.seconds).sum();
    let _ = writeln!(
        md,
        "Total training time: {total:.0} s. Every step's loss: `losses.csv`."
    );
    md
}

/// `losses.csv`: one row per (run, step).
fn losses_csv(curves: &[LossCurve]) -> String {
    let mut out = String::from("init,fixed,step,loss\n");
    for c in curves {
        for (k, l) in c.losses.iter().enumerate() {
            let _ = writeln!(out, "{},{},{},{l:e}", c.init, c.fixed, k + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_loss_clips_to_the_steps_taken() {
        let c = LossCurve {
            init: InitScheme::Normal,
            fixed: true,
            initial_test_loss: 2.3,
            losses: vec![4.0, 2.0, 3.0],
            test_error: Vec::new(),
            seconds: 0.0,
        };
        assert_eq!(c.mean_loss(1, 2), Some(3.0));
        assert_eq!(c.mean_loss(2, 10), Some(2.5));
        assert_eq!(c.mean_loss(0, 1), Some(4.0));
        assert_eq!(c.mean_loss(4, 10), None);
        assert_eq!(c.label(), "normal, last layer ×0.01");
    }
}
