//! Where a command's MNIST comes from: [`search`] is the one place that decides, [`data_dir`]
//! the one every command calls.
//!
//! The places, in order; the first that applies wins:
//!
//! 1. `--data-dir DIR`, when given: used as it is;
//! 2. the environment variable `INITLAB_DATA=DIR`, when set: used as it is;
//! 3. the user's data folder, `$XDG_DATA_HOME/initlab/mnist` (default
//!    `~/.local/share/initlab/mnist`), when it holds the four files;
//! 4. the checkout's bundled `data/mnist/` (the path it had at build time), when it still holds
//!    the four files;
//! 5. the copy compiled into initlab ([`super::embedded`]), unpacked into the user's data folder
//!    first.
//!
//! A folder given by flag or variable that lacks files is an error naming them, not a reason to
//! look further: the user asked for that folder. Whatever is chosen is loaded by
//! [`super::mnist::load_dir`], which checks `SHA256SUMS` when the folder has one (the bundled copy, and
//! hence the user's data folder, do).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::embedded;
use super::mnist::{self, missing_files};

/// The environment variable naming a data folder (place 2).
pub const DATA_ENV: &str = "INITLAB_DATA";

/// A place [`search`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `--data-dir`.
    Flag,
    /// `INITLAB_DATA`.
    Env,
    /// `$XDG_DATA_HOME/initlab/mnist`.
    UserDir,
    /// The checkout's `data/mnist/`.
    Checkout,
    /// The copy compiled into the binary, unpacked into the user's data folder.
    Embedded,
}

impl Origin {
    /// The place in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--data-dir",
            Origin::Env => "INITLAB_DATA",
            Origin::UserDir => "the user data folder ($XDG_DATA_HOME/initlab/mnist)",
            Origin::Checkout => "the checkout's bundled data/mnist",
            Origin::Embedded => "the copy compiled into initlab",
        }
    }
}

/// One place looked at and what was there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// Which place.
    pub origin: Origin,
    /// Its folder, when it has one (`None`: the flag or variable was not given, or no home
    /// folder is known).
    pub dir: Option<PathBuf>,
    /// What was found there, in words: "not set", "holds the four files", "lacks …".
    pub found: String,
}

/// The result of [`search`]: every place looked at, in order, and the one chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Search {
    /// The places, in the order looked at (up to the chosen one, and the rest for the record).
    pub looked: Vec<Place>,
    /// Index into `looked` of the place chosen; `None` when none applies.
    pub chosen: Option<usize>,
}

impl Search {
    /// The place chosen and its folder.
    pub fn choice(&self) -> Option<(Origin, &Path)> {
        let place = &self.looked[self.chosen?];
        Some((place.origin, place.dir.as_deref()?))
    }

    /// The places as numbered lines, `1. --data-dir: not given`, for messages.
    pub fn places_text(&self) -> String {
        self.looked
            .iter()
            .enumerate()
            .map(|(i, p)| match &p.dir {
                Some(dir) => format!(
                    "{}. {} {}: {}",
                    i + 1,
                    p.origin.describe(),
                    dir.display(),
                    p.found
                ),
                None => format!("{}. {}: {}", i + 1, p.origin.describe(), p.found),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What [`search`] reads from the environment (a value, so that tests can give their own).
#[derive(Debug, Clone, Default)]
pub struct DataEnv {
    /// `INITLAB_DATA`.
    pub initlab_data: Option<OsString>,
    /// `XDG_DATA_HOME`.
    pub xdg_data_home: Option<OsString>,
    /// `HOME`.
    pub home: Option<OsString>,
    /// The checkout's bundled folder ([`mnist::bundled_dir`]).
    pub checkout: PathBuf,
}

impl DataEnv {
    /// This process's environment.
    pub fn from_process() -> DataEnv {
        DataEnv {
            initlab_data: std::env::var_os(DATA_ENV),
            xdg_data_home: std::env::var_os("XDG_DATA_HOME"),
            home: std::env::var_os("HOME"),
            checkout: mnist::bundled_dir(),
        }
    }

    /// The user's data folder for initlab's MNIST: `$XDG_DATA_HOME/initlab/mnist` when
    /// `XDG_DATA_HOME` is an absolute path (the XDG rule: others are ignored), else
    /// `$HOME/.local/share/initlab/mnist`; `None` without either.
    pub fn user_dir(&self) -> Option<PathBuf> {
        let base = match self.xdg_data_home.as_ref().map(PathBuf::from) {
            Some(xdg) if xdg.is_absolute() => xdg,
            _ => PathBuf::from(self.home.as_ref().filter(|h| !h.is_empty())?)
                .join(".local")
                .join("share"),
        };
        Some(base.join("initlab").join("mnist"))
    }
}

/// What a folder holds, in words.
fn contents(dir: &Path) -> String {
    if !dir.exists() {
        return "does not exist".into();
    }
    if !dir.is_dir() {
        return "is not a folder".into();
    }
    let missing = missing_files(dir);
    if missing.is_empty() {
        "holds the four files".into()
    } else if missing.len() == mnist::FILE_NAMES.len() {
        "holds none of the four files".into()
    } else {
        format!("lacks {}", gz_or_raw(&missing))
    }
}

/// `a(.gz), b(.gz)`: the names of missing files, either form accepted.
fn gz_or_raw(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n}(.gz)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides where the data comes from (see the module documentation for the order). Looks at the
/// file system only: nothing is written.
pub fn search(flag: Option<&Path>, env: &DataEnv) -> Search {
    let mut looked = Vec::new();
    let explicit = [
        (Origin::Flag, flag.map(Path::to_path_buf), "not given"),
        (
            Origin::Env,
            env.initlab_data
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            "not set",
        ),
    ];
    for (origin, dir, absent) in explicit {
        match dir {
            Some(dir) => {
                looked.push(Place {
                    origin,
                    found: contents(&dir),
                    dir: Some(dir),
                });
                let chosen = Some(looked.len() - 1);
                return Search { looked, chosen };
            }
            None => looked.push(Place {
                origin,
                dir: None,
                found: absent.into(),
            }),
        }
    }
    let user = env.user_dir();
    for (origin, dir) in [
        (Origin::UserDir, user.clone()),
        (Origin::Checkout, Some(env.checkout.clone())),
    ] {
        let Some(dir) = dir else {
            looked.push(Place {
                origin,
                dir: None,
                found: "unknown (neither XDG_DATA_HOME nor HOME is set)".into(),
            });
            continue;
        };
        let found = contents(&dir);
        let complete = missing_files(&dir).is_empty();
        looked.push(Place {
            origin,
            dir: Some(dir),
            found,
        });
        if complete {
            let chosen = Some(looked.len() - 1);
            return Search { looked, chosen };
        }
    }
    match user {
        Some(dir) => {
            looked.push(Place {
                origin: Origin::Embedded,
                dir: Some(dir),
                found: format!("{} bytes, to be unpacked there", embedded::size()),
            });
            let chosen = Some(looked.len() - 1);
            Search { looked, chosen }
        }
        None => {
            looked.push(Place {
                origin: Origin::Embedded,
                dir: None,
                found: "present, but there is no user data folder to unpack it into".into(),
            });
            Search {
                looked,
                chosen: None,
            }
        }
    }
}

/// Why no data folder could be given.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The folder given by `--data-dir` or `INITLAB_DATA` lacks files.
    #[error("{} {} {}: no MNIST data set there (looked for train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each .gz or raw)", origin.describe(), dir.display(), found)]
    Incomplete {
        /// `Flag` or `Env`.
        origin: Origin,
        /// The folder.
        dir: PathBuf,
        /// What is (not) there.
        found: String,
    },
    /// No place applies.
    #[error("no MNIST data found; looked at: {}", search.places_text())]
    NotFound {
        /// Every place looked at.
        search: Search,
    },
    /// The compiled-in copy could not be written into the user's data folder.
    #[error("cannot unpack the MNIST compiled into initlab into {}: {cause}", dir.display())]
    Unpack {
        /// The user's data folder.
        dir: PathBuf,
        /// What went wrong, with its causes.
        cause: String,
    },
}

/// The data folder for a command given `--data-dir` (or not): [`search`]'s choice, with the
/// compiled-in copy unpacked first when that is the choice.
pub fn data_dir(flag: Option<&Path>) -> Result<(Origin, PathBuf), DataError> {
    data_dir_in(flag, &DataEnv::from_process())
}

/// [`data_dir`] in the environment `env` (the one `initlab doctor` examines, or a test's).
pub fn data_dir_in(flag: Option<&Path>, env: &DataEnv) -> Result<(Origin, PathBuf), DataError> {
    let search = search(flag, env);
    let Some((origin, dir)) = search.choice() else {
        return Err(DataError::NotFound { search });
    };
    let dir = dir.to_path_buf();
    match origin {
        Origin::Flag | Origin::Env if !missing_files(&dir).is_empty() => {
            Err(DataError::Incomplete {
                origin,
                found: contents(&dir),
                dir,
            })
        }
        Origin::Embedded => match embedded::unpack(&dir) {
            Ok(()) => Ok((origin, dir)),
            Err(e) => Err(DataError::Unpack {
                dir,
                cause: format!("{e:#}"),
            }),
        },
        _ => Ok((origin, dir)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(tmp: &Path) -> DataEnv {
        DataEnv {
            initlab_data: None,
            xdg_data_home: Some(tmp.join("xdg").into()),
            home: Some(tmp.join("home").into()),
            checkout: tmp.join("checkout"),
        }
    }

    fn complete(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for name in mnist::FILE_NAMES {
            std::fs::write(dir.join(name), b"").unwrap();
        }
    }

    fn chosen(s: &Search) -> (Origin, PathBuf) {
        let (o, d) = s.choice().expect("a choice");
        (o, d.to_path_buf())
    }

    #[test]
    fn the_places_come_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let mut e = env(t);
        let user = t.join("xdg/initlab/mnist");
        // Nothing anywhere: the compiled-in copy, into the user folder.
        assert_eq!(chosen(&search(None, &e)), (Origin::Embedded, user.clone()));
        // The checkout, then the user folder, win over it.
        complete(&t.join("checkout"));
        assert_eq!(chosen(&search(None, &e)).0, Origin::Checkout);
        complete(&user);
        assert_eq!(chosen(&search(None, &e)), (Origin::UserDir, user.clone()));
        // INITLAB_DATA wins over those, even when empty of files; the flag over everything.
        let empty = t.join("empty");
        std::fs::create_dir(&empty).unwrap();
        e.initlab_data = Some(empty.clone().into());
        let s = search(None, &e);
        assert_eq!(chosen(&s), (Origin::Env, empty.clone()));
        assert_eq!(s.looked[1].found, "holds none of the four files");
        let s = search(Some(&user), &e);
        assert_eq!(chosen(&s), (Origin::Flag, user.clone()));
        assert_eq!(s.looked.len(), 1);
    }

    #[test]
    fn a_partial_user_folder_is_skipped_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        let e = env(t);
        let user = t.join("xdg/initlab/mnist");
        complete(&user);
        std::fs::remove_file(user.join(mnist::TEST_LABELS)).unwrap();
        let s = search(None, &e);
        assert_eq!(chosen(&s), (Origin::Embedded, user));
        let text = s.places_text();
        assert!(text.contains("lacks t10k-labels-idx1-ubyte(.gz)"), "{text}");
        assert!(
            text.contains("checkout") && text.contains("does not exist"),
            "{text}"
        );
    }

    #[test]
    fn the_user_folder_follows_xdg() {
        let mut e = DataEnv {
            home: Some("/home/u".into()),
            ..DataEnv::default()
        };
        assert_eq!(
            e.user_dir(),
            Some(PathBuf::from("/home/u/.local/share/initlab/mnist"))
        );
        e.xdg_data_home = Some("relative/ignored".into());
        assert_eq!(
            e.user_dir(),
            Some(PathBuf::from("/home/u/.local/share/initlab/mnist"))
        );
        e.xdg_data_home = Some("/data".into());
        assert_eq!(e.user_dir(), Some(PathBuf::from("/data/initlab/mnist")));
        let none = DataEnv::default();
        assert_eq!(none.user_dir(), None);
        let s = search(None, &none);
        assert_eq!(s.chosen, None);
    }
}
