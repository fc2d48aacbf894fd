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
//! When oneMKL's `vmsSqrt` cannot be found in the process (a libtorch built without MKL) or a
//! tensor is not a contiguous `f32` CPU tensor, [`TorchAdam::step`](super::TorchAdam::step) keeps
//! the operation-by-operation path.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Elements per block: the block's square roots go through a buffer on the stack, and the five
/// arrays of a block (4 KiB each) stay in the first-level cache between the two passes.
const BLOCK: usize = 1024;

/// With two threads allowed ([`set_threads`]), below this many elements in all parameters together
/// one core still does the whole step (a second thread costs more than it saves).
const PARALLEL_FROM: usize = 1 << 16;

/// `VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE` (oneMKL's `mkl_vml_defines.h`), the mode ATen passes.
const VML_MODE: i64 = 0x2 | 0x0014_0000 | 0x100;

/// oneMKL's `void vmsSqrt(MKL_INT n, const float *a, float *r, MKL_INT64 mode)` (LP64: `MKL_INT` is 32 bits).
type VmsSqrt = unsafe extern "C" fn(i32, *const f32, *mut f32, i64);

extern "C" {
    /// The dynamic linker's symbol lookup (glibc).
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// oneMKL's `vmsSqrt` as loaded with libtorch in this process, if it is there.
fn vms_sqrt() -> Option<VmsSqrt> {
    static FOUND: OnceLock<Option<VmsSqrt>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT (null) only looks the name up in the loaded objects.
        let ptr = unsafe { dlsym(std::ptr::null_mut(), c"vmsSqrt".as_ptr()) };
        // SAFETY: a non-null `vmsSqrt` is oneMKL's function of this signature.
        (!ptr.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, VmsSqrt>(ptr) })
    })
}

/// Whether [`TorchAdam::step`](super::TorchAdam::step) may take the fused path: yes unless the
/// environment sets `INITLAB_ADAM=unfused` (to time or check the operation-by-operation step in
/// a whole program; the results are the same).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("INITLAB_ADAM").map_or(true, |v| v != "unfused"))
}

/// Threads a large step is split over: 1, 2, or [`AUTO`] (0 before the first step reads
/// `INITLAB_ADAM_THREADS`). See [`set_threads`].
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// As many threads as libtorch's OpenMP team has (`omp_get_max_threads`, which
/// `tch::set_num_threads` sets), at most two; one when libtorch's OpenMP runtime is not found.
const AUTO: usize = usize::MAX;

/// The setting in effect: [`set_threads`]'s, else `INITLAB_ADAM_THREADS`'s (1 or 2), else [`AUTO`].
fn requested_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let from_env = std::env::var("INITLAB_ADAM_THREADS")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .map_or(AUTO, |n| n.min(2));
            THREADS.store(from_env, Ordering::Relaxed);
            from_env
        }
        n => n,
    }
}

/// How many threads the next large step uses.
fn threads(omp: Option<OpenMp>) -> usize {
    match (requested_threads(), omp) {
        // SAFETY: omp_get_max_threads only reads the calling thread's setting.
        (AUTO, Some(omp)) => unsafe { (omp.max_threads)() }.clamp(1, 2) as usize,
        (AUTO, None) => 1,
        (n, _) => n,
    }
}

/// Splits large steps over `threads` threads: 1 or 2 (larger values count as 2), or 0 for the
/// default, as many as libtorch's own thread count allows, up to two (the bits do not depend on
/// it). `INITLAB_ADAM_THREADS=1|2` in the environment sets it from the start.
///
/// With two, the second half runs on libtorch's OpenMP worker ([`openmp`]): right after the
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
    threads(openmp())
}

/// Whether the fused step can run in this process.
pub fn available() -> bool {
    vms_sqrt().is_some()
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

/// Runs one Adam update over `slots`.
///
/// # Safety
/// Every pointer of every slot must be valid for `len` elements, the five buffers of a slot must
/// not overlap each other or another slot's, and nothing else may read or write them meanwhile.
pub(crate) unsafe fn step(slots: &[Slot], s: &StepScalars) {
    let Some(sqrt) = vms_sqrt() else {
        return;
    };
    let total: usize = slots.iter().map(|x| x.len).sum();
    let omp = openmp();
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
                omp,
            };
            // SAFETY: `job` outlives the call (GOMP_parallel returns when the team is done), and
            // `run_half` only reads it.
            unsafe {
                (omp.parallel)(run_half, &job as *const Halves as *mut c_void, 2, 0);
            }
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

/// `GOMP_parallel`'s signature.
type GompParallel = unsafe extern "C" fn(extern "C" fn(*mut c_void), *mut c_void, u32, u32);
/// `omp_get_thread_num`'s, `omp_get_num_threads`'s and `omp_get_max_threads`'s signature.
type OmpQuery = unsafe extern "C" fn() -> i32;

/// libgomp's entry points, as libtorch loads them (`libgomp.so.1` in its `lib/`).
#[derive(Clone, Copy)]
struct OpenMp {
    /// `void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags)`:
    /// what `#pragma omp parallel` compiles to; returns when every thread of the team has run `fn`.
    parallel: GompParallel,
    /// `int omp_get_thread_num(void)`.
    thread_num: OmpQuery,
    /// `int omp_get_num_threads(void)`.
    num_threads: OmpQuery,
    /// `int omp_get_max_threads(void)`: the team size a parallel region would get.
    max_threads: OmpQuery,
}

/// The OpenMP runtime libtorch runs its kernels on, if it is loaded. The second half of a
/// two-thread step goes to its worker, the thread that ran the backward pass's other half and
/// is still spinning for more work: no thread is started and none competes with it.
fn openmp() -> Option<OpenMp> {
    static FOUND: OnceLock<Option<OpenMp>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let find = |name: &std::ffi::CStr| {
            // SAFETY: dlsym with RTLD_DEFAULT (null) only looks the name up in the loaded objects.
            let ptr = unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) };
            (!ptr.is_null()).then_some(ptr)
        };
        let parallel = find(c"GOMP_parallel")?;
        let thread_num = find(c"omp_get_thread_num")?;
        let num_threads = find(c"omp_get_num_threads")?;
        let max_threads = find(c"omp_get_max_threads")?;
        // SAFETY: libgomp's functions of these signatures.
        unsafe {
            Some(OpenMp {
                parallel: std::mem::transmute::<*mut c_void, GompParallel>(parallel),
                thread_num: std::mem::transmute::<*mut c_void, OmpQuery>(thread_num),
                num_threads: std::mem::transmute::<*mut c_void, OmpQuery>(num_threads),
                max_threads: std::mem::transmute::<*mut c_void, OmpQuery>(max_threads),
            })
        }
    })
}

/// What each thread of the OpenMP team gets: the two halves of a step.
struct Halves<'a> {
    halves: &'a [Work<'a>; 2],
    s: &'a StepScalars,
    sqrt: VmsSqrt,
    omp: OpenMp,
}

/// The team's function: thread `i` runs half `i`; a team of one (nested, or limited by
/// `OMP_THREAD_LIMIT`) runs both.
extern "C" fn run_half(data: *mut c_void) {
    // SAFETY: `data` is the `Halves` that `step` passed to GOMP_parallel, alive until it returns.
    let job = unsafe { &*(data as *const Halves) };
    // SAFETY: called inside the parallel region.
    let (id, team) = unsafe { ((job.omp.thread_num)(), (job.omp.num_threads)()) };
    if team < 2 {
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
    unsafe { block(b, n, s, sqrt) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn block_fma(b: BlockPtrs, n: usize, s: &StepScalars, sqrt: VmsSqrt) {
    unsafe { block(b, n, s, sqrt) }
}

/// One block without assuming FMA instructions (`mul_add` is then the C library's `fmaf`: slower,
/// the same bits).
unsafe fn block_portable(b: BlockPtrs, n: usize, s: &StepScalars, sqrt: VmsSqrt) {
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
    // SAFETY: roots holds n initialized values; vmsSqrt may work in place.
    unsafe { sqrt(n as i32, roots.as_ptr(), roots.as_mut_ptr(), VML_MODE) };
    for i in 0..n {
        let denom = roots[i] / s.bias_correction2_sqrt + s.eps;
        param[i] += (m[i] * s.neg_step_size) / denom;
    }
}
