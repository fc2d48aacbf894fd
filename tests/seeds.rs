//! Plans over seeds through the binary: `compare --seeds 3 --emit-plan` prints one command per
//! run, `xargs -P 2` runs them, and the same `compare` again trains nothing and writes the
//! summary with mean ± sd, intervals, the difference with its Welch interval, Welch's and the
//! permutation p-values, and the band chart.

use std::process::{Command, Stdio};

fn initlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_initlab"))
}

#[test]
fn emit_plan_xargs_then_the_same_compare_draws_without_training() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let args = [
        "compare",
        "--model",
        "784,16,10",
        "--inits",
        "normal,xavier-uniform",
        "--epochs",
        "2",
        "--train-limit",
        "1000",
        "--seeds",
        "3",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    let plan = initlab().args(args).arg("--emit-plan").output().unwrap();
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let text = String::from_utf8(plan.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    for l in &lines {
        assert!(
            l.contains(" train ") && l.contains("--seed ") && l.contains("--out /"),
            "{l}"
        );
    }
    assert!(!out.join("runs").exists(), "--emit-plan trained something");

    // Spread over two processes, one line each, NUL-separated as the guide does (xargs would
    // read the lines' quotes itself otherwise).
    let text = text.replace('\n', "\0");
    let mut xargs = Command::new("xargs")
        .args(["-0", "-P", "2", "-I", "{}", "sh", "-c", "{}"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    xargs
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let done = xargs.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );

    // Nothing left to plan; the same command draws the summary from the six runs.
    let again = initlab().args(args).arg("--emit-plan").output().unwrap();
    assert!(again.status.success());
    assert!(
        again.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let o = initlab().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        stdout.matches("complete, from its directory").count(),
        6,
        "{stdout}"
    );
    assert!(!stdout.contains("Epoch:"), "{stdout}");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("final test error % (mean ± sd)"), "{md}");
    assert!(md.contains("seeds 777, 778, 779"), "{md}");
    // Every run counted, none diverged; the columns of the comparison with normal.
    assert!(md.contains("| init | runs | diverged (at 90 %) |"), "{md}");
    assert!(
        md.contains(
            "| difference vs baseline, points [95 % Welch interval] | Welch p | permutation p |"
        ),
        "{md}"
    );
    let row = md
        .lines()
        .find(|l| l.starts_with("| xavier-uniform | 3 | 0 of 3 |"))
        .unwrap_or_else(|| panic!("{md}"));
    // mean ± sd, an interval, the difference with its interval and both p-values against normal.
    let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
    assert!(
        cells[3].contains(" ± ") && cells[4].starts_with('['),
        "{row}"
    );
    assert!(
        cells[6].starts_with('-') && cells[6].contains(" [") && cells[6].ends_with(']'),
        "{row}"
    );
    // Three seeds against three: the exact permutation p is 2/20 = 0.10 at best.
    assert_eq!(cells[8], "0.10", "{row}");
    assert!(
        md.contains("With 3 runs per init the exact permutation p cannot fall below 0.10"),
        "{md}"
    );
    // N(0, 1) ends at chance here: its runs are unstable, counted with the error they measured.
    let normal = md
        .lines()
        .find(|l| l.starts_with("| normal | 3"))
        .unwrap_or_else(|| panic!("{md}"));
    assert!(
        normal.contains("| 0 of 3 |") && normal.contains("| baseline | — | — |"),
        "{normal}"
    );
    assert!(out.join("compare.png").is_file());
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
}
