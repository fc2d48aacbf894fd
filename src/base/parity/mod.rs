//! What makes initlab's numbers PyTorch's: the MT19937 generator, libtorch's CPU generator driven
//! from Rust, Python's `random`, PyTorch's tensor repr, oneMKL's kernel dispatch, and the golden
//! sets' file list.

pub mod mkl;
pub mod mt19937;
pub mod pyfmt;
pub mod pyrandom;
pub mod torch_rng;
