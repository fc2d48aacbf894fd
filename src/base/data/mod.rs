//! Datasets and the order in which they are fed to training.

pub mod loader;
pub mod mnist;

pub use loader::TorchLoader;
pub use mnist::{load_dir, DataFile, DataIdentity, Mnist, Split};
