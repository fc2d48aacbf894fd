//! Durable runs through the binary: Ctrl-C and `kill -9` in the middle of `initlab train`, then
//! `--resume`, give the same history, weights and training dynamics as a run never interrupted; a second process on
//! a run directory is refused and touches nothing; an unwritable `--out` fails before training.

mod common;

use common::wait_for_checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use initlab::base::train::History;
use initlab::engine::rundir::{self, RunDir, RunStatus};

const ARGS: &[&str] = &[
    "train",
    "--model",
    "784,64,10",
    "--epochs",
    "4",
    "--train-limit",
    "20000",
    "--monitor-every",
    "37",
    "--quiet",
];

fn initlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_initlab"))
}

fn train(out: &Path, name: &str, extra: &[&str]) -> Command {
    let mut c = initlab();
    c.args(ARGS)
        .args(["--out", out.to_str().unwrap(), "--name", name])
        .args(extra);
    c
}

fn finished(c: &mut Command) -> Output {
    c.output().unwrap()
}

fn history(dir: &Path) -> History {
    rundir::read_history(dir).unwrap()
}

/// Epoch costs and test losses as printed (9 decimals) and as stored (exact).
fn assert_same_history(a: &History, b: &History) {
    assert_eq!(a.epochs.len(), b.epochs.len());
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert_eq!(x.lab_line(), y.lab_line());
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
        assert_eq!(x.test_accuracy, y.test_accuracy);
    }
    assert_eq!(a.first_batch_loss, b.first_batch_loss);
}

/// The dynamics files' bytes (sampled every 37 steps: 200 steps an epoch, so samples fall in
/// every epoch and on both sides of each interruption).
fn dynamics(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let csv = std::fs::read(dir.join("dynamics.csv")).unwrap();
    let hist = std::fs::read(dir.join("dynamics-histograms.csv")).unwrap();
    assert!(dir.join("dynamics.png").exists());
    assert_eq!(
        String::from_utf8_lossy(&csv).lines().count(),
        1 + 800_usize.div_ceil(37)
    );
    (csv, hist)
}

fn weights(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

/// The uninterrupted run: its directory and its `Epoch:` lines.
fn reference(out: &Path) -> (PathBuf, Vec<String>) {
    let o = finished(&mut train(out, "whole", &[]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        out.join("whole"),
        epoch_lines(&String::from_utf8_lossy(&o.stdout)),
    )
}

/// The `Epoch: …` lines of a command's output.
fn epoch_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("Epoch: "))
        .map(String::from)
        .collect()
}

#[test]
fn ctrl_c_and_kill_9_then_resume_are_bit_identical_to_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let (whole, whole_lines) = reference(out);
    assert_eq!(whole_lines.len(), history(&whole).epochs.len());
    let record = rundir::read_record(&whole).unwrap();
    assert_eq!(record.status, RunStatus::Complete);
    assert!(record.checkpoint.is_none());
    assert!(!whole.join("checkpoint.safetensors").exists());

    // Ctrl-C: the run stops after its batch, saves, says how to resume, exits 130.
    let mut child = train(out, "sigint", &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = out.join("sigint");
    wait_for_checkpoint(&dir, 1, &mut child);
    common::interrupt(&child);
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(130),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("initlab train --resume"), "{stdout}");
    let r = rundir::read_record(&dir).unwrap();
    assert_eq!(r.status, RunStatus::Interrupted);
    assert!(dir.join("checkpoint.safetensors").exists());
    assert!(history(&dir).epochs.len() < 4);
    let o = finished(initlab().args(["train", "--quiet", "--resume", dir.to_str().unwrap()]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        rundir::read_record(&dir).unwrap().status,
        RunStatus::Complete
    );
    assert_same_history(&history(&whole), &history(&dir));
    assert_eq!(weights(&whole), weights(&dir));
    assert_eq!(dynamics(&whole), dynamics(&dir));

    // kill -9 after the second epoch's checkpoint: the record still says "running", the lock is
    // free, and the run continues from that checkpoint.
    let mut child = train(out, "sigkill", &["--checkpoint-every", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = out.join("sigkill");
    wait_for_checkpoint(&dir, 2, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let r = rundir::read_record(&dir).unwrap();
    assert_eq!(r.status, RunStatus::Running);
    assert_eq!(r.checkpoint.as_ref().map(|c| c.epochs_done), Some(2));
    // Running the same command again (not only --resume) continues the run.
    let o = finished(&mut train(out, "sigkill", &["--checkpoint-every", "2"]));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("resuming after epoch 2"), "{stdout}");
    // Every epoch's line, the two before the interruption included, as the whole run printed them.
    assert_eq!(epoch_lines(&stdout), whole_lines, "{stdout}");
    assert_same_history(&history(&whole), &history(&dir));
    assert_eq!(weights(&whole), weights(&dir));
    assert_eq!(dynamics(&whole), dynamics(&dir));

    // The same command once more reuses the complete run.
    let o = finished(&mut train(out, "whole", &[]));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("complete, from its directory"));
}

#[test]
fn a_second_writer_is_refused_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("busy");
    let held = RunDir::open(&dir).unwrap();
    std::fs::write(dir.join("marker"), b"mine").unwrap();
    let before: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let o = finished(&mut train(tmp.path(), "busy", &[]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("busy"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    let after: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
    assert_eq!(std::fs::read(dir.join("marker")).unwrap(), b"mine");
    drop(held);
}

#[test]
fn another_spec_is_never_replaced_without_force_and_bad_out_fails_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let quick = ["--epochs", "1", "--train-limit", "1000"];
    let first = ["train", "--model", "784,16,10", "--quiet", "--name", "x"];
    let run = |extra: &[&str]| {
        finished(
            initlab()
                .args(first)
                .args(quick)
                .args(["--out", out.to_str().unwrap()])
                .args(extra),
        )
    };
    assert!(run(&[]).status.success());
    let o = run(&["--init", "normal"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("another configuration") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        rundir::read_record(&out.join("x"))
            .unwrap()
            .spec
            .model
            .init
            .name(),
        "xavier-uniform"
    );
    let o = run(&["--init", "normal", "--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        rundir::read_record(&out.join("x"))
            .unwrap()
            .spec
            .model
            .init
            .name(),
        "normal"
    );

    // An --out below a regular file cannot be created: the error comes before any epoch.
    let file = out.join("a-file");
    std::fs::write(&file, b"").unwrap();
    let started = Instant::now();
    let o = finished(
        initlab()
            .args(ARGS)
            .args(["--out", file.join("runs").to_str().unwrap()]),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("a-file/runs"), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("Epoch:"));
    assert!(started.elapsed() < Duration::from_secs(60));
}
