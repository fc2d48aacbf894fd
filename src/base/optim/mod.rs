//! Optimizers: PyTorch's Adam reproduced operation by operation (and the same arithmetic fused
//! into one pass, [`fused`]), plain SGD, and tch's own Adam.

pub mod fused;

use std::fmt;
use std::str::FromStr;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

/// Which optimizer trains the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// [`TorchAdam`]: bit-identical to `torch.optim.Adam` on CPU (the default).
    Adam,
    /// tch's `nn::Adam` (libtorch's C++ Adam): the same algorithm, about 1 ulp apart from step 2 on.
    TchAdam,
    /// [`Sgd`] without momentum.
    Sgd,
}

impl OptimizerKind {
    /// Every kind, in the order shown to users.
    pub const ALL: [OptimizerKind; 3] = [
        OptimizerKind::Adam,
        OptimizerKind::TchAdam,
        OptimizerKind::Sgd,
    ];

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::TchAdam => "tch-adam",
            OptimizerKind::Sgd => "sgd",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .with_context(|| format!("unknown optimizer {s:?} (expected adam, tch-adam or sgd)"))
    }
}

/// Hyper-parameters of Adam, with PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Step size (PyTorch default 0.001, the lab's value).
    pub lr: f64,
    /// Decay of the first-moment average (0.9).
    pub beta1: f64,
    /// Decay of the second-moment average (0.999).
    pub beta2: f64,
    /// Added to the denominator (1e-8).
    pub eps: f64,
    /// L2 penalty added to the gradient (0).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment (Reddi et al. 2018) (false).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

/// Adam (Kingma & Ba 2015) with the arithmetic of PyTorch's `_single_tensor_adam`
/// (`torch/optim/adam.py`, the CPU default), so that a port trains bit-identically:
///
/// ```text
/// step += 1
/// g = grad (+ weight_decay · param)
/// exp_avg.lerp_(g, 1 − β1)
/// exp_avg_sq.mul_(β2).addcmul_(g, g, value = 1 − β2)
/// bc1 = 1 − β1^step, bc2 = 1 − β2^step          (f64, as Python floats)
/// step_size = lr / bc1
/// denom = (exp_avg_sq.sqrt() / bc2^0.5).add_(eps)   (max_exp_avg_sq with amsgrad)
/// param.addcdiv_(exp_avg, denom, value = −step_size)
/// ```
///
/// tch's `addcmul_`/`addcdiv_` take no `value`; the first operand is pre-scaled instead, which
/// libtorch's kernels evaluate in the same order (`value · t1 · t2`, `value · t1 / t2`).
///
/// Differences from tch's `nn::Adam` (libtorch's C++ `torch::optim::Adam`): the C++ version
/// computes the same formulas with a different grouping, so results drift apart by about one ulp
/// from the second step on. The state here is plain tensors ([`TorchAdam::state`]) that can be
/// saved and restored; tch's optimizer state is not reachable from Rust.
///
/// Weight decay is computed as `grad + weight_decay · param` with a separate multiply; PyTorch's
/// `grad.add(param, alpha=wd)` may fuse it, so with weight decay the last bit can differ.
#[derive(Debug)]
pub struct TorchAdam {
    params: Vec<Tensor>,
    /// Hyper-parameters.
    pub config: AdamConfig,
    step: i64,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    max_exp_avg_sq: Vec<Tensor>,
}

/// The state of [`TorchAdam`], as plain tensors.
#[derive(Debug)]
pub struct AdamState {
    /// Steps taken so far.
    pub step: i64,
    /// First-moment averages, one per parameter.
    pub exp_avg: Vec<Tensor>,
    /// Second-moment averages, one per parameter.
    pub exp_avg_sq: Vec<Tensor>,
    /// Running maxima of the second moment (empty without amsgrad).
    pub max_exp_avg_sq: Vec<Tensor>,
}

impl TorchAdam {
    /// An optimizer over `params` (shallow clones of trainable tensors).
    pub fn new(params: Vec<Tensor>, config: AdamConfig) -> Result<Self> {
        ensure!(
            config.lr > 0.0 && config.lr.is_finite(),
            "Adam: learning rate must be positive, got {}",
            config.lr
        );
        ensure!(
            (0.0..1.0).contains(&config.beta1),
            "Adam: beta1 must be in [0, 1), got {}",
            config.beta1
        );
        ensure!(
            (0.0..1.0).contains(&config.beta2),
            "Adam: beta2 must be in [0, 1), got {}",
            config.beta2
        );
        ensure!(
            config.eps >= 0.0,
            "Adam: eps must be ≥ 0, got {}",
            config.eps
        );
        ensure!(
            config.weight_decay >= 0.0,
            "Adam: weight decay must be ≥ 0, got {}",
            config.weight_decay
        );
        let zeros = |ps: &[Tensor]| ps.iter().map(|p| p.zeros_like()).collect::<Vec<_>>();
        let exp_avg = zeros(&params);
        let exp_avg_sq = zeros(&params);
        let max_exp_avg_sq = if config.amsgrad {
            zeros(&params)
        } else {
            Vec::new()
        };
        Ok(TorchAdam {
            params,
            config,
            step: 0,
            exp_avg,
            exp_avg_sq,
            max_exp_avg_sq,
        })
    }

    /// Clears the gradients of all parameters.
    pub fn zero_grad(&mut self) {
        for p in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    /// One Adam update of every parameter that has a gradient: the fused pass ([`fused`]) when
    /// every tensor is a contiguous `f32` CPU tensor and oneMKL is loaded, else the
    /// operation-by-operation [`TorchAdam::step_unfused`]. Both give the same bits.
    pub fn step(&mut self) {
        let grads = self.grads();
        self.step_with(&grads);
    }

    /// [`TorchAdam::step`] with the gradients given (one per parameter, in order; an undefined
    /// tensor skips its parameter) instead of read from `.grad`: what a training loop that
    /// computes them with `torch.autograd.grad` (no accumulation into zeroed `.grad` buffers)
    /// passes.
    pub fn step_with(&mut self, grads: &[Tensor]) {
        if !fused::enabled() || !self.step_fused(grads) {
            self.step_unfused_with(grads);
        }
    }

    /// The parameters' `.grad` tensors.
    fn grads(&self) -> Vec<Tensor> {
        self.params.iter().map(Tensor::grad).collect()
    }

    /// The step's constants: bias corrections in `f64` as Python floats, each scalar operand
    /// converted to `f32` as ATen converts a Python float for a float tensor.
    fn scalars(&self) -> fused::StepScalars {
        let c = self.config;
        let step = self.step as f64;
        let bias_correction1 = 1.0 - c.beta1.powf(step);
        let bias_correction2 = 1.0 - c.beta2.powf(step);
        fused::StepScalars {
            weight_decay: (c.weight_decay != 0.0).then_some(c.weight_decay as f32),
            lerp_weight: (1.0 - c.beta1) as f32,
            beta2: c.beta2 as f32,
            one_minus_beta2: (1.0 - c.beta2) as f32,
            bias_correction2_sqrt: bias_correction2.powf(0.5) as f32,
            eps: c.eps as f32,
            neg_step_size: (-(c.lr / bias_correction1)) as f32,
        }
    }

    /// The fused step; `false` (nothing done) when a tensor does not allow it.
    fn step_fused(&mut self, given: &[Tensor]) -> bool {
        if !fused::available() || given.len() != self.params.len() {
            return false;
        }
        let plain = |t: &Tensor| {
            t.kind() == tch::Kind::Float && t.device() == tch::Device::Cpu && t.is_contiguous()
        };
        let mut grads = Vec::with_capacity(self.params.len());
        for (i, p) in self.params.iter().enumerate() {
            if !given[i].defined() {
                continue;
            }
            // autograd may hand a transposed view; the values are what count
            let grad = given[i].contiguous();
            let mut state = vec![p, &grad, &self.exp_avg[i], &self.exp_avg_sq[i]];
            if self.config.amsgrad {
                state.push(&self.max_exp_avg_sq[i]);
            }
            if !state.iter().all(|t| plain(t) && t.numel() == p.numel()) {
                return false;
            }
            grads.push((i, grad));
        }
        self.step += 1;
        let scalars = self.scalars();
        let slots: Vec<fused::Slot> = grads
            .iter()
            .map(|(i, grad)| fused::Slot {
                param: self.params[*i].data_ptr() as *mut f32,
                grad: grad.data_ptr() as *const f32,
                exp_avg: self.exp_avg[*i].data_ptr() as *mut f32,
                exp_avg_sq: self.exp_avg_sq[*i].data_ptr() as *mut f32,
                max_exp_avg_sq: if self.config.amsgrad {
                    self.max_exp_avg_sq[*i].data_ptr() as *mut f32
                } else {
                    std::ptr::null_mut()
                },
                len: self.params[*i].numel(),
            })
            .collect();
        // SAFETY: each slot points at contiguous f32 CPU tensors of `len` elements, checked
        // above; a parameter, its gradient and its moments are distinct allocations (the moments
        // were made by `zeros_like`/`copy`, autograd allocates gradients), and `&mut self` keeps
        // other users of this optimizer away for the step.
        unsafe { fused::step(&slots, &scalars) };
        true
    }

    /// One Adam update operation by operation, as `_single_tensor_adam` runs it (the reference the
    /// fused step is tested against).
    pub fn step_unfused(&mut self) {
        let grads = self.grads();
        self.step_unfused_with(&grads);
    }

    /// [`TorchAdam::step_unfused`] with the gradients given, as [`TorchAdam::step_with`].
    pub fn step_unfused_with(&mut self, grads: &[Tensor]) {
        one_per_parameter(grads, &self.params);
        self.step += 1;
        let c = self.config;
        let step = self.step as f64;
        let bias_correction1 = 1.0 - c.beta1.powf(step);
        let bias_correction2 = 1.0 - c.beta2.powf(step);
        let step_size = c.lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.powf(0.5);
        tch::no_grad(|| {
            for (i, grad) in grads.iter().enumerate() {
                let grad = grad.shallow_clone();
                if !grad.defined() {
                    continue;
                }
                let grad = if c.weight_decay != 0.0 {
                    &grad + &self.params[i] * c.weight_decay
                } else {
                    grad
                };
                let _ = self.exp_avg[i].lerp_(&grad, 1.0 - c.beta1);
                let _ = self.exp_avg_sq[i].g_mul_scalar_(c.beta2);
                let _ = self.exp_avg_sq[i].addcmul_(&(&grad * (1.0 - c.beta2)), &grad);
                let second = if c.amsgrad {
                    let m = self.max_exp_avg_sq[i].maximum(&self.exp_avg_sq[i]);
                    self.max_exp_avg_sq[i].copy_(&m);
                    &self.max_exp_avg_sq[i]
                } else {
                    &self.exp_avg_sq[i]
                };
                let mut denom = second.sqrt() / bias_correction2_sqrt;
                let _ = denom.g_add_scalar_(c.eps);
                let _ = self.params[i].addcdiv_(&(&self.exp_avg[i] * (-step_size)), &denom);
            }
        });
    }

    /// A copy of the state.
    pub fn state(&self) -> AdamState {
        let copy = |v: &[Tensor]| v.iter().map(|t| t.copy()).collect::<Vec<_>>();
        AdamState {
            step: self.step,
            exp_avg: copy(&self.exp_avg),
            exp_avg_sq: copy(&self.exp_avg_sq),
            max_exp_avg_sq: copy(&self.max_exp_avg_sq),
        }
    }

    /// Restores a state taken with [`TorchAdam::state`] from an optimizer over the same parameters.
    pub fn set_state(&mut self, state: AdamState) -> Result<()> {
        ensure!(
            state.exp_avg.len() == self.params.len() && state.exp_avg_sq.len() == self.params.len(),
            "Adam state holds {} tensors, the optimizer has {} parameters",
            state.exp_avg.len(),
            self.params.len()
        );
        ensure!(
            state.max_exp_avg_sq.len()
                == if self.config.amsgrad {
                    self.params.len()
                } else {
                    0
                },
            "Adam state and optimizer disagree about amsgrad"
        );
        for (p, m) in self.params.iter().zip(&state.exp_avg) {
            ensure!(
                p.size() == m.size(),
                "Adam state shape {:?} does not match parameter {:?}",
                m.size(),
                p.size()
            );
        }
        self.step = state.step;
        self.exp_avg = state.exp_avg;
        self.exp_avg_sq = state.exp_avg_sq;
        self.max_exp_avg_sq = state.max_exp_avg_sq;
        Ok(())
    }
}

/// Stochastic gradient descent, `param ← param − lr · grad` (optionally with momentum
/// `buf ← momentum · buf + grad`, `param ← param − lr · buf`, as `torch.optim.SGD` with dampening 0).
#[derive(Debug)]
pub struct Sgd {
    params: Vec<Tensor>,
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 = none).
    pub momentum: f64,
    buffers: Vec<Option<Tensor>>,
}

impl Sgd {
    /// SGD over `params`.
    pub fn new(params: Vec<Tensor>, lr: f64, momentum: f64) -> Result<Self> {
        ensure!(
            lr > 0.0 && lr.is_finite(),
            "SGD: learning rate must be positive, got {lr}"
        );
        ensure!(
            (0.0..1.0).contains(&momentum),
            "SGD: momentum must be in [0, 1), got {momentum}"
        );
        let buffers = params.iter().map(|_| None).collect();
        Ok(Sgd {
            params,
            lr,
            momentum,
            buffers,
        })
    }

    /// Clears the gradients.
    pub fn zero_grad(&mut self) {
        for p in self.params.iter_mut() {
            p.zero_grad();
        }
    }

    /// Copies of the momentum buffers (`None` before the first step with a gradient).
    pub fn buffers(&self) -> Vec<Option<Tensor>> {
        self.buffers
            .iter()
            .map(|b| b.as_ref().map(|t| t.copy()))
            .collect()
    }

    /// Restores buffers taken with [`Sgd::buffers`] from an optimizer over the same parameters.
    pub fn set_buffers(&mut self, buffers: Vec<Option<Tensor>>) -> Result<()> {
        ensure!(
            buffers.len() == self.params.len(),
            "SGD state holds {} buffers, the optimizer has {} parameters",
            buffers.len(),
            self.params.len()
        );
        for (p, b) in self.params.iter().zip(&buffers) {
            if let Some(b) = b {
                ensure!(
                    p.size() == b.size(),
                    "SGD momentum buffer shape {:?} does not match parameter {:?}",
                    b.size(),
                    p.size()
                );
            }
        }
        self.buffers = buffers;
        Ok(())
    }

    /// One update.
    pub fn step(&mut self) {
        let grads: Vec<Tensor> = self.params.iter().map(Tensor::grad).collect();
        self.step_with(&grads);
    }

    /// One update with the gradients given (one per parameter, in order; undefined: skipped).
    pub fn step_with(&mut self, grads: &[Tensor]) {
        one_per_parameter(grads, &self.params);
        tch::no_grad(|| {
            for ((p, buf), grad) in self
                .params
                .iter_mut()
                .zip(self.buffers.iter_mut())
                .zip(grads)
            {
                let grad = grad.shallow_clone();
                if !grad.defined() {
                    continue;
                }
                let direction = if self.momentum > 0.0 {
                    let b = match buf.take() {
                        None => grad.copy(),
                        Some(b) => b * self.momentum + &grad,
                    };
                    *buf = Some(b.shallow_clone());
                    b
                } else {
                    grad
                };
                let _ = p.g_add_(&(direction * (-self.lr)));
            }
        });
    }
}

/// Panics unless there is one gradient per parameter: a caller's bug, not a user's input.
fn one_per_parameter(grads: &[Tensor], params: &[Tensor]) {
    assert_eq!(
        grads.len(),
        params.len(),
        "one gradient per parameter (a bug in the caller)"
    );
}

/// The state an optimizer carries from step to step, for checkpoints.
#[derive(Debug)]
pub enum OptimizerState {
    /// [`TorchAdam`]'s step count and moments.
    Adam(AdamState),
    /// [`Sgd`]'s momentum buffers.
    Sgd(Vec<Option<Tensor>>),
}

/// The optimizer of a training run.
pub enum Optimizer {
    /// PyTorch's Adam, bit for bit.
    Adam(TorchAdam),
    /// libtorch's C++ Adam through tch.
    TchAdam(nn::Optimizer),
    /// Plain SGD.
    Sgd(Sgd),
}

impl Optimizer {
    /// Builds the optimizer `kind` with learning rate `lr` (and `momentum`, for SGD only) over
    /// the model's parameters.
    pub fn new(
        kind: OptimizerKind,
        lr: f64,
        momentum: f64,
        vs: &nn::VarStore,
        params: Vec<Tensor>,
    ) -> Result<Self> {
        Ok(match kind {
            OptimizerKind::Adam => Optimizer::Adam(TorchAdam::new(
                params,
                AdamConfig {
                    lr,
                    ..AdamConfig::default()
                },
            )?),
            OptimizerKind::TchAdam => {
                use tch::nn::OptimizerConfig;
                ensure!(
                    lr > 0.0 && lr.is_finite(),
                    "learning rate must be positive, got {lr}"
                );
                Optimizer::TchAdam(
                    nn::Adam::default()
                        .build(vs, lr)
                        .context("building tch's Adam")?,
                )
            }
            OptimizerKind::Sgd => Optimizer::Sgd(Sgd::new(params, lr, momentum)?),
        })
    }

    /// A copy of the state, or `None` for libtorch's Adam, whose state tch does not expose.
    pub fn state(&self) -> Option<OptimizerState> {
        match self {
            Optimizer::Adam(o) => Some(OptimizerState::Adam(o.state())),
            Optimizer::TchAdam(_) => None,
            Optimizer::Sgd(o) => Some(OptimizerState::Sgd(o.buffers())),
        }
    }

    /// Restores a state taken with [`Optimizer::state`] from the same kind of optimizer.
    pub fn set_state(&mut self, state: OptimizerState) -> Result<()> {
        match (self, state) {
            (Optimizer::Adam(o), OptimizerState::Adam(s)) => o.set_state(s),
            (Optimizer::Sgd(o), OptimizerState::Sgd(b)) => o.set_buffers(b),
            (Optimizer::TchAdam(_), _) => {
                anyhow::bail!("libtorch's Adam (tch-adam) cannot take a saved state")
            }
            _ => anyhow::bail!("the saved optimizer state is of another optimizer"),
        }
    }

    /// Sets the learning rate of the next steps (a schedule's value for the epoch).
    pub fn set_lr(&mut self, lr: f64) {
        match self {
            Optimizer::Adam(o) => o.config.lr = lr,
            Optimizer::TchAdam(o) => o.set_lr(lr),
            Optimizer::Sgd(o) => o.lr = lr,
        }
    }

    /// Clears the gradients.
    pub fn zero_grad(&mut self) {
        match self {
            Optimizer::Adam(o) => o.zero_grad(),
            Optimizer::TchAdam(o) => o.zero_grad(),
            Optimizer::Sgd(o) => o.zero_grad(),
        }
    }

    /// Whether [`Optimizer::step_with`] can take the gradients directly (libtorch's Adam reads
    /// `.grad` only).
    pub fn takes_gradients(&self) -> bool {
        !matches!(self, Optimizer::TchAdam(_))
    }

    /// One update from `grads` (one per parameter, in the order the optimizer was given them),
    /// for the optimizers that [take gradients](Optimizer::takes_gradients); libtorch's Adam
    /// steps from `.grad`.
    pub fn step_with(&mut self, grads: &[Tensor]) {
        match self {
            Optimizer::Adam(o) => o.step_with(grads),
            Optimizer::TchAdam(o) => o.step(),
            Optimizer::Sgd(o) => o.step_with(grads),
        }
    }

    /// One update from the current gradients.
    pub fn step(&mut self) {
        match self {
            Optimizer::Adam(o) => o.step(),
            Optimizer::TchAdam(o) => o.step(),
            Optimizer::Sgd(o) => o.step(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn sgd_momentum_follows_pytorchs_recurrence() {
        // Constant gradient g = 2 (from loss 2·p): buf₁ = g, p₁ = p₀ − lr·g; buf₂ = 0.9·g + g,
        // p₂ = p₁ − lr·1.9·g. With lr 0.25: 1 → 0.5 → −0.45.
        let p = Tensor::ones([1], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut sgd = Sgd::new(vec![p.shallow_clone()], 0.25, 0.9).unwrap();
        let mut values = Vec::new();
        for _ in 0..2 {
            sgd.zero_grad();
            (&p * 2.0).sum(Kind::Float).backward();
            sgd.step();
            values.push(p.double_value(&[0]));
        }
        assert_eq!(values, vec![0.5, f64::from(0.5f32 - 0.25 * 1.9 * 2.0)]);
        assert!(Sgd::new(vec![], 0.1, 1.0).is_err());
        assert!(Sgd::new(vec![], -0.1, 0.0).is_err());
    }
}
