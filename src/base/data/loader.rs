//! Mini-batches in exactly the order PyTorch's `DataLoader(shuffle=True, drop_last=True)` yields them.
//!
//! What `DataLoader` does with the global CPU generator (PyTorch 2.x, `num_workers=0`): each time an
//! epoch starts, `iter(loader)` draws one `int64` (`_share_dist_seed`, the workers' base seed), then
//! `RandomSampler.__iter__` draws a second `int64` (`torch.empty((), dtype=int64).random_()`), seeds a
//! *fresh* `torch.Generator` with it and takes `randperm(n)` from that private generator.
//!
//! tch has no generator objects, only the global one. [`TorchLoader::draw_epoch_seeds`] therefore
//! draws all epochs' pairs from the global generator up front, and [`TorchLoader::permutation`]
//! reseeds the global generator with an epoch's sampler seed before `randperm`.
//!
//! **Assumption:** nothing else draws from the global generator while training. That holds for the
//! lab (no dropout, no random augmentation, `num_workers=0`). It breaks with dropout or any other
//! random op inside the training loop (PyTorch would interleave those draws with the epoch seeds),
//! and with `num_workers > 0` (workers get seeds derived from the base seed, and the order of the
//! batches stays the same but the generator state seen by the dataset code differs). After training
//! the global generator is left in the state of the last `randperm`, not where PyTorch leaves it.

use anyhow::{ensure, Result};
use tch::{Device, Kind, Tensor};

/// Batch indices in `DataLoader(shuffle=True, drop_last=…)` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TorchLoader {
    /// Number of examples in the dataset.
    pub len: i64,
    /// Examples per batch.
    pub batch_size: i64,
    /// Drop the last, smaller batch (the lab: `drop_last=True`).
    pub drop_last: bool,
}

impl TorchLoader {
    /// A loader over `len` examples; errors when the sizes make no batch at all.
    pub fn new(len: i64, batch_size: i64, drop_last: bool) -> Result<Self> {
        ensure!(
            batch_size > 0,
            "batch size must be at least 1, got {batch_size}"
        );
        ensure!(len > 0, "the dataset is empty");
        ensure!(
            !drop_last || len >= batch_size,
            "batch size {batch_size} is larger than the {len} training examples (with drop_last no batch is left)"
        );
        Ok(TorchLoader {
            len,
            batch_size,
            drop_last,
        })
    }

    /// Batches per epoch (`len(loader)`).
    pub fn num_batches(&self) -> i64 {
        if self.drop_last {
            self.len / self.batch_size
        } else {
            (self.len + self.batch_size - 1) / self.batch_size
        }
    }

    /// Draws, from the global generator, the two `int64` values each of `epochs` epochs would draw,
    /// and returns the second of each pair: the seed of that epoch's sampler generator.
    pub fn draw_epoch_seeds(epochs: usize) -> Vec<i64> {
        (0..epochs)
            .map(|_| {
                let _base_seed = draw_int64();
                draw_int64()
            })
            .collect()
    }

    /// The epoch's permutation of `0..len` (`randperm` from a generator seeded with `seed`).
    /// Reseeds the global generator.
    pub fn permutation(&self, seed: i64) -> Tensor {
        tch::manual_seed(seed);
        Tensor::randperm(self.len, (Kind::Int64, Device::Cpu)) // [len] i64
    }

    /// Index tensors of the batches of one epoch, in order.
    pub fn batches<'a>(&self, permutation: &'a Tensor) -> impl Iterator<Item = Tensor> + 'a {
        let loader = *self;
        (0..self.num_batches()).map(move |b| loader.batch(permutation, b))
    }

    /// The indices of 0-based batch `b` of the epoch whose order is `permutation`: `[batch]` i64.
    pub fn batch(&self, permutation: &Tensor, b: i64) -> Tensor {
        let start = b * self.batch_size;
        permutation.narrow(0, start, self.batch_size.min(self.len - start))
    }
}

/// `int(torch.empty((), dtype=torch.int64).random_().item())`.
fn draw_int64() -> i64 {
    Tensor::empty([], (Kind::Int64, Device::Cpu))
        .random_()
        .int64_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batches() {
        assert_eq!(
            TorchLoader::new(60000, 100, true).unwrap().num_batches(),
            600
        );
        assert_eq!(TorchLoader::new(1050, 100, true).unwrap().num_batches(), 10);
        assert_eq!(
            TorchLoader::new(1050, 100, false).unwrap().num_batches(),
            11
        );
        assert!(TorchLoader::new(50, 100, true).is_err());
        assert!(TorchLoader::new(50, 0, true).is_err());
    }
}
