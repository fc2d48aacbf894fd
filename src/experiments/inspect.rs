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

use crate::data::Mnist;
use crate::engine::hooks;
use crate::engine::spec::InitSource;
use crate::model::{Activation, InitScheme, Mlp, MlpSpec, Widths};
use crate::plot::{self, Panel, Series};

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
    /// Normalized histograms of the hidden layers' activations: `(bin centre, density)`.
    pub activation_histograms: Vec<Vec<(f64, f64)>>,
    /// Normalized histograms of the hidden layers' back-propagated gradients.
    pub gradient_histograms: Vec<Vec<(f64, f64)>>,
    /// ReLU nets whose scheme fixes the weight variance: the predicted activation std per layer
    /// ([`relu_prediction`]); `None` otherwise.
    pub predicted_activation_std: Option<Vec<f64>>,
}

/// The mean-field prediction of a fresh ReLU net's activation std per layer, for a scheme whose
/// weight and bias variances are known in advance ([`InitScheme::weight_variance`],
/// [`InitScheme::bias_variance`]): pre-activation second moments `q_l` by
/// [`crate::meanfield::relu_second_moments`] from the input's mean squared norm, then
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
    let q = crate::meanfield::relu_second_moments(input_second_moment, &layers);
    let last = q.len().saturating_sub(1);
    Some(
        q.iter()
            .enumerate()
            .map(|(k, &v)| {
                if k < last {
                    crate::meanfield::relu_output_std(v)
                } else {
                    v.sqrt()
                }
            })
            .collect(),
    )
}

const BINS: usize = 60;

/// Density histogram of `values` over `[lo, hi]` in `BINS` bins; values outside the range are
/// left out of the bins but still count in the normalisation (so the curves show the share of
/// values in range).
fn histogram(values: &[f32], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let width = (hi - lo) / BINS as f64;
    let mut counts = vec![0usize; BINS];
    for &v in values {
        let x = v as f64;
        if x.is_finite() && x >= lo && x <= hi {
            let b = (((x - lo) / width).floor() as usize).min(BINS - 1);
            counts[b] += 1;
        }
    }
    let n = values.len().max(1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| (lo + (i as f64 + 0.5) * width, c as f64 / n / width))
        .collect()
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
    let mut pre = Vec::with_capacity(n_layers); // z_k: [n, width_k]
    let mut post = Vec::with_capacity(n_layers); // h_k: [n, width_k]
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
    let loss = h.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
    ensure!(
        loss.double_value(&[]).is_finite(),
        "the loss of the fresh {init} network is not finite"
    );
    let mut wanted: Vec<&Tensor> = pre.iter().collect();
    let weights: Vec<&Tensor> = model.layers.iter().map(|l| &l.ws).collect();
    wanted.extend(weights.iter().copied());
    let grads = Tensor::run_backward(&[&loss], &wanted, false, false);
    let (z_grads, w_grads) = grads.split_at(n_layers);

    let std = |t: &Tensor| t.to_kind(Kind::Double).std(true).double_value(&[]);
    let mut distinct = Vec::with_capacity(n_layers);
    for (k, layer) in model.layers.iter().enumerate() {
        // [fan_out, fan_in + 1]: each unit's incoming weights and its bias.
        let params = match &layer.bs {
            Some(b) => Tensor::cat(&[layer.ws.detach(), b.detach().unsqueeze(1)], 1),
            None => layer.ws.detach(),
        };
        // [width, n]: each unit's activations over the batch.
        let acts = post[k].detach().transpose(0, 1);
        distinct.push((
            crate::model::distinct_rows(&params)?,
            crate::model::distinct_rows(&acts)?,
            layer.ws.size()[0] as usize,
        ));
    }
    let layers: Vec<LayerStats> = (0..n_layers)
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
        .collect();

    // Histograms of the hidden layers, on one range per figure so layers compare.
    let hidden = n_layers.saturating_sub(1);
    let acts: Vec<Vec<f32>> = post[..hidden].iter().map(to_vec).collect::<Result<_>>()?;
    let gs: Vec<Vec<f32>> = z_grads[..hidden]
        .iter()
        .map(to_vec)
        .collect::<Result<_>>()?;
    let (a_lo, a_hi) = match model.activation {
        Activation::Tanh | Activation::Softsign => (-1.0, 1.0),
        Activation::Sigmoid => (0.0, 1.0),
        Activation::Relu => {
            let all: Vec<f32> = acts.iter().flatten().copied().collect();
            (0.0, abs_quantile(&all, 0.99))
        }
    };
    let all_g: Vec<f32> = gs.iter().flatten().copied().collect();
    let g = abs_quantile(&all_g, 0.99);
    Ok(Inspection {
        init,
        layers,
        activation_histograms: acts.iter().map(|v| histogram(v, a_lo, a_hi)).collect(),
        gradient_histograms: gs.iter().map(|v| histogram(v, -g, g)).collect(),
        predicted_activation_std: None,
    })
}

/// The source a scheme takes: the configured DBN for `dbn`, nothing for the others.
fn source_for(init: InitScheme, source: &InitSource) -> &InitSource {
    if init == InitScheme::Dbn {
        source
    } else {
        &InitSource::None
    }
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
        .take(crate::lsuv::Lsuv::default().batch_size)
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
        tch::manual_seed(config.seed);
        let spec = MlpSpec {
            bias: Default::default(),
            widths: config.widths.clone(),
            activation: config.activation,
            init,
        };
        let mut model = Mlp::new(&spec)?;
        let hook = hooks::resolve(init, source_for(init, &config.source))?;
        if let Some(hook) = hook {
            hook.initialize(&mut model, &calibration)
                .with_context(|| format!("{} initialization", hook.name()))?;
        }
        let mut ins = inspect_model(&model, init, inputs, labels)?;
        if config.activation == Activation::Relu {
            ins.predicted_activation_std =
                relu_prediction(&config.widths, init, input_second_moment);
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
    std::fs::write(&table, table_markdown(config, &inspections))
        .with_context(|| format!("writing {}", table.display()))?;
    let csv = config.out_dir.join("inspect.csv");
    std::fs::write(&csv, table_csv(&inspections))
        .with_context(|| format!("writing {}", csv.display()))?;
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

fn histogram_figure(ins: &Inspection, config: &InspectConfig, path: &Path) -> Result<()> {
    let layer_series = |hists: &[Vec<(f64, f64)>]| -> Vec<Series> {
        hists
            .iter()
            .enumerate()
            .map(|(k, h)| Series {
                label: format!("layer {}", k + 1),
                points: h.clone(),
                band: Vec::new(),
            })
            .collect()
    };
    let panels = [
        Panel {
            title: "activations (hidden layers)".into(),
            x_desc: format!("{} output", config.activation),
            y_desc: "density".into(),
            series: layer_series(&ins.activation_histograms),
            log_y: false,
            dashed: Vec::new(),
        },
        Panel {
            title: "back-propagated gradients ∂loss/∂z".into(),
            x_desc: "gradient".into(),
            y_desc: "density".into(),
            series: layer_series(&ins.gradient_histograms),
            log_y: false,
            dashed: Vec::new(),
        },
    ];
    plot::panels_chart(
        &panels,
        &format!(
            "{}, {} init, fresh network, one batch",
            arch(config),
            ins.init
        ),
        path,
    )
}

fn depth_figure(all: &[Inspection], config: &InspectConfig, path: &Path) -> Result<()> {
    let by_layer = |f: fn(&LayerStats) -> f64| -> Vec<Series> {
        all.iter()
            .map(|ins| Series {
                label: ins.init.to_string(),
                points: ins.layers.iter().map(|l| (l.layer as f64, f(l))).collect(),
                band: Vec::new(),
            })
            .collect()
    };
    // The prediction of each init with one, in its series' colour (an init without one gets an
    // empty line, so that colours stay matched).
    let predicted: Vec<Series> = all
        .iter()
        .map(|ins| Series {
            band: Vec::new(),
            // No legend entry where nothing can be drawn on a log axis (zeros: all 0).
            label: match &ins.predicted_activation_std {
                Some(p) if p.iter().any(|v| *v > 0.0) => format!("{} predicted", ins.init),
                _ => String::new(),
            },
            points: ins
                .predicted_activation_std
                .iter()
                .flatten()
                .enumerate()
                .map(|(k, &v)| ((k + 1) as f64, v))
                .collect(),
        })
        .collect();
    let has_prediction = predicted.iter().any(|s| !s.points.is_empty());
    let panels = [
        Panel {
            title: if has_prediction {
                "activation std (dashed: fan_in·Var(w)/2 per layer)".into()
            } else {
                "activation std".into()
            },
            x_desc: "layer".into(),
            y_desc: "std (log scale)".into(),
            series: by_layer(|l| l.activation_std),
            log_y: true,
            dashed: if has_prediction {
                predicted
            } else {
                Vec::new()
            },
        },
        Panel {
            title: "gradient std ∂loss/∂z".into(),
            x_desc: "layer".into(),
            y_desc: "std (log scale)".into(),
            series: by_layer(|l| l.gradient_std),
            log_y: true,
            dashed: Vec::new(),
        },
    ];
    plot::panels_chart(
        &panels,
        &format!("{}: signal by depth at initialization", arch(config)),
        path,
    )
}

fn sci(v: f64) -> String {
    crate::pyfmt::scientific(v, 3)
}

/// The per-layer table as markdown.
pub fn table_markdown(config: &InspectConfig, all: &[Inspection]) -> String {
    let mut md = format!("# Fresh {} network on one batch of MNIST\n\n", arch(config));
    let _ = writeln!(md, "| init | layer | pre-activation std | activation mean | activation std | predicted activation std | gradient std ∂L/∂z | weight-gradient std | distinct units (of width) | distinct activations |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ins in all {
        for (k, l) in ins.layers.iter().enumerate() {
            let predicted = ins
                .predicted_activation_std
                .as_ref()
                .and_then(|p| p.get(k))
                .map(|&v| sci(v))
                .unwrap_or("—".into());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} of {} | {} |",
                ins.init,
                l.layer,
                sci(l.pre_activation_std),
                sci(l.activation_mean),
                sci(l.activation_std),
                predicted,
                sci(l.gradient_std),
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
        let _ = writeln!(
            md,
            "\nPredicted (ReLU): each layer multiplies the pre-activations' second moment by \
             fan_in·Var(w)/2 and adds Var(b), from the batch's mean ‖x‖²; the activation std is \
             √(q(1/2 − 1/(2π))) (He et al. 2015, eq. 9)."
        );
    }
    let _ = writeln!(md, "\n![std by depth](depth.png)");
    md
}

/// The per-layer table as CSV.
pub fn table_csv(all: &[Inspection]) -> String {
    let mut out = String::from("init,layer,pre_activation_std,activation_mean,activation_std,predicted_activation_std,gradient_std,weight_gradient_std,width,distinct_units,distinct_activations\n");
    for ins in all {
        for (k, l) in ins.layers.iter().enumerate() {
            let predicted = ins
                .predicted_activation_std
                .as_ref()
                .and_then(|p| p.get(k))
                .map(|v| format!("{v:e}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{:e},{:e},{:e},{},{:e},{:e},{},{},{}",
                ins.init,
                l.layer,
                l.pre_activation_std,
                l.activation_mean,
                l.activation_std,
                predicted,
                l.gradient_std,
                l.weight_gradient_std,
                l.width,
                l.distinct_units,
                l.distinct_activations
            );
        }
    }
    out
}
