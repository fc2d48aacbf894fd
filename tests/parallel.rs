//! Plans side by side through the binary (`--jobs`): the same numbers as the plan run one at a
//! time with the same thread count, byte for byte; runs kept apart in the cache by their thread
//! count; a failing worker reported with its run directory while the others finish; Ctrl-C
//! reaching only the parent stops the workers with checkpoints, and the plan resumes; bad values
//! refused by clap.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use initlab::engine::rundir::{self, RunStatus};

/// A short real plan: two inits × two seeds of a small net, 1 epoch on 1,000 images.
const PLAN: &[&str] = &[
    "compare",
    "--model",
    "784,32,10",
    "--inits",
    "xavier-uniform,kaiming-normal",
    "--seeds",
    "2",
    "--epochs",
    "1",
    "--train-limit",
    "1000",
    "--quiet",
];

/// `initlab <args> --out <out>` with libtorch's threads fixed to `threads`.
fn initlab(args: &[&str], out: &Path, threads: u32) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.args(args)
        .args(["--out", out.to_str().unwrap()])
        .env("OMP_NUM_THREADS", threads.to_string())
        .env("OMP_WAIT_POLICY", "PASSIVE");
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn succeeded(c: &mut Command) -> String {
    let o = c.output().unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    stdout
}

/// Rewrites `dir`'s run.json as if the run had stopped after 3 batches of its first epoch with a
/// checkpoint (`checkpoint.safetensors`, which the caller writes or leaves); returns the record.
fn mark_interrupted_after_3_batches(dir: &Path) -> rundir::RunRecord {
    let mut record = rundir::read_record(dir).unwrap();
    record.status = RunStatus::Interrupted;
    record.checkpoint = Some(rundir::CheckpointRef {
        file: "checkpoint.safetensors".into(),
        epochs_done: 0,
        batches_done: 3,
    });
    initlab::base::output::io::write_json(&dir.join("run.json"), &record).unwrap();
    record
}

/// The plan's run directories, by name.
fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

/// `summary.csv` without its timing and directory columns.
fn summary(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != "seconds" && header[i] != "run_dir")
        .collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            keep.iter().map(|&i| cells[i]).collect::<Vec<_>>().join(",")
        })
        .collect()
}

/// Two run directories hold the same numbers: every epoch's exact values, the weights file byte
/// for byte, and the thread count `threads` in both records.
fn assert_same_run(a: &Path, b: &Path, threads: i32) {
    let (ha, hb) = (
        rundir::read_history(a).unwrap(),
        rundir::read_history(b).unwrap(),
    );
    assert_eq!(ha.epochs.len(), hb.epochs.len());
    for (x, y) in ha.epochs.iter().zip(&hb.epochs) {
        assert_eq!(x.train_cost.to_bits(), y.train_cost.to_bits(), "{a:?}");
        assert_eq!(x.test_loss.to_bits(), y.test_loss.to_bits(), "{a:?}");
        assert_eq!(x.test_accuracy, y.test_accuracy, "{a:?}");
    }
    assert_eq!(ha.first_batch_loss, hb.first_batch_loss);
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap(),
        "{a:?} and {b:?} hold other weights"
    );
    for dir in [a, b] {
        let record = rundir::read_record(dir).unwrap();
        assert_eq!(record.provenance.threads, threads, "{dir:?}");
        assert_eq!(record.status, RunStatus::Complete, "{dir:?}");
    }
}

#[test]
fn jobs_2_gives_the_numbers_of_one_thread_runs_one_at_a_time_and_the_cache_keeps_them_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    // One at a time with 1 thread, against two at a time with 2 / 2 = 1 thread each.
    succeeded(initlab(PLAN, &one, 1).args(["--jobs", "1"]));
    let stdout = succeeded(initlab(PLAN, &two, 2).args(["--jobs", "2"]));
    assert!(
        stdout.contains("4 runs to train, 2 at a time in worker processes, 1 libtorch thread each"),
        "{stdout}"
    );
    for k in 1..=4 {
        assert!(stdout.contains(&format!("[{k}/4] ")), "{stdout}");
    }
    let (a, b) = (run_dirs(&one), run_dirs(&two));
    assert_eq!(a.len(), 4);
    assert_eq!(
        a.iter().map(|p| p.file_name()).collect::<Vec<_>>(),
        b.iter().map(|p| p.file_name()).collect::<Vec<_>>()
    );
    for (x, y) in a.iter().zip(&b) {
        assert_same_run(x, y, 1);
    }
    assert_eq!(summary(&one), summary(&two));

    // The 1-thread runs are not served to a plan that trains with 2 threads per run.
    let o = initlab(PLAN, &two, 2)
        .args(["--jobs", "1"])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("trained with 1 libtorch thread, and this run would use 2"),
        "{stderr}"
    );
    assert!(stderr.contains("pass --jobs 2 to reuse it"), "{stderr}");
    // The cache goes by the thread count, not by --jobs: one at a time with 1 thread reuses them.
    let again = succeeded(initlab(PLAN, &two, 1).args(["--jobs", "1"]));
    assert_eq!(
        again.matches("complete, from its directory").count(),
        4,
        "{again}"
    );

    // The same plan side by side again reads every run from its directory.
    let cached = succeeded(initlab(PLAN, &two, 2).args(["--jobs", "2"]));
    assert_eq!(
        cached.matches("complete, from its directory").count(),
        4,
        "{cached}"
    );
    assert!(!cached.contains("worker processes"), "{cached}");
}

#[test]
fn a_failing_worker_is_reported_with_its_run_directory_and_the_other_runs_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    succeeded(initlab(PLAN, &out, 2).args(["--jobs", "2"]));
    let dirs = run_dirs(&out);
    // One run's checkpoint is damaged: its directory says it can resume, and the worker fails
    // reading the checkpoint. Another run is gone and trains again meanwhile.
    let broken = &dirs[1];
    mark_interrupted_after_3_batches(broken);
    std::fs::write(broken.join("checkpoint.safetensors"), b"not a checkpoint").unwrap();
    let gone = &dirs[2];
    std::fs::remove_dir_all(gone).unwrap();

    let o = initlab(PLAN, &out, 2)
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains("1 of 4 runs failed in their worker processes"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&broken.display().to_string()),
        "the error names the run directory: {stderr}"
    );
    assert!(stderr.contains("checkpoint"), "{stderr}");
    // The other run trained to its end.
    let record = rundir::read_record(gone).unwrap();
    assert_eq!(record.status, RunStatus::Complete);
    assert_eq!(record.provenance.threads, 1);
    assert!(stdout.contains("complete, accuracy"), "{stdout}");
}

#[test]
fn ctrl_c_to_the_parent_stops_the_workers_with_checkpoints_and_the_plan_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, cut) = (tmp.path().join("whole"), tmp.path().join("cut"));
    // Two runs long enough to interrupt after their first checkpoint.
    let plan: &[&str] = &[
        "compare",
        "--model",
        "784,64,10",
        "--inits",
        "xavier-uniform",
        "--seeds",
        "2",
        "--epochs",
        "5",
        "--train-limit",
        "20000",
        "--quiet",
        "--jobs",
        "2",
    ];
    succeeded(&mut initlab(plan, &whole, 2));

    let mut child = initlab(plan, &cut, 2)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Both workers write a checkpoint after epoch 1.
    let dirs: Vec<PathBuf> = run_dirs(&whole)
        .iter()
        .map(|d| cut.join("runs").join(d.file_name().unwrap()))
        .collect();
    for dir in &dirs {
        wait_for_dir(dir, &mut child);
        common::wait_for_checkpoint(dir, 1, &mut child);
    }
    // SIGINT to the parent only (not its process group): it must pass the stop on.
    common::interrupt(&child);
    let o = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(130),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("Resume with:"), "{stdout}");
    let mut interrupted = 0;
    for dir in &dirs {
        let record = rundir::read_record(dir).unwrap();
        // A worker on a fast machine may have finished its last epoch; else it saved and stopped.
        if record.status != RunStatus::Complete {
            assert_eq!(record.status, RunStatus::Interrupted, "{dir:?}");
            assert!(record.checkpoint.is_some(), "{dir:?}");
            assert!(
                stdout.contains(&dir.display().to_string()),
                "the interrupted run is named: {stdout}"
            );
            interrupted += 1;
        }
    }
    assert!(interrupted > 0, "no run was interrupted: {stdout}");

    let resumed = succeeded(&mut initlab(plan, &cut, 2));
    assert!(resumed.contains("resuming after epoch"), "{resumed}");
    for (a, b) in run_dirs(&whole).iter().zip(&dirs) {
        assert_same_run(a, b, 1);
    }
}

/// Waits until the worker has made its run directory's `run.json`.
fn wait_for_dir(dir: &Path, child: &mut std::process::Child) {
    let start = std::time::Instant::now();
    while !dir.join("run.json").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the plan ended before {dir:?} started"
        );
        assert!(start.elapsed().as_secs() < 300, "{dir:?} never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn bad_jobs_values_exit_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    for (value, says) in [("0", "0"), ("-1", "-1"), ("two", "two"), ("1000", "1000")] {
        let o = initlab(&["compare", "--jobs", value], tmp.path(), 2)
            .output()
            .unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "--jobs {value}: {stderr}");
        assert!(stderr.contains("--jobs"), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    // Nothing ran.
    assert!(!tmp.path().join("runs").exists());
}

#[test]
fn emitted_commands_train_with_the_threads_of_the_plans_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let emitted = |size: &[&str], jobs: Option<&str>| -> Vec<String> {
        let mut args = vec!["compare", "--inits", "normal,xavier-uniform", "--emit-plan"];
        args.extend(size);
        if let Some(j) = jobs {
            args.extend(["--jobs", j]);
        }
        let stdout = succeeded(&mut initlab(&args, tmp.path(), 2));
        let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|l| l.contains(" train ")), "{lines:?}");
        lines
    };
    let one_thread = |lines: &[String]| {
        lines
            .iter()
            .all(|l| l.starts_with("env OMP_NUM_THREADS=1 "))
    };
    let no_prefix = |lines: &[String]| lines.iter().all(|l| !l.contains("OMP_NUM_THREADS"));
    // Runs large enough to pay for a worker (the lab's shallow net, 3 epochs: with compare's 10,000 held out, 2 no longer are): by default two
    // at once on two threads, so each command trains on one.
    let large: &[&str] = &["--model", "shallow", "--epochs", "3"];
    assert!(one_thread(&emitted(large, None)));
    assert!(no_prefix(&emitted(large, Some("1"))));
    // Small runs stay one at a time by default: the process's threads, no prefix.
    let small: &[&str] = &[
        "--model",
        "784,16,10",
        "--epochs",
        "1",
        "--train-limit",
        "1000",
    ];
    assert!(no_prefix(&emitted(small, None)));
    assert!(one_thread(&emitted(small, Some("2"))));
    // Nothing ran.
    assert!(!tmp.path().join("runs").exists());
}

#[test]
fn a_checkpoint_made_with_another_thread_count_is_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let train = [
        "train",
        "--model",
        "784,32,10",
        "--epochs",
        "1",
        "--train-limit",
        "1000",
        "--quiet",
        "--name",
        "r",
    ];
    succeeded(&mut initlab(&train, out, 1));
    let dir = out.join("r");
    // As if stopped after 3 batches by a session with 1 thread.
    let record = mark_interrupted_after_3_batches(&dir);
    let o = Command::new(env!("CARGO_BIN_EXE_initlab"))
        .args(["train", "--resume", dir.to_str().unwrap(), "--quiet"])
        .env("OMP_NUM_THREADS", "2")
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("neither reused nor resumed"), "{stderr}");
    assert!(stderr.contains("OMP_NUM_THREADS=1"), "{stderr}");
    // Untouched.
    assert_eq!(rundir::read_record(&dir).unwrap(), record);
}

#[test]
fn a_run_made_under_another_onemkl_dispatch_is_not_reused_and_workers_inherit_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let train = [
        "train",
        "--model",
        "784,16,10",
        "--epochs",
        "1",
        "--train-limit",
        "500",
        "--quiet",
        "--name",
        "r",
    ];
    // The default is `stock`, recorded in run.json.
    succeeded(initlab(&train, out, 1).env_remove("INITLAB_MKL_DISPATCH"));
    let dir = out.join("r");
    let made = rundir::read_record(&dir).unwrap();
    assert_eq!(made.provenance.mkl_dispatch.as_str(), "stock");
    // The same command under the other dispatch neither reuses nor touches it.
    let o = initlab(&train, out, 1)
        .args(["--mkl-dispatch", "intel-path"])
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("oneMKL dispatch `stock`"), "{stderr}");
    assert!(stderr.contains("--mkl-dispatch stock"), "{stderr}");
    assert_eq!(rundir::read_record(&dir).unwrap(), made);
    // The variable is the same switch; side by side, the workers get it too.
    let plan: Vec<&str> = PLAN.to_vec();
    let runs = out.join("plan");
    succeeded(
        initlab(&plan, &runs, 2)
            .args(["--jobs", "2"])
            .env("INITLAB_MKL_DISPATCH", "intel-path"),
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(runs.join("runs")).unwrap().flatten() {
        if let Ok(r) = rundir::read_record(&entry.path()) {
            assert_eq!(r.provenance.mkl_dispatch.as_str(), "intel-path");
            seen += 1;
        }
    }
    assert_eq!(seen, 4, "four runs in {}", runs.display());
    // A value that names no dispatch is a usage error.
    let o = initlab(&train, out, 1)
        .env("INITLAB_MKL_DISPATCH", "intel")
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("INITLAB_MKL_DISPATCH"), "{stderr}");
}
