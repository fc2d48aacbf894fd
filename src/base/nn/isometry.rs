//! Dynamical isometry: the singular values of a deep random network's input-output Jacobian.
//!
//! A net of `L` square layers `h_ℓ = W_ℓ x_{ℓ−1} + b_ℓ`, `x_ℓ = φ(h_ℓ)` has the Jacobian
//! `J = ∂x_L/∂x_0 = D_L W_L ⋯ D_1 W_1` with `D_ℓ = diag(φ'(h_ℓ))`. Its squared singular values `λ²`
//! have mean `χ₁^L` in the wide limit (`χ₁ = σ_w² E[φ'(h)²]`, the mean-field slope of
//! [`crate::base::nn::meanfield::chi1`]), so at criticality (`χ₁ = 1`) the mean stays 1 at any
//! depth. Their *spread* depends on the weights:
//!
//! - Saxe, McClelland & Ganguli (2014): in a linear net (`φ(h) = h`) with orthogonal weights and
//!   `σ_w = 1`, `J` is orthogonal, every singular value is exactly 1 ("dynamical isometry"), and
//!   such nets learn in a number of steps independent of depth.
//! - Pennington, Schoenholz & Ganguli (2017), "Resurrecting the sigmoid in deep learning through
//!   dynamical isometry": with Gaussian weights N(0, σ_w²/N) the variance of `λ²` grows linearly
//!   with depth (in a linear net at σ_w² = 1 it is `L`), whatever the nonlinearity; with scaled
//!   orthogonal weights `σ_w·Q` and tanh at criticality it grows much more slowly and vanishes as
//!   `q* → 0`. ReLU nets cannot reach isometry with either.
//!
//! Here `J` is built explicitly in f64, chaining `D_ℓ W_ℓ` matrices (width × width) for a few input
//! points at once, and its singular values come from `torch.svd(J, compute_uv=False)` (what
//! `torch.linalg.svdvals` computes). Pure statistics of the
//! singular values ([`SpectrumStats`], [`quantile`]) are plain `f64`.

use anyhow::{ensure, Result};
use tch::{Device, Kind, Tensor};

use crate::base::nn::init;

/// The nonlinearity between the layers of a Jacobian net.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// `φ(h) = h`: a deep linear net (Saxe et al. 2014).
    Linear,
    /// `φ(h) = tanh h`, `φ'(h) = 1 − tanh² h`.
    Tanh,
}

impl Transfer {
    /// Its name in tables and file names.
    pub fn name(self) -> &'static str {
        match self {
            Transfer::Linear => "linear",
            Transfer::Tanh => "tanh",
        }
    }

    /// `(φ(h), φ'(h))` elementwise.
    fn apply(self, h: &Tensor) -> Result<(Tensor, Tensor)> {
        match self {
            Transfer::Linear => Ok((h.shallow_clone(), h.f_ones_like()?)),
            Transfer::Tanh => {
                let t = h.f_tanh()?;
                let d = t.f_square()?.f_neg()?.f_add_scalar(1.0)?;
                Ok((t, d))
            }
        }
    }
}

/// How a Jacobian net's weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDraw {
    /// N(0, σ_w²/N) (`normal_`): the mean-field nets of Poole et al. (2016).
    Gaussian,
    /// `σ_w · Q` with Q orthogonal (`orthogonal_(w, σ_w)`): Saxe et al. (2014).
    Orthogonal,
}

impl WeightDraw {
    /// Its name in tables, legends and file names.
    pub fn name(self) -> &'static str {
        match self {
            WeightDraw::Gaussian => "Gaussian",
            WeightDraw::Orthogonal => "orthogonal",
        }
    }
}

/// One random net whose Jacobian spectrum is measured: square layers of `width` units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JacobianNet {
    /// The nonlinearity.
    pub transfer: Transfer,
    /// Gaussian or orthogonal weights.
    pub weights: WeightDraw,
    /// σ_w²: Gaussian weights have variance σ_w²/width, orthogonal ones are σ_w · Q.
    pub sigma_w2: f64,
    /// σ_b²: biases N(0, σ_b²) (none when 0).
    pub sigma_b2: f64,
    /// Units per layer.
    pub width: i64,
    /// Variance of each input coordinate; with `(q* − σ_b²)/σ_w²` ([`input_variance`]) the first
    /// pre-activations start at the fixed point `q*`.
    pub input_variance: f64,
}

/// The per-coordinate input variance whose first pre-activations have second moment `q`:
/// `q = σ_w² v + σ_b²`, so `v = (q − σ_b²)/σ_w²` (mean-field length map, Poole et al. 2016, eq. 3).
pub fn input_variance(q: f64, sigma_w2: f64, sigma_b2: f64) -> f64 {
    ((q - sigma_b2) / sigma_w2).max(0.0)
}

/// One weight matrix of `net`. // [width, width]
fn draw_weight(net: &JacobianNet) -> Result<Tensor> {
    let mut w = Tensor::f_empty([net.width, net.width], (Kind::Double, Device::Cpu))?;
    match net.weights {
        WeightDraw::Gaussian => {
            init::normal_(&mut w, 0.0, (net.sigma_w2 / net.width as f64).sqrt())?
        }
        WeightDraw::Orthogonal => init::orthogonal_(&mut w, net.sigma_w2.sqrt())?,
    }
    Ok(w)
}

/// The singular values of `J = D_ℓ W_ℓ ⋯ D_1 W_1` at each depth `ℓ` in `depths` (ascending), for
/// `points` inputs drawn N(0, `net.input_variance`): one net drawn layer by layer from the
/// global generator (seed it with `tch::manual_seed`). Returns `(depth, values)` with
/// `points × width` singular values per depth.
pub fn jacobian_spectra(
    net: &JacobianNet,
    depths: &[usize],
    points: i64,
) -> Result<Vec<(usize, Vec<f64>)>> {
    ensure!(
        net.width > 0 && points > 0,
        "Jacobian spectra need a positive width and at least one input point"
    );
    ensure!(
        depths.windows(2).all(|d| d[0] < d[1]),
        "Jacobian depths must ascend, got {depths:?}"
    );
    let n = net.width;
    let opts = (Kind::Double, Device::Cpu);
    // [points, width]
    let mut x = Tensor::f_randn([points, n], opts)?.f_mul_scalar(net.input_variance.sqrt())?;
    // [points, width, width]
    let mut jac = Tensor::f_eye(n, opts)?
        .f_expand([points, n, n], false)?
        .f_contiguous()?;
    let mut out = Vec::with_capacity(depths.len());
    let deepest = depths.last().copied().unwrap_or(0);
    for layer in 1..=deepest {
        let w = draw_weight(net)?; // [width, width]
        let mut b = Tensor::f_zeros([n], opts)?; // [width]
        init::normal_(&mut b, 0.0, net.sigma_b2.sqrt())?;
        // [points, width]
        let h = x.f_matmul(&w.f_tr()?)?.f_add(&b)?;
        let (next, slope) = net.transfer.apply(&h)?;
        // D W J: row i of W J scaled by φ'(h_i). [points, width, width]
        jac = w.f_matmul(&jac)?.f_mul(&slope.f_unsqueeze(-1)?)?;
        x = next;
        if depths.contains(&layer) {
            // `torch.svd(J, some=True, compute_uv=False)`: tch's `linalg_svdvals` always passes a
            // driver, which CPU tensors refuse. [points, width]
            let (_, s, _) = jac.f_svd(true, false)?;
            let s = s.f_flatten(0, -1)?;
            out.push((layer, Vec::<f64>::try_from(&s)?));
        }
    }
    Ok(out)
}

/// The smallest singular value told apart from rounding: SVD in f64 resolves σ down to about
/// `ε · σ_max` (ε ≈ 2.2·10⁻¹⁶, σ_max ≲ 20 here); below it σ is zero to working precision.
pub const RESOLVED: f64 = 1e-14;

/// The `p`-quantile (0 ≤ p ≤ 1) of ascending `sorted` by linear interpolation between order
/// statistics (numpy's default, `numpy.quantile(..., method="linear")`); NaN when empty.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n => {
            let at = p.clamp(0.0, 1.0) * (n - 1) as f64;
            let (i, f) = (at.floor() as usize, at.fract());
            let next = sorted[(i + 1).min(n - 1)];
            sorted[i] + f * (next - sorted[i])
        }
    }
}

/// What the study reports of one spectrum of singular values `λ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumStats {
    /// Mean of `λ²` (= tr(JᵀJ)/N averaged over points): `χ₁^L` in the wide limit.
    pub mean_sq: f64,
    /// Variance of `λ²` (population): grows like `L` for Gaussian nets (Pennington et al. 2017).
    pub var_sq: f64,
    /// The largest singular value.
    pub max: f64,
    /// 5th, 50th and 95th percentiles of `λ`.
    pub p05: f64,
    /// The median.
    pub p50: f64,
    /// The 95th percentile.
    pub p95: f64,
}

impl SpectrumStats {
    /// The statistics of `values` (NaN everywhere when empty).
    pub fn of(values: &[f64]) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let mean_sq = values.iter().map(|v| v * v).sum::<f64>() / n;
        let var_sq = values
            .iter()
            .map(|v| (v * v - mean_sq).powi(2))
            .sum::<f64>()
            / n;
        SpectrumStats {
            mean_sq,
            var_sq,
            max: sorted.last().copied().unwrap_or(f64::NAN),
            p05: quantile(&sorted, 0.05),
            p50: quantile(&sorted, 0.5),
            p95: quantile(&sorted, 0.95),
        }
    }

    /// The spread in decades: `log10(p95 / p05)` (0 for an isometry), with `p05` raised to
    /// [`RESOLVED`]; the bool says it was (the true spread is then wider).
    pub fn decades(&self) -> (f64, bool) {
        let floored = self.p05 < RESOLVED;
        ((self.p95 / self.p05.max(RESOLVED)).log10(), floored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        // numpy.quantile([1,2,3,4,5], 0.05) = 1.2
        assert!((quantile(&v, 0.05) - 1.2).abs() < 1e-12);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn stats_of_an_isometry_have_no_spread() {
        let s = SpectrumStats::of(&[1.0; 8]);
        assert_eq!((s.mean_sq, s.var_sq, s.max), (1.0, 0.0, 1.0));
        assert_eq!(s.decades(), (0.0, false));
        let s = SpectrumStats::of(&[1e-20; 4]);
        assert!(s.decades().1);
        let s = SpectrumStats::of(&[1.0, 3.0]);
        // λ² = 1, 9: mean 5, variance 16.
        assert_eq!((s.mean_sq, s.var_sq), (5.0, 16.0));
    }

    #[test]
    fn input_variance_inverts_the_first_length_map() {
        let v = input_variance(0.3, 1.5, 0.05);
        assert!((1.5 * v + 0.05 - 0.3).abs() < 1e-15);
    }
}
