//! # initlab
//!
//! The PyTorch lab "Deep Learning Zero To All, season 2 — Lab 9-2: Weight Initialization", ported
//! to Rust on [`tch`] and taken further.
//!
//! The source is in four levels; each uses only the levels above it in this list:
//!
//! | level | folder | modules | what it is |
//! |---|---|---|---|
//! | reusable core | `src/base/` | [`data`], [`model`], [`init`], [`meanfield`], [`hook`](base::hook), [`lsuv`], [`optim`], [`train`], [`plot`], [`tensorboard`], [`io`], [`pyfmt`], [`pyrandom`], [`mt19937`], [`torch_rng`], [`mkl`] | MNIST, where it comes from ([`data::locate`]) and its compiled-in copy, PyTorch's batch order, MLPs built like `torch.nn.Linear`, `torch.nn.init` by hand, PyTorch's Adam, libtorch's generator driven from Rust, the training loop (resumable, typed endings), charts, TensorBoard event files (written and read back), atomic writes and bounded reads |
//! | RBM/DBN family | `src/pretraining/` | [`rbm`], [`dbn`], [`rbm_plot`] | restricted Boltzmann machines, greedy DBN pretraining, their pictures |
//! | run engine | `src/engine/` | [`spec`](engine::spec), [`hooks`](engine::hooks), [`executor`](engine::executor), [`workers`](engine::workers), [`rundir`](engine::rundir), [`checkpoint`](engine::checkpoint), [`board`](engine::board), [`runs`], [`doctor`](engine::doctor) | run specs with a content hash, the one place an init scheme gets its data-dependent step, durable locked run directories, checkpoints, each run's TensorBoard log, the executor that runs, caches and resumes plans, one at a time or side by side in worker processes; the facts of `initlab doctor` |
//! | experiments | `src/experiments/` | [`lab`], [`compare`], [`study`], [`inspect`], [`pretrain`], [`eval`], [`report_html`] | planners that describe their runs as specs, then summarise and draw; a saved run evaluated and asked to predict; the self-contained `report.html` page (inline SVG charts, the summaries' tables, each run's `run.json`) |
//!
//! The modules are re-exported at the top (`initlab::train`, `initlab::dbn`, …). The binary
//! (`src/main.rs`, `src/cli.rs`, `src/console.rs`) only parses flags, prints and shows progress;
//! the library never prints.

pub mod base;
pub mod engine;
pub mod experiments;
pub mod pretraining;

pub use base::{
    data, dynamics, init, io, lsuv, meanfield, mkl, model, mt19937, optim, plot, pyfmt, pyrandom,
    stats, tensorboard, torch_rng, train,
};
pub use engine::runs;
pub use experiments::{compare, eval, inspect, lab, pretrain, report_html, study};
pub use pretraining::{dbn, rbm, rbm_plot};
