//! Axes of every chart, the PNG ones drawn with plotters and the SVG ones of `report.html` alike:
//! the value range shown, where the ticks go, and how a tick or a value is written. Pure numbers:
//! no drawing here.
//!
//! One rule for each: an axis fitted to data ([`Axis::fit`]) widens to round numbers (1, 2 or 5
//! × 10^k on a log axis, a multiple of a 1-2-5 step on a linear one); an axis over a given range
//! ([`Axis::within`]) keeps the range and puts 1-2-5 ticks inside it; tick labels are as short as
//! the tick allows ([`tick_label`]), values keep four significant digits ([`value_label`]).

/// Values within this relative distance of a round number count as that number.
const EPS: f64 = 1e-9;

/// How many ticks a fitted linear axis aims for by default (a small chart: the report page's).
pub const FEW_TICKS: usize = 6;

/// How many ticks a linear axis of a large chart (the PNG panels) aims for.
pub const MANY_TICKS: usize = 10;

/// A log axis with more decade ticks than this labels every k-th decade only.
const MAX_DECADES: usize = 12;

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
    /// a multiple of a 1-, 2- or 5-step, about [`FEW_TICKS`] of them (whole steps when
    /// `integer`; a single whole value gets half a step either side). `None` when no value
    /// qualifies.
    pub fn fit(values: impl IntoIterator<Item = f64>, log: bool, integer: bool) -> Option<Axis> {
        Axis::fit_ticks(values, log, integer, FEW_TICKS)
    }

    /// [`Axis::fit`] aiming for about `target` ticks on a linear axis.
    pub fn fit_ticks(
        values: impl IntoIterator<Item = f64>,
        log: bool,
        integer: bool,
        target: usize,
    ) -> Option<Axis> {
        let (lo, hi) = finite_range(values, log)?;
        let axis = if log {
            fit_log(lo, hi, target)
        } else {
            fit_linear(lo, hi, integer, target)
        };
        Some(if integer { axis } else { at_least_three(axis) })
    }

    /// A linear axis over exactly `[lo, hi]` with about `target` ticks at 1-2-5 steps inside it
    /// (every whole number, up to 20 of them, when `integer`).
    pub fn within(lo: f64, hi: f64, integer: bool, target: usize) -> Axis {
        let ticks = if integer && hi - lo <= 20.0 {
            nice_ticks(lo, hi, ((hi - lo) as usize).max(1), true)
        } else {
            nice_ticks(lo, hi, target, integer)
        };
        Axis {
            lo,
            hi,
            log: false,
            ticks,
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

    /// Whether the axis can show `v` (finite, and positive on a log axis).
    pub fn shows(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }
}

/// The lowest and highest of the finite `values` (positive ones when `log`).
fn finite_range(values: impl IntoIterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        if v.is_finite() && (!log || v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// `m × 10^k` for every `k` in `k0..=k1` and `m` in `mantissas`, ascending.
fn decade_series(k0: i32, k1: i32, mantissas: &[f64]) -> Vec<f64> {
    (k0..=k1)
        .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
        .collect()
}

/// The largest of `nice` at or below `lo` and the smallest at or above `hi` (up to rounding).
fn round_bounds(nice: &[f64], lo: f64, hi: f64) -> (f64, f64) {
    let a = nice
        .iter()
        .copied()
        .filter(|&n| n <= lo * (1.0 + EPS))
        .fold(nice[0], f64::max);
    let b = nice
        .iter()
        .copied()
        .filter(|&n| n >= hi * (1.0 - EPS))
        .fold(nice[nice.len() - 1], f64::min);
    (a, b)
}

/// Whether `t` is a power of ten.
fn is_decade(t: f64) -> bool {
    let l = t.log10();
    (l - l.round()).abs() < EPS
}

/// A tick within a millionth of a step of zero, made zero: no `-6e-17` label.
fn snap_zero(t: f64, step: f64) -> f64 {
    if t.abs() < step.abs() * 1e-6 {
        0.0
    } else {
        t
    }
}

/// The fewest ticks an axis of real values shows: one or two ticks do not say the scale.
pub const MIN_TICKS: usize = 3;

/// `axis` with at least [`MIN_TICKS`] ticks inside its range: when it has fewer (a narrow log
/// range such as 0.93–0.97, where no round mantissa falls), evenly spaced 1-2-5 ticks within
/// `[lo, hi]` replace them, ever finer until there are enough. On a linear axis, ticks within
/// a millionth of the span of zero are zero.
pub fn at_least_three(mut axis: Axis) -> Axis {
    let tol = (axis.hi - axis.lo).abs() * EPS;
    let n = (axis.ticks.iter())
        .filter(|t| **t >= axis.lo - tol && **t <= axis.hi + tol)
        .count();
    if n < MIN_TICKS && axis.hi > axis.lo {
        let mut target = 4;
        let mut ticks = nice_ticks(axis.lo, axis.hi, target, false);
        while ticks.len() < MIN_TICKS && target < 64 {
            target *= 2;
            ticks = nice_ticks(axis.lo, axis.hi, target, false);
        }
        axis.ticks = ticks;
    }
    if !axis.log {
        let span = axis.hi - axis.lo;
        axis.ticks = axis.ticks.iter().map(|&t| snap_zero(t, span)).collect();
    }
    axis
}

/// Mantissa sets for a log axis under a decade, finest first: 1.5, 2, 3, 4… where they fit.
const FINE_MANTISSAS: [&[f64]; 4] = [
    &[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0],
    &[1.0, 2.0, 3.0, 5.0],
    &[1.0, 2.0, 5.0],
];

/// A log axis over the positive `[lo, hi]`, about `target` ticks at most: see [`Axis::fit`].
/// Data that spans less than a decade gets the finer ticks of [`fit_log_fine`].
fn fit_log(mut lo: f64, mut hi: f64, target: usize) -> Axis {
    if hi / lo < 1.000_001 {
        lo /= 2.0;
        hi *= 2.0;
    }
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    if hi / lo < 10.0 {
        return fit_log_fine(lo, hi, k0, k1, target);
    }
    let nice = decade_series(k0, k1, &[1.0, 2.0, 5.0]);
    let (a, b) = round_bounds(&nice, lo, hi);
    let mut ticks: Vec<f64> = nice.into_iter().filter(|&n| n >= a && n <= b).collect();
    if ticks.len() > 8 {
        // Many decades: decades alone, every k-th when even those are too many.
        ticks.retain(|&t| is_decade(t));
        let step = ticks.len() / MAX_DECADES + 1;
        ticks = ticks.into_iter().step_by(step).collect();
    }
    if ticks.len() >= 4 || (ticks.len() > 2 && hi / lo > 100.0) {
        return Axis {
            lo: a,
            hi: b,
            log: true,
            ticks,
        };
    }
    fit_log_fine(lo, hi, k0, k1, target)
}

/// A log axis over about a decade or less: bounds at the finest round numbers around the data,
/// ticks from the finest mantissa set ([`FINE_MANTISSAS`]) that gives at most `target` of them
/// (at least four), so that curves between 1.5 and 4 read against 1.5, 2, 3, 4.
fn fit_log_fine(lo: f64, hi: f64, k0: i32, k1: i32, target: usize) -> Axis {
    let (a, b) = round_bounds(&decade_series(k0, k1, FINE_MANTISSAS[0]), lo, hi);
    let within = |m: &[f64]| -> Vec<f64> {
        decade_series(k0, k1, m)
            .into_iter()
            .filter(|&n| n >= a * (1.0 - EPS) && n <= b * (1.0 + EPS))
            .collect()
    };
    let most = target.max(4);
    let ticks = FINE_MANTISSAS
        .iter()
        .map(|m| within(m))
        .find(|t| t.len() <= most)
        .unwrap_or_else(|| within(FINE_MANTISSAS[3]));
    Axis {
        lo: a,
        hi: b,
        log: true,
        ticks,
    }
}

/// The 1-2-5 step that cuts `span` into about `target` pieces (a whole number when `integer`).
pub fn nice_step(span: f64, target: usize, integer: bool) -> f64 {
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - EPS))
        .unwrap_or(10.0 * mag);
    if integer {
        step.round().max(1.0)
    } else {
        step
    }
}

/// A linear axis over `[lo, hi]`: see [`Axis::fit`].
fn fit_linear(mut lo: f64, mut hi: f64, integer: bool, target: usize) -> Axis {
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        if integer {
            // One epoch: half a step either side, its tick alone.
            let ticks = if lo.fract() == 0.0 {
                vec![lo]
            } else {
                Vec::new()
            };
            return Axis {
                lo: lo - 0.5,
                hi: hi + 0.5,
                log: false,
                ticks,
            };
        }
        lo -= 0.5 * lo.abs().max(1.0);
        hi += 0.5 * hi.abs().max(1.0);
    }
    let step = nice_step(hi - lo, target, integer);
    let a = (lo / step).floor() * step;
    let b = (hi / step).ceil() * step;
    let n = ((b - a) / step).round() as usize;
    // Snapped to the step's digits: no 1e-17 for a tick at zero.
    let ticks = (0..=n)
        .map(|i| a + step * i as f64)
        .map(|t| if t.abs() < step * EPS { 0.0 } else { t })
        .collect();
    Axis {
        lo: a,
        hi: b,
        log: false,
        ticks,
    }
}

/// About `target` ticks at 1-2-5 steps within `[lo, hi]` (integers only when `integer`).
pub fn nice_ticks(lo: f64, hi: f64, target: usize, integer: bool) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let step = nice_step(span, target, integer);
    let first = (lo / step - EPS).ceil() as i64;
    let last = (hi / step + EPS).floor() as i64;
    (first..=last)
        .map(|k| snap_zero(k as f64 * step, step))
        .collect()
}

/// A tick label with as few digits as the tick needs: `0.002`, `5`, `12.5`, `40000`; far from 1
/// (below 0.001, from 10^5 on) in exponent form: `1e-5`, `2.5e-7`, `1e6`.
pub fn tick_label(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    let mag = v.abs().log10().floor();
    if !(-3.0..5.0).contains(&mag) {
        // Six significant digits at most: k × step rounds (1.5000000000000001e-4 is 1.5e-4).
        let s = format!("{v:.5e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A value with four significant digits (`0.01234`, `12.34`, `1.234e-7`).
pub fn value_label(v: f64) -> String {
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
pub fn snap_decade(v: f64) -> f64 {
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
/// none closer to 0 than half a step; its labels are in data units ([`symlog_label`]).
pub fn symlog_axis(t0: f64, t1: f64, c: f64) -> Axis {
    let top = symlog_inv(t0.abs().max(t1.abs()), c);
    let (lo, hi) = (c.log10().ceil() as i32, top.log10().floor() as i32);
    let step = ((hi - lo + 1) / 4 + 1).max(1) as usize;
    let mut ticks = vec![0.0];
    for e in (lo..=hi.max(lo)).rev().step_by(step) {
        let t = symlog(10f64.powi(e), c);
        if t >= 0.5 * step as f64 {
            ticks.extend([t, -t]);
        }
    }
    ticks.retain(|t| *t >= t0 && *t <= t1);
    ticks.sort_by(f64::total_cmp);
    Axis {
        lo: t0,
        hi: t1,
        log: false,
        ticks,
    }
}

/// The label of the tick at `t` (symlog units, threshold `c`) in data units.
pub fn symlog_label(t: f64, c: f64) -> String {
    tick_label(snap_decade(symlog_inv(t, c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_spans_round_numbers_with_ticks() {
        let a = Axis::fit([3.2, 47.0], true, false).unwrap();
        assert_eq!((a.lo, a.hi), (2.0, 50.0));
        assert_eq!(a.ticks, vec![2.0, 5.0, 10.0, 20.0, 50.0]);
        assert!((a.frac(10.0) - (5f64.log10() / 25f64.log10())).abs() < 1e-12);
        // Many decades: decades only; very many: every k-th.
        let b = Axis::fit([0.001, 90.0], true, false).unwrap();
        assert_eq!(b.ticks, vec![0.001, 0.01, 0.1, 1.0, 10.0, 100.0]);
        let wide = Axis::fit([1e-20, 1e10], true, false).unwrap();
        assert!(wide.ticks.len() <= MAX_DECADES + 1, "{:?}", wide.ticks);
        // Exact round values stay the bounds; non-positive and non-finite values are ignored.
        let c = Axis::fit([1.0, 10.0, 0.0, -3.0, f64::NAN, f64::INFINITY], true, false).unwrap();
        assert_eq!((c.lo, c.hi), (1.0, 10.0));
        // Less than a decade: finer round ticks.
        let e = Axis::fit([51.0, 89.0], true, false).unwrap();
        assert_eq!((e.lo, e.hi), (50.0, 90.0));
        assert_eq!(e.ticks, vec![50.0, 60.0, 70.0, 80.0, 90.0]);
        let f = Axis::fit([2.0, 10.0], true, false).unwrap();
        assert_eq!(f.ticks, vec![2.0, 3.0, 4.0, 5.0, 7.0, 10.0]);
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
    fn log_axis_under_a_decade_ticks_where_the_curves_are() {
        // The lab's compare chart: N(0,1) up to 13 %, every other curve between 1.5 and 4 %.
        let a = Axis::fit_ticks([1.52, 2.0, 3.9, 13.1], true, false, MANY_TICKS).unwrap();
        for t in [1.5, 2.0, 3.0, 4.0] {
            assert!(
                a.ticks.iter().any(|x| (x - t).abs() < 1e-9),
                "{t} in {:?}",
                a.ticks
            );
        }
        assert!(a.ticks.len() <= MANY_TICKS, "{:?}", a.ticks);
        // The report page's smaller chart: fewer, still inside the range.
        let b = Axis::fit([1.52, 13.1], true, false).unwrap();
        assert!(
            b.ticks.len() <= FEW_TICKS && b.ticks.len() >= MIN_TICKS,
            "{b:?}"
        );
    }

    #[test]
    fn every_axis_has_three_ticks_inside_its_range_and_none_near_zero() {
        // Activation std of a saturated tanh net: 0.93–0.97 on a log axis.
        let narrow = Axis::fit_ticks([0.93, 0.97], true, false, MANY_TICKS).unwrap();
        assert!(narrow.ticks.len() >= MIN_TICKS, "{narrow:?}");
        let mut cases: Vec<(f64, f64, bool)> = vec![(0.93, 0.97, true), (1e-7, 1e22, true)];
        // Ranges around zero of a short run (update ratios, saturation shares, tiny spans).
        for k in 0..200 {
            let lo = -((k * 37 % 101) as f64) * 0.0137 - 1e-17 * k as f64;
            let hi = (k * 53 % 89) as f64 * 0.0071 + 3e-17;
            cases.push((lo, hi, false));
            cases.push((
                lo.abs() + 1e-3,
                lo.abs() + 1e-3 + hi.abs() * 1e-3 + 1e-9,
                true,
            ));
        }
        for (lo, hi, log) in cases {
            for target in [FEW_TICKS, MANY_TICKS] {
                let a = Axis::fit_ticks([lo, hi], log, false, target).unwrap();
                let tol = (a.hi - a.lo) * 1e-9;
                assert!(a.ticks.len() >= MIN_TICKS, "{lo} {hi} {log}: {a:?}");
                assert!(
                    (a.ticks.iter()).all(|t| *t >= a.lo - tol && *t <= a.hi + tol),
                    "{lo} {hi}: {a:?}"
                );
                assert!(a.lo <= lo && a.hi >= hi, "{lo} {hi}: {a:?}");
                if !log {
                    let span = a.hi - a.lo;
                    assert!(
                        (a.ticks.iter()).all(|t| *t == 0.0 || t.abs() > span * 1e-6),
                        "{a:?}"
                    );
                }
            }
        }
        // The within-range ticks of a heatmap axis: exact zero, never -6e-17.
        let t = nice_ticks(-0.30000000000000004, 0.7, 10, false);
        assert!(t.contains(&0.0) && t.iter().all(|x| *x == 0.0 || x.abs() > 1e-9));
        assert!(
            at_least_three(Axis::within(-0.1, 0.1, false, 2))
                .ticks
                .len()
                >= MIN_TICKS
        );
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
        // Ten epochs on a large chart: every one.
        let d = Axis::fit_ticks([1.0, 10.0], false, true, MANY_TICKS).unwrap();
        assert_eq!(d.ticks, (1..=10).map(f64::from).collect::<Vec<_>>());
        assert_eq!(Axis::within(1.0, 8.0, true, MANY_TICKS).ticks.len(), 8);
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
        let labels: Vec<String> = axis.ticks.iter().map(|t| symlog_label(*t, 1e-4)).collect();
        assert!(labels.contains(&"0".to_string()), "{labels:?}");
        assert!(labels.contains(&"0.1".to_string()) && labels.contains(&"-0.1".to_string()));
        assert!(labels.contains(&"0.001".to_string()), "{labels:?}");
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
    fn values_and_ticks_are_short() {
        assert_eq!(value_label(12.3456), "12.35");
        assert_eq!(value_label(0.0012345), "0.001234");
        assert_eq!(value_label(2.5e-9), "2.500e-9");
        assert_eq!(tick_label(0.002), "0.002");
        assert_eq!(tick_label(20.0), "20");
        assert_eq!(tick_label(12.5), "12.5");
        assert_eq!(tick_label(-0.25), "-0.25");
        assert_eq!(tick_label(1e-5), "1e-5");
        assert_eq!(tick_label(2e5), "2e5");
        // Ticks k × step far from 1 lose the step's rounding: -3 × 5e-5 is -1.5e-4.
        assert_eq!(tick_label(-3.0 * 5e-5), "-1.5e-4");
        assert_eq!(tick_label(0.1 * 0.0005), "5e-5");
        assert_eq!(tick_label(-2.5e-7), "-2.5e-7");
    }
}
