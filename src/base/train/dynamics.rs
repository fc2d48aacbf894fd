//! Training dynamics: what each layer does while the net trains, sampled every K steps.
//!
//! On a sampled step the training loop runs the same forward pass layer by layer
//! ([`Mlp::forward_trace`](crate::base::nn::model::Mlp::forward_trace)), asks autograd for ∂loss/∂z of every
//! layer's pre-activation z (a second, partial backward that leaves the parameters' gradients
//! alone), and compares each weight matrix before and after the optimizer's step. Nothing here
//! draws random numbers or changes a tensor the training uses, so a monitored run computes exactly
//! what an unmonitored one does (tested bit for bit).
//!
//! Per layer ℓ (the statistics learners are shown in Karpathy's "makemore part 3" and fast.ai's
//! hooks lessons):
//!
//! - mean and std of the pre-activations z = W·h + b and of the activations a = f(z);
//! - the share of saturated units: tanh and softsign |a| > 0.97, sigmoid a < 0.03 or a > 0.97;
//!   for ReLU the share of *dead* units, those that output 0 for every example of the batch;
//! - std(∂loss/∂z);
//! - std(∂loss/∂W) / std(W), the gradient-to-data ratio;
//! - log10(std(ΔW) / std(W)) with ΔW the optimizer's actual update (learning rate included),
//!   the update-to-data ratio; about −3 (an update moves the weights by a thousandth) is the usual
//!   guide;
//! - how many distinct units the layer has on the batch (units computing the same function are
//!   one unit: a symmetric init never breaks this);
//! - a histogram of the activations ([`HistAxis`]), drawn over time as a heatmap.
//!
//! The output layer has no activation: its rows give z (the logits), ∂loss/∂z and the weight
//! ratios only.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use tch::{Kind, Tensor};

use crate::base::nn::{model, scheme::Activation};
use crate::base::output::chart::grid::{grid_chart, Cell};
use crate::base::output::chart::heatmap::{edges_around, Heatmap};
use crate::base::output::chart::panel::{share_y, Panel};
use crate::base::output::chart::series::Series;

/// Steps between two samples when the user does not choose (`--monitor-every`): every 50th step,
/// the first included. Measured with `make bench` to cost under 5 % of an epoch (see book/en/src/speed.md).
pub const DEFAULT_EVERY: usize = 50;

/// Bins of each activation histogram.
pub const BINS: usize = 40;

/// Saturation threshold of tanh and softsign (|a| > 0.97) and its mirror for sigmoid (a < 0.03 or
/// a > 0.97).
pub const SATURATED: f64 = 0.97;

/// The axis an activation's histogram is taken on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HistAxis {
    /// The value itself, `BINS` equal bins over `[lo, hi]` (tanh, softsign: [−1, 1]; sigmoid:
    /// [0, 1]).
    Linear {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// log10 of the nonzero values, `BINS` equal bins over `[lo, hi]` (ReLU: 10⁻⁴ … 10³). Zeros are
    /// not counted (the dead and inactive units), so a row sums to the share of positive outputs.
    Log10 {
        /// Lower end (a power of ten).
        lo: f64,
        /// Upper end.
        hi: f64,
    },
}

impl HistAxis {
    /// The axis used for `activation`.
    pub fn of(activation: Activation) -> Self {
        match activation {
            Activation::Relu => HistAxis::Log10 { lo: -4.0, hi: 3.0 },
            Activation::Sigmoid => HistAxis::Linear { lo: 0.0, hi: 1.0 },
            Activation::Tanh | Activation::Softsign => HistAxis::Linear { lo: -1.0, hi: 1.0 },
        }
    }

    /// `(lo, hi)`.
    pub fn range(self) -> (f64, f64) {
        match self {
            HistAxis::Linear { lo, hi } | HistAxis::Log10 { lo, hi } => (lo, hi),
        }
    }

    /// The name used in file headers: `a` or `log10a`.
    pub fn name(self) -> &'static str {
        match self {
            HistAxis::Linear { .. } => "a",
            HistAxis::Log10 { .. } => "log10a",
        }
    }

    /// The centre of each bin, on the axis.
    pub fn centres(self) -> Vec<f64> {
        let (lo, hi) = self.range();
        let w = (hi - lo) / BINS as f64;
        (0..BINS).map(|i| lo + w * (i as f64 + 0.5)).collect()
    }

    /// The bin edges, on the axis (`BINS + 1` values).
    pub fn edges(self) -> Vec<f64> {
        let (lo, hi) = self.range();
        let w = (hi - lo) / BINS as f64;
        (0..=BINS).map(|i| lo + w * i as f64).collect()
    }

    /// Share of the elements of `a` in each bin (values outside the range count in the end bins).
    pub fn histogram(self, a: &Tensor) -> Result<Vec<f64>> {
        let n = a.numel();
        if n == 0 {
            return Ok(vec![0.0; BINS]);
        }
        let (lo, hi) = self.range();
        let flat = a.detach().to_kind(Kind::Double).reshape([-1]);
        let x = match self {
            HistAxis::Linear { .. } => flat,
            HistAxis::Log10 { .. } => {
                let positive = flat.masked_select(&flat.gt(0.0));
                positive.log10()
            }
        };
        if x.numel() == 0 {
            return Ok(vec![0.0; BINS]);
        }
        let idx = ((x - lo) * (BINS as f64 / (hi - lo)))
            .floor()
            .nan_to_num(0.0, None, None)
            .clamp(0.0, (BINS - 1) as f64)
            .to_kind(Kind::Int64);
        let counts = idx.bincount::<Tensor>(None, BINS as i64);
        let counts =
            Vec::<f64>::try_from(counts.to_kind(Kind::Double)).context("reading a histogram")?;
        Ok(counts.into_iter().map(|c| c / n as f64).collect())
    }
}

/// The name of the saturation column for `activation`: `dead` for ReLU, `saturated` otherwise.
pub fn saturation_name(activation: Activation) -> &'static str {
    match activation {
        Activation::Relu => "dead",
        _ => "saturated",
    }
}

/// The share of saturated units in `a` (`[batch, width]`), or for ReLU the share of units that are
/// zero on every row.
pub fn saturated_share(activation: Activation, a: &Tensor) -> f64 {
    if a.numel() == 0 {
        return 0.0;
    }
    let share = match activation {
        Activation::Relu => a.amax([0].as_slice(), false).le(0.0),
        Activation::Sigmoid => a.lt(1.0 - SATURATED).logical_or(&a.gt(SATURATED)),
        Activation::Tanh | Activation::Softsign => a.abs().gt(SATURATED),
    };
    share
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[])
}

/// What a hidden layer's activations did on the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ActStats {
    /// Mean of a.
    pub mean: f64,
    /// Standard deviation of a (unbiased, like `Tensor.std()`).
    pub std: f64,
    /// [`saturated_share`].
    pub saturated: f64,
    /// Distinct units on the batch.
    pub distinct: f64,
    /// [`HistAxis::histogram`], `BINS` shares.
    pub hist: Vec<f64>,
}

/// One layer at one sampled step.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStats {
    /// Mean of z.
    pub z_mean: f64,
    /// Standard deviation of z.
    pub z_std: f64,
    /// The activations (hidden layers only).
    pub act: Option<ActStats>,
    /// std(∂loss/∂z).
    pub grad_z_std: f64,
    /// std(∂loss/∂W) / std(W).
    pub grad_data: f64,
    /// log10(std(ΔW) / std(W)).
    pub update_log10: f64,
}

/// One sampled step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    /// 1-based step over the whole run.
    pub step: i64,
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based batch within the epoch.
    pub batch: i64,
    /// The batch's loss (before the step).
    pub loss: f64,
    /// Every linear layer, input first.
    pub layers: Vec<LayerStats>,
}

/// The dynamics of one run: which net, how often, and the samples so far.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicsLog {
    /// The nonlinearity between layers.
    pub activation: Activation,
    /// Number of linear layers (hidden layers + 1).
    pub layers: usize,
    /// Steps between two samples.
    pub every: usize,
    /// Batches per epoch (to place a step on an epoch axis).
    pub batches_per_epoch: i64,
    /// The samples, in step order.
    pub records: Vec<StepRecord>,
}

/// Columns before the per-layer ones.
const LEAD: [&str; 5] = ["step", "epoch", "batch", "progress", "loss"];

impl DynamicsLog {
    /// An empty log for a net of `layers` linear layers, `batches_per_epoch` steps an epoch.
    pub fn new(
        activation: Activation,
        layers: usize,
        every: usize,
        batches_per_epoch: i64,
    ) -> Self {
        DynamicsLog {
            activation,
            layers,
            every,
            batches_per_epoch,
            records: Vec::new(),
        }
    }

    /// Where a record lies in epochs from the start of training: step 1 at 0, the last step of
    /// epoch 1 just before 1.
    pub fn epoch_position(&self, rec: &StepRecord) -> f64 {
        let per = self.batches_per_epoch.max(1) as f64;
        (rec.epoch as f64 - 1.0) + (rec.batch as f64 - 1.0) / per
    }

    /// Whether 1-based `step` is sampled (steps 1, 1 + every, 1 + 2·every, …).
    pub fn due(&self, step: i64) -> bool {
        self.every > 0 && step >= 1 && (step - 1) % self.every as i64 == 0
    }

    /// The histogram axis.
    pub fn axis(&self) -> HistAxis {
        HistAxis::of(self.activation)
    }

    /// The scalar columns of `dynamics.csv`, in order: `step,epoch,batch,progress,loss`
    /// (`progress`: epochs of training done before the step, fractional — the x axis of the
    /// charts), then for each
    /// layer `linearℓ.z_mean`, `linearℓ.z_std`, (hidden layers) `linearℓ.a_mean`, `linearℓ.a_std`,
    /// `linearℓ.saturated` or `linearℓ.dead`, `linearℓ.distinct`, then `linearℓ.grad_z_std`,
    /// `linearℓ.grad_data`, `linearℓ.update_log10`.
    pub fn columns(&self) -> Vec<String> {
        let mut c: Vec<String> = LEAD.iter().map(|s| s.to_string()).collect();
        for l in 0..self.layers {
            let p = format!("linear{}", l + 1);
            c.push(format!("{p}.z_mean"));
            c.push(format!("{p}.z_std"));
            if l + 1 < self.layers {
                c.push(format!("{p}.a_mean"));
                c.push(format!("{p}.a_std"));
                c.push(format!("{p}.{}", saturation_name(self.activation)));
                c.push(format!("{p}.distinct"));
            }
            c.push(format!("{p}.grad_z_std"));
            c.push(format!("{p}.grad_data"));
            c.push(format!("{p}.update_log10"));
        }
        c
    }

    /// A record's values in [`columns`](Self::columns) order.
    pub fn values(&self, rec: &StepRecord) -> Vec<f64> {
        let mut v = vec![
            rec.step as f64,
            rec.epoch as f64,
            rec.batch as f64,
            self.epoch_position(rec),
            rec.loss,
        ];
        for l in &rec.layers {
            v.push(l.z_mean);
            v.push(l.z_std);
            if let Some(a) = &l.act {
                v.extend([a.mean, a.std, a.saturated, a.distinct]);
            }
            v.extend([l.grad_z_std, l.grad_data, l.update_log10]);
        }
        v
    }

    /// A record from its values (in [`columns`](Self::columns) order) and the hidden layers'
    /// histograms (`(layers − 1) · BINS` shares).
    pub fn record_from(&self, values: &[f64], hist: &[f64]) -> Result<StepRecord> {
        let want = self.columns().len();
        ensure!(
            values.len() == want,
            "a dynamics row has {} values, the net needs {want}",
            values.len()
        );
        let hidden = self.layers.saturating_sub(1);
        ensure!(
            hist.len() == hidden * BINS,
            "a dynamics histogram row has {} values, the net needs {}",
            hist.len(),
            hidden * BINS
        );
        let whole = |x: f64, what: &str| -> Result<i64> {
            ensure!(
                x.is_finite() && x.fract() == 0.0 && x >= 1.0,
                "{what} {x} is not a positive whole number"
            );
            Ok(x as i64)
        };
        let mut it = values.iter().copied();
        let mut next = || it.next().unwrap_or(f64::NAN);
        let step = whole(next(), "step")?;
        let epoch = whole(next(), "epoch")? as usize;
        let batch = whole(next(), "batch")?;
        // The progress column follows from the others (see `epoch_position`).
        let _progress = next();
        let loss = next();
        let mut layers = Vec::with_capacity(self.layers);
        for l in 0..self.layers {
            let (z_mean, z_std) = (next(), next());
            let act = if l + 1 < self.layers {
                let (mean, std, saturated, distinct) = (next(), next(), next(), next());
                Some(ActStats {
                    mean,
                    std,
                    saturated,
                    distinct,
                    hist: hist[l * BINS..(l + 1) * BINS].to_vec(),
                })
            } else {
                None
            };
            let (grad_z_std, grad_data, update_log10) = (next(), next(), next());
            layers.push(LayerStats {
                z_mean,
                z_std,
                act,
                grad_z_std,
                grad_data,
                update_log10,
            });
        }
        Ok(StepRecord {
            step,
            epoch,
            batch,
            loss,
            layers,
        })
    }

    /// The hidden layers' histograms of a record, concatenated.
    pub fn hist_values(rec: &StepRecord) -> Vec<f64> {
        rec.layers
            .iter()
            .filter_map(|l| l.act.as_ref())
            .flat_map(|a| a.hist.iter().copied())
            .collect()
    }

    /// The records as two `f64` tensors for a checkpoint: `[records, columns]` and
    /// `[records, (layers − 1) · BINS]`.
    pub fn to_tensors(&self) -> (Tensor, Tensor) {
        let cols = self.columns().len() as i64;
        let hcols = (self.layers.saturating_sub(1) * BINS) as i64;
        let n = self.records.len() as i64;
        let v: Vec<f64> = self.records.iter().flat_map(|r| self.values(r)).collect();
        let h: Vec<f64> = self.records.iter().flat_map(Self::hist_values).collect();
        (
            Tensor::from_slice(&v).reshape([n, cols]),
            Tensor::from_slice(&h).reshape([n, hcols]),
        )
    }

    /// Fills the records from [`to_tensors`](Self::to_tensors)' output.
    pub fn set_from_tensors(&mut self, values: &Tensor, hist: &Tensor) -> Result<()> {
        let cols = self.columns().len() as i64;
        let hcols = (self.layers.saturating_sub(1) * BINS) as i64;
        let (vs, hs) = (values.size(), hist.size());
        ensure!(
            vs.len() == 2 && hs.len() == 2 && vs[1] == cols && hs[1] == hcols && vs[0] == hs[0],
            "the dynamics tensors have shapes {vs:?} and {hs:?}, the net needs [n, {cols}] and [n, {hcols}]"
        );
        let v = Vec::<f64>::try_from(values.to_kind(Kind::Double).contiguous().reshape([-1]))?;
        let h = Vec::<f64>::try_from(hist.to_kind(Kind::Double).contiguous().reshape([-1]))?;
        let mut records = Vec::with_capacity(vs[0] as usize);
        for i in 0..vs[0] as usize {
            let (c, hc) = (cols as usize, hcols as usize);
            records.push(self.record_from(&v[i * c..(i + 1) * c], &h[i * hc..(i + 1) * hc])?);
        }
        self.records = records;
        Ok(())
    }

    /// `dynamics.csv`: a header ([`columns`](Self::columns)) and one row per sample. Values are
    /// written so that they read back to the same bits.
    pub fn csv(&self) -> String {
        let mut s = self.columns().join(",");
        s.push('\n');
        for r in &self.records {
            let row: Vec<String> = self.values(r).iter().map(|v| fmt_value(*v)).collect();
            s.push_str(&row.join(","));
            s.push('\n');
        }
        s
    }

    /// `dynamics-histograms.csv`: `step,layer,` then one column per bin named `axis@centre`
    /// (`a@-0.975`, `log10a@-3.925`); one row per (sample, hidden layer), each bin the share of the
    /// batch's activations in it.
    pub fn histograms_csv(&self) -> String {
        let axis = self.axis();
        let mut s = String::from("step,layer");
        for c in axis.centres() {
            s.push_str(&format!(",{}@{}", axis.name(), fmt_value(round6(c))));
        }
        s.push('\n');
        for r in &self.records {
            for (l, layer) in r.layers.iter().enumerate() {
                if let Some(a) = &layer.act {
                    s.push_str(&format!("{},linear{}", r.step, l + 1));
                    for v in &a.hist {
                        s.push(',');
                        s.push_str(&fmt_value(*v));
                    }
                    s.push('\n');
                }
            }
        }
        s
    }

    /// Reads the two files written by [`csv`](Self::csv) and
    /// [`histograms_csv`](Self::histograms_csv) for this net (`self`'s records are replaced).
    /// Errors say which line and column is wrong.
    pub fn parse(&mut self, csv: &str, histograms: &str) -> Result<()> {
        let columns = self.columns();
        let mut lines = csv.lines();
        let header = lines.next().context("dynamics.csv is empty")?;
        check_header(header, &columns, "dynamics.csv")?;
        let rows: Vec<Vec<f64>> = lines
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .map(|(i, l)| parse_row(l, columns.len(), i + 2, "dynamics.csv"))
            .collect::<Result<_>>()?;
        let axis = self.axis();
        let mut hcols = vec!["step".to_string(), "layer".to_string()];
        hcols.extend(
            axis.centres()
                .into_iter()
                .map(|c| format!("{}@{}", axis.name(), fmt_value(round6(c)))),
        );
        let mut hlines = histograms.lines();
        let hheader = hlines.next().context("dynamics-histograms.csv is empty")?;
        check_header(hheader, &hcols, "dynamics-histograms.csv")?;
        let hidden = self.layers.saturating_sub(1);
        let hrows: Vec<(usize, &str)> = hlines
            .enumerate()
            .filter(|(_, l)| !l.is_empty())
            .map(|(i, l)| (i + 2, l))
            .collect();
        ensure!(
            hrows.len() == rows.len() * hidden,
            "dynamics-histograms.csv has {} rows, {} samples of {hidden} hidden layers need {}",
            hrows.len(),
            rows.len(),
            rows.len() * hidden
        );
        let mut records = Vec::with_capacity(rows.len());
        for (k, values) in rows.iter().enumerate() {
            let mut hist = Vec::with_capacity(hidden * BINS);
            for l in 0..hidden {
                let (line_no, line) = hrows[k * hidden + l];
                let mut cells = line.splitn(3, ',');
                let step = cells.next().unwrap_or("");
                let layer = cells.next().unwrap_or("");
                let want_layer = format!("linear{}", l + 1);
                ensure!(
                    step.parse::<f64>().ok() == Some(values[0]) && layer == want_layer,
                    "dynamics-histograms.csv line {line_no}: expected step {} {want_layer}, found {step:?} {layer:?}",
                    values[0]
                );
                let rest = cells.next().unwrap_or("");
                hist.extend(parse_row(rest, BINS, line_no, "dynamics-histograms.csv")?);
            }
            records.push(
                self.record_from(values, &hist)
                    .with_context(|| format!("dynamics.csv line {}", k + 2))?,
            );
        }
        ensure!(
            records.windows(2).all(|w| w[0].step < w[1].step),
            "dynamics.csv: the steps are not increasing"
        );
        // Batches per epoch, from a record past the first epoch, else from the progress column
        // of a record past the first batch.
        let from_progress = rows.iter().zip(&records).find_map(|(v, r)| {
            let frac = v[3] - (r.epoch as f64 - 1.0);
            (r.batch > 1 && frac > 0.0).then(|| ((r.batch - 1) as f64 / frac).round() as i64)
        });
        self.batches_per_epoch = records
            .iter()
            .find(|r| r.epoch > 1)
            .map(|r| (r.step - r.batch) / (r.epoch as i64 - 1))
            .or(from_progress)
            .filter(|&b| b >= 1)
            .unwrap_or(self.batches_per_epoch);
        self.records = records;
        Ok(())
    }

    /// Drops the records after `step` (a run resumed from a checkpoint at that step).
    pub fn truncate_after(&mut self, step: i64) {
        self.records.retain(|r| r.step <= step);
    }
}

/// Shortest text that reads back to the same `f64` (`NaN`, `inf`, `-inf` for the rest).
fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v}")
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn check_header(header: &str, columns: &[String], file: &str) -> Result<()> {
    let found: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
    for (i, want) in columns.iter().enumerate() {
        match found.get(i) {
            Some(f) if f == want => {}
            Some(f) => bail!(
                "{file}: column {} of the header is {f:?}, this run's net has {want:?} there",
                i + 1
            ),
            None => bail!(
                "{file}: the header has {} columns, this run's net has {}",
                found.len(),
                columns.len()
            ),
        }
    }
    ensure!(
        found.len() == columns.len(),
        "{file}: the header has {} columns, this run's net has {}",
        found.len(),
        columns.len()
    );
    Ok(())
}

fn parse_row(line: &str, n: usize, line_no: usize, file: &str) -> Result<Vec<f64>> {
    let cells: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
    ensure!(
        cells.len() == n,
        "{file} line {line_no}: {} values, expected {n}",
        cells.len()
    );
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.parse::<f64>().map_err(|_| {
                anyhow::anyhow!(
                    "{file} line {line_no}, column {}: {c:?} is not a number",
                    i + 1
                )
            })
        })
        .collect()
}

/// Unbiased standard deviation of a tensor as `f64` (NaN for fewer than two elements).
fn std_of(t: &Tensor) -> f64 {
    if t.numel() < 2 {
        return f64::NAN;
    }
    t.detach().to_kind(Kind::Double).std(true).double_value(&[])
}

fn mean_of(t: &Tensor) -> f64 {
    t.detach()
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[])
}

/// What the training loop hands over on a sampled step.
pub struct StepTrace<'a> {
    /// 1-based step, epoch and batch.
    pub step: i64,
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based batch.
    pub batch: i64,
    /// The batch's loss.
    pub loss: f64,
    /// Pre-activations per layer, `[batch, width]`.
    pub zs: &'a [Tensor],
    /// Activations per hidden layer, `[batch, width]`.
    pub acts: &'a [Tensor],
    /// ∂loss/∂z per layer.
    pub grad_zs: &'a [Tensor],
    /// Weight gradients per layer (after backward).
    pub grad_ws: &'a [Tensor],
    /// Weights per layer before the step.
    pub before: &'a [Tensor],
    /// Weights per layer after the step.
    pub after: &'a [Tensor],
}

/// The statistics of one sampled step.
pub fn measure(activation: Activation, t: &StepTrace) -> Result<StepRecord> {
    let axis = HistAxis::of(activation);
    let mut layers = Vec::with_capacity(t.zs.len());
    for (l, z) in t.zs.iter().enumerate() {
        let act = match t.acts.get(l) {
            Some(a) => Some(ActStats {
                mean: mean_of(a),
                std: std_of(a),
                saturated: saturated_share(activation, a),
                distinct: model::distinct_rows(&a.detach().transpose(0, 1))? as f64,
                hist: axis.histogram(a)?,
            }),
            None => None,
        };
        let w_std = std_of(&t.before[l]);
        let update = &t.after[l] - &t.before[l];
        layers.push(LayerStats {
            z_mean: mean_of(z),
            z_std: std_of(z),
            act,
            grad_z_std: std_of(&t.grad_zs[l]),
            grad_data: std_of(&t.grad_ws[l]) / w_std,
            update_log10: (std_of(&update) / w_std).log10(),
        });
    }
    Ok(StepRecord {
        step: t.step,
        epoch: t.epoch,
        batch: t.batch,
        loss: t.loss,
        layers,
    })
}

/// Up to `max` of the `hidden` layers (0-based), evenly spaced, first and last included.
pub fn shown_layers(hidden: usize, max: usize) -> Vec<usize> {
    if hidden <= max {
        return (0..hidden).collect();
    }
    if max < 2 {
        return (0..max).collect();
    }
    let mut v: Vec<usize> = (0..max)
        .map(|k| ((k * (hidden - 1)) as f64 / (max - 1) as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

fn finite(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points
        .into_iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect()
}

fn series(label: String, points: Vec<(f64, f64)>) -> Series {
    Series {
        label,
        points: finite(points),
        band: Vec::new(),
    }
}

/// The three line panels: update:data per layer with the 10⁻³ guide, activation std and
/// saturation (or dead share) per hidden layer, over epochs.
fn line_panels(log: &DynamicsLog, caption: &str) -> [Panel; 3] {
    let x = |r: &StepRecord| log.epoch_position(r);
    let mut update: Vec<Series> = (0..log.layers)
        .map(|l| {
            series(
                format!("linear{}", l + 1),
                log.records
                    .iter()
                    .map(|r| (x(r), r.layers[l].update_log10))
                    .collect(),
            )
        })
        .collect();
    let (x0, x1) = log
        .records
        .iter()
        .map(x)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if x0.is_finite() {
        update.push(series(
            "10⁻³ guide".into(),
            vec![(x0, -3.0), (x1.max(x0 + 1e-9), -3.0)],
        ));
    }
    let hidden = log.layers.saturating_sub(1);
    let per_hidden = |f: &dyn Fn(&ActStats) -> f64| -> Vec<Series> {
        (0..hidden)
            .map(|l| {
                series(
                    format!("linear{}", l + 1),
                    log.records
                        .iter()
                        .filter_map(|r| r.layers[l].act.as_ref().map(|a| (x(r), f(a))))
                        .collect(),
                )
            })
            .collect()
    };
    let sat = saturation_name(log.activation);
    let sat_desc = if sat == "dead" {
        "dead units (zero on the whole batch), %".to_string()
    } else {
        "saturated units, %".to_string()
    };
    [
        Panel {
            title: format!("{caption}update:data, log10 std(ΔW)/std(W)"),
            x_desc: "epoch".into(),
            y_desc: "log10 ratio".into(),
            series: update,
            log_y: false,
            dashed: Vec::new(),
            ..Default::default()
        },
        Panel {
            title: format!("{caption}activation std per layer"),
            x_desc: "epoch".into(),
            y_desc: "std(a)".into(),
            series: per_hidden(&|a| a.std),
            log_y: true,
            dashed: Vec::new(),
            ..Default::default()
        },
        Panel {
            title: format!("{caption}{sat} share per layer"),
            x_desc: "epoch".into(),
            y_desc: sat_desc,
            series: per_hidden(&|a| 100.0 * a.saturated),
            log_y: false,
            dashed: Vec::new(),
            ..Default::default()
        },
    ]
}

/// Lowest share the histogram heatmaps show (10⁻⁵); emptier bins get its colour.
const HEAT_FLOOR: f64 = -5.0;

/// Hidden layer `l`'s activation histogram over time: x the epoch, y the histogram axis, colour
/// log10 of the share of the batch's activations in the bin.
fn heat(log: &DynamicsLog, l: usize, caption: &str) -> Option<Heatmap> {
    let recs: Vec<&StepRecord> = log
        .records
        .iter()
        .filter(|r| r.layers.get(l).is_some_and(|x| x.act.is_some()))
        .collect();
    if recs.is_empty() {
        return None;
    }
    let xs: Vec<f64> = recs.iter().map(|r| log.epoch_position(r)).collect();
    let axis = log.axis();
    let values = (0..BINS)
        .map(|b| {
            recs.iter()
                .map(|r| {
                    let share = r.layers[l].act.as_ref().map_or(0.0, |a| a.hist[b]);
                    if share > 0.0 {
                        share.log10().max(HEAT_FLOOR)
                    } else {
                        HEAT_FLOOR
                    }
                })
                .collect()
        })
        .collect();
    let y_desc = match axis {
        HistAxis::Linear { .. } => "activation a",
        HistAxis::Log10 { .. } => "log10 a (a > 0)",
    };
    Some(Heatmap {
        title: format!("{caption}linear{} activations over time", l + 1),
        x_desc: "epoch".into(),
        y_desc: y_desc.into(),
        value_desc: "log10 share".into(),
        x_edges: edges_around(&xs),
        y_edges: axis.edges(),
        values,
        range: (HEAT_FLOOR, 0.0),
        annotate: None,
        lines: Vec::new(),
    })
}

/// `dynamics.png` of one run: the three line panels on top, the histograms over time of up to
/// four hidden layers below. `first_loss` (the first batch's loss) goes in the title beside
/// ln 10, a uniform guess's loss.
pub fn chart(log: &DynamicsLog, title: &str, first_loss: Option<f64>, path: &Path) -> Result<()> {
    ensure!(
        !log.records.is_empty(),
        "no training dynamics were sampled (monitoring was off)"
    );
    let mut rows = vec![line_panels(log, "")
        .into_iter()
        .map(Cell::Lines)
        .collect::<Vec<_>>()];
    let heats: Vec<Cell> = shown_layers(log.layers.saturating_sub(1), 4)
        .into_iter()
        .filter_map(|l| heat(log, l, "").map(Cell::Heat))
        .collect();
    if !heats.is_empty() {
        rows.push(heats);
    }
    let title = match first_loss {
        Some(f) => format!(
            "{title} — first-batch loss {f:.3} (uniform guess: ln 10 = {:.3})",
            std::f64::consts::LN_10
        ),
        None => title.to_string(),
    };
    grid_chart(&rows, &title, (700, 480), path)
}

/// Several runs side by side, one column each: update:data, activation std, saturation and the
/// last hidden layer's histogram over time.
pub fn compare_chart(runs: &[(String, DynamicsLog)], title: &str, path: &Path) -> Result<()> {
    ensure!(!runs.is_empty(), "no runs to draw");
    let mut rows: Vec<Vec<Cell>> = vec![Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for (name, log) in runs {
        ensure!(
            !log.records.is_empty(),
            "run {name}: no training dynamics were sampled (monitoring was off)"
        );
        let caption = format!("{name}: ");
        for (k, p) in line_panels(log, &caption).into_iter().enumerate() {
            rows[k].push(Cell::Lines(p));
        }
        let last = log.layers.saturating_sub(2);
        match heat(log, last, &caption) {
            Some(h) => rows[3].push(Cell::Heat(h)),
            None => rows.truncate(3),
        }
    }
    rows.retain(|r| r.len() == runs.len());
    // Side by side, a row's panels share one y range: equal heights are equal values.
    for row in &mut rows {
        share_y(row.iter_mut().filter_map(|c| match c {
            Cell::Lines(p) => Some(p),
            Cell::Heat(_) => None,
        }));
    }
    grid_chart(&rows, title, (700, 420), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log() -> DynamicsLog {
        let mut d = DynamicsLog::new(Activation::Tanh, 3, 10, 600);
        for k in 0..3 {
            let layers = (0..3)
                .map(|l| LayerStats {
                    z_mean: 0.1 * k as f64 + l as f64,
                    z_std: 1.0 / 3.0,
                    act: (l < 2).then(|| ActStats {
                        mean: -0.0,
                        std: 0.7,
                        saturated: 0.03,
                        distinct: 512.0,
                        hist: (0..BINS).map(|b| b as f64 / 7.0).collect(),
                    }),
                    grad_z_std: 1e-7,
                    grad_data: f64::NAN,
                    update_log10: -3.25,
                })
                .collect();
            d.records.push(StepRecord {
                step: 1 + 10 * k,
                epoch: 1,
                batch: 1 + 10 * k,
                loss: std::f64::consts::LN_10,
                layers,
            });
        }
        d
    }

    #[test]
    fn shown_layers_spread() {
        assert_eq!(shown_layers(2, 4), vec![0, 1]);
        assert_eq!(shown_layers(4, 4), vec![0, 1, 2, 3]);
        assert_eq!(shown_layers(29, 4), vec![0, 9, 19, 28]);
        assert_eq!(shown_layers(0, 4), Vec::<usize>::new());
    }

    #[test]
    fn sampled_steps() {
        let d = DynamicsLog::new(Activation::Relu, 2, 50, 600);
        let due: Vec<i64> = (1..=120).filter(|&s| d.due(s)).collect();
        assert_eq!(due, vec![1, 51, 101]);
        assert!(!DynamicsLog::new(Activation::Relu, 2, 0, 600).due(1));
    }

    #[test]
    fn columns_name_layers_and_update_ratio() {
        let d = DynamicsLog::new(Activation::Relu, 3, 50, 600);
        let c = d.columns();
        assert_eq!(&c[..5], &["step", "epoch", "batch", "progress", "loss"]);
        assert!(c.contains(&"linear1.dead".to_string()));
        assert!(c.contains(&"linear3.update_log10".to_string()));
        // The output layer has no activation columns.
        assert!(!c.iter().any(|s| s.starts_with("linear3.a_")));
        assert_eq!(c.len(), 5 + 2 * 9 + 5);
        let t = DynamicsLog::new(Activation::Sigmoid, 2, 50, 600).columns();
        assert!(t.contains(&"linear1.saturated".to_string()));
    }

    #[test]
    fn csv_and_tensors_round_trip_exactly() {
        let d = log();
        let mut back = DynamicsLog::new(Activation::Tanh, 3, 10, 600);
        back.parse(&d.csv(), &d.histograms_csv()).unwrap();
        // NaN != NaN: compare bits.
        let bits = |x: &DynamicsLog| -> Vec<u64> {
            x.records
                .iter()
                .flat_map(|r| x.values(r).into_iter().chain(DynamicsLog::hist_values(r)))
                .map(f64::to_bits)
                .collect()
        };
        assert_eq!(bits(&back), bits(&d));
        let (v, h) = d.to_tensors();
        let mut t = DynamicsLog::new(Activation::Tanh, 3, 10, 600);
        t.set_from_tensors(&v, &h).unwrap();
        assert_eq!(bits(&t), bits(&d));
    }

    #[test]
    fn parse_names_what_is_wrong() {
        let d = log();
        let mut relu = DynamicsLog::new(Activation::Relu, 3, 10, 600);
        let e = relu.parse(&d.csv(), &d.histograms_csv()).unwrap_err();
        assert!(e.to_string().contains("linear1.dead"), "{e}");
        let bad = d.csv().replacen("0.7", "zero point seven", 1);
        let e = log().parse(&bad, &d.histograms_csv()).unwrap_err();
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        let short: String = d
            .histograms_csv()
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n");
        let e = log().parse(&d.csv(), &short).unwrap_err();
        assert!(e.to_string().contains("rows"), "{e}");
    }

    #[test]
    fn histogram_shares_and_saturation() {
        let a = Tensor::from_slice(&[-1.0f32, -0.99, 0.0, 0.5, 0.98, 0.2]).reshape([2, 3]);
        let h = HistAxis::of(Activation::Tanh).histogram(&a).unwrap();
        assert_eq!(h.len(), BINS);
        assert!((h.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // −1 and −0.99 land in the first bin (−1 … −0.95).
        assert!((h[0] - 2.0 / 6.0).abs() < 1e-12);
        assert!((saturated_share(Activation::Tanh, &a) - 3.0 / 6.0).abs() < 1e-12);
        // ReLU: a unit is dead when it is zero on every row; histogram of log10 of positives.
        let r = Tensor::from_slice(&[0.0f32, 1.0, 0.0, 0.0, 10.0, 0.001]).reshape([2, 3]);
        assert!((saturated_share(Activation::Relu, &r) - 1.0 / 3.0).abs() < 1e-12);
        let h = HistAxis::of(Activation::Relu).histogram(&r).unwrap();
        assert!((h.iter().sum::<f64>() - 3.0 / 6.0).abs() < 1e-12);
        let s = Tensor::from_slice(&[0.01f32, 0.5, 0.99, 0.6]).reshape([1, 4]);
        assert!((saturated_share(Activation::Sigmoid, &s) - 0.5).abs() < 1e-12);
    }
}
