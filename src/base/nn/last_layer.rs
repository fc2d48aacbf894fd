//! "Fix the initial loss" (Karpathy, *Building makemore* part 3): scale the last layer's weights
//! down (×0.01) and zero its bias after the init, so that the fresh net's logits are close to 0,
//! its softmax close to uniform, and its first loss close to `ln(classes)` (`ln 10 = 2.302585`
//! for MNIST) instead of far above it. The PyTorch it mirrors:
//! `with torch.no_grad(): model[-1].weight *= 0.01; model[-1].bias.zero_()`.

use anyhow::{ensure, Result};
use tch::Tensor;

use crate::base::nn::hook::DataDependentInit;
use crate::base::nn::model::Mlp;

/// The last layer scaled and its bias zeroed; `Default` is Karpathy's ×0.01.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastLayerFix {
    /// Factor on the last layer's weights.
    pub scale: f64,
}

impl Default for LastLayerFix {
    fn default() -> Self {
        LastLayerFix { scale: 0.01 }
    }
}

impl LastLayerFix {
    /// Scales the last layer's weights by [`LastLayerFix::scale`] and sets its bias to 0, in place.
    pub fn apply(&self, mlp: &mut Mlp) -> Result<()> {
        ensure!(
            self.scale.is_finite(),
            "the last layer's scale must be a finite number, got {}",
            self.scale
        );
        let Some(last) = mlp.layers.last_mut() else {
            anyhow::bail!("the model has no layer to scale");
        };
        tch::no_grad(|| {
            let _ = last.ws.g_mul_scalar_(self.scale);
            if let Some(b) = last.bs.as_mut() {
                let _ = b.zero_();
            }
        });
        Ok(())
    }
}

/// Uniform guessing's loss over `classes` classes, `−ln(1/classes) = ln(classes)`: what a fresh
/// net whose logits are all equal scores, and what a well-scaled one starts near.
pub fn uniform_loss(classes: i64) -> f64 {
    (classes as f64).ln()
}

impl DataDependentInit for LastLayerFix {
    fn name(&self) -> String {
        format!("last layer ×{}", self.scale)
    }

    /// Needs no data: the hook is only where a run's init may be changed after the scheme drew it.
    fn initialize(&self, mlp: &mut Mlp, _inputs: &Tensor) -> Result<()> {
        self.apply(mlp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::nn::model::MlpSpec;
    use crate::base::nn::scheme::InitScheme;
    use tch::{Kind, Reduction};

    #[test]
    fn scaled_last_layer_starts_at_the_uniform_loss() {
        // No manual_seed: the checks hold for any draw (and seeding would race other tests).
        let mut mlp = Mlp::new(&MlpSpec::shallow(InitScheme::XavierUniform)).unwrap();
        let before = mlp.layers[2].ws.copy();
        let first = mlp.layers[0].ws.copy();
        LastLayerFix::default().apply(&mut mlp).unwrap();
        // Exactly ×0.01 and a zero bias on the last layer; the others untouched.
        let diff = (&mlp.layers[2].ws - before * 0.01)
            .abs()
            .max()
            .double_value(&[]);
        assert!(diff < 1e-9, "{diff}");
        let bias = mlp.layers[2].bs.as_ref().unwrap();
        assert_eq!(bias.abs().sum(Kind::Double).double_value(&[]), 0.0);
        assert!(mlp.layers[0].ws.equal(&first));
        // Inputs in [0, 1] like MNIST's: the loss is ln 10 within a few thousandths, whatever the labels.
        let x = Tensor::rand([200, 784], (Kind::Float, tch::Device::Cpu));
        let labels = Tensor::randint(10, [200], (Kind::Int64, tch::Device::Cpu));
        let loss = tch::nn::Module::forward(&mlp, &x)
            .cross_entropy_loss::<Tensor>(&labels, None, Reduction::Mean, -100, 0.0)
            .double_value(&[]);
        assert!((loss - uniform_loss(10)).abs() < 0.01, "loss {loss}");
        assert!((uniform_loss(10) - std::f64::consts::LN_10).abs() < 1e-15);
        assert!(LastLayerFix { scale: f64::NAN }.apply(&mut mlp).is_err());
    }
}
