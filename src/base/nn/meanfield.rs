//! Mean-field theory of signal propagation in deep tanh networks, in plain `f64` (no tensors).
//!
//! Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), "Exponential expressivity in deep neural
//! networks through transient chaos"; Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep
//! information propagation". A network of width N → ∞ with weights W ~ N(0, σ_w²/N_{l−1}) and
//! biases b ~ N(0, σ_b²), φ = tanh, Dz the standard Gaussian measure:
//!
//! - length map `q^l = σ_w² ∫Dz φ(√q^{l−1} z)² + σ_b²`, fixed point `q*` ([`q_star`]);
//! - `χ₁ = σ_w² ∫Dz φ'(√q* z)²` ([`chi1`]): `χ₁ < 1` ordered, `χ₁ > 1` chaotic, `χ₁ = 1` the
//!   critical line ("edge of chaos", [`critical_sigma_w2`]);
//! - correlation map `c^l = (σ_w² ∫Dz₁Dz₂ φ(u₁)φ(u₂) + σ_b²) / q*` with `u₁ = √q* z₁`,
//!   `u₂ = √q* (c z₁ + √(1−c²) z₂)` ([`correlation_map`]), fixed point `c*` (1 when ordered);
//! - `χ_c = σ_w² ∫Dz₁Dz₂ φ'(u₁)φ'(u₂)` at `c*`, depth scale `ξ_c = −1/ln χ_c` (Schoenholz et al.
//!   eq. 9), and `ξ_q⁻¹ = −ln(χ₁ + σ_w² ∫Dz φ''(√q* z) φ(√q* z))` (their eq. 6);
//! - Schoenholz et al.: a network of depth L trains when L ≲ 6 ξ_c.
//!
//! The Gaussian integrals use Gauss–Hermite quadrature ([`GaussHermite`]), whose nodes and weights
//! are computed here: roots of the orthonormal Hermite polynomial located on a grid and refined by
//! bisection, weights from the Christoffel function.

pub mod chart;
pub mod named;

use anyhow::{bail, ensure, Result};

/// The nodes the study and tests use: the anchors' "Gauss–Hermite quadrature, 201 nodes".
pub const DEFAULT_NODES: usize = 201;

/// Gauss–Hermite quadrature for expectations over standard normal variables:
/// `E[f(z)] ≈ Σᵢ wᵢ f(zᵢ)` with `zᵢ = √2 xᵢ`, `wᵢ = λᵢ/√π`, where `xᵢ` are the roots of the
/// Hermite polynomial `H_n` and `λᵢ` the Gauss weights for `∫ e^{−x²} f(x) dx`. Exact for
/// polynomials of degree up to `2n − 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussHermite {
    /// Standard-normal nodes `zᵢ = √2 xᵢ`, ascending.
    pub nodes: Vec<f64>,
    /// Probability weights `λᵢ/√π` (they sum to 1).
    pub weights: Vec<f64>,
}

/// The orthonormal Hermite polynomials `h̃_0 … h̃_n` at `x` (orthonormal for the weight `e^{−x²}`):
/// `h̃_0 = π^{−1/4}`, `h̃_1 = √2 x h̃_0`, `h̃_k = √(2/k) x h̃_{k−1} − √((k−1)/k) h̃_{k−2}`.
/// Returns `(h̃_n(x), Σ_{k<n} h̃_k(x)²)`.
fn hermite_orthonormal(n: usize, x: f64) -> (f64, f64) {
    let mut prev = 0.0;
    let mut cur = std::f64::consts::PI.powf(-0.25);
    let mut sum_sq = 0.0;
    for k in 1..=n {
        sum_sq += cur * cur;
        let kf = k as f64;
        let next = (2.0 / kf).sqrt() * x * cur - ((kf - 1.0) / kf).sqrt() * prev;
        prev = cur;
        cur = next;
    }
    (cur, sum_sq)
}

impl GaussHermite {
    /// The `n`-point rule (1 ≤ n ≤ 400).
    ///
    /// The positive roots of `h̃_n` are bracketed by sign changes on a grid of step 0.01 over
    /// `(0, √(2n+1) + 1]` (all roots lie below `√(2n+1)`; neighbouring roots are at least
    /// `≈ π/√(2n+1) > 0.1` apart for n ≤ 400), then bisected to machine precision; the negative
    /// roots are their mirror images and 0 is a root when n is odd. The weight of root `x` is the
    /// Christoffel number `λ = 1 / Σ_{k<n} h̃_k(x)²`.
    pub fn new(n: usize) -> Result<Self> {
        ensure!(
            (1..=400).contains(&n),
            "Gauss–Hermite quadrature: {n} nodes asked for, expected 1 to 400"
        );
        let p = |x: f64| hermite_orthonormal(n, x).0;
        let step = 0.01;
        let top = (2.0 * n as f64 + 1.0).sqrt() + 1.0;
        let mut positive = Vec::with_capacity(n / 2);
        let mut a = step / 2.0;
        let mut pa = p(a);
        while a < top {
            let b = a + step;
            let pb = p(b);
            if pa == 0.0 {
                positive.push(a);
            } else if pa.signum() != pb.signum() && pb != 0.0 {
                let (mut lo, mut hi, mut plo) = (a, b, pa);
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if mid <= lo || mid >= hi {
                        break;
                    }
                    let pm = p(mid);
                    if pm == 0.0 {
                        lo = mid;
                        hi = mid;
                        break;
                    }
                    if pm.signum() == plo.signum() {
                        lo = mid;
                        plo = pm;
                    } else {
                        hi = mid;
                    }
                }
                positive.push(0.5 * (lo + hi));
            }
            a = b;
            pa = pb;
        }
        ensure!(
            positive.len() == n / 2,
            "Gauss–Hermite quadrature: found {} positive roots of H_{n}, expected {}",
            positive.len(),
            n / 2
        );
        let mut xs: Vec<f64> = positive.iter().rev().map(|x| -x).collect();
        if n % 2 == 1 {
            xs.push(0.0);
        }
        xs.extend(positive.iter().copied());
        let sqrt_pi = std::f64::consts::PI.sqrt();
        let weights = xs
            .iter()
            .map(|&x| 1.0 / hermite_orthonormal(n, x).1 / sqrt_pi)
            .collect();
        let nodes = xs.iter().map(|x| std::f64::consts::SQRT_2 * x).collect();
        Ok(GaussHermite { nodes, weights })
    }

    /// The rule with [`DEFAULT_NODES`] nodes.
    pub fn default_rule() -> Self {
        // 201 is inside new's range and its root count is checked by the unit tests.
        GaussHermite::new(DEFAULT_NODES).unwrap_or_else(|e| unreachable!("{e}"))
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false (a rule has at least one node).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// `E[f(z)]`, z ~ N(0, 1).
    pub fn expect(&self, f: impl Fn(f64) -> f64) -> f64 {
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&z, &w)| w * f(z))
            .sum()
    }

    /// `E[f(z₁, z₂)]`, z₁, z₂ independent N(0, 1) (the product rule, n² evaluations).
    pub fn expect2(&self, f: impl Fn(f64, f64) -> f64) -> f64 {
        let mut total = 0.0;
        for (&z1, &w1) in self.nodes.iter().zip(&self.weights) {
            let inner: f64 = self
                .nodes
                .iter()
                .zip(&self.weights)
                .map(|(&z2, &w2)| w2 * f(z1, z2))
                .sum();
            total += w1 * inner;
        }
        total
    }
}

/// tanh'(x) = 1 − tanh²(x).
fn dtanh(x: f64) -> f64 {
    let t = x.tanh();
    1.0 - t * t
}

/// tanh''(x) = −2 tanh(x) (1 − tanh²(x)).
fn d2tanh(x: f64) -> f64 {
    let t = x.tanh();
    -2.0 * t * (1.0 - t * t)
}

/// The length map `q ↦ σ_w² E[tanh(√q z)²] + σ_b²` (Poole et al. 2016, eq. 3).
pub fn length_map(gh: &GaussHermite, sigma_w2: f64, sigma_b2: f64, q: f64) -> f64 {
    let s = q.max(0.0).sqrt();
    sigma_w2 * gh.expect(|z| (s * z).tanh().powi(2)) + sigma_b2
}

fn check_variances(sigma_w2: f64, sigma_b2: f64) -> Result<()> {
    ensure!(
        sigma_w2.is_finite() && sigma_w2 > 0.0,
        "σ_w² must be a positive number, got {sigma_w2}"
    );
    ensure!(
        sigma_b2.is_finite() && sigma_b2 >= 0.0,
        "σ_b² must be a number ≥ 0, got {sigma_b2}"
    );
    Ok(())
}

/// The fixed point `q*` of the [`length_map`]. The map is increasing and concave in q with values
/// in `[σ_b², σ_w² + σ_b²]`, so `q* ∈ [σ_b², σ_w² + σ_b²]` is found by bisection (0 when σ_b² = 0
/// and σ_w² ≤ 1).
pub fn q_star(gh: &GaussHermite, sigma_w2: f64, sigma_b2: f64) -> Result<f64> {
    check_variances(sigma_w2, sigma_b2)?;
    let (mut lo, mut hi) = (sigma_b2, sigma_w2 + sigma_b2);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if length_map(gh, sigma_w2, sigma_b2, mid) > mid {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// `χ₁ = σ_w² E[tanh'(√q* z)²]` (Poole et al. 2016, eq. 7; Schoenholz et al. 2017, eq. 5): the
/// growth of a small perturbation per layer. Below 1 the network is ordered, above 1 chaotic.
pub fn chi1(gh: &GaussHermite, sigma_w2: f64, sigma_b2: f64) -> Result<f64> {
    let s = q_star(gh, sigma_w2, sigma_b2)?.sqrt();
    Ok(sigma_w2 * gh.expect(|z| dtanh(s * z).powi(2)))
}

/// The correlation map at `q*`: `c ↦ (σ_w² E[tanh(u₁) tanh(u₂)] + σ_b²) / q*` with
/// `u₁ = √q* z₁`, `u₂ = √q* (c z₁ + √(1−c²) z₂)` (Poole et al. 2016, eq. 5).
pub fn correlation_map(gh: &GaussHermite, sigma_w2: f64, sigma_b2: f64, q: f64, c: f64) -> f64 {
    let s = q.sqrt();
    let c = c.clamp(-1.0, 1.0);
    let r = (1.0 - c * c).max(0.0).sqrt();
    let e = gh.expect2(|z1, z2| (s * z1).tanh() * (s * (c * z1 + r * z2)).tanh());
    (sigma_w2 * e + sigma_b2) / q
}

/// Everything the theory says about one point (σ_w², σ_b²) of the phase diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Propagation {
    /// Weight variance times fan-in.
    pub sigma_w2: f64,
    /// Bias variance.
    pub sigma_b2: f64,
    /// Fixed point of the length map.
    pub q_star: f64,
    /// `χ₁` at `q*`.
    pub chi1: f64,
    /// Stable fixed point of the correlation map (1 in the ordered phase).
    pub c_star: f64,
    /// `χ_c = σ_w² E[tanh'(u₁) tanh'(u₂)]` at `c*` (equals `χ₁` when `c* = 1`).
    pub chi_c: f64,
    /// Depth scale of the length: `ξ_q = −1 / ln(χ₁ + σ_w² E[tanh''(√q* z) tanh(√q* z)])`.
    pub xi_q: f64,
    /// Depth scale of correlations: `ξ_c = −1 / ln χ_c` (∞ at the critical line).
    pub xi_c: f64,
}

/// `−1 / ln x`, ∞ when `x ≥ 1`.
fn depth_scale(x: f64) -> f64 {
    if x >= 1.0 {
        f64::INFINITY
    } else if x <= 0.0 {
        0.0
    } else {
        -1.0 / x.ln()
    }
}

/// The fixed points, slopes and depth scales at (σ_w², σ_b²).
///
/// In the chaotic phase (`χ₁ > 1`) `c* < 1` is found by bisection on `c ↦ map(c) − c`, positive
/// below `c*` and negative between `c*` and 1 (1 is the unstable fixed point); the upper end of the
/// bracket is moved towards 1 (1 − 10⁻¹, …, 1 − 10⁻¹⁰) until the sign is negative.
pub fn propagation(gh: &GaussHermite, sigma_w2: f64, sigma_b2: f64) -> Result<Propagation> {
    let q = q_star(gh, sigma_w2, sigma_b2)?;
    let s = q.sqrt();
    let chi1 = sigma_w2 * gh.expect(|z| dtanh(s * z).powi(2));
    let slope_q = chi1 + sigma_w2 * gh.expect(|z| d2tanh(s * z) * (s * z).tanh());
    let xi_q = depth_scale(slope_q);
    let (c_star, chi_c) = if chi1 <= 1.0 || q < 1e-12 {
        (1.0, chi1)
    } else {
        let g = |c: f64| correlation_map(gh, sigma_w2, sigma_b2, q, c) - c;
        let mut lo = 0.0;
        let mut hi = None;
        for k in 1..=10 {
            let c = 1.0 - 10f64.powi(-k);
            if g(c) < 0.0 {
                hi = Some(c);
                break;
            }
            lo = c;
        }
        match hi {
            None => (1.0, chi1),
            Some(mut hi) => {
                for _ in 0..60 {
                    let mid = 0.5 * (lo + hi);
                    if g(mid) > 0.0 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                let c = 0.5 * (lo + hi);
                let r = (1.0 - c * c).max(0.0).sqrt();
                let chi_c =
                    sigma_w2 * gh.expect2(|z1, z2| dtanh(s * z1) * dtanh(s * (c * z1 + r * z2)));
                (c, chi_c)
            }
        }
    };
    Ok(Propagation {
        sigma_w2,
        sigma_b2,
        q_star: q,
        chi1,
        c_star,
        chi_c,
        xi_q,
        xi_c: depth_scale(chi_c),
    })
}

/// The critical σ_w² at `sigma_b2`: where `χ₁ = 1`, by bisection (χ₁ grows with σ_w²; the
/// bracket starts at [0.01, 2] and its top doubles until χ₁ > 1, up to 1024).
pub fn critical_sigma_w2(gh: &GaussHermite, sigma_b2: f64) -> Result<f64> {
    let f = |sw2: f64| -> Result<f64> { Ok(chi1(gh, sw2, sigma_b2)? - 1.0) };
    let mut lo = 0.01;
    ensure!(
        f(lo)? < 0.0,
        "χ₁ is already ≥ 1 at σ_w² = {lo}, σ_b² = {sigma_b2}"
    );
    let mut hi = 2.0;
    while f(hi)? <= 0.0 {
        lo = hi;
        hi *= 2.0;
        if hi > 1024.0 {
            bail!("no critical σ_w² below 1024 at σ_b² = {sigma_b2}");
        }
    }
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if f(mid)? < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// The variance of the signal after each layer of a ReLU network, by the mean-field recursion
/// `q_{l+1} = fan_in_{l+1} · Var(w_{l+1}) · q_l / 2 + Var(b_{l+1})`, where `q_l` is the second
/// moment of layer l's pre-activations (zero-mean weights; half of a symmetric pre-activation's
/// second moment survives ReLU). He et al. (2015), eq. 9 ("Delving deep into rectifiers"): with
/// `Var(w) = 2/fan_in` (He) the factor is 1, with Xavier at fan_in = fan_out (`Var(w) = 1/fan_in`)
/// it is 1/2 per layer.
///
/// `input_second_moment` is `E[Σᵢ xᵢ²]` of the network's input; `layers` gives each layer's
/// `(fan_in, Var(w), Var(b))`, input side first. The first layer sees the input itself:
/// `q_1 = Var(w_1) · E[‖x‖²] + Var(b_1)`. Returns `q_1 … q_L`.
pub fn relu_second_moments(input_second_moment: f64, layers: &[(i64, f64, f64)]) -> Vec<f64> {
    // Halving is exact: `fan_in · Var(w) · (q/2)` is the bits of `fan_in · Var(w) · q / 2`.
    second_moments(input_second_moment, layers, |q| q / 2.0)
}

/// The recursion [`relu_second_moments`] and [`tanh_second_moments`] share: `q_1 = Var(w_1) ·
/// E[‖x‖²] + Var(b_1)`, then `q_{l+1} = fan_in_{l+1} · Var(w_{l+1}) · mean_square(q_l) +
/// Var(b_{l+1})`, where `mean_square(q)` is `E[φ(√q z)²]` of the nonlinearity φ.
fn second_moments(
    input_second_moment: f64,
    layers: &[(i64, f64, f64)],
    mean_square: impl Fn(f64) -> f64,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(layers.len());
    let mut q = 0.0;
    for (k, &(fan_in, var_w, var_b)) in layers.iter().enumerate() {
        q = if k == 0 {
            var_w * input_second_moment + var_b
        } else {
            fan_in as f64 * var_w * mean_square(q) + var_b
        };
        out.push(q);
    }
    out
}

/// Std of `relu(z)` for `z ~ N(0, q)`: `√q · √(1/2 − 1/(2π))`.
pub fn relu_output_std(q: f64) -> f64 {
    (q * (0.5 - 0.5 / std::f64::consts::PI)).sqrt()
}

/// The length map of a tanh network layer by layer, from its input (Poole et al. 2016, eq. 3;
/// the same recursion as [`relu_second_moments`] with tanh's Gaussian integral in place of ReLU's
/// one half): `q_1 = Var(w_1) · E[‖x‖²] + Var(b_1)`, then
/// `q_{l+1} = fan_in_{l+1} · Var(w_{l+1}) · E[tanh(√q_l z)²] + Var(b_{l+1})` ([`length_map`] with
/// σ_w² = fan_in · Var(w), σ_b² = Var(b), its expectation accurate at large q too: [`tanh_expect`]).
/// `layers` gives each layer's `(fan_in, Var(w), Var(b))`,
/// input side first. Returns `q_1 … q_L`, the second moments of the pre-activations.
pub fn tanh_second_moments(
    gh: &GaussHermite,
    input_second_moment: f64,
    layers: &[(i64, f64, f64)],
) -> Vec<f64> {
    second_moments(input_second_moment, layers, |q| {
        tanh_expect(gh, q, |u| u.tanh().powi(2))
    })
}

/// `E[f(√q z)]`, z ~ N(0, 1), for a function of tanh: by `gh` when q ≤ 1; above, by composite
/// Simpson on z ∈ [−12, 12] with a step of 0.02/√q. tanh(√q z) has poles at z = ±iπ/(2√q), and as
/// they near the real axis the Gauss–Hermite rule loses accuracy (201 nodes, measured against a
/// fine Simpson sum: 6e-9 off for E[tanh²] at q = 4, 4e-4 at q = 25) while the features of
/// `f(√q z)` narrow to a width of 1/√q, which the step follows.
fn tanh_expect(gh: &GaussHermite, q: f64, f: impl Fn(f64) -> f64) -> f64 {
    let s = q.max(0.0).sqrt();
    if q <= 1.0 {
        return gh.expect(|z| f(s * z));
    }
    let n = (24.0 * s / 0.02).ceil() as usize;
    let n = n + n % 2;
    let h = 24.0 / n as f64;
    let g = |z: f64| f(s * z) * (-0.5 * z * z).exp();
    let mut sum = g(-12.0) + g(12.0);
    for i in 1..n {
        sum += g(-12.0 + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    sum * h / 3.0 / (2.0 * std::f64::consts::PI).sqrt()
}

/// Std of `tanh(z)` for `z ~ N(0, q)`: `√E[tanh(√q z)²]` (its mean is 0 by symmetry).
pub fn tanh_output_std(gh: &GaussHermite, q: f64) -> f64 {
    tanh_expect(gh, q, |u| u.tanh().powi(2)).sqrt()
}

/// `E[tanh'(√q z)²]`, the factor of [`chi1`] at a layer whose pre-activations have second moment
/// `q` (not only at the fixed point q*): the back-propagated gradient's second moment is
/// multiplied by `fan_out · Var(w) · E[tanh'(√q z)²]` through each layer (Schoenholz et al. 2017,
/// eq. 5 with the layer's own q; for ReLU the expectation is 1/2).
pub fn tanh_slope_moment(gh: &GaussHermite, q: f64) -> f64 {
    tanh_expect(gh, q, |u| dtanh(u).powi(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_rules_match_closed_forms() {
        let pi = std::f64::consts::PI;
        let r2 = GaussHermite::new(2).unwrap();
        // H_2 roots ±1/√2 → z = ±1, weights 1/2.
        assert!((r2.nodes[1] - 1.0).abs() < 1e-14 && (r2.weights[0] - 0.5).abs() < 1e-14);
        let r3 = GaussHermite::new(3).unwrap();
        // H_3 roots 0, ±√(3/2) → z = 0, ±√3; weights 2/3, 1/6.
        assert_eq!(r3.nodes[1], 0.0);
        assert!((r3.nodes[2] - 3f64.sqrt()).abs() < 1e-14);
        assert!((r3.weights[1] - 2.0 / 3.0).abs() < 1e-14);
        assert!((r3.weights[0] - 1.0 / 6.0).abs() < 1e-14);
        let _ = pi;
    }

    #[test]
    fn default_rule_integrates_known_gaussian_expectations() {
        let gh = GaussHermite::default_rule();
        assert_eq!(gh.len(), 201);
        assert!((gh.expect(|_| 1.0) - 1.0).abs() < 1e-13);
        assert!((gh.expect(|z| z * z) - 1.0).abs() < 1e-12);
        assert!((gh.expect(|z| z.powi(4)) - 3.0).abs() < 1e-11);
        assert!((gh.expect(|z| z.powi(10)) - 945.0).abs() < 1e-8);
        assert!(gh.expect(|z| z.powi(3)).abs() < 1e-12);
        // E[cos z] = e^{−1/2}, E[e^z] = e^{1/2}.
        assert!((gh.expect(f64::cos) - (-0.5f64).exp()).abs() < 1e-13);
        assert!((gh.expect(f64::exp) - 0.5f64.exp()).abs() < 1e-12);
        // E[z₁² z₂²] = 1, E[(z₁ + z₂)²] = 2.
        assert!((gh.expect2(|a, b| a * a * b * b) - 1.0).abs() < 1e-11);
        assert!((gh.expect2(|a, b| (a + b).powi(2)) - 2.0).abs() < 1e-11);
        assert!(GaussHermite::new(0).is_err() && GaussHermite::new(401).is_err());
    }

    #[test]
    fn critical_line_matches_the_papers() {
        let gh = GaussHermite::default_rule();
        // anchors-evidence.md: σ_b² = 0.05 → σ_w² ≈ 1.761.
        let crit = critical_sigma_w2(&gh, 0.05).unwrap();
        assert!((crit - 1.761).abs() < 1e-3, "critical σ_w² {crit}");
        // χ₁ = 0.759 at σ_w² = 1.0, 0.939 at 1.5, 1.048 at 2.0 (σ_b² = 0.05).
        for (sw2, want) in [(1.0, 0.759), (1.5, 0.939), (2.0, 1.048)] {
            let c = chi1(&gh, sw2, 0.05).unwrap();
            assert!((c - want).abs() < 1e-3, "χ₁({sw2}) = {c}, want {want}");
        }
        // ξ ≈ 3.6 and ≈ 15.8 on the ordered side, where ξ_c = −1/ln χ₁.
        let p = propagation(&gh, 1.0, 0.05).unwrap();
        assert!((p.xi_c - 3.6).abs() < 0.1 && p.c_star == 1.0, "{p:?}");
        let p = propagation(&gh, 1.5, 0.05).unwrap();
        assert!((p.xi_c - 15.8).abs() < 0.2, "{p:?}");
        // Without biases the transition is at σ_w² = 1 (tanh'(0) = 1).
        assert!((critical_sigma_w2(&gh, 0.0).unwrap() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn chaotic_phase_has_a_stable_correlation_below_one() {
        let gh = GaussHermite::default_rule();
        let p = propagation(&gh, 3.0, 0.05).unwrap();
        assert!(p.chi1 > 1.0 && p.c_star < 1.0 && p.c_star > 0.0, "{p:?}");
        // c* is a fixed point, stable: χ_c < 1, finite depth scale.
        let again = correlation_map(&gh, 3.0, 0.05, p.q_star, p.c_star);
        assert!((again - p.c_star).abs() < 1e-9, "{again} vs {}", p.c_star);
        assert!(p.chi_c < 1.0 && p.xi_c.is_finite() && p.xi_c > 0.0, "{p:?}");
        // q* is a fixed point of the length map.
        assert!((length_map(&gh, 3.0, 0.05, p.q_star) - p.q_star).abs() < 1e-12);
        // ξ_c peaks at the critical point: larger just below it than far from it on either side.
        let near = propagation(&gh, 1.7, 0.05).unwrap().xi_c;
        assert!(near > p.xi_c && near > propagation(&gh, 1.0, 0.05).unwrap().xi_c);
    }

    /// `E[f(z)]`, z ~ N(0, 1), by Simpson's rule on [−12, 12] with 24,000 intervals: a reference
    /// that shares nothing with the Gauss–Hermite rule.
    fn simpson_gauss(f: impl Fn(f64) -> f64) -> f64 {
        let (n, a, b) = (24_000, -12.0f64, 12.0f64);
        let h = (b - a) / n as f64;
        let g = |z: f64| f(z) * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let mut sum = g(a) + g(b);
        for i in 1..n {
            sum += g(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        sum * h / 3.0
    }

    #[test]
    fn tanh_length_map_layer_by_layer_matches_a_simpson_reference() {
        let gh = GaussHermite::default_rule();
        // 784 → 3 × 256 → 10 under Xavier-uniform and torch's default biases, E‖x‖² = 100.
        let var_b = |fan_in: f64| 1.0 / (3.0 * fan_in);
        let widths = [784.0, 256.0, 256.0, 256.0, 10.0];
        let layers: Vec<(i64, f64, f64)> = widths
            .windows(2)
            .map(|w| (w[0] as i64, 2.0 / (w[0] + w[1]), var_b(w[0])))
            .collect();
        let q = tanh_second_moments(&gh, 100.0, &layers);
        let mut want = layers[0].1 * 100.0 + layers[0].2;
        assert!((q[0] - want).abs() < 1e-15);
        for (k, &(fan_in, var_w, vb)) in layers.iter().enumerate().skip(1) {
            let s = want.sqrt();
            want = fan_in as f64 * var_w * simpson_gauss(|z| (s * z).tanh().powi(2)) + vb;
            assert!(
                (q[k] - want).abs() < 1e-10,
                "q_{} = {} vs {want}",
                k + 1,
                q[k]
            );
        }
        // Output std and slope moment against the reference at a few q.
        for q in [0.01, 0.5, 1.0, 4.0, 25.0, 91.0] {
            let s: f64 = f64::sqrt(q);
            let std = simpson_gauss(|z| (s * z).tanh().powi(2)).sqrt();
            let slope = simpson_gauss(|z| (1.0 - (s * z).tanh().powi(2)).powi(2));
            let (a, b) = (tanh_output_std(&gh, q), tanh_slope_moment(&gh, q));
            // Gauss–Hermite up to q = 1, a Simpson sum on another grid above.
            let tol = if q <= 1.0 { 1e-12 } else { 1e-9 };
            assert!((a - std).abs() < tol, "q {q}: std {a} vs {std}");
            assert!((b - slope).abs() < tol, "q {q}: slope {b} vs {slope}");
        }
        // Small q: tanh is linear, std → √q, slope → 1.
        assert!((tanh_output_std(&gh, 1e-8) - 1e-4).abs() < 1e-10);
        assert!((tanh_slope_moment(&gh, 1e-8) - 1.0).abs() < 1e-7);
        // At q* the slope moment times σ_w² is χ₁.
        let qs = q_star(&gh, 1.5, 0.05).unwrap();
        let chi = chi1(&gh, 1.5, 0.05).unwrap();
        assert!((1.5 * tanh_slope_moment(&gh, qs) - chi).abs() < 1e-12);
    }

    #[test]
    fn relu_variance_halves_under_xavier_and_holds_under_he() {
        let n = 256;
        let xavier = vec![(n, 1.0 / n as f64, 0.0); 31];
        let q = relu_second_moments(2.0, &xavier);
        // q_1 = 2/256; each later layer halves it: after 30 more layers, 2⁻³⁰ of q_1.
        assert!((q[0] - 2.0 / 256.0).abs() < 1e-15);
        assert!((q[30] / q[0] - 2f64.powi(-30)).abs() < 1e-20);
        let he = vec![(n, 2.0 / n as f64, 0.0); 31];
        let q = relu_second_moments(2.0, &he);
        assert!(q.iter().all(|v| (v - 4.0 / 256.0).abs() < 1e-15));
        // A bias variance adds after the halving: q_2 = q_1/2 + v_b.
        let q = relu_second_moments(1.0, &[(4, 0.25, 0.1), (4, 0.25, 0.1)]);
        assert!((q[1] - (0.35 / 2.0 + 0.1)).abs() < 1e-15);
        assert!((relu_output_std(1.0) - 0.5838).abs() < 1e-4);
    }
}
