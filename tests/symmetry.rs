//! The symmetry problem: when every unit of a layer starts with the same incoming weights and the
//! same bias, every unit computes the same thing and receives the same gradient, so no gradient
//! step can make them differ. `torch.nn.Linear`'s default biases (a different value per unit)
//! break that symmetry on their own, which is why the `zeros` and `constant` schemes set the
//! biases to 0 as well.

mod common;

use common::{mnist_dir, seed_lock};
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::init;
use initlab::base::nn::{
    model::{distinct_rows, Mlp, MlpSpec},
    scheme::{Activation, InitScheme},
};
use initlab::base::optim::OptimizerKind;
use initlab::base::train::sink::{self as train_sink, Control};
use initlab::base::train::trainer::Trainer;
use initlab::base::train::TrainConfig;
use tch::Tensor;

/// Distinct rows of `[W | b]` per hidden layer.
fn distinct_hidden_units(model: &Mlp) -> Vec<usize> {
    let hidden = model.layers.len() - 1;
    model.layers[..hidden]
        .iter()
        .map(|l| {
            let b = l.bs.as_ref().expect("bias").detach().unsqueeze(1);
            // [fan_out, fan_in + 1]
            distinct_rows(&Tensor::cat(&[l.ws.detach(), b], 1)).unwrap()
        })
        .collect()
}

/// Per hidden layer: the largest difference between a unit's `[W | b]` row and the first unit's,
/// relative to the largest parameter of the layer. 0 when the units are exactly identical.
fn spread(model: &Mlp) -> Vec<f64> {
    let hidden = model.layers.len() - 1;
    model.layers[..hidden]
        .iter()
        .map(|l| {
            let b = l.bs.as_ref().expect("bias").detach().unsqueeze(1);
            // [fan_out, fan_in + 1]
            let p = Tensor::cat(&[l.ws.detach(), b], 1).to_kind(tch::Kind::Double);
            let first = p.narrow(0, 0, 1);
            let diff = (&p - &first).abs().max().double_value(&[]);
            diff / p.abs().max().double_value(&[]).max(1e-300)
        })
        .collect()
}

/// Trains `spec` for 5 steps (500 images, batch 100) with `optimizer`, the model built by
/// `Mlp::new` and then changed by `tweak`.
fn train_a_little(
    spec: &MlpSpec,
    optimizer: OptimizerKind,
    lr: f64,
    tweak: impl Fn(&mut Mlp),
) -> Mlp {
    let data = load_dir(&mnist_dir()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        train_limit: Some(500),
        learning_rate: lr,
        optimizer,
        ..TrainConfig::default()
    };
    struct Tweak<F: Fn(&mut Mlp)>(F);
    impl<F: Fn(&mut Mlp)> initlab::base::nn::hook::DataDependentInit for Tweak<F> {
        fn name(&self) -> String {
            "tweak".into()
        }
        fn initialize(&self, model: &mut Mlp, _: &Tensor) -> anyhow::Result<()> {
            (self.0)(model);
            Ok(())
        }
    }
    let hook = Tweak(tweak);
    // Trainer::fresh runs the hook after the scheme, before the optimizer.
    let mut trainer = Trainer::fresh(spec, &data, &config, Some(&hook), 0).unwrap();
    train_sink::run(&mut trainer, &mut [], Control::default()).unwrap();
    trainer.into_state().model
}

fn spec(init: InitScheme, activation: Activation) -> MlpSpec {
    MlpSpec {
        bias: Default::default(),
        widths: "784,32,32,10".parse().unwrap(),
        activation,
        init,
    }
}

#[test]
fn identical_units_stay_identical_under_sgd_and_adam() {
    let _g = seed_lock();
    for (optimizer, lr) in [(OptimizerKind::Sgd, 0.01), (OptimizerKind::Adam, 0.01)] {
        for activation in [Activation::Tanh, Activation::Relu] {
            let model = train_a_little(
                &spec(InitScheme::Constant, activation),
                optimizer,
                lr,
                |_| {},
            );
            // Identical up to the rounding of the matrix kernels, which may sum a row at the
            // edge of a SIMD block in another order: a few exact groups at most, differing in
            // the last bits.
            let distinct = distinct_hidden_units(&model);
            let s = spread(&model);
            assert!(
                s.iter().all(|&v| v < 1e-5) && distinct.iter().all(|&d| d <= 4),
                "constant, {optimizer}, {activation}: distinct {distinct:?}, spread {s:?}"
            );
            // The second layer's weights did move (the symmetry is kept, not the values); the
            // first layer's may not, where tanh saturates to exactly 1 in f32.
            let w = model.layers[1].ws.double_value(&[0, 0]);
            assert_ne!(w, InitScheme::CONSTANT_VALUE, "{optimizer} {activation}");
        }
        let model = train_a_little(
            &spec(InitScheme::Zeros, Activation::Tanh),
            optimizer,
            lr,
            |_| {},
        );
        assert_eq!(
            distinct_hidden_units(&model),
            vec![1, 1],
            "zeros, {optimizer}"
        );
    }
}

#[test]
fn default_biases_break_the_symmetry_of_constant_weights() {
    let _g = seed_lock();
    // Constant weights, but torch.nn.Linear's default biases put back (U(±1/√fan_in), one value
    // per unit): the units differ from the start by their biases, and after a few steps by their
    // weights too (ReLU: with tanh the first layer saturates to exactly 1 in f32 and its weights
    // get no gradient at all).
    let spec = spec(InitScheme::Constant, Activation::Relu);
    let model = train_a_little(&spec, OptimizerKind::Sgd, 0.01, |m| {
        for l in m.layers.iter_mut() {
            let fan_in = l.ws.size()[1];
            let b = init::torch_linear_bias_bound(fan_in);
            init::uniform_(l.bs.as_mut().unwrap(), -b, b).unwrap();
        }
    });
    assert_eq!(distinct_hidden_units(&model), vec![32, 32]);
    let s = spread(&model);
    assert!(s.iter().all(|&v| v > 1e-3), "spread {s:?}");
    let rows = |k: usize| distinct_rows(&model.layers[k].ws.detach()).unwrap();
    assert!(rows(0) > 1 && rows(1) > 1, "{} {}", rows(0), rows(1));
}
