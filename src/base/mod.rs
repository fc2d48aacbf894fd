//! The reusable core, grouped by purpose: the data, the networks and their initialisation, the
//! optimizers, the training loop, the PyTorch-parity machinery and the outputs.
//! Nothing here knows about RBMs, run directories or experiments.
//!
//! | folder | what it holds |
//! |---|---|
//! | [`data`] | MNIST: where it comes from, its compiled-in copy, PyTorch's batch order |
//! | [`nn`] | MLPs built like `torch.nn.Linear`, the init schemes and `torch.nn.init` by hand, LSUV, the data-dependent hook, mean-field theory |
//! | [`optim`] | PyTorch's SGD and Adam (op by op, and fused element by element) |
//! | [`train`] | the training loop (a trainer, its state and the sinks that watch it), training dynamics |
//! | [`waits`] | how libtorch's OpenMP threads wait and where they run (a short spin and a CPU per thread, so that a busy machine does not stall a run) |
//! | [`parity`] | what makes the numbers PyTorch's: MT19937, libtorch's generator driven from Rust, Python's `random`, tensor repr, oneMKL, the FFI to libtorch |
//! | [`output`] | charts, TensorBoard event files, statistics, atomic writes and bounded reads |
//! | [`switches`] | the environment switches (`INITLAB_ADAM`, `INITLAB_RNG`, …), read once by the program |

pub mod data;
pub mod nn;
pub mod optim;
pub mod output;
pub mod parity;
pub mod switches;
pub mod train;
pub mod waits;
