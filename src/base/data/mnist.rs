//! MNIST (and anything laid out like it, e.g. Fashion-MNIST) from IDX files, gzip-compressed or raw.
//!
//! IDX layout (LeCun et al.): a big-endian `u32` magic number — two zero bytes, a type code
//! (`0x08` = unsigned byte) and the number of dimensions — then one big-endian `u32` per
//! dimension, then the data, row-major. Images are `0x00000803` (count, rows, cols), labels
//! `0x00000801` (count).
//!
//! Every check names the file and what is wrong with it: a missing file, a truncated or corrupt
//! gzip stream, a wrong magic number, dimensions that do not match the amount of data, labels
//! outside 0–9, image and label counts that disagree, a checksum that does not match.
//!
//! Checksums: when the directory holds a `SHA256SUMS` file (`<sha256 hex>  <file name>` per line,
//! of the *decompressed* content, as in the project's bundled `data/mnist/`), every file listed
//! there is verified. A directory without one (your own Fashion-MNIST, say) is only checked for
//! structure.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Kind, Tensor};

/// Base names of the four files (without `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// Name of the checksum list looked for in a data directory.
pub const CHECKSUM_FILE: &str = "SHA256SUMS";

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
const NUM_CLASSES: u8 = 10;

/// The MNIST directory bundled with the project (`data/mnist/` of the source tree).
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join("mnist")
}

/// One split (training or test) of an image-classification set.
#[derive(Debug)]
pub struct Split {
    /// Pixels, `u8` of shape `[n, rows * cols]`, values 0–255.
    pub images: Tensor,
    /// Labels, `i64` of shape `[n]`, values 0–9.
    pub labels: Tensor,
    /// Image height in pixels.
    pub rows: i64,
    /// Image width in pixels.
    pub cols: i64,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> i64 {
        self.labels.size()[0]
    }

    /// True when the split holds no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` examples (all of them when `n` is larger).
    pub fn take(&self, n: i64) -> Split {
        let n = n.min(self.len());
        Split {
            images: self.images.narrow(0, 0, n),
            labels: self.labels.narrow(0, 0, n),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Images as `f32` scaled to [0, 1], shape `[n, rows * cols]` — what torchvision's
    /// `ToTensor()` gives (`x.float().div(255)`).
    pub fn images_unit(&self) -> Tensor {
        self.images.to_kind(Kind::Float) / 255.0
    }

    /// Images as raw `f32` 0–255 values, shape `[n, rows * cols]` (the notebooks' test input).
    pub fn images_raw(&self) -> Tensor {
        self.images.to_kind(Kind::Float)
    }
}

/// Training and test splits.
#[derive(Debug)]
pub struct Mnist {
    /// 60,000 examples for MNIST.
    pub train: Split,
    /// 10,000 examples for MNIST.
    pub test: Split,
    /// Where the files were read from and their checksums.
    pub identity: DataIdentity,
}

/// Which data a run used: the folder and the SHA-256 of each of the four files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataIdentity {
    /// The folder the files were read from.
    pub dir: PathBuf,
    /// Training images, training labels, test images, test labels, in that order.
    pub files: Vec<DataFile>,
}

/// One data file and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// File name as found (`train-images-idx3-ubyte.gz`).
    pub name: String,
    /// SHA-256 (lowercase hex).
    pub sha256: String,
}

/// A parsed IDX file: its dimensions and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions from the header, outermost first.
    pub dims: Vec<usize>,
    /// Row-major data, `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// Loads the four files of `dir`, validated, and checks them against `dir/SHA256SUMS` if present.
pub fn load_dir(dir: &Path) -> Result<Mnist> {
    ensure!(
        dir.is_dir(),
        "data directory {} does not exist or is not a directory",
        dir.display()
    );
    let sums = read_checksums(dir)?;
    let names = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];
    // Decompress the four files in parallel: the training images dominate (≈47 MB).
    let raw: Vec<Result<(PathBuf, Vec<u8>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let sums = &sums;
                scope.spawn(move || -> Result<(PathBuf, Vec<u8>)> {
                    let path = find_file(dir, name)?;
                    let bytes = read_decompressed(&path)?;
                    if let Some(expected) = sums.get(*name) {
                        verify_sha256(&path, &bytes, expected, dir)?;
                    }
                    Ok((path, bytes))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a loader thread panicked")))
            })
            .collect()
    });
    let files: [(PathBuf, Vec<u8>); 4] = raw
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .try_into()
        .map_err(|_| anyhow::anyhow!("expected the four MNIST files"))?;
    let shas = files
        .iter()
        .map(|(path, bytes)| DataFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        })
        .collect();
    let [train_images, train_labels, test_images, test_labels] = files;
    let test_images_path = test_images.0.clone();
    let train = split_from(train_images, train_labels)?;
    let test = split_from(test_images, test_labels)?;
    ensure!(
        (train.rows, train.cols) == (test.rows, test.cols),
        "training images are {}×{} but test images ({}) are {}×{}",
        train.rows,
        train.cols,
        test_images_path.display(),
        test.rows,
        test.cols
    );
    Ok(Mnist {
        train,
        test,
        identity: DataIdentity {
            dir: dir.to_path_buf(),
            files: shas,
        },
    })
}

/// `dir/name.gz` if it exists, else `dir/name`, else an error naming both.
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    bail!(
        "missing file: neither {} nor {} exists",
        gz.display(),
        raw.display()
    )
}

/// Reads a file, gunzipping it when it starts with the gzip magic bytes.
pub fn read_decompressed(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 5);
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .with_context(|| {
                format!(
                    "decompressing {}: the gzip stream is truncated or corrupt",
                    path.display()
                )
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Parses IDX bytes (already decompressed) that should carry `magic`; `path` is for messages.
pub fn parse_idx(path: &Path, bytes: &[u8], magic: u32) -> Result<Idx> {
    let p = path.display();
    ensure!(
        bytes.len() >= 4,
        "{p}: {} bytes is too short for an IDX header",
        bytes.len()
    );
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    ensure!(
        found == magic,
        "{p}: wrong magic number {found:#010x}, expected {magic:#010x} ({})",
        if magic == IMAGES_MAGIC {
            "unsigned-byte images, 3 dimensions"
        } else {
            "unsigned-byte labels, 1 dimension"
        }
    );
    let ndims = (magic & 0xff) as usize;
    let header = 4 + 4 * ndims;
    ensure!(
        bytes.len() >= header,
        "{p}: truncated header: {} bytes, the {ndims} dimensions need {header}",
        bytes.len()
    );
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            let o = 4 + 4 * i;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let body = bytes.len() - header;
    match expected {
        Some(n) if n == body => {}
        Some(n) if n > body => bail!(
            "{p}: truncated: dimensions {dims:?} need {n} bytes of data, the file has {body}"
        ),
        Some(n) => bail!(
            "{p}: dimensions {dims:?} need {n} bytes of data but the file has {body} (trailing data or wrong dimensions)"
        ),
        None => bail!("{p}: dimensions {dims:?} overflow"),
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Parses one split from its (path, bytes) image and label files.
fn split_from(
    (images_path, images): (PathBuf, Vec<u8>),
    (labels_path, labels): (PathBuf, Vec<u8>),
) -> Result<Split> {
    let (images_path, labels_path) = (images_path.as_path(), labels_path.as_path());
    let images = parse_idx(images_path, &images, IMAGES_MAGIC)?;
    let labels = parse_idx(labels_path, &labels, LABELS_MAGIC)?;
    let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    ensure!(n > 0, "{}: holds no images", images_path.display());
    ensure!(
        rows > 0 && cols > 0,
        "{}: images of {rows}×{cols} pixels",
        images_path.display()
    );
    ensure!(
        labels.dims[0] == n,
        "{} holds {n} images but {} holds {} labels",
        images_path.display(),
        labels_path.display(),
        labels.dims[0]
    );
    if let Some((i, &bad)) = labels
        .data
        .iter()
        .enumerate()
        .find(|(_, &l)| l >= NUM_CLASSES)
    {
        bail!(
            "{}: label {bad} at index {i} is outside 0..=9",
            labels_path.display()
        );
    }
    let images = Tensor::from_slice(&images.data).view([n as i64, (rows * cols) as i64]); // [n, 784] u8
    let labels = Tensor::from_slice(&labels.data).to_kind(Kind::Int64); // [n] i64
    Ok(Split {
        images,
        labels,
        rows: rows as i64,
        cols: cols as i64,
    })
}

/// Reads `dir/SHA256SUMS` into a map from file name (without `.gz`) to lowercase hex digest.
fn read_checksums(dir: &Path) -> Result<HashMap<String, String>> {
    let path = dir.join(CHECKSUM_FILE);
    let mut sums = HashMap::new();
    if !path.exists() {
        return Ok(sums);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    for (no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let (Some(hex), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            bail!(
                "{}:{}: expected `<sha256>  <file name>`, got {line:?}",
                path.display(),
                no + 1
            );
        };
        ensure!(
            hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{}:{}: {hex:?} is not a SHA-256 digest",
            path.display(),
            no + 1
        );
        let name = name.trim_start_matches('*').trim_end_matches(".gz");
        sums.insert(name.to_string(), hex.to_ascii_lowercase());
    }
    Ok(sums)
}

fn verify_sha256(path: &Path, bytes: &[u8], expected: &str, dir: &Path) -> Result<()> {
    let digest = Sha256::digest(bytes);
    let found: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    ensure!(
        found == expected,
        "{}: checksum mismatch: the decompressed content has SHA-256 {found}, {} lists {expected} (file corrupt or replaced)",
        path.display(),
        dir.join(CHECKSUM_FILE).display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn parses_a_tiny_image_file() {
        let bytes = idx(IMAGES_MAGIC, &[2, 1, 2], &[1, 2, 3, 4]);
        let parsed = parse_idx(Path::new("x"), &bytes, IMAGES_MAGIC).unwrap();
        assert_eq!(parsed.dims, vec![2, 1, 2]);
        assert_eq!(parsed.data, vec![1, 2, 3, 4]);
    }

    #[test]
    fn rejects_short_and_long_bodies() {
        let short = idx(LABELS_MAGIC, &[3], &[1, 2]);
        let e = parse_idx(Path::new("lab"), &short, LABELS_MAGIC)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        let long = idx(LABELS_MAGIC, &[1], &[1, 2]);
        let e = parse_idx(Path::new("lab"), &long, LABELS_MAGIC)
            .unwrap_err()
            .to_string();
        assert!(e.contains("trailing"), "{e}");
    }
}
