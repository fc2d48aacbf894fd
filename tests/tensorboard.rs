//! TensorBoard event files through the binary: a run writes one, read back with checked CRCs, with
//! the history's epoch numbers, every step's loss, the dynamics and the weight and gradient
//! histograms; a run interrupted (Ctrl-C, `kill -9`) and resumed adds a second file that repeats
//! no step before its checkpoint. (`scripts/check-tensorboard.sh` reads them with TensorBoard.)

mod common;

use common::wait_for_checkpoint;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use initlab::base::output::io::SafeTensors;
use initlab::base::output::tensorboard::{read_events, Event, Histogram, ValueData, What};
use initlab::engine::rundir;

fn initlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.env("OMP_WAIT_POLICY", "PASSIVE");
    c
}

/// The run directory's event files, in name order (TensorBoard's).
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    files
}

/// Every file's events (CRCs checked), in name order.
fn all_events(dir: &Path) -> Vec<Vec<Event>> {
    event_files(dir)
        .iter()
        .map(|f| read_events(f).unwrap_or_else(|e| panic!("{e:#}")))
        .collect()
}

/// `(step, value)` of every point of `tag`, in file order.
fn points<'a>(events: &'a [Event], tag: &str) -> Vec<(i64, &'a ValueData)> {
    events
        .iter()
        .flat_map(|e| {
            e.values()
                .iter()
                .filter(|v| v.tag == tag)
                .map(move |v| (e.step, &v.data))
        })
        .collect()
}

fn scalar(d: &ValueData) -> f32 {
    match d {
        ValueData::Scalar(x) => *x,
        other => panic!("not a scalar: {other:?}"),
    }
}

fn histogram(d: &ValueData) -> &Histogram {
    match d {
        ValueData::Histogram(h) => h,
        other => panic!("not a histogram: {other:?}"),
    }
}

fn steps(p: &[(i64, &ValueData)]) -> Vec<i64> {
    p.iter().map(|(s, _)| *s).collect()
}

#[test]
fn a_run_writes_an_event_file_that_reads_back_with_its_history() {
    let tmp = tempfile::tempdir().unwrap();
    let o = initlab()
        .args(["train", "--model", "784,16,10", "--epochs", "2"])
        .args(["--train-limit", "1000", "--monitor-every", "7", "--quiet"])
        .args(["--out", tmp.path().to_str().unwrap(), "--name", "r"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = tmp.path().join("r");
    let files = event_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    let secs = name["events.out.tfevents.".len()..]
        .split('.')
        .next()
        .unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{name}");
    let events = read_events(&files[0]).unwrap();
    assert_eq!(events[0].file_version(), Some("brain.Event:2"));
    assert!(events.iter().all(|e| e.what != What::SessionStart));

    // 1000 images, batches of 100: 10 steps an epoch, each one loss.
    let loss = points(&events, "train/loss_step");
    assert_eq!(steps(&loss), (1..=20).collect::<Vec<_>>());
    let history = rundir::read_history(&dir).unwrap();
    assert_eq!(scalar(loss[0].1), history.first_batch_loss.unwrap() as f32);
    for (tag, f) in [
        (
            "epoch/train_cost",
            (|e| e.train_cost) as fn(&initlab::base::train::EpochRecord) -> f64,
        ),
        ("epoch/test_loss", |e| e.test_loss),
        ("epoch/test_accuracy", |e| e.test_accuracy),
        ("epoch/learning_rate", |e| {
            e.learning_rate.unwrap_or(f64::NAN)
        }),
    ] {
        let p = points(&events, tag);
        assert_eq!(steps(&p), [1, 2], "{tag}");
        for ((_, v), e) in p.iter().zip(&history.epochs) {
            assert_eq!(scalar(v), f(e) as f32, "{tag} epoch {}", e.epoch);
        }
    }
    assert!(points(&events, "epoch/validation_loss").is_empty());

    // Histograms of both layers' weights and gradients after each epoch; the last weights are
    // the saved model's.
    let model = SafeTensors::read(&dir.join("model.safetensors")).unwrap();
    for layer in ["linear1", "linear2"] {
        for var in ["weight", "bias"] {
            let name = format!("{layer}.{var}");
            let saved =
                Vec::<f32>::try_from(model.get(&name, Path::new("model")).unwrap().reshape([-1]))
                    .unwrap();
            let w = points(&events, &format!("weights/{name}"));
            let g = points(&events, &format!("gradients/{name}"));
            assert_eq!((steps(&w), steps(&g)), (vec![1, 2], vec![1, 2]), "{name}");
            for (_, h) in w.iter().chain(&g) {
                let h = histogram(h);
                assert_eq!(h.num, saved.len() as f64, "{name}");
                assert_eq!(h.bucket.iter().sum::<f64>(), h.num, "{name}");
                assert_eq!(h.bucket.len(), h.bucket_limit.len());
            }
            assert_eq!(histogram(w[1].1), &Histogram::of(&saved, 30), "{name}");
            // A gradient is not a weight.
            assert_ne!(histogram(g[1].1).sum, histogram(w[1].1).sum, "{name}");
        }
    }

    // The dynamics, sampled at steps 1, 8, 15: dynamics.csv's numbers, as f32.
    let record = rundir::read_record(&dir).unwrap();
    let log = rundir::read_dynamics(&dir, &record.spec).unwrap();
    assert_eq!(log.records.len(), 3);
    let update = points(&events, "dynamics/linear1/update_log10");
    assert_eq!(steps(&update), [1, 8, 15]);
    for ((_, v), r) in update.iter().zip(&log.records) {
        assert_eq!(scalar(v), r.layers[0].update_log10 as f32);
    }
    let dead = points(&events, "dynamics/linear1/dead");
    assert_eq!(
        scalar(dead[2].1),
        log.records[2].layers[0].act.as_ref().unwrap().saturated as f32
    );
    for tag in ["linear1/a_std", "linear1/grad_z_std", "linear2/grad_data"] {
        assert_eq!(
            points(&events, &format!("dynamics/{tag}")).len(),
            3,
            "{tag}"
        );
    }
    // The output layer has no activations.
    assert!(points(&events, "dynamics/linear2/a_std").is_empty());
}

const LONG: &[&str] = &[
    "train",
    "--model",
    "784,64,10",
    "--epochs",
    "4",
    "--train-limit",
    "20000",
    "--validation",
    "1000",
    "--monitor-every",
    "37",
    "--quiet",
];

/// The points of `tag` over all files as TensorBoard's loader keeps them: in file order, a
/// `SessionLog` START at step s first drops the points of step s or later.
fn merged(files: &[Vec<Event>], tag: &str) -> Vec<(i64, f32)> {
    let mut kept: Vec<(i64, f32)> = Vec::new();
    for e in files.iter().flatten() {
        if e.what == What::SessionStart {
            kept.retain(|(s, _)| *s < e.step);
        }
        for v in e.values().iter().filter(|v| v.tag == tag) {
            let x = match &v.data {
                ValueData::Scalar(x) => *x,
                ValueData::Histogram(h) => h.sum as f32,
                ValueData::Other => f32::NAN,
            };
            kept.push((e.step, x));
        }
    }
    kept
}

/// Checks a run resumed once: two files, the second starting with a restart at the step after
/// the checkpoint it resumed from, and all points once each, equal to the history's.
fn assert_resumed_once(dir: &Path) {
    let files = all_events(dir);
    assert_eq!(files.len(), 2, "{:?}", event_files(dir));
    let second = &files[1];
    assert_eq!(second[0].file_version(), Some("brain.Event:2"));
    assert_eq!(second[1].what, What::SessionStart);
    let restart = second[1].step;
    // 20,000 images (of the 59,000 before the validation split), batches of 100: 200 steps an
    // epoch.
    let total = 4 * 200;
    assert!(restart > 1 && restart <= total, "restart at {restart}");
    // The second file starts there.
    let loss2 = points(second, "train/loss_step");
    assert_eq!(loss2[0].0, restart);
    // Up to the checkpoint the first file has every step.
    let loss1 = points(&files[0], "train/loss_step");
    assert_eq!(
        steps(&loss1[..(restart - 1) as usize]),
        (1..restart).collect::<Vec<_>>()
    );
    let loss = merged(&files, "train/loss_step");
    assert_eq!(
        loss.iter().map(|p| p.0).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    // A point written twice (kill -9 after a flush past the checkpoint) has the same value twice.
    let all: Vec<(i64, f32)> = files
        .iter()
        .flat_map(|f| points(f, "train/loss_step"))
        .map(|(s, v)| (s, scalar(v)))
        .collect();
    let mut first_seen = BTreeMap::new();
    for (s, v) in all {
        let was = *first_seen.entry(s).or_insert(v);
        assert_eq!(was.to_bits(), v.to_bits(), "step {s}");
    }
    let history = rundir::read_history(dir).unwrap();
    for tag in ["epoch/train_cost", "epoch/validation_accuracy"] {
        let p = merged(&files, tag);
        assert_eq!(
            p.iter().map(|p| p.0).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "{tag}"
        );
        if tag == "epoch/train_cost" {
            for ((_, v), e) in p.iter().zip(&history.epochs) {
                assert_eq!(*v, e.train_cost as f32);
            }
        }
    }
    for tag in ["weights/linear2.bias", "gradients/linear1.weight"] {
        let p = merged(&files, tag);
        assert_eq!(
            p.iter().map(|p| p.0).collect::<Vec<_>>(),
            [1, 2, 3, 4],
            "{tag}"
        );
    }
    let dynamics = merged(&files, "dynamics/linear1/update_log10");
    assert_eq!(
        dynamics.iter().map(|p| p.0).collect::<Vec<_>>(),
        (1..=total).step_by(37).collect::<Vec<_>>()
    );
}

#[test]
fn a_resumed_run_adds_a_file_that_repeats_no_step_before_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();

    // Ctrl-C in the middle of an epoch, then --resume.
    let mut child = initlab()
        .args(LONG)
        .args(["--out", out, "--name", "sigint"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = tmp.path().join("sigint");
    wait_for_checkpoint(&dir, 1, &mut child);
    common::interrupt(&child);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    // The interrupted run's file ends exactly at its checkpoint.
    let record = rundir::read_record(&dir).unwrap();
    let ck = record.checkpoint.unwrap();
    let files = all_events(&dir);
    assert_eq!(files.len(), 1);
    let last = *steps(&points(&files[0], "train/loss_step")).last().unwrap();
    assert_eq!(last, ck.epochs_done as i64 * 200 + ck.batches_done);
    let o = initlab()
        .args(["train", "--quiet", "--resume", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_resumed_once(&dir);
    let second = &all_events(&dir)[1];
    assert_eq!(second[1].step, last + 1);

    // kill -9 after the first epoch's checkpoint, then the same command again.
    let mut child = initlab()
        .args(LONG)
        .args(["--out", out, "--name", "sigkill"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = tmp.path().join("sigkill");
    wait_for_checkpoint(&dir, 1, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = initlab()
        .args(LONG)
        .args(["--out", out, "--name", "sigkill"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_resumed_once(&dir);
}

#[test]
fn a_failed_write_to_the_event_file_ends_the_run_with_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    // Files of at most 20 blocks (10 or 20 KiB, as the shell counts them), written with EFBIG
    // instead of a signal: the event file outgrows it at the first or second epoch's flush; with
    // no checkpoints it is the only file that grows during training.
    let o = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 20 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_initlab"))
        .args(["train", "--model", "784,16,10", "--epochs", "4"])
        .args([
            "--train-limit",
            "20000",
            "--checkpoint-every",
            "0",
            "--quiet",
        ])
        .args(["--out", tmp.path().to_str().unwrap(), "--name", "r"])
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let file = &event_files(&dir)[0];
    assert!(
        stderr.contains(&format!(
            "writing the TensorBoard event file {}",
            file.display()
        )),
        "{stderr}"
    );
    // It stopped at once, not after the last epoch.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stdout.contains("Epoch: 0003"), "{stdout}");
    assert!(!dir.join("model.safetensors").exists());
}
