//! What watches a run: every observer of training — the run directory's files, the TensorBoard
//! log, the console, a worker's messages to its parent, the charts — is a [`RunSink`], told of
//! the run's start, each batch, each epoch, each checkpoint and its end. [`run`] is the one loop
//! that advances a [`Trainer`] and tells the sinks, in their order, what happened.
//!
//! A sink's error ends the run with that error at once (a full disk under the TensorBoard log,
//! say): the loop takes no checkpoint after it, so no checkpoint holds more than every sink
//! recorded.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

use crate::base::train::dynamics::StepRecord;
use crate::base::train::trainer::{EpochEnd, Position, Step, TrainState, Trainer};
use crate::base::train::{Checkpoint, Ending, EpochRecord, Progress};

/// How a run starts, as the sinks are told.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    /// Epochs to run in all.
    pub epochs: usize,
    /// Batches per epoch.
    pub batches: i64,
    /// Epochs already done (a resumed run), and batches done of the next one.
    pub resumed_at: Option<(usize, i64)>,
    /// The epochs a resumed run already ended (empty for a fresh one).
    pub earlier: Vec<EpochRecord>,
}

/// An observer of one run. Every method has a default that does nothing.
pub trait RunSink {
    /// Training starts (or resumes).
    fn on_start(&mut self, _start: &RunStart) -> Result<()> {
        Ok(())
    }
    /// A batch trained (`sample`: the step's dynamics, on a sampled step of a monitored run).
    fn on_batch(&mut self, _at: Position, _loss: f64, _sample: Option<&StepRecord>) -> Result<()> {
        Ok(())
    }
    /// An epoch ended and was evaluated; `state` holds the model at the end of the epoch and the
    /// gradients of its last batch ([`TrainState::last_gradients`]).
    fn on_epoch(&mut self, _record: &EpochRecord, _state: &TrainState) -> Result<()> {
        Ok(())
    }
    /// A checkpoint was taken (at the end of an epoch, or when stopping).
    fn on_checkpoint(&mut self, _ck: &Checkpoint) -> Result<()> {
        Ok(())
    }
    /// The run ended (complete, unstable, diverged or interrupted) in `state`.
    fn on_end(&mut self, _state: &TrainState, _ending: &Ending) -> Result<()> {
        Ok(())
    }
}

/// When the loop checkpoints and stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct Control<'a> {
    /// Take a checkpoint every this many epochs (0: never; the last epoch never needs one).
    pub checkpoint_every: usize,
    /// Raised (e.g. by a SIGINT handler) to stop after the current batch with a checkpoint.
    pub stop: Option<&'a AtomicBool>,
}

impl Control<'_> {
    fn stop_requested(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// Trains until the run ends, telling every sink, in order, of each event.
pub fn run(
    trainer: &mut Trainer,
    sinks: &mut [&mut dyn RunSink],
    control: Control,
) -> Result<Ending> {
    let start = RunStart {
        epochs: trainer.config().epochs,
        batches: trainer.batches_per_epoch(),
        resumed_at: trainer.resumed_at(),
        earlier: trainer.state().history.epochs.clone(),
    };
    for sink in sinks.iter_mut() {
        sink.on_start(&start)?;
    }
    let ending = advance(trainer, sinks, control)?;
    for sink in sinks.iter_mut() {
        sink.on_end(trainer.state(), &ending)?;
    }
    Ok(ending)
}

/// The loop of [`run`], up to the ending.
fn advance(
    trainer: &mut Trainer,
    sinks: &mut [&mut dyn RunSink],
    control: Control,
) -> Result<Ending> {
    while !trainer.finished() {
        if trainer.batches_left() {
            match trainer.step()? {
                Step::Diverged { at, loss } => {
                    return Ok(Ending::Diverged {
                        epoch: at.epoch,
                        batch: at.batch,
                        loss,
                    })
                }
                Step::Trained { at, loss, sample } => {
                    for sink in sinks.iter_mut() {
                        sink.on_batch(at, loss, sample.as_ref())?;
                    }
                }
            }
            if control.stop_requested() {
                return interrupt(trainer, sinks);
            }
            continue;
        }
        let record = match trainer.end_epoch()? {
            EpochEnd::Diverged { epoch, loss } => {
                return Ok(Ending::Diverged {
                    epoch,
                    batch: 0,
                    loss,
                })
            }
            EpochEnd::Done(record) => record,
        };
        for sink in sinks.iter_mut() {
            sink.on_epoch(&record, trainer.state())?;
        }
        let every = control.checkpoint_every;
        let due = every > 0 && record.epoch % every == 0;
        if !trainer.finished() && (due || control.stop_requested()) {
            let ck = checkpoint(trainer, sinks)?;
            if control.stop_requested() {
                return Ok(Ending::Interrupted(Box::new(ck)));
            }
        }
    }
    Ok(Ending::after(&trainer.state().history))
}

/// Takes a checkpoint and gives it to every sink.
fn checkpoint(trainer: &Trainer, sinks: &mut [&mut dyn RunSink]) -> Result<Checkpoint> {
    let ck = trainer.checkpoint()?;
    for sink in sinks.iter_mut() {
        sink.on_checkpoint(&ck)?;
    }
    Ok(ck)
}

/// Stops the run where it is, with a checkpoint.
fn interrupt(trainer: &Trainer, sinks: &mut [&mut dyn RunSink]) -> Result<Ending> {
    Ok(Ending::Interrupted(Box::new(checkpoint(trainer, sinks)?)))
}

/// A sink that tells a function of the run's start, batches and epochs as [`Progress`] values
/// (progress displays, a worker's messages, tests).
pub struct ProgressSink<F: FnMut(Progress)>(pub F);

impl<F: FnMut(Progress)> RunSink for ProgressSink<F> {
    fn on_start(&mut self, start: &RunStart) -> Result<()> {
        (self.0)(Progress::Start {
            epochs: start.epochs,
            batches: start.batches,
            resumed_at: start.resumed_at,
            earlier: &start.earlier,
        });
        Ok(())
    }

    fn on_batch(&mut self, at: Position, loss: f64, _sample: Option<&StepRecord>) -> Result<()> {
        (self.0)(Progress::Batch {
            epoch: at.epoch,
            batch: at.batch,
            loss,
        });
        Ok(())
    }

    fn on_epoch(&mut self, record: &EpochRecord, _state: &TrainState) -> Result<()> {
        (self.0)(Progress::Epoch(record));
        Ok(())
    }
}
