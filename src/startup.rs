//! What must happen before libtorch is loaded: surviving a deleted working directory.
//!
//! oneMKL, linked into `libtorch_cpu.so`, looks up its own file when the library is loaded, and
//! that asks for the working directory (`getcwd`); when the directory has been deleted, it prints
//! "Intel oneMKL FATAL ERROR: Cannot load …/libtorch_cpu.so" and ends the process, before `main`
//! and whatever the arguments (absolute paths included). So [`leave_deleted_cwd`] runs from the
//! executable's `.preinit_array`, which the dynamic loader runs before the initialisers of every
//! shared library: when the working directory is gone, it keeps a descriptor of it and moves to
//! `/` while the libraries load; [`return_to_deleted_cwd`], first thing in `main`, moves back,
//! so that relative paths mean what they meant (and fail as they would: the folder is gone).

use std::sync::atomic::{AtomicI32, Ordering};

/// The descriptor of the deleted working directory left by [`leave_deleted_cwd`] (-1: none).
static DELETED_CWD: AtomicI32 = AtomicI32::new(-1);

/// Runs before any shared library's initialiser (see the module documentation).
#[used]
#[link_section = ".preinit_array"]
static LEAVE_DELETED_CWD: extern "C" fn(i32, *const *const u8, *const *const u8) =
    leave_deleted_cwd;

/// When the working directory no longer exists, opens it (`O_PATH`: a deleted directory can
/// still be opened as the process's `.`) and moves to `/`; does nothing otherwise, or when
/// either step fails (oneMKL then reports its own error, as before).
extern "C" fn leave_deleted_cwd(_argc: i32, _argv: *const *const u8, _envp: *const *const u8) {
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is a writable buffer of the length passed.
    let cwd = unsafe { libc::getcwd(buf.as_mut_ptr().cast(), buf.len()) };
    if !cwd.is_null() || std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
        return;
    }
    // SAFETY: both paths are NUL-terminated literals; the calls only read them.
    let fd = unsafe {
        libc::open(
            c".".as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    // SAFETY: as above.
    if unsafe { libc::chdir(c"/".as_ptr()) } == 0 {
        DELETED_CWD.store(fd, Ordering::SeqCst);
    } else {
        // SAFETY: `fd` was opened above and is not used again.
        unsafe { libc::close(fd) };
    }
}

/// Moves back into the deleted working directory [`leave_deleted_cwd`] left, once libtorch is
/// loaded; true when there was one (the caller warns that relative paths cannot work).
pub fn return_to_deleted_cwd() -> bool {
    let fd = DELETED_CWD.swap(-1, Ordering::SeqCst);
    if fd < 0 {
        return false;
    }
    // SAFETY: `fd` is the directory descriptor opened by `leave_deleted_cwd`, owned here alone.
    unsafe {
        libc::fchdir(fd);
        libc::close(fd);
    }
    true
}
