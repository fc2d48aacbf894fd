//! libtorch's global CPU generator driven from Rust: Bernoulli samples drawn exactly as
//! `u.uniform_(0, 1); u.lt_(p)` draws them, seven to ten times faster.
//!
//! libtorch 2.13's CPU `uniform_` on `f32` takes one 32-bit output `r` of the global generator
//! (`at::mt19937`, [`crate::base::parity::mt19937`]) per element, in memory order, under the generator's lock,
//! and forms `u = (r mod 2²⁴)·2⁻²⁴` (`at::uniform_real_distribution<float>`;
//! `transformation::uniform_real`, then `u·(1 − 0) + 0 = u` exactly). It does so one element at a
//! time through a function call per draw: about 12 ns per element measured here, which was a
//! quarter of an RBM's epoch. [`bernoulli_into`] copies the generator's state out
//! (`CPUGeneratorImpl::engine()`), draws the same words in Rust in blocks (the tempering and the
//! comparison vectorize), and writes the advanced state back (`CPUGeneratorImpl::set_engine`): the
//! samples, and every draw after them, are the same bits as libtorch's.
//!
//! The two member functions and `at::detail::getDefaultCPUGenerator()` are looked up by their
//! (Itanium C++) names in the loaded libtorch, and the engine's state is copied with libtorch
//! 2.13's layout ([`crate::base::parity::ffi`]), only after the libtorch version was checked.
//! Before the first use the path checks itself: it predicts 1,000 draws of `uniform_` from the
//! state it read, compares, and puts the state back. If the version differs, a symbol is missing
//! or a prediction differs, [`available`] is false ([`status`] says why) and callers use
//! libtorch's operations: never other bits, at worst the old speed. `INITLAB_RNG=libtorch`
//! ([`Switches::rust_rng`]) turns the path off (to time or check the operations it replaces).
//!
//! The generator's mutex is not taken: initlab draws from the global generator on one thread.

use std::sync::OnceLock;

use tch::{Device, Kind, Tensor};

use crate::base::parity::ffi::{EngineData, Off, TorchGenerator};
use crate::base::parity::mt19937::{self, N};
use crate::base::switches::Switches;

/// The default generator with its accessors, if the version gate passes, libtorch exports them
/// and they pass the check (looked up and checked once, after the gate).
fn generator() -> Result<TorchGenerator, Off> {
    let generator = TorchGenerator::find()?;
    static CHECKED: OnceLock<bool> = OnceLock::new();
    if *CHECKED.get_or_init(|| self_check(&generator)) {
        Ok(generator)
    } else {
        Err(Off::CheckFailed(
            "1,000 draws predicted from libtorch's generator differ from its own",
        ))
    }
}

/// Predicts 1,000 draws of libtorch's `uniform_` from the state read, checks them and the state
/// after them, and puts the state back as it was.
fn self_check(generator: &TorchGenerator) -> bool {
    let before = generator.engine();
    let mut predicted = before;
    let mut want = vec![0f32; 1000];
    if !draw_uniform(&mut predicted, &mut want) {
        return false;
    }
    let mut drawn = Tensor::empty([1000], (Kind::Float, Device::Cpu));
    let _ = drawn.uniform_(0.0, 1.0);
    let mut got = vec![0f32; 1000];
    drawn.copy_data(&mut got, 1000);
    let after = generator.engine();
    generator.set_engine(before);
    let restored = generator.engine() == before;
    restored
        && after == predicted
        && want
            .iter()
            .zip(&got)
            .all(|(w, g)| w.to_bits() == g.to_bits())
}

/// Whether [`bernoulli_into`] draws in Rust, or why not: switched off by the user
/// ([`Switches::rust_rng`], `INITLAB_RNG=libtorch`), another libtorch version (the
/// [version gate](crate::base::parity::ffi::version_gate)), a symbol missing, or the check failed.
pub fn status() -> Result<(), Off> {
    if !Switches::current().rust_rng {
        return Err(Off::ByUser("INITLAB_RNG=libtorch"));
    }
    generator().map(|_| ())
}

/// libtorch's default CPU generator with its engine's accessors, checked as [`bernoulli_into`]'s
/// path checks it (whatever `INITLAB_RNG` says: a caller that only saves and restores the
/// generator's state changes no draw), or why it cannot be reached.
pub fn checked_generator() -> Result<TorchGenerator, Off> {
    generator()
}

/// Whether [`bernoulli_into`] draws in Rust ([`status`] is `Ok`).
pub fn available() -> bool {
    status().is_ok()
}

/// `2⁻²⁴`: `uniform_real`'s divisor for `f32` (24 = `f32`'s significand digits).
const DIVISOR: f32 = 1.0 / 16_777_216.0;

/// `u = (r mod 2²⁴)·2⁻²⁴` of one tempered output.
#[inline(always)]
fn unit(word: u32) -> f32 {
    // r mod 2²⁴ is exact as i32 and as f32 (cvtdq2ps vectorizes; an unsigned conversion does not).
    (mt19937::temper(word) & 0x00ff_ffff) as i32 as f32 * DIVISOR
}

/// Whether `data` is a state this module steps the way `at::mt19937` does: seeded, and either
/// fresh (`left = 1`, the next draw twists) or `next + left = N + 1` as every draw keeps it.
fn steppable(data: &EngineData) -> bool {
    let (left, next) = (data.left, data.next as usize);
    data.seeded && (1..=N as i32).contains(&left) && (left == 1 || next + left as usize == N + 1)
}

/// Advances `data` over `n` draws, calling `block(words, done)` for each run of state words
/// drawn without a twist between them (`done`: draws before this run).
fn for_each_block(data: &mut EngineData, n: usize, mut block: impl FnMut(&[u32], usize)) {
    let mut done = 0;
    while done < n {
        if data.left == 1 {
            // The draw that finds `left` at 1 twists first, then reads word 0.
            mt19937::twist(&mut data.state);
            data.left = N as i32 + 1;
            data.next = 0;
        }
        let next = data.next as usize;
        let k = (n - done).min(data.left as usize - 1);
        block(&data.state[next..next + k], done);
        data.left -= k as i32;
        data.next += k as u32;
        done += k;
    }
}

/// `uniform_(0, 1)`'s values for `out.len()` draws from `data` (which advances), or false when the
/// state is not one [`steppable`] knows.
fn draw_uniform(data: &mut EngineData, out: &mut [f32]) -> bool {
    if !steppable(data) {
        return false;
    }
    for_each_block(data, out.len(), |words, done| {
        for (o, &w) in out[done..done + words.len()].iter_mut().zip(words) {
            *o = unit(w);
        }
    });
    true
}

/// `out_i ← 1{u_i < p_i}` for a run of words: the loop the compiler vectorizes.
#[inline(always)]
fn compare_block(words: &[u32], p: &[f32], out: &mut [f32]) {
    for ((o, &w), &pi) in out.iter_mut().zip(words).zip(p) {
        *o = if unit(w) < pi { 1.0 } else { 0.0 };
    }
}

/// [`compare_block`] compiled for AVX2 (eight lanes).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn compare_block_avx2(words: &[u32], p: &[f32], out: &mut [f32]) {
    compare_block(words, p, out)
}

fn compare(words: &[u32], p: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { compare_block_avx2(words, p, out) };
        }
    }
    compare_block(words, p, out)
}

/// Whether `t` is a contiguous CPU `f32` tensor.
fn plain_f32(t: &Tensor) -> bool {
    t.kind() == Kind::Float && t.device() == Device::Cpu && t.is_contiguous()
}

/// `out_i ← 1{u_i < p_i}` with `u_i` drawn from libtorch's global generator exactly as
/// `out.uniform_(0, 1)` draws them, then `out.lt_(p)`: the same bits in `out` and the same
/// generator state afterwards. Returns false, touching nothing, when this path cannot be taken
/// ([`available`] is false, or `p`/`out` are not contiguous CPU `f32` tensors of the same number
/// of elements, or the generator is in a state this module does not step): the caller then runs
/// libtorch's two operations.
///
/// `p` and `out` must not overlap.
pub fn bernoulli_into(p: &Tensor, out: &mut Tensor) -> bool {
    if !Switches::current().rust_rng || !plain_f32(p) || !plain_f32(out) || p.numel() != out.numel()
    {
        return false;
    }
    let Ok(generator) = generator() else {
        return false;
    };
    let n = out.numel();
    if n == 0 {
        return true;
    }
    let mut data = generator.engine();
    if !steppable(&data) {
        return false;
    }
    // SAFETY: both tensors are contiguous f32 of `n` elements on the CPU (checked above), alive
    // for this call, and do not overlap (the caller's promise).
    let (p, out) = unsafe {
        (
            std::slice::from_raw_parts(p.data_ptr() as *const f32, n),
            std::slice::from_raw_parts_mut(out.data_ptr() as *mut f32, n),
        )
    };
    for_each_block(&mut data, n, |words, done| {
        let end = done + words.len();
        compare(words, &p[done..end], &mut out[done..end]);
    });
    generator.set_engine(data);
    true
}
