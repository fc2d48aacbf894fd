//! Charts of a run's [`History`]: `loss.png` of one run, and `compare.png`/`.svg` of several
//! (one line per configuration, the mean over its seeds with a band from the lowest to the
//! highest).

use std::path::Path;

use anyhow::{bail, Result};

use crate::base::output::chart::canvas::{self, SIZE};
use crate::base::output::chart::panel::{draw_panel, panels_chart, LegendRole, Panel};
use crate::base::output::chart::series::{Band, Series};
use crate::base::train::{EpochRecord, History};

/// A run as drawn in comparison charts.
#[derive(Debug, Clone)]
pub struct RunCurves {
    /// Legend text (usually the init scheme, plus the model when they differ).
    pub label: String,
    /// The run's history.
    pub history: History,
}

/// The train cost and the test loss of a run per epoch.
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
    // One panel drawn as a figure of one: its title is the figure's caption.
    canvas::render(
        path,
        SIZE,
        |root| draw_panel(root, &panel, LegendRole::OWN).map(|_| ()),
        |root| draw_panel(root, &panel, LegendRole::OWN).map(|_| ()),
    )
}

/// The training cost per epoch of one run as PNG bytes (log-scale y, one line labelled `label`),
/// for the lab's notebooks to show inline: `costs[i]` is epoch `i + 1`'s average cost, the
/// notebook's `avg_cost`. Non-finite or non-positive costs (a diverged run) are left out.
pub fn cost_curve_png(costs: &[f64], label: &str, title: &str) -> Result<Vec<u8>> {
    if costs.is_empty() {
        bail!("no epochs to draw: the cost list is empty (run the training cell first)");
    }
    let points = costs
        .iter()
        .enumerate()
        .map(|(i, &cost)| ((i + 1) as f64, cost))
        .collect();
    let panel = Panel {
        title: title.to_string(),
        x_desc: "epoch".into(),
        y_desc: "cost (log scale)".into(),
        series: vec![Series::line(label, points)],
        log_y: true,
        ..Panel::default()
    };
    canvas::render_png_bytes(SIZE, |root| {
        draw_panel(root, &panel, LegendRole::OWN).map(|_| ())
    })
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

/// Mean, lowest and highest value per epoch over histories (epochs that any run reached).
fn mean_band(histories: &[History], f: fn(&EpochRecord) -> f64) -> (Vec<(f64, f64)>, Band) {
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
    let per_group = |f: fn(&EpochRecord) -> f64| -> Vec<Series> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn cost_curve_is_a_png_of_the_chart_size() {
        let costs = [0.25, 0.09, 0.06, f64::NAN, 0.03];
        let bytes = cost_curve_png(&costs, "xavier-uniform", "notebook 9-3").unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), SIZE);
        assert_eq!(info.color_type, png::ColorType::Rgb);
    }

    #[test]
    fn cost_curve_of_no_epochs_is_an_error() {
        let e = cost_curve_png(&[], "normal", "notebook 9-2").unwrap_err();
        assert!(e.to_string().contains("no epochs"), "{e}");
    }
}
