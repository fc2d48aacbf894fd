//! Training and evaluation: the lab's loop, returning a history instead of printing.

pub mod chart;
pub mod dynamics;
pub mod seeds;
pub mod sink;
pub mod trainer;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::nn::Module;
use tch::{Reduction, Tensor};

use crate::base::data::mnist::{Mnist, Split};
use crate::base::nn::hook::DataDependentInit;
use crate::base::nn::model::{self, Mlp, MlpSpec};
use crate::base::optim::{OptimizerKind, OptimizerState};
use crate::base::train::dynamics::DynamicsLog;
use crate::base::train::sink::{Control, ProgressSink};
use crate::base::train::trainer::{TrainState, Trainer};

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
    /// Hold out the last `n` training images as a validation set (0: none, as in the lab). The
    /// run trains on the images before them (the first `train_limit` of those), reports the
    /// validation loss and accuracy of every epoch, and its best epoch is chosen on them
    /// ([`History::best`]) instead of on the test set.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub validation: i64,
    /// How the learning rate changes from epoch to epoch (constant in the lab).
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
}

/// The learning rate per epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// The same rate every epoch (the lab).
    #[default]
    Constant,
    /// Cosine annealing to zero over the run, stepped per epoch: epoch `e` (0-based) of `E` uses
    /// `lr · (1 + cos(π e / E)) / 2` — `torch.optim.lr_scheduler.CosineAnnealingLR(T_max=E,
    /// eta_min=0)` stepped after every epoch.
    Cosine,
}

impl LrSchedule {
    /// Both, in the order shown to users.
    pub const ALL: [LrSchedule; 2] = [LrSchedule::Constant, LrSchedule::Cosine];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            LrSchedule::Constant => "constant",
            LrSchedule::Cosine => "cosine",
        }
    }

    fn is_constant(&self) -> bool {
        *self == LrSchedule::Constant
    }

    /// The rate of 0-based epoch `e` of `epochs`, starting from `lr`.
    pub fn rate(self, lr: f64, e: usize, epochs: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let t = e as f64 / epochs.max(1) as f64;
                lr * (1.0 + (std::f64::consts::PI * t).cos()) / 2.0
            }
        }
    }
}

impl std::fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LrSchedule {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        LrSchedule::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .with_context(|| {
                format!("unknown learning-rate schedule {s:?} (expected constant or cosine)")
            })
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Training images held out as a validation split (the last ones) wherever a command chooses
/// something on its results — a best epoch (`compare`, `study glorot`, `he`, `dbn`) or a recipe
/// (`study dbn`) — so that the test set is not used to choose. The lab's own commands (`lab`,
/// `study lab`, `train`) mirror the notebooks, which train on all 60,000 images, and hold out none.
pub const HELD_OUT: i64 = 10_000;

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
            validation: 0,
            lr_schedule: LrSchedule::Constant,
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
        ensure!(
            self.validation >= 0,
            "the validation split must be 0 or more images, got {}",
            self.validation
        );
        Ok(())
    }
}

/// What one epoch gave. A new per-epoch number is a field here, filled by
/// [`Trainer::end_epoch`], and one line in each sink that shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Mean cross-entropy on the validation split ([`TrainConfig::validation`]), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Fraction of the validation split classified correctly, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
    /// The learning rate the epoch trained with ([`LrSchedule::rate`]); absent in histories
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(epoch: usize, test_accuracy: f64, validation_accuracy: Option<f64>) -> EpochRecord {
        EpochRecord {
            epoch,
            train_cost: 0.1,
            test_loss: 0.1,
            test_accuracy,
            validation_loss: validation_accuracy.map(|_| 0.1),
            validation_accuracy,
            ..EpochRecord::default()
        }
    }

    #[test]
    fn cosine_schedule_anneals_from_lr_towards_zero() {
        let s = LrSchedule::Cosine;
        assert_eq!(s.rate(0.1, 0, 10), 0.1);
        assert!((s.rate(0.1, 5, 10) - 0.05).abs() < 1e-15);
        assert!(s.rate(0.1, 9, 10) > 0.0 && s.rate(0.1, 9, 10) < 0.003);
        assert_eq!(LrSchedule::Constant.rate(0.1, 9, 10), 0.1);
        assert_eq!("cosine".parse::<LrSchedule>().unwrap(), s);
        assert!("step".parse::<LrSchedule>().is_err());
    }

    #[test]
    fn best_epoch_is_chosen_on_validation_when_there_is_one() {
        // Test accuracy peaks at epoch 2, validation accuracy at epoch 3 (tied with 4: the
        // earliest wins).
        let mut h = History {
            epochs: vec![
                record(1, 0.90, Some(0.91)),
                record(2, 0.97, Some(0.93)),
                record(3, 0.95, Some(0.95)),
                record(4, 0.96, Some(0.95)),
            ],
            first_batch_loss: None,
        };
        let b = h.best().unwrap();
        assert_eq!((b.epoch, b.on_validation), (3, true));
        assert!((b.test_error_percent - 5.0).abs() < 1e-9);
        for e in h.epochs.iter_mut() {
            e.validation_accuracy = None;
        }
        let b = h.best().unwrap();
        assert_eq!((b.epoch, b.on_validation), (2, false));
        assert!(History::default().best().is_none());
    }

    /// A history of `(train_cost, test_loss, test_accuracy)` epochs whose first batch's loss is
    /// above all of them (so no run here is unstable for ending above its start).
    fn history(epochs: &[(f64, f64, f64)]) -> History {
        History {
            epochs: (epochs.iter().enumerate())
                .map(|(i, &(train_cost, test_loss, test_accuracy))| EpochRecord {
                    epoch: i + 1,
                    train_cost,
                    test_loss,
                    test_accuracy,
                    ..EpochRecord::default()
                })
                .collect(),
            first_batch_loss: Some(1300.0),
        }
    }

    #[test]
    fn learned_nothing_is_chance_accuracy_or_near_it_with_no_loss_below_a_guess() {
        assert_eq!(learned_nothing(&history(&[])), None);
        assert_eq!(learned_nothing(&history(&[(0.4, 0.3, 0.91)])), None);
        // Chance accuracy (the commonest digit), whatever the loss.
        let chance = learned_nothing(&history(&[(30.0, 2.0, 0.5), (2.0, 1.9, 0.11)]));
        assert_eq!(chance, Some((0.11, 1.9)));
        // Barely off chance with no loss ever below ln 10: what the loss arm is for.
        let stuck = learned_nothing(&history(&[(40.0, 25.0, 0.15), (21.0, 19.9, 0.213)]));
        assert_eq!(stuck, Some((0.213, 19.9)));
        // The same accuracy with a loss that beat a guess once: it learned, a little.
        assert_eq!(learned_nothing(&history(&[(2.5, 2.2, 0.213)])), None);
        // Overconfident but accurate: every loss above ln 10, 87.5 % right.
        let overconfident = history(&[(90.0, 12.0, 0.80), (8.0, 4.1, 0.875)]);
        assert_eq!(learned_nothing(&overconfident), None);
        assert!(matches!(Ending::after(&overconfident), Ending::Complete));
        assert_eq!(
            learned_nothing(&history(&[(3.1, 3.09, LEARNED_ACCURACY)])),
            None
        );
    }

    #[test]
    fn ending_after_says_at_chance_only_for_a_run_that_learned_nothing() {
        let guess = history(&[(2.4, 2.35, 0.11)]);
        assert!(matches!(
            Ending::after(&guess),
            Ending::AtChance { accuracy, .. } if accuracy == 0.11
        ));
        assert_eq!(Ending::after(&guess).name(), "unstable");
        let mut worse = history(&[(50.0, 9.0, 0.875)]);
        worse.first_batch_loss = Some(40.0);
        assert!(matches!(Ending::after(&worse), Ending::Unstable { .. }));
    }
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
    /// The loss of the very first batch, before any update (a uniform guess over 10 classes
    /// gives ln 10 ≈ 2.303).
    #[serde(default)]
    pub first_batch_loss: Option<f64>,
}

impl History {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// The best epoch: the one of highest validation accuracy when the run held out a validation
    /// split (the earliest of equals), else the one of lowest test error — an optimistic choice,
    /// since the test set then both picks and scores the epoch.
    pub fn best(&self) -> Option<Best> {
        let validated = self.epochs.iter().all(|e| e.validation_accuracy.is_some());
        let pick = if validated {
            self.epochs.iter().reduce(|a, b| {
                if b.validation_accuracy > a.validation_accuracy {
                    b
                } else {
                    a
                }
            })
        } else {
            self.epochs.iter().reduce(|a, b| {
                if b.test_error_percent() < a.test_error_percent() {
                    b
                } else {
                    a
                }
            })
        }?;
        Some(Best {
            epoch: pick.epoch,
            test_error_percent: pick.test_error_percent(),
            on_validation: validated,
        })
    }

    /// Mean training seconds per epoch.
    pub fn seconds_per_epoch(&self) -> f64 {
        if self.epochs.is_empty() {
            return 0.0;
        }
        self.epochs.iter().map(|e| e.seconds).sum::<f64>() / self.epochs.len() as f64
    }
}

/// The best epoch of a run and its test error ([`History::best`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Best {
    /// 1-based epoch.
    pub epoch: usize,
    /// Test error at that epoch, in percent.
    pub test_error_percent: f64,
    /// Chosen on a validation split (`false`: on the test set itself).
    pub on_validation: bool,
}

impl Best {
    /// How the epoch was chosen, for table headers and notes.
    pub fn chosen_on(on_validation: bool) -> &'static str {
        if on_validation {
            "epoch chosen on the validation split"
        } else {
            "epoch chosen on the test set: optimistic"
        }
    }
}

/// Events during training, for progress displays.
#[derive(Debug)]
pub enum Progress<'a> {
    /// Training starts (or resumes).
    Start {
        /// Epochs to run in all.
        epochs: usize,
        /// Batches per epoch.
        batches: i64,
        /// Epochs already done (a resumed run), and batches done of the next one.
        resumed_at: Option<(usize, i64)>,
        /// The epochs a resumed run already ended (empty for a fresh one), so that a display
        /// shows every epoch of the run, as an uninterrupted one would.
        earlier: &'a [EpochRecord],
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

/// Everything a run needs to continue exactly where it stopped: the weights, the optimizer's
/// state, the loader's epoch seeds, the position and the partial epoch's accumulated cost, the
/// history so far.
///
/// The global random generator needs no saving beyond `epoch_seeds`: the loader re-seeds it at the
/// start of every epoch from its epoch's seed (see [`TorchLoader`](crate::base::data::loader::TorchLoader)),
/// drawn from the state `epoch_seeds` keeps, and nothing else draws from it during training, so
/// continuing from a checkpoint replays the same batches.
#[derive(Debug)]
pub struct Checkpoint {
    /// The model's variables by name (`linear1.weight`, …), copies.
    pub weights: Vec<(String, Tensor)>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// The sampler seeds of the epochs begun, and the generator state the next ones are drawn
    /// from.
    pub epoch_seeds: crate::base::train::seeds::EpochSeeds,
    /// Epochs finished.
    pub epochs_done: usize,
    /// Batches finished of epoch `epochs_done + 1`.
    pub batches_done: i64,
    /// The partial epoch's `avg_cost` accumulator (an `f32`, as in the lab).
    pub partial_cost: f32,
    /// Training seconds of the partial epoch so far.
    pub partial_seconds: f64,
    /// The finished epochs.
    pub history: History,
    /// The training dynamics sampled so far (monitored runs).
    pub dynamics: Option<DynamicsLog>,
}

/// How a run ended. Expected endings are values, not errors.
#[derive(Debug)]
pub enum Ending {
    /// All epochs ran and the final train cost is below the first batch's loss.
    Complete,
    /// All epochs ran, but the final epoch's train cost is above the first batch's loss: the
    /// run got worse than where it started (a learning rate too large, say), without NaN.
    Unstable {
        /// The first batch's loss.
        first_loss: f64,
        /// The final epoch's train cost.
        final_cost: f64,
    },
    /// All epochs ran, but the run learned nothing: it ended at chance accuracy, or near it with
    /// no loss ever below a uniform guess's ([`learned_nothing`]). Unstable too, for another
    /// reason (a learning rate so large that the net's outputs saturate, say).
    AtChance {
        /// The final epoch's test accuracy.
        accuracy: f64,
        /// The lowest train cost or test loss of any epoch.
        lowest_loss: f64,
    },
    /// A loss became NaN or infinite.
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch (0 when the test loss after the epoch was the non-finite one).
        batch: i64,
        /// The offending loss.
        loss: f64,
    },
    /// The stop flag was raised; the run stopped after a whole batch. Its checkpoint continues it.
    Interrupted(Box<Checkpoint>),
}

impl Ending {
    /// How a run whose epochs all ran ended: unstable when the final epoch's train cost is above
    /// the first batch's loss, else at chance when it learned nothing ([`learned_nothing`]),
    /// else complete.
    pub fn after(history: &History) -> Ending {
        match (history.first_batch_loss, history.last()) {
            (Some(first), Some(last)) if last.train_cost > first => Ending::Unstable {
                first_loss: first,
                final_cost: last.train_cost,
            },
            _ => match learned_nothing(history) {
                Some((accuracy, lowest_loss)) => Ending::AtChance {
                    accuracy,
                    lowest_loss,
                },
                None => Ending::Complete,
            },
        }
    }

    /// `complete`, `unstable`, `diverged` or `interrupted`.
    pub fn name(&self) -> &'static str {
        match self {
            Ending::Complete => "complete",
            Ending::Unstable { .. } | Ending::AtChance { .. } => "unstable",
            Ending::Diverged { .. } => "diverged",
            Ending::Interrupted(_) => "interrupted",
        }
    }
}

/// The final test accuracy below which a run counts as at chance: twice the 0.1 that guessing
/// among MNIST's 10 classes scores (every model ends in 10 outputs). The margin keeps a net that
/// only learned to prefer one digit (the commonest is 11 % of the test set) below it. A run
/// that ends below it — a learning rate so large that the outputs saturate, or too few updates
/// for its init — has not been trained in any useful sense, whatever its cost did.
pub const CHANCE_ACCURACY: f64 = 0.2;

/// The final test accuracy from which a run has learned something whatever its loss: three
/// times a guess's 0.1. Cross entropy punishes confident mistakes without bound, so a net that
/// classifies well can still sit above [`GUESS_LOSS`] (784-32-10 from N(0, 1) weights, Adam at
/// lr 0.01, 3 epochs of 2,000 images: 64.9 % with no loss below 3.09, measured): above this
/// line the loss says the net is overconfident, not that it learned nothing.
pub const LEARNED_ACCURACY: f64 = 0.3;

/// The loss of a uniform guess over 10 classes, ln 10 ≈ 2.303. Between [`CHANCE_ACCURACY`] and
/// [`LEARNED_ACCURACY`] a run whose train cost and test loss never fell below it did no better
/// than a guess: its accuracy is barely off chance and its predictions are worse than uniform
/// (the same net at lr 0.001: 21.3 % with no loss below 19.9, measured).
pub const GUESS_LOSS: f64 = std::f64::consts::LN_10;

/// Whether the finished epochs of `history` show a run that learned nothing — a final test
/// accuracy below [`CHANCE_ACCURACY`], or below [`LEARNED_ACCURACY`] with no epoch's train cost
/// or test loss below [`GUESS_LOSS`] — with the final accuracy and the lowest loss; `None` for a
/// run that learned, or has no epoch to judge. The one place this rule lives.
pub fn learned_nothing(history: &History) -> Option<(f64, f64)> {
    let last = history.last()?;
    let lowest_loss = (history.epochs.iter())
        .flat_map(|e| [e.train_cost, e.test_loss])
        .fold(f64::INFINITY, f64::min);
    let accuracy = last.test_accuracy;
    let never_beat_a_guess = lowest_loss >= GUESS_LOSS;
    let at_chance =
        accuracy < CHANCE_ACCURACY || (accuracy < LEARNED_ACCURACY && never_beat_a_guess);
    at_chance.then_some((accuracy, lowest_loss))
}

/// A run's end: the model, the history, how it ended and the dynamics sampled.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The model as it is at the end.
    pub model: Mlp,
    /// The epochs finished.
    pub history: History,
    /// How it ended.
    pub ending: Ending,
    /// The training dynamics (when sampled), up to where the run ended.
    pub dynamics: Option<DynamicsLog>,
}

impl TrainOutcome {
    /// The outcome of a trainer that ended in `state` with `ending`.
    pub fn new(state: TrainState, ending: Ending) -> Self {
        TrainOutcome {
            model: state.model,
            history: state.history,
            ending,
            dynamics: state.dynamics,
        }
    }
}

/// Loss and accuracy of `model` on `inputs` (`[n, features]` f32) and `labels`.
pub fn evaluate(model: &Mlp, inputs: &Tensor, labels: &Tensor) -> (f64, f64) {
    tch::no_grad(|| {
        // [n, classes]
        let logits = model.forward(inputs);
        let loss = logits.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
        let acc = model::accuracy(&logits, labels);
        (loss.double_value(&[]), acc.double_value(&[]))
    })
}

/// Trains a freshly built `spec` on `data` with `config`, reporting to `observer`; a NaN or
/// infinite loss is an error (use a [`Trainer`] with [`sink::run`] for typed endings, checkpoints and resuming).
///
/// Order of events, as in the lab's notebooks: `manual_seed(seed)`, build the layers and
/// initialize them ([`Mlp::new`]), the optimizer, then per epoch the batches in
/// `DataLoader(shuffle=True, drop_last=True)` order ([`TorchLoader`](crate::base::data::loader::TorchLoader)). So a run of the shallow net
/// with `xavier-uniform` prints the notebook's epoch costs.
pub fn train(
    spec: &MlpSpec,
    data: &Mnist,
    config: &TrainConfig,
    observer: &mut dyn FnMut(Progress),
) -> Result<(Mlp, History)> {
    train_with(spec, data, config, None, observer)
}

/// [`train`] with a data-dependent initializer (LSUV, a pretrained DBN) that runs on the
/// training inputs after the layers are built, before the optimizer is created.
pub fn train_with(
    spec: &MlpSpec,
    data: &Mnist,
    config: &TrainConfig,
    hook: Option<&dyn DataDependentInit>,
    observer: &mut dyn FnMut(Progress),
) -> Result<(Mlp, History)> {
    let mut trainer = Trainer::fresh(spec, data, config, hook, 0)?;
    let ending = sink::run(
        &mut trainer,
        &mut [&mut ProgressSink(observer)],
        Control::default(),
    )?;
    let outcome = TrainOutcome::new(trainer.into_state(), ending);
    match outcome.ending {
        Ending::Diverged { epoch, batch, loss } => {
            let at = if batch > 0 {
                format!("the loss is {loss} at epoch {epoch}, batch {batch}")
            } else {
                format!("the test loss is {loss} after epoch {epoch}")
            };
            bail!(
                "training diverged: {at} ({} init, learning rate {})",
                spec.init,
                config.learning_rate
            )
        }
        _ => Ok((outcome.model, outcome.history)),
    }
}

/// The training split `config` uses: the training images before the validation split, the
/// first `train_limit` of them.
pub fn train_split(data: &Mnist, config: &TrainConfig) -> Split {
    let available = (data.train.len() - config.validation).max(0);
    data.train
        .take(config.train_limit.unwrap_or(available).min(available))
}

/// The validation split `config` holds out: the last `validation` training images (`None` for 0).
pub fn validation_split(data: &Mnist, config: &TrainConfig) -> Option<Split> {
    (config.validation > 0).then(|| data.train.last(config.validation))
}
