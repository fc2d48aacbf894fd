//! Pictures of an RBM as pixel grids: its filters, reconstructions and Gibbs samples.
//!
//! Each picture is a grid of square grey tiles (e.g. 28×28 for MNIST) on a dark separator
//! colour, every pixel enlarged to [`SCALE`]×[`SCALE`], under a band with a title and a caption
//! that says what the rows and columns are ([`captioned_png`]: headless, with the
//! embedded font).

use std::path::Path;

use anyhow::{anyhow, ensure, Context, Result};
use plotters::prelude::*;
use tch::{Kind, Tensor};

use crate::base::output::chart::canvas::{ensure_font, render_png_atomic};
use crate::pretraining::rbm::Rbm;

/// Every image pixel becomes a `SCALE`×`SCALE` block.
pub const SCALE: u32 = 2;
/// Width of the separators between tiles, in image pixels (before scaling).
pub const SEPARATOR: u32 = 1;
/// Colour of the separators (RGB).
const SEPARATOR_RGB: [u8; 3] = [70, 90, 140];

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
/// `CAPTIONED_MIN_WIDTH`; a narrower picture is centred), as PNG through
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

/// A grid of `rows × cols` square tiles of `side × side` grey values in [0, 1].
struct Grid {
    rows: u32,
    cols: u32,
    side: u32,
    /// Row-major tiles; missing tiles stay separator-coloured.
    tiles: Vec<Vec<f32>>,
}

impl Grid {
    fn size(&self) -> (u32, u32) {
        let w = self.cols * self.side + (self.cols + 1) * SEPARATOR;
        let h = self.rows * self.side + (self.rows + 1) * SEPARATOR;
        (w * SCALE, h * SCALE)
    }

    /// RGB bytes of the whole picture.
    fn rgb(&self) -> Vec<u8> {
        let (w, h) = self.size();
        let mut buf: Vec<u8> = SEPARATOR_RGB
            .iter()
            .copied()
            .cycle()
            .take((w * h * 3) as usize)
            .collect();
        for (t, tile) in self.tiles.iter().enumerate() {
            let (r, c) = (t as u32 / self.cols, t as u32 % self.cols);
            let x0 = SEPARATOR + c * (self.side + SEPARATOR);
            let y0 = SEPARATOR + r * (self.side + SEPARATOR);
            for y in 0..self.side {
                for x in 0..self.side {
                    let g = tile[(y * self.side + x) as usize].clamp(0.0, 1.0);
                    let g = (g * 255.0).round() as u8;
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            let px = (x0 + x) * SCALE + dx;
                            let py = (y0 + y) * SCALE + dy;
                            let o = ((py * w + px) * 3) as usize;
                            buf[o..o + 3].copy_from_slice(&[g, g, g]);
                        }
                    }
                }
            }
        }
        buf
    }

    /// Writes the grid under `title` and `caption` as PNG.
    fn write_png(&self, path: &Path, title: &str, caption: &str) -> Result<()> {
        captioned_png(path, title, caption, self.size(), &self.rgb())
    }
}

/// Side of the square images of `n` pixels (`√n`), or an error.
fn tile_side(n: i64) -> Result<u32> {
    let side = (n as f64).sqrt().round() as i64;
    ensure!(
        side > 0 && side * side == n,
        "pictures need square images, but {n} visible units is not a square number of pixels"
    );
    Ok(side as u32)
}

/// Rows of `t` (`[n, side²]`, any float kind) as `f32` vectors.
fn rows_of(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    let t = t.to_kind(Kind::Float).contiguous();
    let n = t.size()[0];
    (0..n)
        .map(|i| Vec::<f32>::try_from(t.get(i)).map_err(|e| anyhow!("reading tensor row {i}: {e}")))
        .collect()
}

/// `filters.png`: the weights of the first 100 hidden units (fewer if the RBM has fewer) as a
/// 10×10 grid of `√V × √V` tiles, each min–max scaled to black…white on its own (so a tile shows
/// the shape of that unit's receptive field, not its strength).
pub fn filters_png(rbm: &Rbm, path: &Path) -> Result<()> {
    let side = tile_side(rbm.n_visible())?;
    let n = rbm.n_hidden().min(100);
    let w = tch::no_grad(|| {
        let w = rbm.weight.narrow(0, 0, n); // [n, V]
        let lo = w.amin([1], true); // [n, 1]
        let hi = w.amax([1], true); // [n, 1]
        (&w - &lo) / (hi - &lo).clamp_min(1e-12) // [n, V] in [0, 1]
    });
    let grid = Grid {
        rows: (n as u32).div_ceil(10),
        cols: 10.min(n as u32),
        side,
        tiles: rows_of(&w)?,
    };
    let (v, h) = (rbm.n_visible(), rbm.n_hidden());
    grid.write_png(
        path,
        &format!("RBM {v}→{h}: what its hidden units look for"),
        &format!(
            "Hidden units 1–{n} of {h}, 10 per row: each tile is one unit's {v} incoming weights \
             as a {side}×{side} image, scaled from black (its most negative weight) to white (its \
             most positive) on its own."
        ),
    )
}

/// `reconstructions.png`: the first 20 of `images` (`[n, V]` in [0, 1]; fewer if `n < 20`) beside
/// their one-step reconstructions `p(v | h)`, `h ~ p(h|v)` ([`Rbm::reconstruct`]), as 2 rows of 10
/// pairs (original on the left, reconstruction on the right).
pub fn reconstructions_png(rbm: &Rbm, images: &Tensor, path: &Path) -> Result<()> {
    rbm.check_visible(images, "images to reconstruct")?;
    let side = tile_side(rbm.n_visible())?;
    let n = images.size()[0].min(20);
    ensure!(n > 0, "no images to reconstruct");
    let v = images.narrow(0, 0, n); // [n, V]
    let r = rbm.reconstruct(&v); // [n, V]
    let pairs = Tensor::stack(&[&v, &r], 1).reshape([2 * n, rbm.n_visible()]); // [2n, V]
    let cols = 20.min(2 * n as u32);
    let grid = Grid {
        rows: (2 * n as u32).div_ceil(cols),
        cols,
        side,
        tiles: rows_of(&pairs)?,
    };
    grid.write_png(
        path,
        &format!(
            "RBM {}→{}: one-step reconstructions",
            rbm.n_visible(),
            rbm.n_hidden()
        ),
        &format!(
            "{n} images in pairs, {} pairs per row: the image (left) and its reconstruction \
             p(v | h) with h drawn from p(h | v) (right).",
            cols / 2
        ),
    )
}

/// `samples.png`: 10 Gibbs chains of `steps` steps, one per row, shown at 10 evenly spaced steps
/// (every `steps / 10`; 1000 steps → every 100). Each chain starts from binary noise drawn from
/// `p(v_i = 1) = σ(b_i)` (the RBM with its weights ignored), and each shown picture is `p(v|h)` at
/// that step (the mean of the next visible sample, less noisy than the binary sample).
///
/// What it shows depends on how the RBM was trained: after a few epochs of CD-1 with the Guide's
/// defaults the chains drift to near-blank images within ~100 steps (CD-1 never visits the
/// model's spurious modes, so it does not remove them); an RBM trained with PCD (e.g. learning
/// rate 0.05, batch 20, 5 epochs) gives chains that settle into digits. See also
/// [`samples_png_from`].
pub fn samples_png(rbm: &Rbm, path: &Path, steps: usize) -> Result<()> {
    let start = tch::no_grad(|| {
        rbm.visible_bias
            .sigmoid()
            .unsqueeze(0)
            .expand([10, rbm.n_visible()], false)
            .bernoulli()
    }); // [10, V]
    samples_picture(
        rbm,
        &start,
        path,
        steps,
        "binary noise drawn from σ(visible bias)",
    )
}

/// [`samples_png`] with the chains starting from the rows of `start` (`[chains, V]`, e.g. test
/// digits): one row per chain, 10 snapshots per row.
pub fn samples_png_from(rbm: &Rbm, start: &Tensor, path: &Path, steps: usize) -> Result<()> {
    samples_picture(rbm, start, path, steps, "its row of the start images")
}

/// [`samples_png_from`], the caption saying the chains started from `start_desc`.
fn samples_picture(
    rbm: &Rbm,
    start: &Tensor,
    path: &Path,
    steps: usize,
    start_desc: &str,
) -> Result<()> {
    rbm.check_visible(start, "chain start")?;
    let side = tile_side(rbm.n_visible())?;
    let chains = start.size()[0];
    ensure!(chains > 0, "no chains to run");
    ensure!(
        steps >= 10,
        "a sample picture needs at least 10 Gibbs steps, got {steps}"
    );
    let every = steps / 10;
    let snapshots = tch::no_grad(|| {
        let mut v = start.shallow_clone(); // [chains, V]
        let mut shown = Vec::with_capacity(10);
        for step in 1..=10 * every {
            let h = rbm.sample_hidden(&v); // [chains, H]
            let pv = rbm.visible_probs(&h); // [chains, V]
            if step % every == 0 {
                shown.push(pv.shallow_clone());
            }
            v = pv.bernoulli(); // [chains, V]
        }
        Tensor::stack(&shown, 1).reshape([chains * 10, rbm.n_visible()]) // [chains·10, V]
    });
    let grid = Grid {
        rows: chains as u32,
        cols: 10,
        side,
        tiles: rows_of(&snapshots)?,
    };
    grid.write_png(
        path,
        &format!(
            "RBM {}→{}: {chains} Gibbs chains of {} steps",
            rbm.n_visible(),
            rbm.n_hidden(),
            10 * every
        ),
        &format!(
            "Row = one Gibbs chain started from {start_desc}; column = the chain's p(v | h) after \
             step {every}, {}, …, {} (left to right).",
            2 * every,
            10 * every
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
