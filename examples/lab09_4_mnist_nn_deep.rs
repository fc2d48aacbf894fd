//! Lab 9-4 "mnist_nn_deep" (Deep Learning Zero To All, season 2), line by line on tch.
//!
//! Run: `cargo run --release --example lab09_4_mnist_nn_deep`
//!
//! Expected output on an AVX-512 CPU (PyTorch 2.13.0 on CPU prints the same epoch lines; see
//! tests/golden/intel-path/avx512/; AVX2-only CPUs print other costs, tests/golden/intel-path/avx2/, and so
//! does oneMKL's non-Intel path on AMD CPUs, tests/golden/stock/; see book/en/src/parity.md):
//! ```text
//! Parameter containing:
//! tensor([[-0.0565,  0.0423, -0.0155,  ...,  0.1012,  0.0459, -0.0191],
//!         ...
//!        requires_grad=True)                  (linear5.weight, as in the seed document)
//! Epoch: 0001 cost = ...
//! ...
//! Learning finished
//! Accuracy: ...
//! Label:  8
//! Prediction:  8
//! ```
//! Quirks kept on purpose: the test images are fed as raw 0–255 values, and the notebook builds
//! and initializes five layers (784-512-512-512-512-10) but its `Sequential` uses only linear1,
//! relu, linear2, relu, linear3 — so the model really is 784-512-512-512 with 512 logits, and
//! linear4/linear5 are never trained. This mirror reproduces that model; `initlab train --model
//! deep` builds the deep net the notebook meant, with all five layers.
//!
//! Read it beside the notebook: every notebook line, its `#` comments included, stands as a `//`
//! comment above the Rust that mirrors it, in the notebook's order; tensor shapes (`// [100, 784]`)
//! and notes on the port (in parentheses) are comments of their own.

// # Lab 10 MNIST and softmax
// import torch
// import torchvision.datasets as dsets
// import torchvision.transforms as transforms
// import random
use anyhow::Result;
use initlab::base::data;
use initlab::base::data::loader::TorchLoader;
use initlab::base::nn::init;
use initlab::base::nn::model::torch_linear;
use initlab::base::optim::{AdamConfig, TorchAdam};
use initlab::base::parity::pyfmt;
use initlab::base::parity::pyrandom::PyRandom;
use tch::nn::{self, Module};
use tch::{Kind, Reduction, Tensor};

fn main() -> Result<()> {
    // device = 'cuda' if torch.cuda.is_available() else 'cpu'
    // (CPU only: every tensor below lives on tch::Device::Cpu, so `.to(device)` has no mirror)

    // # for reproducibility
    // random.seed(777)
    let mut random = PyRandom::new(777);
    // torch.manual_seed(777)
    tch::manual_seed(777);
    // if device == 'cuda':
    //     torch.cuda.manual_seed_all(777)
    // (no CUDA generator to seed)

    // # parameters
    // learning_rate = 0.001
    let learning_rate = 0.001;
    // training_epochs = 15
    let training_epochs = 15;
    // batch_size = 100
    let batch_size = 100;

    // # MNIST dataset
    // mnist_train = dsets.MNIST(root='MNIST_data/',
    //                           train=True,
    //                           transform=transforms.ToTensor(),
    //                           download=True)
    // mnist_test = dsets.MNIST(root='MNIST_data/',
    //                          train=False,
    //                          transform=transforms.ToTensor(),
    //                          download=True)
    // (both sets come from the bundled data/mnist files; nothing is downloaded)
    let mnist = data::mnist::load_dir(&data::mnist::bundled_dir())?;
    // [60000, 784] f32: ToTensor() (pixels / 255), applied once to the whole train set
    let train_x = mnist.train.images_unit();

    // # dataset loader
    // data_loader = torch.utils.data.DataLoader(dataset=mnist_train,
    //                                           batch_size=batch_size,
    //                                           shuffle=True,
    //                                           drop_last=True)
    let data_loader = TorchLoader::new(mnist.train.len(), batch_size, true)?;

    // # nn layers
    // (each torch_linear draws its weight, then its bias, as torch.nn.Linear does)
    let vs = nn::VarStore::new(tch::Device::Cpu);
    // linear1 = torch.nn.Linear(784, 512, bias=True)
    let mut linear1 = torch_linear(&(vs.root() / "linear1"), 784, 512)?;
    // linear2 = torch.nn.Linear(512, 512, bias=True)
    let mut linear2 = torch_linear(&(vs.root() / "linear2"), 512, 512)?;
    // linear3 = torch.nn.Linear(512, 512, bias=True)
    let mut linear3 = torch_linear(&(vs.root() / "linear3"), 512, 512)?;
    // linear4 = torch.nn.Linear(512, 512, bias=True)
    let mut linear4 = torch_linear(&(vs.root() / "linear4"), 512, 512)?;
    // linear5 = torch.nn.Linear(512, 10, bias=True)
    let mut linear5 = torch_linear(&(vs.root() / "linear5"), 512, 10)?;
    // relu = torch.nn.ReLU()
    // (stateless: the Sequential below applies it as the closure `x.relu()`)

    // # xavier initialization
    // torch.nn.init.xavier_uniform_(linear1.weight)
    init::xavier_uniform_(&mut linear1.ws, 1.0)?;
    // torch.nn.init.xavier_uniform_(linear2.weight)
    init::xavier_uniform_(&mut linear2.ws, 1.0)?;
    // torch.nn.init.xavier_uniform_(linear3.weight)
    init::xavier_uniform_(&mut linear3.ws, 1.0)?;
    // torch.nn.init.xavier_uniform_(linear4.weight)
    init::xavier_uniform_(&mut linear4.ws, 1.0)?;
    // torch.nn.init.xavier_uniform_(linear5.weight)
    init::xavier_uniform_(&mut linear5.ws, 1.0)?;
    // (the cell displays the value of the last call)
    println!("{}", pyfmt::parameter(&linear5.ws));

    // # model
    // model = torch.nn.Sequential(linear1, relu, linear2, relu, linear3).to(device)
    // (linear4 and linear5 are built and initialised but never used: the notebook's quirk)
    let model = nn::seq()
        .add(linear1)
        .add_fn(|x| x.relu())
        .add(linear2)
        .add_fn(|x| x.relu())
        .add(linear3);

    // # define cost/loss & optimizer
    // criterion = torch.nn.CrossEntropyLoss().to(device)    # Softmax is internally computed.
    // (tch has no loss module: the loop calls `cross_entropy_loss` in its place)
    // optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    // (model.parameters(): each layer's weight, then its bias, in the Sequential's order; TorchAdam
    // is PyTorch's Adam arithmetic, bit for bit)
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
    // (each iter(data_loader) draws two int64 from the global generator, and nothing else uses
    // it while training: draw every epoch's pair first)
    let epoch_seeds = TorchLoader::draw_epoch_seeds(training_epochs);
    // for epoch in range(training_epochs):
    for (epoch, &seed) in epoch_seeds.iter().enumerate() {
        // avg_cost = 0
        let mut avg_cost = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));

        // for X, Y in data_loader:
        let permutation = data_loader.permutation(seed);
        for indices in data_loader.batches(&permutation) {
            // # reshape input image into [batch_size by 784]
            // # label is not one-hot encoded
            // X = X.view(-1, 28 * 28).to(device)
            // [100, 784]
            let x = train_x.index_select(0, &indices);
            // Y = Y.to(device)
            // [100]
            let y = mnist.train.labels.index_select(0, &indices);

            // optimizer.zero_grad()
            optimizer.zero_grad();
            // hypothesis = model(X)
            // [100, 512]: 512 logits, as in the notebook
            let hypothesis = model.forward(&x);
            // cost = criterion(hypothesis, Y)
            let cost =
                hypothesis.cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0);
            // cost.backward()
            cost.backward();
            // optimizer.step()
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

    // print('Learning finished')
    println!("Learning finished");

    // # Test the model using test sets
    // with torch.no_grad():
    tch::no_grad(|| -> Result<()> {
        // X_test = mnist_test.test_data.view(-1, 28 * 28).float().to(device)
        // [10000, 784], raw 0-255 values: the notebook's quirk
        let x_test = mnist.test.images_raw();
        // Y_test = mnist_test.test_labels.to(device)
        // [10000]
        let y_test = &mnist.test.labels;

        // prediction = model(X_test)
        // [10000, 512]
        let prediction = model.forward(&x_test);
        // correct_prediction = torch.argmax(prediction, 1) == Y_test
        // accuracy = correct_prediction.float().mean()
        let accuracy = prediction
            .argmax(1, false)
            .eq_tensor(y_test)
            .to_kind(Kind::Float)
            .mean(Kind::Float);
        // print('Accuracy:', accuracy.item())
        println!("Accuracy: {}", accuracy.double_value(&[]));

        // # Get one and predict
        // r = random.randint(0, len(mnist_test) - 1)
        let r = random.randint(0, mnist.test.len() - 1);
        // X_single_data = mnist_test.test_data[r:r + 1].view(-1, 28 * 28).float().to(device)
        // [1, 784]
        let x_single_data = x_test.narrow(0, r, 1);
        // Y_single_data = mnist_test.test_labels[r:r + 1].to(device)
        // [1]
        let y_single_data = y_test.narrow(0, r, 1);

        // print('Label: ', Y_single_data.item())
        println!("Label:  {}", y_single_data.int64_value(&[0]));
        // single_prediction = model(X_single_data)
        // [1, 512]
        let single_prediction = model.forward(&x_single_data);
        // print('Prediction: ', torch.argmax(single_prediction, 1).item())
        println!(
            "Prediction:  {}",
            single_prediction.argmax(1, false).int64_value(&[0])
        );
        Ok(())
    })
}
