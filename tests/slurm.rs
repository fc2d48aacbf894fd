//! `--slurm DIR` and `--gather` through the binary (issue 22), without a cluster: the job
//! folder a plan writes (only its runs not complete, site settings from a file or flags), and
//! gathering, which trains nothing and names each run that is not finished as the plan asks.
//! `scripts/check-slurm.sh` runs the same plan through a real one-node Slurm.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use initlab::engine::rundir::{self, RunStatus};

/// A small `compare` plan of two runs, with `extra` flags, in `dir` (outputs under `dir/runs`),
/// trained with `threads` libtorch threads.
fn compare(dir: &Path, threads: u32, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.current_dir(dir)
        .args(["--quiet", "compare", "--inits", "normal,xavier-uniform"])
        .args([
            "--model",
            "784,16,10",
            "--epochs",
            "1",
            "--train-limit",
            "1000",
        ])
        .args(["--monitor-every", "0", "--jobs", "1", "--out", "runs"])
        .args(extra)
        .env("OMP_NUM_THREADS", threads.to_string())
        .env("OMP_WAIT_POLICY", "PASSIVE");
    c
}

fn run(mut c: Command) -> (Output, String, String) {
    let o = c.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, out, err)
}

fn ok(c: Command) -> String {
    let (o, out, err) = run(c);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    out
}

/// The plan's run directories, by name (none when `out` is missing).
fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(rundir::RUN_FILE).is_file())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn gathering_trains_nothing_and_names_every_run_not_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Nothing trained yet: both runs named as missing, nothing drawn, non-zero exit.
    let (o, _, err) = run(compare(dir, 1, &["--gather"]));
    assert!(!o.status.success());
    assert!(err.contains("2 of 2 runs"), "{err}");
    assert_eq!(err.matches("missing: no run directory").count(), 2, "{err}");
    assert!(!dir.join("runs/summary.md").exists());
    assert!(
        run_dirs(&dir.join("runs/runs")).is_empty(),
        "gathering trained something"
    );

    // Trained here with one thread: gathered with one thread, drawn, its machine said.
    ok(compare(dir, 1, &[]));
    std::fs::remove_file(dir.join("runs/summary.md")).unwrap();
    let out = ok(compare(dir, 1, &["--gather"]));
    assert!(
        out.contains("All 2 runs were trained on one kind of machine"),
        "{out}"
    );
    let summary = std::fs::read_to_string(dir.join("runs/summary.md")).unwrap();
    assert!(
        summary.contains("## Machines\n\nAll 2 runs were trained on one kind of machine"),
        "{summary}"
    );
    // A plan of two threads per run does not take them for its own.
    let (o, _, err) = run(compare(dir, 2, &["--gather"]));
    assert!(!o.status.success());
    assert_eq!(
        err.matches("made with 1 libtorch threads where the plan asks 2")
            .count(),
        2,
        "{err}"
    );

    // A run resumed on a node of another kernel family (its run.json lists both machines):
    // gathered, and the summary lists the two kinds in a table and names the run as mixed.
    let runs = run_dirs(&dir.join("runs/runs"));
    let mut record = rundir::read_record(&runs[0]).unwrap();
    let mut other = record.provenance.machine();
    // The family this machine is not (the test must see two kinds wherever it runs).
    let family = if other.kernel_family.as_deref() == Some("avx2") {
        "avx512"
    } else {
        "avx2"
    };
    other.kernel_family = Some(family.into());
    record.trained_on = vec![other, record.provenance.machine()];
    initlab::base::output::io::write_json(&runs[0].join(rundir::RUN_FILE), &record).unwrap();
    let out = ok(compare(dir, 1, &["--gather"]));
    assert!(out.contains("2 kinds of machine"), "{out}");
    let summary = std::fs::read_to_string(dir.join("runs/summary.md")).unwrap();
    assert!(summary.contains("not bit-comparable"), "{summary}");
    assert!(summary.contains(&format!("| {family} |")), "{summary}");
    assert!(
        summary.contains(&format!(
            "bit-identical to no uninterrupted run: {}.",
            record.name
        )),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.join("runs/report.html")).unwrap();
    assert!(html.contains("2 kinds of machine"));

    // An interrupted run (with a log next to it) is named, with its log, as resumable.
    let stopped = &runs[1];
    let mut record = rundir::read_record(stopped).unwrap();
    record.status = RunStatus::Interrupted;
    record.checkpoint = Some(rundir::CheckpointRef {
        file: rundir::CHECKPOINT_FILE.into(),
        epochs_done: 0,
        batches_done: 3,
    });
    initlab::base::output::io::write_json(&stopped.join(rundir::RUN_FILE), &record).unwrap();
    let [log, _] = rundir::batch_logs(stopped);
    std::fs::write(&log, "task output").unwrap();
    let (o, _, err) = run(compare(dir, 1, &["--gather"]));
    assert!(!o.status.success());
    assert!(err.contains("1 of 2 runs"), "{err}");
    assert!(
        err.contains(&format!("({}): interrupted", stopped.display()))
            || err.contains("): interrupted (checkpoint after 0 epoch(s) and 3 batch(es)"),
        "{err}"
    );
    assert!(
        err.contains(&format!("log: {}", log.display())) || err.contains(".slurm.out"),
        "{err}"
    );
}

#[test]
fn the_job_folder_holds_only_the_runs_not_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let jobs = dir.join("jobs");
    let out = ok(compare(dir, 1, &["--slurm", "jobs"]));
    assert!(out.contains("2 of 2 runs to train"), "{out}");
    assert!(out.contains("Submit with: sh "), "{out}");
    let array = std::fs::read_to_string(jobs.join("array.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:TERM@60",
    ] {
        assert!(array.lines().any(|l| l == line), "{line}:\n{array}");
    }
    assert_eq!(
        array.matches(" train --mkl-dispatch ").count(),
        2,
        "{array}"
    );
    let gather = std::fs::read_to_string(jobs.join("gather.sbatch")).unwrap();
    let last = gather.lines().last().unwrap();
    assert!(last.starts_with("exec env INITLAB_MKL_DISPATCH="), "{last}");
    assert!(
        last.contains(" --quiet compare ") || last.contains(" compare "),
        "{last}"
    );
    assert!(last.ends_with("--gather --jobs 1"), "{last}");
    assert!(!last.contains("--slurm"), "{last}");
    // Nothing trained.
    assert!(!dir.join("runs").exists() || run_dirs(&dir.join("runs/runs")).is_empty());

    // The tasks' own commands train the runs; then no task is left, only the gathering job.
    for line in array.lines().filter(|l| l.starts_with("   set -- ")) {
        let words = line
            .trim_start_matches("   set -- ")
            .trim_end_matches(" ;;");
        let status = Command::new("sh")
            .args(["-c", &format!("exec {words}")])
            .env("OMP_NUM_THREADS", "1")
            .status()
            .unwrap();
        assert!(status.success(), "{words}");
    }
    let out = ok(compare(dir, 1, &["--slurm", "jobs"]));
    assert!(out.contains("0 of 2 runs to train"), "{out}");
    assert!(!jobs.join("array.sbatch").exists());
    let submit = std::fs::read_to_string(jobs.join("submit.sh")).unwrap();
    assert!(
        !submit.contains("array") && submit.contains("gather.sbatch"),
        "{submit}"
    );
    // The runs the tasks made are this plan's: gathered.
    ok(compare(dir, 1, &["--gather"]));
}

#[test]
fn site_settings_come_from_a_file_and_flags_and_bad_ones_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("site.toml"),
        "partition = \"short\"\nmodules = [\"gcc/12\"]\nsbatch = [\"--mem=2G\"]\n",
    )
    .unwrap();
    let flags = [
        "--slurm",
        "jobs",
        "--slurm-config",
        "site.toml",
        "--qos",
        "low",
        "--partition",
        "long",
    ];
    ok(compare(dir, 1, &flags));
    let array = std::fs::read_to_string(dir.join("jobs/array.sbatch")).unwrap();
    for line in [
        "#SBATCH --partition=long",
        "#SBATCH --qos=low",
        "#SBATCH --mem=2G",
        "module load 'gcc/12'",
    ] {
        assert!(array.lines().any(|l| l == line), "{line}:\n{array}");
    }
    assert!(!array.contains("short"), "{array}");

    std::fs::write(dir.join("bad.toml"), "partition = [1]\n").unwrap();
    let (o, _, err) = run(compare(
        dir,
        1,
        &["--slurm", "jobs2", "--slurm-config", "bad.toml"],
    ));
    assert!(!o.status.success());
    assert!(err.contains("bad.toml"), "{err}");
    let (o, _, err) = run(compare(dir, 1, &["--slurm", "jobs2", "--partition", "a b"]));
    assert!(!o.status.success());
    assert!(err.contains("partition") && err.contains("a b"), "{err}");
    assert!(!dir.join("jobs2").exists());
}
