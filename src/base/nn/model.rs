//! Multilayer perceptrons built the way `torch.nn.Linear` builds its layers, with a choice of
//! weight initialization.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::base::nn::init;
use crate::base::nn::scheme::{Activation, InitScheme};

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
        self == BiasInit::Zeros && init.sets_biases()
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

    /// The title of a run's charts (`loss.png`, `dynamics.png`): the net with its activation,
    /// then the init: `deep tanh net — normal init`, `784-500-500-2000-10 sigmoid net — dbn init`
    /// (a DBN run says its net is sigmoid).
    pub fn title(&self) -> String {
        format!(
            "{} {} net — {} init",
            self.widths.label(),
            self.activation,
            self.init
        )
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
    use crate::base::nn::scheme::MeanFieldParams;

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
                sigma_b2_micro: 50_000,
                orthogonal: false,
            })
        );
        assert_eq!(mf.to_string(), "mean-field-w2.5-b0.05");
        assert_eq!(mf.to_string().parse::<InitScheme>().unwrap(), mf);
        let mfo = "mean-field-orthogonal-w1.760955-b0.05"
            .parse::<InitScheme>()
            .unwrap();
        let want = MeanFieldParams::new(1.760955, 0.05)
            .unwrap()
            .with_orthogonal();
        assert_eq!(mfo, InitScheme::MeanField(want));
        assert_eq!(mfo.to_string(), "mean-field-orthogonal-w1.760955-b0.05");
        assert_eq!(mfo.to_string().parse::<InitScheme>().unwrap(), mfo);
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
        let mfo = InitScheme::MeanField(MeanFieldParams::EDGE_OF_CHAOS.with_orthogonal());
        let json = serde_json::to_string(&mfo).unwrap();
        assert!(json.contains(r#""orthogonal":true"#), "{json}");
        assert_eq!(serde_json::from_str::<InitScheme>(&json).unwrap(), mfo);
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
        let mfo = InitScheme::MeanField(MeanFieldParams::new(2.0, 0.05).unwrap().with_orthogonal());
        assert_eq!(v(mfo, 400, 10), Some(2.0 / 400.0));
        for init in [InitScheme::XavierUniform, InitScheme::Orthogonal, mf, mfo] {
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
