//! Datasets, where they come from, and the order in which they are fed to training.

pub mod embedded;
pub mod loader;
pub mod locate;
pub mod mnist;

pub use loader::TorchLoader;
pub use locate::{data_dir, DataError, Origin};
pub use mnist::{load_dir, BatchBuffers, DataFile, DataIdentity, Mnist, Split};
