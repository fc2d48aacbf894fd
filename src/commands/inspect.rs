//! `inspect`: real MNIST forwarded through fresh networks, per-layer histograms and their std by
//! depth.

use anyhow::Result;

use initlab::experiments::inspect;

use crate::cli::InspectArgs;
use crate::commands::{load_data, source, Done};
use crate::console;

/// `initlab inspect`: the table of per-layer statistics and the figures written.
pub fn inspect(args: InspectArgs) -> Result<Done> {
    let mut config = args.config();
    config.source = source(&args.pretrained)?;
    let data = load_data(&args.data)?;
    let result = inspect::run_inspect(&config, &data)?;
    console::emit!("{}", console::inspect_table(&result))?;
    for f in &result.figures {
        console::emit!("Histograms: {}", f.display())?;
    }
    console::emit!(
        "Depth chart: {}\nTable: {}",
        result.depth_chart.display(),
        result.table.display()
    )?;
    Ok(Done::Ok)
}
