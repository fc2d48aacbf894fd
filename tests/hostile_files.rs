//! Damaged and hostile run files (issue 19, items 1, 2 and 7): every file initlab writes and
//! later trusts carries its checksum and is read no further than it declares. A flipped bit in a
//! checkpoint, a weight ×4 in `model.safetensors`, a flipped bit in `dbn.safetensors`, a model
//! cut in half, a file followed by 4 GiB of zeros: each is refused naming the file (quickly, in
//! little memory), never used silently. A property test flips random bytes of each run file of
//! a tiny run and checks that every command reading it works identically or refuses naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use common::{seed_lock, write_subset};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::{model::MlpSpec, scheme::InitScheme};
use initlab::base::train::{Progress, TrainConfig};
use initlab::engine::checkpoint;
use initlab::engine::executor::{ExecOptions, Executor, PlannedRun, RunEvent, StartKind};
use initlab::engine::rundir::{self, RunStatus, CHECKPOINT_FILE, MODEL_FILE};
use initlab::engine::spec::RunSpec;

/// What a finished `initlab` process left: exit code, stdout, stderr, peak memory.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident memory (KiB), from `wait4`.
    max_rss_kib: i64,
    seconds: f64,
}

/// Runs `initlab args` to the end, measuring its peak memory.
fn initlab(args: &[&str]) -> Ran {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_initlab"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start initlab");
    let pid = child.id() as libc::pid_t;
    let out = std::thread::spawn(move || {
        use std::io::Read;
        let (mut o, mut e) = (String::new(), String::new());
        let mut child = child;
        child.stdout.take().unwrap().read_to_string(&mut o).unwrap();
        child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
        (o, e)
    });
    let (mut status, mut usage) = (0, unsafe_zeroed_rusage());
    // SAFETY: `pid` is our own child, not yet waited for; `status` and `usage` are valid for
    // writes of their types.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let (stdout, stderr) = out.join().unwrap();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        stdout,
        stderr,
        max_rss_kib: usage.ru_maxrss,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// An all-zero `rusage`, for `wait4` to fill.
fn unsafe_zeroed_rusage() -> libc::rusage {
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero bytes are valid.
    unsafe { std::mem::zeroed() }
}

/// Asserts that `ran` failed cleanly (exit 1, no panic, no abort) naming `file`.
fn refused(ran: &Ran, file: &str) {
    assert_eq!(ran.code, Some(1), "expected a refusal: {}", ran.stderr);
    assert!(
        ran.stderr.contains(file),
        "should name {file}: {}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
}

/// A tiny data set (300 training and 100 test images), shared by the tests.
fn data_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        write_subset(d.path(), 300, 100, false);
        d
    })
    .path()
}

/// Pretrains a 784-8 DBN for one epoch on [`data_dir`] into `dir`, and checks that it did.
fn pretrain_tiny_dbn(dir: &Path) {
    let (dir_s, data) = (dir.to_str().unwrap(), data_dir().to_str().unwrap());
    let ran = initlab(&[
        "pretrain",
        "--widths",
        "784,8",
        "--epochs",
        "1",
        "--data-dir",
        data,
        "--out",
        dir_s,
        "--quiet",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}

/// The `train` arguments of the tiny run in `out/name`.
fn train_args<'a>(out: &'a str, name: &'a str, data: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        "784,8,10",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--monitor-every",
        "2",
        "--data-dir",
        data,
        "--out",
        out,
        "--name",
        name,
        "--quiet",
    ]
}

/// Trains the tiny run into `out/name` with the binary; returns its directory.
fn tiny_run(out: &Path, name: &str) -> PathBuf {
    let data = data_dir().to_str().unwrap();
    let ran = initlab(&train_args(out.to_str().unwrap(), name, data));
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    out.join(name)
}

/// A run of `epochs` epochs on the tiny data, stopped by the library's executor after its
/// first batch: its directory holds `run.json` and a checkpoint.
fn interrupted_run(dir: &Path, epochs: usize) -> PlannedRun {
    let data = load_dir(data_dir()).unwrap();
    let planned = PlannedRun {
        name: "stopped".into(),
        dir: dir.to_path_buf(),
        spec: RunSpec {
            model: MlpSpec::shallow(InitScheme::XavierUniform),
            source: Default::default(),
            train: TrainConfig {
                epochs,
                batch_size: 50,
                ..TrainConfig::default()
            },
            data: data.identity.clone(),
        },
    };
    let how = stop_after_one_batch(&data, &planned);
    assert_eq!(how, Some(StartKind::Fresh));
    planned
}

/// Runs `planned` with the library's executor, stopping it after its first batch; returns how it
/// started.
fn stop_after_one_batch(
    data: &initlab::base::data::mnist::Mnist,
    planned: &PlannedRun,
) -> Option<StartKind> {
    let _g = seed_lock();
    let stop = AtomicBool::new(false);
    let executor = Executor {
        data,
        options: ExecOptions::default(),
        stop: Some(&stop),
    };
    let mut how = None;
    let outcome = executor
        .run(std::slice::from_ref(planned), &mut |e| match e {
            RunEvent::Start { how: h, .. } => how = Some(h),
            RunEvent::Train(Progress::Batch { .. }) => stop.store(true, Ordering::SeqCst),
            _ => {}
        })
        .unwrap();
    assert!(outcome.interrupted);
    how
}

/// Flips bit `bit` of byte `at` of `path`.
fn flip(path: &Path, at: usize, bit: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 1 << bit;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_bit_in_the_checkpoint_is_refused_on_resume_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stopped");
    interrupted_run(&dir, 2);
    let ck = dir.join(CHECKPOINT_FILE);
    let len = std::fs::metadata(&ck).unwrap().len() as usize;
    // A bit of the last weight (data), then also one of the header's state.
    flip(&ck, len - 3, 2);
    let ran = initlab(&["train", "--resume", dir.to_str().unwrap(), "--quiet"]);
    refused(&ran, CHECKPOINT_FILE);
    assert!(ran.stderr.contains("changed or damaged"), "{}", ran.stderr);
    assert!(ran.stderr.contains("hint:") && ran.stderr.contains("--force"));
    // Nothing was touched: the checkpoint is still there, the run still resumable by --force.
    assert!(ck.exists());
    let record = rundir::read_record(&dir).unwrap();
    assert_eq!(record.status, RunStatus::Interrupted);
}

#[test]
fn a_weight_times_four_in_the_model_is_refused_by_eval_and_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_run(tmp.path(), "x4");
    let model = run.join(MODEL_FILE);
    let mut bytes = std::fs::read(&model).unwrap();
    // The last f32 of the data, times four.
    let n = bytes.len();
    let w = f32::from_le_bytes(bytes[n - 4..].try_into().unwrap());
    bytes[n - 4..].copy_from_slice(&(w * 4.0).to_le_bytes());
    std::fs::write(&model, bytes).unwrap();
    let run_s = run.to_str().unwrap();
    refused(&initlab(&["eval", run_s, "--quiet"]), MODEL_FILE);
    refused(
        &initlab(&["predict", run_s, "--index", "0", "--quiet"]),
        MODEL_FILE,
    );
}

#[test]
fn a_flipped_bit_in_the_dbn_is_refused_by_init_dbn() {
    let tmp = tempfile::tempdir().unwrap();
    let dbn = tmp.path().join("dbn");
    pretrain_tiny_dbn(&dbn);
    let (dbn_s, data) = (dbn.to_str().unwrap(), data_dir().to_str().unwrap());
    let weights = dbn.join("dbn.safetensors");
    let len = std::fs::metadata(&weights).unwrap().len() as usize;
    flip(&weights, len - 10, 0);
    let out = tmp.path().join("runs");
    let ran = initlab(&[
        "train",
        "--model",
        "784,8,10",
        "--init",
        "dbn",
        "--pretrained",
        dbn_s,
        "--epochs",
        "1",
        "--data-dir",
        data,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    refused(&ran, "dbn.safetensors");
    assert!(
        ran.stderr.contains("pretrain the DBN again"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_model_cut_in_half_is_not_reused_and_force_trains_it_again_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_run(tmp.path(), "cut");
    let model = run.join(MODEL_FILE);
    let whole = std::fs::read(&model).unwrap();
    std::fs::write(&model, &whole[..whole.len() / 2]).unwrap();
    let (out, data) = (tmp.path().to_str().unwrap(), data_dir().to_str().unwrap());
    let ran = initlab(&train_args(out, "cut", data));
    refused(&ran, MODEL_FILE);
    assert!(ran.stderr.contains("not reused"), "{}", ran.stderr);
    assert!(ran.stderr.contains("truncated"), "{}", ran.stderr);
    let mut forced = train_args(out, "cut", data);
    forced.push("--force");
    let ran = initlab(&forced);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(std::fs::read(&model).unwrap(), whole);
}

/// Extends `path` by 4 GiB of zeros, sparse (no disk used).
fn add_four_gib_of_zeros(path: &Path) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len + (4 << 30)).unwrap();
}

#[test]
fn files_followed_by_four_gib_of_zeros_are_refused_quickly_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_run(tmp.path(), "long");
    add_four_gib_of_zeros(&run.join(MODEL_FILE));
    let ran = initlab(&["eval", run.to_str().unwrap(), "--quiet"]);
    refused(&ran, MODEL_FILE);
    assert!(ran.stderr.contains("trailing bytes"), "{}", ran.stderr);
    let stopped = tmp.path().join("stopped");
    interrupted_run(&stopped, 2);
    add_four_gib_of_zeros(&stopped.join(CHECKPOINT_FILE));
    let resumed = initlab(&["train", "--resume", stopped.to_str().unwrap(), "--quiet"]);
    refused(&resumed, CHECKPOINT_FILE);
    assert!(resumed.stderr.contains("trailing bytes"));
    for r in [&ran, &resumed] {
        eprintln!("peak {} MiB in {:.2} s", r.max_rss_kib / 1024, r.seconds);
        assert!(r.max_rss_kib < 300 * 1024, "peak {} KiB", r.max_rss_kib);
        assert!(r.seconds < 20.0, "{} s", r.seconds);
    }
}

#[test]
fn a_checkpoint_of_a_hundred_thousand_epochs_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("long");
    let planned = interrupted_run(&dir, 100_000);
    let ck = dir.join(CHECKPOINT_FILE);
    let bytes = std::fs::read(&ck).unwrap();
    let head_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    eprintln!("checkpoint header: {head_len} bytes");
    let hash = planned.spec.hash();
    let loaded = checkpoint::load(&ck, &hash, 100_000).unwrap();
    assert_eq!(loaded.batches_done, 1);
    // And through the executor: it resumes (and is stopped again after one batch).
    let data = load_dir(data_dir()).unwrap();
    let how = stop_after_one_batch(&data, &planned);
    assert!(
        matches!(
            how,
            Some(StartKind::Resumed {
                epochs_done: 0,
                batches_done: 1
            })
        ),
        "{how:?}"
    );
}

/// The sizes the IDX child process was asked to load, and its peak memory, reported on stdout.
const IDX_CHILD: &str = "HOSTILE_FILES_IDX_CHILD";

#[test]
fn an_honest_large_idx_file_loads_at_about_one_copy() {
    if let Ok(dir) = std::env::var(IDX_CHILD) {
        // In the child: load a small copy first (libtorch's own start-up memory), then the big
        // one, and report the peak memory's growth.
        drop(load_dir(&Path::new(&dir).join("small")).unwrap());
        let before = vm_hwm_kib();
        let data = load_dir(Path::new(&dir)).unwrap();
        println!("grew {} KiB", vm_hwm_kib() - before);
        drop(data);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    std::fs::create_dir(&small).unwrap();
    // The small copy goes through the same steps: 25,000 images (20 MB).
    write_subset(&small, 100, 100, false);
    zero_images(&small, 25_000);
    // 255,000 images of 784 zero bytes (200 MB, sparse) and as many labels.
    let n: u64 = 255_000;
    write_subset(tmp.path(), 100, 100, false);
    zero_images(tmp.path(), n);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_honest_large_idx_file_loads_at_about_one_copy",
            "--nocapture",
        ])
        .env(IDX_CHILD, tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grew: u64 = (stdout.lines())
        .find_map(|l| l.strip_prefix("grew ")?.strip_suffix(" KiB")?.parse().ok())
        .unwrap_or_else(|| panic!("no report: {stdout}"));
    let size_kib = n * 785 / 1024;
    eprintln!("{size_kib} KiB of IDX data: the peak grew by {grew} KiB");
    assert!(
        grew * 10 < size_kib * 13,
        "{grew} KiB for {size_kib} KiB of data"
    );
}

/// Writes `dir`'s training images as `n` all-zero images (a sparse file) and `n` labels.
fn zero_images(dir: &Path, n: u64) {
    let images = dir.join("train-images-idx3-ubyte");
    let mut header = 0x803u32.to_be_bytes().to_vec();
    for d in [n as u32, 28, 28] {
        header.extend_from_slice(&d.to_be_bytes());
    }
    std::fs::write(&images, &header).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&images)
        .unwrap();
    f.set_len(16 + n * 784).unwrap();
    let mut labels = 0x801u32.to_be_bytes().to_vec();
    labels.extend_from_slice(&(n as u32).to_be_bytes());
    labels.resize(8 + n as usize, 0);
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
}

/// This process's peak resident memory (`VmHWM`), in KiB.
fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    (status.lines())
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap()
}

/// Flips bits of `file` at the byte offsets picked by a seeded xorshift (`cases` of them),
/// restoring the original after each; `check` gets the case's description.
fn each_flip(file: &Path, cases: usize, seed: u64, mut check: impl FnMut(&str)) {
    let original = std::fs::read(file).unwrap();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..cases {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (at, bit) = ((x >> 8) as usize % original.len(), (x % 8) as u8);
        let mut bytes = original.clone();
        bytes[at] ^= 1 << bit;
        std::fs::write(file, &bytes).unwrap();
        check(&format!("{} byte {at} bit {bit}", file.display()));
    }
    std::fs::write(file, &original).unwrap();
}

/// A command reading a damaged file worked identically (`expected`) or refused naming `file`;
/// never a panic (101), an abort or another result.
fn identical_or_refused(ran: &Ran, expected: &Ran, file: &str, case: &str) {
    match ran.code {
        Some(0) => assert_eq!(ran.stdout, expected.stdout, "silent difference: {case}"),
        Some(1) => assert!(
            ran.stderr.contains(file),
            "{case}: refused without naming {file}: {}",
            ran.stderr
        ),
        other => panic!("{case}: exit {other:?}: {}", ran.stderr),
    }
}

#[test]
fn random_flips_of_run_files_are_refused_or_harmless_never_silent() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tiny_run(tmp.path(), "prop");
    let (out, data) = (tmp.path().to_str().unwrap(), data_dir().to_str().unwrap());
    let run_s = run.to_str().unwrap();
    let chart = tmp.path().join("chart.png");
    let chart = chart.to_str().unwrap();
    let dynamics_chart = tmp.path().join("dynamics.svg");
    let dynamics_chart = dynamics_chart.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        train_args(out, "prop", data),
        vec!["eval", run_s, "--json", "--quiet"],
        vec!["predict", run_s, "--index", "3", "--json", "--quiet"],
        vec!["plot", run_s, "--out", chart, "--quiet"],
        vec!["dynamics", run_s, "--out", dynamics_chart, "--quiet"],
    ];
    let expected: Vec<Ran> = commands.iter().map(|c| initlab(c)).collect();
    for e in &expected {
        assert_eq!(e.code, Some(0), "{}", e.stderr);
    }
    let drawn = std::fs::read(dynamics_chart).unwrap();
    let mut runs = 0;
    for (file, cases, seed) in [
        ("run.json", 3, 1),
        ("history.json", 3, 2),
        (MODEL_FILE, 3, 3),
        ("dynamics.csv", 3, 4),
        ("dynamics-histograms.csv", 2, 5),
    ] {
        each_flip(&run.join(file), cases, seed, |case| {
            for (c, e) in commands.iter().zip(&expected) {
                if e.code != Some(0) {
                    continue;
                }
                runs += 1;
                identical_or_refused(&initlab(c), e, file, case);
            }
        });
    }
    eprintln!("{runs} commands on damaged files");
    // The chart of an undamaged run is the one drawn before; without its checksums the dynamics
    // are not drawn.
    assert_eq!(initlab(&commands[4]).code, Some(0));
    assert_eq!(std::fs::read(dynamics_chart).unwrap(), drawn);
    std::fs::remove_file(run.join("dynamics.sha256.json")).unwrap();
    let ran = initlab(&commands[4]);
    refused(&ran, "dynamics.csv");
    assert!(
        ran.stderr.contains("carries no initlab checksum"),
        "{}",
        ran.stderr
    );
}

#[test]
fn random_flips_of_a_checkpoint_and_a_dbn_are_refused_or_harmless_never_silent() {
    let tmp = tempfile::tempdir().unwrap();
    let stopped = tmp.path().join("stopped");
    interrupted_run(&stopped, 2);
    let pristine = std::fs::read(stopped.join(CHECKPOINT_FILE)).unwrap();
    let record = std::fs::read(stopped.join("run.json")).unwrap();
    let resume = ["train", "--resume", stopped.to_str().unwrap(), "--quiet"];
    let restore = || {
        let _ = std::fs::remove_file(stopped.join(MODEL_FILE));
        std::fs::write(stopped.join("run.json"), &record).unwrap();
    };
    each_flip(&stopped.join(CHECKPOINT_FILE), 4, 5, |case| {
        let ran = initlab(&resume);
        assert_eq!(ran.code, Some(1), "{case}: {}", ran.stderr);
        assert!(
            ran.stderr.contains(CHECKPOINT_FILE),
            "{case}: {}",
            ran.stderr
        );
        restore();
    });
    std::fs::write(stopped.join(CHECKPOINT_FILE), &pristine).unwrap();
    assert_eq!(initlab(&resume).code, Some(0));

    let dbn = tmp.path().join("dbn");
    pretrain_tiny_dbn(&dbn);
    let (dbn_s, data) = (dbn.to_str().unwrap(), data_dir().to_str().unwrap());
    let out = tmp.path().join("runs");
    let train = [
        "train",
        "--model",
        "784,8,10",
        "--init",
        "dbn",
        "--pretrained",
        dbn_s,
        "--epochs",
        "1",
        "--data-dir",
        data,
        "--out",
        out.to_str().unwrap(),
        "--no-cache",
        "--quiet",
    ];
    let expected = initlab(&train);
    assert_eq!(expected.code, Some(0), "{}", expected.stderr);
    for (file, seed) in [("dbn.safetensors", 6), ("dbn.json", 7)] {
        each_flip(&dbn.join(file), 3, seed, |case| {
            identical_or_refused(&initlab(&train), &expected, file, case);
        });
    }
}

/// Issue 21, item 5: a run whose start fails (a DBN of other widths than the model's) leaves no
/// run directory that claims to be running; the directory it made is gone, and the same
/// command with fitting widths then trains.
#[test]
fn a_failed_start_leaves_no_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dbn = tmp.path().join("dbn-small");
    pretrain_tiny_dbn(&dbn);
    let (dbn_s, data) = (dbn.to_str().unwrap(), data_dir().to_str().unwrap());
    let out = tmp.path().join("runs");
    let train = |model: &str| {
        initlab(&[
            "train",
            "--model",
            model,
            "--init",
            "dbn",
            "--pretrained",
            dbn_s,
            "--epochs",
            "1",
            "--data-dir",
            data,
            "--out",
            out.to_str().unwrap(),
            "--name",
            "tuned",
            "--quiet",
        ])
    };
    let failed = train("784,16,10");
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("784,16,10") && failed.stderr.contains("784,8"),
        "{}",
        failed.stderr
    );
    assert!(
        !out.join("tuned").exists(),
        "a failed start left {}",
        out.join("tuned").display()
    );
    let ran = initlab(&["eval", out.join("tuned").to_str().unwrap(), "--quiet"]);
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let trained = train("784,8,10");
    assert_eq!(trained.code, Some(0), "{}", trained.stderr);
    let record = rundir::read_record(&out.join("tuned")).unwrap();
    assert_eq!(record.status, RunStatus::Complete);
}
