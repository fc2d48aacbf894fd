//! `doctor` (what to paste into a bug report) and `completions` (shell completion scripts).

use anyhow::{Context, Result};
use clap::CommandFactory;

use initlab::engine::doctor;

use crate::cli::{Cli, CompletionsArgs, DoctorArgs};
use crate::commands::{emit_json, Done};
use crate::console;

/// `initlab doctor`: the report, as text or JSON; [`Done::Failed`] when something needed is
/// missing.
pub fn doctor(args: DoctorArgs) -> Result<Done> {
    let report = doctor::examine(args.data.data_dir.as_deref());
    if args.json {
        emit_json(&serde_json::to_value(&report).context("formatting the report")?)?;
    } else {
        console::emit!("{}", console::doctor_report(&report))?;
    }
    Ok(if report.healthy() {
        Done::Ok
    } else {
        Done::Failed
    })
}

/// `initlab completions SHELL`: the completion script for that shell.
pub fn completions(args: CompletionsArgs) -> Result<Done> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "initlab", &mut script);
    let text = String::from_utf8(script).context("the completion script is not UTF-8")?;
    console::emit!("{}", text.trim_end())?;
    Ok(Done::Ok)
}
