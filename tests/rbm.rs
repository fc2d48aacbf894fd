//! RBMs and DBNs: exact conditionals and free energy on a hand-computed 2×2 RBM, exact CD updates
//! with momentum and weight decay, the trainer's in-place updates equal to the plain op-by-op ones
//! bit for bit, CD-1 and PCD-1 learning bars-and-stripes, DBN save/load and MLP initialization, a
//! short MNIST smoke run and the pictures.

mod common;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::{
    model::{Mlp, MlpSpec, Widths},
    scheme::{Activation, InitScheme},
};
use initlab::pretraining::dbn::{self, Dbn};
use initlab::pretraining::rbm::{self, Rbm, RbmConfig, RbmTrainer, VisibleBiasInit};
use initlab::pretraining::rbm_plot;
use tch::{Kind, Tensor};

fn t2(rows: &[&[f32]]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, rows[0].len() as i64])
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, want {w}");
    }
}

/// The hand-worked RBM: V = 2, H = 2,
/// W = [[1, −1], [0.5, 2]] (rows = hidden units), b = [0.5, −1], c = [−1, 0].
fn tiny() -> Rbm {
    Rbm::from_tensors(
        t2(&[&[1.0, -1.0], &[0.5, 2.0]]),
        Tensor::from_slice(&[0.5f32, -1.0]),
        Tensor::from_slice(&[-1.0f32, 0.0]),
    )
    .unwrap()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn conditionals_and_free_energy_of_a_hand_computed_rbm() {
    let rbm = tiny();
    assert_eq!((rbm.n_visible(), rbm.n_hidden()), (2, 2));
    let v = t2(&[&[1.0, 0.0], &[0.0, 1.0]]);
    // p(h|v) = σ(Wv + c):
    //   v = (1,0): a = (1 − 1, 0.5 + 0) = (0, 0.5)  → (0.5, σ(0.5) = 0.6224593)
    //   v = (0,1): a = (−1 − 1, 2 + 0) = (−2, 2)    → (0.1192029, 0.8807971)
    assert_close(
        &values(&rbm.hidden_probs(&v)),
        &[0.5, 0.622_459_331, 0.119_202_922, 0.880_797_078],
        1e-6,
        "p(h|v)",
    );
    // p(v|h) = σ(hW + b):
    //   h = (1,0): (1 + 0.5, −1 − 1) = (1.5, −2)         → (0.8175745, 0.1192029)
    //   h = (1,1): (1 + 0.5 + 0.5, −1 + 2 − 1) = (2, 0)   → (0.8807971, 0.5)
    let h = t2(&[&[1.0, 0.0], &[1.0, 1.0]]);
    assert_close(
        &values(&rbm.visible_probs(&h)),
        &[0.817_574_476, 0.119_202_922, 0.880_797_078, 0.5],
        1e-6,
        "p(v|h)",
    );
    // F(v) = −bᵀv − Σ_j log(1 + e^{a_j}):
    //   (1,0): −0.5 − (log 2 + log(1 + e^0.5)) = −0.5 − 0.6931472 − 0.9740770 = −2.1672242
    //   (0,1): 1 − (log(1 + e^−2) + log(1 + e^2)) = 1 − 0.1269280 − 2.1269280 = −1.2538560
    //   (0,0): −(log(1 + e^−1) + log 2) = −1.0064089
    //   (1,1): −0.5 + 1 − (log(1 + e^0) + log(1 + e^2.5)) = −2.3921514
    let all = t2(&[&[1.0, 0.0], &[0.0, 1.0], &[0.0, 0.0], &[1.0, 1.0]]);
    let f = values(&rbm.free_energy(&all));
    assert_close(
        &f,
        &[
            -2.167_224_165,
            -1.253_856_022,
            -1.006_408_868,
            -2.392_151_422,
        ],
        1e-5,
        "F(v)",
    );
    // …and F really is −log Σ_h e^{−E(v,h)}, E = −bᵀv − cᵀh − hᵀWv, by enumerating the 4 h.
    let (w, b, c): ([[f64; 2]; 2], [f64; 2], [f64; 2]) =
        ([[1.0, -1.0], [0.5, 2.0]], [0.5, -1.0], [-1.0, 0.0]);
    for (row, vv) in [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]]
        .iter()
        .enumerate()
    {
        let mut z = 0.0f64;
        for hh in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] {
            let mut e = -(b[0] * vv[0] + b[1] * vv[1]) - (c[0] * hh[0] + c[1] * hh[1]);
            for j in 0..2 {
                for i in 0..2 {
                    e -= hh[j] * w[j][i] * vv[i];
                }
            }
            z += (-e).exp();
        }
        assert!(
            (f[row] + z.ln()).abs() < 1e-5,
            "F row {row}: {} vs {}",
            f[row],
            -z.ln()
        );
    }
}

#[test]
fn pseudo_likelihood_is_sklearns_estimator_and_an_exact_conditional() {
    let rbm = tiny();
    let v = t2(&[&[1.0, 0.0], &[0.0, 1.0]]);
    // Row 0 flips unit 0: ṽ = (0,0), F(ṽ) − F(v) = −1.0064089 + 2.1672242 = 1.1608153,
    //   V·log σ(1.1608153) = 2 · (−0.2724903) = −0.5449806.
    // Row 1 flips unit 0: ṽ = (1,1), F(ṽ) − F(v) = −2.3921514 + 1.2538560 = −1.1382954,
    //   2 · log σ(−1.1382954) = −2.8324067.
    let units = Tensor::from_slice(&[0i64, 0]);
    let pll = values(&rbm.pseudo_log_likelihood_flipping(&v, &units).unwrap());
    assert_close(&pll, &[-0.544_980_570, -2.832_406_697], 1e-5, "PLL");
    // p(v_i | v_−i) by brute force over the joint: e^{−F(v)} / (e^{−F(v)} + e^{−F(ṽ)}).
    let f = values(&rbm.free_energy(&t2(&[&[1.0, 0.0], &[0.0, 0.0]])));
    let p = (-f[0]).exp() / ((-f[0]).exp() + (-f[1]).exp());
    assert!((pll[0] - 2.0 * p.ln()).abs() < 1e-5);
    // Grey values are flipped to 1 − x, as scikit-learn does (no binarization):
    // v = (0.25, 0.5) flipping unit 1 gives (0.25, 0.5) again, so F(ṽ) − F(v) = 0 → 2·log ½.
    let grey = t2(&[&[0.25, 0.5]]);
    let same = values(
        &rbm.pseudo_log_likelihood_flipping(&grey, &Tensor::from_slice(&[1i64]))
            .unwrap(),
    );
    assert_close(&same, &[2.0 * 0.5f64.ln()], 1e-6, "PLL at x = 0.5");
    // Flipping unit 0 (0.25 → 0.75) equals the free-energy difference computed directly.
    let flipped = values(&rbm.free_energy(&t2(&[&[0.75, 0.5], &[0.25, 0.5]])));
    let want = 2.0 * sigmoid(flipped[0] - flipped[1]).ln();
    let got = values(
        &rbm.pseudo_log_likelihood_flipping(&grey, &Tensor::from_slice(&[0i64]))
            .unwrap(),
    );
    assert_close(&got, &[want], 1e-5, "PLL of a grey value");
    // Bad inputs are errors, not panics.
    assert!(rbm
        .pseudo_log_likelihood_flipping(&v, &Tensor::from_slice(&[0i64, 2]))
        .is_err());
    let e = rbm
        .pseudo_log_likelihood(&t2(&[&[1.0, 0.0, 1.0]]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 units") && e.contains("2 visible"), "{e}");
    assert!(rbm.reconstruction_error(&v.to_kind(Kind::Double)).is_err());
}

#[test]
fn cd1_update_is_exact_with_momentum_and_weight_decay() {
    let _g = seed_lock();
    tch::manual_seed(0);
    // W = 0, c = (100, −100): p(h|v) is exactly (1, 0) in f32, so the hidden sample is certain
    // and the whole update is deterministic. b = (0, log 3): p(v|h=(1,0)) = σ(b + W₀·).
    let mut rbm = Rbm::from_tensors(
        Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu)),
        Tensor::from_slice(&[0.0f32, 3f32.ln()]),
        Tensor::from_slice(&[100.0f32, -100.0]),
    )
    .unwrap();
    let config = RbmConfig {
        learning_rate: 0.1,
        weight_decay: 0.01,
        ..RbmConfig::default()
    };
    let mut trainer = RbmTrainer::new(&rbm, &config).unwrap();
    let v0 = t2(&[&[1.0, 0.0], &[1.0, 1.0]]); // ⟨v⁰⟩ = (1, 0.5)
    let (eps, lambda) = (0.1f64, 0.01f64);

    // Update 1 (momentum 0.5, buffers 0, W = 0 so no decay term):
    //   v⁻ = σ(b) = (0.5, 0.75) in both rows, h⁺ = h⁻ = (1, 0)
    //   ΔW₀ = ε((1, 0.5) − (0.5, 0.75)) = (0.05, −0.025), ΔW₁ = 0; Δb = (0.05, −0.025); Δc = 0
    trainer.update(&mut rbm, &v0, 0.5).unwrap();
    assert_close(
        &values(&rbm.weight),
        &[0.05, -0.025, 0.0, 0.0],
        1e-7,
        "W after 1",
    );
    let b1 = [0.05, 3f64.ln() - 0.025];
    assert_close(&values(&rbm.visible_bias), &b1, 1e-6, "b after 1");
    assert_close(
        &values(&rbm.hidden_bias),
        &[100.0, -100.0],
        1e-7,
        "c after 1",
    );

    // Update 2 (momentum 0.5): v⁻ = σ(b + W₀·)
    //   ΔW₀ ← 0.5·ΔW₀ + ε(⟨v⁰⟩ − v⁻ − λW₀), Δb ← 0.5·Δb + ε(⟨v⁰⟩ − v⁻)
    let w1 = [0.05, -0.025];
    let vneg = [sigmoid(b1[0] + w1[0]), sigmoid(b1[1] + w1[1])];
    let mean = [1.0, 0.5];
    let mut w2 = [0.0; 2];
    let mut b2 = [0.0; 2];
    for i in 0..2 {
        let inc_w = 0.5 * w1[i] + eps * (mean[i] - vneg[i] - lambda * w1[i]);
        w2[i] = w1[i] + inc_w;
        let inc_b = 0.5 * (b1[i] - [0.0, 3f64.ln()][i]) + eps * (mean[i] - vneg[i]);
        b2[i] = b1[i] + inc_b;
    }
    trainer.update(&mut rbm, &v0, 0.5).unwrap();
    assert_close(
        &values(&rbm.weight),
        &[w2[0], w2[1], 0.0, 0.0],
        1e-6,
        "W after 2",
    );
    assert_close(&values(&rbm.visible_bias), &b2, 1e-6, "b after 2");

    // A batch of the wrong width is an error.
    assert!(trainer
        .update(&mut rbm, &t2(&[&[1.0, 0.0, 1.0]]), 0.5)
        .is_err());
}

/// Bit patterns of an `f32` tensor, for exact comparisons.
fn bits(t: &Tensor) -> Vec<u32> {
    Vec::<f32>::try_from(t.flatten(0, -1))
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

/// `got` and `want` hold the same `f32` bit patterns; on failure says how many differ and where
/// the first is (not the whole tensors).
fn assert_same_bits(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.size(), want.size(), "{what}: shapes");
    let (g, w) = (bits(got), bits(want));
    let differ: Vec<usize> = (0..g.len()).filter(|&i| g[i] != w[i]).collect();
    if let Some(&i) = differ.first() {
        panic!(
            "{what}: {} of {} values differ, the first at flat index {i}: {} vs {}",
            differ.len(),
            g.len(),
            f32::from_bits(g[i]),
            f32::from_bits(w[i])
        );
    }
}

#[test]
fn bernoulli_draws_what_libtorchs_bernoulli_draws() {
    let _g = seed_lock();
    tch::manual_seed(5);
    // [37, 53]: probabilities with exact 0s and 1s among them.
    let p = Tensor::rand([37, 53], (Kind::Float, tch::Device::Cpu));
    let _ = p.narrow(0, 0, 3).fill_(0.0);
    let _ = p.narrow(0, 3, 3).fill_(1.0);
    tch::manual_seed(6);
    let want = p.bernoulli();
    let want_next = Tensor::rand([8], (Kind::Float, tch::Device::Cpu));
    tch::manual_seed(6);
    let got = rbm::bernoulli(&p);
    let got_next = Tensor::rand([8], (Kind::Float, tch::Device::Cpu));
    assert_eq!(got.kind(), Kind::Float);
    assert_same_bits(&got, &want, "the samples");
    assert_same_bits(&got_next, &want_next, "the generator afterwards");
}

/// The CD/PCD update written the plain way, op by op, as `RbmTrainer` first did it: fresh
/// tensors, `Tensor::bernoulli`, `hs = cat(h⁺·ε/B⁺, −h⁻·ε/B⁻)`, `vs = cat(v⁰, v⁻)`,
/// `ΔW ← αΔW + (−ελW) + hsᵀvs`. The trainer's in-place version must give the same bits.
struct TextbookTrainer {
    config: RbmConfig,
    epochs_done: usize,
    weight_inc: Tensor,
    visible_bias_inc: Tensor,
    hidden_bias_inc: Tensor,
    chain: Option<Tensor>,
}

impl TextbookTrainer {
    fn new(rbm: &Rbm, config: &RbmConfig) -> Self {
        TextbookTrainer {
            config: config.clone(),
            epochs_done: 0,
            weight_inc: rbm.weight.zeros_like(),
            visible_bias_inc: rbm.visible_bias.zeros_like(),
            hidden_bias_inc: rbm.hidden_bias.zeros_like(),
            chain: config.persistent.then(|| {
                Tensor::zeros(
                    [config.batch_size, rbm.n_hidden()],
                    (Kind::Float, tch::Device::Cpu),
                )
            }),
        }
    }

    fn update(&mut self, rbm: &mut Rbm, v0: &Tensor, momentum: f64) {
        let _g = tch::no_grad_guard();
        let cfg = &self.config;
        let lr = cfg.learning_rate;
        let h_pos = rbm.hidden_probs(v0);
        let mut h = match &self.chain {
            Some(chain) => chain.shallow_clone(),
            None => h_pos.bernoulli(),
        };
        let (mut v_neg, mut h_neg) = (Tensor::new(), Tensor::new());
        for step in 1..=cfg.cd_k {
            let pv = rbm.visible_probs(&h);
            v_neg = if cfg.sample_visible || self.chain.is_some() {
                pv.bernoulli()
            } else {
                pv
            };
            h_neg = rbm.hidden_probs(&v_neg);
            if step < cfg.cd_k {
                h = h_neg.bernoulli();
            }
        }
        if let Some(chain) = self.chain.as_mut() {
            *chain = h_neg.bernoulli();
        }
        let (n_pos, n_neg) = (v0.size()[0] as f64, v_neg.size()[0] as f64);
        let hs = Tensor::cat(&[&h_pos * (lr / n_pos), &h_neg * (-lr / n_neg)], 0);
        let vs = Tensor::cat(&[v0, &v_neg], 0);
        let grad_c = hs.sum_dim_intlist(0, false, Kind::Float);
        let grad_b =
            (v0.mean_dim(0, false, Kind::Float) - v_neg.mean_dim(0, false, Kind::Float)) * lr;
        let _ = self.weight_inc.g_mul_scalar_(momentum);
        if cfg.weight_decay > 0.0 {
            let _ = self
                .weight_inc
                .g_add_(&(&rbm.weight * (-lr * cfg.weight_decay)));
        }
        let _ = self.weight_inc.addmm_(&hs.tr(), &vs);
        let _ = self.visible_bias_inc.g_mul_scalar_(momentum);
        let _ = self.visible_bias_inc.g_add_(&grad_b);
        let _ = self.hidden_bias_inc.g_mul_scalar_(momentum);
        let _ = self.hidden_bias_inc.g_add_(&grad_c);
        let _ = rbm.weight.g_add_(&self.weight_inc);
        let _ = rbm.visible_bias.g_add_(&self.visible_bias_inc);
        let _ = rbm.hidden_bias.g_add_(&self.hidden_bias_inc);
    }

    fn train_epoch(&mut self, rbm: &mut Rbm, data: &Tensor) {
        self.epochs_done += 1;
        let momentum = self.config.momentum(self.epochs_done);
        let (n, bs) = (data.size()[0], self.config.batch_size);
        let order = self
            .config
            .shuffle
            .then(|| Tensor::randperm(n, (Kind::Int64, tch::Device::Cpu)));
        for start in (0..n).step_by(bs as usize) {
            let len = bs.min(n - start);
            let batch = match &order {
                Some(perm) => data.index_select(0, &perm.narrow(0, start, len)),
                None => data.narrow(0, start, len),
            };
            self.update(rbm, &batch, momentum);
        }
    }
}

#[test]
fn trainer_gives_the_textbook_updates_bit_for_bit() {
    let _g = seed_lock();
    let mnist = load_dir(&mnist_dir()).unwrap();
    // [250, 784]: batches of 100, 100 and 50 (64, 64, 64 and 58), so the last batch of PCD is
    // smaller than its chain.
    let data = mnist.train.take(250).images_unit();
    let guide = RbmConfig {
        momentum_epochs: 1,
        ..RbmConfig::default()
    };
    let configs = [
        ("Guide CD-1", guide.clone(), 50),
        (
            "CD-2, sampled visible states",
            RbmConfig {
                cd_k: 2,
                sample_visible: true,
                ..guide.clone()
            },
            50,
        ),
        ("scikit-learn PCD-1", RbmConfig::sklearn(0.1, 100), 64),
        (
            "PCD-3, batch 64, weight decay, shuffled",
            RbmConfig {
                cd_k: 3,
                persistent: true,
                batch_size: 64,
                ..guide.clone()
            },
            37,
        ),
    ];
    for (name, config, hidden) in configs {
        tch::manual_seed(11);
        let start = Rbm::for_data(&data, hidden, &config).unwrap();
        // Two epochs and one more update on a batch of 30 rows, then the generator's next draw.
        let extra = data.narrow(0, 7, 30);
        let run_trainer = || {
            let mut rbm = start.copy();
            let mut trainer = RbmTrainer::new(&rbm, &config).unwrap();
            tch::manual_seed(12);
            for _ in 0..2 {
                trainer
                    .train_epoch(&mut rbm, &data, &mut |_, _| {})
                    .unwrap();
            }
            trainer.update(&mut rbm, &extra, 0.7).unwrap();
            (rbm, Tensor::rand([8], (Kind::Float, tch::Device::Cpu)))
        };
        let run_textbook = || {
            let mut rbm = start.copy();
            let mut trainer = TextbookTrainer::new(&rbm, &config);
            tch::manual_seed(12);
            for _ in 0..2 {
                trainer.train_epoch(&mut rbm, &data);
            }
            trainer.update(&mut rbm, &extra, 0.7);
            (rbm, Tensor::rand([8], (Kind::Float, tch::Device::Cpu)))
        };
        let (got, got_next) = run_trainer();
        let (want, want_next) = run_textbook();
        assert_ne!(bits(&got.weight), bits(&start.weight), "{name}: trained");
        assert_same_bits(&got.weight, &want.weight, &format!("{name}: W"));
        assert_same_bits(&got.visible_bias, &want.visible_bias, &format!("{name}: b"));
        assert_same_bits(&got.hidden_bias, &want.hidden_bias, &format!("{name}: c"));
        assert_same_bits(&got_next, &want_next, &format!("{name}: generator"));
    }
}

/// The 30 distinct 4×4 bars-and-stripes images (MacKay 2003): every subset of columns on, or
/// every subset of rows on (all-off and all-on counted once).
fn bars_and_stripes() -> Tensor {
    let mut images: Vec<[f32; 16]> = Vec::new();
    for mask in 0..16u32 {
        for vertical in [true, false] {
            let mut img = [0f32; 16];
            for (p, px) in img.iter_mut().enumerate() {
                let line = if vertical { p % 4 } else { p / 4 };
                *px = ((mask >> line) & 1) as f32;
            }
            if !images.contains(&img) {
                images.push(img);
            }
        }
    }
    assert_eq!(images.len(), 30);
    let flat: Vec<f32> = images.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).view([30, 16])
}

/// The full pseudo-log-likelihood Σ_i log p(v_i | v_−i), averaged over rows (every unit flipped
/// in turn; deterministic).
fn exact_pll(rbm: &Rbm, v: &Tensor) -> f64 {
    let n = v.size()[0];
    let (nv, mut total) = (rbm.n_visible(), 0.0);
    for i in 0..nv {
        let units = Tensor::full([n], i, (Kind::Int64, tch::Device::Cpu));
        let pll = rbm.pseudo_log_likelihood_flipping(v, &units).unwrap(); // V·log p(v_i|v_−i)
        total += pll.mean(Kind::Double).double_value(&[]) / nv as f64;
    }
    total
}

/// Mean-field reconstruction error (h = p(h|v), no sampling): a deterministic monitor.
fn mean_field_error(rbm: &Rbm, v: &Tensor) -> f64 {
    let r = rbm.visible_probs(&rbm.hidden_probs(v));
    (v - r).square().mean(Kind::Double).double_value(&[])
}

/// Exact mean log-likelihood of the rows of `v` under a 16-visible-unit RBM:
/// `log p(v) = −F(v) − log Z`, `Z = Σ_v e^{−F(v)}` over all 2¹⁶ visible vectors (in f64).
fn exact_log_likelihood(rbm: &Rbm, v: &Tensor) -> f64 {
    assert_eq!(rbm.n_visible(), 16);
    let all: Vec<f64> = (0..1u32 << 16)
        .flat_map(|m| (0..16).map(move |i| ((m >> i) & 1) as f64))
        .collect();
    let all = Tensor::from_slice(&all).view([1 << 16, 16]); // [65536, 16]
    let double = Rbm {
        weight: rbm.weight.to_kind(Kind::Double),
        visible_bias: rbm.visible_bias.to_kind(Kind::Double),
        hidden_bias: rbm.hidden_bias.to_kind(Kind::Double),
    };
    let free = |x: &Tensor| {
        let vb = x.mv(&double.visible_bias); // [n]
        let a = double.hidden_bias.addmm(x, &double.weight.tr()); // [n, H]
        -vb - a.softplus().sum_dim_intlist(1, false, Kind::Double) // [n]
    };
    let log_z = free(&all).neg().logsumexp(0, false).double_value(&[]);
    free(&v.to_kind(Kind::Double))
        .neg()
        .mean(Kind::Double)
        .double_value(&[])
        - log_z
}

struct Learned {
    error: (f64, f64),
    pll: (f64, f64),
    ll: (f64, f64),
}

/// Trains a 16-16 RBM on 10 copies of bars-and-stripes (30 batches of 10 per epoch) and measures
/// the deterministic monitors on the 30 patterns before and after.
fn learn_bars_and_stripes(config: &RbmConfig, epochs: usize) -> Learned {
    let _g = seed_lock();
    tch::manual_seed(7);
    let base = bars_and_stripes();
    let data = base.repeat([10, 1]); // [300, 16]
    let mut rbm = Rbm::for_data(&data, 16, config).unwrap();
    let before = (
        mean_field_error(&rbm, &base),
        exact_pll(&rbm, &base),
        exact_log_likelihood(&rbm, &base),
    );
    let history = rbm::train(&mut rbm, &data, &base, config, epochs, &mut |_| {}).unwrap();
    assert_eq!(history.epochs.len(), epochs);
    let last = history.last().unwrap();
    assert!(last.seconds > 0.0 && last.momentum == config.momentum(epochs));
    assert_eq!(history.epochs[0].momentum, config.initial_momentum);
    assert_eq!(history.initial.as_ref().unwrap().epoch, 0);
    Learned {
        error: (before.0, mean_field_error(&rbm, &base)),
        pll: (before.1, exact_pll(&rbm, &base)),
        ll: (before.2, exact_log_likelihood(&rbm, &base)),
    }
}

#[test]
fn cd1_learns_bars_and_stripes() {
    // The Guide's defaults with batch 10, 15 epochs = 450 updates. Before training every pixel is
    // on with probability ½: PLL = LL = 16·log ½ = −11.09, reconstruction error 0.25.
    // Measured (seed 7): error 0.25 → 0.0001, PLL −11.09 → −0.35, LL −11.09 → −7.7.
    let config = RbmConfig {
        batch_size: 10,
        ..RbmConfig::default()
    };
    let r = learn_bars_and_stripes(&config, 15);
    assert!(
        (r.ll.0 - 16.0 * 0.5f64.ln()).abs() < 0.01,
        "initial LL {}",
        r.ll.0
    );
    assert!(
        r.error.1 < 0.2 * r.error.0,
        "reconstruction error {:?}",
        r.error
    );
    assert!(r.pll.1 > r.pll.0 + 5.0, "pseudo-log-likelihood {:?}", r.pll);
    assert!(r.ll.1 > r.ll.0 + 2.0, "log-likelihood {:?}", r.ll);
}

#[test]
fn pcd1_learns_bars_and_stripes() {
    // PCD needs a smaller step than CD (its chain must keep up with the model, Tieleman 2008):
    // learning rate 0.05, momentum 0.5 throughout, 60 epochs = 1800 updates.
    // Measured (seed 7): PLL −11.09 → −1.4, LL −11.09 → −8.2 (seed 8: −5.6).
    // Reconstruction error is not what PCD lowers (Guide, section 5), so it is not asserted.
    let config = RbmConfig {
        batch_size: 10,
        persistent: true,
        learning_rate: 0.05,
        final_momentum: 0.5,
        ..RbmConfig::default()
    };
    let r = learn_bars_and_stripes(&config, 60);
    assert!(r.pll.1 > r.pll.0 + 5.0, "pseudo-log-likelihood {:?}", r.pll);
    assert!(r.ll.1 > r.ll.0 + 1.5, "log-likelihood {:?}", r.ll);
}

#[test]
fn config_validation_and_visible_bias_init() {
    assert!(RbmConfig::default().validate().is_ok());
    for bad in [
        RbmConfig {
            learning_rate: 0.0,
            ..RbmConfig::default()
        },
        RbmConfig {
            cd_k: 0,
            ..RbmConfig::default()
        },
        RbmConfig {
            final_momentum: 1.0,
            ..RbmConfig::default()
        },
        RbmConfig {
            batch_size: 0,
            ..RbmConfig::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    let c = RbmConfig::default();
    assert_eq!((c.momentum(5), c.momentum(6)), (0.5, 0.9));
    assert_eq!(RbmConfig::sklearn(0.1, 100).algorithm(), "PCD-1");
    // Column means (0, 0.5, 0.75, 1) → log(p/(1−p)) with p clamped to [0.001, 0.999].
    let data = t2(&[&[0.0, 0.0, 1.0, 1.0], &[0.0, 1.0, 0.5, 1.0]]);
    let b = values(&rbm::visible_bias_from_data(&data));
    let logit = |p: f64| (p / (1.0 - p)).ln();
    assert_close(&b, &[logit(0.001), 0.0, 3f64.ln(), logit(0.999)], 1e-4, "b");
    assert!(b.iter().all(|x| x.is_finite()));
    let zero = RbmConfig {
        visible_bias_init: VisibleBiasInit::Zero,
        ..RbmConfig::default()
    };
    let rbm = Rbm::for_data(&data, 3, &zero).unwrap();
    assert_eq!(values(&rbm.visible_bias), vec![0.0; 4]);
    assert!(Rbm::for_data(&(data * 2.0), 3, &zero).is_ok()); // values are checked in training
    let e = rbm::train(
        &mut Rbm::new(4, 3, 0.01).unwrap(),
        &t2(&[&[0.0, 2.0, 0.0, 0.0]]),
        &t2(&[&[0.0, 1.0, 0.0, 0.0]]),
        &zero,
        1,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[0, 1]"), "{e}");
}

fn small_dbn() -> Dbn {
    let data = bars_and_stripes().repeat([4, 1]); // [120, 16]
    let config = RbmConfig {
        batch_size: 20,
        ..RbmConfig::default()
    };
    let mut layers_seen = Vec::new();
    let dbn = dbn::pretrain(&data, &data, &[16, 8, 4], &config, 2, &mut |p| {
        if let dbn::DbnProgress::Layer {
            layer,
            n_visible,
            n_hidden,
            ..
        } = p
        {
            layers_seen.push((layer, n_visible, n_hidden));
        }
    })
    .unwrap();
    assert_eq!(layers_seen, vec![(1, 16, 8), (2, 8, 4)]);
    dbn
}

#[test]
fn dbn_save_load_round_trip_and_corrupt_files() {
    let _g = seed_lock();
    tch::manual_seed(3);
    let dbn = small_dbn();
    assert_eq!(dbn.rbms.len(), 2);
    assert_eq!(dbn.rbms[1].weight.size(), vec![4, 8]);
    assert_eq!(dbn.histories[1].epochs.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dbn");
    dbn.save(&out).unwrap();
    let back = Dbn::load(&out).unwrap();
    assert_eq!(back.widths, vec![16, 8, 4]);
    assert_eq!(back.config, dbn.config);
    assert_eq!(back.histories, dbn.histories);
    for (a, b) in dbn.rbms.iter().zip(&back.rbms) {
        assert!(a.weight.equal(&b.weight));
        assert!(a.visible_bias.equal(&b.visible_bias));
        assert!(a.hidden_bias.equal(&b.hidden_bias));
    }
    let names: Vec<String> = dbn.named_tensors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names[..3],
        ["rbm1.weight", "rbm1.visible_bias", "rbm1.hidden_bias"]
    );

    // Missing directory / files.
    let e = Dbn::load(&dir.path().join("nope")).unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
    let weights = out.join(dbn::WEIGHTS_FILE);
    let meta = out.join(dbn::META_FILE);
    let good = std::fs::read(&weights).unwrap();
    // A truncated safetensors file.
    std::fs::write(&weights, &good[..good.len() / 2]).unwrap();
    let e = format!("{:#}", Dbn::load(&out).unwrap_err());
    assert!(e.contains("not a valid safetensors"), "{e}");
    // Garbage.
    std::fs::write(&weights, b"not a tensor file at all").unwrap();
    assert!(Dbn::load(&out).is_err());
    std::fs::remove_file(&weights).unwrap();
    let e = Dbn::load(&out).unwrap_err().to_string();
    assert!(e.contains("missing file"), "{e}");
    std::fs::write(&weights, &good).unwrap();
    // Widths in dbn.json that the tensors do not have.
    let json = std::fs::read_to_string(&meta).unwrap();
    let v: serde_json::Value = initlab::base::output::io::read_json(&meta).unwrap();
    let mut wrong = v.clone();
    wrong["widths"] = serde_json::json!([16, 8, 5]);
    initlab::base::output::io::write_json(&meta, &wrong).unwrap();
    let e = Dbn::load(&out).unwrap_err().to_string();
    assert!(e.contains("rbm2.weight") && e.contains("[5, 8]"), "{e}");
    let mut short = v.clone();
    short["widths"] = serde_json::json!([16, 8]);
    short["histories"] = serde_json::json!([v["histories"][0]]);
    initlab::base::output::io::write_json(&meta, &short).unwrap();
    // The tensors of a deeper stack: more bytes than these widths need, refused before reading.
    let e = Dbn::load(&out).unwrap_err().to_string();
    assert!(
        e.contains("dbn.safetensors") && e.contains("[16, 8]"),
        "{e}"
    );
    std::fs::write(&meta, "{ not json").unwrap();
    let e = Dbn::load(&out).unwrap_err().to_string();
    assert!(e.contains("dbn.json"), "{e}");
    std::fs::write(&meta, &json).unwrap();
    assert!(Dbn::load(&out).is_ok());
}

#[test]
fn dbn_load_reads_no_more_than_the_widths_need() {
    let _g = seed_lock();
    tch::manual_seed(3);
    let dbn = small_dbn();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dbn");
    dbn.save(&out).unwrap();
    let weights = out.join(dbn::WEIGHTS_FILE);
    // A file longer than its widths can explain is refused without being read to its end.
    let mut long = std::fs::read(&weights).unwrap();
    long.resize(long.len() + (2 << 20), 0);
    std::fs::write(&weights, &long).unwrap();
    let e = format!("{:#}", Dbn::load(&out).unwrap_err());
    assert!(
        e.contains("dbn.safetensors") && e.contains("[16, 8, 4]"),
        "{e}"
    );
    // Widths whose tensors could not fit any safetensors file: refused from dbn.json alone.
    let meta = out.join(dbn::META_FILE);
    let mut v: serde_json::Value = initlab::base::output::io::read_json(&meta).unwrap();
    v["widths"] = serde_json::json!([16, 4_000_000_000i64, 4]);
    initlab::base::output::io::write_json(&meta, &v).unwrap();
    let e = format!("{:#}", Dbn::load(&out).unwrap_err());
    assert!(
        e.contains("dbn.json") && e.contains("need more than"),
        "{e}"
    );
}

#[test]
fn init_mlp_from_dbn_copies_the_right_tensors() {
    let _g = seed_lock();
    tch::manual_seed(5);
    let dbn = small_dbn();
    let spec = MlpSpec {
        bias: Default::default(),
        widths: Widths(vec![16, 8, 4, 3]),
        activation: Activation::Sigmoid,
        init: InitScheme::XavierUniform,
    };
    let mut mlp = Mlp::new(&spec).unwrap();
    let out_w = mlp.layers[2].ws.copy();
    let out_b = mlp.layers[2].bs.as_ref().unwrap().copy();
    dbn::init_mlp_from_dbn(&dbn, &mut mlp).unwrap();
    for l in 0..2 {
        assert!(
            mlp.layers[l].ws.equal(&dbn.rbms[l].weight),
            "layer {l} weight"
        );
        assert!(
            mlp.layers[l]
                .bs
                .as_ref()
                .unwrap()
                .equal(&dbn.rbms[l].hidden_bias),
            "layer {l} bias"
        );
    }
    assert!(
        mlp.layers[2].ws.equal(&out_w),
        "the output layer keeps its init"
    );
    assert!(mlp.layers[2].bs.as_ref().unwrap().equal(&out_b));
    // The copies are values in the VarStore, still trainable, and the forward pass is the up-pass.
    assert!(mlp.layers[0].ws.requires_grad());
    let x = bars_and_stripes();
    let up = dbn.up(&x, 2).unwrap();
    let hidden = mlp.forward_layers(&x, 2).sigmoid();
    assert!(up.allclose(&hidden, 1e-5, 1e-6, false));
    // Mismatched widths.
    for widths in [vec![16, 9, 4, 3], vec![16, 8], vec![15, 8, 4, 3]] {
        let mut other = Mlp::new(&MlpSpec {
            bias: Default::default(),
            widths: Widths(widths.clone()),
            ..spec.clone()
        })
        .unwrap();
        let e = dbn::init_mlp_from_dbn(&dbn, &mut other)
            .unwrap_err()
            .to_string();
        assert!(e.contains("16,8,4"), "{widths:?}: {e}");
    }
}

#[test]
fn mnist_smoke_pretrain_lowers_reconstruction_error_and_draws_pictures() {
    let _g = seed_lock();
    let mnist = load_dir(&mnist_dir()).unwrap();
    let train = mnist.train.take(2000).images_unit(); // [2000, 784]
    let test = mnist.test.take(500).images_unit(); // [500, 784]
    tch::manual_seed(1);
    // Batch 20: 100 updates in the epoch.
    let config = RbmConfig {
        batch_size: 20,
        ..RbmConfig::default()
    };
    let started = std::time::Instant::now();
    let dbn = dbn::pretrain(&train, &test, &[784, 64], &config, 1, &mut |_| {}).unwrap();
    let history = &dbn.histories[0];
    let (before, after) = (history.initial.as_ref().unwrap(), history.last().unwrap());
    assert!(
        after.reconstruction_error < 0.8 * before.reconstruction_error,
        "reconstruction error {} → {}",
        before.reconstruction_error,
        after.reconstruction_error
    );
    assert!(
        after.pseudo_log_likelihood > before.pseudo_log_likelihood,
        "pseudo-log-likelihood {} → {}",
        before.pseudo_log_likelihood,
        after.pseudo_log_likelihood
    );
    assert!(started.elapsed().as_secs_f64() < 30.0);

    let dir = tempfile::tempdir().unwrap();
    let rbm = &dbn.rbms[0];
    let filters = dir.path().join("pics/filters.png");
    rbm_plot::filters_png(rbm, &filters).unwrap();
    rbm_plot::reconstructions_png(rbm, &test, &dir.path().join("reconstructions.png")).unwrap();
    rbm_plot::samples_png(rbm, &dir.path().join("samples.png"), 20).unwrap();
    // filters: 64 units → 7 rows of 10 tiles of 28 px, 1-px separators, doubled, under a band
    // with a title and a caption.
    let captioned = |path: &std::path::Path, grid: (u32, u32)| {
        let (w, h) = png_size(path);
        assert_eq!(w, grid.0, "{}", path.display());
        assert!(
            h > grid.1 + 40 && h < grid.1 + 200,
            "{}: {h}",
            path.display()
        );
    };
    captioned(&filters, ((10 * 28 + 11) * 2, (7 * 28 + 8) * 2));
    captioned(
        &dir.path().join("reconstructions.png"),
        ((20 * 28 + 21) * 2, (2 * 28 + 3) * 2),
    );
    captioned(
        &dir.path().join("samples.png"),
        ((10 * 28 + 11) * 2, (10 * 28 + 11) * 2),
    );
    let e = rbm_plot::filters_png(rbm, &dir.path().join("f.jpg"))
        .unwrap_err()
        .to_string();
    assert!(e.contains(".png"), "{e}");
    let not_square = Rbm::new(10, 4, 0.01).unwrap();
    assert!(rbm_plot::filters_png(&not_square, &dir.path().join("x.png")).is_err());
}

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    // Not uniform: the tiles differ from the separators.
    assert!(
        buf.iter().any(|&b| b != buf[0]),
        "{} is uniform",
        path.display()
    );
    (info.width, info.height)
}

#[test]
fn a_dbn_covers_the_hidden_layers_only() {
    let _g = seed_lock();
    let rbm = |v, h| initlab::pretraining::rbm::Rbm::new(v, h, 0.01).unwrap();
    let dbn = initlab::pretraining::dbn::Dbn {
        widths: vec![784, 16, 10],
        rbms: vec![rbm(784, 16), rbm(16, 10)],
        config: initlab::pretraining::rbm::RbmConfig::default(),
        epochs: 1,
        histories: Vec::new(),
    };
    let spec = |w: &str| initlab::base::nn::model::MlpSpec {
        bias: Default::default(),
        widths: w.parse().unwrap(),
        activation: initlab::base::nn::scheme::Activation::Sigmoid,
        init: initlab::base::nn::scheme::InitScheme::XavierUniform,
    };
    // The DBN's last RBM cannot be the model's output layer.
    let mut mlp = initlab::base::nn::model::Mlp::new(&spec("784,16,10")).unwrap();
    let err = initlab::pretraining::dbn::init_mlp_from_dbn(&dbn, &mut mlp).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("hidden layers only") && msg.contains("784,16"),
        "{msg}"
    );
    // With an output layer on top it fits.
    let mut mlp = initlab::base::nn::model::Mlp::new(&spec("784,16,10,10")).unwrap();
    initlab::pretraining::dbn::init_mlp_from_dbn(&dbn, &mut mlp).unwrap();
}

#[test]
fn the_momentum_schedule_is_worded_for_the_epochs_trained() {
    let guide = initlab::pretraining::rbm::RbmConfig::default();
    // The lab's 3-epoch pretraining never reaches the switch after epoch 5.
    assert_eq!(guide.momentum_words(3), "momentum 0.5");
    assert_eq!(guide.momentum_words(5), "momentum 0.5");
    assert_eq!(
        guide.momentum_words(6),
        "momentum 0.5 for 5 epochs, then 0.9"
    );
    let one = initlab::pretraining::rbm::RbmConfig {
        momentum_epochs: 1,
        ..guide
    };
    assert_eq!(one.momentum_words(2), "momentum 0.5 for 1 epoch, then 0.9");
}
