//! Durable writes and bounded reads: every file initlab writes goes through [`write_atomic`]
//! (temporary file in the same folder, fsync, rename, fsync of the folder), so a reader — or a
//! process restarted after `kill -9` or a power cut — sees the old file or the new one, never half
//! of one; every file it reads goes through [`read_bounded`] or a reader that checks a declared
//! size before it allocates.
//!
//! Also a small, strict [safetensors](https://github.com/huggingface/safetensors) reader and
//! writer (the format of `model.safetensors`, `dbn.safetensors` and checkpoints): an 8-byte
//! little-endian header length, a JSON header naming each tensor's dtype, shape and byte range
//! (plus an optional `__metadata__` map of strings), then the raw little-endian data.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};

use crate::base::output::checksum::{self, FileError};

/// The most bytes a JSON file of initlab's (`run.json`, `dbn.json`, histories) may have.
pub const MAX_JSON_BYTES: u64 = 64 << 20;

/// The most bytes a safetensors header may have.
pub const MAX_SAFETENSORS_HEADER: u64 = 1 << 20;

/// The most bytes a safetensors file of initlab's may have (weights, optimizer state).
pub const MAX_SAFETENSORS_BYTES: u64 = 4 << 30;

/// Writes `bytes` to `path` atomically: a new temporary file beside it ([`create_new`]), `fsync`,
/// rename over `path` (a symbolic link at `path` is replaced, not followed), `fsync` of the folder. Errors name `path`; on error the temporary file is removed and `path`
/// is left as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the folder is synced (best effort: some file
        // systems refuse to open folders for syncing).
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// Creates `tmp` as a new file (`O_EXCL`): whatever is at that name — a stale temporary file of a
/// killed process with the same id, or a symbolic link planted there — is removed first, never
/// followed, so the write cannot land in another file.
fn create_new(tmp: &Path) -> std::io::Result<File> {
    let open = || OpenOptions::new().write(true).create_new(true).open(tmp);
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Removes the name itself: a link, not its target.
            std::fs::remove_file(tmp)?;
            open()
        }
        other => other,
    }
}

/// Writes `value` as pretty JSON sealed with its checksum ([`checksum::seal_json`]: a last
/// entry `initlab_sha256`, and a final newline), atomically. `value` must serialise to a
/// non-empty JSON object.
pub fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .with_context(|| format!("serialising {}", path.display()))?;
    let sealed = checksum::seal_json(&text).with_context(|| {
        format!(
            "serialising {}: only a non-empty JSON object can carry a checksum",
            path.display()
        )
    })?;
    write_atomic(path, sealed.as_bytes())
}

/// Reads at most `max` bytes of `path`; a longer file is an error naming it (nothing beyond
/// `max + 1` bytes is read or allocated).
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut out)
        .with_context(|| format!("reading {}", path.display()))?;
    ensure!(
        out.len() as u64 <= max,
        "{} is larger than the {} bytes such a file may have",
        path.display(),
        max
    );
    Ok(out)
}

/// Feeds the bytes of `path` into `hasher`, streaming (nothing is held in memory); a file of
/// more than `max` bytes is an error naming it, raised before anything is read.
pub fn hash_file(path: &Path, max: u64, hasher: &mut Sha256) -> Result<()> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = (f.metadata())
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    ensure!(
        len <= max,
        "{} has {len} bytes, more than the {max} such a file may have",
        path.display()
    );
    std::io::copy(&mut (&mut f).take(max), hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(())
}

/// Reads JSON of at most [`MAX_JSON_BYTES`] written by [`write_json`], checked against its
/// checksum first ([`checksum::unseal_json`]; a [`FileError`] otherwise); errors name the file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = read_bounded(path, MAX_JSON_BYTES)?;
    let text = checksum::unseal_json(path, &bytes)?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Element types initlab stores in safetensors files.
fn dtype_name(kind: Kind) -> Result<&'static str> {
    Ok(match kind {
        Kind::Float => "F32",
        Kind::Double => "F64",
        Kind::Int64 => "I64",
        k => bail!("cannot store tensors of kind {k:?} in safetensors"),
    })
}

fn dtype_kind(name: &str) -> Option<(Kind, usize)> {
    match name {
        "F32" => Some((Kind::Float, 4)),
        "F64" => Some((Kind::Double, 8)),
        "I64" => Some((Kind::Int64, 8)),
        _ => None,
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct TensorEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// A safetensors header, parsed: the metadata and each tensor's entry. Serialised as it is here
/// (metadata without the checksum, then the entries) it is what the checksum covers, with the data.
#[derive(Debug, Default, Serialize)]
struct Header {
    metadata: BTreeMap<String, String>,
    tensors: BTreeMap<String, TensorEntry>,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(HeaderVisitor)
    }
}

/// Reads a header's JSON object straight into a [`Header`] (no intermediate JSON values): the
/// `__metadata__` entry is a map of strings, every other entry a tensor's; a repeated name is an
/// error.
struct HeaderVisitor;

impl<'de> serde::de::Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a safetensors header (a JSON object)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Header, A::Error> {
        let mut header = Header::default();
        let mut seen_metadata = false;
        while let Some(key) = map.next_key::<String>()? {
            let repeated = if key == "__metadata__" {
                header.metadata = map.next_value()?;
                std::mem::replace(&mut seen_metadata, true)
            } else {
                let entry: TensorEntry = map.next_value()?;
                header.tensors.insert(key.clone(), entry).is_some()
            };
            if repeated {
                return Err(serde::de::Error::custom(format!(
                    "the entry {key:?} appears twice"
                )));
            }
        }
        Ok(header)
    }
}

impl Header {
    /// The data bytes the entries declare: the largest end offset (the format allows no bytes
    /// after the last tensor).
    fn data_len(&self) -> u64 {
        (self.tensors.values())
            .map(|e| e.data_offsets[1])
            .max()
            .unwrap_or(0)
    }

    /// The SHA-256 (hex) of this header, as serialised here, and of `data`.
    fn digest(&self, data: &[u8]) -> Result<String> {
        let head = serde_json::to_vec(self).context("serialising a safetensors header")?;
        let mut h = Sha256::new();
        h.update((head.len() as u64).to_le_bytes());
        h.update(&head);
        h.update(data);
        Ok(checksum::hex(&h.finalize()))
    }

    /// The header's JSON as a file holds it: `__metadata__` (with `sum` under
    /// [`checksum::SAFETENSORS_KEY`]) and one entry per tensor.
    fn to_json(&self, sum: &str) -> Result<Vec<u8>> {
        let mut metadata = self.metadata.clone();
        metadata.insert(checksum::SAFETENSORS_KEY.into(), sum.into());
        let mut map = serde_json::Map::new();
        map.insert(
            "__metadata__".into(),
            serde_json::to_value(&metadata).context("serialising metadata")?,
        );
        for (name, entry) in &self.tensors {
            map.insert(
                name.clone(),
                serde_json::to_value(entry).context("serialising a tensor entry")?,
            );
        }
        serde_json::to_vec(&map).context("serialising the header")
    }
}

/// Tensors by name plus string metadata, as read from or written to a safetensors file.
///
/// Every file written here carries the checksum of its header and data in its metadata
/// ([`checksum::SAFETENSORS_KEY`]); every read checks it, and the size the header declares,
/// before building a tensor: a damaged, truncated, extended or unchecksummed file is an error
/// ([`FileError`]) naming it.
#[derive(Debug, Default)]
pub struct SafeTensors {
    /// The tensors, by name (sorted).
    pub tensors: BTreeMap<String, Tensor>,
    /// The `__metadata__` map (without the checksum).
    pub metadata: BTreeMap<String, String>,
}

impl SafeTensors {
    /// The tensor `name`, or an error naming `file` and the missing tensor.
    pub fn get(&self, name: &str, file: &Path) -> Result<&Tensor> {
        self.tensors
            .get(name)
            .with_context(|| format!("{} has no tensor {name:?}", file.display()))
    }

    /// The metadata entry `key`, or an error naming `file`.
    pub fn meta(&self, key: &str, file: &Path) -> Result<&str> {
        self.metadata
            .get(key)
            .map(|s| s.as_str())
            .with_context(|| format!("{} has no metadata entry {key:?}", file.display()))
    }

    /// The bytes of a safetensors file holding `tensors` (contiguous CPU copies are taken) and
    /// `metadata`, plus the checksum of both.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut header = Header {
            metadata: self.metadata.clone(),
            tensors: BTreeMap::new(),
        };
        header.metadata.remove(checksum::SAFETENSORS_KEY);
        let mut data: Vec<u8> = Vec::new();
        for (name, t) in &self.tensors {
            let entry = append_tensor(&mut data, t).with_context(|| format!("tensor {name:?}"))?;
            header.tensors.insert(name.clone(), entry);
        }
        let mut head = header.to_json(&header.digest(&data)?)?;
        // Pad the header with spaces so the data starts 8-byte aligned, as the format recommends.
        while (head.len() + 8) % 8 != 0 {
            head.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + head.len() + data.len());
        out.extend_from_slice(&(head.len() as u64).to_le_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Writes the file atomically ([`write_atomic`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = self
            .to_bytes()
            .with_context(|| format!("writing {}", path.display()))?;
        write_atomic(path, &bytes)
    }

    /// Parses safetensors `bytes` read from `path` (named in every error): the header length is
    /// checked against [`MAX_SAFETENSORS_HEADER`], the size the header declares against the
    /// bytes there are, the checksum, then every tensor's byte range against its dtype and shape.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<SafeTensors> {
        let (head, data) = split_header(path, bytes)?;
        let header = parse_header(path, head)?;
        check_size(path, &header, head.len() as u64, bytes.len() as u64)?;
        SafeTensors::from_parts(path, header, data)
    }

    /// Reads and parses a safetensors file with a header of at most [`MAX_SAFETENSORS_HEADER`]
    /// bytes and tensors of at most [`MAX_SAFETENSORS_BYTES`] ([`SafeTensors::read_within`]).
    pub fn read(path: &Path) -> Result<SafeTensors> {
        SafeTensors::read_within(path, MAX_SAFETENSORS_HEADER, MAX_SAFETENSORS_BYTES)
    }

    /// Reads and parses a safetensors file whose header has at most `max_header` bytes and
    /// whose tensors at most `max_data`: the length field and the header are read first, then
    /// the file's size must be the one the header declares (no trailing bytes), and only then
    /// are the declared data bytes read — nothing else is read or allocated.
    pub fn read_within(path: &Path, max_header: u64, max_data: u64) -> Result<SafeTensors> {
        let reading = || format!("reading {}", path.display());
        let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = f.metadata().with_context(reading)?.len();
        if len < 8 {
            return Err(invalid(
                path,
                format!("{len} bytes, shorter than its 8-byte header length"),
            ));
        }
        let mut len8 = [0u8; 8];
        f.read_exact(&mut len8).with_context(reading)?;
        let head_len = header_len(path, u64::from_le_bytes(len8), len - 8, max_header)?;
        let mut head = vec![0u8; head_len as usize];
        f.read_exact(&mut head).with_context(reading)?;
        let header = parse_header(path, &head)?;
        let data_len = header.data_len();
        if data_len > max_data {
            return Err(invalid(
                path,
                format!(
                "its tensors take {data_len} bytes, more than the {max_data} such a file may have"
            ),
            ));
        }
        check_size(path, &header, head_len, len)?;
        let mut data = vec![0u8; data_len as usize];
        f.read_exact(&mut data).with_context(reading)?;
        SafeTensors::from_parts(path, header, &data)
    }

    /// The tensors and metadata of a file at `path` with `header` and `data`, once its
    /// checksum is verified; every tensor's dtype, shape and byte range are checked.
    fn from_parts(path: &Path, mut header: Header, data: &[u8]) -> Result<SafeTensors> {
        verify(path, &mut header, data)?;
        let mut out = SafeTensors {
            metadata: header.metadata,
            tensors: BTreeMap::new(),
        };
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for (name, entry) in header.tensors {
            let (t, range) = parse_tensor(path, &name, entry, data)?;
            ranges.push(range);
            out.tensors.insert(name, t);
        }
        ranges.sort_unstable();
        for w in ranges.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(invalid(path, "two tensors share bytes".into()));
            }
        }
        Ok(out)
    }
}

/// Appends tensor `t`'s bytes (little-endian, a contiguous CPU copy) to `data`; returns its
/// header entry.
fn append_tensor(data: &mut Vec<u8>, t: &Tensor) -> Result<TensorEntry> {
    let kind = t.kind();
    let dtype = dtype_name(kind)?;
    let t = t.detach().to_device(Device::Cpu).contiguous();
    let numel = t.numel();
    let start = data.len() as u64;
    match kind {
        Kind::Float => {
            let mut v = vec![0f32; numel];
            t.copy_data(&mut v, numel);
            v.iter()
                .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
        }
        Kind::Double => {
            let mut v = vec![0f64; numel];
            t.copy_data(&mut v, numel);
            v.iter()
                .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
        }
        _ => {
            let mut v = vec![0i64; numel];
            t.copy_data(&mut v, numel);
            v.iter()
                .for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
        }
    }
    Ok(TensorEntry {
        dtype: dtype.into(),
        shape: t.size().iter().map(|&d| d as u64).collect(),
        data_offsets: [start, data.len() as u64],
    })
}

/// The error for a safetensors file at `path` that is not valid: `what` is wrong.
fn invalid(path: &Path, what: String) -> anyhow::Error {
    anyhow::anyhow!("{} is not a valid safetensors file: {what}", path.display())
}

/// The header length `claimed` by the file at `path`, checked against `max` and the `after`
/// bytes that follow the length field.
fn header_len(path: &Path, claimed: u64, after: u64, max: u64) -> Result<u64> {
    if claimed > after {
        return Err(invalid(
            path,
            format!("its header claims {claimed} bytes, but the file has {after} after the length"),
        ));
    }
    if claimed > max {
        return Err(invalid(
            path,
            format!(
                "its header claims {claimed} bytes, more than the {max} such a header may have"
            ),
        ));
    }
    Ok(claimed)
}

/// Parses the JSON header `head` of the file at `path`.
fn parse_header(path: &Path, head: &[u8]) -> Result<Header> {
    serde_json::from_slice(head).map_err(|e| invalid(path, format!("header: {e}")))
}

/// Checks that the file at `path`, `actual` bytes long, has the size `header` (of `head_len`
/// bytes) declares: the length field, the header and the tensors, nothing more or less.
fn check_size(path: &Path, header: &Header, head_len: u64, actual: u64) -> Result<()> {
    let declared = 8u64
        .saturating_add(head_len)
        .saturating_add(header.data_len());
    if declared != actual {
        return Err(FileError::Size {
            path: path.to_path_buf(),
            declared,
            actual,
        }
        .into());
    }
    Ok(())
}

/// Checks `data` and `header` against the checksum the header's metadata records, removing it
/// from the metadata.
fn verify(path: &Path, header: &mut Header, data: &[u8]) -> Result<()> {
    let Some(recorded) = header.metadata.remove(checksum::SAFETENSORS_KEY) else {
        return Err(FileError::Unverified {
            path: path.to_path_buf(),
        }
        .into());
    };
    let found = header.digest(data)?;
    if found != recorded {
        return Err(FileError::Mismatch {
            path: path.to_path_buf(),
            detail: format!(
                "its header and tensors have SHA-256 {found}, the file records {recorded:?}"
            ),
        }
        .into());
    }
    Ok(())
}

/// Splits safetensors `bytes` into the JSON header and the data after it, checking the header's
/// length against [`MAX_SAFETENSORS_HEADER`] and the bytes there are.
fn split_header<'b>(path: &Path, bytes: &'b [u8]) -> Result<(&'b [u8], &'b [u8])> {
    if bytes.len() < 8 {
        return Err(invalid(
            path,
            format!(
                "{} bytes, shorter than its 8-byte header length",
                bytes.len()
            ),
        ));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[..8]);
    let after = (bytes.len() - 8) as u64;
    let head_len = header_len(
        path,
        u64::from_le_bytes(len8),
        after,
        MAX_SAFETENSORS_HEADER,
    )?;
    Ok(bytes[8..].split_at(head_len as usize))
}

/// Builds the tensor `name` of header entry `entry` from its bytes in `data`, returning it
/// with its byte range; the dtype, shape and range are checked first.
fn parse_tensor(
    path: &Path,
    name: &str,
    entry: TensorEntry,
    data: &[u8],
) -> Result<(Tensor, (u64, u64))> {
    let (kind, size) = dtype_kind(&entry.dtype).ok_or_else(|| {
        invalid(
            path,
            format!("tensor {name:?} has unsupported dtype {:?}", entry.dtype),
        )
    })?;
    let numel = entry_numel(path, name, &entry.shape, data.len() as u64)?;
    let [start, end] = entry.data_offsets;
    if start > end || end > data.len() as u64 || end - start != numel * size as u64 {
        return Err(invalid(path, format!(
            "tensor {name:?} ({} {:?}) has byte range {start}..{end}, not {} bytes within the {} data bytes",
            entry.dtype,
            entry.shape,
            numel * size as u64,
            data.len()
        )));
    }
    let raw = &data[start as usize..end as usize];
    let shape: Vec<i64> = entry.shape.iter().map(|&d| d as i64).collect();
    let t = decode(kind, raw)
        .f_reshape(&shape)
        .map_err(|e| invalid(path, format!("tensor {name:?} of shape {shape:?}: {e}")))?;
    Ok((t, (start, end)))
}

/// The number of elements of a tensor of `shape`, checked to fit libtorch's `i64` per dimension
/// and to be at most `data_len` (a tensor cannot have more elements than the file has bytes).
fn entry_numel(path: &Path, name: &str, shape: &[u64], data_len: u64) -> Result<u64> {
    shape
        .iter()
        .try_fold(1u64, |acc, &d| {
            // Every dimension must also fit libtorch's i64 (a zero elsewhere keeps the
            // product small).
            if d > i64::MAX as u64 {
                None
            } else {
                acc.checked_mul(d)
            }
        })
        .filter(|&n| n <= data_len)
        .ok_or_else(|| {
            invalid(
                path,
                format!("tensor {name:?} has shape {shape:?}, more than the file holds"),
            )
        })
}

/// A flat tensor of `kind` (`f32`, `f64` or `i64`) from its little-endian bytes `raw`.
fn decode(kind: Kind, raw: &[u8]) -> Tensor {
    match kind {
        Kind::Float => {
            let v: Vec<f32> = raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Tensor::from_slice(&v)
        }
        Kind::Double => {
            let v: Vec<f64> = raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            Tensor::from_slice(&v)
        }
        _ => {
            let v: Vec<i64> = raw
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            Tensor::from_slice(&v)
        }
    }
}

/// Directories below `dir` (at most `depth` levels down, `dir` itself excluded) that contain a
/// file named `marker`, sorted; unreadable directories are skipped. Used to point a user who
/// named a parent folder to the folders they meant.
pub fn find_below(dir: &Path, marker: &str, depth: usize) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..depth {
        let mut next = Vec::new();
        for d in &level {
            let Ok(entries) = std::fs::read_dir(d) else {
                continue;
            };
            let mut subdirs: Vec<std::path::PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            subdirs.sort();
            for p in subdirs {
                if p.join(marker).is_file() {
                    found.push(p.clone());
                }
                next.push(p);
            }
        }
        level = next;
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_round_trip_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let a = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
        let b = Tensor::from_slice(&[1i64, -2, i64::MAX]);
        let mut st = SafeTensors::default();
        st.tensors.insert("a".into(), a.shallow_clone());
        st.tensors.insert("b".into(), b.shallow_clone());
        st.metadata.insert("k".into(), "v".into());
        st.write(&path).unwrap();
        let back = SafeTensors::read(&path).unwrap();
        assert!(back.get("a", &path).unwrap().equal(&a));
        assert!(back.get("b", &path).unwrap().equal(&b));
        assert_eq!(back.meta("k", &path).unwrap(), "v");
        // tch reads what we write.
        let loaded = Tensor::read_safetensors(&path).unwrap();
        assert_eq!(loaded.len(), 2);
        // Truncations are errors that name the file, never panics.
        let bytes = std::fs::read(&path).unwrap();
        for n in 0..bytes.len() {
            let e = SafeTensors::parse(&path, &bytes[..n]).unwrap_err();
            assert!(format!("{e:#}").contains("t.safetensors"), "{e:#}");
        }
    }

    /// A safetensors file of header `json` (no data), with a valid checksum.
    fn sealed(json: &str) -> Vec<u8> {
        let mut header: Header = serde_json::from_str(json).unwrap();
        header.metadata.remove(checksum::SAFETENSORS_KEY);
        let head = header.to_json(&header.digest(&[]).unwrap()).unwrap();
        let mut bytes = (head.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&head);
        bytes
    }

    #[test]
    fn safetensors_dims_beyond_i64_are_errors() {
        let path = Path::new("huge.safetensors");
        let bytes = sealed(
            r#"{"t":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}"#,
        );
        let e = SafeTensors::parse(path, &bytes).unwrap_err();
        assert!(format!("{e:#}").contains("huge.safetensors"), "{e:#}");
        assert!(
            format!("{e:#}").contains("more than the file holds"),
            "{e:#}"
        );
    }

    #[test]
    fn safetensors_without_checksum_damaged_or_extended_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        let mut st = SafeTensors::default();
        st.tensors
            .insert("w".into(), Tensor::from_slice(&[1f32, 2.0, 3.0]));
        st.write(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        let unsealed = br#"{"t":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#;
        let mut bytes = (unsealed.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(unsealed);
        let e = SafeTensors::parse(&path, &bytes).unwrap_err();
        assert!(
            matches!(e.downcast_ref(), Some(FileError::Unverified { .. })),
            "{e:#}"
        );
        // The last data byte, and a byte of the header's metadata.
        for at in [good.len() - 1, 20] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).unwrap();
            let e = SafeTensors::read(&path).unwrap_err();
            assert!(format!("{e:#}").contains("m.safetensors"), "{e:#}");
        }
        let mut long = good.clone();
        long.push(0);
        std::fs::write(&path, &long).unwrap();
        let e = SafeTensors::read(&path).unwrap_err();
        assert!(
            matches!(e.downcast_ref(), Some(FileError::Size { .. })),
            "{e:#}"
        );
        std::fs::write(&path, &good).unwrap();
        let back = SafeTensors::read(&path).unwrap();
        assert!(back.metadata.is_empty());
    }

    #[test]
    fn atomic_write_replaces_and_bounded_read_refuses_long_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two!").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two!");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(read_bounded(&path, 4).is_ok());
        let e = read_bounded(&path, 3).unwrap_err();
        assert!(format!("{e:#}").contains("x.json"));
        let e = write_atomic(&dir.path().join("no/such/dir/f"), b"x").unwrap_err();
        assert!(format!("{e:#}").contains("no/such/dir/f"));
    }
}
