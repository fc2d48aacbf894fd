//! The mean-field figures: phase diagrams as heatmaps over (σ_w², depth) with the theory's lines
//! drawn over them ([`heatmap_chart`]), and curves of the theory's quantities over σ_w² on a log
//! axis with the critical points marked ([`curve_chart`]).

use std::path::Path;

use anyhow::{ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::base::output::chart::axis::{Axis, MANY_TICKS};
use crate::base::output::chart::canvas::{self, AxesStyle, Coord, Layout, PANEL_LAYOUT, SIZE};
use crate::base::output::chart::heatmap::{clip_y, draw_heatmap, Heatmap};
use crate::base::output::chart::legend::{looks, trace, Entry, Frame, Legend, Placement};
use crate::base::output::chart::panel::log_axis;
use crate::base::output::chart::series::Series;
use crate::base::output::chart::style::{series_colours, Look, Marker};

/// Draws a [`Heatmap`] (PNG or SVG by extension), 1000 × 650 pixels.
pub fn heatmap_chart(h: &Heatmap, path: &Path) -> Result<()> {
    h.check()?;
    canvas::render(
        path,
        (1000, 650),
        |root| draw_heatmap(root, h),
        |root| draw_heatmap(root, h),
    )
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
    let colours = series_colours(&labels);
    let unit: Vec<Vec<(f64, f64)>> = c.series.iter().map(|s| frame.unit(&s.points)).collect();
    let looks = looks(&c.series, &colours, &unit, Marker::None);
    let (ylo, yhi) = (frame.y.lo, frame.y.hi);
    let mut occupied: Vec<(f64, f64)> = (c.series.iter())
        .flat_map(|s| clip_y(&s.points, ylo, yhi))
        .flat_map(|part| trace(&frame.unit(&part)))
        .collect();
    for (x, _) in &c.markers {
        occupied.extend(trace(&frame.unit(&[(*x, ylo), (*x, yhi)])));
    }
    let marker_looks: Vec<Look> = (0..c.markers.len())
        .map(|k| Look::dashed(colours[c.series.len() + k]))
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
