//! What the binary shows while training: the lab's epoch lines on stdout and a progress bar with
//! the running loss on stderr (hidden with `--quiet` or when stderr is not a terminal).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use initlab::base::data::drawing::Preparation;
use initlab::base::train::Progress;
use initlab::engine::doctor::{Report, Verdict};
use initlab::engine::executor::{RunEvent, RunResult, StartKind};
use initlab::engine::rundir::RunStatus;
use initlab::experiments::eval::{Digit, Evaluation, Prediction, TrainedRun};
use initlab::pretraining::dbn::DbnProgress;
use initlab::pretraining::rbm::RbmProgress;

use crate::commands::STOP;

/// Writes a line to stdout, flushed. A closed stdout (`initlab … | head`) or a full disk is an
/// error naming standard output: the command ends non-zero.
pub fn emit_line(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .context("writing to standard output")
}

/// `println!` through [`emit_line`]: an `anyhow::Result<()>`.
macro_rules! emit {
    ($($arg:tt)*) => { $crate::console::emit_line(&format!($($arg)*)) };
}
pub(crate) use emit;

/// Standard output failed while a command ran (the failed write is the cause).
#[derive(Debug, thiserror::Error)]
#[error("standard output failed{}", if self.resume.is_some() { ", so training stopped after its batch with a checkpoint (status \"interrupted\")" } else { "" })]
pub struct OutputFailed {
    /// The command that continues the runs stopped because of it, if any were.
    pub resume: Option<String>,
}

/// Turns training events into output.
pub struct Console {
    show_bar: bool,
    bar: Option<ProgressBar>,
    /// The run's epochs and batches per epoch, for the bar's `epoch e/E, batch b/B` prefix.
    run_shape: (usize, i64),
    running_loss: f64,
    /// Runs going side by side in worker processes: their `[index/total] name` tag, by
    /// directory, for lines about them.
    side: HashMap<PathBuf, String>,
    /// The first write to stdout that failed; nothing more is written there.
    failed: Option<anyhow::Error>,
}

impl Console {
    /// A console; `quiet` hides the progress bar.
    pub fn new(quiet: bool) -> Self {
        Console {
            show_bar: !quiet && std::io::stderr().is_terminal(),
            bar: None,
            run_shape: (0, 0),
            running_loss: 0.0,
            side: HashMap::new(),
            failed: None,
        }
    }

    /// Prints a line on stdout without tearing the progress bar. When stdout fails (closed, or
    /// its disk full), the failure is kept for [`Console::failure`] and training is asked to
    /// stop after its batch, as by Ctrl-C: the runs are left interrupted, resumable.
    pub fn println(&mut self, line: &str) {
        if self.failed.is_some() {
            return;
        }
        let written = match &self.bar {
            Some(bar) => bar.suspend(|| emit_line(line)),
            None => emit_line(line),
        };
        if let Err(e) = written {
            STOP.store(true, Ordering::SeqCst);
            self.failed = Some(e);
        }
    }

    /// An error when a write to stdout failed: [`OutputFailed`] over the write's error, with
    /// `resume` (the command that continues the runs) when training stopped because of it.
    pub fn check_output(&mut self, interrupted: bool, resume: &str) -> anyhow::Result<()> {
        match self.failed.take() {
            None => Ok(()),
            Some(e) => Err(e.context(OutputFailed {
                resume: interrupted.then(|| resume.to_string()),
            })),
        }
    }

    /// Handles one training event.
    pub fn progress(&mut self, event: Progress) {
        match event {
            Progress::Start {
                epochs,
                batches,
                resumed_at,
                earlier,
            } => {
                // A resumed run's earlier epochs, as they were printed before the interruption.
                for record in earlier {
                    self.println(&record.lab_line());
                }
                if self.show_bar {
                    let bar = ProgressBar::with_draw_target(
                        Some(epochs as u64 * batches as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    // The prefix counts the epoch's batches, the bar and its percentage the run's.
                    let style = ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {percent:>3}% of the run  {msg}  {elapsed}<{eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                    bar.set_style(style);
                    if let Some((e, b)) = resumed_at {
                        bar.set_position(e as u64 * batches as u64 + b as u64);
                    }
                    self.bar = Some(bar);
                }
                self.run_shape = (epochs, batches);
                self.running_loss = f64::NAN;
            }
            Progress::Batch { epoch, batch, loss } => {
                self.running_loss = if self.running_loss.is_nan() {
                    loss
                } else {
                    0.98 * self.running_loss + 0.02 * loss
                };
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    if batch % 20 == 0 {
                        let (epochs, batches) = self.run_shape;
                        bar.set_prefix(format!("epoch {epoch}/{epochs}, batch {batch}/{batches}"));
                        bar.set_message(format!("loss {:.4}", self.running_loss));
                    }
                }
            }
            Progress::Epoch(record) => {
                self.println(&record.lab_line());
            }
        }
    }

    /// Handles one event of DBN pretraining: a line per RBM and per epoch, a bar for batches.
    pub fn dbn_progress(&mut self, event: DbnProgress) {
        match event {
            DbnProgress::Layer {
                layer,
                layers,
                n_visible,
                n_hidden,
            } => {
                self.finish();
                self.println(&format!("RBM {layer}/{layers}: {n_visible} → {n_hidden}"));
            }
            DbnProgress::Rbm { layer, event } => match event {
                RbmProgress::Batch {
                    epoch,
                    batch,
                    batches,
                } => {
                    if self.show_bar && self.bar.is_none() {
                        let bar = ProgressBar::with_draw_target(
                            Some(batches as u64),
                            ProgressDrawTarget::stderr(),
                        );
                        let style = ProgressStyle::with_template(
                            "{prefix} [{bar:30}] {pos}/{len} batches  {elapsed}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                        bar.set_style(style);
                        self.bar = Some(bar);
                    }
                    if let Some(bar) = &self.bar {
                        bar.set_prefix(format!("RBM {layer} epoch {epoch}"));
                        bar.set_position(batch as u64);
                    }
                }
                RbmProgress::Epoch(r) => {
                    self.finish();
                    self.println(&format!(
                        "  epoch {:>3}: reconstruction error {:.5}, pseudo-log-likelihood {:.2}, {:.1} s",
                        r.epoch, r.reconstruction_error, r.pseudo_log_likelihood, r.seconds
                    ));
                }
            },
        }
    }

    /// Handles one event of a plan of runs (train, lab, compare, study).
    pub fn run_event(&mut self, event: RunEvent) {
        match event {
            RunEvent::Start {
                index,
                total,
                run,
                how,
            } => {
                let from = start_note(how);
                self.finish();
                self.println(&format!(
                    "\n== run {index}/{total}: {} ({}){from} ==",
                    run.name,
                    run.spec.label()
                ));
            }
            RunEvent::Pretrain {
                dir,
                layers,
                epochs,
            } => self.println(&format!(
                "\n== DBN pretraining into {}: {layers} RBMs, {epochs} epochs each ==",
                dir.display()
            )),
            RunEvent::Dbn(p) => self.dbn_progress(p),
            RunEvent::Train(p) => self.progress(p),
            RunEvent::SideBySide {
                runs,
                jobs,
                threads,
            } => {
                self.finish();
                self.println(&format!(
                    "\n== {runs} run{} to train, {jobs} at a time in worker processes, {threads} libtorch thread{} each ==",
                    plural(runs),
                    plural(threads as usize)
                ));
            }
            RunEvent::WorkerStart {
                index,
                total,
                run,
                how,
                pid,
            } => {
                let tag = format!("[{index}/{total}] {}", run.name);
                self.println(&format!(
                    "{tag} ({}): started{} (worker pid {pid})",
                    run.spec.label(),
                    start_note(how)
                ));
                self.side.insert(run.dir.clone(), tag);
            }
            RunEvent::WorkerEpoch {
                index,
                total,
                run,
                record,
            } => self.println(&format!(
                "[{index}/{total}] {}: {}, test accuracy {:.4}",
                run.name,
                record.lab_line(),
                record.test_accuracy
            )),
            RunEvent::WorkerFailed {
                index,
                total,
                run,
                error,
            } => {
                self.finish();
                eprintln!(
                    "[{index}/{total}] {} failed ({}): {error}",
                    run.name,
                    run.dir.display()
                );
            }
            RunEvent::End(result) => self.run_end(result),
        }
    }

    /// A run ended: its numbers, tagged when it ran side by side.
    fn run_end(&mut self, result: &RunResult) {
        if let Some(tag) = self.side.remove(&result.run.dir) {
            let numbers = (result.history.last())
                .map(|e| {
                    format!(
                        ", accuracy {:.4} (test loss {:.4}, {:.2} s per epoch)",
                        e.test_accuracy,
                        e.test_loss,
                        result.history.seconds_per_epoch()
                    )
                })
                .unwrap_or_default();
            let (status, dir) = (result.status_text(), result.run.dir.display());
            return self.println(&format!("{tag}: {status}{numbers}, {dir}"));
        }
        self.finish();
        let last = result.history.last();
        match (result.status, last) {
            (RunStatus::Complete | RunStatus::Unstable, Some(last)) => {
                self.println("Learning finished");
                let unstable = match result.status {
                    RunStatus::Unstable => format!("; {}", result.status_text()),
                    _ => String::new(),
                };
                self.println(&format!(
                    "Accuracy: {:.4}  (test loss {:.4}, {:.2} s per epoch, {}{unstable})",
                    last.test_accuracy,
                    last.test_loss,
                    result.history.seconds_per_epoch(),
                    result.run.dir.display(),
                ));
            }
            _ => {
                let at = last.map(|e| {
                    let error = e.test_error_percent();
                    format!(", test error {error:.2} % at epoch {}", e.epoch)
                });
                let (name, status) = (&result.run.name, result.status_text());
                self.println(&format!("{name}: {status}{}", at.unwrap_or_default()));
            }
        }
    }

    /// Removes the progress bar.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `""`, or the `s` of a plural.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// How a run starts, as a note after its name: nothing for a fresh run.
fn start_note(how: StartKind) -> String {
    match how {
        StartKind::Fresh => String::new(),
        StartKind::Cached => " — complete, from its directory".into(),
        StartKind::Resumed {
            epochs_done,
            batches_done,
        } => format!(
            " — resuming after epoch {epochs_done}{}",
            if batches_done > 0 {
                format!(", batch {batches_done}")
            } else {
                String::new()
            }
        ),
    }
}

/// The evaluation of a saved run as an aligned plain-text table.
pub fn evaluation_table(run: &TrainedRun, data_dir: &std::path::Path, e: &Evaluation) -> String {
    let mut out = format!(
        "Run:        {} ({})\nTest set:   {} ({} images)\nTest loss:  {:.9}\nAccuracy:   {:.4} ({} of {})\n\n",
        run.dir.display(),
        run.spec.label(),
        data_dir.display(),
        e.examples,
        e.loss,
        e.accuracy,
        e.correct(),
        e.examples
    );
    out.push_str("class  images  correct  accuracy  precision\n");
    let ratio = |v: f64| {
        if v.is_finite() {
            format!("{v:.4}")
        } else {
            "–".to_string()
        }
    };
    for c in &e.per_class {
        out.push_str(&format!(
            "{:>5}  {:>6}  {:>7}  {:>8}  {:>9}\n",
            c.class,
            c.count,
            c.correct,
            ratio(c.accuracy),
            ratio(c.precision)
        ));
    }
    out.pop();
    out
}

/// A prediction as plain text: the image's source (and how it was prepared), the predicted
/// class, then the digit the model saw drawn in characters beside a table of the class
/// probabilities with bars, the predicted class marked.
pub fn prediction_table(p: &Prediction, digit: &Digit) -> String {
    let mut out = format!("Image:       {}\n", p.source);
    if let Some(how) = &digit.preparation {
        out.push_str(&format!("Prepared:    {}\n", preparation_line(how)));
    }
    if let Some(label) = p.label {
        out.push_str(&format!("Label:       {label}\n"));
    }
    out.push_str(&format!(
        "Prediction:  {} (probability {:.6})\n\n",
        p.predicted,
        p.confidence()
    ));
    let mut table = vec!["class  probability".to_string()];
    for (c, prob) in p.probabilities.iter().enumerate() {
        let bar = "█".repeat((prob.clamp(0.0, 1.0) * 20.0).round() as usize);
        let mark = if c as i64 == p.predicted { " <" } else { "" };
        table.push(format!("{c:>5}  {prob:>11.6}  {bar}{mark}"));
    }
    let art = digit_art(digit);
    // The table beside the middle of the digit.
    let first = art.len().saturating_sub(table.len()) / 2;
    let width = art.first().map_or(0, |l| l.chars().count());
    for row in 0..art.len().max(first + table.len()) {
        let left = art.get(row).map_or(" ".repeat(width), |l| l.clone());
        let right = row.checked_sub(first).and_then(|i| table.get(i));
        let line = format!("{left}   {}", right.map_or("", |t| t.as_str()));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

/// What the MNIST recipe did to a picture, in one line.
fn preparation_line(how: &Preparation) -> String {
    let (w, h) = how.source_size;
    let (x, y, bw, bh) = how.ink_box;
    let (sw, sh) = how.scaled;
    format!(
        "{w}×{h} picture, background {}{}; the digit's {bw}×{bh} box at ({x}, {y}) scaled to \
         {sw}×{sh} and centred by its centre of mass{}",
        how.background,
        if how.inverted {
            ", dark on light: inverted"
        } else {
            ""
        },
        if how.clamped {
            " as far as the field's edge allows"
        } else {
            ""
        }
    )
}

/// The digit in characters, one line per row, two characters per pixel, darker to brighter
/// ` .:-=+*#%@` (blank is black).
fn digit_art(digit: &Digit) -> Vec<String> {
    const RAMP: &[u8] = b" .:-=+*#%@";
    let side = digit.side.max(1) as usize;
    digit
        .pixels
        .chunks(side)
        .map(|row| {
            row.iter()
                .map(|&v| {
                    let level = (v.clamp(0.0, 1.0) * (RAMP.len() - 1) as f32).round() as usize;
                    let c = RAMP[level] as char;
                    format!("{c}{c}")
                })
                .collect()
        })
        .collect()
}

/// A plain-text table with columns padded to their widest cell; the columns listed in `right`
/// are right-aligned (numbers).
pub fn aligned(head: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if right.contains(&i) {
                s.push_str(&pad);
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&pad);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string()
    };
    let mut out = line(head.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// `inspect`'s terminal summary: per init, the activation and gradient std of the first and last
/// layer and the fewest distinct units of a hidden layer (the whole table is in inspect.md).
pub fn inspect_table(result: &initlab::experiments::inspect::InspectResult) -> String {
    let g = |x: f64| format!("{x:.3e}");
    let rows: Vec<Vec<String>> = result
        .inspections
        .iter()
        .map(|i| {
            let (first, last) = (i.layers.first(), i.layers.last());
            let hidden = &i.layers[..i.layers.len().saturating_sub(1)];
            vec![
                i.init.to_string(),
                first.map_or("—".into(), |l| g(l.activation_std)),
                last.map_or("—".into(), |l| g(l.activation_std)),
                first.map_or("—".into(), |l| g(l.gradient_std)),
                last.map_or("—".into(), |l| g(l.gradient_std)),
                hidden
                    .iter()
                    .map(|l| format!("{}/{}", l.distinct_activations, l.width))
                    .min_by_key(|s| s.split('/').next().and_then(|n| n.parse::<usize>().ok()))
                    .unwrap_or("—".into()),
            ]
        })
        .collect();
    aligned(
        &[
            "init",
            "act std L1",
            "act std out",
            "grad std L1",
            "grad std out",
            "fewest distinct units",
        ],
        &rows,
        &[1, 2, 3, 4, 5],
    )
}

/// `pretrain`'s terminal summary: per RBM, its size and its first and last monitoring values.
pub fn pretrain_table(dbn: &initlab::pretraining::dbn::Dbn) -> String {
    let rows: Vec<Vec<String>> = dbn
        .rbms
        .iter()
        .zip(&dbn.histories)
        .enumerate()
        .map(|(l, (_, h))| {
            let first = h.initial.as_ref().or(h.epochs.first());
            let last = h.epochs.last();
            vec![
                format!("RBM {}", l + 1),
                format!("{}-{}", dbn.widths[l], dbn.widths[l + 1]),
                h.epochs.len().to_string(),
                first.map_or("—".into(), |r| format!("{:.4}", r.reconstruction_error)),
                last.map_or("—".into(), |r| format!("{:.4}", r.reconstruction_error)),
                last.map_or("—".into(), |r| format!("{:.1}", r.pseudo_log_likelihood)),
                format!("{:.1}", h.epochs.iter().map(|r| r.seconds).sum::<f64>()),
            ]
        })
        .collect();
    aligned(
        &[
            "layer",
            "visible-hidden",
            "epochs",
            "recon. error start",
            "end",
            "pseudo-LL end",
            "seconds",
        ],
        &rows,
        &[2, 3, 4, 5, 6],
    )
}

/// `initlab doctor`'s report as plain text: one line per fact (`ok`, `note` or `MISSING`), its
/// details indented below, then what to do, and a closing verdict.
pub fn doctor_report(report: &Report) -> String {
    let width = report
        .findings
        .iter()
        .map(|f| f.topic.chars().count())
        .max()
        .unwrap_or(0);
    let indent = " ".repeat(9 + width + 2);
    let mut out = String::from("initlab doctor (paste this into a bug report)\n\n");
    for f in &report.findings {
        let mark = match f.verdict {
            Verdict::Ok => "ok",
            Verdict::Note => "note",
            Verdict::Missing => "MISSING",
        };
        out.push_str(&format!("{mark:<7}  {:<width$}  {}\n", f.topic, f.value));
        for d in &f.details {
            out.push_str(&format!("{indent}{d}\n"));
        }
        if let Some(advice) = &f.advice {
            out.push_str(&format!("{indent}fix: {advice}\n"));
        }
    }
    let missing: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.verdict == Verdict::Missing)
        .map(|f| f.topic)
        .collect();
    out.push('\n');
    if missing.is_empty() {
        out.push_str("Everything initlab needs is in place.");
    } else {
        out.push_str(&format!(
            "Missing: {} (see the fix lines above).",
            missing.join(", ")
        ));
    }
    out
}
