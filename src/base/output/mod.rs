//! What runs leave behind: charts (PNG and SVG), TensorBoard event files, statistics, and files
//! written atomically and read with bounds.

pub mod io;
pub mod plot;
pub mod stats;
pub mod tensorboard;
