//! The data-dependent initializer hook: a step that runs after the layers are built and their
//! weights drawn by the scheme, before the optimizer is created, and may look at training data.
//! LSUV ([`crate::base::nn::lsuv::Lsuv`]) and DBN pretraining ([`crate::pretraining::dbn::DbnInit`]) plug in here; which
//! scheme needs which hook is decided in one place, [`crate::engine::hooks::resolve`].

use anyhow::Result;
use tch::Tensor;

use crate::base::nn::model::Mlp;

/// An initializer that needs data.
pub trait DataDependentInit {
    /// A short name for messages.
    fn name(&self) -> String;
    /// Adjusts the model's parameters using `inputs` (`[n, features]`, scaled like training data).
    fn initialize(&self, mlp: &mut Mlp, inputs: &Tensor) -> Result<()>;
}
