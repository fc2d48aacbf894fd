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

/// The files of one golden set (`tests/golden/<oneMKL path>/<kernel family>/`): the library's
/// list, which `build.rs` also uses to tell `initlab doctor` which sets exist.
pub use initlab::base::parity::mkl::GOLDEN_SET_FILES;

/// `tests/golden/`: the CPU-independent golden files, and one folder per oneMKL path and kernel
/// family.
pub fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// A golden set by name (`"intel-path/avx512"`, `"stock/avx2"`, see
/// `initlab::base::parity::mkl::golden_set`), or a message naming what is missing and how to
/// make it.
pub fn golden_dir_for(set: &str) -> Result<PathBuf, String> {
    let dir = golden_root().join(set);
    let missing: Vec<&str> = GOLDEN_SET_FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if missing.is_empty() {
        return Ok(dir);
    }
    let dispatch = if set.starts_with("intel-path/") {
        "intel-path"
    } else {
        "stock"
    };
    Err(format!(
        "no complete golden set {set:?}: {} lacks {}. PyTorch's numbers depend on the CPU's \
         oneMKL/ATen kernels and on oneMKL's path (Intel or not), so bit parity can only be \
         checked against files made by real PyTorch 2.13 on such a CPU: run \
         `INITLAB_MKL_DISPATCH={dispatch} tools/reference/run.sh` there (tools/reference/README.md) \
         and commit the result",
        dir.display(),
        missing.join(", ")
    ))
}

/// The golden set of this process (oneMKL's path under its dispatch, the CPU's kernel family);
/// panics with [`golden_dir_for`]'s message if there is none, so that the bit-exact tests fail
/// rather than pass without a reference.
pub fn golden_dir() -> PathBuf {
    let set = initlab::base::parity::mkl::golden_set();
    golden_dir_for(&set).unwrap_or_else(|e| {
        panic!("this process's golden set is {set:?} (initlab::base::parity::mkl::golden_set); {e}")
    })
}

/// A file of this CPU's golden set, as text.
pub fn golden_text(name: &str) -> String {
    let path = golden_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON file of this CPU's golden set.
pub fn golden_json(name: &str) -> serde_json::Value {
    let text = golden_text(name);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("golden {name}: {e}"))
}

/// The bundled MNIST directory.
pub fn mnist_dir() -> PathBuf {
    initlab::base::data::mnist::bundled_dir()
}

/// Decompressed bytes of one bundled file.
pub fn bundled_bytes(name: &str) -> Vec<u8> {
    initlab::base::data::mnist::read_decompressed(&mnist_dir().join(format!("{name}.gz")))
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

/// Waits until the run's record names a checkpoint after at least `epochs` epochs.
pub fn wait_for_checkpoint(dir: &Path, epochs: usize, child: &mut std::process::Child) {
    let start = std::time::Instant::now();
    loop {
        // `running`: written by this child (an earlier process's record says `interrupted`, and a
        // resumed run may already be past `epochs`: its child would not have started yet).
        if let Ok(r) = initlab::engine::rundir::read_record(dir) {
            let running = r.status == initlab::engine::rundir::RunStatus::Running;
            if running
                && r.checkpoint
                    .as_ref()
                    .is_some_and(|c| c.epochs_done >= epochs)
            {
                return;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its checkpoint"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(300),
            "no checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Sends SIGINT (what Ctrl-C sends) to `child` alone, not its process group.
pub fn interrupt(child: &std::process::Child) {
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(kill.success(), "kill -INT {} failed", child.id());
}

/// xorshift64 (Marsaglia 2003), seeded: small, fast and the same cases everywhere (the fuzzers and
/// the drawing property test).
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        // Spread small seeds over the state; the state must not be zero.
        XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}
