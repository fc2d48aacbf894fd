//! `report.html`: one self-contained page per `lab`, `compare` and `study` that opens offline —
//! no network, no external scripts, fonts or stylesheets. Its charts are inline SVG drawn here
//! ([`svg_chart`]: one polyline per run over epochs, log axes with ticks, a legend, and a marker
//! per epoch whose value shows on hover); its tables are the same [`Table`]s the Markdown
//! summaries are written from, so both show the same numbers; each run's configuration and
//! versions (from its `run.json`) sit in a collapsible `<details>`, with relative links to the run
//! directory and its pictures.
//!
//! The planners assemble a [`Report`] out of [`Block`]s; [`render`] turns it into HTML, escaping
//! every text that comes from data ([`escape`]), and [`write()`] writes it atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::base::output::chart::axis::{tick_label, value_label, Axis};
use crate::base::output::chart::style::{hex, series_strokes};
use crate::base::output::io;
use crate::base::output::table::{escape, href, Cell, Table};
use crate::base::train::{EpochRecord, History};
use crate::engine::executor::RunResult;
use crate::engine::rundir::{self, RunRecord};

/// The file name of the page, beside `report.md`/`summary.md`.
pub const REPORT_FILE: &str = "report.html";

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
    /// ([`series_strokes`]): colour by init, dashed for a deep model.
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

/// The plot area of an SVG chart and its axes: where a value goes, in SVG units.
struct Plot {
    x: Axis,
    y: Axis,
}

impl Plot {
    /// The plot area's width.
    const WIDTH: f64 = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT;
    /// The plot area's bottom edge.
    const BOTTOM: f64 = PLOT_TOP + PLOT_HEIGHT;

    /// The horizontal position of `x`.
    fn px(&self, x: f64) -> f64 {
        PLOT_LEFT + self.x.frac(x) * Plot::WIDTH
    }

    /// The vertical position of `y`.
    fn py(&self, y: f64) -> f64 {
        Plot::BOTTOM - self.y.frac(y) * PLOT_HEIGHT
    }
}

/// The legend's labels (cut to [`LEGEND_CHARS`]) and its columns, as wide as the longest label
/// allows, below the plot.
struct LegendGrid {
    labels: Vec<String>,
    cols: usize,
    col_w: f64,
    top: f64,
}

impl LegendGrid {
    /// The legend of `series`.
    fn of(series: &[ChartSeries]) -> LegendGrid {
        let labels: Vec<String> = series
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
        LegendGrid {
            labels,
            cols,
            col_w,
            top: Plot::BOTTOM + 44.0,
        }
    }

    /// The chart's height with this legend below the plot.
    fn chart_height(&self) -> f64 {
        self.top + self.labels.len().div_ceil(self.cols) as f64 * LEGEND_ROW + 6.0
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

/// The axes of `chart` (the shared rules of [`Axis::fit`]: whole epochs on x, round numbers on
/// a log or linear y); `None` when no point can be drawn.
fn chart_axes(chart: &Chart) -> Option<Plot> {
    let y_ok = |y: f64| y.is_finite() && (!chart.log_y || y > 0.0);
    let all: Vec<(f64, f64)> = chart
        .series
        .iter()
        .flat_map(|s| &s.curves)
        .flat_map(|c| c.points.iter().copied())
        .filter(|&(x, y)| x.is_finite() && y_ok(y))
        .collect();
    Some(Plot {
        x: Axis::fit(all.iter().map(|p| p.0), false, true)?,
        y: Axis::fit(all.iter().map(|p| p.1), chart.log_y, false)?,
    })
}

/// The chart as an inline `<svg>` that scales to its container's width: axes with ticks and
/// grid lines, one polyline per curve (its run's name on hover), a marker per point whose
/// tooltip (`<title>`, turned into the page's own tooltip by its script) gives the run, the
/// epoch and the value, and a legend below. Non-finite values (and non-positive ones on a log
/// axis) are left out and break their line; with nothing to draw, the axes frame a note.
pub fn svg_chart(chart: &Chart) -> String {
    let grid = LegendGrid::of(&chart.series);
    let height = grid.chart_height();
    let title = escape(&chart.title);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {CHART_WIDTH} {height:.0}\" role=\"img\" aria-label=\"{title}\">"
    );
    let _ = writeln!(s, "<title>{title}</title>");
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{CHART_WIDTH}\" height=\"{height:.0}\" fill=\"#fff\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"18\" text-anchor=\"middle\" class=\"ct\">{title}</text>",
        PLOT_LEFT + Plot::WIDTH / 2.0
    );
    match chart_axes(chart) {
        Some(plot) => {
            svg_axes(&mut s, &plot, chart);
            svg_curves(&mut s, &plot, chart);
        }
        None => svg_empty(&mut s),
    }
    legend(&mut s, &chart.series, &grid);
    s.push_str("</svg>\n");
    s
}

/// The plot's frame.
fn svg_frame(s: &mut String) {
    let _ = writeln!(
        s,
        "<rect x=\"{PLOT_LEFT}\" y=\"{PLOT_TOP}\" width=\"{}\" height=\"{PLOT_HEIGHT}\" class=\"frame\"/>",
        Plot::WIDTH
    );
}

/// An empty plot: its frame around a note.
fn svg_empty(s: &mut String) {
    svg_frame(s);
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"note\">no finite values to draw</text>",
        PLOT_LEFT + Plot::WIDTH / 2.0,
        PLOT_TOP + PLOT_HEIGHT / 2.0
    );
}

/// Grid lines and tick labels at the axes' ticks ([`tick_label`]), the frame, the axis
/// descriptions.
fn svg_axes(s: &mut String, plot: &Plot, chart: &Chart) {
    let (right, bottom) = (PLOT_LEFT + Plot::WIDTH, Plot::BOTTOM);
    s.push_str("<g class=\"grid\">\n");
    for y in plot.y.ticks.iter().map(|&t| plot.py(t)) {
        let _ = writeln!(
            s,
            "<line x1=\"{PLOT_LEFT}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\"/>"
        );
    }
    for x in plot.x.ticks.iter().map(|&t| plot.px(t)) {
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{PLOT_TOP}\" x2=\"{x:.1}\" y2=\"{bottom}\"/>"
        );
    }
    s.push_str("</g>\n<g class=\"ticks\">\n");
    for &t in &plot.y.ticks {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            PLOT_LEFT - 5.0,
            plot.py(t) + 4.0,
            tick_label(t)
        );
    }
    for &t in &plot.x.ticks {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            plot.px(t),
            bottom + 15.0,
            tick_label(t)
        );
    }
    s.push_str("</g>\n");
    svg_frame(s);
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"al\">{}</text>",
        PLOT_LEFT + Plot::WIDTH / 2.0,
        bottom + 32.0,
        escape(&chart.x_desc)
    );
    let _ = writeln!(
        s,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" class=\"al\">{}</text>",
        PLOT_TOP + PLOT_HEIGHT / 2.0,
        escape(&chart.y_desc)
    );
}

/// The SVG stroke attributes of each series of `chart`, as the PNG charts give them
/// ([`series_strokes`]): `stroke="#0072b2" fill="#0072b2"`, with a dash pattern for a deep model.
fn strokes(series: &[ChartSeries]) -> Vec<String> {
    let labels: Vec<&str> = series.iter().map(|x| x.label.as_str()).collect();
    series_strokes(&labels)
        .into_iter()
        .map(|st| {
            let c = hex(st.colour);
            let dash = if st.dashed {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            format!("stroke=\"{c}\" fill=\"{c}\"{dash}")
        })
        .collect()
}

/// The curves, one group per series in its stroke: polylines, then their markers on top.
fn svg_curves(s: &mut String, plot: &Plot, chart: &Chart) {
    for (series, stroke) in chart.series.iter().zip(strokes(&chart.series)) {
        let _ = writeln!(s, "<g {stroke}>");
        for curve in &series.curves {
            svg_curve(s, plot, chart, curve);
        }
        s.push_str("</g>\n");
    }
}

/// One curve: a polyline per drawable segment of two points or more, a marker per drawable
/// point with its value on hover ([`value_label`]).
fn svg_curve(s: &mut String, plot: &Plot, chart: &Chart, curve: &Curve) {
    let name = escape(&curve.name);
    let segments = segments(&curve.points, chart.log_y);
    for seg in segments.iter().filter(|seg| seg.len() >= 2) {
        let pts: Vec<String> = seg
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", plot.px(x), plot.py(y)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline class=\"curve\" points=\"{}\"><title>{name}</title></polyline>",
            pts.join(" ")
        );
    }
    for &(x, y) in segments.iter().flatten() {
        let _ = writeln!(
            s,
            "<circle class=\"pt\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{name}: epoch {}, {} {}</title></circle>",
            plot.px(x),
            plot.py(y),
            tick_label(x),
            escape(&chart.value_name),
            value_label(y)
        );
    }
}

/// The legend: a coloured line and the (cut) label per series, in the grid's columns.
fn legend(s: &mut String, series: &[ChartSeries], grid: &LegendGrid) {
    s.push_str("<g class=\"legend\">\n");
    let entries = series.iter().zip(&grid.labels).zip(strokes(series));
    for (i, ((series, label), stroke)) in entries.enumerate() {
        let x = 10.0 + (i % grid.cols) as f64 * grid.col_w;
        let y = grid.top + (i / grid.cols) as f64 * LEGEND_ROW;
        let _ = writeln!(
            s,
            "<g><title>{}</title><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" {stroke} stroke-width=\"3\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            escape(&series.label),
            y - 4.0,
            x + 18.0,
            y - 4.0,
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
    rundir::LOSS_PNG,
    rundir::DYNAMICS_PNG,
    rundir::RUN_FILE,
    rundir::HISTORY_CSV,
    rundir::DYNAMICS_CSV,
    rundir::MODEL_FILE,
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
/// PNG charts ([`crate::experiments::seeds::seed_groups`]: consecutive runs with the same `label`), one
/// colour and legend entry per group, one line per run.
pub fn run_charts(runs: &[RunResult], label: impl Fn(&RunResult) -> String) -> Vec<Chart> {
    let groups = crate::experiments::seeds::seed_groups(runs, &label);
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

/// Widest the page's column gets, in CSS pixels: wide enough for the lab's ten-column table at a
/// 1280-pixel window without a sideways scrollbar, narrow enough to read on a large screen.
pub const PAGE_MAX_WIDTH: u32 = 1440;

/// Narrowest window, in CSS pixels, that shows tables as tables; below it each row stacks into a
/// card of `column: value` lines, so that a phone reads every column without scrolling sideways.
pub const STACK_BELOW: u32 = 700;

// A 1280-pixel window (less the page's padding) gets the whole width, and a phone (390) and a
// laptop (1280) fall on either side of the stacking width.
const _: () = assert!(PAGE_MAX_WIDTH >= 1280 - 32);
const _: () = assert!(STACK_BELOW < 1280 && STACK_BELOW >= 390);

/// The page's inline style sheet: [`STYLE`], the column's width, and the stacked tables of a
/// narrow window.
pub fn style() -> String {
    format!(
        "{STYLE}main{{max-width:{PAGE_MAX_WIDTH}px;margin:0 auto;padding:12px 16px 40px}}\n\
         @media (max-width:{STACK_BELOW}px){{{STACKED}}}\n"
    )
}

/// Narrow windows: a table's rows become cards, each cell a line with its column's name
/// (`data-label`) on the left and the value on the right; headers are hidden.
const STACKED: &str = "\
.scroll table,.scroll tbody,.scroll tr,.scroll td{display:block;width:100%}\
.scroll thead{display:none}\
.scroll tr{border:1px solid #ddd;border-radius:5px;margin:6px 0;padding:3px 8px}\
.scroll td{display:flex;justify-content:space-between;gap:1em;border:0;padding:1px 0;white-space:normal;text-align:right;overflow-wrap:anywhere}\
.scroll td::before{content:attr(data-label);font-weight:600;color:#555;text-align:left;flex:0 1 45%}";

/// The fixed part of the page's style sheet: a column that reads on a phone, tables whose
/// headers and text cells wrap (numbers stay on one line), charts as wide as their box.
const STYLE: &str = "\
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1d1d1f;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"DejaVu Sans\",sans-serif}
h1{font-size:1.5em;margin:.4em 0}
h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
p{margin:.5em 0}
code,pre{font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;font-size:.9em}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5em 0}
table{border-collapse:collapse;font-size:14px}
th,td{padding:3px 9px;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
th{background:#f6f6f6;min-width:4em;vertical-align:bottom}
td{overflow-wrap:break-word}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
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

/// The tables of a run's `run.json`: its spec, then versions, machine, status and times.
fn record_tables(h: &mut String, record: &RunRecord) {
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

/// The table of a run's epochs (validation columns when it held out a validation split).
fn epochs_table(history: &History) -> Table {
    let validated = history
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
    for e in &history.epochs {
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
    t
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
        Ok(record) => record_tables(h, record),
        Err(e) => {
            let _ = writeln!(h, "<p>No readable <code>run.json</code>: {}</p>", escape(e));
        }
    }
    if !run.history.epochs.is_empty() {
        h.push_str("<p>Epochs:</p>\n");
        h.push_str(&epochs_table(&run.history).html());
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
    let _ = writeln!(h, "<style>\n{}</style>\n</head>\n<body>\n<main>", style());
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
    fn svg_draws_a_line_and_markers_with_values_on_hover() {
        let s = svg_chart(&chart(vec![(1.0, 12.5), (2.0, 6.0), (3.0, 3.1)], true));
        assert!(
            s.starts_with("<svg class=\"chart\" viewBox=\"0 0 480 "),
            "{s}"
        );
        assert_eq!(s.matches("<polyline").count(), 1);
        assert_eq!(s.matches("<circle").count(), 3);
        assert!(s.contains("<title>run a: epoch 2, v 6.000</title>"), "{s}");
        // Data under a decade (3.1 to 12.5): log ticks at 3, 4, 5, 7, 10, 15, and the legend.
        for tick in [">3<", ">4<", ">5<", ">7<", ">10<", ">15<"] {
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

    #[test]
    fn wide_tables_fit_a_laptop_and_stack_on_a_phone() {
        use crate::base::output::table::Table;
        let mut t = Table::new(&[("run", false), ("notebook's final cost", true)]);
        t.push(vec!["shallow-xavier-uniform".into(), "0.006201488".into()]);
        let report = Report {
            title: "T".into(),
            blocks: vec![Block::Table(t)],
        };
        let h = render(&report);
        // The column is wider than the old 1000 px cap (its size is checked at compile time).
        assert!(h.contains(&format!("main{{max-width:{PAGE_MAX_WIDTH}px")));
        assert!(!h.contains("max-width:1000px"));
        // Headers wrap, numbers stay whole; no rule forbids a text cell from wrapping.
        assert!(h.contains("td.num{white-space:nowrap}"));
        assert!(!h.contains("th,td{padding:3px 9px;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap"));
        // Below the phone width rows become cards labelled by their columns.
        assert!(h.contains(&format!(
            "@media (max-width:{STACK_BELOW}px){{.scroll table"
        )));
        assert!(h.contains("content:attr(data-label)"));
        assert!(
            h.contains(
                "<td class=\"num\" data-label=\"notebook&#39;s final cost\">0.006201488</td>"
            ),
            "{h}"
        );
    }
}
