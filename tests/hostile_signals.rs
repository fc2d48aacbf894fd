//! Hostile cases of signals and output streams (issue 19, items 3 and 4), through the binary on
//! a small cut of MNIST: an interrupt while the data loads, a run of billions of epochs set up,
//! interrupted and resumed, stdout closed or on a full disk, a stale temporary file of a killed
//! process, a model too large for the memory, a start that fails.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use initlab::base::train::History;
use initlab::engine::rundir::{self, RunStatus, CHECKPOINT_FILE};

/// A small data set (400 training and 200 test images) in `dir/data`.
fn small_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    common::write_subset(&data, 400, 200, false);
    data
}

/// `initlab train` of a tiny net on `data` into `out/name`, with `extra` flags.
fn train(data: &Path, out: &Path, name: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.arg("train");
    if !extra.contains(&"--model") {
        c.args(["--model", "784,16,10"]);
    }
    c.args(["--batch-size", "50"])
        .args(["--monitor-every", "0", "--quiet"])
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--name", name])
        .args(extra);
    c
}

/// Waits for `child` to end and returns its output.
fn ended(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// `initlab train --resume dir`.
fn resume(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.args(["train", "--quiet", "--resume"]).arg(dir);
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `signal` (`-TERM`, `-INT`) to `child`.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sigterm_while_the_data_loads_exits_130_at_once_and_makes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    // Reading a FIFO blocks until its writer writes: a SHA256SUMS that is one keeps the command
    // loading its data.
    let sums = data.join("SHA256SUMS");
    let made = Command::new("mkfifo").arg(&sums).status().unwrap();
    assert!(made.success());
    let out = tmp.path().join("runs");
    let mut child = train(&data, &out, "r", &["--epochs", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening the FIFO's writing end without blocking works once the command opened it to read:
    // it then waits for bytes that never come. The writing end stays open.
    let started = Instant::now();
    let _writer = loop {
        use std::os::unix::fs::OpenOptionsExt;
        let opened = File::options()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&sums);
        if let Ok(w) = opened {
            break w;
        }
        assert!(child.try_wait().unwrap().is_none(), "it ended");
        assert!(started.elapsed() < Duration::from_secs(60), "never read");
        std::thread::sleep(Duration::from_millis(20));
    };
    let sent = Instant::now();
    signal(&child, "-TERM");
    let o = ended(child);
    assert!(sent.elapsed() < Duration::from_secs(5), "not at once");
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("nothing was started"), "{stderr}");
    assert!(!stderr.contains("saving a checkpoint"), "{stderr}");
    assert!(!out.join("r").exists(), "a run directory was made");
}

/// The history of the run in `dir`.
fn history(dir: &Path) -> History {
    rundir::read_history(dir).unwrap()
}

/// Trains `name` for billions of epochs until its checkpoint after `epochs` epochs, then
/// interrupts it: it must exit 130, interrupted.
fn interrupt_after(mut c: Command, dir: &Path, epochs: usize) {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_checkpoint(dir, epochs, &mut child);
    signal(&child, "-INT");
    let o = ended(child);
    assert_eq!(o.status.code(), Some(130), "{}", text(&o.stderr));
    let record = rundir::read_record(dir).unwrap();
    assert_eq!(record.status, RunStatus::Interrupted);
}

#[test]
fn billions_of_epochs_set_up_at_once_checkpoint_small_and_resume_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let out = tmp.path().join("runs");
    let many = ["--epochs", "4000000000"];
    // Interrupted after its second epoch, then resumed to its fourth.
    let dir = out.join("resumed");
    let started = Instant::now();
    interrupt_after(train(&data, &out, "resumed", &many), &dir, 2);
    assert!(started.elapsed() < Duration::from_secs(30), "slow set-up");
    let size = std::fs::metadata(dir.join(CHECKPOINT_FILE)).unwrap().len();
    assert!(size < 200_000, "checkpoint of {size} bytes");
    interrupt_after(resume(&dir), &dir, 4);
    // The same run, never interrupted before its fourth epoch.
    let whole = out.join("whole");
    interrupt_after(train(&data, &out, "whole", &many), &whole, 4);
    let (a, b) = (history(&dir), history(&whole));
    assert!(a.epochs.len() >= 4 && b.epochs.len() >= 4);
    for (x, y) in a.epochs.iter().zip(&b.epochs).take(4) {
        assert_eq!(
            x.train_cost.to_bits(),
            y.train_cost.to_bits(),
            "epoch {}",
            x.epoch
        );
        assert_eq!(
            x.test_loss.to_bits(),
            y.test_loss.to_bits(),
            "epoch {}",
            x.epoch
        );
    }
}

/// Runs a short training with its stdout `out`: it must fail naming standard output, leaving
/// the run interrupted (resumable), and `--resume` then completes it.
fn output_fails(stdout: Stdio, name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let out = tmp.path().join("runs");
    let child = train(&data, &out, name, &["--epochs", "3"])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = ended(child);
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("writing to standard output"), "{stderr}");
    assert!(
        stderr.contains("resume with: initlab train --resume"),
        "{stderr}"
    );
    let dir = out.join(name);
    let record = rundir::read_record(&dir).unwrap();
    assert_eq!(record.status, RunStatus::Interrupted, "{stderr}");
    assert!(dir.join(CHECKPOINT_FILE).exists());
    let again = resume(&dir).output().unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    let record = rundir::read_record(&dir).unwrap();
    assert_eq!(record.status, RunStatus::Complete);
}

#[test]
fn a_closed_stdout_ends_the_command_non_zero_with_the_run_resumable() {
    // A pipe whose reading end is closed at once (`initlab … | head -0`).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    output_fails(Stdio::from(writer), "closed");
}

#[test]
fn stdout_on_a_full_disk_ends_the_command_non_zero_with_the_run_resumable() {
    let full = File::options().write(true).open("/dev/full").unwrap();
    output_fails(Stdio::from(full), "full");
}

#[test]
fn stale_temporaries_of_dead_processes_go_when_the_directory_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let out = tmp.path().join("runs");
    let run = || {
        train(&data, &out, "r", &["--epochs", "1"])
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let dir = out.join("r");
    // Above the largest pid_max (4194304): no such process.
    let stale = dir.join(".checkpoint.safetensors.tmp-9999999");
    let alive = dir.join(format!(".history.json.tmp-{}", std::process::id()));
    std::fs::write(&stale, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(&alive, b"{}").unwrap();
    // A rerun finds the run complete in its directory, under its lock.
    let o = run();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!stale.exists(), "the stale temporary stayed");
    assert!(alive.exists(), "a live process's temporary was removed");
}

#[test]
fn a_model_too_large_for_the_memory_is_refused_before_anything_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let out = tmp.path().join("runs");
    let o = train(&data, &out, "huge", &["--model", "784,2000000000,10"])
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("parameters and needs about"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
    assert!(!out.join("huge").exists());
}

#[test]
fn a_start_that_fails_leaves_no_run_marked_running() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(tmp.path());
    let dbn = tmp.path().join("dbn");
    let o = Command::new(env!("CARGO_BIN_EXE_initlab"))
        .args(["pretrain", "--widths", "784,8", "--epochs", "1", "--quiet"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&dbn)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A DBN of 8 hidden units for a model of 16: the init cannot use it.
    let out = tmp.path().join("runs");
    let o = train(&data, &out, "r", &["--epochs", "1"])
        .args(["--activation", "sigmoid", "--init", "dbn", "--pretrained"])
        .arg(&dbn)
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    if let Ok(record) = rundir::read_record(&out.join("r")) {
        assert_ne!(record.status, RunStatus::Running, "{stderr}");
    }
}

#[test]
fn seeds_drawn_as_epochs_start_are_the_seeds_drawn_up_front() {
    use initlab::base::data::loader::TorchLoader;
    use initlab::base::train::seeds::EpochSeeds;
    let loader = TorchLoader::new(1000, 100, true).unwrap();
    // What an init leaves the generator at: some draws after the seed.
    let after_init = || {
        tch::manual_seed(7);
        let _ = tch::Tensor::randn([300], (tch::Kind::Float, tch::Device::Cpu));
    };
    after_init();
    let up_front = TorchLoader::draw_epoch_seeds(1500);
    after_init();
    let mut seeds = EpochSeeds::start(1500).unwrap();
    assert!(seeds.stream.is_some(), "libtorch's generator out of reach");
    let mut drawn = Vec::new();
    for e in 0..1500 {
        drawn.push(seeds.seed(e).unwrap());
        // Each epoch's permutation reseeds the generator (and a checkpoint copies the seeds).
        let _ = loader.permutation(drawn[e]);
        seeds = seeds.clone();
    }
    assert_eq!(drawn, up_front);
}
