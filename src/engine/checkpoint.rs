//! Checkpoints on disk: one safetensors file (`checkpoint.safetensors`) holding the weights, the
//! optimizer's tensors and, in its metadata, the position, the epoch seeds drawn so far and the
//! generator state the next ones come from ([`EpochSeeds`]), the partial epoch's
//! cost accumulator (its exact `f32` bits) and the history so far. Written atomically, read with
//! bounds and checked against the run's spec hash.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::nn::scheme::Activation;
use crate::base::optim::{AdamState, OptimizerState};
use crate::base::output::io::{self, SafeTensors};
use crate::base::train::dynamics::DynamicsLog;
use crate::base::train::seeds::{EpochSeeds, GeneratorState};
use crate::base::train::{Checkpoint, History};

/// Value of the metadata's `format` entry.
pub const FORMAT: &str = "initlab-checkpoint-v1";

/// The checkpoint's metadata (JSON in the `state` entry of the safetensors metadata).
#[derive(Debug, Serialize, Deserialize)]
struct State {
    format: String,
    spec_hash: String,
    optimizer: String,
    params: usize,
    adam_step: i64,
    amsgrad: bool,
    sgd_buffers: Vec<bool>,
    /// The sampler seeds of the epochs begun (of every epoch, in checkpoints of runs that drew
    /// them all up front: older ones, and those made without access to libtorch's generator).
    epoch_seeds: Vec<i64>,
    /// The generator state the next epochs' seeds are drawn from ([`EpochSeeds::stream`]).
    #[serde(default)]
    seed_stream: Option<GeneratorState>,
    epochs_done: usize,
    batches_done: i64,
    partial_cost_bits: u32,
    partial_seconds: f64,
    history: History,
    /// The sampled training dynamics' shape (their values are the `dynamics/values` and
    /// `dynamics/hist` tensors); absent when the run is not monitored.
    #[serde(default)]
    dynamics: Option<DynamicsMeta>,
}

#[derive(Debug, Serialize, Deserialize)]
struct DynamicsMeta {
    activation: Activation,
    layers: usize,
    every: usize,
    batches_per_epoch: i64,
}

fn idx(i: usize) -> String {
    format!("{i:04}")
}

/// Writes `ck` for the run with spec hash `spec_hash` to `path`, atomically.
pub fn save(path: &Path, ck: &Checkpoint, spec_hash: &str) -> Result<()> {
    let mut st = SafeTensors::default();
    for (name, t) in &ck.weights {
        st.tensors
            .insert(format!("model/{name}"), t.shallow_clone());
    }
    let (optimizer, params, adam_step, amsgrad, sgd_buffers) = match &ck.optimizer {
        OptimizerState::Adam(a) => {
            for (i, t) in a.exp_avg.iter().enumerate() {
                st.tensors
                    .insert(format!("adam/exp_avg/{}", idx(i)), t.shallow_clone());
            }
            for (i, t) in a.exp_avg_sq.iter().enumerate() {
                st.tensors
                    .insert(format!("adam/exp_avg_sq/{}", idx(i)), t.shallow_clone());
            }
            for (i, t) in a.max_exp_avg_sq.iter().enumerate() {
                st.tensors
                    .insert(format!("adam/max_exp_avg_sq/{}", idx(i)), t.shallow_clone());
            }
            (
                "adam",
                a.exp_avg.len(),
                a.step,
                !a.max_exp_avg_sq.is_empty(),
                Vec::new(),
            )
        }
        OptimizerState::Sgd(buffers) => {
            for (i, b) in buffers.iter().enumerate() {
                if let Some(t) = b {
                    st.tensors
                        .insert(format!("sgd/buffer/{}", idx(i)), t.shallow_clone());
                }
            }
            (
                "sgd",
                buffers.len(),
                0,
                false,
                buffers.iter().map(|b| b.is_some()).collect(),
            )
        }
    };
    let state = State {
        format: FORMAT.into(),
        spec_hash: spec_hash.into(),
        optimizer: optimizer.into(),
        params,
        adam_step,
        amsgrad,
        sgd_buffers,
        epoch_seeds: ck.epoch_seeds.drawn.clone(),
        seed_stream: ck.epoch_seeds.stream.clone(),
        epochs_done: ck.epochs_done,
        batches_done: ck.batches_done,
        partial_cost_bits: ck.partial_cost.to_bits(),
        partial_seconds: ck.partial_seconds,
        history: ck.history.clone(),
        dynamics: ck.dynamics.as_ref().map(|d| DynamicsMeta {
            activation: d.activation,
            layers: d.layers,
            every: d.every,
            batches_per_epoch: d.batches_per_epoch,
        }),
    };
    if let Some(d) = &ck.dynamics {
        let (values, hist) = d.to_tensors();
        st.tensors.insert("dynamics/values".into(), values);
        st.tensors.insert("dynamics/hist".into(), hist);
    }
    st.metadata.insert(
        "state".into(),
        serde_json::to_string(&state).context("serialising the checkpoint state")?,
    );
    st.write(path)
}

/// Bytes of the checkpoint header's metadata per epoch of the run, at most: the epoch's seed
/// and its history record, each number written in full and escaped inside the `state` string
/// (about 400 bytes; the rest is margin).
const HEADER_BYTES_PER_EPOCH: u64 = 1024;

/// The largest header a checkpoint of a run of `epochs` epochs can have: the default limit
/// ([`io::MAX_SAFETENSORS_HEADER`], for the tensors' entries and the fixed state) plus
/// [`HEADER_BYTES_PER_EPOCH`] for each epoch. A legitimate checkpoint of any length resumes,
/// and a hostile file makes the reader allocate no more than this.
pub fn header_limit(epochs: usize) -> u64 {
    (epochs as u64)
        .saturating_mul(HEADER_BYTES_PER_EPOCH)
        .saturating_add(io::MAX_SAFETENSORS_HEADER)
}

/// Reads the checkpoint at `path`, which must belong to the run with spec hash `spec_hash`, of
/// `epochs` epochs (which bound its header, [`header_limit`]). The file's checksum and size are
/// verified first ([`SafeTensors::read_within`]). Every problem names the file.
pub fn load(path: &Path, spec_hash: &str, epochs: usize) -> Result<Checkpoint> {
    let st = SafeTensors::read_within(path, header_limit(epochs), io::MAX_SAFETENSORS_BYTES)?;
    let state = read_state(&st, path, spec_hash)?;
    let weights: Vec<(String, tch::Tensor)> = st
        .tensors
        .iter()
        .filter_map(|(k, t)| {
            k.strip_prefix("model/")
                .map(|n| (n.to_string(), t.shallow_clone()))
        })
        .collect();
    let optimizer = match state.optimizer.as_str() {
        "adam" => load_adam(&st, &state, path)?,
        "sgd" => load_sgd(&st, &state, path)?,
        other => return Err(bad(path, format!("unknown optimizer {other:?}"))),
    };
    let dynamics = match &state.dynamics {
        Some(meta) => Some(load_dynamics(&st, meta, path)?),
        None => None,
    };
    Ok(Checkpoint {
        weights,
        optimizer,
        epoch_seeds: EpochSeeds {
            drawn: state.epoch_seeds,
            stream: state.seed_stream,
        },
        epochs_done: state.epochs_done,
        batches_done: state.batches_done,
        partial_cost: f32::from_bits(state.partial_cost_bits),
        partial_seconds: state.partial_seconds,
        history: state.history,
        dynamics,
    })
}

/// An error about the checkpoint at `path`: `what`, prefixed with the file.
fn bad(path: &Path, what: String) -> anyhow::Error {
    anyhow::anyhow!("{}: {what}", path.display())
}

/// The `state` metadata of `st`, checked for format, spec hash and a plausible parameter count.
fn read_state(st: &SafeTensors, path: &Path, spec_hash: &str) -> Result<State> {
    let state: State = serde_json::from_str(st.meta("state", path)?)
        .with_context(|| format!("{}: the checkpoint state is not valid", path.display()))?;
    if state.format != FORMAT {
        return Err(bad(
            path,
            format!("format {:?}, expected {FORMAT:?}", state.format),
        ));
    }
    if state.spec_hash != spec_hash {
        return Err(bad(
            path,
            format!(
                "the checkpoint belongs to a run with spec hash {}, not {spec_hash}",
                state.spec_hash
            ),
        ));
    }
    ensure!(
        state.params <= 4096,
        "{}: implausible parameter count {}",
        path.display(),
        state.params
    );
    Ok(state)
}

/// A copy of the tensor `name` of `st`, or an error naming `path` and the tensor.
fn get(st: &SafeTensors, path: &Path, name: String) -> Result<tch::Tensor> {
    Ok(st.get(&name, path)?.shallow_clone())
}

/// Adam's moments, one tensor per parameter for each list the state says is there.
fn load_adam(st: &SafeTensors, state: &State, path: &Path) -> Result<OptimizerState> {
    let list = |what: &str| -> Result<Vec<tch::Tensor>> {
        (0..state.params)
            .map(|i| get(st, path, format!("adam/{what}/{}", idx(i))))
            .collect()
    };
    Ok(OptimizerState::Adam(AdamState {
        step: state.adam_step,
        exp_avg: list("exp_avg")?,
        exp_avg_sq: list("exp_avg_sq")?,
        max_exp_avg_sq: if state.amsgrad {
            list("max_exp_avg_sq")?
        } else {
            Vec::new()
        },
    }))
}

/// SGD's momentum buffers, present where the state's flags say so.
fn load_sgd(st: &SafeTensors, state: &State, path: &Path) -> Result<OptimizerState> {
    ensure!(
        state.sgd_buffers.len() == state.params,
        "{}: {} SGD buffer flags for {} parameters",
        path.display(),
        state.sgd_buffers.len(),
        state.params
    );
    let buffers = state
        .sgd_buffers
        .iter()
        .enumerate()
        .map(|(i, &present)| {
            if present {
                get(st, path, format!("sgd/buffer/{}", idx(i))).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(OptimizerState::Sgd(buffers))
}

/// The sampled training dynamics described by `meta`, filled from their two tensors.
fn load_dynamics(st: &SafeTensors, meta: &DynamicsMeta, path: &Path) -> Result<DynamicsLog> {
    ensure!(
        meta.layers >= 1 && meta.layers <= 4096,
        "{}: implausible layer count {} in the dynamics",
        path.display(),
        meta.layers
    );
    let mut log = DynamicsLog::new(
        meta.activation,
        meta.layers,
        meta.every,
        meta.batches_per_epoch,
    );
    log.set_from_tensors(
        &get(st, path, "dynamics/values".into())?,
        &get(st, path, "dynamics/hist".into())?,
    )
    .with_context(|| format!("{}: the training dynamics", path.display()))?;
    Ok(log)
}
