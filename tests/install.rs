//! What an installed initlab relies on: `initlab doctor`, shell completions, and where the data
//! comes from (`--data-dir`, `INITLAB_DATA`, the user data folder, the checkout's copy). The
//! install itself, with the checkout out of reach, is `scripts/install-check.sh`.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// initlab with `args`, from `cwd`, with no data variables of the caller's and `XDG_DATA_HOME` at
/// `xdg` (so that a user data folder on this machine does not decide), plus `envs`.
fn initlab_in(cwd: &Path, xdg: &Path, envs: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_initlab"));
    cmd.current_dir(cwd)
        .args(args)
        .env_remove("INITLAB_DATA")
        .env("XDG_DATA_HOME", xdg)
        .env("OMP_WAIT_POLICY", "PASSIVE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run initlab")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn doctor_reports_versions_libtorch_and_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let out = initlab_in(tmp.path(), tmp.path(), &[], &["doctor"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let bundled = initlab::base::data::mnist::bundled_dir();
    for m in [
        env!("CARGO_PKG_VERSION"),
        env!("INITLAB_TCH_VERSION"),
        env!("INITLAB_LIBTORCH_VERSION"),
        "libtorch_cpu.so",
        "checksums verify (4 of 4, SHA256SUMS)",
        &bundled.display().to_string(),
        initlab::base::parity::mkl::kernel_family(),
        "threads",
        "parity",
        "Everything initlab needs is in place.",
    ] {
        assert!(stdout.contains(m), "doctor should mention {m:?}:\n{stdout}");
    }
    // As JSON: the same findings, none missing.
    let out = initlab_in(tmp.path(), tmp.path(), &[], &["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    let findings = json["findings"].as_array().expect("findings");
    assert!(findings.iter().all(|f| f["verdict"] != "missing"), "{json}");
    assert!(findings.iter().any(|f| f["topic"] == "data"));
}

#[test]
fn doctor_says_what_is_missing_with_an_empty_initlab_data() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = initlab_in(
        tmp.path(),
        tmp.path(),
        &[("INITLAB_DATA", &empty)],
        &["doctor"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for m in [
        "MISSING",
        "INITLAB_DATA",
        &empty.display().to_string(),
        "holds none of the four files",
        "fix: point INITLAB_DATA at a folder with the four MNIST files",
        "Missing: data",
    ] {
        assert!(stdout.contains(m), "doctor should mention {m:?}:\n{stdout}");
    }
    // A folder with some of the files names the others.
    common::write_subset(&empty, 100, 20, true);
    std::fs::remove_file(empty.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let out = initlab_in(
        tmp.path(),
        tmp.path(),
        &[("INITLAB_DATA", &empty)],
        &["doctor"],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("lacks t10k-labels-idx1-ubyte(.gz)"),
        "{stdout}"
    );
}

#[test]
fn a_command_with_an_empty_initlab_data_says_where_it_looked_and_what_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = initlab_in(
        tmp.path(),
        tmp.path(),
        &[("INITLAB_DATA", &empty)],
        &["train", "--epochs", "1", "--quiet"],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for m in [
        "INITLAB_DATA",
        &empty.display().to_string(),
        "holds none of the four files",
        "hint: point INITLAB_DATA at a folder",
    ] {
        assert!(stderr.contains(m), "stderr should mention {m:?}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_data_comes_from_initlab_data_then_the_user_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // The user data folder of XDG_DATA_HOME=t/xdg, and another folder for INITLAB_DATA.
    let user = t.join("xdg/initlab/mnist");
    let other = t.join("other");
    for dir in [&user, &other] {
        std::fs::create_dir_all(dir).unwrap();
        common::write_subset(dir, 200, 40, true);
    }
    let train = |envs: &[(&str, &Path)], name: &str| -> serde_json::Value {
        let out = initlab_in(
            t,
            &t.join("xdg"),
            envs,
            &[
                "train", "--model", "784,8,10", "--epochs", "1", "--out", "runs", "--name", name,
                "--quiet",
            ],
        );
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        let record = std::fs::read_to_string(t.join("runs").join(name).join("run.json")).unwrap();
        serde_json::from_str(&record).unwrap()
    };
    let run = train(&[], "user");
    assert_eq!(run["spec"]["data"]["dir"], user.display().to_string());
    let run = train(&[("INITLAB_DATA", &other)], "env");
    assert_eq!(run["spec"]["data"]["dir"], other.display().to_string());
}

#[test]
fn completions_name_the_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = initlab_in(tmp.path(), tmp.path(), &[], &["completions", shell]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{shell}: {stderr}");
        assert!(stdout.len() > 1000, "{shell}: {} bytes", stdout.len());
        for cmd in ["train", "lab", "study", "doctor", "completions", "data-dir"] {
            assert!(stdout.contains(cmd), "{shell} completions lack {cmd:?}");
        }
    }
    let out = initlab_in(tmp.path(), tmp.path(), &[], &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}
