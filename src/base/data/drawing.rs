//! A picture of a handwritten digit made to look like an MNIST image, the way MNIST itself was
//! made (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based learning applied to document
//! recognition", and the MNIST page): the digit's bounding box is scaled, keeping its aspect
//! ratio and anti-aliased, to fit a 20×20 box, which is then placed in a 28×28 field so that the
//! digit's centre of mass lies at the field's centre.
//!
//! Pure functions on 8-bit grey buffers (row-major, `width × height`); reading files is the
//! caller's business. The steps, each in its own function:
//!
//! 1. the background is the median of the border pixels ([`border_median`]);
//! 2. the ink is each pixel's distance from the background on the side the digit lies: a digit
//!    whose pixels reach further below the background than above it is dark on light and is
//!    inverted ([`ink`]); the ink is divided by its largest value, and ink under
//!    [`DrawingConfig::noise_floor`] counts as background (JPEG ringing, paper grain);
//! 3. the bounding box of the ink is resampled by area averaging ([`resample`], the box filter
//!    that PIL's `Image.reduce` and OpenCV's `INTER_AREA` use) so that its longer side is
//!    [`DrawingConfig::fit`] pixels, then divided by its largest value again (MNIST's brightest
//!    pixel is 255 or 254 in every test image);
//! 4. the patch is placed in the field, shifted by whole pixels so that its centre of mass is
//!    as near as can be to [`DrawingConfig::centre`] ([`place`]).

use serde::Serialize;

/// The MNIST recipe's numbers; `Default` is MNIST's.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawingConfig {
    /// Side of the square field the digit is placed in (MNIST: 28).
    pub field: usize,
    /// Side of the box the digit's bounding box is scaled to fit (MNIST: 20).
    pub fit: usize,
    /// Where the centre of mass is placed, in pixel indices, the same for x (column) and y
    /// (row). 14: MNIST's test images have theirs at (14.01, 13.99) on average (measured over
    /// the 10 000 test images of this repository's data).
    pub centre: f64,
    /// Fewest grey levels between the background and the pixel farthest from it for a picture
    /// to hold a digit at all.
    pub min_contrast: u8,
    /// Ink below this share of the strongest ink counts as background.
    pub noise_floor: f64,
}

impl Default for DrawingConfig {
    fn default() -> Self {
        DrawingConfig {
            field: 28,
            fit: 20,
            centre: 14.0,
            min_contrast: 32,
            noise_floor: 0.1,
        }
    }
}

/// Why a grey buffer could not be made into a digit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DrawingError {
    /// The buffer does not hold `width × height` values, or holds none.
    #[error("{got} grey values for a {width}×{height} picture")]
    Size {
        /// Columns.
        width: usize,
        /// Rows.
        height: usize,
        /// Values given.
        got: usize,
    },
    /// Every pixel is (nearly) the background's colour.
    #[error(
        "it holds no digit: every pixel is within {spread} grey levels of the background \
         ({background}), and a digit needs {needed} or more"
    )]
    Blank {
        /// The background's grey level (median of the border).
        background: u8,
        /// The largest distance of any pixel from it.
        spread: u8,
        /// [`DrawingConfig::min_contrast`].
        needed: u8,
    },
}

/// What [`prepare`] did, for the curious (and `predict --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preparation {
    /// Width and height of the picture given.
    pub source_size: (usize, usize),
    /// The background's grey level: the median of the border pixels.
    pub background: u8,
    /// Whether the picture was dark on light and so inverted.
    pub inverted: bool,
    /// The ink's bounding box in the picture given: x, y, width, height.
    pub ink_box: (usize, usize, usize, usize),
    /// Width and height of the box once scaled to fit.
    pub scaled: (usize, usize),
    /// Where the scaled box's top-left pixel lies in the field: x, y.
    pub offset: (usize, usize),
    /// Whether the box was stopped at the field's edge, short of centring its centre of mass.
    pub clamped: bool,
}

/// `gray` (`width × height`, row-major) as an MNIST-like digit: `field × field` grey levels,
/// white on black, returned with what was done (steps in the module documentation).
pub fn prepare(
    gray: &[u8],
    width: usize,
    height: usize,
    config: &DrawingConfig,
) -> Result<(Vec<u8>, Preparation), DrawingError> {
    if width == 0 || height == 0 || gray.len() != width * height {
        return Err(DrawingError::Size {
            width,
            height,
            got: gray.len(),
        });
    }
    let background = border_median(gray, width, height);
    let (ink, inverted) = ink(gray, background, config)?;
    let ink_box = bounding_box(&ink, width, height).ok_or(DrawingError::Blank {
        background,
        spread: 0,
        needed: config.min_contrast,
    })?;
    let (x0, y0, bw, bh) = ink_box;
    let crop: Vec<f64> = (y0..y0 + bh)
        .flat_map(|y| ink[y * width + x0..y * width + x0 + bw].iter().copied())
        .collect();
    let long = bw.max(bh) as f64;
    let side =
        |n: usize| ((n as f64 * config.fit as f64 / long).round() as usize).clamp(1, config.fit);
    let (sw, sh) = (side(bw), side(bh));
    let scaled = stretch(resample(&crop, bw, bh, sw, sh));
    let patch: Vec<u8> = scaled.iter().map(|&v| (v * 255.0).round() as u8).collect();
    let (field, offset, clamped) = place(&patch, sw, sh, config);
    Ok((
        field,
        Preparation {
            source_size: (width, height),
            background,
            inverted,
            ink_box,
            scaled: (sw, sh),
            offset,
            clamped,
        },
    ))
}

/// The median grey level of the outermost rows and columns (the whole picture when it is at
/// most two pixels wide or high): the background, as long as the digit does not cover most of
/// the border.
pub fn border_median(gray: &[u8], width: usize, height: usize) -> u8 {
    let mut border: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .filter(|&(x, y)| x == 0 || y == 0 || x + 1 == width || y + 1 == height)
        .map(|(x, y)| gray[y * width + x])
        .collect();
    border.sort_unstable();
    border[border.len() / 2]
}

/// Each pixel's ink in [0, 1] and whether the picture was inverted: its distance from
/// `background` towards the digit's side (below it when the distances below add up to more
/// than those above), divided by the largest; ink under the noise floor is 0. A largest
/// distance under [`DrawingConfig::min_contrast`] is [`DrawingError::Blank`].
pub fn ink(
    gray: &[u8],
    background: u8,
    config: &DrawingConfig,
) -> Result<(Vec<f64>, bool), DrawingError> {
    let bg = i32::from(background);
    let (above, below) = gray.iter().fold((0u64, 0u64), |(a, b), &v| {
        let d = i32::from(v) - bg;
        (a + d.max(0) as u64, b + (-d).max(0) as u64)
    });
    let inverted = below > above;
    let distance = |v: u8| {
        let d = i32::from(v) - bg;
        (if inverted { -d } else { d }).max(0)
    };
    let peak = gray.iter().map(|&v| distance(v)).max().unwrap_or(0);
    if peak < i32::from(config.min_contrast) {
        return Err(DrawingError::Blank {
            background,
            spread: peak as u8,
            needed: config.min_contrast,
        });
    }
    let ink = gray
        .iter()
        .map(|&v| {
            let share = f64::from(distance(v)) / f64::from(peak);
            if share < config.noise_floor {
                0.0
            } else {
                share
            }
        })
        .collect();
    Ok((ink, inverted))
}

/// The smallest box holding every pixel with ink: x, y, width, height (`None` without ink).
pub fn bounding_box(
    ink: &[f64],
    width: usize,
    height: usize,
) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (i, _) in ink.iter().enumerate().filter(|&(_, &v)| v > 0.0) {
        let (x, y) = (i % width, i / width);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    (x0 <= x1 && y0 <= y1 && x1 < width && y1 < height).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// For each of `n_out` output pixels along a line of `n_in`, the input pixels it covers and
/// their weights: output `j` is the mean of the input over `[j·n_in/n_out, (j+1)·n_in/n_out)`,
/// a pixel partly inside weighted by the part inside (weights add up to 1).
fn area_weights(n_in: usize, n_out: usize) -> Vec<Vec<(usize, f64)>> {
    let step = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|j| {
            let (lo, hi) = (j as f64 * step, (j + 1) as f64 * step);
            let first = lo.floor() as usize;
            let last = (hi.ceil() as usize).min(n_in);
            (first..last)
                .map(|i| (i, (hi.min(i as f64 + 1.0) - lo.max(i as f64)) / step))
                .filter(|&(_, w)| w > 0.0)
                .collect()
        })
        .collect()
}

/// `src` (`w × h`) resampled to `out_w × out_h` by area averaging, columns then rows: an
/// anti-aliased shrink, and an enlargement that repeats pixels with blended edges.
pub fn resample(src: &[f64], w: usize, h: usize, out_w: usize, out_h: usize) -> Vec<f64> {
    let across = area_weights(w, out_w);
    let down = area_weights(h, out_h);
    // [h × out_w]
    let rows: Vec<f64> = (0..h)
        .flat_map(|y| {
            across
                .iter()
                .map(move |ws| ws.iter().map(|&(x, wt)| src[y * w + x] * wt).sum::<f64>())
        })
        .collect();
    (0..out_h)
        .flat_map(|j| {
            let ws = &down[j];
            let rows = &rows;
            (0..out_w).map(move |x| ws.iter().map(|&(y, wt)| rows[y * out_w + x] * wt).sum())
        })
        .collect()
}

/// `values` divided by their largest (unchanged when that is 0).
fn stretch(values: Vec<f64>) -> Vec<f64> {
    let peak = values.iter().copied().fold(0.0, f64::max);
    if peak > 0.0 {
        values.into_iter().map(|v| v / peak).collect()
    } else {
        values
    }
}

/// The centre of mass of `gray` (`w × h`) in pixel indices, x then y; the middle when it is all 0.
pub fn centre_of_mass(gray: &[u8], w: usize, h: usize) -> (f64, f64) {
    let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &v) in gray.iter().enumerate() {
        let v = f64::from(v);
        m += v;
        mx += v * (i % w) as f64;
        my += v * (i / w) as f64;
    }
    if m > 0.0 {
        (mx / m, my / m)
    } else {
        ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0)
    }
}

/// `patch` (`w × h`, each at most the field's side) in a black field, shifted by whole pixels so
/// that its centre of mass is nearest [`DrawingConfig::centre`] but never past the field's edge:
/// the field, the patch's top-left corner in it and whether the edge stopped it.
pub fn place(
    patch: &[u8],
    w: usize,
    h: usize,
    config: &DrawingConfig,
) -> (Vec<u8>, (usize, usize), bool) {
    let n = config.field;
    let (cx, cy) = centre_of_mass(patch, w, h);
    let shift = |c: f64, len: usize| {
        let wanted = (config.centre - c).round();
        let max = n.saturating_sub(len) as f64;
        (
            wanted.clamp(0.0, max) as usize,
            wanted < 0.0 || wanted > max,
        )
    };
    let ((ox, cx_clamped), (oy, cy_clamped)) = (shift(cx, w), shift(cy, h));
    let mut field = vec![0u8; n * n];
    for y in 0..h.min(n) {
        for x in 0..w.min(n) {
            field[(oy + y) * n + ox + x] = patch[y * w + x];
        }
    }
    (field, (ox, oy), cx_clamped || cy_clamped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_weights_cover_each_output_once() {
        for (n_in, n_out) in [(200, 20), (7, 20), (20, 20), (33, 20), (1, 5)] {
            for ws in area_weights(n_in, n_out) {
                let total: f64 = ws.iter().map(|w| w.1).sum();
                assert!((total - 1.0).abs() < 1e-12, "{n_in}→{n_out}: {ws:?}");
            }
        }
    }

    #[test]
    fn a_block_shrunk_ten_times_is_the_original() {
        let small = [0.0, 0.25, 0.5, 1.0, 0.75, 0.125];
        let (w, h) = (3, 2);
        let big: Vec<f64> = (0..h * 10)
            .flat_map(|y| (0..w * 10).map(move |x| small[(y / 10) * w + x / 10]))
            .collect();
        let back = resample(&big, w * 10, h * 10, w, h);
        for (a, b) in back.iter().zip(small) {
            assert!((a - b).abs() < 1e-12, "{back:?}");
        }
    }

    #[test]
    fn a_dark_stroke_on_white_is_inverted_and_centred() {
        let (w, h) = (60, 90);
        let mut gray = vec![250u8; w * h];
        for y in 10..80 {
            for x in 20..30 {
                gray[y * w + x] = 10;
            }
        }
        let (field, how) = prepare(&gray, w, h, &DrawingConfig::default()).unwrap();
        assert!(how.inverted);
        assert_eq!(how.background, 250);
        assert_eq!(how.ink_box, (20, 10, 10, 70));
        assert_eq!(how.scaled, (3, 20));
        assert_eq!(field.iter().filter(|&&v| v == 255).count(), 60);
        let (cx, cy) = centre_of_mass(&field, 28, 28);
        assert!(
            (cx - 14.0).abs() <= 0.5 && (cy - 14.0).abs() <= 0.5,
            "{cx} {cy}"
        );
    }

    #[test]
    fn one_colour_is_blank() {
        let e = prepare(&[77u8; 100], 10, 10, &DrawingConfig::default()).unwrap_err();
        assert!(matches!(e, DrawingError::Blank { spread: 0, .. }), "{e}");
        let e = prepare(&[1u8; 3], 2, 2, &DrawingConfig::default()).unwrap_err();
        assert!(matches!(e, DrawingError::Size { got: 3, .. }), "{e}");
    }
}
