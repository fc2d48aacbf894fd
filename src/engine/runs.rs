//! Run directories: what a training run leaves on disk, and reading it back.
//!
//! `runs/<name>/` holds `config.json` (model and training settings), `history.csv` and
//! `history.json` (one row per epoch), `model.safetensors` (the trained weights) and `loss.png`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::{Mlp, MlpSpec};
use crate::plot;
use crate::train::{History, TrainConfig};

/// Everything needed to repeat a run, as written to `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The run's name (its directory name).
    pub name: String,
    /// The model.
    pub model: MlpSpec,
    /// The training settings.
    pub train: TrainConfig,
    /// Where the data came from.
    pub data_dir: PathBuf,
    /// The pretrained DBN the `dbn` init was taken from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PathBuf>,
}

/// A run read back from disk.
#[derive(Debug, Clone)]
pub struct SavedRun {
    /// Its directory.
    pub dir: PathBuf,
    /// Its settings.
    pub config: RunConfig,
    /// Its per-epoch records.
    pub history: History,
}

/// Writes `config.json`, `history.csv`, `history.json`, `model.safetensors` and `loss.png` into
/// `dir` (created if needed).
pub fn save_run(dir: &Path, config: &RunConfig, history: &History, model: &Mlp) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating run directory {}", dir.display()))?;
    write_json(&dir.join("config.json"), config)?;
    write_json(&dir.join("history.json"), history)?;
    write_history_csv(&dir.join("history.csv"), history)?;
    model.save(&dir.join("model.safetensors"))?;
    let title = format!(
        "{} — {} init",
        config.model.widths.label(),
        config.model.init
    );
    plot::loss_chart(history, &title, &dir.join("loss.png"))?;
    Ok(())
}

/// Reads `config.json` and `history.json` of a run directory.
pub fn load_run(dir: &Path) -> Result<SavedRun> {
    let config: RunConfig = read_json(&dir.join("config.json"))?;
    let history: History = read_json(&dir.join("history.json"))?;
    Ok(SavedRun {
        dir: dir.to_path_buf(),
        config,
        history,
    })
}

/// Writes `value` as pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .with_context(|| format!("serialising {}", path.display()))?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Reads JSON written by [`write_json`].
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// `epoch,train_cost,test_loss,test_accuracy,seconds` rows.
pub fn write_history_csv(path: &Path, history: &History) -> Result<()> {
    let mut out = String::from("epoch,train_cost,test_loss,test_accuracy,seconds\n");
    for e in &history.epochs {
        out.push_str(&format!(
            "{},{:.9},{:.9},{:.6},{:.3}\n",
            e.epoch, e.train_cost, e.test_loss, e.test_accuracy, e.seconds
        ));
    }
    let mut f =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(out.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
