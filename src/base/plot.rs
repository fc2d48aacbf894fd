//! Charts with plotters, headless: PNG or SVG chosen by the file extension, text drawn with the
//! DejaVu Sans font embedded in the binary (no system font libraries at build or run time).

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, ensure, Context, Result};
use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::io;
use crate::train::History;

const SIZE: (u32, u32) = (1000, 600);

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process).
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font could not be registered".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// One line of a chart: a label and `(epoch, value)` points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points; non-finite or non-positive values are left out on log axes.
    pub points: Vec<(f64, f64)>,
    /// A shaded band around the line, `(x, low, high)` per point (empty: none); the legend
    /// label says what it is.
    pub band: Band,
}

/// A run as drawn in comparison charts.
#[derive(Debug, Clone)]
pub struct RunCurves {
    /// Legend text (usually the init scheme, plus the model when they differ).
    pub label: String,
    /// The run's history.
    pub history: History,
}

/// The colour of the `i`-th line (a palette that reads well on white; the HTML report's charts
/// use it too).
pub fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
    ];
    PALETTE[i % PALETTE.len()]
}

enum Format {
    Png,
    Svg,
}

fn format_of(path: &Path) -> Result<Format> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => bail!("chart file {} must end in .png or .svg", path.display()),
    }
}

/// Draws with `draw` on a PNG or SVG canvas of `size` at `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<()> {
    ensure_font()?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    match format_of(path)? {
        Format::Png => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw(&root)?;
            root.present()
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| format!("writing chart {}", path.display()))
        }
        Format::Svg => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw_svg(&root)?;
            root.present()
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| format!("writing chart {}", path.display()))
        }
    }
}

/// Range of the finite positive values, widened a little for a log axis.
fn log_range(series: &[Series]) -> Range<f64> {
    let values = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return 0.1..1.0;
    }
    let (lo, hi) = if hi / lo < 1.5 {
        (lo / 1.5, hi * 1.5)
    } else {
        (lo / 1.2, hi * 1.2)
    };
    lo..hi
}

/// A tick label that stays short on a log axis: `400`, `12.5`, `0.25`, `3e-4`.
fn tick_label(y: f64) -> String {
    let a = y.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 1e5 {
        format!("{y:.0e}")
    } else if a >= 100.0 || (a >= 1.0 && (y - y.round()).abs() < 1e-9 * a) {
        format!("{y:.0}")
    } else if a >= 10.0 {
        format!("{y:.1}")
    } else if a >= 0.01 {
        let s = format!("{y:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{y:.0e}")
    }
}

/// A log-scale axis over the series' values, labelled at 1-2-5 steps of each decade when it
/// spans a few decades, at every decade (or every k-th) when it spans more.
fn log_axis(series: &[Series]) -> WithKeyPoints<LogCoord<f64>> {
    let range = log_range(series);
    let (lo, hi) = (
        range.start.log10().floor() as i32,
        range.end.log10().ceil() as i32,
    );
    let decades = (hi - lo).max(1);
    let multipliers: &[f64] = if decades <= 4 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let step = (decades / 12 + 1).max(1);
    let mut keys = Vec::new();
    for e in (lo..=hi).step_by(step as usize) {
        for m in multipliers {
            let k = m * 10f64.powi(e);
            if k >= range.start && k <= range.end {
                keys.push(k);
            }
        }
    }
    range.log_scale().with_key_points(keys)
}

fn epoch_range(series: &[Series]) -> Range<f64> {
    let xs = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .filter(|x| x.is_finite())
    };
    let min = xs().fold(f64::INFINITY, f64::min);
    let max = xs().fold(f64::NEG_INFINITY, f64::max);
    let start = if min.is_finite() { min.min(1.0) } else { 1.0 };
    start..max.max(start + 1.0)
}

/// The points of `s` a log axis can show (finite, positive values).
fn log_points(s: &Series) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .copied()
        .filter(|p| p.1.is_finite() && p.1 > 0.0)
        .collect()
}

/// One log-y panel with a line (and markers) per series, integer x (epochs, layers).
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    dashed: &[Series],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let epochs = epoch_range(series);
    let all: Vec<Series> = series.iter().chain(dashed).cloned().collect();
    let x_ticks = (epochs.end - epochs.start) as usize + 1;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(epochs, log_axis(&all))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(x_ticks)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{x:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let ok = |y: f64| y.is_finite() && y > 0.0;
        let band: Vec<&(f64, f64, f64)> = s.band.iter().filter(|b| ok(b.1) && ok(b.2)).collect();
        if band.len() >= 2 {
            let outline: Vec<(f64, f64)> = band
                .iter()
                .map(|b| (b.0, b.1))
                .chain(band.iter().rev().map(|b| (b.0, b.2)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    colour(i).mix(0.18).filled(),
                )))
                .map_err(err)?;
        }
    }
    for (i, s) in series.iter().enumerate() {
        let c = colour(i);
        let pts = log_points(s);
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))
            .map_err(err)?;
    }
    for (i, s) in dashed.iter().enumerate() {
        let c = colour(i);
        let pts = log_points(s);
        let drawn = chart
            .draw_series(DashedLineSeries::new(pts, 8, 6, c.stroke_width(2)))
            .map_err(err)?;
        if !s.label.is_empty() {
            drawn.label(s.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 8, y)], c.stroke_width(2))
            });
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn loss_series(history: &History) -> Vec<Series> {
    vec![
        Series {
            label: "train cost".into(),
            points: history
                .epochs
                .iter()
                .map(|e| (e.epoch as f64, e.train_cost))
                .collect(),
            band: Vec::new(),
        },
        Series {
            label: "test loss".into(),
            points: history
                .epochs
                .iter()
                .map(|e| (e.epoch as f64, e.test_loss))
                .collect(),
            band: Vec::new(),
        },
    ]
}

/// `loss.png`: train cost and test loss of one run per epoch, log-scale y.
pub fn loss_chart(history: &History, title: &str, path: &Path) -> Result<()> {
    let series = loss_series(history);
    render(
        path,
        SIZE,
        |root| panel(root, title, "epoch", "loss (log scale)", &series, &[]),
        |root| panel(root, title, "epoch", "loss (log scale)", &series, &[]),
    )
}

/// `compare.png`/`.svg`: test error % and train cost per epoch, one line per run, log-scale y
/// ([`seeds_chart`] with one seed per line).
pub fn compare_chart(runs: &[RunCurves], title: &str, path: &Path) -> Result<()> {
    if runs.is_empty() {
        bail!("no runs to compare");
    }
    let groups: Vec<SeedCurves> = runs
        .iter()
        .map(|r| SeedCurves {
            label: r.label.clone(),
            histories: vec![r.history.clone()],
        })
        .collect();
    seeds_chart(&groups, title, path)
}

/// Several runs of one configuration (one per seed), drawn as their mean per epoch with the
/// band from the lowest to the highest run.
#[derive(Debug, Clone)]
pub struct SeedCurves {
    /// Legend text of the configuration.
    pub label: String,
    /// One history per seed.
    pub histories: Vec<History>,
}

/// `(x, low, high)` per point of a shaded band.
pub type Band = Vec<(f64, f64, f64)>;

/// Mean, lowest and highest value per epoch over histories (epochs that any run reached).
fn mean_band(
    histories: &[History],
    f: fn(&crate::train::EpochRecord) -> f64,
) -> (Vec<(f64, f64)>, Band) {
    let last = histories
        .iter()
        .filter_map(|h| h.last().map(|e| e.epoch))
        .max()
        .unwrap_or(0);
    let mut mean = Vec::new();
    let mut band = Vec::new();
    for epoch in 1..=last {
        let values: Vec<f64> = histories
            .iter()
            .filter_map(|h| h.epochs.iter().find(|e| e.epoch == epoch).map(f))
            .collect();
        if values.is_empty() {
            continue;
        }
        let x = epoch as f64;
        mean.push((x, values.iter().sum::<f64>() / values.len() as f64));
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        band.push((x, lo, hi));
    }
    (mean, band)
}

/// `compare.png` over seeds: test error % and train cost per epoch, one line per configuration
/// (the mean over its seeds) with a shaded band from its lowest to its highest seed; the legend
/// says how many seeds and what the band is.
pub fn seeds_chart(groups: &[SeedCurves], title: &str, path: &Path) -> Result<()> {
    if groups
        .iter()
        .all(|g| g.histories.iter().all(|h| h.epochs.is_empty()))
    {
        bail!("no finished epoch to draw: every run stopped before its first epoch ended");
    }
    let per_group = |f: fn(&crate::train::EpochRecord) -> f64| -> Vec<Series> {
        groups
            .iter()
            .map(|g| {
                let (points, band) = mean_band(&g.histories, f);
                let n = g.histories.len();
                Series {
                    label: if n > 1 {
                        format!("{} (mean of {n} seeds; band: min–max)", g.label)
                    } else {
                        g.label.clone()
                    },
                    points,
                    band: if n > 1 { band } else { Vec::new() },
                }
            })
            .collect()
    };
    let panels = [
        Panel {
            dashed: Vec::new(),
            title: "test error".into(),
            x_desc: "epoch".into(),
            y_desc: "test error % (log scale)".into(),
            series: per_group(|e| e.test_error_percent()),
            log_y: true,
        },
        Panel {
            dashed: Vec::new(),
            title: "train cost".into(),
            x_desc: "epoch".into(),
            y_desc: "train cost (log scale)".into(),
            series: per_group(|e| e.train_cost),
            log_y: true,
        },
    ];
    panels_chart(&panels, title, path)
}

/// One panel of a multi-panel figure.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Caption above the panel.
    pub title: String,
    /// X axis label.
    pub x_desc: String,
    /// Y axis label.
    pub y_desc: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Log-scale y with integer x ticks (depth and epoch charts); otherwise linear axes with lines
    /// only (histograms).
    pub log_y: bool,
    /// Dashed lines drawn over the series (predictions), the `i`-th in the colour of the `i`-th
    /// series; log-y panels only.
    pub dashed: Vec<Series>,
}

/// A linear-axes panel with one line per series (no markers): histograms.
fn linear_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
    area.fill(&WHITE).map_err(err)?;
    let pts = p
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|q| q.0.is_finite() && q.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0.0f64);
    for q in pts {
        x0 = x0.min(q.0);
        x1 = x1.max(q.0);
        y0 = y0.min(q.1);
        y1 = y1.max(q.1);
    }
    if !x0.is_finite() || x0 >= x1 {
        (x0, x1) = (-1.0, 1.0);
    }
    // Zero stays on the axis (densities, likelihoods); a little room above and below.
    let pad = (y1 - y0).max(1e-12) * 0.08;
    let (y0, y1) = (
        if y0 < 0.0 { y0 - pad } else { 0.0 },
        if y1 > 0.0 { y1 + pad } else { 0.0 },
    );
    let (y0, y1) = if y0 == y1 { (0.0, 1.0) } else { (y0, y1) };
    let integer_x = p
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .all(|q| q.0.fract() == 0.0);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let x_labels = if integer_x {
        (x1 - x0) as usize + 1
    } else {
        10
    };
    chart
        .configure_mesh()
        .x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_labels(x_labels.min(20))
        .x_label_formatter(&|x| {
            if integer_x && x.fract().abs() > 1e-6 {
                String::new()
            } else {
                tick_label(*x)
            }
        })
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    for (i, s) in p.series.iter().enumerate() {
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn panels_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)
        .map_err(|e| anyhow!("drawing chart: {e:?}"))?;
    let root = root
        .titled(title, ("sans-serif", 24))
        .map_err(|e| anyhow!("drawing chart: {e:?}"))?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, p) in areas.iter().zip(panels) {
        if p.log_y {
            panel(area, &p.title, &p.x_desc, &p.y_desc, &p.series, &p.dashed)?;
        } else {
            linear_panel(area, p)?;
        }
    }
    Ok(())
}

/// A figure of side-by-side panels (PNG or SVG by extension), 700 pixels wide per panel.
pub fn panels_chart(panels: &[Panel], title: &str, path: &Path) -> Result<()> {
    if panels.is_empty() {
        bail!("no panels to draw");
    }
    let size = (700 * panels.len() as u32, 600);
    render(
        path,
        size,
        |root| panels_figure(root, title, panels),
        |root| panels_figure(root, title, panels),
    )
}

/// PNG bytes of 8-bit pixels, row-major: `width × height` values for `ColorType::Grayscale`,
/// three per pixel for `ColorType::Rgb`.
pub fn encode_png(
    width: u32,
    height: u32,
    color: png::ColorType,
    pixels: &[u8],
) -> Result<Vec<u8>> {
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        c => bail!("encode_png: {c:?} pixels are not supported (8-bit gray or RGB)"),
    };
    let expected = width as usize * height as usize * channels;
    ensure!(
        pixels.len() == expected,
        "encode_png: {} bytes for a {width}×{height} {color:?} picture, which needs {expected}",
        pixels.len()
    );
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().context("encoding a PNG header")?;
    writer
        .write_image_data(pixels)
        .context("encoding PNG pixels")?;
    writer.finish().context("finishing a PNG")?;
    Ok(out)
}

/// Draws with `draw` on an RGB canvas of `size` (embedded font registered) and writes it to `path`
/// as PNG through [`io::write_atomic`]: a reader sees the old picture or the new one, never half
/// of one. The folder is created if needed.
pub fn render_png_atomic(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    ensure_font()?;
    ensure!(
        matches!(format_of(path), Ok(Format::Png)),
        "picture file {} must end in .png",
        path.display()
    );
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let backend = BitMapBackend::with_buffer_and_format(&mut rgb, size)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("drawing {}", path.display()))?;
        let root = backend.into_drawing_area();
        draw(&root).with_context(|| format!("drawing {}", path.display()))?;
        root.present()
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("drawing {}", path.display()))?;
    }
    let bytes = encode_png(size.0, size.1, png::ColorType::Rgb, &rgb)
        .with_context(|| format!("writing {}", path.display()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    io::write_atomic(path, &bytes)
}

/// A heatmap: one coloured rectangle per cell of a (possibly uneven) grid, lines drawn over it,
/// and a colour bar.
#[derive(Debug, Clone)]
pub struct Heatmap {
    /// Caption.
    pub title: String,
    /// X axis label.
    pub x_desc: String,
    /// Y axis label.
    pub y_desc: String,
    /// Label of the colour bar.
    pub value_desc: String,
    /// Cell boundaries along x, ascending (`nx + 1` values).
    pub x_edges: Vec<f64>,
    /// Cell boundaries along y, ascending (`ny + 1` values).
    pub y_edges: Vec<f64>,
    /// `values[j][i]`: the cell between `y_edges[j..=j+1]` and `x_edges[i..=i+1]`; NaN is drawn
    /// grey (no value).
    pub values: Vec<Vec<f64>>,
    /// The values at the two ends of the colour scale.
    pub range: (f64, f64),
    /// Write each cell's value in it with this many decimals after scaling by the `f64` (e.g.
    /// `Some((100.0, 0))` for percentages); `None`: no text.
    pub annotate: Option<(f64, usize)>,
    /// Lines drawn over the cells (clipped to the chart), black, then red, then white, dashed after
    /// the first.
    pub lines: Vec<Series>,
}

/// The colour of `t ∈ [0, 1]` on a viridis-like scale (dark purple → blue → green → yellow),
/// linear between five anchors.
pub fn scale_colour(t: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (ANCHORS.len() - 1) as f64;
    let k = (x.floor() as usize).min(ANCHORS.len() - 2);
    let f = x - k as f64;
    let (a, b) = (ANCHORS[k], ANCHORS[k + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The parts of a polyline inside `lo ≤ y ≤ hi`, cut where it crosses a bound (points outside are
/// dropped; a crossing adds the point on the bound). Infinite y counts as outside.
pub fn clip_y(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |p: &(f64, f64)| p.1.is_finite() && p.1 >= lo && p.1 <= hi;
    let cross = |a: (f64, f64), b: (f64, f64)| -> Option<(f64, f64)> {
        if !(a.1.is_finite() && b.1.is_finite()) {
            return None;
        }
        let bound = if a.1 > hi || b.1 > hi { hi } else { lo };
        let t = (bound - a.1) / (b.1 - a.1);
        (t.is_finite() && (0.0..=1.0).contains(&t)).then_some((a.0 + t * (b.0 - a.0), bound))
    };
    let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let prev = if i > 0 { Some(points[i - 1]) } else { None };
        match (prev.map(|q| inside(&q)), inside(p)) {
            (Some(true), false) => {
                if let Some(c) = prev.and_then(|q| cross(q, *p)) {
                    cur.push(c);
                }
                parts.push(std::mem::take(&mut cur));
            }
            (Some(false), true) => {
                if let Some(c) = prev.and_then(|q| cross(q, *p)) {
                    cur.push(c);
                }
                cur.push(*p);
            }
            (_, true) => cur.push(*p),
            _ => {}
        }
    }
    parts.push(cur);
    parts.retain(|p| p.len() >= 2);
    parts
}

fn heatmap_figure<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let (main, bar) = root.split_horizontally(w.saturating_sub(130));
    let (x0, x1) = (h.x_edges[0], h.x_edges[h.x_edges.len() - 1]);
    let (y0, y1) = (h.y_edges[0], h.y_edges[h.y_edges.len() - 1]);
    let mut chart = ChartBuilder::on(&main)
        .caption(&h.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(h.x_desc.as_str())
        .y_desc(h.y_desc.as_str())
        .x_label_formatter(&|x| tick_label(*x))
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    let (lo, hi) = h.range;
    let span = if hi > lo { hi - lo } else { 1.0 };
    for (j, row) in h.values.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let (a, b) = (
                (h.x_edges[i], h.y_edges[j]),
                (h.x_edges[i + 1], h.y_edges[j + 1]),
            );
            let fill = if v.is_finite() {
                scale_colour((v - lo) / span)
            } else {
                RGBColor(200, 200, 200)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new([a, b], fill.filled())))
                .map_err(err)?;
            if let (Some((scale, decimals)), true) = (h.annotate, v.is_finite()) {
                let t = (v - lo) / span;
                let ink = if t > 0.6 { BLACK } else { WHITE };
                let style = ("sans-serif", 13).into_font().color(&ink).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                let centre = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{:.*}", decimals, v * scale),
                        centre,
                        style,
                    )))
                    .map_err(err)?;
            }
        }
    }
    let inks = [BLACK, RGBColor(214, 39, 40), WHITE];
    for (k, line) in h.lines.iter().enumerate() {
        let c = inks[k % inks.len()];
        let mut first = true;
        for part in clip_y(&line.points, y0, y1) {
            let part: Vec<(f64, f64)> = part
                .into_iter()
                .filter(|p| p.0 >= x0 && p.0 <= x1)
                .collect();
            let drawn = if k == 0 {
                chart
                    .draw_series(LineSeries::new(part, c.stroke_width(3)))
                    .map_err(err)?
            } else {
                chart
                    .draw_series(DashedLineSeries::new(part, 10, 6, c.stroke_width(3)))
                    .map_err(err)?
            };
            if first {
                drawn.label(line.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
                });
                first = false;
            }
        }
    }
    if !h.lines.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(err)?;
    }
    // The colour bar: 100 bands from lo to hi.
    let mut scale = ChartBuilder::on(&bar)
        .margin_top(50)
        .margin_bottom(57)
        .margin_right(10)
        .y_label_area_size(60)
        .caption(&h.value_desc, ("sans-serif", 14))
        .build_cartesian_2d(0.0..1.0, lo..(lo + span))
        .map_err(err)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    let bands = 100;
    scale
        .draw_series((0..bands).map(|k| {
            let a = lo + span * k as f64 / bands as f64;
            let b = lo + span * (k + 1) as f64 / bands as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                scale_colour((k as f64 + 0.5) / bands as f64).filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

/// Draws a [`Heatmap`] (PNG or SVG by extension), 1000 × 650 pixels.
pub fn heatmap_chart(h: &Heatmap, path: &Path) -> Result<()> {
    ensure!(
        h.x_edges.len() >= 2 && h.y_edges.len() >= 2,
        "a heatmap needs at least one cell"
    );
    ensure!(
        h.values.len() + 1 == h.y_edges.len()
            && h.values.iter().all(|r| r.len() + 1 == h.x_edges.len()),
        "heatmap values do not match its {}×{} cells",
        h.y_edges.len() - 1,
        h.x_edges.len() - 1
    );
    render(
        path,
        (1000, 650),
        |root| heatmap_figure(root, h),
        |root| heatmap_figure(root, h),
    )
}

/// Cell boundaries around ascending centres: midpoints between neighbours, and half a step beyond
/// the first and the last.
pub fn edges_around(centres: &[f64]) -> Vec<f64> {
    match centres {
        [] => Vec::new(),
        [c] => vec![c - 0.5, c + 0.5],
        _ => {
            let n = centres.len();
            let mut e = vec![centres[0] - (centres[1] - centres[0]) / 2.0];
            e.extend(centres.windows(2).map(|w| (w[0] + w[1]) / 2.0));
            e.push(centres[n - 1] + (centres[n - 1] - centres[n - 2]) / 2.0);
            e
        }
    }
}

/// A chart of lines over a linear x axis with a log y axis, and vertical marker lines.
#[derive(Debug, Clone)]
pub struct CurveChart {
    /// Caption.
    pub title: String,
    /// X axis label.
    pub x_desc: String,
    /// Y axis label.
    pub y_desc: String,
    /// The lines (non-finite or non-positive values are left out).
    pub series: Vec<Series>,
    /// Vertical dashed lines: `(x, legend text)`.
    pub markers: Vec<(f64, String)>,
}

fn curve_figure<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &CurveChart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let xs = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| x.is_finite());
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (x0, x1) = if x0 < x1 { (x0, x1) } else { (0.0, 1.0) };
    let y_axis = log_axis(&c.series);
    let (ylo, yhi) = (log_range(&c.series).start, log_range(&c.series).end);
    let mut chart = ChartBuilder::on(root)
        .caption(&c.title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y_axis)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(c.x_desc.as_str())
        .y_desc(c.y_desc.as_str())
        .x_label_formatter(&|x| tick_label(*x))
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (i, s) in c.series.iter().enumerate() {
        let col = colour(i);
        for part in clip_y(&s.points, ylo, yhi) {
            chart
                .draw_series(LineSeries::new(part, col.stroke_width(2)))
                .map_err(err)?;
        }
        chart
            .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
            .map_err(err)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    for (k, (x, label)) in c.markers.iter().enumerate() {
        let col = colour(c.series.len() + k);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(*x, ylo), (*x, yhi)],
                8,
                6,
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 8, y)], col.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Draws a [`CurveChart`] (PNG or SVG by extension), 1000 × 600 pixels.
pub fn curve_chart(c: &CurveChart, path: &Path) -> Result<()> {
    ensure!(!c.series.is_empty(), "no curves to draw");
    render(
        path,
        SIZE,
        |root| curve_figure(root, c),
        |root| curve_figure(root, c),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_cuts_at_the_bounds() {
        let pts = [(0.0, 1.0), (1.0, 3.0), (2.0, f64::INFINITY), (3.0, 1.0)];
        let parts = clip_y(&pts, 0.0, 2.0);
        assert_eq!(parts, vec![vec![(0.0, 1.0), (0.5, 2.0)]]);
        assert_eq!(edges_around(&[1.0, 2.0, 4.0]), vec![0.5, 1.5, 3.0, 5.0]);
        assert_eq!(scale_colour(0.0), RGBColor(68, 1, 84));
        assert_eq!(scale_colour(1.0), RGBColor(253, 231, 37));
    }
}

/// One cell of a [`grid_chart`]: a line panel or a heatmap.
#[derive(Debug, Clone)]
pub enum Cell {
    /// A [`Panel`].
    Lines(Panel),
    /// A [`Heatmap`] with its colour bar.
    Heat(Heatmap),
}

fn grid_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Vec<Cell>],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)
        .map_err(|e| anyhow!("drawing chart: {e:?}"))?;
    let root = root
        .titled(title, ("sans-serif", 24))
        .map_err(|e| anyhow!("drawing chart: {e:?}"))?;
    let row_areas = root.split_evenly((rows.len(), 1));
    for (area, row) in row_areas.iter().zip(rows) {
        let cells = area.split_evenly((1, row.len().max(1)));
        for (cell_area, cell) in cells.iter().zip(row) {
            match cell {
                Cell::Lines(p) if p.log_y => panel(
                    cell_area, &p.title, &p.x_desc, &p.y_desc, &p.series, &p.dashed,
                )?,
                Cell::Lines(p) => linear_panel(cell_area, p)?,
                Cell::Heat(h) => heatmap_figure(cell_area, h)?,
            }
        }
    }
    Ok(())
}

/// A figure of rows of cells (PNG or SVG by extension); each row is split evenly among its cells,
/// `cell` pixels (width, height) for a cell of the widest row.
pub fn grid_chart(rows: &[Vec<Cell>], title: &str, cell: (u32, u32), path: &Path) -> Result<()> {
    let widest = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    ensure!(widest > 0, "no cells to draw");
    for h in rows.iter().flatten().filter_map(|c| match c {
        Cell::Heat(h) => Some(h),
        Cell::Lines(_) => None,
    }) {
        ensure!(
            h.x_edges.len() >= 2
                && h.y_edges.len() >= 2
                && h.values.len() + 1 == h.y_edges.len()
                && h.values.iter().all(|r| r.len() + 1 == h.x_edges.len()),
            "heatmap {:?}: its values do not match its cells",
            h.title
        );
    }
    let size = (cell.0 * widest as u32, cell.1 * rows.len() as u32 + 40);
    render(
        path,
        size,
        |root| grid_figure(root, title, rows),
        |root| grid_figure(root, title, rows),
    )
}
