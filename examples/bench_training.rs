//! `make bench`: seconds per epoch and achieved GFLOP/s of the lab's training (shallow and deep
//! nets, Adam, batch 100, data preloaded), and sgemm GFLOP/s through libtorch for scale.
//!
//! Usage: `cargo run --release --example bench_training [shallow|deep|all] [epochs] [monitor-every]`
//! (default: all, 3 epochs, the dynamics monitor's default; the first epoch is reported apart as
//! warm-up). Each net trains twice, without and with the dynamics monitor, to measure its cost. Prints the process's
//! peak resident memory at the end (VmHWM).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use initlab::base::data;
use initlab::base::nn::model::{Mlp, MlpSpec};
use initlab::base::train::sink::{self as train_sink, Control, RunSink};
use initlab::base::train::trainer::{TrainState, Trainer};
use initlab::base::train::{Checkpoint, EpochRecord, TrainConfig, TrainOutcome};
use tch::{Device, Kind, Tensor};

/// GFLOP/s of one 2048×2048 sgemm through libtorch (after one warm-up product).
fn sgemm_once() -> f64 {
    let n = 2048i64;
    let a = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let b = Tensor::randn([n, n], (Kind::Float, Device::Cpu));
    let _ = a.matmul(&b);
    let t = Instant::now();
    let _ = a.matmul(&b);
    2.0 * (n as f64).powi(3) / t.elapsed().as_secs_f64() / 1e9
}

/// The best sgemm rate seen, measured between the training measurements (this machine's sgemm
/// varies from run to run; the best is the hardware's reach).
#[derive(Default)]
struct Sgemm {
    samples: Vec<f64>,
}

impl Sgemm {
    fn sample(&mut self) {
        self.samples.push(sgemm_once());
    }
    fn best(&self) -> f64 {
        self.samples.iter().copied().fold(0.0, f64::max)
    }
}

/// A fresh folder under the system's temporary directory.
fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("initlab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<()> {
    // INITLAB_ADAM, INITLAB_ADAM_THREADS, INITLAB_RNG: read once, as the binary does.
    let _ = initlab::base::switches::Switches::from_env()?.install();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("all");
    let epochs: usize = match args.get(1) {
        Some(s) => s
            .parse()
            .with_context(|| format!("epochs must be a positive integer, got {s:?}"))?,
        None => 3,
    };
    if epochs < 2 {
        bail!("use at least 2 epochs (the first is warm-up)");
    }
    let specs: Vec<MlpSpec> = MlpSpec::benchmarked(which)?;
    println!(
        "libtorch threads: {}; {}",
        tch::get_num_threads(),
        initlab::base::parity::mkl::kernel_choice()
    );
    let mut sgemm = Sgemm::default();
    sgemm.sample();
    println!(
        "sgemm 2048x2048 through libtorch: {:.0} GFLOP/s (first of the samples taken between epochs)",
        sgemm.best()
    );
    let started = Instant::now();
    let mnist = data::mnist::load_dir(&data::mnist::bundled_dir())?;
    println!(
        "MNIST load (4 gz files, validated, SHA-256 checked): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut deep_gflops = None;
    for spec in specs {
        let config = TrainConfig {
            epochs,
            ..TrainConfig::default()
        };
        // Checkpoint after every epoch as the executor does by default, timing each save
        // (weights + Adam moments, one safetensors file, temporary file + fsync + rename).
        let ck_dir = tempfile_dir()?;
        let ck_path = ck_dir.join(initlab::engine::rundir::CHECKPOINT_FILE);
        let mut sink = BenchSink {
            ck_path: &ck_path,
            saves: Vec::new(),
            sgemm: &mut sgemm,
        };
        let mut trainer = Trainer::fresh(&spec, &mnist, &config, None, 0)?;
        let control = Control {
            checkpoint_every: 1,
            stop: None,
        };
        let ending = train_sink::run(&mut trainer, &mut [&mut sink], control)?;
        let saves = sink.saves;
        let outcome = TrainOutcome::new(trainer.into_state(), ending);
        let ck_bytes = std::fs::metadata(&ck_path).map(|m| m.len()).unwrap_or(0);
        let _ = std::fs::remove_dir_all(&ck_dir);
        let (model, history): (Mlp, _) = (outcome.model, outcome.history);
        let steady: Vec<f64> = history.epochs.iter().skip(1).map(|e| e.seconds).collect();
        let per_epoch = steady.iter().sum::<f64>() / steady.len() as f64;
        // forward 2·MACs, backward 4·MACs per example
        let flops = 6.0 * model.macs_per_example() as f64 * 60_000.0;
        println!(
            "{:<8} {:>9} params  epoch 1 (warm-up) {:.2} s, then {:.2} s per epoch = {:.1} GFLOP/s  (final test accuracy {:.4})",
            spec.widths.label(),
            model.num_parameters(),
            history.epochs[0].seconds,
            per_epoch,
            flops / per_epoch / 1e9,
            history.last().map(|e| e.test_accuracy).unwrap_or(0.0)
        );
        if spec.widths.0.len() > 4 {
            deep_gflops = Some(flops / per_epoch / 1e9);
        }
        let save = saves.iter().sum::<f64>() / saves.len().max(1) as f64;
        println!(
            "{:<8} checkpoint per epoch: {:.1} ms ({:.1} MB, atomic write with fsync) = {:.2} % of an epoch",
            "",
            save * 1e3,
            ck_bytes as f64 / 1e6,
            100.0 * save / per_epoch
        );
        // The same run with the dynamics monitor at its default sampling.
        let every = match args.get(2) {
            Some(s) => s
                .parse()
                .with_context(|| format!("monitor steps must be a positive integer, got {s:?}"))?,
            None => initlab::base::train::dynamics::DEFAULT_EVERY,
        };
        let mut trainer = Trainer::fresh(&spec, &mnist, &config, None, every)?;
        let ending = train_sink::run(&mut trainer, &mut [], Control::default())?;
        let monitored = TrainOutcome::new(trainer.into_state(), ending);
        let m_steady: Vec<f64> = monitored
            .history
            .epochs
            .iter()
            .skip(1)
            .map(|e| e.seconds)
            .collect();
        let m_per_epoch = m_steady.iter().sum::<f64>() / m_steady.len() as f64;
        let same = monitored
            .history
            .epochs
            .iter()
            .zip(&history.epochs)
            .all(|(a, b)| a.train_cost.to_bits() == b.train_cost.to_bits());
        println!(
            "{:<8} dynamics monitor every {every} steps: {:.2} s per epoch = {:+.1} % ({} samples; train costs {})",
            "",
            m_per_epoch,
            100.0 * (m_per_epoch / per_epoch - 1.0),
            monitored.dynamics.as_ref().map_or(0, |d| d.records.len()),
            if same { "bit-identical to the unmonitored run" } else { "DIFFER from the unmonitored run" }
        );
    }
    sgemm.sample();
    while sgemm.samples.len() < 5 {
        sgemm.sample();
    }
    let rates: Vec<String> = sgemm.samples.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "sgemm 2048x2048 samples between the measurements: {} GFLOP/s, best {:.0}",
        rates.join(", "),
        sgemm.best()
    );
    if let Some(g) = deep_gflops {
        println!(
            "RATIO deep-gflops-over-sgemm {:.3} (deep net's training {g:.1} GFLOP/s / best sgemm {:.0} GFLOP/s; goal >= 0.5)",
            g / sgemm.best(),
            sgemm.best()
        );
    }
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory of this process: {mib:.0} MiB");
    }
    Ok(())
}

/// Times every checkpoint's save (weights and Adam moments in one safetensors file: a temporary
/// file, fsync, rename), as the executor saves them, and samples sgemm after each epoch, outside
/// the epoch's timing.
struct BenchSink<'a> {
    ck_path: &'a std::path::Path,
    saves: Vec<f64>,
    sgemm: &'a mut Sgemm,
}

impl RunSink for BenchSink<'_> {
    fn on_epoch(&mut self, _record: &EpochRecord, _state: &TrainState) -> Result<()> {
        self.sgemm.sample();
        Ok(())
    }

    fn on_checkpoint(&mut self, ck: &Checkpoint) -> Result<()> {
        let t = Instant::now();
        initlab::engine::checkpoint::save(self.ck_path, ck, "bench")?;
        self.saves.push(t.elapsed().as_secs_f64());
        Ok(())
    }
}
