//! Where a training step of the lab's nets spends its time: the phases of `train::train_run`'s
//! loop timed one by one on the real data, plus the per-epoch work spread over the epoch's steps.
//!
//! Usage: `cargo run --release --example profile_step [shallow|deep|all] [steps]`
//! (default all, 600 steps = one epoch; 30 warm-up steps first, not counted).
//!
//! Phases, in the loop's order: batch gather (bytes gathered and scaled, `Split::gather_unit`),
//! forward, loss (cross-entropy and reading it), backward, optimizer (the fused Adam
//! step, and in a second column the operation-by-operation one it replaces — both compute the
//! same bits, so both run on the same trajectory), cost accumulation, the dynamics monitor (one
//! sample every `DEFAULT_EVERY` steps, timed when due), TensorBoard's per-step scalar, and per
//! epoch the test evaluation, the weight/gradient histograms and the checkpoint, divided by the
//! steps of an epoch. Prints a Markdown table (milliseconds per step and share).

use std::time::Instant;

use anyhow::{Context, Result};
use initlab::base::data;
use initlab::base::data::loader::TorchLoader;
use initlab::base::data::mnist::BatchBuffers;
use initlab::base::nn::model::{Mlp, MlpSpec};
use initlab::base::optim::{AdamConfig, OptimizerState, TorchAdam};
use initlab::base::train::dynamics::{self, StepTrace, DEFAULT_EVERY};
use initlab::base::train::seeds::EpochSeeds;
use initlab::base::train::sink::{RunSink, RunStart};
use initlab::base::train::trainer::Position;
use initlab::base::train::{self, Checkpoint, History};
use initlab::engine::board::RunBoard;
use tch::nn::Module;
use tch::{Kind, Reduction, Tensor};

const PHASES: [&str; 11] = [
    "batch gather (bytes → f32 [0, 1])",
    "forward",
    "loss (cross-entropy, read)",
    "backward (gradients returned, no zeroed .grad to add into)",
    "optimizer: fused Adam",
    "cost accumulation",
    "dynamics monitor (1 in 50 steps)",
    "TensorBoard scalar + observer",
    "test evaluation (per epoch ÷ 600)",
    "histograms to TensorBoard (per epoch ÷ 600)",
    "checkpoint (per epoch ÷ 600)",
];
const UNFUSED: usize = PHASES.len();

fn profile(spec: &MlpSpec, mnist: &data::mnist::Mnist, steps: usize) -> Result<Vec<f64>> {
    let warmup = 30;
    tch::manual_seed(777);
    let model = Mlp::new(spec)?;
    let params = model.parameters();
    let mut adam = TorchAdam::new(model.parameters(), AdamConfig::default())?;
    let mut grads: Vec<Tensor> = Vec::new();
    let loader = TorchLoader::new(mnist.train.len(), 100, true)?;
    let per_epoch = loader.num_batches() as f64;
    let dir = std::env::temp_dir().join(format!("initlab-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut board = RunBoard::create(&dir, spec.activation)?;
    board.on_start(&RunStart {
        epochs: 1,
        batches: loader.num_batches(),
        resumed_at: None,
        earlier: Vec::new(),
    })?;
    let mut buffers = BatchBuffers::default();
    let mut avg_cost = Tensor::zeros([], (Kind::Float, tch::Device::Cpu));
    // seconds per phase, and the unfused optimizer in the last slot
    let mut total = vec![0.0; PHASES.len() + 1];
    let (mut fused_steps, mut unfused_steps, mut samples) = (0usize, 0usize, 0usize);
    let mut step = 0usize;
    let mut epoch_seed = 0i64;
    'outer: loop {
        epoch_seed += 1;
        let permutation = loader.permutation(epoch_seed);
        for idx in loader.batches(&permutation) {
            step += 1;
            if step > warmup + steps {
                break 'outer;
            }
            let at = Position {
                epoch: 1,
                batch: step as i64,
                step: step as i64,
            };
            let counted = step > warmup;
            let mut lap = Instant::now();
            let mut mark = |phase: usize, total: &mut Vec<f64>| {
                let now = Instant::now();
                if counted {
                    total[phase] += (now - lap).as_secs_f64();
                }
                lap = now;
            };
            let (x, y) = mnist.train.gather_unit(&idx, &mut buffers);
            mark(0, &mut total);
            let logits = model.forward(x);
            mark(1, &mut total);
            let cost = logits.cross_entropy_loss::<Tensor>(y, None, Reduction::Mean, -100, 0.0);
            let loss = cost.double_value(&[]);
            mark(2, &mut total);
            grads = Tensor::f_run_backward(&[&cost], &params, false, false)?;
            mark(3, &mut total);
            // Alternate the two optimizer paths: the same bits, so one trajectory.
            if step.is_multiple_of(2) {
                adam.step_with(&grads);
                mark(4, &mut total);
                fused_steps += counted as usize;
            } else {
                adam.step_unfused_with(&grads);
                mark(UNFUSED, &mut total);
                unfused_steps += counted as usize;
            }
            avg_cost += cost.detach() / per_epoch;
            mark(5, &mut total);
            if step.is_multiple_of(DEFAULT_EVERY) {
                let (zs, acts) = model.forward_trace(x);
                let last = zs[zs.len() - 1].shallow_clone();
                let c = last.cross_entropy_loss::<Tensor>(y, None, Reduction::Mean, -100, 0.0);
                let grad_zs = Tensor::f_run_backward(&[&c], &zs, false, false)?;
                let ws: Vec<Tensor> = model.layers.iter().map(|l| l.ws.detach()).collect();
                let wgrads: Vec<Tensor> = model
                    .weight_slots()
                    .iter()
                    .map(|&i| grads[i].shallow_clone())
                    .collect();
                let record = dynamics::measure(
                    spec.activation,
                    &StepTrace {
                        step: step as i64,
                        epoch: 1,
                        batch: step as i64,
                        loss,
                        zs: &zs,
                        acts: &acts,
                        grad_zs: &grad_zs,
                        grad_ws: &wgrads,
                        before: &ws,
                        after: &ws,
                    },
                )?;
                board.on_batch(at, loss, Some(&record))?;
                mark(6, &mut total);
                samples += counted as usize;
            }
            board.on_batch(at, loss, None)?;
            mark(7, &mut total);
        }
    }
    let counted = steps as f64;
    let mut per_step: Vec<f64> = total.iter().map(|s| s / counted).collect();
    // The two optimizer paths ran on alternate steps: per step of each.
    per_step[4] = total[4] / fused_steps.max(1) as f64;
    per_step[UNFUSED] = total[UNFUSED] / unfused_steps.max(1) as f64;
    // A monitor sample's cost spread over the steps between samples.
    per_step[6] = total[6] / samples.max(1) as f64 / DEFAULT_EVERY as f64;

    // Per-epoch work, timed three times, the fastest, divided by an epoch's steps.
    let best_of = |f: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = Instant::now();
            f()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    per_step[8] = best_of(&mut || {
        let _ = train::evaluate(&model, &mnist.test.images_unit(), &mnist.test.labels);
        Ok(())
    })? / per_epoch;
    per_step[9] = best_of(&mut || {
        board.histograms(1, &model, &grads)?;
        board.flush()
    })? / per_epoch;
    let ck_path = dir.join(initlab::engine::rundir::CHECKPOINT_FILE);
    per_step[10] = best_of(&mut || {
        let ck = Checkpoint {
            weights: model.weights(),
            optimizer: OptimizerState::Adam(adam.state()),
            epoch_seeds: EpochSeeds {
                drawn: vec![1],
                stream: None,
            },
            epochs_done: 0,
            batches_done: 1,
            partial_cost: 0.0,
            partial_seconds: 0.0,
            history: History::default(),
            dynamics: None,
        };
        initlab::engine::checkpoint::save(&ck_path, &ck, "profile")
    })? / per_epoch;
    board.flush()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(per_step)
}

fn main() -> Result<()> {
    // INITLAB_ADAM, INITLAB_ADAM_THREADS, INITLAB_RNG: read once, as the binary does.
    let _ = initlab::base::switches::Switches::from_env()?.install();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("all");
    let steps: usize = match args.get(1) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|&n| n >= 10)
            .with_context(|| format!("steps must be an integer of at least 10, got {s:?}"))?,
        None => 600,
    };
    let specs = MlpSpec::benchmarked(which)?;
    let mnist = data::mnist::load_dir(&data::mnist::bundled_dir())?;
    println!(
        "{steps} steps after 30 warm-up, batch 100, Adam, libtorch threads {}; {}",
        tch::get_num_threads(),
        initlab::base::parity::mkl::kernel_choice()
    );
    let mut columns = Vec::new();
    for spec in &specs {
        columns.push((spec.widths.label(), profile(spec, &mnist, steps)?));
    }
    let mut header = String::from("| phase |");
    let mut rule = String::from("|---|");
    for (label, _) in &columns {
        header += &format!(" {label} ms/step | share |");
        rule += "---:|---:|";
    }
    println!("{header}\n{rule}");
    for (p, name) in PHASES.iter().enumerate() {
        let mut line = format!("| {name} |");
        for (_, t) in &columns {
            let sum: f64 = t[..PHASES.len()].iter().sum();
            line += &format!(" {:.3} | {:.1} % |", t[p] * 1e3, 100.0 * t[p] / sum);
        }
        println!("{line}");
    }
    let mut line = String::from("| **step, all phases** |");
    for (_, t) in &columns {
        let sum: f64 = t[..PHASES.len()].iter().sum();
        line += &format!(" **{:.3}** | 100 % |", sum * 1e3);
    }
    println!("{line}");
    let mut line = String::from("| (replaced) operation-by-operation Adam |");
    for (_, t) in &columns {
        line += &format!(
            " {:.3} | {:.1}× the fused |",
            t[UNFUSED] * 1e3,
            t[UNFUSED] / t[4]
        );
    }
    println!("{line}");
    Ok(())
}
