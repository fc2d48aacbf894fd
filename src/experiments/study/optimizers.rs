//! The lab's shallow net under plain SGD as well as Adam: N(0,1), Xavier and He with the same
//! epochs. Adam divides each step by a running estimate of the gradient's scale, so a badly
//! scaled init (N(0,1): logits in the tens, gradients far from those of the others) still makes
//! steps of the learning rate's size; plain SGD steps in proportion to the gradient and shows what
//! the init did. A teaching step after the lab, not a paper's experiment.

use crate::base::nn::model::{BiasInit, Widths};
use crate::base::nn::scheme::{Activation, InitScheme};
use crate::base::optim::OptimizerKind;
use crate::experiments::study::{hidden, Preset, SharedPhrases, Study, StudyConfig, StudyPart};

/// The study on the command line: `initlab study optimizers`.
pub const STUDY: Study = Study(&Optimizers);

/// The inits compared under each optimizer: the lab's N(0,1) (notebook 9-2), Xavier (9-3) and He.
pub const INITS: [InitScheme; 3] = [
    InitScheme::Normal,
    InitScheme::XavierUniform,
    InitScheme::KaimingNormal,
];

/// Each optimizer with its learning rate: plain SGD (no momentum) at 0.1, a common rate for an
/// MLP on MNIST at batch 100, and the lab's Adam at 0.001.
pub const OPTIMIZERS: [(OptimizerKind, f64); 2] =
    [(OptimizerKind::Sgd, 0.1), (OptimizerKind::Adam, 0.001)];

/// Epochs and training images of the 2-core budget (`--full`: the lab's 15 epochs of all 60,000).
fn budget(config: &StudyConfig) -> (usize, Option<i64>) {
    if config.full {
        (15, None)
    } else {
        (5, Some(20_000))
    }
}

/// N(0,1), Xavier and He on the lab's shallow net, under SGD and under Adam.
#[derive(Debug, Clone, Copy)]
pub struct Optimizers;

impl Preset for Optimizers {
    fn name(&self) -> &'static str {
        "optimizers"
    }

    fn title(&self) -> String {
        "The lab's net under plain SGD and Adam: N(0,1), Xavier, He".into()
    }

    fn bias(&self) -> BiasInit {
        BiasInit::TorchDefault
    }

    fn validation(&self) -> i64 {
        0
    }

    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart> {
        let (epochs, limit) = budget(config);
        let widths = config
            .width
            .map(|w| hidden(2, w))
            .unwrap_or_else(Widths::shallow);
        OPTIMIZERS
            .into_iter()
            .map(|(optimizer, lr)| {
                let name = optimizer.name();
                let labels = INITS.iter().map(|&i| (i, format!("{name} {i}"))).collect();
                config.part(
                    name.to_string(),
                    widths.clone(),
                    Activation::Relu,
                    labels,
                    config.train(optimizer, lr, epochs, limit),
                )
            })
            .collect()
    }

    fn deviations(&self, config: &StudyConfig, shared: &SharedPhrases) -> String {
        let SharedPhrases {
            bias, validation, ..
        } = shared;
        let (epochs, limit) = budget(config);
        let images = limit.map_or("all 60,000".to_string(), |n| format!("the first {n}"));
        format!(
            "Not a paper's experiment: the lab's shallow net (784-256-256-10 ReLU, batch 100) under plain SGD \
             (lr 0.1, no momentum) and under the lab's Adam (lr 0.001), {epochs} epochs of {images} training \
             images unless overridden; {bias}; {validation}. One learning rate per optimizer for every init: \
             SGD's was not tuned per init, which is the point — SGD's step follows the gradient's size, \
             Adam's does not."
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_optimizers_see_the_same_inits_and_epochs() {
        let config = StudyConfig::new(STUDY);
        let parts = STUDY.preset().parts(&config);
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["sgd", "adam"]);
        for p in &parts {
            assert_eq!(p.compare.inits, INITS);
            assert_eq!(p.compare.widths, Widths::shallow());
            assert_eq!(p.compare.train.epochs, 5);
            assert_eq!(p.compare.train.train_limit, Some(20_000));
        }
        let rates: Vec<f64> = parts
            .iter()
            .map(|p| p.compare.train.learning_rate)
            .collect();
        assert_eq!(rates, [0.1, 0.001]);
    }
}
