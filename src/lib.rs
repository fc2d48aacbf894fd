//! # initlab
//!
//! The PyTorch lab "Deep Learning Zero To All, season 2 — Lab 9-2: Weight Initialization", ported
//! to Rust on [`tch`] and taken further.
//!
//! The source is in four levels; each uses only the levels above it in this list:
//!
//! | level | folder | what it is |
//! |---|---|---|
//! | reusable core | `src/base/` | by purpose: [`data`](base::data) (MNIST), [`nn`](base::nn) (the MLP, init schemes, `torch.nn.init` by hand, LSUV, mean-field theory), [`optim`](base::optim), [`train`](base::train) (the trainer, its state and sinks; dynamics), [`parity`](base::parity) (MT19937, libtorch's generator, Python's `random`, tensor repr, oneMKL), [`output`](base::output) (charts, TensorBoard, statistics, atomic files) |
//! | RBM/DBN family | `src/pretraining/` | restricted Boltzmann machines, greedy DBN pretraining, their pictures |
//! | run engine | `src/engine/` | run specs with a content hash, the one place an init scheme gets its data-dependent step, durable locked run directories, checkpoints, each run's TensorBoard log, the executor that runs, caches and resumes plans, one at a time or side by side in worker processes; the facts of `initlab doctor` |
//! | experiments | `src/experiments/` | planners that describe their runs as specs, then summarise and draw; a saved run evaluated and asked to predict; the self-contained `report.html` page |
//!
//! Nothing is re-exported: every `use` names the level it reaches (`initlab::base::nn::model`).
//! The binary (`src/main.rs`, `src/cli.rs`, `src/console.rs`, `src/commands/`) only parses
//! flags, prints and shows progress; the library never prints.

pub mod base;
pub mod engine;
pub mod experiments;
pub mod pretraining;
