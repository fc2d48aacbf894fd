//! The plotters side of the chart vocabulary: the canvas (PNG or SVG by the file's extension, the
//! embedded DejaVu Sans font), the margins of a plot, one set-up of a plot's axes, grid and
//! labels for every chart ([`plot_area`]), and the drawing of a line in its [`Look`].

use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, bail, ensure, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::base::output::chart::axis::{tick_label, Axis};
use crate::base::output::chart::style::{Look, Marker};
use crate::base::output::io;

/// The size of a single chart, in pixels.
pub const SIZE: (u32, u32) = (1000, 600);

/// A drawing error of any backend as an error of this crate.
pub fn drawing_error<E: Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing chart: {e:?}")
}

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process).
pub fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font could not be registered".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The picture formats a chart can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG, drawn by plotters' bitmap backend.
    Png,
    /// SVG, drawn by plotters' SVG backend.
    Svg,
}

/// The format of a chart file, from its extension.
pub fn format_of(path: &Path) -> Result<Format> {
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

/// Creates the folder of `path` if it has one.
fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    Ok(())
}

/// Draws with `draw` (PNG) or `draw_svg` (SVG), chosen by the extension of `path`, on a canvas
/// of `size` and writes it there through [`io::write_atomic`] (a symbolic link at `path` is
/// replaced, never followed).
pub fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<()> {
    match format_of(path)? {
        Format::Png => render_png_atomic(path, size, draw),
        Format::Svg => {
            ensure_font()?;
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                draw_svg(&root)?;
                root.present()
                    .map_err(|e| anyhow!("{e}"))
                    .with_context(|| format!("drawing chart {}", path.display()))?;
            }
            create_parent(path)?;
            io::write_atomic(path, svg.as_bytes())
        }
    }
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

/// Draws with `draw` on an RGB canvas of `size` (embedded font registered) and returns the
/// picture as PNG bytes: for a file ([`render_png_atomic`]) or a notebook's inline display.
pub fn render_png_bytes(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<Vec<u8>> {
    ensure_font()?;
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let backend =
            BitMapBackend::with_buffer_and_format(&mut rgb, size).map_err(|e| anyhow!("{e}"))?;
        let root = backend.into_drawing_area();
        draw(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    encode_png(size.0, size.1, png::ColorType::Rgb, &rgb)
}

/// Draws with `draw` on an RGB canvas of `size` ([`render_png_bytes`]) and writes it to `path`
/// as PNG through [`io::write_atomic`]: a reader sees the old picture or the new one, never half
/// of one. The folder is created if needed.
pub fn render_png_atomic(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Result<()> {
    ensure!(
        matches!(format_of(path), Ok(Format::Png)),
        "picture file {} must end in .png",
        path.display()
    );
    let bytes =
        render_png_bytes(size, draw).with_context(|| format!("drawing {}", path.display()))?;
    create_parent(path)?;
    io::write_atomic(path, &bytes)
}

/// The font sizes a figure's title tries, largest first, before it breaks into two lines.
const TITLE_SIZES: [u32; 3] = [24, 21, 18];

/// `root` filled white under `title`, the area below the title returned. The title keeps to the
/// canvas: on one line at the largest of [`TITLE_SIZES`] that fits, else on two lines (broken by
/// [`title_lines`]) at the smallest, each centred.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(drawing_error)?;
    let room = root.dim_in_pixel().0.saturating_sub(20);
    let width = |text: &str, size: u32| -> Result<(u32, u32)> {
        let style = TextStyle::from(("sans-serif", size).into_font());
        root.estimate_text_size(text, &style)
            .map_err(|e| anyhow!("measuring a title: {e:?}"))
    };
    for size in TITLE_SIZES {
        if width(title, size)?.0 <= room {
            return root
                .titled(title, ("sans-serif", size))
                .map_err(drawing_error);
        }
    }
    let size = TITLE_SIZES[TITLE_SIZES.len() - 1];
    let lines = title_lines(title);
    let style =
        TextStyle::from(("sans-serif", size).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let centre = root.dim_in_pixel().0 as i32 / 2;
    let mut y = 5;
    for line in &lines {
        root.draw_text(line, &style, (centre, y))
            .map_err(drawing_error)?;
        y += width(line, size)?.1 as i32 + 3;
    }
    Ok(root.split_vertically(y + 5).1)
}

/// A title too long for one line, as two: broken after its " — " (a figure's subject, then how
/// it is drawn), else at the space nearest its middle.
fn title_lines(title: &str) -> Vec<String> {
    if let Some((head, tail)) = title.split_once(" — ") {
        return vec![head.to_string(), tail.to_string()];
    }
    let middle = title.len() / 2;
    let at = title
        .match_indices(' ')
        .map(|(i, _)| i)
        .min_by_key(|&i| i.abs_diff(middle));
    match at {
        Some(i) => vec![title[..i].to_string(), title[i + 1..].to_string()],
        None => vec![title.to_string()],
    }
}

/// Margins and label areas of a chart in pixels, and its caption's font size.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Margin on every side.
    pub margin: u32,
    /// Height of the x-axis label area.
    pub x_label: u32,
    /// Width of the y-axis label area.
    pub y_label: u32,
    /// Font size of the caption.
    pub caption: u32,
}

/// Line charts and histograms.
pub const PANEL_LAYOUT: Layout = Layout {
    margin: 12,
    x_label: 42,
    y_label: 70,
    caption: 22,
};

impl Layout {
    /// The plotting area's size in pixels for a chart of this layout on `area` under `title`,
    /// laid out as plotters does: margins, the caption's height and padding, the label areas.
    pub fn plot_size<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
    ) -> Result<(u32, u32)>
    where
        DB::ErrorType: 'static,
    {
        let (w, h) = area.dim_in_pixel();
        let (caption, _) = self.caption_height(area, title)?;
        Ok((
            w.saturating_sub(2 * self.margin + self.y_label).max(1),
            h.saturating_sub(2 * self.margin + caption + self.x_label)
                .max(1),
        ))
    }

    /// The caption's height with its padding above and below, as plotters lays it out
    /// (`DrawingArea::titled`: the text's height and up to 5 pixels each side), and that padding.
    fn caption_height<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
    ) -> Result<(u32, u32)>
    where
        DB::ErrorType: 'static,
    {
        if title.is_empty() {
            return Ok((0, 0));
        }
        let style = TextStyle::from(("sans-serif", self.caption).into_font());
        let text_h = area
            .estimate_text_size(title, &style)
            .map_err(|e| anyhow!("measuring a caption: {e:?}"))?
            .1;
        let pad = (text_h / 2).min(5);
        Ok((text_h + 2 * pad, pad))
    }

    /// A chart builder with this layout, `extra_right` more pixels of margin on the right. With
    /// such a margin (a legend beside the plot) the caption is drawn here, centred over the whole
    /// of `area`, so that a long one is not cut where the narrowed plot's centre would put it.
    fn builder<'a, 'b, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        title: &str,
        extra_right: u32,
    ) -> Result<ChartBuilder<'a, 'b, DB>>
    where
        DB::ErrorType: 'static,
    {
        let mut b = ChartBuilder::on(area);
        b.margin(self.margin)
            .margin_right(self.margin + extra_right)
            .x_label_area_size(self.x_label)
            .y_label_area_size(self.y_label);
        if extra_right == 0 {
            if !title.is_empty() {
                b.caption(title, ("sans-serif", self.caption));
            }
            return Ok(b);
        }
        let (height, pad) = self.caption_height(area, title)?;
        if height > 0 {
            let centre = area.dim_in_pixel().0 as i32 / 2;
            let style = TextStyle::from(("sans-serif", self.caption).into_font())
                .pos(Pos::new(HPos::Center, VPos::Top));
            let at = (centre, (self.margin + pad) as i32);
            area.draw_text(title, &style, at).map_err(drawing_error)?;
        }
        b.margin_top(self.margin + height);
        Ok(b)
    }
}

/// An [`Axis`] as plotters' coordinate: its ticks as the major key points and, on a linear axis
/// that asks for them, one faint line halfway between two ticks.
#[derive(Debug, Clone)]
pub struct Coord {
    axis: Axis,
    light: Vec<f64>,
}

impl Coord {
    /// `axis` with faint lines between its ticks when `minor` (linear axes only).
    pub fn new(axis: Axis, minor: bool) -> Coord {
        let light = if minor && !axis.log {
            axis.ticks.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
        } else {
            Vec::new()
        };
        Coord { axis, light }
    }

    /// The axis drawn.
    pub fn axis(&self) -> &Axis {
        &self.axis
    }
}

impl Ranged for Coord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = self.axis.frac(*value);
        let length = limit.1 - limit.0;
        if length == 0 {
            return limit.1;
        }
        if !f.is_finite() {
            return if f > 0.0 { limit.1 } else { limit.0 };
        }
        let offset = length as f64 * f;
        let offset = if length > 0 {
            (offset + 1e-3).floor()
        } else {
            (offset - 1e-3).ceil()
        };
        limit.0 + offset as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.axis.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.axis.lo..self.axis.hi
    }
}

/// What a plot writes around its data: axis descriptions, tick labels, their font size, and
/// whether grid lines are drawn.
pub struct AxesStyle<'f> {
    /// The x-axis description.
    pub x_desc: &'f str,
    /// The y-axis description.
    pub y_desc: &'f str,
    /// The label of an x tick ([`tick_label`] unless the axis says otherwise).
    pub x_label: &'f dyn Fn(&f64) -> String,
    /// The label of a y tick.
    pub y_label: &'f dyn Fn(&f64) -> String,
    /// Font size of the tick labels and descriptions.
    pub font: u32,
    /// Grey lines at the ticks (and faint ones where the axis has them).
    pub grid: bool,
}

/// The tick label of every axis but the symmetric-log one.
pub fn plain_label(v: &f64) -> String {
    tick_label(*v)
}

impl<'f> AxesStyle<'f> {
    /// Descriptions `x_desc` and `y_desc`, [`tick_label`]s, a grid, `font`-pixel text.
    pub fn new(x_desc: &'f str, y_desc: &'f str, font: u32) -> AxesStyle<'f> {
        AxesStyle {
            x_desc,
            y_desc,
            x_label: &plain_label,
            y_label: &plain_label,
            font,
            grid: true,
        }
    }
}

/// The plot of every chart, set up once: `area` filled white, `title` above, the margins of
/// `layout` (`extra_right` more on the right, for a legend outside), axes `x` and `y` with the
/// labels, descriptions and grid of `style` (grid: grey lines at the ticks, at most one faint
/// line between two). Returns the chart to draw the data on.
#[allow(clippy::too_many_arguments)]
pub fn plot_area<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    layout: &Layout,
    title: &str,
    extra_right: u32,
    x: Coord,
    y: Coord,
    style: &AxesStyle<'_>,
) -> Result<ChartContext<'a, DB, Cartesian2d<Coord, Coord>>>
where
    DB::ErrorType: 'static,
{
    area.fill(&WHITE).map_err(drawing_error)?;
    let mut chart = layout
        .builder(area, title, extra_right)?
        .build_cartesian_2d(x, y)
        .map_err(drawing_error)?;
    let mut mesh = chart.configure_mesh();
    if style.grid {
        mesh.bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.05))
            .max_light_lines(1);
    } else {
        mesh.disable_mesh();
    }
    mesh.x_desc(style.x_desc)
        .y_desc(style.y_desc)
        .x_label_formatter(style.x_label)
        .y_label_formatter(style.y_label)
        .label_style(("sans-serif", style.font))
        .draw()
        .map_err(drawing_error)?;
    Ok(chart)
}

/// Draws the polyline `parts` in `look` (legends are drawn apart).
pub fn draw_look<DB, X, Y>(
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
    let c = look.colour;
    let line = c.stroke_width(look.width);
    for part in parts {
        if look.dashed {
            chart
                .draw_series(DashedLineSeries::new(part.clone(), 8, 6, line))
                .map_err(drawing_error)?;
        } else {
            chart
                .draw_series(LineSeries::new(part.clone(), line))
                .map_err(drawing_error)?;
        }
        let (radius, style) = match look.marker {
            Marker::Dot => (3, c.filled()),
            Marker::Ring => (6, c.stroke_width(2)),
            Marker::None => continue,
        };
        chart
            .draw_series(part.iter().map(|&p| Circle::new(p, radius, style)))
            .map_err(drawing_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_title_breaks_after_its_dash_else_near_its_middle() {
        assert_eq!(
            title_lines("DBN vs Xavier — mean of 3 seeds"),
            vec!["DBN vs Xavier".to_string(), "mean of 3 seeds".to_string()]
        );
        assert_eq!(
            title_lines("one two three four"),
            vec!["one two".to_string(), "three four".to_string()]
        );
        assert_eq!(title_lines("unbroken"), vec!["unbroken".to_string()]);
    }

    #[test]
    fn a_title_wider_than_the_canvas_keeps_to_it() -> Result<()> {
        ensure_font()?;
        let long =
            "Hinton et al. 2006: a pretrained DBN vs Xavier, LeCun and He inits, sigmoid net, \
                    Adam with a cosine schedule — mean of 3 seeds, band: min to max";
        let mut buffer = vec![0u8; 1000 * 600 * 3];
        let root = BitMapBackend::with_buffer(&mut buffer, (1000, 600)).into_drawing_area();
        let below = titled(&root, long)?;
        // two lines of 18-pixel text: more than one line's height taken, less than a third
        let taken = 600 - below.dim_in_pixel().1;
        assert!((40..200).contains(&taken), "title took {taken} px");
        let short = titled(&root, "short")?;
        assert!(600 - short.dim_in_pixel().1 < 40);
        Ok(())
    }
}
