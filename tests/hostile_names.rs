//! Names and paths are data, never code; and a status says what happened (issue 19, items 5 and
//! 6): `--emit-plan` quotes every word and refuses a path it cannot print; titles and folder
//! names reach Markdown and HTML escaped; a planted `.lock` or temporary-file link is not
//! followed; a run that learned nothing is `unstable` (the rule's unit tests are in
//! `initlab::base::train`); `doctor` knows when the compiled-in data cannot be unpacked; start-up
//! survives a deleted working directory; a palette PNG with indices past its palette is refused.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use initlab::base::data::locate::{self, DataEnv, DataError};
use initlab::engine::doctor::{self, Verdict};
use initlab::engine::rundir::{self, EndDetail, RunStatus};

fn initlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_initlab"));
    c.env("OMP_NUM_THREADS", "1")
        .env("OMP_WAIT_POLICY", "PASSIVE");
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A small data set (200 training, 40 test images) in `dir`.
fn small_data(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    common::write_subset(dir, 200, 40, true);
    dir.to_path_buf()
}

/// A folder name no shell may read as code: command substitutions, a separator, quotes, spaces.
const HOSTILE: &str = "d `./mk` $(./mk); ./mk 'q' \"d\" \\ * ~ #";

/// A folder name with a command substitution and nothing else a shell treats specially (no
/// space, no `$`): quoting only names with spaces or `$` would leave it to run.
const BACKTICK: &str = "o`./mk`";

/// Writes `dir/mk`, a script that leaves `dir/RAN` behind: what the names above would run.
fn marker_script(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("mk");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\n", dir.join("RAN").display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The words of `line` as `sh` splits them, without running the command.
fn shell_words(line: &str, cwd: &Path) -> Vec<String> {
    let o = Command::new("sh")
        .current_dir(cwd)
        .arg("-c")
        .arg(format!("printf '%s\\n' {line}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The word after `flag` in `words`.
fn after<'a>(words: &'a [String], flag: &str) -> &'a str {
    let i = words.iter().position(|w| w == flag).unwrap();
    &words[i + 1]
}

/// Writes `line` as `dir/plan.txt`, returning its path.
fn write_plan(dir: &Path, line: &str) -> PathBuf {
    let plan = dir.join("plan.txt");
    std::fs::write(&plan, format!("{line}\n")).unwrap();
    plan
}

#[test]
fn emitted_plan_lines_are_data_through_sh_and_run_where_the_plan_looks() {
    let tmp = tempfile::tempdir().unwrap();
    marker_script(tmp.path());
    let data = small_data(&tmp.path().join(HOSTILE));
    let out = tmp.path().join(BACKTICK);
    let args = [
        OsStr::new("compare"),
        OsStr::new("--model"),
        OsStr::new("784,8,10"),
        OsStr::new("--inits"),
        OsStr::new("xavier-uniform"),
        OsStr::new("--epochs"),
        OsStr::new("1"),
        OsStr::new("--train-limit"),
        OsStr::new("100"),
        // 200 training images: compare's default split of 10,000 would leave none.
        OsStr::new("--validation"),
        OsStr::new("50"),
        OsStr::new("--data-dir"),
        data.as_os_str(),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--emit-plan"),
    ];
    let o = initlab()
        .args(args)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let line = stdout.lines().next().unwrap_or_else(|| panic!("{stdout}"));
    // The words round-trip exactly, and nothing in them ran.
    let words = shell_words(line, tmp.path());
    assert_eq!(after(&words, "--data-dir"), data.to_str().unwrap());
    assert_eq!(
        after(&words, "--out"),
        out.join("runs").to_str().unwrap(),
        "{line}"
    );
    assert!(words.iter().any(|w| w == "train"), "{words:?}");
    // The line itself, run as the guide's xargs example runs it, trains the run where the plan
    // finds it.
    let run = Command::new("sh")
        .current_dir(tmp.path())
        .arg("-c")
        .arg("tr '\\n' '\\0' | xargs -0 -I CMD sh -c CMD")
        .stdin(std::fs::File::open(write_plan(tmp.path(), line)).unwrap())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run).1);
    assert!(
        !tmp.path().join("RAN").exists(),
        "a name ran as code: {line}"
    );
    let again = initlab()
        .args(args)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again).1);
    assert!(again.stdout.is_empty(), "{}", text(&again).0);
}

#[test]
fn a_plan_path_that_is_not_utf8_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(&tmp.path().join("data"));
    let out = tmp.path().join(OsStr::from_bytes(b"out-\xff-x"));
    let o = initlab()
        .args([
            "compare",
            "--inits",
            "xavier-uniform",
            "--model",
            "784,8,10",
        ])
        .args(["--epochs", "1", "--train-limit", "100", "--emit-plan"])
        .args(["--validation", "50"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("out-\u{FFFD}-x") && stderr.contains("not valid UTF-8"),
        "{stderr}"
    );
}

#[test]
fn titles_and_folder_names_reach_markdown_and_html_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(&tmp.path().join("d<img src=x onerror=alert(1)>|x"));
    let out = tmp.path().join("out");
    let title = "<script>alert(1)</script> | `c` <img src=y onerror=alert(2)>\n# injected";
    let o = initlab()
        .args([
            "compare",
            "--inits",
            "xavier-uniform",
            "--model",
            "784,8,10",
        ])
        .args(["--epochs", "1", "--train-limit", "100", "--quiet"])
        .args(["--validation", "50"])
        .args(["--title", title])
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    for (name, file) in [
        ("summary.md", &md),
        ("report.html", &html),
        ("compare.svg", &svg),
    ] {
        for tag in ["<script>alert", "<img", "onerror=alert(1)>"] {
            assert!(!file.contains(tag), "{name} holds {tag:?}:\n{file}");
        }
    }
    // The title stays one heading: its line break opens no block, its `|` no table cell.
    assert!(!md.lines().any(|l| l.starts_with("# injected")), "{md}");
    let heading = md.lines().next().unwrap();
    assert!(
        heading.contains("&lt;script>") && heading.contains("\\|"),
        "{heading}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;|x"),
        "{html}"
    );
}

#[test]
fn a_planted_lock_link_is_refused_and_its_target_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let data = small_data(&tmp.path().join("data"));
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let run = tmp.path().join("runs/x");
    std::fs::create_dir_all(&run).unwrap();
    std::os::unix::fs::symlink(&victim, run.join(".lock")).unwrap();
    let o = initlab()
        .args(["train", "--model", "784,8,10", "--epochs", "1", "--quiet"])
        .args(["--train-limit", "100", "--name", "x", "--out"])
        .arg(tmp.path().join("runs"))
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&run.join(".lock").display().to_string())
            && stderr.contains("symbolic link")
            && stderr.contains("hint: remove"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!run.join("run.json").exists());
}

#[test]
fn a_planted_temporary_file_link_is_replaced_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let target = tmp.path().join("run.json");
    // The name write_atomic gives its temporary file in this process.
    let planted = tmp
        .path()
        .join(format!(".run.json.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    initlab::base::output::io::write_atomic(&target, b"new").unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&target).unwrap(), b"new");
    assert!(std::fs::symlink_metadata(&planted).is_err());
}

#[test]
fn a_run_that_ends_at_chance_is_unstable_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    // Adam at lr 1 on N(0, 1) weights: the net's outputs saturate and it ends at ≈ 10 %.
    let o = initlab()
        .args([
            "train",
            "--model",
            "784,32,10",
            "--init",
            "normal",
            "--lr",
            "1",
        ])
        .args([
            "--epochs",
            "3",
            "--train-limit",
            "2000",
            "--quiet",
            "--name",
            "r",
        ])
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let record = rundir::read_record(&tmp.path().join("r")).unwrap();
    assert_eq!(record.status, RunStatus::Unstable);
    let Some(EndDetail::AtChance { accuracy, .. }) = record.detail else {
        panic!("{:?}", record.detail);
    };
    assert!(accuracy < 0.2, "{accuracy}");
    assert!(stdout.contains("unstable (at chance: accuracy"), "{stdout}");
    assert!(
        stderr.contains("warning: the run is unstable") && stderr.contains("learned nothing"),
        "{stderr}"
    );
}

/// An environment whose only data is the copy compiled into initlab, to be unpacked under
/// `home`.
fn embedded_only(tmp: &Path, home: PathBuf) -> DataEnv {
    DataEnv {
        initlab_data: None,
        xdg_data_home: None,
        home: Some(home.into()),
        checkout: tmp.join("no-checkout"),
    }
}

#[test]
fn doctor_says_the_data_is_missing_where_train_could_not_unpack_it() {
    let tmp = tempfile::tempdir().unwrap();
    // HOME below a regular file: nothing can be created there, even as root.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let env = embedded_only(tmp.path(), file.join("home"));
    let finding = doctor::examine_data(None, &env);
    assert_eq!(finding.verdict, Verdict::Missing, "{finding:?}");
    assert!(finding.value.contains("cannot be unpacked"), "{finding:?}");
    assert!(
        finding
            .details
            .iter()
            .any(|d| d.contains("is not a folder")),
        "{finding:?}"
    );
    assert!(matches!(
        locate::data_dir_in(None, &env),
        Err(DataError::Unpack { .. })
    ));
    // A writable HOME: fine, and doctor leaves nothing behind.
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let env = embedded_only(tmp.path(), home.clone());
    let finding = doctor::examine_data(None, &env);
    assert_eq!(finding.verdict, Verdict::Ok, "{finding:?}");
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0);
}

#[test]
fn start_up_survives_a_deleted_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = env!("CARGO_BIN_EXE_initlab");
    let in_deleted = |args: &str| -> Output {
        Command::new("sh")
            .current_dir(tmp.path())
            .arg("-c")
            .arg(format!(
                "mkdir -p d && cd d && rmdir ../d && exec '{exe}' {args}"
            ))
            .env("OMP_NUM_THREADS", "1")
            .output()
            .unwrap()
    };
    let o = in_deleted("doctor");
    let (stdout, stderr) = text(&o);
    assert!(!stderr.contains("FATAL"), "{stderr}");
    assert!(stdout.contains("libtorch"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("working directory has been deleted"),
        "{stderr}"
    );
    // A relative path keeps its meaning: the folder it names is gone, said so.
    let o = in_deleted("train --epochs 1 --train-limit 100 --model 784,8,10 --quiet");
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("FATAL"), "{stderr}");
    assert!(stderr.contains("creating run directory runs/"), "{stderr}");
}

/// A 28×28 palette PNG of `bits` bits per pixel whose pixels are all `index`, with `entries`
/// palette entries (gray levels).
fn palette_png(path: &Path, bits: png::BitDepth, entries: usize, index: u8) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(file, 28, 28);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(bits);
    let palette: Vec<u8> = (0..entries).flat_map(|i| [(i * 40) as u8; 3]).collect();
    encoder.set_palette(palette);
    let mut writer = encoder.write_header().unwrap();
    let per_byte = 8 / bits as usize;
    let mut byte = 0u8;
    for k in 0..per_byte {
        byte |= index << (8 - bits as usize * (k + 1));
    }
    let row_bytes = 28usize.div_ceil(per_byte);
    writer
        .write_image_data(&vec![byte; row_bytes * 28])
        .unwrap();
}

#[test]
fn palette_pngs_with_indices_past_their_palette_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let read = |p: &Path| {
        initlab::experiments::picture::read_digit(
            p,
            initlab::experiments::picture::Prepare::Auto,
            &Default::default(),
        )
    };
    let good = tmp.path().join("good.png");
    palette_png(&good, png::BitDepth::Eight, 4, 3);
    let digit = read(&good).unwrap();
    let gray = 120.0 / 255.0;
    assert!(
        digit.pixels.iter().all(|&p| (p - gray).abs() < 1e-6),
        "{:?}",
        &digit.pixels[..3]
    );
    for (name, bits) in [
        ("bad8.png", png::BitDepth::Eight),
        ("bad4.png", png::BitDepth::Four),
    ] {
        let bad = tmp.path().join(name);
        palette_png(&bad, bits, 2, 5);
        let e = format!("{:#}", read(&bad).unwrap_err());
        assert!(
            e.contains(&bad.display().to_string()) && e.contains("palette index 5"),
            "{e}"
        );
    }
}
