//! `initlab study`: presets that re-run the papers' experiments on a 2-core budget, each one
//! command writing its charts and a markdown summary. They are re-enactments, not reproductions:
//! smaller nets, data and training than the papers', so their test errors are several times the
//! papers' and an outcome may even go the other way (softsign in Glorot & Bengio's Table 1); each
//! preset states its deviations.
//!
//! - [`glorot`]: Glorot & Bengio (2010), Table 1 / Fig. 11 — five hidden layers of 1000
//!   tanh, softsign or sigmoid units trained with SGD, "standard" init U(±1/√n) against the
//!   normalized ("N", Xavier) init.
//! - [`he`]: He et al. (2015), Fig. 3 — a 30-layer ReLU net with SGD stalls with Xavier and
//!   trains with He (`kaiming_normal_`, fan-in); Fig. 2 — at 22 layers both train, He earlier.
//! - [`lab`]: the lab's shallow and deep nets with Adam under N(0,1), torch's default,
//!   Xavier, He and LSUV.
//! - [`meanfield`]: Poole et al. (2016) and Schoenholz et al. (2017) — the order-to-chaos
//!   phase diagram of tanh nets computed ([`crate::base::nn::meanfield`]), then a grid of depth × σ_w²
//!   trained with SGD and its test accuracy drawn under the 6 ξ_c line.
//! - [`isometry`]: Saxe et al. (2014), Pennington et al. (2017) — Gaussian and orthogonal
//!   weights at criticality: the input-output Jacobian's singular values over depth
//!   ([`crate::base::nn::isometry`]) and tanh nets of a few depths trained with SGD.
//! - [`dbn`]: Hinton et al. (2006) — a DBN pretrained per seed against Xavier, LeCun and He
//!   starts of the same sigmoid net, the learning rates chosen on a validation split; planned in
//!   stages ([`dbn::run_dbn_study`]) since its later runs depend on earlier results.
//!
//! And the steps a course shows next, after the lab:
//!
//! - [`initloss`]: "fix the initial loss" (Karpathy, makemore part 3) — the last layer ×0.01 and
//!   its bias 0, so the first loss is ln 10; every step's loss with and without it.
//! - [`optimizers`]: N(0,1), Xavier and He under plain SGD as well as Adam, which hides bad
//!   scaling.
//!
//! Each study is one module with one [`Preset`]: its parts (the plan), title, deviations from its
//! paper and, where it draws more than the shared curves and tables, its outputs. This module
//! holds what they share: the settings, the runner and (in [`summary`]) the summary's skeleton.
//! A new study is one new module (its file, with its `STUDY` handle, and its `pub mod` line)
//! and one entry in [`Study::ALL`].

pub mod dbn;
pub mod glorot;
pub mod he;
pub mod initloss;
pub mod isometry;
pub mod lab;
pub mod meanfield;
pub mod optimizers;
pub mod summary;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::base::data::mnist::Mnist;
use crate::base::nn::{
    model::{BiasInit, Widths},
    scheme::{Activation, InitScheme},
};
use crate::base::optim::OptimizerKind;
use crate::base::train::TrainConfig;
use crate::engine::executor::{Executor, PlannedRun, RunEvent, RunResult};
use crate::engine::spec::InitSource;
use crate::experiments::compare::CompareConfig;
use crate::experiments::report_html;

/// What one study is: its name and defaults, its parts, its title, how it deviates from its
/// paper, and the charts and summaries drawn from its runs.
pub trait Preset: Send + Sync {
    /// Its name on the command line and in paths.
    fn name(&self) -> &'static str;

    /// The title of its chart, summary and report page.
    fn title(&self) -> String;

    /// [`Preset::title`] for the nets `config` builds (a preset whose title names a width
    /// follows `--width`).
    fn title_for(&self, _config: &StudyConfig) -> String {
        self.title()
    }

    /// Its biases unless overridden (zeros in the papers' studies, their convention).
    fn bias(&self) -> BiasInit;

    /// Training images held out to choose the best epoch unless overridden.
    fn validation(&self) -> i64;

    /// Its parts with their budgets.
    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart>;

    /// Seeds per configuration unless `--seeds` says otherwise (`full`: with `--full`).
    fn seed_count(&self, _full: bool) -> usize {
        1
    }

    /// What this run of the study does differently from the paper it re-enacts, in one
    /// paragraph, given the phrases every study shares.
    fn deviations(&self, config: &StudyConfig, shared: &SharedPhrases) -> String;

    /// Draws its charts and writes `summary.md` and `report.html` (not called when a run was
    /// interrupted). The default: the seeds chart of every part's curves and the shared summary.
    fn write_outputs(
        &self,
        config: &StudyConfig,
        parts: &[(StudyPart, Vec<RunResult>)],
    ) -> Result<()> {
        summary::write_curve_outputs(config, parts)
    }

    /// [`Preset::write_outputs`] given the data the runs saw, which is what [`run_study`] calls.
    /// A study that also trains or measures outside the executor's runs (`initloss`, whose runs
    /// change the init after the scheme) overrides this one.
    fn write_outputs_with(
        &self,
        config: &StudyConfig,
        _data: &Mnist,
        parts: &[(StudyPart, Vec<RunResult>)],
    ) -> Result<()> {
        self.write_outputs(config, parts)
    }
}

/// One study: a handle on its [`Preset`], compared by name.
#[derive(Clone, Copy)]
pub struct Study(&'static dyn Preset);

impl Study {
    /// Every study, in the order the help lists them.
    pub const ALL: [Study; 8] = [
        glorot::STUDY,
        he::STUDY,
        lab::STUDY,
        meanfield::STUDY,
        isometry::STUDY,
        dbn::STUDY,
        initloss::STUDY,
        optimizers::STUDY,
    ];

    /// Its name on the command line and in paths.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// What the study is and draws.
    pub fn preset(self) -> &'static dyn Preset {
        self.0
    }
}

impl PartialEq for Study {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Study {}

impl std::fmt::Debug for Study {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Study({})", self.name())
    }
}

impl std::str::FromStr for Study {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Study::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .with_context(|| format!("unknown study {s:?} (expected {})", names_in_words()))
    }
}

/// The studies' names as a list in words: `a, b, c or d`.
fn names_in_words() -> String {
    let names: Vec<&str> = Study::ALL.iter().map(|s| s.name()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
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
    /// Epochs and training images of the papers' SGD studies (`glorot`, `he`): 30 epochs of
    /// every image with `--full`, else 8 epochs of the first 20,000.
    pub fn paper_budget(&self) -> (usize, Option<i64>) {
        if self.full {
            (30, None)
        } else {
            (8, Some(20_000))
        }
    }

    /// The study's 2-core budget with the lab's seed, written to `runs/study/<name>`.
    pub fn new(study: Study) -> Self {
        StudyConfig {
            study,
            full: false,
            epochs: None,
            train_limit: None,
            width: None,
            seeds: default_seeds(study, false, TrainConfig::default().seed),
            out_dir: PathBuf::from("runs").join("study").join(study.name()),
            bias: study.preset().bias(),
            validation: study.preset().validation(),
        }
    }

    /// The combined chart, `<study>.png` (the mean-field heatmap in the mean-field study).
    pub fn chart_path(&self) -> PathBuf {
        self.out_dir.join(format!("{}.png", self.study.name()))
    }

    /// `summary.md`.
    pub fn summary_path(&self) -> PathBuf {
        self.out_dir.join("summary.md")
    }

    /// `report.html`, beside the summary.
    pub fn html_path(&self) -> PathBuf {
        self.out_dir.join(report_html::REPORT_FILE)
    }

    /// A part's training settings: the study's budget (`epochs`, `limit`) unless overridden.
    fn train(
        &self,
        optimizer: OptimizerKind,
        learning_rate: f64,
        epochs: usize,
        limit: Option<i64>,
    ) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs.unwrap_or(epochs),
            learning_rate,
            optimizer,
            train_limit: self.train_limit.or(limit),
            validation: self.validation,
            ..TrainConfig::default()
        }
    }

    /// One part: a comparison of the labelled inits on one net, in `<out>/<name>`.
    fn part(
        &self,
        name: String,
        widths: Widths,
        activation: Activation,
        labels: Vec<(InitScheme, String)>,
        train: TrainConfig,
    ) -> StudyPart {
        StudyPart {
            compare: CompareConfig {
                widths,
                activation,
                inits: labels.iter().map(|(i, _)| *i).collect(),
                train,
                source: InitSource::None,
                out_dir: self.out_dir.join(&name),
                title: None,
                seeds: self.seeds.clone(),
                baseline: None,
                bias: self.bias,
            },
            name,
            labels,
        }
    }
}

/// The study's own number of consecutive seeds from `first` ([`Preset::seed_count`]).
pub fn default_seeds(study: Study, full: bool, first: i64) -> Vec<i64> {
    let n = study.preset().seed_count(full).max(1) as i64;
    (0..n).map(|k| first + k).collect()
}

/// One comparison inside a study.
#[derive(Debug, Clone)]
pub struct StudyPart {
    /// Short name (sub-directory), e.g. `tanh`.
    pub name: String,
    /// Legend label per init, e.g. `tanh normalized` for Glorot & Bengio's normalized init.
    pub labels: Vec<(InitScheme, String)>,
    /// The comparison.
    pub compare: CompareConfig,
}

impl StudyPart {
    /// The legend label of `init`.
    pub fn label_of(&self, init: InitScheme) -> String {
        self.labels
            .iter()
            .find(|(i, _)| *i == init)
            .map(|(_, l)| l.clone())
            .unwrap_or(init.to_string())
    }
}

/// `n` hidden layers of `width` units between MNIST's 784 inputs and 10 classes.
fn hidden(n: usize, width: i64) -> Widths {
    let mut w = vec![784];
    w.extend(std::iter::repeat_n(width, n));
    w.push(10);
    Widths(w)
}

/// The phrases every study's deviations share: its biases, how its best epoch is chosen, and its
/// budget.
#[derive(Debug, Clone)]
pub struct SharedPhrases {
    /// The biases, e.g. `zero biases, as the paper`.
    pub bias: String,
    /// Where the best epoch is chosen.
    pub validation: String,
    /// The training images and epochs.
    pub budget: String,
}

impl SharedPhrases {
    /// The phrases of `config`.
    pub fn of(config: &StudyConfig) -> Self {
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
        SharedPhrases {
            bias,
            validation,
            budget,
        }
    }
}

/// What this run of the study does differently from the paper it re-enacts, in one paragraph.
pub fn deviations(config: &StudyConfig) -> String {
    config
        .study
        .preset()
        .deviations(config, &SharedPhrases::of(config))
}

/// The parts of a study with their budgets.
pub fn plan(config: &StudyConfig) -> Vec<StudyPart> {
    config.study.preset().parts(config)
}

/// A study's plan: its parts, and every run of them, part by part, as the executor gets them.
#[derive(Debug, Clone)]
pub struct StudyPlan {
    /// Each part with its number of runs.
    parts: Vec<(StudyPart, usize)>,
    /// Every run, part by part.
    runs: Vec<PlannedRun>,
}

impl StudyPlan {
    /// Every run of the study, part by part.
    pub fn runs(&self) -> &[PlannedRun] {
        &self.runs
    }

    /// The parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = &StudyPart> {
        self.parts.iter().map(|(p, _)| p)
    }
}

/// The study's plan: its parts and every run of them, built once (the caller chooses `--jobs`
/// or emits the plan from it, then hands it to [`run_study`]).
pub fn plan_runs(config: &StudyConfig, data: &Mnist) -> Result<StudyPlan> {
    let mut parts = Vec::new();
    let mut runs = Vec::new();
    for p in plan(config) {
        let planned = crate::experiments::compare::plan(&p.compare, data)
            .with_context(|| format!("study {} part {}", config.study.name(), p.name))?;
        parts.push((p, planned.len()));
        runs.extend(planned);
    }
    Ok(StudyPlan { parts, runs })
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

/// Every run of `plan` (built by [`plan_runs`] from `config`) through one executor, then the
/// study's charts and summary.
pub fn run_study(
    config: &StudyConfig,
    plan: StudyPlan,
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<StudyResult> {
    executor.check(&plan.runs)?;
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let outcome = executor.run(&plan.runs, observer)?;
    let mut results = outcome.results.into_iter();
    let parts: Vec<(StudyPart, Vec<RunResult>)> = plan
        .parts
        .into_iter()
        .map(|(p, n)| (p, results.by_ref().take(n).collect()))
        .collect();
    if !outcome.interrupted {
        config
            .study
            .preset()
            .write_outputs_with(config, executor.data, &parts)?;
    }
    Ok(StudyResult {
        parts,
        interrupted: outcome.interrupted,
        chart: config.chart_path(),
        summary: config.summary_path(),
        html: config.html_path(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_study_parses_back_from_its_name() {
        for s in Study::ALL {
            assert_eq!(s.name().parse::<Study>().ok(), Some(s));
        }
        let names: Vec<&str> = Study::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "glorot",
                "he",
                "lab",
                "meanfield",
                "isometry",
                "dbn",
                "initloss",
                "optimizers"
            ]
        );
        let err = "hinton".parse::<Study>().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown study \"hinton\" (expected glorot, he, lab, meanfield, isometry, dbn, initloss or optimizers)"
            )
        );
    }

    #[test]
    fn defaults_follow_each_paper() {
        for (s, bias, validation) in [
            (glorot::STUDY, BiasInit::Zeros, 10_000),
            (he::STUDY, BiasInit::Zeros, 10_000),
            (lab::STUDY, BiasInit::TorchDefault, 0),
            (meanfield::STUDY, BiasInit::TorchDefault, 0),
            (isometry::STUDY, BiasInit::TorchDefault, 0),
            (dbn::STUDY, BiasInit::Zeros, 10_000),
            (initloss::STUDY, BiasInit::TorchDefault, 0),
            (optimizers::STUDY, BiasInit::TorchDefault, 0),
        ] {
            let c = StudyConfig::new(s);
            assert_eq!((c.bias, c.validation), (bias, validation), "{s:?}");
            assert_eq!(c.out_dir, PathBuf::from("runs/study").join(s.name()));
            assert_eq!(c.chart_path(), c.out_dir.join(format!("{}.png", s.name())));
        }
    }

    #[test]
    fn plans_have_their_parts_and_inits() {
        for (s, names, inits) in [
            (glorot::STUDY, vec!["tanh", "softsign", "sigmoid"], 2),
            (he::STUDY, vec!["relu30", "relu22"], 2),
            (lab::STUDY, vec!["shallow", "deep"], 5),
            (
                meanfield::STUDY,
                vec![
                    "depth2", "depth4", "depth8", "depth16", "depth32", "depth64", "depth128",
                ],
                15,
            ),
            (isometry::STUDY, vec!["depth4", "depth16", "depth32"], 2),
            (initloss::STUDY, vec![], 0),
            (optimizers::STUDY, vec!["sgd", "adam"], 3),
        ] {
            let config = StudyConfig::new(s);
            let parts = plan(&config);
            let got: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(got, names, "{s:?}");
            for p in &parts {
                assert_eq!(p.compare.inits.len(), inits, "{s:?} {}", p.name);
                assert_eq!(p.compare.out_dir, config.out_dir.join(&p.name));
            }
        }
    }
}
