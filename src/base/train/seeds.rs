//! The sampler seeds of a run's epochs, drawn from libtorch's global generator when each epoch
//! starts, not all before the first: a run of any number of epochs sets up at once, and its
//! checkpoint holds the generator's state (2.5 KB) instead of a seed per epoch.
//!
//! The draws are PyTorch's: after the init and the optimizer, each epoch's `DataLoader` draws two
//! `int64` from the global generator ([`TorchLoader::draw_epoch_seeds`]). The permutation of an
//! epoch reseeds that generator, so [`EpochSeeds`] keeps a copy of the generator's engine as the
//! last draw left it, and puts it back before drawing the next epoch's pair: the seeds are the
//! ones drawn all up front, bit for bit.
//!
//! Where libtorch's engine cannot be reached (another libtorch version, a symbol missing:
//! [`torch_rng::checked_generator`]), every seed is drawn up front as before, for at most
//! [`MAX_EPOCHS_UP_FRONT`] epochs.

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::data::loader::TorchLoader;
use crate::base::parity::ffi::EngineData;
use crate::base::parity::mt19937::N;
use crate::base::parity::torch_rng;

/// Most epochs whose seeds are drawn up front when libtorch's engine cannot be reached (the
/// checkpoint then lists them all, within its header's limit).
pub const MAX_EPOCHS_UP_FRONT: usize = 20_000;

/// libtorch's generator engine (`at::mt19937`) as a checkpoint stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratorState {
    /// The seed it was made from.
    pub seed: u64,
    /// Draws left before the next twist, plus one.
    pub left: i32,
    /// Whether it was seeded.
    pub seeded: bool,
    /// The state word the next draw tempers.
    pub next: u32,
    /// The 624 state words.
    pub words: Vec<u32>,
}

impl From<&EngineData> for GeneratorState {
    fn from(e: &EngineData) -> Self {
        GeneratorState {
            seed: e.seed,
            left: e.left,
            seeded: e.seeded,
            next: e.next,
            words: e.state.to_vec(),
        }
    }
}

impl GeneratorState {
    /// The engine, checked to be one the generator can continue from.
    fn engine(&self) -> Result<EngineData> {
        let state: [u32; N] = self.words.as_slice().try_into().ok().with_context(|| {
            format!(
                "the generator state has {} words, not {N}",
                self.words.len()
            )
        })?;
        ensure!(
            self.seeded && (1..=N as i32).contains(&self.left) && (self.next as usize) <= N,
            "the generator state is not one libtorch's engine can be in (left {}, next {})",
            self.left,
            self.next
        );
        Ok(EngineData {
            seed: self.seed,
            left: self.left,
            seeded: self.seeded,
            next: self.next,
            state,
        })
    }
}

/// The epoch seeds of one run: those drawn so far, and where the next ones come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochSeeds {
    /// The seeds drawn so far, epoch 1 first (every epoch's when drawn up front).
    pub drawn: Vec<i64>,
    /// The generator's engine as the last draw left it, to draw the next epochs' seeds from;
    /// `None` when every epoch's seed was drawn up front.
    pub stream: Option<GeneratorState>,
}

impl EpochSeeds {
    /// The seeds of a new run of `epochs` epochs, from the global generator as it stands now
    /// (after the init and the optimizer): nothing drawn yet when its engine can be reached, else
    /// every seed drawn now (an error above [`MAX_EPOCHS_UP_FRONT`] epochs, before drawing).
    pub fn start(epochs: usize) -> Result<Self> {
        match torch_rng::checked_generator() {
            Ok(generator) => Ok(EpochSeeds {
                drawn: Vec::new(),
                stream: Some(GeneratorState::from(&generator.engine())),
            }),
            Err(why) => {
                ensure!(
                    epochs <= MAX_EPOCHS_UP_FRONT,
                    "{epochs} epochs: with libtorch's generator out of reach ({why}) every epoch's \
                     seed is drawn before the first, and at most {MAX_EPOCHS_UP_FRONT} epochs are; \
                     use --epochs {MAX_EPOCHS_UP_FRONT} or less"
                );
                Ok(EpochSeeds {
                    drawn: TorchLoader::draw_epoch_seeds(epochs),
                    stream: None,
                })
            }
        }
    }

    /// The sampler seed of 0-based epoch `e`, drawing the seeds up to it from the stream (which
    /// leaves the global generator where the last draw left it).
    pub fn seed(&mut self, e: usize) -> Result<i64> {
        while self.drawn.len() <= e {
            let stream = self.stream.as_ref().with_context(|| {
                format!(
                    "the seed of epoch {} was not drawn, and no generator state is kept to draw it",
                    e + 1
                )
            })?;
            let engine = stream.engine()?;
            let generator = torch_rng::checked_generator()
                .map_err(|why| anyhow::anyhow!("libtorch's generator cannot be reached: {why}"))
                .context("continuing a run whose epoch seeds are drawn as its epochs start")?;
            generator.set_engine(engine);
            let seed = TorchLoader::draw_epoch_seeds(1)[0];
            self.drawn.push(seed);
            self.stream = Some(GeneratorState::from(&generator.engine()));
        }
        Ok(self.drawn[e])
    }

    /// Whether these seeds can serve a run of `epochs` epochs `epochs_done` epochs and
    /// `batches_done` batches in: drawn up front for exactly `epochs`, or drawn up to the
    /// position with a stream to go on from.
    pub fn fit(&self, epochs: usize, epochs_done: usize, batches_done: i64) -> bool {
        let needed = epochs_done + usize::from(batches_done > 0);
        match &self.stream {
            None => self.drawn.len() == epochs,
            Some(_) => self.drawn.len() >= needed && self.drawn.len() <= epochs,
        }
    }
}
