//! How libtorch's OpenMP threads wait for work: the one setting initlab makes for itself so that
//! a learner's laptop with a browser open (or two other trainings) does not slow a two-thread run
//! down 5–60×.
//!
//! libtorch's parallel operations run on GNU OpenMP (libgomp). Between two parallel regions its
//! worker threads *spin* (`GOMP_SPINCOUNT` iterations of a pause instruction, 300,000 by default:
//! milliseconds on current CPUs) before they sleep on a futex. On a quiet machine that is what
//! makes back-to-back small operations fast; on a shared core the spinning worker takes the time
//! slice the working thread needs, and a team of two waits for its descheduled half. libgomp reads
//! `OMP_WAIT_POLICY` and `GOMP_SPINCOUNT` once, in its library constructor, before `main`; so the
//! setting is made by a hook in the executable's `.preinit_array`
//! ([`crate::base::parity::ffi::LIBGOMP_WAIT_HOOK`]), which the dynamic loader runs before every
//! shared library's constructor, in the binary, the examples and the tests alike (`build.rs`
//! links the hook into each of them): it restarts the program once with the variable in its
//! environment (a variable set in place there would not reach libgomp), so the program's own
//! children (`compare`'s workers) inherit it too.
//!
//! The wait policy changes when an idle thread sleeps, never what is computed: the bits are those
//! of libgomp's default (`make parity`). The user's own `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT`
//! always wins: initlab then sets nothing. Measurements and the choice: build-notes.md, *A busy
//! machine*; `make bench-busy` measures it again.

use std::ffi::CStr;

/// The spin count initlab gives libgomp when the user set neither variable: iterations of the
/// pause instruction an idle worker spins before it sleeps (libgomp's default: 300,000).
pub const SPIN_COUNT: &str = "10000";

/// `GOMP_SPINCOUNT=`[`SPIN_COUNT`], as the environment entry the hook adds.
pub const SPIN_COUNT_ASSIGNMENT: &CStr = c"GOMP_SPINCOUNT=10000";

/// What initlab does to libgomp's wait policy, given the two variables as the process found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitChoice {
    /// Neither was set: initlab sets `GOMP_SPINCOUNT` to [`SPIN_COUNT`].
    ShortSpin,
    /// The user set `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` (even to an empty value): left alone.
    UserSet,
}

impl WaitChoice {
    /// The choice for these values of `OMP_WAIT_POLICY` and `GOMP_SPINCOUNT`.
    pub fn of(wait_policy: Option<&[u8]>, spin_count: Option<&[u8]>) -> WaitChoice {
        if wait_policy.is_some() || spin_count.is_some() {
            WaitChoice::UserSet
        } else {
            WaitChoice::ShortSpin
        }
    }

    /// A sentence for `initlab doctor`, from the variables as they are now (after the hook).
    pub fn describe(wait_policy: Option<&str>, spin_count: Option<&str>) -> String {
        let ours = SPIN_COUNT;
        match (wait_policy, spin_count) {
            (None, Some(n)) if n == ours => format!(
                "GOMP_SPINCOUNT={ours} set by initlab (idle OpenMP threads spin briefly, then sleep; \
                 libgomp's default is 300000)"
            ),
            (None, None) => "libgomp's default (GOMP_SPINCOUNT 300000): initlab's setting did not \
                             run in this program"
                .into(),
            (p, n) => format!(
                "yours: OMP_WAIT_POLICY={} GOMP_SPINCOUNT={} (initlab sets nothing when either is set)",
                p.unwrap_or("(unset)"),
                n.unwrap_or("(unset)")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assignment_names_the_spin_count() {
        assert_eq!(
            SPIN_COUNT_ASSIGNMENT.to_str().ok(),
            Some(format!("GOMP_SPINCOUNT={SPIN_COUNT}").as_str())
        );
    }

    #[test]
    fn the_users_setting_always_wins() {
        assert_eq!(WaitChoice::of(None, None), WaitChoice::ShortSpin);
        assert_eq!(WaitChoice::of(Some(b"PASSIVE"), None), WaitChoice::UserSet);
        assert_eq!(WaitChoice::of(None, Some(b"300000")), WaitChoice::UserSet);
        assert_eq!(WaitChoice::of(Some(b""), None), WaitChoice::UserSet);
    }

    #[test]
    fn this_test_program_runs_with_initlabs_setting() {
        // The hook ran before this test binary's main (build.rs links it into every target);
        // the test environment of .ci/run sets neither variable.
        let policy = std::env::var("OMP_WAIT_POLICY").ok();
        let spin = std::env::var("GOMP_SPINCOUNT").ok();
        if policy.is_none() {
            assert!(
                spin.is_some(),
                "GOMP_SPINCOUNT unset: the preinit hook did not run"
            );
        }
        assert!(WaitChoice::describe(policy.as_deref(), spin.as_deref()).contains("GOMP_SPINCOUNT"));
    }
}
