//! `report.html`: one self-contained page per `lab`, `compare` and `study` that opens offline —
//! no network, no external scripts, fonts or stylesheets. Its charts are inline SVG drawn here
//! ([`svg_chart`]: one polyline per run over epochs, log axes with ticks, a legend, and a marker
//! per epoch whose value shows on hover); its tables are the same [`Table`]s the Markdown
//! summaries are written from, so both show the same numbers; each run's configuration and
//! versions (from its `run.json`) sit in a collapsible `<details>`, with relative links to the run
//! directory and its pictures.
//!
//! The planners assemble a [`Report`] out of [`Block`]s; [`render`] turns it into HTML, escaping
//! every text that comes from data ([`escape`]), and [`write`] writes it atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::base::output::io;
use crate::base::output::plot;
use crate::base::train::{EpochRecord, History};
use crate::engine::executor::RunResult;
use crate::engine::rundir::{self, RunRecord};

/// The file name of the page, beside `report.md`/`summary.md`.
pub const REPORT_FILE: &str = "report.html";

/// Escapes text for HTML (element content and quoted attribute values alike): `&`, `<`, `>`,
/// `"` and `'` become character references, and control characters other than tab, line feed
/// and carriage return (not allowed in HTML or XML text) become U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A relative path as a URL path for `href`/`src`: each component percent-encoded (every byte
/// but ASCII letters, digits and `-._~`), joined by `/`. The result needs no HTML escaping.
pub fn href(path: &Path) -> String {
    let mut parts = Vec::new();
    for c in path.components() {
        let part = match c {
            std::path::Component::RootDir => String::new(),
            std::path::Component::CurDir => ".".into(),
            std::path::Component::ParentDir => "..".into(),
            std::path::Component::Normal(s) => {
                let mut enc = String::new();
                for &b in s.as_encoded_bytes() {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                        enc.push(char::from(b));
                    } else {
                        let _ = write!(enc, "%{b:02X}");
                    }
                }
                enc
            }
            std::path::Component::Prefix(p) => p.as_os_str().to_string_lossy().into_owned(),
        };
        parts.push(part);
    }
    match parts.as_slice() {
        [] => ".".into(),
        [only] if only.is_empty() => "/".into(),
        _ => parts.join("/"),
    }
}

/// `target` relative to the folder `base` (what a link in a page in `base` needs): the path
/// below `base` when it is one, else a path through `..` between the canonical forms of both,
/// else `target` as given.
pub fn relative_path(base: &Path, target: &Path) -> PathBuf {
    if let Ok(rest) = target.strip_prefix(base) {
        return if rest.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rest.to_path_buf()
        };
    }
    let (Ok(b), Ok(t)) = (base.canonicalize(), target.canonicalize()) else {
        return target.to_path_buf();
    };
    let bc: Vec<_> = b.components().collect();
    let tc: Vec<_> = t.components().collect();
    let common = bc.iter().zip(&tc).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..bc.len() {
        rel.push("..");
    }
    for c in &tc[common..] {
        rel.push(c.as_os_str());
    }
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its header.
    pub name: String,
    /// Right-aligned (numbers).
    pub numeric: bool,
}

/// A cell of a [`Table`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    /// Its text.
    pub text: String,
    /// Bold (p-values below the marked level).
    pub strong: bool,
    /// A link, relative to the report's folder (HTML only: Markdown shows the text alone).
    pub link: Option<PathBuf>,
}

impl Cell {
    /// A bold cell.
    pub fn strong(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            strong: true,
            link: None,
        }
    }

    /// A cell linking to `link` (relative to the report's folder).
    pub fn link(text: impl Into<String>, link: PathBuf) -> Cell {
        Cell {
            text: text.into(),
            strong: false,
            link: Some(link),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            ..Cell::default()
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

/// A table that renders to Markdown (the summaries) and to HTML (the report page) from the same
/// cells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table with these `(header, numeric)` columns.
    pub fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|&(name, numeric)| Column {
                    name: name.to_string(),
                    numeric,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// The table as Markdown: a header, the alignment row (`---` or `---:`), one line per row;
    /// bold cells in `**…**`; text as given.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let header: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let align: Vec<&str> = self
            .columns
            .iter()
            .map(|c| if c.numeric { "---:" } else { "---" })
            .collect();
        let _ = writeln!(md, "|{}|", align.join("|"));
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|c| {
                    if c.strong {
                        format!("**{}**", c.text)
                    } else {
                        c.text.clone()
                    }
                })
                .collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md
    }

    /// The table as HTML, inside a horizontally scrolling box.
    pub fn html(&self) -> String {
        let mut h = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
        for c in &self.columns {
            let _ = write!(
                h,
                "<th{}>{}</th>",
                if c.numeric { " class=\"num\"" } else { "" },
                escape(&c.name)
            );
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            h.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let numeric = self.columns.get(i).is_some_and(|c| c.numeric);
                let mut text = escape(&cell.text);
                if let Some(link) = &cell.link {
                    text = format!("<a href=\"{}\">{text}</a>", href(link));
                }
                if cell.strong {
                    text = format!("<strong>{text}</strong>");
                }
                let _ = write!(
                    h,
                    "<td{}>{text}</td>",
                    if numeric { " class=\"num\"" } else { "" }
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody></table></div>\n");
        h
    }
}

/// One line of a [`Chart`]: a run's `(epoch, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The run's name, shown on hover.
    pub name: String,
    /// Points in order; non-finite ones (and non-positive ones on a log axis) are left out and
    /// break the line.
    pub points: Vec<(f64, f64)>,
}

/// The curves of one configuration (its seeds), in one colour with one legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    /// Legend text.
    pub label: String,
    /// One curve per run.
    pub curves: Vec<Curve>,
}

/// A line chart over epochs, drawn by [`svg_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Caption above the plot.
    pub title: String,
    /// x-axis description.
    pub x_desc: String,
    /// y-axis description.
    pub y_desc: String,
    /// What a point's value is, in hover texts (`test error %`).
    pub value_name: String,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The series, in legend order; each takes the colour the PNG charts give its label
    /// ([`plot::series_colours`]).
    pub series: Vec<ChartSeries>,
}

/// The chart's width in SVG units (it scales to the page's width through its `viewBox`).
const CHART_WIDTH: f64 = 480.0;
/// Room left of the plot area for the y ticks and the y-axis description.
const PLOT_LEFT: f64 = 58.0;
/// Room right of the plot area.
const PLOT_RIGHT: f64 = 14.0;
/// Room above the plot area for the title.
const PLOT_TOP: f64 = 30.0;
/// Height of the plot area.
const PLOT_HEIGHT: f64 = 230.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 18.0;
/// Rough width of one character of the 12-unit font (for the legend's columns).
const CHAR_WIDTH: f64 = 6.6;
/// Legend labels longer than this are cut (the full text stays in the entry's tooltip).
const LEGEND_CHARS: usize = 56;

/// A value with four significant digits (`0.01234`, `12.34`, `1.234e-7`).
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor();
    if (-4.0..6.0).contains(&mag) {
        let decimals = (3.0 - mag).max(0.0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// A tick label: as few digits as the tick needs (`0.002`, `5`, `20`, `1e-5`).
fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&mag) {
        return format!("{v:e}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// An axis: its range and ticks, linear or logarithmic.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Lowest value shown.
    pub lo: f64,
    /// Highest value shown.
    pub hi: f64,
    /// Logarithmic.
    pub log: bool,
    /// Tick values, ascending, within `[lo, hi]`.
    pub ticks: Vec<f64>,
}

impl Axis {
    /// An axis that shows `values` (finite ones; positive ones when `log`), widened to round
    /// numbers: on a log axis to 1, 2 or 5 × 10^k with ticks there (decades alone when those
    /// would be too many, finer round numbers over about a decade or less); on a linear one to
    /// a multiple of a 1-, 2- or 5-step (whole steps when `integer`; a single whole value gets
    /// half a step either side). `None` when no value qualifies.
    pub fn fit(values: impl IntoIterator<Item = f64>, log: bool, integer: bool) -> Option<Axis> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            if v.is_finite() && (!log || v > 0.0) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if lo > hi {
            return None;
        }
        if log {
            if hi / lo < 1.000_001 {
                lo /= 2.0;
                hi *= 2.0;
            }
            let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
            let mut nice: Vec<f64> = Vec::new();
            for k in k0..=k1 {
                for m in [1.0, 2.0, 5.0] {
                    nice.push(m * 10f64.powi(k));
                }
            }
            // Tolerance for values that are round numbers up to floating-point error.
            let eps = 1e-9;
            let a = nice
                .iter()
                .copied()
                .filter(|&n| n <= lo * (1.0 + eps))
                .fold(nice[0], f64::max);
            let b = nice
                .iter()
                .copied()
                .filter(|&n| n >= hi * (1.0 - eps))
                .fold(nice[nice.len() - 1], f64::min);
            let mut ticks: Vec<f64> = nice.into_iter().filter(|&n| n >= a && n <= b).collect();
            if ticks.len() > 8 {
                // Many decades: decades alone.
                ticks.retain(|&t| {
                    let l = t.log10();
                    (l - l.round()).abs() < 1e-9
                });
            }
            if ticks.len() >= 4 || (ticks.len() > 2 && hi / lo > 100.0) {
                return Some(Axis {
                    lo: a,
                    hi: b,
                    log: true,
                    ticks,
                });
            }
            // About a decade or less: finer round numbers, within tighter bounds.
            let series = |ms: &[f64]| -> Vec<f64> {
                (k0..=k1)
                    .flat_map(|k| ms.iter().map(move |m| m * 10f64.powi(k)))
                    .collect()
            };
            let fine = series(&[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
            let a = fine
                .iter()
                .copied()
                .filter(|&n| n <= lo * (1.0 + eps))
                .fold(fine[0], f64::max);
            let b = fine
                .iter()
                .copied()
                .filter(|&n| n >= hi * (1.0 - eps))
                .fold(fine[fine.len() - 1], f64::min);
            let mut ticks: Vec<f64> = fine.into_iter().filter(|&n| n >= a && n <= b).collect();
            if ticks.len() > 8 {
                // Labels that close would collide: 1, 2, 3 and 5 of each decade.
                ticks = series(&[1.0, 2.0, 3.0, 5.0])
                    .into_iter()
                    .filter(|&n| n >= a * (1.0 - eps) && n <= b * (1.0 + eps))
                    .collect();
            }
            Some(Axis {
                lo: a,
                hi: b,
                log: true,
                ticks,
            })
        } else {
            if hi - lo < 1e-12 * hi.abs().max(1.0) {
                if integer {
                    // One epoch: half a step either side, its tick alone.
                    return Some(Axis {
                        lo: lo - 0.5,
                        hi: hi + 0.5,
                        log: false,
                        ticks: if lo.fract() == 0.0 {
                            vec![lo]
                        } else {
                            Vec::new()
                        },
                    });
                }
                lo -= 0.5 * lo.abs().max(1.0);
                hi += 0.5 * hi.abs().max(1.0);
            }
            let raw = (hi - lo) / 6.0;
            let p = 10f64.powf(raw.log10().floor());
            let mut step = [1.0, 2.0, 5.0, 10.0]
                .into_iter()
                .map(|m| m * p)
                .find(|&s| s >= raw)
                .unwrap_or(10.0 * p);
            if integer {
                step = step.max(1.0).round();
            }
            let a = (lo / step).floor() * step;
            let b = (hi / step).ceil() * step;
            let n = ((b - a) / step).round() as usize;
            // Snapped to the step's digits: no 1e-17 for a tick at zero.
            let ticks = (0..=n)
                .map(|i| {
                    let t = a + step * i as f64;
                    if t.abs() < step * 1e-9 {
                        0.0
                    } else {
                        t
                    }
                })
                .collect();
            Some(Axis {
                lo: a,
                hi: b,
                log: false,
                ticks,
            })
        }
    }

    /// Where `v` falls between `lo` (0) and `hi` (1).
    pub fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

/// A curve's points split into drawable segments: runs of consecutive points with finite
/// coordinates (and a positive value on a log axis).
fn segments(points: &[(f64, f64)], log: bool) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for &(x, y) in points {
        if x.is_finite() && y.is_finite() && (!log || y > 0.0) {
            current.push((x, y));
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The chart as an inline `<svg>` that scales to its container's width: axes with ticks and
/// grid lines, one polyline per curve (its run's name on hover), a marker per point whose
/// tooltip (`<title>`, turned into the page's own tooltip by its script) gives the run, the
/// epoch and the value, and a legend below. Non-finite values (and non-positive ones on a log
/// axis) are left out and break their line; with nothing to draw, the axes frame a note.
pub fn svg_chart(chart: &Chart) -> String {
    let valid = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!chart.log_y || y > 0.0);
    let all: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| &s.curves)
        .flat_map(|c| c.points.iter().copied())
        .filter(valid)
        .collect();
    let x_axis = Axis::fit(all.iter().map(|p| p.0), false, true);
    let y_axis = Axis::fit(all.iter().map(|p| p.1), chart.log_y, false);

    let plot_w = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT;
    let plot_bottom = PLOT_TOP + PLOT_HEIGHT;
    // Legend: columns as wide as the longest label allows.
    let labels: Vec<String> = chart
        .series
        .iter()
        .map(|s| {
            if s.label.chars().count() > LEGEND_CHARS {
                let cut: String = s.label.chars().take(LEGEND_CHARS - 1).collect();
                format!("{cut}…")
            } else {
                s.label.clone()
            }
        })
        .collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let col_w = (24.0 + longest as f64 * CHAR_WIDTH).min(CHART_WIDTH - 20.0);
    let cols = ((CHART_WIDTH - 20.0) / col_w).floor().max(1.0) as usize;
    let rows = labels.len().div_ceil(cols);
    let legend_top = plot_bottom + 44.0;
    let height = legend_top + rows as f64 * LEGEND_ROW + 6.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {CHART_WIDTH} {height:.0}\" role=\"img\" aria-label=\"{}\">",
        escape(&chart.title)
    );
    let _ = writeln!(s, "<title>{}</title>", escape(&chart.title));
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{CHART_WIDTH}\" height=\"{height:.0}\" fill=\"#fff\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"18\" text-anchor=\"middle\" class=\"ct\">{}</text>",
        PLOT_LEFT + plot_w / 2.0,
        escape(&chart.title)
    );
    let (Some(xa), Some(ya)) = (x_axis, y_axis) else {
        let _ = writeln!(
            s,
            "<rect x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{plot_w}\" height=\"{PLOT_HEIGHT}\" class=\"frame\"/>"
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"note\">no finite values to draw</text>",
            PLOT_LEFT + plot_w / 2.0,
            PLOT_TOP + PLOT_HEIGHT / 2.0
        );
        legend(&mut s, &chart.series, &labels, cols, col_w, legend_top);
        s.push_str("</svg>\n");
        return s;
    };
    let px = |x: f64| PLOT_LEFT + xa.frac(x) * plot_w;
    let py = |y: f64| plot_bottom - ya.frac(y) * PLOT_HEIGHT;

    // Grid and ticks.
    s.push_str("<g class=\"grid\">\n");
    for &t in &ya.ticks {
        let y = py(t);
        let _ = writeln!(
            s,
            "<line x1=\"{PLOT_LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>",
            PLOT_LEFT + plot_w
        );
    }
    for &t in &xa.ticks {
        let x = px(t);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{PLOT_TOP}\" x2=\"{x:.1}\" y2=\"{plot_bottom}\"/>"
        );
    }
    s.push_str("</g>\n<g class=\"ticks\">\n");
    for &t in &ya.ticks {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            PLOT_LEFT - 5.0,
            py(t) + 4.0,
            fmt_tick(t)
        );
    }
    for &t in &xa.ticks {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            px(t),
            plot_bottom + 15.0,
            fmt_tick(t)
        );
    }
    s.push_str("</g>\n");
    let _ = writeln!(
        s,
        "<rect x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{plot_w}\" height=\"{PLOT_HEIGHT}\" class=\"frame\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"al\">{}</text>",
        PLOT_LEFT + plot_w / 2.0,
        plot_bottom + 32.0,
        escape(&chart.x_desc)
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" class=\"al\">{}</text>",
        PLOT_TOP + PLOT_HEIGHT / 2.0,
        escape(&chart.y_desc)
    );

    // Curves, then their markers on top.
    let series_labels: Vec<&str> = chart.series.iter().map(|x| x.label.as_str()).collect();
    let colours = plot::series_colours(&series_labels);
    for (i, series) in chart.series.iter().enumerate() {
        let c = colours[i];
        let colour = format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2);
        let _ = writeln!(s, "<g stroke=\"{colour}\" fill=\"{colour}\">");
        for curve in &series.curves {
            let name = escape(&curve.name);
            for seg in segments(&curve.points, chart.log_y) {
                if seg.len() < 2 {
                    continue;
                }
                let pts: Vec<String> = seg
                    .iter()
                    .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                    .collect();
                let _ = writeln!(
                    s,
                    "<polyline class=\"curve\" points=\"{}\"><title>{name}</title></polyline>",
                    pts.join(" ")
                );
            }
            for &(x, y) in curve.points.iter().filter(|&p| valid(p)) {
                let _ = writeln!(
                    s,
                    "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{name}: epoch {}, {} {}</title></circle>",
                    px(x),
                    py(y),
                    fmt_tick(x),
                    escape(&chart.value_name),
                    fmt_value(y)
                );
            }
        }
        s.push_str("</g>\n");
    }
    legend(&mut s, &chart.series, &labels, cols, col_w, legend_top);
    s.push_str("</svg>\n");
    s
}

/// The legend: a coloured line and the (cut) label per series, in `cols` columns.
fn legend(
    s: &mut String,
    series: &[ChartSeries],
    labels: &[String],
    cols: usize,
    col_w: f64,
    top: f64,
) {
    s.push_str("<g class=\"legend\">\n");
    let names: Vec<&str> = series.iter().map(|x| x.label.as_str()).collect();
    let colours = plot::series_colours(&names);
    for (i, (series, label)) in series.iter().zip(labels).enumerate() {
        let c = colours[i];
        let x = 10.0 + (i % cols) as f64 * col_w;
        let y = top + (i / cols) as f64 * LEGEND_ROW;
        let _ = writeln!(
            s,
            "<g><title>{}</title><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#{:02x}{:02x}{:02x}\" stroke-width=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            escape(&series.label),
            y - 4.0,
            x + 18.0,
            y - 4.0,
            c.0,
            c.1,
            c.2,
            x + 22.0,
            y,
            escape(label)
        );
    }
    s.push_str("</g>\n");
}

/// What a run looked like when the report was written: its result and its `run.json`.
#[derive(Debug, Clone)]
pub struct RunEntry {
    /// Its name.
    pub name: String,
    /// Its directory, relative to the report's folder.
    pub dir: PathBuf,
    /// `complete`, `diverged at epoch k`, …
    pub status: String,
    /// Its epochs.
    pub history: History,
    /// `run.json`, or why it could not be read.
    pub record: std::result::Result<RunRecord, String>,
    /// The run's files that exist, relative to the report's folder (`run.json`, `history.csv`,
    /// `loss.png`, `dynamics.png`, …).
    pub files: Vec<PathBuf>,
}

/// The files of a run directory the report links to when they exist.
const RUN_FILES: [&str; 6] = [
    "loss.png",
    rundir::DYNAMICS_PNG,
    "run.json",
    "history.csv",
    "dynamics.csv",
    "model.safetensors",
];

/// One entry per run, its paths relative to `base` (the report's folder), its `run.json` read.
pub fn run_entries(base: &Path, runs: &[RunResult]) -> Vec<RunEntry> {
    runs.iter()
        .map(|r| {
            let dir = relative_path(base, &r.run.dir);
            RunEntry {
                name: r.run.name.clone(),
                files: RUN_FILES
                    .iter()
                    .filter(|f| r.run.dir.join(f).is_file())
                    .map(|f| dir.join(f))
                    .collect(),
                dir,
                status: r.status_text(),
                history: r.history.clone(),
                record: rundir::read_record(&r.run.dir).map_err(|e| format!("{e:#}")),
            }
        })
        .collect()
}

/// The charts of a plan's runs: test error % (log scale) and train cost (log scale) per epoch,
/// plus validation error % when a run held out a validation split. Runs are grouped as in the
/// PNG charts ([`crate::experiments::compare::seed_groups`]: consecutive runs with the same `label`), one
/// colour and legend entry per group, one line per run.
pub fn run_charts(runs: &[RunResult], label: impl Fn(&RunResult) -> String) -> Vec<Chart> {
    let groups = crate::experiments::compare::seed_groups(runs, &label);
    let series = |f: &dyn Fn(&EpochRecord) -> Option<f64>| -> Vec<ChartSeries> {
        let mut rest = runs.iter();
        groups
            .iter()
            .map(|g| ChartSeries {
                label: g.label.clone(),
                curves: rest
                    .by_ref()
                    .take(g.histories.len())
                    .map(|r| Curve {
                        name: r.run.name.clone(),
                        points: r
                            .history
                            .epochs
                            .iter()
                            .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    };
    let mut charts = vec![
        Chart {
            title: "test error".into(),
            x_desc: "epoch".into(),
            y_desc: "test error % (log scale)".into(),
            value_name: "test error %".into(),
            log_y: true,
            series: series(&|e| Some(e.test_error_percent())),
        },
        Chart {
            title: "train cost".into(),
            x_desc: "epoch".into(),
            y_desc: "train cost (log scale)".into(),
            value_name: "train cost".into(),
            log_y: true,
            series: series(&|e| Some(e.train_cost)),
        },
    ];
    let validated = runs
        .iter()
        .flat_map(|r| &r.history.epochs)
        .any(|e| e.validation_accuracy.is_some());
    if validated {
        charts.push(Chart {
            title: "validation error".into(),
            x_desc: "epoch".into(),
            y_desc: "validation error % (log scale)".into(),
            value_name: "validation error %".into(),
            log_y: true,
            series: series(&|e| e.validation_accuracy.map(|a| 100.0 * (1.0 - a))),
        });
    }
    charts
}

/// A piece of a [`Report`].
#[derive(Debug, Clone)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// A paragraph of plain text; text between backticks is set as code, text between `**` in
    /// bold.
    Text(String),
    /// A table.
    Table(Table),
    /// Charts side by side (stacked on a narrow screen).
    Charts(Vec<Chart>),
    /// A picture, its path relative to the report's folder.
    Image {
        /// The picture.
        path: PathBuf,
        /// What it shows.
        alt: String,
    },
    /// Links to files, `(text, path relative to the report's folder)`.
    Links(Vec<(String, PathBuf)>),
    /// One collapsible section per run: configuration, versions, epochs, links.
    Runs(Vec<RunEntry>),
}

/// A report page: a title and its blocks.
#[derive(Debug, Clone)]
pub struct Report {
    /// The page's title and first heading.
    pub title: String,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
}

/// Links to those of `names` that exist in `base`.
pub fn existing_files(base: &Path, names: &[&str]) -> Block {
    Block::Links(
        names
            .iter()
            .filter(|n| base.join(n).is_file())
            .map(|n| (n.to_string(), PathBuf::from(n)))
            .collect(),
    )
}

/// The page's inline style sheet: a narrow-screen-friendly column, tables that scroll sideways,
/// charts as wide as their box.
const STYLE: &str = "\
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1d1d1f;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"DejaVu Sans\",sans-serif}
main{max-width:1000px;margin:0 auto;padding:12px 16px 40px}
h1{font-size:1.5em;margin:.4em 0}
h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
p{margin:.5em 0}
code,pre{font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;font-size:.9em}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0}
table{border-collapse:collapse;font-size:14px}
th,td{padding:3px 9px;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap;vertical-align:top}
th{background:#f6f6f6;white-space:normal;min-width:4em;vertical-align:bottom}
.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(290px,1fr));gap:10px;margin:.5em 0}
svg.chart{display:block;width:100%;height:auto;font-size:12px;font-family:inherit}
svg .ct{font-size:14px;font-weight:600}
svg .al{font-size:12px;fill:#444}
svg .note{fill:#888}
svg .grid line{stroke:#e6e6e6;stroke-width:1}
svg .frame{fill:none;stroke:#888;stroke-width:1}
svg .ticks text{fill:#444;font-size:11px}
svg .legend text{font-size:12px}
svg .curve{fill:none;stroke-width:1.8;stroke-linejoin:round}
svg .curve:hover{stroke-width:3.5}
svg .pt{stroke:transparent;stroke-width:9}
svg .pt:hover{r:5}
details{border:1px solid #ddd;border-radius:5px;margin:6px 0;padding:4px 10px}
details[open]{padding-bottom:10px}
summary{cursor:pointer;overflow-wrap:anywhere}
ul.links{padding-left:1.2em;margin:.3em 0}
img{max-width:100%;height:auto}
a{color:#0b57d0}
#tip{position:fixed;z-index:10;display:none;pointer-events:none;max-width:80vw;background:#222;color:#fff;padding:3px 7px;border-radius:4px;font-size:13px}
footer{margin-top:2em;color:#777;font-size:13px}
";

/// The page's script: turns the markers' `<title>`s into a tooltip that follows the pointer
/// (also on touch), and marks the page `data-js="ok"` once it has run (the browser check looks
/// for it).
const SCRIPT: &str = "\
(function () {
  var tip = document.getElementById('tip');
  if (!tip) { return; }
  var titled = document.querySelectorAll('svg .pt > title, svg .curve > title');
  for (var i = 0; i < titled.length; i++) {
    var t = titled[i];
    t.parentNode.setAttribute('data-tip', t.textContent);
    t.parentNode.removeChild(t);
  }
  function hide() { tip.style.display = 'none'; }
  function show(e) {
    var el = e.target && e.target.closest ? e.target.closest('[data-tip]') : null;
    if (!el) { hide(); return; }
    tip.textContent = el.getAttribute('data-tip');
    tip.style.display = 'block';
    var x = e.clientX + 12, y = e.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 4) { x = Math.max(4, e.clientX - tip.offsetWidth - 12); }
    if (y + tip.offsetHeight > window.innerHeight - 4) { y = Math.max(4, e.clientY - tip.offsetHeight - 14); }
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  document.addEventListener('pointermove', show);
  document.addEventListener('pointerdown', show);
  document.addEventListener('scroll', hide, true);
  document.documentElement.setAttribute('data-js', 'ok');
})();
";

/// Plain text with `code` spans and **bold** spans, escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
            continue;
        }
        for (j, piece) in part.split("**").enumerate() {
            if j % 2 == 1 {
                let _ = write!(out, "<strong>{}</strong>", escape(piece));
            } else {
                out.push_str(&escape(piece));
            }
        }
    }
    out
}

/// A JSON value's scalars as `(dotted key, text)` rows; arrays of scalars stay on one row.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten(&key(k), v, out);
            }
        }
        serde_json::Value::Array(items) if items.iter().any(|i| i.is_object()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&key(&i.to_string()), v, out);
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        serde_json::Value::Null => out.push((prefix.to_string(), "—".into())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// A key/value table of `(key, value)` rows.
fn kv_table(rows: &[(String, String)]) -> String {
    let mut t = Table::new(&[("setting", false), ("value", false)]);
    for (k, v) in rows {
        t.push(vec![k.as_str().into(), v.as_str().into()]);
    }
    t.html()
}

/// One run's `<details>`.
fn run_details(h: &mut String, run: &RunEntry) {
    let last = run
        .history
        .last()
        .map(|e| format!(", final test error {:.2} %", e.test_error_percent()))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<details><summary><strong>{}</strong> — {}{}</summary>",
        escape(&run.name),
        escape(&run.status),
        escape(&last)
    );
    let _ = write!(
        h,
        "<ul class=\"links\"><li>run directory: <a href=\"{}/\">{}</a></li>",
        href(&run.dir),
        escape(&run.dir.display().to_string())
    );
    for f in &run.files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = write!(h, "<li><a href=\"{}\">{}</a></li>", href(f), escape(&name));
    }
    h.push_str("</ul>\n");
    match &run.record {
        Ok(record) => {
            let mut config = Vec::new();
            if let Ok(v) = serde_json::to_value(&record.spec) {
                flatten("", &v, &mut config);
            }
            h.push_str("<p>Configuration (<code>run.json</code>'s spec):</p>\n");
            h.push_str(&kv_table(&config));
            let mut prov = Vec::new();
            if let Ok(v) = serde_json::to_value(&record.provenance) {
                flatten("", &v, &mut prov);
            }
            prov.push(("status".into(), record.status.name().into()));
            if let Some(d) = &record.detail {
                if let Ok(v) = serde_json::to_value(d) {
                    flatten("detail", &v, &mut prov);
                }
            }
            prov.push(("spec hash".into(), record.hash.clone()));
            prov.push(("started".into(), record.started.clone()));
            prov.push((
                "ended".into(),
                record.ended.clone().unwrap_or_else(|| "—".into()),
            ));
            prov.push(("seconds".into(), format!("{:.1}", record.seconds)));
            h.push_str("<p>Versions and machine:</p>\n");
            h.push_str(&kv_table(&prov));
        }
        Err(e) => {
            let _ = writeln!(h, "<p>No readable <code>run.json</code>: {}</p>", escape(e));
        }
    }
    if !run.history.epochs.is_empty() {
        let validated = run
            .history
            .epochs
            .iter()
            .any(|e| e.validation_accuracy.is_some());
        let mut cols = vec![
            ("epoch", true),
            ("train cost", true),
            ("test loss", true),
            ("test accuracy", true),
            ("test error %", true),
            ("seconds", true),
        ];
        if validated {
            cols.push(("validation loss", true));
            cols.push(("validation accuracy", true));
        }
        let mut t = Table::new(&cols);
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or("—".into());
        for e in &run.history.epochs {
            let mut row: Vec<Cell> = vec![
                e.epoch.to_string().into(),
                format!("{:.9}", e.train_cost).into(),
                format!("{:.6}", e.test_loss).into(),
                format!("{:.4}", e.test_accuracy).into(),
                format!("{:.2}", e.test_error_percent()).into(),
                format!("{:.2}", e.seconds).into(),
            ];
            if validated {
                row.push(opt(e.validation_loss, &|v| format!("{v:.6}")).into());
                row.push(opt(e.validation_accuracy, &|v| format!("{v:.4}")).into());
            }
            t.push(row);
        }
        h.push_str("<p>Epochs:</p>\n");
        h.push_str(&t.html());
    }
    h.push_str("</details>\n");
}

/// The page: a viewport meta tag, a content security policy that allows nothing from the
/// network, inline style and script, the blocks in a narrow-screen-friendly container. Every
/// text from data is escaped; links are relative.
pub fn render(report: &Report) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // The page loads nothing but its own inline style and script and local pictures: a browser
    // refuses anything else (and says so in its console).
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' file: data:\">\n",
    );
    let _ = writeln!(h, "<title>{}</title>", escape(&report.title));
    let _ = writeln!(h, "<style>\n{STYLE}</style>\n</head>\n<body>\n<main>");
    let _ = writeln!(h, "<h1>{}</h1>", escape(&report.title));
    for block in &report.blocks {
        match block {
            Block::Heading(t) => {
                let _ = writeln!(h, "<h2>{}</h2>", escape(t));
            }
            Block::Text(t) => {
                let _ = writeln!(h, "<p>{}</p>", inline(t));
            }
            Block::Table(t) => h.push_str(&t.html()),
            Block::Charts(charts) => {
                h.push_str("<div class=\"charts\">\n");
                for c in charts {
                    h.push_str("<figure style=\"margin:0\">\n");
                    h.push_str(&svg_chart(c));
                    h.push_str("</figure>\n");
                }
                h.push_str("</div>\n");
            }
            Block::Image { path, alt } => {
                let _ = writeln!(
                    h,
                    "<p><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\" loading=\"lazy\"></a></p>",
                    href(path),
                    escape(alt)
                );
            }
            Block::Links(links) => {
                if links.is_empty() {
                    continue;
                }
                h.push_str("<p>Files: ");
                let items: Vec<String> = links
                    .iter()
                    .map(|(text, path)| format!("<a href=\"{}\">{}</a>", href(path), escape(text)))
                    .collect();
                h.push_str(&items.join(" · "));
                h.push_str("</p>\n");
            }
            Block::Runs(runs) => {
                for r in runs {
                    run_details(&mut h, r);
                }
            }
        }
    }
    let _ = writeln!(
        h,
        "<footer>Written by initlab {}. Hover over (or tap) a point for its value.</footer>",
        escape(env!("CARGO_PKG_VERSION"))
    );
    h.push_str("</main>\n<div id=\"tip\" role=\"tooltip\"></div>\n");
    let _ = writeln!(h, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    h
}

/// Writes the page to `path` atomically.
pub fn write(report: &Report, path: &Path) -> Result<()> {
    io::write_atomic(path, render(report).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(f64, f64)>, log_y: bool) -> Chart {
        Chart {
            title: "t".into(),
            x_desc: "epoch".into(),
            y_desc: "y".into(),
            value_name: "v".into(),
            log_y,
            series: vec![ChartSeries {
                label: "a".into(),
                curves: vec![Curve {
                    name: "run a".into(),
                    points,
                }],
            }],
        }
    }

    #[test]
    fn escape_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("σ_w² 1.5\tok\n"), "σ_w² 1.5\tok\n");
        assert_eq!(escape("a\u{0}b\u{1b}c"), "a\u{FFFD}b\u{FFFD}c");
        // Already escaped text is escaped again, not trusted.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn hrefs_are_percent_encoded_per_component() {
        assert_eq!(
            href(Path::new("runs/normal-seed777-ab12")),
            "runs/normal-seed777-ab12"
        );
        assert_eq!(
            href(Path::new("a b/<x>\"&'#?%.png")),
            "a%20b/%3Cx%3E%22%26%27%23%3F%25.png"
        );
        assert_eq!(href(Path::new("../up/σ")), "../up/%CF%83");
        assert_eq!(href(Path::new("")), ".");
    }

    #[test]
    fn relative_paths_go_below_or_through_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("out");
        let run = base.join("runs").join("x");
        let other = tmp.path().join("elsewhere");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        assert_eq!(relative_path(&base, &run), PathBuf::from("runs/x"));
        assert_eq!(relative_path(&base, &base), PathBuf::from("."));
        assert_eq!(relative_path(&base, &other), PathBuf::from("../elsewhere"));
    }

    #[test]
    fn tables_render_the_same_cells_as_markdown_and_html() {
        let mut t = Table::new(&[("init", false), ("p", true)]);
        t.push(vec!["a<b".into(), Cell::strong("0.001")]);
        t.push(vec![
            Cell::link("run & co", PathBuf::from("runs/r 1")),
            "—".into(),
        ]);
        assert_eq!(
            t.markdown(),
            "| init | p |\n|---|---:|\n| a<b | **0.001** |\n| run & co | — |\n"
        );
        let h = t.html();
        assert!(h.contains("<td>a&lt;b</td><td class=\"num\"><strong>0.001</strong></td>"));
        assert!(h.contains("<a href=\"runs/r%201\">run &amp; co</a>"), "{h}");
        assert!(h.contains("<th class=\"num\">p</th>"));
    }

    #[test]
    fn log_axis_spans_round_numbers_with_ticks() {
        let a = Axis::fit([3.2, 47.0], true, false).unwrap();
        assert_eq!((a.lo, a.hi), (2.0, 50.0));
        assert_eq!(a.ticks, vec![2.0, 5.0, 10.0, 20.0, 50.0]);
        assert!((a.frac(10.0) - (5f64.log10() / 25f64.log10())).abs() < 1e-12);
        // Many decades: decades only.
        let b = Axis::fit([0.001, 90.0], true, false).unwrap();
        assert_eq!(b.ticks, vec![0.001, 0.01, 0.1, 1.0, 10.0, 100.0]);
        // Exact round values stay the bounds; non-positive and non-finite values are ignored.
        let c = Axis::fit([1.0, 10.0, 0.0, -3.0, f64::NAN, f64::INFINITY], true, false).unwrap();
        assert_eq!((c.lo, c.hi), (1.0, 10.0));
        // Less than a decade: finer round ticks.
        let e = Axis::fit([51.0, 89.0], true, false).unwrap();
        assert_eq!((e.lo, e.hi), (50.0, 90.0));
        assert_eq!(e.ticks, vec![50.0, 60.0, 70.0, 80.0, 90.0]);
        let f = Axis::fit([2.0, 10.0], true, false).unwrap();
        assert_eq!(f.ticks, vec![2.0, 3.0, 5.0, 10.0]);
        // Three decades: the decades.
        let g = Axis::fit([2.09, 1711.0], true, false).unwrap();
        assert_eq!((g.lo, g.hi), (2.0, 2000.0));
        assert_eq!(g.ticks, vec![10.0, 100.0, 1000.0]);
        // One value: widened around it.
        let d = Axis::fit([4.0], true, false).unwrap();
        assert!(d.lo < 4.0 && d.hi > 4.0 && !d.ticks.is_empty());
        assert!(Axis::fit([0.0, f64::NAN], true, false).is_none());
    }

    #[test]
    fn linear_axis_for_epochs_has_whole_ticks() {
        let a = Axis::fit([1.0, 15.0], false, true).unwrap();
        assert!(a.ticks.iter().all(|t| t.fract() == 0.0));
        assert!(a.lo <= 1.0 && a.hi >= 15.0);
        // A single epoch: the axis is widened, its ticks still whole.
        let b = Axis::fit([1.0], false, true).unwrap();
        assert_eq!((b.lo, b.hi, b.ticks.clone()), (0.5, 1.5, vec![1.0]));
        // A constant value on a plain linear axis: widened around it.
        let c = Axis::fit([3.0, 3.0], false, false).unwrap();
        assert!(c.lo < 3.0 && c.hi > 3.0 && c.ticks.len() >= 3, "{c:?}");
    }

    #[test]
    fn svg_draws_a_line_and_markers_with_values_on_hover() {
        let s = svg_chart(&chart(vec![(1.0, 12.5), (2.0, 6.0), (3.0, 3.1)], true));
        assert!(
            s.starts_with("<svg class=\"chart\" viewBox=\"0 0 480 "),
            "{s}"
        );
        assert_eq!(s.matches("<polyline").count(), 1);
        assert_eq!(s.matches("<circle").count(), 3);
        assert!(s.contains("<title>run a: epoch 2, v 6.000</title>"), "{s}");
        // Log ticks at 2, 5, 10, 20 and the legend.
        for tick in [">2<", ">5<", ">10<", ">20<"] {
            assert!(s.contains(tick), "{tick} in {s}");
        }
        assert!(s.contains("class=\"legend\"") && s.contains(">a</text>"));
        assert!(s.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn svg_leaves_out_non_finite_values_and_breaks_the_line() {
        let s = svg_chart(&chart(
            vec![
                (1.0, 50.0),
                (2.0, 20.0),
                (3.0, f64::NAN),
                (4.0, 8.0),
                (5.0, f64::INFINITY),
                (6.0, 0.0),
                (7.0, 4.0),
                (8.0, 3.0),
            ],
            true,
        ));
        assert_eq!(s.matches("<circle").count(), 5);
        // 1–2 and 7–8 are lines; 4 stands alone (a marker only).
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(!s.contains("NaN") && !s.contains("inf"), "{s}");
    }

    #[test]
    fn svg_of_a_single_epoch_and_of_nothing() {
        let one = svg_chart(&chart(vec![(1.0, 0.25)], true));
        assert_eq!(one.matches("<circle").count(), 1);
        assert_eq!(one.matches("<polyline").count(), 0);
        assert!(one.contains("epoch 1, v 0.2500"), "{one}");
        assert!(!one.contains("NaN"));
        let none = svg_chart(&chart(vec![(1.0, f64::NAN), (2.0, -1.0)], true));
        assert!(none.contains("no finite values to draw"));
        assert_eq!(none.matches("<circle").count(), 0);
        assert!(none.trim_end().ends_with("</svg>"));
        let empty = svg_chart(&Chart {
            series: Vec::new(),
            ..chart(Vec::new(), false)
        });
        assert!(empty.contains("no finite values to draw"));
    }

    #[test]
    fn svg_escapes_names_and_labels() {
        let mut c = chart(vec![(1.0, 1.0), (2.0, 2.0)], false);
        c.title = "<script>alert(1)</script>".into();
        c.series[0].label = "a \"quoted\" & <b>".into();
        c.series[0].curves[0].name = "run <x>".into();
        let s = svg_chart(&c);
        assert!(!s.contains("<script>") && !s.contains("<b>") && !s.contains("run <x>"));
        assert!(s.contains("&lt;script&gt;") && s.contains("a &quot;quoted&quot; &amp; &lt;b&gt;"));
    }

    #[test]
    fn values_and_ticks_are_short() {
        assert_eq!(fmt_value(12.3456), "12.35");
        assert_eq!(fmt_value(0.0012345), "0.001234");
        assert_eq!(fmt_value(2.5e-9), "2.500e-9");
        assert_eq!(fmt_tick(0.002), "0.002");
        assert_eq!(fmt_tick(20.0), "20");
        assert_eq!(fmt_tick(1e-5), "1e-5");
    }

    #[test]
    fn page_is_self_contained_and_escaped() {
        let report = Report {
            title: "T <&>".into(),
            blocks: vec![
                Block::Text("see `a<b` here, **bold** & plain".into()),
                Block::Charts(vec![chart(vec![(1.0, 1.0)], true)]),
                Block::Links(vec![("x y".into(), PathBuf::from("x y.md"))]),
            ],
        };
        let h = render(&report);
        assert!(h.contains("<meta name=\"viewport\""));
        assert!(h.contains("Content-Security-Policy\" content=\"default-src 'none';"));
        assert!(h.contains("<title>T &lt;&amp;&gt;</title>"));
        assert!(h.contains("see <code>a&lt;b</code> here, <strong>bold</strong> &amp; plain"));
        assert!(h.contains("<a href=\"x%20y.md\">x y</a>"));
        assert!(!h.contains("http:") && !h.contains("https:"));
    }
}
