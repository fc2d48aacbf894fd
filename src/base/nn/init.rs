//! `torch.nn.init`, written by hand.
//!
//! Two layers, as in PyTorch's `torch/nn/init.py`:
//!
//! 1. pure `f64` arithmetic — fans, gains, bounds and standard deviations — computed with the same
//!    operations in the same order as PyTorch, so that the numbers agree to the last bit and can be
//!    tested exactly;
//! 2. thin fillers that overwrite a tensor in place under [`tch::no_grad`], drawing from tch's
//!    global CPU generator exactly the way PyTorch draws from its default generator.
//!
//! A filler applied to a tensor of the same shape, kind and device, after the same earlier use of
//! the generator, produces exactly the numbers PyTorch produces (checked in `tests/init.rs`).

use anyhow::{ensure, Result};
use tch::Tensor;

/// The nonlinearity that follows a layer; selects the gain of [`calculate_gain`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nonlinearity {
    /// Identity (gain 1).
    Linear,
    /// Any convolution (gain 1).
    Conv,
    /// Logistic sigmoid (gain 1).
    Sigmoid,
    /// Hyperbolic tangent (gain 5/3).
    Tanh,
    /// Rectified linear unit (gain √2).
    Relu,
    /// Leaky ReLU with the given negative slope (gain √(2 / (1 + slope²))).
    LeakyRelu {
        /// The slope for negative inputs; PyTorch's default is 0.01.
        negative_slope: f64,
    },
    /// SELU: gain 3/4. PyTorch's docstring says this default gives up self-normalisation for more
    /// stable gradients in rectangular layers; self-normalising networks should use `Linear`
    /// (gain 1, weight variance 1/N) instead.
    Selu,
}

impl Nonlinearity {
    /// PyTorch's `kaiming_*_` default: `nonlinearity='leaky_relu'` with slope `a`.
    pub fn leaky_relu(negative_slope: f64) -> Self {
        Nonlinearity::LeakyRelu { negative_slope }
    }
}

/// Which fan a Kaiming initializer preserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the variance of activations in the forward pass.
    FanIn,
    /// Preserve the variance of gradients in the backward pass.
    FanOut,
}

/// The recommended gain for a nonlinearity.
///
/// Mirrors `torch.nn.init.calculate_gain`: 1 for linear, conv and sigmoid, 5/3 for tanh, √2 for
/// ReLU, √(2 / (1 + slope²)) for leaky ReLU, 3/4 for SELU.
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Conv | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2.0f64.sqrt(),
        // Python: math.sqrt(2.0 / (1 + negative_slope**2)); `**2` on a float is one rounding.
        Nonlinearity::LeakyRelu { negative_slope } => {
            (2.0 / (1.0 + negative_slope * negative_slope)).sqrt()
        }
        Nonlinearity::Selu => 3.0 / 4.0,
    }
}

/// `(fan_in, fan_out)` of a weight of the given shape.
///
/// Mirrors `torch.nn.init._calculate_fan_in_and_fan_out`: for a shape `[out, in, k1, k2, …]`,
/// the receptive field is `k1·k2·…`, `fan_in = in · receptive`, `fan_out = out · receptive`.
/// Tensors with fewer than two dimensions have no fans (an error, as in PyTorch).
pub fn fan_in_and_fan_out(shape: &[i64]) -> Result<(i64, i64)> {
    ensure!(
        shape.len() >= 2,
        "fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (shape {shape:?})"
    );
    let receptive: i64 = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// The fan selected by `mode` (`torch.nn.init._calculate_correct_fan`).
pub fn correct_fan(shape: &[i64], mode: FanMode) -> Result<i64> {
    let (fan_in, fan_out) = fan_in_and_fan_out(shape)?;
    Ok(match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    })
}

/// Standard deviation of Glorot/Xavier initialization: `gain · √(2 / (fan_in + fan_out))`.
///
/// Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward neural
/// networks", eq. 16 ("normalized initialization").
pub fn xavier_std(fan_in: i64, fan_out: i64, gain: f64) -> f64 {
    gain * (2.0 / (fan_in + fan_out) as f64).sqrt()
}

/// Bound `a` of Xavier-uniform, U(−a, a): `a = √3 · std` with [`xavier_std`].
pub fn xavier_uniform_bound(fan_in: i64, fan_out: i64, gain: f64) -> f64 {
    3.0f64.sqrt() * xavier_std(fan_in, fan_out, gain)
}

/// Standard deviation of He/Kaiming initialization: `gain / √fan`.
///
/// He, Zhang, Ren & Sun (2015), "Delving Deep into Rectifiers", eq. 10 (fan-in) and eq. 14
/// (fan-out).
pub fn kaiming_std(fan: i64, gain: f64) -> f64 {
    gain / (fan as f64).sqrt()
}

/// Bound of Kaiming-uniform, U(−b, b): `b = √3 · std` with [`kaiming_std`].
pub fn kaiming_uniform_bound(fan: i64, gain: f64) -> f64 {
    3.0f64.sqrt() * kaiming_std(fan, gain)
}

/// Bound of `torch.nn.Linear`'s default weight init: `kaiming_uniform_(w, a=√5)`, i.e.
/// gain √(2 / (1 + 5)) and bound √3 · gain / √fan_in — in exact arithmetic 1/√fan_in, but PyTorch
/// computes it this way and so do we, to get the same last bit.
pub fn torch_linear_weight_bound(fan_in: i64) -> f64 {
    let gain = calculate_gain(Nonlinearity::leaky_relu(5.0f64.sqrt()));
    kaiming_uniform_bound(fan_in, gain)
}

/// Bound of `torch.nn.Linear`'s default bias init: `1/√fan_in` (0 when fan_in is 0).
pub fn torch_linear_bias_bound(fan_in: i64) -> f64 {
    if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    }
}

/// Fills `tensor` from U(low, high). Mirrors `torch.nn.init.uniform_`.
pub fn uniform_(tensor: &mut Tensor, low: f64, high: f64) -> Result<()> {
    ensure!(low <= high, "uniform_: low {low} is above high {high}");
    let _ = tch::no_grad(|| tensor.f_uniform_(low, high))?;
    Ok(())
}

/// Fills `tensor` from N(mean, std²). Mirrors `torch.nn.init.normal_`.
pub fn normal_(tensor: &mut Tensor, mean: f64, std: f64) -> Result<()> {
    ensure!(
        std >= 0.0 && std.is_finite(),
        "normal_: std must be finite and ≥ 0, got {std}"
    );
    let _ = tch::no_grad(|| tensor.f_normal_(mean, std))?;
    Ok(())
}

/// Fills `tensor` with `value`. Mirrors `torch.nn.init.constant_`.
pub fn constant_(tensor: &mut Tensor, value: f64) -> Result<()> {
    let _ = tch::no_grad(|| tensor.f_fill_(value))?;
    Ok(())
}

/// Fills `tensor` with zeros. Mirrors `torch.nn.init.zeros_`.
pub fn zeros_(tensor: &mut Tensor) -> Result<()> {
    constant_(tensor, 0.0)
}

/// Fills `tensor` with ones. Mirrors `torch.nn.init.ones_`.
pub fn ones_(tensor: &mut Tensor) -> Result<()> {
    constant_(tensor, 1.0)
}

/// Xavier/Glorot uniform: U(−a, a) with `a = gain · √(6 / (fan_in + fan_out))`, computed as
/// `√3 · gain · √(2 / (fan_in + fan_out))`.
///
/// Glorot & Bengio (2010). Mirrors `torch.nn.init.xavier_uniform_` — the function the seed
/// document shows.
pub fn xavier_uniform_(tensor: &mut Tensor, gain: f64) -> Result<()> {
    let (fan_in, fan_out) = fan_in_and_fan_out(&tensor.size())?;
    let a = xavier_uniform_bound(fan_in, fan_out, gain);
    uniform_(tensor, -a, a)
}

/// Xavier/Glorot normal: N(0, std²) with `std = gain · √(2 / (fan_in + fan_out))`.
///
/// Glorot & Bengio (2010). Mirrors `torch.nn.init.xavier_normal_`.
pub fn xavier_normal_(tensor: &mut Tensor, gain: f64) -> Result<()> {
    let (fan_in, fan_out) = fan_in_and_fan_out(&tensor.size())?;
    normal_(tensor, 0.0, xavier_std(fan_in, fan_out, gain))
}

/// The fan Kaiming's formulas use, or `None` for a zero-element tensor, which PyTorch returns
/// untouched (with a warning: "a no-op").
fn kaiming_fan(tensor: &Tensor, mode: FanMode, what: &str) -> Result<Option<i64>> {
    if tensor.numel() == 0 {
        return Ok(None);
    }
    let fan = correct_fan(&tensor.size(), mode)?;
    ensure!(
        fan > 0,
        "{what}: a tensor of shape {:?} has a zero fan",
        tensor.size()
    );
    Ok(Some(fan))
}

/// He/Kaiming uniform: U(−b, b) with `b = √3 · gain / √fan`.
///
/// He et al. (2015). Mirrors `torch.nn.init.kaiming_uniform_(tensor, a, mode, nonlinearity)`;
/// PyTorch's defaults are `Nonlinearity::leaky_relu(0.0)` and `FanMode::FanIn`.
pub fn kaiming_uniform_(
    tensor: &mut Tensor,
    mode: FanMode,
    nonlinearity: Nonlinearity,
) -> Result<()> {
    let Some(fan) = kaiming_fan(tensor, mode, "kaiming_uniform_")? else {
        return Ok(());
    };
    let bound = kaiming_uniform_bound(fan, calculate_gain(nonlinearity));
    uniform_(tensor, -bound, bound)
}

/// He/Kaiming normal: N(0, std²) with `std = gain / √fan`.
///
/// He et al. (2015). Mirrors `torch.nn.init.kaiming_normal_(tensor, a, mode, nonlinearity)`.
pub fn kaiming_normal_(
    tensor: &mut Tensor,
    mode: FanMode,
    nonlinearity: Nonlinearity,
) -> Result<()> {
    let Some(fan) = kaiming_fan(tensor, mode, "kaiming_normal_")? else {
        return Ok(());
    };
    normal_(tensor, 0.0, kaiming_std(fan, calculate_gain(nonlinearity)))
}

/// Fills a 2-D `tensor` with the identity matrix (ones on the diagonal, zeros elsewhere).
/// Mirrors `torch.nn.init.eye_`.
pub fn eye_(tensor: &mut Tensor) -> Result<()> {
    let size = tensor.size();
    ensure!(
        size.len() == 2,
        "eye_: only 2-D tensors are supported, got shape {size:?}"
    );
    let eye = Tensor::eye_m(size[0], size[1], (tensor.kind(), tensor.device()));
    tch::no_grad(|| tensor.copy_(&eye));
    Ok(())
}

/// Glorot & Bengio's "standard" initialization, U(−1/√n, 1/√n) with n = fan_in (their eq. 1, the
/// heuristic they compare the normalized init against). PyTorch has no function for it; it equals
/// `uniform_(w, -1/sqrt(fan_in), 1/sqrt(fan_in))`.
pub fn glorot_standard_(tensor: &mut Tensor) -> Result<()> {
    let (fan_in, _) = fan_in_and_fan_out(&tensor.size())?;
    ensure!(
        fan_in > 0,
        "glorot_standard_: a tensor of shape {:?} has a zero fan-in",
        tensor.size()
    );
    let b = 1.0 / (fan_in as f64).sqrt();
    uniform_(tensor, -b, b)
}

/// The standard normal CDF Φ(x) = (1 + erf(x/√2)) / 2, with libm's `erf` (as Python's
/// `math.erf`), evaluated through a 0-dim f64 tensor.
fn norm_cdf(x: f64) -> f64 {
    let e = Tensor::from(x / 2.0f64.sqrt()).erf().double_value(&[]);
    (1.0 + e) / 2.0
}

/// Truncated normal: N(mean, std²) restricted to [a, b], by rejection, as PyTorch 2.13's
/// `torch.nn.init.trunc_normal_` (defaults mean 0, std 1, a −2, b 2) does it, draw for draw:
///
/// - when the interval holds more than 30 % of the mass (p = Φ(β) − Φ(α) > 0.3, with
///   α = (a−mean)/std, β = (b−mean)/std): fill with N(mean, std²), then redraw, for the whole
///   tensor at once, a fresh normal sample wherever a value lies outside [a, b], until none does;
/// - otherwise: propose U(a, b) and accept where log U(0,1) ≤ −½((x−mean)/std)² − log-peak,
///   re-proposing the pending entries until all are accepted.
///
/// (Older PyTorch used inverse-CDF sampling with `erfinv`; the distribution is the same, the
/// numbers are not.)
pub fn trunc_normal_(tensor: &mut Tensor, mean: f64, std: f64, a: f64, b: f64) -> Result<()> {
    ensure!(
        std > 0.0 && std.is_finite(),
        "trunc_normal_: std must be positive, got {std}"
    );
    ensure!(a < b, "trunc_normal_: the interval [{a}, {b}] is empty");
    let p = norm_cdf((b - mean) / std) - norm_cdf((a - mean) / std);
    tch::no_grad(|| -> Result<()> {
        if p > 0.3 {
            // The bounds as the tensor's dtype represents them (f32 rounds them; f64 keeps them).
            let (lo, hi) = if tensor.kind() == tch::Kind::Double {
                (a, b)
            } else {
                (f64::from(a as f32), f64::from(b as f32))
            };
            let _ = tensor.f_normal_(mean, std)?;
            let mut result = tensor.shallow_clone();
            loop {
                let mask = result.f_lt(lo)?.f_logical_or(&result.f_gt(hi)?)?;
                if mask.f_any()?.f_int64_value(&[])? == 0 {
                    break;
                }
                let mut fresh = result.f_empty_like()?;
                let _ = fresh.f_normal_(mean, std)?;
                result = fresh.f_where_self(&mask, &result)?;
            }
            tensor.f_copy_(&result)?;
        } else {
            let mode = a.max(mean.min(b));
            let log_peak = -0.5 * ((mode - mean) / std).powi(2);
            let log_pdf = |x: &Tensor| -> Result<Tensor> {
                Ok(((x - mean) / std)
                    .f_pow_tensor_scalar(2)?
                    .f_mul_scalar(-0.5)?
                    .f_sub_scalar(log_peak)?)
            };
            let mut candidates = tensor.f_empty_like()?;
            let mut accept = tensor.f_empty_like()?;
            let _ = tensor.f_uniform_(a, b)?;
            let mut lp = log_pdf(tensor)?;
            let _ = accept.f_uniform_(0.0, 1.0)?;
            let mut pending = accept.f_log()?.f_gt_tensor(&lp)?;
            let mut result = tensor.shallow_clone();
            while pending.f_any()?.f_int64_value(&[])? == 1 {
                let _ = candidates.f_uniform_(a, b)?;
                result = candidates.f_where_self(&pending, &result)?;
                lp = log_pdf(&candidates)?;
                let _ = accept.f_uniform_(0.0, 1.0)?;
                pending = accept
                    .f_log()?
                    .f_gt_tensor(&lp)?
                    .f_where_self(&pending, &pending)?;
            }
            tensor.f_copy_(&result)?;
        }
        Ok(())
    })
}

/// (Semi-)orthogonal matrix times `gain`: QR of a standard-normal matrix (transposed first when
/// it is wide), Q's columns signed by diag(R) so the result is uniformly distributed.
///
/// Saxe, McClelland & Ganguli (2014), "Exact solutions to the nonlinear dynamics of learning in
/// deep linear neural networks". Mirrors `torch.nn.init.orthogonal_`; tch's
/// `nn::Init::Orthogonal` computes the same.
pub fn orthogonal_(tensor: &mut Tensor, gain: f64) -> Result<()> {
    let size = tensor.size();
    ensure!(
        size.len() >= 2,
        "orthogonal_: only tensors with 2 or more dimensions are supported, got {size:?}"
    );
    if tensor.numel() == 0 {
        return Ok(());
    }
    let rows = size[0];
    let cols = size[1..].iter().product::<i64>();
    let mut flattened = Tensor::empty([rows, cols], (tensor.kind(), tensor.device()));
    let _ = flattened.f_normal_(0.0, 1.0)?;
    if rows < cols {
        let _ = flattened.f_t_()?;
    }
    let (mut q, r) = Tensor::f_linalg_qr(&flattened, "reduced")?;
    let signs = r.f_diag(0)?.f_sign()?;
    q *= signs;
    if rows < cols {
        let _ = q.f_t_()?;
    }
    tch::no_grad(|| -> Result<()> {
        tensor.f_view_as(&q)?.f_copy_(&q)?;
        let _ = tensor.f_mul_scalar_(gain)?;
        Ok(())
    })
}

/// Sparse initialization: N(0, std²), then in every column a random `⌈sparsity · rows⌉` of the
/// entries set to zero (a fresh `randperm(rows)` per column).
///
/// Named after Martens (2010), "Deep learning via Hessian-free optimization", but not his
/// scheme: Martens gives every unit a fixed number of non-zero incoming weights (15 in his
/// experiments), not scaled by the fan-in, whereas torch zeroes a fraction of each column (of
/// each input's outgoing weights, so the non-zero count per unit varies) and scales the rest by
/// `std`. Mirrors `torch.nn.init.sparse_`.
pub fn sparse_(tensor: &mut Tensor, sparsity: f64, std: f64) -> Result<()> {
    let size = tensor.size();
    ensure!(
        size.len() == 2,
        "sparse_: only 2-D tensors are supported, got shape {size:?}"
    );
    ensure!(
        (0.0..=1.0).contains(&sparsity),
        "sparse_: sparsity must be in [0, 1], got {sparsity}"
    );
    let (rows, cols) = (size[0], size[1]);
    let num_zeros = (sparsity * rows as f64).ceil() as i64;
    normal_(tensor, 0.0, std)?;
    tch::no_grad(|| -> Result<()> {
        for col in 0..cols {
            let rows_perm = Tensor::randperm(rows, (tch::Kind::Int64, tensor.device())); // [rows]
            let zero_rows = rows_perm.narrow(0, 0, num_zeros); // [num_zeros]
            let mut column = tensor.f_select(1, col)?; // [rows], a view
            let _ = column.f_index_fill_(0, &zero_rows, 0.0)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_match_pytorch_table() {
        assert_eq!(calculate_gain(Nonlinearity::Linear), 1.0);
        assert_eq!(calculate_gain(Nonlinearity::Sigmoid), 1.0);
        assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
        assert_eq!(calculate_gain(Nonlinearity::Relu), std::f64::consts::SQRT_2);
        assert_eq!(calculate_gain(Nonlinearity::Selu), 0.75);
        assert_eq!(
            calculate_gain(Nonlinearity::leaky_relu(0.0)),
            std::f64::consts::SQRT_2
        );
        // Python: math.sqrt(2.0 / (1 + 0.01**2)) = 1.4141428569978354
        assert_eq!(
            calculate_gain(Nonlinearity::leaky_relu(0.01)),
            1.4141428569978354
        );
        // Python: math.sqrt(2.0 / (1 + math.sqrt(5)**2)) = 0.5773502691896257
        assert_eq!(
            calculate_gain(Nonlinearity::leaky_relu(5f64.sqrt())),
            0.5773502691896257
        );
    }

    #[test]
    fn fans_include_receptive_field() {
        assert_eq!(fan_in_and_fan_out(&[256, 784]).unwrap(), (784, 256));
        assert_eq!(fan_in_and_fan_out(&[16, 3, 5, 5]).unwrap(), (75, 400));
        assert!(fan_in_and_fan_out(&[10]).is_err());
        assert_eq!(correct_fan(&[10, 256], FanMode::FanOut).unwrap(), 10);
    }

    #[test]
    fn bounds_are_pytorchs_numbers() {
        // Python: math.sqrt(3.0) * 1.0 * math.sqrt(2.0 / float(784 + 256))
        assert_eq!(xavier_uniform_bound(784, 256, 1.0), 0.07595545253127499);
        assert_eq!(xavier_uniform_bound(256, 10, 1.0), 0.15018785229652765);
        // Python: 1 / math.sqrt(784) = 0.03571428571428571
        assert_eq!(torch_linear_bias_bound(784), 0.03571428571428571);
        // kaiming_uniform_(a=sqrt(5)) on fan_in 784: math.sqrt(3.0) * gain / math.sqrt(784)
        assert_eq!(torch_linear_weight_bound(784), 0.03571428571428571);
        assert_eq!(kaiming_std(512, std::f64::consts::SQRT_2), 0.0625);
        assert_eq!(xavier_std(1, 1, 2.0), 2.0);
    }

    #[test]
    fn zero_element_tensors_are_a_no_op_and_f64_bounds_stay_f64() {
        let mut empty = Tensor::zeros([0, 5], (tch::Kind::Float, tch::Device::Cpu));
        assert!(kaiming_uniform_(&mut empty, FanMode::FanIn, Nonlinearity::Relu).is_ok());
        assert!(kaiming_normal_(&mut empty, FanMode::FanOut, Nonlinearity::Relu).is_ok());
        // 0.1 is not an f32: an f64 tensor must stay within the f64 bounds themselves.
        let mut t = Tensor::zeros([1_000_000], (tch::Kind::Double, tch::Device::Cpu));
        tch::manual_seed(3);
        trunc_normal_(&mut t, 0.0, 0.1, -0.1, 0.1).unwrap();
        let v: Vec<f64> = Vec::try_from(&t).unwrap();
        assert!(v.iter().all(|&x| (-0.1..=0.1).contains(&x)));
    }
}
