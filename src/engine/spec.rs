//! A run spec: everything that determines a training run's result, as plain data with a stable
//! content hash. Experiments plan lists of specs; the [executor](crate::engine::executor) runs,
//! caches and resumes them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base::data::mnist::DataIdentity;
use crate::base::data::mnist::Mnist;
use crate::base::nn::{model::MlpSpec, scheme::InitScheme};
use crate::base::optim::OptimizerKind;
use crate::base::train::TrainConfig;

/// Where a data-dependent init takes its weights from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum InitSource {
    /// Nothing beyond the scheme itself (LSUV calibrates on the run's own training images).
    #[default]
    None,
    /// A deep belief net saved by `pretrain` in `dir`; `sha256` of its two files identifies it.
    Pretrained {
        /// The DBN's directory.
        dir: PathBuf,
        /// SHA-256 of `dbn.safetensors` followed by `dbn.json`.
        sha256: String,
    },
}

impl InitSource {
    /// What a run of `init` takes from this source: the DBN for a scheme that
    /// [needs one](InitScheme::needs_pretrained), nothing for the others (one rule for every
    /// planner).
    pub fn for_scheme(&self, init: InitScheme) -> InitSource {
        if init.needs_pretrained() {
            self.clone()
        } else {
            InitSource::None
        }
    }

    /// A saved DBN in `dir`, identified by the SHA-256 of its files (read with a bound).
    pub fn pretrained(dir: &Path) -> Result<InitSource> {
        if !dir.join(crate::pretraining::dbn::WEIGHTS_FILE).exists() {
            if let Some(found) =
                crate::base::output::io::find_below(dir, crate::pretraining::dbn::WEIGHTS_FILE, 2)
                    .into_iter()
                    .next()
            {
                return Err(SpecError::DbnBelow {
                    dir: dir.to_path_buf(),
                    found,
                }
                .into());
            }
        }
        let mut hasher = Sha256::new();
        for file in crate::pretraining::dbn::files(dir) {
            crate::base::output::io::hash_file(
                &file,
                crate::base::output::io::MAX_SAFETENSORS_BYTES,
                &mut hasher,
            )
            .with_context(|| format!("reading the pretrained DBN in {}", dir.display()))?;
        }
        Ok(InitSource::Pretrained {
            dir: dir.to_path_buf(),
            sha256: hex(&hasher.finalize()),
        })
    }
}

/// Everything that determines a run: the model (widths, activation, init scheme), the init's
/// source, the optimizer and its settings, seed, epochs, batch size, training subset, and the data
/// (its location and the SHA-256 of its four files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Widths, activation and init scheme.
    pub model: MlpSpec,
    /// Where a data-dependent init takes its weights from.
    #[serde(default)]
    pub source: InitSource,
    /// Optimizer, learning rate, momentum, seed, epochs, batch size, training subset.
    pub train: TrainConfig,
    /// The data set.
    pub data: DataIdentity,
}

/// What the hash covers: the spec without locations (the data and a saved DBN are identified by
/// their checksums, so moving them keeps the cache).
#[derive(Serialize)]
struct HashKey<'a> {
    model: &'a MlpSpec,
    source: serde_json::Value,
    train: &'a TrainConfig,
    data: Vec<&'a str>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A problem with a spec that its planner (or the user) must fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The `dbn` scheme without a DBN to take its weights from.
    #[error("the dbn init needs a pretrained deep belief net, and none was given")]
    NeedsPretrainedDbn,
    /// A DBN given to a scheme that does not use one.
    #[error("a pretrained deep belief net is only used by the dbn init, not by {0}")]
    UnusedPretrainedDbn(InitScheme),
    /// More training images asked for than the data has.
    #[error(
        "the training subset of {asked} images is larger than the {available} training images"
    )]
    TrainLimitTooLarge {
        /// The limit asked for.
        asked: i64,
        /// Training images in the data.
        available: i64,
    },
    /// Zero biases asked for an init that sets its own.
    #[error("the {0} init sets the biases itself; zero biases would undo it")]
    BiasSetByInit(InitScheme),
    /// The pretrained-DBN folder holds no DBN, but a folder below it does.
    #[error("{} holds no pretrained DBN ({}), but {} below it does", dir.display(), crate::pretraining::dbn::WEIGHTS_FILE, found.display())]
    DbnBelow {
        /// The folder given.
        dir: PathBuf,
        /// The first DBN folder found below it.
        found: PathBuf,
    },
    /// The validation split leaves too few training images.
    #[error(
        "a validation split of {asked} images leaves {left} of the {available} training images to \
         train on{}",
        if *limit > 0 { format!(", fewer than the training subset of {limit}") } else { String::new() }
    )]
    ValidationTooLarge {
        /// The split asked for.
        asked: i64,
        /// Training images in the data.
        available: i64,
        /// Images left to train on.
        left: i64,
        /// The training subset asked for (0: all).
        limit: i64,
    },
    /// The model's input width is not the images' pixel count.
    #[error("the model's input width {width} does not match the {pixels} pixels of the images")]
    InputWidth {
        /// The model's first width.
        width: i64,
        /// Pixels per image.
        pixels: i64,
    },
    /// The model's output is narrower than the classes.
    #[error("the model's output width {0} is smaller than the 10 classes")]
    OutputWidth(i64),
    /// A batch larger than the training images used (with `drop_last` no batch is left).
    #[error("batch size {batch} is larger than the {images} training examples (the last partial batch is dropped, so no batch is left)")]
    BatchTooLarge {
        /// The batch size.
        batch: i64,
        /// Training images used.
        images: i64,
    },
    /// A setting the optimizer does not use.
    #[error("momentum {0} is only used by SGD; Adam has no momentum setting")]
    MomentumWithoutSgd(f64),
    /// A model too large to train in the memory this machine has free, found before allocating.
    #[error("the model {widths} has {params} parameters and needs about {} to train, but {} of memory is available", gib(*needed), gib(*available))]
    ModelTooLarge {
        /// Its widths, as `784-100-10`.
        widths: String,
        /// Its parameters (weights and biases).
        params: u128,
        /// Bytes its training needs, estimated ([`training_bytes`]).
        needed: u128,
        /// Bytes of memory available (`MemAvailable` of `/proc/meminfo`).
        available: u128,
    },
}

/// Bytes that training a net of `params` parameters and `widths` needs at least, estimated: six
/// `f32` copies of the parameters (weights, gradients, Adam's two moments, a checkpoint's and the
/// saved model's copies), and four `f32` values per unit for `rows` examples at once (the larger
/// of a batch and the test set, evaluated whole: outputs, activations and their gradients).
pub fn training_bytes(params: u128, widths: &[i64], rows: u128) -> u128 {
    let units: u128 = widths.iter().map(|&w| w.max(0) as u128).sum();
    params * 4 * 6 + rows * units * 4 * 4
}

/// Bytes of memory available to a new process (`MemAvailable` in `/proc/meminfo`), if known.
fn available_memory() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `bytes` in GiB, as `12.3 GiB`.
fn gib(bytes: u128) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

impl RunSpec {
    /// A 12-hex-digit SHA-256 of the spec's content (see `HashKey`): equal specs, equal hashes,
    /// on any machine.
    pub fn hash(&self) -> String {
        let source = match &self.source {
            InitSource::None => serde_json::json!("none"),
            InitSource::Pretrained { sha256, .. } => serde_json::json!({ "pretrained": sha256 }),
        };
        let key = HashKey {
            model: &self.model,
            source,
            train: &self.train,
            data: self
                .data
                .files
                .iter()
                .map(|f| f.content_sha256.as_str())
                .collect(),
        };
        // Serialising plain structs of numbers and strings cannot fail.
        let json = serde_json::to_string(&key).unwrap_or_default();
        hex(&Sha256::digest(json.as_bytes()))[..12].to_string()
    }

    /// Errors a planner or user must fix before anything runs (settings, data size, the init's
    /// source).
    pub fn validate(&self, data: &Mnist) -> Result<()> {
        self.train.validate()?;
        let train_images = data.train.len();
        let pixels = data.train.rows * data.train.cols;
        let widths = &self.model.widths.0;
        if widths[0] != pixels {
            return Err(SpecError::InputWidth {
                width: widths[0],
                pixels,
            }
            .into());
        }
        let out = widths[widths.len() - 1];
        if out < 10 {
            return Err(SpecError::OutputWidth(out).into());
        }
        match (&self.source, self.model.init) {
            (InitSource::None, init) if init.needs_pretrained() => {
                return Err(SpecError::NeedsPretrainedDbn.into())
            }
            (InitSource::None, _) => {}
            (_, init) if init.needs_pretrained() => {}
            (_, init) => return Err(SpecError::UnusedPretrainedDbn(init).into()),
        }
        if let Some(n) = self.train.train_limit {
            if n > train_images {
                return Err(SpecError::TrainLimitTooLarge {
                    asked: n,
                    available: train_images,
                }
                .into());
            }
        }
        if self.model.bias.conflicts_with(self.model.init) {
            return Err(SpecError::BiasSetByInit(self.model.init).into());
        }
        let v = self.train.validation;
        let left = train_images - v;
        let limit = self.train.train_limit.unwrap_or(0);
        if v > 0 && (left < 1 || limit > left) {
            return Err(SpecError::ValidationTooLarge {
                asked: v,
                available: train_images,
                left: left.max(0),
                limit,
            }
            .into());
        }
        let images = self.train.train_limit.unwrap_or(left).min(left);
        if self.train.batch_size > images {
            return Err(SpecError::BatchTooLarge {
                batch: self.train.batch_size,
                images,
            }
            .into());
        }
        if self.train.optimizer != OptimizerKind::Sgd && self.train.momentum != 0.0 {
            return Err(SpecError::MomentumWithoutSgd(self.train.momentum).into());
        }
        self.check_memory(data)
    }

    /// An error when training this spec's model would need more memory than is available
    /// ([`training_bytes`] against `MemAvailable`; no check where that is unknown).
    fn check_memory(&self, data: &Mnist) -> Result<()> {
        let widths = &self.model.widths.0;
        let params: u128 = (widths.windows(2))
            .map(|w| (w[0].max(0) as u128) * (w[1].max(0) as u128 + 1))
            .sum();
        let rows = (self.train.batch_size.max(0) as u128).max(data.test.len() as u128);
        let needed = training_bytes(params, widths, rows);
        match available_memory() {
            Some(available) if needed > available => Err(SpecError::ModelTooLarge {
                widths: self.model.widths.label(),
                params,
                needed,
                available,
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// Things that run but are probably not what was meant.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let wanted = self.model.init.required_activation();
        if wanted.is_some_and(|a| a != self.model.activation) {
            out.push(format!(
                "the dbn init copies weights pretrained for logistic (sigmoid) units into a {} net; \
                 the pretrained features only mean what they meant in pretraining with sigmoid",
                self.model.activation
            ));
        }
        out
    }

    /// A short label for legends and messages: `shallow xavier-uniform`, `deep sigmoid dbn`.
    pub fn label(&self) -> String {
        self.model.label()
    }
}
