//! Training and evaluation: the lab's loop, returning a history instead of printing.

use std::time::Instant;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::nn::Module;
use tch::{Kind, Reduction, Tensor};

use crate::data::{Mnist, Split, TorchLoader};
use crate::lsuv::DataDependentInit;
use crate::model::{self, InitScheme, Mlp, MlpSpec};
use crate::optim::{Optimizer, OptimizerKind};

/// Settings of one training run. `Default` is the lab's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set (lab: 15).
    pub epochs: usize,
    /// Examples per mini-batch; the last partial batch is dropped (lab: 100).
    pub batch_size: i64,
    /// Learning rate (lab: 0.001).
    pub learning_rate: f64,
    /// `torch.manual_seed` before the model is built (lab: 777).
    pub seed: i64,
    /// Optimizer (lab: Adam).
    pub optimizer: OptimizerKind,
    /// Train on the first `n` training examples only (`None`: all 60,000).
    pub train_limit: Option<i64>,
    /// Momentum of SGD (0: plain SGD; ignored by Adam).
    #[serde(default)]
    pub momentum: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 15,
            batch_size: 100,
            learning_rate: 0.001,
            seed: 777,
            optimizer: OptimizerKind::Adam,
            train_limit: None,
            momentum: 0.0,
        }
    }
}

impl TrainConfig {
    /// Checks that the values make sense, naming the first that does not.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.epochs >= 1,
            "epochs must be at least 1, got {}",
            self.epochs
        );
        ensure!(
            self.batch_size >= 1,
            "batch size must be at least 1, got {}",
            self.batch_size
        );
        ensure!(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "learning rate must be a positive number, got {}",
            self.learning_rate
        );
        if let Some(n) = self.train_limit {
            ensure!(n >= 1, "train limit must be at least 1, got {n}");
        }
        Ok(())
    }
}

/// What one epoch gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches, accumulated in `f32` like the lab's `avg_cost`.
    pub train_cost: f64,
    /// Mean cross-entropy on the test set (inputs scaled to [0, 1] like the training inputs).
    pub test_loss: f64,
    /// Fraction of test images classified correctly.
    pub test_accuracy: f64,
    /// Wall-clock seconds of the epoch's training (evaluation not included).
    pub seconds: f64,
}

impl EpochRecord {
    /// Test error in percent.
    pub fn test_error_percent(&self) -> f64 {
        100.0 * (1.0 - self.test_accuracy)
    }

    /// The lab's line, `Epoch: 0001 cost = 0.246763036`.
    pub fn lab_line(&self) -> String {
        format!("Epoch: {:04} cost = {:.9}", self.epoch, self.train_cost)
    }
}

/// Per-epoch records of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One record per finished epoch, in order.
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// Mean training seconds per epoch.
    pub fn seconds_per_epoch(&self) -> f64 {
        if self.epochs.is_empty() {
            return 0.0;
        }
        self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len() as f64
    }
}

/// Events during training, for progress displays.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Training starts.
    Start {
        /// Epochs to run.
        epochs: usize,
        /// Batches per epoch.
        batches: i64,
    },
    /// A batch finished.
    Batch {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: i64,
        /// The batch's loss.
        loss: f64,
    },
    /// An epoch finished and was evaluated.
    Epoch(&'a EpochRecord),
}

/// A run that diverged: the loss became NaN or infinite. Carries what was recorded before, so
/// that comparisons can report "diverged at epoch k" and still draw the epochs before.
#[derive(Debug, Clone)]
pub struct Diverged {
    /// 1-based epoch in which it happened.
    pub epoch: usize,
    /// 1-based batch within the epoch (0 when the test loss after the epoch was the non-finite one).
    pub batch: i64,
    /// The offending loss.
    pub loss: f64,
    /// The init scheme's name.
    pub init: String,
    /// The learning rate.
    pub learning_rate: f64,
    /// The epochs finished before.
    pub history: History,
}

impl std::fmt::Display for Diverged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.batch > 0 {
            format!(
                "the loss is {} at epoch {}, batch {}",
                self.loss, self.epoch, self.batch
            )
        } else {
            format!("the test loss is {} after epoch {}", self.loss, self.epoch)
        };
        write!(
            f,
            "training diverged: {at} ({} init, learning rate {}); try a smaller init \
             (e.g. --init xavier-uniform or kaiming-normal) or a smaller learning rate",
            self.init, self.learning_rate
        )
    }
}

impl std::error::Error for Diverged {}

/// Loss and accuracy of `model` on `inputs` (`[n, features]` f32) and `labels`.
pub fn evaluate(model: &Mlp, inputs: &Tensor, labels: &Tensor) -> (f64, f64) {
    tch::no_grad(|| {
        let logits = model.forward(inputs); // [n, classes]
        let loss = logits.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
        let acc = model::accuracy(&logits, labels);
        (loss.double_value(&[]), acc.double_value(&[]))
    })
}

/// Trains a freshly built `spec` on `data` with `config`, reporting to `observer`.
///
/// Order of events, as in the lab's notebooks: `manual_seed(seed)`, build the layers and
/// initialize them ([`Mlp::new`]), the optimizer, then per epoch the batches in
/// `DataLoader(shuffle=True, drop_last=True)` order ([`TorchLoader`]). So a run of the shallow net
/// with `xavier-uniform` prints the notebook's epoch costs.
///
/// Stops with an error when a batch's loss is NaN or infinite.
pub fn train(
    spec: &MlpSpec,
    data: &Mnist,
    config: &TrainConfig,
    observer: &mut dyn FnMut(Progress),
) -> Result<(Mlp, History)> {
    train_with(spec, data, config, None, observer)
}

/// [`train`] with an explicit data-dependent initializer (e.g. a pretrained DBN) that runs on
/// the training inputs after the layers are built, before the optimizer is created. Without one,
/// the scheme's own runs ([`crate::model::InitScheme::data_dependent`], e.g. LSUV).
pub fn train_with(
    spec: &MlpSpec,
    data: &Mnist,
    config: &TrainConfig,
    hook: Option<&dyn DataDependentInit>,
    observer: &mut dyn FnMut(Progress),
) -> Result<(Mlp, History)> {
    config.validate()?;
    let train_split: Split = match config.train_limit {
        Some(n) => data.train.take(n),
        None => data.train.take(data.train.len()),
    };
    let features = train_split.rows * train_split.cols;
    let widths = &spec.widths.0;
    ensure!(
        widths[0] == features,
        "the model's input width {} does not match the {features} pixels of the images",
        widths[0]
    );
    let classes = widths[widths.len() - 1];
    ensure!(
        classes >= 10,
        "the model's output width {classes} is smaller than the 10 classes"
    );

    ensure!(
        spec.init != InitScheme::Dbn || hook.is_some(),
        "the dbn init needs a pretrained deep belief net: run `initlab pretrain` and pass --pretrained DIR"
    );
    let own = spec.init.data_dependent();
    let hook = hook.or(own.as_deref());
    let train_x = train_split.images_unit(); // [n, 784] f32 in [0, 1]
    tch::manual_seed(config.seed);
    let mut model = Mlp::new(spec)?;
    if let Some(hook) = hook {
        hook.initialize(&mut model, &train_x)
            .with_context(|| format!("{} initialization", hook.name()))?;
    }
    let mut optimizer = Optimizer::new(
        config.optimizer,
        config.learning_rate,
        config.momentum,
        &model.vs,
        model.parameters(),
    )?;

    let train_y = &train_split.labels; // [n] i64
    let test_x = data.test.images_unit(); // [10000, 784] f32 in [0, 1]
    let test_y = &data.test.labels; // [10000] i64

    let loader = TorchLoader::new(train_split.len(), config.batch_size, true)?;
    let total_batch = loader.num_batches();
    let seeds = TorchLoader::draw_epoch_seeds(config.epochs);
    observer(Progress::Start {
        epochs: config.epochs,
        batches: total_batch,
    });

    let mut history = History::default();
    for (e, &seed) in seeds.iter().enumerate() {
        let epoch = e + 1;
        let started = Instant::now();
        let permutation = loader.permutation(seed);
        let mut avg_cost = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
        for (b, idx) in loader.batches(&permutation).enumerate() {
            let x = train_x.index_select(0, &idx); // [batch, 784]
            let y = train_y.index_select(0, &idx); // [batch]
            optimizer.zero_grad();
            let hypothesis = model.forward(&x); // [batch, classes]
            let cost =
                hypothesis.cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0);
            let loss = cost.double_value(&[]);
            if !loss.is_finite() {
                return Err(Diverged {
                    epoch,
                    batch: b as i64 + 1,
                    loss,
                    init: spec.init.to_string(),
                    learning_rate: config.learning_rate,
                    history,
                }
                .into());
            }
            cost.backward();
            optimizer.step();
            avg_cost += cost.detach() / total_batch as f64;
            observer(Progress::Batch {
                epoch,
                batch: b as i64 + 1,
                loss,
            });
        }
        let seconds = started.elapsed().as_secs_f64();
        let (test_loss, test_accuracy) = evaluate(&model, &test_x, test_y);
        let record = EpochRecord {
            epoch,
            train_cost: avg_cost.double_value(&[]),
            test_loss,
            test_accuracy,
            seconds,
        };
        if !test_loss.is_finite() {
            return Err(Diverged {
                epoch,
                batch: 0,
                loss: test_loss,
                init: spec.init.to_string(),
                learning_rate: config.learning_rate,
                history,
            }
            .into());
        }
        observer(Progress::Epoch(&record));
        history.epochs.push(record);
    }
    Ok((model, history))
}
