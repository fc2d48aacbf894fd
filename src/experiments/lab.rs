//! The main job: the lab's experiment — shallow net with N(0,1), Xavier and He init, deep net
//! with Xavier — trained, compared in one chart and summarised in a report beside the numbers the
//! original notebooks recorded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::base::data::mnist::Mnist;
use crate::base::nn::{
    model::{MlpSpec, Widths},
    scheme::{Activation, InitScheme},
};
use crate::base::output::io;
use crate::base::output::table::{Cell, Table};
use crate::base::parity::mkl;
use crate::base::train::chart::seeds_chart;
use crate::base::train::TrainConfig;
use crate::engine::executor::{Executor, PlannedRun, RunEvent, RunResult};
use crate::engine::rundir::RunStatus;
use crate::engine::spec::{InitSource, RunSpec};
use crate::experiments::compare;
use crate::experiments::machines::Machines;
use crate::experiments::pretrain::{self, DbnRecipe};
use crate::experiments::report_html::{self, Block, Report};
use crate::pretraining::rbm::RbmConfig;

/// Settings of `initlab lab`.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Training settings shared by every run (the lab's by default).
    pub train: TrainConfig,
    /// Output directory (`runs/lab`): one sub-directory per run, `compare.png`, `report.md`,
    /// `report.html`.
    pub out_dir: PathBuf,
    /// Epochs per RBM when pretraining the DBN of the `deep-sigmoid-dbn` run.
    pub dbn_epochs: usize,
    /// Seeds of every run (empty: the training settings' seed alone, in `<out>/<name>`; several:
    /// `<out>/<name>-seed<seed>` each, and the report gives mean ± sd over them). The DBN is
    /// pretrained once, with the training settings' seed.
    pub seeds: Vec<i64>,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            train: TrainConfig::default(),
            out_dir: PathBuf::from("runs").join("lab"),
            dbn_epochs: 3,
            seeds: Vec::new(),
        }
    }
}

/// What an original notebook printed (PyTorch 1.0, 2019), for comparison.
#[derive(Debug, Clone, Copy)]
pub struct NotebookRecord {
    /// The notebook's name.
    pub notebook: &'static str,
    /// Its last `Epoch: 0015 cost = …`.
    pub final_cost: f64,
    /// Its `Accuracy: …` (test images fed as raw 0–255 values, see book/en/src/parity.md, *Quirks*).
    pub accuracy: f64,
}

/// One run of the lab.
#[derive(Debug, Clone)]
pub struct LabRun {
    /// Directory name under the output directory.
    pub name: &'static str,
    /// Model and init.
    pub spec: MlpSpec,
    /// What the corresponding notebook recorded, if there is one.
    pub notebook: Option<NotebookRecord>,
}

/// The runs of the lab: the notebooks' three, He init, and the deep net initialized from a DBN.
pub fn lab_runs() -> Vec<LabRun> {
    vec![
        LabRun {
            name: "shallow-normal",
            spec: MlpSpec::shallow(InitScheme::Normal),
            notebook: Some(NotebookRecord {
                notebook: "lab-09-2 mnist_nn",
                final_cost: 0.751341939,
                accuracy: 0.9422999620437622,
            }),
        },
        LabRun {
            name: "shallow-xavier-uniform",
            spec: MlpSpec::shallow(InitScheme::XavierUniform),
            notebook: Some(NotebookRecord {
                notebook: "lab-09-3 mnist_nn_xavier",
                final_cost: 0.006201488,
                accuracy: 0.9804999828338623,
            }),
        },
        LabRun {
            name: "shallow-kaiming-normal",
            spec: MlpSpec::shallow(InitScheme::KaimingNormal),
            notebook: None,
        },
        LabRun {
            name: "deep-xavier-uniform",
            spec: MlpSpec::deep(InitScheme::XavierUniform),
            notebook: Some(NotebookRecord {
                notebook: "lab-09-4 mnist_nn_deep (3 of 5 layers used)",
                final_cost: 0.008151450,
                accuracy: 0.9818999767303467,
            }),
        },
        LabRun {
            name: "deep-sigmoid-dbn",
            spec: MlpSpec {
                bias: Default::default(),
                activation: Activation::Sigmoid,
                ..MlpSpec::deep(InitScheme::Dbn)
            },
            notebook: None,
        },
    ]
}

/// What the lab produced.
#[derive(Debug, Clone)]
pub struct LabResult {
    /// The runs, in order (up to an interrupted one), each with the lab's description.
    pub runs: Vec<(LabRun, RunResult)>,
    /// True when a run was interrupted (nothing is drawn then).
    pub interrupted: bool,
    /// The comparison chart.
    pub chart: PathBuf,
    /// The markdown report.
    pub report: PathBuf,
    /// `report.html`, beside it.
    pub html: PathBuf,
}

/// The lab's DBN recipe for `config`.
pub fn dbn_recipe(config: &LabConfig) -> DbnRecipe {
    let widths = Widths::deep().0;
    DbnRecipe {
        widths: widths[..widths.len() - 1].to_vec(),
        epochs: config.dbn_epochs,
        rbm: RbmConfig::default(),
        seed: config.train.seed,
        train_limit: config.train.train_limit,
    }
}

/// Where the lab keeps its pretrained DBN: `<out>/dbn/`.
pub fn dbn_dir(config: &LabConfig) -> PathBuf {
    config.out_dir.join("dbn")
}

/// Whether [`dbn_dir`] holds a finished stack of the lab's recipe ([`pretrain::ready`]). Read
/// without the folder's lock.
pub fn dbn_ready(config: &LabConfig) -> bool {
    pretrain::ready(&dbn_dir(config), &dbn_recipe(config))
}

/// Pretrains the lab's DBN into [`dbn_dir`] unless it already holds one of the same recipe
/// ([`pretrain::prepare`]). With `train` false (gathering) a missing stack is an error and
/// nothing is trained.
pub fn prepare_dbn(
    config: &LabConfig,
    data: &Mnist,
    train: bool,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<PathBuf> {
    let dir = dbn_dir(config);
    anyhow::ensure!(
        train || dbn_ready(config),
        "the lab's DBN in {} is not pretrained (or not of this recipe), and gathering trains \
         nothing: pretrain it first (`initlab lab --pretrain-only` with the same flags, or \
         --slurm's first job)",
        dir.display()
    );
    if !train {
        return Ok(dir);
    }
    pretrain::prepare(&dir, &dbn_recipe(config), data, observer)
        .with_context(|| format!("pretraining the lab's DBN into {}", dir.display()))?;
    Ok(dir)
}

/// The lab's runs as specs for the executor, each in `<out>/<name>`; the DBN-initialized run
/// takes its weights from `dbn` (see [`prepare_dbn`]).
pub fn plan(config: &LabConfig, data: &Mnist, dbn: &Path) -> Result<Vec<(LabRun, PlannedRun)>> {
    Ok(plan_from(config, data, InitSource::pretrained(dbn)?))
}

/// [`plan`] with the DBN run's source given: `pretrained` is the DBN's, or, before it is
/// pretrained, one whose hash matches no run (`--slurm` plans the run to train after it).
pub fn plan_from(
    config: &LabConfig,
    data: &Mnist,
    pretrained: InitSource,
) -> Vec<(LabRun, PlannedRun)> {
    let seeds: Vec<Option<i64>> = if config.seeds.is_empty() {
        vec![None]
    } else {
        config.seeds.iter().map(|&s| Some(s)).collect()
    };
    let mut plan = Vec::new();
    for run in lab_runs() {
        for seed in &seeds {
            let source = pretrained.for_scheme(run.spec.init);
            let (name, train) = match seed {
                None => (run.name.to_string(), config.train.clone()),
                Some(s) => (
                    format!("{}-seed{s}", run.name),
                    TrainConfig {
                        seed: *s,
                        ..config.train.clone()
                    },
                ),
            };
            let planned = PlannedRun {
                dir: config.out_dir.join(&name),
                name,
                spec: RunSpec {
                    model: run.spec.clone(),
                    source,
                    train,
                    data: data.identity.clone(),
                },
            };
            plan.push((run.clone(), planned));
        }
    }
    plan
}

/// Pretrains the DBN if needed, then trains (or reads from the cache, or resumes) the lab's runs,
/// draws `compare.png`/`.svg` and writes `report.md`.
pub fn run_lab(
    config: &LabConfig,
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<LabResult> {
    config.train.validate()?;
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let train = !executor.options.gather_only;
    let dbn = prepare_dbn(config, executor.data, train, observer)?;
    let planned = plan(config, executor.data, &dbn)?;
    let specs: Vec<PlannedRun> = planned.iter().map(|(_, p)| p.clone()).collect();
    let outcome = executor.run(&specs, observer)?;
    let results: Vec<(LabRun, RunResult)> = planned
        .into_iter()
        .map(|(run, _)| run)
        .zip(outcome.results)
        .collect();
    let chart = config.out_dir.join("compare.png");
    let report = config.out_dir.join("report.md");
    let html = config.out_dir.join(report_html::REPORT_FILE);
    if !outcome.interrupted {
        let runs: Vec<RunResult> = results.iter().map(|(_, r)| r.clone()).collect();
        let groups = crate::experiments::seeds::seed_groups(&runs, |r| r.run.spec.label());
        let title = format!(
            "MNIST, {} lr {}: initialization schemes",
            config.train.optimizer, config.train.learning_rate
        );
        seeds_chart(&groups, &title, &chart)?;
        seeds_chart(&groups, &title, &config.out_dir.join("compare.svg"))?;
        io::write_atomic(&report, report_markdown(config, &results).as_bytes())?;
        report_html::write(&html_report(config, &results), &html)?;
    }
    Ok(LabResult {
        runs: results,
        interrupted: outcome.interrupted,
        chart,
        report,
        html,
    })
}

/// The report: a table of the runs beside the notebooks' recorded numbers, and the chart.
pub fn report_markdown(config: &LabConfig, results: &[(LabRun, RunResult)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {REPORT_TITLE}\n");
    let _ = writeln!(md, "{}\n", settings_line(config));
    if let Some(note) = settings_note(config) {
        let _ = writeln!(md, "{note}\n");
    }
    md.push_str(&runs_table(&config.out_dir, results).markdown());
    if config.seeds.len() > 1 {
        let _ = writeln!(md, "\n### {}\n", seeds_heading(config));
        md.push_str(&seeds_table(results).markdown());
        let _ = writeln!(md, "\n{SEEDS_NOTE}");
    }
    let _ = writeln!(
        md,
        "\n![test error and train cost per epoch](compare.png)\n"
    );
    let notes = notes(config);
    let _ = writeln!(md, "{}", notes.join("\n\n"));
    md.push_str(&Machines::of(results.iter().map(|(_, r)| r)).markdown());
    let _ = writeln!(md, "\nPer-run files: `<run>/run.json`, `history.csv`, `history.json`, `model.safetensors`, `loss.png`, `dynamics.csv`, `dynamics-histograms.csv`, `dynamics.png` (`initlab dynamics <run>…` redraws and compares them).");
    md
}

/// The report's title.
const REPORT_TITLE: &str = "initlab lab report";

/// The training settings in a sentence.
fn settings_line(config: &LabConfig) -> String {
    let t = &config.train;
    format!(
        "MNIST, {} epoch{}, batch {}, {} lr {}, seed {}{}. Test accuracy on the 10,000 test images scaled to [0, 1] \
         like the training images.",
        t.epochs,
        if t.epochs == 1 { "" } else { "s" },
        t.batch_size,
        t.optimizer,
        t.learning_rate,
        t.seed,
        t.train_limit.map(|n| format!(", first {n} training images")).unwrap_or_default()
    )
}

/// Why the notebooks' numbers are missing, when the runs use other settings than the notebooks.
fn settings_note(config: &LabConfig) -> Option<String> {
    // The notebooks' numbers sit beside runs of the notebooks' own settings only.
    (config.train != TrainConfig::default()).then(|| {
        "These runs use other settings than the notebooks (15 epochs on all 60,000 images, Adam lr 0.001, \
         batch 100, seed 777), so the notebooks' numbers are not shown beside them."
            .to_string()
    })
}

/// The runs beside the notebooks' recorded numbers (run names link to their directories,
/// relative to `base`, in HTML). Runs without a finished epoch are left out.
pub fn runs_table(base: &Path, results: &[(LabRun, RunResult)]) -> Table {
    let mut table = Table::new(&[
        ("run", false),
        ("model", false),
        ("init", false),
        ("first-batch loss", true),
        ("final train cost", true),
        ("test accuracy", true),
        ("s/epoch", true),
        ("notebook", false),
        ("notebook's final cost", true),
        ("notebook's accuracy", true),
    ]);
    for (run, result) in results {
        let h = &result.history;
        let Some(last) = h.last() else { continue };
        let notebook_settings = result.run.spec.train == TrainConfig::default();
        let (nb, nb_cost, nb_acc) = match run.notebook.filter(|_| notebook_settings) {
            Some(n) => (
                n.notebook.to_string(),
                format!("{:.9}", n.final_cost),
                format!("{:.4}", n.accuracy),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        table.push(vec![
            Cell::link(
                result.run.name.clone(),
                report_html::relative_path(base, &result.run.dir),
            ),
            run.spec.widths.label().into(),
            run.spec.init.to_string().into(),
            h.first_batch_loss
                .map(|l| format!("{l:.3}"))
                .unwrap_or("—".into())
                .into(),
            format!("{:.9}", last.train_cost).into(),
            format!("{:.4}", last.test_accuracy).into(),
            format!("{:.2}", h.seconds_per_epoch()).into(),
            nb.into(),
            nb_cost.into(),
            nb_acc.into(),
        ]);
    }
    table
}

/// `Over 3 seeds (777, 778, 779)`.
fn seeds_heading(config: &LabConfig) -> String {
    format!(
        "Over {} seeds ({})",
        config.seeds.len(),
        config
            .seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Per lab run over its seeds: its runs, how many diverged, the final test error's mean ± sd and
/// 95 % interval, every ended run counted ([`compare::counted_final`]: a diverged run at
/// chance-level error; [`SEEDS_NOTE`] says so under it).
pub fn seeds_table(results: &[(LabRun, RunResult)]) -> Table {
    let mut table = Table::new(&[
        ("run", false),
        ("runs", true),
        ("diverged (at 90 %)", true),
        ("final test error % (mean ± sd)", true),
        ("95 % interval", true),
    ]);
    for lab_run in lab_runs() {
        let mine: Vec<&RunResult> = results
            .iter()
            .filter(|(r, _)| r.name == lab_run.name)
            .map(|(_, res)| res)
            .collect();
        let errors: Vec<f64> = mine
            .iter()
            .filter_map(|r| compare::counted_final(r))
            .collect();
        let diverged = mine
            .iter()
            .filter(|r| r.status == RunStatus::Diverged)
            .count();
        let st = crate::base::output::stats::summarize(&errors);
        table.push(vec![
            lab_run.name.into(),
            mine.len().to_string().into(),
            format!("{diverged} of {}", mine.len()).into(),
            compare::mean_sd(&st).into(),
            compare::interval(&st).into(),
        ]);
    }
    table
}

/// Said under [`seeds_table`]: what it counts.
pub const SEEDS_NOTE: &str = "A run that diverged counts at chance level, 90 % test error (a uniform guess over \
    the 10 classes), in the mean, sd and interval, and the diverged column says how many; no run is left out. The \
    interval is the 95 % Student-t interval of the mean final test error over seeds.";

/// What notebook 9-3 ends at with today's PyTorch, from the golden files (`endings`): on this
/// CPU's golden set `here` first, the other sets named; each number beside the kernel family it
/// belongs to, as the runs table beside it comes from this CPU.
pub fn notebook_today(here: &str, endings: &[mkl::NotebookEnding]) -> String {
    let quote = |e: &mkl::NotebookEnding| {
        let accuracy = e
            .accuracy
            .parse::<f64>()
            .map_or(e.accuracy.to_string(), |a| format!("{a:.4}"));
        format!("cost {}, accuracy {accuracy}", e.cost)
    };
    let others: Vec<String> = (endings.iter())
        .filter(|e| e.set != here)
        .map(|e| format!("{}: {}", e.set, quote(e)))
        .collect();
    let others = others.join("; ");
    match endings.iter().find(|e| e.set == here) {
        Some(e) => format!(
            "With today's PyTorch (2.13) notebook 9-3 ends at {} on this CPU's kernels (golden set {here}); \
             other kernel families round differently in the last digits, in PyTorch and here alike{}.",
            quote(e),
            if others.is_empty() { String::new() } else { format!(" ({others})") }
        ),
        None => format!(
            "This CPU's kernels (golden set {here}) have no golden files, so PyTorch 2.13's ending of notebook \
             9-3 here is not recorded; the recorded kernel families end at: {others}. They differ in the last \
             digits, in PyTorch and here alike."
        ),
    }
}

/// The paragraphs under the chart: the notebooks' numbers, the DBN run, the first-batch loss.
fn notes(config: &LabConfig) -> Vec<String> {
    vec![
        format!(
            "The notebooks' numbers were recorded with PyTorch 1.0 in 2019 after 15 epochs. They differ from \
             these runs on purpose in two places: the notebooks evaluate on raw 0–255 test pixels (this report \
             scales them like the training pixels), and notebook 9-4 builds five layers but its model uses only \
             three (this report's deep net uses all five). {} \
             `initlab train --model shallow --init xavier-uniform` prints the epoch costs PyTorch prints on this \
             CPU (`initlab doctor` names which PyTorch that is), and the examples mirror the notebooks line by line.",
            notebook_today(&mkl::golden_set(), &mkl::notebook_endings())
        ),
        format!(
            "`deep-sigmoid-dbn` is the deep net with logistic units whose four hidden layers start from a deep \
             belief net pretrained greedily on the training images ({} epoch{} of CD-1 per RBM, Hinton's Practical \
             Guide settings; the stack, its filters and monitoring curves are in `dbn/`); its \
             output layer starts from Xavier. Its s/epoch excludes the pretraining.",
            config.dbn_epochs,
            if config.dbn_epochs == 1 { "" } else { "s" }
        ),
        "The first-batch loss is the cross-entropy of the untrained net on its first batch. A net that guesses \
         uniformly over the 10 classes scores ln 10 ≈ 2.303; N(0, 1) weights start far above it because the \
         signal's variance grows by about fan_in/2 per ReLU layer, so the logits are in the hundreds and the \
         net is confidently wrong before it has learned anything. Each run's `dynamics.png` shows what \
         happens next, layer by layer."
            .to_string(),
    ]
}

/// The lab's `report.html`: the settings, the runs beside the notebooks, the statistics over
/// seeds, the charts, and each run's `run.json` in a collapsible section.
pub fn html_report(config: &LabConfig, results: &[(LabRun, RunResult)]) -> Report {
    let runs: Vec<RunResult> = results.iter().map(|(_, r)| r.clone()).collect();
    let mut blocks = vec![Block::Text(settings_line(config))];
    if let Some(note) = settings_note(config) {
        blocks.push(Block::Text(note));
    }
    blocks.push(Block::Table(runs_table(&config.out_dir, results)));
    if config.seeds.len() > 1 {
        blocks.push(Block::Heading(seeds_heading(config)));
        blocks.push(Block::Table(seeds_table(results)));
        blocks.push(Block::Text(SEEDS_NOTE.into()));
    }
    blocks.push(Block::Heading("Per epoch".into()));
    blocks.push(Block::Charts(report_html::run_charts(&runs, |r| {
        r.run.spec.label()
    })));
    blocks.extend(notes(config).into_iter().map(Block::Text));
    blocks.push(Block::Heading("Runs".into()));
    blocks.push(Block::Runs(report_html::run_entries(
        &config.out_dir,
        &runs,
    )));
    blocks.extend(Machines::of(&runs).blocks());
    let mut files = report_html::existing_files(
        &config.out_dir,
        &["report.md", "compare.png", "compare.svg"],
    );
    if let Block::Links(links) = &mut files {
        if dbn_dir(config).is_dir() {
            links.push(("dbn/ (the pretrained stack)".into(), PathBuf::from("dbn")));
        }
    }
    blocks.push(files);
    Report {
        title: REPORT_TITLE.into(),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quoted_notebook_numbers_name_their_kernel_family() {
        let endings = mkl::notebook_endings();
        let Some(first) = endings.first() else {
            panic!("no golden set recorded");
        };
        // On a CPU of a recorded family: its numbers, said to be this CPU's, and every other
        // family's beside its name.
        let text = notebook_today(first.set, &endings);
        assert!(text.contains(&format!("cost {}", first.cost)), "{text}");
        assert!(
            text.contains(&format!("golden set {}", first.set)),
            "{text}"
        );
        for other in &endings[1..] {
            assert!(
                text.contains(&format!("{}: cost {}", other.set, other.cost)),
                "{text}"
            );
        }
        // Elsewhere: no number is said to be this CPU's.
        let text = notebook_today("stock/other", &endings);
        assert!(text.contains("no golden files"), "{text}");
        assert!(
            text.contains(&format!("{}: cost {}", first.set, first.cost)),
            "{text}"
        );
        // The lab's report page carries it (one source: the golden files).
        let notes = notes(&LabConfig::default()).join(" ");
        assert!(notes.contains(&notebook_today(&mkl::golden_set(), &endings)));
    }
}
