//! The init schemes a run can name, and the activation between hidden layers they are tuned
//! for: names and aliases as on the command line, what each draws (`torch.nn.init`'s functions in
//! [`crate::base::nn::init`]), the variances they fix, and what they need besides the weights
//! (a data-dependent step, a pretrained DBN, a sigmoid net).

use std::fmt;
use std::str::FromStr;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::base::nn::init::{self, FanMode, Nonlinearity};

/// The nonlinearity between hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(0, x) — the lab's choice.
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// x / (1 + |x|) (Glorot & Bengio 2010).
    Softsign,
}

impl Activation {
    /// Every activation, in the order shown to users.
    pub const ALL: [Activation; 4] = [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Softsign,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Softsign => "softsign",
        }
    }

    /// The gain `calculate_gain` recommends for it (softsign has none in PyTorch: 1).
    pub fn nonlinearity(self) -> Nonlinearity {
        match self {
            Activation::Relu => Nonlinearity::Relu,
            Activation::Tanh => Nonlinearity::Tanh,
            Activation::Sigmoid => Nonlinearity::Sigmoid,
            Activation::Softsign => Nonlinearity::Linear,
        }
    }

    /// Applies the activation.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Softsign => x / (x.abs() + 1.0),
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .with_context(|| {
                format!("unknown activation {s:?} (expected one of relu, tanh, sigmoid, softsign)")
            })
    }
}

/// σ_w² and σ_b² of the [`InitScheme::MeanField`] init, in millionths, and whether its weights
/// are Gaussian or scaled orthogonal.
///
/// Stored as integers so that [`InitScheme`] stays `Copy + Eq` and serialises (and hashes into a
/// [`RunSpec`](crate::engine::spec::RunSpec)) to the same text on every machine: σ_w² = 1.76 is
/// `sigma_w2_micro: 1760000`. Six decimals are more than the phase diagram needs. `orthogonal`
/// is written only when true, so Gaussian runs keep the text (and hash) they had before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeanFieldParams {
    /// σ_w² × 10⁶: weights are drawn from N(0, σ_w²/fan_in).
    pub sigma_w2_micro: u32,
    /// σ_b² × 10⁶: biases are drawn from N(0, σ_b²).
    pub sigma_b2_micro: u32,
    /// Weights σ_w · Q with Q (semi-)orthogonal (`orthogonal_(w, σ_w)`) instead of Gaussian:
    /// Pennington, Schoenholz & Ganguli (2017)'s orthogonal nets at the same (σ_w², σ_b²).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orthogonal: bool,
}

impl MeanFieldParams {
    /// σ_w² = 1.76, σ_b² = 0.05: next to the order-to-chaos transition of tanh nets at
    /// σ_b² = 0.05 (σ_w² ≈ 1.761, [`crate::base::nn::meanfield::critical_sigma_w2`]).
    pub const EDGE_OF_CHAOS: MeanFieldParams = MeanFieldParams {
        sigma_w2_micro: 1_760_000,
        sigma_b2_micro: 50_000,
        orthogonal: false,
    };

    /// The parameters for σ_w² > 0 and σ_b² ≥ 0, rounded to millionths (σ_w² at least 10⁻⁶, both
    /// at most 4000).
    pub fn new(sigma_w2: f64, sigma_b2: f64) -> Result<Self> {
        let micro = |v: f64, what: &str, positive: bool| -> Result<u32> {
            ensure!(
                v.is_finite() && v <= 4000.0 && (if positive { v > 0.0 } else { v >= 0.0 }),
                "{what} must be a number in {} 4000], got {v}",
                if positive { "(0," } else { "[0," }
            );
            Ok((v * 1e6).round() as u32)
        };
        let w = micro(sigma_w2, "σ_w²", true)?;
        ensure!(w > 0, "σ_w² {sigma_w2} rounds to 0 in millionths");
        Ok(MeanFieldParams {
            sigma_w2_micro: w,
            sigma_b2_micro: micro(sigma_b2, "σ_b²", false)?,
            orthogonal: false,
        })
    }

    /// The same variances with weights σ_w · Q, Q (semi-)orthogonal.
    pub fn with_orthogonal(self) -> Self {
        MeanFieldParams {
            orthogonal: true,
            ..self
        }
    }

    /// σ_w² (weight variance times fan-in).
    pub fn sigma_w2(self) -> f64 {
        f64::from(self.sigma_w2_micro) / 1e6
    }

    /// σ_b² (bias variance).
    pub fn sigma_b2(self) -> f64 {
        f64::from(self.sigma_b2_micro) / 1e6
    }
}

/// How the weights of every layer are (re)initialized after the layers are built. Biases keep
/// `torch.nn.Linear`'s default, as in the lab's notebooks — except under [`InitScheme::Zeros`],
/// [`InitScheme::Constant`] (biases 0) and [`InitScheme::MeanField`] (biases N(0, σ_b²)).
///
/// Every scheme but `mean-field` is a plain name; `mean-field` carries its variances as integers
/// ([`MeanFieldParams`]), so the type stays `Copy + Eq` and the existing schemes serialise as
/// before (`"xavier-uniform"`), keeping run-spec hashes stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitScheme {
    /// Keep `torch.nn.Linear`'s own init: U(±1/√fan_in).
    TorchDefault,
    /// N(0, 1) — the lab's "before" (notebook 9-2, `torch.nn.init.normal_`).
    Normal,
    /// Glorot & Bengio (2010), uniform, gain 1 (notebook 9-3, `xavier_uniform_`).
    XavierUniform,
    /// Glorot & Bengio (2010), normal, gain 1 (`xavier_normal_`).
    XavierNormal,
    /// He et al. (2015), uniform, fan-in, gain of the activation (`kaiming_uniform_`); with a
    /// gain of 1 (sigmoid, softsign) it is LeCun's variance 1/fan_in ([`InitScheme::is_lecun_on`]).
    KaimingUniform,
    /// He et al. (2015), normal, fan-in, gain of the activation (`kaiming_normal_`): "He init".
    /// N(0, gain²/fan_in): He's 2/fan_in for ReLU, but `calculate_gain` is 1 for sigmoid (and for
    /// softsign, which torch treats as linear), so there it is N(0, 1/fan_in), LeCun's init
    /// ([`InitScheme::is_lecun_on`]).
    KaimingNormal,
    /// Glorot & Bengio (2010)'s "standard" heuristic U(−1/√fan_in, 1/√fan_in).
    GlorotStandard,
    /// Saxe et al. (2014): orthogonal matrices times the activation's gain (`orthogonal_`).
    Orthogonal,
    /// Mishkin & Matas (2015): orthonormal, then rescaled on a data batch to unit output variance
    /// per layer ([`crate::base::nn::lsuv::Lsuv`], applied by training).
    Lsuv,
    /// Hinton, Osindero & Teh (2006): the hidden layers copied from a pretrained deep belief net
    /// ([`crate::pretraining::dbn::DbnInit`], given to training); the layers the DBN does not cover (the output
    /// layer) get Xavier-uniform.
    Dbn,
    /// Every weight and every bias 0 (`zeros_` on both). Every hidden unit computes the same
    /// function and receives the same gradient, so the units stay identical for ever (the
    /// symmetry problem); with ReLU or tanh the hidden weights never even move.
    Zeros,
    /// Every weight [`InitScheme::CONSTANT_VALUE`] (`constant_(w, 0.1)`), every bias 0: the
    /// symmetry problem with a non-zero signal. Units of a layer stay identical under any
    /// gradient step.
    ///
    /// The biases are set too because `torch.nn.Linear`'s default biases (U(±1/√fan_in), a
    /// different value per unit) make the units differ from the first step on — with constant
    /// weights and default biases the symmetry breaks, weakly (see `tests/symmetry.rs`). Keras,
    /// whose biases start at 0, shows the textbook case with `constant` weights alone.
    ///
    /// "Identical" is up to rounding: the matrix kernels may sum the row at the edge of a SIMD
    /// block in another order, so after a few Adam steps a layer can hold two groups of units
    /// that differ in the last bits (seen with ReLU), far from a broken symmetry.
    Constant,
    /// Poole et al. (2016), Schoenholz et al. (2017): weights N(0, σ_w²/fan_in), biases
    /// N(0, σ_b²), both through [`init::normal_`] — the nets of the mean-field phase diagram
    /// ([`crate::base::nn::meanfield`]). `mean-field` alone is [`MeanFieldParams::EDGE_OF_CHAOS`];
    /// `mean-field-w2.5-b0.05` names σ_w² = 2.5, σ_b² = 0.05. `mean-field-orthogonal-w…-b…`
    /// draws the weights σ_w · Q with [`init::orthogonal_`] (Pennington et al. 2017) instead.
    MeanField(MeanFieldParams),
}

impl InitScheme {
    /// The weight of [`InitScheme::Constant`].
    pub const CONSTANT_VALUE: f64 = 0.1;

    /// Every scheme, in the order shown to users (`mean-field` with its default variances).
    pub const ALL: [InitScheme; 13] = [
        InitScheme::TorchDefault,
        InitScheme::Normal,
        InitScheme::XavierUniform,
        InitScheme::XavierNormal,
        InitScheme::KaimingUniform,
        InitScheme::KaimingNormal,
        InitScheme::GlorotStandard,
        InitScheme::Orthogonal,
        InitScheme::Lsuv,
        InitScheme::Dbn,
        InitScheme::Zeros,
        InitScheme::Constant,
        InitScheme::MeanField(MeanFieldParams::EDGE_OF_CHAOS),
    ];

    /// The name of the scheme's family, as on the command line (`Display` adds `mean-field`'s
    /// variances: `mean-field-w1.76-b0.05`).
    pub fn name(self) -> &'static str {
        match self {
            InitScheme::TorchDefault => "torch-default",
            InitScheme::Normal => "normal",
            InitScheme::XavierUniform => "xavier-uniform",
            InitScheme::XavierNormal => "xavier-normal",
            InitScheme::KaimingUniform => "kaiming-uniform",
            InitScheme::KaimingNormal => "kaiming-normal",
            InitScheme::GlorotStandard => "glorot-standard",
            InitScheme::Orthogonal => "orthogonal",
            InitScheme::Lsuv => "lsuv",
            InitScheme::Dbn => "dbn",
            InitScheme::Zeros => "zeros",
            InitScheme::Constant => "constant",
            InitScheme::MeanField(_) => "mean-field",
        }
    }

    /// Other names accepted on the command line (besides `torch.nn.init`'s spellings of the
    /// name itself, e.g. `xavier_uniform_`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            InitScheme::TorchDefault => &["default", "torch", "linear-default"],
            InitScheme::XavierUniform => &["xavier", "glorot-uniform"],
            InitScheme::XavierNormal => &["glorot-normal"],
            InitScheme::KaimingUniform => &["he-uniform"],
            InitScheme::KaimingNormal => &["he", "he-normal"],
            InitScheme::Zeros => &["zero"],
            InitScheme::Constant => &["const"],
            InitScheme::MeanField(_) => &["meanfield"],
            _ => &[],
        }
    }

    /// Whether the scheme has a data-dependent step after the per-weight init (LSUV's
    /// calibration, the DBN's weights); [`crate::engine::hooks::resolve`] gives it.
    pub fn has_data_step(self) -> bool {
        self.data_step().is_some()
    }

    /// Whether the scheme takes its hidden layers from a pretrained deep belief net (`dbn`): a
    /// run of it names the DBN's folder, and only such a run may name one.
    pub fn needs_pretrained(self) -> bool {
        self == InitScheme::Dbn
    }

    /// The activation the scheme requires of the net, where it requires one: a DBN's RBMs are
    /// sigmoid units, so its weights fit a sigmoid net only.
    pub fn required_activation(self) -> Option<Activation> {
        self.needs_pretrained().then_some(Activation::Sigmoid)
    }

    /// What the data-dependent step is, for messages (`None` for schemes without one).
    pub fn data_step(self) -> Option<&'static str> {
        match self {
            InitScheme::Dbn => Some("a pretrained deep belief net"),
            InitScheme::Lsuv => Some("LSUV's calibration"),
            _ => None,
        }
    }

    /// Whether the scheme, followed by `activation`, is LeCun's init rather than He's: a Kaiming
    /// scheme where `calculate_gain` is 1 (sigmoid, softsign) draws with variance 1/fan_in, not
    /// He et al. (2015)'s 2/fan_in.
    pub fn is_lecun_on(self, activation: Activation) -> bool {
        matches!(self, InitScheme::KaimingNormal | InitScheme::KaimingUniform)
            && init::calculate_gain(activation.nonlinearity()) == 1.0
    }

    /// A sentence for summaries naming the schemes of `inits` that are LeCun's init under
    /// `activation` ([`InitScheme::is_lecun_on`]), so that no reader takes them for He's; `None`
    /// when there are none.
    pub fn lecun_note(inits: &[InitScheme], activation: Activation) -> Option<String> {
        let names: Vec<String> = inits
            .iter()
            .filter(|i| i.is_lecun_on(activation))
            .map(|i| format!("`{i}`"))
            .collect();
        if names.is_empty() {
            return None;
        }
        let gain = match activation {
            Activation::Sigmoid => "`calculate_gain('sigmoid')` is 1".to_string(),
            // PyTorch's calculate_gain has no softsign; initlab gives it the linear gain.
            other => {
                format!("{other} gets the linear gain, 1 (`calculate_gain` has no entry for it)")
            }
        };
        Some(format!(
            "{} here is LeCun's init, not He's: {gain}, so the weights have variance 1/fan_in \
             (N(0, 1/fan_in), or U(±√(3/fan_in)) for the uniform one), where He et al. (2015) use 2/fan_in \
             for ReLU.",
            names.join(" and ")
        ))
    }

    /// Whether the scheme sets the biases itself (mean-field's N(0, σ_b²), a DBN's pretrained
    /// biases), so that asking for zero biases contradicts it.
    pub fn sets_biases(self) -> bool {
        matches!(self, InitScheme::MeanField(_) | InitScheme::Dbn)
    }

    /// One line for help texts.
    pub fn describe(self) -> &'static str {
        match self {
            InitScheme::TorchDefault => "torch.nn.Linear's own U(±1/√fan_in)",
            InitScheme::Normal => "N(0, 1), notebook 9-2's \"before\"",
            InitScheme::XavierUniform => "Glorot & Bengio 2010, uniform (notebook 9-3)",
            InitScheme::XavierNormal => "Glorot & Bengio 2010, normal",
            InitScheme::KaimingUniform => "He et al. 2015, uniform, fan-in",
            InitScheme::KaimingNormal => "He et al. 2015, normal, fan-in (\"He init\")",
            InitScheme::GlorotStandard => {
                "Glorot & Bengio's \"standard\" U(±1/√fan_in): the same distribution as torch-default"
            }
            InitScheme::Orthogonal => "Saxe et al. 2014, orthogonal × the activation's gain",
            InitScheme::Lsuv => "Mishkin & Matas 2015, orthonormal then unit variance on data",
            InitScheme::Dbn => "the hidden layers of a pretrained deep belief net",
            InitScheme::Zeros => "all weights and biases 0: the units never differ (symmetry)",
            InitScheme::Constant => "all weights 0.1, biases 0: the units never differ (symmetry)",
            InitScheme::MeanField(_) => {
                "Poole/Schoenholz: N(0, σ_w²/fan_in) weights, N(0, σ_b²) biases; \
                 mean-field-w<σ_w²>-b<σ_b²>, default σ_w² 1.76, σ_b² 0.05 (edge of chaos); \
                 mean-field-orthogonal-w<σ_w²>-b<σ_b²>: weights σ_w × orthogonal"
            }
        }
    }

    /// All names, for help texts and parsers.
    pub fn names() -> Vec<&'static str> {
        InitScheme::ALL.iter().map(|s| s.name()).collect()
    }

    /// Re-initializes one weight matrix followed by `activation`.
    pub fn apply(self, weight: &mut Tensor, activation: Activation) -> Result<()> {
        match self {
            InitScheme::TorchDefault => Ok(()),
            InitScheme::Normal => init::normal_(weight, 0.0, 1.0),
            InitScheme::XavierUniform => init::xavier_uniform_(weight, 1.0),
            InitScheme::XavierNormal => init::xavier_normal_(weight, 1.0),
            InitScheme::KaimingUniform => {
                init::kaiming_uniform_(weight, FanMode::FanIn, activation.nonlinearity())
            }
            InitScheme::KaimingNormal => {
                init::kaiming_normal_(weight, FanMode::FanIn, activation.nonlinearity())
            }
            InitScheme::GlorotStandard => init::glorot_standard_(weight),
            InitScheme::Orthogonal => {
                init::orthogonal_(weight, init::calculate_gain(activation.nonlinearity()))
            }
            InitScheme::Lsuv => init::orthogonal_(weight, 1.0),
            InitScheme::Dbn => init::xavier_uniform_(weight, 1.0),
            InitScheme::Zeros => init::zeros_(weight),
            InitScheme::Constant => init::constant_(weight, InitScheme::CONSTANT_VALUE),
            InitScheme::MeanField(p) if p.orthogonal => {
                init::orthogonal_(weight, p.sigma_w2().sqrt())
            }
            InitScheme::MeanField(p) => {
                let (fan_in, _) = init::fan_in_and_fan_out(&weight.size())?;
                ensure!(fan_in > 0, "mean-field init: a weight with zero fan-in");
                init::normal_(weight, 0.0, (p.sigma_w2() / fan_in as f64).sqrt())
            }
        }
    }

    /// Re-initializes one bias, after its layer's weight: 0 for `zeros` and `constant`,
    /// N(0, σ_b²) for `mean-field`, untouched (`torch.nn.Linear`'s default) for the others — so
    /// that the others draw exactly what they drew before the bias step existed.
    pub fn apply_bias(self, bias: &mut Tensor) -> Result<()> {
        match self {
            InitScheme::Zeros | InitScheme::Constant => init::zeros_(bias),
            InitScheme::MeanField(p) => init::normal_(bias, 0.0, p.sigma_b2().sqrt()),
            _ => Ok(()),
        }
    }

    /// Re-initializes a `tch::nn::Linear` the way the scheme does: its weight
    /// ([`InitScheme::apply`]), then its bias ([`InitScheme::apply_bias`]) — for code that holds
    /// the layers itself, as the lab's notebooks do (`torch.nn.init.xavier_uniform_(linear1.weight)`
    /// becomes `init.apply_to_linear(&mut linear1, Activation::Relu)`). For `normal` and
    /// `xavier-uniform` it draws exactly what the notebooks' calls draw. Schemes with a
    /// data-dependent step (LSUV, DBN) are refused: that step needs training data and a
    /// pretrained net, which [`crate::engine::hooks::resolve`] supplies to training runs.
    pub fn apply_to_linear(
        self,
        layer: &mut tch::nn::Linear,
        activation: Activation,
    ) -> Result<()> {
        if let Some(step) = self.data_step() {
            anyhow::bail!(
                "init {self} needs {step} after the weights, which a layer alone cannot give; \
                 use it through `initlab train --init {self}`"
            );
        }
        self.apply(&mut layer.ws, activation)?;
        match layer.bs.as_mut() {
            Some(bias) => self.apply_bias(bias),
            None => Ok(()),
        }
    }

    /// The variance of one weight for a layer of `fan_in` inputs and `fan_out` outputs followed
    /// by `activation`, where the scheme fixes it in advance: N(0,1) 1; Xavier 2/(fan_in+fan_out);
    /// Kaiming gain²/fan_in; torch's default and Glorot's standard U(±1/√fan_in) 1/(3·fan_in);
    /// orthogonal gain²/max(fan_in, fan_out) (rows or columns of unit length); zeros 0;
    /// mean-field σ_w²/fan_in (orthogonal mean-field σ_w²/max(fan_in, fan_out)). `None` for data-dependent schemes (LSUV, DBN) and for `constant`,
    /// whose weights are not zero-mean.
    pub fn weight_variance(self, fan_in: i64, fan_out: i64, activation: Activation) -> Option<f64> {
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        let gain = init::calculate_gain(activation.nonlinearity());
        match self {
            InitScheme::Normal => Some(1.0),
            InitScheme::XavierUniform | InitScheme::XavierNormal => Some(2.0 / (fi + fo)),
            InitScheme::KaimingUniform | InitScheme::KaimingNormal => Some(gain * gain / fi),
            InitScheme::TorchDefault | InitScheme::GlorotStandard => Some(1.0 / (3.0 * fi)),
            InitScheme::Orthogonal => Some(gain * gain / fi.max(fo)),
            InitScheme::Zeros => Some(0.0),
            InitScheme::MeanField(p) if p.orthogonal => Some(p.sigma_w2() / fi.max(fo)),
            InitScheme::MeanField(p) => Some(p.sigma_w2() / fi),
            InitScheme::Lsuv | InitScheme::Dbn | InitScheme::Constant => None,
        }
    }

    /// The variance of one bias of a layer of `fan_in` inputs: `torch.nn.Linear`'s U(±1/√fan_in)
    /// gives 1/(3·fan_in); 0 for `zeros` and `constant`; σ_b² for `mean-field`.
    pub fn bias_variance(self, fan_in: i64) -> f64 {
        match self {
            InitScheme::Zeros | InitScheme::Constant => 0.0,
            InitScheme::MeanField(p) => p.sigma_b2(),
            _ => 1.0 / (3.0 * fan_in as f64),
        }
    }
}

/// σ² written short: `1.76`, `0.05`, `2`.
fn short_decimal(micro: u32) -> String {
    let s = format!("{:.6}", f64::from(micro) / 1e6);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl fmt::Display for InitScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitScheme::MeanField(p) => write!(
                f,
                "mean-field-{}w{}-b{}",
                if p.orthogonal { "orthogonal-" } else { "" },
                short_decimal(p.sigma_w2_micro),
                short_decimal(p.sigma_b2_micro)
            ),
            s => f.write_str(s.name()),
        }
    }
}

/// `w<σ_w²>-b<σ_b²>` after `mean-field-`, or `orthogonal-w<σ_w²>-b<σ_b²>`.
fn parse_mean_field(rest: &str, whole: &str) -> Result<InitScheme> {
    let (orthogonal, rest) = match rest.strip_prefix("orthogonal-") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let parsed = rest
        .strip_prefix('w')
        .and_then(|r| r.split_once("-b"))
        .and_then(|(w, b)| Some((w.parse::<f64>().ok()?, b.parse::<f64>().ok()?)));
    let (w, b) = parsed.with_context(|| {
        format!("invalid mean-field init {whole:?}: expected mean-field-w<σ_w²>-b<σ_b²>, e.g. mean-field-w1.76-b0.05")
    })?;
    // One message with the cause: command-line parsers show only the outermost one.
    let p = MeanFieldParams::new(w, b)
        .map_err(|e| anyhow::anyhow!("mean-field init {whole:?}: {e}"))?;
    Ok(InitScheme::MeanField(MeanFieldParams { orthogonal, ..p }))
}

impl FromStr for InitScheme {
    type Err = anyhow::Error;
    /// A scheme's name or alias, ignoring case, `_` versus `-` and a trailing `_`, so that
    /// `torch.nn.init`'s names work: `xavier_uniform_`, `kaiming_normal_`, `He`, `default`.
    fn from_str(s: &str) -> Result<Self> {
        let key = s
            .trim()
            .trim_end_matches('_')
            .to_ascii_lowercase()
            .replace('_', "-");
        for prefix in ["mean-field-", "meanfield-"] {
            if let Some(rest) = key.strip_prefix(prefix) {
                return parse_mean_field(rest, s);
            }
        }
        InitScheme::ALL
            .into_iter()
            .find(|i| i.name() == key || i.aliases().contains(&key.as_str()))
            .with_context(|| {
                let all: Vec<String> = InitScheme::ALL
                    .iter()
                    .map(|i| match i.aliases() {
                        [] => i.name().to_string(),
                        a => format!("{} (or {})", i.name(), a.join(", ")),
                    })
                    .collect();
                format!(
                    "unknown init scheme {s:?} (expected one of {}; torch.nn.init's spellings \
                     like xavier_uniform_ work too)",
                    all.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaiming_on_a_gain_of_one_is_named_lecun() {
        assert!(InitScheme::KaimingNormal.is_lecun_on(Activation::Sigmoid));
        assert!(InitScheme::KaimingUniform.is_lecun_on(Activation::Softsign));
        assert!(!InitScheme::KaimingNormal.is_lecun_on(Activation::Relu));
        assert!(!InitScheme::KaimingNormal.is_lecun_on(Activation::Tanh));
        assert!(!InitScheme::XavierUniform.is_lecun_on(Activation::Sigmoid));
        let inits = [
            InitScheme::Dbn,
            InitScheme::XavierUniform,
            InitScheme::KaimingNormal,
        ];
        let note = InitScheme::lecun_note(&inits, Activation::Sigmoid).unwrap_or_default();
        assert!(
            note.starts_with(
                "`kaiming-normal` here is LeCun's init, not He's: `calculate_gain('sigmoid')` is 1"
            ),
            "{note}"
        );
        assert_eq!(InitScheme::lecun_note(&inits, Activation::Relu), None);
    }
}
