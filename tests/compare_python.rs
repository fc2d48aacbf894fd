//! `make compare-python` (scripts/compare-python.sh) with a stand-in Python: one that prints
//! PyTorch's golden output for this CPU with one line changed. The script must run the Rust port,
//! print the two side by side, mark the changed line as the first difference and exit 1; bad
//! usage exits 2. (The identical case is `make parity`'s comparison, run in CI.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// A shell script standing in for Python: `-c …` prints torch's version, anything else (the
/// notebook) prints `golden` with line 12 replaced.
fn fake_python(dir: &std::path::Path, golden: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("python");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = -c ]; then echo 2.13.0; exit 0; fi\n\
         sed '12s/.*/Epoch: 0001 cost = 0.123456789/' '{}'\n",
        golden.display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_difference_is_marked_side_by_side_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = common::golden_dir().join("lab09_3_mnist_nn_xavier.txt");
    let python = fake_python(tmp.path(), &golden);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/compare-python.sh");
    let out = Command::new(script)
        .args([
            "--python",
            python.to_str().unwrap(),
            "lab09_3_mnist_nn_xavier",
        ])
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let golden_text = std::fs::read_to_string(&golden).unwrap();
    let rust_line = golden_text.lines().nth(11).unwrap();
    let marked: Vec<&str> = stdout.lines().filter(|l| l.starts_with(">>")).collect();
    assert_eq!(marked.len(), 1, "{stdout}");
    assert!(
        marked[0].contains("  12  Epoch: 0001 cost = 0.123456789"),
        "{stdout}"
    );
    assert!(marked[0].ends_with(&format!("| {rust_line}")), "{stdout}");
    assert!(stdout.contains("first difference at line 12"), "{stdout}");
    assert!(stderr.contains("DIFFERENT"), "{stderr}");
    // Every other line agrees: the Rust port printed PyTorch's output.
    let lines = stdout.lines().filter(|l| l.contains(" | ")).count();
    assert_eq!(lines, golden_text.lines().count() + 1, "{stdout}");
}

#[test]
fn bad_usage_exits_2_naming_the_problem() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/compare-python.sh");
    for (args, says) in [
        (vec!["--python", "/nonexistent/python"], "no Python at"),
        (vec!["lab09_9"], "unknown notebook lab09_9"),
        (vec!["--frobnicate"], "unknown option"),
    ] {
        let out = Command::new(script).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
