//! Heatmaps: one coloured rectangle per cell of a (possibly uneven) grid on a viridis-like
//! scale, lines drawn over the cells, a colour bar on the right.

use anyhow::{ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::base::output::chart::axis::{tick_label, Axis, MANY_TICKS};
use crate::base::output::chart::canvas::{self, drawing_error, AxesStyle, Coord, Layout};
use crate::base::output::chart::legend::{trace, Entry, Frame, Legend, LegendPlace, Placement};
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

    /// The axes over the cells as `style` draws them: y on a log axis with its ticks when asked.
    fn frame_styled(&self, style: &HeatStyle) -> Frame {
        let mut frame = self.frame();
        if let Some(ticks) = &style.y_log_ticks {
            let (lo, hi) = (frame.y.lo, frame.y.hi);
            let ticks = ticks.iter().copied().filter(|t| *t >= lo && *t <= hi);
            frame.y = Axis {
                lo,
                hi,
                log: lo > 0.0,
                ticks: ticks.collect(),
            };
        }
        frame
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
    along(&ANCHORS, t, 0.0)
}

/// The colour at `t ∈ [0, 1]` of a scale linear between evenly spaced `anchors` (RGB); `t`
/// outside [0, 1] is clamped, a `t` that is not finite is `fallback`.
fn along(anchors: &[(f64, f64, f64)], t: f64, fallback: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        fallback
    };
    let x = t * (anchors.len() - 1) as f64;
    let k = (x.floor() as usize).min(anchors.len() - 2);
    let f = x - k as f64;
    let (a, b) = (anchors[k], anchors[k + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The colour of `t ∈ [0, 1]` on a diverging blue–white–red scale (ColorBrewer's RdBu
/// reversed): blue below ½, the neutral near-white [`NEUTRAL`] at ½, red above.
pub fn diverging_colour(t: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 5] = [
        (33.0, 102.0, 172.0),
        (103.0, 169.0, 207.0),
        (247.0, 247.0, 247.0),
        (239.0, 138.0, 98.0),
        (178.0, 24.0, 43.0),
    ];
    along(&ANCHORS, t, 0.5)
}

/// The neutral colour of [`diverging_colour`], at its centre.
pub const NEUTRAL: RGBColor = RGBColor(247, 247, 247);

/// How a heatmap's values become colours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColourScale {
    /// Low to high on the viridis-like [`scale_colour`].
    Sequential,
    /// Blue below `centre`, [`NEUTRAL`] at it, red above ([`diverging_colour`]); each side
    /// spans its own half of the scale, so `centre` is neutral whatever the range (χ₁ = 1).
    Diverging {
        /// The value drawn neutral.
        centre: f64,
    },
}

impl ColourScale {
    /// Where `v` falls on a scale from `range.0` (0) to `range.1` (1): linearly, or for a
    /// diverging scale linearly on each side of its centre, which sits at ½.
    pub fn position(self, v: f64, range: (f64, f64)) -> f64 {
        let (lo, hi) = range;
        let part = |a: f64, b: f64| if b > a { (v - a) / (b - a) } else { 0.5 };
        match self {
            ColourScale::Sequential => part(lo, hi),
            ColourScale::Diverging { centre } if v < centre => 0.5 * part(lo, centre),
            ColourScale::Diverging { centre } => 0.5 + 0.5 * part(centre, hi),
        }
    }

    /// The colour of `v` on a scale from `range.0` to `range.1`.
    pub fn colour(self, v: f64, range: (f64, f64)) -> RGBColor {
        let t = self.position(v, range);
        match self {
            ColourScale::Sequential => scale_colour(t),
            ColourScale::Diverging { .. } => diverging_colour(t),
        }
    }
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
pub fn line_looks(n: usize) -> Vec<Look> {
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

/// How a heatmap is drawn beyond its data. `Default`: the viridis-like scale, linear axes, no
/// marked points, the legend inside where it hides least, the colour bar on the right.
#[derive(Debug, Clone)]
pub struct HeatStyle {
    /// How values become colours.
    pub scale: ColourScale,
    /// A log y axis with ticks at these values (`None`: linear, 1-2-5 ticks).
    pub y_log_ticks: Option<Vec<f64>>,
    /// Points marked with a ring and their label: `(x, y, label)`.
    pub points: Vec<(f64, f64, String)>,
    /// The legend outside the plot, on its right (before the colour bar).
    pub legend_outside: bool,
    /// Draw the legend (a figure of panels may draw one for all).
    pub legend: bool,
    /// Draw the colour bar (a figure of panels may draw one for all).
    pub colour_bar: bool,
    /// Lines drawn over a white halo and thin white borders between cells, so that a line reads
    /// clearly over any cell and every cell is seen whole.
    pub outlined: bool,
}

impl Default for HeatStyle {
    fn default() -> Self {
        HeatStyle {
            scale: ColourScale::Sequential,
            y_log_ticks: None,
            points: Vec::new(),
            legend_outside: false,
            legend: true,
            colour_bar: true,
            outlined: false,
        }
    }
}

/// Black text on light colours, white on dark ones (by luminance).
fn ink_on(fill: RGBColor) -> RGBColor {
    let l = 0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64;
    if l > 140.0 {
        BLACK
    } else {
        WHITE
    }
}

/// Draws the cells of `h` in the colours of `style` (thin white borders when outlined) and,
/// where asked, their values.
fn draw_cells<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    h: &Heatmap,
    style: &HeatStyle,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    for (j, row) in h.values.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            let a = (h.x_edges[i], h.y_edges[j]);
            let b = (h.x_edges[i + 1], h.y_edges[j + 1]);
            let fill = if v.is_finite() {
                style.scale.colour(v, h.range)
            } else {
                RGBColor(200, 200, 200)
            };
            let cell = std::iter::once(Rectangle::new([a, b], fill.filled()));
            chart.draw_series(cell).map_err(drawing_error)?;
            if style.outlined {
                let border = std::iter::once(Rectangle::new([a, b], WHITE.stroke_width(1)));
                chart.draw_series(border).map_err(drawing_error)?;
            }
            let Some((scale, decimals)) = h.annotate.filter(|_| v.is_finite()) else {
                continue;
            };
            let text_style = ("sans-serif", 13)
                .into_font()
                .color(&ink_on(fill))
                .pos(Pos::new(HPos::Center, VPos::Center));
            let centre = ((a.0 + b.0) / 2.0, h.y_centre(j, style));
            let text = format!("{:.*}", decimals, v * scale);
            chart
                .draw_series(std::iter::once(Text::new(text, centre, text_style)))
                .map_err(drawing_error)?;
        }
    }
    Ok(())
}

impl Heatmap {
    /// The y centre of row `j`: the geometric mean of its edges on a log axis.
    fn y_centre(&self, j: usize, style: &HeatStyle) -> f64 {
        let (a, b) = (self.y_edges[j], self.y_edges[j + 1]);
        if style.y_log_ticks.is_some() && a > 0.0 && b > 0.0 {
            (a * b).sqrt()
        } else {
            (a + b) / 2.0
        }
    }
}

/// The colour bar of `h` on `bar` in the colours of `scale`: 100 bands from the low end of the
/// scale to the high one, `value_desc` above, ticks on the left (the centre among them when the
/// scale diverges).
pub fn draw_colour_bar<DB: DrawingBackend>(
    bar: &DrawingArea<DB, Shift>,
    h: &Heatmap,
    scale: ColourScale,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (lo, span) = h.scale();
    let mut axis = Axis::within(lo, lo + span, false, MANY_TICKS);
    if let ColourScale::Diverging { centre } = scale {
        if !axis.ticks.iter().any(|t| (t - centre).abs() < 1e-9 * span) {
            axis.ticks.push(centre);
            axis.ticks.sort_by(f64::total_cmp);
        }
    }
    let mut chart = ChartBuilder::on(bar)
        .margin_top(50)
        .margin_bottom(57)
        .margin_right(10)
        .y_label_area_size(60)
        .caption(&h.value_desc, ("sans-serif", 14))
        .build_cartesian_2d(0.0..1.0, Coord::new(axis, false))
        .map_err(drawing_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_label_formatter(&|y| tick_label(*y))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(drawing_error)?;
    let bands = 100;
    chart
        .draw_series((0..bands).map(|k| {
            let a = lo + span * k as f64 / bands as f64;
            let b = lo + span * (k + 1) as f64 / bands as f64;
            let colour = scale.colour((a + b) / 2.0, (lo, lo + span));
            Rectangle::new([(0.0, a), (1.0, b)], colour.filled())
        }))
        .map_err(drawing_error)?;
    Ok(())
}

/// Draws the lines of `h` over its cells, clipped to the frame; over a white halo when outlined.
fn draw_lines<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    h: &Heatmap,
    frame: &Frame,
    style: &HeatStyle,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (x0, x1, y0, y1) = (frame.x.lo, frame.x.hi, frame.y.lo, frame.y.hi);
    for (line, look) in h.lines.iter().zip(line_looks(h.lines.len())) {
        let inside = |p: &(f64, f64)| p.0 >= x0 && p.0 <= x1;
        let parts: Vec<Vec<(f64, f64)>> = clip_y(&line.points, y0, y1)
            .into_iter()
            .map(|part| part.into_iter().filter(inside).collect())
            .collect();
        if style.outlined {
            let halo = Look {
                colour: WHITE,
                dashed: false,
                width: look.width + 4,
                ..look
            };
            canvas::draw_look(chart, &parts, halo)?;
        }
        canvas::draw_look(chart, &parts, look)?;
    }
    Ok(())
}

/// Draws the marked points of `style`: a ring, and the label on a white box above and right of
/// it, the k-th point's label lifted by one of three rows (k mod 3) so that the labels of
/// neighbouring points on one line do not overlap, with a thin leader down to its ring.
fn draw_points<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<Coord, Coord>>,
    style: &HeatStyle,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 13).into_font();
    for (k, (x, y, label)) in style.points.iter().enumerate() {
        let ring = Circle::new((*x, *y), 6, BLACK.stroke_width(2));
        let dot = Circle::new((*x, *y), 3, WHITE.filled());
        chart.draw_series([ring, dot]).map_err(drawing_error)?;
        let lift = 22 + 18 * (k % 3) as i32;
        let right = 14 + 7 * label.chars().count() as i32;
        let text = EmptyElement::at((*x, *y))
            + PathElement::new(vec![(4, -5), (8, -lift + 8)], BLACK.stroke_width(1))
            + Rectangle::new([(8, -lift), (right, -lift + 16)], WHITE.mix(0.85).filled())
            + Text::new(label.clone(), (11, -lift + 1), font.clone());
        chart
            .draw_series(std::iter::once(text))
            .map_err(drawing_error)?;
    }
    Ok(())
}

/// Draws the heatmap `h` on `root` in the default [`HeatStyle`].
pub fn draw_heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, h: &Heatmap) -> Result<()>
where
    DB::ErrorType: 'static,
{
    draw_heatmap_styled(root, h, &HeatStyle::default())
}

/// Draws the heatmap `h` on `root` as `style` asks: the cells with their lines, points and
/// legend, the colour bar in the 130 pixels on the right. `h` must pass [`Heatmap::check`].
pub fn draw_heatmap_styled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    h: &Heatmap,
    style: &HeatStyle,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(drawing_error)?;
    let (w, _) = root.dim_in_pixel();
    let bar_w = if style.colour_bar { 130 } else { 0 };
    let (main, bar) = root.split_horizontally(w.saturating_sub(bar_w));
    let frame = h.frame_styled(style);
    let legend = heat_legend(&main, h, &frame, style)?;
    let axes = AxesStyle {
        grid: false,
        ..AxesStyle::new(&h.x_desc, &h.y_desc, 14)
    };
    let (x, y) = (
        Coord::new(frame.x.clone(), false),
        Coord::new(frame.y.clone(), false),
    );
    let extra = legend.extra_right();
    let mut chart = canvas::plot_area(&main, &HEAT_LAYOUT, &h.title, extra, x, y, &axes)?;
    draw_cells(&mut chart, h, style)?;
    draw_lines(&mut chart, h, &frame, style)?;
    draw_points(&mut chart, style)?;
    legend.draw(&main, chart.plotting_area().get_pixel_range())?;
    if style.colour_bar {
        draw_colour_bar(&bar, h, style.scale)?;
    }
    Ok(())
}

/// The legend of the lines of `h` on `main`: where it hides least inside, or outside on the
/// right when the style asks; left out when it asks for none.
fn heat_legend<DB: DrawingBackend>(
    main: &DrawingArea<DB, Shift>,
    h: &Heatmap,
    frame: &Frame,
    style: &HeatStyle,
) -> Result<Legend>
where
    DB::ErrorType: 'static,
{
    let plot = HEAT_LAYOUT.plot_size(main, &h.title)?;
    let occupied = occupied(h, frame, plot);
    let looks = line_looks(h.lines.len());
    let entries = (h.lines.iter().zip(&looks)).map(|(l, look)| Entry::plain(&l.label, *look));
    let at = Placement {
        area: main,
        layout: &HEAT_LAYOUT,
        title: &h.title,
        font: 15,
        occupied: &occupied,
        outside: style.legend_outside,
        clearance: 0.0,
    };
    let mut legend = Legend::plan(&at, entries.collect())?;
    if !style.legend {
        legend = legend.omitted();
    } else if style.legend_outside && legend.place.is_some() {
        legend.place = Some(LegendPlace::OutsideRight);
    }
    Ok(legend)
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
