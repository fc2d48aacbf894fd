//! The one place that decides which data-dependent step an init scheme needs and where it comes
//! from: LSUV calibrates on the training images, `dbn` copies a saved deep belief net. `train`,
//! `compare`, `lab`, `study` (through the executor) and `inspect` all call [`resolve`].

use anyhow::Result;

use crate::base::nn::hook::DataDependentInit;
use crate::base::nn::lsuv::Lsuv;
use crate::base::nn::scheme::InitScheme;
use crate::engine::spec::{InitSource, SpecError};
use crate::pretraining::dbn::DbnInit;

/// The data-dependent step of `init` with its `source`, or `None` when the scheme has none. A
/// scheme that needs a DBN and was given none, or a DBN given to a scheme that does not use one,
/// is a [`SpecError`].
pub fn resolve(
    init: InitScheme,
    source: &InitSource,
) -> Result<Option<Box<dyn DataDependentInit>>> {
    match (init, source) {
        (InitScheme::Dbn, InitSource::None) => Err(SpecError::NeedsPretrainedDbn.into()),
        (InitScheme::Dbn, InitSource::Pretrained { dir, .. }) => {
            Ok(Some(Box::new(DbnInit::load(dir)?)))
        }
        (init, InitSource::Pretrained { .. }) => Err(SpecError::UnusedPretrainedDbn(init).into()),
        (InitScheme::Lsuv, InitSource::None) => Ok(Some(Box::new(Lsuv::default()))),
        (_, InitSource::None) => Ok(None),
    }
}
