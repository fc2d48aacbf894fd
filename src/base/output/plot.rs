//! Charts with plotters, headless: PNG or SVG chosen by the file extension, text drawn with the
//! DejaVu Sans font embedded in the binary (no system font libraries at build or run time).
//!
//! The rules every chart follows live here, once each: a series' colour is a function of its
//! label ([`series_colours`]); a series hidden under an earlier one is drawn dashed with rings and
//! says so in the legend ([`coincidences`]); the legend goes where no data is ([`legend_place`]);
//! the grid has major lines at the ticks and at most one faint minor line between them.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, ensure, Context, Result};
use plotters::chart::MeshStyle;
use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::base::output::io;
use crate::base::train::History;

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
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend text. What comes before the first ` (` is the series' identity, which fixes its
    /// colour ([`series_colours`]): `shallow normal (mean of 3 seeds; …)` is coloured like
    /// `shallow normal`.
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

/// A palette that reads well on white (matplotlib's tab10).
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

/// The fixed colour of each init scheme (and of the names the studies give them), so that a
/// scheme looks the same in every chart: N(0,1) blue, torch's default red, Xavier green, He
/// orange, LSUV purple, DBN brown, Glorot's standard pink.
const SCHEME_COLOURS: [(&str, RGBColor); 16] = [
    ("normal", PALETTE[0]),
    ("n(0,1)", PALETTE[0]),
    ("torch-default", PALETTE[1]),
    ("xavier-uniform", PALETTE[2]),
    ("xavier", PALETTE[2]),
    ("kaiming-normal", PALETTE[3]),
    ("he", PALETTE[3]),
    ("lsuv", PALETTE[4]),
    ("dbn", PALETTE[5]),
    ("glorot-standard", PALETTE[6]),
    ("orthogonal", PALETTE[7]),
    ("zeros", PALETTE[8]),
    ("mean-field", PALETTE[9]),
    ("xavier-normal", RGBColor(0, 110, 80)),
    ("kaiming-uniform", RGBColor(180, 90, 0)),
    ("constant", RGBColor(60, 60, 60)),
];

/// A series' identity: its label up to the first ` (`, trimmed and lower-cased.
fn identity(label: &str) -> String {
    label
        .split_once(" (")
        .map_or(label, |(head, _)| head)
        .trim()
        .to_lowercase()
}

/// FNV-1a: a hash that stays the same across Rust versions and platforms.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Variant `k` of `c`: itself, darker, lighter (then again).
fn shade(c: RGBColor, k: usize) -> RGBColor {
    let f = |v: u8, k: usize| match k % 3 {
        0 => v,
        1 => (v as f64 * 0.55).round() as u8,
        _ => (v as f64 + (255.0 - v as f64) * 0.45).round() as u8,
    };
    RGBColor(f(c.0, k), f(c.1, k), f(c.2, k))
}

/// The colours a series of identity `id` may take, best first, and whether the first is fixed
/// (an init scheme's or a layer's) rather than picked by a hash.
///
/// An init scheme named in the label gives the hue and the rest of the label the shade: nothing
/// or `shallow …` the scheme's colour, `deep …` a darker one, anything else a shade picked by a
/// hash.
/// `layer k` takes the k-th palette colour. Any other label starts at a palette colour picked by
/// a hash of it. The list goes on through every palette colour and shade, for collisions.
fn colour_candidates(id: &str) -> (Vec<RGBColor>, bool) {
    let words: Vec<&str> = id.split_whitespace().collect();
    let scheme = words.iter().enumerate().find_map(|(i, w)| {
        SCHEME_COLOURS
            .iter()
            .find(|(name, _)| *w == *name || (*name == "mean-field" && w.starts_with(name)))
            .map(|(_, c)| (i, *c))
    });
    let all_shades = |start: usize| -> Vec<RGBColor> {
        (0..3)
            .flat_map(|k| (0..PALETTE.len()).map(move |j| shade(PALETTE[(start + j) % 10], k)))
            .collect()
    };
    if let Some((at, hue)) = scheme {
        let rest: Vec<&str> = words
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != at)
            .map(|(_, w)| *w)
            .collect();
        let rest = rest.join(" ");
        let first = match rest.split_whitespace().next() {
            None | Some("shallow") => 0,
            Some("deep") => 1,
            _ => (stable_hash(&rest) % 3) as usize,
        };
        let mut c: Vec<RGBColor> = (0..3).map(|k| shade(hue, first + k)).collect();
        c.extend(all_shades((stable_hash(id) % 10) as usize));
        return (c, true);
    }
    if let [w, k] = words[..] {
        if let (true, Ok(k)) = (w == "layer", k.parse::<usize>()) {
            if k >= 1 {
                return (all_shades((k - 1) % PALETTE.len()), true);
            }
        }
    }
    (all_shades((stable_hash(id) % 10) as usize), false)
}

/// A sort key that orders numbers inside text by value: `layer 2` before `layer 10`.
fn natural_key(s: &str) -> Vec<(String, u64)> {
    let mut key: Vec<(String, u64)> = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            if !digits.is_empty() {
                key.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(ch);
        }
    }
    key.push((text, digits.parse().unwrap_or(0)));
    key
}

/// The colour of each series of one chart, from its label alone wherever it can be: a run keeps
/// its colour from chart to chart, and the order of the labels does not matter.
///
/// Labels with a fixed colour (init schemes, `layer k`) are served first, the others after, each
/// group in the order of their identities (numbers by value); a label whose preferred colour is taken by another
/// identity in the same chart gets its next candidate ([`colour_candidates`]). Labels with the
/// same identity get the same colour.
pub fn series_colours<S: AsRef<str>>(labels: &[S]) -> Vec<RGBColor> {
    let ids: Vec<String> = labels.iter().map(|l| identity(l.as_ref())).collect();
    let candidates: Vec<(Vec<RGBColor>, bool)> =
        ids.iter().map(|id| colour_candidates(id)).collect();
    let keys: Vec<(bool, Vec<(String, u64)>)> = ids
        .iter()
        .zip(&candidates)
        .map(|(id, c)| (!c.1, natural_key(id)))
        .collect();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let mut taken: Vec<(&str, RGBColor)> = Vec::new();
    let mut colours = vec![PALETTE[0]; ids.len()];
    for i in order {
        if let Some((_, c)) = taken.iter().find(|(id, _)| *id == ids[i]) {
            colours[i] = *c;
            continue;
        }
        let options = &candidates[i].0;
        let c = options
            .iter()
            .find(|c| !taken.iter().any(|(_, t)| t == *c))
            .or(options.first())
            .copied()
            .unwrap_or(PALETTE[0]);
        taken.push((&ids[i], c));
        colours[i] = c;
    }
    colours
}

/// For each series (points in display units, e.g. fractions of the plot's width and height),
/// the first earlier series it coincides with: as many points, each within `tol` of the other's
/// in both coordinates. Empty series coincide with nothing.
pub fn coincidences(series: &[Vec<(f64, f64)>], tol: f64) -> Vec<Option<usize>> {
    (0..series.len())
        .map(|j| {
            let b = &series[j];
            if b.is_empty() {
                return None;
            }
            (0..j).find(|&i| {
                let a = &series[i];
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(p, q)| (p.0 - q.0).abs() <= tol && (p.1 - q.1).abs() <= tol)
            })
        })
        .collect()
}

/// Two series closer than this everywhere (a fraction of the plot's width and height, about one
/// pixel and a half) draw as one line.
const COINCIDE: f64 = 0.003;

/// Where a chart's legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendPlace {
    /// Inside the plot, top right.
    UpperRight,
    /// Inside the plot, top left.
    UpperLeft,
    /// Inside the plot, bottom right.
    LowerRight,
    /// Inside the plot, bottom left.
    LowerLeft,
    /// Inside the plot, top centre (tried after the corners).
    UpperMiddle,
    /// To the right of the plot, which is narrowed to make room.
    OutsideRight,
}

/// The places inside the plot in the order they are tried.
const CORNERS: [LegendPlace; 5] = [
    LegendPlace::UpperRight,
    LegendPlace::UpperLeft,
    LegendPlace::LowerRight,
    LegendPlace::LowerLeft,
    LegendPlace::UpperMiddle,
];

/// The place of a legend box of `size` (fractions of the plot's width and height): the first
/// corner (upper right, upper left, lower right, lower left, then the top centre, where
/// histograms often leave room) whose box covers none of `occupied`
/// (drawn points in fractions of the plot, y up; points outside the plot are ignored), else
/// outside to the right when `outside` is allowed, else the corner that covers fewest.
pub fn legend_place(occupied: &[(f64, f64)], size: (f64, f64), outside: bool) -> LegendPlace {
    let (w, h) = size;
    let covers = |place: LegendPlace, (x, y): (f64, f64)| {
        let right = x >= 1.0 - w;
        let left = x <= w;
        let centre = (x - 0.5).abs() <= w / 2.0;
        let top = y >= 1.0 - h;
        let bottom = y <= h;
        match place {
            LegendPlace::UpperRight => right && top,
            LegendPlace::UpperLeft => left && top,
            LegendPlace::LowerRight => right && bottom,
            LegendPlace::LowerLeft => left && bottom,
            LegendPlace::UpperMiddle => centre && top,
            LegendPlace::OutsideRight => false,
        }
    };
    let inside: Vec<(f64, f64)> = occupied
        .iter()
        .copied()
        .filter(|p| (0.0..=1.0).contains(&p.0) && (0.0..=1.0).contains(&p.1))
        .collect();
    let counts: Vec<usize> = CORNERS
        .iter()
        .map(|&c| inside.iter().filter(|&&p| covers(c, p)).count())
        .collect();
    let fits = w < 1.0 && h < 1.0;
    if let Some(k) = counts.iter().position(|&n| n == 0).filter(|_| fits) {
        return CORNERS[k];
    }
    if outside {
        return LegendPlace::OutsideRight;
    }
    let best = (0..CORNERS.len()).min_by_key(|&k| counts[k]).unwrap_or(0);
    CORNERS[best]
}

/// The points of a polyline every 1 % of the plot along it (input and output in fractions of
/// the plot), so that a line crossing a legend box counts even between its points.
fn trace(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = points.first().copied().into_iter().collect();
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let steps = ((b.0 - a.0).hypot(b.1 - a.1) / 0.01)
            .ceil()
            .clamp(1.0, 1000.0) as usize;
        out.extend((1..=steps).map(|k| {
            let t = k as f64 / steps as f64;
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        }));
    }
    out
}

/// The value ranges of a plot, to turn points into fractions of it (y up).
#[derive(Debug, Clone, Copy)]
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log_y: bool,
}

impl Frame {
    /// The points that can be drawn, as fractions of the plot.
    fn unit(&self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let f = |v: f64| if self.log_y { v.log10() } else { v };
        let (y0, y1) = (f(self.y.0), f(self.y.1));
        let (dx, dy) = (self.x.1 - self.x.0, y1 - y0);
        points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0))
            .map(|p| {
                (
                    if dx > 0.0 { (p.0 - self.x.0) / dx } else { 0.5 },
                    if dy > 0.0 { (f(p.1) - y0) / dy } else { 0.5 },
                )
            })
            .collect()
    }
}

/// Margins and label areas of a chart in pixels, and its caption's font size.
#[derive(Debug, Clone, Copy)]
struct Layout {
    margin: u32,
    x_label: u32,
    y_label: u32,
    caption: u32,
}

/// Line charts and histograms.
const PANEL_LAYOUT: Layout = Layout {
    margin: 12,
    x_label: 42,
    y_label: 70,
    caption: 22,
};

/// Pixels between the plot and a legend outside it.
const LEGEND_GAP: u32 = 12;

impl Layout {
    /// The plotting area's size in pixels for a chart of this layout on `area` under `title`,
    /// laid out as plotters does: margins, the caption's height and padding, the label areas.
    fn plot_size<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
    ) -> Result<(u32, u32)>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = area.dim_in_pixel();
        let text_h = if title.is_empty() {
            0
        } else {
            let style = TextStyle::from(("sans-serif", self.caption).into_font());
            area.estimate_text_size(title, &style)
                .map_err(|e| anyhow!("measuring a caption: {e:?}"))?
                .1
        };
        let caption = text_h + 2 * (text_h / 2).min(5);
        Ok((
            w.saturating_sub(2 * self.margin + self.y_label).max(1),
            h.saturating_sub(2 * self.margin + caption + self.x_label)
                .max(1),
        ))
    }

    /// A chart builder with this layout, `extra_right` more pixels of margin on the right.
    fn builder<'a, 'b, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        title: &str,
        extra_right: u32,
    ) -> ChartBuilder<'a, 'b, DB> {
        let mut b = ChartBuilder::on(area);
        if !title.is_empty() {
            b.caption(title, ("sans-serif", self.caption));
        }
        b.margin(self.margin)
            .margin_right(self.margin + extra_right)
            .x_label_area_size(self.x_label)
            .y_label_area_size(self.y_label);
        b
    }
}

/// A chart's legend: its entries, place, box in pixels and font size.
#[derive(Debug, Clone)]
struct Legend {
    entries: Vec<Entry>,
    place: Option<LegendPlace>,
    size: (u32, u32),
    font: u32,
}

/// Width of the line sample in front of a legend entry, and the legend's inner margin, in pixels.
const GLYPH: (i32, i32) = (22, 10);

impl Legend {
    /// Height of one legend line in pixels.
    fn line_height(&self) -> i32 {
        (self.font as f64 * 1.3).round() as i32
    }

    /// Plans the legend of `entries` (those with a label) for a chart of `layout` on `area`
    /// under `title`: its box measured in `font`, placed by [`legend_place`] against `occupied`
    /// (drawn points in fractions of the plot), outside the plot only when `outside` is allowed.
    #[allow(clippy::too_many_arguments)]
    fn plan<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        layout: &Layout,
        title: &str,
        entries: Vec<Entry>,
        font: u32,
        occupied: &[(f64, f64)],
        outside: bool,
    ) -> Result<Self>
    where
        DB::ErrorType: 'static,
    {
        let entries: Vec<Entry> = entries
            .into_iter()
            .filter(|e| !e.label.is_empty())
            .collect();
        let mut legend = Legend {
            entries,
            place: None,
            size: (0, 0),
            font,
        };
        if legend.entries.is_empty() {
            return Ok(legend);
        }
        let style = TextStyle::from(("sans-serif", font).into_font());
        let mut text_w = 0;
        for entry in &legend.entries {
            let (w, _) = area
                .estimate_text_size(&entry.text(), &style)
                .map_err(|e| anyhow!("measuring the legend: {e:?}"))?;
            text_w = text_w.max(w);
        }
        let n = legend.entries.len() as i32;
        legend.size = (
            (text_w as i32 + GLYPH.0 + 3 * GLYPH.1) as u32,
            (n * legend.line_height() + 2 * GLYPH.1) as u32,
        );
        let (pw, ph) = layout.plot_size(area, title)?;
        // The box sits 5 pixels in from the corner; 4 more keep it off the lines.
        let fraction = (
            (legend.size.0 + 9) as f64 / pw as f64,
            (legend.size.1 + 9) as f64 / ph as f64,
        );
        legend.place = Some(legend_place(occupied, fraction, outside));
        Ok(legend)
    }

    /// The same legend left out of its chart.
    fn omitted(mut self) -> Self {
        self.place = None;
        self
    }

    /// Whether `other` lists the same series in the same colours (coinciding or not).
    fn same_series(&self, other: &Legend) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.label == b.label && a.look.colour == b.look.colour)
    }

    /// Room the chart must leave on its right.
    fn extra_right(&self) -> u32 {
        match self.place {
            Some(LegendPlace::OutsideRight) => self.size.0 + LEGEND_GAP,
            _ => 0,
        }
    }

    /// Draws the legend on `area` (the chart's whole area) beside or inside the plotting area
    /// whose pixels are `plot` (as `get_pixel_range` gives them).
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        plot: (Range<i32>, Range<i32>),
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing a legend: {e:?}");
        let Some(place) = self.place else {
            return Ok(());
        };
        let base = area.get_base_pixel();
        let (px, py) = (plot.0.start - base.0, plot.1.start - base.1);
        let (pw, ph) = (plot.0.end - plot.0.start, plot.1.end - plot.1.start);
        let (w, h) = (self.size.0 as i32, self.size.1 as i32);
        let (right, bottom) = (pw - w - 5, ph - h - 5);
        let (x, y) = match place {
            LegendPlace::UpperRight => (right, 5),
            LegendPlace::UpperLeft => (5, 5),
            LegendPlace::LowerRight => (right, bottom),
            LegendPlace::LowerLeft => (5, bottom),
            LegendPlace::UpperMiddle => ((pw - w) / 2, 5),
            LegendPlace::OutsideRight => (pw + LEGEND_GAP as i32, 0),
        };
        let (x, y) = (px + x, py + y);
        area.draw(&Rectangle::new(
            [(x, y), (x + w, y + h)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(err)?;
        area.draw(&Rectangle::new([(x, y), (x + w, y + h)], BLACK))
            .map_err(err)?;
        let style = TextStyle::from(("sans-serif", self.font).into_font()).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ),
        );
        let lh = self.line_height();
        for (k, entry) in self.entries.iter().enumerate() {
            let look = &entry.look;
            let cy = y + GLYPH.1 + k as i32 * lh + lh / 2;
            let gx = x + GLYPH.1;
            let line = look.colour.stroke_width(look.width);
            let segments: &[(i32, i32)] = if look.dashed {
                &[(0, 8), (14, GLYPH.0)]
            } else {
                &[(0, GLYPH.0)]
            };
            for (a, b) in segments {
                area.draw(&PathElement::new(vec![(gx + a, cy), (gx + b, cy)], line))
                    .map_err(err)?;
            }
            let centre = (gx + GLYPH.0 / 2, cy);
            match look.marker {
                Marker::Dot => area.draw(&Circle::new(centre, 3, look.colour.filled())),
                Marker::Ring => area.draw(&Circle::new(centre, 5, look.colour.stroke_width(2))),
                Marker::None => Ok(()),
            }
            .map_err(err)?;
            area.draw(&Text::new(
                entry.text(),
                (gx + GLYPH.0 + GLYPH.1, cy),
                style.clone(),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

/// A marker on every point of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    /// A filled dot.
    Dot,
    /// A ring around the point, for a line drawn over another.
    Ring,
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy)]
struct Look {
    colour: RGBColor,
    dashed: bool,
    marker: Marker,
    /// Line width in pixels.
    width: u32,
}

/// One line of a legend.
#[derive(Debug, Clone)]
struct Entry {
    /// The series' label.
    label: String,
    /// How its line is drawn.
    look: Look,
    /// What it coincides with ([`coincidences`]): `sigmoid`, `sigmoid in test error`.
    coincides: Option<String>,
}

impl Entry {
    /// An entry for a series that coincides with nothing.
    fn plain(label: &str, look: Look) -> Self {
        Entry {
            label: label.to_string(),
            look,
            coincides: None,
        }
    }

    /// The legend text: `sigmoid N (coincides with sigmoid)`.
    fn text(&self) -> String {
        match &self.coincides {
            Some(other) => format!("{} (coincides with {other})", self.label),
            None => self.label.clone(),
        }
    }
}

/// Looks and legend labels of `series` (their drawable points in fractions of the plot in
/// `unit`, their colours from [`series_colours`] in `colours`): `marker` on each, and a series that coincides with an
/// earlier one ([`coincidences`]) dashed, ringed where the others have dots, and labelled
/// `… (coincides with X)`.
fn looks(
    series: &[Series],
    colours: &[RGBColor],
    unit: &[Vec<(f64, f64)>],
    marker: Marker,
) -> Vec<Entry> {
    let same = coincidences(unit, COINCIDE);
    series
        .iter()
        .zip(colours.iter().copied())
        .zip(same)
        .map(|((s, colour), same)| match same {
            Some(i) => {
                let other = &series[i].label;
                let other = other.split_once(" (").map_or(other.as_str(), |(h, _)| h);
                Entry {
                    label: s.label.clone(),
                    look: Look {
                        colour,
                        dashed: true,
                        marker: if marker == Marker::None {
                            Marker::None
                        } else {
                            Marker::Ring
                        },
                        width: 2,
                    },
                    coincides: Some(other.to_string()),
                }
            }
            None => Entry::plain(
                &s.label,
                Look {
                    colour,
                    dashed: false,
                    marker,
                    width: 2,
                },
            ),
        })
        .collect()
}

/// [`series_colours`] of the series' labels.
fn colours_of(series: &[Series]) -> Vec<RGBColor> {
    let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    series_colours(&labels)
}

/// Draws the polyline `parts` in `look` (the legend is drawn apart, by [`Legend::draw`]).
fn draw_look<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    parts: &[Vec<(f64, f64)>],
    look: Look,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
    let c = look.colour;
    let line = c.stroke_width(look.width);
    for part in parts {
        if look.dashed {
            chart
                .draw_series(DashedLineSeries::new(part.clone(), 8, 6, line))
                .map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(part.clone(), line))
                .map_err(err)?;
        }
        match look.marker {
            Marker::Dot => {
                chart
                    .draw_series(part.iter().map(|&p| Circle::new(p, 3, c.filled())))
                    .map_err(err)?;
            }
            Marker::Ring => {
                chart
                    .draw_series(part.iter().map(|&p| Circle::new(p, 6, c.stroke_width(2))))
                    .map_err(err)?;
            }
            Marker::None => {}
        }
    }
    Ok(())
}

/// The grid of every chart: grey lines at the ticks, and faint minor lines only where the axis
/// has them (one between two ticks of a linear axis, none on log and integer axes).
fn grid<X: Ranged, Y: Ranged, DB: DrawingBackend>(mesh: &mut MeshStyle<'_, '_, X, Y, DB>) {
    mesh.bold_line_style(BLACK.mix(0.15))
        .light_line_style(BLACK.mix(0.05))
        .max_light_lines(1);
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

/// About `target` ticks at 1-2-5 steps within `[lo, hi]` (integers only when `integer`).
fn nice_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    if integer {
        step = step.round().max(1.0);
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A linear f64 axis with the ticks and faint grid lines given (plotters formats its labels
/// through the chart's formatter).
#[derive(Clone)]
struct Ticks {
    inner: RangedCoordf64,
    keys: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticks {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A linear axis over `[lo, hi]` with ticks at 1-2-5 steps (every integer up to 20 of them
/// when `integer`) and, off integer axes, one faint line halfway between two ticks.
fn linear_axis(lo: f64, hi: f64, integer: bool) -> Ticks {
    let keys = if integer && hi - lo <= 20.0 {
        nice_ticks(lo, hi, ((hi - lo) as usize).max(1), true)
    } else {
        nice_ticks(lo, hi, 10, integer)
    };
    let light: Vec<f64> = if integer {
        Vec::new()
    } else {
        keys.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
    };
    Ticks {
        inner: (lo..hi).into(),
        keys,
        light,
    }
}

/// The symmetric log of `x` with linear threshold `c > 0`: `sign(x) · log10(1 + |x|/c)`, linear
/// near 0 and one unit per decade far from it, so that values of very different sizes and
/// both signs share an axis.
pub fn symlog(x: f64, c: f64) -> f64 {
    x.signum() * (x.abs() / c).ln_1p() / std::f64::consts::LN_10
}

/// The inverse of [`symlog`].
pub fn symlog_inv(t: f64, c: f64) -> f64 {
    t.signum() * c * (t.abs() * std::f64::consts::LN_10).exp_m1()
}

/// A value within a millionth of a power of ten, made that power (tick labels after a round
/// trip through [`symlog`]).
fn snap_decade(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let p = 10f64.powf(v.abs().log10().round());
    if (v.abs() - p).abs() <= 1e-6 * p {
        v.signum() * p
    } else {
        v
    }
}

/// An axis over `[t0, t1]` in [`symlog`] units (threshold `c`), with ticks at 0 and at powers
/// of ten ±10^k, every k-th decade down from the largest so that there are about four a side,
/// none closer to 0 than half a step; the caller labels them in data units through
/// [`symlog_inv`].
fn symlog_axis(t0: f64, t1: f64, c: f64) -> Ticks {
    let top = symlog_inv(t0.abs().max(t1.abs()), c);
    let (lo, hi) = (c.log10().ceil() as i32, top.log10().floor() as i32);
    let step = ((hi - lo + 1) / 4 + 1).max(1) as usize;
    let mut keys = vec![0.0];
    for e in (lo..=hi.max(lo)).rev().step_by(step) {
        let t = symlog(10f64.powi(e), c);
        if t >= 0.5 * step as f64 {
            keys.extend([t, -t]);
        }
    }
    keys.retain(|t| *t >= t0 && *t <= t1);
    keys.sort_by(f64::total_cmp);
    Ticks {
        inner: (t0..t1).into(),
        keys,
        light: Vec::new(),
    }
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

/// What a panel does with its legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegendMode {
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
struct LegendRole<'e> {
    mode: LegendMode,
    entries: Option<&'e [Entry]>,
}

impl LegendRole<'_> {
    /// The panel's own legend, drawn.
    const OWN: LegendRole<'static> = LegendRole {
        mode: LegendMode::Draw,
        entries: None,
    };
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
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
    let epochs = epoch_range(&p.series);
    let all: Vec<Series> = p.series.iter().chain(&p.dashed).cloned().collect();
    let range = log_range(&all);
    let frame = Frame {
        x: (epochs.start, epochs.end),
        y: (range.start, range.end),
        log_y: true,
    };
    let shown: Vec<Vec<(f64, f64)>> = p.series.iter().map(log_points).collect();
    let unit: Vec<Vec<(f64, f64)>> = shown.iter().map(|s| frame.unit(s)).collect();
    let looks = looks(&p.series, &colours_of(&p.series), &unit, Marker::Dot);
    let dashed_colour = |i: usize| {
        looks
            .get(i)
            .map(|l| l.look.colour)
            .unwrap_or_else(|| series_colours(&[&p.dashed[i].label])[0])
    };
    let mut occupied: Vec<(f64, f64)> = unit.iter().flat_map(|u| trace(u)).collect();
    for s in &p.series {
        for side in [1, 2] {
            let edge: Vec<(f64, f64)> = s
                .band
                .iter()
                .map(|b| (b.0, if side == 1 { b.1 } else { b.2 }))
                .collect();
            occupied.extend(trace(&frame.unit(&edge)));
        }
    }
    for d in &p.dashed {
        occupied.extend(trace(&frame.unit(&d.points)));
    }
    let dashed_looks: Vec<Look> = (0..p.dashed.len())
        .map(|i| Look {
            colour: dashed_colour(i),
            dashed: true,
            marker: Marker::None,
            width: 2,
        })
        .collect();
    let entries: Vec<Entry> = looks
        .iter()
        .cloned()
        .chain(
            p.dashed
                .iter()
                .zip(&dashed_looks)
                .map(|(d, look)| Entry::plain(&d.label, *look)),
        )
        .collect();
    let entries = role.entries.map_or(entries, <[Entry]>::to_vec);
    let legend = Legend::plan(area, &PANEL_LAYOUT, &p.title, entries, 15, &occupied, true)?;
    let legend = match role.mode {
        LegendMode::Plan => return Ok(legend),
        LegendMode::Draw => legend,
        LegendMode::Omit => legend.omitted(),
    };
    area.fill(&WHITE).map_err(err)?;
    let mut chart = PANEL_LAYOUT
        .builder(area, &p.title, legend.extra_right())
        .build_cartesian_2d(linear_axis(epochs.start, epochs.end, true), log_axis(&all))
        .map_err(err)?;
    let label = |v: &f64| tick_label(*v);
    let mut mesh = chart.configure_mesh();
    grid(&mut mesh);
    mesh.x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_label_formatter(&label)
        .y_label_formatter(&label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (s, Entry { look, .. }) in p.series.iter().zip(&looks) {
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
                    look.colour.mix(0.18).filled(),
                )))
                .map_err(err)?;
        }
    }
    for (pts, entry) in shown.into_iter().zip(&looks) {
        draw_look(&mut chart, &[pts], entry.look)?;
    }
    for (d, look) in p.dashed.iter().zip(dashed_looks) {
        draw_look(&mut chart, &[log_points(d)], look)?;
    }
    legend.draw(area, chart.plotting_area().get_pixel_range())?;
    Ok(legend)
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
    let panel = Panel {
        title: title.to_string(),
        x_desc: "epoch".into(),
        y_desc: "loss (log scale)".into(),
        series: loss_series(history),
        log_y: true,
        ..Panel::default()
    };
    render(
        path,
        SIZE,
        |root| log_panel(root, &panel, LegendRole::OWN).map(|_| ()),
        |root| log_panel(root, &panel, LegendRole::OWN).map(|_| ()),
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
    f: fn(&crate::base::train::EpochRecord) -> f64,
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
/// (the mean over its seeds) with a shaded band from its lowest to its highest seed; the title
/// says how many seeds and what the band is.
pub fn seeds_chart(groups: &[SeedCurves], title: &str, path: &Path) -> Result<()> {
    if groups
        .iter()
        .all(|g| g.histories.iter().all(|h| h.epochs.is_empty()))
    {
        bail!("no finished epoch to draw: every run stopped before its first epoch ended");
    }
    let per_group = |f: fn(&crate::base::train::EpochRecord) -> f64| -> Vec<Series> {
        groups
            .iter()
            .map(|g| {
                let (points, band) = mean_band(&g.histories, f);
                let n = g.histories.len();
                Series {
                    label: g.label.clone(),
                    points,
                    band: if n > 1 { band } else { Vec::new() },
                }
            })
            .collect()
    };
    // What the lines and bands are, said once above the panels (a legend entry per line would
    // repeat it and crowd the plots out).
    let seeds = groups.iter().map(|g| g.histories.len()).max().unwrap_or(1);
    let title = if seeds > 1 {
        format!("{title} — mean of {seeds} seeds, band: min to max")
    } else {
        title.to_string()
    };
    let panels = [
        Panel {
            title: "test error".into(),
            x_desc: "epoch".into(),
            y_desc: "test error % (log scale)".into(),
            series: per_group(|e| e.test_error_percent()),
            log_y: true,
            ..Panel::default()
        },
        Panel {
            title: "train cost".into(),
            x_desc: "epoch".into(),
            y_desc: "train cost (log scale)".into(),
            series: per_group(|e| e.train_cost),
            log_y: true,
            ..Panel::default()
        },
    ];
    panels_chart(&panels, &title, path)
}

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
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing chart: {e:?}");
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
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0.0f64);
    for q in shown.iter().flatten() {
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
    let integer_x = c.is_none()
        && p.series
            .iter()
            .flat_map(|s| s.points.iter())
            .all(|q| q.0.fract() == 0.0);
    let frame = Frame {
        x: (x0, x1),
        y: (y0, y1),
        log_y: false,
    };
    let unit: Vec<Vec<(f64, f64)>> = shown.iter().map(|s| frame.unit(s)).collect();
    let looks = looks(&p.series, &colours_of(&p.series), &unit, Marker::None);
    let occupied: Vec<(f64, f64)> = unit.iter().flat_map(|u| trace(u)).collect();
    let entries = role
        .entries
        .map_or_else(|| looks.clone(), <[Entry]>::to_vec);
    let layout = Layout {
        caption: 20,
        ..PANEL_LAYOUT
    };
    let legend = Legend::plan(area, &layout, &p.title, entries, 14, &occupied, true)?;
    let legend = match role.mode {
        LegendMode::Plan => return Ok(legend),
        LegendMode::Draw => legend,
        LegendMode::Omit => legend.omitted(),
    };
    area.fill(&WHITE).map_err(err)?;
    let x_axis = match c {
        Some(c) => symlog_axis(x0, x1, c),
        None => linear_axis(x0, x1, integer_x),
    };
    let mut chart = layout
        .builder(area, &p.title, legend.extra_right())
        .build_cartesian_2d(x_axis, linear_axis(y0, y1, false))
        .map_err(err)?;
    let x_label = |x: &f64| match c {
        Some(c) => tick_label(snap_decade(symlog_inv(*x, c))),
        None => tick_label(*x),
    };
    let y_label = |y: &f64| tick_label(*y);
    let mut mesh = chart.configure_mesh();
    grid(&mut mesh);
    mesh.x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(err)?;
    for (pts, entry) in shown.into_iter().zip(&looks) {
        draw_look(&mut chart, &[pts], entry.look)?;
    }
    legend.draw(area, chart.plotting_area().get_pixel_range())?;
    Ok(legend)
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
    let panel = |area: &DrawingArea<DB, Shift>, p: &Panel, role: LegendRole<'_>| {
        if p.log_y {
            log_panel(area, p, role)
        } else {
            linear_panel(area, p, role)
        }
    };
    let plan = |entries: Option<&[Entry]>| -> Result<Vec<Legend>> {
        let role = LegendRole {
            mode: LegendMode::Plan,
            entries,
        };
        areas
            .iter()
            .zip(panels)
            .map(|(area, p)| panel(area, p, role))
            .collect()
    };
    let own = plan(None)?;
    // Panels that draw the same series show one legend: in the first panel where it fits
    // inside the plot, else beside the last one.
    let shared =
        own.len() > 1 && !own[0].entries.is_empty() && own.iter().all(|l| l.same_series(&own[0]));
    if !shared {
        for (area, p) in areas.iter().zip(panels) {
            panel(area, p, LegendRole::OWN)?;
        }
        return Ok(());
    }
    let titles: Vec<&str> = panels.iter().map(|p| p.title.as_str()).collect();
    let merged = merge_entries(&own, &titles);
    let plans = plan(Some(&merged))?;
    let owner = plans
        .iter()
        .position(|l| l.place != Some(LegendPlace::OutsideRight))
        .unwrap_or(plans.len() - 1);
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
        panel(area, p, role)?;
    }
    Ok(())
}

/// One legend for panels that draw the same series (`legends`, one per panel titled `titles`):
/// a series that coincides with another in some panels only is drawn as it is there and says
/// where (`sigmoid N (coincides with sigmoid in test error)`).
fn merge_entries(legends: &[Legend], titles: &[&str]) -> Vec<Entry> {
    let Some(first) = legends.first() else {
        return Vec::new();
    };
    (0..first.entries.len())
        .map(|k| {
            let with: Vec<(usize, &Entry)> = legends
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.entries.get(k).map(|e| (i, e)))
                .filter(|(_, e)| e.coincides.is_some())
                .collect();
            match with.first() {
                None => first.entries[k].clone(),
                Some((_, e)) if with.len() == legends.len() => (*e).clone(),
                Some((_, e)) => {
                    let other = e.coincides.clone().unwrap_or_default();
                    let wheres: Vec<&str> = with
                        .iter()
                        .filter_map(|(i, _)| titles.get(*i).copied())
                        .collect();
                    Entry {
                        coincides: Some(format!("{other} in {}", wheres.join(", "))),
                        ..(*e).clone()
                    }
                }
            }
        })
        .collect()
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

/// Narrowest captioned picture ([`captioned_png`]), in pixels.
const CAPTIONED_MIN_WIDTH: u32 = 360;
/// Padding around the text of a caption band, in pixels.
const CAPTION_PAD: u32 = 10;
/// Font sizes of a caption band's title and text.
const CAPTION_FONTS: (u32, u32) = (18, 14);

/// `text` broken into lines no wider than `width` pixels in `font` (at word boundaries; a word
/// wider than the line gets a line of its own; `\n` starts a new line).
fn wrap_text(text: &str, font: &FontDesc, width: u32) -> Result<Vec<String>> {
    let measure = |s: &str| -> Result<u32> {
        Ok(font
            .box_size(s)
            .map_err(|e| anyhow!("measuring text: {e:?}"))?
            .0)
    };
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if line.is_empty() || measure(&candidate)? <= width {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            }
        }
        lines.push(line);
    }
    Ok(lines)
}

/// Writes a picture of `size` pixels (`rgb`: three bytes per pixel, row-major) under a white band
/// holding `title` and `caption` (wrapped to the width, which is at least
/// [`CAPTIONED_MIN_WIDTH`]; a narrower picture is centred), as PNG through
/// [`render_png_atomic`].
pub fn captioned_png(
    path: &Path,
    title: &str,
    caption: &str,
    size: (u32, u32),
    rgb: &[u8],
) -> Result<()> {
    ensure!(
        rgb.len() == size.0 as usize * size.1 as usize * 3,
        "a {}×{} RGB picture needs {} bytes, got {}",
        size.0,
        size.1,
        size.0 as usize * size.1 as usize * 3,
        rgb.len()
    );
    ensure_font()?;
    let width = size.0.max(CAPTIONED_MIN_WIDTH);
    let text_width = width - 2 * CAPTION_PAD;
    let title_font = ("sans-serif", CAPTION_FONTS.0).into_font();
    let text_font = ("sans-serif", CAPTION_FONTS.1).into_font();
    let title_lines = wrap_text(title, &title_font, text_width)?;
    let text_lines = wrap_text(caption, &text_font, text_width)?;
    // Line heights: 1.3 times the font size.
    let (title_h, text_h) = (CAPTION_FONTS.0 * 13 / 10, CAPTION_FONTS.1 * 13 / 10);
    let band = CAPTION_PAD
        + title_h * title_lines.len() as u32
        + CAPTION_PAD / 2
        + text_h * text_lines.len() as u32
        + CAPTION_PAD;
    render_png_atomic(path, (width, band + size.1), |root| {
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing a caption: {e:?}");
        root.fill(&WHITE).map_err(err)?;
        let mut y = CAPTION_PAD as i32;
        for line in &title_lines {
            root.draw(&Text::new(
                line.as_str(),
                (CAPTION_PAD as i32, y),
                title_font.clone(),
            ))
            .map_err(err)?;
            y += title_h as i32;
        }
        y += (CAPTION_PAD / 2) as i32;
        for line in &text_lines {
            root.draw(&Text::new(
                line.as_str(),
                (CAPTION_PAD as i32, y),
                text_font.color(&RGBColor(60, 60, 60)),
            ))
            .map_err(err)?;
            y += text_h as i32;
        }
        let picture =
            BitMapElement::with_ref(((width - size.0) as i32 / 2, band as i32), size, rgb)
                .context("the picture's bytes do not match its size")?;
        root.draw(&picture).map_err(err)
    })
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
    let layout = Layout {
        margin: 12,
        x_label: 45,
        y_label: 65,
        caption: 22,
    };
    let frame = Frame {
        x: (x0, x1),
        y: (y0, y1),
        log_y: false,
    };
    // What the legend must not hide: the lines, and the numbers written in the cells.
    let mut occupied: Vec<(f64, f64)> = Vec::new();
    for line in &h.lines {
        for part in clip_y(&line.points, y0, y1) {
            occupied.extend(trace(&frame.unit(&part)));
        }
    }
    if h.annotate.is_some() {
        let (pw, ph) = layout.plot_size(&main, &h.title)?;
        // A number is about 28 × 16 pixels around its cell's centre.
        let (dx, dy) = (14.0 / pw as f64, 8.0 / ph as f64);
        for (j, row) in h.values.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                if v.is_finite() {
                    let centre = (
                        (h.x_edges[i] + h.x_edges[i + 1]) / 2.0,
                        (h.y_edges[j] + h.y_edges[j + 1]) / 2.0,
                    );
                    for (u, w) in frame.unit(&[centre]) {
                        for (a, b) in [
                            (-1.0, -1.0),
                            (-1.0, 1.0),
                            (0.0, 0.0),
                            (1.0, -1.0),
                            (1.0, 1.0),
                        ] {
                            occupied.push((u + a * dx, w + b * dy));
                        }
                    }
                }
            }
        }
    }
    // Black, then red, then white; dashed after the first.
    let inks = [BLACK, RGBColor(214, 39, 40), WHITE];
    let line_looks: Vec<Look> = (0..h.lines.len())
        .map(|k| Look {
            colour: inks[k % inks.len()],
            dashed: k > 0,
            marker: Marker::None,
            width: 3,
        })
        .collect();
    let entries: Vec<Entry> = h
        .lines
        .iter()
        .zip(&line_looks)
        .map(|(l, look)| Entry::plain(&l.label, *look))
        .collect();
    // The colour bar takes the right: the legend stays inside, where it hides least.
    let legend = Legend::plan(&main, &layout, &h.title, entries, 15, &occupied, false)?;
    let mut chart = layout
        .builder(&main, &h.title, 0)
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
    for (line, look) in h.lines.iter().zip(line_looks) {
        let parts: Vec<Vec<(f64, f64)>> = clip_y(&line.points, y0, y1)
            .into_iter()
            .map(|part| {
                part.into_iter()
                    .filter(|p| p.0 >= x0 && p.0 <= x1)
                    .collect()
            })
            .collect();
        draw_look(&mut chart, &parts, look)?;
    }
    legend.draw(&main, chart.plotting_area().get_pixel_range())?;
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
    let layout = Layout {
        margin: 14,
        x_label: 45,
        ..PANEL_LAYOUT
    };
    let frame = Frame {
        x: (x0, x1),
        y: (ylo, yhi),
        log_y: true,
    };
    // One colour assignment for the lines and the markers together.
    let labels: Vec<&str> = c
        .series
        .iter()
        .map(|s| s.label.as_str())
        .chain(c.markers.iter().map(|m| m.1.as_str()))
        .collect();
    let colours = series_colours(&labels);
    let parts: Vec<Vec<Vec<(f64, f64)>>> = c
        .series
        .iter()
        .map(|s| clip_y(&s.points, ylo, yhi))
        .collect();
    let unit: Vec<Vec<(f64, f64)>> = c.series.iter().map(|s| frame.unit(&s.points)).collect();
    let looks = looks(&c.series, &colours, &unit, Marker::None);
    let mut occupied: Vec<(f64, f64)> = parts
        .iter()
        .flatten()
        .flat_map(|part| trace(&frame.unit(part)))
        .collect();
    for (x, _) in &c.markers {
        occupied.extend(trace(&frame.unit(&[(*x, ylo), (*x, yhi)])));
    }
    let marker_looks: Vec<Look> = (0..c.markers.len())
        .map(|k| Look {
            colour: colours[c.series.len() + k],
            dashed: true,
            marker: Marker::None,
            width: 2,
        })
        .collect();
    let entries: Vec<Entry> = looks
        .iter()
        .cloned()
        .chain(
            c.markers
                .iter()
                .zip(&marker_looks)
                .map(|(m, look)| Entry::plain(&m.1, *look)),
        )
        .collect();
    let legend = Legend::plan(root, &layout, &c.title, entries, 15, &occupied, true)?;
    let mut chart = layout
        .builder(root, &c.title, legend.extra_right())
        .build_cartesian_2d(linear_axis(x0, x1, false), y_axis)
        .map_err(err)?;
    let label = |v: &f64| tick_label(*v);
    let mut mesh = chart.configure_mesh();
    grid(&mut mesh);
    mesh.x_desc(c.x_desc.as_str())
        .y_desc(c.y_desc.as_str())
        .x_label_formatter(&label)
        .y_label_formatter(&label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for (part, entry) in parts.iter().zip(&looks) {
        draw_look(&mut chart, part, entry.look)?;
    }
    for ((x, _), look) in c.markers.iter().zip(marker_looks) {
        draw_look(&mut chart, &[vec![(*x, ylo), (*x, yhi)]], look)?;
    }
    legend.draw(root, chart.plotting_area().get_pixel_range())
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

    #[test]
    fn the_legend_goes_to_the_first_empty_corner_else_outside() {
        let size = (0.3, 0.3);
        // Nothing drawn: top right.
        assert_eq!(legend_place(&[], size, true), LegendPlace::UpperRight);
        // A line along the top right: top left.
        let top_right = [(0.9, 0.9), (0.8, 0.95)];
        assert_eq!(legend_place(&top_right, size, true), LegendPlace::UpperLeft);
        // Both top corners taken: bottom right.
        let top = [(0.9, 0.9), (0.1, 0.9)];
        assert_eq!(legend_place(&top, size, true), LegendPlace::LowerRight);
        // Every corner taken: the top centre, then outside, or the place covering fewest when
        // outside is not allowed.
        let mut everywhere = vec![(0.9, 0.9), (0.1, 0.9), (0.9, 0.1), (0.1, 0.1)];
        assert_eq!(
            legend_place(&everywhere, size, true),
            LegendPlace::UpperMiddle
        );
        everywhere.push((0.5, 0.9));
        assert_eq!(
            legend_place(&everywhere, size, true),
            LegendPlace::OutsideRight
        );
        everywhere.extend([(0.95, 0.95), (0.05, 0.95), (0.95, 0.05)]);
        assert_eq!(
            legend_place(&everywhere, size, false),
            LegendPlace::LowerLeft
        );
        // Points outside the plot do not count; a box larger than the plot goes outside.
        assert_eq!(
            legend_place(&[(1.5, 0.9)], size, true),
            LegendPlace::UpperRight
        );
        assert_eq!(
            legend_place(&[], (1.2, 0.3), true),
            LegendPlace::OutsideRight
        );
        // A segment crossing the corner between two points outside it counts once traced.
        let diagonal = [(0.5, 1.0), (1.0, 0.5)];
        assert_eq!(
            legend_place(&diagonal, (0.2, 0.2), true),
            LegendPlace::UpperRight
        );
        assert_eq!(
            legend_place(&trace(&diagonal), (0.3, 0.3), true),
            LegendPlace::UpperLeft
        );
    }

    #[test]
    fn coinciding_series_are_found_within_the_tolerance() {
        let a = vec![(0.0, 0.5), (0.5, 0.6), (1.0, 0.7)];
        let b: Vec<(f64, f64)> = a.iter().map(|p| (p.0, p.1 + 0.001)).collect();
        let c: Vec<(f64, f64)> = a.iter().map(|p| (p.0, p.1 + 0.1)).collect();
        let shorter = a[..2].to_vec();
        let found = coincidences(&[a.clone(), b, c, a.clone(), shorter, Vec::new()], COINCIDE);
        assert_eq!(found, vec![None, Some(0), None, Some(0), None, None]);
        // The later one is drawn dashed with rings and says which it hides behind.
        let series: Vec<Series> = ["sigmoid (mean of 3 seeds)", "sigmoid N (mean of 3 seeds)"]
            .iter()
            .map(|l| Series {
                label: l.to_string(),
                points: a.clone(),
                ..Series::default()
            })
            .collect();
        let l = looks(&series, &colours_of(&series), &[a.clone(), a], Marker::Dot);
        assert!(!l[0].look.dashed && l[0].look.marker == Marker::Dot);
        assert!(l[1].look.dashed && l[1].look.marker == Marker::Ring);
        assert_eq!(
            l[1].text(),
            "sigmoid N (mean of 3 seeds) (coincides with sigmoid)"
        );
        // A legend shared by two panels says in which one they coincide.
        let legend = |entries: Vec<Entry>| Legend {
            entries,
            place: None,
            size: (0, 0),
            font: 15,
        };
        let apart = vec![l[0].clone(), Entry::plain(&l[1].label, l[0].look)];
        let merged = merge_entries(
            &[legend(l.clone()), legend(apart)],
            &["test error", "train cost"],
        );
        assert_eq!(
            merged[1].text(),
            "sigmoid N (mean of 3 seeds) (coincides with sigmoid in test error)"
        );
        assert!(merged[1].look.dashed);
        assert_eq!(merged[0].text(), l[0].text());
        let both = merge_entries(&[legend(l.clone()), legend(l.clone())], &["a", "b"]);
        assert_eq!(both[1].text(), l[1].text());
    }

    #[test]
    fn a_series_keeps_its_colour_whatever_else_is_drawn() {
        let lab = [
            "shallow normal",
            "shallow xavier-uniform",
            "shallow kaiming-normal",
            "deep xavier-uniform",
            "deep sigmoid dbn",
        ];
        let study = [
            "shallow normal (mean of 3 seeds; band: min–max)",
            "shallow torch-default",
            "shallow xavier-uniform",
            "shallow kaiming-normal",
            "shallow lsuv",
            "deep normal",
            "deep torch-default",
            "deep xavier-uniform",
            "deep kaiming-normal",
            "deep lsuv",
        ];
        let colour_in = |labels: &[&str], which: &str| {
            let at = labels.iter().position(|l| identity(l) == identity(which));
            at.map(|i| series_colours(labels)[i])
        };
        for which in [
            "shallow normal",
            "shallow xavier-uniform",
            "deep xavier-uniform",
        ] {
            let mut reversed = lab;
            reversed.reverse();
            let c = colour_in(&lab, which);
            assert!(c.is_some());
            assert_eq!(c, colour_in(&reversed, which), "{which}");
            assert_eq!(c, colour_in(&study, which), "{which}");
        }
        // Colours differ within a chart, and a scheme keeps its hue: N(0,1) is blue.
        let colours = series_colours(&study);
        for (i, a) in colours.iter().enumerate() {
            assert!(!colours[..i].contains(a), "{} shares a colour", study[i]);
        }
        assert_eq!(colours[0], PALETTE[0]);
        assert_eq!(colours[5], shade(PALETTE[0], 1));
        // Labels without a scheme: stable under reordering, distinct.
        let glorot = [
            "tanh",
            "tanh N",
            "softsign",
            "softsign N",
            "sigmoid",
            "sigmoid N",
        ];
        let mut shuffled = glorot;
        shuffled.rotate_left(2);
        for which in glorot {
            assert_eq!(
                colour_in(&glorot, which),
                colour_in(&shuffled, which),
                "{which}"
            );
        }
        let colours = series_colours(&glorot);
        for (i, a) in colours.iter().enumerate() {
            assert!(!colours[..i].contains(a), "{} shares a colour", glorot[i]);
        }
        // Layers by depth; beyond the palette, its darker shades in the same order.
        assert_eq!(
            series_colours(&["layer 3 (std 0.1)", "layer 1"]),
            vec![PALETTE[2], PALETTE[0]]
        );
        let layers: Vec<String> = (1..=20).map(|k| format!("layer {k}")).collect();
        let colours = series_colours(&layers);
        assert_eq!(colours[1], PALETTE[1]);
        assert_eq!(colours[11], shade(PALETTE[1], 1));
    }

    #[test]
    fn symmetric_log_axis_round_trips_and_ticks_at_decades() {
        for x in [-1e3, -0.5, 0.0, 2e-5, 7.0] {
            let t = symlog(x, 1e-4);
            assert!(
                (symlog_inv(t, 1e-4) - x).abs() <= 1e-9 * x.abs().max(1e-12),
                "{x}"
            );
        }
        assert!((symlog(1.0, 1e-4) - 4.0).abs() < 1e-3);
        let axis = symlog_axis(symlog(-0.5, 1e-4), symlog(0.5, 1e-4), 1e-4);
        let labels: Vec<String> = axis
            .keys
            .iter()
            .map(|t| tick_label(snap_decade(symlog_inv(*t, 1e-4))))
            .collect();
        assert!(labels.contains(&"0".to_string()), "{labels:?}");
        assert!(labels.contains(&"0.1".to_string()) && labels.contains(&"-0.1".to_string()));
        assert!(labels.contains(&"1e-3".to_string()), "{labels:?}");
        assert_eq!(
            nice_ticks(1.0, 8.0, 7, true),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
        );
        assert_eq!(
            nice_ticks(1.0, 30.0, 10, true),
            vec![5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
        );
        assert_eq!(nice_ticks(-1.0, 1.0, 10, false).len(), 11);
    }

    #[test]
    fn nothing_to_draw_is_an_error_and_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compare.png");
        let groups = [SeedCurves {
            label: "normal (diverged, epoch 1)".into(),
            histories: vec![History::default()],
        }];
        let e = seeds_chart(&groups, "all diverged", &path).unwrap_err();
        assert!(e.to_string().contains("no finished epoch"), "{e}");
        assert!(!path.exists());
    }

    #[test]
    fn a_captioned_picture_has_its_text_band_on_top() {
        ensure_font().unwrap();
        let font = ("sans-serif", 14).into_font();
        let text =
            "row = one Gibbs chain started from a test image, column = step 100, 200, …, 1000";
        let lines = wrap_text(text, &font, 200).unwrap();
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), text);
        for l in &lines {
            assert!(
                font.box_size(l).unwrap().0 <= 200 || !l.contains(' '),
                "{l}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let rgb = vec![128u8; 400 * 100 * 3];
        captioned_png(&path, "A title", text, (400, 100), &rgb).unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!(info.width, 400);
        assert!(info.height > 140, "{}", info.height);
        assert!(captioned_png(&path, "t", "c", (400, 100), &rgb[..10]).is_err());
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
                Cell::Lines(p) if p.log_y => {
                    log_panel(cell_area, p, LegendRole::OWN)?;
                }
                Cell::Lines(p) => {
                    linear_panel(cell_area, p, LegendRole::OWN)?;
                }
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
