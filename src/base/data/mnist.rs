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
//! Reading is bounded: the header (magic number and dimensions) is read first and checked against
//! [`MAX_COUNT`], [`MAX_SIDE`] and [`MAX_BODY_BYTES`] before anything is allocated for the data;
//! then exactly the declared number of bytes is read, plus one to detect trailing data, streaming
//! through the gzip decoder when the file is compressed. A file of gzip members (`cat a.gz b.gz`)
//! reads as their concatenation, as with `zcat`; anything after the last member is an error. A
//! gzip bomb behind a valid header therefore costs the declared size, not the bomb's.
//!
//! Checksums: when the directory holds a `SHA256SUMS` file (`<sha256 hex>  <file name>` per line,
//! of the *decompressed* content, as in the project's bundled `data/mnist/`), every file listed
//! there is verified. A directory without one (your own Fashion-MNIST, say) is only checked for
//! structure.
//!
//! Identity: [`Mnist::identity`] records, for the four files in a fixed order, their names and the
//! SHA-256 of their bytes as stored (compressed, for `.gz` files) and of their decompressed
//! content — computed from the bytes read for loading, not by a second read.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, ensure, Context, Result};
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

/// Magic number of an IDX file of unsigned-byte images (3 dimensions: count, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned-byte labels (1 dimension: count).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The most images or labels an IDX header may declare.
pub const MAX_COUNT: u64 = 10_000_000;
/// The most rows, or columns, an image may have.
pub const MAX_SIDE: u64 = 4096;
/// The most data bytes (after the header, decompressed) an IDX file may declare.
pub const MAX_BODY_BYTES: u64 = 1 << 30;
/// The most bytes an IDX file may have as stored: the largest body plus room for its header and
/// the framing of gzip-compressed incompressible data.
pub const MAX_STORED_BYTES: u64 = MAX_BODY_BYTES + (1 << 20);
/// The most bytes a `SHA256SUMS` file may have.
pub const MAX_CHECKSUM_FILE_BYTES: u64 = 1 << 20;

/// Length of the longest IDX header read here (magic number and three dimensions).
const MAX_HEADER: usize = 16;
const NUM_CLASSES: u8 = 10;
/// Body bytes read at a time into the final tensor (the body is read once, straight into the
/// tensor the data set keeps: its memory is claimed as the bytes arrive, so a header's claim
/// costs nothing before the data backs it).
const BODY_CHUNK: usize = 1 << 20;

/// The four files' base names in the order of [`DataIdentity::files`].
pub const FILE_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// The MNIST directory bundled with the project (`data/mnist/` of the source tree, at the path it
/// had when initlab was built). Where a command takes its data from is decided by
/// [`super::locate::search`]; this is one of the places it looks.
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
    /// The last `n` examples (all of them when there are fewer).
    pub fn last(&self, n: i64) -> Split {
        let n = n.clamp(0, self.len());
        let start = self.len() - n;
        Split {
            images: self.images.narrow(0, start, n),
            labels: self.labels.narrow(0, start, n),
            rows: self.rows,
            cols: self.cols,
        }
    }

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

    /// The examples `idx` (`[b]` i64) into `buffers`: their bytes gathered, then scaled to [0, 1]
    /// in place as [`Split::images_unit`] scales them. Every operation is element-wise, so the
    /// result has the bits of `images_unit().index_select(0, idx)` without the whole set ever
    /// being held as `f32` (188 MB for MNIST's training images), and no tensor is allocated
    /// while the batch size stays the same. Returns `([b, rows * cols]` f32, `[b]` i64`)`.
    pub fn gather_unit<'a>(
        &self,
        idx: &Tensor,
        buffers: &'a mut BatchBuffers,
    ) -> (&'a Tensor, &'a Tensor) {
        let b = idx.size()[0];
        let width = self.rows * self.cols;
        if buffers.unit.size() != [b, width] {
            let cpu = tch::Device::Cpu;
            buffers.bytes = Tensor::empty([b, width], (Kind::Uint8, cpu));
            buffers.unit = Tensor::empty([b, width], (Kind::Float, cpu));
            buffers.labels = Tensor::empty([b], (Kind::Int64, cpu));
        }
        let _ = self.images.index_select_out(&buffers.bytes, 0, idx);
        let _ = self.labels.index_select_out(&buffers.labels, 0, idx);
        buffers.unit.copy_(&buffers.bytes);
        let _ = buffers.unit.g_div_scalar_(255.0);
        (&buffers.unit, &buffers.labels)
    }

    /// Images as raw `f32` 0–255 values, shape `[n, rows * cols]` (the notebooks' test input).
    pub fn images_raw(&self) -> Tensor {
        self.images.to_kind(Kind::Float)
    }
}

/// Reused memory of one mini-batch, filled by [`Split::gather_unit`].
#[derive(Debug)]
pub struct BatchBuffers {
    /// `[b, pixels]` u8.
    bytes: Tensor,
    /// `[b, pixels]` f32 in [0, 1].
    unit: Tensor,
    /// `[b]` i64.
    labels: Tensor,
}

impl Default for BatchBuffers {
    fn default() -> Self {
        BatchBuffers {
            bytes: Tensor::new(),
            unit: Tensor::new(),
            labels: Tensor::new(),
        }
    }
}

/// Training and test splits.
#[derive(Debug)]
pub struct Mnist {
    /// 60,000 examples for MNIST.
    pub train: Split,
    /// 10,000 examples for MNIST.
    pub test: Split,
    /// Which files these are: their names and checksums.
    pub identity: DataIdentity,
}

/// The identity of a loaded data set: where it came from and the checksums of its four files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataIdentity {
    /// The directory, as given to [`load_dir`].
    pub dir: PathBuf,
    /// The four files, always in this order: training images, training labels, test images, test
    /// labels.
    pub files: Vec<DataFile>,
}

/// One file of a data set, identified by its checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// The file's name in the directory, as found (`train-images-idx3-ubyte.gz`, or without
    /// `.gz` for a raw file).
    pub name: String,
    /// SHA-256 of the file's bytes as stored on disk (the compressed bytes of a `.gz` file),
    /// lowercase hex: what `sha256sum` prints for the file.
    pub sha256: String,
    /// SHA-256 of the decompressed IDX content (header and data), lowercase hex: what
    /// `SHA256SUMS` lists, and the same for a raw file and its gzipped copy.
    pub content_sha256: String,
}

/// A parsed IDX file: its dimensions and its bytes.
#[derive(Debug)]
pub struct Idx {
    /// Dimensions from the header, outermost first.
    pub dims: Vec<usize>,
    /// Row-major data, `dims.iter().product()` bytes: a flat `u8` tensor, read into once.
    pub data: Tensor,
    /// SHA-256 (lowercase hex) of the content: header and data.
    pub content_sha256: String,
}

/// The base names of the four files that `dir` lacks (neither `name.gz` nor `name` is a file
/// there): all four when `dir` does not exist, none for a complete folder.
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    FILE_NAMES
        .into_iter()
        .filter(|name| find_file(dir, name).is_err())
        .collect()
}

/// What [`verify_dir`] found in a folder that loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirCheck {
    /// The four files and their checksums.
    pub identity: DataIdentity,
    /// Whether the folder has a `SHA256SUMS` file.
    pub has_checksum_file: bool,
    /// The base names of the files `SHA256SUMS` lists, hence verified against it.
    pub verified: Vec<&'static str>,
}

impl DirCheck {
    /// True when all four files were verified against `SHA256SUMS`.
    pub fn fully_verified(&self) -> bool {
        self.verified.len() == FILE_NAMES.len()
    }
}

/// Loads `dir` as [`load_dir`] does (so every check of the loader applies, checksums included)
/// and reports which files `SHA256SUMS` listed: a folder without one loads but is not verified.
pub fn verify_dir(dir: &Path) -> Result<DirCheck> {
    let mnist = load_dir(dir)?;
    let sums = read_checksums(dir)?;
    Ok(DirCheck {
        identity: mnist.identity,
        has_checksum_file: dir.join(CHECKSUM_FILE).is_file(),
        verified: FILE_NAMES
            .into_iter()
            .filter(|name| sums.contains_key(*name))
            .collect(),
    })
}

/// Loads the four files of `dir`, validated, and checks them against `dir/SHA256SUMS` if present.
pub fn load_dir(dir: &Path) -> Result<Mnist> {
    ensure!(
        dir.is_dir(),
        "data directory {} does not exist or is not a directory",
        dir.display()
    );
    let sums = read_checksums(dir)?;
    let files = [
        (TRAIN_IMAGES, IMAGES_MAGIC),
        (TRAIN_LABELS, LABELS_MAGIC),
        (TEST_IMAGES, IMAGES_MAGIC),
        (TEST_LABELS, LABELS_MAGIC),
    ];
    // Read the four files in parallel: the training images dominate (≈47 MB decompressed).
    let read: Vec<Result<(PathBuf, Idx, DataFile)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .iter()
            .map(|&(name, magic)| {
                let sums = &sums;
                scope.spawn(move || -> Result<(PathBuf, Idx, DataFile)> {
                    let path = find_file(dir, name)?;
                    let (idx, file) = read_idx(&path, magic)?;
                    if let Some(expected) = sums.get(name) {
                        verify_sha256(&path, &file.content_sha256, expected, dir)?;
                    }
                    Ok((path, idx, file))
                })
            })
            .collect();
        handles
            .into_iter()
            // A panic in a reader is a bug: it goes on as a panic, not as an error that would
            // hide it.
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let read: [(PathBuf, Idx, DataFile); 4] = read
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .try_into()
        .map_err(|_| anyhow!("expected the four MNIST files"))?;
    let [train_images, train_labels, test_images, test_labels] = read;
    let (train_images_path, test_images_path) = (train_images.0.clone(), test_images.0.clone());
    let mut identity = DataIdentity {
        dir: dir.to_path_buf(),
        files: Vec::with_capacity(4),
    };
    let mut split = |images: (PathBuf, Idx, DataFile), labels: (PathBuf, Idx, DataFile)| {
        identity.files.push(images.2);
        identity.files.push(labels.2);
        split_from((images.0, images.1), (labels.0, labels.1))
    };
    let train = split(train_images, train_labels)?;
    let test = split(test_images, test_labels)?;
    ensure!(
        (train.rows, train.cols) == (test.rows, test.cols),
        "training images ({}) are {}×{} but test images ({}) are {}×{}",
        train_images_path.display(),
        train.rows,
        train.cols,
        test_images_path.display(),
        test.rows,
        test.cols
    );
    Ok(Mnist {
        train,
        test,
        identity,
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

/// Reads into `buf` until it is full or the reader ends; returns the number of bytes read.
fn read_full<R: Read + ?Sized>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A reader that feeds every byte it passes on into a SHA-256.
struct Hashing<'a, R> {
    inner: R,
    hasher: &'a mut Sha256,
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Opens `path` (at most [`MAX_STORED_BYTES`]) and hands `read` its content — gunzipped when the
/// file starts with the gzip magic bytes — and whether it was compressed. Every byte read from
/// the file goes through `stored`.
fn with_content<T>(
    path: &Path,
    stored: &mut Sha256,
    read: impl FnOnce(&mut dyn Read, bool) -> Result<T>,
) -> Result<T> {
    let p = path.display();
    let file = File::open(path).with_context(|| format!("opening {p}"))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading {p}"))?
        .len();
    ensure!(
        len <= MAX_STORED_BYTES,
        "{p}: {len} bytes, more than the {MAX_STORED_BYTES} an IDX file may have"
    );
    let mut hashing = Hashing {
        inner: file.take(MAX_STORED_BYTES),
        hasher: stored,
    };
    let mut magic = [0u8; 2];
    let got = read_full(&mut hashing, &mut magic).with_context(|| format!("reading {p}"))?;
    let head = &magic[..got];
    let gz = head == [0x1f, 0x8b];
    let mut content = head.chain(hashing);
    if gz {
        read(&mut flate2::read::MultiGzDecoder::new(content), true)
    } else {
        read(&mut content, false)
    }
}

/// Wraps an error from reading `path`'s content.
fn content_error(path: &Path, gz: bool, e: std::io::Error) -> anyhow::Error {
    let p = path.display();
    if gz {
        anyhow!(e).context(format!(
            "decompressing {p}: the gzip stream is truncated or corrupt"
        ))
    } else {
        anyhow!(e).context(format!("reading {p}"))
    }
}

/// Reads a file, gunzipping it when it starts with the gzip magic bytes; a file, or content, of
/// more than [`MAX_STORED_BYTES`] is an error naming it. (The loader itself reads IDX files with
/// [`read_idx`], which stops at the size their header declares.)
pub fn read_decompressed(path: &Path) -> Result<Vec<u8>> {
    with_content(path, &mut Sha256::new(), |content, gz| {
        let mut out = Vec::new();
        content
            .take(MAX_STORED_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| content_error(path, gz, e))?;
        ensure!(
            out.len() as u64 <= MAX_STORED_BYTES,
            "{}: more than {MAX_STORED_BYTES} bytes decompressed",
            path.display()
        );
        Ok(out)
    })
}

/// Reads the IDX file `path` (gzip-compressed or raw) that should carry `magic`: the header is
/// checked before the data is read, and only the declared data (plus one byte, to report
/// trailing data) is read. Returns the parsed file and its identity.
pub fn read_idx(path: &Path, magic: u32) -> Result<(Idx, DataFile)> {
    let mut stored = Sha256::new();
    let idx = with_content(path, &mut stored, |content, gz| {
        read_idx_from(path, content, magic, gz)
    })?;
    // The data ended exactly where the header said (the extra byte asked for was not there), so
    // the whole file went through the hasher.
    let file = DataFile {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: hex(&stored.finalize()),
        content_sha256: idx.content_sha256.clone(),
    };
    Ok((idx, file))
}

/// Parses IDX bytes (already decompressed) that should carry `magic`; `path` is for messages.
pub fn parse_idx(path: &Path, bytes: &[u8], magic: u32) -> Result<Idx> {
    read_idx_from(path, &mut &bytes[..], magic, false)
}

/// What the dimensions of an IDX file with `magic` mean, for messages.
fn kind_name(magic: u32) -> &'static str {
    if magic == IMAGES_MAGIC {
        "unsigned-byte images, 3 dimensions"
    } else {
        "unsigned-byte labels, 1 dimension"
    }
}

/// Checks an IDX header's dimensions against the limits; returns the number of data bytes.
fn check_dims(path: &Path, magic: u32, dims: &[usize]) -> Result<u64> {
    let p = path.display();
    let count = dims.first().map_or(0, |&n| n as u64);
    ensure!(
        count <= MAX_COUNT,
        "{p}: dimensions {dims:?} declare {count} {}, more than the {MAX_COUNT} allowed",
        if magic == IMAGES_MAGIC {
            "images"
        } else {
            "labels"
        }
    );
    if magic == IMAGES_MAGIC {
        for (what, &d) in ["rows", "columns"].iter().zip(&dims[1..]) {
            ensure!(
                d as u64 <= MAX_SIDE,
                "{p}: dimensions {dims:?} declare images of {d} {what}, more than the {MAX_SIDE} allowed"
            );
        }
    }
    let bytes = dims
        .iter()
        .fold(1u64, |acc, &d| acc.saturating_mul(d as u64));
    ensure!(
        bytes <= MAX_BODY_BYTES,
        "{p}: dimensions {dims:?} declare {bytes} bytes of data, more than the {MAX_BODY_BYTES} allowed"
    );
    Ok(bytes)
}

/// Reads an IDX file that should carry `magic` from `content` (decompressed when `gz`): header
/// first, checked, then exactly the declared data plus one byte.
fn read_idx_from(path: &Path, content: &mut dyn Read, magic: u32, gz: bool) -> Result<Idx> {
    let p = path.display();
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims;
    let mut header = [0u8; MAX_HEADER];
    let got = read_full(content, &mut header[..header_len.min(MAX_HEADER)])
        .map_err(|e| content_error(path, gz, e))?;
    ensure!(got >= 4, "{p}: {got} bytes is too short for an IDX header");
    let found = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    ensure!(
        found == magic,
        "{p}: wrong magic number {found:#010x}, expected {magic:#010x} ({})",
        kind_name(magic)
    );
    ensure!(
        got >= header_len,
        "{p}: truncated header: {got} bytes, the {ndims} dimensions need {header_len}"
    );
    let dims: Vec<usize> = header[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let n = check_dims(path, magic, &dims)?;
    let mut content_hash = Sha256::new();
    content_hash.update(&header[..header_len]);
    let data = read_body(path, content, n, gz, &mut content_hash)?;
    let body = data.1;
    if body < n {
        bail!("{p}: truncated: dimensions {dims:?} need {n} bytes of data, the file has {body}");
    }
    let mut extra = [0u8; 1];
    if read_full(content, &mut extra).map_err(|e| content_error(path, gz, e))? > 0 {
        bail!(
            "{p}: dimensions {dims:?} need {n} bytes of data but the file has more (trailing data or wrong dimensions)"
        );
    }
    Ok(Idx {
        dims,
        data: data.0,
        content_sha256: hex(&content_hash.finalize()),
    })
}

/// Reads up to `n` body bytes of `content` straight into a flat `u8` tensor of `n` elements,
/// [`BODY_CHUNK`] at a time, feeding them into `hash`; returns the tensor and the bytes read
/// (fewer than `n` when the content ends early).
fn read_body(
    path: &Path,
    content: &mut dyn Read,
    n: u64,
    gz: bool,
    hash: &mut Sha256,
) -> Result<(Tensor, u64)> {
    let data = Tensor::empty([n as i64], (Kind::Uint8, tch::Device::Cpu));
    let mut chunk = vec![0u8; BODY_CHUNK.min(n as usize)];
    let mut filled = 0u64;
    while filled < n {
        let want = chunk.len().min((n - filled) as usize);
        let got = read_full(content, &mut chunk[..want]).map_err(|e| content_error(path, gz, e))?;
        hash.update(&chunk[..got]);
        data.narrow(0, filled as i64, got as i64)
            .copy_(&Tensor::from_slice(&chunk[..got]));
        filled += got as u64;
        if got < want {
            break;
        }
    }
    Ok((data, filled))
}

/// Parses one split from its (path, parsed file) image and label files.
fn split_from(
    (images_path, images): (PathBuf, Idx),
    (labels_path, labels): (PathBuf, Idx),
) -> Result<Split> {
    let (images_path, labels_path) = (images_path.as_path(), labels_path.as_path());
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
    let label_bytes = Vec::<u8>::try_from(&labels.data)
        .with_context(|| format!("reading the labels of {}", labels_path.display()))?;
    if let Some((i, &bad)) = label_bytes
        .iter()
        .enumerate()
        .find(|(_, &l)| l >= NUM_CLASSES)
    {
        bail!(
            "{}: label {bad} at index {i} is outside 0..=9",
            labels_path.display()
        );
    }
    // [n, rows * cols] u8
    let images = images.data.view([n as i64, (rows * cols) as i64]);
    // [n] i64
    let labels = labels.data.to_kind(Kind::Int64);
    Ok(Split {
        images,
        labels,
        rows: rows as i64,
        cols: cols as i64,
    })
}

/// Reads `dir/SHA256SUMS` (at most [`MAX_CHECKSUM_FILE_BYTES`]) into a map from file name (without
/// `.gz`) to lowercase hex digest.
fn read_checksums(dir: &Path) -> Result<HashMap<String, String>> {
    let path = dir.join(CHECKSUM_FILE);
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let bytes = crate::base::output::io::read_bounded(&path, MAX_CHECKSUM_FILE_BYTES)?;
    parse_checksums(&path, &bytes)
}

/// Parses the bytes of a `SHA256SUMS` file (`path` is for messages) into a map from file name
/// (without `.gz`) to lowercase hex digest.
pub(crate) fn parse_checksums(path: &Path, bytes: &[u8]) -> Result<HashMap<String, String>> {
    let mut sums = HashMap::new();
    let text = std::str::from_utf8(bytes)
        .map_err(|e| anyhow!(e).context(format!("{} is not UTF-8 text", path.display())))?;
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

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn verify_sha256(path: &Path, found: &str, expected: &str, dir: &Path) -> Result<()> {
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
        assert_eq!(Vec::<u8>::try_from(&parsed.data).unwrap(), vec![1, 2, 3, 4]);
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
