//! `initlab study dbn`: the deep belief net of Hinton, Osindero & Teh (2006) — 784-500-500-2000
//! pretrained greedily as RBMs, then fine-tuned by backprop with 10 softmax outputs — against the
//! same sigmoid net and schedule from Xavier-uniform, LeCun-normal and He-normal starts, with its
//! uncertainty stated where it lives:
//!
//! - every seed pretrains its own stack and fine-tunes from it, so the spread over seeds holds
//!   the pretraining's variation as well as the fine-tuning's;
//! - every run holds out the last [`HELD_OUT`] training images, and the pretraining never sees
//!   them; "best" epochs and the recipe are chosen on them, never on the test set;
//! - the fine-tuning learning rate of each init is chosen by a declared sweep ([`SWEEP_RATES`],
//!   first seed) on the final validation error ([`choose_rate`] reads nothing else), recorded in
//!   `sweep.json` and the summary, then run over the seeds;
//! - the table sets the test set's own binomial interval (Wilson, n = test images) beside the
//!   seed interval, and each init's difference from the DBN with its 95 % Welch interval, Welch's
//!   p and the exact permutation p.
//!
//! Unlike the other studies its plan depends on results (each seed's DBN must exist before its
//! fine-tuning is planned, and the seeds' learning rates come from the sweep), so it is run by
//! [`run_dbn_study`] in stages instead of by [`super::run_study`].

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::data::mnist::Mnist;
use crate::base::nn::model::{BiasInit, Widths};
use crate::base::nn::scheme::{Activation, InitScheme, MeanFieldParams};
use crate::base::optim::OptimizerKind;
use crate::base::output::io;
use crate::base::output::stats;
use crate::base::output::table::{Cell, Table};
use crate::base::train::chart::seeds_chart;
use crate::base::train::{LrSchedule, TrainConfig, HELD_OUT};
use crate::engine::executor::{Executor, PlannedRun, RunEvent, RunResult};
use crate::engine::rundir::RunStatus;
use crate::engine::spec::InitSource;
use crate::experiments::compare::{self, CompareConfig, InitStats};
use crate::experiments::pretrain::{self, DbnRecipe};
use crate::experiments::report_html::{self, Block, Report};
use crate::experiments::study::summary::command_line;
use crate::experiments::study::{Preset, SharedPhrases, Study, StudyConfig, StudyPart};
use crate::pretraining::rbm::RbmConfig;

/// The study on the command line: `initlab study dbn`.
pub const STUDY: Study = Study(&DbnStudy);

/// The fine-tuning learning rates (Adam, cosine schedule) the recipe sweep tries for every init,
/// on the first seed: a factor of about 3 apart around `make dbn`'s 10⁻³.
pub const SWEEP_RATES: [f64; 3] = [3e-4, 1e-3, 3e-3];

/// Epochs of CD-1 per RBM (the recipe `make dbn` used before this study).
pub const PRETRAIN_EPOCHS: usize = 20;

/// He et al. (2015)'s N(0, 2/fan_in) with zero biases. `kaiming_normal_` would not draw it on a
/// sigmoid net (`calculate_gain('sigmoid')` is 1: that is LeCun's N(0, 1/fan_in)), so it is the
/// mean-field scheme at σ_w² = 2, σ_b² = 0.
pub const HE_NORMAL: InitScheme = InitScheme::MeanField(MeanFieldParams {
    sigma_w2_micro: 2_000_000,
    sigma_b2_micro: 0,
    orthogonal: false,
});

/// The inits compared, the DBN first (the one the others are tested against), with their labels.
pub fn inits() -> [(InitScheme, &'static str); 4] {
    [
        (InitScheme::Dbn, "DBN (pretrained per seed)"),
        (InitScheme::XavierUniform, "Xavier uniform"),
        (
            InitScheme::KaimingNormal,
            "LeCun normal (kaiming_normal_, gain 1 on sigmoid)",
        ),
        (HE_NORMAL, "He normal, N(0, 2/fan_in)"),
    ]
}

/// The label of `init` in this study's tables and chart.
pub fn label_of(init: InitScheme) -> String {
    inits()
        .iter()
        .find(|(i, _)| *i == init)
        .map_or(init.to_string(), |(_, l)| l.to_string())
}

/// Hinton et al.'s DBN against Xavier, LeCun and He inits of the same sigmoid net.
#[derive(Debug, Clone, Copy)]
pub struct DbnStudy;

impl Preset for DbnStudy {
    fn name(&self) -> &'static str {
        "dbn"
    }

    fn title(&self) -> String {
        "Hinton et al. 2006: a pretrained DBN vs Xavier, LeCun and He inits, sigmoid net, Adam with a cosine schedule".into()
    }

    fn bias(&self) -> BiasInit {
        BiasInit::Zeros
    }

    fn validation(&self) -> i64 {
        HELD_OUT
    }

    fn seed_count(&self, full: bool) -> usize {
        if full {
            5
        } else {
            3
        }
    }

    /// None: the plan depends on results ([`run_dbn_study`] plans and runs it in stages).
    fn parts(&self, _config: &StudyConfig) -> Vec<StudyPart> {
        Vec::new()
    }

    fn deviations(&self, config: &StudyConfig, shared: &SharedPhrases) -> String {
        let SharedPhrases {
            bias, validation, ..
        } = shared;
        let epochs = fine_tune_epochs(config);
        format!(
            "Deviations from Hinton, Osindero & Teh (2006) and Hinton & Salakhutdinov (2006): their 1.25 % is the \
             DBN fine-tuned with the up-down (contrastive wake-sleep) algorithm, not by backprop; the backprop figure \
             for the same 784-500-500-2000 stack is Hinton & Salakhutdinov's 1.2 %, fine-tuned with conjugate \
             gradients after longer pretraining. Here each seed pretrains its own stack ({PRETRAIN_EPOCHS} epochs of \
             CD-1 per RBM, Hinton's Practical Guide settings, on the training images before the validation split) and \
             fine-tunes it with Adam for {epochs} epochs, the learning rate annealed to zero by a cosine schedule, \
             batch 100; the random-init baselines get the same net, optimizer, schedule and epochs with {bias} (the \
             He row draws its biases as 0 whatever `--bias` says). {validation}; each init's learning rate is the one \
             of {} with the lowest final validation error on seed {}. The DBN's output layer starts from Xavier.",
            rates_in_words(),
            config.seeds.first().copied().unwrap_or_default()
        )
    }
}

/// The sweep's rates as `0.0003, 0.001 or 0.003`.
fn rates_in_words() -> String {
    let r: Vec<String> = SWEEP_RATES.iter().map(|r| r.to_string()).collect();
    match r.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => r.concat(),
    }
}

/// The net: 784-500-500-2000-10 (784-w-w-4w-10 with `--width w`).
pub fn widths(config: &StudyConfig) -> Widths {
    match config.width {
        Some(w) => Widths(vec![784, w, w, 4 * w, 10]),
        None => Widths(vec![784, 500, 500, 2000, 10]),
    }
}

/// Fine-tuning epochs: 20, 30 with `--full`, `--epochs` over both.
pub fn fine_tune_epochs(config: &StudyConfig) -> usize {
    config.epochs.unwrap_or(if config.full { 30 } else { 20 })
}

/// The training settings of one fine-tuning run.
fn train(config: &StudyConfig, learning_rate: f64, seed: i64) -> TrainConfig {
    TrainConfig {
        epochs: fine_tune_epochs(config),
        learning_rate,
        seed,
        optimizer: OptimizerKind::Adam,
        train_limit: config.train_limit,
        validation: config.validation,
        lr_schedule: LrSchedule::Cosine,
        ..TrainConfig::default()
    }
}

/// The stack seed `seed` pretrains: the net's hidden layers, on the training images before the
/// validation split (the first `--train-limit` of them).
pub fn recipe(config: &StudyConfig, seed: i64, train_images: i64) -> DbnRecipe {
    let w = widths(config).0;
    let before_validation = train_images - config.validation;
    DbnRecipe {
        widths: w[..w.len() - 1].to_vec(),
        epochs: PRETRAIN_EPOCHS,
        rbm: RbmConfig::default(),
        seed,
        train_limit: match (config.train_limit, config.validation) {
            (limit, 0) => limit,
            (limit, _) => Some(limit.map_or(before_validation, |n| n.min(before_validation))),
        },
    }
}

/// Where seed `seed`'s stack goes: `<out>/dbn-seed<seed>/`.
pub fn dbn_dir(config: &StudyConfig, seed: i64) -> PathBuf {
    config.out_dir.join(format!("dbn-seed{seed}"))
}

/// The fine-tuning run of `init` at `learning_rate` from `seed` (its DBN from `source`), in
/// `<out>/runs/<init>-seed<seed>-<hash>` (the sweep's run of the chosen rate is the first seed's).
fn planned(
    config: &StudyConfig,
    data: &Mnist,
    init: InitScheme,
    learning_rate: f64,
    seed: i64,
    source: &InitSource,
) -> Result<PlannedRun> {
    let compare = CompareConfig {
        widths: widths(config),
        activation: Activation::Sigmoid,
        inits: vec![init],
        train: train(config, learning_rate, seed),
        source: source.clone(),
        out_dir: config.out_dir.clone(),
        title: None,
        seeds: vec![seed],
        baseline: None,
        bias: config.bias,
    };
    let mut run = compare::plan(&compare, data)?
        .pop()
        .context("a plan of one init and one seed has one run")?;
    run.name = format!("{init} lr {learning_rate} seed {seed}");
    Ok(run)
}

/// A run the size of the study's largest (an Xavier fine-tuning), to choose how many runs train
/// at once before any DBN exists.
pub fn sizing_run(config: &StudyConfig, data: &Mnist) -> Result<PlannedRun> {
    check(config)?;
    let seed = config.seeds[0];
    planned(
        config,
        data,
        InitScheme::XavierUniform,
        SWEEP_RATES[0],
        seed,
        &InitSource::None,
    )
}

/// The final-epoch validation error % a sweep run is judged by: 100 for a run that diverged,
/// none for one that has not ended or held out no validation split. Test errors are not read.
pub fn validation_error(r: &RunResult) -> Option<f64> {
    match r.status {
        RunStatus::Diverged => Some(100.0),
        RunStatus::Complete | RunStatus::Unstable => r
            .history
            .last()
            .and_then(|e| e.validation_accuracy)
            .map(|a| 100.0 * (1.0 - a)),
        RunStatus::Running | RunStatus::Interrupted | RunStatus::Failed => None,
    }
}

/// The learning rate of lowest validation error among `(rate, validation error %)` pairs, the
/// earlier in the sweep's order on a tie; none without a validation number.
pub fn choose_rate(sweep: &[(f64, Option<f64>)]) -> Option<f64> {
    sweep
        .iter()
        .filter_map(|&(rate, err)| err.map(|e| (rate, e)))
        .fold(None, |best: Option<(f64, f64)>, (rate, e)| match best {
            Some((_, b)) if b <= e => best,
            _ => Some((rate, e)),
        })
        .map(|(rate, _)| rate)
}

/// One init's sweep: every rate with its final validation error, and the one chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepChoice {
    /// The init (its name, as on the command line).
    pub init: String,
    /// `(learning rate, final validation error %)` per rate tried; `None`: no number (the run
    /// did not end).
    pub tried: Vec<(f64, Option<f64>)>,
    /// The rate chosen ([`choose_rate`]).
    pub chosen: f64,
    /// The seed the sweep ran with.
    pub seed: i64,
    /// Validation images the errors are measured on.
    pub validation_images: i64,
}

/// `sweep.json`: the recipe chosen per init ([`SweepRecord`]).
pub const SWEEP_FILE: &str = "sweep.json";

/// What `sweep.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// The sweep and its choice, init by init.
    pub choices: Vec<SweepChoice>,
}

/// The sweep's choice per init from its results (in [`inits`] × [`SWEEP_RATES`] order).
fn choices(config: &StudyConfig, sweep: &[RunResult]) -> Result<Vec<SweepChoice>> {
    inits()
        .iter()
        .map(|&(init, _)| {
            let tried: Vec<(f64, Option<f64>)> = sweep
                .iter()
                .filter(|r| r.run.spec.model.init == init)
                .map(|r| (r.run.spec.train.learning_rate, validation_error(r)))
                .collect();
            let chosen = choose_rate(&tried).with_context(|| {
                format!("no sweep run of {init} ended with a validation error to choose its learning rate")
            })?;
            Ok(SweepChoice {
                init: init.to_string(),
                tried,
                chosen,
                seed: config.seeds[0],
                validation_images: config.validation,
            })
        })
        .collect()
}

/// What `study dbn` produced.
#[derive(Debug, Clone)]
pub struct DbnStudyResult {
    /// The sweep's runs (first seed, every init × rate).
    pub sweep: Vec<RunResult>,
    /// The recipe chosen per init (empty when the sweep was interrupted).
    pub choices: Vec<SweepChoice>,
    /// The chosen recipes over the seeds, init by init (the first seed's run is the sweep's).
    pub runs: Vec<RunResult>,
    /// Each seed's pretrained stack, in seed order.
    pub dbns: Vec<PathBuf>,
    /// True when a run was interrupted (nothing is drawn then).
    pub interrupted: bool,
    /// `dbn.png`.
    pub chart: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

/// Pretrains (or finds) seed `seed`'s stack and returns it as an init source.
fn stack(
    config: &StudyConfig,
    data: &Mnist,
    seed: i64,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<(PathBuf, InitSource)> {
    let dir = dbn_dir(config, seed);
    pretrain::prepare(
        &dir,
        &recipe(config, seed, data.train.len()),
        data,
        observer,
    )
    .with_context(|| format!("pretraining seed {seed}'s DBN into {}", dir.display()))?;
    let source = InitSource::pretrained(&dir)?;
    Ok((dir, source))
}

/// Errors to fix before anything runs: no validation split to choose on, no seed.
fn check(config: &StudyConfig) -> Result<()> {
    ensure!(!config.seeds.is_empty(), "no seeds to run");
    ensure!(
        config.validation > 0,
        "study dbn chooses its learning rates and best epochs on a validation split; --validation 0 leaves none"
    );
    Ok(())
}

/// The whole study in stages: the first seed's DBN, the sweep (every init × [`SWEEP_RATES`], first
/// seed), the choice per init on validation error, the other seeds' DBNs, the chosen recipes over
/// the other seeds; then `dbn.png`, `summary.md`, `sweep.json` and `report.html`. Stops where a
/// run is interrupted (run it again to resume).
pub fn run_dbn_study(
    config: &StudyConfig,
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<DbnStudyResult> {
    check(config)?;
    let data = executor.data;
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let first = config.seeds[0];
    let (first_dir, first_source) = stack(config, data, first, observer)?;
    let mut sweep_plan = Vec::new();
    for (init, _) in inits() {
        for rate in SWEEP_RATES {
            sweep_plan.push(planned(config, data, init, rate, first, &first_source)?);
        }
    }
    executor.check(&sweep_plan)?;
    let sweep = executor.run(&sweep_plan, observer)?;
    let mut result = DbnStudyResult {
        sweep: sweep.results,
        choices: Vec::new(),
        runs: Vec::new(),
        dbns: vec![first_dir],
        interrupted: sweep.interrupted,
        chart: config.out_dir.join("dbn.png"),
        summary: config.summary_path(),
        html: config.html_path(),
    };
    if result.interrupted {
        return Ok(result);
    }
    result.choices = choices(config, &result.sweep)?;
    let record = SweepRecord {
        choices: result.choices.clone(),
    };
    io::write_json(&config.out_dir.join(SWEEP_FILE), &record)?;
    let mut sources = vec![first_source];
    for &seed in &config.seeds[1..] {
        let (dir, source) = stack(config, data, seed, observer)?;
        result.dbns.push(dir);
        sources.push(source);
    }
    let seeds_plan = seeds_plan(config, data, &result.choices, &sources)?;
    executor.check(&seeds_plan)?;
    let outcome = executor.run(&seeds_plan, observer)?;
    result.interrupted = outcome.interrupted;
    if !result.interrupted {
        result.runs = final_runs(&result.sweep, &result.choices, outcome.results);
        write_outputs(config, data, &result)?;
    }
    Ok(result)
}

/// The chosen recipes over the seeds after the first (whose runs the sweep made), init by init.
fn seeds_plan(
    config: &StudyConfig,
    data: &Mnist,
    choices: &[SweepChoice],
    sources: &[InitSource],
) -> Result<Vec<PlannedRun>> {
    let mut plan = Vec::new();
    for ((init, _), choice) in inits().into_iter().zip(choices) {
        for (&seed, source) in config.seeds.iter().zip(sources).skip(1) {
            plan.push(planned(config, data, init, choice.chosen, seed, source)?);
        }
    }
    Ok(plan)
}

/// Per init, the sweep's run of its chosen rate (the first seed), then its other seeds' runs.
fn final_runs(
    sweep: &[RunResult],
    choices: &[SweepChoice],
    others: Vec<RunResult>,
) -> Vec<RunResult> {
    let mut out = Vec::new();
    let per_init = others.len() / choices.len().max(1);
    let mut others = others.into_iter();
    for ((init, _), choice) in inits().into_iter().zip(choices) {
        out.extend(
            sweep
                .iter()
                .find(|r| {
                    r.run.spec.model.init == init && r.run.spec.train.learning_rate == choice.chosen
                })
                .cloned(),
        );
        out.extend(others.by_ref().take(per_init));
    }
    out
}

/// The binomial 95 % interval of the test set at the mean error `mean_percent` on `n` test images
/// (Wilson's, [`stats::wilson_interval`]) as `[low, high]` in percent.
pub fn test_set_interval(mean_percent: f64, n: i64) -> String {
    match stats::wilson_interval(mean_percent / 100.0, n as f64, stats::Z95) {
        Some((lo, hi)) if mean_percent.is_finite() => {
            format!("[{:.2}, {:.2}]", 100.0 * lo, 100.0 * hi)
        }
        _ => "—".into(),
    }
}

/// The table over seeds: per init its chosen rate, runs, final test error (mean ± sd), the seed
/// 95 % interval, the test set's binomial 95 % interval, the best test error (epoch chosen on
/// validation), the difference from the DBN with its 95 % Welch interval, Welch's p and the
/// permutation p (bold below [`compare::MARK_P`]).
pub fn seeds_table(stats: &[InitStats], choices: &[SweepChoice], test_images: i64) -> Table {
    let binomial = format!("test set's 95 % interval (Wilson, n = {test_images})");
    let mut table = Table::new(&[
        ("init", false),
        ("lr (chosen on validation)", true),
        ("runs", true),
        ("diverged (at 90 %)", true),
        ("final test error % (mean ± sd)", true),
        ("seed 95 % interval", true),
        (binomial.as_str(), true),
        ("best test error % (epoch chosen on validation)", true),
        ("difference vs DBN, points [95 % Welch interval]", true),
        ("Welch p", true),
        ("permutation p", true),
    ]);
    for st in stats {
        let rate = choices
            .iter()
            .find(|c| c.init == st.init.to_string())
            .map_or("—".into(), |c| c.chosen.to_string());
        let mut row: Vec<Cell> = vec![
            label_of(st.init).into(),
            rate.into(),
            st.runs.to_string().into(),
            format!("{} of {}", st.diverged, st.runs).into(),
            compare::mean_sd(&st.final_error).into(),
            compare::interval(&st.final_error).into(),
            test_set_interval(st.final_error.mean, test_images).into(),
            compare::mean_sd(&st.best_error).into(),
        ];
        row.extend(compare::comparison_cells(st.vs_baseline.as_ref()));
        table.push(row);
    }
    table
}

/// The sweep's table: per init and rate, the final validation error, the chosen rate marked.
pub fn sweep_table(choices: &[SweepChoice]) -> Table {
    let mut table = Table::new(&[
        ("init", false),
        ("learning rate", true),
        ("final validation error %", true),
        ("chosen", false),
    ]);
    for c in choices {
        let init = c
            .init
            .parse::<InitScheme>()
            .map_or(c.init.clone(), label_of);
        for &(rate, err) in &c.tried {
            table.push(vec![
                init.clone().into(),
                rate.to_string().into(),
                err.map_or("—".into(), |e| format!("{e:.2}")).into(),
                if rate == c.chosen { "chosen" } else { "" }.into(),
            ]);
        }
    }
    table
}

/// The paragraphs under the seeds table.
fn notes(config: &StudyConfig, stats: &[InitStats], test_images: i64) -> Vec<String> {
    let mut notes = vec![
        format!(
            "Every seed pretrains its own stack (`dbn-seed<seed>/`) and fine-tunes from it, so the seed interval \
             holds the pretraining's variation too. The seed interval is about how the result varies over seeds on \
             this one test set; the test set's interval is about the test set itself: {test_images} images are a \
             sample, and at the mean error p the Wilson 95 % score interval of a binomial proportion on {test_images} \
             trials (z = 1.96) is where the error on another sample of the same distribution could fall (at 1.2 % it \
             is ±0.21 points, a standard error of √(p(1 − p)/n) ≈ 0.11 points). Both apply; neither includes the \
             other."
        ),
        compare::stats_note("the DBN"),
    ];
    notes.extend(compare::few_seeds_note(stats));
    notes.extend(InitScheme::lecun_note(
        &[InitScheme::KaimingNormal],
        Activation::Sigmoid,
    ));
    notes.push(format!(
        "Learning rates were chosen per init on seed {}'s final validation error (the last {} training images, \
         which no run and no pretraining trained on); the test set was not read to choose them.",
        config.seeds[0], config.validation
    ));
    notes
}

/// `summary.md`: command and budget, deviations, the sweep, the table over seeds and its notes,
/// the chart, every run.
pub fn summary_markdown(config: &StudyConfig, result: &DbnStudyResult, test_images: i64) -> String {
    let mut md = format!("# {}\n\n", config.study.preset().title_for(config));
    let _ = writeln!(
        md,
        "Command: `{}`. Net {} (sigmoid). Estimated budget: {}.\n",
        command_line(config),
        widths(config).compact(),
        budget_words(config)
    );
    let _ = writeln!(md, "{}\n", super::deviations(config));
    let _ = writeln!(
        md,
        "## Recipe sweep (seed {}, chosen on the validation split)\n",
        config.seeds[0]
    );
    md.push_str(&sweep_table(&result.choices).markdown());
    let _ = writeln!(md, "\n## Over {} seeds\n", config.seeds.len());
    let st = seed_stats(&result.runs);
    md.push_str(&seeds_table(&st, &result.choices, test_images).markdown());
    for note in notes(config, &st, test_images) {
        let _ = writeln!(md, "\n{note}");
    }
    let _ = writeln!(md, "\n![test error per epoch over seeds](dbn.png)\n");
    md.push_str(&compare::runs_rows(&config.out_dir, &result.runs).markdown());
    md
}

/// Statistics per init of the final runs, against the DBN.
fn seed_stats(runs: &[RunResult]) -> Vec<InitStats> {
    let order: Vec<InitScheme> = inits().iter().map(|(i, _)| *i).collect();
    compare::init_stats(&order, Some(InitScheme::Dbn), runs)
}

/// The chart, `summary.md`, `report.html`.
fn write_outputs(config: &StudyConfig, data: &Mnist, result: &DbnStudyResult) -> Result<()> {
    let test_images = data.test.len();
    let groups =
        crate::experiments::seeds::seed_groups(&result.runs, |r| label_of(r.run.spec.model.init));
    let title = config.study.preset().title_for(config);
    seeds_chart(&groups, &title, &result.chart)?;
    seeds_chart(&groups, &title, &config.out_dir.join("dbn.svg"))?;
    io::write_atomic(
        &result.summary,
        summary_markdown(config, result, test_images).as_bytes(),
    )?;
    report_html::write(&html_report(config, result, test_images), &result.html)
}

/// `report.html`: the same tables and notes, the charts, every run.
fn html_report(config: &StudyConfig, result: &DbnStudyResult, test_images: i64) -> Report {
    let st = seed_stats(&result.runs);
    let mut blocks = vec![
        Block::Text(format!(
            "Command: `{}`. Estimated budget: {}.",
            command_line(config),
            budget_words(config)
        )),
        Block::Text(super::deviations(config)),
        Block::Heading(format!(
            "Recipe sweep (seed {}, chosen on the validation split)",
            config.seeds[0]
        )),
        Block::Table(sweep_table(&result.choices)),
        Block::Heading(format!("Over {} seeds", config.seeds.len())),
        Block::Table(seeds_table(&st, &result.choices, test_images)),
    ];
    blocks.extend(notes(config, &st, test_images).into_iter().map(Block::Text));
    blocks.push(Block::Charts(report_html::run_charts(&result.runs, |r| {
        label_of(r.run.spec.model.init)
    })));
    blocks.push(Block::Heading("Runs".into()));
    blocks.push(Block::Table(compare::runs_rows(
        &config.out_dir,
        &result.runs,
    )));
    blocks.push(Block::Runs(report_html::run_entries(
        &config.out_dir,
        &result.runs,
    )));
    blocks.push(report_html::existing_files(
        &config.out_dir,
        &["summary.md", SWEEP_FILE, "dbn.png", "dbn.svg"],
    ));
    Report {
        title: config.study.preset().title_for(config),
        blocks,
    }
}

/// Seconds of 2-core time per fine-tuning epoch of the full net over 60,000 images, and per
/// pretraining epoch of its three RBMs: this study's own default run on the 2-core Intel Xeon
/// (AVX-512), 2026-12-06, from the runs made while nothing else ran — a fine-tuning run of 20
/// epochs over 50,000 images took 83–92 s (He normal, seeds 777–779), the pretraining of seed
/// 779 (20 epochs of each RBM over 50,000 images) 212 s — scaled to 60,000 images.
const MEASURED_SECONDS: (f64, f64) = (85.0 / 20.0 * 1.2, 212.0 / 20.0 * 1.2);

/// The study's 2-core time in minutes, estimated from [`MEASURED_SECONDS`] for the full-width
/// net, scaled by its training images, one run at a time: each seed's pretraining, the sweep
/// (every init × rate, one seed) and the other seeds' fine-tuning.
pub fn estimated_minutes(config: &StudyConfig) -> f64 {
    let images = config
        .train_limit
        .unwrap_or(60_000 - config.validation)
        .min(60_000 - config.validation) as f64;
    let scale = images / 60_000.0;
    let (fine_tune, pretrain) = MEASURED_SECONDS;
    let seeds = config.seeds.len() as f64;
    let inits = inits().len() as f64;
    let epochs = fine_tune_epochs(config) as f64;
    let runs = inits * (SWEEP_RATES.len() as f64 + seeds - 1.0);
    let seconds = scale * (seeds * PRETRAIN_EPOCHS as f64 * pretrain + runs * epochs * fine_tune);
    seconds / 60.0
}

/// `≈ 48 min of 2-core time (…)`, for the full-width net.
fn budget_words(config: &StudyConfig) -> String {
    if config.width.is_some() {
        return "a narrow net for quick trials (no estimate)".into();
    }
    format!(
        "≈ {:.0} min of 2-core time for {} seeds (one run at a time, from this study's measured rates on a \
         2-core Intel Xeon)",
        estimated_minutes(config),
        config.seeds.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::train::{EpochRecord, History};
    use crate::engine::spec::RunSpec;

    fn run_with(test_accuracy: f64, validation_accuracy: Option<f64>, lr: f64) -> RunResult {
        let spec = RunSpec {
            model: crate::base::nn::model::MlpSpec::shallow(InitScheme::XavierUniform),
            source: InitSource::None,
            train: TrainConfig {
                learning_rate: lr,
                ..TrainConfig::default()
            },
            data: crate::base::data::mnist::DataIdentity {
                dir: PathBuf::from("data"),
                files: Vec::new(),
            },
        };
        let mut history = History::default();
        history.epochs.push(EpochRecord {
            epoch: 1,
            train_cost: 0.1,
            test_loss: 0.1,
            test_accuracy,
            seconds: 1.0,
            validation_loss: validation_accuracy.map(|_| 0.1),
            validation_accuracy,
            learning_rate: Some(lr),
        });
        RunResult {
            hash: spec.hash(),
            run: PlannedRun {
                name: "r".into(),
                dir: PathBuf::from("r"),
                spec,
            },
            status: RunStatus::Complete,
            detail: None,
            history,
            seconds: 1.0,
            cached: false,
            machines: Vec::new(),
        }
    }

    #[test]
    fn the_rate_is_chosen_on_validation_error_not_on_test_error() {
        // Test error ranks the rates 3e-3 < 1e-3 < 3e-4; validation error the other way round.
        let runs = [
            run_with(0.970, Some(0.990), 3e-4),
            run_with(0.980, Some(0.985), 1e-3),
            run_with(0.990, Some(0.980), 3e-3),
        ];
        let tried: Vec<(f64, Option<f64>)> = runs
            .iter()
            .map(|r| (r.run.spec.train.learning_rate, validation_error(r)))
            .collect();
        assert_eq!(choose_rate(&tried), Some(3e-4));
        // Without a validation split there is nothing to choose on.
        assert_eq!(validation_error(&run_with(0.99, None, 1e-3)), None);
        assert_eq!(choose_rate(&[(1e-3, None)]), None);
        // Ties go to the earlier rate; a diverged run counts at 100 %.
        assert_eq!(
            choose_rate(&[(1e-3, Some(2.0)), (3e-3, Some(2.0))]),
            Some(1e-3)
        );
        let mut diverged = run_with(0.99, Some(0.99), 3e-3);
        diverged.status = RunStatus::Diverged;
        assert_eq!(validation_error(&diverged), Some(100.0));
    }

    #[test]
    fn each_seed_pretrains_on_the_images_before_the_validation_split() {
        let config = StudyConfig::new(STUDY);
        assert_eq!(config.validation, HELD_OUT);
        assert_eq!(config.seeds, [777, 778, 779]);
        let r = recipe(&config, 778, 60_000);
        assert_eq!(r.widths, [784, 500, 500, 2000]);
        assert_eq!((r.seed, r.epochs), (778, PRETRAIN_EPOCHS));
        assert_eq!(r.train_limit, Some(50_000));
        let limited = StudyConfig {
            train_limit: Some(600),
            ..StudyConfig::new(STUDY)
        };
        assert_eq!(recipe(&limited, 777, 60_000).train_limit, Some(600));
        assert_ne!(dbn_dir(&config, 777), dbn_dir(&config, 778));
    }

    #[test]
    fn he_normal_is_two_over_fan_in_and_lecun_is_kaiming_on_sigmoid() {
        let InitScheme::MeanField(p) = HE_NORMAL else {
            panic!("He normal is a mean-field scheme")
        };
        assert_eq!(
            (p.sigma_w2(), p.sigma_b2(), p.orthogonal),
            (2.0, 0.0, false)
        );
        assert!(InitScheme::KaimingNormal.is_lecun_on(Activation::Sigmoid));
        assert!(label_of(InitScheme::KaimingNormal).starts_with("LeCun normal"));
    }

    #[test]
    fn the_default_budget_is_stated_and_modest() {
        let config = StudyConfig::new(STUDY);
        let minutes = estimated_minutes(&config);
        // 3 pretrainings of 20 epochs, 12 sweep runs and 8 seed runs of 20 epochs, on 50,000 images.
        let (fine_tune, pretrain) = (85.0 / 20.0 * 1.2, 212.0 / 20.0 * 1.2);
        let expected = 50.0 / 60.0 * (3.0 * 20.0 * pretrain + 20.0 * 20.0 * fine_tune) / 60.0;
        assert!((minutes - expected).abs() < 1e-9, "{minutes} vs {expected}");
        // the measured whole: 3 × 212 s of pretraining and 20 × 85 s of fine-tuning
        assert!(
            (minutes - (3.0 * 212.0 + 20.0 * 85.0) / 60.0).abs() < 1e-9,
            "{minutes}"
        );
        assert!(minutes < 50.0, "{minutes}");
        let full = StudyConfig {
            full: true,
            seeds: crate::experiments::study::default_seeds(STUDY, true, 777),
            ..StudyConfig::new(STUDY)
        };
        assert_eq!(full.seeds.len(), 5);
        assert!(estimated_minutes(&full) > 1.5 * minutes);
    }

    #[test]
    fn the_test_set_interval_is_wilsons_in_percent() {
        assert_eq!(test_set_interval(1.2, 10_000), "[1.00, 1.43]");
        assert_eq!(test_set_interval(f64::NAN, 10_000), "—");
    }
}
