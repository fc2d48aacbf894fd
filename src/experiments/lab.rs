//! The main job: the lab's experiment — shallow net with N(0,1), Xavier and He init, deep net
//! with Xavier — trained, compared in one chart and summarised in a report beside the numbers the
//! original notebooks recorded.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::Mnist;
use crate::engine::executor::{Executor, PlannedRun, RunEvent, RunResult};
use crate::engine::spec::{DbnRecipe, InitSource, RunSpec};
use crate::io;
use crate::model::{Activation, InitScheme, MlpSpec};
use crate::plot::{self, RunCurves};
use crate::rbm::RbmConfig;
use crate::train::TrainConfig;

/// Settings of `initlab lab`.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Training settings shared by every run (the lab's by default).
    pub train: TrainConfig,
    /// Output directory (`runs/lab`): one sub-directory per run, `compare.png`, `report.md`.
    pub out_dir: PathBuf,
    /// Epochs per RBM when pretraining the DBN of the `deep-sigmoid-dbn` run.
    pub dbn_epochs: usize,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            train: TrainConfig::default(),
            out_dir: PathBuf::from("runs").join("lab"),
            dbn_epochs: 3,
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
    /// Its `Accuracy: …` (test images fed as raw 0–255 values, see the README).
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
}

/// The lab's runs as specs for the executor, each in `<out>/<name>`.
pub fn plan(config: &LabConfig, data: &Mnist) -> Vec<(LabRun, PlannedRun)> {
    lab_runs()
        .into_iter()
        .map(|run| {
            let source = if run.spec.init == InitScheme::Dbn {
                // Greedy pretraining of the hidden layers (784-512-512-512-512), then fine-tuning.
                let widths = &run.spec.widths.0;
                InitSource::Pretrain(DbnRecipe {
                    widths: widths[..widths.len() - 1].to_vec(),
                    epochs: config.dbn_epochs,
                    rbm: RbmConfig::default(),
                    seed: config.train.seed,
                    train_limit: config.train.train_limit,
                })
            } else {
                InitSource::None
            };
            let planned = PlannedRun {
                name: run.name.to_string(),
                dir: config.out_dir.join(run.name),
                spec: RunSpec {
                    model: run.spec.clone(),
                    source,
                    train: config.train.clone(),
                    data: data.identity.clone(),
                },
            };
            (run, planned)
        })
        .collect()
}

/// Trains (or reads from the cache, or resumes) the lab's runs, draws `compare.png`/`.svg` and
/// writes `report.md`.
pub fn run_lab(
    config: &LabConfig,
    executor: &Executor,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<LabResult> {
    let planned = plan(config, executor.data);
    let specs: Vec<PlannedRun> = planned.iter().map(|(_, p)| p.clone()).collect();
    executor.check(&specs)?;
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let outcome = executor.run(&specs, observer)?;
    let results: Vec<(LabRun, RunResult)> = planned
        .into_iter()
        .map(|(run, _)| run)
        .zip(outcome.results)
        .collect();
    let chart = config.out_dir.join("compare.png");
    let report = config.out_dir.join("report.md");
    if !outcome.interrupted {
        let curves: Vec<RunCurves> = results
            .iter()
            .map(|(r, res)| RunCurves {
                label: r.spec.label(),
                history: res.history.clone(),
            })
            .collect();
        let title = format!(
            "MNIST, {} lr {}: initialization schemes",
            config.train.optimizer, config.train.learning_rate
        );
        plot::compare_chart(&curves, &title, &chart)?;
        plot::compare_chart(&curves, &title, &config.out_dir.join("compare.svg"))?;
        io::write_atomic(&report, report_markdown(config, &results).as_bytes())?;
    }
    Ok(LabResult {
        runs: results,
        interrupted: outcome.interrupted,
        chart,
        report,
    })
}

/// The report: a table of the runs beside the notebooks' recorded numbers, and the chart.
pub fn report_markdown(config: &LabConfig, results: &[(LabRun, RunResult)]) -> String {
    let t = &config.train;
    let mut md = String::new();
    let _ = writeln!(md, "# initlab lab report\n");
    let _ = writeln!(
        md,
        "MNIST, {} epochs, batch {}, {} lr {}, seed {}{}. Test accuracy on the 10,000 test images scaled to [0, 1] \
         like the training images.\n",
        t.epochs,
        t.batch_size,
        t.optimizer,
        t.learning_rate,
        t.seed,
        t.train_limit.map(|n| format!(", first {n} training images")).unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "| run | model | init | final train cost | test accuracy | s/epoch | notebook | notebook's final cost | notebook's accuracy |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---|---:|---:|");
    for (run, result) in results {
        let h = &result.history;
        let Some(last) = h.last() else { continue };
        let (nb, nb_cost, nb_acc) = match run.notebook {
            Some(n) => (
                n.notebook.to_string(),
                format!("{:.9}", n.final_cost),
                format!("{:.4}", n.accuracy),
            ),
            None => ("—".into(), "—".into(), "—".into()),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.9} | {:.4} | {:.2} | {} | {} | {} |",
            run.name,
            run.spec.widths.label(),
            run.spec.init,
            last.train_cost,
            last.test_accuracy,
            h.seconds_per_epoch(),
            nb,
            nb_cost,
            nb_acc
        );
    }
    let _ = writeln!(
        md,
        "\n![test error and train cost per epoch](compare.png)\n"
    );
    let _ = writeln!(
        md,
        "The notebooks' numbers were recorded with PyTorch 1.0 in 2019 after 15 epochs. They differ from these runs \
         on purpose in two places: the notebooks evaluate on raw 0–255 test pixels (this report scales them like \
         the training pixels), and notebook 9-4 builds five layers but its model uses only three (this report's deep \
         net uses all five). With today's PyTorch (2.13) notebook 9-3 ends at cost 0.007610181, accuracy 0.9831; \
         `initlab train --model shallow --init xavier-uniform` prints the same epoch costs, and the examples \
         reproduce the notebooks line by line."
    );
    let _ = writeln!(
        md,
        "\n`deep-sigmoid-dbn` is the deep net with logistic units whose four hidden layers start from a deep \
         belief net pretrained greedily on the training images ({} epochs of CD-1 per RBM, Hinton's Practical \
         Guide settings; the stack, its filters and monitoring curves are in `deep-sigmoid-dbn/dbn/`); its \
         output layer starts from Xavier. Its s/epoch excludes the pretraining.",
        config.dbn_epochs
    );
    let _ = writeln!(md, "\nPer-run files: `<run>/history.csv`, `history.json`, `config.json`, `model.safetensors`, `loss.png`.");
    md
}
