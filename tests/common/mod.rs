//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tch::Tensor;

/// tch has one global generator: tests of one binary that seed it take this lock first.
pub fn seed_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bundled MNIST directory.
pub fn mnist_dir() -> PathBuf {
    initlab::data::mnist::bundled_dir()
}

/// Decompressed bytes of one bundled file.
pub fn bundled_bytes(name: &str) -> Vec<u8> {
    initlab::data::mnist::read_decompressed(&mnist_dir().join(format!("{name}.gz")))
        .expect("bundled file")
}

/// An IDX file with the given magic and dims around `data`.
pub fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes a small valid dataset cut from the real files into `dir`: the first `n_train` training
/// and `n_test` test examples, as gz (when `gz`) or raw IDX files.
pub fn write_subset(dir: &Path, n_train: usize, n_test: usize, gz: bool) {
    let specs = [
        ("train-images-idx3-ubyte", 0x803u32, n_train, 784usize),
        ("train-labels-idx1-ubyte", 0x801, n_train, 1),
        ("t10k-images-idx3-ubyte", 0x803, n_test, 784),
        ("t10k-labels-idx1-ubyte", 0x801, n_test, 1),
    ];
    for (name, magic, n, per) in specs {
        let full = bundled_bytes(name);
        let header = if magic == 0x803 { 16 } else { 8 };
        let data = &full[header..header + n * per];
        let dims: Vec<u32> = if magic == 0x803 {
            vec![n as u32, 28, 28]
        } else {
            vec![n as u32]
        };
        let bytes = idx_bytes(magic, &dims, data);
        if gz {
            std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
        } else {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

/// A tensor's values as `f32`, flattened.
pub fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.detach().reshape([-1])).unwrap()
}

/// An f32 from its bit pattern written as `"0x3c1a2b3c"` (the golden files' format).
pub fn f32_from_hex(h: &serde_json::Value) -> f32 {
    let text = h.as_str().expect("a hex string");
    f32::from_bits(u32::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex digits"))
}

/// f32 values from a golden `{"hex": [...]}` object.
pub fn hex_f32s(v: &serde_json::Value) -> Vec<f32> {
    v["hex"]
        .as_array()
        .expect("a hex array")
        .iter()
        .map(f32_from_hex)
        .collect()
}
