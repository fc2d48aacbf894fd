//! What runs leave behind: charts (PNG and SVG), TensorBoard event files, statistics, and files
//! written atomically and read with bounds.

pub mod chart;
pub mod checksum;
pub mod io;
pub mod stats;
pub mod table;
pub mod tensorboard;
