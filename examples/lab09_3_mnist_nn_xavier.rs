//! Lab 9-3 "mnist_nn_xavier" (Deep Learning Zero To All, season 2), line by line on tch.
//!
//! Run: `cargo run --release --example lab09_3_mnist_nn_xavier`
//!
//! Expected output on an AVX-512 CPU (PyTorch 2.13.0 on CPU prints the same epoch lines; see
//! tests/golden/avx512/; AVX2-only CPUs print other costs, tests/golden/avx2/):
//! ```text
//! Parameter containing:
//! tensor([[-0.0215, -0.0894,  0.0598,  ...,  0.0200,  0.0203,  0.1212],
//!         ...
//!        requires_grad=True)
//! Epoch: 0001 cost = 0.246763036
//! ...
//! Epoch: 0015 cost = 0.007610181
//! Learning finished
//! Accuracy: 0.9830999970436096
//! Label:  8
//! Prediction:  8
//! ```
//! Quirk kept on purpose: the test images are fed as raw 0–255 values, as in the notebook.

use anyhow::Result;
use initlab::base::data::{self, TorchLoader};
use initlab::base::nn::init;
use initlab::base::nn::model::torch_linear;
use initlab::base::optim::{AdamConfig, TorchAdam};
use initlab::base::parity::pyfmt;
use initlab::base::parity::pyrandom::PyRandom;
use tch::nn::{self, Module};
use tch::{Kind, Reduction, Tensor};

fn main() -> Result<()> {
    // random.seed(777); torch.manual_seed(777)
    let mut random = PyRandom::new(777);
    tch::manual_seed(777);

    // learning_rate = 0.001; training_epochs = 15; batch_size = 100
    let learning_rate = 0.001;
    let training_epochs = 15;
    let batch_size = 100;

    // mnist_train / mnist_test = dsets.MNIST(..., transform=transforms.ToTensor())
    let mnist = data::load_dir(&data::mnist::bundled_dir())?;
    let train_x = mnist.train.images_unit(); // [60000, 784] f32, ToTensor() = pixels / 255

    // data_loader = DataLoader(dataset=mnist_train, batch_size=batch_size, shuffle=True, drop_last=True)
    let data_loader = TorchLoader::new(mnist.train.len(), batch_size, true)?;

    // linear1 = torch.nn.Linear(784, 256, bias=True) ... linear3 = torch.nn.Linear(256, 10, bias=True)
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let mut linear1 = torch_linear(&(vs.root() / "linear1"), 784, 256)?;
    let mut linear2 = torch_linear(&(vs.root() / "linear2"), 256, 256)?;
    let mut linear3 = torch_linear(&(vs.root() / "linear3"), 256, 10)?;

    // torch.nn.init.xavier_uniform_(linear1.weight) ... (the cell shows the last call's value)
    init::xavier_uniform_(&mut linear1.ws, 1.0)?;
    init::xavier_uniform_(&mut linear2.ws, 1.0)?;
    init::xavier_uniform_(&mut linear3.ws, 1.0)?;
    println!("{}", pyfmt::parameter(&linear3.ws));

    // model = torch.nn.Sequential(linear1, relu, linear2, relu, linear3)
    let model = nn::seq()
        .add(linear1)
        .add_fn(|x| x.relu())
        .add(linear2)
        .add_fn(|x| x.relu())
        .add(linear3);

    // criterion = torch.nn.CrossEntropyLoss(); optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    let parameters = ["linear1", "linear2", "linear3"]
        .iter()
        .flat_map(|l| ["weight", "bias"].map(|p| format!("{l}.{p}")))
        .map(|name| vs.variables()[&name].shallow_clone())
        .collect();
    let mut optimizer = TorchAdam::new(
        parameters,
        AdamConfig {
            lr: learning_rate,
            ..AdamConfig::default()
        },
    )?;

    // total_batch = len(data_loader)
    let total_batch = data_loader.num_batches();
    // iter(data_loader) draws two int64 per epoch from the global generator: draw them all first
    let epoch_seeds = TorchLoader::draw_epoch_seeds(training_epochs);
    for (epoch, &seed) in epoch_seeds.iter().enumerate() {
        // avg_cost = 0
        let mut avg_cost = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
        // for X, Y in data_loader:
        let permutation = data_loader.permutation(seed);
        for indices in data_loader.batches(&permutation) {
            // X = X.view(-1, 28 * 28); Y = Y
            let x = train_x.index_select(0, &indices); // [100, 784]
            let y = mnist.train.labels.index_select(0, &indices); // [100]
                                                                  // optimizer.zero_grad()
            optimizer.zero_grad();
            // hypothesis = model(X)
            let hypothesis = model.forward(&x); // [100, 10]
                                                // cost = criterion(hypothesis, Y)
            let cost =
                hypothesis.cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0);
            // cost.backward(); optimizer.step()
            cost.backward();
            optimizer.step();
            // avg_cost += cost / total_batch
            avg_cost += cost.detach() / total_batch as f64;
        }
        // print('Epoch:', '%04d' % (epoch + 1), 'cost =', '{:.9f}'.format(avg_cost))
        println!(
            "Epoch: {:04} cost = {:.9}",
            epoch + 1,
            avg_cost.double_value(&[])
        );
    }
    println!("Learning finished");

    // with torch.no_grad():
    tch::no_grad(|| -> Result<()> {
        // X_test = mnist_test.test_data.view(-1, 28 * 28).float()   (raw 0-255: the notebook's quirk)
        let x_test = mnist.test.images_raw(); // [10000, 784]
        let y_test = &mnist.test.labels; // [10000]
                                         // prediction = model(X_test); accuracy = (argmax == Y_test).float().mean()
        let prediction = model.forward(&x_test); // [10000, 10]
        let accuracy = prediction
            .argmax(1, false)
            .eq_tensor(y_test)
            .to_kind(Kind::Float)
            .mean(Kind::Float);
        println!("Accuracy: {}", accuracy.double_value(&[]));

        // r = random.randint(0, len(mnist_test) - 1)
        let r = random.randint(0, mnist.test.len() - 1);
        // X_single_data = mnist_test.test_data[r:r + 1].view(-1, 28 * 28).float()
        let x_single_data = x_test.narrow(0, r, 1); // [1, 784]
        let y_single_data = y_test.narrow(0, r, 1); // [1]
        println!("Label:  {}", y_single_data.int64_value(&[0]));
        let single_prediction = model.forward(&x_single_data); // [1, 10]
        println!(
            "Prediction:  {}",
            single_prediction.argmax(1, false).int64_value(&[0])
        );
        Ok(())
    })
}
