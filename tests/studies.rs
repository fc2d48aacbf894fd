//! Small-width versions of `compare`, `inspect` and `study`: files written, divergence reported,
//! cache used, and the vanishing/exploding-signal picture pointing the right way.

mod common;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::{
    model::Widths,
    scheme::{Activation, InitScheme},
};
use initlab::base::optim::OptimizerKind;
use initlab::base::train::TrainConfig;
use initlab::engine::executor::{ExecOptions, Executor};
use initlab::engine::rundir::{EndDetail, RunStatus};
use initlab::experiments::compare::{self, CompareConfig};
use initlab::experiments::inspect::{self, InspectConfig};
use initlab::experiments::study::{self, StudyConfig};

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = png::Decoder::new(file)
        .read_info()
        .expect("PNG header")
        .info()
        .clone();
    (info.width, info.height)
}

#[test]
fn inspect_shows_normal_init_blowing_up_a_deep_tanh_net() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut widths = vec![784];
    widths.extend([64; 9]);
    widths.push(10);
    let config = InspectConfig {
        widths: Widths(widths),
        activation: Activation::Tanh,
        inits: vec![
            InitScheme::Normal,
            InitScheme::XavierUniform,
            InitScheme::Lsuv,
        ],
        seed: 777,
        batch: 500,
        source: Default::default(),
        out_dir: dir.path().to_path_buf(),
    };
    let result = inspect::run_inspect(&config, &data).unwrap();
    let [normal, xavier, lsuv] = &result.inspections[..] else {
        panic!("three inspections")
    };
    assert_eq!(normal.layers.len(), 10);
    let growth = |ins: &inspect::Inspection| {
        ins.layers[8].pre_activation_std / ins.layers[0].pre_activation_std
    };
    assert!(
        growth(normal) > growth(xavier),
        "N(0,1) growth {} vs Xavier {}",
        growth(normal),
        growth(xavier)
    );
    assert!(normal.layers[8].pre_activation_std > 10.0 * xavier.layers[8].pre_activation_std);
    // tanh saturates under N(0,1): activations near ±1, std close to 1.
    assert!(
        normal.layers[4].activation_std > 0.9,
        "{}",
        normal.layers[4].activation_std
    );
    assert!(
        xavier.layers[4].activation_std < 0.6,
        "{}",
        xavier.layers[4].activation_std
    );
    // LSUV: unit pre-activation variance on this batch, every layer.
    for l in &lsuv.layers {
        assert!(
            (l.pre_activation_std.powi(2) - 1.0).abs() < 0.1,
            "LSUV layer {}: var {}",
            l.layer,
            l.pre_activation_std.powi(2)
        );
    }
    // Mean-field predictions for tanh (length map and √χ₁ per layer): Xavier's measured stds
    // within 15 % of them in every layer at width 64; none for LSUV (data-dependent).
    let (acts, grads) = (
        xavier.predicted_activation_std.as_ref().unwrap(),
        xavier.predicted_gradient_std.as_ref().unwrap(),
    );
    for (k, l) in xavier.layers.iter().enumerate() {
        let close = |m: f64, p: f64| (m / p - 1.0).abs() < 0.15;
        assert!(
            close(l.activation_std, acts[k]),
            "layer {}: {} vs {}",
            l.layer,
            l.activation_std,
            acts[k]
        );
        assert!(
            close(l.gradient_std, grads[k]),
            "layer {}: {} vs {}",
            l.layer,
            l.gradient_std,
            grads[k]
        );
    }
    assert_eq!(xavier.chi.as_ref().map(Vec::len), Some(9));
    assert!(lsuv.predicted_activation_std.is_none() && lsuv.predicted_gradient_std.is_none());
    for f in ["normal.png", "xavier-uniform.png", "lsuv.png"] {
        assert_eq!(png_size(&dir.path().join(f)), (1400, 600), "{f}");
    }
    // Three panels: activation, ∂loss/∂z and ∂loss/∂W std by layer.
    assert_eq!(png_size(&dir.path().join("depth.png")), (2100, 600));
    assert!(dir.path().join("depth.svg").is_file());
    let md = std::fs::read_to_string(dir.path().join("inspect.md")).unwrap();
    assert_eq!(
        md.lines().filter(|l| l.starts_with("| normal |")).count(),
        10
    );
    let csv = std::fs::read_to_string(dir.path().join("inspect.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 30);
}

#[test]
fn lsuv_gives_unit_variance_on_held_out_data() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    tch::manual_seed(5);
    let spec = initlab::base::nn::model::MlpSpec {
        bias: Default::default(),
        widths: "784,128,128,128,10".parse().unwrap(),
        activation: Activation::Relu,
        init: InitScheme::Lsuv,
    };
    let mut mlp = initlab::base::nn::model::Mlp::new(&spec).unwrap();
    use initlab::base::nn::hook::DataDependentInit;
    initlab::base::nn::lsuv::Lsuv::default()
        .initialize(&mut mlp, &data.train.images_unit().narrow(0, 0, 2000))
        .unwrap();
    let held_out = data.test.images_unit().narrow(0, 0, 2000);
    for (k, var) in initlab::base::nn::lsuv::Lsuv::layer_variances(&mlp, &held_out)
        .into_iter()
        .enumerate()
    {
        assert!(
            (var - 1.0).abs() < 0.2,
            "layer {}: variance {var} on held-out data",
            k + 1
        );
    }
}

fn small_compare(dir: &std::path::Path, lr: f64) -> CompareConfig {
    CompareConfig {
        bias: Default::default(),
        widths: "784,32,10".parse().unwrap(),
        activation: Activation::Relu,
        inits: vec![InitScheme::Normal, InitScheme::XavierUniform],
        train: TrainConfig {
            epochs: 2,
            train_limit: Some(2000),
            learning_rate: lr,
            ..TrainConfig::default()
        },
        out_dir: dir.to_path_buf(),
        ..CompareConfig::default()
    }
}

/// The study's plan, built once as `initlab study` builds it.
fn plan(config: &StudyConfig, data: &initlab::base::data::mnist::Mnist) -> study::StudyPlan {
    study::plan_runs(config, data).unwrap()
}

fn executor(data: &initlab::base::data::mnist::Mnist) -> Executor<'_> {
    Executor {
        data,
        options: ExecOptions::default(),
        stop: None,
    }
}

#[test]
fn compare_writes_summary_and_chart_and_uses_its_cache() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = small_compare(dir.path(), 0.001);
    let first = compare::run_compare(
        &config,
        &compare::plan(&config, &data).unwrap(),
        &executor(&data),
        &mut |_| {},
    )
    .unwrap();
    let runs = &first.outcome.results;
    assert!(runs.iter().all(|r| !r.cached));
    // N(0, 1) weights on 2 × 20 batches end at chance (about 10 %): unstable, said so.
    assert_eq!(runs[0].status, RunStatus::Unstable);
    assert!(
        matches!(runs[0].detail, Some(EndDetail::AtChance { .. })),
        "{:?}",
        runs[0].detail
    );
    assert_eq!(runs[1].status, RunStatus::Complete);
    let xavier = &runs[1];
    assert!(
        xavier.history.last().unwrap().test_error_percent()
            < runs[0].history.last().unwrap().test_error_percent()
    );
    assert_eq!(png_size(&dir.path().join("compare.png")), (1400, 600));
    let csv = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.lines()
            .nth(2)
            .unwrap()
            .starts_with("xavier-uniform,777,complete,,"),
        "{csv}"
    );
    let md = std::fs::read_to_string(&first.summary).unwrap();
    assert!(
        md.contains("| normal | unstable (at chance: accuracy ") && md.contains("784-32-10"),
        "{md}"
    );

    let second = compare::run_compare(
        &config,
        &compare::plan(&config, &data).unwrap(),
        &executor(&data),
        &mut |_| {},
    )
    .unwrap();
    assert!(second.outcome.results.iter().all(|r| r.cached));
    assert_eq!(second.outcome.results[1].history, xavier.history);
    // Another learning rate is another configuration: not from the cache.
    let other_config = small_compare(dir.path(), 0.002);
    let other = compare::run_compare(
        &other_config,
        &compare::plan(&other_config, &data).unwrap(),
        &executor(&data),
        &mut |_| {},
    )
    .unwrap();
    assert!(other.outcome.results.iter().all(|r| !r.cached));
}

#[test]
fn compare_reports_divergence_instead_of_failing() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_compare(dir.path(), 1e30);
    config.train.optimizer = OptimizerKind::Adam;
    let result = compare::run_compare(
        &config,
        &compare::plan(&config, &data).unwrap(),
        &executor(&data),
        &mut |_| {},
    )
    .unwrap();
    for r in &result.outcome.results {
        assert_eq!(r.status, RunStatus::Diverged);
        assert!(
            matches!(r.detail, Some(EndDetail::Diverged { epoch: 1, .. })),
            "{:?}",
            r.detail
        );
    }
    let md = std::fs::read_to_string(&result.summary).unwrap();
    assert!(md.contains("diverged at epoch 1"), "{md}");
    assert!(md.contains("No chart: every run stopped"), "{md}");
    let html = std::fs::read_to_string(&result.html).unwrap();
    assert!(html.contains("diverged at epoch 1") && html.contains("No chart: every run stopped"));
    assert!(result.chart.is_none());
    assert!(!dir.path().join("compare.png").exists());
}

#[test]
fn studies_run_at_small_width() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    for (which, runs) in [
        (study::lab::STUDY, 10),
        (study::glorot::STUDY, 6),
        (study::he::STUDY, 4),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = StudyConfig {
            epochs: Some(1),
            train_limit: Some(500),
            width: Some(16),
            out_dir: dir.path().to_path_buf(),
            ..StudyConfig::new(which)
        };
        let result =
            study::run_study(&config, plan(&config, &data), &executor(&data), &mut |_| {}).unwrap();
        assert_eq!(
            result.parts.iter().map(|(_, r)| r.len()).sum::<usize>(),
            runs,
            "{which:?}"
        );
        assert!(result.chart.is_file());
        let md = std::fs::read_to_string(&result.summary).unwrap();
        // The summary records the command with its overrides; Glorot's title names the width used.
        let command = format!(
            "Command: `initlab study {} --epochs 1 --train-limit 500 --width 16`",
            which.name()
        );
        assert!(md.contains(&command), "{md}");
        if which == study::glorot::STUDY {
            assert!(md.contains("5×16 hidden") && !md.contains("5×1000"), "{md}");
        }
        assert_eq!(
            md.lines()
                .filter(|l| l.starts_with("| ") && !l.starts_with("| part"))
                .count(),
            runs,
            "{md}"
        );
        // report.html: per part test error, train cost and (with a validation split) validation
        // error charts; one collapsible section per run.
        let html = std::fs::read_to_string(&result.html).unwrap();
        let charts = if config.validation > 0 { 3 } else { 2 };
        assert_eq!(
            html.matches("<svg class=\"chart\"").count(),
            charts * result.parts.len(),
            "{which:?}"
        );
        assert_eq!(html.matches("<details>").count(), runs, "{which:?}");
    }
}

#[test]
fn meanfield_study_runs_small_and_states_the_critical_point() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Two epochs of 2 steps: panels after 2 and 4 steps; two seeds (the study's default).
    let config = StudyConfig {
        epochs: Some(2),
        train_limit: Some(200),
        width: Some(8),
        out_dir: dir.path().to_path_buf(),
        ..StudyConfig::new(study::meanfield::STUDY)
    };
    assert_eq!(config.seeds.len(), 2);
    let result =
        study::run_study(&config, plan(&config, &data), &executor(&data), &mut |_| {}).unwrap();
    let (depths, sigmas) = study::meanfield::grid(false);
    assert_eq!(
        result.parts.iter().map(|(_, r)| r.len()).sum::<usize>(),
        depths.len() * sigmas.len() * 2
    );
    assert_eq!(result.chart, dir.path().join("meanfield.png"));
    for f in ["meanfield.png", "meanfield.svg", "phase.png", "xi.png"] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    assert_eq!(png_size(&dir.path().join("phase.png")), (1000, 650));
    // Two panels (after 2 and 4 steps) and the strip with the legend and colour bar.
    assert_eq!(
        png_size(&dir.path().join("meanfield.png")),
        (2 * 640 + 330, 660)
    );
    let md = std::fs::read_to_string(&result.summary).unwrap();
    assert!(md.contains("χ₁ = 1 at **σ_w² = 1.76"), "{md}");
    assert!(md.contains("cells with depth ≤ 6 ξ_c"), "{md}");
    assert!(md.contains("### after 2 SGD steps") && md.contains("### after 4 SGD steps"));
    assert!(md.contains("| Xavier | 1.000 |"), "{md}");
    assert!(md.contains("σ_b² = 1/(3·8)"), "{md}");
    assert!(
        md.contains("Fig. 5") && md.contains("Default budget: 210 runs"),
        "{md}"
    );
    let html = std::fs::read_to_string(&result.html).unwrap();
    assert!(html.contains("χ₁ = 1 at <strong>σ_w² = 1.76"), "{html}");
    assert!(html.contains("<img src=\"meanfield.png\""));
    assert!(html.contains("<th class=\"num\">σ_w² 0.5</th>"));
    // One row of each accuracy table per depth.
    for d in depths {
        let rows = md.lines().filter(|l| l.starts_with(&format!("| {d} |")));
        assert_eq!(rows.count(), 2, "{md}");
    }
}

#[test]
fn lab_runs_small_through_the_executor_and_uses_its_cache() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = initlab::experiments::lab::LabConfig {
        train: TrainConfig {
            epochs: 1,
            train_limit: Some(1000),
            ..TrainConfig::default()
        },
        out_dir: dir.path().to_path_buf(),
        dbn_epochs: 1,
        seeds: Vec::new(),
    };
    let first = initlab::experiments::lab::run_lab(&config, &executor(&data), &mut |_| {}).unwrap();
    assert_eq!(first.runs.len(), 5);
    assert!(first
        .runs
        .iter()
        .all(|(_, r)| !r.cached && r.status.is_final()));
    assert!(dir.path().join("dbn/dbn.safetensors").is_file());
    assert!(first.report.is_file() && first.chart.is_file());
    let again = initlab::experiments::lab::run_lab(&config, &executor(&data), &mut |_| {}).unwrap();
    assert!(again.runs.iter().all(|(_, r)| r.cached));
    for ((_, a), (_, b)) in first.runs.iter().zip(&again.runs) {
        assert_eq!(a.history.epochs, b.history.epochs);
    }
}

#[test]
fn lab_over_seeds_reports_mean_and_interval() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = initlab::experiments::lab::LabConfig {
        train: TrainConfig {
            epochs: 1,
            train_limit: Some(500),
            ..TrainConfig::default()
        },
        out_dir: dir.path().to_path_buf(),
        dbn_epochs: 1,
        seeds: vec![1, 2],
    };
    let result =
        initlab::experiments::lab::run_lab(&config, &executor(&data), &mut |_| {}).unwrap();
    assert_eq!(result.runs.len(), 10);
    assert!(dir
        .path()
        .join("shallow-normal-seed2")
        .join("run.json")
        .is_file());
    let md = std::fs::read_to_string(&result.report).unwrap();
    assert!(md.contains("### Over 2 seeds (1, 2)"), "{md}");
    assert!(md.contains("| deep-sigmoid-dbn | 2 | "), "{md}");
    assert!(md.contains("| run | runs | diverged (at 90 %) |"), "{md}");
    assert!(md.contains(initlab::experiments::lab::SEEDS_NOTE), "{md}");
    let html = std::fs::read_to_string(&result.html).unwrap();
    assert!(html.contains("<h2>Over 2 seeds (1, 2)</h2>"));
    assert!(
        html.contains("<td data-label=\"run\">deep-sigmoid-dbn</td><td class=\"num\" data-label=\"runs\">2</td>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"dbn\">"));
    assert!(!md.contains("| lab-09-2"), "{md}");
}

#[test]
fn initloss_study_starts_fixed_nets_at_ln_10() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 10 steps per run on a 784-32-32-10 net.
    let config = StudyConfig {
        epochs: Some(1),
        train_limit: Some(1000),
        width: Some(32),
        out_dir: dir.path().to_path_buf(),
        ..StudyConfig::new(study::initloss::STUDY)
    };
    let curves = study::initloss::run_curves(&config, &data).unwrap();
    assert_eq!(curves.len(), 6);
    let ln10 = 10f64.ln();
    for c in &curves {
        assert_eq!(c.losses.len(), 10, "{}", c.label());
        assert_eq!(c.test_error.len(), 1);
        if c.fixed && c.init != InitScheme::Normal {
            // Logits ×0.01 of order-1 activations: the uniform loss on the test set and the first batch.
            assert!(
                (c.initial_test_loss - ln10).abs() < 0.01,
                "{}: {}",
                c.label(),
                c.initial_test_loss
            );
            assert!(
                (c.losses[0] - ln10).abs() < 0.02,
                "{}: {}",
                c.label(),
                c.losses[0]
            );
        }
    }
    // N(0,1) as built starts far above ln 10, and the fix lowers its start.
    let (built, fixed) = (&curves[0], &curves[1]);
    assert!(
        built.initial_test_loss > 5.0 * ln10,
        "{}",
        built.initial_test_loss
    );
    assert!(fixed.initial_test_loss < built.initial_test_loss);
    let result =
        study::run_study(&config, plan(&config, &data), &executor(&data), &mut |_| {}).unwrap();
    assert!(result.parts.is_empty());
    assert_eq!(png_size(&result.chart), (1400, 600));
    let md = std::fs::read_to_string(&result.summary).unwrap();
    assert!(
        md.contains("Command: `initlab study initloss --epochs 1 --train-limit 1000 --width 32`"),
        "{md}"
    );
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| init"))
            .count(),
        6,
        "{md}"
    );
    let csv = std::fs::read_to_string(dir.path().join("losses.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 60);
    assert!(result.html.is_file());
}

#[test]
fn optimizers_study_runs_small() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = StudyConfig {
        epochs: Some(1),
        train_limit: Some(500),
        width: Some(16),
        out_dir: dir.path().to_path_buf(),
        ..StudyConfig::new(study::optimizers::STUDY)
    };
    let result =
        study::run_study(&config, plan(&config, &data), &executor(&data), &mut |_| {}).unwrap();
    let optimizers: Vec<OptimizerKind> = result
        .parts
        .iter()
        .map(|(p, _)| p.compare.train.optimizer)
        .collect();
    assert_eq!(optimizers, [OptimizerKind::Sgd, OptimizerKind::Adam]);
    assert_eq!(result.parts.iter().map(|(_, r)| r.len()).sum::<usize>(), 6);
    assert!(result.chart.is_file());
    let md = std::fs::read_to_string(&result.summary).unwrap();
    assert!(md.contains("plain SGD"), "{md}");
}
