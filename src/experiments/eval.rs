//! A saved run, evaluated and queried: test loss and accuracy (the numbers training recorded),
//! per-class accuracy and the confusion matrix, and single-image predictions — a test image
//! picked by index, as the notebooks' last cell does with `mnist_test[r]`, or a picture
//! ([`crate::experiments::picture`]).
//!
//! Inputs are scaled to [0, 1] like the training inputs (`ToTensor()`); the notebooks' last cell
//! fed raw 0–255 pixels instead (a quirk the examples keep, not these commands).
//!
//! Everything here returns data; the pictures are written with [`crate::base::output::chart::canvas::render_png_atomic`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Serialize;
use tch::nn::Module;
use tch::{Kind, Tensor};

use crate::base::data::drawing::Preparation;
use crate::base::data::mnist::Split;
use crate::base::nn::{
    model::{Mlp, MlpSpec},
    scheme::InitScheme,
};
use crate::base::output::chart::canvas::render_png_atomic;
use crate::base::output::io::SafeTensors;
use crate::base::train;
use crate::engine::rundir::MODEL_FILE;
use crate::engine::runs;

/// Side of MNIST's square images, which `predict` takes pixel for pixel (28).
pub const DIGIT_SIDE: u32 = 28;

/// A run directory read back: its model with the trained weights.
#[derive(Debug)]
pub struct TrainedRun {
    /// The run directory.
    pub dir: PathBuf,
    /// The run's name.
    pub name: String,
    /// Widths, activation and init of the model.
    pub spec: MlpSpec,
    /// The model, holding the weights of `model.safetensors`.
    pub model: Mlp,
    /// The data directory the run was trained on.
    pub data_dir: PathBuf,
}

/// Reads a run directory: the model's spec from the run's settings ([`runs::load_run`]), then
/// `model.safetensors` with the strict bounded reader ([`SafeTensors::read`]). Every tensor's name
/// and shape is checked against the model built from the spec — none missing, none extra, f32 —
/// and copied into its variable under `no_grad`. Errors name the directory or file and what is
/// wrong with it.
///
/// Building the model draws from tch's global generator (its values are then overwritten).
pub fn load_trained(dir: &Path) -> Result<TrainedRun> {
    let settings = check_run_dir(dir)?;
    let saved =
        runs::load_run(dir).with_context(|| format!("reading run directory {}", dir.display()))?;
    ensure!(
        dir.join(MODEL_FILE).is_file(),
        "{} holds no trained weights ({}): its run is {}{}",
        dir.display(),
        MODEL_FILE,
        saved.record.status.name(),
        if saved.record.status.is_final() {
            ""
        } else {
            " (resume it to the end first)"
        }
    );
    let spec = saved.record.spec.model.clone();
    // The weights are overwritten below, so the cheapest per-weight init will do.
    let shape_only = MlpSpec {
        bias: Default::default(),
        init: InitScheme::TorchDefault,
        ..spec.clone()
    };
    let model = Mlp::new(&shape_only).with_context(|| {
        format!(
            "building the model described in {} ({})",
            settings.display(),
            spec.widths.compact()
        )
    })?;
    let model_of = format!("{} model of {}", spec.widths.compact(), settings.display());
    copy_weights(&model, &dir.join(MODEL_FILE), &model_of)?;
    Ok(TrainedRun {
        dir: dir.to_path_buf(),
        name: saved.record.name,
        spec,
        model,
        data_dir: saved.record.spec.data.dir,
    })
}

/// Checks that `dir` is a directory with a run's settings file, and returns that file's path.
fn check_run_dir(dir: &Path) -> Result<PathBuf> {
    ensure!(
        dir.exists(),
        "run directory {} does not exist",
        dir.display()
    );
    ensure!(
        dir.is_dir(),
        "{} is not a run directory (not a directory)",
        dir.display()
    );
    let settings = dir.join(crate::engine::rundir::RUN_FILE);
    ensure!(
        settings.is_file(),
        "{} is not a run directory: it has no {} (run directories are written by `initlab train`, `lab`, `compare` and `study`)",
        dir.display(),
        crate::engine::rundir::RUN_FILE
    );
    Ok(settings)
}

/// Reads the safetensors file `path` and copies its tensors into `model`'s variables, checking
/// that their names, shapes and kinds match; `model_of` ("784-10 model of …/run.json") names
/// the model in errors.
fn copy_weights(model: &Mlp, path: &Path, model_of: &str) -> Result<()> {
    let file = SafeTensors::read(path)?;
    let variables: BTreeMap<String, Tensor> = model.vs.variables().into_iter().collect();
    let wanted: BTreeSet<&String> = variables.keys().collect();
    let stored: BTreeSet<&String> = file.tensors.keys().collect();
    if let Some(extra) = stored.difference(&wanted).next() {
        bail!(
            "{} holds a tensor {extra:?} that the {model_of} does not have",
            path.display()
        );
    }
    for (name, var) in &variables {
        let t = file.tensors.get(name).with_context(|| {
            format!(
                "{} has no tensor {name:?}, which the {model_of} needs",
                path.display()
            )
        })?;
        ensure!(
            t.size() == var.size(),
            "{}: tensor {name:?} has shape {:?}, but the {model_of} needs {:?}",
            path.display(),
            t.size(),
            var.size()
        );
        ensure!(
            t.kind() == Kind::Float,
            "{}: tensor {name:?} holds {:?} values, the model's weights are f32",
            path.display(),
            t.kind()
        );
        let mut var = var.shallow_clone();
        tch::no_grad(|| var.f_copy_(t))
            .with_context(|| format!("{}: copying tensor {name:?}", path.display()))?;
    }
    Ok(())
}

/// How one class fared: recall (the per-class accuracy) and precision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassStats {
    /// The class (digit).
    pub class: usize,
    /// Test images of this class (the confusion matrix's row sum).
    pub count: u64,
    /// Of those, classified correctly (the diagonal entry).
    pub correct: u64,
    /// Test images predicted as this class (the column sum).
    pub predicted: u64,
    /// `correct / count` (NaN when the class has no images).
    pub accuracy: f64,
    /// `correct / predicted` (NaN when nothing was predicted as this class).
    pub precision: f64,
}

/// A model evaluated on a labelled split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Number of images.
    pub examples: u64,
    /// Mean cross-entropy, computed as training computes its test loss ([`train::evaluate`]).
    pub loss: f64,
    /// Fraction classified correctly, as training computes it (an `f32` mean, widened).
    pub accuracy: f64,
    /// One entry per class, in order.
    pub per_class: Vec<ClassStats>,
    /// `confusion[true][predicted]`: image counts, one row and one column per class.
    pub confusion: Vec<Vec<u64>>,
}

impl Evaluation {
    /// Correct classifications: the confusion matrix's diagonal sum.
    pub fn correct(&self) -> u64 {
        self.per_class.iter().map(|c| c.correct).sum()
    }
}

/// Flattened `f32` values of a tensor.
fn f32s(t: &Tensor, what: &str) -> Result<Vec<f32>> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).reshape([-1])).map_err(|e| anyhow!("{what}: {e}"))
}

/// Flattened `i64` values of a tensor.
fn i64s(t: &Tensor, what: &str) -> Result<Vec<i64>> {
    Vec::<i64>::try_from(t.to_kind(Kind::Int64).reshape([-1])).map_err(|e| anyhow!("{what}: {e}"))
}

/// Checks that `model` reads images of `split`'s size.
fn check_input(model: &Mlp, pixels: i64) -> Result<()> {
    let input = model.layers.first().map(|l| l.ws.size()[1]).unwrap_or(0);
    ensure!(
        input == pixels,
        "the model reads {input} inputs, but the images have {pixels} pixels"
    );
    Ok(())
}

/// Evaluates `model` on `split` with inputs scaled to [0, 1]: loss and accuracy exactly as
/// training records them ([`train::evaluate`], so a run's last `test_loss`/`test_accuracy` come
/// back bit for bit), and the confusion matrix of `argmax` predictions with per-class recall and
/// precision. The classes are the model's outputs (10 for MNIST).
pub fn evaluate(model: &Mlp, split: &Split) -> Result<Evaluation> {
    check_input(model, split.rows * split.cols)?;
    ensure!(!split.is_empty(), "there are no test images to evaluate on");
    let classes = model.layers.last().map(|l| l.ws.size()[0]).unwrap_or(0);
    let inputs = split.images_unit(); // [n, 784] f32 in [0, 1]
    let labels = &split.labels; // [n] i64
    let (loss, accuracy) = train::evaluate(model, &inputs, labels);
    let predicted = tch::no_grad(|| model.forward(&inputs).argmax(-1, false)); // [n]
    let max_label = labels.max().int64_value(&[]);
    ensure!(
        max_label < classes,
        "the test labels go up to {max_label}, but the model has only {classes} outputs"
    );
    // Row-major index true·k + predicted, counted: [k·k]
    let cells = (labels * classes + &predicted).bincount::<Tensor>(None, classes * classes);
    let counts = i64s(&cells, "confusion matrix")?;
    let k = classes as usize;
    let confusion: Vec<Vec<u64>> = counts
        .chunks(k)
        .map(|row| row.iter().map(|&c| c as u64).collect())
        .collect();
    let per_class = (0..k)
        .map(|c| {
            let count: u64 = confusion[c].iter().sum();
            let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
            let correct = confusion[c][c];
            ClassStats {
                class: c,
                count,
                correct,
                predicted,
                accuracy: correct as f64 / count as f64,
                precision: correct as f64 / predicted as f64,
            }
        })
        .collect();
    Ok(Evaluation {
        examples: split.len() as u64,
        loss,
        accuracy,
        per_class,
        confusion,
    })
}

/// A square grayscale image to classify.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digit {
    /// Where it came from: `test image 0 of DIR` or the PNG's path.
    pub source: String,
    /// Side in pixels (28 for MNIST).
    pub side: u32,
    /// `side²` values in [0, 1], row-major, white (1) digit on black (0) like MNIST.
    pub pixels: Vec<f32>,
    /// The true class, when known (test images).
    pub label: Option<i64>,
    /// How a picture was made MNIST-like ([`crate::base::data::drawing::prepare`]); `None` for
    /// test images and pictures taken pixel for pixel.
    pub preparation: Option<Preparation>,
}

impl Digit {
    /// A digit from 8-bit gray values, scaled to [0, 1] the way the test set is scaled
    /// (`x.float() / 255` in `f32`, as [`Split::images_unit`]), so that a test image written to
    /// PNG and read back gives bit-identical inputs.
    pub fn from_gray(source: String, side: u32, gray: &[u8], label: Option<i64>) -> Result<Digit> {
        ensure!(
            gray.len() == (side * side) as usize,
            "{source}: {} pixels for a {side}×{side} image",
            gray.len()
        );
        let unit = Tensor::from_slice(gray).to_kind(Kind::Float) / 255.0; // [side²]
        Ok(Digit {
            source,
            side,
            pixels: f32s(&unit, "digit pixels")?,
            label,
            preparation: None,
        })
    }

    /// Mean brightness in [0, 1]; MNIST digits average about 0.13 (mostly black background).
    pub fn mean_brightness(&self) -> f64 {
        self.pixels.iter().map(|&p| p as f64).sum::<f64>() / self.pixels.len().max(1) as f64
    }
}

/// Test image `index` of `split` (0-based, as `mnist_test[r]`) with its label.
pub fn test_digit(split: &Split, index: i64, data_dir: &Path) -> Result<Digit> {
    let n = split.len();
    ensure!(
        (0..n).contains(&index),
        "test image index {index} is out of range: the test set in {} has {n} images (0 to {})",
        data_dir.display(),
        n - 1
    );
    ensure!(
        split.rows == split.cols,
        "the images in {} are {}×{}, not square",
        data_dir.display(),
        split.rows,
        split.cols
    );
    let raw = split.images.get(index).contiguous(); // [784] u8
    let gray = Vec::<u8>::try_from(&raw).with_context(|| format!("reading test image {index}"))?;
    let label = split.labels.int64_value(&[index]);
    Digit::from_gray(
        format!("test image {index} of {}", data_dir.display()),
        split.rows as u32,
        &gray,
        Some(label),
    )
}

/// What the model says about one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The image's source (see [`Digit::source`]).
    pub source: String,
    /// The true class, when known.
    pub label: Option<i64>,
    /// `argmax` of the logits (`torch.argmax(model(x), 1)`).
    pub predicted: i64,
    /// `softmax` of the logits, one per class (they sum to 1 up to f32 rounding).
    pub probabilities: Vec<f64>,
}

impl Prediction {
    /// The probability of the predicted class.
    pub fn confidence(&self) -> f64 {
        self.probabilities
            .get(self.predicted as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// Classifies one digit: logits of the `[1, side²]` input, their `argmax` and `softmax`.
pub fn predict(model: &Mlp, digit: &Digit) -> Result<Prediction> {
    check_input(model, digit.pixels.len() as i64)?;
    let x = Tensor::from_slice(&digit.pixels).reshape([1, -1]); // [1, 784]
    let (predicted, probs) = tch::no_grad(|| {
        let logits = model.forward(&x); // [1, classes]
        (
            logits.argmax(-1, false).int64_value(&[0]),
            logits.softmax(-1, Kind::Float), // [1, classes]
        )
    });
    Ok(Prediction {
        source: digit.source.clone(),
        label: digit.label,
        predicted,
        probabilities: f32s(&probs, "probabilities")?
            .into_iter()
            .map(f64::from)
            .collect(),
    })
}

/// A drawing error from plotters, as anyhow.
fn draw_err<E: std::error::Error + Send + Sync + 'static>(
    e: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// White to blue, by `t` in [0, 1].
fn blue(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

/// Draws `text` centred (or anchored as `pos` says) at `at`.
fn label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    at: (i32, i32),
    size: u32,
    colour: &RGBColor,
    pos: Pos,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from(("sans-serif", size).into_font())
        .color(colour)
        .pos(pos);
    area.draw(&Text::new(text.to_string(), at, style))
        .map_err(draw_err)
}

const CENTRE: Pos = Pos {
    h_pos: HPos::Center,
    v_pos: VPos::Center,
};

/// Where the confusion matrix's squares lie: `k` classes, squares of `cell` pixels, the top-left
/// one at (`left`, `top`).
#[derive(Debug, Clone, Copy)]
struct ConfusionGrid {
    /// Number of classes.
    k: usize,
    /// Side of a square in pixels.
    cell: i32,
    /// x of the grid's left edge.
    left: i32,
    /// y of the grid's top edge.
    top: i32,
}

impl ConfusionGrid {
    /// x where the per-class accuracy column starts, right of the grid.
    fn right(&self) -> i32 {
        self.left + self.cell * self.k as i32 + 12
    }
}

/// The confusion matrix as a PNG (written atomically): one square per (true, predicted) pair,
/// shaded by the fraction of the true class's images, with the count in it; per-class accuracy
/// on the right; `title` above.
pub fn confusion_png(evaluation: &Evaluation, title: &str, path: &Path) -> Result<()> {
    let k = evaluation.confusion.len();
    ensure!(k > 0, "no classes to draw");
    let cell: i32 = if k <= 12 { 54 } else { (640 / k as i32).max(8) };
    let grid = ConfusionGrid {
        k,
        cell,
        left: 90,
        top: 130,
    };
    let width = (grid.left + cell * k as i32 + 130) as u32;
    let height = (grid.top + cell * k as i32 + 24) as u32;
    let subtitle = format!(
        "{} test images: accuracy {:.2} %, loss {:.4}",
        evaluation.examples,
        100.0 * evaluation.accuracy,
        evaluation.loss
    );
    render_png_atomic(path, (width, height), |root| {
        root.fill(&WHITE).map_err(draw_err)?;
        let w = width as i32;
        label(root, title, (w / 2, 24), 22, &BLACK, CENTRE)?;
        label(root, &subtitle, (w / 2, 52), 14, &BLACK, CENTRE)?;
        for t in 0..k {
            confusion_row(root, &grid, evaluation, t)?;
        }
        confusion_axes(root, &grid)
    })
}

/// Row `t` of the confusion matrix: its squares with their counts, the class on the left and
/// its accuracy on the right.
fn confusion_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &ConfusionGrid,
    evaluation: &Evaluation,
    t: usize,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let row = &evaluation.confusion[t];
    let total: u64 = row.iter().sum();
    for (p, &n) in row.iter().enumerate() {
        let share = if total > 0 {
            n as f64 / total as f64
        } else {
            0.0
        };
        confusion_square(root, grid, (t, p), n, share)?;
    }
    let y = grid.top + t as i32 * grid.cell + grid.cell / 2;
    label(
        root,
        &t.to_string(),
        (grid.left - 14, y),
        16,
        &BLACK,
        CENTRE,
    )?;
    let acc = &evaluation.per_class[t];
    let text = if acc.count > 0 {
        format!("{:.1} %", 100.0 * acc.accuracy)
    } else {
        "–".into()
    };
    let at_left = Pos::new(HPos::Left, VPos::Center);
    label(root, &text, (grid.right(), y), 15, &BLACK, at_left)
}

/// The square of true class `t` and predicted class `p`: shaded by `share` (of the true class's
/// images), outlined, with the count `n` in it when there is room.
fn confusion_square<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &ConfusionGrid,
    (t, p): (usize, usize),
    n: u64,
    share: f64,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let cell = grid.cell;
    let (x0, y0) = (grid.left + p as i32 * cell, grid.top + t as i32 * cell);
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + cell, y0 + cell)],
        blue(share.sqrt()).filled(),
    ))
    .map_err(draw_err)?;
    root.draw(&Rectangle::new(
        [(x0, y0), (x0 + cell, y0 + cell)],
        RGBColor(200, 200, 200),
    ))
    .map_err(draw_err)?;
    if n > 0 && cell >= 24 {
        let font = if cell >= 40 { 15 } else { 10 };
        let ink = if share.sqrt() > 0.55 { WHITE } else { BLACK };
        let centre = (x0 + cell / 2, y0 + cell / 2);
        label(root, &n.to_string(), centre, font, &ink, CENTRE)?;
    }
    Ok(())
}

/// The predicted classes above the grid, the axis titles and the accuracy column's heading.
fn confusion_axes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &ConfusionGrid,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (left, top, cell) = (grid.left, grid.top, grid.cell);
    for p in 0..grid.k {
        let x = left + p as i32 * cell + cell / 2;
        label(root, &p.to_string(), (x, top - 14), 16, &BLACK, CENTRE)?;
    }
    let middle = left + cell * grid.k as i32 / 2;
    label(
        root,
        "predicted class",
        (middle, top - 40),
        16,
        &BLACK,
        CENTRE,
    )?;
    label(
        root,
        "true class",
        (left - 40, top - 40),
        16,
        &BLACK,
        CENTRE,
    )?;
    let at_left = Pos::new(HPos::Left, VPos::Center);
    label(
        root,
        "accuracy",
        (grid.right(), top - 14),
        15,
        &BLACK,
        at_left,
    )
}

/// The digit (every pixel an 8×8 grey square) beside a bar chart of the class probabilities, as
/// a PNG (written atomically), `title` above.
pub fn prediction_png(
    digit: &Digit,
    prediction: &Prediction,
    title: &str,
    path: &Path,
) -> Result<()> {
    const SCALE: i32 = 8;
    let side = digit.side as i32;
    ensure!(
        digit.pixels.len() == (side * side) as usize,
        "{}: {} pixels for a {side}×{side} image",
        digit.source,
        digit.pixels.len()
    );
    let classes = prediction.probabilities.len() as i32;
    let (pad, top) = (20, 60);
    let bar_row = 22;
    let chart_left = pad + side * SCALE + 40;
    let bar_max = 220;
    let width = (chart_left + 30 + bar_max + 70) as u32;
    let height = (top + (side * SCALE).max(classes * bar_row) + pad) as u32;
    render_png_atomic(path, (width, height), |root| {
        root.fill(&WHITE).map_err(draw_err)?;
        label(root, title, (width as i32 / 2, 26), 18, &BLACK, CENTRE)?;
        for (i, &v) in digit.pixels.iter().enumerate() {
            let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            let (x, y) = (i as i32 % side, i as i32 / side);
            let (x0, y0) = (pad + x * SCALE, top + y * SCALE);
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + SCALE, y0 + SCALE)],
                RGBColor(g, g, g).filled(),
            ))
            .map_err(draw_err)?;
        }
        let at_left = Pos::new(HPos::Left, VPos::Center);
        for (c, &p) in prediction.probabilities.iter().enumerate() {
            let y = top + c as i32 * bar_row;
            let mid = y + bar_row / 2;
            label(root, &c.to_string(), (chart_left, mid), 15, &BLACK, at_left)?;
            let x0 = chart_left + 24;
            let len = (p.clamp(0.0, 1.0) * bar_max as f64).round() as i32;
            let colour = if c as i64 == prediction.predicted {
                RGBColor(214, 39, 40)
            } else {
                RGBColor(31, 119, 180)
            };
            root.draw(&Rectangle::new(
                [(x0, y + 3), (x0 + len.max(1), y + bar_row - 3)],
                colour.filled(),
            ))
            .map_err(draw_err)?;
            let text = format!("{:.3}", p);
            label(root, &text, (x0 + len + 6, mid), 13, &BLACK, at_left)?;
        }
        Ok(())
    })
}
