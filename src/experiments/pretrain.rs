//! `initlab pretrain`: greedy DBN pretraining on MNIST as a job — train the stack, save it, and
//! draw what it learned (filters, reconstructions, samples, per-layer monitoring curves).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::data::mnist::Mnist;
use crate::base::output::chart::panel::{panels_chart, Panel};
use crate::base::output::chart::series::Series;
use crate::base::output::io;
use crate::engine::executor::RunEvent;
use crate::engine::rundir::RunDir;
use crate::pretraining::dbn::{self, Dbn, DbnProgress};
use crate::pretraining::rbm::RbmConfig;
use crate::pretraining::rbm_plot;

/// Settings of a pretraining run.
#[derive(Debug, Clone)]
pub struct PretrainConfig {
    /// Layer widths, input first (`784,500,500,2000`).
    pub widths: Vec<i64>,
    /// Epochs per RBM.
    pub epochs: usize,
    /// RBM training settings (Hinton's Guide defaults).
    pub rbm: RbmConfig,
    /// Train on the first `n` training images only.
    pub train_limit: Option<i64>,
    /// `torch.manual_seed` before pretraining.
    pub seed: i64,
    /// Output directory: `dbn.safetensors`, `dbn.json`, pictures, `pretrain.md`.
    pub out_dir: PathBuf,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            widths: vec![784, 500, 500, 2000],
            epochs: 10,
            rbm: RbmConfig::default(),
            train_limit: None,
            seed: 777,
            out_dir: PathBuf::from("runs").join("dbn"),
        }
    }
}

/// How a planner pretrains a DBN (written as [`RECIPE_FILE`] beside the stack): the lab's deep
/// sigmoid run, `study dbn`'s one stack per seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbnRecipe {
    /// Widths of the stack: the net's without its output layer (784-512-512-512-512 in the lab).
    pub widths: Vec<i64>,
    /// Epochs per RBM.
    pub epochs: usize,
    /// RBM settings (Hinton's Guide).
    pub rbm: RbmConfig,
    /// `torch.manual_seed` before pretraining.
    pub seed: i64,
    /// Train on the first `n` training images only.
    pub train_limit: Option<i64>,
}

/// The file that marks a finished stack of a planner's recipe.
pub const RECIPE_FILE: &str = "recipe.json";

/// Whether `dir` holds a finished stack of `recipe`: its [`RECIPE_FILE`] (written last) names
/// the same recipe and the stack's files are there.
pub fn ready(dir: &Path, recipe: &DbnRecipe) -> bool {
    let recipe_file = dir.join(RECIPE_FILE);
    recipe_file.exists()
        && io::read_json::<DbnRecipe>(&recipe_file).ok().as_ref() == Some(recipe)
        && dbn::files(dir).iter().all(|f| f.is_file())
}

/// Pretrains `recipe` into `dir` unless it already holds a stack of the same recipe
/// ([`RECIPE_FILE`], written last, marks a finished stack); the folder is locked meanwhile.
/// Returns whether it pretrained (`false`: the stack was there).
pub fn prepare(
    dir: &Path,
    recipe: &DbnRecipe,
    data: &Mnist,
    observer: &mut dyn FnMut(RunEvent),
) -> Result<bool> {
    let _lock = RunDir::open(dir)?;
    let recipe_file = dir.join(RECIPE_FILE);
    if ready(dir, recipe) {
        return Ok(false);
    }
    observer(RunEvent::Pretrain {
        dir,
        layers: recipe.widths.len() - 1,
        epochs: recipe.epochs,
    });
    let pre = PretrainConfig {
        widths: recipe.widths.clone(),
        epochs: recipe.epochs,
        rbm: recipe.rbm.clone(),
        train_limit: recipe.train_limit,
        seed: recipe.seed,
        out_dir: dir.to_path_buf(),
    };
    run_pretrain(&pre, data, &mut |p| observer(RunEvent::Dbn(p)))?;
    io::write_json(&recipe_file, recipe)?;
    Ok(true)
}

/// What a pretraining run wrote.
#[derive(Debug)]
pub struct PretrainResult {
    /// The trained stack.
    pub dbn: Dbn,
    /// Files written, in order.
    pub files: Vec<PathBuf>,
}

/// Pretrains, saves and draws. The monitoring set is the first 1,000 test images.
pub fn run_pretrain(
    config: &PretrainConfig,
    data: &Mnist,
    progress: &mut dyn FnMut(DbnProgress),
) -> Result<PretrainResult> {
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let train = match config.train_limit {
        Some(n) => data.train.take(n),
        None => data.train.take(data.train.len()),
    };
    let x = train.images_unit(); // [n, 784]
    let monitor = data
        .test
        .images_unit()
        .narrow(0, 0, 1000.min(data.test.len())); // [1000, 784]
    tch::manual_seed(config.seed);
    let dbn = dbn::pretrain(
        &x,
        &monitor,
        &config.widths,
        &config.rbm,
        config.epochs,
        progress,
    )?;
    dbn.save(&config.out_dir)?;
    let mut files: Vec<PathBuf> = dbn::files(&config.out_dir).to_vec();
    let first = &dbn.rbms[0];
    let out = |name: &str| config.out_dir.join(name);
    rbm_plot::filters_png(first, &out("filters.png"))?;
    rbm_plot::reconstructions_png(
        first,
        &monitor.narrow(0, 0, 20),
        &out("reconstructions.png"),
    )?;
    rbm_plot::samples_png(first, &out("samples.png"), 1000)?;
    pretrain_chart(&dbn, &out("pretrain.png"))?;
    io::write_atomic(
        &out("pretrain.md"),
        summary_markdown(config, &dbn).as_bytes(),
    )?;
    files.extend(
        [
            "filters.png",
            "reconstructions.png",
            "samples.png",
            "pretrain.png",
            "pretrain.md",
        ]
        .map(out),
    );
    Ok(PretrainResult { dbn, files })
}

/// `pretrain.png`: reconstruction error (log scale) and pseudo-log-likelihood per epoch, one line
/// per layer; epoch 0 is the untrained RBM. Both per visible unit: the RBMs of a stack have
/// different visible sizes (784, 500, …), and scikit-learn's pseudo-log-likelihood of an example
/// grows with them (it is the visible count times one unit's log-probability), so the totals of
/// two RBMs would not be comparable on one axis.
pub fn pretrain_chart(dbn: &Dbn, path: &Path) -> Result<()> {
    type Record = crate::pretraining::rbm::RbmEpochRecord;
    let series = |f: &dyn Fn(&Record, f64) -> f64| -> Vec<Series> {
        dbn.histories
            .iter()
            .enumerate()
            .map(|(l, h)| {
                let visible = dbn.widths[l] as f64;
                Series {
                    label: format!("RBM {} ({}→{})", l + 1, dbn.widths[l], dbn.widths[l + 1]),
                    points: (h.initial.iter().chain(h.epochs.iter()))
                        .map(|r| (r.epoch as f64, f(r, visible)))
                        .collect(),
                    band: Vec::new(),
                }
            })
            .collect()
    };
    let panels = [
        Panel {
            title: "reconstruction error per visible unit".into(),
            x_desc: "epoch".into(),
            y_desc: "mean squared error (log scale)".into(),
            series: series(&|r, _| r.reconstruction_error),
            log_y: true,
            ..Default::default()
        },
        Panel {
            title: "pseudo-log-likelihood per visible unit".into(),
            x_desc: "epoch".into(),
            y_desc: "PLL ÷ visible units (scikit-learn's estimator)".into(),
            series: series(&|r, visible| r.pseudo_log_likelihood / visible),
            log_y: false,
            ..Default::default()
        },
    ];
    let title = format!(
        "DBN {} pretraining, sigmoid units ({}, lr {})",
        dbn.widths
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join("-"),
        dbn.config.algorithm(),
        dbn.config.learning_rate
    );
    panels_chart(&panels, &title, path)
}

/// `pretrain.md`: settings and the last epoch of each layer.
pub fn summary_markdown(config: &PretrainConfig, dbn: &Dbn) -> String {
    let mut md = String::from("# DBN pretraining\n\n");
    let _ = writeln!(
        md,
        "Widths {}, {} epoch{} per layer, {} with learning rate {}, batch {}, {}, weight decay {}, seed {}{}.\n",
        dbn.widths.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-"),
        dbn.epochs,
        if dbn.epochs == 1 { "" } else { "s" },
        dbn.config.algorithm(),
        dbn.config.learning_rate,
        dbn.config.batch_size,
        dbn.config.momentum_words(dbn.epochs),
        dbn.config.weight_decay,
        config.seed,
        config.train_limit.map(|n| format!(", first {n} training images")).unwrap_or_default()
    );
    let _ = writeln!(md, "| layer | visible → hidden | reconstruction error (before → after) | pseudo-log-likelihood (before → after) | seconds |");
    let _ = writeln!(md, "|---:|---|---|---|---:|");
    for (l, h) in dbn.histories.iter().enumerate() {
        let before = h.initial.as_ref();
        let after = h.last();
        let fmt = |r: Option<&crate::pretraining::rbm::RbmEpochRecord>,
                   f: fn(&crate::pretraining::rbm::RbmEpochRecord) -> f64| {
            r.map(|r| format!("{:.4}", f(r))).unwrap_or("—".into())
        };
        let _ = writeln!(
            md,
            "| {} | {} → {} | {} → {} | {} → {} | {:.1} |",
            l + 1,
            dbn.widths[l],
            dbn.widths[l + 1],
            fmt(before, |r| r.reconstruction_error),
            fmt(after, |r| r.reconstruction_error),
            fmt(before, |r| r.pseudo_log_likelihood),
            fmt(after, |r| r.pseudo_log_likelihood),
            h.epochs.iter().map(|e| e.seconds).sum::<f64>()
        );
    }
    let _ = writeln!(md, "\n![monitoring](pretrain.png)\n\n![filters of the first RBM](filters.png)\n\n![reconstructions](reconstructions.png)\n\n![samples](samples.png)");
    md
}
