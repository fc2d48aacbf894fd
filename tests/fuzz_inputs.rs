//! Property test of the input loaders: thousands of mutated and truncated versions of real inputs
//! (MNIST IDX files raw and gzipped, `SHA256SUMS`, a DBN's `dbn.safetensors` and `dbn.json`, a
//! run's `run.json`, `history.json` and `checkpoint.safetensors`, a TensorBoard event file) are
//! fed to the loaders the program uses. Each one must either load or be rejected with an error
//! that names the file; none may panic.
//!
//! The mutations are deterministic (a seeded xorshift): byte flips, truncations, header fields
//! overwritten with extreme values, deletions and duplications, appended garbage, edits of JSON
//! numbers and punctuation, and for gzipped files both edits of the content before compression
//! and edits of the compressed bytes. A failing input is saved under the test's temporary target
//! folder and its path and mutation are reported.
//!
//! To fuzz another kind of file, write a real one into a folder and call [`mutate_and_check`]
//! with the loader the program uses for it.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::*;
use initlab::base::data::mnist::{self, load_dir};
use initlab::base::nn::{model::MlpSpec, scheme::InitScheme};
use initlab::base::output::io;
use initlab::pretraining::dbn::{self, Dbn};
use initlab::pretraining::rbm::RbmConfig;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use initlab::base::nn::model::Mlp;
use initlab::base::train::{self, History, Progress, TrainConfig};
use initlab::engine::checkpoint;
use initlab::engine::executor::{ExecOptions, Executor, PlannedRun, RunEvent};
use initlab::engine::rundir;
use initlab::engine::spec::RunSpec;
use sha2::Digest;
use tch::{Device, Kind, Tensor};

/// Values written over 32-bit header fields (IDX dimensions and magic numbers).
const EXTREME_U32: [u32; 16] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    4096,
    4097,
    65_536,
    10_000_000,
    10_000_001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
    0x0000_0803,
];

/// Values written over 64-bit fields (the safetensors header length).
const EXTREME_U64: [u64; 10] = [
    0,
    1,
    7,
    8,
    (1 << 20) + 1,
    1 << 32,
    i64::MAX as u64,
    (i64::MAX as u64) + 1,
    u64::MAX - 7,
    u64::MAX,
];

/// Replacements for a number in JSON text.
const EXTREME_LITERALS: [&str; 16] = [
    "-1",
    "0",
    "1e999",
    "-1e999",
    "18446744073709551616",
    "9223372036854775808",
    "-9223372036854775809",
    "4294967296",
    "1.5",
    "NaN",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "99999999999999999999999999999999",
];

/// A position in `len` bytes: half the time within the first 64, where headers live.
fn position(rng: &mut XorShift, len: usize) -> usize {
    if rng.below(2) == 0 {
        rng.below(len.min(64))
    } else {
        rng.below(len)
    }
}

/// Applies one random mutation to `b`; returns what it did.
fn mutate_once(rng: &mut XorShift, b: &mut Vec<u8>) -> String {
    let len = b.len();
    let kind = if len == 0 { 4 } else { rng.below(7) };
    match kind {
        0 => {
            let k = 1 + rng.below(8);
            let mut at = Vec::with_capacity(k);
            for _ in 0..k {
                let i = position(rng, len);
                if rng.below(2) == 0 {
                    b[i] ^= 1 << rng.below(8);
                } else {
                    b[i] = rng.next() as u8;
                }
                at.push(i);
            }
            format!("changed bytes at {at:?}")
        }
        1 => {
            let n = position(rng, len);
            b.truncate(n);
            format!("truncated to {n} bytes")
        }
        2 => {
            let at = 4 * rng.below(len.min(64).div_ceil(4));
            let v = *rng.pick(&EXTREME_U32);
            let bytes = if rng.below(2) == 0 {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            for (i, x) in bytes.iter().enumerate() {
                if let Some(slot) = b.get_mut(at + i) {
                    *slot = *x;
                }
            }
            format!("u32 {v:#x} written at {at}")
        }
        3 => {
            let at = 8 * rng.below(len.min(64).div_ceil(8));
            let v = *rng.pick(&EXTREME_U64);
            for (i, x) in v.to_le_bytes().iter().enumerate() {
                if let Some(slot) = b.get_mut(at + i) {
                    *slot = *x;
                }
            }
            format!("u64 {v:#x} written at {at}")
        }
        4 => {
            let n = 1 + rng.below(512);
            match rng.below(3) {
                0 => b.extend((0..n).map(|_| rng.next() as u8)),
                1 => b.resize(len + n, 0),
                _ => {
                    let copy: Vec<u8> = b[..n.min(len)].to_vec();
                    b.extend_from_slice(&copy);
                }
            }
            format!("appended {n} bytes")
        }
        5 => {
            let start = position(rng, len);
            let end = (start + 1 + rng.below(64)).min(len);
            if rng.below(2) == 0 {
                b.drain(start..end);
                format!("deleted bytes {start}..{end}")
            } else {
                let copy: Vec<u8> = b[start..end].to_vec();
                b.splice(start..start, copy);
                format!("duplicated bytes {start}..{end}")
            }
        }
        _ => mutate_text(rng, b),
    }
}

/// A JSON-minded edit: a number replaced by an extreme literal, or a punctuation mark deleted.
fn mutate_text(rng: &mut XorShift, b: &mut Vec<u8>) -> String {
    let numbers: Vec<usize> = (0..b.len())
        .filter(|&i| b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_digit()))
        .collect();
    let marks: Vec<usize> = (0..b.len())
        .filter(|&i| b"{}[]:,\"".contains(&b[i]))
        .collect();
    if !numbers.is_empty() && (marks.is_empty() || rng.below(2) == 0) {
        let start = *rng.pick(&numbers);
        let end = (start..b.len())
            .find(|&i| !(b[i].is_ascii_digit() || b".eE+-".contains(&b[i])))
            .unwrap_or(b.len());
        let lit = *rng.pick(&EXTREME_LITERALS);
        b.splice(start..end, lit.bytes());
        format!("number at {start} replaced by {lit}")
    } else if !marks.is_empty() {
        let at = *rng.pick(&marks);
        let mark = b.remove(at) as char;
        format!("deleted {mark:?} at {at}")
    } else {
        let at = rng.below(b.len());
        b[at] = b'"';
        format!("quote written at {at}")
    }
}

/// One to three mutations of `original`, and what they were.
fn mutate(rng: &mut XorShift, original: &[u8]) -> (Vec<u8>, String) {
    let mut b = original.to_vec();
    let steps = if rng.below(4) == 0 {
        2 + rng.below(2)
    } else {
        1
    };
    let what: Vec<String> = (0..steps).map(|_| mutate_once(rng, &mut b)).collect();
    (b, what.join(", "))
}

/// What [`mutate_and_check`] saw.
#[derive(Debug, Default)]
struct Tally {
    /// Mutated inputs that loaded.
    accepted: usize,
    /// Mutated inputs rejected with an error naming the file.
    rejected: usize,
}

/// The message of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Writes `n` mutations of `original` (deterministic for `seed`) as `dir/name` and calls `loader`
/// with that path after each: it must return `Ok` or an error whose message (`{e:#}`) contains
/// `name`, and must not panic. With `gz`, `original` is the uncompressed content and the file is
/// stored gzipped; half the mutations edit the content before compression, half the compressed
/// bytes. The unmutated file must load; it is put back at the end. Failing inputs are saved under
/// `CARGO_TARGET_TMPDIR/fuzz_inputs/` and reported together, with their mutations.
fn mutate_and_check<T>(
    dir: &Path,
    name: &str,
    original: &[u8],
    gz: bool,
    n: usize,
    seed: u64,
    loader: impl Fn(&Path) -> anyhow::Result<T>,
) -> Tally {
    let path = dir.join(name);
    let stored = if gz {
        gzip(original)
    } else {
        original.to_vec()
    };
    std::fs::write(&path, &stored).unwrap();
    if let Err(e) = loader(&path) {
        panic!("the unmutated {name} does not load: {e:#}");
    }
    let saved_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz_inputs");
    let mut rng = XorShift::new(seed);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for i in 0..n {
        let (bytes, what) = if gz && rng.below(2) == 0 {
            let (content, what) = mutate(&mut rng, original);
            (gzip(&content), format!("content {what}, then gzipped"))
        } else {
            let (bytes, what) = mutate(&mut rng, &stored);
            (bytes, what)
        };
        std::fs::write(&path, &bytes).unwrap();
        let problem = match catch_unwind(AssertUnwindSafe(|| loader(&path))) {
            Ok(Ok(_)) => {
                tally.accepted += 1;
                None
            }
            Ok(Err(e)) => {
                let message = format!("{e:#}");
                tally.rejected += 1;
                (!message.contains(name))
                    .then(|| format!("the error does not name {name}: {message}"))
            }
            Err(payload) => Some(format!("panicked: {}", panic_message(payload.as_ref()))),
        };
        if let Some(problem) = problem {
            std::fs::create_dir_all(&saved_dir).unwrap();
            let saved = saved_dir.join(format!("{name}-seed{seed}-{i}"));
            std::fs::write(&saved, &bytes).unwrap();
            failures.push(format!(
                "#{i} ({what}; input saved as {}): {problem}",
                saved.display()
            ));
        }
    }
    std::fs::write(&path, &stored).unwrap();
    assert!(
        failures.is_empty(),
        "{} of {n} mutations of {name} failed; the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    // The mutations must reach the checks, not only the happy path.
    assert!(tally.rejected > n / 10, "{name}: {tally:?}");
    eprintln!("{name}: {n} mutations, {tally:?}");
    tally
}

/// The four IDX file names in a subset folder, each with its content.
fn subset_contents(dir: &Path, gz: bool) -> Vec<(String, Vec<u8>)> {
    [
        mnist::TRAIN_IMAGES,
        mnist::TRAIN_LABELS,
        mnist::TEST_IMAGES,
        mnist::TEST_LABELS,
    ]
    .iter()
    .map(|base| {
        let name = if gz {
            format!("{base}.gz")
        } else {
            base.to_string()
        };
        let content = mnist::read_decompressed(&dir.join(&name)).unwrap();
        (name, content)
    })
    .collect()
}

/// Mutations of each of the four IDX files of a 50-image subset of the real data, fed to
/// [`load_dir`].
fn fuzz_idx(gz: bool, n_per_file: usize) {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 50, 20, gz);
    let started = Instant::now();
    for (k, (name, content)) in subset_contents(dir.path(), gz).iter().enumerate() {
        mutate_and_check(
            dir.path(),
            name,
            content,
            gz,
            n_per_file,
            100 + k as u64 + if gz { 10 } else { 0 },
            |p| load_dir(p.parent().unwrap()),
        );
    }
    eprintln!(
        "IDX ({}): {:.1} s",
        if gz { "gz" } else { "raw" },
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn raw_idx_files() {
    fuzz_idx(false, 900);
}

#[test]
fn gzipped_idx_files() {
    fuzz_idx(true, 900);
}

#[test]
fn checksum_file() {
    let dir = tempfile::tempdir().unwrap();
    write_subset(dir.path(), 50, 20, true);
    let sums: String = subset_contents(dir.path(), true)
        .iter()
        .map(|(name, content)| {
            let digest: String = sha2::Sha256::digest(content)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("{digest}  {}\n", name.trim_end_matches(".gz"))
        })
        .collect();
    mutate_and_check(
        dir.path(),
        mnist::CHECKSUM_FILE,
        sums.as_bytes(),
        false,
        400,
        7,
        |p| load_dir(p.parent().unwrap()),
    );
}

#[test]
fn tensorboard_event_files() {
    use initlab::base::output::tensorboard::{read_events, EventWriter, Histogram};
    let dir = tempfile::tempdir().unwrap();
    let mut w = EventWriter::create(dir.path()).unwrap();
    w.session_start(3).unwrap();
    for step in 3..40 {
        w.scalar("train/loss_step", step, 2.0 / step as f32)
            .unwrap();
    }
    let values: Vec<f32> = (0..500).map(|i| (i as f32 * 0.37).sin()).collect();
    w.histogram("weights/linear1.weight", 1, Histogram::of(&values, 30))
        .unwrap();
    w.flush().unwrap();
    let path = w.path().to_path_buf();
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let bytes = std::fs::read(&path).unwrap();
    mutate_and_check(dir.path(), &name, &bytes, false, 1000, 43, |p| {
        read_events(p)
    });
}

/// A small DBN (12-6-3) pretrained for two epochs on random binary data, saved in `dir`.
fn tiny_dbn(dir: &Path) {
    let _g = seed_lock();
    tch::manual_seed(11);
    let data = Tensor::rand([40, 12], (Kind::Float, Device::Cpu))
        .gt(0.5)
        .to_kind(Kind::Float);
    let config = RbmConfig {
        batch_size: 10,
        ..RbmConfig::default()
    };
    let dbn = dbn::pretrain(&data, &data, &[12, 6, 3], &config, 2, &mut |_| {}).unwrap();
    dbn.save(dir).unwrap();
}

#[test]
fn dbn_files() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dbn(dir.path());
    for (name, n, seed) in [(dbn::WEIGHTS_FILE, 2000, 21), (dbn::META_FILE, 1000, 22)] {
        let original = std::fs::read(dir.path().join(name)).unwrap();
        mutate_and_check(dir.path(), name, &original, false, n, seed, |p| {
            Dbn::load(p.parent().unwrap())
        });
    }
    // The strict safetensors reader on its own, as checkpoints will use it.
    let original = std::fs::read(dir.path().join(dbn::WEIGHTS_FILE)).unwrap();
    mutate_and_check(
        dir.path(),
        dbn::WEIGHTS_FILE,
        &original,
        false,
        500,
        23,
        io::SafeTensors::read,
    );
}

#[test]
fn run_json_files() {
    let data_dir = tempfile::tempdir().unwrap();
    write_subset(data_dir.path(), 50, 20, true);
    let data = load_dir(data_dir.path()).unwrap();
    let spec = MlpSpec::shallow(InitScheme::XavierUniform);
    let config = TrainConfig {
        epochs: 2,
        batch_size: 25,
        ..TrainConfig::default()
    };
    let history = {
        let _g = seed_lock();
        train::train(&spec, &data, &config, &mut |_| {}).unwrap().1
    };
    // A real run directory, interrupted after its first batch: run.json and a checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let planned = PlannedRun {
        name: "fuzz".into(),
        dir: dir.path().join("fuzz"),
        spec: RunSpec {
            model: spec.clone(),
            source: Default::default(),
            train: config,
            data: data.identity.clone(),
        },
    };
    // Raised at the first batch: the run stops there with a checkpoint.
    let stop = AtomicBool::new(false);
    {
        let _g = seed_lock();
        let executor = Executor {
            data: &data,
            options: ExecOptions::default(),
            stop: Some(&stop),
        };
        let outcome = executor
            .run(std::slice::from_ref(&planned), &mut |e| {
                if let RunEvent::Train(Progress::Batch { .. }) = e {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            })
            .unwrap();
        assert!(outcome.interrupted);
    }
    let hash = planned.spec.hash();
    let run_json = std::fs::read(planned.dir.join(rundir::RUN_FILE)).unwrap();
    mutate_and_check(
        dir.path(),
        rundir::RUN_FILE,
        &run_json,
        false,
        800,
        31,
        |p| {
            let folder = p.parent().unwrap().join("as-run");
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::copy(p, folder.join(rundir::RUN_FILE)).unwrap();
            rundir::read_record(&folder)
        },
    );
    let ck = std::fs::read(planned.dir.join(initlab::engine::rundir::CHECKPOINT_FILE)).unwrap();
    mutate_and_check(
        dir.path(),
        initlab::engine::rundir::CHECKPOINT_FILE,
        &ck,
        false,
        1500,
        34,
        |p| -> anyhow::Result<()> {
            let ck = checkpoint::load(p, &hash, 2)?;
            let mut model = Mlp::new(&spec)?;
            model
                .set_weights(&ck.weights)
                .with_context(|| format!("restoring {}", p.display()))?;
            Ok(())
        },
    );
    io::write_json(&dir.path().join("history.json"), &history).unwrap();
    let history_json = std::fs::read(dir.path().join("history.json")).unwrap();
    mutate_and_check(
        dir.path(),
        "history.json",
        &history_json,
        false,
        800,
        32,
        io::read_json::<History>,
    );
    let dbn_dir = tempfile::tempdir().unwrap();
    tiny_dbn(dbn_dir.path());
    let meta = std::fs::read(dbn_dir.path().join(dbn::META_FILE)).unwrap();
    mutate_and_check(
        dbn_dir.path(),
        dbn::META_FILE,
        &meta,
        false,
        400,
        33,
        io::read_json::<dbn::DbnMeta>,
    );
}

/// A loader that panics on inputs shorter than 40 bytes.
fn fragile(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)?;
    assert!(bytes.len() >= 40, "short input");
    Ok(())
}

#[test]
#[should_panic(expected = "panicked: short input")]
fn the_harness_reports_panics() {
    let dir = tempfile::tempdir().unwrap();
    mutate_and_check(dir.path(), "x.bin", &[7; 64], false, 200, 1, fragile);
}

#[test]
#[should_panic(expected = "the error does not name x.bin: anonymous")]
fn the_harness_reports_errors_that_do_not_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    mutate_and_check(dir.path(), "x.bin", &[7; 64], false, 200, 1, |p| {
        anyhow::ensure!(std::fs::read(p)?.len() == 64, "anonymous");
        Ok(())
    });
}
