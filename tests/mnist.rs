//! MNIST loading: the bundled files load with the known facts, and every kind of corruption gets
//! an error that names the file and what is wrong.

mod common;

use std::path::Path;

use common::*;
use initlab::base::data::mnist::{self, load_dir};
use tch::Kind;

#[test]
fn bundled_mnist_matches_published_facts() {
    let data = load_dir(&mnist_dir()).expect("bundled MNIST loads (checksums included)");
    assert_eq!(data.train.images.size(), vec![60000, 784]);
    assert_eq!(data.test.images.size(), vec![10000, 784]);
    assert_eq!(data.train.images.kind(), Kind::Uint8);
    assert_eq!(data.train.labels.kind(), Kind::Int64);
    let counts =
        |l: &tch::Tensor| Vec::<i64>::try_from(l.bincount::<tch::Tensor>(None, 10)).unwrap();
    assert_eq!(
        counts(&data.train.labels),
        vec![5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        counts(&data.test.labels),
        vec![980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    let x = data.train.images_unit();
    assert!((x.mean(Kind::Double).double_value(&[]) - 0.1307).abs() < 5e-5);
    assert!((x.std(true).double_value(&[]) - 0.3081).abs() < 5e-5);
}

#[test]
fn raw_and_gz_subsets_load_alike() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_subset(a.path(), 300, 50, true);
    write_subset(b.path(), 300, 50, false);
    let (da, db) = (load_dir(a.path()).unwrap(), load_dir(b.path()).unwrap());
    assert_eq!(da.train.len(), 300);
    assert_eq!(da.test.len(), 50);
    assert!(da.train.images.equal(&db.train.images));
    assert!(da.test.labels.equal(&db.test.labels));
}

/// Writes a valid subset, lets `corrupt` damage it, and returns the loader's error chain.
fn load_error(corrupt: impl FnOnce(&Path)) -> String {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 200, 40, true);
    corrupt(dir.path());
    match load_dir(dir.path()) {
        Ok(_) => panic!("corrupted data loaded without error"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_mentions(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "error {err:?} does not mention {p:?}");
    }
}

const TRAIN_IMAGES_GZ: &str = "train-images-idx3-ubyte.gz";
const TRAIN_LABELS_GZ: &str = "train-labels-idx1-ubyte.gz";

fn rewrite_gz(dir: &Path, file: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(file);
    let mut bytes = mnist::read_decompressed(&path).unwrap();
    edit(&mut bytes);
    std::fs::write(&path, gzip(&bytes)).unwrap();
}

#[test]
fn missing_file() {
    let e = load_error(|d| std::fs::remove_file(d.join("t10k-labels-idx1-ubyte.gz")).unwrap());
    assert_mentions(&e, &["missing file", "t10k-labels-idx1-ubyte"]);
}

#[test]
fn missing_directory() {
    let e = format!(
        "{:#}",
        load_dir(Path::new("/definitely/not/here")).unwrap_err()
    );
    assert_mentions(&e, &["/definitely/not/here", "does not exist"]);
}

#[test]
fn truncated_gzip_stream() {
    let e = load_error(|d| {
        let p = d.join(TRAIN_IMAGES_GZ);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert_mentions(&e, &[TRAIN_IMAGES_GZ, "truncated or corrupt"]);
}

#[test]
fn corrupt_gzip_checksum() {
    let e = load_error(|d| {
        let p = d.join(TRAIN_LABELS_GZ);
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 6] ^= 0xff; // inside the CRC32 trailer
        std::fs::write(&p, bytes).unwrap();
    });
    assert_mentions(&e, &[TRAIN_LABELS_GZ, "truncated or corrupt"]);
}

#[test]
fn truncated_body() {
    let e = load_error(|d| rewrite_gz(d, TRAIN_IMAGES_GZ, |b| b.truncate(b.len() - 100)));
    assert_mentions(
        &e,
        &[TRAIN_IMAGES_GZ, "truncated", "need 156800 bytes", "156700"],
    );
}

#[test]
fn trailing_bytes() {
    let e = load_error(|d| rewrite_gz(d, TRAIN_LABELS_GZ, |b| b.extend_from_slice(&[1, 2, 3])));
    assert_mentions(&e, &[TRAIN_LABELS_GZ, "trailing data"]);
}

#[test]
fn wrong_magic() {
    let e = load_error(|d| rewrite_gz(d, TRAIN_IMAGES_GZ, |b| b[3] = 0x01));
    assert_mentions(
        &e,
        &[
            TRAIN_IMAGES_GZ,
            "wrong magic number 0x00000801",
            "expected 0x00000803",
        ],
    );
}

#[test]
fn dimensions_disagree_with_size() {
    // Claim 29 rows per image: the data no longer fills the dimensions.
    let e = load_error(|d| {
        rewrite_gz(d, TRAIN_IMAGES_GZ, |b| {
            b[8..12].copy_from_slice(&29u32.to_be_bytes())
        })
    });
    assert_mentions(&e, &[TRAIN_IMAGES_GZ, "dimensions [200, 29, 28]"]);
}

#[test]
fn label_out_of_range() {
    let e = load_error(|d| rewrite_gz(d, TRAIN_LABELS_GZ, |b| b[8 + 17] = 12));
    assert_mentions(
        &e,
        &[TRAIN_LABELS_GZ, "label 12 at index 17", "outside 0..=9"],
    );
}

#[test]
fn image_label_count_mismatch() {
    let e = load_error(|d| {
        let labels = bundled_bytes("train-labels-idx1-ubyte");
        let bytes = idx_bytes(0x801, &[199], &labels[8..8 + 199]);
        std::fs::write(d.join(TRAIN_LABELS_GZ), gzip(&bytes)).unwrap();
    });
    assert_mentions(
        &e,
        &["holds 200 images", "holds 199 labels", TRAIN_LABELS_GZ],
    );
}

#[test]
fn empty_file() {
    let e = load_error(|d| std::fs::write(d.join("t10k-images-idx3-ubyte.gz"), b"").unwrap());
    assert_mentions(
        &e,
        &["t10k-images-idx3-ubyte.gz", "too short for an IDX header"],
    );
}

#[test]
fn truncated_header() {
    let e = load_error(|d| rewrite_gz(d, "t10k-images-idx3-ubyte.gz", |b| b.truncate(10)));
    assert_mentions(&e, &["t10k-images-idx3-ubyte.gz", "truncated header"]);
}

#[test]
fn test_images_of_another_size() {
    let e = load_error(|d| {
        let images = bundled_bytes("t10k-images-idx3-ubyte");
        let bytes = idx_bytes(0x803, &[40, 14, 56], &images[16..16 + 40 * 784]);
        std::fs::write(d.join("t10k-images-idx3-ubyte.gz"), gzip(&bytes)).unwrap();
    });
    assert_mentions(&e, &["28×28", "14×56"]);
}

#[test]
fn checksum_mismatch() {
    let e = load_error(|d| {
        // Structure stays valid; one pixel changes; the directory lists the original checksum.
        let original = mnist::read_decompressed(&d.join(TRAIN_IMAGES_GZ)).unwrap();
        let digest = sha256_hex(&original);
        std::fs::write(
            d.join("SHA256SUMS"),
            format!("{digest}  train-images-idx3-ubyte\n"),
        )
        .unwrap();
        rewrite_gz(d, TRAIN_IMAGES_GZ, |b| b[500] ^= 1);
    });
    assert_mentions(&e, &[TRAIN_IMAGES_GZ, "checksum mismatch", "SHA256SUMS"]);
}

#[test]
fn malformed_checksum_file() {
    let e = load_error(|d| {
        std::fs::write(
            d.join("SHA256SUMS"),
            "not-a-digest  train-images-idx3-ubyte\n",
        )
        .unwrap()
    });
    assert_mentions(&e, &["SHA256SUMS:1", "not a SHA-256 digest"]);
}

#[test]
fn valid_checksums_pass() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 100, 20, false);
    let bytes = std::fs::read(dir.path().join("train-labels-idx1-ubyte")).unwrap();
    std::fs::write(
        dir.path().join("SHA256SUMS"),
        format!("{}  train-labels-idx1-ubyte.gz\n", sha256_hex(&bytes)),
    )
    .unwrap();
    assert_eq!(load_dir(dir.path()).unwrap().train.len(), 100);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn identity_names_the_four_files_with_their_checksums() {
    let dir = mnist_dir();
    let data = load_dir(&dir).unwrap();
    assert_eq!(data.identity.dir, dir);
    let names: Vec<&str> = data
        .identity
        .files
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz"
        ]
    );
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    for f in &data.identity.files {
        // As stored: what `sha256sum` prints for the file.
        assert_eq!(
            f.sha256,
            sha256_hex(&std::fs::read(dir.join(&f.name)).unwrap())
        );
        // The content: what SHA256SUMS lists.
        let listed = format!("{}  {}", f.content_sha256, f.name.trim_end_matches(".gz"));
        assert!(sums.contains(&listed), "{listed} not in SHA256SUMS");
    }
    // Raw and gzipped copies of the same data: same content, different files.
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_subset(a.path(), 30, 10, true);
    write_subset(b.path(), 30, 10, false);
    let (ia, ib) = (
        load_dir(a.path()).unwrap().identity,
        load_dir(b.path()).unwrap().identity,
    );
    for (fa, fb) in ia.files.iter().zip(&ib.files) {
        assert_eq!(fa.content_sha256, fb.content_sha256);
        assert_ne!(fa.sha256, fb.sha256);
        assert_eq!(fa.name, format!("{}.gz", fb.name));
        assert_eq!(
            fb.sha256,
            sha256_hex(&std::fs::read(b.path().join(&fb.name)).unwrap())
        );
    }
    // The identity round-trips through JSON.
    let json = serde_json::to_string(&ia).unwrap();
    assert_eq!(
        serde_json::from_str::<initlab::base::data::mnist::DataIdentity>(&json).unwrap(),
        ia
    );
}

#[test]
fn headers_beyond_the_limits_are_refused_before_reading_the_data() {
    // Each header is followed by only a few bytes: the limit, not the missing data, is reported.
    let cases: [(&[u32], &str); 4] = [
        (
            &[10_000_001, 28, 28],
            "10000001 images, more than the 10000000 allowed",
        ),
        (&[200, 4097, 28], "4097 rows, more than the 4096 allowed"),
        (&[200, 28, u32::MAX], "4294967295 columns"),
        (&[2_000_000, 784, 784], "more than the 1073741824 allowed"),
    ];
    for (dims, message) in cases {
        let e = load_error(|d| {
            std::fs::write(
                d.join(TRAIN_IMAGES_GZ),
                gzip(&idx_bytes(0x803, dims, &[0; 64])),
            )
            .unwrap()
        });
        assert_mentions(&e, &[TRAIN_IMAGES_GZ, message]);
    }
    let e = load_error(|d| {
        std::fs::write(
            d.join(TRAIN_LABELS_GZ),
            gzip(&idx_bytes(0x801, &[u32::MAX], &[0; 8])),
        )
        .unwrap()
    });
    assert_mentions(&e, &[TRAIN_LABELS_GZ, "4294967295 labels, more than"]);
}

#[test]
fn gzip_members_concatenate_and_anything_after_them_is_an_error() {
    // `cat a.gz b.gz` reads as the concatenation, as with zcat.
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 200, 40, true);
    let path = dir.path().join(TRAIN_IMAGES_GZ);
    let content = mnist::read_decompressed(&path).unwrap();
    let mut members = gzip(&content[..1000]);
    members.extend(gzip(&content[1000..]));
    std::fs::write(&path, &members).unwrap();
    let loaded = load_dir(dir.path()).unwrap();
    assert_eq!(loaded.train.len(), 200);
    assert_eq!(
        loaded.identity.files[0].content_sha256,
        sha256_hex(&content)
    );
    // Garbage after the last member is reported, naming the file.
    let e = load_error(|d| {
        let p = d.join(TRAIN_IMAGES_GZ);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend_from_slice(b"garbage");
        std::fs::write(&p, bytes).unwrap();
    });
    assert_mentions(&e, &[TRAIN_IMAGES_GZ, "truncated or corrupt"]);
}
