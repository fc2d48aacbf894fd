//! Deep belief networks as an initializer: greedy layer-wise RBM pretraining, saving and loading
//! the stack, and copying it into an MLP's hidden layers for fine-tuning with backprop.
//!
//! Hinton, Osindero & Teh (2006), "A fast learning algorithm for deep belief nets", Neural
//! Computation 18(7); Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with
//! neural networks", Science 313 (and their Matlab code, whose `makebatches`/`rbm.m` recipe this
//! follows): train an RBM on the data, then train the next RBM on the first one's hidden
//! *probabilities* `p(h|v)` for the data, and so on up the stack; then use the weights and hidden
//! biases as the layers of a feed-forward net with logistic units.
//!
//! On disk a pretrained stack is a directory with
//! - `dbn.safetensors`: `rbm1.weight` `[w1, w0]`, `rbm1.visible_bias` `[w0]`, `rbm1.hidden_bias`
//!   `[w1]`, `rbm2.…`, all `f32`;
//! - `dbn.json`: format tag, widths, the RBM settings, epochs and per-layer histories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::base::nn::model::Mlp;
use crate::base::output::io::{self, SafeTensors};
use crate::pretraining::rbm::{self, Rbm, RbmConfig, RbmHistory, RbmProgress};

/// File name of the weights inside a DBN directory.
pub const WEIGHTS_FILE: &str = "dbn.safetensors";
/// File name of the description inside a DBN directory.
pub const META_FILE: &str = "dbn.json";
/// Value of the `format` field of `dbn.json`.
pub const FORMAT: &str = "initlab-dbn-v1";

/// A stack of trained RBMs: `rbms[l]` maps layer `l` (width `widths[l]`) to layer `l + 1`.
#[derive(Debug)]
pub struct Dbn {
    /// Layer widths, input first (`784, 500, 500, 2000`).
    pub widths: Vec<i64>,
    /// The RBMs, bottom first; `rbms[l]` has `widths[l]` visible and `widths[l+1]` hidden units.
    pub rbms: Vec<Rbm>,
    /// The settings they were trained with.
    pub config: RbmConfig,
    /// Epochs per layer.
    pub epochs: usize,
    /// Training history of each RBM, bottom first.
    pub histories: Vec<RbmHistory>,
}

/// `dbn.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbnMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Layer widths, input first.
    pub widths: Vec<i64>,
    /// RBM settings.
    pub config: RbmConfig,
    /// Epochs per layer.
    pub epochs: usize,
    /// One history per RBM.
    pub histories: Vec<RbmHistory>,
}

/// Events during pretraining, for progress displays. `layer` is 1-based.
#[derive(Debug)]
pub enum DbnProgress<'a> {
    /// Training of RBM `layer` (`n_visible → n_hidden`) starts.
    Layer {
        /// 1-based layer.
        layer: usize,
        /// Number of RBMs.
        layers: usize,
        /// Its visible units.
        n_visible: i64,
        /// Its hidden units.
        n_hidden: i64,
    },
    /// An event of that RBM's training.
    Rbm {
        /// 1-based layer.
        layer: usize,
        /// The event.
        event: RbmProgress<'a>,
    },
}

/// Checks a width list for a DBN: at least two positive widths.
pub fn validate_widths(widths: &[i64]) -> Result<()> {
    ensure!(
        widths.len() >= 2,
        "a DBN needs at least two widths (visible, hidden), got {widths:?}"
    );
    ensure!(
        widths.iter().all(|&w| w > 0),
        "DBN widths must be positive, got {widths:?}"
    );
    Ok(())
}

/// Greedy layer-wise pretraining (Hinton, Osindero & Teh 2006, section 4): RBM `l` is trained
/// for `epochs` epochs with `config` on `p(h|·)` of RBM `l − 1` for the data (the data themselves
/// for `l = 1`); its monitoring set is `monitor` propagated the same way.
///
/// `data` `[n, widths[0]]` and `monitor` `[m, widths[0]]` are `f32` in [0, 1]. Each RBM starts
/// from [`Rbm::for_data`] on its own input (so its visible biases follow the Guide's
/// `log(p/(1−p))` when the config says so). Call [`tch::manual_seed`] first for repeatable runs.
pub fn pretrain(
    data: &Tensor,
    monitor: &Tensor,
    widths: &[i64],
    config: &RbmConfig,
    epochs: usize,
    progress: &mut dyn FnMut(DbnProgress),
) -> Result<Dbn> {
    validate_widths(widths)?;
    config.validate()?;
    ensure!(
        epochs >= 1,
        "DBN pretraining needs at least 1 epoch per layer"
    );
    for (t, what) in [(data, "training data"), (monitor, "monitoring data")] {
        let size = t.size();
        ensure!(
            size.len() == 2 && size[1] == widths[0],
            "{what} has shape {size:?}, the DBN's input width is {}",
            widths[0]
        );
    }
    let layers = widths.len() - 1;
    let mut rbms = Vec::with_capacity(layers);
    let mut histories = Vec::with_capacity(layers);
    let mut input = data.shallow_clone(); // [n, widths[l]]
    let mut input_monitor = monitor.shallow_clone(); // [m, widths[l]]
    for l in 0..layers {
        let layer = l + 1;
        progress(DbnProgress::Layer {
            layer,
            layers,
            n_visible: widths[l],
            n_hidden: widths[l + 1],
        });
        let mut rbm = Rbm::for_data(&input, widths[l + 1], config)
            .with_context(|| format!("initializing RBM {layer}"))?;
        let history = rbm::train(
            &mut rbm,
            &input,
            &input_monitor,
            config,
            epochs,
            &mut |event| progress(DbnProgress::Rbm { layer, event }),
        )
        .with_context(|| format!("training RBM {layer} ({}→{})", widths[l], widths[l + 1]))?;
        if layer < layers {
            input = rbm.hidden_probs(&input); // [n, widths[l+1]]
            input_monitor = rbm.hidden_probs(&input_monitor); // [m, widths[l+1]]
        }
        rbms.push(rbm);
        histories.push(history);
    }
    Ok(Dbn {
        widths: widths.to_vec(),
        rbms,
        config: config.clone(),
        epochs,
        histories,
    })
}

impl Dbn {
    /// Number of RBMs.
    pub fn layers(&self) -> usize {
        self.rbms.len()
    }

    /// `p(h|·)` of the first `n_layers` RBMs applied in turn to `v` (`[n, widths[0]]`): the
    /// deterministic up-pass, `[n, widths[n_layers]]`.
    pub fn up(&self, v: &Tensor, n_layers: usize) -> Result<Tensor> {
        ensure!(
            n_layers <= self.layers(),
            "the DBN has {} layers, asked for {n_layers}",
            self.layers()
        );
        let mut h = v.shallow_clone();
        for (l, rbm) in self.rbms[..n_layers].iter().enumerate() {
            rbm.check_visible(&h, &format!("input of RBM {}", l + 1))?;
            h = rbm.hidden_probs(&h); // [n, widths[l+1]]
        }
        Ok(h)
    }

    /// The description written to `dbn.json`.
    pub fn meta(&self) -> DbnMeta {
        DbnMeta {
            format: FORMAT.to_string(),
            widths: self.widths.clone(),
            config: self.config.clone(),
            epochs: self.epochs,
            histories: self.histories.clone(),
        }
    }

    /// The tensors written to `dbn.safetensors`, with their names.
    pub fn named_tensors(&self) -> Vec<(String, &Tensor)> {
        self.rbms
            .iter()
            .enumerate()
            .flat_map(|(l, r)| {
                let p = format!("rbm{}", l + 1);
                [
                    (format!("{p}.weight"), &r.weight),
                    (format!("{p}.visible_bias"), &r.visible_bias),
                    (format!("{p}.hidden_bias"), &r.hidden_bias),
                ]
            })
            .collect()
    }

    /// Writes `dir/dbn.safetensors` and `dir/dbn.json` (the directory is created if needed),
    /// each atomically ([`crate::base::output::io::write_atomic`]): a reader sees the old file or the new one.
    pub fn save(&self, dir: &Path) -> Result<()> {
        ensure!(
            self.rbms.len() + 1 == self.widths.len() && self.histories.len() == self.rbms.len(),
            "inconsistent DBN: {} widths, {} RBMs, {} histories",
            self.widths.len(),
            self.rbms.len(),
            self.histories.len()
        );
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating DBN directory {}", dir.display()))?;
        let weights = dir.join(WEIGHTS_FILE);
        let tensors = SafeTensors {
            tensors: self
                .named_tensors()
                .into_iter()
                .map(|(name, t)| (name, t.shallow_clone()))
                .collect(),
            metadata: Default::default(),
        };
        tensors
            .write(&weights)
            .with_context(|| format!("writing DBN weights {}", weights.display()))?;
        io::write_json(&dir.join(META_FILE), &self.meta())
    }

    /// Reads a directory written by [`Dbn::save`], checking that the format is known, that every
    /// tensor named by the widths is present with the right shape and kind, and that no other is.
    ///
    /// Both files are read with a bound: `dbn.json` at most [`io::MAX_JSON_BYTES`],
    /// `dbn.safetensors` at most the bytes its widths need (plus a header of at most
    /// [`io::MAX_SAFETENSORS_HEADER`]); both are checked against their checksums
    /// ([`crate::base::output::checksum`]); every error names the file at fault.
    pub fn load(dir: &Path) -> Result<Dbn> {
        ensure!(
            dir.is_dir(),
            "pretrained DBN directory {} does not exist or is not a directory",
            dir.display()
        );
        let meta_path = dir.join(META_FILE);
        let meta = read_meta(&meta_path)?;
        let data_bytes = weight_bytes(&meta_path, &meta.widths)?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let mut stored = StoredRbms::read(&weights_path, &meta.widths, data_bytes)?;
        let layers = meta.widths.len() - 1;
        let mut rbms = Vec::with_capacity(layers);
        for l in 0..layers {
            rbms.push(stored.take_rbm(l)?);
        }
        stored.finish()?;
        Ok(Dbn {
            widths: meta.widths,
            rbms,
            config: meta.config,
            epochs: meta.epochs,
            histories: meta.histories,
        })
    }
}

/// Reads `dbn.json` at `meta_path` and checks its format tag, widths and number of histories.
fn read_meta(meta_path: &Path) -> Result<DbnMeta> {
    let meta: DbnMeta = io::read_json(meta_path).with_context(|| {
        format!(
            "reading {}: not a valid DBN description",
            meta_path.display()
        )
    })?;
    ensure!(
        meta.format == FORMAT,
        "{}: unknown format {:?}, expected {FORMAT:?}",
        meta_path.display(),
        meta.format
    );
    validate_widths(&meta.widths).with_context(|| format!("in {}", meta_path.display()))?;
    let layers = meta.widths.len() - 1;
    ensure!(
        meta.histories.len() == layers,
        "{}: {} histories for {layers} RBMs",
        meta_path.display(),
        meta.histories.len()
    );
    Ok(meta)
}

/// The bytes of `f32` tensors the RBMs of `widths` hold, or an error naming `meta_path` when
/// they exceed [`io::MAX_SAFETENSORS_BYTES`].
fn weight_bytes(meta_path: &Path, widths: &[i64]) -> Result<u64> {
    // f32 bytes of each RBM's weight and biases: h·v + v + h values.
    widths
        .windows(2)
        .try_fold(0u64, |acc, w| {
            let (v, h) = (w[0] as u64, w[1] as u64);
            h.checked_mul(v)?
                .checked_add(v + h)?
                .checked_mul(4)?
                .checked_add(acc)
        })
        .filter(|&n| n <= io::MAX_SAFETENSORS_BYTES)
        .with_context(|| {
            format!(
                "{}: widths {:?} need more than the {} bytes a safetensors file may have",
                meta_path.display(),
                widths,
                io::MAX_SAFETENSORS_BYTES
            )
        })
}

/// The tensors of `dbn.safetensors`, handed out RBM by RBM with checks against the widths.
struct StoredRbms<'a> {
    /// Tensors not yet taken, by name.
    tensors: BTreeMap<String, Tensor>,
    /// The file they came from, for error messages.
    path: &'a Path,
    /// The widths from `dbn.json`.
    widths: &'a [i64],
}

impl<'a> StoredRbms<'a> {
    /// Reads `path`, bounded by the `data_bytes` the widths need plus the largest header.
    fn read(path: &'a Path, widths: &'a [i64], data_bytes: u64) -> Result<Self> {
        ensure!(
            path.is_file(),
            "missing file {} (the DBN's weights)",
            path.display()
        );
        let tensors = SafeTensors::read_within(path, io::MAX_SAFETENSORS_HEADER, data_bytes)
            .with_context(|| {
                format!(
                    "reading {}: the widths {:?} in {META_FILE} need {data_bytes} bytes of tensors",
                    path.display(),
                    widths
                )
            })?
            .tensors;
        Ok(StoredRbms {
            tensors,
            path,
            widths,
        })
    }

    /// Removes the tensor `name`, checking that it exists, has `shape` and is `f32`.
    fn take(&mut self, name: &str, shape: &[i64]) -> Result<Tensor> {
        let t = self.tensors.remove(name).with_context(|| {
            format!(
                "{}: missing tensor {name}, which the widths {:?} in {META_FILE} need",
                self.path.display(),
                self.widths
            )
        })?;
        ensure!(
            t.size() == shape,
            "{}: tensor {name} has shape {:?}, the widths {:?} in {META_FILE} need {shape:?}",
            self.path.display(),
            t.size(),
            self.widths
        );
        ensure!(
            t.kind() == Kind::Float,
            "{}: tensor {name} is {:?}, expected f32",
            self.path.display(),
            t.kind()
        );
        Ok(t)
    }

    /// Takes the three tensors of RBM `l` (0-based) and checks that they are finite.
    fn take_rbm(&mut self, l: usize) -> Result<Rbm> {
        let (v, h) = (self.widths[l], self.widths[l + 1]);
        let p = format!("rbm{}", l + 1);
        let weight = self.take(&format!("{p}.weight"), &[h, v])?;
        let visible_bias = self.take(&format!("{p}.visible_bias"), &[v])?;
        let hidden_bias = self.take(&format!("{p}.hidden_bias"), &[h])?;
        let rbm = Rbm::from_tensors(weight, visible_bias, hidden_bias)
            .with_context(|| format!("{}: {p}", self.path.display()))?;
        let finite = tch::no_grad(|| {
            [&rbm.weight, &rbm.visible_bias, &rbm.hidden_bias]
                .iter()
                .all(|t| t.isfinite().all().int64_value(&[]) == 1)
        });
        ensure!(
            finite,
            "{}: {p} holds NaN or infinite values",
            self.path.display()
        );
        Ok(rbm)
    }

    /// Fails if any tensor was not taken.
    fn finish(self) -> Result<()> {
        if !self.tensors.is_empty() {
            let extra: Vec<&str> = self.tensors.keys().map(|n| n.as_str()).collect();
            bail!(
                "{}: unexpected tensors {extra:?} for widths {:?} in {META_FILE}",
                self.path.display(),
                self.widths
            );
        }
        Ok(())
    }
}

/// The widths of `mlp`, read from its layers: input, then each layer's output.
pub fn mlp_widths(mlp: &Mlp) -> Vec<i64> {
    let mut widths = Vec::with_capacity(mlp.layers.len() + 1);
    if let Some(first) = mlp.layers.first() {
        widths.push(first.ws.size()[1]);
    }
    widths.extend(mlp.layers.iter().map(|l| l.ws.size()[0]));
    widths
}

/// Copies RBM `l`'s weight `[w_{l+1}, w_l]` and hidden bias `[w_{l+1}]` into `mlp.layers[l]`'s
/// weight and bias, for `l = 0..k` (the MLP's layers 1..=k), under `no_grad` with `copy_`.
///
/// The MLP's widths must start with the DBN's widths; its later layers (the output layer at least)
/// keep whatever initialization they have. The RBMs' visible biases are not used. The RBMs were
/// trained with logistic units, so the pretrained features mean what they meant in pretraining when
/// the MLP's activation is sigmoid (Hinton & Salakhutdinov 2006 fine-tune with logistic units).
pub fn init_mlp_from_dbn(dbn: &Dbn, mlp: &mut Mlp) -> Result<()> {
    let mlp_w = mlp_widths(mlp);
    let k = dbn.rbms.len();
    ensure!(
        mlp_w.len() > k + 1 && mlp_w[..=k] == dbn.widths[..],
        "the model's widths {} do not fit the pretrained DBN's widths {}: a DBN covers the hidden \
         layers only, so its widths must be the model's without the output layer ({} for this \
         model)",
        join(&mlp_w),
        join(&dbn.widths),
        join(&mlp_w[..mlp_w.len().saturating_sub(1)])
    );
    for (l, rbm) in dbn.rbms.iter().enumerate() {
        let layer = &mut mlp.layers[l];
        ensure!(
            layer.ws.size() == rbm.weight.size(),
            "layer {} weight has shape {:?}, RBM {} weight {:?}",
            l + 1,
            layer.ws.size(),
            l + 1,
            rbm.weight.size()
        );
        let bias = layer.bs.as_mut().with_context(|| {
            format!(
                "layer {} has no bias to take RBM {}'s hidden bias",
                l + 1,
                l + 1
            )
        })?;
        ensure!(
            bias.size() == rbm.hidden_bias.size(),
            "layer {} bias has shape {:?}, RBM {} hidden bias {:?}",
            l + 1,
            bias.size(),
            l + 1,
            rbm.hidden_bias.size()
        );
        tch::no_grad(|| {
            layer.ws.copy_(&rbm.weight); // [w_{l+1}, w_l]
            bias.copy_(&rbm.hidden_bias); // [w_{l+1}]
        });
    }
    Ok(())
}

use crate::base::nn::model::join_widths as join;

/// `dir/dbn.safetensors` and `dir/dbn.json`, for messages and listings.
pub fn files(dir: &Path) -> [PathBuf; 2] {
    [dir.join(WEIGHTS_FILE), dir.join(META_FILE)]
}

/// A pretrained DBN as a data-dependent initializer ([`crate::base::nn::scheme::InitScheme::Dbn`]): copies
/// the RBMs' weights and hidden biases into the MLP's first layers ([`init_mlp_from_dbn`]).
#[derive(Debug)]
pub struct DbnInit {
    /// The pretrained stack.
    pub dbn: Dbn,
    /// Where it was loaded from (for messages).
    pub source: PathBuf,
}

impl DbnInit {
    /// Loads the DBN saved in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(DbnInit {
            dbn: Dbn::load(dir)?,
            source: dir.to_path_buf(),
        })
    }
}

impl crate::base::nn::hook::DataDependentInit for DbnInit {
    fn name(&self) -> String {
        format!("DBN from {}", self.source.display())
    }

    fn initialize(&self, mlp: &mut Mlp, _inputs: &Tensor) -> Result<()> {
        init_mlp_from_dbn(&self.dbn, mlp)
    }
}
