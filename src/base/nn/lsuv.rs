//! Layer-sequential unit-variance initialization (LSUV).

use anyhow::{ensure, Result};
use tch::{Kind, Tensor};

use crate::base::nn::hook::DataDependentInit;
use crate::base::nn::model::Mlp;

/// LSUV (Mishkin & Matas 2015, "All you need is a good init", Algorithm 1): start from orthonormal
/// weights (done by [`crate::base::nn::scheme::InitScheme::Lsuv`]), then, layer by layer from the input,
/// forward a batch and divide the layer's weights by √Var(output) until the variance of the
/// layer's output (before its nonlinearity) is within `tolerance` of 1 or `max_iterations` is
/// reached. Biases are set to zero first, as the authors' reference implementation does in its
/// orthonormal pre-initialization (not PyTorch's default biases). No random draws: the batch is
/// given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lsuv {
    /// |Var − 1| accepted (paper: 0.1).
    pub tolerance: f64,
    /// Rescalings per layer at most (paper: 10).
    pub max_iterations: usize,
    /// Examples of the training set used (the first ones).
    pub batch_size: i64,
}

impl Default for Lsuv {
    fn default() -> Self {
        Lsuv {
            tolerance: 0.1,
            max_iterations: 10,
            batch_size: 500,
        }
    }
}

impl Lsuv {
    /// Output variance of each layer (before its nonlinearity) on `inputs`.
    pub fn layer_variances(mlp: &Mlp, inputs: &Tensor) -> Vec<f64> {
        tch::no_grad(|| {
            (1..=mlp.layers.len())
                .map(|k| mlp.forward_layers(inputs, k).var(true).double_value(&[])) // [n, width_k] → scalar
                .collect()
        })
    }
}

impl DataDependentInit for Lsuv {
    fn name(&self) -> String {
        "LSUV".into()
    }

    fn initialize(&self, mlp: &mut Mlp, inputs: &Tensor) -> Result<()> {
        ensure!(
            inputs.size()[0] >= 2,
            "LSUV needs a batch of at least 2 examples"
        );
        tch::no_grad(|| {
            for layer in mlp.layers.iter_mut() {
                if let Some(b) = layer.bs.as_mut() {
                    let _ = b.zero_();
                }
            }
        });
        let batch = inputs
            .narrow(0, 0, self.batch_size.min(inputs.size()[0]))
            .to_kind(Kind::Float); // [b, features]
        for k in 0..mlp.layers.len() {
            for _ in 0..self.max_iterations {
                let var = tch::no_grad(|| {
                    mlp.forward_layers(&batch, k + 1)
                        .var(true)
                        .double_value(&[])
                });
                ensure!(
                    var.is_finite() && var > 0.0,
                    "LSUV: layer {} has output variance {var} on the data batch; cannot rescale",
                    k + 1
                );
                if (var - 1.0).abs() < self.tolerance {
                    break;
                }
                let scale = 1.0 / var.sqrt();
                tch::no_grad(|| {
                    let _ = mlp.layers[k].ws.g_mul_scalar_(scale);
                });
            }
        }
        Ok(())
    }
}
