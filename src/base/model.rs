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

/// How the weights of every layer are (re)initialized after the layers are built. Biases keep
/// `torch.nn.Linear`'s default, as in the lab's notebooks.
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
}

impl InitScheme {
    /// Every scheme, in the order shown to users.
    pub const ALL: [InitScheme; 10] = [
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
    ];

    /// The name used on the command line and in files.
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
        }
    }
}

impl fmt::Display for InitScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
            widths: Widths::shallow(),
            activation: Activation::Relu,
            init,
        }
    }

    /// The lab's deep ReLU net with the given init.
    pub fn deep(init: InitScheme) -> Self {
        MlpSpec {
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
    /// random draws.
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
    }
}
