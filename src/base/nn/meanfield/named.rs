//! Where the named inits of `torch.nn.init` sit on the tanh mean-field diagram, in plain `f64`.
//!
//! A weight distribution with variance `v` per weight has `σ_w² = fan_in · v`; torch's default
//! `nn.Linear` bias U(±1/√fan_in) has variance `σ_b² = 1/(3·fan_in)`
//! ([`torch_default_bias_variance`]). With that bias the named inits are ([`NAMED_INITS`]):
//!
//! - torch's default weights U(±1/√fan_in), Glorot & Bengio's (2010) "standard" init:
//!   `σ_w² = 1/3`, deep in the ordered phase;
//! - Xavier / Glorot normalized at fan_in = fan_out: `v = 2/(fan_in + fan_out) = 1/fan_in`,
//!   `σ_w² = 1`, just below the critical line (χ₁ < 1 because of the small bias);
//! - Xavier or Kaiming with `calculate_gain('tanh') = 5/3`: `σ_w² = (5/3)² = 25/9 ≈ 2.78`,
//!   on the chaotic side.
//!
//! Their χ₁, ξ_c and the critical σ_w² at that bias come from [`crate::base::nn::meanfield`]
//! (Poole et al. 2016; Schoenholz et al. 2017).

use anyhow::Result;

use crate::base::nn::meanfield::{critical_sigma_w2, propagation, GaussHermite, Propagation};

/// The variance of torch's default bias U(±1/√fan_in): `(2/√fan_in)²/12 = 1/(3·fan_in)`.
pub fn torch_default_bias_variance(fan_in: i64) -> f64 {
    1.0 / (3.0 * fan_in.max(1) as f64)
}

/// A named init as a point on the σ_w² axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NamedInit {
    /// Its name in the charts and tables.
    pub name: &'static str,
    /// `fan_in · Var(w)`.
    pub sigma_w2: f64,
}

/// torch default / Glorot-standard (σ_w² = 1/3), Xavier (1) and the tanh gain (5/3)² = 25/9.
pub const NAMED_INITS: [NamedInit; 3] = [
    NamedInit {
        name: "torch default / Glorot standard",
        sigma_w2: 1.0 / 3.0,
    },
    NamedInit {
        name: "Xavier",
        sigma_w2: 1.0,
    },
    NamedInit {
        name: "tanh gain (5/3)²",
        sigma_w2: 25.0 / 9.0,
    },
];

/// The named inits at torch's default bias for hidden layers of `fan_in` units: the bias, the
/// critical σ_w² at that bias (χ₁ = 1, by [`critical_sigma_w2`]), and each init's theory.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedAtTorchBias {
    /// The hidden layers' fan-in.
    pub fan_in: i64,
    /// `σ_b² = 1/(3·fan_in)`.
    pub sigma_b2: f64,
    /// The critical σ_w² at `sigma_b2`.
    pub critical: f64,
    /// Each named init with its q*, χ₁, c*, ξ_c at `sigma_b2`.
    pub points: Vec<(NamedInit, Propagation)>,
}

/// [`NamedAtTorchBias`] for hidden layers of `fan_in` units.
pub fn named_at_torch_bias(gh: &GaussHermite, fan_in: i64) -> Result<NamedAtTorchBias> {
    let sigma_b2 = torch_default_bias_variance(fan_in);
    let points = NAMED_INITS
        .iter()
        .map(|n| propagation(gh, n.sigma_w2, sigma_b2).map(|p| (*n, p)))
        .collect::<Result<_>>()?;
    Ok(NamedAtTorchBias {
        fan_in,
        sigma_b2,
        critical: critical_sigma_w2(gh, sigma_b2)?,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_inits_sit_where_the_anchors_say() {
        let gh = GaussHermite::default_rule();
        assert!((torch_default_bias_variance(300) - 1.0 / 900.0).abs() < 1e-15);
        assert!((NAMED_INITS[2].sigma_w2 - 2.7778).abs() < 1e-4);
        // anchors-evidence.md, "Named inits on the tanh mean-field diagram": χ₁ ≈ 0.33, 0.95,
        // 1.21 and a critical σ_w² ≈ 1.21, given to two decimals, so ±0.005 (their rounding)
        // plus 0.01 for the width they assume (any fan-in from 256 to 300 rounds to them).
        for fan_in in [256, 300] {
            let n = named_at_torch_bias(&gh, fan_in).unwrap();
            let chi: Vec<f64> = n.points.iter().map(|(_, p)| p.chi1).collect();
            for (got, want) in chi.iter().zip([0.33, 0.95, 1.21]) {
                assert!((got - want).abs() < 0.015, "fan_in {fan_in}: χ₁ {chi:?}");
            }
            assert!(
                (n.critical - 1.21).abs() < 0.015,
                "{fan_in}: {}",
                n.critical
            );
            // ξ_c ≈ 0.9, ≈ 20 and ≈ 12 layers: within 10 %.
            let xi: Vec<f64> = n.points.iter().map(|(_, p)| p.xi_c).collect();
            for (got, want) in xi.iter().zip([0.9, 20.0, 12.0]) {
                assert!(
                    (got / want - 1.0).abs() < 0.1,
                    "fan_in {fan_in}: ξ_c {xi:?}"
                );
            }
        }
        // A larger bias moves the critical line right: 1.76 at σ_b² = 0.05.
        let crit = critical_sigma_w2(&gh, 0.05).unwrap();
        assert!((crit - 1.761).abs() < 1e-3, "{crit}");
    }
}
