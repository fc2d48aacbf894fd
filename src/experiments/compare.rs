//! `initlab compare`: one architecture trained under several initializations, drawn as the
//! seed's figure (test error per epoch, one line per init) with a summary table. Runs that
//! diverge are reported, not fatal; finished runs are cached by a hash of their configuration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::Mnist;
use crate::dbn::DbnInit;
use crate::lsuv::DataDependentInit;
use crate::model::{Activation, InitScheme, MlpSpec, Widths};
use crate::plot::{self, RunCurves};
use crate::runs::{self, RunConfig};
use crate::train::{self, Diverged, History, Progress, TrainConfig};

/// Settings of a comparison.
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
    /// Where the data came from (recorded in each run's config).
    pub data_dir: PathBuf,
    /// Output directory: `compare.png`/`.svg`, `summary.md`/`.csv`, `runs/<init>-<hash>/`.
    pub out_dir: PathBuf,
    /// Chart title (default: the architecture and optimizer).
    pub title: Option<String>,
    /// Reuse finished runs with the same configuration found under `out_dir/runs`.
    pub use_cache: bool,
    /// The pretrained DBN directory for the `dbn` init.
    pub pretrained: Option<PathBuf>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum RunStatus {
    /// All epochs ran.
    Finished,
    /// The loss became NaN or infinite.
    Diverged {
        /// Epoch where it happened.
        epoch: usize,
        /// Batch within the epoch (0: the test loss after the epoch).
        batch: i64,
    },
}

/// One run of the comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompareRun {
    /// The init.
    pub init: InitScheme,
    /// How it ended.
    pub status: RunStatus,
    /// Its epochs (those before the divergence, if it diverged).
    pub history: History,
    /// Wall-clock seconds of the run (training and evaluation), as first measured.
    pub seconds: f64,
    /// Its directory.
    pub dir: PathBuf,
    /// Read from the cache instead of trained now.
    #[serde(skip)]
    pub cached: bool,
}

impl CompareRun {
    /// Lowest test error % and its epoch.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.history
            .epochs
            .iter()
            .map(|e| (e.epoch, e.test_error_percent()))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// "finished" or "diverged at epoch k".
    pub fn status_text(&self) -> String {
        match self.status {
            RunStatus::Finished => "finished".into(),
            RunStatus::Diverged { epoch, .. } => format!("diverged at epoch {epoch}"),
        }
    }
}

/// Events for the command line.
#[derive(Debug)]
pub enum CompareEvent<'a> {
    /// A run starts (or is read from the cache).
    RunStart {
        /// 1-based index.
        index: usize,
        /// Number of runs.
        total: usize,
        /// The init.
        init: InitScheme,
        /// Whether it comes from the cache.
        cached: bool,
    },
    /// Training progress.
    Train(Progress<'a>),
    /// A run ended.
    RunEnd(&'a CompareRun),
}

/// What a comparison produced.
#[derive(Debug, Clone)]
pub struct CompareResult {
    /// The runs, in the order of the inits.
    pub runs: Vec<CompareRun>,
    /// `compare.png`.
    pub chart: PathBuf,
    /// `summary.md`.
    pub summary: PathBuf,
}

/// A short hash of everything that determines a run's result (for a DBN-initialized run, the
/// pretrained stack's `dbn.json` too, which changes with every pretraining).
pub fn config_hash(config: &RunConfig) -> Result<String> {
    let mut key = config.clone();
    key.name = String::new();
    let mut json = serde_json::to_string(&key).context("serialising a run configuration")?;
    if let Some(dir) = &config.pretrained {
        let meta = dir.join(crate::dbn::META_FILE);
        json.push_str(
            &std::fs::read_to_string(&meta)
                .with_context(|| format!("reading {}", meta.display()))?,
        );
    }
    let digest = Sha256::digest(json.as_bytes());
    Ok(digest.iter().take(6).map(|b| format!("{b:02x}")).collect())
}

fn cached_run(dir: &Path, config: &RunConfig) -> Option<CompareRun> {
    let saved: RunConfig = runs::read_json(&dir.join("config.json")).ok()?;
    if saved != *config {
        return None;
    }
    let mut run: CompareRun = runs::read_json(&dir.join("result.json")).ok()?;
    run.cached = true;
    Some(run)
}

/// Trains (or reads from the cache) one run per init, then draws and summarises them.
pub fn run_compare(
    config: &CompareConfig,
    data: &Mnist,
    observer: &mut dyn FnMut(CompareEvent),
) -> Result<CompareResult> {
    config.train.validate()?;
    anyhow::ensure!(!config.inits.is_empty(), "no init schemes to compare");
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    let total = config.inits.len();
    let dbn_init = if config.inits.contains(&InitScheme::Dbn) {
        let dir = config.pretrained.as_deref().context(
            "the dbn init needs a pretrained deep belief net: run `initlab pretrain` and pass --pretrained DIR",
        )?;
        Some(DbnInit::load(dir)?)
    } else {
        None
    };
    let mut results = Vec::new();
    for (i, &init) in config.inits.iter().enumerate() {
        let spec = MlpSpec {
            widths: config.widths.clone(),
            activation: config.activation,
            init,
        };
        let pretrained = if init == InitScheme::Dbn {
            config.pretrained.clone()
        } else {
            None
        };
        let mut run_config = RunConfig {
            name: String::new(),
            model: spec.clone(),
            train: config.train.clone(),
            data_dir: config.data_dir.clone(),
            pretrained,
        };
        let hash = config_hash(&run_config)?;
        run_config.name = format!("{init}-{hash}");
        let dir = config.out_dir.join("runs").join(&run_config.name);
        if config.use_cache {
            if let Some(run) = cached_run(&dir, &run_config) {
                observer(CompareEvent::RunStart {
                    index: i + 1,
                    total,
                    init,
                    cached: true,
                });
                observer(CompareEvent::RunEnd(&run));
                results.push(run);
                continue;
            }
        }
        observer(CompareEvent::RunStart {
            index: i + 1,
            total,
            init,
            cached: false,
        });
        let started = Instant::now();
        let hook = dbn_init.as_ref().filter(|_| init == InitScheme::Dbn);
        let outcome = train::train_with(
            &spec,
            data,
            &config.train,
            hook.map(|h| h as &dyn DataDependentInit),
            &mut |p| observer(CompareEvent::Train(p)),
        );
        let seconds = started.elapsed().as_secs_f64();
        let run = match outcome {
            Ok((model, history)) => {
                runs::save_run(&dir, &run_config, &history, &model)?;
                CompareRun {
                    init,
                    status: RunStatus::Finished,
                    history,
                    seconds,
                    dir: dir.clone(),
                    cached: false,
                }
            }
            Err(e) => match e.downcast::<Diverged>() {
                Ok(d) => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating run directory {}", dir.display()))?;
                    runs::write_json(&dir.join("config.json"), &run_config)?;
                    runs::write_json(&dir.join("history.json"), &d.history)?;
                    CompareRun {
                        init,
                        status: RunStatus::Diverged {
                            epoch: d.epoch,
                            batch: d.batch,
                        },
                        history: d.history,
                        seconds,
                        dir: dir.clone(),
                        cached: false,
                    }
                }
                Err(e) => return Err(e.context(format!("comparison run {init}"))),
            },
        };
        runs::write_json(&dir.join("result.json"), &run)?;
        observer(CompareEvent::RunEnd(&run));
        results.push(run);
    }

    let curves: Vec<RunCurves> = results
        .iter()
        .map(|r| {
            let label = match r.status {
                RunStatus::Finished => r.init.to_string(),
                RunStatus::Diverged { epoch, .. } => {
                    format!("{} (diverged, epoch {epoch})", r.init)
                }
            };
            RunCurves {
                label,
                history: r.history.clone(),
            }
        })
        .collect();
    let title = config
        .title
        .clone()
        .unwrap_or_else(|| default_title(config));
    let chart = config.out_dir.join("compare.png");
    plot::compare_chart(&curves, &title, &chart)?;
    plot::compare_chart(&curves, &title, &config.out_dir.join("compare.svg"))?;
    let summary = config.out_dir.join("summary.md");
    std::fs::write(&summary, summary_markdown(config, &results))
        .with_context(|| format!("writing {}", summary.display()))?;
    let csv = config.out_dir.join("summary.csv");
    std::fs::write(&csv, summary_csv(&results))
        .with_context(|| format!("writing {}", csv.display()))?;
    Ok(CompareResult {
        runs: results,
        chart,
        summary,
    })
}

fn default_title(config: &CompareConfig) -> String {
    format!(
        "{} {}, {} lr {}",
        config.widths.label(),
        config.activation,
        config.train.optimizer,
        config.train.learning_rate
    )
}

/// The summary table as markdown.
pub fn summary_markdown(config: &CompareConfig, runs: &[CompareRun]) -> String {
    let t = &config.train;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# {}\n",
        config
            .title
            .clone()
            .unwrap_or_else(|| default_title(config))
    );
    let _ = writeln!(
        md,
        "Model {} ({}), {} epochs, batch {}, {} lr {}, seed {}{}.\n",
        config.widths.compact(),
        config.activation,
        t.epochs,
        t.batch_size,
        t.optimizer,
        t.learning_rate,
        t.seed,
        t.train_limit
            .map(|n| format!(", first {n} training images"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        md,
        "| init | status | final test error % | best test error % (epoch) | final train cost | seconds |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for r in runs {
        let last = r.history.last();
        let final_err = last
            .map(|e| format!("{:.2}", e.test_error_percent()))
            .unwrap_or("—".into());
        let best = r
            .best()
            .map(|(ep, err)| format!("{err:.2} ({ep})"))
            .unwrap_or("—".into());
        let cost = last
            .map(|e| format!("{:.6}", e.train_cost))
            .unwrap_or("—".into());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.1} |",
            r.init,
            r.status_text(),
            final_err,
            best,
            cost,
            r.seconds
        );
    }
    let _ = writeln!(md, "\n![test error and train cost per epoch](compare.png)");
    md
}

/// The summary table as CSV.
pub fn summary_csv(runs: &[CompareRun]) -> String {
    let mut out = String::from("init,status,diverged_epoch,final_test_error_percent,best_test_error_percent,best_epoch,final_train_cost,seconds\n");
    for r in runs {
        let last = r.history.last();
        let diverged = match r.status {
            RunStatus::Diverged { epoch, .. } => epoch.to_string(),
            RunStatus::Finished => String::new(),
        };
        let (best_epoch, best_err) = r
            .best()
            .map(|(e, v)| (e.to_string(), format!("{v:.4}")))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{:.3}",
            r.init,
            match r.status {
                RunStatus::Finished => "finished",
                RunStatus::Diverged { .. } => "diverged",
            },
            diverged,
            last.map(|e| format!("{:.4}", e.test_error_percent()))
                .unwrap_or_default(),
            best_err,
            best_epoch,
            last.map(|e| format!("{:.9}", e.train_cost))
                .unwrap_or_default(),
            r.seconds
        );
    }
    out
}
