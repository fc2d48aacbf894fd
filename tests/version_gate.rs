//! A libtorch of another version than the one initlab's native interfaces are written for,
//! faked through `Switches::libtorch_version` (this test binary's process only): the fast paths
//! are switched off before any mangled name or struct layout is used, libtorch's own operations
//! run with the same bits, and `initlab doctor` says why.

use std::sync::Mutex;

use initlab::base::optim::{fused, AdamConfig, TorchAdam};
use initlab::base::parity::ffi::{self, Off, TorchGenerator};
use initlab::base::parity::torch_rng;
use initlab::base::switches::Switches;
use initlab::engine::doctor::{self, Verdict};
use initlab::pretraining::rbm;
use tch::{Device, Kind, Tensor};

/// The version this process pretends to have.
const FAKED: &str = "2.99.0";

/// The global generator is shared by the tests of this binary.
static SEED: Mutex<()> = Mutex::new(());

const CPU: (Kind, Device) = (Kind::Float, Device::Cpu);

/// Installs the faked version (every test installs the same switches, so the first wins and
/// the others agree with it).
fn fake_version() {
    let switches = Switches {
        libtorch_version: Some(FAKED.into()),
        ..Switches::DEFAULT
    };
    switches.install().expect("no other switches installed");
}

fn bits(t: &Tensor) -> Vec<u32> {
    let n = t.numel();
    let mut v = vec![0f32; n];
    t.reshape([-1]).copy_data(&mut v, n);
    v.into_iter().map(f32::to_bits).collect()
}

#[test]
fn the_gate_closes_and_nothing_is_looked_up() {
    fake_version();
    let mismatch = Off::VersionMismatch(FAKED.into());
    assert_eq!(ffi::version_gate(), Err(mismatch.clone()));
    assert_eq!(TorchGenerator::find().err(), Some(mismatch.clone()));
    assert_eq!(torch_rng::status(), Err(mismatch.clone()));
    assert!(!torch_rng::available());
    assert_eq!(fused::status(), Err(mismatch));
    assert!(!fused::available());
    // The user's switches still count for themselves: fused Adam is allowed, only not possible.
    assert!(fused::enabled());
}

#[test]
fn bernoulli_draws_go_through_libtorch() {
    fake_version();
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(3);
    let p = Tensor::rand([5000], CPU);
    let mut out = p.empty_like();
    tch::manual_seed(4);
    assert!(
        !torch_rng::bernoulli_into(&p, &mut out),
        "the Rust path ran"
    );
    // Nothing drawn: the generator is where the seed put it.
    let first = Tensor::rand([700], CPU);
    tch::manual_seed(4);
    assert_eq!(bits(&first), bits(&Tensor::rand([700], CPU)));
    // RBM sampling falls back to uniform_ then lt_: the same bits as libtorch's bernoulli.
    tch::manual_seed(6);
    let want = p.bernoulli();
    let want_next = Tensor::rand([8], CPU);
    tch::manual_seed(6);
    let got = rbm::bernoulli(&p);
    let got_next = Tensor::rand([8], CPU);
    assert_eq!(bits(&got), bits(&want));
    assert_eq!(bits(&got_next), bits(&want_next));
}

#[test]
fn adam_steps_operation_by_operation_with_the_same_results() {
    fake_version();
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(7);
    let start = Tensor::randn([300, 301], CPU);
    let fresh = || vec![start.copy().set_requires_grad(true)];
    let (a, b) = (fresh(), fresh());
    let config = AdamConfig::default();
    let mut stepped = TorchAdam::new(a.iter().map(Tensor::shallow_clone).collect(), config)
        .expect("valid config");
    let mut reference = TorchAdam::new(b.iter().map(Tensor::shallow_clone).collect(), config)
        .expect("valid config");
    for _ in 0..3 {
        stepped.zero_grad();
        reference.zero_grad();
        let g = Tensor::randn([300, 301], CPU);
        (&a[0] * &g).sum(Kind::Float).backward();
        (&b[0] * &g).sum(Kind::Float).backward();
        stepped.step();
        reference.step_unfused();
        assert_eq!(bits(&a[0]), bits(&b[0]));
    }
    assert!((&a[0] - &start).abs().max().double_value(&[]) > 0.0);
}

#[test]
fn doctor_says_the_fast_paths_are_off_and_why() {
    fake_version();
    let _g = SEED.lock().unwrap_or_else(|e| e.into_inner());
    let report = doctor::examine(None);
    let line = report
        .findings
        .iter()
        .find(|f| f.topic == "speedups")
        .expect("a speedups line");
    assert_eq!(line.verdict, Verdict::Note, "{line:?}");
    let why = format!("version mismatch: libtorch {FAKED}");
    assert!(
        line.value.contains(&format!("fused Adam off: {why}")),
        "{line:?}"
    );
    assert!(
        line.value
            .contains(&format!("Rust Bernoulli draws off: {why}")),
        "{line:?}"
    );
    assert!(
        line.advice
            .as_deref()
            .is_some_and(|a| a.contains(ffi::WRITTEN_FOR)),
        "{line:?}"
    );
}
