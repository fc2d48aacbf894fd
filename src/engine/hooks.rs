//! The one place that decides which data-dependent step an init scheme needs and where it comes
//! from: LSUV calibrates on the training images, `dbn` copies a deep belief net (saved, or
//! pretrained right before the run). `train`, `compare`, `lab`, `study` (through the executor)
//! and `inspect` all call [`resolve`].

use std::path::Path;

use anyhow::{Context, Result};

use crate::base::hook::DataDependentInit;
use crate::data::Mnist;
use crate::dbn::{DbnInit, DbnProgress};
use crate::engine::spec::{InitSource, SpecError};
use crate::lsuv::Lsuv;
use crate::model::InitScheme;
use crate::pretrain;

/// The data-dependent step of `init` with its `source`, or `None` when the scheme has none.
///
/// A [`InitSource::Pretrain`] source is pretrained now, on `data`, into `pretrain_dir` (its
/// progress goes to `observer`); a scheme that needs a DBN and was given none, or a DBN given to a
/// scheme that does not use one, is a [`SpecError`].
pub fn resolve(
    init: InitScheme,
    source: &InitSource,
    data: &Mnist,
    pretrain_dir: &Path,
    observer: &mut dyn FnMut(DbnProgress),
) -> Result<Option<Box<dyn DataDependentInit>>> {
    match (init, source) {
        (InitScheme::Dbn, InitSource::None) => Err(SpecError::NeedsPretrainedDbn.into()),
        (InitScheme::Dbn, InitSource::Pretrained { dir, .. }) => {
            Ok(Some(Box::new(DbnInit::load(dir)?)))
        }
        (InitScheme::Dbn, InitSource::Pretrain(recipe)) => {
            let config = recipe.config(pretrain_dir.to_path_buf());
            let result = pretrain::run_pretrain(&config, data, observer)
                .with_context(|| format!("pretraining the DBN into {}", pretrain_dir.display()))?;
            Ok(Some(Box::new(DbnInit {
                dbn: result.dbn,
                source: pretrain_dir.to_path_buf(),
            })))
        }
        (init, InitSource::Pretrained { .. } | InitSource::Pretrain(_)) => {
            Err(SpecError::UnusedPretrainedDbn(init).into())
        }
        (InitScheme::Lsuv, InitSource::None) => Ok(Some(Box::new(Lsuv::default()))),
        (_, InitSource::None) => Ok(None),
    }
}
