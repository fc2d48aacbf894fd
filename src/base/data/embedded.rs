//! The bundled MNIST (`data/mnist/`: the four gzip files, `SHA256SUMS` and the licence note),
//! compiled into initlab with `include_bytes!`, so that a binary installed with `make install` or
//! `cargo install --path .` has its data when the checkout is gone.
//!
//! The files are not read from memory: the first command that needs them, finding no data
//! elsewhere ([`super::locate::search`]), writes them into the user's data folder
//! (`$XDG_DATA_HOME/initlab/mnist`) with [`unpack`], and every command loads that folder like any
//! other, `SHA256SUMS` included. Why this design and what it costs (≈11 MB of binary, no
//! measurable start-up time): `build-notes.md`, *Where the data comes from*.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

use super::mnist::{self, CHECKSUM_FILE};

/// `data/mnist/train-images-idx3-ubyte.gz`.
static TRAIN_IMAGES_GZ: &[u8] = include_bytes!("../../../data/mnist/train-images-idx3-ubyte.gz");
/// `data/mnist/train-labels-idx1-ubyte.gz`.
static TRAIN_LABELS_GZ: &[u8] = include_bytes!("../../../data/mnist/train-labels-idx1-ubyte.gz");
/// `data/mnist/t10k-images-idx3-ubyte.gz`.
static TEST_IMAGES_GZ: &[u8] = include_bytes!("../../../data/mnist/t10k-images-idx3-ubyte.gz");
/// `data/mnist/t10k-labels-idx1-ubyte.gz`.
static TEST_LABELS_GZ: &[u8] = include_bytes!("../../../data/mnist/t10k-labels-idx1-ubyte.gz");
/// `data/mnist/SHA256SUMS`: the checksums of the decompressed files.
static SHA256SUMS: &[u8] = include_bytes!("../../../data/mnist/SHA256SUMS");
/// `data/mnist/README.md`: source and licence (CC BY-SA 3.0), which travel with the data.
static README: &[u8] = include_bytes!("../../../data/mnist/README.md");

/// The four data files as (base name, gzip bytes), in the order of [`mnist::FILE_NAMES`].
fn data_files() -> [(&'static str, &'static [u8]); 4] {
    [
        (mnist::TRAIN_IMAGES, TRAIN_IMAGES_GZ),
        (mnist::TRAIN_LABELS, TRAIN_LABELS_GZ),
        (mnist::TEST_IMAGES, TEST_IMAGES_GZ),
        (mnist::TEST_LABELS, TEST_LABELS_GZ),
    ]
}

/// Bytes of the compiled-in files together (what they add to the binary).
pub fn size() -> usize {
    data_files().iter().map(|(_, b)| b.len()).sum::<usize>() + SHA256SUMS.len() + README.len()
}

/// Writes the compiled-in files into `dir` (created if needed): the four `.gz` files first, then
/// `SHA256SUMS` and `README.md`, each atomically ([`crate::base::output::io::write_atomic`]), so a folder
/// interrupted half-way lacks files and is unpacked again, and two processes unpacking at once
/// both leave whole files of the same bytes. Errors name the folder.
pub fn unpack(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data folder {}", dir.display()))?;
    for (name, bytes) in data_files() {
        crate::base::output::io::write_atomic(&dir.join(format!("{name}.gz")), bytes)?;
    }
    crate::base::output::io::write_atomic(&dir.join(CHECKSUM_FILE), SHA256SUMS)?;
    crate::base::output::io::write_atomic(&dir.join("README.md"), README)?;
    Ok(())
}

/// Whether [`unpack`] can write into `dir`, found out as it would be, without leaving anything
/// behind: the deepest ancestor of `dir` that exists (or `dir` itself) must be a folder in which a
/// file can be created — a probe file is created there (`O_EXCL`) and removed at once; the
/// folders below it that `unpack` would create are not made. Errors name the folder and what
/// stops the write (a regular file in the path, a read-only or full file system, permissions).
pub fn check_unpackable(dir: &Path) -> Result<()> {
    let mut existing = dir;
    let meta = loop {
        match std::fs::metadata(existing) {
            Ok(meta) => break meta,
            Err(_) => match existing.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
                _ => bail!(
                    "cannot unpack into {}: none of its folders exists",
                    dir.display()
                ),
            },
        }
    };
    ensure!(
        meta.is_dir(),
        "cannot unpack into {}: {} is not a folder",
        dir.display(),
        existing.display()
    );
    let probe = existing.join(format!(".initlab-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| {
            format!(
                "cannot unpack into {}: cannot create a file in {}",
                dir.display(),
                existing.display()
            )
        })?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("removing the probe file {}", probe.display()))
}

/// Checks the compiled-in files against the compiled-in `SHA256SUMS` (the SHA-256 of each
/// decompressed file), in memory: what `initlab doctor` reports before they are unpacked. The
/// loader checks them again, from the folder, at every load.
pub fn verify() -> Result<()> {
    let sums = mnist::parse_checksums(Path::new("<compiled-in SHA256SUMS>"), SHA256SUMS)?;
    for (name, gz) in data_files() {
        let expected = sums
            .get(name)
            .with_context(|| format!("the compiled-in SHA256SUMS does not list {name}"))?;
        let mut hasher = Sha256::new();
        let mut decoder = flate2::read::MultiGzDecoder::new(gz).take(mnist::MAX_STORED_BYTES);
        std::io::copy(&mut decoder, &mut hasher)
            .with_context(|| format!("decompressing the compiled-in {name}.gz"))?;
        let found = mnist::hex(&hasher.finalize());
        ensure!(
            &found == expected,
            "the compiled-in {name}.gz decompresses to SHA-256 {found}, SHA256SUMS lists {expected}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_files_verify() {
        verify().unwrap();
        assert!(size() > 11_000_000, "{}", size());
    }
}
