//! `initlab inspect`: what a freshly initialized network does to real data — per-layer
//! activation and back-propagated gradient distributions (Glorot & Bengio 2010, Figs. 6–7) and
//! their standard deviations by depth, the picture of vanishing and exploding signals; how many
//! distinct units each layer has (symmetry: `zeros` and `constant` leave one); and for ReLU nets
//! the variance-propagation prediction drawn over the measured stds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::nn::Module;
use tch::{Kind, Reduction, Tensor};

use crate::base::data::mnist::Mnist;
use crate::base::nn::hook::initialize_model;
use crate::base::nn::meanfield::{self, GaussHermite};
use crate::base::nn::{
    model::{Mlp, MlpSpec, Widths},
    scheme::{Activation, InitScheme},
};
use crate::base::output::chart::axis::{symlog, symlog_inv};
use crate::base::output::chart::grid::{grid_chart, Cell};
use crate::base::output::chart::panel::{panels_chart, Panel};
use crate::base::output::chart::series::Series;
use crate::base::output::io;
use crate::engine::hooks;
use crate::engine::spec::InitSource;

/// Settings of an inspection.
#[derive(Debug, Clone)]
pub struct InspectConfig {
    /// The architecture (input width first).
    pub widths: Widths,
    /// Its nonlinearity.
    pub activation: Activation,
    /// Inits to inspect.
    pub inits: Vec<InitScheme>,
    /// `torch.manual_seed` before each model is built.
    pub seed: i64,
    /// Test images forwarded (the first `batch`, scaled to [0, 1]).
    pub batch: i64,
    /// Where the `dbn` init takes its weights from.
    pub source: InitSource,
    /// Output directory: `<init>.png` per init, `depth.png`, `inspect.md`, `inspect.csv`.
    pub out_dir: PathBuf,
}

/// Statistics of one layer for one batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// 1-based layer index.
    pub layer: usize,
    /// Std of the layer's output before the nonlinearity.
    pub pre_activation_std: f64,
    /// Mean of the activation (after the nonlinearity; the logits for the last layer).
    pub activation_mean: f64,
    /// Std of the activation.
    pub activation_std: f64,
    /// Std of ∂loss/∂(pre-activation), the back-propagated gradient.
    pub gradient_std: f64,
    /// Std of ∂loss/∂W of the layer's weight.
    pub weight_gradient_std: f64,
    /// Units with different incoming parameters: distinct rows of `[W | b]` (exact equality).
    pub distinct_units: usize,
    /// Units that compute different things on the batch: distinct columns of the activations.
    pub distinct_activations: usize,
    /// The layer's width.
    pub width: usize,
}

/// What one init does to the batch.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The init.
    pub init: InitScheme,
    /// Per-layer statistics, input side first.
    pub layers: Vec<LayerStats>,
    /// Normalized histograms of the hidden layers' activations: `(bin centre, density)`, the
    /// density per unit of the x axis (per decade on a symmetric-log axis).
    pub activation_histograms: Vec<Vec<(f64, f64)>>,
    /// How the activation histograms were binned.
    pub activation_binning: Binning,
    /// Normalized histograms of the hidden layers' back-propagated gradients.
    pub gradient_histograms: Vec<Vec<(f64, f64)>>,
    /// How the gradient histograms were binned.
    pub gradient_binning: Binning,
    /// ReLU and tanh nets whose scheme fixes the weight variance: the predicted activation std per
    /// layer ([`mean_field_prediction`]); `None` otherwise.
    pub predicted_activation_std: Option<Vec<f64>>,
    /// The same nets: the predicted std of ∂loss/∂z per layer, the measured std at the logits
    /// carried down by √χ₁ per layer ([`gradient_prediction`]); `None` otherwise.
    pub predicted_gradient_std: Option<Vec<f64>>,
    /// The same nets: the gradient factor χ₁ of each hidden layer (the back-propagated gradient's
    /// second moment is multiplied by it on the way down through that layer).
    pub chi: Option<Vec<f64>>,
}

/// How the histograms of one quantity (activations or gradients) were binned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Binning {
    /// The linear threshold of the symmetric-log axis they were binned on ([`symlog`]),
    /// when the layers' stds differ by more than [`SYMLOG_SPREAD`]; `None`: linear bins.
    pub symlog: Option<f64>,
    /// Per layer, the share of values that are exactly 0, which symmetric-log bins leave out (a
    /// saturated tanh unit passes back exactly 0; a dead ReLU unit outputs 0).
    pub zero_share: Vec<f64>,
}

/// The mean-field prediction of a fresh ReLU net's activation std per layer, for a scheme whose
/// weight and bias variances are known in advance ([`InitScheme::weight_variance`],
/// [`InitScheme::bias_variance`]): pre-activation second moments `q_l` by
/// [`crate::base::nn::meanfield::relu_second_moments`] from the input's mean squared norm, then
/// `std(relu(z)) = √q_l · √(1/2 − 1/(2π))` for the hidden layers and `√q_L` for the logits. Each
/// hidden layer multiplies `q` by `fan_in · Var(w) / 2`: Xavier-uniform at fan_in = fan_out
/// halves it, He keeps it.
pub fn relu_prediction(
    widths: &Widths,
    init: InitScheme,
    input_second_moment: f64,
) -> Option<Vec<f64>> {
    let layers: Vec<(i64, f64, f64)> = widths
        .0
        .windows(2)
        .map(|w| {
            let v = init.weight_variance(w[0], w[1], Activation::Relu)?;
            Some((w[0], v, init.bias_variance(w[0])))
        })
        .collect::<Option<_>>()?;
    let q = crate::base::nn::meanfield::relu_second_moments(input_second_moment, &layers);
    let last = q.len().saturating_sub(1);
    Some(
        q.iter()
            .enumerate()
            .map(|(k, &v)| {
                if k < last {
                    crate::base::nn::meanfield::relu_output_std(v)
                } else {
                    v.sqrt()
                }
            })
            .collect(),
    )
}

/// What mean-field theory predicts for a fresh net, per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanFieldPrediction {
    /// The std of each layer's output (the activation for hidden layers, the logits last).
    pub activation_std: Vec<f64>,
    /// χ₁ of each hidden layer ℓ: `fan_out_{ℓ+1} · Var(w_{ℓ+1}) · E[φ'(z_ℓ)²]`, with `z_ℓ ~ N(0,
    /// q_ℓ)`; `E[φ'²]` is 1/2 for ReLU and [`meanfield::tanh_slope_moment`] for tanh.
    pub chi: Vec<f64>,
}

/// The mean-field prediction of a fresh ReLU or tanh net for a scheme whose weight and bias
/// variances are known in advance (`None` for other activations and schemes). ReLU: the
/// activation std of [`relu_prediction`]. Tanh: the length map layer by layer from the input's
/// mean squared norm ([`meanfield::tanh_second_moments`]; Poole et al. 2016, eq. 3), the hidden
/// layers' std `√E[tanh(√q_ℓ z)²]` and the logits' `√q_L`. Both: the gradient factor χ₁ of each
/// hidden layer at its own `q_ℓ` (Poole et al. 2016, eq. 7; Schoenholz et al. 2017, eq. 5; Glorot &
/// Bengio 2010, eq. 14 — under their standard init the factor is below 1 and ∂loss/∂z shrinks
/// towards the input).
pub fn mean_field_prediction(
    widths: &Widths,
    activation: Activation,
    init: InitScheme,
    input_second_moment: f64,
) -> Option<MeanFieldPrediction> {
    let layers: Vec<(i64, f64, f64)> = widths
        .0
        .windows(2)
        .map(|w| {
            let v = init.weight_variance(w[0], w[1], activation)?;
            Some((w[0], v, init.bias_variance(w[0])))
        })
        .collect::<Option<_>>()?;
    let gh = GaussHermite::default_rule();
    let (q, activation_std) = match activation {
        Activation::Relu => (
            meanfield::relu_second_moments(input_second_moment, &layers),
            relu_prediction(widths, init, input_second_moment)?,
        ),
        Activation::Tanh => {
            let q = meanfield::tanh_second_moments(&gh, input_second_moment, &layers);
            let last = q.len().saturating_sub(1);
            let stds = q
                .iter()
                .enumerate()
                .map(|(k, &v)| {
                    if k < last {
                        meanfield::tanh_output_std(&gh, v)
                    } else {
                        v.sqrt()
                    }
                })
                .collect();
            (q, stds)
        }
        Activation::Sigmoid | Activation::Softsign => return None,
    };
    // Hidden layer k's factor uses the next layer's fan-out and weight variance.
    let chi = (0..layers.len().saturating_sub(1))
        .map(|k| {
            let (fan_out, var_w) = (widths.0[k + 2] as f64, layers[k + 1].1);
            let slope = match activation {
                Activation::Tanh => meanfield::tanh_slope_moment(&gh, q[k]),
                _ => 0.5,
            };
            fan_out * var_w * slope
        })
        .collect();
    Some(MeanFieldPrediction {
        activation_std,
        chi,
    })
}

/// The std of ∂loss/∂z predicted for every layer from the measured one at the logits, `top`:
/// going down through hidden layer ℓ multiplies the second moment by `chi[ℓ]`, so the std by
/// `√chi[ℓ]` (the gradients taken independent of the forward weights, as mean-field theory does).
pub fn gradient_prediction(chi: &[f64], top: f64) -> Vec<f64> {
    let mut out = vec![top; chi.len() + 1];
    for k in (0..chi.len()).rev() {
        out[k] = out[k + 1] * chi[k].sqrt();
    }
    out
}

const BINS: usize = 60;
/// Bins of a histogram on a symmetric-log axis.
const SYMLOG_BINS: usize = 120;
/// Layers whose stds differ by more than this factor get symmetric-log histograms: on a linear
/// axis the narrow ones would sit on one spike at 0.
pub const SYMLOG_SPREAD: f64 = 10.0;

/// Density histogram of `values` over `[lo, hi]` in `BINS` bins; values outside the range are
/// left out of the bins but still count in the normalisation (so the curves show the share of
/// values in range).
fn histogram(values: &[f32], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    binned(values, lo, hi, BINS, |x| x, |t| t)
}

/// Density histogram of `values` in `bins` bins of equal width in the units `to` maps values to
/// (`[lo, hi]` in those units, `from` the inverse): `(bin centre in data units, share of the
/// values per unit)`. Values outside the range count in the normalisation only.
fn binned(
    values: &[f32],
    lo: f64,
    hi: f64,
    bins: usize,
    to: impl Fn(f64) -> f64,
    from: impl Fn(f64) -> f64,
) -> Vec<(f64, f64)> {
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &v in values {
        let x = to(v as f64);
        if x.is_finite() && x >= lo && x <= hi {
            let b = (((x - lo) / width).floor() as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (from(lo + (i as f64 + 0.5) * width), c as f64 / n / width))
        .collect()
}

/// The value below which `q` of the non-zero |values| lie (`None` when all are 0).
fn nonzero_abs_quantile(values: &[f32], q: f64) -> Option<f64> {
    let mut a: Vec<f32> = values
        .iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if a.is_empty() {
        return None;
    }
    let k = ((a.len() - 1) as f64 * q) as usize;
    let (_, v, _) = a.select_nth_unstable_by(k, |x, y| x.total_cmp(y));
    Some(*v as f64)
}

/// The symmetric-log threshold for layers of these `values` and `stds`, when the largest std is
/// more than [`SYMLOG_SPREAD`] times the smallest positive one (`None` otherwise): the smallest
/// layer's 5 % quantile of its non-zero magnitudes, so that almost every value lies on the
/// logarithmic part (but no less than 10⁻³⁰ of the largest std, which keeps denormal-sized
/// values off the axis).
pub fn symlog_threshold(values: &[Vec<f32>], stds: &[f64]) -> Option<f64> {
    let positive = stds.iter().copied().filter(|s| s.is_finite() && *s > 0.0);
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(lo, hi), s| {
        (lo.min(s), hi.max(s))
    });
    if hi <= SYMLOG_SPREAD * lo {
        return None;
    }
    let small = values
        .iter()
        .filter_map(|v| nonzero_abs_quantile(v, 0.05))
        .fold(f64::INFINITY, f64::min);
    small.is_finite().then(|| small.max(hi * 1e-30))
}

/// Histograms of each layer's `values` on one range so that layers compare, and how they were
/// binned: with `c`, [`SYMLOG_BINS`] symmetric-log bins from the largest magnitude that 99.9 %
/// of all values stay under (from 0 up for values that are never negative), exact zeros left
/// out of the bins; else `BINS` linear bins over `linear`.
fn layer_histograms(
    layers: &[Vec<f32>],
    c: Option<f64>,
    linear: (f64, f64),
) -> (Vec<Vec<(f64, f64)>>, Binning) {
    let zero_share = layers
        .iter()
        .map(|v| v.iter().filter(|x| **x == 0.0).count() as f64 / v.len().max(1) as f64)
        .collect();
    let Some(c) = c else {
        let h = layers
            .iter()
            .map(|v| histogram(v, linear.0, linear.1))
            .collect();
        return (
            h,
            Binning {
                symlog: None,
                zero_share,
            },
        );
    };
    let all: Vec<f32> = layers.iter().flatten().copied().collect();
    let top = symlog(abs_quantile(&all, 0.999), c);
    let bottom = if all.iter().any(|v| *v < 0.0) {
        -top
    } else {
        0.0
    };
    // Exact zeros map outside every bin.
    let to = |x: f64| {
        if x == 0.0 {
            f64::NAN
        } else {
            symlog(x, c)
        }
    };
    let h = layers
        .iter()
        .map(|v| binned(v, bottom, top, SYMLOG_BINS, to, |t| symlog_inv(t, c)))
        .collect();
    (
        h,
        Binning {
            symlog: Some(c),
            zero_share,
        },
    )
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        t.detach().to_kind(Kind::Float).reshape([-1]),
    )?)
}

/// The value below which `q` of |values| lie (for symmetric histogram ranges).
fn abs_quantile(values: &[f32], q: f64) -> f64 {
    let mut a: Vec<f32> = values
        .iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite())
        .collect();
    if a.is_empty() {
        return 1.0;
    }
    let k = ((a.len() - 1) as f64 * q) as usize;
    let (_, v, _) = a.select_nth_unstable_by(k, |x, y| x.total_cmp(y));
    (*v as f64).max(1e-12)
}

/// Forwards `inputs` (`[n, features]`) through `model`, back-propagates the mean cross-entropy
/// against `labels`, and records every layer's statistics and the hidden layers' histograms.
pub fn inspect_model(
    model: &Mlp,
    init: InitScheme,
    inputs: &Tensor,
    labels: &Tensor,
) -> Result<Inspection> {
    let n_layers = model.layers.len();
    let (pre, post, logits) = forward_layers(model, inputs);
    let loss = logits.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
    ensure!(
        loss.double_value(&[]).is_finite(),
        "the loss of the fresh {init} network is not finite"
    );
    let mut wanted: Vec<&Tensor> = pre.iter().collect();
    let weights: Vec<&Tensor> = model.layers.iter().map(|l| &l.ws).collect();
    wanted.extend(weights.iter().copied());
    let grads = Tensor::run_backward(&[&loss], &wanted, false, false);
    let (z_grads, w_grads) = grads.split_at(n_layers);
    let layers = layer_stats(model, &pre, &post, z_grads, w_grads)?;
    hidden_histograms(init, model.activation, layers, &post, z_grads)
}

/// Forwards `inputs` through `model`, keeping every layer's pre-activation `z_k` and output
/// `h_k` (both `[n, width_k]`; the last layer's output is its logits, returned third).
fn forward_layers(model: &Mlp, inputs: &Tensor) -> (Vec<Tensor>, Vec<Tensor>, Tensor) {
    let n_layers = model.layers.len();
    let mut pre = Vec::with_capacity(n_layers);
    let mut post = Vec::with_capacity(n_layers);
    let mut h = inputs.shallow_clone();
    for (k, layer) in model.layers.iter().enumerate() {
        let z = layer.forward(&h);
        h = if k + 1 < n_layers {
            model.activation.apply(&z)
        } else {
            z.shallow_clone()
        };
        pre.push(z);
        post.push(h.shallow_clone());
    }
    (pre, post, h)
}

/// Each layer's statistics from its pre-activations, outputs and gradients (of the outputs'
/// pre-activations `z_grads` and of the weights `w_grads`).
fn layer_stats(
    model: &Mlp,
    pre: &[Tensor],
    post: &[Tensor],
    z_grads: &[Tensor],
    w_grads: &[Tensor],
) -> Result<Vec<LayerStats>> {
    let std = |t: &Tensor| t.to_kind(Kind::Double).std(true).double_value(&[]);
    let mut distinct = Vec::with_capacity(model.layers.len());
    for (k, layer) in model.layers.iter().enumerate() {
        // [fan_out, fan_in + 1]: each unit's incoming weights and its bias.
        let params = match &layer.bs {
            Some(b) => Tensor::cat(&[layer.ws.detach(), b.detach().unsqueeze(1)], 1),
            None => layer.ws.detach(),
        };
        // [width, n]: each unit's activations over the batch.
        let acts = post[k].detach().transpose(0, 1);
        distinct.push((
            crate::base::nn::model::distinct_rows(&params)?,
            crate::base::nn::model::distinct_rows(&acts)?,
            layer.ws.size()[0] as usize,
        ));
    }
    Ok((0..model.layers.len())
        .map(|k| LayerStats {
            distinct_units: distinct[k].0,
            distinct_activations: distinct[k].1,
            width: distinct[k].2,
            layer: k + 1,
            pre_activation_std: std(&pre[k]),
            activation_mean: post[k]
                .to_kind(Kind::Double)
                .mean(Kind::Double)
                .double_value(&[]),
            activation_std: std(&post[k]),
            gradient_std: std(&z_grads[k]),
            weight_gradient_std: std(&w_grads[k]),
        })
        .collect())
}

/// The inspection of `init`: `layers` plus histograms of the hidden layers' outputs `post` and
/// gradients `z_grads`, on one range per figure so layers compare.
fn hidden_histograms(
    init: InitScheme,
    activation: Activation,
    layers: Vec<LayerStats>,
    post: &[Tensor],
    z_grads: &[Tensor],
) -> Result<Inspection> {
    let hidden = layers.len().saturating_sub(1);
    let acts: Vec<Vec<f32>> = post[..hidden].iter().map(to_vec).collect::<Result<_>>()?;
    let gs: Vec<Vec<f32>> = z_grads[..hidden]
        .iter()
        .map(to_vec)
        .collect::<Result<_>>()?;
    let (a_lo, a_hi) = match activation {
        Activation::Tanh | Activation::Softsign => (-1.0, 1.0),
        Activation::Sigmoid => (0.0, 1.0),
        Activation::Relu => {
            let all: Vec<f32> = acts.iter().flatten().copied().collect();
            (0.0, abs_quantile(&all, 0.99))
        }
    };
    let all_g: Vec<f32> = gs.iter().flatten().copied().collect();
    let g = abs_quantile(&all_g, 0.99);
    let hidden_stds =
        |f: fn(&LayerStats) -> f64| -> Vec<f64> { layers[..hidden].iter().map(f).collect() };
    let activation_symlog = symlog_threshold(&acts, &hidden_stds(|l| l.activation_std));
    let gradient_symlog = symlog_threshold(&gs, &hidden_stds(|l| l.gradient_std));
    let (activation_histograms, activation_binning) =
        layer_histograms(&acts, activation_symlog, (a_lo, a_hi));
    let (gradient_histograms, gradient_binning) = layer_histograms(&gs, gradient_symlog, (-g, g));
    Ok(Inspection {
        init,
        activation_histograms,
        activation_binning,
        gradient_histograms,
        gradient_binning,
        layers,
        predicted_activation_std: None,
        predicted_gradient_std: None,
        chi: None,
    })
}

/// What an inspection run wrote.
#[derive(Debug, Clone)]
pub struct InspectResult {
    /// One inspection per init.
    pub inspections: Vec<Inspection>,
    /// The per-init histogram figures.
    pub figures: Vec<PathBuf>,
    /// `depth.png`: std by layer for all inits.
    pub depth_chart: PathBuf,
    /// `inspect.md`.
    pub table: PathBuf,
}

/// Inspects every init of `config` on the first `config.batch` test images and writes the
/// figures and tables. A data-dependent init (LSUV, DBN) is resolved like training resolves it
/// ([`hooks::resolve`]) and calibrated on training images, not on the inspected ones.
pub fn run_inspect(config: &InspectConfig, data: &Mnist) -> Result<InspectResult> {
    ensure!(!config.inits.is_empty(), "no init schemes to inspect");
    let n = config.batch.min(data.test.len());
    ensure!(n >= 2, "inspect needs at least 2 test images, got {n}");
    // [n, 784]
    let inputs = &data.test.images_unit().narrow(0, 0, n);
    // [n]
    let labels = &data.test.labels.narrow(0, 0, n);
    // [500, 784]: what LSUV sees in training (the first training images).
    let calibration = data
        .train
        .take(crate::base::nn::lsuv::Lsuv::default().batch_size)
        .images_unit();
    ensure!(
        config.widths.0.len() >= 3,
        "inspect needs at least one hidden layer"
    );
    std::fs::create_dir_all(&config.out_dir)
        .with_context(|| format!("creating output directory {}", config.out_dir.display()))?;
    // E[‖x‖²] over the inspected batch, the start of the ReLU prediction.
    let input_second_moment = inputs
        .to_kind(Kind::Double)
        .square()
        .sum_dim_intlist(1, false, Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    let mut inspections = Vec::new();
    let mut figures = Vec::new();
    for &init in &config.inits {
        let spec = MlpSpec {
            bias: Default::default(),
            widths: config.widths.clone(),
            activation: config.activation,
            init,
        };
        let hook = hooks::resolve(init, &config.source.for_scheme(init))?;
        let model = initialize_model(&spec, config.seed, hook.as_deref(), || {
            calibration.shallow_clone()
        })?;
        let mut ins = inspect_model(&model, init, inputs, labels)?;
        let predicted =
            mean_field_prediction(&config.widths, config.activation, init, input_second_moment);
        if let (Some(p), Some(top)) = (predicted, ins.layers.last()) {
            ins.predicted_gradient_std = Some(gradient_prediction(&p.chi, top.gradient_std));
            ins.predicted_activation_std = Some(p.activation_std);
            ins.chi = Some(p.chi);
        }
        let path = config.out_dir.join(format!("{init}.png"));
        histogram_figure(&ins, config, &path)?;
        figures.push(path);
        inspections.push(ins);
    }
    let depth_chart = config.out_dir.join("depth.png");
    depth_figure(&inspections, config, &depth_chart)?;
    depth_figure(&inspections, config, &config.out_dir.join("depth.svg"))?;
    let table = config.out_dir.join("inspect.md");
    io::write_atomic(&table, table_markdown(config, &inspections).as_bytes())?;
    let csv = config.out_dir.join("inspect.csv");
    io::write_atomic(&csv, table_csv(&inspections).as_bytes())?;
    Ok(InspectResult {
        inspections,
        figures,
        depth_chart,
        table,
    })
}

fn arch(config: &InspectConfig) -> String {
    format!("{} {}", config.widths.compact(), config.activation)
}

/// A number for a legend, two significant digits: `2.3`, `0.42`, `3.1e-5`.
fn short(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() {
        format!("{v}")
    } else if !(0.01..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a < 1.0 {
        format!("{v:.2}")
    } else {
        format!("{:.*}", if a < 10.0 { 1 } else { 0 }, v)
    }
}

/// The share of exact zeros among the gradients ∂loss/∂z of a tanh net's layers, when it is
/// large enough to explain (at least [`ZERO_NOTE`]): in float32, tanh(z) rounds to ±1 once
/// 1 − |tanh z| ≈ 2e^(−2|z|) falls below half an ulp of 1 (2⁻²⁴), at |z| ≈ 8.7, and autograd's
/// tanh′ = 1 − tanh² is then exactly 0 — a saturated unit passes no gradient at all. The
/// share over all hidden units of the batch, each layer weighted alike.
pub fn tanh_zero_gradients(activation: Activation, ins: &Inspection) -> Option<f64> {
    let z = &ins.gradient_binning.zero_share;
    if activation != Activation::Tanh || z.is_empty() {
        return None;
    }
    let share = z.iter().sum::<f64>() / z.len() as f64;
    (share >= ZERO_NOTE).then_some(share)
}

/// The share of exactly-zero gradients from which the tanh charts and tables explain them.
const ZERO_NOTE: f64 = 0.01;

/// What a histogram's x axis shows, and on a symmetric-log axis (threshold `c`) what that means.
fn symlog_desc(what: String, c: Option<f64>) -> String {
    match c {
        Some(c) => format!(
            "{what} (symmetric log scale, linear within ±{}; exact zeros not drawn)",
            short(c)
        ),
        None => what,
    }
}

/// The gradient histogram's x-axis text: [`symlog_desc`], or for a tanh net with many exact
/// zeros ([`tanh_zero_gradients`]) their share and why they are zero.
fn gradient_axis_desc(activation: Activation, ins: &Inspection) -> String {
    let g = &ins.gradient_binning;
    match (tanh_zero_gradients(activation, ins), g.symlog) {
        (Some(share), Some(c)) => format!(
            "gradient, symmetric log (linear within ±{}); {:.0} % exactly 0, not drawn: \
             float32 tanh′ = 1 − tanh² is 0 for |z| ≳ 9",
            short(c),
            100.0 * share
        ),
        _ => symlog_desc("gradient".into(), g.symlog),
    }
}

fn histogram_figure(ins: &Inspection, config: &InspectConfig, path: &Path) -> Result<()> {
    // One line per layer; on a symmetric-log axis the legend gives the share of exact zeros,
    // which the axis cannot place.
    let layer_series = |hists: &[Vec<(f64, f64)>],
                        binning: &Binning,
                        std: fn(&LayerStats) -> f64|
     -> Vec<Series> {
        hists
            .iter()
            .zip(&ins.layers)
            .enumerate()
            .map(|(k, (h, l))| {
                let zeros = binning.zero_share.get(k).copied().unwrap_or(0.0);
                let zeros = if binning.symlog.is_some() && zeros >= 0.005 {
                    format!(", {:.0} % zero", 100.0 * zeros)
                } else {
                    String::new()
                };
                Series {
                    label: format!("layer {} (std {}{zeros})", l.layer, short(std(l))),
                    points: h.clone(),
                    band: Vec::new(),
                }
            })
            .collect()
    };
    let y_desc = |c: Option<f64>| {
        if c.is_some() {
            "share of values per decade"
        } else {
            "density"
        }
        .to_string()
    };
    let (a, g) = (&ins.activation_binning, &ins.gradient_binning);
    let gradient_desc = gradient_axis_desc(config.activation, ins);
    let panels = [
        Panel {
            title: "activations (hidden layers)".into(),
            x_desc: symlog_desc(format!("{} output", config.activation), a.symlog),
            y_desc: y_desc(a.symlog),
            series: layer_series(&ins.activation_histograms, a, |l| l.activation_std),
            log_y: false,
            dashed: Vec::new(),
            x_symlog: a.symlog,
            ..Default::default()
        },
        Panel {
            title: "back-propagated gradients ∂loss/∂z".into(),
            x_desc: gradient_desc,
            y_desc: y_desc(g.symlog),
            series: layer_series(&ins.gradient_histograms, g, |l| l.gradient_std),
            log_y: false,
            dashed: Vec::new(),
            x_symlog: g.symlog,
            ..Default::default()
        },
    ];
    panels_chart(
        &panels,
        &format!(
            "{}, {} init, fresh network, one batch",
            arch(config),
            ins.init
        ),
        path,
    )
}

/// Decades N(0,1) may add to the range of a depth panel (a millionfold) before the figure draws
/// the others again without it: beyond that its line flattens theirs (ReLU × 21: 10²² against
/// Xavier's 0.23 → 0.03; tanh × 9 stays under it).
const DWARF_DECADES: f64 = 6.0;

/// The decades spanned by the positive values of `f` over the layers of `inits`.
fn decades(inits: &[&Inspection], f: fn(&LayerStats) -> f64) -> f64 {
    let values = inits.iter().flat_map(|i| i.layers.iter().map(f));
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo <= hi {
        (hi / lo).log10()
    } else {
        0.0
    }
}

/// Whether N(0,1) is among `all` with others and stretches a depth panel's log axis by more than
/// [`DWARF_DECADES`] beyond what the others span.
fn normal_dwarfs_the_rest(all: &[Inspection]) -> bool {
    let every: Vec<&Inspection> = all.iter().collect();
    let rest: Vec<&Inspection> = all
        .iter()
        .filter(|i| i.init != InitScheme::Normal)
        .collect();
    if rest.len() == every.len() || rest.is_empty() {
        return false;
    }
    let stats: [fn(&LayerStats) -> f64; 2] = [|l| l.activation_std, |l| l.gradient_std];
    stats
        .iter()
        .any(|f| decades(&every, *f) - decades(&rest, *f) > DWARF_DECADES)
}

/// One dashed line per inspection from `values` (its prediction, per layer), in its series'
/// colour; an inspection without one gets an empty line so that colours stay matched, and no
/// legend entry where nothing can be drawn on a log axis (zeros: all 0).
fn predicted_series(
    inits: &[&Inspection],
    values: fn(&Inspection) -> Option<&Vec<f64>>,
) -> Vec<Series> {
    (inits.iter())
        .map(|ins| {
            let p = values(ins).map(Vec::as_slice).unwrap_or(&[]);
            let label = if p.iter().any(|v| *v > 0.0) {
                format!("{} predicted", ins.init)
            } else {
                String::new()
            };
            Series::line(
                label,
                (p.iter().enumerate())
                    .map(|(k, &v)| ((k + 1) as f64, v))
                    .collect(),
            )
        })
        .collect()
}

/// A log-y panel of one per-layer quantity of `inits`, one line per init, with `dashed`
/// predictions (none when every line of it is empty).
fn depth_panel(
    inits: &[&Inspection],
    title: String,
    f: fn(&LayerStats) -> f64,
    dashed: Vec<Series>,
) -> Panel {
    let has_prediction = dashed.iter().any(|s| !s.points.is_empty());
    Panel {
        title,
        x_desc: "layer".into(),
        y_desc: "std (log scale)".into(),
        series: (inits.iter())
            .map(|ins| {
                Series::line(
                    ins.init.to_string(),
                    (ins.layers.iter())
                        .map(|l| (l.layer as f64, f(l)))
                        .collect(),
                )
            })
            .collect(),
        log_y: true,
        dashed: if has_prediction { dashed } else { Vec::new() },
        legend_clearance: DEPTH_LEGEND_CLEARANCE,
        ..Default::default()
    }
}

/// How far a depth panel's legend keeps from its lines inside the plot, a fraction of the plot:
/// about 30 pixels, so that it still reads as off the lines where the book shows the three-panel
/// figure at a third of its size. A legend with no corner that far from the data goes beside
/// the plot (N(0,1)'s flat tanh line at std ≈ 0.95 once ran 21 pixels under the activation
/// panel's legend).
const DEPTH_LEGEND_CLEARANCE: f64 = 0.0625;

/// The three depth panels of `inits`, their titles starting with `prefix`: by layer, the std of
/// the activations, of the back-propagated gradients ∂loss/∂z and of the weight gradients
/// ∂loss/∂W (Glorot & Bengio 2010, section 4.2.2: under their standard init ∂loss/∂z shrinks
/// towards the input while Var(∂loss/∂W) stays roughly the same in every layer), with the
/// mean-field predictions dashed over the first two (the second row's titles stay short).
fn depth_panels(inits: &[&Inspection], prefix: &str, activation: Activation) -> Vec<Panel> {
    let activations = predicted_series(inits, |i| i.predicted_activation_std.as_ref());
    let gradients = predicted_series(inits, |i| i.predicted_gradient_std.as_ref());
    let predicted = |d: &[Series]| d.iter().any(|s| !s.points.is_empty()) && prefix.is_empty();
    let activation_title = match (predicted(&activations), activation) {
        (false, _) => "activation std",
        (true, Activation::Relu) => "activation std (dashed: fan_in·Var(w)/2 per layer)",
        (true, _) => "activation std (dashed: mean-field length map q^ℓ)",
    };
    let gradient_title = if predicted(&gradients) {
        "gradient std ∂loss/∂z (dashed: √χ₁ per layer from the logits)"
    } else {
        "gradient std ∂loss/∂z"
    };
    vec![
        depth_panel(
            inits,
            format!("{prefix}{activation_title}"),
            |l| l.activation_std,
            activations,
        ),
        depth_panel(
            inits,
            format!("{prefix}{gradient_title}"),
            |l| l.gradient_std,
            gradients,
        ),
        depth_panel(
            inits,
            format!("{prefix}weight-gradient std ∂loss/∂W"),
            |l| l.weight_gradient_std,
            Vec::new(),
        ),
    ]
}

/// `depth.png`: the three depth panels ([`depth_panels`]) of every init; when N(0,1)'s
/// explosion flattens the others ([`normal_dwarfs_the_rest`]), a second row draws them without
/// it.
fn depth_figure(all: &[Inspection], config: &InspectConfig, path: &Path) -> Result<()> {
    let title = format!("{}: signal by depth at initialization", arch(config));
    let every: Vec<&Inspection> = all.iter().collect();
    if !normal_dwarfs_the_rest(all) {
        return panels_chart(&depth_panels(&every, "", config.activation), &title, path);
    }
    let rest: Vec<&Inspection> = all
        .iter()
        .filter(|i| i.init != InitScheme::Normal)
        .collect();
    let rows: Vec<Vec<Cell>> = [
        depth_panels(&every, "", config.activation),
        depth_panels(&rest, "without N(0,1): ", config.activation),
    ]
    .into_iter()
    .map(|row| row.into_iter().map(Cell::Lines).collect())
    .collect();
    grid_chart(&rows, &title, (700, 560), path)
}

fn sci(v: f64) -> String {
    crate::base::parity::pyfmt::scientific(v, 3)
}

/// The per-layer table as markdown.
pub fn table_markdown(config: &InspectConfig, all: &[Inspection]) -> String {
    let mut md = format!("# Fresh {} network on one batch of MNIST\n\n", arch(config));
    let _ = writeln!(md, "| init | layer | pre-activation std | activation mean | activation std | predicted activation std | gradient std ∂L/∂z | predicted gradient std | χ₁ | weight-gradient std | distinct units (of width) | distinct activations |");
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for ins in all {
        for (k, l) in ins.layers.iter().enumerate() {
            let at = |p: &Option<Vec<f64>>| {
                p.as_ref()
                    .and_then(|p| p.get(k))
                    .map(|&v| sci(v))
                    .unwrap_or("—".into())
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} of {} | {} |",
                ins.init,
                l.layer,
                sci(l.pre_activation_std),
                sci(l.activation_mean),
                sci(l.activation_std),
                at(&ins.predicted_activation_std),
                sci(l.gradient_std),
                at(&ins.predicted_gradient_std),
                at(&ins.chi),
                sci(l.weight_gradient_std),
                l.distinct_units,
                l.width,
                l.distinct_activations
            );
        }
    }
    let _ = writeln!(
        md,
        "\nDistinct units: rows of the layer's `[weight | bias]` that differ (exact equality); \
         distinct activations: units whose outputs differ somewhere on the batch (ReLU units that \
         are 0 on the whole batch count as one). One distinct unit means the layer acts like a \
         single unit copied (`zeros`, `constant`)."
    );
    if all.iter().any(|i| i.predicted_activation_std.is_some()) {
        let _ = writeln!(md, "\n{}", prediction_note(config.activation));
    }
    for ins in all {
        if let Some(share) = tanh_zero_gradients(config.activation, ins) {
            let _ = writeln!(
                md,
                "\n{} init: {:.0} % of the gradients ∂loss/∂z are exactly 0 (mean over the \
                 layers). In float32, tanh(z) rounds to ±1 once |z| ≳ 9 (1 − |tanh z| ≈ \
                 2e^(−2|z|) falls below 2⁻²⁴), and autograd's tanh′ = 1 − tanh² is then exactly 0: \
                 a saturated unit passes no gradient at all.",
                ins.init,
                100.0 * share
            );
        }
    }
    let _ = writeln!(md, "\n![std by depth](depth.png)");
    md
}

/// How the predicted columns of the table were computed, for a ReLU or tanh net.
fn prediction_note(activation: Activation) -> String {
    let forward = if activation == Activation::Relu {
        "Predicted (ReLU): each layer multiplies the pre-activations' second moment by \
         fan_in·Var(w)/2 and adds Var(b), from the batch's mean ‖x‖²; the activation std is \
         √(q(1/2 − 1/(2π))) (He et al. 2015, eq. 9)."
    } else {
        "Predicted (tanh): the mean-field length map q^ℓ = fan_in·Var(w)·E[tanh(√q^(ℓ−1) z)²] + \
         Var(b) from the batch's mean ‖x‖² (Poole et al. 2016, eq. 3; Gauss–Hermite quadrature, \
         201 nodes); the activation std is √E[tanh(√q^ℓ z)²], the logits' √q^L."
    };
    format!(
        "{forward} χ₁ of hidden layer ℓ = fan_out·Var(w) of the next layer × E[φ'(√q^ℓ z)²] (1/2 \
         for ReLU): the factor by which ∂L/∂z's second moment changes going down through the \
         layer (Schoenholz et al. 2017, eq. 5, at the layer's own q^ℓ). The predicted gradient \
         std starts from the measured one at the logits and multiplies by √χ₁ per layer."
    )
}

/// The per-layer table as CSV.
pub fn table_csv(all: &[Inspection]) -> String {
    let mut out = String::from("init,layer,pre_activation_std,activation_mean,activation_std,predicted_activation_std,gradient_std,weight_gradient_std,width,distinct_units,distinct_activations,predicted_gradient_std,chi1\n");
    for ins in all {
        for (k, l) in ins.layers.iter().enumerate() {
            let at = |p: &Option<Vec<f64>>| {
                p.as_ref()
                    .and_then(|p| p.get(k))
                    .map(|v| format!("{v:e}"))
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "{},{},{:e},{:e},{:e},{},{:e},{:e},{},{},{},{},{}",
                ins.init,
                l.layer,
                l.pre_activation_std,
                l.activation_mean,
                l.activation_std,
                at(&ins.predicted_activation_std),
                l.gradient_std,
                l.weight_gradient_std,
                l.width,
                l.distinct_units,
                l.distinct_activations,
                at(&ins.predicted_gradient_std),
                at(&ins.chi)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_of_very_different_scales_get_symmetric_log_bins_without_zeros() {
        let narrow: Vec<f32> = (1..=100).map(|k| k as f32 * 1e-6).collect();
        let mut wide: Vec<f32> = (1..=100).map(|k| -(k as f32)).collect();
        wide.extend([0.0; 100]);
        // Scales within SYMLOG_SPREAD: linear.
        assert_eq!(
            symlog_threshold(std::slice::from_ref(&narrow), &[1.0, 5.0]),
            None
        );
        assert_eq!(symlog_threshold(&[vec![0.0; 4]], &[1e-6, 1.0]), None);
        let c = symlog_threshold(&[narrow.clone(), wide.clone()], &[3e-5, 30.0]);
        // The 5 % quantile of the narrow layer's non-zero magnitudes.
        assert_eq!(c, Some(5e-6f32 as f64));
        let (h, binning) = layer_histograms(&[narrow, wide], c, (-1.0, 1.0));
        assert_eq!(binning.symlog, c);
        assert_eq!(binning.zero_share, vec![0.0, 0.5]);
        // The zeros are left out of the bins but count in the normalisation; the bins cover
        // the rest (all but the 0.1 % above the range).
        let mass = |h: &[(f64, f64)]| {
            let width = symlog(h[1].0, 5e-6) - symlog(h[0].0, 5e-6);
            h.iter().map(|p| p.1).sum::<f64>() * width
        };
        assert!((mass(&h[0]) - 1.0).abs() < 0.02, "{}", mass(&h[0]));
        assert!((mass(&h[1]) - 0.5).abs() < 0.02, "{}", mass(&h[1]));
        // Each layer sits where its values are: the narrow one near ±1e-4, the wide one near -50.
        let peak = |h: &[(f64, f64)]| {
            h.iter()
                .copied()
                .fold((0.0, 0.0), |a, p| if p.1 > a.1 { p } else { a })
                .0
        };
        assert!(peak(&h[0]) > 1e-5 && peak(&h[0]) < 1e-3, "{}", peak(&h[0]));
        assert!(peak(&h[1]) < -1.0, "{}", peak(&h[1]));
    }
}
