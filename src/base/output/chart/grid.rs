//! Figures of rows of cells, each a line panel or a heatmap (the dynamics charts).

use std::path::Path;

use anyhow::{ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::base::output::chart::canvas;
use crate::base::output::chart::heatmap::{draw_heatmap, Heatmap};
use crate::base::output::chart::panel::{draw_panel, LegendRole, Panel};

/// One cell of a [`grid_chart`]: a line panel or a heatmap.
#[derive(Debug, Clone)]
pub enum Cell {
    /// A [`Panel`].
    Lines(Panel),
    /// A [`Heatmap`] with its colour bar.
    Heat(Heatmap),
}

/// The rows of cells under `title`, each row split evenly among its cells.
fn grid_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    rows: &[Vec<Cell>],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let root = canvas::titled(root, title)?;
    let row_areas = root.split_evenly((rows.len(), 1));
    for (area, row) in row_areas.iter().zip(rows) {
        let cells = area.split_evenly((1, row.len().max(1)));
        for (cell_area, cell) in cells.iter().zip(row) {
            match cell {
                Cell::Lines(p) => draw_panel(cell_area, p, LegendRole::OWN).map(|_| ())?,
                Cell::Heat(h) => draw_heatmap(cell_area, h)?,
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
    for cell in rows.iter().flatten() {
        if let Cell::Heat(h) = cell {
            h.check()?;
        }
    }
    let size = (cell.0 * widest as u32, cell.1 * rows.len() as u32 + 40);
    canvas::render(
        path,
        size,
        |root| grid_figure(root, title, rows),
        |root| grid_figure(root, title, rows),
    )
}
