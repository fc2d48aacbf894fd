//! Xavier and Kaiming init three ways: written by hand (`initlab::base::nn::init`), in tch's own vocabulary
//! (`nn::Init`), and as PyTorch 2.13 drew them (the golden files under `tests/golden/`).
//!
//! Run: `cargo run --release --example xavier_by_hand`
//!
//! tch 0.26 has no Xavier init: `nn::Init::Uniform { lo: -a, up: a }` with Xavier's bound `a`
//! creates `zeros(dims).uniform_(lo, up)`, the same kernel call as the hand-written
//! `xavier_uniform_` on a fresh tensor. Its `nn::Init::Kaiming` computes
//! `bound = √3 · gain / √fan`, the same operations as `kaiming_uniform_`. The bit-for-bit claims
//! printed here are asserted in `tests/init.rs`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use initlab::base::nn::init::{self, FanMode, Nonlinearity};
use initlab::base::nn::{
    model::{Mlp, MlpSpec},
    scheme::InitScheme,
};
use tch::nn::init::{FanInOut, NonLinearity, NormalOrUniform};
use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};

/// Notebook 9-3's first layer: `torch.nn.Linear(784, 256)`, weight `[256, 784]`.
const SHAPE: [i64; 2] = [256, 784];
/// The notebooks' `torch.manual_seed(777)`.
const SEED: i64 = 777;

/// One set of drawn values and where it came from.
struct Draw {
    source: String,
    values: Vec<f32>,
}

/// A fresh zero tensor filled by a hand-written initializer after `manual_seed(seed)`.
fn by_hand(
    source: &str,
    seed: i64,
    shape: &[i64],
    fill: impl Fn(&mut Tensor) -> Result<()>,
) -> Result<Draw> {
    tch::manual_seed(seed);
    // [fan_out, fan_in]
    let mut t = Tensor::zeros(shape, (Kind::Float, Device::Cpu));
    fill(&mut t)?;
    Ok(Draw {
        source: source.into(),
        values: flat(&t)?,
    })
}

/// A variable declared the tch way, `path.var("weight", dims, init)`, after `manual_seed(seed)`.
fn by_tch(source: &str, seed: i64, shape: &[i64], how: Init) -> Result<Draw> {
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    // [fan_out, fan_in]
    let w = vs.root().f_var("weight", shape, how)?;
    Ok(Draw {
        source: source.into(),
        values: flat(&w)?,
    })
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(t.detach().reshape([-1]))?)
}

/// Sample mean and standard deviation (n − 1), in f64.
fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// "identical" when every value has the same bits as `reference`'s, else how many do.
fn bits_vs(values: &[f32], reference: &[f32]) -> String {
    if values.len() != reference.len() {
        return format!("{} values vs {}", values.len(), reference.len());
    }
    let same = values
        .iter()
        .zip(reference)
        .filter(|(a, b)| a.to_bits() == b.to_bits())
        .count();
    if same == values.len() {
        format!("identical ({same}/{same})")
    } else {
        format!("DIFFERENT ({same}/{} identical)", values.len())
    }
}

fn first(values: &[f32], n: usize) -> String {
    values
        .iter()
        .take(n)
        .map(|v| format!("{v:>11.8}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A table of draws of one distribution: first values, mean, std against `std_formula`, and the
/// bits against the first row.
fn table(draws: &[Draw], std_formula: f64) {
    println!(
        "  {:<44} {:<47} {:>10} {:>10} {:>8}  bits vs first row",
        "draw", "first 4 values", "mean", "std", "std/σ"
    );
    for d in draws {
        let (mean, std) = mean_std(&d.values);
        let bits = if std::ptr::eq(d, &draws[0]) {
            "(reference)".to_string()
        } else {
            bits_vs(&d.values, &draws[0].values)
        };
        println!(
            "  {:<44} {:<47} {:>10.7} {:>10.7} {:>8.5}  {bits}",
            d.source,
            first(&d.values, 4),
            mean,
            std,
            std / std_formula
        );
    }
}

/// f32 values from a golden `{"hex": [...]}` object.
fn golden_values(v: &serde_json::Value, what: &str) -> Result<Vec<f32>> {
    let hex = v["hex"]
        .as_array()
        .with_context(|| format!("{what} has no hex array"))?;
    hex.iter()
        .map(|h| {
            let s = h
                .as_str()
                .with_context(|| format!("{what}: not a string"))?;
            let bits = u32::from_str_radix(s.trim_start_matches("0x"), 16)
                .with_context(|| format!("{what}: {s:?} is not hex"))?;
            Ok(f32::from_bits(bits))
        })
        .collect()
}

/// A file of this process's golden set (oneMKL path and kernel family,
/// `tests/golden/<path>/<family>/`).
fn read_golden(name: &str) -> Result<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(initlab::base::parity::mkl::golden_set())
        .join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn main() -> Result<()> {
    let (fan_in, fan_out) = init::fan_in_and_fan_out(&SHAPE)?;
    let n = SHAPE.iter().product::<i64>();
    println!(
        "One layer: notebook 9-3's linear1 = torch.nn.Linear({fan_in}, {fan_out}), weight {SHAPE:?} \
         ({n} values); every draw below starts from manual_seed({SEED}) on a fresh tensor."
    );

    // Xavier uniform.
    let a = init::xavier_uniform_bound(fan_in, fan_out, 1.0);
    let textbook = (6.0 / (fan_in + fan_out) as f64).sqrt();
    println!(
        "\nXavier uniform (Glorot & Bengio 2010), gain 1: U(−a, a), a = √(6/(fan_in+fan_out)) = √(6/{})",
        fan_in + fan_out
    );
    println!(
        "  a as PyTorch computes it, √3·√(2/{}) = {a:?} (f32 {:?}); σ = a/√3 = {:.9}",
        fan_in + fan_out,
        a as f32,
        a / 3f64.sqrt()
    );
    println!(
        "  the textbook √(6/{}) = {textbook:?} ({}; f32 {:?})",
        fan_in + fan_out,
        if textbook == a {
            "the same f64"
        } else {
            "another f64"
        },
        textbook as f32
    );
    let xavier = [
        by_hand("init::xavier_uniform_(w, 1.0)", SEED, &SHAPE, |t| {
            init::xavier_uniform_(t, 1.0)
        })?,
        by_tch(
            "nn::Init::Uniform { lo: -a, up: a }",
            SEED,
            &SHAPE,
            Init::Uniform { lo: -a, up: a },
        )?,
        by_tch(
            "nn::Init::Uniform, textbook bound",
            SEED,
            &SHAPE,
            Init::Uniform {
                lo: -textbook,
                up: textbook,
            },
        )?,
    ];
    table(&xavier, a / 3f64.sqrt());

    // Kaiming uniform.
    let gain = init::calculate_gain(Nonlinearity::Relu);
    let b = init::kaiming_uniform_bound(fan_in, gain);
    println!(
        "\nKaiming uniform (He et al. 2015), fan_in, ReLU: U(−b, b), b = √3·gain/√fan_in, gain √2 → √(6/{fan_in})"
    );
    println!(
        "  b = {b:?} (f32 {:?}); σ = b/√3 = {:.9}",
        b as f32,
        b / 3f64.sqrt()
    );
    let kaiming = [
        by_hand(
            "init::kaiming_uniform_(w, FanIn, Relu)",
            SEED,
            &SHAPE,
            |t| init::kaiming_uniform_(t, FanMode::FanIn, Nonlinearity::Relu),
        )?,
        by_tch(
            "nn::Init::Kaiming { Uniform, FanIn, ReLU }",
            SEED,
            &SHAPE,
            Init::Kaiming {
                dist: NormalOrUniform::Uniform,
                fan: FanInOut::FanIn,
                non_linearity: NonLinearity::ReLU,
            },
        )?,
        by_tch(
            "nn::Init::Uniform { lo: -b, up: b }",
            SEED,
            &SHAPE,
            Init::Uniform { lo: -b, up: b },
        )?,
    ];
    table(&kaiming, b / 3f64.sqrt());
    println!(
        "  tch computes gain/√fan then √3·std, the operations of kaiming_uniform_, and NonLinearity::ReLU's gain\n  \
         is 2f64.sqrt() like calculate_gain('relu'). It has no leaky_relu: PyTorch's default\n  \
         kaiming_uniform_(a=0) has gain √(2/(1+0²)) = √2, the same; other slopes (torch.nn.Linear's a=√5)\n  \
         need NonLinearity::ExplicitGain(calculate_gain(leaky_relu(a))). For 1-D tensors tch uses fan 1\n  \
         where PyTorch raises an error."
    );

    // PyTorch's own draws.
    let zoo = read_golden("init_zoo.json")?;
    let zoo_cases: Vec<String> = zoo["cases"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    println!(
        "\nPyTorch {}'s own draws",
        zoo["torch"].as_str().unwrap_or("?")
    );
    println!(
        "  tests/golden/<path>/<family>/init_zoo.json has no Xavier or Kaiming draw, and none of shape {SHAPE:?}; it holds:\n    {}",
        zoo_cases.join(", ")
    );
    println!(
        "  so this layer has no PyTorch reference here. What the golden files do hold, each after manual_seed(0):"
    );
    println!(
        "  {:<67} {:<46} bits vs PyTorch",
        "PyTorch 2.13 draw", "ours"
    );
    let uniform_case = "uniform_(-1/sqrt(5),1/sqrt(5)) 4x5";
    let torch_uniform = golden_values(&zoo["cases"][uniform_case], uniform_case)?;
    let u = 1.0 / 5f64.sqrt();
    let ours = [
        by_hand("init::uniform_(w, -1/√5, 1/√5)", 0, &[4, 5], |t| {
            init::uniform_(t, -u, u)
        })?,
        by_tch(
            "nn::Init::Uniform { lo: -1/√5, up: 1/√5 }",
            0,
            &[4, 5],
            Init::Uniform { lo: -u, up: u },
        )?,
    ];
    for d in &ours {
        println!(
            "  {:<67} {:<46} {}",
            format!("init_zoo.json \"{uniform_case}\""),
            d.source,
            bits_vs(&d.values, &torch_uniform)
        );
    }

    let details = read_golden("parity_details.json")?;
    let shape = [3i64, 4];
    let (fi, fo) = init::fan_in_and_fan_out(&shape)?;
    let kaiming_uniform_tch = Init::Kaiming {
        dist: NormalOrUniform::Uniform,
        fan: FanInOut::FanIn,
        non_linearity: NonLinearity::ReLU,
    };
    let kaiming_normal_tch = Init::Kaiming {
        dist: NormalOrUniform::Normal,
        fan: FanInOut::FanIn,
        non_linearity: NonLinearity::ReLU,
    };
    let xa = init::xavier_uniform_bound(fi, fo, 1.0);
    let cases: [(&str, Vec<Draw>); 3] = [
        (
            "xavier_uniform_ on empty(3,4)",
            vec![
                by_hand("init::xavier_uniform_", 0, &shape, |t| {
                    init::xavier_uniform_(t, 1.0)
                })?,
                by_tch(
                    "nn::Init::Uniform { ±a }",
                    0,
                    &shape,
                    Init::Uniform { lo: -xa, up: xa },
                )?,
            ],
        ),
        (
            "kaiming_uniform_(fan_in,relu) on empty(3,4)",
            vec![
                by_hand("init::kaiming_uniform_", 0, &shape, |t| {
                    init::kaiming_uniform_(t, FanMode::FanIn, Nonlinearity::Relu)
                })?,
                by_tch(
                    "nn::Init::Kaiming { Uniform, .. }",
                    0,
                    &shape,
                    kaiming_uniform_tch,
                )?,
            ],
        ),
        (
            "kaiming_normal_(fan_in,relu) on empty(3,4)",
            vec![
                by_hand("init::kaiming_normal_", 0, &shape, |t| {
                    init::kaiming_normal_(t, FanMode::FanIn, Nonlinearity::Relu)
                })?,
                by_tch(
                    "nn::Init::Kaiming { Normal, .. }",
                    0,
                    &shape,
                    kaiming_normal_tch,
                )?,
            ],
        ),
    ];
    for (name, draws) in &cases {
        let torch = golden_values(&details["init"][*name]["values"], name)?;
        for d in draws {
            println!(
                "  {:<67} {:<46} {}",
                format!("parity_details.json \"{name}\""),
                d.source,
                bits_vs(&d.values, &torch)
            );
        }
    }

    println!(
        "  Why tch's Kaiming normal differs on 3×4: it draws randn(dims) · std (an f32 product), PyTorch's\n  \
         kaiming_normal_ calls normal_(0, std), and ATen's CPU normal_ draws tensors of fewer than 16\n  \
         elements one by one in f64 (z·std + mean, then rounded to f32). From 16 contiguous f32 elements\n  \
         on, both take the same f32 Box–Muller path and agree (tests/init.rs checks 300×200). ATen's CPU\n  \
         uniform_ draws element by element at every size, after rounding its bounds to f32, which is\n  \
         also why the textbook bound above draws the same numbers."
    );

    // The notebook's printed tensor, through the model builder.
    let nb = &details["notebooks"]["lab09_3_mnist_nn_xavier"]["displayed_weight"];
    let mut torch_rows = golden_values(&nb["first_row"], "first_row")?;
    torch_rows.extend(golden_values(&nb["last_row"], "last_row")?);
    tch::manual_seed(SEED);
    let mlp = Mlp::new(&MlpSpec::shallow(InitScheme::XavierUniform))?;
    let Some(layer) = mlp.layers.get(2) else {
        bail!("the shallow net has fewer than 3 layers");
    };
    // [10, 256]: linear3.weight
    let w = &layer.ws;
    let mut ours = flat(&w.get(0))?;
    ours.extend(flat(&w.get(9))?);
    println!(
        "  {:<67} {:<46} {}",
        "notebook 9-3's linear3.weight, rows 0 and 9",
        "Mlp::new (nn::Init::Uniform + xavier_uniform_)",
        bits_vs(&ours, &torch_rows)
    );
    Ok(())
}
