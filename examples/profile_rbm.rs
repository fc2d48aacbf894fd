//! Where an RBM epoch spends its time: scikit-learn's algorithm (PCD-1, `RbmConfig::sklearn(0.1,
//! 100)`, 784-512, the 60,000 MNIST training images) with each libtorch call of
//! `RbmTrainer`'s update timed on its own.
//!
//! Usage: `cargo run --release --example profile_rbm [epochs]` (default 2; the first is warm-up,
//! the others are timed and averaged).
//!
//! The update is written out here operation by operation, the same calls in the same order as
//! the trainer's (`src/pretraining/rbm.rs`, `update_loaded`), so that each can be timed; to show
//! that it is the trainer's, the weights after the first epoch are compared with those of
//! `RbmTrainer::train_epoch` from the same start, bit for bit. Prints a Markdown table (ms per
//! batch and share) and the matrix products' GFLOP/s.

use std::time::Instant;

use anyhow::{ensure, Context, Result};
use initlab::base::data;
use initlab::base::parity::torch_rng;
use initlab::pretraining::rbm::{Rbm, RbmConfig, RbmTrainer};
use tch::{Device, Kind, Tensor};

const HIDDEN: i64 = 512;
const BATCH: i64 = 100;
const LR: f64 = 0.1;

const PHASES: [&str; 13] = [
    "batch copy into the workspace",
    "h⁺ = σ(v⁰Wᵀ + c): product [100×784]·[784×512]",
    "h⁺: sigmoid",
    "visible probabilities σ(hW + b): product [100×512]·[512×784]",
    "visible probabilities: sigmoid",
    "v⁻ ~ Bernoulli(visible probabilities)",
    "h⁻ = σ(v⁻Wᵀ + c): product",
    "h⁻: sigmoid",
    "chain ← Bernoulli(h⁻)",
    "visible-bias statistics (two means)",
    "hidden statistics (scale h⁺, h⁻; sum)",
    "ΔW ← αΔW + hsᵀvs: scale, product [512×200]·[200×784]",
    "W += ΔW, biases",
];
/// The phases that are matrix products (for the GFLOP/s line).
const PRODUCTS: [usize; 4] = [1, 3, 6, 11];

/// `out ← 1{u < p}`, as the trainer draws it (the same generator, the same bits).
fn bernoulli_into(p: &Tensor, out: &mut Tensor) {
    if !torch_rng::bernoulli_into(p, out) {
        let _ = out.uniform_(0.0, 1.0);
        let _ = out.lt_tensor_(p);
    }
}

struct State {
    rbm: Rbm,
    weight_inc: Tensor,
    visible_bias_inc: Tensor,
    hidden_bias_inc: Tensor,
    chain: Tensor,
    vs: Tensor,
    hs: Tensor,
    pv: Tensor,
}

impl State {
    fn new(train: &Tensor, config: &RbmConfig) -> Result<Self> {
        let opts = (Kind::Float, Device::Cpu);
        tch::manual_seed(0);
        let rbm = Rbm::for_data(train, HIDDEN, config)?;
        Ok(State {
            rbm,
            weight_inc: Tensor::zeros([HIDDEN, 784], opts),
            visible_bias_inc: Tensor::zeros([784], opts),
            hidden_bias_inc: Tensor::zeros([HIDDEN], opts),
            chain: Tensor::zeros([BATCH, HIDDEN], opts),
            vs: Tensor::zeros([2 * BATCH, 784], opts),
            hs: Tensor::zeros([2 * BATCH, HIDDEN], opts),
            pv: Tensor::zeros([BATCH, 784], opts),
        })
    }

    /// One PCD-1 update on `batch` (`[100, 784]`), adding each phase's seconds to `t`.
    fn update(&mut self, batch: &Tensor, t: &mut [f64; PHASES.len()]) {
        let momentum = 0.0;
        let mut clock = Instant::now();
        let mut lap = |i: usize| {
            t[i] += clock.elapsed().as_secs_f64();
            clock = Instant::now();
        };
        let w = &self.rbm.weight;
        // [200, 784], [200, 512]
        let (vs, hs) = (&self.vs, &self.hs);
        let v0 = vs.narrow(0, 0, BATCH);
        let mut v_neg = vs.narrow(0, BATCH, BATCH);
        let mut h_pos = hs.narrow(0, 0, BATCH);
        let mut h_neg = hs.narrow(0, BATCH, BATCH);
        let mut v0_rows = v0.shallow_clone();
        v0_rows.copy_(batch);
        lap(0);
        let _ = self.rbm.hidden_bias.addmm_out(&h_pos, &v0, &w.tr());
        lap(1);
        let _ = h_pos.sigmoid_();
        lap(2);
        let _ = self.rbm.visible_bias.addmm_out(&self.pv, &self.chain, w);
        lap(3);
        let _ = self.pv.sigmoid_();
        lap(4);
        bernoulli_into(&self.pv, &mut v_neg);
        lap(5);
        let _ = self.rbm.hidden_bias.addmm_out(&h_neg, &v_neg, &w.tr());
        lap(6);
        let _ = h_neg.sigmoid_();
        lap(7);
        bernoulli_into(&h_neg, &mut self.chain);
        lap(8);
        let grad_b =
            (v0.mean_dim(0, false, Kind::Float) - v_neg.mean_dim(0, false, Kind::Float)) * LR;
        lap(9);
        let _ = h_pos.g_mul_scalar_(LR / BATCH as f64);
        let _ = h_neg.g_mul_scalar_(-LR / BATCH as f64);
        let grad_c = hs.sum_dim_intlist(0, false, Kind::Float);
        lap(10);
        let _ = self.weight_inc.g_mul_scalar_(momentum);
        let _ = self.weight_inc.addmm_(&hs.tr(), vs);
        lap(11);
        let _ = self.visible_bias_inc.g_mul_scalar_(momentum);
        let _ = self.visible_bias_inc.g_add_(&grad_b);
        let _ = self.hidden_bias_inc.g_mul_scalar_(momentum);
        let _ = self.hidden_bias_inc.g_add_(&grad_c);
        let _ = self.rbm.weight.g_add_(&self.weight_inc);
        let _ = self.rbm.visible_bias.g_add_(&self.visible_bias_inc);
        let _ = self.rbm.hidden_bias.g_add_(&self.hidden_bias_inc);
        lap(12);
    }

    fn epoch(&mut self, train: &Tensor, t: &mut [f64; PHASES.len()]) {
        let batches = train.size()[0] / BATCH;
        tch::no_grad(|| {
            for b in 0..batches {
                self.update(&train.narrow(0, b * BATCH, BATCH), t);
            }
        });
    }
}

/// The best GFLOP/s of `n` 2048×2048 sgemms through libtorch (after one warm-up product).
fn sgemm_best(n: usize) -> f64 {
    let size = 2048i64;
    let a = Tensor::randn([size, size], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([size, size], (Kind::Float, Device::Cpu));
    let _ = a.matmul(&b);
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let _ = a.matmul(&b);
            2.0 * (size as f64).powi(3) / t.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn main() -> Result<()> {
    // INITLAB_ADAM, INITLAB_ADAM_THREADS, INITLAB_RNG: read once, as the binary does.
    let _ = initlab::base::switches::Switches::from_env()?.install();
    let epochs: usize = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|&n| n >= 2)
            .with_context(|| format!("epochs must be an integer of at least 2, got {s:?}"))?,
        None => 2,
    };
    let mnist = data::mnist::load_dir(&data::mnist::bundled_dir())?;
    // [60000, 784]
    let train = mnist.train.images_unit();
    let config = RbmConfig::sklearn(LR, BATCH);

    // The trainer's first epoch, for the check.
    let mut trainer_rbm = {
        tch::manual_seed(0);
        Rbm::for_data(&train, HIDDEN, &config)?
    };
    let mut trainer = RbmTrainer::new(&trainer_rbm, &config)?;
    trainer.train_epoch(&mut trainer_rbm, &train, &mut |_, _| {})?;

    let mut state = State::new(&train, &config)?;
    let mut warmup = [0.0; PHASES.len()];
    state.epoch(&train, &mut warmup);
    let same = state.rbm.weight.equal(&trainer_rbm.weight)
        && state.rbm.hidden_bias.equal(&trainer_rbm.hidden_bias)
        && state.rbm.visible_bias.equal(&trainer_rbm.visible_bias);
    ensure!(
        same,
        "this profile's update no longer matches RbmTrainer's: update examples/profile_rbm.rs"
    );

    let mut t = [0.0; PHASES.len()];
    for _ in 1..epochs {
        state.epoch(&train, &mut t);
    }
    let batches = (train.size()[0] / BATCH) as f64 * (epochs - 1) as f64;
    let total: f64 = t.iter().sum();
    println!(
        "RBM 784-{HIDDEN}, PCD-1 with scikit-learn's settings, batch {BATCH}; {} epoch(s) after one of warm-up; \
         libtorch threads {}; Bernoulli draws in Rust: {}",
        epochs - 1,
        tch::get_num_threads(),
        torch_rng::available()
    );
    println!("the profiled update equals RbmTrainer's, bit for bit, after an epoch: yes");
    println!("| phase | ms per batch | share |");
    println!("|---|---:|---:|");
    for (name, s) in PHASES.iter().zip(&t) {
        println!(
            "| {name} | {:.3} | {:.1} % |",
            s / batches * 1e3,
            100.0 * s / total
        );
    }
    println!(
        "| **batch, all phases** | **{:.3}** | 100 % |",
        total / batches * 1e3
    );
    let product_seconds: f64 = PRODUCTS.iter().map(|&i| t[i]).sum();
    // Three products of 2·100·784·512 and one of 2·512·200·784 per batch.
    let flops = (3.0 * 2.0 * 100.0 * 784.0 * 512.0 + 2.0 * 512.0 * 200.0 * 784.0) * batches;
    let rate = flops / product_seconds / 1e9;
    let sgemm = sgemm_best(3);
    println!(
        "epoch {:.2} s; matrix products {:.2} s of it ({:.0} %), {rate:.0} GFLOP/s = {:.2} of sgemm 2048² \
         in this process right after ({sgemm:.0} GFLOP/s, best of 3)",
        total / (epochs - 1) as f64,
        product_seconds / (epochs - 1) as f64,
        100.0 * product_seconds / total,
        rate / sgemm
    );
    Ok(())
}
