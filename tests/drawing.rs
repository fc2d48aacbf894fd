//! `predict`'s pictures (issue 21, item 6): the MNIST recipe of `drawing::prepare` as a property
//! test over random pen strokes (any size, either polarity, any background, noise), MNIST test
//! digits scaled ×10 as PNG and JPEG coming back as the digit they were, and broken, hostile
//! and blank picture files refused with errors that name them.

mod common;

use std::path::Path;

use common::{bundled_bytes, XorShift};
use initlab::base::data::drawing::{self, centre_of_mass, DrawingConfig, DrawingError};
use initlab::experiments::picture::{self, Prepare};

/// A random "digit": 1 to 4 round-ended pen strokes with soft edges on a `w × h` canvas of
/// background `bg`, ink `ink`, plus uniform noise of up to `noise` grey levels.
fn strokes(rng: &mut XorShift, w: usize, h: usize, bg: u8, ink: u8, noise: usize) -> Vec<u8> {
    let mut share = vec![0.0f64; w * h];
    let radius = rng.range(1, (w.min(h) / 12).max(1)) as f64;
    for _ in 0..rng.range(1, 4) {
        let (x0, y0) = (rng.range(0, w - 1) as f64, rng.range(0, h - 1) as f64);
        let (x1, y1) = (rng.range(0, w - 1) as f64, rng.range(0, h - 1) as f64);
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = (dx * dx + dy * dy).max(1e-9);
        for y in 0..h {
            for x in 0..w {
                let (px, py) = (x as f64 - x0, y as f64 - y0);
                let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
                let d = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
                let s = (radius + 0.5 - d).clamp(0.0, 1.0);
                share[y * w + x] = share[y * w + x].max(s);
            }
        }
    }
    share
        .iter()
        .map(|&s| {
            let v = f64::from(bg) + s * (f64::from(ink) - f64::from(bg));
            let n = rng.range(0, 2 * noise) as f64 - noise as f64;
            (v + n).round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// The bounding box of the non-zero pixels of a 28×28 image: width, height.
fn box_size(gray: &[u8]) -> (usize, usize) {
    let lit: Vec<(usize, usize)> = (0..gray.len())
        .filter(|&i| gray[i] > 0)
        .map(|i| (i % 28, i / 28))
        .collect();
    let span = |f: fn(&(usize, usize)) -> usize| {
        lit.iter().map(f).max().unwrap() - lit.iter().map(f).min().unwrap() + 1
    };
    (span(|p| p.0), span(|p| p.1))
}

#[test]
fn random_strokes_become_a_centred_28_by_28_digit_in_a_20_pixel_box() {
    let config = DrawingConfig::default();
    let mut rng = XorShift::new(21);
    let (cases, mut clamped) = (300, 0);
    for case in 0..cases {
        let (w, h) = (rng.range(6, 320), rng.range(6, 320));
        let bg = rng.range(0, 255) as u8;
        // Ink at least 64 levels from the background, on either side of it.
        let ink = if (bg as usize) < 96 || (bg < 160 && rng.next().is_multiple_of(2)) {
            rng.range(bg as usize + 64, 255) as u8
        } else {
            rng.range(0, bg as usize - 64) as u8
        };
        let noise = rng.range(0, 8);
        let gray = strokes(&mut rng, w, h, bg, ink, noise);
        let what = format!("case {case}: {w}×{h}, background {bg}, ink {ink}");
        let (field, how) =
            drawing::prepare(&gray, w, h, &config).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(field.len(), 28 * 28, "{what}");
        assert_eq!(how.inverted, ink < bg, "{what}: {how:?}");
        let (bw, bh) = box_size(&field);
        assert!(bw <= 20 && bh <= 20, "{what}: box {bw}×{bh}, {how:?}");
        assert!(
            bw.max(bh) >= 18,
            "{what}: box {bw}×{bh} should fill 20, {how:?}"
        );
        assert_eq!(*field.iter().max().unwrap(), 255, "{what}");
        let (cx, cy) = centre_of_mass(&field, 28, 28);
        if how.clamped {
            clamped += 1;
            let (ox, oy) = how.offset;
            let (sw, sh) = how.scaled;
            assert!(
                ox == 0 || oy == 0 || ox + sw == 28 || oy + sh == 28,
                "{what}: clamped but not at the edge: {how:?}"
            );
        } else {
            assert!(
                (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
                "{what}: centre of mass ({cx:.2}, {cy:.2}), {how:?}"
            );
        }
        // Through a file and `Digit`: values in [0, 1].
        if case % 30 == 0 {
            let tmp = tempfile::tempdir().unwrap();
            let file = tmp.path().join("strokes.png");
            write_png(&file, w, h, &gray);
            let digit = picture::read_digit(&file, Prepare::Auto, &config).unwrap();
            assert_eq!(digit.pixels.len(), 784);
            assert!(digit.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
            assert_eq!(digit.preparation.as_ref(), Some(&how));
        }
    }
    // The edge is the exception (lopsided strokes), not the rule.
    assert!(clamped * 10 < cases, "{clamped} of {cases} clamped");
}

#[test]
fn nearly_one_colour_is_no_digit() {
    let config = DrawingConfig::default();
    let mut rng = XorShift::new(5);
    for bg in [0u8, 128, 255] {
        // Noise of up to 15 levels around the background: under the 32 a digit needs.
        let gray: Vec<u8> = (0..50 * 40)
            .map(|_| (bg as i64 + rng.range(0, 30) as i64 - 15).clamp(0, 255) as u8)
            .collect();
        let e = drawing::prepare(&gray, 50, 40, &config).unwrap_err();
        assert!(
            matches!(e, DrawingError::Blank { spread, needed: 32, .. } if spread <= 15),
            "{e}"
        );
    }
}

/// MNIST test image `i` (28×28 grey levels).
fn mnist_test_image(images: &[u8], i: usize) -> &[u8] {
    &images[16 + i * 784..16 + (i + 1) * 784]
}

/// `img` (28×28) with every pixel a 10×10 block.
fn times_ten(img: &[u8]) -> Vec<u8> {
    (0..280 * 280)
        .map(|i| img[(i / 280 / 10) * 28 + (i % 280) / 10])
        .collect()
}

fn write_png(path: &Path, w: usize, h: usize, gray: &[u8]) {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(gray).unwrap();
    writer.finish().unwrap();
    std::fs::write(path, out).unwrap();
}

fn write_jpeg(path: &Path, w: usize, h: usize, gray: &[u8], quality: u8) {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(gray, w as u32, h as u32, image::ColorType::L8)
        .unwrap();
    std::fs::write(path, out).unwrap();
}

/// The largest pixel difference between `a` and `b` (28×28) over the best shift of `b` by up
/// to 2 pixels each way.
fn max_diff_up_to_shift(a: &[u8], b: &[u8]) -> u8 {
    let mut best = u8::MAX;
    for dy in -2i64..=2 {
        for dx in -2i64..=2 {
            let mut worst = 0u8;
            for y in 0..28i64 {
                for x in 0..28i64 {
                    let (sx, sy) = (x + dx, y + dy);
                    let v = if (0..28).contains(&sx) && (0..28).contains(&sy) {
                        b[(sy * 28 + sx) as usize]
                    } else {
                        0
                    };
                    worst = worst.max(a[(y * 28 + x) as usize].abs_diff(v));
                }
            }
            best = best.min(worst);
        }
    }
    best
}

#[test]
fn mnist_digits_scaled_ten_times_come_back_as_they_were() {
    let images = bundled_bytes("t10k-images-idx3-ubyte");
    let config = DrawingConfig::default();
    let tmp = tempfile::tempdir().unwrap();
    let (n, mut png_close, mut jpeg_close) = (100, 0, 0);
    let mut worst = (0u8, 0u8);
    for i in 0..n {
        let original = mnist_test_image(&images, i);
        let big = times_ten(original);
        let (png_file, jpeg_file) = (tmp.path().join("big.png"), tmp.path().join("big.jpg"));
        write_png(&png_file, 280, 280, &big);
        write_jpeg(&jpeg_file, 280, 280, &big, 90);
        for (file, close, worst) in [
            (&png_file, &mut png_close, &mut worst.0),
            (&jpeg_file, &mut jpeg_close, &mut worst.1),
        ] {
            let digit = picture::read_digit(file, Prepare::Auto, &config).unwrap();
            let gray: Vec<u8> = digit
                .pixels
                .iter()
                .map(|&p| (p * 255.0).round() as u8)
                .collect();
            let d = max_diff_up_to_shift(original, &gray);
            *worst = (*worst).max(d);
            // Within 1/8 of full scale everywhere, up to a shift: the same digit.
            *close += usize::from(d <= 32);
        }
    }
    println!(
        "{n} test digits ×10: PNG {png_close} close (worst {}), JPEG {jpeg_close} close (worst {})",
        worst.0, worst.1
    );
    assert!(png_close * 100 >= n * 95, "PNG: {png_close} of {n}");
    assert!(jpeg_close * 100 >= n * 90, "JPEG: {jpeg_close} of {n}");
}

/// A PNG whose header declares `w × h` (valid chunk checksums) and holds one tiny data chunk.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc32fast_like(kind, data).to_be_bytes());
        c
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// CRC-32 (ISO-HDLC, PNG's) of `kind` then `data`, bit by bit.
fn crc32fast_like(kind: &[u8], data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in kind.iter().chain(data) {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn broken_foreign_huge_and_blank_pictures_are_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let config = DrawingConfig::default();
    let images = bundled_bytes("t10k-images-idx3-ubyte");
    let big = times_ten(mnist_test_image(&images, 0));
    let good_png = tmp.path().join("good.png");
    write_png(&good_png, 280, 280, &big);
    let good_jpeg = tmp.path().join("good.jpg");
    write_jpeg(&good_jpeg, 280, 280, &big, 90);
    let png_bytes = std::fs::read(&good_png).unwrap();
    let jpeg_bytes = std::fs::read(&good_jpeg).unwrap();
    let mut flipped = png_bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let blank: Vec<u8> = {
        let f = tmp.path().join("x.png");
        write_png(&f, 300, 200, &vec![255u8; 300 * 200]);
        std::fs::read(f).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.png", vec![], "the file is empty"),
        (
            "notes.txt",
            b"just some text, no picture".to_vec(),
            "not a PNG or JPEG",
        ),
        (
            "anim.gif",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            "a GIF picture",
        ),
        (
            "cut.png",
            png_bytes[..png_bytes.len() / 2].to_vec(),
            "corrupt PNG",
        ),
        ("flipped.png", flipped, "corrupt PNG"),
        (
            "cut.jpg",
            jpeg_bytes[..jpeg_bytes.len() / 3].to_vec(),
            "corrupt JPEG",
        ),
        ("header.jpg", jpeg_bytes[..20].to_vec(), "corrupt JPEG"),
        ("huge.png", png_declaring(100_000, 100_000), "100000×100000"),
        (
            "wide.png",
            png_declaring(4097, 4096),
            "more than the 16777216",
        ),
        ("blank.png", blank, "holds no digit"),
    ];
    for (name, bytes, says) in cases {
        let file = tmp.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let e = format!(
            "{:#}",
            picture::read_digit(&file, Prepare::Auto, &config).unwrap_err()
        );
        assert!(
            e.contains(&file.display().to_string()) && e.contains(says),
            "{name}: {e}"
        );
    }
    // `--prepare never` keeps the old rule: 28×28 only.
    let e = format!(
        "{:#}",
        picture::read_digit(&good_png, Prepare::Never, &config).unwrap_err()
    );
    assert!(
        e.contains("good.png") && e.contains("280×280") && e.contains("28×28"),
        "{e}"
    );
    // The good ones read.
    for file in [&good_png, &good_jpeg] {
        picture::read_digit(file, Prepare::Auto, &config).unwrap();
    }
}
