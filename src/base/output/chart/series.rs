//! What a line chart draws: labelled series of points, with an optional shaded band.

/// `(x, low, high)` per point of a shaded band.
pub type Band = Vec<(f64, f64, f64)>;

/// One line of a chart: a label and `(x, y)` points (epochs, layers, bins).
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend text. What comes before the first ` (` is the series' identity, which fixes its
    /// colour ([`crate::base::output::chart::style::series_colours`]): `shallow normal (mean of
    /// 3 seeds; …)` is coloured like `shallow normal`.
    pub label: String,
    /// Points; non-finite or non-positive values are left out on log axes.
    pub points: Vec<(f64, f64)>,
    /// A shaded band around the line, `(x, low, high)` per point (empty: none); the legend
    /// label says what it is.
    pub band: Band,
}

impl Series {
    /// A series without a band.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            band: Vec::new(),
        }
    }
}
