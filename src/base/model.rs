//! Multilayer perceptrons built the way `torch.nn.Linear` builds its layers, with a choice of
//! weight initialization.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::init::{self, FanMode, Nonlinearity};

/// Builds a layer exactly like `torch.nn.Linear(fan_in, fan_out)`: the weight `[fan_out, fan_in]`
/// first, from U(±b) with `b` = [`init::torch_linear_weight_bound`] (`kaiming_uniform_(a=√5)`),
/// then the bias `[fan_out]` from U(±1/√fan_in).
///
/// Both are declared with tch's own vocabulary, `path.f_var(name, dims, nn::Init::Uniform { lo, up })`:
/// tch 0.26 creates such a variable as `zeros(dims).uniform_(lo, up)` with the `f64` bounds given,
/// which is what [`init::uniform_`] does to a fresh tensor — same kernel, same generator
/// consumption, same bits (`tests/init.rs`, `make parity`).
///
/// tch's own `nn::linear` differs: it creates the bias first and draws the weight from
/// U(±√(6/fan_in)), so it consumes the generator differently and gives other numbers.
pub fn torch_linear(path: &nn::Path, fan_in: i64, fan_out: i64) -> Result<nn::Linear> {
    ensure!(
        fan_in > 0 && fan_out > 0,
        "a linear layer needs positive widths, got {fan_in}→{fan_out}"
    );
    let bound = init::torch_linear_weight_bound(fan_in);
    // [fan_out, fan_in], drawn before the bias as in torch.nn.Linear.reset_parameters.
    let ws = path
        .f_var(
            "weight",
            &[fan_out, fan_in],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )
        .with_context(|| format!("creating a {fan_in}→{fan_out} layer's weight"))?;
    let bound = init::torch_linear_bias_bound(fan_in);
    // [fan_out]
    let bs = path
        .f_var(
            "bias",
            &[fan_out],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )
        .with_context(|| format!("creating a {fan_in}→{fan_out} layer's bias"))?;
    Ok(nn::Linear { ws, bs: Some(bs) })
}

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

/// σ_w² and σ_b² of the [`InitScheme::MeanField`] init, in millionths.
///
/// Stored as integers so that [`InitScheme`] stays `Copy + Eq` and serialises (and hashes into a
/// [`RunSpec`](crate::engine::spec::RunSpec)) to the same text on every machine: σ_w² = 1.76 is
/// `sigma_w2_micro: 1760000`. Six decimals are more than the phase diagram needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeanFieldParams {
    /// σ_w² × 10⁶: weights are drawn from N(0, σ_w²/fan_in).
    pub sigma_w2_micro: u32,
    /// σ_b² × 10⁶: biases are drawn from N(0, σ_b²).
    pub sigma_b2_micro: u32,
}

impl MeanFieldParams {
    /// σ_w² = 1.76, σ_b² = 0.05: next to the order-to-chaos transition of tanh nets at
    /// σ_b² = 0.05 (σ_w² ≈ 1.761, [`crate::meanfield::critical_sigma_w2`]).
    pub const EDGE_OF_CHAOS: MeanFieldParams = MeanFieldParams {
        sigma_w2_micro: 1_760_000,
        sigma_b2_micro: 50_000,
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
        })
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
    /// He et al. (2015), uniform, fan-in, gain of the activation (`kaiming_uniform_`).
    KaimingUniform,
    /// He et al. (2015), normal, fan-in, gain of the activation (`kaiming_normal_`): "He init".
    KaimingNormal,
    /// Glorot & Bengio (2010)'s "standard" heuristic U(−1/√fan_in, 1/√fan_in).
    GlorotStandard,
    /// Saxe et al. (2014): orthogonal matrices times the activation's gain (`orthogonal_`).
    Orthogonal,
    /// Mishkin & Matas (2015): orthonormal, then rescaled on a data batch to unit output variance
    /// per layer ([`crate::lsuv::Lsuv`], applied by training).
    Lsuv,
    /// Hinton, Osindero & Teh (2006): the hidden layers copied from a pretrained deep belief net
    /// ([`crate::dbn::DbnInit`], given to training); the layers the DBN does not cover (the output
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
    /// ([`crate::meanfield`]). `mean-field` alone is [`MeanFieldParams::EDGE_OF_CHAOS`];
    /// `mean-field-w2.5-b0.05` names σ_w² = 2.5, σ_b² = 0.05.
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
        matches!(self, InitScheme::Lsuv | InitScheme::Dbn)
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
                 mean-field-w<σ_w²>-b<σ_b²>, default σ_w² 1.76, σ_b² 0.05 (edge of chaos)"
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

    /// The variance of one weight for a layer of `fan_in` inputs and `fan_out` outputs followed
    /// by `activation`, where the scheme fixes it in advance: N(0,1) 1; Xavier 2/(fan_in+fan_out);
    /// Kaiming gain²/fan_in; torch's default and Glorot's standard U(±1/√fan_in) 1/(3·fan_in);
    /// orthogonal gain²/max(fan_in, fan_out) (rows or columns of unit length); zeros 0;
    /// mean-field σ_w²/fan_in. `None` for data-dependent schemes (LSUV, DBN) and for `constant`,
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
                "mean-field-w{}-b{}",
                short_decimal(p.sigma_w2_micro),
                short_decimal(p.sigma_b2_micro)
            ),
            s => f.write_str(s.name()),
        }
    }
}

/// `w<σ_w²>-b<σ_b²>` after `mean-field-`.
fn parse_mean_field(rest: &str, whole: &str) -> Result<InitScheme> {
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
    Ok(InitScheme::MeanField(p))
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

/// Widths written as a list, `784,256,10` (the form `--model` and `--widths` take).
pub fn join_widths(widths: &[i64]) -> String {
    widths
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Layer widths: input, hidden…, output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widths(pub Vec<i64>);

impl Widths {
    /// The lab's 784-256-256-10 (notebooks 9-2 and 9-3).
    pub fn shallow() -> Self {
        Widths(vec![784, 256, 256, 10])
    }

    /// The lab's deep 784-512-512-512-512-10 (notebook 9-4), all five layers used.
    pub fn deep() -> Self {
        Widths(vec![784, 512, 512, 512, 512, 10])
    }

    /// `shallow`, `deep`, or the widths joined with `-`.
    pub fn label(&self) -> String {
        if *self == Widths::shallow() {
            "shallow".into()
        } else if *self == Widths::deep() {
            "deep".into()
        } else {
            self.compact()
        }
    }

    /// The widths joined with `-`, runs of three or more equal widths written once with a count:
    /// `784-256×29-10`.
    pub fn compact(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.0.len() {
            let mut j = i;
            while j + 1 < self.0.len() && self.0[j + 1] == self.0[i] {
                j += 1;
            }
            let n = j - i + 1;
            if n >= 3 {
                parts.push(format!("{}×{n}", self.0[i]));
            } else {
                parts.extend(std::iter::repeat_n(self.0[i].to_string(), n));
            }
            i = j + 1;
        }
        parts.join("-")
    }
}

impl FromStr for Widths {
    type Err = anyhow::Error;
    /// `shallow`, `deep`, or a list like `784,100,10` (commas or dashes).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "shallow" => return Ok(Widths::shallow()),
            "deep" => return Ok(Widths::deep()),
            _ => {}
        }
        let widths = s
            .split([',', '-'])
            .map(|w| {
                let w = w.trim();
                w.parse::<i64>().ok().filter(|&v| v > 0).with_context(|| {
                    format!("invalid layer width {w:?} in {s:?}: expected shallow, deep, or positive integers like 784,256,10")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if widths.len() < 2 {
            bail!("a model needs at least an input and an output width, got {s:?}");
        }
        Ok(Widths(widths))
    }
}

/// What to build: widths, activation and init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MlpSpec {
    /// Input, hidden and output widths.
    pub widths: Widths,
    /// Nonlinearity between layers.
    pub activation: Activation,
    /// Weight initialization, applied after every layer is built.
    pub init: InitScheme,
    /// The biases: `torch.nn.Linear`'s default (the lab) or zeros (the papers' convention).
    #[serde(default, skip_serializing_if = "BiasInit::is_default")]
    pub bias: BiasInit,
}

/// How the biases start, for the schemes that leave them alone.
///
/// `torch.nn.Linear` draws its biases from U(±1/√fan_in) when it is built, and most schemes of
/// `torch.nn.init` (and the lab) touch only the weights, so the biases stay as drawn. The papers
/// (Glorot & Bengio 2010, He et al. 2015) start from zero biases. `Zeros` sets them to 0 after the
/// scheme, which leaves the order of random draws, and so the weights, unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BiasInit {
    /// Keep `torch.nn.Linear`'s default biases (or the scheme's own).
    #[default]
    TorchDefault,
    /// Zero biases, as the papers assume.
    Zeros,
}

impl BiasInit {
    /// Both, in the order shown to users.
    pub const ALL: [BiasInit; 2] = [BiasInit::TorchDefault, BiasInit::Zeros];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            BiasInit::TorchDefault => "torch-default",
            BiasInit::Zeros => "zeros",
        }
    }

    fn is_default(&self) -> bool {
        *self == BiasInit::TorchDefault
    }

    /// Whether `init` sets the biases itself, so that zeros would contradict it (mean-field's
    /// N(0, σ_b²), a DBN's pretrained biases).
    pub fn conflicts_with(self, init: InitScheme) -> bool {
        self == BiasInit::Zeros && matches!(init, InitScheme::MeanField(_) | InitScheme::Dbn)
    }
}

impl fmt::Display for BiasInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BiasInit {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        BiasInit::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .with_context(|| format!("unknown bias init {s:?} (expected torch-default or zeros)"))
    }
}

impl MlpSpec {
    /// A short label for legends: `shallow xavier-uniform`, `deep sigmoid dbn` (the activation
    /// only when it is not ReLU).
    pub fn label(&self) -> String {
        match self.activation {
            Activation::Relu => format!("{} {}", self.widths.label(), self.init),
            act => format!("{} {act} {}", self.widths.label(), self.init),
        }
    }

    /// The lab's shallow ReLU net with the given init.
    pub fn shallow(init: InitScheme) -> Self {
        MlpSpec {
            bias: Default::default(),
            widths: Widths::shallow(),
            activation: Activation::Relu,
            init,
        }
    }

    /// The nets the benchmarks time (`make bench`, `make profile`): `shallow`, `deep` or `all`
    /// (both), each the lab's ReLU net with Xavier uniform init as in notebooks 9-3 and 9-4.
    pub fn benchmarked(which: &str) -> Result<Vec<MlpSpec>> {
        let xavier = InitScheme::XavierUniform;
        Ok(match which {
            "shallow" => vec![MlpSpec::shallow(xavier)],
            "deep" => vec![MlpSpec::deep(xavier)],
            "all" => vec![MlpSpec::shallow(xavier), MlpSpec::deep(xavier)],
            other => anyhow::bail!("unknown model {other:?}: expected shallow, deep or all"),
        })
    }

    /// The lab's deep ReLU net with the given init.
    pub fn deep(init: InitScheme) -> Self {
        MlpSpec {
            bias: Default::default(),
            widths: Widths::deep(),
            activation: Activation::Relu,
            init,
        }
    }
}

/// A multilayer perceptron: `Linear → activation → … → Linear` (no activation after the last).
#[derive(Debug)]
pub struct Mlp {
    /// Owns the parameters (`linear1.weight`, `linear1.bias`, …).
    pub vs: nn::VarStore,
    /// The layers, input first.
    pub layers: Vec<nn::Linear>,
    /// The nonlinearity between layers.
    pub activation: Activation,
}

impl Mlp {
    /// Builds the layers in order, torch-style (weight then bias of `linear1`, then `linear2`, …),
    /// then re-initializes the weights in layer order with `spec.init` — the notebooks' order of
    /// random draws (each layer's bias right after its weight, for the schemes that set biases:
    /// [`InitScheme::apply_bias`]).
    pub fn new(spec: &MlpSpec) -> Result<Self> {
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let mut layers = Vec::new();
        for (i, pair) in spec.widths.0.windows(2).enumerate() {
            layers.push(torch_linear(
                &(&root / format!("linear{}", i + 1)),
                pair[0],
                pair[1],
            )?);
        }
        for layer in layers.iter_mut() {
            spec.init.apply(&mut layer.ws, spec.activation)?;
            if let Some(bias) = layer.bs.as_mut() {
                spec.init.apply_bias(bias)?;
            }
        }
        ensure!(
            !spec.bias.conflicts_with(spec.init),
            "the {} init sets the biases itself; zero biases would undo it",
            spec.init
        );
        if spec.bias == BiasInit::Zeros {
            tch::no_grad(|| {
                for layer in layers.iter_mut() {
                    if let Some(bias) = layer.bs.as_mut() {
                        let _ = bias.zero_();
                    }
                }
            });
        }
        Ok(Mlp {
            vs,
            layers,
            activation: spec.activation,
        })
    }

    /// Parameters in `model.parameters()` order: weight, bias of each layer.
    pub fn parameters(&self) -> Vec<Tensor> {
        self.layers
            .iter()
            .flat_map(|l| {
                std::iter::once(l.ws.shallow_clone())
                    .chain(l.bs.as_ref().map(|b| b.shallow_clone()))
            })
            .collect()
    }

    /// The names of [`Mlp::parameters`], in that order (`linear1.weight`, `linear1.bias`, …).
    pub fn parameter_names(&self) -> Vec<String> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                std::iter::once(format!("linear{}.weight", i + 1))
                    .chain(l.bs.as_ref().map(|_| format!("linear{}.bias", i + 1)))
            })
            .collect()
    }

    /// Where each layer's weight sits in [`Mlp::parameters`].
    pub fn weight_slots(&self) -> Vec<usize> {
        let mut at = 0;
        self.layers
            .iter()
            .map(|l| {
                let slot = at;
                at += 1 + usize::from(l.bs.is_some());
                slot
            })
            .collect()
    }

    /// Output of the first `n_layers` layers (activation between them, none after the last used).
    pub fn forward_layers(&self, x: &Tensor, n_layers: usize) -> Tensor {
        let n = n_layers.min(self.layers.len());
        let mut h = x.shallow_clone();
        for (i, layer) in self.layers[..n].iter().enumerate() {
            h = layer.forward(&h);
            if i + 1 < n {
                h = self.activation.apply(&h);
            }
        }
        h
    }

    /// The forward pass of [`Module::forward`], keeping every layer's pre-activation z
    /// (`[batch, width]`, the last is the logits) and every hidden layer's activation a = f(z).
    /// The same operations in the same order, so the logits are bit-identical to `forward`'s.
    pub fn forward_trace(&self, x: &Tensor) -> (Vec<Tensor>, Vec<Tensor>) {
        let n = self.layers.len();
        let mut zs = Vec::with_capacity(n);
        let mut acts = Vec::with_capacity(n.saturating_sub(1));
        let mut h = x.shallow_clone();
        for (i, layer) in self.layers.iter().enumerate() {
            let z = layer.forward(&h);
            if i + 1 < n {
                h = self.activation.apply(&z);
                acts.push(h.shallow_clone());
            }
            zs.push(z);
        }
        (zs, acts)
    }

    /// Copies of the variables by name (`linear1.weight`, `linear1.bias`, …), sorted by name.
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let mut vars: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(name, t)| (name, t.detach().copy()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    /// Overwrites every variable with the tensor of the same name in `weights`; each must be
    /// present, with the variable's shape and kind, and nothing else may be.
    pub fn set_weights(&mut self, weights: &[(String, Tensor)]) -> Result<()> {
        let vars = self.vs.variables();
        ensure!(
            weights.len() == vars.len(),
            "the weights hold {} tensors, the model has {} variables",
            weights.len(),
            vars.len()
        );
        for (name, t) in weights {
            let var = vars
                .get(name)
                .with_context(|| format!("the model has no variable {name:?}"))?;
            ensure!(
                var.size() == t.size() && var.kind() == t.kind(),
                "{name}: the weights hold a {:?} {:?} tensor, the model a {:?} {:?} one",
                t.kind(),
                t.size(),
                var.kind(),
                var.size()
            );
        }
        tch::no_grad(|| {
            for (name, t) in weights {
                if let Some(var) = vars.get(name) {
                    let mut var = var.shallow_clone();
                    var.copy_(t);
                }
            }
        });
        Ok(())
    }

    /// Total number of parameters.
    pub fn num_parameters(&self) -> i64 {
        self.parameters().iter().map(|p| p.numel() as i64).sum()
    }

    /// Multiply-adds of one forward pass for one example (for FLOP counts).
    pub fn macs_per_example(&self) -> i64 {
        self.layers.iter().map(|l| l.ws.numel() as i64).sum()
    }

    /// Saves the parameters (safetensors when the file ends in `.safetensors`).
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        self.vs
            .save(path)
            .with_context(|| format!("saving model weights to {}", path.display()))
    }

    /// Loads parameters saved by [`Mlp::save`] into a model of the same widths.
    pub fn load(&mut self, path: &std::path::Path) -> Result<()> {
        self.vs
            .load(path)
            .with_context(|| format!("loading model weights from {}", path.display()))
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_layers(x, self.layers.len())
    }
}

/// How many different rows a 2-D tensor has, by exact equality of the values (−0 equals +0; a
/// NaN equals a NaN of the same bits). Rows of a weight matrix `[fan_out, fan_in]` are the units'
/// incoming weights; columns of activations `[n, width]` (pass the transpose) are what each unit
/// computes on a batch. Identical rows are units the network cannot tell apart (symmetry).
pub fn distinct_rows(matrix: &Tensor) -> Result<usize> {
    let size = matrix.size();
    ensure!(
        size.len() == 2,
        "distinct_rows: expected a matrix, got shape {size:?}"
    );
    let cols = size[1] as usize;
    // [rows · cols], row-major, as f64 (exact for f32 and f64 values).
    let values = Vec::<f64>::try_from(
        matrix
            .detach()
            .to_kind(Kind::Double)
            .contiguous()
            .reshape([-1]),
    )
    .context("distinct_rows: reading the matrix")?;
    if cols == 0 {
        return Ok(usize::from(size[0] > 0));
    }
    let mut rows: Vec<Vec<u64>> = values
        .chunks(cols)
        .map(|r| {
            r.iter()
                .map(|&v| if v == 0.0 { 0u64 } else { v.to_bits() })
                .collect()
        })
        .collect();
    rows.sort_unstable();
    rows.dedup();
    Ok(rows.len())
}

/// Predicted class per row of `logits` (`argmax` over the last dimension).
pub fn predictions(logits: &Tensor) -> Tensor {
    logits.argmax(-1, false)
}

/// Fraction of rows whose argmax equals the label, as PyTorch computes it in the lab:
/// `(argmax == y).float().mean()` (an `f32`).
pub fn accuracy(logits: &Tensor, labels: &Tensor) -> Tensor {
    predictions(logits)
        .eq_tensor(labels)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_widths_and_names() {
        assert_eq!("shallow".parse::<Widths>().unwrap(), Widths::shallow());
        assert_eq!(
            "784-512-512-512-512-10".parse::<Widths>().unwrap().label(),
            "deep"
        );
        assert_eq!(
            "784,100,10".parse::<Widths>().unwrap().0,
            vec![784, 100, 10]
        );
        assert!("784".parse::<Widths>().is_err());
        assert!("784,0,10".parse::<Widths>().is_err());
        assert!("784,x".parse::<Widths>().is_err());
        for s in InitScheme::ALL {
            assert_eq!(s.name().parse::<InitScheme>().unwrap(), s);
        }
        assert_eq!(
            "he".parse::<InitScheme>().unwrap(),
            InitScheme::KaimingNormal
        );
        assert!("glorot-ish".parse::<InitScheme>().is_err());
        assert_eq!("zeros_".parse::<InitScheme>().unwrap(), InitScheme::Zeros);
        assert_eq!(
            "constant_".parse::<InitScheme>().unwrap(),
            InitScheme::Constant
        );
        let mf = "mean-field-w2.5-b0.05".parse::<InitScheme>().unwrap();
        assert_eq!(
            mf,
            InitScheme::MeanField(MeanFieldParams {
                sigma_w2_micro: 2_500_000,
                sigma_b2_micro: 50_000
            })
        );
        assert_eq!(mf.to_string(), "mean-field-w2.5-b0.05");
        assert_eq!(mf.to_string().parse::<InitScheme>().unwrap(), mf);
        assert_eq!(
            "mean_field".parse::<InitScheme>().unwrap().to_string(),
            "mean-field-w1.76-b0.05"
        );
        assert!("mean-field-w-1-b0".parse::<InitScheme>().is_err());
        assert!("mean-field-w1".parse::<InitScheme>().is_err());
        assert!("mean-field-wnan-b0".parse::<InitScheme>().is_err());
    }

    #[test]
    fn existing_schemes_serialise_as_before() {
        assert_eq!(
            serde_json::to_string(&InitScheme::XavierUniform).unwrap(),
            "\"xavier-uniform\""
        );
        let mf = InitScheme::MeanField(MeanFieldParams::EDGE_OF_CHAOS);
        let json = serde_json::to_string(&mf).unwrap();
        assert_eq!(
            json,
            r#"{"mean-field":{"sigma_w2_micro":1760000,"sigma_b2_micro":50000}}"#
        );
        assert_eq!(serde_json::from_str::<InitScheme>(&json).unwrap(), mf);
    }

    #[test]
    fn weight_variances_match_the_formulas_and_the_draws() {
        let relu = Activation::Relu;
        let v = |s: InitScheme, fi, fo| s.weight_variance(fi, fo, relu);
        assert_eq!(v(InitScheme::XavierUniform, 256, 256), Some(1.0 / 256.0));
        // gain √2 squared is 2 up to one rounding.
        let he = v(InitScheme::KaimingNormal, 256, 10).unwrap();
        assert!((he - 2.0 / 256.0).abs() < 1e-17, "{he}");
        assert_eq!(v(InitScheme::TorchDefault, 256, 10), Some(1.0 / 768.0));
        assert_eq!(v(InitScheme::Normal, 256, 10), Some(1.0));
        assert_eq!(v(InitScheme::Lsuv, 256, 10), None);
        assert_eq!(v(InitScheme::Constant, 256, 10), None);
        let mf = InitScheme::MeanField(MeanFieldParams::new(2.0, 0.05).unwrap());
        assert_eq!(v(mf, 400, 10), Some(2.0 / 400.0));
        assert_eq!(mf.bias_variance(400), 0.05);
        assert_eq!(InitScheme::Zeros.bias_variance(400), 0.0);
        // The drawn weights and biases of a 784-400-400-10 net have those variances (±5 %).
        tch::manual_seed(3);
        for init in [InitScheme::XavierUniform, InitScheme::Orthogonal, mf] {
            let net = Mlp::new(&MlpSpec {
                bias: Default::default(),
                widths: Widths(vec![784, 400, 400, 10]),
                activation: relu,
                init,
            })
            .unwrap();
            let w = &net.layers[1].ws;
            let want = init.weight_variance(400, 400, relu).unwrap();
            let got = w.to_kind(Kind::Double).var(true).double_value(&[]);
            assert!((got / want - 1.0).abs() < 0.05, "{init}: {got} vs {want}");
            let b = net.layers[1].bs.as_ref().unwrap();
            let want = init.bias_variance(400);
            let got = b.to_kind(Kind::Double).var(true).double_value(&[]);
            assert!(
                (got / want - 1.0).abs() < 0.25,
                "{init} bias: {got} vs {want}"
            );
        }
    }

    #[test]
    fn distinct_rows_counts_exactly_equal_rows() {
        // [4, 3]: rows 0 and 2 equal, row 3 differs from row 1 in the last bit of one entry.
        let t = Tensor::from_slice(&[
            1f32,
            2.,
            3.,
            0.,
            0.,
            0.,
            1.,
            2.,
            3.,
            0.,
            0.,
            f32::MIN_POSITIVE,
        ])
        .reshape([4, 3]);
        assert_eq!(distinct_rows(&t).unwrap(), 3);
        assert_eq!(
            distinct_rows(&Tensor::zeros([5, 7], (Kind::Float, Device::Cpu))).unwrap(),
            1
        );
        // −0 and +0 are equal numbers.
        let z = Tensor::from_slice(&[0f32, -0.0]).reshape([2, 1]);
        assert_eq!(distinct_rows(&z).unwrap(), 1);
        assert!(distinct_rows(&Tensor::zeros([3], (Kind::Float, Device::Cpu))).is_err());
    }
}
