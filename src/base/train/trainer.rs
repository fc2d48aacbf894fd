//! The trainer: a run's whole state as one value ([`TrainState`]), made fresh or from a
//! checkpoint, and advanced one batch ([`Trainer::step`]) or one epoch's end
//! ([`Trainer::end_epoch`]) at a time. What watches a run is a [`RunSink`](super::sink::RunSink);
//! [`run`](super::sink::run) is the loop that connects the two.
//!
//! A run resumed from a checkpoint computes exactly what the uninterrupted run computes: the
//! same batches (the epoch seeds are in the state and the loader re-seeds per epoch), the same
//! optimizer state, the same `f32` cost accumulator; every epoch's train cost and test loss and
//! the final weights are bit-identical.

use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use tch::nn::Module;
use tch::{Kind, Reduction, Tensor};

use crate::base::data::loader::TorchLoader;
use crate::base::data::mnist::{BatchBuffers, Mnist, Split};
use crate::base::nn::hook::{initialize_model, DataDependentInit};
use crate::base::nn::model::{Mlp, MlpSpec};
use crate::base::optim::Optimizer;
use crate::base::train::dynamics::{self, DynamicsLog, StepRecord, StepTrace};
use crate::base::train::seeds::EpochSeeds;
use crate::base::train::{
    evaluate, train_split, validation_split, Checkpoint, EpochRecord, History, LrSchedule,
    TrainConfig,
};

/// Everything a run is at a given moment; a [`Checkpoint`] is a copy of it.
pub struct TrainState {
    /// The model.
    pub model: Mlp,
    /// The optimizer over the model's parameters.
    pub optimizer: Optimizer,
    /// The sampler seeds of the epochs begun, and where the next ones come from
    /// ([`EpochSeeds`]: drawn as each epoch starts, in the order PyTorch draws them).
    pub epoch_seeds: EpochSeeds,
    /// Epochs finished.
    pub epochs_done: usize,
    /// Batches finished of epoch `epochs_done + 1`.
    pub batches_done: i64,
    /// The current epoch's `avg_cost` accumulator: a scalar `f32` tensor, as in the lab.
    pub epoch_cost: Tensor,
    /// Training seconds of the current epoch spent before this session took it up.
    pub epoch_seconds: f64,
    /// The finished epochs (and the first batch's loss).
    pub history: History,
    /// The sampled training dynamics (monitored runs).
    pub dynamics: Option<DynamicsLog>,
    /// The gradients of the last step, in [`Mlp::parameters`] order (empty before the first
    /// step of this session).
    pub last_gradients: Vec<Tensor>,
}

/// Where the run is: its 1-based epoch and batch, and the global step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based batch within the epoch.
    pub batch: i64,
    /// 1-based step over the whole run (`(epoch − 1) · batches + batch`).
    pub step: i64,
}

/// What one [`Trainer::step`] gave.
#[derive(Debug)]
pub enum Step {
    /// The batch trained: its position and loss, and the dynamics sample when the step was one.
    Trained {
        /// Where.
        at: Position,
        /// The batch's loss (before the update).
        loss: f64,
        /// The sampled dynamics of a monitored step.
        sample: Option<StepRecord>,
    },
    /// The batch's loss was NaN or infinite; nothing was updated.
    Diverged {
        /// Where.
        at: Position,
        /// The offending loss.
        loss: f64,
    },
}

/// What one [`Trainer::end_epoch`] gave.
#[derive(Debug)]
pub enum EpochEnd {
    /// The epoch was evaluated and added to the history.
    Done(EpochRecord),
    /// The test loss after the epoch was NaN or infinite (the epoch is not recorded).
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// The test loss.
        loss: f64,
    },
}

/// The epoch under way: its batch order and when this session started it.
struct EpochCursor {
    /// `[n]` i64, the epoch's `randperm`.
    permutation: Tensor,
    started: Instant,
}

/// The data a run sees, fixed for the whole run.
struct Feed<'a> {
    data: &'a Mnist,
    train: Split,
    validation: Option<Split>,
    loader: TorchLoader,
    buffers: BatchBuffers,
}

impl<'a> Feed<'a> {
    /// The splits and the loader `config` asks for, checked against `spec`.
    fn new(spec: &MlpSpec, data: &'a Mnist, config: &TrainConfig) -> Result<Self> {
        config.validate()?;
        let train = train_split(data, config);
        let features = train.rows * train.cols;
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
            !train.is_empty(),
            "the validation split of {} images leaves no training images",
            config.validation
        );
        let loader = TorchLoader::new(train.len(), config.batch_size, true)?;
        Ok(Feed {
            data,
            validation: validation_split(data, config),
            train,
            loader,
            buffers: BatchBuffers::default(),
        })
    }
}

/// One run being trained: its state, and what it needs to advance it.
pub struct Trainer<'a> {
    state: TrainState,
    spec: &'a MlpSpec,
    config: &'a TrainConfig,
    feed: Feed<'a>,
    /// The parameters in the optimizer's order, and where each layer's weight is among them.
    params: Vec<Tensor>,
    weight_slots: Vec<usize>,
    cursor: Option<EpochCursor>,
    resumed_at: Option<(usize, i64)>,
}

impl<'a> Trainer<'a> {
    /// A new run: the one place that fixes the order of random draws — `manual_seed(seed)`, the
    /// layers and their init ([`initialize_model`]: the scheme, then the data-dependent `hook` on
    /// the training images), the optimizer, then every epoch's sampler seeds (each drawn when its
    /// epoch starts, from where the optimizer left the generator: [`EpochSeeds`]).
    /// `monitor_every` > 0 samples the training dynamics every that many steps.
    pub fn fresh(
        spec: &'a MlpSpec,
        data: &'a Mnist,
        config: &'a TrainConfig,
        hook: Option<&dyn DataDependentInit>,
        monitor_every: usize,
    ) -> Result<Self> {
        let feed = Feed::new(spec, data, config)?;
        if let (None, Some(step)) = (hook, spec.init.data_step()) {
            bail!(
                "the {} init needs its data-dependent step ({step}), and none was given",
                spec.init
            );
        }
        // [n, 784] f32 in [0, 1], made for the hook only
        let model = initialize_model(spec, config.seed, hook, || feed.train.images_unit())?;
        let optimizer = new_optimizer(config, &model)?;
        let state = TrainState {
            model,
            optimizer,
            epoch_seeds: EpochSeeds::start(config.epochs)?,
            epochs_done: 0,
            batches_done: 0,
            epoch_cost: zero_cost(),
            epoch_seconds: 0.0,
            history: History::default(),
            dynamics: fresh_log(spec, &feed, monitor_every),
            last_gradients: Vec::new(),
        };
        Ok(Trainer::with_state(state, spec, config, feed, None))
    }

    /// The run continued from `ck`, which must be a checkpoint of the same spec and settings. It
    /// keeps the checkpoint's dynamics sampling (or starts sampling with `monitor_every`).
    pub fn resume(
        spec: &'a MlpSpec,
        data: &'a Mnist,
        config: &'a TrainConfig,
        ck: Checkpoint,
        monitor_every: usize,
    ) -> Result<Self> {
        let feed = Feed::new(spec, data, config)?;
        check_position(&ck, config, feed.loader.num_batches())?;
        let mut model = Mlp::new(spec)?;
        model.set_weights(&ck.weights)?;
        let mut optimizer = new_optimizer(config, &model)?;
        optimizer.set_state(ck.optimizer)?;
        let at = (ck.epochs_done, ck.batches_done);
        let dynamics = ck
            .dynamics
            .or_else(|| fresh_log(spec, &feed, monitor_every));
        let state = TrainState {
            model,
            optimizer,
            epoch_seeds: ck.epoch_seeds,
            epochs_done: ck.epochs_done,
            batches_done: ck.batches_done,
            epoch_cost: Tensor::from(ck.partial_cost),
            epoch_seconds: ck.partial_seconds,
            history: ck.history,
            dynamics,
            last_gradients: Vec::new(),
        };
        Ok(Trainer::with_state(state, spec, config, feed, Some(at)))
    }

    fn with_state(
        state: TrainState,
        spec: &'a MlpSpec,
        config: &'a TrainConfig,
        feed: Feed<'a>,
        resumed_at: Option<(usize, i64)>,
    ) -> Self {
        Trainer {
            params: state.model.parameters(),
            weight_slots: state.model.weight_slots(),
            state,
            spec,
            config,
            feed,
            cursor: None,
            resumed_at,
        }
    }

    /// The run's state.
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// The run's settings.
    pub fn config(&self) -> &TrainConfig {
        self.config
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> i64 {
        self.feed.loader.num_batches()
    }

    /// Where a resumed run took up (epochs done, batches done of the next); `None` when fresh.
    pub fn resumed_at(&self) -> Option<(usize, i64)> {
        self.resumed_at
    }

    /// Whether every epoch has ended.
    pub fn finished(&self) -> bool {
        self.state.epochs_done >= self.config.epochs
    }

    /// Whether the current epoch has batches left to train (else [`Trainer::end_epoch`] is next).
    pub fn batches_left(&self) -> bool {
        !self.finished() && self.state.batches_done < self.batches_per_epoch()
    }

    /// Starts the epoch's clock, its learning rate and its batch order, once per epoch.
    fn begin_epoch(&mut self) -> Result<()> {
        if self.cursor.is_some() {
            return Ok(());
        }
        let started = Instant::now();
        let e = self.state.epochs_done;
        if self.config.lr_schedule != LrSchedule::Constant {
            let lr = self.learning_rate(e);
            self.state.optimizer.set_lr(lr);
        }
        let seed = self.state.epoch_seeds.seed(e)?;
        let permutation = self.feed.loader.permutation(seed);
        self.cursor = Some(EpochCursor {
            permutation,
            started,
        });
        Ok(())
    }

    /// The learning rate of 0-based epoch `e` under the run's schedule.
    fn learning_rate(&self, e: usize) -> f64 {
        let config = self.config;
        config
            .lr_schedule
            .rate(config.learning_rate, e, config.epochs)
    }

    /// Trains the next batch of the current epoch (call only while [`Trainer::batches_left`]).
    pub fn step(&mut self) -> Result<Step> {
        ensure!(self.batches_left(), "no batch is left in this epoch");
        self.begin_epoch()?;
        let b = self.state.batches_done;
        let at = Position {
            epoch: self.state.epochs_done + 1,
            batch: b + 1,
            step: self.state.epochs_done as i64 * self.batches_per_epoch() + b + 1,
        };
        let monitored = (self.state.dynamics.as_ref()).is_some_and(|d| d.due(at.step));
        let cursor = self.cursor.as_ref().context("no epoch under way")?;
        let idx = self.feed.loader.batch(&cursor.permutation, b);
        // [batch, 784] f32 in [0, 1], [batch] i64
        let (x, y) = self.feed.train.gather_unit(&idx, &mut self.feed.buffers);
        let state = &mut self.state;
        if !state.optimizer.takes_gradients() {
            state.optimizer.zero_grad();
        }
        // A sampled step keeps each layer's z ([batch, width]) and a; the same operations.
        let (hypothesis, trace) = if monitored {
            let (zs, acts) = state.model.forward_trace(x);
            (zs[zs.len() - 1].shallow_clone(), Some((zs, acts)))
        } else {
            // [batch, classes]
            (state.model.forward(x), None)
        };
        let cost = hypothesis.cross_entropy_loss::<Tensor>(y, None, Reduction::Mean, -100, 0.0);
        let loss = cost.double_value(&[]);
        state.history.first_batch_loss.get_or_insert(loss);
        if !loss.is_finite() {
            return Ok(Step::Diverged { at, loss });
        }
        let zs: &[Tensor] = trace.as_ref().map_or(&[], |(zs, _)| zs.as_slice());
        let (grad_zs, grads) = gradients(&cost, zs, &self.params, &state.optimizer)?;
        let before: Vec<Tensor> = match &trace {
            Some(_) => (state.model.layers.iter())
                .map(|l| l.ws.detach().copy())
                .collect(),
            None => Vec::new(),
        };
        state.optimizer.step_with(&grads);
        state.last_gradients = grads;
        let sample = match &trace {
            Some((zs, acts)) => Some(self.sample(at, loss, zs, acts, &grad_zs, &before)?),
            None => None,
        };
        let state = &mut self.state;
        state.epoch_cost += cost.detach() / self.feed.loader.num_batches() as f64;
        state.batches_done += 1;
        Ok(Step::Trained { at, loss, sample })
    }

    /// Measures a sampled step ([`dynamics::measure`]) and adds it to the log.
    fn sample(
        &mut self,
        at: Position,
        loss: f64,
        zs: &[Tensor],
        acts: &[Tensor],
        grad_zs: &[Tensor],
        before: &[Tensor],
    ) -> Result<StepRecord> {
        let state = &mut self.state;
        let grad_ws: Vec<Tensor> = (self.weight_slots.iter())
            .map(|&i| state.last_gradients[i].shallow_clone())
            .collect();
        let after: Vec<Tensor> = state.model.layers.iter().map(|l| l.ws.detach()).collect();
        let record = dynamics::measure(
            self.spec.activation,
            &StepTrace {
                step: at.step,
                epoch: at.epoch,
                batch: at.batch,
                loss,
                zs,
                acts,
                grad_zs,
                grad_ws: &grad_ws,
                before,
                after: &after,
            },
        )?;
        if let Some(log) = state.dynamics.as_mut() {
            log.records.push(record.clone());
        }
        Ok(record)
    }

    /// Ends the current epoch once its batches are done: evaluates the model on the test set
    /// (and the validation split) and adds the epoch to the history.
    pub fn end_epoch(&mut self) -> Result<EpochEnd> {
        ensure!(
            !self.finished() && !self.batches_left(),
            "the epoch has batches left"
        );
        self.begin_epoch()?;
        let started = self.cursor.take().map(|c| c.started);
        let seconds = self.state.epoch_seconds + started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let model = &self.state.model;
        let test = &self.feed.data.test;
        let (test_loss, test_accuracy) = evaluate(model, &test.images_unit(), &test.labels);
        let validation =
            (self.feed.validation.as_ref()).map(|v| evaluate(model, &v.images_unit(), &v.labels));
        let epoch = self.state.epochs_done + 1;
        if !test_loss.is_finite() {
            return Ok(EpochEnd::Diverged {
                epoch,
                loss: test_loss,
            });
        }
        let record = EpochRecord {
            epoch,
            train_cost: self.state.epoch_cost.double_value(&[]),
            test_loss,
            test_accuracy,
            seconds,
            validation_loss: validation.map(|v| v.0),
            validation_accuracy: validation.map(|v| v.1),
            learning_rate: Some(self.learning_rate(epoch - 1)),
        };
        let state = &mut self.state;
        state.history.epochs.push(record.clone());
        state.epochs_done = epoch;
        state.batches_done = 0;
        state.epoch_cost = zero_cost();
        state.epoch_seconds = 0.0;
        Ok(EpochEnd::Done(record))
    }

    /// A copy of the state to save: everything [`Trainer::resume`] needs to go on exactly.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let state = &self.state;
        let since = (self.cursor.as_ref()).map_or(0.0, |c| c.started.elapsed().as_secs_f64());
        Ok(Checkpoint {
            weights: state.model.weights(),
            optimizer: state.optimizer.state().with_context(|| {
                format!(
                    "the {} optimizer's state cannot be saved, so this run cannot be checkpointed",
                    self.config.optimizer
                )
            })?,
            epoch_seeds: state.epoch_seeds.clone(),
            epochs_done: state.epochs_done,
            batches_done: state.batches_done,
            partial_cost: state.epoch_cost.double_value(&[]) as f32,
            partial_seconds: state.epoch_seconds + since,
            history: state.history.clone(),
            dynamics: state.dynamics.clone(),
        })
    }

    /// The state, the trainer done with.
    pub fn into_state(self) -> TrainState {
        self.state
    }
}

/// A scalar `f32` zero: an epoch's cost accumulator before its first batch.
fn zero_cost() -> Tensor {
    Tensor::zeros([], (Kind::Float, tch::Device::Cpu))
}

/// A new dynamics log when sampling is on.
fn fresh_log(spec: &MlpSpec, feed: &Feed, monitor_every: usize) -> Option<DynamicsLog> {
    (monitor_every > 0).then(|| {
        DynamicsLog::new(
            spec.activation,
            spec.widths.0.len() - 1,
            monitor_every,
            feed.loader.num_batches(),
        )
    })
}

/// Checks that `ck` belongs to a run of `config` with `batches` batches per epoch.
fn check_position(ck: &Checkpoint, config: &TrainConfig, batches: i64) -> Result<()> {
    ensure!(
        (ck.epoch_seeds).fit(config.epochs, ck.epochs_done, ck.batches_done),
        "the checkpoint's epoch seeds ({} drawn{}) do not fit a run of {} epochs at epoch {}, batch {}",
        ck.epoch_seeds.drawn.len(),
        if ck.epoch_seeds.stream.is_some() { ", more to draw" } else { ", all" },
        config.epochs,
        ck.epochs_done + 1,
        ck.batches_done
    );
    ensure!(
        ck.epochs_done < config.epochs || (ck.epochs_done == config.epochs && ck.batches_done == 0),
        "the checkpoint is past the run's {} epochs",
        config.epochs
    );
    ensure!(
        (0..=batches).contains(&ck.batches_done),
        "the checkpoint is at batch {} of an epoch of {batches} batches",
        ck.batches_done
    );
    Ok(())
}

/// The optimizer `config` names, over `model`'s parameters.
fn new_optimizer(config: &TrainConfig, model: &Mlp) -> Result<Optimizer> {
    Optimizer::new(
        config.optimizer,
        config.learning_rate,
        config.momentum,
        &model.vs,
        model.parameters(),
    )
}

/// ∂cost/∂z of the sampled layers `zs` (empty when none) and ∂cost/∂parameters.
///
/// With an optimizer that takes gradients, one backward pass returns them instead of adding them
/// into zeroed `.grad` buffers: what PyTorch's `zero_grad()` (set_to_none=True since 2.0) then
/// `backward()` leave, without the zeroing and the addition (0 + g = g, the same values).
fn gradients(
    cost: &Tensor,
    zs: &[Tensor],
    params: &[Tensor],
    optimizer: &Optimizer,
) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    if optimizer.takes_gradients() {
        let inputs: Vec<&Tensor> = zs.iter().chain(params).collect();
        let mut all = Tensor::f_run_backward(&[cost], &inputs, false, false)
            .context("computing the gradients")?;
        let grads = all.split_off(zs.len());
        return Ok((all, grads));
    }
    // ∂loss/∂z of every layer, without touching the parameters' gradients.
    let grad_zs = if zs.is_empty() {
        Vec::new()
    } else {
        Tensor::f_run_backward(&[cost], zs, true, false)
            .context("computing the gradients of the pre-activations")?
    };
    cost.backward();
    Ok((grad_zs, params.iter().map(Tensor::grad).collect()))
}
