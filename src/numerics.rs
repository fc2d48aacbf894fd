//! Process-wide numeric settings that make results reproducible, set once at an entry point.

use std::ffi::OsString;

/// The oneMKL code path initlab pins: `MKL_CBWR=AVX2`.
pub const MKL_CODE_PATH: &str = "AVX2";

/// Makes sure oneMKL runs with a pinned code path (its "Conditional Numerical Reproducibility"
/// setting, `MKL_CBWR`), AVX2 unless the environment already chooses one.
///
/// libtorch's CPU matrix products go through oneMKL, which by default picks a kernel for the CPU
/// at hand and may split work differently with the thread count; on an AVX-512 machine with two
/// threads the lab's epoch-1 cost then differs in the 4th significant digit from a one-thread run.
/// With the code path pinned, PyTorch and initlab give the same bits for 1, 2 or 4 threads and on
/// any x86-64 CPU with AVX2, at no measurable cost for these model sizes. The reference scripts
/// under `tools/reference/` set the same variable, and `.cargo/config.toml` sets it for
/// `cargo run`, `cargo test` and the examples.
///
/// oneMKL reads the variable when libtorch is loaded, before `main` runs, so setting it in-process
/// is too late: when it is missing, this function re-executes the current program with it set
/// (Unix). Call it first thing in `main`. If the re-execution fails, it returns and the program
/// continues unpinned (results are then still correct, only not bit-comparable across machines).
pub fn pin_mkl_code_path() {
    if std::env::var_os("MKL_CBWR").is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        // exec only returns on failure.
        let err = std::process::Command::new(exe)
            .args(args)
            .env("MKL_CBWR", MKL_CODE_PATH)
            .exec();
        eprintln!("warning: could not re-run with MKL_CBWR={MKL_CODE_PATH} ({err}); continuing without it");
    }
}
