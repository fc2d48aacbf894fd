//! Datasets, where they come from, and the order in which they are fed to training.

pub mod drawing;
pub mod embedded;
pub mod loader;
pub mod locate;
pub mod mnist;
