//! `initlab study dbn` at a tiny size: two seeds that each pretrain their own stack, every run
//! holding out the validation split, the learning rates chosen on validation error alone, and the
//! table with the test set's binomial interval and the Welch columns; a second call reuses it all.

mod common;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::scheme::InitScheme;
use initlab::base::train::HELD_OUT;
use initlab::engine::executor::{ExecOptions, Executor, RunEvent, RunResult};
use initlab::engine::spec::InitSource;
use initlab::experiments::study::dbn::{self, SweepChoice};
use initlab::experiments::study::StudyConfig;

fn source_sha(r: &RunResult) -> Option<String> {
    match &r.run.spec.source {
        InitSource::Pretrained { sha256, .. } => Some(sha256.clone()),
        InitSource::None => None,
    }
}

#[test]
fn dbn_study_pretrains_per_seed_and_chooses_on_validation() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = StudyConfig {
        epochs: Some(1),
        train_limit: Some(600),
        width: Some(16),
        seeds: vec![777, 778],
        out_dir: dir.path().to_path_buf(),
        ..StudyConfig::new(dbn::STUDY)
    };
    let executor = Executor {
        data: &data,
        options: ExecOptions::default(),
        stop: None,
    };
    let mut pretrained = 0;
    let result = dbn::run_dbn_study(&config, &executor, &mut |e| {
        if let RunEvent::Pretrain { .. } = e {
            pretrained += 1;
        }
    })
    .unwrap();
    assert!(!result.interrupted);
    assert_eq!(pretrained, 2, "one stack per seed");

    // Two seeds, two different stacks, each from its seed; each DBN run starts from its own.
    let weights: Vec<Vec<u8>> = result
        .dbns
        .iter()
        .map(|d| std::fs::read(d.join("dbn.safetensors")).unwrap())
        .collect();
    assert_eq!(weights.len(), 2);
    assert_ne!(weights[0], weights[1], "the seeds' pretrainings differ");
    let dbn_runs: Vec<&RunResult> = result
        .runs
        .iter()
        .filter(|r| r.run.spec.model.init == InitScheme::Dbn)
        .collect();
    assert_eq!(dbn_runs.len(), 2);
    assert_ne!(source_sha(dbn_runs[0]), source_sha(dbn_runs[1]));
    for (r, d) in dbn_runs.iter().zip(&result.dbns) {
        let InitSource::Pretrained { dir, .. } = &r.run.spec.source else {
            panic!("a DBN run without its DBN")
        };
        assert_eq!(dir, d);
        assert!(d.ends_with(format!("dbn-seed{}", r.run.spec.train.seed)));
    }
    // Each pretraining trained on images before the validation split only.
    let recipe: serde_json::Value =
        serde_json::from_slice(&std::fs::read(result.dbns[1].join("recipe.json")).unwrap())
            .unwrap();
    assert_eq!(recipe["seed"], 778);
    assert_eq!(recipe["train_limit"], 600);

    // Every run, sweep and seeds, held out the validation split and measured it every epoch.
    assert_eq!(result.sweep.len(), 4 * dbn::SWEEP_RATES.len());
    assert_eq!(result.runs.len(), 4 * 2);
    for r in result.sweep.iter().chain(&result.runs) {
        assert_eq!(r.run.spec.train.validation, HELD_OUT, "{}", r.run.name);
        assert!(!r.history.epochs.is_empty(), "{}", r.run.name);
        assert!(r
            .history
            .epochs
            .iter()
            .all(|e| e.validation_accuracy.is_some()));
        assert!(r.history.best().unwrap().on_validation, "{}", r.run.name);
    }

    // The recipe: per init the rate of lowest final validation error, recorded in sweep.json,
    // and the rate both seeds' runs trained with.
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(dbn::SWEEP_FILE)).unwrap()).unwrap();
    let recorded: Vec<SweepChoice> = serde_json::from_value(file["choices"].clone()).unwrap();
    assert_eq!(recorded, result.choices);
    for choice in &recorded {
        let init: InitScheme = choice.init.parse().unwrap();
        let swept: Vec<&RunResult> = result
            .sweep
            .iter()
            .filter(|r| r.run.spec.model.init == init)
            .collect();
        let validation: Vec<f64> = swept
            .iter()
            .map(|r| 100.0 * (1.0 - r.history.last().unwrap().validation_accuracy.unwrap()))
            .collect();
        let lowest = validation.iter().copied().fold(f64::INFINITY, f64::min);
        let first_lowest = swept[validation.iter().position(|&v| v == lowest).unwrap()];
        assert_eq!(choice.chosen, first_lowest.run.spec.train.learning_rate);
        let tried: Vec<f64> = choice.tried.iter().map(|t| t.1.unwrap()).collect();
        assert_eq!(
            tried, validation,
            "{init}: the sweep records validation errors"
        );
        assert_eq!(choice.seed, 777);
        for r in result.runs.iter().filter(|r| r.run.spec.model.init == init) {
            assert_eq!(r.run.spec.train.learning_rate, choice.chosen);
        }
    }
    // The first seed's runs are the sweep's own runs of the chosen rates.
    for r in result.runs.iter().filter(|r| r.run.spec.train.seed == 777) {
        assert!(result.sweep.iter().any(|s| s.run.dir == r.run.dir));
    }

    // The table: the seed interval, the test set's binomial interval and the Welch columns.
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    for needle in [
        "seed 95 % interval",
        "test set's 95 % interval (Wilson, n = 10000)",
        "difference vs DBN, points [95 % Welch interval]",
        "Welch p",
        "permutation p",
        "lr (chosen on validation)",
        "Recipe sweep (seed 777, chosen on the validation split)",
        "He normal, N(0, 2/fan_in)",
        "LeCun normal",
    ] {
        assert!(
            summary.contains(needle),
            "{needle:?} missing in:\n{summary}"
        );
    }
    for file in ["dbn.png", "dbn.svg", "report.html"] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }

    // Again: every stack and every run is found, nothing trains.
    let mut events = 0;
    let again = dbn::run_dbn_study(&config, &executor, &mut |e| {
        if let RunEvent::Pretrain { .. } | RunEvent::Train(_) = e {
            events += 1;
        }
    })
    .unwrap();
    assert_eq!(events, 0);
    assert!(again.sweep.iter().chain(&again.runs).all(|r| r.cached));
    assert_eq!(again.choices, result.choices);
}
