//! `initlab eval` and `initlab predict` on a run trained through the binary: the numbers training
//! recorded come back exactly, the confusion matrix agrees with the labels, a test image exported
//! to PNG is classified as from the data set; broken runs and pictures are clear errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::data::mnist::DataIdentity;
use initlab::base::nn::{
    model::{Mlp, MlpSpec},
    scheme::InitScheme,
};
use initlab::base::output::io;
use initlab::base::output::io::SafeTensors;
use initlab::base::train::{History, TrainConfig};
use initlab::engine::rundir::{self, Provenance, RunRecord, RunStatus};
use initlab::engine::sinks::save_model;
use initlab::engine::spec::RunSpec;
use initlab::experiments::eval;
use tch::Tensor;

fn initlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_initlab"))
        .args(args)
        .output()
        .expect("run initlab")
}

/// Runs initlab, expects success, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = initlab(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs initlab, expects exit status `code`, returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = initlab(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

/// Width and height of a PNG, and that it decodes.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert!(buf.iter().any(|&b| b < 200), "{} is blank", path.display());
    (info.width, info.height)
}

/// Writes 8-bit pixels as a PNG.
fn write_png(path: &Path, w: u32, h: u32, color: png::ColorType, pixels: &[u8]) {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(color);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
    writer.finish().unwrap();
    std::fs::write(path, out).unwrap();
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn probabilities(v: &serde_json::Value) -> Vec<f64> {
    v["prediction"]["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect()
}

#[test]
fn eval_and_predict_a_run_trained_by_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    ok(&[
        "train",
        "--model",
        "784,32,10",
        "--epochs",
        "1",
        "--train-limit",
        "2000",
        "--out",
        out,
        "--quiet",
    ]);
    // The one run directory train made (its name ends with the spec's hash).
    let run = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let run_s = run.to_str().unwrap();
    let history: History = io::read_json(&run.join("history.json")).unwrap();
    let last = history.last().unwrap();

    // eval --json: the numbers training recorded, bit for bit.
    let report = json(&ok(&["eval", run_s, "--json"]));
    let e = &report["evaluation"];
    assert_eq!(e["accuracy"].as_f64().unwrap(), last.test_accuracy);
    assert_eq!(e["loss"].as_f64().unwrap(), last.test_loss);
    assert_eq!(e["examples"].as_u64().unwrap(), 10_000);

    // The confusion matrix against the test labels.
    let data = load_dir(&mnist_dir()).unwrap();
    let label_counts = Vec::<i64>::try_from(data.test.labels.bincount::<Tensor>(None, 10)).unwrap();
    let confusion: Vec<Vec<u64>> = e["confusion"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(confusion.len(), 10);
    let row_sums: Vec<i64> = confusion
        .iter()
        .map(|r| r.iter().sum::<u64>() as i64)
        .collect();
    assert_eq!(row_sums, label_counts);
    let diagonal: u64 = (0..10).map(|i| confusion[i][i]).sum();
    // Training's accuracy is an f32 mean: the diagonal over 10,000 in f32.
    assert_eq!((diagonal as f32 / 10_000f32) as f64, last.test_accuracy);
    assert!((diagonal as f64 / 10_000.0 - last.test_accuracy).abs() < 1e-6);
    for (c, stats) in e["per_class"].as_array().unwrap().iter().enumerate() {
        let column: u64 = confusion.iter().map(|r| r[c]).sum();
        assert_eq!(stats["class"].as_u64().unwrap() as usize, c);
        assert_eq!(stats["count"].as_i64().unwrap(), label_counts[c]);
        assert_eq!(stats["correct"].as_u64().unwrap(), confusion[c][c]);
        assert_eq!(stats["predicted"].as_u64().unwrap(), column);
        let acc = confusion[c][c] as f64 / label_counts[c] as f64;
        assert_eq!(stats["accuracy"].as_f64().unwrap(), acc);
    }
    let chart = PathBuf::from(report["confusion_png"].as_str().unwrap());
    assert_eq!(chart, run.join("confusion.png"));
    let (w, h) = png_size(&chart);
    assert!(
        (500..=1500).contains(&w) && (500..=1500).contains(&h),
        "{w}×{h}"
    );

    // The table: plain aligned text, rounded numbers, the picture's path; --out elsewhere.
    let elsewhere = tmp.path().join("pictures").join("cm.png");
    let table = ok(&["eval", run_s, "--out", elsewhere.to_str().unwrap()]);
    assert!(!table.contains('|'), "{table}");
    assert!(
        table.contains(&format!(
            "Accuracy:   {:.4} ({diagonal} of 10000)",
            last.test_accuracy
        )),
        "{table}"
    );
    assert!(
        table.contains("class  images  correct  accuracy  precision"),
        "{table}"
    );
    assert!(table.contains(&format!("Confusion matrix: {}", elsewhere.display())));
    png_size(&elsewhere);

    // predict --index 0: MNIST's first test image is a 7.
    let by_index = json(&ok(&["predict", run_s, "--index", "0", "--json"]));
    assert_eq!(by_index["prediction"]["label"].as_i64(), Some(7));
    let probs = probabilities(&by_index);
    assert_eq!(probs.len(), 10);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{probs:?}");
    let predicted = by_index["prediction"]["predicted"].as_i64().unwrap();
    let argmax = (0..10)
        .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
        .unwrap();
    assert_eq!(predicted, argmax as i64);
    let picture = PathBuf::from(by_index["picture"].as_str().unwrap());
    assert_eq!(picture, run.join("predict-test-0.png"));
    png_size(&picture);

    // The same image exported to PNG (gray, RGB, RGBA): the same inputs, the same numbers.
    let raw = Vec::<u8>::try_from(data.test.images.get(0).contiguous()).unwrap();
    let gray = tmp.path().join("seven.png");
    write_png(&gray, 28, 28, png::ColorType::Grayscale, &raw);
    let rgb = tmp.path().join("seven-rgb.png");
    let rgb_pixels: Vec<u8> = raw.iter().flat_map(|&v| [v, v, v]).collect();
    write_png(&rgb, 28, 28, png::ColorType::Rgb, &rgb_pixels);
    let rgba = tmp.path().join("seven-rgba.png");
    let rgba_pixels: Vec<u8> = raw.iter().flat_map(|&v| [v, v, v, 255]).collect();
    write_png(&rgba, 28, 28, png::ColorType::Rgba, &rgba_pixels);
    for file in [&gray, &rgb, &rgba] {
        let by_file = json(&ok(&["predict", run_s, file.to_str().unwrap(), "--json"]));
        assert_eq!(
            by_file["prediction"]["predicted"].as_i64(),
            Some(predicted),
            "{}",
            file.display()
        );
        assert_eq!(probabilities(&by_file), probs, "{}", file.display());
        assert!(by_file["prediction"]["label"].is_null());
    }
    let text = ok(&["predict", run_s, gray.to_str().unwrap()]);
    assert!(
        text.contains(&format!("Prediction:  {predicted} (probability")),
        "{text}"
    );
    png_size(&run.join("predict-seven.png"));

    // The same digit drawn ten times larger, as PNG and as JPEG: made MNIST-like, the same class.
    let big: Vec<u8> = (0..280 * 280)
        .map(|i| raw[(i / 280 / 10) * 28 + (i % 280) / 10])
        .collect();
    let big_png = tmp.path().join("seven-big.png");
    write_png(&big_png, 280, 280, png::ColorType::Grayscale, &big);
    let big_jpeg = tmp.path().join("seven-big.jpg");
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(&big, 280, 280, image::ColorType::L8)
        .unwrap();
    std::fs::write(&big_jpeg, jpeg).unwrap();
    for file in [&big_png, &big_jpeg] {
        let by_file = json(&ok(&["predict", run_s, file.to_str().unwrap(), "--json"]));
        assert_eq!(
            by_file["prediction"]["predicted"].as_i64(),
            Some(predicted),
            "{}",
            file.display()
        );
        assert_eq!(by_file["preparation"]["scaled"][1].as_u64(), Some(20));
    }
    // The console shows the digit the model saw beside the bars.
    let text = ok(&["predict", run_s, big_jpeg.to_str().unwrap()]);
    assert!(text.contains("Prepared:    280×280 picture"), "{text}");
    assert!(text.contains("@@") && text.contains("█"), "{text}");

    // Pictures of one colour, another size with --prepare never, or not PNG at all: exit 1
    // naming the file.
    let small = tmp.path().join("ten.png");
    write_png(&small, 10, 10, png::ColorType::Grayscale, &[0u8; 100]);
    let err = fails(&["predict", run_s, small.to_str().unwrap()], 1);
    assert!(err.contains("ten.png") && err.contains("no digit"), "{err}");
    let err = fails(
        &[
            "predict",
            run_s,
            small.to_str().unwrap(),
            "--prepare",
            "never",
        ],
        1,
    );
    assert!(
        err.contains("ten.png") && err.contains("10×10") && err.contains("28×28"),
        "{err}"
    );
    let junk = tmp.path().join("junk.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\n but not really").unwrap();
    let err = fails(&["predict", run_s, junk.to_str().unwrap()], 1);
    assert!(err.contains("junk.png"), "{err}");
    let mut cut = std::fs::read(&gray).unwrap();
    cut.truncate(cut.len() - 20);
    std::fs::write(&junk, &cut).unwrap();
    let err = fails(&["predict", run_s, junk.to_str().unwrap()], 1);
    assert!(err.contains("junk.png"), "{err}");

    // Test image indices outside the test set.
    let err = fails(&["predict", run_s, "--index", "10000"], 1);
    assert!(
        err.contains("10000") && err.contains("out of range"),
        "{err}"
    );
    fails(&["predict", run_s, "--index", "-1"], 2);
    fails(&["predict", run_s], 2);
    fails(
        &["predict", run_s, gray.to_str().unwrap(), "--index", "3"],
        2,
    );
}

/// A run directory written by the library, untrained (fast): what `train` writes.
fn untrained_run(parent: &Path, name: &str, widths: &str) -> PathBuf {
    let _g = seed_lock();
    let spec = MlpSpec {
        bias: Default::default(),
        widths: widths.parse().unwrap(),
        ..MlpSpec::shallow(InitScheme::KaimingNormal)
    };
    tch::manual_seed(5);
    let model = Mlp::new(&spec).unwrap();
    let dir = parent.join(name);
    let spec = RunSpec {
        model: spec,
        source: Default::default(),
        train: TrainConfig::default(),
        data: DataIdentity {
            dir: mnist_dir(),
            files: Vec::new(),
        },
    };
    let record = RunRecord {
        format: rundir::FORMAT.into(),
        name: name.into(),
        status: RunStatus::Complete,
        hash: spec.hash(),
        spec,
        checkpoint: None,
        detail: None,
        provenance: Provenance::here(),
        started: rundir::now_utc(),
        ended: None,
        seconds: 0.0,
        trained_on: Vec::new(),
    };
    std::fs::create_dir_all(&dir).unwrap();
    io::write_json(&dir.join(rundir::RUN_FILE), &record).unwrap();
    rundir::write_history(&dir, &History::default()).unwrap();
    save_model(&model, &dir).unwrap();
    dir
}

#[test]
fn load_trained_gives_back_the_saved_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = untrained_run(tmp.path(), "a", "784,20,12,10");
    let _g = seed_lock();
    tch::manual_seed(5);
    let original = Mlp::new(&MlpSpec {
        bias: Default::default(),
        widths: "784,20,12,10".parse().unwrap(),
        ..MlpSpec::shallow(InitScheme::KaimingNormal)
    })
    .unwrap();
    // Loading draws other numbers first; the weights must still come from the file.
    tch::manual_seed(99);
    let run = eval::load_trained(&dir).unwrap();
    assert_eq!(run.name, "a");
    assert_eq!(run.spec.init, InitScheme::KaimingNormal);
    assert_eq!(run.data_dir, mnist_dir());
    let (ours, theirs) = (run.model.parameters(), original.parameters());
    assert_eq!(ours.len(), 6);
    for (a, b) in ours.iter().zip(&theirs) {
        assert!(a.equal(b));
    }
}

#[test]
fn broken_runs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = untrained_run(tmp.path(), "run", "784,16,10");
    let d = dir.to_str().unwrap();
    let weights = dir.join("model.safetensors");

    // Truncated weights.
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = fails(&["eval", d], 1);
    assert!(err.contains("model.safetensors"), "{err}");
    let err = fails(&["predict", d, "--index", "0"], 1);
    assert!(err.contains("model.safetensors"), "{err}");

    // Weights of another model: shapes that do not fit.
    let other = untrained_run(tmp.path(), "other", "784,24,10");
    std::fs::copy(other.join("model.safetensors"), &weights).unwrap();
    let err = fails(&["eval", d], 1);
    assert!(
        err.contains("model.safetensors")
            && err.contains("\"linear1.bias\" has shape [24]")
            && err.contains("needs [16]"),
        "{err}"
    );

    // A tensor missing, and one too many.
    let mut file = SafeTensors::read(&other.join("model.safetensors")).unwrap();
    let mut good = SafeTensors::read(&other.join("model.safetensors")).unwrap();
    let mut config: serde_json::Value = io::read_json(&dir.join("run.json")).unwrap();
    config["spec"]["model"]["widths"] = serde_json::json!([784, 24, 10]);
    io::write_json(&dir.join("run.json"), &config).unwrap();
    file.tensors.remove("linear2.bias");
    file.write(&weights).unwrap();
    let err = fails(&["eval", d], 1);
    assert!(
        err.contains("model.safetensors") && err.contains("linear2.bias"),
        "{err}"
    );
    good.tensors.insert(
        "linear9.weight".into(),
        Tensor::zeros([2, 2], tch::kind::FLOAT_CPU),
    );
    good.write(&weights).unwrap();
    let err = fails(&["eval", d], 1);
    assert!(err.contains("linear9.weight"), "{err}");

    // Settings that are not JSON.
    std::fs::write(dir.join("run.json"), "{\"name\": ").unwrap();
    let err = fails(&["eval", d], 1);
    assert!(err.contains("run.json"), "{err}");

    // Not a run directory, and no directory at all.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = fails(&["eval", empty.to_str().unwrap()], 1);
    assert!(err.contains("not a run directory"), "{err}");
    let missing = tmp.path().join("missing");
    let err = fails(&["eval", missing.to_str().unwrap()], 2);
    assert!(err.contains("does not exist"), "{err}");
    let err = fails(&["predict", missing.to_str().unwrap(), "--index", "0"], 2);
    assert!(err.contains("does not exist"), "{err}");
    fails(&["eval", d, "--out", "cm.jpg"], 2);
}
