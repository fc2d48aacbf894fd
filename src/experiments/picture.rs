//! The pictures `predict` reads: a PNG or a JPEG of any size, as 8-bit grey levels, made into a
//! [`Digit`] — as it is when it already is a 28×28 MNIST-style image, else through the MNIST
//! recipe of [`drawing::prepare`] (a drawing, a photo, a scan).
//!
//! The file's size is bounded before it is read and its pixel count before it is decoded; every
//! error names the file and says what is wrong with it ([`PictureError`]).

use std::path::Path;

use anyhow::{anyhow, Result};
use serde::Serialize;

use crate::base::data::drawing::{self, DrawingConfig, DrawingError};
use crate::base::output::io;
use crate::experiments::eval::{Digit, DIGIT_SIDE};

/// The most bytes a picture file may have (a 12-megapixel phone JPEG has a few).
pub const MAX_PICTURE_BYTES: u64 = 32 << 20;

/// The most pixels a picture may have (4096 × 4096), checked before decoding: a small file
/// can declare a huge picture.
pub const MAX_PICTURE_PIXELS: u64 = 4096 * 4096;

/// When a picture goes through the MNIST recipe ([`drawing::prepare`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Prepare {
    /// A 28×28 picture is taken as an MNIST image, pixel for pixel (white on black, already
    /// centred: a test image written out as PNG gives the inputs `--index` gives); any other
    /// size is prepared.
    #[default]
    Auto,
    /// Every picture is prepared, 28×28 ones too (a small dark-on-light drawing).
    Always,
    /// No picture is prepared: only 28×28 ones are read (what `predict` did before drawings).
    Never,
}

impl Prepare {
    /// Every choice, in the order `--help` lists them.
    pub const ALL: [Prepare; 3] = [Prepare::Auto, Prepare::Always, Prepare::Never];

    /// The name `--prepare` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Prepare::Auto => "auto",
            Prepare::Always => "always",
            Prepare::Never => "never",
        }
    }
}

/// A `--prepare` value that names no [`Prepare`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown preparation {0:?}: expected `auto`, `always` or `never`")]
pub struct UnknownPrepare(pub String);

impl std::str::FromStr for Prepare {
    type Err = UnknownPrepare;

    fn from_str(s: &str) -> Result<Prepare, UnknownPrepare> {
        Prepare::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPrepare(s.to_string()))
    }
}

/// What is wrong with a picture file (its path is added by [`read_digit`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PictureError {
    /// Not a picture of any kind known.
    #[error("not a PNG or JPEG picture (it starts with {0})")]
    NotAPicture(String),
    /// A picture format other than PNG and JPEG.
    #[error("a {0} picture; predict reads PNG and JPEG")]
    Unsupported(String),
    /// More pixels than [`MAX_PICTURE_PIXELS`].
    #[error(
        "it is {width}×{height} pixels, more than the {max} a picture may have; shrink it first"
    )]
    TooLarge {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
        /// [`MAX_PICTURE_PIXELS`].
        max: u64,
    },
    /// The file breaks its format (truncated, bad checksum, bad data).
    #[error("a corrupt {format} ({why})")]
    Corrupt {
        /// `PNG` or `JPEG`.
        format: &'static str,
        /// The decoder's message.
        why: String,
    },
    /// Not 28×28 while [`Prepare::Never`].
    #[error("it is {width}×{height} pixels, and with --prepare never predict needs {DIGIT_SIDE}×{DIGIT_SIDE} (like MNIST)")]
    NotMnistSize {
        /// Columns.
        width: u32,
        /// Rows.
        height: u32,
    },
    /// The picture holds no digit (one colour), or another failure of the MNIST recipe.
    #[error(transparent)]
    Drawing(#[from] DrawingError),
}

/// A picture as 8-bit grey levels, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width × height` grey levels.
    pub gray: Vec<u8>,
}

/// Reads `path` as a [`Digit`]: the picture's grey levels ([`read_picture`]) as they are, or
/// made MNIST-like ([`drawing::prepare`] with `config`), as `how` says. Errors name the file.
pub fn read_digit(path: &Path, how: Prepare, config: &DrawingConfig) -> Result<Digit> {
    let bad = |e: PictureError| anyhow!("{} is not a usable digit picture: {e}", path.display());
    let picture = read_picture(path)?;
    let (w, h) = (picture.width, picture.height);
    let mnist_size = (w, h) == (DIGIT_SIDE, DIGIT_SIDE);
    let source = path.display().to_string();
    match how {
        Prepare::Never if !mnist_size => Err(bad(PictureError::NotMnistSize {
            width: w,
            height: h,
        })),
        Prepare::Auto | Prepare::Never if mnist_size => {
            Digit::from_gray(source, DIGIT_SIDE, &picture.gray, None)
        }
        _ => {
            let (gray, done) = drawing::prepare(&picture.gray, w as usize, h as usize, config)
                .map_err(|e| bad(e.into()))?;
            let mut digit = Digit::from_gray(source, config.field as u32, &gray, None)?;
            digit.preparation = Some(done);
            Ok(digit)
        }
    }
}

/// Reads a PNG or JPEG file (told apart by their first bytes) as grey levels; the file is read
/// with a bound of [`MAX_PICTURE_BYTES`] and its pixel count checked against
/// [`MAX_PICTURE_PIXELS`] before decoding. Errors name the file.
pub fn read_picture(path: &Path) -> Result<Picture> {
    let bytes = io::read_bounded(path, MAX_PICTURE_BYTES)?;
    let bad = |e: PictureError| anyhow!("{} is not a usable digit picture: {e}", path.display());
    let read = match image::guess_format(&bytes) {
        Ok(image::ImageFormat::Png) => read_png(&bytes),
        Ok(image::ImageFormat::Jpeg) => read_jpeg(&bytes),
        Ok(other) => Err(PictureError::Unsupported(
            format!("{other:?}").to_uppercase(),
        )),
        Err(_) => Err(PictureError::NotAPicture(first_bytes(&bytes))),
    };
    read.map_err(bad)
}

/// The first bytes of a file, for an error message: `"…"` when they are printable, else hex.
fn first_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(8)];
    if head.is_empty() {
        "nothing: the file is empty".into()
    } else if head.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(head))
    } else {
        head.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An error unless `width × height` is within [`MAX_PICTURE_PIXELS`].
fn check_pixels(width: u32, height: u32) -> Result<(), PictureError> {
    if u64::from(width) * u64::from(height) > MAX_PICTURE_PIXELS {
        return Err(PictureError::TooLarge {
            width,
            height,
            max: MAX_PICTURE_PIXELS,
        });
    }
    Ok(())
}

/// A JPEG as grey levels: the decoder's RGB (or grey) converted with [`luma`], like a PNG's.
fn read_jpeg(bytes: &[u8]) -> Result<Picture, PictureError> {
    let corrupt = |e: image::ImageError| PictureError::Corrupt {
        format: "JPEG",
        why: e.to_string(),
    };
    let reader =
        || image::io::Reader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    let (width, height) = reader().into_dimensions().map_err(corrupt)?;
    check_pixels(width, height)?;
    let decoded = reader().decode().map_err(corrupt)?;
    let gray = match decoded {
        image::DynamicImage::ImageLuma8(g) => g.into_raw(),
        other => other
            .to_rgb8()
            .pixels()
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
    };
    Ok(Picture {
        width,
        height,
        gray,
    })
}

/// A PNG as grey levels: 8-bit grayscale as is; RGB and RGBA (and palette, 1–16-bit gray,
/// gray+alpha, expanded to 8 bits first) converted to gray with ITU-R BT.601 luma
/// (0.299 R + 0.587 G + 0.114 B, rounded, as Pillow's `convert("L")`), transparent pixels
/// composited over black.
fn read_png(bytes: &[u8]) -> Result<Picture, PictureError> {
    let corrupt = |why: String| PictureError::Corrupt { format: "PNG", why };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| corrupt(format!("not a readable PNG: {e}")))?;
    let (w, h) = (reader.info().width, reader.info().height);
    check_pixels(w, h)?;
    if reader.info().color_type == png::ColorType::Indexed {
        palette_indices_in_range(bytes).map_err(corrupt)?;
    }
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| corrupt(format!("bad PNG data: {e}")))?;
    let data = &buf[..frame.buffer_size()];
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(corrupt(format!(
            "{:?} bit depth after expansion",
            frame.bit_depth
        )));
    }
    let (row, channels) = (frame.line_size, frame.color_type.samples());
    let mut gray = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h as usize {
        for x in 0..w as usize {
            let p = &data[y * row + x * channels..y * row + (x + 1) * channels];
            gray.push(match frame.color_type {
                png::ColorType::Grayscale => p[0],
                png::ColorType::GrayscaleAlpha => over_black(p[0], p[1]),
                png::ColorType::Rgb => luma(p[0], p[1], p[2]),
                png::ColorType::Rgba => over_black(luma(p[0], p[1], p[2]), p[3]),
                png::ColorType::Indexed => {
                    return Err(corrupt("a palette image that could not be expanded".into()))
                }
            });
        }
    }
    Ok(Picture {
        width: w,
        height: h,
        gray,
    })
}

/// Checks that every pixel of a palette PNG names an entry of its palette (`PLTE`): the decoder
/// expands an index past the end to black, silently, which would be a different digit. Decodes
/// the raw indices (1, 2, 4 or 8 bits each, packed from the high bits); the error says what is
/// wrong, for the caller to name the file.
fn palette_indices_in_range(bytes: &[u8]) -> std::result::Result<(), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("not a readable PNG: {e}"))?;
    let info = reader.info();
    let entries = info.palette.as_ref().map_or(0, |p| p.len() / 3);
    let (width, bits) = (info.width as usize, info.bit_depth as usize);
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("bad PNG data: {e}"))?;
    let per_byte = 8 / bits;
    let mask = ((1u16 << bits) - 1) as u8;
    for (y, row) in buf[..frame.buffer_size()]
        .chunks(frame.line_size)
        .enumerate()
    {
        for x in 0..width {
            let shift = 8 - bits * (x % per_byte + 1);
            let index = (row[x / per_byte] >> shift) & mask;
            if usize::from(index) >= entries {
                return Err(format!(
                    "pixel ({x}, {y}) uses palette index {index}, but the palette has {entries} \
                     entr{}; re-save it as 8-bit grayscale",
                    if entries == 1 { "y" } else { "ies" }
                ));
            }
        }
    }
    Ok(())
}

/// BT.601 luma of an RGB pixel in fixed point, as Pillow's `convert("L")` computes it.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16) as u8
}

/// A gray value with coverage `alpha`, composited over black.
fn over_black(v: u8, alpha: u8) -> u8 {
    ((v as u32 * alpha as u32 + 127) / 255) as u8
}
