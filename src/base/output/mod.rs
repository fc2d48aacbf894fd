//! What runs leave behind: charts (PNG and SVG), TensorBoard event files, statistics, files
//! written atomically and read with bounds, and pictures shown inline in the lab's notebooks.

pub mod chart;
pub mod checksum;
pub mod io;
pub mod notebook;
pub mod stats;
pub mod table;
pub mod tensorboard;
