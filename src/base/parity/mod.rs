//! What makes initlab's numbers PyTorch's: the MT19937 generator, libtorch's CPU generator driven
//! from Rust, Python's `random`, PyTorch's tensor repr, oneMKL's kernel dispatch, and the golden
//! sets' file list; [`ffi`] is the one module that reaches native code by name (with the libtorch
//! version gate).

pub mod ffi;
pub mod mkl;
pub mod mt19937;
pub mod pyfmt;
pub mod pyrandom;
pub mod torch_rng;
