//! The environment switches that change how initlab computes (never what it computes), read
//! once at the edge of a program and installed for the library, as
//! [`DataEnv`](crate::base::data::locate::DataEnv) is read once and passed down.
//!
//! | variable | field | effect |
//! |---|---|---|
//! | `INITLAB_ADAM=unfused` | [`Switches::fused_adam`] | Adam steps operation by operation (the same bits, slower) |
//! | `INITLAB_ADAM_THREADS=1\|2` | [`Switches::adam_threads`] | threads a large fused Adam step is split over |
//! | `INITLAB_RNG=libtorch` | [`Switches::rust_rng`] | Bernoulli draws by libtorch's operations (the same bits, slower) |
//! | `HOSTNAME` | [`Switches::hostname`] | the host name in TensorBoard file names, when `/proc` has none |
//! | `INITLAB_BIND_THREADS=0` | [`Switches::pin_threads`] | libtorch's OpenMP threads not pinned to a CPU each (the same bits; slower beside other programs) |
//! | `INITLAB_MKL_DISPATCH=stock\|intel-path` | [`Switches::mkl_dispatch`] | oneMKL's code path on a non-Intel CPU (this one changes the numbers there: [`crate::base::parity::mkl`]) |
//!
//! A program (the binary, an example, a test helper) calls [`Switches::from_env`] once and
//! [`Switches::install`]s it; the library reads [`Switches::current`], which is
//! [`Switches::DEFAULT`] until something is installed. The library never reads these variables,
//! with one exception: oneMKL asks for its dispatch from any program, so in a program that
//! installs no switches (the notebook examples, the tests) [`crate::base::parity::mkl::dispatch`]
//! reads `INITLAB_MKL_DISPATCH` itself, once.

use std::sync::OnceLock;

use crate::base::parity::mkl::{self, MklDispatch, UnknownDispatch};
use crate::base::waits::BindChoice;

/// How initlab computes, chosen by the environment (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switches {
    /// Whether Adam may take the fused path (`INITLAB_ADAM` is not `unfused`).
    pub fused_adam: bool,
    /// Threads for a large fused Adam step, 1 or 2 (`INITLAB_ADAM_THREADS`); `None`: as many as
    /// libtorch's own thread count allows, up to two.
    pub adam_threads: Option<usize>,
    /// Whether Bernoulli draws may be made in Rust (`INITLAB_RNG` is not `libtorch`).
    pub rust_rng: bool,
    /// `HOSTNAME`, the fallback host name for TensorBoard's file names.
    pub hostname: Option<String>,
    /// For tests only (no variable sets it): the libtorch version to assume in use, built
    /// against and loaded, instead of the real ones; a version other than the one initlab's
    /// libtorch interfaces were written for switches the fast paths off.
    pub libtorch_version: Option<String>,
    /// oneMKL's dispatch (`INITLAB_MKL_DISPATCH`; the binary's `--mkl-dispatch` overrides it).
    /// Installed before oneMKL's first product, it decides what its vendor check is answered.
    pub mkl_dispatch: MklDispatch,
    /// Whether [`crate::base::waits::bind_team`] pins libtorch's OpenMP threads to a CPU each:
    /// [`BindChoice::Pin`] of the environment (initlab's own wait policy in force, no placement
    /// of the user's, `INITLAB_BIND_THREADS` not `0`). Off in [`Switches::DEFAULT`], so a program
    /// that installs no switches (an example, a test) pins nothing.
    pub pin_threads: bool,
}

/// The switches installed by the program, if any.
static INSTALLED: OnceLock<Switches> = OnceLock::new();

/// What [`Switches::current`] gives before anything is installed.
static DEFAULT: Switches = Switches::DEFAULT;

impl Switches {
    /// Today's defaults: every fast path allowed, threads automatic, no host name, the real
    /// libtorch version.
    pub const DEFAULT: Switches = Switches {
        fused_adam: true,
        adam_threads: None,
        rust_rng: true,
        hostname: None,
        libtorch_version: None,
        mkl_dispatch: MklDispatch::DEFAULT,
        pin_threads: false,
    };

    /// The switches this process's environment sets; a value that names no choice is an error
    /// naming the variable.
    pub fn from_env() -> Result<Switches, UnknownDispatch> {
        Switches::from_vars(|name| std::env::var(name).ok())
    }

    /// The switches given a variable lookup (`var(name)`: the value, if set and Unicode). Only
    /// `INITLAB_MKL_DISPATCH` can be wrong (the others fall back to their defaults): it changes
    /// the numbers, so a typo must not pass unseen.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Switches, UnknownDispatch> {
        let mkl_dispatch = match var(mkl::DISPATCH_VARIABLE) {
            Some(v) => v.parse()?,
            None => MklDispatch::DEFAULT,
        };
        Ok(Switches {
            mkl_dispatch,
            fused_adam: var("INITLAB_ADAM").is_none_or(|v| v != "unfused"),
            adam_threads: var("INITLAB_ADAM_THREADS")
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .map(|n| n.min(2)),
            rust_rng: var("INITLAB_RNG").is_none_or(|v| v != "libtorch"),
            hostname: var("HOSTNAME"),
            libtorch_version: None,
            pin_threads: BindChoice::of(&var) == BindChoice::Pin,
        })
    }

    /// Makes these the switches of the process. Only the first installation counts: a later
    /// one is refused, and handed back, unless it equals the one installed.
    pub fn install(self) -> Result<(), Switches> {
        match INSTALLED.set(self) {
            Ok(()) => Ok(()),
            Err(refused) if INSTALLED.get() == Some(&refused) => Ok(()),
            Err(refused) => Err(refused),
        }
    }

    /// The installed switches, if the program installed any.
    pub fn installed() -> Option<&'static Switches> {
        INSTALLED.get()
    }

    /// The switches in effect: the installed ones, else [`Switches::DEFAULT`].
    pub fn current() -> &'static Switches {
        INSTALLED.get().unwrap_or(&DEFAULT)
    }
}

impl Default for Switches {
    fn default() -> Switches {
        Switches::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_from(pairs: &[(&str, &str)]) -> Result<Switches, UnknownDispatch> {
        Switches::from_vars(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    fn from(pairs: &[(&str, &str)]) -> Switches {
        try_from(pairs).expect("valid switches")
    }

    #[test]
    fn the_dispatch_is_read_and_a_wrong_one_refused() {
        assert_eq!(from(&[]).mkl_dispatch, MklDispatch::Stock);
        let s = from(&[("INITLAB_MKL_DISPATCH", "intel-path")]);
        assert_eq!(s.mkl_dispatch, MklDispatch::IntelPath);
        let s = from(&[("INITLAB_MKL_DISPATCH", "stock")]);
        assert_eq!(s.mkl_dispatch, MklDispatch::Stock);
        let bad = try_from(&[("INITLAB_MKL_DISPATCH", "Intel")]);
        assert_eq!(bad, Err(UnknownDispatch("Intel".into())));
    }

    #[test]
    fn an_empty_environment_gives_the_defaults() {
        assert_eq!(from(&[]), Switches::default());
    }

    #[test]
    fn each_variable_sets_its_switch() {
        let s = from(&[
            ("INITLAB_ADAM", "unfused"),
            ("INITLAB_ADAM_THREADS", "7"),
            ("INITLAB_RNG", "libtorch"),
            ("HOSTNAME", "box"),
        ]);
        assert!(!s.fused_adam && !s.rust_rng);
        assert_eq!(s.adam_threads, Some(2));
        assert_eq!(s.hostname.as_deref(), Some("box"));
        assert_eq!(s.libtorch_version, None);
    }

    #[test]
    fn other_values_keep_the_defaults() {
        let s = from(&[
            ("INITLAB_ADAM", "fused"),
            ("INITLAB_ADAM_THREADS", "0"),
            ("INITLAB_RNG", "rust"),
        ]);
        assert!(s.fused_adam && s.rust_rng);
        assert_eq!(s.adam_threads, None);
        assert_eq!(from(&[("INITLAB_ADAM_THREADS", "x")]).adam_threads, None);
        assert_eq!(from(&[("INITLAB_ADAM_THREADS", "1")]).adam_threads, Some(1));
    }
}
