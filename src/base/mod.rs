//! The reusable core: data, networks, initializers, optimizers, the training loop, charts and
//! TensorBoard event files.
//! Nothing here knows about RBMs, run directories or experiments.

pub mod data;
pub mod dynamics;
pub mod hook;
pub mod init;
pub mod io;
pub mod lsuv;
pub mod meanfield;
pub mod mkl;
pub mod model;
pub mod mt19937;
pub mod optim;
pub mod plot;
pub mod pyfmt;
pub mod pyrandom;
pub mod stats;
pub mod tensorboard;
pub mod torch_rng;
pub mod train;
