//! Checksums carried by the files initlab writes and later trusts, verified on every read.
//!
//! - JSON files (`run.json`, `history.json`, `dbn.json`, `recipe.json`): the pretty-printed
//!   object ends with one more entry, `"initlab_sha256": "<hex>"`, the SHA-256 of the text the
//!   object had without it ([`seal_json`], [`unseal_json`]). Readers parse that text, so they
//!   never see the entry.
//! - safetensors files (`checkpoint.safetensors`, `model.safetensors`, `dbn.safetensors`): the
//!   `__metadata__` entry [`SAFETENSORS_KEY`] holds the SHA-256 of the header's other contents
//!   and of the data (see [`crate::base::output::io::SafeTensors`]).
//!
//! A file without a checksum (written by an initlab older than checksums, or by another program)
//! is refused ([`FileError::Unverified`]) like a damaged one ([`FileError::Mismatch`]): a run
//! whose files cannot be verified is trained again (`--force`), never trusted.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The `__metadata__` entry of a safetensors file that holds its checksum.
pub const SAFETENSORS_KEY: &str = "initlab.sha256";

/// The last entry of a JSON file, holding its checksum.
pub const JSON_KEY: &str = "initlab_sha256";

/// Problems with a file's integrity that callers (and the binary's hints) tell apart.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The content does not match the checksum written with it.
    #[error("{} was changed or damaged after initlab wrote it: {detail}", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// The file carries no checksum.
    #[error("{} carries no initlab checksum (written by an initlab older than checksummed files, by another program, or damaged), so it is not trusted", path.display())]
    Unverified {
        /// The file.
        path: PathBuf,
    },
    /// A safetensors file whose size is not the one its header declares.
    #[error("{} is not a valid safetensors file: its header declares {declared} bytes in all, the file has {actual}{}", path.display(), if actual > declared { " (trailing bytes)" } else { " (truncated)" })]
    Size {
        /// The file.
        path: PathBuf,
        /// The bytes the header declares (length field, header, tensors).
        declared: u64,
        /// The bytes the file has.
        actual: u64,
    },
}

impl FileError {
    /// The file at fault.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Mismatch { path, .. }
            | FileError::Unverified { path }
            | FileError::Size { path, .. } => path,
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `text` (a pretty-printed JSON object, ending in `\n}`) with a last entry [`JSON_KEY`] holding
/// the SHA-256 of `text`, and a final newline. `None` when `text` is not such an object.
pub fn seal_json(text: &str) -> Option<String> {
    let body = text.strip_suffix("\n}")?;
    Some(format!(
        "{body},\n  \"{JSON_KEY}\": \"{}\"\n}}\n",
        sha256_hex(text.as_bytes())
    ))
}

/// The text a file sealed by [`seal_json`] had before it was sealed, after checking it against
/// its checksum; `bytes` were read from `path` (named in errors).
pub fn unseal_json(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, FileError> {
    let marker = format!(",\n  \"{JSON_KEY}\": \"");
    let Some(at) = rfind(bytes, marker.as_bytes()) else {
        return Err(FileError::Unverified {
            path: path.to_path_buf(),
        });
    };
    let tail = &bytes[at + marker.len()..];
    let mismatch = |detail: String| FileError::Mismatch {
        path: path.to_path_buf(),
        detail,
    };
    let recorded = tail
        .strip_suffix(b"\"\n}\n")
        .filter(|h| h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| {
            mismatch(format!(
                "its \"{JSON_KEY}\" entry is not the last one or not a SHA-256"
            ))
        })?;
    let mut text = bytes[..at].to_vec();
    text.extend_from_slice(b"\n}");
    let found = sha256_hex(&text);
    if found.as_bytes() != recorded {
        return Err(mismatch(format!(
            "its content has SHA-256 {found}, the file records {}",
            String::from_utf8_lossy(recorded)
        )));
    }
    Ok(text)
}

/// The position of the last occurrence of `needle` in `hay`.
fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_json_round_trips_and_every_flipped_bit_is_caught() {
        let text = "{\n  \"a\": 1,\n  \"b\": [\n    2.5\n  ]\n}";
        let sealed = seal_json(text).unwrap();
        let path = Path::new("x.json");
        assert_eq!(
            unseal_json(path, sealed.as_bytes()).unwrap(),
            text.as_bytes()
        );
        let value: serde_json::Value = serde_json::from_str(&sealed).unwrap();
        assert_eq!(value["a"], 1);
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bytes = sealed.clone().into_bytes();
                bytes[i] ^= 1 << bit;
                let e = unseal_json(path, &bytes).unwrap_err();
                assert!(e.to_string().contains("x.json"), "{e}");
            }
        }
        assert!(matches!(
            unseal_json(path, text.as_bytes()),
            Err(FileError::Unverified { .. })
        ));
        assert!(seal_json("{}").is_none());
    }
}
