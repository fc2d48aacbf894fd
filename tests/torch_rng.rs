//! `torch_rng::bernoulli_into` against libtorch's own `uniform_(0, 1)` then `lt_(p)`: the same
//! samples, bit for bit, and the global generator left in the same state, for sizes on both
//! sides of the Mersenne Twister's 624-word refills, from a fresh seed and from the middle of a
//! stream.

use std::sync::Mutex;

use initlab::base::parity::torch_rng;
use tch::{Device, Kind, Tensor};

/// The global generator is shared by the tests of this binary.
static SEED: Mutex<()> = Mutex::new(());

const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

fn bits(t: &Tensor) -> Vec<u32> {
    let n = t.numel();
    let mut v = vec![0f32; n];
    t.reshape([-1]).copy_data(&mut v, n);
    v.into_iter().map(f32::to_bits).collect()
}

/// Probabilities with exact 0s, exact 1s and values at the 2⁻²⁴ grid (where `u < p` is decided
/// by the last bit), `[n]`.
fn probabilities(n: i64) -> Tensor {
    tch::manual_seed(99);
    let p = Tensor::rand([n], CPU);
    if n >= 30 {
        let _ = p.narrow(0, 0, 10).fill_(0.0);
        let _ = p.narrow(0, 10, 10).fill_(1.0);
        let grid = (Tensor::randint(1 << 24, [10], (Kind::Int64, Device::Cpu))
            .to_kind(Kind::Float)
            / 16_777_216.0)
            .to_kind(Kind::Float);
        p.narrow(0, 20, 10).copy_(&grid);
    }
    p
}

/// Draws `before` values first (to start mid-stream), then the samples, then 700 more uniforms
/// (the state afterwards); by libtorch's ops or by `torch_rng`.
fn run(p: &Tensor, seed: i64, before: i64, ours: bool) -> (Vec<u32>, Vec<u32>) {
    tch::manual_seed(seed);
    if before > 0 {
        let _ = Tensor::rand([before], CPU);
    }
    let mut out = p.empty_like();
    if ours {
        assert!(
            torch_rng::bernoulli_into(p, &mut out),
            "the Rust path was not taken"
        );
    } else {
        let _ = out.uniform_(0.0, 1.0);
        let _ = out.lt_tensor_(p);
    }
    let after = Tensor::rand([700], CPU);
    (bits(&out), bits(&after))
}

#[test]
fn the_path_is_available_with_libtorch_2_13() {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    assert!(torch_rng::available());
    assert_eq!(torch_rng::status(), Ok(()));
}

#[test]
fn samples_and_the_generator_afterwards_match_libtorchs_ops() {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    for n in [1i64, 2, 623, 624, 625, 1248, 1249, 5000, 78_400, 200_003] {
        let p = probabilities(n);
        for (seed, before) in [(0i64, 0i64), (777, 1), (5, 623), (6, 624), (7, 1000)] {
            let (want, want_after) = run(&p, seed, before, false);
            let (got, got_after) = run(&p, seed, before, true);
            assert_eq!(got.len(), n as usize);
            let ones = want.iter().filter(|&&b| b == 1.0f32.to_bits()).count();
            assert!(
                got == want,
                "n = {n}, seed {seed}, {before} draws before: samples differ ({ones} ones wanted)"
            );
            assert!(
                got_after == want_after,
                "n = {n}, seed {seed}, {before} draws before: the generator afterwards differs"
            );
        }
    }
}

#[test]
fn rows_of_a_matrix_are_drawn_in_memory_order() {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    // [300, 512] narrowed to rows 100..200: contiguous views with an offset, as the RBM's
    // workspace hands them over.
    let p = probabilities(300 * 512).reshape([300, 512]);
    let p_rows = p.narrow(0, 100, 100);
    tch::manual_seed(3);
    let want = Tensor::zeros([300, 512], CPU);
    let mut want_rows = want.narrow(0, 100, 100);
    let _ = want_rows.uniform_(0.0, 1.0);
    let _ = want_rows.lt_tensor_(&p_rows);
    tch::manual_seed(3);
    let got = Tensor::zeros([300, 512], CPU);
    let mut got_rows = got.narrow(0, 100, 100);
    assert!(torch_rng::bernoulli_into(&p_rows, &mut got_rows));
    assert_eq!(bits(&got), bits(&want));
}

#[test]
fn other_tensors_are_left_to_libtorch() {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    let p = Tensor::rand([10, 20], CPU);
    // A transposed (non-contiguous) output, a double, a size mismatch: refused, untouched.
    let mut out = Tensor::zeros([20, 10], CPU).tr();
    assert!(!torch_rng::bernoulli_into(&p, &mut out));
    assert_eq!(out.sum(Kind::Float).double_value(&[]), 0.0);
    let mut out = Tensor::zeros([10, 20], (Kind::Double, Device::Cpu));
    assert!(!torch_rng::bernoulli_into(&p, &mut out));
    let mut out = Tensor::zeros([10, 21], CPU);
    assert!(!torch_rng::bernoulli_into(&p, &mut out));
    // And the generator did not move: the next draws are those after the seed.
    tch::manual_seed(11);
    let want = bits(&Tensor::rand([5], CPU));
    tch::manual_seed(11);
    let mut bad = Tensor::zeros([20, 10], CPU).tr();
    assert!(!torch_rng::bernoulli_into(&p, &mut bad));
    assert_eq!(bits(&Tensor::rand([5], CPU)), want);
}

#[test]
fn the_fraction_of_ones_is_the_probability() {
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(1);
    // 10⁶ draws at p = 0.3: the standard error of the mean is 4.6e-4; allow 5 of them.
    let p = Tensor::full([1_000_000], 0.3, CPU);
    let mut out = p.empty_like();
    assert!(torch_rng::bernoulli_into(&p, &mut out));
    let mean = out.mean(Kind::Double).double_value(&[]);
    assert!(
        (mean - 0.3).abs() < 5.0 * (0.3f64 * 0.7 / 1e6).sqrt(),
        "mean {mean}"
    );
}
