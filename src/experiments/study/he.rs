//! He et al. (2015), Fig. 3: a 30-layer ReLU net with SGD stalls with Xavier and trains with He
//! (`kaiming_normal_`, fan-in); at 22 layers both train, He earlier.

use crate::base::nn::model::BiasInit;
use crate::base::nn::scheme::{Activation, InitScheme};
use crate::base::optim::OptimizerKind;
use crate::experiments::study::{hidden, Preset, SharedPhrases, Study, StudyConfig, StudyPart};

/// The study on the command line: `initlab study he`.
pub const STUDY: Study = Study(&He);

/// He et al. 2015: Xavier vs He on 30 and 22 ReLU layers.
#[derive(Debug, Clone, Copy)]
pub struct He;

impl Preset for He {
    fn name(&self) -> &'static str {
        "he"
    }

    fn title(&self) -> String {
        "He et al. 2015: Xavier vs He init for deep ReLU nets, SGD".into()
    }

    fn bias(&self) -> BiasInit {
        BiasInit::Zeros
    }

    fn validation(&self) -> i64 {
        10_000
    }

    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart> {
        let width = config.width.unwrap_or(256);
        let (epochs, limit) = config.paper_budget();
        // Learning rates per depth: the largest of 0.01/0.03/0.1 at which He's net stays stable.
        [(30usize, 0.03), (22, 0.1)]
            .into_iter()
            .map(|(depth, lr)| {
                let labels = vec![
                    (InitScheme::XavierUniform, format!("{depth} layers Xavier")),
                    (InitScheme::KaimingNormal, format!("{depth} layers He")),
                ];
                // `depth` weight layers: depth − 1 hidden layers.
                config.part(
                    format!("relu{depth}"),
                    hidden(depth - 1, width),
                    Activation::Relu,
                    labels,
                    config.train(OptimizerKind::Sgd, lr, epochs, limit),
                )
            })
            .collect()
    }

    fn deviations(&self, _config: &StudyConfig, shared: &SharedPhrases) -> String {
        let SharedPhrases {
            bias,
            validation,
            budget,
        } = shared;
        format!(
            "Deviations from He et al. (2015), Fig. 3: the paper trained 22- and 30-layer convolutional nets on \
             ImageNet; here fully connected ReLU nets of the same depths learn MNIST with SGD (batch 100), {budget}; \
             {bias}; {validation}. What carries over is the question the figure answers: does the signal survive \
             30 ReLU layers under each init."
        )
    }
}
