//! Heatmaps: one coloured rectangle per cell of a (possibly uneven) grid on a viridis-like
//! scale, lines drawn over the cells, a colour bar on the right.

use anyhow::{ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::base::output::chart::axis::{tick_label, Axis, MANY_TICKS};
use crate::base::output::chart::canvas::{self, drawing_error, AxesStyle, Coord, Layout};
use crate::base::output::chart::legend::{trace, Entry, Frame, Legend, Placement};
use crate::base::output::chart::series::Series;
use crate::base::output::chart::style::{Look, Marker};

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

impl Heatmap {
    /// An error unless the values fill the cells that the edges make (at least one).
    pub fn check(&self) -> Result<()> {
        ensure!(
            self.x_edges.len() >= 2 && self.y_edges.len() >= 2,
            "heatmap {:?} needs at least one cell",
            self.title
        );
        ensure!(
            self.values.len() + 1 == self.y_edges.len()
                && self
                    .values
                    .iter()
                    .all(|r| r.len() + 1 == self.x_edges.len()),
            "heatmap {:?}: its values do not match its {}×{} cells",
            self.title,
            self.y_edges.len() - 1,
            self.x_edges.len() - 1
        );
        Ok(())
    }

    /// The axes over the cells.
    fn frame(&self) -> Frame {
        let (x0, x1) = (self.x_edges[0], self.x_edges[self.x_edges.len() - 1]);
        let (y0, y1) = (self.y_edges[0], self.y_edges[self.y_edges.len() - 1]);
        Frame {
            x: Axis::within(x0, x1, false, MANY_TICKS),
            y: Axis::within(y0, y1, false, MANY_TICKS),
        }
    }

    /// The lower end of the colour scale and its span (1 when the range is empty).
    fn scale(&self) -> (f64, f64) {
        let (lo, hi) = self.range;
        (lo, if hi > lo { hi - lo } else { 1.0 })
    }
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

/// Margins of a heatmap's main plot.
const HEAT_LAYOUT: Layout = Layout {
    margin: 12,
    x_label: 45,
    y_label: 65,
    caption: 22,
};

/// What the legend must not hide, in fractions of the plot (`plot`: its size in pixels): the
/// lines, and the numbers written in the cells (about 28 × 16 pixels around each centre).
fn occupied(h: &Heatmap, frame: &Frame, plot: (u32, u32)) -> Vec<(f64, f64)> {
    let mut occupied: Vec<(f64, f64)> = Vec::new();
    for line in &h.lines {
        for part in clip_y(&line.points, frame.y.lo, frame.y.hi) {
            occupied.extend(trace(&frame.unit(&part)));
        }
    }
    if h.annotate.is_none() {
        return occupied;
    }
    let (dx, dy) = (14.0 / plot.0 as f64, 8.0 / plot.1 as f64);
    let corners = [
        (-1.0, -1.0),
        (-1.0, 1.0),
        (0.0, 0.0),
        (1.0, -1.0),
        (1.0, 1.0),
    ];
    for (j, row) in h.values.iter().enumerate() {
        for (i, _) in row.iter().enumerate().filter(|(_, v)| v.is_finite()) {
            let centre = (
                (h.x_edges[i] + h.x_edges[i + 1]) / 2.0,
                (h.y_edges[j] + h.y_edges[j + 1]) / 2.0,
            );
            for (u, w) in frame.unit(&[centre]) {
                occupied.extend(corners.iter().map(|(a, b)| (u + a * dx, w + b * dy)));
            }
        }
    }
    occupied
}

/// The looks of the lines over a heatmap: black, then red, then white; dashed after the first.
fn line_looks(n: usize) -> Vec<Look> {
    let inks = [BLACK, RGBColor(214, 39, 40), WHITE];
    (0..n)
        .map(|k| Look {
            colour: inks[k % inks.len()],
            dashed: k > 0,
            marker: Marker::None,
            width: 3,
        })
        .collect()
}

/// Draws the cells of `h` and, where asked, their values.
fn draw_cells<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    h: &Heatmap,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (lo, span) = h.scale();
    for (j, row) in h.values.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let a = (h.x_edges[i], h.y_edges[j]);
            let b = (h.x_edges[i + 1], h.y_edges[j + 1]);
            let t = (v - lo) / span;
            let fill = if v.is_finite() {
                scale_colour(t)
            } else {
                RGBColor(200, 200, 200)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new([a, b], fill.filled())))
                .map_err(drawing_error)?;
            let Some((scale, decimals)) = h.annotate.filter(|_| v.is_finite()) else {
                continue;
            };
            let ink = if t > 0.6 { BLACK } else { WHITE };
            let style = ("sans-serif", 13)
                .into_font()
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let centre = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
            let text = format!("{:.*}", decimals, v * scale);
            chart
                .draw_series(std::iter::once(Text::new(text, centre, style)))
                .map_err(drawing_error)?;
        }
    }
    Ok(())
}

/// The colour bar on `bar`: 100 bands from the low end of the scale to the high one.
fn draw_colour_bar<DB: DrawingBackend>(bar: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (lo, span) = h.scale();
    let axis = Axis::within(lo, lo + span, false, MANY_TICKS);
    let mut scale = ChartBuilder::on(bar)
        .margin_top(50)
        .margin_bottom(57)
        .margin_right(10)
        .y_label_area_size(60)
        .caption(&h.value_desc, ("sans-serif", 14))
        .build_cartesian_2d(0.0..1.0, Coord::new(axis, false))
        .map_err(drawing_error)?;
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(drawing_error)?;
    let bands = 100;
    scale
        .draw_series((0..bands).map(|k| {
            let a = lo + span * k as f64 / bands as f64;
            let b = lo + span * (k + 1) as f64 / bands as f64;
            let colour = scale_colour((k as f64 + 0.5) / bands as f64);
            Rectangle::new([(0.0, a), (1.0, b)], colour.filled())
        }))
        .map_err(drawing_error)?;
    Ok(())
}

/// Draws the heatmap `h` on `root`: the cells with their lines and legend, the colour bar in
/// the 130 pixels on the right. `h` must pass [`Heatmap::check`].
pub fn draw_heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(drawing_error)?;
    let (w, _) = root.dim_in_pixel();
    let (main, bar) = root.split_horizontally(w.saturating_sub(130));
    let frame = h.frame();
    let plot = HEAT_LAYOUT.plot_size(&main, &h.title)?;
    let occupied = occupied(h, &frame, plot);
    let looks = line_looks(h.lines.len());
    let entries = (h.lines.iter().zip(&looks)).map(|(l, look)| Entry::plain(&l.label, *look));
    // The colour bar takes the right: the legend stays inside, where it hides least.
    let at = Placement {
        area: &main,
        layout: &HEAT_LAYOUT,
        title: &h.title,
        font: 15,
        occupied: &occupied,
        outside: false,
    };
    let legend = Legend::plan(&at, entries.collect())?;
    let style = AxesStyle {
        grid: false,
        ..AxesStyle::new(&h.x_desc, &h.y_desc, 14)
    };
    let Frame { x, y } = frame;
    let (x0, x1, y0, y1) = (x.lo, x.hi, y.lo, y.hi);
    let (x, y) = (Coord::new(x, false), Coord::new(y, false));
    let mut chart = canvas::plot_area(&main, &HEAT_LAYOUT, &h.title, 0, x, y, &style)?;
    draw_cells(&mut chart, h)?;
    for (line, look) in h.lines.iter().zip(looks) {
        let inside = |p: &(f64, f64)| p.0 >= x0 && p.0 <= x1;
        let parts: Vec<Vec<(f64, f64)>> = clip_y(&line.points, y0, y1)
            .into_iter()
            .map(|part| part.into_iter().filter(inside).collect())
            .collect();
        canvas::draw_look(&mut chart, &parts, look)?;
    }
    legend.draw(&main, chart.plotting_area().get_pixel_range())?;
    draw_colour_bar(&bar, h)
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
