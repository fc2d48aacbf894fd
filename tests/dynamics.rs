//! The training-dynamics monitor: it changes nothing the run computes, its numbers say what the
//! theory says on nets where the answer is known, and `initlab dynamics` redraws and compares
//! runs, refusing a run without dynamics or a damaged file by name.

mod common;

use std::path::Path;
use std::process::Command;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::{load_dir, Mnist};
use initlab::base::nn::{
    model::MlpSpec,
    scheme::{Activation, InitScheme},
};
use initlab::base::train::dynamics::DynamicsLog;
use initlab::base::train::sink::{self as train_sink, Control};
use initlab::base::train::trainer::Trainer;
use initlab::base::train::{TrainConfig, TrainOutcome};

fn run(data: &Mnist, spec: &MlpSpec, monitor_every: usize) -> TrainOutcome {
    let config = TrainConfig {
        epochs: 2,
        train_limit: Some(2000),
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::fresh(spec, data, &config, None, monitor_every).unwrap();
    let ending = train_sink::run(&mut trainer, &mut [], Control::default()).unwrap();
    TrainOutcome::new(trainer.into_state(), ending)
}

fn spec(widths: &str, activation: Activation, init: InitScheme) -> MlpSpec {
    MlpSpec {
        bias: Default::default(),
        widths: widths.parse().unwrap(),
        activation,
        init,
    }
}

fn bits(o: &TrainOutcome) -> Vec<u64> {
    let mut v: Vec<u64> = o
        .history
        .epochs
        .iter()
        .flat_map(|e| [e.train_cost.to_bits(), e.test_loss.to_bits()])
        .collect();
    for (_, t) in o.model.weights() {
        let w = Vec::<f32>::try_from(t.reshape([-1])).unwrap();
        v.extend(w.iter().map(|x| x.to_bits() as u64));
    }
    v
}

#[test]
fn monitoring_changes_nothing_the_run_computes() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    for activation in [Activation::Relu, Activation::Tanh] {
        let s = spec("784,64,32,10", activation, InitScheme::XavierUniform);
        let plain = run(&data, &s, 0);
        assert!(plain.dynamics.is_none());
        let watched = run(&data, &s, 3);
        assert_eq!(bits(&plain), bits(&watched), "{activation}");
        let log = watched.dynamics.unwrap();
        // 20 steps an epoch, 2 epochs: steps 1, 4, …, 40.
        assert_eq!(log.records.len(), 14);
        assert_eq!(log.records[0].step, 1);
        assert_eq!(log.records[13].step, 40);
        assert_eq!(
            log.records[0].loss.to_bits(),
            plain.history.first_batch_loss.unwrap().to_bits()
        );
        // Adam's first step moves every weight with a gradient by the learning rate (m̂/√v̂ =
        // ±1): std(ΔW) ≈ 1e-3 (a little less: pixels that are 0 on the whole batch get no
        // gradient), and Xavier's std(W) = √(2/(fan_in + fan_out)).
        for (l, layer) in log.records[0].layers.iter().enumerate() {
            let (fan_in, fan_out) = [(784.0, 64.0), (64.0, 32.0), (32.0, 10.0)][l];
            let w_std: f64 = (2.0f64 / (fan_in + fan_out)).sqrt();
            let expected = (1e-3 / w_std).log10();
            assert!(
                (layer.update_log10 - expected).abs() < 0.15,
                "{activation} linear{}: update:data {} vs {expected}",
                l + 1,
                layer.update_log10
            );
            assert!(layer.grad_data.is_finite() && layer.grad_data > 0.0);
            assert!(layer.grad_z_std.is_finite() && layer.grad_z_std > 0.0);
        }
        // Hidden layers have activation statistics, the output layer none.
        assert!(log.records[0].layers[..2].iter().all(|l| l.act.is_some()));
        assert!(log.records[0].layers[2].act.is_none());
    }
}

#[test]
fn statistics_match_what_the_theory_predicts() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    // N(0, 1) weights on the shallow ReLU net: z of layer 1 has std ≈ √(Σ x²) over the pixels,
    // and each ReLU layer multiplies the variance by fan_in/2, so the logits' std is in the
    // hundreds and the first loss is far above ln 10.
    let o = run(
        &data,
        &spec("784,256,256,10", Activation::Relu, InitScheme::Normal),
        10,
    );
    let first = &o.dynamics.as_ref().unwrap().records[0];
    assert!(first.loss > 20.0, "first loss {}", first.loss);
    assert!(first.layers[2].z_std > 100.0, "{}", first.layers[2].z_std);
    assert!(first.layers[1].z_std > 8.0 * first.layers[0].z_std);
    // Zeros: every hidden unit computes the same function on every step: one distinct unit.
    let o = run(
        &data,
        &spec("784,32,32,10", Activation::Tanh, InitScheme::Zeros),
        5,
    );
    for r in &o.dynamics.as_ref().unwrap().records {
        for l in &r.layers[..2] {
            assert_eq!(l.act.as_ref().unwrap().distinct, 1.0, "step {}", r.step);
        }
    }
    // tanh with N(0, 1) weights saturates: most units |a| > 0.97 from the first step.
    let o = run(
        &data,
        &spec("784,64,64,10", Activation::Tanh, InitScheme::Normal),
        10,
    );
    let first = &o.dynamics.as_ref().unwrap().records[0];
    let sat = first.layers[1].act.as_ref().unwrap().saturated;
    assert!(sat > 0.7, "saturated share {sat}");
    let xavier = run(
        &data,
        &spec("784,64,64,10", Activation::Tanh, InitScheme::XavierUniform),
        10,
    );
    let sat_x = xavier.dynamics.as_ref().unwrap().records[0].layers[1]
        .act
        .as_ref()
        .unwrap()
        .saturated;
    assert!(sat_x < 0.05, "Xavier saturated share {sat_x}");
}

fn initlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_initlab"))
}

fn train_cli(out: &Path, name: &str, init: &str, monitor: &str) {
    let o = initlab()
        .args([
            "train",
            "--model",
            "784,32,32,10",
            "--init",
            init,
            "--epochs",
            "1",
            "--train-limit",
            "1000",
            "--monitor-every",
            monitor,
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--name",
            name,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn dynamics_command_redraws_compares_and_refuses_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    train_cli(out, "a", "normal", "2");
    train_cli(out, "b", "kaiming-normal", "2");
    train_cli(out, "off", "kaiming-normal", "0");
    let a = out.join("a");
    for f in ["dynamics.csv", "dynamics-histograms.csv", "dynamics.png"] {
        assert!(a.join(f).is_file(), "{f}");
    }
    assert!(!out.join("off/dynamics.csv").exists());
    let header = std::fs::read_to_string(a.join("dynamics.csv")).unwrap();
    let header = header.lines().next().unwrap();
    assert!(header.contains("linear1.update_log10") && header.contains("linear2.dead"));

    // One run: redrawn in place; several: side by side.
    std::fs::remove_file(a.join("dynamics.png")).unwrap();
    let o = initlab().arg("dynamics").arg(&a).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(a.join("dynamics.png").is_file());
    let both = out.join("both.png");
    let o = initlab()
        .arg("dynamics")
        .arg(&a)
        .arg(out.join("b"))
        .arg("--out")
        .arg(&both)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::metadata(&both).unwrap().len() > 10_000);

    // A run without dynamics, a damaged file: exit 1, the message names the file.
    let o = initlab()
        .arg("dynamics")
        .arg(out.join("off"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no dynamics.csv"), "{err}");
    let csv = a.join("dynamics.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let damaged = text.replacen(",", ",x", 30);
    std::fs::write(&csv, damaged).unwrap();
    let o = initlab().arg("dynamics").arg(&a).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("dynamics.csv"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // The log parsed back equals what the run wrote.
    std::fs::write(&csv, &text).unwrap();
    let run = initlab::engine::runs::load_run(&a).unwrap();
    let log: DynamicsLog = initlab::engine::rundir::read_dynamics(&a, &run.record.spec).unwrap();
    assert_eq!(log.csv(), text);
    assert_eq!(log.every, 2);
    assert_eq!(log.batches_per_epoch, 10);
}
