//! [`TorchAdam`](super::TorchAdam)'s step evaluated element by element in one pass over each
//! parameter's memory (split over both cores when libtorch has two threads, [`set_threads`]), with the rounding of
//! each libtorch kernel it replaces.
//!
//! The operation-by-operation step (`_single_tensor_adam`, `torch/optim/adam.py`) launches about a
//! dozen whole-tensor kernels per parameter and allocates four temporaries; for the deep net this
//! was most of a training step. Each of those kernels is element-wise, so the same arithmetic can
//! run per element, keeping the values in registers. What each kernel does to one `f32` element,
//! measured against libtorch 2.13 on CPU (`tests/fused_adam.rs` checks it on over a million
//! elements, including every tail length):
//!
//! | libtorch call | per element |
//! |---|---|
//! | `grad + param * wd` | two roundings: `g + round(p·wd)` |
//! | `exp_avg.lerp_(g, 1 − β1)` | one fused multiply-add: `fma(w, g − m, m)` for `\|w\| < 0.5`, else `fma(w − 1, g − m, g)` (ATen's `lerp_vec`; its scalar tail is contracted to the same) |
//! | `exp_avg_sq.mul_(β2)` | `round(v·β2)` |
//! | `.addcmul_(g·(1 − β2), g)` | `t = round(g·(1 − β2))`, then one fused multiply-add `fma(t, g, v)` |
//! | `maximum(max_exp_avg_sq, exp_avg_sq)` | NaN-propagating maximum |
//! | `.sqrt()` | oneMKL's `vmsSqrt` (ATen's `at::vml::vsqrt`, mode `VML_HA \| VML_FTZDAZ_OFF \| VML_ERRMODE_IGNORE`): not always the correctly rounded root, so it is called here too, on blocks of the same values |
//! | `/ sqrt(bc2)`, `.add_(eps)` | true division, then one addition |
//! | `param.addcdiv_(exp_avg · (−step_size), denom)` | `p + round(round(m·(−step_size)) / d)` |
//!
//! Scalars are converted to `f32` as ATen does for a Python float operand of a float tensor.
//!
//! When oneMKL's `vmsSqrt` cannot be found in the process (a libtorch built without MKL), the
//! libtorch is of another version than the one these roundings were measured on (the
//! [version gate](crate::base::parity::ffi::version_gate)), the user set `INITLAB_ADAM=unfused`
//! ([`Switches::fused_adam`]) or a tensor is not a contiguous `f32` CPU tensor,
//! [`TorchAdam::step`](super::TorchAdam::step) keeps the operation-by-operation path. The native
//! functions are reached through [`crate::base::parity::ffi`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::base::parity::ffi::{self, Off, OpenMp, Team, VmsSqrt};
use crate::base::switches::Switches;

/// Elements per block: the block's square roots go through a buffer on the stack, and the five
/// arrays of a block (4 KiB each) stay in the first-level cache between the two passes.
const BLOCK: usize = 1024;

/// With two threads allowed ([`set_threads`]), below this many elements in all parameters together
/// one core still does the whole step (a second thread costs more than it saves).
const PARALLEL_FROM: usize = 1 << 16;

/// oneMKL's `vmsSqrt`, when the libtorch version is the one the roundings were measured on.
fn vms_sqrt() -> Result<VmsSqrt, Off> {
    ffi::version_gate()?;
    VmsSqrt::find().ok_or(Off::SymbolMissing("vmsSqrt (oneMKL)"))
}

/// Whether [`TorchAdam::step`](super::TorchAdam::step) may take the fused path: yes unless the
/// user switched it off ([`Switches::fused_adam`], `INITLAB_ADAM=unfused`: to time or check the
/// operation-by-operation step in a whole program; the results are the same).
pub fn enabled() -> bool {
    Switches::current().fused_adam
}

/// Whether the fused path is taken, or why not: switched off by the user, another libtorch
/// version, or oneMKL's `vmsSqrt` missing.
pub fn status() -> Result<(), Off> {
    if !enabled() {
        return Err(Off::ByUser("INITLAB_ADAM=unfused"));
    }
    vms_sqrt().map(|_| ())
}

/// Threads a large step is split over: 1, 2, [`AUTO`], or 0 when [`set_threads`] was not called
/// ([`Switches::adam_threads`] then decides).
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// As many threads as libtorch's OpenMP team has (`omp_get_max_threads`, which
/// `tch::set_num_threads` sets), at most two; one when libtorch's OpenMP runtime is not found.
const AUTO: usize = usize::MAX;

/// The setting in effect: [`set_threads`]'s, else [`Switches::adam_threads`] (1 or 2, from
/// `INITLAB_ADAM_THREADS`), else [`AUTO`].
fn requested_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => Switches::current().adam_threads.map_or(AUTO, |n| n.min(2)),
        n => n,
    }
}

/// How many threads the next large step uses.
fn threads(omp: Option<OpenMp>) -> usize {
    match (requested_threads(), omp) {
        (AUTO, Some(omp)) => omp.max_threads().clamp(1, 2) as usize,
        (AUTO, None) => 1,
        (n, _) => n,
    }
}

/// Splits large steps over `threads` threads: 1 or 2 (larger values count as 2), or 0 for the
/// default, as many as libtorch's own thread count allows, up to two (the bits do not depend on
/// it). Until it is called, [`Switches::adam_threads`] (`INITLAB_ADAM_THREADS=1|2`) decides.
///
/// With two, the second half runs on libtorch's OpenMP worker ([`OpenMp`]): right after the
/// backward pass that thread is still spinning for work on the other core. (Started as a thread
/// of its own, the second half lost more than it gained: it competed with that spinning worker —
/// `make profile` on the 2-core AMD EPYC, deep 2.25–2.34 ms per step on one thread against
/// 2.47–2.77 ms on two. On the OpenMP worker: 2.10 against 1.12 ms.)
pub fn set_threads(threads: usize) {
    let value = if threads == 0 { AUTO } else { threads.min(2) };
    THREADS.store(value, Ordering::Relaxed);
}

/// How many threads a large step uses now (1 or 2): [`set_threads`]'s choice, with the default
/// resolved against libtorch's thread count.
pub fn threads_in_use() -> usize {
    threads(OpenMp::find())
}

/// Whether the fused step can run in this process (the libtorch version is the one measured and
/// oneMKL's `vmsSqrt` is there; whether the user allows it is [`enabled`]).
pub fn available() -> bool {
    vms_sqrt().is_ok()
}

/// The per-step constants of one Adam update, already converted to the `f32` the kernels use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepScalars {
    /// `weight_decay` (`None` when 0: the gradient is used as it is).
    pub weight_decay: Option<f32>,
    /// `1 − β1`, the lerp weight.
    pub lerp_weight: f32,
    /// `β2`.
    pub beta2: f32,
    /// `1 − β2`.
    pub one_minus_beta2: f32,
    /// `√(1 − β2^step)`.
    pub bias_correction2_sqrt: f32,
    /// `eps`.
    pub eps: f32,
    /// `−lr / (1 − β1^step)`.
    pub neg_step_size: f32,
}

/// The memory of one parameter and its state, all `len` contiguous `f32`s.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub param: *mut f32,
    pub grad: *const f32,
    pub exp_avg: *mut f32,
    pub exp_avg_sq: *mut f32,
    /// `max_exp_avg_sq` with amsgrad, else null.
    pub max_exp_avg_sq: *mut f32,
    pub len: usize,
}

/// Element ranges of slots handed to one thread.
struct Work<'a> {
    slots: &'a [Slot],
    /// `(slot, start, end)` triples.
    ranges: Vec<(usize, usize, usize)>,
}

// SAFETY: the two threads get disjoint element ranges of the same buffers, which nothing else
// touches during the step (`TorchAdam::step` holds `&mut self`).
unsafe impl Send for Work<'_> {}
// SAFETY: as above: a `Work` shared between the team's threads is run by one of them only (the
// other only reads its ranges' bounds), and the halves' ranges are disjoint.
unsafe impl Sync for Work<'_> {}

/// Runs one Adam update over `slots`.
///
/// # Safety
/// Every pointer of every slot must be valid for `len` elements, the five buffers of a slot must
/// not overlap each other or another slot's, and nothing else may read or write them meanwhile.
pub(crate) unsafe fn step(slots: &[Slot], s: &StepScalars) {
    let Ok(sqrt) = vms_sqrt() else {
        return;
    };
    let total: usize = slots.iter().map(|x| x.len).sum();
    let omp = OpenMp::find();
    if total < PARALLEL_FROM || threads(omp) < 2 {
        let all = (0..slots.len()).map(|i| (i, 0, slots[i].len)).collect();
        run(&Work { slots, ranges: all }, s, sqrt);
        return;
    }
    // Split the concatenation of all parameters in two halves at a block boundary.
    let half = (total / 2).div_ceil(BLOCK) * BLOCK;
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut offset = 0;
    for (i, slot) in slots.iter().enumerate() {
        let (a, b) = (offset, offset + slot.len);
        if b <= half {
            first.push((i, 0, slot.len));
        } else if a >= half {
            second.push((i, 0, slot.len));
        } else {
            first.push((i, 0, half - a));
            second.push((i, half - a, slot.len));
        }
        offset = b;
    }
    let halves = [
        Work {
            slots,
            ranges: first,
        },
        Work {
            slots,
            ranges: second,
        },
    ];
    match omp {
        Some(omp) => {
            let job = Halves {
                halves: &halves,
                s,
                sqrt,
            };
            omp.parallel(2, &job, run_half);
        }
        None => {
            let [first, second] = halves;
            std::thread::scope(|scope| {
                scope.spawn(move || run(&second, s, sqrt));
                run(&first, s, sqrt);
            });
        }
    }
}

/// What each thread of the OpenMP team gets: the two halves of a step.
struct Halves<'a> {
    halves: &'a [Work<'a>; 2],
    s: &'a StepScalars,
    sqrt: VmsSqrt,
}

/// The team's function: thread `i` runs half `i`; a team of one (nested, or limited by
/// `OMP_THREAD_LIMIT`) runs both.
fn run_half(job: &Halves<'_>, team: Team) {
    let Team { id, size } = team;
    if size < 2 {
        run(&job.halves[0], job.s, job.sqrt);
        run(&job.halves[1], job.s, job.sqrt);
    } else if let Some(half) = usize::try_from(id).ok().and_then(|i| job.halves.get(i)) {
        run(half, job.s, job.sqrt);
    }
}

fn run(work: &Work<'_>, s: &StepScalars, sqrt: VmsSqrt) {
    let fma = fma_available();
    for &(i, start, end) in &work.ranges {
        let slot = work.slots[i];
        let mut at = start;
        while at < end {
            let n = BLOCK.min(end - at);
            // SAFETY: the caller of `step` guarantees the slot's buffers; `at + n ≤ len`, and
            // this thread alone owns the range.
            unsafe {
                let block = BlockPtrs {
                    param: slot.param.add(at),
                    grad: slot.grad.add(at),
                    exp_avg: slot.exp_avg.add(at),
                    exp_avg_sq: slot.exp_avg_sq.add(at),
                    max_exp_avg_sq: if slot.max_exp_avg_sq.is_null() {
                        std::ptr::null_mut()
                    } else {
                        slot.max_exp_avg_sq.add(at)
                    },
                };
                if fma {
                    block_fma(block, n, s, sqrt);
                } else {
                    block_portable(block, n, s, sqrt);
                }
            }
            at += n;
        }
    }
}

fn fma_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FMA: OnceLock<bool> = OnceLock::new();
        *FMA.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[derive(Clone, Copy)]
struct BlockPtrs {
    param: *mut f32,
    grad: *const f32,
    exp_avg: *mut f32,
    exp_avg_sq: *mut f32,
    max_exp_avg_sq: *mut f32,
}

/// One block with AVX2 and FMA instructions (the compiler vectorizes the loops; `mul_add` becomes
/// `vfmadd`). Every operation is correctly rounded, so vector and scalar code give the same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_fma(b: BlockPtrs, n: usize, s: &StepScalars, sqrt: VmsSqrt) {
    // SAFETY: the caller's promise about `b` and `n` is `block`'s.
    unsafe { block(b, n, s, sqrt) }
}

/// [`block_portable`] where there are no AVX2 and FMA instructions to enable.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn block_fma(b: BlockPtrs, n: usize, s: &StepScalars, sqrt: VmsSqrt) {
    // SAFETY: the caller's promise about `b` and `n` is `block`'s.
    unsafe { block(b, n, s, sqrt) }
}

/// One block without assuming FMA instructions (`mul_add` is then the C library's `fmaf`: slower,
/// the same bits).
unsafe fn block_portable(b: BlockPtrs, n: usize, s: &StepScalars, sqrt: VmsSqrt) {
    // SAFETY: the caller's promise about `b` and `n` is `block`'s.
    unsafe { block(b, n, s, sqrt) }
}

/// The two passes over one block of `n ≤ BLOCK` elements: moments (and the second moment's running
/// maximum) into place and the values to take the root of into `roots`; oneMKL's root of them;
/// then the parameter update.
#[inline(always)]
unsafe fn block(b: BlockPtrs, n: usize, s: &StepScalars, sqrt: VmsSqrt) {
    let mut roots = [0f32; BLOCK];
    // SAFETY: (caller) each pointer is valid for n elements and the buffers do not overlap.
    let (param, grad, m, v) = unsafe {
        (
            std::slice::from_raw_parts_mut(b.param, n),
            std::slice::from_raw_parts(b.grad, n),
            std::slice::from_raw_parts_mut(b.exp_avg, n),
            std::slice::from_raw_parts_mut(b.exp_avg_sq, n),
        )
    };
    let roots = &mut roots[..n];
    let w = s.lerp_weight;
    // ATen's is_lerp_weight_small: |w| < 0.5 interpolates from the start, else from the end.
    let small = w.abs() < 0.5;
    let (coeff, from_end) = if small { (w, false) } else { (w - 1.0, true) };
    for i in 0..n {
        let g = match s.weight_decay {
            Some(wd) => grad[i] + param[i] * wd,
            None => grad[i],
        };
        let d = g - m[i];
        m[i] = coeff.mul_add(d, if from_end { g } else { m[i] });
        let t = g * s.one_minus_beta2;
        v[i] = t.mul_add(g, v[i] * s.beta2);
        roots[i] = v[i];
    }
    if !b.max_exp_avg_sq.is_null() {
        // SAFETY: as above.
        let mx = unsafe { std::slice::from_raw_parts_mut(b.max_exp_avg_sq, n) };
        for i in 0..n {
            let (a, c) = (mx[i], v[i]);
            // torch.maximum: NaN if either is NaN, else the larger.
            mx[i] = if a.is_nan() || c.is_nan() {
                f32::NAN
            } else if a < c {
                c
            } else {
                a
            };
            roots[i] = mx[i];
        }
    }
    sqrt.in_place(roots);
    for i in 0..n {
        let denom = roots[i] / s.bias_correction2_sqrt + s.eps;
        param[i] += (m[i] * s.neg_step_size) / denom;
    }
}
