//! Dynamical isometry: the Jacobian spectra against exact results (orthogonal linear nets are
//! isometries; Gaussian linear nets have E[mean λ²] = σ_w^{2L} and a spread growing with depth),
//! the study's critical point against the mean-field root, and a tiny real run of the study.

mod common;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::isometry::{
    jacobian_spectra, JacobianNet, SpectrumStats, Transfer, WeightDraw,
};
use initlab::base::nn::meanfield::{self as theory, GaussHermite};
use initlab::base::nn::scheme::InitScheme;
use initlab::engine::executor::{ExecOptions, Executor};
use initlab::experiments::study::{self, isometry, StudyConfig};

fn net(transfer: Transfer, weights: WeightDraw, sigma_w2: f64, width: i64) -> JacobianNet {
    JacobianNet {
        transfer,
        weights,
        sigma_w2,
        sigma_b2: 0.0,
        width,
        input_variance: 1.0,
    }
}

/// The statistics per depth of one seeded net.
fn stats(net: &JacobianNet, depths: &[usize], points: i64, seed: i64) -> Vec<SpectrumStats> {
    tch::manual_seed(seed);
    jacobian_spectra(net, depths, points)
        .unwrap()
        .iter()
        .map(|(_, v)| SpectrumStats::of(v))
        .collect()
}

#[test]
fn orthogonal_linear_nets_are_exact_isometries_at_any_depth() {
    let _g = seed_lock();
    let n = net(Transfer::Linear, WeightDraw::Orthogonal, 1.0, 32);
    tch::manual_seed(5);
    let spectra = jacobian_spectra(&n, &[1, 8, 64], 2).unwrap();
    assert_eq!(spectra.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 8, 64]);
    for (depth, values) in spectra {
        assert_eq!(values.len(), 64);
        for v in values {
            assert!((v - 1.0).abs() < 1e-10, "depth {depth}: σ = {v}");
        }
    }
}

#[test]
fn gaussian_linear_nets_have_mean_lambda2_sigma_w_to_the_2l() {
    let _g = seed_lock();
    // E[tr(JᵀJ)/N] = σ_w^{2L} exactly (E[WᵀW] = σ_w² I): 1 at σ_w² = 1, 1.2⁴ = 2.0736 at 1.2.
    for (sigma_w2, depth) in [(1.0, 8usize), (1.2, 4)] {
        let n = net(Transfer::Linear, WeightDraw::Gaussian, sigma_w2, 64);
        let seeds = 12;
        let mean: f64 = (0..seeds)
            .map(|s| stats(&n, &[depth], 1, s)[0].mean_sq)
            .sum::<f64>()
            / seeds as f64;
        let want = sigma_w2.powi(depth as i32);
        assert!(
            (mean / want - 1.0).abs() < 0.05,
            "σ_w² {sigma_w2}: {mean} vs {want}"
        );
    }
}

#[test]
fn gaussian_spread_grows_with_depth_and_orthogonal_stays_narrow() {
    let _g = seed_lock();
    // Linear Gaussian nets at σ_w² = 1: var λ² ≈ L in the wide limit (Pennington et al. 2017).
    let g = net(Transfer::Linear, WeightDraw::Gaussian, 1.0, 64);
    let (mut shallow, mut deep) = (0.0, 0.0);
    for seed in 0..4 {
        let s = stats(&g, &[2, 32], 2, seed);
        shallow += s[0].var_sq / 4.0;
        deep += s[1].var_sq / 4.0;
    }
    assert!(
        (1.0..3.5).contains(&shallow),
        "var λ² at depth 2: {shallow}"
    );
    assert!(
        deep > 5.0 * shallow,
        "var λ² at depth 32 {deep} vs depth 2 {shallow}"
    );
    // tanh at the critical point: mean λ² near χ₁^L = 1 for both draws, orthogonal far narrower.
    let critical = isometry::critical_sigma_w2().unwrap();
    let [tanh, _] = isometry::cases(critical);
    let plan = isometry::SpectrumPlan {
        width: 128,
        depths: vec![16],
        points: 4,
        seed: 3,
    };
    let rows = isometry::spectrum_rows(&plan, critical).unwrap();
    let at = |w: WeightDraw| {
        rows.iter()
            .find(|r| r.case == tanh && r.weights == w)
            .unwrap()
            .stats
    };
    let (gauss, ortho) = (at(WeightDraw::Gaussian), at(WeightDraw::Orthogonal));
    for s in [gauss, ortho] {
        assert!((0.6..1.6).contains(&s.mean_sq), "mean λ² {}", s.mean_sq);
    }
    // At width 256 the preset measures var λ² 18 against 5 at depth 16, median σ 5e-4 against
    // 0.13, largest σ 6.9 against 4.1.
    assert!(gauss.var_sq > 2.0 * ortho.var_sq, "{gauss:?} vs {ortho:?}");
    assert!(ortho.p50 > 10.0 * gauss.p50, "{gauss:?} vs {ortho:?}");
    assert!(gauss.max > ortho.max, "{gauss:?} vs {ortho:?}");
}

#[test]
fn the_critical_point_is_the_mean_field_root() {
    let gh = GaussHermite::default_rule();
    let root = theory::critical_sigma_w2(&gh, isometry::SIGMA_B2).unwrap();
    let critical = isometry::critical_sigma_w2().unwrap();
    assert_eq!(critical, root);
    assert!((theory::chi1(&gh, critical, isometry::SIGMA_B2).unwrap() - 1.0).abs() < 1e-9);
    assert!((critical - 1.760955).abs() < 1e-6, "{critical}");
    assert_eq!(isometry::cases(critical)[0].sigma_w2, root);
    let [g, o] = isometry::critical_inits().unwrap();
    for (init, orthogonal) in [(g, false), (o, true)] {
        let InitScheme::MeanField(p) = init else {
            panic!("{init}")
        };
        assert_eq!(p.orthogonal, orthogonal);
        assert!((p.sigma_w2() - root).abs() <= 5e-7);
        assert_eq!(p.sigma_b2(), isometry::SIGMA_B2);
    }
    assert_eq!(o.to_string(), "mean-field-orthogonal-w1.760955-b0.05");
}

#[test]
fn isometry_study_runs_small_and_writes_its_files() {
    let _g = seed_lock();
    let data = load_dir(&mnist_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = StudyConfig {
        epochs: Some(2),
        train_limit: Some(200),
        width: Some(8),
        out_dir: dir.path().to_path_buf(),
        ..StudyConfig::new(isometry::STUDY)
    };
    let plan = study::plan_runs(&config, &data).unwrap();
    let executor = Executor {
        data: &data,
        options: ExecOptions::default(),
        stop: None,
    };
    let result = study::run_study(&config, plan, &executor, &mut |_| {}).unwrap();
    assert_eq!(result.parts.iter().map(|(_, r)| r.len()).sum::<usize>(), 6);
    assert_eq!(result.chart, dir.path().join("isometry.png"));
    for f in [
        "isometry.png",
        "isometry.svg",
        "spectrum.csv",
        "training.csv",
        "report.html",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let spectrum = std::fs::read_to_string(dir.path().join("spectrum.csv")).unwrap();
    // 2 nets × 2 draws × 6 depths, and the header.
    assert_eq!(spectrum.lines().count(), 25, "{spectrum}");
    let training = std::fs::read_to_string(dir.path().join("training.csv")).unwrap();
    // 6 runs × 2 epochs of 2 steps each (200 images at batch 100), and the header.
    assert_eq!(training.lines().count(), 13, "{training}");
    assert!(training
        .lines()
        .any(|l| l.starts_with("32,orthogonal,") && l.contains(",4,")));
    let md = std::fs::read_to_string(&result.summary).unwrap();
    assert!(
        md.contains("Command: `initlab study isometry --epochs 2 --train-limit 200 --width 8`"),
        "{md}"
    );
    assert!(md.contains("**σ_w² = 1.760955**"), "{md}");
    assert!(
        md.contains("Pennington, Schoenholz & Ganguli (2017)"),
        "{md}"
    );
    assert!(
        md.contains("| linear, σ_w² = 1.000, σ_b² = 0 | orthogonal | 64 | 1.000 | 0.000 |"),
        "{md}"
    );
    assert!(md.contains("after 4 steps"), "{md}");
}
