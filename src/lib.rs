//! # initlab
//!
//! The PyTorch lab "Deep Learning Zero To All, season 2 — Lab 9-2: Weight Initialization", ported
//! to Rust on [`tch`] and taken further.
//!
//! - [`init`]: `torch.nn.init` written by hand (Xavier, Kaiming, normal, uniform, …).
//! - [`data`]: validated MNIST loading and PyTorch's `DataLoader` batch order.
//! - [`model`]: MLPs built layer by layer the way `torch.nn.Linear` builds them.
//! - [`optim`]: PyTorch's Adam, bit for bit; SGD.
//! - [`train`]: the lab's training loop, returning a history.
//! - [`runs`], [`plot`], [`lab`]: run directories, charts, and the lab's main job.
//! - [`eval`]: a saved run evaluated (loss, accuracy, per class, confusion matrix) and asked to predict.
//! - [`rbm`], [`dbn`], [`pretrain`], [`rbm_plot`]: RBM/DBN pretraining as an initializer, and its pictures.
//! - [`lsuv`], [`compare`], [`inspect`], [`study`]: data-dependent init, comparisons, signal inspection, paper studies.
//! - [`mkl`]: oneMKL's kernel choice on non-Intel CPUs (why the port is fast and bit-exact there).
//! - [`pyrandom`]: Python's `random` module (Mersenne Twister), for the notebooks' random test image.

pub mod base;
pub mod engine;
pub mod experiments;
pub mod pretraining;

pub use base::{data, init, io, lsuv, mkl, model, optim, plot, pyfmt, pyrandom, train};
pub use engine::runs;
pub use experiments::{compare, eval, inspect, lab, pretrain, study};
pub use pretraining::{dbn, rbm, rbm_plot};
