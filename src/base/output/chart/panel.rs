//! Line panels and figures of panels side by side: log-y panels over epochs or layers (a line and
//! dots per series, shaded bands, dashed predictions) and linear panels of lines (histograms, on
//! a linear or symmetric-log x axis). Every panel is set up by [`canvas::plot_area`] and gets
//! its legend from [`legend`](super::legend).

use std::path::Path;

use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::base::output::chart::axis::{symlog, symlog_axis, symlog_label, Axis, MANY_TICKS};
use crate::base::output::chart::canvas::{
    self, drawing_error, AxesStyle, Coord, Layout, PANEL_LAYOUT,
};
use crate::base::output::chart::legend::{
    looks, merge_entries, trace, Entry, Frame, Legend, LegendPlace, Placement,
};
use crate::base::output::chart::series::Series;
use crate::base::output::chart::style::{series_strokes, Look, Marker, Stroke};

/// One panel of a multi-panel figure.
#[derive(Debug, Clone, Default)]
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
    /// Linear-y panels: draw x on a symmetric log scale ([`symlog`]) with this linear threshold
    /// (points stay in data units), for series whose scales differ by decades; `None`: linear.
    pub x_symlog: Option<f64>,
    /// Values the y axis shows besides the series' own (empty: none): panels side by side pass
    /// the range of them all ([`share_y`]), so that equal heights mean equal values.
    pub y_share: Vec<f64>,
    /// How far the legend keeps from the data when it goes inside the plot, a fraction of the
    /// plot's width and height ([`Placement::clearance`]); where no corner leaves that much, it
    /// goes beside the plot. 0: 4 pixels, the least any legend keeps.
    pub legend_clearance: f64,
}

/// Gives every panel of `panels` (one row of a figure, side by side) the y range of them all:
/// the lowest and highest value of any of their series.
pub fn share_y<'p>(panels: impl IntoIterator<Item = &'p mut Panel>) {
    let mut panels: Vec<&mut Panel> = panels.into_iter().collect();
    let values = |p: &Panel| -> Vec<f64> {
        (p.series.iter().chain(&p.dashed))
            .flat_map(|s| s.points.iter().map(|q| q.1))
            .filter(|v| v.is_finite() && (!p.log_y || *v > 0.0))
            .collect()
    };
    let all: Vec<f64> = panels.iter().flat_map(|p| values(p)).collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = all.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo <= hi {
        for p in panels.iter_mut() {
            p.y_share = vec![lo, hi];
        }
    }
}

/// What a panel does with its legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendMode {
    /// Plan it and draw nothing (the panel returns the plan).
    Plan,
    /// Draw it with the panel.
    Draw,
    /// Leave it out: another panel of the figure shows the same one.
    Omit,
}

/// A panel's legend: what to do with it, and the entries of a legend shared with other panels
/// (`None`: the panel's own).
#[derive(Debug, Clone, Copy)]
pub struct LegendRole<'e> {
    /// Plan, draw or leave out.
    pub mode: LegendMode,
    /// A shared legend's entries.
    pub entries: Option<&'e [Entry]>,
}

impl LegendRole<'_> {
    /// The panel's own legend, drawn.
    pub const OWN: LegendRole<'static> = LegendRole {
        mode: LegendMode::Draw,
        entries: None,
    };
}

/// A panel ready to draw: its layout, axes, legend entries and what the legend must not hide.
struct Planned {
    layout: Layout,
    frame: Frame,
    minor_x: bool,
    font: (u32, u32),
    entries: Vec<Entry>,
    occupied: Vec<(f64, f64)>,
}

/// The log axis of a panel's values (positive finite ones; 0.1 to 1 when there are none).
pub fn log_axis<'s>(series: impl IntoIterator<Item = &'s Series>) -> Axis {
    log_axis_with(series, &[])
}

/// [`log_axis`] that also shows `extra` values.
fn log_axis_with<'s>(series: impl IntoIterator<Item = &'s Series>, extra: &[f64]) -> Axis {
    let values = series
        .into_iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(extra.iter().copied());
    Axis::fit_ticks(values, true, false, MANY_TICKS).unwrap_or(Axis {
        lo: 0.1,
        hi: 1.0,
        log: true,
        ticks: vec![0.1, 1.0],
    })
}

/// The points of `s` a log axis can show (finite, positive values).
fn log_points(s: &Series) -> Vec<(f64, f64)> {
    s.points
        .iter()
        .copied()
        .filter(|p| p.1.is_finite() && p.1 > 0.0)
        .collect()
}

/// Legend, axes and set-up of panel `p` on `area` as `role` asks, then `draw` its data, then its
/// legend. Returns the legend's plan (all that is done in [`LegendMode::Plan`]).
fn finish<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    role: LegendRole<'_>,
    planned: Planned,
    draw: impl FnOnce(&mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>) -> Result<()>,
) -> Result<Legend>
where
    DB::ErrorType: 'static,
{
    let entries = role.entries.map_or(planned.entries, <[Entry]>::to_vec);
    let at = Placement {
        area,
        layout: &planned.layout,
        title: &p.title,
        font: planned.font.1,
        occupied: &planned.occupied,
        outside: true,
        clearance: p.legend_clearance,
    };
    let legend = Legend::plan(&at, entries)?;
    let legend = match role.mode {
        LegendMode::Plan => return Ok(legend),
        LegendMode::Draw => legend,
        LegendMode::Omit => legend.omitted(),
    };
    let c = p.x_symlog.filter(|c| !p.log_y && c.is_finite() && *c > 0.0);
    let x_label = move |t: &f64| c.map_or_else(|| canvas::plain_label(t), |c| symlog_label(*t, c));
    let style = AxesStyle {
        x_label: &x_label,
        ..AxesStyle::new(&p.x_desc, &p.y_desc, planned.font.0)
    };
    let Frame { x, y } = planned.frame;
    let (x, y) = (Coord::new(x, planned.minor_x), Coord::new(y, true));
    let extra = legend.extra_right();
    let mut chart = canvas::plot_area(area, &planned.layout, &p.title, extra, x, y, &style)?;
    draw(&mut chart)?;
    legend.draw(area, chart.plotting_area().get_pixel_range())?;
    Ok(legend)
}

/// The traced lines of every series, their bands' edges and the dashed lines, in fractions of the
/// plot.
fn log_occupied(p: &Panel, frame: &Frame, unit: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let mut occupied: Vec<(f64, f64)> = unit.iter().flat_map(|u| trace(u)).collect();
    for s in &p.series {
        let low: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.1)).collect();
        let high: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
        occupied.extend(trace(&frame.unit(&low)));
        occupied.extend(trace(&frame.unit(&high)));
    }
    for d in &p.dashed {
        occupied.extend(trace(&frame.unit(&d.points)));
    }
    occupied
}

/// The shaded band of `s` (where both edges are positive) in `colour`.
fn draw_band<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    s: &Series,
    colour: RGBColor,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let ok = |y: f64| y.is_finite() && y > 0.0;
    let band: Vec<&(f64, f64, f64)> = s.band.iter().filter(|b| ok(b.1) && ok(b.2)).collect();
    if band.len() < 2 {
        return Ok(());
    }
    let outline: Vec<(f64, f64)> = band
        .iter()
        .map(|b| (b.0, b.1))
        .chain(band.iter().rev().map(|b| (b.0, b.2)))
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(
            outline,
            colour.mix(0.18).filled(),
        )))
        .map_err(drawing_error)?;
    Ok(())
}

/// One log-y panel with a line and dots per series, integer x (epochs, layers), shaded bands,
/// and the dashed lines of `p.dashed` each in the colour of the series at its index. Returns its
/// legend's plan.
fn log_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    role: LegendRole<'_>,
) -> Result<Legend>
where
    DB::ErrorType: 'static,
{
    let xs = p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0));
    let x = Axis::fit_ticks(xs, false, true, MANY_TICKS)
        .unwrap_or_else(|| Axis::within(1.0, 2.0, true, MANY_TICKS));
    let frame = Frame {
        x,
        y: log_axis_with(p.series.iter().chain(&p.dashed), &p.y_share),
    };
    let shown: Vec<Vec<(f64, f64)>> = p.series.iter().map(log_points).collect();
    let unit: Vec<Vec<(f64, f64)>> = shown.iter().map(|s| frame.unit(s)).collect();
    let looks = looks(&p.series, &strokes_of(&p.series), &unit, Marker::Dot);
    let dashed_looks: Vec<Look> = (0..p.dashed.len())
        .map(|i| {
            let colour = looks.get(i).map(|l| l.look.colour);
            Look::dashed(colour.unwrap_or_else(|| series_strokes(&[&p.dashed[i].label])[0].colour))
        })
        .collect();
    let dashed_entries =
        (p.dashed.iter().zip(&dashed_looks)).map(|(d, l)| Entry::plain(&d.label, *l));
    let planned = Planned {
        layout: PANEL_LAYOUT,
        occupied: log_occupied(p, &frame, &unit),
        frame,
        minor_x: false,
        font: (14, 15),
        entries: looks.iter().cloned().chain(dashed_entries).collect(),
    };
    finish(area, p, role, planned, |chart| {
        for (s, entry) in p.series.iter().zip(&looks) {
            draw_band(chart, s, entry.look.colour)?;
        }
        for (pts, entry) in shown.into_iter().zip(&looks) {
            canvas::draw_look(chart, &[pts], entry.look)?;
        }
        for (d, look) in p.dashed.iter().zip(dashed_looks) {
            canvas::draw_look(chart, &[log_points(d)], look)?;
        }
        Ok(())
    })
}

/// [`series_strokes`] of the series' labels.
pub fn strokes_of(series: &[Series]) -> Vec<Stroke> {
    let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    series_strokes(&labels)
}

/// The axes of a linear panel over `shown` (points in axis units): x over the points (symmetric
/// log when `symlog` is its threshold, whole ticks when every x is whole), y from 0 or below
/// to 0 or above with a little room, showing the `extra` y values too.
fn linear_frame(
    shown: &[Vec<(f64, f64)>],
    symlog: Option<f64>,
    integer_x: bool,
    extra: &[f64],
) -> Frame {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0.0f64);
    for q in shown.iter().flatten() {
        (x0, x1) = (x0.min(q.0), x1.max(q.0));
        (y0, y1) = (y0.min(q.1), y1.max(q.1));
    }
    for v in extra.iter().filter(|v| v.is_finite()) {
        (y0, y1) = (y0.min(*v), y1.max(*v));
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
    let y = Axis::fit_ticks([y0, y1], false, false, MANY_TICKS);
    let x = match symlog {
        Some(c) => Some(symlog_axis(x0, x1, c)),
        None => Axis::fit_ticks([x0, x1], false, integer_x, MANY_TICKS),
    };
    Frame {
        x: x.unwrap_or_else(|| Axis::within(x0, x1, integer_x, MANY_TICKS)),
        y: y.unwrap_or_else(|| Axis::within(y0, y1, false, MANY_TICKS)),
    }
}

/// A linear-y panel with one line per series (no markers): histograms, on a linear or
/// symmetric-log x axis. Returns its legend's plan.
fn linear_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    role: LegendRole<'_>,
) -> Result<Legend>
where
    DB::ErrorType: 'static,
{
    let c = p.x_symlog.filter(|c| c.is_finite() && *c > 0.0);
    let to_axis = |x: f64| c.map_or(x, |c| symlog(x, c));
    // The points in axis units (symlog units on a symlog axis).
    let shown: Vec<Vec<(f64, f64)>> = p
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|q| q.0.is_finite() && q.1.is_finite())
                .map(|q| (to_axis(q.0), q.1))
                .collect()
        })
        .collect();
    let integer_x =
        c.is_none() && (p.series.iter().flat_map(|s| s.points.iter())).all(|q| q.0.fract() == 0.0);
    let frame = linear_frame(&shown, c, integer_x, &p.y_share);
    let unit: Vec<Vec<(f64, f64)>> = shown.iter().map(|s| frame.unit(s)).collect();
    let looks = looks(&p.series, &strokes_of(&p.series), &unit, Marker::None);
    let planned = Planned {
        layout: Layout {
            caption: 20,
            ..PANEL_LAYOUT
        },
        frame,
        minor_x: !integer_x && c.is_none(),
        font: (13, 14),
        entries: looks.clone(),
        occupied: unit.iter().flat_map(|u| trace(u)).collect(),
    };
    finish(area, p, role, planned, |chart| {
        for (pts, entry) in shown.into_iter().zip(&looks) {
            canvas::draw_look(chart, &[pts], entry.look)?;
        }
        Ok(())
    })
}

/// Draws panel `p` on `area` with the legend `role` asks for: a log or a linear panel.
pub fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    role: LegendRole<'_>,
) -> Result<Legend>
where
    DB::ErrorType: 'static,
{
    if p.log_y {
        log_panel(area, p, role)
    } else {
        linear_panel(area, p, role)
    }
}

/// Panels side by side under `title`; panels that draw the same series show one legend: in the
/// first panel where it fits inside the plot, else beside the last one.
fn panels_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let root = canvas::titled(root, title)?;
    let areas = root.split_evenly((1, panels.len()));
    let plan = |entries: Option<&[Entry]>| -> Result<Vec<Legend>> {
        let role = LegendRole {
            mode: LegendMode::Plan,
            entries,
        };
        let each = areas.iter().zip(panels);
        each.map(|(area, p)| draw_panel(area, p, role)).collect()
    };
    let own = plan(None)?;
    let shared =
        own.len() > 1 && !own[0].entries.is_empty() && own.iter().all(|l| l.same_series(&own[0]));
    if !shared {
        for (area, p) in areas.iter().zip(panels) {
            draw_panel(area, p, LegendRole::OWN)?;
        }
        return Ok(());
    }
    let titles: Vec<&str> = panels.iter().map(|p| p.title.as_str()).collect();
    let merged = merge_entries(&own, &titles);
    let plans = plan(Some(&merged))?;
    let Some(owner) = (plans.iter()).position(|l| l.place != Some(LegendPlace::OutsideRight))
    else {
        // Fits in no panel: a strip of its own on the right, the panels sharing the rest
        // evenly (beside the last panel alone it would squeeze that one).
        let legend = plans[plans.len() - 1].clone();
        return panels_with_legend_strip(&root, panels, &merged, legend);
    };
    for (k, (area, p)) in areas.iter().zip(panels).enumerate() {
        let mode = if k == owner {
            LegendMode::Draw
        } else {
            LegendMode::Omit
        };
        let role = LegendRole {
            mode,
            entries: Some(&merged),
        };
        draw_panel(area, p, role)?;
    }
    Ok(())
}

/// `panels` side by side on `root` left of a strip that holds `legend` (the panels' shared
/// legend of `merged` entries), in its upper left.
fn panels_with_legend_strip<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
    merged: &[Entry],
    mut legend: Legend,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, _) = root.dim_in_pixel();
    let strip_w = (legend.size.0 + 24).min(w / 2);
    let (left, strip) = root.split_horizontally(w - strip_w);
    let role = LegendRole {
        mode: LegendMode::Omit,
        entries: Some(merged),
    };
    for (area, p) in left.split_evenly((1, panels.len())).iter().zip(panels) {
        draw_panel(area, p, role)?;
    }
    legend.place = Some(LegendPlace::UpperLeft);
    let (x, y) = strip.get_pixel_range();
    legend.draw(&strip, (x.start..x.end, y.start + 40..y.end))
}

/// A figure of side-by-side panels (PNG or SVG by extension), 700 pixels wide per panel.
pub fn panels_chart(panels: &[Panel], title: &str, path: &Path) -> Result<()> {
    if panels.is_empty() {
        bail!("no panels to draw");
    }
    let size = (700 * panels.len() as u32, 600);
    canvas::render(
        path,
        size,
        |root| panels_figure(root, title, panels),
        |root| panels_figure(root, title, panels),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inspect's tanh activation panel (`initlab inspect`, seed 777, activation std per layer,
    /// rounded): N(0,1) flat near the top, three lower lines, each with its prediction dashed
    /// (`predicted_activation_std`): eight legend entries.
    fn tanh_like(clearance: f64) -> Panel {
        type Stds = (&'static str, [f64; 10], [f64; 10]);
        let stds: [Stds; 4] = [
            (
                "normal",
                [
                    0.95, 0.973, 0.974, 0.974, 0.974, 0.974, 0.974, 0.974, 0.974, 15.9,
                ],
                [
                    0.955, 0.974, 0.974, 0.974, 0.974, 0.974, 0.974, 0.974, 0.974, 15.6,
                ],
            ),
            (
                "glorot-standard",
                [
                    0.178, 0.106, 0.0696, 0.0527, 0.0459, 0.0431, 0.0438, 0.0422, 0.044, 0.0403,
                ],
                [
                    0.181, 0.109, 0.0723, 0.055, 0.048, 0.0454, 0.0445, 0.0442, 0.0441, 0.0442,
                ],
            ),
            (
                "xavier-uniform",
                [
                    0.343, 0.306, 0.279, 0.256, 0.244, 0.234, 0.224, 0.213, 0.209, 0.309,
                ],
                [
                    0.349, 0.317, 0.292, 0.273, 0.258, 0.245, 0.234, 0.225, 0.217, 0.304,
                ],
            ),
            (
                "kaiming-normal",
                [
                    0.432, 0.522, 0.581, 0.615, 0.622, 0.638, 0.652, 0.65, 0.656, 1.22,
                ],
                [
                    0.439, 0.534, 0.594, 0.625, 0.64, 0.646, 0.649, 0.651, 0.651, 1.09,
                ],
            ),
        ];
        let by_layer = |v: &[f64; 10]| -> Vec<(f64, f64)> {
            (v.iter().enumerate())
                .map(|(k, &y)| ((k + 1) as f64, y))
                .collect()
        };
        let series = (stds.iter())
            .map(|(label, v, _)| Series::line(*label, by_layer(v)))
            .collect();
        let dashed = (stds.iter())
            .map(|(label, _, p)| Series::line(format!("{label} predicted"), by_layer(p)))
            .collect();
        Panel {
            title: "activation std (dashed: mean-field length map q^ℓ)".into(),
            x_desc: "layer".into(),
            y_desc: "std (log scale)".into(),
            series,
            log_y: true,
            dashed,
            legend_clearance: clearance,
            ..Default::default()
        }
    }

    /// Where `p`'s own legend goes on a 700 × 570 panel (inspect's, under the figure's title).
    fn place(p: &Panel) -> Option<LegendPlace> {
        let mut place = None;
        let role = LegendRole {
            mode: LegendMode::Plan,
            entries: None,
        };
        canvas::render_png_bytes((700, 570), |area| {
            place = draw_panel(area, p, role)?.place;
            Ok(())
        })
        .unwrap();
        place
    }

    #[test]
    fn a_legend_with_clearance_leaves_a_corner_it_would_crowd_for_the_side() {
        // With the 4 pixels alone, the top left corner is free: the box ends just above N(0,1).
        assert_eq!(place(&tanh_like(0.0)), Some(LegendPlace::UpperLeft));
        // A clearance of 1/16 of the plot: no corner is that far from the lines.
        assert_eq!(place(&tanh_like(0.0625)), Some(LegendPlace::OutsideRight));
        // Nothing near the top: the top right corner, clearance or not.
        let mut low = tanh_like(0.0625);
        low.series[0] = Series::line("normal", vec![(1.0, 0.2), (10.0, 0.25)]);
        low.dashed[0] = low.series[0].clone();
        low.y_share = vec![0.03, 100.0];
        assert_eq!(place(&low), Some(LegendPlace::UpperRight));
    }
}
