//! Statistics over seeds, in plain f64: mean and sample standard deviation, Student-t confidence
//! intervals, and Welch's unequal-variance t-test — what a comparison of initializations over a
//! few seeds needs to tell an effect from seed noise.

/// Summary of one configuration's values over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for one value).
    pub sd: f64,
    /// Half-width of the 95 % confidence interval of the mean, `t(0.975, n−1) · sd / √n`
    /// (NaN for one value: one seed gives no interval).
    pub ci95: f64,
}

/// Mean, sample standard deviation and the 95 % Student-t interval of `values`.
pub fn summarize(values: &[f64]) -> Summary {
    let n = values.len();
    if n == 0 {
        return Summary {
            n,
            mean: f64::NAN,
            sd: f64::NAN,
            ci95: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Summary {
            n,
            mean,
            sd: 0.0,
            ci95: f64::NAN,
        };
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let ci95 = t_quantile(0.975, (n - 1) as f64) * sd / (n as f64).sqrt();
    Summary { n, mean, sd, ci95 }
}

/// Welch's t-test of equal means for two samples of unequal variances: the statistic
/// `t = (m₁ − m₂) / √(s₁²/n₁ + s₂²/n₂)`, the Welch–Satterthwaite degrees of freedom
/// `ν = (s₁²/n₁ + s₂²/n₂)² / ((s₁²/n₁)²/(n₁−1) + (s₂²/n₂)²/(n₂−1))`, and the two-sided p-value
/// `P(|T_ν| ≥ |t|)`. Mirrors `scipy.stats.ttest_ind(a, b, equal_var=False)`. `None` when a sample
/// has fewer than two values or both have zero variance.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    let (sa, sb) = (summarize(a), summarize(b));
    if sa.n < 2 || sb.n < 2 {
        return None;
    }
    let (va, vb) = (sa.sd * sa.sd / sa.n as f64, sb.sd * sb.sd / sb.n as f64);
    if va + vb == 0.0 {
        return None;
    }
    let t = (sa.mean - sb.mean) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (sa.n - 1) as f64 + vb * vb / (sb.n - 1) as f64);
    Some(Welch {
        t,
        df,
        p: two_sided_p(t, df),
    })
}

/// The result of [`welch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    /// The t statistic.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// `P(|T| ≥ |t|)` for Student's t with `df` degrees of freedom: `I_{df/(df+t²)}(df/2, 1/2)`.
pub fn two_sided_p(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The `p`-quantile of Student's t with `df` degrees of freedom (`p` in (0.5, 1)), by bisection
/// on [`two_sided_p`].
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let tail = 2.0 * (1.0 - p);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while two_sided_p(hi, df) > tail {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_p(mid, df) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, nine coefficients; ~15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function `I_x(a, b)`, by its continued fraction (modified
/// Lentz), using the symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)` where the fraction converges slowly.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let tiny = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..500 {
        let m = m as f64;
        // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
        let num = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + num * d;
        d = if d.abs() < tiny { 1.0 / tiny } else { 1.0 / d };
        c = 1.0 + num / c;
        if c.abs() < tiny {
            c = tiny;
        }
        f *= d * c;
        // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
        let num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + num * d;
        d = if d.abs() < tiny { 1.0 / tiny } else { 1.0 / d };
        c = 1.0 + num / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let delta = d * c;
        f *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * f / a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Student's t table, two-sided 95 %.
        close(t_quantile(0.975, 1.0), 12.706_204_736, 1e-6);
        close(t_quantile(0.975, 2.0), 4.302_652_730, 1e-8);
        close(t_quantile(0.975, 4.0), 2.776_445_105, 1e-8);
        close(t_quantile(0.975, 9.0), 2.262_157_163, 1e-8);
        close(t_quantile(0.975, 1e6), 1.959_966, 1e-5);
    }

    #[test]
    fn incomplete_beta_and_gamma_known_values() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_{1/2}(a, a) = 1/2.
        close(incomplete_beta(1.0, 1.0, 0.3), 0.3, 1e-14);
        close(incomplete_beta(2.5, 1.0, 0.4), 0.4f64.powf(2.5), 1e-13);
        close(incomplete_beta(3.7, 3.7, 0.5), 0.5, 1e-13);
        close(ln_gamma(5.0), 24f64.ln(), 1e-13);
        close(ln_gamma(0.5), std::f64::consts::PI.sqrt().ln(), 1e-13);
    }

    #[test]
    fn welch_statistic_and_p_value_from_their_definitions() {
        // The seed-to-seed test errors (%) of Xavier and He on the shallow net.
        let a = [1.76, 1.92, 1.84, 1.87, 2.29];
        let b = [2.37, 2.07, 2.43, 1.92, 2.08];
        let w = welch(&a, &b).unwrap();
        let (sa, sb) = (summarize(&a), summarize(&b));
        close(sa.mean, 1.936, 1e-12);
        close(sb.mean, 2.174, 1e-12);
        let va = sa.sd.powi(2) / 5.0;
        let vb = sb.sd.powi(2) / 5.0;
        close(w.t, (1.936 - 2.174) / (va + vb).sqrt(), 1e-12);
        // The p-value agrees with the t distribution's tail computed independently by
        // integrating its density numerically.
        let density = |t: f64, df: f64| {
            (ln_gamma((df + 1.0) / 2.0) - ln_gamma(df / 2.0)).exp()
                / (df * std::f64::consts::PI).sqrt()
                * (1.0 + t * t / df).powf(-(df + 1.0) / 2.0)
        };
        let (t0, steps) = (w.t.abs(), 200_000);
        let upper = 200.0;
        let h = (upper - t0) / steps as f64;
        let tail: f64 = (0..steps)
            .map(|i| density(t0 + (i as f64 + 0.5) * h, w.df) * h)
            .sum();
        close(w.p, 2.0 * tail, 1e-6);
        assert!(welch(&[1.0], &b).is_none());
        assert!(welch(&[1.0, 1.0], &[2.0, 2.0]).is_none());
    }

    #[test]
    fn intervals_shrink_with_more_seeds() {
        let s = summarize(&[1.0, 2.0, 3.0]);
        close(s.sd, 1.0, 1e-15);
        close(s.ci95, 4.302_652_730 / 3f64.sqrt(), 1e-8);
        assert!(summarize(&[2.0]).ci95.is_nan());
    }
}
