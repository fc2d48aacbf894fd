//! The data-dependent initializer hook: a step that runs after the layers are built and their
//! weights drawn by the scheme, before the optimizer is created, and may look at training data.
//! LSUV ([`crate::base::nn::lsuv::Lsuv`]) and DBN pretraining ([`crate::pretraining::dbn::DbnInit`]) plug in here; which
//! scheme needs which hook is decided in one place, [`crate::engine::hooks::resolve`].

use anyhow::{Context, Result};
use tch::Tensor;

use crate::base::nn::model::{Mlp, MlpSpec};

/// An initializer that needs data.
pub trait DataDependentInit {
    /// A short name for messages.
    fn name(&self) -> String;
    /// Adjusts the model's parameters using `inputs` (`[n, features]`, scaled like training data).
    fn initialize(&self, mlp: &mut Mlp, inputs: &Tensor) -> Result<()>;
}

/// A model of `spec` as a run starts it: `torch.manual_seed(seed)`, the layers built and drawn
/// by the scheme ([`Mlp::new`]), then the data-dependent `hook`, if any, on `inputs()` (`[n,
/// features]`, scaled like training data; made only when there is a hook). The one sequence of
/// random draws for `train` and `inspect`.
pub fn initialize_model(
    spec: &MlpSpec,
    seed: i64,
    hook: Option<&dyn DataDependentInit>,
    inputs: impl FnOnce() -> Tensor,
) -> Result<Mlp> {
    tch::manual_seed(seed);
    let mut model = Mlp::new(spec)?;
    if let Some(hook) = hook {
        hook.initialize(&mut model, &inputs())
            .with_context(|| format!("{} initialization", hook.name()))?;
    }
    Ok(model)
}
