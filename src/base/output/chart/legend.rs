//! Legends, the same rules in every chart: a series hidden under an earlier one is drawn dashed
//! with rings and says so in its entry ([`coincidences`], [`looks`]); the legend goes where no
//! data is ([`legend_place`]: the first empty corner, else outside to the right); panels that
//! draw the same series share one legend ([`merge_entries`]).

use std::ops::Range;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::base::output::chart::axis::Axis;
use crate::base::output::chart::canvas::{drawing_error, Layout};
use crate::base::output::chart::series::Series;
use crate::base::output::chart::style::{Look, Marker, Stroke};

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
pub const COINCIDE: f64 = 0.003;

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
pub fn trace(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
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

/// The axes of a plot, to turn points into fractions of it (y up) for [`legend_place`].
#[derive(Debug, Clone)]
pub struct Frame {
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
}

impl Frame {
    /// The points the axes can show, as fractions of the plot (0.5 along a degenerate axis).
    pub fn unit(&self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        let frac = |a: &Axis, v: f64| {
            let f = a.frac(v);
            if f.is_finite() {
                f
            } else {
                0.5
            }
        };
        points
            .iter()
            .filter(|p| p.0.is_finite() && self.y.shows(p.1))
            .map(|p| (frac(&self.x, p.0), frac(&self.y, p.1)))
            .collect()
    }
}

/// One line of a legend.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The series' label.
    pub label: String,
    /// How its line is drawn.
    pub look: Look,
    /// What it coincides with ([`coincidences`]): `sigmoid`, `sigmoid in test error`.
    pub coincides: Option<String>,
}

impl Entry {
    /// An entry for a series that coincides with nothing.
    pub fn plain(label: &str, look: Look) -> Self {
        Entry {
            label: label.to_string(),
            look,
            coincides: None,
        }
    }

    /// The legend text: `sigmoid N (coincides with sigmoid)`.
    pub fn text(&self) -> String {
        match &self.coincides {
            Some(other) => format!("{} (coincides with {other})", self.label),
            None => self.label.clone(),
        }
    }
}

/// Looks and legend labels of `series` (their drawable points in fractions of the plot in
/// `unit`, their strokes in `strokes`): `marker` on each, dashed where the stroke says so (a deep
/// model), and a series that coincides with an earlier one ([`coincidences`]) dashed, ringed
/// where the others have dots, and labelled `… (coincides with X)`.
pub fn looks(
    series: &[Series],
    strokes: &[Stroke],
    unit: &[Vec<(f64, f64)>],
    marker: Marker,
) -> Vec<Entry> {
    let same = coincidences(unit, COINCIDE);
    series
        .iter()
        .zip(strokes.iter().copied())
        .zip(same)
        .map(|((s, stroke), same)| {
            let colour = stroke.colour;
            let Some(i) = same else {
                return Entry::plain(&s.label, Look::stroked(stroke, marker));
            };
            let other = &series[i].label;
            let other = other.split_once(" (").map_or(other.as_str(), |(h, _)| h);
            let ring = if marker == Marker::None {
                Marker::None
            } else {
                Marker::Ring
            };
            Entry {
                label: s.label.clone(),
                look: Look {
                    marker: ring,
                    ..Look::dashed(colour)
                },
                coincides: Some(other.to_string()),
            }
        })
        .collect()
}

/// Pixels between the plot and a legend outside it.
const LEGEND_GAP: u32 = 12;

/// Width of the line sample in front of a legend entry, and the legend's inner margin, in pixels.
const GLYPH: (i32, i32) = (22, 10);

/// A chart's legend: its entries, place, box in pixels and font size.
#[derive(Debug, Clone)]
pub struct Legend {
    /// Its entries, in order.
    pub entries: Vec<Entry>,
    /// Where it goes (`None`: left out).
    pub place: Option<LegendPlace>,
    /// Its box in pixels.
    pub size: (u32, u32),
    /// Its font size.
    pub font: u32,
}

/// Where a legend is planned: the chart's whole area, its layout and title (which fix the plot's
/// size), the font, the drawn points it should not hide (fractions of the plot) and whether it
/// may go outside the plot.
pub struct Placement<'p, DB: DrawingBackend> {
    /// The chart's whole area.
    pub area: &'p DrawingArea<DB, Shift>,
    /// Its layout.
    pub layout: &'p Layout,
    /// Its title.
    pub title: &'p str,
    /// Font size of the entries.
    pub font: u32,
    /// Drawn points in fractions of the plot.
    pub occupied: &'p [(f64, f64)],
    /// Outside the plot (to the right) allowed.
    pub outside: bool,
    /// How far the box keeps from the data, a fraction of the plot's width and height, beyond
    /// the 4 pixels every legend keeps (0: those alone).
    pub clearance: f64,
}

impl Legend {
    /// Height of one legend line in pixels.
    fn line_height(&self) -> i32 {
        (self.font as f64 * 1.3).round() as i32
    }

    /// Plans the legend of `entries` (those with a label) at `at`: its box measured in the font,
    /// placed by [`legend_place`].
    pub fn plan<DB: DrawingBackend>(at: &Placement<'_, DB>, entries: Vec<Entry>) -> Result<Self>
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
            font: at.font,
        };
        if legend.entries.is_empty() {
            return Ok(legend);
        }
        let style = TextStyle::from(("sans-serif", at.font).into_font());
        let mut text_w = 0;
        for entry in &legend.entries {
            let (w, _) = at
                .area
                .estimate_text_size(&entry.text(), &style)
                .map_err(|e| anyhow!("measuring the legend: {e:?}"))?;
            text_w = text_w.max(w);
        }
        let n = legend.entries.len() as i32;
        legend.size = (
            (text_w as i32 + GLYPH.0 + 3 * GLYPH.1) as u32,
            (n * legend.line_height() + 2 * GLYPH.1) as u32,
        );
        let (pw, ph) = at.layout.plot_size(at.area, at.title)?;
        // The box sits 5 pixels in from the corner; 4 more and the clearance keep it off the
        // lines.
        let fraction = (
            (legend.size.0 + 9) as f64 / pw as f64 + at.clearance,
            (legend.size.1 + 9) as f64 / ph as f64 + at.clearance,
        );
        legend.place = Some(legend_place(at.occupied, fraction, at.outside));
        Ok(legend)
    }

    /// The same legend left out of its chart.
    pub fn omitted(mut self) -> Self {
        self.place = None;
        self
    }

    /// Whether `other` lists the same series in the same colours (coinciding or not).
    pub fn same_series(&self, other: &Legend) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.label == b.label && a.look.colour == b.look.colour)
    }

    /// Room the chart must leave on its right.
    pub fn extra_right(&self) -> u32 {
        match self.place {
            Some(LegendPlace::OutsideRight) => self.size.0 + LEGEND_GAP,
            _ => 0,
        }
    }

    /// Draws the legend on `area` (the chart's whole area) beside or inside the plotting area
    /// whose pixels are `plot` (as `get_pixel_range` gives them).
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        plot: (Range<i32>, Range<i32>),
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
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
        let corners = [(x, y), (x + w, y + h)];
        area.draw(&Rectangle::new(corners, WHITE.mix(0.85).filled()))
            .map_err(drawing_error)?;
        area.draw(&Rectangle::new(corners, BLACK))
            .map_err(drawing_error)?;
        let lh = self.line_height();
        for (k, entry) in self.entries.iter().enumerate() {
            let at = (x + GLYPH.1, y + GLYPH.1 + k as i32 * lh + lh / 2);
            self.draw_entry(area, entry, at)?;
        }
        Ok(())
    }

    /// Draws one entry: its line sample starting at `(gx, cy)` (the line's left end, at the
    /// text's middle height), its marker and its text.
    fn draw_entry<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        entry: &Entry,
        (gx, cy): (i32, i32),
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let look = &entry.look;
        let line = look.colour.stroke_width(look.width);
        let segments: &[(i32, i32)] = if look.dashed {
            &[(0, 8), (14, GLYPH.0)]
        } else {
            &[(0, GLYPH.0)]
        };
        for (a, b) in segments {
            area.draw(&PathElement::new(vec![(gx + a, cy), (gx + b, cy)], line))
                .map_err(drawing_error)?;
        }
        let centre = (gx + GLYPH.0 / 2, cy);
        match look.marker {
            Marker::Dot => area.draw(&Circle::new(centre, 3, look.colour.filled())),
            Marker::Ring => area.draw(&Circle::new(centre, 5, look.colour.stroke_width(2))),
            Marker::None => Ok(()),
        }
        .map_err(drawing_error)?;
        let style = TextStyle::from(("sans-serif", self.font).into_font())
            .pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(
            entry.text(),
            (gx + GLYPH.0 + GLYPH.1, cy),
            style,
        ))
        .map_err(drawing_error)
    }
}

/// One legend for panels that draw the same series (`legends`, one per panel titled `titles`):
/// a series that coincides with another in some panels only is drawn as it is there and says
/// where (`sigmoid N (coincides with sigmoid in test error)`).
pub fn merge_entries(legends: &[Legend], titles: &[&str]) -> Vec<Entry> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::output::chart::style::series_strokes;

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
        let strokes = series_strokes(&["sigmoid", "sigmoid N"]);
        let l = looks(&series, &strokes, &[a.clone(), a], Marker::Dot);
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
}
