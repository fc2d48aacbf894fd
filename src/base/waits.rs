//! How libtorch's OpenMP threads wait for work, and where they run: the two settings initlab
//! makes for itself so that a learner's laptop with a browser open (or two other trainings) does
//! not slow a two-thread run down 5–60×.
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
//! The binary also pins its OpenMP team, thread `i` on the `i`-th CPU it may use
//! ([`bind_team`], [`BindChoice`]): a short spin alone still let the kernel stack both threads of
//! the team on one core beside the other programs. The examples and the tests install no
//! switches and pin nothing (a test program's threads would all inherit its main thread's CPU).
//!
//! Neither setting changes what is computed, only when an idle thread sleeps and where a thread
//! runs: the bits are those of libgomp's default (`make parity`; `tests/placement.rs`). The
//! user's own `OMP_WAIT_POLICY` or `GOMP_SPINCOUNT` always wins: initlab then sets nothing; their
//! `OMP_PROC_BIND`, `OMP_PLACES` or `GOMP_CPU_AFFINITY`, or `INITLAB_BIND_THREADS=0`, leave the
//! threads unpinned. Measurements and the choice: build-notes.md, *A busy machine*;
//! `make bench-busy` measures it again.

use std::ffi::CStr;
use std::sync::{Mutex, OnceLock};

use crate::base::parity::ffi::{allowed_cpus, pin_current_thread, spawn_on, OpenMp};
use crate::base::switches::Switches;

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

/// Whether initlab pins each thread of libtorch's OpenMP team to a CPU of its own.
///
/// A short spin alone leaves a busy machine 3.6–5.8× slower (build-notes.md, *A busy machine*):
/// when a team thread goes to sleep, the kernel wakes it next to the thread that woke it, so both
/// halves of the team end up time-sharing one core while the other core runs the other programs.
/// Pinned, each half keeps its own core and shares it with at most its fair part of the load.
/// Pinning changes where a thread runs, never what it computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindChoice {
    /// initlab's wait policy is in force and nobody asked for another placement: pin.
    Pin,
    /// `INITLAB_BIND_THREADS=0`: the user switched pinning off.
    SwitchedOff,
    /// The user placed the threads (`OMP_PROC_BIND`, `OMP_PLACES` or `GOMP_CPU_AFFINITY`).
    UserBinds,
    /// The user chose the wait policy (`OMP_WAIT_POLICY`, or a `GOMP_SPINCOUNT` other than
    /// [`SPIN_COUNT`]): initlab leaves libgomp alone altogether.
    UserWaits,
}

impl BindChoice {
    /// The choice given a variable lookup (`var(name)`: its value, if set), after the wait hook
    /// has run (so `GOMP_SPINCOUNT` is [`SPIN_COUNT`] when initlab set it).
    pub fn of<V: AsRef<[u8]>>(var: impl Fn(&str) -> Option<V>) -> BindChoice {
        let off = |v: V| matches!(v.as_ref(), b"0" | b"no" | b"off" | b"false");
        if var("INITLAB_BIND_THREADS").is_some_and(off) {
            BindChoice::SwitchedOff
        } else if ["OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"]
            .iter()
            .any(|name| var(name).is_some())
        {
            BindChoice::UserBinds
        } else if var("OMP_WAIT_POLICY").is_some()
            || var("GOMP_SPINCOUNT").is_none_or(|v| v.as_ref() != SPIN_COUNT.as_bytes())
        {
            BindChoice::UserWaits
        } else {
            BindChoice::Pin
        }
    }
}

/// The CPUs a team of `threads` is pinned to, thread `i` on the `i`-th CPU the process may use;
/// `None` (no pinning) for a team of one, or one larger than the CPUs allowed.
pub fn team_cpus(allowed: &[usize], threads: usize) -> Option<Vec<usize>> {
    (threads >= 2 && threads <= allowed.len()).then(|| allowed[..threads].to_vec())
}

/// The CPUs the process was allowed before initlab pinned anything.
static ALLOWED: OnceLock<Vec<usize>> = OnceLock::new();
/// The CPUs the team is pinned to now (thread `i` on the `i`-th; empty: not pinned).
static PINNED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Pins libtorch's OpenMP team of `threads` (the calling thread and libgomp's workers, which
/// libgomp keeps for the next regions) to CPUs of their own ([`team_cpus`]); with one thread,
/// or more than the CPUs allowed, lets the calling thread run anywhere it could before. Does
/// nothing unless the program's switches allow it ([`Switches::pin_threads`], installed by the
/// binary; the examples and the tests pin nothing). The binary calls it once libtorch's thread
/// count is set, and again where it changes it (a worker process, for its share of the threads).
pub fn bind_team(threads: usize) {
    if !Switches::current().pin_threads {
        return;
    }
    let Some(omp) = OpenMp::find() else {
        return;
    };
    let allowed = allowed();
    let mut pinned = PINNED.lock().unwrap_or_else(|e| e.into_inner());
    match team_cpus(allowed, threads) {
        Some(cpus) => {
            let team = u32::try_from(threads).unwrap_or(u32::MAX);
            omp.parallel(team, &cpus, |cpus, member| {
                if let Some(&cpu) = usize::try_from(member.id).ok().and_then(|i| cpus.get(i)) {
                    pin_current_thread(&[cpu]);
                }
            });
            *pinned = cpus;
        }
        None => {
            if !pinned.is_empty() {
                pin_current_thread(allowed);
            }
            pinned.clear();
        }
    }
}

/// The CPUs the process may run on, as it was allowed before initlab pinned anything.
pub fn allowed() -> &'static [usize] {
    ALLOWED.get_or_init(|| allowed_cpus().unwrap_or_default())
}

/// Lets a child process (a plan's worker) run on every CPU the process was allowed, not only on
/// the one its pinned parent thread runs on.
pub fn spawn_unpinned(command: &mut std::process::Command) {
    if !pinned().is_empty() {
        spawn_on(command, allowed());
    }
}

/// The CPUs libtorch's team is pinned to now (thread `i` on the `i`-th; empty: not pinned).
pub fn pinned() -> Vec<usize> {
    PINNED.lock().map(|p| p.clone()).unwrap_or_default()
}

/// A sentence for `initlab doctor`: the program's choice and the CPUs pinned now ([`pinned`]).
pub fn describe_binding(choice: BindChoice, pinned: &[usize]) -> String {
    let list = |cpus: &[usize]| {
        cpus.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match choice {
        BindChoice::Pin if !pinned.is_empty() => format!(
            "pinned by initlab: OpenMP thread i on CPU i of {} (INITLAB_BIND_THREADS=0 turns it off)",
            list(pinned)
        ),
        BindChoice::Pin => "not pinned: one thread, or more threads than CPUs".into(),
        BindChoice::SwitchedOff => "not pinned: INITLAB_BIND_THREADS=0".into(),
        BindChoice::UserBinds => {
            "yours: OMP_PROC_BIND / OMP_PLACES / GOMP_CPU_AFFINITY (initlab pins nothing)".into()
        }
        BindChoice::UserWaits => {
            "not pinned: you chose libgomp's wait policy, so initlab leaves libgomp alone".into()
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
    fn threads_are_pinned_only_under_initlabs_own_setting() {
        let of = |pairs: &[(&str, &str)]| {
            BindChoice::of(|name| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.as_bytes())
            })
        };
        let ours = ("GOMP_SPINCOUNT", SPIN_COUNT);
        assert_eq!(of(&[ours]), BindChoice::Pin);
        assert_eq!(of(&[ours, ("INITLAB_BIND_THREADS", "1")]), BindChoice::Pin);
        assert_eq!(
            of(&[ours, ("INITLAB_BIND_THREADS", "0")]),
            BindChoice::SwitchedOff
        );
        assert_eq!(
            of(&[ours, ("OMP_PROC_BIND", "false")]),
            BindChoice::UserBinds
        );
        assert_eq!(of(&[ours, ("OMP_PLACES", "cores")]), BindChoice::UserBinds);
        assert_eq!(
            of(&[ours, ("GOMP_CPU_AFFINITY", "0-1")]),
            BindChoice::UserBinds
        );
        assert_eq!(of(&[("GOMP_SPINCOUNT", "300000")]), BindChoice::UserWaits);
        assert_eq!(
            of(&[ours, ("OMP_WAIT_POLICY", "PASSIVE")]),
            BindChoice::UserWaits
        );
        // No hook ran (nothing set): libgomp's default, left alone.
        assert_eq!(of(&[]), BindChoice::UserWaits);
    }

    #[test]
    fn a_team_gets_the_first_allowed_cpus_one_each() {
        assert_eq!(team_cpus(&[0, 1], 2), Some(vec![0, 1]));
        assert_eq!(team_cpus(&[2, 5, 7], 2), Some(vec![2, 5]));
        assert_eq!(team_cpus(&[0, 1], 1), None);
        assert_eq!(team_cpus(&[0, 1], 3), None);
        assert_eq!(team_cpus(&[], 2), None);
    }

    #[test]
    fn a_program_that_installs_no_switches_pins_nothing() {
        // The tests install none: their threads must stay free to run on every CPU.
        bind_team(2);
        assert_eq!(pinned(), Vec::<usize>::new());
        assert!(describe_binding(BindChoice::Pin, &[0, 1]).contains("CPU i of 0, 1"));
        assert!(describe_binding(BindChoice::Pin, &[]).contains("not pinned"));
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
