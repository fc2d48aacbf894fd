//! The mean-field figures: the phase diagram as a heatmap of χ₁ on a diverging scale centred at
//! χ₁ = 1 with the named inits marked ([`heatmap_chart`], [`phase_style`]), a row of accuracy
//! heatmaps over (σ_w², log depth) with 6 ξ_c drawn over them and one legend and colour bar
//! beside them ([`heatmap_row_chart`]), and curves of the theory's quantities over σ_w² on a log
//! axis with the critical points and named inits marked ([`curve_chart`]).

use std::path::Path;

use anyhow::{ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::base::nn::meanfield::named::NamedAtTorchBias;
use crate::base::output::chart::axis::{Axis, MANY_TICKS};
use crate::base::output::chart::canvas::{self, AxesStyle, Coord, Layout, PANEL_LAYOUT, SIZE};
use crate::base::output::chart::heatmap::{clip_y, draw_colour_bar, draw_heatmap_styled};
use crate::base::output::chart::heatmap::{line_looks, ColourScale, HeatStyle, Heatmap};
use crate::base::output::chart::legend::Placement;
use crate::base::output::chart::legend::{looks, trace, Entry, Frame, Legend, LegendPlace};
use crate::base::output::chart::panel::log_axis;
use crate::base::output::chart::series::Series;
use crate::base::output::chart::style::{series_strokes, Look, Marker};

/// Draws a [`Heatmap`] in `style` (PNG or SVG by extension), 1000 × 650 pixels.
pub fn heatmap_chart(h: &Heatmap, style: &HeatStyle, path: &Path) -> Result<()> {
    h.check()?;
    canvas::render(
        path,
        (1000, 650),
        |root| draw_heatmap_styled(root, h, style),
        |root| draw_heatmap_styled(root, h, style),
    )
}

/// The phase diagram's style: χ₁ on a diverging scale centred at 1 (neutral on the critical
/// line), the legend outside, and rings at the named inits on torch's default bias (torch
/// default, Xavier, the critical point of that bias, the tanh gain, in this order) and at the
/// trained grid's critical point (σ_b² = 0.05).
pub fn phase_style(named: &NamedAtTorchBias, grid_critical: f64) -> HeatStyle {
    let b = named.sigma_b2;
    let mut points: Vec<(f64, f64, String)> = (named.points.iter())
        .map(|(n, p)| {
            let name = n.name.split(" /").next().unwrap_or(n.name);
            (n.sigma_w2, b, format!("{name}: χ₁ {:.2}", p.chi1))
        })
        .collect();
    // Third of the four on the torch-bias line, so its label takes the third row (between
    // Xavier's and the tanh gain's).
    let critical = format!("χ₁ = 1 at σ_w² {:.2}", named.critical);
    points.insert(2, (named.critical, b, critical));
    points.push((
        grid_critical,
        0.05,
        format!("χ₁ = 1 at σ_w² {grid_critical:.3}"),
    ));
    HeatStyle {
        scale: ColourScale::Diverging { centre: 1.0 },
        points,
        legend_outside: true,
        ..HeatStyle::default()
    }
}

/// Size of one panel of a [`heatmap_row_chart`], and the width of the strip beside the panels
/// that holds the legend and the colour bar.
const ROW_PANEL: (u32, u32) = (640, 620);
const ROW_STRIP: u32 = 330;

/// Panels of heatmaps side by side under `title` (PNG or SVG by extension), sharing one colour
/// scale: each drawn in `style` without its own legend or colour bar, and one legend (the first
/// panel's lines) and one colour bar in a strip on the right, off the data.
pub fn heatmap_row_chart(
    panels: &[Heatmap],
    style: &HeatStyle,
    title: &str,
    path: &Path,
) -> Result<()> {
    ensure!(!panels.is_empty(), "no heatmaps to draw");
    for h in panels {
        h.check()?;
    }
    let size = (
        ROW_PANEL.0 * panels.len() as u32 + ROW_STRIP,
        ROW_PANEL.1 + 40,
    );
    canvas::render(
        path,
        size,
        |root| row_figure(root, panels, style, title),
        |root| row_figure(root, panels, style, title),
    )
}

/// Draws a [`heatmap_row_chart`] on `root`.
fn row_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Heatmap],
    style: &HeatStyle,
    title: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let root = canvas::titled(root, title)?;
    let (w, _) = root.dim_in_pixel();
    let (left, strip) = root.split_horizontally(w.saturating_sub(ROW_STRIP));
    let inner = HeatStyle {
        legend: false,
        colour_bar: false,
        ..style.clone()
    };
    let areas = left.split_evenly((1, panels.len()));
    for (area, h) in areas.iter().zip(panels) {
        draw_heatmap_styled(area, h, &inner)?;
    }
    let (top, bar) = strip.split_vertically(170);
    strip_legend(&top, &panels[0])?;
    draw_colour_bar(&bar, &panels[0], style.scale)
}

/// The legend of the lines of `h` in the upper left of `area`.
fn strip_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let looks = line_looks(h.lines.len());
    let entries = (h.lines.iter().zip(&looks)).map(|(l, look)| Entry::plain(&l.label, *look));
    let at = Placement {
        area,
        layout: &CURVE_LAYOUT,
        title: "",
        font: 14,
        occupied: &[],
        outside: false,
        clearance: 0.0,
    };
    let mut legend = Legend::plan(&at, entries.collect())?;
    if legend.place.is_some() {
        legend.place = Some(LegendPlace::UpperLeft);
    }
    let (x, y) = area.get_pixel_range();
    legend.draw(area, (x.start..x.end, y.start + 60..y.end))
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
    /// Points marked with a ring and their label: `(x, y, label)`.
    pub points: Vec<(f64, f64, String)>,
}

/// Margins of a curve chart.
const CURVE_LAYOUT: Layout = Layout {
    margin: 14,
    x_label: 45,
    ..PANEL_LAYOUT
};

/// The axes of a curve chart: x over the points, y a log axis over the values.
fn curve_frame(c: &CurveChart) -> Frame {
    let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    Frame {
        x: Axis::fit_ticks(xs, false, false, MANY_TICKS)
            .unwrap_or_else(|| Axis::within(0.0, 1.0, false, MANY_TICKS)),
        y: log_axis(&c.series),
    }
}

/// The lines' and the markers' looks, one colour assignment for both, and what the legend must
/// not hide (fractions of the plot).
fn curve_looks(c: &CurveChart, frame: &Frame) -> (Vec<Entry>, Vec<Look>, Vec<(f64, f64)>) {
    let labels: Vec<&str> = (c.series.iter().map(|s| s.label.as_str()))
        .chain(c.markers.iter().map(|m| m.1.as_str()))
        .collect();
    let strokes = series_strokes(&labels);
    let unit: Vec<Vec<(f64, f64)>> = c.series.iter().map(|s| frame.unit(&s.points)).collect();
    let looks = looks(&c.series, &strokes, &unit, Marker::None);
    let (ylo, yhi) = (frame.y.lo, frame.y.hi);
    let mut occupied: Vec<(f64, f64)> = (c.series.iter())
        .flat_map(|s| clip_y(&s.points, ylo, yhi))
        .flat_map(|part| trace(&frame.unit(&part)))
        .collect();
    for (x, _) in &c.markers {
        occupied.extend(trace(&frame.unit(&[(*x, ylo), (*x, yhi)])));
    }
    let marker_looks: Vec<Look> = (0..c.markers.len())
        .map(|k| Look::dashed(strokes[c.series.len() + k].colour))
        .collect();
    (looks, marker_looks, occupied)
}

/// Draws a [`CurveChart`] on `root`.
fn curve_figure<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &CurveChart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let frame = curve_frame(c);
    let (looks, marker_looks, occupied) = curve_looks(c, &frame);
    let markers = (c.markers.iter().zip(&marker_looks)).map(|(m, look)| Entry::plain(&m.1, *look));
    let at = Placement {
        area: root,
        layout: &CURVE_LAYOUT,
        title: &c.title,
        font: 15,
        occupied: &occupied,
        outside: true,
        clearance: 0.0,
    };
    let legend = Legend::plan(&at, looks.iter().cloned().chain(markers).collect())?;
    let style = AxesStyle::new(&c.x_desc, &c.y_desc, 14);
    let (ylo, yhi) = (frame.y.lo, frame.y.hi);
    let (x, y) = (Coord::new(frame.x, true), Coord::new(frame.y, false));
    let extra = legend.extra_right();
    let mut chart = canvas::plot_area(root, &CURVE_LAYOUT, &c.title, extra, x, y, &style)?;
    for (s, entry) in c.series.iter().zip(&looks) {
        canvas::draw_look(&mut chart, &clip_y(&s.points, ylo, yhi), entry.look)?;
    }
    for ((x, _), look) in c.markers.iter().zip(marker_looks) {
        canvas::draw_look(&mut chart, &[vec![(*x, ylo), (*x, yhi)]], look)?;
    }
    draw_named_points(&mut chart, &c.points)?;
    legend.draw(root, chart.plotting_area().get_pixel_range())
}

/// Draws a [`CurveChart`] (PNG or SVG by extension), 1000 × 600 pixels.
pub fn curve_chart(c: &CurveChart, path: &Path) -> Result<()> {
    ensure!(!c.series.is_empty(), "no curves to draw");
    canvas::render(
        path,
        SIZE,
        |root| curve_figure(root, c),
        |root| curve_figure(root, c),
    )
}

/// Rings at `points` with their labels above and to the right.
fn draw_named_points<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    points: &[(f64, f64, String)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 13).into_font();
    for (x, y, label) in points.iter().filter(|p| p.1.is_finite() && p.1 > 0.0) {
        let mark = EmptyElement::at((*x, *y))
            + Circle::new((0, 0), 6, BLACK.stroke_width(2))
            + Text::new(label.clone(), (9, -20), font.clone());
        chart
            .draw_series(std::iter::once(mark))
            .map_err(crate::base::output::chart::canvas::drawing_error)?;
    }
    Ok(())
}
