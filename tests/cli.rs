//! The binary: bad flags exit with status 2 and say what is wrong; bad data exits 1 naming the file.

mod common;

use std::process::{Command, Output};

fn initlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_initlab"))
        .args(args)
        .output()
        .expect("run initlab")
}

fn assert_usage_error(args: &[&str], mentions: &[&str]) {
    let out = initlab(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} should exit 2, stderr: {stderr}"
    );
    for m in mentions {
        assert!(
            stderr.contains(m),
            "{args:?}: stderr {stderr:?} does not mention {m:?}"
        );
    }
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    assert_usage_error(&["train", "--epochs", "0"], &["--epochs", "0"]);
    assert_usage_error(&["train", "--batch-size", "0"], &["--batch-size", "0"]);
    assert_usage_error(
        &["train", "--init", "glorot-ish"],
        &["glorot-ish", "xavier-uniform"],
    );
    assert_usage_error(&["train", "--lr", "-0.1"], &["--lr", "positive"]);
    assert_usage_error(&["train", "--lr", "abc"], &["--lr", "not a number"]);
    assert_usage_error(
        &["train", "--data-dir", "/no/such/dir"],
        &["/no/such/dir", "does not exist"],
    );
    assert_usage_error(
        &["train", "--model", "784,x,10"],
        &["--model", "invalid layer width"],
    );
    assert_usage_error(&["train", "--optim", "rmsprop"], &["rmsprop"]);
    assert_usage_error(&["lab", "--epochs", "-3"], &["--epochs"]);
    assert_usage_error(&["plot", "runs/x", "--out", "chart.jpg"], &["png or .svg"]);
    assert_usage_error(&["frobnicate"], &["frobnicate"]);
    assert_usage_error(
        &["train", "--optim", "sgd", "--momentum", "1.5"],
        &["--momentum", "[0, 1)"],
    );
    assert_usage_error(&["compare", "--inits", "xavier,bogus"], &["bogus"]);
    assert_usage_error(
        &["compare", "--activation", "swish"],
        &["swish", "softsign"],
    );
    assert_usage_error(&["inspect", "--batch", "1"], &["--batch"]);
    assert_usage_error(&["study", "hinton"], &["hinton", "glorot"]);
    assert_usage_error(&["study", "he", "--width", "0"], &["--width"]);
    // The lab's plan needs its DBN first: refused, not silently trained.
    assert_usage_error(&["lab", "--emit-plan"], &["--emit-plan", "DBN"]);
}

#[test]
fn help_lists_the_commands() {
    let out = initlab(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "train",
        "lab",
        "plot",
        "compare",
        "inspect",
        "study",
        "pretrain",
        "eval",
        "predict",
        "doctor",
        "completions",
    ] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn corrupt_data_exits_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    common::write_subset(dir.path(), 200, 40, true);
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        b"\x1f\x8b\x08\x00garbage",
    )
    .unwrap();
    let out = initlab(&[
        "train",
        "--epochs",
        "1",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("train-labels-idx1-ubyte.gz") && stderr.contains("corrupt"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn model_that_does_not_fit_the_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    common::write_subset(dir.path(), 200, 40, true);
    let d = dir.path().to_str().unwrap();
    let out = initlab(&["train", "--model", "100,10", "--data-dir", d, "--out", d]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("input width 100") && stderr.contains("784"),
        "{stderr}"
    );
    let out = initlab(&["train", "--batch-size", "500", "--data-dir", d, "--out", d]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("batch size 500") && stderr.contains("200 training examples"),
        "{stderr}"
    );
}

#[test]
fn settings_that_make_no_sense_are_refused_or_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    common::write_subset(dir.path(), 300, 50, true);
    let d = dir.path().to_str().unwrap();
    let quick = ["--epochs", "1", "--data-dir", d, "--out", d, "--quiet"];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(quick);
        let out = initlab(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out.status.code(), stderr)
    };
    for (args, mentions) in [
        (
            &["train", "--model", "784,100,5"][..],
            &["output width 5", "10"][..],
        ),
        (
            &["train", "--optim", "adam", "--momentum", "0.9"],
            &["momentum", "--optim sgd"],
        ),
        (
            &["train", "--train-limit", "70000"],
            &["70000", "300 training images"],
        ),
        (
            &["train", "--init", "dbn"],
            &["pretrained deep belief net", "--pretrained"],
        ),
        (
            &["compare", "--inits", "xavier,xavier-uniform"],
            &["listed twice"],
        ),
        (
            &["train", "--init", "glorot-ish"],
            &["xavier_uniform_", "kaiming-normal (or he"],
        ),
        (&["train", "--data-dir", ""], &["empty path"]),
        (
            &["train", "--validation", "300"],
            &["validation split of 300", "leaves 0", "--validation 299"],
        ),
        (
            &["train", "--validation", "100", "--train-limit", "250"],
            &["leaves 200", "training subset of 250", "--train-limit"],
        ),
        (
            &[
                "train",
                "--init",
                "mean-field-w1.5-b0.05",
                "--bias",
                "zeros",
            ],
            &["sets the biases itself", "drop --bias zeros"],
        ),
        (&["train", "--bias", "ones"], &["torch-default or zeros"]),
        (&["train", "--validation", "-5"], &["-5"]),
    ] {
        let (code, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        for m in mentions {
            assert!(
                stderr.contains(m),
                "{args:?} should mention {m:?}: {stderr}"
            );
        }
    }
    // inspect resolves inits like training does: dbn without a DBN is refused.
    let out = initlab(&[
        "inspect",
        "--inits",
        "normal,dbn",
        "--widths",
        "784,8,8,10",
        "--data-dir",
        d,
        "--out",
        d,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("pretrained deep belief net") && stderr.contains("--pretrained"),
        "{stderr}"
    );
    // torch.nn.init's spellings are aliases.
    for name in [
        "xavier_uniform",
        "kaiming_normal_",
        "He",
        "default",
        "XAVIER_NORMAL_",
    ] {
        let (code, stderr) = run(&[
            "train",
            "--model",
            "784,8,10",
            "--init",
            name,
            "--train-limit",
            "200",
        ]);
        assert_eq!(code, Some(0), "{name}: {stderr}");
    }
}

#[test]
fn a_parent_folder_given_for_a_run_or_a_dbn_points_to_what_lies_below() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("lab");
    for name in ["a", "b"] {
        std::fs::create_dir_all(runs.join(name)).unwrap();
        std::fs::write(runs.join(name).join("run.json"), "{}").unwrap();
    }
    let out = initlab(&["plot", runs.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 run directories lie below it"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}/*/", runs.display())),
        "{stderr}"
    );

    let dbn = dir.path().join("x").join("dbn");
    std::fs::create_dir_all(&dbn).unwrap();
    std::fs::write(dbn.join("dbn.safetensors"), b"").unwrap();
    let parent = dir.path().join("x");
    let out = initlab(&[
        "train",
        "--init",
        "dbn",
        "--activation",
        "sigmoid",
        "--pretrained",
        parent.to_str().unwrap(),
        "--epochs",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("use --pretrained {}", dbn.display())),
        "{stderr}"
    );
}
