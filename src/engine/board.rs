//! Each run's TensorBoard log: a [`RunSink`] of the training loop that appends the run's events to a new event file in the run directory ([`crate::base::output::tensorboard`]), so that
//! `tensorboard --logdir runs` shows every run.
//!
//! Tags (the step is the global batch number, 1-based, unless said otherwise):
//!
//! - `train/loss_step`: every batch's loss;
//! - `epoch/train_cost`, `epoch/test_loss`, `epoch/test_accuracy`, and `epoch/validation_loss`,
//!   `epoch/validation_accuracy` for runs with a validation split, `epoch/learning_rate` —
//!   step: the epoch;
//! - `dynamics/linearℓ/…` for every sampled step of a monitored run ([`crate::base::train::dynamics`]):
//!   `z_mean`, `z_std`, the hidden layers' `a_mean`, `a_std`, `saturated` (`dead` for ReLU) and
//!   `distinct`, then `grad_z_std`, `grad_data`, `update_log10`;
//! - `weights/<variable>` and `gradients/<variable>` (`weights/linear1.weight`, …): histograms of
//!   every variable and of the last batch's gradient at the end of each epoch — step: the epoch.
//!
//! Events are buffered and flushed (to disk, `fsync`) at the end of every epoch, before every
//! checkpoint is saved, and when the run stops.
//!
//! **Resuming.** A resumed run writes a new event file (TensorBoard merges every file of a
//! directory, in name order: `events.out.tfevents.<unix seconds>.<host>`, so the later file
//! sorts last; no file is ever rewritten) holding only what comes after the checkpoint it resumes
//! from: the steps from the checkpoint's step + 1 and the epochs after its epoch. Up to the
//! checkpoint the earlier file holds everything, since it was flushed before the checkpoint was
//! taken. After a `kill -9` the earlier file may also hold points past the checkpoint (flushed
//! before the process died); the resumed run writes them again, with the same values (a resumed
//! run is bit-identical). So the new file starts with a `SessionLog` START event at the
//! checkpoint's step + 1, on which TensorBoard's loader drops every point of that step or later
//! read from the earlier file ([`crate::base::output::tensorboard`]). Its steps are compared across tags, so
//! that drops all of the per-step tags' stale points, but of the per-epoch tags only those whose
//! epoch number reaches the checkpoint's step + 1: an epoch that ended after the checkpoint —
//! possible only after a crash, not after Ctrl-C: with `--checkpoint-every` above 1, or a
//! `kill -9` between an epoch's flush and its checkpoint — shows twice, at the same value.
//!
//! A write error (a full disk) ends the run with an error naming the file: the training loop
//! is stopped after the current batch, no checkpoint is saved past what the log holds (the
//! executor flushes the log first), and the executor returns the error.

use std::path::Path;

use anyhow::{Context, Result};
use tch::{Kind, Tensor};

use crate::base::nn::{model::Mlp, scheme::Activation};
use crate::base::output::tensorboard::{
    Event, EventWriter, Histogram, Value, ValueData, DEFAULT_BINS,
};
use crate::base::train::dynamics::{self, StepRecord};
use crate::base::train::sink::{RunSink, RunStart};
use crate::base::train::trainer::{Position, TrainState};
use crate::base::train::{Checkpoint, Ending, EpochRecord};

/// Tag of every batch's loss.
pub const LOSS_STEP: &str = "train/loss_step";
/// Tag of an epoch's train cost (the lab's `avg_cost`).
pub const TRAIN_COST: &str = "epoch/train_cost";
/// Tag of an epoch's test loss.
pub const TEST_LOSS: &str = "epoch/test_loss";
/// Tag of an epoch's test accuracy (a fraction).
pub const TEST_ACCURACY: &str = "epoch/test_accuracy";
/// Tag of an epoch's validation loss.
pub const VALIDATION_LOSS: &str = "epoch/validation_loss";
/// Tag of an epoch's validation accuracy.
pub const VALIDATION_ACCURACY: &str = "epoch/validation_accuracy";
/// Tag of the learning rate an epoch trained with.
pub const LEARNING_RATE: &str = "epoch/learning_rate";

/// One run's TensorBoard log, a [`RunSink`]: a write error ends the run with that error.
#[derive(Debug)]
pub struct RunBoard {
    writer: EventWriter,
    activation: Activation,
}

impl RunBoard {
    /// Starts a new event file in the run directory `dir` for a net with `activation`.
    pub fn create(dir: &Path, activation: Activation) -> Result<RunBoard> {
        Ok(RunBoard::new(EventWriter::create(dir)?, activation))
    }

    /// A log writing to `writer`.
    pub(crate) fn new(writer: EventWriter, activation: Activation) -> RunBoard {
        RunBoard { writer, activation }
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Writes what is buffered to disk.
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush()
    }

    fn epoch(&mut self, r: &EpochRecord) -> Result<()> {
        let mut values = vec![
            scalar(TRAIN_COST, r.train_cost),
            scalar(TEST_LOSS, r.test_loss),
            scalar(TEST_ACCURACY, r.test_accuracy),
        ];
        if let Some(v) = r.validation_loss {
            values.push(scalar(VALIDATION_LOSS, v));
        }
        if let Some(v) = r.validation_accuracy {
            values.push(scalar(VALIDATION_ACCURACY, v));
        }
        values.extend(r.learning_rate.map(|v| scalar(LEARNING_RATE, v)));
        self.writer.write(&Event::summary(r.epoch as i64, values))
    }

    /// Writes the histograms of `model`'s variables and of `gradients` (in
    /// [`Mlp::parameters`] order) at `epoch`.
    pub fn histograms(&mut self, epoch: i64, model: &Mlp, gradients: &[Tensor]) -> Result<()> {
        let mut vars: Vec<_> = model.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let mut values = Vec::with_capacity(2 * vars.len());
        for (name, t) in &vars {
            values.push(histogram(format!("weights/{name}"), t, name)?);
        }
        let mut grads: Vec<(String, &Tensor)> =
            model.parameter_names().into_iter().zip(gradients).collect();
        grads.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, g) in grads {
            if g.defined() {
                values.push(histogram(format!("gradients/{name}"), g, &name)?);
            }
        }
        self.writer.write(&Event::summary(epoch, values))
    }

    fn dynamics(&mut self, r: &StepRecord) -> Result<()> {
        let saturation = dynamics::saturation_name(self.activation);
        let mut values = Vec::new();
        for (l, layer) in r.layers.iter().enumerate() {
            let p = format!("dynamics/linear{}", l + 1);
            let mut put = |name: &str, v: f64| values.push(scalar(&format!("{p}/{name}"), v));
            put("z_mean", layer.z_mean);
            put("z_std", layer.z_std);
            if let Some(a) = &layer.act {
                put("a_mean", a.mean);
                put("a_std", a.std);
                put(saturation, a.saturated);
                put("distinct", a.distinct);
            }
            put("grad_z_std", layer.grad_z_std);
            put("grad_data", layer.grad_data);
            put("update_log10", layer.update_log10);
        }
        self.writer.write(&Event::summary(r.step, values))
    }
}

impl RunSink for RunBoard {
    fn on_start(&mut self, start: &RunStart) -> Result<()> {
        match start.resumed_at {
            Some((epochs_done, batches_done)) => {
                let step = epochs_done as i64 * start.batches + batches_done + 1;
                self.writer.session_start(step)
            }
            None => Ok(()),
        }
    }

    fn on_batch(&mut self, at: Position, loss: f64, sample: Option<&StepRecord>) -> Result<()> {
        if let Some(record) = sample {
            self.dynamics(record)?;
        }
        self.writer.scalar(LOSS_STEP, at.step, loss as f32)
    }

    fn on_epoch(&mut self, record: &EpochRecord, state: &TrainState) -> Result<()> {
        self.epoch(record)?;
        self.histograms(record.epoch as i64, &state.model, &state.last_gradients)?;
        self.writer.flush()
    }

    /// No checkpoint past what the log holds: it is on disk first.
    fn on_checkpoint(&mut self, _ck: &Checkpoint) -> Result<()> {
        self.writer.flush()
    }

    fn on_end(&mut self, _state: &TrainState, _ending: &Ending) -> Result<()> {
        self.writer.flush()
    }
}

/// A scalar value (TensorBoard's scalars are `f32`).
fn scalar(tag: &str, v: f64) -> Value {
    Value {
        tag: tag.into(),
        data: ValueData::Scalar(v as f32),
    }
}

/// The histogram of tensor `t` (of variable `name`) as a value tagged `tag`.
fn histogram(tag: String, t: &tch::Tensor, name: &str) -> Result<Value> {
    let v = Vec::<f32>::try_from(t.detach().to_kind(Kind::Float).reshape([-1]))
        .with_context(|| format!("reading {name} for its TensorBoard histogram"))?;
    Ok(Value {
        tag,
        data: ValueData::Histogram(Histogram::of(&v, DEFAULT_BINS)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    #[test]
    fn a_full_disk_is_an_error_naming_the_file_at_the_first_flush() {
        let Ok(file) = OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let writer = EventWriter::start("/dev/full".into(), file).unwrap();
        let mut board = RunBoard::new(writer, Activation::Relu);
        let start = RunStart {
            epochs: 1,
            batches: 10,
            resumed_at: None,
            earlier: Vec::new(),
        };
        board.on_start(&start).unwrap();
        let at = Position {
            epoch: 1,
            batch: 1,
            step: 1,
        };
        // Buffered: the full disk shows when the log is flushed, as before every checkpoint.
        board.on_batch(at, 1.0, None).unwrap();
        let e = board.flush().unwrap_err();
        assert!(format!("{e:#}").contains("/dev/full"), "{e:#}");
    }
}
