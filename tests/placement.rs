//! Where libtorch's threads run (src/base/waits.rs): the binary pins its OpenMP team, a CPU per
//! thread, under its own wait policy; the numbers are the unpinned ones bit for bit; `doctor`
//! says which placement is in force, and the user's own OpenMP settings switch pinning off.

use std::path::Path;
use std::process::{Command, Output};

use initlab::engine::rundir;

/// The binary with the environment of a learner who set none of OpenMP's variables.
fn initlab(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.args(args);
    for var in [
        "OMP_WAIT_POLICY",
        "GOMP_SPINCOUNT",
        "OMP_PROC_BIND",
        "OMP_PLACES",
        "GOMP_CPU_AFFINITY",
        "INITLAB_BIND_THREADS",
        "OMP_NUM_THREADS",
    ] {
        c.env_remove(var);
    }
    c.envs(envs.iter().copied());
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "initlab {args:?} {envs:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `initlab doctor`'s placement line.
fn placement(envs: &[(&str, &str)]) -> String {
    let o = initlab(&["doctor"], envs);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find(|l| l.contains("placement:"))
        .unwrap_or_else(|| panic!("no placement line in doctor's report:\n{text}"))
        .to_string()
}

#[test]
fn doctor_says_where_the_threads_run() {
    if cpus() >= 2 {
        assert!(
            placement(&[]).contains("pinned by initlab: OpenMP thread i on CPU i of 0, 1"),
            "{}",
            placement(&[])
        );
    }
    assert!(
        placement(&[("INITLAB_BIND_THREADS", "0")]).contains("not pinned: INITLAB_BIND_THREADS=0")
    );
    assert!(placement(&[("OMP_NUM_THREADS", "1")]).contains("not pinned: one thread"));
    assert!(placement(&[("OMP_PROC_BIND", "false")]).contains("yours"));
    assert!(placement(&[("OMP_WAIT_POLICY", "PASSIVE")]).contains("leaves libgomp alone"));
}

/// One shallow epoch on 2,000 images into `out`, pinned or not.
fn train(out: &Path, pinned: bool) -> String {
    let bind = if pinned { "1" } else { "0" };
    let args = [
        "train",
        "--model",
        "shallow",
        "--epochs",
        "2",
        "--train-limit",
        "2000",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = initlab(&args, &[("INITLAB_BIND_THREADS", bind)]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .filter(|l| l.starts_with("Epoch:") || l.starts_with("Accuracy:"))
        .map(|l| l.split(" (").next().unwrap_or(l).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn pinned_threads_compute_the_same_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("pinned"), tmp.path().join("free"));
    let (printed_a, printed_b) = (train(&a, true), train(&b, false));
    assert!(printed_a.contains("Epoch: 0002 cost ="), "{printed_a}");
    assert_eq!(printed_a, printed_b);
    let run = |out: &Path| {
        let dirs: Vec<_> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        dirs[0].clone()
    };
    let (ra, rb) = (run(&a), run(&b));
    let (ha, hb) = (
        rundir::read_history(&ra).unwrap(),
        rundir::read_history(&rb).unwrap(),
    );
    for (x, y) in ha.epochs.iter().zip(&hb.epochs) {
        assert_eq!(x.train_cost.to_bits(), y.train_cost.to_bits());
        assert_eq!(x.test_loss.to_bits(), y.test_loss.to_bits());
    }
    assert_eq!(
        std::fs::read(ra.join("model.safetensors")).unwrap(),
        std::fs::read(rb.join("model.safetensors")).unwrap(),
        "pinning changed the weights"
    );
}
