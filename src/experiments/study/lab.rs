//! The lab's shallow and deep nets with Adam under N(0,1), torch's default, Xavier, He and LSUV.

use crate::base::nn::model::{BiasInit, Widths};
use crate::base::nn::scheme::{Activation, InitScheme};
use crate::base::optim::OptimizerKind;
use crate::experiments::study::{hidden, Preset, SharedPhrases, Study, StudyConfig, StudyPart};

/// The study on the command line: `initlab study lab`.
pub const STUDY: Study = Study(&Lab);

/// The lab's nets with Adam under five inits.
#[derive(Debug, Clone, Copy)]
pub struct Lab;

impl Preset for Lab {
    fn name(&self) -> &'static str {
        "lab"
    }

    fn title(&self) -> String {
        "The lab's nets with Adam: N(0,1), torch default, Xavier, He, LSUV".into()
    }

    fn bias(&self) -> BiasInit {
        BiasInit::TorchDefault
    }

    fn validation(&self) -> i64 {
        0
    }

    fn parts(&self, config: &StudyConfig) -> Vec<StudyPart> {
        let inits = [
            InitScheme::Normal,
            InitScheme::TorchDefault,
            InitScheme::XavierUniform,
            InitScheme::KaimingNormal,
            InitScheme::Lsuv,
        ];
        // The lab's own setting already fits the budget: --full changes nothing here.
        let (epochs, limit) = (15, None);
        let mut nets = vec![("shallow", Widths::shallow()), ("deep", Widths::deep())];
        if let Some(w) = config.width {
            nets = vec![("shallow", hidden(2, w)), ("deep", hidden(4, w))];
        }
        nets.into_iter()
            .map(|(name, widths)| {
                let labels = inits.iter().map(|&i| (i, format!("{name} {i}"))).collect();
                config.part(
                    name.to_string(),
                    widths,
                    Activation::Relu,
                    labels,
                    config.train(OptimizerKind::Adam, 0.001, epochs, limit),
                )
            })
            .collect()
    }

    fn deviations(&self, _config: &StudyConfig, shared: &SharedPhrases) -> String {
        let SharedPhrases {
            bias, validation, ..
        } = shared;
        format!(
            "The lab's own nets and settings (Adam lr 0.001, batch 100, 15 epochs, all 60,000 images): no paper to \
             deviate from; {bias}; {validation}. `torch-default` and `glorot-standard` would draw from the same \
             distribution, U(±1/√fan_in)."
        )
    }
}
