//! Short real training runs: accuracy after one epoch on a subset, run files, charts, divergence.

mod common;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::{
    model::{Mlp, MlpSpec},
    scheme::InitScheme,
};
use initlab::base::train::{self, Progress, TrainConfig};
use initlab::engine::executor::{ExecOptions, Executor, PlannedRun};
use initlab::engine::rundir::RunStatus;
use initlab::engine::runs;
use initlab::engine::spec::RunSpec;

fn decode_png(path: &std::path::Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file)
        .read_info()
        .expect("a valid PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("decodable PNG data");
    // Not a blank canvas: some pixels are not white.
    assert!(buf.iter().any(|&b| b < 200), "{} is blank", path.display());
    (info.width, info.height)
}

#[test]
fn one_epoch_on_10k_images_reaches_90_percent_and_saves_the_run() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        train_limit: Some(10_000),
        ..TrainConfig::default()
    };
    let spec = MlpSpec::shallow(InitScheme::XavierUniform);
    let mut batches = 0;
    let mut epoch_lines = Vec::new();
    let (_, history) = train::train(&spec, &data, &config, &mut |p| match p {
        Progress::Batch { .. } => batches += 1,
        Progress::Epoch(r) => epoch_lines.push(r.lab_line()),
        Progress::Start { batches, .. } => assert_eq!(batches, 100),
    })
    .unwrap();
    assert_eq!(batches, 100);
    assert_eq!(history.epochs.len(), 1);
    let e = &history.epochs[0];
    assert!(e.test_accuracy >= 0.90, "accuracy {}", e.test_accuracy);
    assert!(
        e.train_cost > 0.0 && e.train_cost < 1.0,
        "cost {}",
        e.train_cost
    );
    assert!(
        epoch_lines[0].starts_with("Epoch: 0001 cost = 0."),
        "{}",
        epoch_lines[0]
    );

    // The same run through the executor: the same history, and a run directory.
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("shallow-xavier-uniform");
    let planned = PlannedRun {
        name: "shallow-xavier-uniform".into(),
        dir: run_dir.clone(),
        spec: RunSpec {
            model: spec.clone(),
            source: Default::default(),
            train: config,
            data: data.identity.clone(),
        },
    };
    let executor = Executor {
        data: &data,
        options: ExecOptions::default(),
        stop: None,
    };
    let outcome = executor
        .run(std::slice::from_ref(&planned), &mut |_| {})
        .unwrap();
    assert_eq!(outcome.results[0].status, RunStatus::Complete);
    assert_eq!(
        outcome.results[0].history.epochs[0].train_cost,
        e.train_cost
    );
    assert_eq!(outcome.results[0].history.epochs[0].test_loss, e.test_loss);
    for f in [
        "run.json",
        "history.json",
        "history.csv",
        "model.safetensors",
        "loss.png",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }
    assert_eq!(decode_png(&run_dir.join("loss.png")), (1000, 600));
    let csv = std::fs::read_to_string(run_dir.join("history.csv")).unwrap();
    assert!(
        csv.starts_with("epoch,train_cost,test_loss,test_accuracy,seconds,learning_rate\n1,"),
        "{csv}"
    );
    // The lab's constant rate, recorded per epoch.
    assert!(
        csv.lines().nth(1).is_some_and(|l| l.ends_with(",1e-3")),
        "{csv}"
    );
    assert_eq!(history.epochs[0].learning_rate, Some(0.001));
    let back = runs::load_run(&run_dir).unwrap();
    assert_eq!(back.record.spec, planned.spec);
    assert_eq!(back.record.hash, planned.spec.hash());
    assert_eq!(
        back.history.epochs[0].train_cost,
        history.epochs[0].train_cost
    );

    // The saved weights load back into a fresh model and give the same accuracy.
    let mut fresh = initlab::base::nn::model::Mlp::new(&spec).unwrap();
    fresh.load(&run_dir.join("model.safetensors")).unwrap();
    let (_, acc) = train::evaluate(&fresh, &data.test.images_unit(), &data.test.labels);
    assert_eq!(acc, e.test_accuracy);

    // A comparison chart from saved runs, PNG and SVG.
    let curves = vec![initlab::base::train::chart::RunCurves {
        label: "xavier".into(),
        history: back.history.clone(),
    }];
    initlab::base::train::chart::compare_chart(&curves, "test", &dir.path().join("c.png")).unwrap();
    assert_eq!(decode_png(&dir.path().join("c.png")), (1400, 600));
    initlab::base::train::chart::compare_chart(&curves, "test", &dir.path().join("c.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("xavier"));
}

#[test]
fn divergence_is_reported_not_returned() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        train_limit: Some(2_000),
        learning_rate: 1e30,
        ..TrainConfig::default()
    };
    let err = train::train(
        &MlpSpec::shallow(InitScheme::Normal),
        &data,
        &config,
        &mut |_| {},
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("diverged") && msg.contains("epoch 1") && msg.contains("learning rate"),
        "{msg}"
    );
}

#[test]
fn same_seed_same_history() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        train_limit: Some(1_000),
        ..TrainConfig::default()
    };
    let spec = MlpSpec {
        bias: Default::default(),
        widths: "784,32,10".parse().unwrap(),
        ..MlpSpec::shallow(InitScheme::KaimingNormal)
    };
    let (_, a) = train::train(&spec, &data, &config, &mut |_| {}).unwrap();
    let (_, b) = train::train(&spec, &data, &config, &mut |_| {}).unwrap();
    assert_eq!(a.epochs[0].train_cost, b.epochs[0].train_cost);
    let other = TrainConfig { seed: 1, ..config };
    let (_, c) = train::train(&spec, &data, &other, &mut |_| {}).unwrap();
    assert_ne!(a.epochs[0].train_cost, c.epochs[0].train_cost);
}

#[test]
fn dbn_pretraining_initializes_and_fine_tunes_an_mlp() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pre = initlab::experiments::pretrain::PretrainConfig {
        widths: vec![784, 64, 32],
        epochs: 2,
        train_limit: Some(5_000),
        out_dir: dir.path().join("dbn"),
        ..Default::default()
    };
    let result = initlab::experiments::pretrain::run_pretrain(&pre, &data, &mut |_| {}).unwrap();
    for f in &result.files {
        assert!(f.is_file(), "{} missing", f.display());
    }
    decode_png(&dir.path().join("dbn/pretrain.png"));
    let spec = MlpSpec {
        bias: Default::default(),
        widths: "784,64,32,10".parse().unwrap(),
        activation: initlab::base::nn::scheme::Activation::Sigmoid,
        init: InitScheme::Dbn,
    };
    let config = TrainConfig {
        epochs: 5,
        train_limit: Some(5_000),
        ..TrainConfig::default()
    };
    // Without the pretrained stack the dbn init is an error, not a silent fallback.
    let err = train::train(&spec, &data, &config, &mut |_| {}).unwrap_err();
    assert!(
        format!("{err:#}").contains("pretrained deep belief net"),
        "{err:#}"
    );
    let hook = initlab::pretraining::dbn::DbnInit::load(&dir.path().join("dbn")).unwrap();
    let first_w = hook.dbn.rbms[0].weight.copy();
    // Zero epochs of fine-tuning is not allowed, so check the copy through a fresh model.
    let mut fresh = initlab::base::nn::model::Mlp::new(&spec).unwrap();
    use initlab::base::nn::hook::DataDependentInit;
    hook.initialize(&mut fresh, &data.train.images_unit())
        .unwrap();
    assert!(fresh.layers[0].ws.equal(&first_w));
    let (_, history) = train::train_with(&spec, &data, &config, Some(&hook), &mut |_| {}).unwrap();
    let acc = history.last().unwrap().test_accuracy;
    let xavier = MlpSpec {
        bias: Default::default(),
        init: InitScheme::XavierUniform,
        ..spec
    };
    let (_, baseline) = train::train(&xavier, &data, &config, &mut |_| {}).unwrap();
    let base = baseline.last().unwrap().test_accuracy;
    eprintln!("sigmoid 784-64-32-10, 5 epochs on 5k images: DBN {acc}, Xavier {base}");
    assert!(
        acc > 0.7 && base > 0.7,
        "accuracy after fine-tuning: DBN {acc}, Xavier {base}"
    );
}

#[test]
fn a_validation_split_is_held_out_and_chooses_the_best_epoch() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let config = TrainConfig {
        epochs: 3,
        train_limit: Some(2_000),
        validation: 1_000,
        ..TrainConfig::default()
    };
    // The last 1,000 training images are the validation split, the first 2,000 the training set.
    let train = train::train_split(&data, &config);
    let val = train::validation_split(&data, &config).unwrap();
    assert_eq!((train.len(), val.len()), (2_000, 1_000));
    assert!(val
        .labels
        .equal(&data.train.labels.narrow(0, 59_000, 1_000)));
    let all = TrainConfig {
        train_limit: None,
        ..config.clone()
    };
    assert_eq!(train::train_split(&data, &all).len(), 59_000);
    assert!(train::validation_split(&data, &TrainConfig::default()).is_none());

    let spec = MlpSpec {
        bias: Default::default(),
        widths: "784,32,10".parse().unwrap(),
        ..MlpSpec::shallow(InitScheme::KaimingNormal)
    };
    let (model, h) = train::train(&spec, &data, &config, &mut |_| {}).unwrap();
    for e in &h.epochs {
        let (_, acc) = train::evaluate(&model, &val.images_unit(), &val.labels);
        assert!(e.validation_accuracy.is_some() && e.validation_loss.is_some());
        if e.epoch == 3 {
            assert_eq!(e.validation_accuracy, Some(acc));
        }
    }
    let best = h.best().unwrap();
    assert!(best.on_validation);
    let top = h
        .epochs
        .iter()
        .map(|e| e.validation_accuracy.unwrap())
        .fold(f64::MIN, f64::max);
    assert_eq!(h.epochs[best.epoch - 1].validation_accuracy.unwrap(), top);
}

#[test]
fn zero_biases_keep_the_weight_draws() {
    let _g = seed_lock();
    let build = |bias| {
        tch::manual_seed(5);
        Mlp::new(&MlpSpec {
            bias,
            widths: "784,16,16,10".parse().unwrap(),
            activation: initlab::base::nn::scheme::Activation::Tanh,
            init: InitScheme::XavierUniform,
        })
        .unwrap()
    };
    let torch = build(initlab::base::nn::model::BiasInit::TorchDefault);
    let zeros = build(initlab::base::nn::model::BiasInit::Zeros);
    for (a, b) in torch.layers.iter().zip(&zeros.layers) {
        assert!(a.ws.equal(&b.ws));
        let bz = b.bs.as_ref().unwrap();
        assert_eq!(bz.abs().max().double_value(&[]), 0.0);
        assert!(a.bs.as_ref().unwrap().abs().max().double_value(&[]) > 0.0);
    }
    // Mean-field sets its own biases: zeros would undo them.
    let p = initlab::base::nn::scheme::MeanFieldParams::new(1.5, 0.05).unwrap();
    assert!(Mlp::new(&MlpSpec {
        bias: initlab::base::nn::model::BiasInit::Zeros,
        widths: "784,16,10".parse().unwrap(),
        activation: initlab::base::nn::scheme::Activation::Tanh,
        init: InitScheme::MeanField(p),
    })
    .is_err());
}
