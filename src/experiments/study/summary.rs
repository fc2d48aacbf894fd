//! The summary's skeleton every study shares: `summary.md` (budget, deviations, chart, every run's
//! row, statistics over seeds), the runs table, and `report.html` around the blocks a study adds.

use crate::base::train::chart::seeds_chart;
use std::fmt::Write as _;

use anyhow::Result;

use crate::base::output::io;
use crate::base::output::table::{Cell, Table};
use crate::base::train::Best;
use crate::engine::executor::RunResult;
use crate::experiments::compare;
use crate::experiments::machines::Machines;
use crate::experiments::report_html::{self, Block, Report};
use crate::experiments::study::{deviations, StudyConfig, StudyPart};

/// The default outputs: the seeds chart of every part's curves (`<study>.png` and `.svg`),
/// `summary.md` and `report.html`.
pub fn write_curve_outputs(
    config: &StudyConfig,
    parts: &[(StudyPart, Vec<RunResult>)],
) -> Result<()> {
    let curves: Vec<_> = parts
        .iter()
        .flat_map(|(p, rs)| {
            crate::experiments::seeds::seed_groups(rs, |r| p.label_of(r.run.spec.model.init))
        })
        .collect();
    let title = config.study.preset().title_for(config);
    seeds_chart(&curves, &title, &config.chart_path())?;
    seeds_chart(
        &curves,
        &title,
        &config.out_dir.join(format!("{}.svg", config.study.name())),
    )?;
    io::write_atomic(
        &config.summary_path(),
        summary_markdown(config, parts).as_bytes(),
    )?;
    report_html::write(&html_report(config, parts, Vec::new()), &config.html_path())
}

/// ` --full` when the study runs at full size, else nothing: the tail of its command.
pub fn full_flag(config: &StudyConfig) -> &'static str {
    if config.full {
        " --full"
    } else {
        ""
    }
}

/// The total training time over every run, in the sentence the summaries end with.
pub fn total_time(parts: &[(StudyPart, Vec<RunResult>)]) -> String {
    let total: f64 = parts.iter().flat_map(|(_, rs)| rs).map(|r| r.seconds).sum();
    format!(
        "Total training time: {total:.0} s (runs read from the cache count their original time)."
    )
}

/// The command that ran the study, with the overrides it was given.
pub fn command_line(config: &StudyConfig) -> String {
    let mut cmd = format!("initlab study {}{}", config.study.name(), full_flag(config));
    let flags = [
        ("--epochs", config.epochs.map(|e| e.to_string())),
        ("--train-limit", config.train_limit.map(|n| n.to_string())),
        ("--width", config.width.map(|w| w.to_string())),
    ];
    for (flag, value) in flags {
        if let Some(v) = value {
            let _ = write!(cmd, " {flag} {v}");
        }
    }
    if config.seeds.len() > 1 {
        let seeds: Vec<String> = config.seeds.iter().map(i64::to_string).collect();
        let _ = write!(cmd, " --seeds {}", seeds.join(","));
    }
    cmd
}

/// The study's markdown summary: the budget, then one table per part.
pub fn summary_markdown(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> String {
    let name = config.study.name();
    let mut md = format!("# {}\n\n", config.study.preset().title_for(config));
    let _ = writeln!(
        md,
        "Command: `{}`. Budget: {}.\n",
        command_line(config),
        if config.full {
            "the full-size setting"
        } else {
            "the 2-core default (see the table for epochs and training images)"
        }
    );
    let _ = writeln!(md, "{}\n", deviations(config));
    let _ = writeln!(md, "![{name}]({name}.png)\n");
    md.push_str(&runs_table(config, parts).markdown());
    let _ = writeln!(md, "\n{}", total_time(parts));
    if config.seeds.len() > 1 {
        md.push_str(&seeds_markdown(config, parts));
    }
    md.push_str(&machines_markdown(parts));
    md
}

/// The machines the study's runs were trained on ([`Machines`]), as a `summary.md` section.
pub fn machines_markdown(parts: &[(StudyPart, Vec<RunResult>)]) -> String {
    Machines::of(parts.iter().flat_map(|(_, rs)| rs.iter())).markdown()
}

/// The statistics over seeds: one table per part, then how to read them.
pub fn seeds_markdown(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> String {
    let mut md = format!("\n## Over {} seeds\n\n", config.seeds.len());
    for (p, runs) in parts {
        let _ = writeln!(md, "### {}\n", p.name);
        let st = compare::init_stats(&p.compare.inits, None, runs);
        md.push_str(&compare::stats_table(&st, |i| p.label_of(i)));
        md.push('\n');
    }
    for note in seeds_notes(parts) {
        let _ = writeln!(md, "{note}\n");
    }
    md
}

/// The paragraphs under the statistics over seeds ([`compare::stats_note`] against each part's
/// first init, and [`compare::few_seeds_note`] when seeds are too few for the permutation test).
fn seeds_notes(parts: &[(StudyPart, Vec<RunResult>)]) -> Vec<String> {
    let all: Vec<compare::InitStats> = parts
        .iter()
        .flat_map(|(p, runs)| compare::init_stats(&p.compare.inits, None, runs))
        .collect();
    let mut notes = vec![compare::stats_note("the part's first init")];
    notes.extend(compare::few_seeds_note(&all));
    notes
}

/// Every run of the study in one table: part, model, run (linked to its directory in HTML),
/// optimizer, epochs, training images, status, final and best test error, seconds.
pub fn runs_table(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> Table {
    let best_header = format!(
        "best test error % (epoch; {})",
        Best::chosen_on(config.validation > 0)
    );
    let mut table = Table::new(&[
        ("part", false),
        ("model", false),
        ("run", false),
        ("optimizer, lr", false),
        ("epochs", true),
        ("training images", true),
        ("status", false),
        ("final test error %", true),
        (best_header.as_str(), true),
        ("seconds", true),
    ]);
    for (p, runs) in parts {
        for r in runs {
            table.push(run_row(config, p, r));
        }
    }
    table
}

/// One run's row of [`runs_table`].
fn run_row(config: &StudyConfig, p: &StudyPart, r: &RunResult) -> Vec<Cell> {
    let t = &p.compare.train;
    let label = if config.seeds.len() > 1 {
        format!(
            "{}, seed {}",
            p.label_of(r.run.spec.model.init),
            r.run.spec.train.seed
        )
    } else {
        p.label_of(r.run.spec.model.init)
    };
    let final_err = r
        .history
        .last()
        .map(|e| format!("{:.2}", e.test_error_percent()))
        .unwrap_or("—".into());
    let best = r
        .best()
        .map(|(ep, e)| format!("{e:.2} ({ep})"))
        .unwrap_or("—".into());
    vec![
        p.name.clone().into(),
        format!("{} {}", p.compare.widths.compact(), p.compare.activation).into(),
        Cell::link(
            format!("{} ({})", label, r.run.spec.model.init),
            report_html::relative_path(&config.out_dir, &r.run.dir),
        ),
        format!("{} {}", t.optimizer, t.learning_rate).into(),
        t.epochs.to_string().into(),
        t.train_limit
            .map(|n| n.to_string())
            .unwrap_or(format!("{}", 60_000 - t.validation))
            .into(),
        r.status_text().into(),
        final_err.into(),
        best.into(),
        format!("{:.0}", r.seconds).into(),
    ]
}

/// The study's `report.html`: the budget and deviations, the study's own blocks (the mean-field
/// study's theory and grid tables and pictures), per part its charts (and statistics over
/// seeds), every run's row, and each run's `run.json` in a collapsible section.
pub fn html_report(
    config: &StudyConfig,
    parts: &[(StudyPart, Vec<RunResult>)],
    study_blocks: Vec<Block>,
) -> Report {
    let mut blocks = vec![
        Block::Text(format!(
            "Command: `initlab study {}{}`.",
            config.study.name(),
            full_flag(config)
        )),
        Block::Text(deviations(config)),
    ];
    blocks.extend(study_blocks);
    for (p, runs) in parts {
        blocks.extend(part_blocks(config, p, runs));
    }
    if config.seeds.len() > 1 {
        blocks.push(Block::Text(format!(
            "Each part's statistics table is over {} seeds.",
            config.seeds.len()
        )));
        blocks.extend(seeds_notes(parts).into_iter().map(Block::Text));
    }
    blocks.extend(runs_blocks(config, parts));
    Report {
        title: config.study.preset().title_for(config),
        blocks,
    }
}

/// One part's heading, statistics over seeds and charts.
fn part_blocks(config: &StudyConfig, p: &StudyPart, runs: &[RunResult]) -> Vec<Block> {
    let mut blocks = vec![Block::Heading(format!(
        "{}: {} {}, {} {}",
        p.name,
        p.compare.widths.compact(),
        p.compare.activation,
        p.compare.train.optimizer,
        p.compare.train.learning_rate
    ))];
    if config.seeds.len() > 1 {
        let st = compare::init_stats(&p.compare.inits, None, runs);
        blocks.push(Block::Table(compare::stats_rows(&st, |i| p.label_of(i))));
    }
    if runs.iter().any(|r| !r.history.epochs.is_empty()) {
        blocks.push(Block::Charts(report_html::run_charts(runs, |r| {
            p.label_of(r.run.spec.model.init)
        })));
    }
    blocks
}

/// The runs table, each run's `run.json`, and the links to the study's files.
fn runs_blocks(config: &StudyConfig, parts: &[(StudyPart, Vec<RunResult>)]) -> Vec<Block> {
    let all: Vec<RunResult> = parts
        .iter()
        .flat_map(|(_, rs)| rs.iter().cloned())
        .collect();
    let chart_png = format!("{}.png", config.study.name());
    let chart_svg = format!("{}.svg", config.study.name());
    let mut blocks = vec![
        Block::Heading("Runs".into()),
        Block::Table(runs_table(config, parts)),
        Block::Runs(report_html::run_entries(&config.out_dir, &all)),
    ];
    blocks.extend(Machines::of(&all).blocks());
    blocks.push(report_html::existing_files(
        &config.out_dir,
        &["summary.md", &chart_png, &chart_svg],
    ));
    blocks
}
