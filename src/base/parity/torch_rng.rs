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
//! (Itanium C++) names in the loaded libtorch. Before the first use the path checks itself: it
//! predicts 1,000 draws of `uniform_` from the state it read, compares, and puts the state back.
//! If a symbol is missing or a prediction differs, [`available`] is false and callers use
//! libtorch's operations: never other bits, at worst the old speed. `INITLAB_RNG=libtorch`
//! turns the path off (to time or check the operations it replaces).
//!
//! The generator's mutex is not taken: initlab draws from the global generator on one thread.

use std::ffi::{c_char, c_void};
use std::sync::OnceLock;

use tch::{Device, Kind, Tensor};

use super::mt19937::{self, N};

/// `at::mt19937_data_pod`, the engine's whole state (2,520 bytes with padding).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
struct EngineData {
    seed: u64,
    /// Draws left before the next twist, plus one (1 right after seeding: the first draw twists).
    left: i32,
    seeded: bool,
    /// The state word the next draw tempers.
    next: u32,
    state: [u32; N],
}

/// `const at::Generator& at::detail::getDefaultCPUGenerator()`: a pointer to the `Generator`,
/// whose only field is the `intrusive_ptr` to its `CPUGeneratorImpl`.
type DefaultGenerator = unsafe extern "C" fn() -> *const *mut c_void;
/// `at::mt19937 at::CPUGeneratorImpl::engine()`: a trivially copyable class returned through a
/// hidden pointer, `this` second — the C ABI of a function returning the struct.
type GetEngine = unsafe extern "C" fn(*mut c_void) -> EngineData;
/// `void at::CPUGeneratorImpl::set_engine(at::mt19937)`: the class passed by value in memory,
/// as C passes a struct of this size.
type SetEngine = unsafe extern "C" fn(*mut c_void, EngineData);

extern "C" {
    /// The dynamic linker's symbol lookup (glibc).
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// The generator's implementation and its two accessors.
#[derive(Clone, Copy)]
struct Generator {
    this: *mut c_void,
    get: GetEngine,
    set: SetEngine,
}

// SAFETY: the pointer is libtorch's process-wide default generator, alive as long as the process.
unsafe impl Send for Generator {}
// SAFETY: as above; initlab draws from it on one thread (see the module's documentation).
unsafe impl Sync for Generator {}

impl Generator {
    fn engine(&self) -> EngineData {
        // SAFETY: `this` is the default CPUGeneratorImpl and `get` its `engine()`.
        unsafe { (self.get)(self.this) }
    }

    fn set_engine(&self, data: EngineData) {
        // SAFETY: `this` is the default CPUGeneratorImpl and `set` its `set_engine()`.
        unsafe { (self.set)(self.this, data) }
    }
}

/// Looks a symbol up in the objects loaded so far.
fn symbol(name: &std::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with RTLD_DEFAULT (null) only looks the name up.
    let ptr = unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) };
    (!ptr.is_null()).then_some(ptr)
}

/// The default generator with its accessors, if libtorch exports them and they pass the check.
fn generator() -> Option<Generator> {
    static FOUND: OnceLock<Option<Generator>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        // Make sure libtorch is loaded and its default generator constructed.
        let _ = Tensor::zeros([1], (Kind::Float, Device::Cpu));
        let default = symbol(c"_ZN2at6detail22getDefaultCPUGeneratorEv")?;
        let get = symbol(c"_ZN2at16CPUGeneratorImpl6engineEv")?;
        let set = symbol(c"_ZN2at16CPUGeneratorImpl10set_engineENS_14mt19937_engineE")?;
        // SAFETY: the symbols are libtorch's functions of these signatures (see the types).
        let generator = unsafe {
            let default = std::mem::transmute::<*mut c_void, DefaultGenerator>(default);
            let handle = default();
            if handle.is_null() || (*handle).is_null() {
                return None;
            }
            Generator {
                this: *handle,
                get: std::mem::transmute::<*mut c_void, GetEngine>(get),
                set: std::mem::transmute::<*mut c_void, SetEngine>(set),
            }
        };
        self_check(&generator).then_some(generator)
    })
}

/// Predicts 1,000 draws of libtorch's `uniform_` from the state read, checks them and the state
/// after them, and puts the state back as it was.
fn self_check(generator: &Generator) -> bool {
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

/// Whether [`bernoulli_into`] draws in Rust: libtorch's generator was found and passed the check,
/// and `INITLAB_RNG` is not `libtorch`.
pub fn available() -> bool {
    std::env::var("INITLAB_RNG").map_or(true, |v| v != "libtorch") && generator().is_some()
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
    if !available() || !plain_f32(p) || !plain_f32(out) || p.numel() != out.numel() {
        return false;
    }
    let Some(generator) = generator() else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_layout_is_libtorchs() {
        // at::mt19937_data_pod: u64, int, bool, u32, 624 × u32, padded to 8.
        assert_eq!(std::mem::size_of::<EngineData>(), 2520);
    }
}
