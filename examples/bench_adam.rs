//! The Adam step alone on the lab's nets' parameter shapes: the operation-by-operation step
//! (`TorchAdam::step_unfused`) against the fused one on one and on two threads (the same bits;
//! two, the second on libtorch's OpenMP worker, is the default when libtorch has two threads).
//!
//! Usage: `cargo run --release --example bench_adam [steps]` (default 200 per variant, taken in
//! turn in rounds of 20, the best round reported).

use std::time::Instant;

use anyhow::{Context, Result};
use initlab::base::optim::{fused, AdamConfig, TorchAdam};
use tch::{Device, Kind, Tensor};

fn shapes(widths: &[i64]) -> Vec<Vec<i64>> {
    widths
        .windows(2)
        .flat_map(|w| [vec![w[1], w[0]], vec![w[1]]])
        .collect()
}

fn main() -> Result<()> {
    // INITLAB_ADAM, INITLAB_ADAM_THREADS, INITLAB_RNG: read once, as the binary does.
    let _ = initlab::base::switches::Switches::from_env()?.install();
    let steps: usize = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|&n| n >= 20)
            .with_context(|| format!("steps must be an integer of at least 20, got {s:?}"))?,
        None => 200,
    };
    println!(
        "Adam step, ms (best round of 20 steps; {steps} steps per variant); libtorch threads {}",
        tch::get_num_threads()
    );
    println!("| net | parameters | operation by operation | fused, 1 thread (INITLAB_ADAM_THREADS=1) | fused, 2 threads (the default with 2 libtorch threads) | speed-up |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, widths) in [
        ("shallow 784-256-256-10", vec![784, 256, 256, 10]),
        ("deep 784-512×4-10", vec![784, 512, 512, 512, 512, 10]),
    ] {
        tch::manual_seed(1);
        let params: Vec<Tensor> = shapes(&widths)
            .iter()
            .map(|s| {
                Tensor::randn(s.as_slice(), (Kind::Float, Device::Cpu)).set_requires_grad(true)
            })
            .collect();
        let n: i64 = params.iter().map(|p| p.numel() as i64).sum();
        for p in &params {
            (p * Tensor::randn_like(p)).sum(Kind::Float).backward();
        }
        let mut adam = TorchAdam::new(
            params.iter().map(Tensor::shallow_clone).collect(),
            AdamConfig::default(),
        )?;
        let mut best = [f64::INFINITY; 3];
        for _ in 0..steps / 20 {
            for (v, b) in best.iter_mut().enumerate() {
                fused::set_threads(v.max(1));
                let t = Instant::now();
                for _ in 0..20 {
                    if v == 0 {
                        adam.step_unfused();
                    } else {
                        adam.step();
                    }
                }
                *b = b.min(t.elapsed().as_secs_f64() / 20.0);
            }
        }
        fused::set_threads(0);
        println!(
            "| {name} | {n} | {:.3} | {:.3} | {:.3} | {:.1}× |",
            best[0] * 1e3,
            best[1] * 1e3,
            best[2] * 1e3,
            best[0] / best[1].min(best[2])
        );
    }
    Ok(())
}
