//! Restricted Boltzmann machines with binary (Bernoulli) visible and hidden units, trained by
//! contrastive divergence (CD-k) or persistent contrastive divergence (PCD-k).
//!
//! Conventions, as in Hinton's "A Practical Guide to Training Restricted Boltzmann Machines"
//! (UTML TR 2010-003, 2010; "the Guide" below), with the weight stored like a `torch.nn.Linear`
//! weight so that it can initialize one directly ([`crate::pretraining::dbn::init_mlp_from_dbn`]):
//!
//! - `v ∈ {0,1}^V` visible units, `h ∈ {0,1}^H` hidden units;
//! - `W` of shape `[H, V]` ([`Rbm::weight`]), `b` of shape `[V]` ([`Rbm::visible_bias`]),
//!   `c` of shape `[H]` ([`Rbm::hidden_bias`]);
//! - energy `E(v, h) = −bᵀv − cᵀh − hᵀWv` (Guide, eq. 1, which names the visible biases `a` and
//!   the hidden biases `b`), `p(v, h) = e^{−E(v,h)} / Z`.
//!
//! Everything here is plain tensor arithmetic under [`tch::no_grad`]: the CD update is not the
//! gradient of a loss, so autograd is not used. Random numbers (initial weights, Bernoulli samples,
//! batch order, the pseudo-likelihood's flipped units) come from tch's global CPU generator: call
//! [`tch::manual_seed`] first for repeatable runs.
//!
//! Inputs are `f32` tensors of shape `[n, V]` with values in [0, 1]: binary data, or grey levels
//! read as probabilities (MNIST through [`crate::base::data::mnist::Split::images_unit`]), as in Hinton &
//! Salakhutdinov (2006) and scikit-learn.

use std::time::Instant;

use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// `p_i` is clamped to `[ε, 1 − ε]` before the visible bias `log(p_i / (1 − p_i))` is taken, so
/// that pixels that are never (or always) on get a large finite bias (±6.9) instead of ±∞.
pub const VISIBLE_BIAS_EPS: f64 = 1e-3;

/// How the visible biases start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VisibleBiasInit {
    /// `b_i = log(p_i / (1 − p_i))`, `p_i` the mean of unit `i` over the training data, clamped to
    /// `[ε, 1 − ε]` with ε = [`VISIBLE_BIAS_EPS`] (Guide, section 8).
    FromData,
    /// `b = 0` (scikit-learn's `BernoulliRBM`).
    Zero,
}

/// Settings of RBM training. `Default` is the Guide's recipe for MNIST-like data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RbmConfig {
    /// Learning rate ε applied to the *mean* gradient over a mini-batch (default 0.1).
    ///
    /// Hinton & Salakhutdinov's `rbm.m` uses ε = 0.1 with `(posprods − negprods)/numcases`, and
    /// scikit-learn's `BernoulliRBM` divides its `learning_rate` by the batch size
    /// (`lr = learning_rate / v_pos.shape[0]` on summed statistics), so 0.1 here means the same
    /// step as `learning_rate=0.1` there, at any batch size.
    pub learning_rate: f64,
    /// Momentum α of the first [`RbmConfig::momentum_epochs`] epochs (Guide, section 9: 0.5).
    pub initial_momentum: f64,
    /// Momentum α of the later epochs (Guide, section 9: 0.9).
    pub final_momentum: f64,
    /// Epochs `1..=momentum_epochs` use the initial momentum (Guide and `rbm.m`: 5).
    pub momentum_epochs: usize,
    /// L2 weight cost λ on the weights, not the biases (Guide, section 10; `rbm.m`: 2e-4).
    pub weight_decay: f64,
    /// Examples per mini-batch; the last batch may be smaller (Guide, section 4: 100).
    pub batch_size: i64,
    /// Gibbs steps `k` of the negative phase (CD-1 in the Guide).
    pub cd_k: usize,
    /// Persistent CD (Tieleman 2008): the negative phase continues a chain of `batch_size`
    /// "fantasy particles" kept across updates instead of restarting at the data.
    pub persistent: bool,
    /// Standard deviation of the initial weights, drawn from N(0, σ²) (Guide, section 8: 0.01).
    pub weight_std: f64,
    /// How the visible biases start (Guide, section 8: from the data).
    pub visible_bias_init: VisibleBiasInit,
    /// CD: sample binary visible states in the negative phase (scikit-learn) instead of using the
    /// probabilities `p(v|h)` (Guide, section 3.2, and `rbm.m`: probabilities, less sampling
    /// noise). PCD always samples them: its persistent chain must be a Gibbs chain of the model,
    /// which a chain of probabilities is not (Tieleman 2008; scikit-learn does the same).
    pub sample_visible: bool,
    /// Visit the training examples in a fresh random order each epoch (`Tensor::randperm`);
    /// `false` keeps the data's order (scikit-learn).
    pub shuffle: bool,
}

impl Default for RbmConfig {
    fn default() -> Self {
        RbmConfig {
            learning_rate: 0.1,
            initial_momentum: 0.5,
            final_momentum: 0.9,
            momentum_epochs: 5,
            weight_decay: 2e-4,
            batch_size: 100,
            cd_k: 1,
            persistent: false,
            weight_std: 0.01,
            visible_bias_init: VisibleBiasInit::FromData,
            sample_visible: false,
            shuffle: true,
        }
    }
}

impl RbmConfig {
    /// scikit-learn's `BernoulliRBM(learning_rate, batch_size)` algorithm: PCD-1 from a chain whose
    /// hidden states start at zero, binary visible samples in the negative phase, no momentum, no
    /// weight decay, zero visible biases, batches in the data's order. (scikit-learn also cuts the
    /// data into `ceil(n / batch_size)` batches of nearly equal size; initlab cuts `batch_size`-sized
    /// batches and a smaller last one, the same thing when `batch_size` divides `n`.)
    pub fn sklearn(learning_rate: f64, batch_size: i64) -> Self {
        RbmConfig {
            learning_rate,
            initial_momentum: 0.0,
            final_momentum: 0.0,
            momentum_epochs: 0,
            weight_decay: 0.0,
            batch_size,
            cd_k: 1,
            persistent: true,
            weight_std: 0.01,
            visible_bias_init: VisibleBiasInit::Zero,
            sample_visible: true,
            shuffle: false,
        }
    }

    /// Checks that the values make sense, naming the first that does not.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "RBM learning rate must be a positive number, got {}",
            self.learning_rate
        );
        for (name, m) in [
            ("initial momentum", self.initial_momentum),
            ("final momentum", self.final_momentum),
        ] {
            ensure!(
                (0.0..1.0).contains(&m),
                "RBM {name} must be in [0, 1), got {m}"
            );
        }
        ensure!(
            self.weight_decay >= 0.0 && self.weight_decay.is_finite(),
            "RBM weight decay must be a non-negative number, got {}",
            self.weight_decay
        );
        ensure!(
            self.batch_size >= 1,
            "RBM batch size must be at least 1, got {}",
            self.batch_size
        );
        ensure!(self.cd_k >= 1, "CD-k needs k ≥ 1, got {}", self.cd_k);
        ensure!(
            self.weight_std >= 0.0 && self.weight_std.is_finite(),
            "RBM initial weight standard deviation must be a non-negative number, got {}",
            self.weight_std
        );
        Ok(())
    }

    /// The momentum schedule over a training of `epochs` epochs, in words: `momentum 0.5` when it
    /// never changes within them, else `momentum 0.5 for 5 epochs, then 0.9`.
    pub fn momentum_words(&self, epochs: usize) -> String {
        let switches =
            epochs > self.momentum_epochs && self.initial_momentum != self.final_momentum;
        if !switches {
            return format!("momentum {}", self.momentum(1));
        }
        format!(
            "momentum {} for {} epoch{}, then {}",
            self.initial_momentum,
            self.momentum_epochs,
            if self.momentum_epochs == 1 { "" } else { "s" },
            self.final_momentum
        )
    }

    /// The momentum used in (1-based) `epoch`.
    pub fn momentum(&self, epoch: usize) -> f64 {
        if epoch <= self.momentum_epochs {
            self.initial_momentum
        } else {
            self.final_momentum
        }
    }

    /// `CD-k` or `PCD-k`.
    pub fn algorithm(&self) -> String {
        format!("{}CD-{}", if self.persistent { "P" } else { "" }, self.cd_k)
    }
}

/// A Bernoulli–Bernoulli RBM (all tensors `f32` on the CPU).
#[derive(Debug)]
pub struct Rbm {
    /// `W`, shape `[n_hidden, n_visible]` (the layout of a `torch.nn.Linear(n_visible, n_hidden)`
    /// weight).
    pub weight: Tensor,
    /// `b`, shape `[n_visible]`.
    pub visible_bias: Tensor,
    /// `c`, shape `[n_hidden]`.
    pub hidden_bias: Tensor,
}

impl Rbm {
    /// An RBM with weights from N(0, `weight_std`²) and zero biases.
    pub fn new(n_visible: i64, n_hidden: i64, weight_std: f64) -> Result<Self> {
        ensure!(
            n_visible > 0 && n_hidden > 0,
            "an RBM needs positive numbers of units, got {n_visible} visible and {n_hidden} hidden"
        );
        ensure!(
            weight_std >= 0.0 && weight_std.is_finite(),
            "the initial weight standard deviation must be a non-negative number, got {weight_std}"
        );
        let opts = (Kind::Float, Device::Cpu);
        let weight = tch::no_grad(|| Tensor::randn([n_hidden, n_visible], opts) * weight_std); // [H, V]
        Ok(Rbm {
            weight,
            visible_bias: Tensor::zeros([n_visible], opts), // [V]
            hidden_bias: Tensor::zeros([n_hidden], opts),   // [H]
        })
    }

    /// The Guide's initial RBM for `data` (`[n, V]` f32 in [0, 1]): weights from
    /// N(0, `config.weight_std`²), hidden biases 0, visible biases as `config.visible_bias_init`
    /// says.
    pub fn for_data(data: &Tensor, n_hidden: i64, config: &RbmConfig) -> Result<Self> {
        config.validate()?;
        check_data(data, None, "training data")?;
        let mut rbm = Rbm::new(data.size()[1], n_hidden, config.weight_std)?;
        if config.visible_bias_init == VisibleBiasInit::FromData {
            rbm.visible_bias = visible_bias_from_data(data);
        }
        Ok(rbm)
    }

    /// An RBM from its three tensors, checked for shapes (`[H, V]`, `[V]`, `[H]`) and converted to
    /// contiguous `f32`.
    pub fn from_tensors(weight: Tensor, visible_bias: Tensor, hidden_bias: Tensor) -> Result<Self> {
        let ws = weight.size();
        ensure!(
            ws.len() == 2 && ws[0] > 0 && ws[1] > 0,
            "an RBM weight must be a non-empty matrix [n_hidden, n_visible], got shape {ws:?}"
        );
        ensure!(
            visible_bias.size() == [ws[1]],
            "the visible bias has shape {:?}, the weight {ws:?} needs [{}]",
            visible_bias.size(),
            ws[1]
        );
        ensure!(
            hidden_bias.size() == [ws[0]],
            "the hidden bias has shape {:?}, the weight {ws:?} needs [{}]",
            hidden_bias.size(),
            ws[0]
        );
        let prep = |t: Tensor| {
            t.to_kind(Kind::Float)
                .to_device(Device::Cpu)
                .contiguous()
                .detach()
        };
        Ok(Rbm {
            weight: prep(weight),
            visible_bias: prep(visible_bias),
            hidden_bias: prep(hidden_bias),
        })
    }

    /// A deep copy (new storage).
    pub fn copy(&self) -> Rbm {
        Rbm {
            weight: self.weight.copy(),
            visible_bias: self.visible_bias.copy(),
            hidden_bias: self.hidden_bias.copy(),
        }
    }

    /// Number of visible units `V`.
    pub fn n_visible(&self) -> i64 {
        self.weight.size()[1]
    }

    /// Number of hidden units `H`.
    pub fn n_hidden(&self) -> i64 {
        self.weight.size()[0]
    }

    /// Checks that `v` is an `f32` matrix `[n, V]` this RBM can take (values are not scanned).
    pub fn check_visible(&self, v: &Tensor, what: &str) -> Result<()> {
        check_data(v, Some(self.n_visible()), what)
    }

    /// `p(h_j = 1 | v) = σ(c_j + Σ_i W_ji v_i)`, i.e. `σ(v Wᵀ + c)` row by row (Guide, eq. 7).
    ///
    /// `v`: `[n, V]` f32 → `[n, H]`. Panics (in libtorch) on other shapes; see
    /// [`Rbm::check_visible`].
    pub fn hidden_probs(&self, v: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let mut a = self.hidden_bias.addmm(v, &self.weight.tr()); // [n, H]
            a.sigmoid_() // [n, H], in place
        })
    }

    /// [`Rbm::hidden_probs`] written into `out` (`[n, H]`, contiguous): the same operations, so
    /// the same bits, without allocating.
    fn hidden_probs_into(&self, v: &Tensor, out: &mut Tensor) {
        // [n, H]: c + v Wᵀ
        let _ = self.hidden_bias.addmm_out(out, v, &self.weight.tr());
        // [n, H], in place
        let _ = out.sigmoid_();
    }

    /// `p(v_i = 1 | h) = σ(b_i + Σ_j h_j W_ji)`, i.e. `σ(h W + b)` row by row (Guide, eq. 8).
    ///
    /// `h`: `[n, H]` f32 → `[n, V]`.
    pub fn visible_probs(&self, h: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let mut a = self.visible_bias.addmm(h, &self.weight); // [n, V]
            a.sigmoid_() // [n, V], in place
        })
    }

    /// [`Rbm::visible_probs`] written into `out` (`[n, V]`, contiguous), without allocating.
    fn visible_probs_into(&self, h: &Tensor, out: &mut Tensor) {
        // [n, V]: b + h W
        let _ = self.visible_bias.addmm_out(out, h, &self.weight);
        // [n, V], in place
        let _ = out.sigmoid_();
    }

    /// `h ~ p(h|v)`: binary hidden states (`f32` 0/1), `[n, H]`.
    pub fn sample_hidden(&self, v: &Tensor) -> Tensor {
        tch::no_grad(|| bernoulli(&self.hidden_probs(v))) // [n, H]
    }

    /// `v ~ p(v|h)`: binary visible states (`f32` 0/1), `[n, V]`.
    pub fn sample_visible(&self, h: &Tensor) -> Tensor {
        tch::no_grad(|| bernoulli(&self.visible_probs(h))) // [n, V]
    }

    /// One step of block Gibbs sampling, `v → h ~ p(h|v) → v' ~ p(v|h)` (Guide, section 2): binary
    /// visible states `[n, V]`.
    pub fn gibbs_step(&self, v: &Tensor) -> Tensor {
        self.sample_visible(&self.sample_hidden(v))
    }

    /// `steps` Gibbs steps from `v` (`[n, V]`), returning the last binary visible states.
    pub fn gibbs_chain(&self, v: &Tensor, steps: usize) -> Tensor {
        let mut v = v.shallow_clone();
        for _ in 0..steps {
            v = self.gibbs_step(&v); // [n, V]
        }
        v
    }

    /// Free energy `F(v) = −log Σ_h e^{−E(v,h)} = −bᵀv − Σ_j log(1 + e^{c_j + (Wv)_j})`
    /// (Guide, section 16.1), per row: `[n, V]` → `[n]`, so that `p(v) = e^{−F(v)} / Z`.
    ///
    /// `log(1 + eˣ)` is libtorch's `softplus` (which returns `x` itself above 20, off by < 3e-9),
    /// as scikit-learn's `_free_energy` uses `np.logaddexp(0, x)`.
    pub fn free_energy(&self, v: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let vb = v.mv(&self.visible_bias); // [n]
            let wx = self.hidden_bias.addmm(v, &self.weight.tr()); // [n, H]
            -vb - wx.softplus().sum_dim_intlist(1, false, Kind::Float) // [n]
        })
    }

    /// One-step reconstruction `p(v | h)` with `h ~ p(h|v)` sampled: what the negative phase of CD-1
    /// sees (Guide, section 5). `[n, V]` → `[n, V]`.
    pub fn reconstruct(&self, v: &Tensor) -> Tensor {
        self.visible_probs(&self.sample_hidden(v)) // [n, V]
    }

    /// Reconstruction error: the mean over images *and pixels* of `(v − p(v|h))²`, `h ~ p(h|v)`
    /// ([`Rbm::reconstruct`]). Per pixel; multiply by `V` for the squared error per image that
    /// `rbm.m` sums. The Guide (section 5) warns that it is only a rough monitor of learning.
    pub fn reconstruction_error(&self, v: &Tensor) -> Result<f64> {
        self.check_visible(v, "reconstruction input")?;
        Ok(tch::no_grad(|| {
            (v - self.reconstruct(v))
                .square()
                .mean(Kind::Float)
                .double_value(&[])
        }))
    }

    /// Pseudo-log-likelihood per row, `[n, V]` → `[n]`, estimated the way scikit-learn's
    /// `BernoulliRBM.score_samples` does: for each row flip one visible unit `i`, drawn uniformly,
    /// to `ṽ_i = 1 − v_i`, and return `V · log σ(F(ṽ) − F(v))`.
    ///
    /// That is `V` times a one-term stochastic estimate of Besag's (1975) pseudo-likelihood
    /// `Σ_i log p(v_i | v_{−i})`, because `p(v_i | v_{−i}) = σ(F(ṽ) − F(v))` for binary data.
    /// Like scikit-learn, the data are used as given (grey levels are *not* binarized; its docstring
    /// asks for binary data but does not check): a grey value `x` is "flipped" to `1 − x`. The
    /// flipped units come from tch's global generator (scikit-learn uses
    /// `RandomState(random_state).randint`), so the per-row values differ but the mean over many
    /// rows estimates the same quantity. See [`Rbm::pseudo_log_likelihood_flipping`].
    pub fn pseudo_log_likelihood(&self, v: &Tensor) -> Result<Tensor> {
        self.check_visible(v, "pseudo-likelihood input")?;
        let n = v.size()[0];
        let units = Tensor::randint(self.n_visible(), [n], (Kind::Int64, Device::Cpu)); // [n]
        self.pseudo_log_likelihood_flipping(v, &units)
    }

    /// [`Rbm::pseudo_log_likelihood`] with the flipped unit of each row given: `units` is `[n]`
    /// `i64` in `0..V`.
    ///
    /// `F(ṽ) − F(v)` is computed as a difference, not by subtracting two free energies of a few
    /// hundred each in `f32`: with `δ = ṽ_i − v_i = 1 − 2v_i` and `a = Wv + c`,
    /// `F(ṽ) − F(v) = −δ b_i − Σ_j [softplus(a_j + δ W_ji) − softplus(a_j)]`.
    pub fn pseudo_log_likelihood_flipping(&self, v: &Tensor, units: &Tensor) -> Result<Tensor> {
        self.check_visible(v, "pseudo-likelihood input")?;
        let n = v.size()[0];
        ensure!(
            units.size() == [n] && units.kind() == Kind::Int64,
            "flipped units must be an i64 vector of {n} indices, got {:?} {:?}",
            units.kind(),
            units.size()
        );
        if n > 0 {
            let (lo, hi) = (units.min().int64_value(&[]), units.max().int64_value(&[]));
            ensure!(
                lo >= 0 && hi < self.n_visible(),
                "flipped units must lie in 0..{}, got values from {lo} to {hi}",
                self.n_visible()
            );
        }
        Ok(tch::no_grad(|| {
            let idx = units.unsqueeze(1); // [n, 1]
            let vi = v.gather(1, &idx, false).squeeze_dim(1); // [n]
            let delta = vi.neg() * 2.0 + 1.0; // [n]: 1 − 2 v_i
            let a = self.hidden_bias.addmm(v, &self.weight.tr()); // [n, H]
            let w_cols = self.weight.index_select(1, units).tr(); // [n, H]: W_{·, i} per row
            let a_flipped = &a + w_cols * delta.unsqueeze(1); // [n, H]
            let bi = self.visible_bias.index_select(0, units); // [n]
            let diff = -(&delta * bi)
                - (a_flipped.softplus() - a.softplus()).sum_dim_intlist(1, false, Kind::Float); // [n]
            diff.log_sigmoid() * self.n_visible() as f64 // [n]
        }))
    }

    /// Mean of [`Rbm::pseudo_log_likelihood`] over the rows of `v`.
    pub fn mean_pseudo_log_likelihood(&self, v: &Tensor) -> Result<f64> {
        Ok(self
            .pseudo_log_likelihood(v)?
            .mean(Kind::Double)
            .double_value(&[]))
    }
}

/// Binary samples `x_i ~ Bernoulli(p_i)` (`f32` 0/1, the shape of `p`), drawn exactly as
/// `p.bernoulli()` draws them: see [`bernoulli_into`](crate::base::parity::torch_rng::bernoulli_into). `p` holds probabilities in [0, 1].
pub fn bernoulli(p: &Tensor) -> Tensor {
    tch::no_grad(|| {
        let mut out = p.empty_like();
        bernoulli_into(p, &mut out);
        out
    })
}

/// `out_i ← 1{u_i < p_i}` with `u_i ~ U[0, 1)`: Bernoulli samples of the probabilities `p` into
/// `out` (`f32`, contiguous, the shape of `p`, not overlapping it), without allocating.
///
/// The same numbers as `p.bernoulli()` from the same generator state, and the generator left in
/// the same state: for `f32`, libtorch 2.13's CPU `bernoulli` kernel takes one 32-bit draw `r` of
/// the global generator per element, in order, forms `u = (r mod 2²⁴)·2⁻²⁴` and returns `u < p`;
/// `uniform_(0, 1)` takes the same draws and forms the same `u`. It runs about three times
/// faster, because that `bernoulli` kernel does more work per element. (A NaN probability gives
/// 0 here where `bernoulli` stops with an error; [`train`] reports non-finite weights after the
/// epoch.)
///
/// The draws are made in Rust ([`crate::base::parity::torch_rng::bernoulli_into`], the same bits) when it can;
/// otherwise by libtorch's `uniform_` and `lt_`.
fn bernoulli_into(p: &Tensor, out: &mut Tensor) {
    if crate::base::parity::torch_rng::bernoulli_into(p, out) {
        return;
    }
    // [same as p]: u ~ U[0, 1)
    let _ = out.uniform_(0.0, 1.0);
    // [same as p]: 1{u < p} as f32, in place
    let _ = out.lt_tensor_(p);
}

/// `b_i = log(p_i / (1 − p_i))` with `p_i` the column mean of `data` clamped to
/// `[ε, 1 − ε]`, ε = [`VISIBLE_BIAS_EPS`] (Guide, section 8). `[n, V]` → `[V]`.
pub fn visible_bias_from_data(data: &Tensor) -> Tensor {
    tch::no_grad(|| {
        let p = data
            .mean_dim(0, false, Kind::Float)
            .clamp(VISIBLE_BIAS_EPS, 1.0 - VISIBLE_BIAS_EPS); // [V]
        (&p / (p.neg() + 1.0)).log() // [V]
    })
}

/// Checks that `data` is a 2-D `f32` CPU tensor with `width` columns (when given).
fn check_data(data: &Tensor, width: Option<i64>, what: &str) -> Result<()> {
    let size = data.size();
    ensure!(
        size.len() == 2,
        "{what} must be a matrix [examples, units], got shape {size:?}"
    );
    ensure!(
        data.kind() == Kind::Float,
        "{what} must be f32 values in [0, 1], got {:?}",
        data.kind()
    );
    if let Some(w) = width {
        ensure!(
            size[1] == w,
            "{what} has {} units per example, the RBM has {w} visible units",
            size[1]
        );
    }
    Ok(())
}

/// Also checks that every value lies in [0, 1] and the data are not empty (one pass).
fn check_unit_data(data: &Tensor, width: Option<i64>, what: &str) -> Result<()> {
    check_data(data, width, what)?;
    ensure!(data.size()[0] > 0, "{what} holds no examples");
    // [], []: the smallest and the largest value, in one pass (aminmax)
    let (lo, hi) = data.aminmax(None, false);
    let (lo, hi) = (lo.double_value(&[]), hi.double_value(&[]));
    ensure!(
        (0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi),
        "{what} must hold values in [0, 1] (probabilities or binary states), found {lo} to {hi}"
    );
    Ok(())
}

/// What one epoch of RBM training gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RbmEpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// [`Rbm::reconstruction_error`] on the monitoring set after the epoch (per pixel).
    pub reconstruction_error: f64,
    /// Mean [`Rbm::pseudo_log_likelihood`] on the monitoring set after the epoch (per image).
    pub pseudo_log_likelihood: f64,
    /// The momentum used.
    pub momentum: f64,
    /// Wall-clock seconds of the epoch's updates (monitoring not included).
    pub seconds: f64,
}

/// Per-epoch records of one RBM's training.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RbmHistory {
    /// Monitoring values of the RBM before any update (epoch 0, 0 seconds), when measured.
    pub initial: Option<RbmEpochRecord>,
    /// One record per finished epoch, in order.
    pub epochs: Vec<RbmEpochRecord>,
}

impl RbmHistory {
    /// The last epoch's record.
    pub fn last(&self) -> Option<&RbmEpochRecord> {
        self.epochs.last()
    }
}

/// Events during RBM training, for progress displays.
#[derive(Debug)]
pub enum RbmProgress<'a> {
    /// A mini-batch update finished.
    Batch {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: i64,
        /// Batches per epoch.
        batches: i64,
    },
    /// An epoch finished and was monitored.
    Epoch(&'a RbmEpochRecord),
}

/// The state of training besides the RBM itself: momentum buffers, the persistent chain, the
/// epoch counter, and the buffers every update writes into.
#[derive(Debug)]
pub struct RbmTrainer {
    config: RbmConfig,
    /// Epochs finished so far.
    epochs_done: usize,
    weight_inc: Tensor,       // [H, V]
    visible_bias_inc: Tensor, // [V]
    hidden_bias_inc: Tensor,  // [H]
    /// PCD's fantasy particles: binary hidden states `[batch_size, H]`, starting at 0 as in
    /// scikit-learn (the first negative phase then samples `v ~ σ(b)`).
    chain: Option<Tensor>,
    /// Buffers reused by every update.
    work: Workspace,
}

/// Buffers of [`RbmTrainer`]'s updates, grown on the first update (and again only for a batch
/// larger than any before), so that an update allocates nothing of the batch's or the weight's
/// size.
///
/// The batch and the negative phase's states lie one above the other, `vs = [v⁰ ; v⁻]` and
/// `hs = [h⁺ ; h⁻]`, so that the weight statistics are the one product `hsᵀ vs` without copying
/// them together first.
#[derive(Debug)]
struct Workspace {
    /// `[v⁰ ; v⁻]`: the batch (`B⁺` rows), then the negative phase's visible states (`B⁻` rows);
    /// `[rows, V]`, the first `B⁺ + B⁻` rows in use.
    vs: Tensor,
    /// `[h⁺ ; h⁻]`: the hidden probabilities of both phases, then scaled in place by `ε/B⁺` and
    /// `−ε/B⁻`; `[rows, H]`.
    hs: Tensor,
    /// `p(v|h)` of the negative phase when `v⁻` is sampled from it; `[neg_rows, V]`.
    pv: Tensor,
    /// Sampled hidden states that start the next Gibbs step (CD); `[neg_rows, H]`.
    h_sample: Tensor,
    /// `−ελW`, the weight-decay term, when λ > 0; `[H, V]`.
    decay: Option<Tensor>,
}

impl Workspace {
    /// Empty buffers for an RBM of `n_visible` and `n_hidden` units.
    fn new(n_visible: i64, n_hidden: i64, weight_decay: bool) -> Self {
        let opts = (Kind::Float, Device::Cpu);
        // [0, V], [0, H], [0, V], [0, H]: grown by `reserve`
        Workspace {
            vs: Tensor::zeros([0, n_visible], opts),
            hs: Tensor::zeros([0, n_hidden], opts),
            pv: Tensor::zeros([0, n_visible], opts),
            h_sample: Tensor::zeros([0, n_hidden], opts),
            // [H, V]
            decay: weight_decay.then(|| Tensor::zeros([n_hidden, n_visible], opts)),
        }
    }

    /// Grows the buffers, if needed, to hold `n_pos` batch rows and `n_neg` negative-phase rows.
    fn reserve(&mut self, n_pos: i64, n_neg: i64) {
        let opts = (Kind::Float, Device::Cpu);
        let (n_visible, n_hidden) = (self.vs.size()[1], self.hs.size()[1]);
        if self.vs.size()[0] < n_pos + n_neg {
            // [B⁺ + B⁻, V]
            self.vs = Tensor::zeros([n_pos + n_neg, n_visible], opts);
            // [B⁺ + B⁻, H]
            self.hs = Tensor::zeros([n_pos + n_neg, n_hidden], opts);
        }
        if self.pv.size()[0] < n_neg {
            // [B⁻, V]
            self.pv = Tensor::zeros([n_neg, n_visible], opts);
            // [B⁻, H]
            self.h_sample = Tensor::zeros([n_neg, n_hidden], opts);
        }
    }
}

impl RbmTrainer {
    /// A trainer for `rbm` with zero momentum buffers (and, for PCD, a chain at h = 0).
    pub fn new(rbm: &Rbm, config: &RbmConfig) -> Result<Self> {
        config.validate()?;
        let opts = (Kind::Float, Device::Cpu);
        Ok(RbmTrainer {
            config: config.clone(),
            epochs_done: 0,
            weight_inc: Tensor::zeros([rbm.n_hidden(), rbm.n_visible()], opts), // [H, V]
            visible_bias_inc: Tensor::zeros([rbm.n_visible()], opts),           // [V]
            hidden_bias_inc: Tensor::zeros([rbm.n_hidden()], opts),             // [H]
            chain: config
                .persistent
                .then(|| Tensor::zeros([config.batch_size, rbm.n_hidden()], opts)), // [B, H]
            work: Workspace::new(rbm.n_visible(), rbm.n_hidden(), config.weight_decay > 0.0),
        })
    }

    /// The settings.
    pub fn config(&self) -> &RbmConfig {
        &self.config
    }

    /// Epochs finished so far.
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// Checks that this trainer's buffers fit `rbm`.
    fn check_rbm(&self, rbm: &Rbm) -> Result<()> {
        ensure!(
            self.weight_inc.size() == rbm.weight.size(),
            "this trainer was made for an RBM of shape {:?}, not {:?}",
            self.weight_inc.size(),
            rbm.weight.size()
        );
        Ok(())
    }

    /// Rows of the negative phase for a batch of `n_pos` rows: the chain's for PCD, else `n_pos`.
    fn negative_rows(&self, n_pos: i64) -> i64 {
        self.chain.as_ref().map_or(n_pos, |chain| chain.size()[0])
    }

    /// Makes room for a batch of `n_pos` rows and returns the workspace rows that take it,
    /// `[n_pos, V]` (a view: what is written into it is the batch of the next
    /// [`RbmTrainer::update_loaded`]).
    fn batch_rows(&mut self, n_pos: i64) -> Tensor {
        let n_neg = self.negative_rows(n_pos);
        self.work.reserve(n_pos, n_neg);
        // [B⁺, V]
        self.work.vs.narrow(0, 0, n_pos)
    }

    /// One CD-k or PCD-k update of `rbm` on `batch` (`[B, V]`) with `momentum`.
    ///
    /// Positive phase: `h⁺ = p(h|v⁰)` with `v⁰` the data. Negative phase: `k` steps of block Gibbs
    /// sampling, started from `h ~ p(h|v⁰)` (CD, Hinton 2002) or from the persistent chain's
    /// hidden states (PCD, Tieleman 2008); each step takes `v = p(v|h)` (a sample of it when
    /// `sample_visible` or PCD), then `p(h|v)`, sampling `h` for the next step (and, for PCD,
    /// for the chain's new state). The statistics use the last `v` and the hidden probabilities
    /// `h⁻ = p(h|v)` (Guide, section 3).
    ///
    /// Update with momentum α, learning rate ε and weight cost λ (Guide, sections 9–10; `rbm.m`):
    ///
    /// - `ΔW ← α ΔW + ε (⟨h⁺ v⁰ᵀ⟩ − ⟨h⁻ v⁻ᵀ⟩ − λ W)`, `W ← W + ΔW`;
    /// - `Δb ← α Δb + ε (⟨v⁰⟩ − ⟨v⁻⟩)`, `Δc ← α Δc + ε (⟨h⁺⟩ − ⟨h⁻⟩)` (no decay on biases);
    ///
    /// where ⟨·⟩ is the mean over the batch (over the chain for PCD's negative statistics).
    pub fn update(&mut self, rbm: &mut Rbm, batch: &Tensor, momentum: f64) -> Result<()> {
        rbm.check_visible(batch, "training batch")?;
        let n_pos = batch.size()[0];
        ensure!(n_pos > 0, "empty training batch");
        self.check_rbm(rbm)?;
        tch::no_grad(|| {
            // [B, V]: the batch, copied into the workspace
            let mut v0 = self.batch_rows(n_pos);
            v0.copy_(batch);
            self.update_loaded(rbm, n_pos, momentum)
        });
        Ok(())
    }

    /// [`RbmTrainer::update`] on the batch already written into [`RbmTrainer::batch_rows`]`(n_pos)`.
    ///
    /// Every tensor of the batch's or the weight's size lives in the workspace, the momentum
    /// buffers or the RBM: the phases write into `vs`/`hs` with `_out` and in-place operations.
    /// The operations are those of the textbook form (`h⁺ = σ(v⁰Wᵀ + c)`, …, then
    /// `hs = cat(h⁺·ε/B⁺, −h⁻·ε/B⁻)`, `vs = cat(v⁰, v⁻)`, `ΔW ← αΔW + (−ελW) + hsᵀvs`), in the
    /// same order on the same values, so the results are the same bits, and the samples consume
    /// the global generator exactly as `bernoulli` does ([`bernoulli_into`]).
    fn update_loaded(&mut self, rbm: &mut Rbm, n_pos: i64, momentum: f64) {
        let n_neg = self.negative_rows(n_pos);
        let cfg = &self.config;
        let lr = cfg.learning_rate;
        let work = &self.work;
        // [B⁺ + B⁻, V]: [v⁰ ; v⁻]
        let vs = work.vs.narrow(0, 0, n_pos + n_neg);
        // [B⁺ + B⁻, H]: [h⁺ ; h⁻]
        let hs = work.hs.narrow(0, 0, n_pos + n_neg);
        // [B⁺, V]
        let v0 = vs.narrow(0, 0, n_pos);
        // [B⁻, V]
        let mut v_neg = vs.narrow(0, n_pos, n_neg);
        // [B⁺, H]
        let mut h_pos = hs.narrow(0, 0, n_pos);
        // [B⁻, H]
        let mut h_neg = hs.narrow(0, n_pos, n_neg);
        // [B⁻, V]
        let mut pv = work.pv.narrow(0, 0, n_neg);
        // [B⁻, H]
        let mut h_sample = work.h_sample.narrow(0, 0, n_neg);

        rbm.hidden_probs_into(&v0, &mut h_pos);
        let sample_visible = cfg.sample_visible || self.chain.is_some();
        // [B⁻, H]: the hidden states the Gibbs chain starts from
        let mut h = match &self.chain {
            Some(chain) => chain.shallow_clone(),
            None => {
                bernoulli_into(&h_pos, &mut h_sample);
                h_sample.shallow_clone()
            }
        };
        for step in 1..=cfg.cd_k {
            if sample_visible {
                rbm.visible_probs_into(&h, &mut pv);
                bernoulli_into(&pv, &mut v_neg);
            } else {
                rbm.visible_probs_into(&h, &mut v_neg);
            }
            rbm.hidden_probs_into(&v_neg, &mut h_neg);
            if step < cfg.cd_k {
                bernoulli_into(&h_neg, &mut h_sample);
                h = h_sample.shallow_clone();
            }
        }
        if let Some(chain) = self.chain.as_mut() {
            // [B_chain, H]: the chain's new hidden states, in place
            bernoulli_into(&h_neg, chain);
        }

        // [V]: ε(⟨v⁰⟩ − ⟨v⁻⟩)
        let grad_b =
            (v0.mean_dim(0, false, Kind::Float) - v_neg.mean_dim(0, false, Kind::Float)) * lr;
        // hs = [h⁺·ε/B⁺ ; −h⁻·ε/B⁻], in place, so that hsᵀvs = ε(⟨h⁺v⁰ᵀ⟩ − ⟨h⁻v⁻ᵀ⟩).
        let _ = h_pos.g_mul_scalar_(lr / n_pos as f64);
        let _ = h_neg.g_mul_scalar_(-lr / n_neg as f64);
        // [H]: ε(⟨h⁺⟩ − ⟨h⁻⟩)
        let grad_c = hs.sum_dim_intlist(0, false, Kind::Float);

        // ΔW ← αΔW − ελW + hsᵀvs, the product accumulated in place.
        // [H, V]
        let _ = self.weight_inc.g_mul_scalar_(momentum);
        if let Some(decay) = self.work.decay.as_mut() {
            // [H, V]: −ελW
            let _ = rbm.weight.mul_scalar_out(decay, -lr * cfg.weight_decay);
            let _ = self.weight_inc.g_add_(decay);
        }
        // [H, V]
        let _ = self.weight_inc.addmm_(&hs.tr(), &vs);
        let _ = self.visible_bias_inc.g_mul_scalar_(momentum);
        let _ = self.visible_bias_inc.g_add_(&grad_b);
        let _ = self.hidden_bias_inc.g_mul_scalar_(momentum);
        let _ = self.hidden_bias_inc.g_add_(&grad_c);

        let _ = rbm.weight.g_add_(&self.weight_inc);
        let _ = rbm.visible_bias.g_add_(&self.visible_bias_inc);
        let _ = rbm.hidden_bias.g_add_(&self.hidden_bias_inc);
    }

    /// One pass over `data` (`[n, V]` f32 in [0, 1]) in mini-batches, shuffled with
    /// `Tensor::randperm` when the config says so, with the momentum of the next epoch. Returns the
    /// seconds it took. `on_batch(batch, batches)` is called after each update (1-based).
    ///
    /// Each batch is gathered (`index_select`) or copied straight into the trainer's workspace.
    pub fn train_epoch(
        &mut self,
        rbm: &mut Rbm,
        data: &Tensor,
        on_batch: &mut dyn FnMut(i64, i64),
    ) -> Result<f64> {
        check_unit_data(data, Some(rbm.n_visible()), "training data")?;
        self.check_rbm(rbm)?;
        let started = Instant::now();
        let epoch = self.epochs_done + 1;
        let momentum = self.config.momentum(epoch);
        let n = data.size()[0];
        let bs = self.config.batch_size;
        let batches = (n + bs - 1) / bs;
        let order = self
            .config
            .shuffle
            .then(|| Tensor::randperm(n, (Kind::Int64, Device::Cpu))); // [n]
        for b in 0..batches {
            let start = b * bs;
            let len = bs.min(n - start);
            tch::no_grad(|| {
                // [len, V]: the workspace rows that take the batch
                let mut v0 = self.batch_rows(len);
                match &order {
                    Some(perm) => {
                        let _ = data.index_select_out(&v0, 0, &perm.narrow(0, start, len));
                    }
                    None => v0.copy_(&data.narrow(0, start, len)),
                }
                self.update_loaded(rbm, len, momentum)
            });
            on_batch(b + 1, batches);
        }
        self.epochs_done = epoch;
        Ok(started.elapsed().as_secs_f64())
    }
}

/// Monitoring values of `rbm` on `monitor` (epoch number, momentum and seconds as given).
pub fn monitor_record(
    rbm: &Rbm,
    monitor: &Tensor,
    epoch: usize,
    momentum: f64,
    seconds: f64,
) -> Result<RbmEpochRecord> {
    Ok(RbmEpochRecord {
        epoch,
        reconstruction_error: rbm.reconstruction_error(monitor)?,
        pseudo_log_likelihood: rbm.mean_pseudo_log_likelihood(monitor)?,
        momentum,
        seconds,
    })
}

/// Trains `rbm` on `data` for `epochs` epochs with `config`, monitoring reconstruction error and
/// pseudo-log-likelihood on `monitor` (`[m, V]`; e.g. held-out images) before training and after
/// each epoch. Stops with an error if the weights stop being finite.
pub fn train(
    rbm: &mut Rbm,
    data: &Tensor,
    monitor: &Tensor,
    config: &RbmConfig,
    epochs: usize,
    progress: &mut dyn FnMut(RbmProgress),
) -> Result<RbmHistory> {
    ensure!(epochs >= 1, "RBM training needs at least 1 epoch");
    check_unit_data(monitor, Some(rbm.n_visible()), "monitoring data")?;
    let mut trainer = RbmTrainer::new(rbm, config)?;
    let mut history = RbmHistory {
        initial: Some(monitor_record(rbm, monitor, 0, 0.0, 0.0)?),
        epochs: Vec::with_capacity(epochs),
    };
    for epoch in 1..=epochs {
        let seconds = trainer.train_epoch(rbm, data, &mut |batch, batches| {
            progress(RbmProgress::Batch {
                epoch,
                batch,
                batches,
            })
        })?;
        let norm = rbm.weight.abs().max().double_value(&[]);
        ensure!(
            norm.is_finite(),
            "RBM training diverged at epoch {epoch} ({}, learning rate {}): the weights are not finite; \
             try a smaller learning rate",
            config.algorithm(),
            config.learning_rate
        );
        let record = monitor_record(rbm, monitor, epoch, config.momentum(epoch), seconds)?;
        progress(RbmProgress::Epoch(&record));
        history.epochs.push(record);
    }
    Ok(history)
}
