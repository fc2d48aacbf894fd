//! Every place initlab reaches into native code by name: the one `dlsym` declaration, one typed
//! lookup, and safe wrappers over what is found there:
//!
//! - oneMKL's `vmsSqrt` and libgomp's `GOMP_parallel`/`omp_*`, for the fused Adam step
//!   ([`crate::base::optim::fused`]);
//! - libtorch's default CPU generator and its engine's state, by their Itanium C++ names and a
//!   `#[repr(C)]` copy of `at::mt19937_data_pod`, for Bernoulli draws in Rust
//!   ([`crate::base::parity::torch_rng`]);
//! - libgomp's wait policy, set from the executable's `.preinit_array` ([`LIBGOMP_WAIT_HOOK`],
//!   [`crate::base::waits`]);
//! - the process-wide address of `mkl_serv_intel_cpu_true`, and `libtorch_cpu.so`'s own
//!   definition of it ([`crate::base::parity::mkl`]).
//!
//! The mangled names and the layout are libtorch 2.13.0's. Before either is used, the version
//! gate ([`version_gate`]) compares the libtorch version initlab was built against (recorded by
//! `build.rs`) and the one loaded (the `build-version` file beside the loaded library's folder)
//! with [`WRITTEN_FOR`]: on a mismatch, or when neither is known, nothing is looked up and the
//! callers run libtorch's own operations, as they do when a symbol is missing. Tests fake the
//! version through [`Switches::libtorch_version`].

use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tch::{Device, Kind, Tensor};

use crate::base::parity::mt19937::N;
use crate::base::switches::Switches;

extern "C" {
    /// The dynamic linker's symbol lookup (glibc's `dlsym`; libdl is part of libc since 2.34 and
    /// linked by std before that).
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    /// glibc's `dlopen`, used only with `RTLD_NOLOAD` (a handle to a library already loaded).
    fn dlopen(filename: *const c_char, flags: i32) -> *mut c_void;
    /// glibc's `dlclose`, for the handles `dlopen` gave.
    fn dlclose(handle: *mut c_void) -> i32;
}

/// glibc's `RTLD_LAZY`.
const RTLD_LAZY: i32 = 0x1;
/// glibc's `RTLD_NOLOAD`: only a library already loaded is opened.
const RTLD_NOLOAD: i32 = 0x4;

/// The answer of `libtorch_cpu.so`'s own `mkl_serv_intel_cpu_true` (oneMKL's vendor check, as
/// stock PyTorch runs it), not the definition the process binds oneMKL's calls to; `None` when
/// `libtorch_cpu.so` is not loaded or defines no such function. The function takes no arguments
/// and only reads cpuid (libtorch 2.13's copy), so asking it has no effect on oneMKL.
pub fn libtorch_vendor_check() -> Option<bool> {
    // SAFETY: the name is NUL-terminated; RTLD_NOLOAD opens nothing new, it only returns a
    // handle (with its reference count raised) to the library if it is already loaded.
    let handle = unsafe { dlopen(c"libtorch_cpu.so".as_ptr(), RTLD_LAZY | RTLD_NOLOAD) };
    if handle.is_null() {
        return None;
    }
    // SAFETY: a handle from dlopen: the lookup starts with libtorch_cpu.so itself, so it finds
    // that library's own definition.
    let ptr = unsafe { dlsym(handle, c"mkl_serv_intel_cpu_true".as_ptr()) };
    let answer = (!ptr.is_null()).then(|| {
        // SAFETY: oneMKL's vendor check is `int mkl_serv_intel_cpu_true(void)` (the same
        // signature initlab exports in its place); `ptr` is not null.
        let check: unsafe extern "C" fn() -> i32 = unsafe { std::mem::transmute(ptr) };
        // SAFETY: it takes no arguments and reads only cpuid and its own cached value.
        let answer = unsafe { check() };
        answer != 0
    });
    // SAFETY: the handle came from the dlopen above and is closed once; the library stays
    // loaded (its reference count only returns to what it was).
    unsafe { dlclose(handle) };
    answer
}

/// libgomp's wait policy, set before libgomp's constructor reads it ([`crate::base::waits`]).
/// The dynamic loader runs the executable's `.preinit_array` before any shared library's
/// initialiser, but a variable set there does not reach libgomp: glibc's own initialiser, which
/// runs next, points the environment back at the one the kernel gave. So the hook starts the
/// program again (`execve` of `/proc/self/exe`, same arguments) with the variable added, before
/// any library has run code; the second start finds it set and goes on. `build.rs` passes
/// `--undefined=LIBGOMP_WAIT_HOOK` so that every executable of the package (the binary, the
/// examples, the tests) links it; the name is unmangled for that reason.
#[no_mangle]
#[used]
#[link_section = ".preinit_array"]
pub static LIBGOMP_WAIT_HOOK: extern "C" fn(i32, *const *const c_char, *const *const c_char) =
    set_libgomp_wait;

/// Restarts the program with `GOMP_SPINCOUNT=`[`crate::base::waits::SPIN_COUNT`] when the user
/// set neither it nor `OMP_WAIT_POLICY` ([`crate::base::waits::WaitChoice::of`]); goes on
/// unchanged when that cannot be done (no `/proc`, a deleted working directory, a failed exec):
/// libgomp then waits its own way, with the same results.
extern "C" fn set_libgomp_wait(_argc: i32, argv: *const *const c_char, envp: *const *const c_char) {
    use crate::base::waits::{WaitChoice, SPIN_COUNT_ASSIGNMENT};
    if argv.is_null() || envp.is_null() {
        return;
    }
    let mut entries: Vec<*const c_char> = Vec::new();
    let (mut policy, mut spin) = (None, None);
    // SAFETY: `envp` is the kernel's NULL-terminated array of NUL-terminated strings, as the
    // dynamic loader passes it to preinit functions; nothing else runs yet to change it.
    unsafe {
        let mut p = envp;
        while !(*p).is_null() {
            let entry = CStr::from_ptr(*p).to_bytes();
            if let Some(v) = entry.strip_prefix(b"OMP_WAIT_POLICY=") {
                policy = Some(v);
            } else if let Some(v) = entry.strip_prefix(b"GOMP_SPINCOUNT=") {
                spin = Some(v);
            }
            entries.push(*p);
            p = p.add(1);
        }
    }
    if WaitChoice::of(policy, spin) != WaitChoice::ShortSpin || !working_directory_exists() {
        return;
    }
    entries.push(SPIN_COUNT_ASSIGNMENT.as_ptr());
    entries.push(std::ptr::null());
    // The executable's own path, so that the process keeps its name (`ps`, `top` name a process
    // after the file it was started from: "exe" for /proc/self/exe).
    let mut path = [0u8; libc::PATH_MAX as usize + 1];
    let own = own_path(&mut path).unwrap_or(c"/proc/self/exe".as_ptr());
    // SAFETY: `own` is NUL-terminated (a literal, or `path` filled by `own_path`); `argv` is the
    // kernel's argument array, passed on unchanged; `entries` is NULL-terminated and its strings
    // live until execve replaces the process (on failure it returns and nothing has changed).
    if unsafe { libc::execve(own, argv, entries.as_ptr()) } != 0
        && own != c"/proc/self/exe".as_ptr()
    {
        // SAFETY: as above, with the literal path.
        unsafe { libc::execve(c"/proc/self/exe".as_ptr(), argv, entries.as_ptr()) };
    }
}

/// The running executable's path (`/proc/self/exe`'s target) written NUL-terminated into `buf`;
/// `None` when it cannot be read, does not fit, or names a deleted file.
fn own_path(buf: &mut [u8]) -> Option<*const c_char> {
    // SAFETY: the path is a NUL-terminated literal; `buf` is writable for the length passed,
    // one byte short of its end so that a NUL always fits.
    let n = unsafe {
        libc::readlink(
            c"/proc/self/exe".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len() - 1,
        )
    };
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n > 0 && n < buf.len() - 1)?;
    if buf[..n].ends_with(b" (deleted)") {
        return None;
    }
    buf[n] = 0;
    Some(buf.as_ptr().cast())
}

/// The CPUs the calling thread may run on (`sched_getaffinity`), in increasing order; `None`
/// when the kernel does not say.
pub fn allowed_cpus() -> Option<Vec<usize>> {
    // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is a writable `cpu_set_t` of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    (!cpus.is_empty()).then_some(cpus)
}

/// Lets the calling thread run on `cpus` only (`sched_setaffinity`); false when the kernel
/// refuses (a CPU outside the process's cgroup, say) or `cpus` is empty.
pub fn pin_current_thread(cpus: &[usize]) -> bool {
    // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let mut any = false;
    for &cpu in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        any = true;
    }
    // SAFETY: pid 0 is the calling thread; `set` is a `cpu_set_t` of the size passed, only read.
    any && unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } == 0
}

/// Makes the process `command` starts run on `cpus` (`sched_setaffinity` in the child, between
/// `fork` and `exec`), whatever CPU the spawning thread is pinned to: a child inherits its
/// parent thread's placement otherwise. Does nothing when `cpus` is empty.
pub fn spawn_on(command: &mut std::process::Command, cpus: &[usize]) {
    use std::os::unix::process::CommandExt;
    if cpus.is_empty() {
        return;
    }
    // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: the closure runs in the forked child before exec; it makes one system call
    // (async-signal-safe), allocates nothing and reads only its own copy of `set`. A refusal
    // leaves the child where it was placed, which is not an error.
    unsafe {
        command.pre_exec(move || {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
}

/// False when the working directory has been deleted: the binary's own preinit hook
/// (`src/startup.rs`) must then keep its descriptor, which a restart would lose.
fn working_directory_exists() -> bool {
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is a writable buffer of the length passed.
    let cwd = unsafe { libc::getcwd(buf.as_mut_ptr().cast(), buf.len()) };
    !cwd.is_null()
}

/// glibc's `RTLD_DEFAULT`: search the global scope in load order, executable first.
const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();

/// The address `name` resolves to in the process's global scope (what the dynamic linker binds
/// a library's call of that name to), if it is defined.
pub fn address(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym only reads the NUL-terminated name; the result is returned, not used.
    let ptr = unsafe { dlsym(RTLD_DEFAULT, name.as_ptr()) };
    (!ptr.is_null()).then_some(ptr)
}

/// The function `name` as a pointer of type `F` (an `unsafe extern "C" fn(..) -> ..` type), if
/// it is defined. `F` must be pointer-sized (checked when compiled).
///
/// # Safety
/// The symbol `name`, wherever the process defines it, must be a function whose C ABI
/// signature is `F`'s.
pub unsafe fn function<F: Copy>(name: &CStr) -> Option<F> {
    const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut c_void>()) };
    let ptr = address(name)?;
    // SAFETY: `F` is a pointer-sized function pointer type (checked above) and the caller vouches
    // that the function at `ptr` has its signature; `ptr` is not null.
    Some(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&ptr) })
}

/// The libtorch version whose mangled names and layouts this module uses.
pub const WRITTEN_FOR: &str = "2.13.0";

/// Why a fast path is off (libtorch's own operations run instead: the same bits, slower).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Off {
    /// The user switched it off, with this variable setting.
    #[error("switched off by the user ({0})")]
    ByUser(&'static str),
    /// libtorch is of this other version.
    #[error("version mismatch: libtorch {0}, the interface is written for {WRITTEN_FOR}")]
    VersionMismatch(String),
    /// Neither the version built against nor the one loaded is known.
    #[error("libtorch's version is unknown (the interface is written for {WRITTEN_FOR})")]
    VersionUnknown,
    /// A function is not defined in this process.
    #[error("symbol missing: {0}")]
    SymbolMissing(&'static str),
    /// What was found did not behave as expected.
    #[error("check failed: {0}")]
    CheckFailed(&'static str),
}

impl Off {
    /// True when the user asked for it (not a fault of the set-up).
    pub fn by_user(&self) -> bool {
        matches!(self, Off::ByUser(_))
    }
}

/// The version initlab was built against, as `build.rs` read it (`unknown` when it could not).
pub const BUILT_AGAINST: &str = env!("INITLAB_LIBTORCH_VERSION");

/// The path of a loaded shared library whose file name is `name`, from `/proc/self/maps`.
pub fn loaded_library(name: &str) -> Option<PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(PathBuf::from)
        .find(|p| p.file_name().is_some_and(|n| n == name))
}

/// The version of the libtorch loaded in this process, from the `build-version` file beside the
/// folder of `libtorch_cpu.so` (the setup script writes it; libtorch's archives have it too).
pub fn loaded_libtorch_version() -> Option<String> {
    static FOUND: OnceLock<Option<String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let lib = loaded_library("libtorch_cpu.so")?;
            let root = lib.parent().and_then(Path::parent)?;
            let text = std::fs::read_to_string(root.join("build-version")).ok()?;
            Some(text.trim().to_string())
        })
        .clone()
}

/// The libtorch versions the gate compares: `(built against, loaded)`, or the faked one twice.
pub fn libtorch_versions() -> (String, Option<String>) {
    match &Switches::current().libtorch_version {
        Some(v) => (v.clone(), Some(v.clone())),
        None => (BUILT_AGAINST.to_string(), loaded_libtorch_version()),
    }
}

/// Whether libtorch's mangled names and layouts may be used: every known version (built
/// against, loaded) is [`WRITTEN_FOR`] (a local suffix such as `+cpu` aside), and one is known.
pub fn version_gate() -> Result<(), Off> {
    match &Switches::current().libtorch_version {
        Some(v) => gate(v, Some(v)),
        None => gate(BUILT_AGAINST, loaded_libtorch_version().as_deref()),
    }
}

/// [`version_gate`]'s rule for the given versions (`built` is `unknown` when not known).
pub fn gate(built: &str, loaded: Option<&str>) -> Result<(), Off> {
    let known: Vec<&str> = [(built != "unknown").then_some(built), loaded]
        .into_iter()
        .flatten()
        .collect();
    if known.is_empty() {
        return Err(Off::VersionUnknown);
    }
    let release = |v: &str| v.split('+').next().unwrap_or(v).trim().to_string();
    match known.iter().find(|v| release(v) != WRITTEN_FOR) {
        Some(other) => Err(Off::VersionMismatch(other.to_string())),
        None => Ok(()),
    }
}

/// `void vmsSqrt(MKL_INT n, const float *a, float *r, MKL_INT64 mode)` (LP64: `MKL_INT` is 32 bits).
type VmsSqrtFn = unsafe extern "C" fn(i32, *const f32, *mut f32, i64);

/// `VML_HA | VML_FTZDAZ_OFF | VML_ERRMODE_IGNORE` (oneMKL's `mkl_vml_defines.h`), the mode ATen passes.
const VML_MODE: i64 = 0x2 | 0x0014_0000 | 0x100;

/// oneMKL's `vmsSqrt` with ATen's mode.
#[derive(Clone, Copy)]
pub struct VmsSqrt(VmsSqrtFn);

impl VmsSqrt {
    /// oneMKL's `vmsSqrt` as loaded with libtorch in this process, if it is there.
    pub fn find() -> Option<VmsSqrt> {
        static FOUND: OnceLock<Option<VmsSqrt>> = OnceLock::new();
        // SAFETY: `vmsSqrt` is oneMKL's function of this signature.
        *FOUND.get_or_init(|| unsafe { function::<VmsSqrtFn>(c"vmsSqrt") }.map(VmsSqrt))
    }

    /// Replaces each value by oneMKL's square root of it (at most `i32::MAX` values).
    pub fn in_place(self, values: &mut [f32]) {
        let n = i32::try_from(values.len()).expect("at most i32::MAX values");
        // SAFETY: `values` holds `n` initialized floats, read and written by this call only;
        // vmsSqrt may work in place.
        unsafe { (self.0)(n, values.as_ptr(), values.as_mut_ptr(), VML_MODE) };
    }
}

/// `GOMP_parallel`'s signature.
type GompParallel = unsafe extern "C" fn(extern "C" fn(*mut c_void), *mut c_void, u32, u32);
/// `omp_get_thread_num`'s, `omp_get_num_threads`'s and `omp_get_max_threads`'s signature.
type OmpQuery = unsafe extern "C" fn() -> i32;

/// libgomp's entry points, as libtorch loads them (`libgomp.so.1` in its `lib/`).
#[derive(Clone, Copy)]
pub struct OpenMp {
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

/// A thread's place in an OpenMP team.
#[derive(Debug, Clone, Copy)]
pub struct Team {
    /// `omp_get_thread_num()`.
    pub id: i32,
    /// `omp_get_num_threads()`.
    pub size: i32,
}

/// What [`OpenMp::parallel`] hands each thread of the team through `GOMP_parallel`.
struct Packet<'a, T> {
    job: &'a T,
    body: fn(&T, Team),
    omp: OpenMp,
}

/// The team's function: unpacks the [`Packet`] and runs its body.
extern "C" fn trampoline<T: Sync>(data: *mut c_void) {
    // SAFETY: `data` is the `Packet<T>` that `OpenMp::parallel` passed to GOMP_parallel, alive
    // until GOMP_parallel returns, and only read.
    let packet = unsafe { &*(data as *const Packet<'_, T>) };
    // SAFETY: both queries only read the calling thread's OpenMP state.
    let team = unsafe {
        Team {
            id: (packet.omp.thread_num)(),
            size: (packet.omp.num_threads)(),
        }
    };
    (packet.body)(packet.job, team);
}

impl OpenMp {
    /// The OpenMP runtime libtorch runs its kernels on, if it is loaded.
    pub fn find() -> Option<OpenMp> {
        static FOUND: OnceLock<Option<OpenMp>> = OnceLock::new();
        *FOUND.get_or_init(|| {
            // SAFETY: libgomp's functions of these signatures (see the fields).
            unsafe {
                Some(OpenMp {
                    parallel: function(c"GOMP_parallel")?,
                    thread_num: function(c"omp_get_thread_num")?,
                    num_threads: function(c"omp_get_num_threads")?,
                    max_threads: function(c"omp_get_max_threads")?,
                })
            }
        })
    }

    /// `omp_get_max_threads()`: the team size a parallel region started here would get.
    pub fn max_threads(&self) -> i32 {
        // SAFETY: omp_get_max_threads only reads the calling thread's setting.
        unsafe { (self.max_threads)() }
    }

    /// Runs `body(job, team)` on each thread of a team of up to `threads` (the calling thread
    /// and libgomp's workers), returning when all are done.
    pub fn parallel<T: Sync>(&self, threads: u32, job: &T, body: fn(&T, Team)) {
        let packet = Packet {
            job,
            body,
            omp: *self,
        };
        let data = &packet as *const Packet<'_, T> as *mut c_void;
        // SAFETY: `packet` outlives the call (GOMP_parallel returns when the team is done), the
        // trampoline only reads it, and `T: Sync` lets the team's threads share `job`.
        unsafe { (self.parallel)(trampoline::<T>, data, threads, 0) };
    }
}

/// `at::mt19937_data_pod`, the engine's whole state (2,520 bytes with padding) in libtorch 2.13.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EngineData {
    /// The seed.
    pub seed: u64,
    /// Draws left before the next twist, plus one (1 right after seeding: the first draw twists).
    pub left: i32,
    /// Whether the engine was seeded.
    pub seeded: bool,
    /// The state word the next draw tempers.
    pub next: u32,
    /// The state words.
    pub state: [u32; N],
}

/// `const at::Generator& at::detail::getDefaultCPUGenerator()`: a pointer to the `Generator`,
/// whose only field is the `intrusive_ptr` to its `CPUGeneratorImpl`.
type DefaultGeneratorFn = unsafe extern "C" fn() -> *const *mut c_void;
/// `at::mt19937 at::CPUGeneratorImpl::engine()`: a trivially copyable class returned through a
/// hidden pointer, `this` second — the C ABI of a function returning the struct.
type GetEngineFn = unsafe extern "C" fn(*mut c_void) -> EngineData;
/// `void at::CPUGeneratorImpl::set_engine(at::mt19937)`: the class passed by value in memory,
/// as C passes a struct of this size.
type SetEngineFn = unsafe extern "C" fn(*mut c_void, EngineData);

/// libtorch's default CPU generator with its engine's two accessors.
#[derive(Clone, Copy)]
pub struct TorchGenerator {
    this: *mut c_void,
    get: GetEngineFn,
    set: SetEngineFn,
}

// SAFETY: the pointer is libtorch's process-wide default generator, alive as long as the process.
unsafe impl Send for TorchGenerator {}
// SAFETY: as above; initlab draws from it on one thread (see `torch_rng`'s documentation).
unsafe impl Sync for TorchGenerator {}

impl TorchGenerator {
    /// libtorch's default CPU generator, when the version gate passes and the three functions
    /// are found (looked up once, after the gate).
    pub fn find() -> Result<TorchGenerator, Off> {
        version_gate()?;
        static FOUND: OnceLock<Result<TorchGenerator, Off>> = OnceLock::new();
        FOUND.get_or_init(TorchGenerator::look_up).clone()
    }

    /// Looks the three functions up by their libtorch 2.13 names and asks for the generator.
    fn look_up() -> Result<TorchGenerator, Off> {
        // Make sure libtorch is loaded and its default generator constructed.
        let _ = Tensor::zeros([1], (Kind::Float, Device::Cpu));
        let missing = Off::SymbolMissing;
        // SAFETY: in libtorch 2.13 (the version gate passed) these names are the functions of
        // these signatures (see the types).
        let default =
            unsafe { function::<DefaultGeneratorFn>(c"_ZN2at6detail22getDefaultCPUGeneratorEv") };
        let default = default.ok_or(missing("at::detail::getDefaultCPUGenerator"))?;
        // SAFETY: as above.
        let get = unsafe { function::<GetEngineFn>(c"_ZN2at16CPUGeneratorImpl6engineEv") };
        let get = get.ok_or(missing("at::CPUGeneratorImpl::engine"))?;
        let set_name = c"_ZN2at16CPUGeneratorImpl10set_engineENS_14mt19937_engineE";
        // SAFETY: as above.
        let set = unsafe { function::<SetEngineFn>(set_name) };
        let set = set.ok_or(missing("at::CPUGeneratorImpl::set_engine"))?;
        // SAFETY: getDefaultCPUGenerator takes no arguments and returns a reference to the
        // process-wide generator.
        let handle = unsafe { default() };
        let null = Off::CheckFailed("libtorch's default CPU generator is null");
        if handle.is_null() {
            return Err(null);
        }
        // SAFETY: `handle` points at the `Generator`, whose first field is the impl pointer.
        let this = unsafe { *handle };
        if this.is_null() {
            return Err(null);
        }
        Ok(TorchGenerator { this, get, set })
    }

    /// A copy of the engine's state (`CPUGeneratorImpl::engine()`).
    pub fn engine(&self) -> EngineData {
        // SAFETY: `this` is the default CPUGeneratorImpl and `get` its `engine()`, whose result
        // has `EngineData`'s layout (libtorch 2.13, checked by the version gate).
        unsafe { (self.get)(self.this) }
    }

    /// Replaces the engine's state (`CPUGeneratorImpl::set_engine()`).
    pub fn set_engine(&self, data: EngineData) {
        // SAFETY: `this` is the default CPUGeneratorImpl and `set` its `set_engine()`, whose
        // argument has `EngineData`'s layout (libtorch 2.13, checked by the version gate).
        unsafe { (self.set)(self.this, data) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Cpus_allowed_list` of a `cat /proc/self/status` started from the calling thread.
    fn child_cpus(spawn_on_cpus: Option<&[usize]>) -> String {
        let mut c = std::process::Command::new("cat");
        c.arg("/proc/self/status");
        if let Some(cpus) = spawn_on_cpus {
            spawn_on(&mut c, cpus);
        }
        let out = c.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().to_string()
    }

    #[test]
    fn a_child_of_a_pinned_thread_runs_where_it_is_told() {
        let all = allowed_cpus().unwrap();
        if all.len() < 2 {
            return;
        }
        let (first, second) = (all[0], all[1]);
        let found = std::thread::spawn(move || {
            assert!(pin_current_thread(&[first]));
            assert_eq!(allowed_cpus(), Some(vec![first]));
            // Inherited: the child of a pinned thread runs on its one CPU ...
            let inherited = child_cpus(None);
            // ... unless told otherwise.
            let both = child_cpus(Some(&[first, second]));
            let other = child_cpus(Some(&[second]));
            (inherited, both, other)
        })
        .join()
        .unwrap();
        assert_eq!(found.0, first.to_string());
        let sep = if second == first + 1 { "-" } else { "," };
        assert_eq!(found.1, format!("{first}{sep}{second}"));
        assert_eq!(found.2, second.to_string());
        assert!(!pin_current_thread(&[]));
    }

    #[test]
    fn the_engine_layout_is_libtorchs() {
        // at::mt19937_data_pod: u64, int, bool, u32, 624 × u32, padded to 8.
        assert_eq!(std::mem::size_of::<EngineData>(), 2520);
    }

    #[test]
    fn the_gate_opens_for_the_version_written_for_only() {
        assert_eq!(gate("2.13.0", Some("2.13.0")), Ok(()));
        assert_eq!(gate("2.13.0+cpu", None), Ok(()));
        assert_eq!(gate("unknown", Some("2.13.0")), Ok(()));
        assert_eq!(
            gate("2.13.0", Some("2.14.0")),
            Err(Off::VersionMismatch("2.14.0".into()))
        );
        assert_eq!(
            gate("2.12.1", Some("2.13.0")),
            Err(Off::VersionMismatch("2.12.1".into()))
        );
        assert_eq!(gate("unknown", None), Err(Off::VersionUnknown));
    }

    #[test]
    fn this_build_passes_the_gate() {
        assert_eq!(version_gate(), Ok(()));
        assert!(TorchGenerator::find().is_ok());
    }

    #[test]
    fn lookups_find_libc_and_miss_made_up_names() {
        assert!(address(c"malloc").is_some());
        assert!(address(c"initlab_no_such_symbol").is_none());
    }
}
