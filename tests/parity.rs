//! Bit-parity with PyTorch 2.13 on the cheap parts, against the golden set of this CPU's kernel
//! family, tests/golden/<oneMKL path>/<family>/ (made by tools/reference/): the notebooks' printed tensors and
//! first batches, Python's `random`, `torch.nn.init` values and Adam's step sequence.

mod common;

use common::{
    f32_from_hex, golden_dir_for, golden_json, golden_text, hex_f32s, mnist_dir, seed_lock, values,
};
use initlab::base::data::loader::TorchLoader;
use initlab::base::data::mnist::load_dir;
use initlab::base::nn::init::{self, FanMode, Nonlinearity};
use initlab::base::nn::{
    model::{torch_linear, MlpSpec},
    scheme::InitScheme,
};
use initlab::base::optim::{AdamConfig, TorchAdam};
use initlab::base::parity::pyfmt;
use initlab::base::parity::pyrandom::PyRandom;
use initlab::base::train::{self, Progress, TrainConfig};
use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};

fn details() -> Value {
    golden_json("parity_details.json")
}

fn golden_lines(name: &str) -> Vec<String> {
    golden_text(&format!("{name}.txt"))
        .lines()
        .map(String::from)
        .collect()
}

/// Each oneMKL path and kernel family reads its own golden set, made by PyTorch on such a CPU
/// (its `parity_details.json` records how); a set that is missing is an error that says how to
/// make it.
#[test]
fn golden_set_is_chosen_by_onemkl_path_and_kernel_family() {
    for set in initlab::base::parity::mkl::golden_sets() {
        let (path, family) = set.split_once('/').expect("<path>/<family>");
        let dir = golden_dir_for(set).unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.ends_with(format!("tests/golden/{set}")), "{dir:?}");
        let text = std::fs::read_to_string(dir.join("parity_details.json")).expect("readable");
        let d: Value = serde_json::from_str(&text).expect("json");
        let env = &d["environment"];
        let capability = family.to_uppercase();
        assert_eq!(env["cpu_capability"], capability.as_str(), "{set}: {env}");
        let intel = path == "intel-path";
        assert_eq!(env["mkl_takes_intel_path"], intel, "{set}: {env}");
    }
    let err = golden_dir_for("stock/other").expect_err("no golden set stock/other");
    assert!(err.contains("tests/golden/stock/other"), "{err}");
    assert!(
        err.contains("INITLAB_MKL_DISPATCH=stock tools/reference/run.sh"),
        "{err}"
    );
}

fn hex_f32(v: &Value) -> f32 {
    f32_from_hex(&v["hex"])
}

#[test]
fn xavier_notebook_tensor_batches_and_epoch_one() {
    let _g = seed_lock();
    let d = details();
    let nb = &d["notebooks"]["lab09_3_mnist_nn_xavier"];
    let golden = golden_lines("lab09_3_mnist_nn_xavier");

    // The printed parameter: same bits as PyTorch, same text.
    tch::manual_seed(777);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut layers: Vec<nn::Linear> = [(784, 256), (256, 256), (256, 10)]
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| torch_linear(&(vs.root() / format!("l{i}")), a, b).unwrap())
        .collect();
    for l in layers.iter_mut() {
        init::xavier_uniform_(&mut l.ws, 1.0).unwrap();
    }
    let w = &layers[2].ws;
    assert_eq!(
        values(&w.get(0)),
        hex_f32s(&nb["displayed_weight"]["first_row"])
    );
    assert_eq!(
        values(&w.get(9)),
        hex_f32s(&nb["displayed_weight"]["last_row"])
    );
    assert_eq!(pyfmt::parameter(w), golden[..9].join("\n"));

    // The DataLoader's draws and permutation.
    tch::manual_seed(777);
    let _ =
        initlab::base::nn::model::Mlp::new(&MlpSpec::shallow(InitScheme::XavierUniform)).unwrap();
    let seeds = TorchLoader::draw_epoch_seeds(2);
    for (e, draw) in nb["loader_draws"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            seeds[e].to_string(),
            draw["sampler_seed"]["i64"].as_str().unwrap()
        );
    }
    let loader = TorchLoader::new(60_000, 100, true).unwrap();
    let first10 = Vec::<i64>::try_from(loader.permutation(seeds[0]).narrow(0, 0, 10)).unwrap();
    let want: Vec<i64> = nb["epoch1_permutation_first_10"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(first10, want);

    // The first three batch losses and the epoch-1 line, through the library's training loop.
    let data = load_dir(&mnist_dir()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        ..TrainConfig::default()
    };
    let mut losses = Vec::new();
    let (_, history) = train::train(
        &MlpSpec::shallow(InitScheme::XavierUniform),
        &data,
        &config,
        &mut |p| {
            if let Progress::Batch { loss, .. } = p {
                losses.push(loss as f32);
            }
        },
    )
    .unwrap();
    for (i, b) in nb["batches"].as_array().unwrap().iter().enumerate() {
        assert_eq!(losses[i], hex_f32(&b["loss"]), "batch {}", i + 1);
    }
    assert_eq!(
        history.epochs[0].train_cost as f32,
        hex_f32(&nb["epoch1_avg_cost"])
    );
    assert_eq!(history.epochs[0].lab_line(), golden[9]);
}

#[test]
fn python_random_sequences() {
    let d = details();
    let r = &d["python_random"];
    for case in r["randint(0,9999)x5"].as_array().unwrap() {
        let seed = case["seed"].as_i64().unwrap();
        let mut rng = PyRandom::new(seed as i128);
        let ours: Vec<i64> = (0..5).map(|_| rng.randint(0, 9999)).collect();
        let want: Vec<i64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(ours, want, "seed {seed}");
    }
    let mut rng = PyRandom::new(777);
    let bits: Vec<u64> = (0..3).map(|_| rng.getrandbits(32)).collect();
    let want: Vec<u64> = r["seed777_getrandbits"]["getrandbits(32)x3"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(bits, want);
    assert_eq!(
        rng.getrandbits(64).to_string(),
        r["seed777_getrandbits"]["then_getrandbits(64)"]
            .as_str()
            .unwrap()
    );
    let mut rng = PyRandom::new(5);
    let ours: Vec<i64> = (0..3).map(|_| rng.randint(0, 59_999)).collect();
    let want: Vec<i64> = r["seed5_randint(0,59999)x3"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ours, want);
}

/// An in-place initializer under test.
type Filler = Box<dyn Fn(&mut Tensor)>;

#[test]
fn init_functions_draw_pytorchs_numbers() {
    let _g = seed_lock();
    let d = details();
    let i = &d["init"];
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let l = torch_linear(&vs.root(), 4, 3).unwrap();
    assert_eq!(values(&l.ws), hex_f32s(&i["Linear(4,3)"]["weight"]));
    assert_eq!(
        values(l.bs.as_ref().unwrap()),
        hex_f32s(&i["Linear(4,3)"]["bias"])
    );

    let fresh = || Tensor::zeros([3, 4], (Kind::Float, Device::Cpu));
    let cases: Vec<(&str, Filler)> = vec![
        (
            "kaiming_normal_(fan_in,relu) on empty(3,4)",
            Box::new(|t| init::kaiming_normal_(t, FanMode::FanIn, Nonlinearity::Relu).unwrap()),
        ),
        (
            "kaiming_uniform_(fan_in,relu) on empty(3,4)",
            Box::new(|t| init::kaiming_uniform_(t, FanMode::FanIn, Nonlinearity::Relu).unwrap()),
        ),
        (
            "xavier_normal_ on empty(3,4)",
            Box::new(|t| init::xavier_normal_(t, 1.0).unwrap()),
        ),
        (
            "xavier_uniform_ on empty(3,4)",
            Box::new(|t| init::xavier_uniform_(t, 1.0).unwrap()),
        ),
        (
            "normal_(0,1) on empty(3,4)",
            Box::new(|t| init::normal_(t, 0.0, 1.0).unwrap()),
        ),
    ];
    for (name, fill) in cases {
        let golden = &i[name];
        assert!(!golden.is_null(), "golden file has no case {name:?}");
        tch::manual_seed(0);
        let mut t = fresh();
        fill(&mut t);
        assert_eq!(values(&t), hex_f32s(&golden["values"]), "{name}");
    }
}

#[test]
fn torch_adam_matches_pytorch_step_by_step() {
    let d = details();
    for run in d["adam"]["runs"].as_array().unwrap() {
        let o = &run["options"];
        let config = AdamConfig {
            lr: o["lr"].as_f64().unwrap(),
            weight_decay: o.get("weight_decay").and_then(Value::as_f64).unwrap_or(0.0),
            amsgrad: o.get("amsgrad").and_then(Value::as_bool).unwrap_or(false),
            ..AdamConfig::default()
        };
        let p = Tensor::from_slice(&hex_f32s(&run["param_initial"])).set_requires_grad(true);
        let mut adam = TorchAdam::new(vec![p.shallow_clone()], config).unwrap();
        for step in run["steps"].as_array().unwrap() {
            adam.zero_grad();
            // d/dp sum(p · g) = g, exactly.
            let g = Tensor::from_slice(&hex_f32s(&step["grad"]));
            (&p * &g).sum(Kind::Float).backward();
            adam.step();
            assert_eq!(
                values(&p),
                hex_f32s(&step["param_after"]),
                "options {o}, step {}",
                step["step"]
            );
        }
    }
}

#[test]
fn torch_adam_state_round_trips() {
    let _g = seed_lock();
    tch::manual_seed(3);
    let make = || Tensor::randn([4, 3], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let (pa, pb) = (make(), make());
    tch::no_grad(|| pb.shallow_clone().copy_(&pa));
    let config = AdamConfig {
        amsgrad: true,
        ..AdamConfig::default()
    };
    let mut a = TorchAdam::new(vec![pa.shallow_clone()], config).unwrap();
    let grads: Vec<Tensor> = (0..6)
        .map(|_| Tensor::randn([4, 3], (Kind::Float, Device::Cpu)))
        .collect();
    let step = |opt: &mut TorchAdam, p: &Tensor, g: &Tensor| {
        opt.zero_grad();
        (p * g).sum(Kind::Float).backward();
        opt.step();
    };
    for g in &grads[..3] {
        step(&mut a, &pa, g);
    }
    // A second optimizer takes over from the first's state and parameter values.
    let mut b = TorchAdam::new(vec![pb.shallow_clone()], config).unwrap();
    b.set_state(a.state()).unwrap();
    tch::no_grad(|| pb.shallow_clone().copy_(&pa));
    for g in &grads[3..] {
        step(&mut a, &pa, g);
        step(&mut b, &pb, g);
    }
    assert!(
        pa.equal(&pb),
        "resumed optimizer diverged from the original"
    );
    let wrong =
        TorchAdam::new(vec![Tensor::zeros([2], (Kind::Float, Device::Cpu))], config).unwrap();
    assert!(TorchAdam::new(vec![make()], config)
        .unwrap()
        .set_state(wrong.state())
        .is_err());
}
