//! The fused Adam step (`initlab::base::optim::fused`) against the operation-by-operation step that
//! mirrors `torch.optim.Adam`: the same bits in every parameter and every moment, over more than a
//! million elements, many steps, weight decay and AMSGrad on and off, both lerp branches.

use initlab::base::optim::{fused, AdamConfig, TorchAdam};
use tch::{Device, Kind, Tensor};

/// Shapes covering a large matrix, odd lengths (every tail of a 1024-element block and of 8- or
/// 16-wide vectors) and a single element.
const SHAPES: [&[i64]; 5] = [&[1000, 1003], &[37], &[5003], &[1], &[64, 17]];

fn bits(t: &Tensor) -> Vec<u32> {
    Vec::<f32>::try_from(t.reshape([-1]))
        .expect("f32 values")
        .into_iter()
        .map(f32::to_bits)
        .collect()
}

/// Gradients of widely spread magnitudes (1e-7 to 10, some exactly zero).
fn gradient(shape: &[i64]) -> Tensor {
    let opts = (Kind::Float, Device::Cpu);
    let scale = ((Tensor::rand(shape, opts) * 8.0 - 7.0) * std::f64::consts::LN_10).exp();
    let zero = Tensor::rand(shape, opts).lt(0.05);
    (Tensor::randn(shape, opts) * scale).masked_fill(&zero, 0.0)
}

fn same(what: &str, a: &Tensor, b: &Tensor) {
    let (x, y) = (bits(a), bits(b));
    let differ = x.iter().zip(&y).filter(|(p, q)| p != q).count();
    let first = x.iter().zip(&y).position(|(p, q)| p != q);
    assert_eq!(
        differ,
        0,
        "{what}: {differ} of {} elements differ (first at {first:?})",
        x.len()
    );
}

/// `fused::set_threads` is one setting for the process: the tests that change it take turns.
static THREADS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn check(config: AdamConfig, steps: usize) {
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(7);
    let opts = (Kind::Float, Device::Cpu);
    let start: Vec<Tensor> = SHAPES.iter().map(|s| Tensor::randn(*s, opts)).collect();
    let fresh = || -> Vec<Tensor> {
        start
            .iter()
            .map(|t| t.copy().set_requires_grad(true))
            .collect()
    };
    let (a, b) = (fresh(), fresh());
    let shallow = |v: &[Tensor]| v.iter().map(Tensor::shallow_clone).collect::<Vec<_>>();
    let mut fused_opt = TorchAdam::new(shallow(&a), config).expect("valid config");
    let mut reference = TorchAdam::new(shallow(&b), config).expect("valid config");
    for step in 1..=steps {
        fused_opt.zero_grad();
        reference.zero_grad();
        for ((pa, pb), shape) in a.iter().zip(&b).zip(SHAPES) {
            let g = gradient(shape);
            // ∂/∂p Σ p·g = g exactly.
            (pa * &g).sum(Kind::Float).backward();
            (pb * &g).sum(Kind::Float).backward();
        }
        // Alternately one thread and two (the second on libtorch's OpenMP worker): the same bits.
        fused::set_threads(1 + step % 2);
        fused_opt.step();
        reference.step_unfused();
        for (i, (pa, pb)) in a.iter().zip(&b).enumerate() {
            same(&format!("{config:?} step {step}: parameter {i}"), pa, pb);
        }
    }
    let (sa, sb) = (fused_opt.state(), reference.state());
    assert_eq!(sa.step, sb.step);
    for i in 0..SHAPES.len() {
        same("exp_avg", &sa.exp_avg[i], &sb.exp_avg[i]);
        same("exp_avg_sq", &sa.exp_avg_sq[i], &sb.exp_avg_sq[i]);
    }
    assert_eq!(sa.max_exp_avg_sq.len(), sb.max_exp_avg_sq.len());
    for (x, y) in sa.max_exp_avg_sq.iter().zip(&sb.max_exp_avg_sq) {
        same("max_exp_avg_sq", x, y);
    }
    // The fused step moved the parameters at all (a step that did nothing would also "match"
    // a reference that did nothing).
    let moved = (&a[0] - &start[0]).abs().max().double_value(&[]);
    assert!(moved > 0.0, "{config:?}: the parameters did not move");
}

#[test]
fn the_fused_step_is_available_with_this_libtorch() {
    // libtorch 2.13's CPU build carries oneMKL; without it every other test here would compare
    // the reference with itself.
    assert!(
        fused::available(),
        "oneMKL's vmsSqrt was not found in the process"
    );
    // Nor switched off: this libtorch is the version the roundings were measured on.
    assert_eq!(fused::status(), Ok(()));
}

#[test]
fn two_threads_are_the_default_with_two_libtorch_threads() {
    let _turn = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    fused::set_threads(0);
    let want = tch::get_num_threads().clamp(1, 2) as usize;
    assert_eq!(fused::threads_in_use(), want);
    fused::set_threads(1);
    assert_eq!(fused::threads_in_use(), 1);
    fused::set_threads(0);
}

#[test]
fn fused_adam_matches_the_reference_with_the_labs_settings() {
    check(AdamConfig::default(), 12);
}

#[test]
fn fused_adam_matches_with_weight_decay() {
    check(
        AdamConfig {
            weight_decay: 0.01,
            lr: 0.01,
            ..AdamConfig::default()
        },
        10,
    );
}

#[test]
fn fused_adam_matches_with_amsgrad_and_both() {
    check(
        AdamConfig {
            amsgrad: true,
            ..AdamConfig::default()
        },
        10,
    );
    check(
        AdamConfig {
            amsgrad: true,
            weight_decay: 1e-4,
            ..AdamConfig::default()
        },
        6,
    );
}

#[test]
fn fused_adam_matches_on_the_other_lerp_branch() {
    // 1 − β1 ≥ 0.5: ATen interpolates from the end (`fma(w − 1, g − m, g)`).
    for beta1 in [0.3, 0.5] {
        check(
            AdamConfig {
                beta1,
                beta2: 0.99,
                eps: 1e-6,
                ..AdamConfig::default()
            },
            6,
        );
    }
}
