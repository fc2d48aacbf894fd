//! The machines a plan's runs were trained on, said out loud in its summary, its report page
//! and after `--gather`: one line when every run was trained on one kind of machine, else a
//! table of the kinds with the runs of each, as runs trained on different oneMKL kernel
//! families, thread counts or oneMKL dispatches are statistically comparable, not
//! bit-comparable (the order and rounding of their floating-point sums differ). A run resumed
//! on another kind of machine ([`crate::engine::rundir::RunRecord::trained_on`]) is in the row
//! of each, and named as matching no uninterrupted run bit for bit.
//!
//! One place decides it ([`Machines::of`]); `compare`, `study` and `lab` write it whether they
//! trained the runs or gathered them from a cluster.

use std::fmt::Write as _;

use crate::base::output::table::{markdown_text, Table};
use crate::engine::executor::RunResult;
use crate::engine::rundir::Machine;
use crate::experiments::report_html::Block;

/// The kinds of machine a plan's runs were trained on.
#[derive(Debug, Clone, PartialEq)]
pub struct Machines {
    /// Each kind, in order of first use, with the names of the runs trained on it.
    pub groups: Vec<(Machine, Vec<String>)>,
    /// The runs trained on more than one kind (resumed elsewhere), in plan order.
    pub mixed: Vec<String>,
    /// Runs with a recorded machine.
    pub runs: usize,
}

/// The section's heading.
pub const HEADING: &str = "Machines";

impl Machines {
    /// The machines of `runs` ([`RunResult::machines`]).
    pub fn of<'a>(runs: impl IntoIterator<Item = &'a RunResult>) -> Machines {
        let named: Vec<(String, Vec<Machine>)> = runs
            .into_iter()
            .map(|r| (r.run.name.clone(), r.machines.clone()))
            .collect();
        Machines::of_named(&named)
    }

    /// The machines of runs given as (name, machines it was trained on); a run with none
    /// recorded is left out.
    pub fn of_named(runs: &[(String, Vec<Machine>)]) -> Machines {
        let mut groups: Vec<(Machine, Vec<String>)> = Vec::new();
        let mut mixed = Vec::new();
        let mut counted = 0;
        for (name, machines) in runs {
            counted += usize::from(!machines.is_empty());
            if machines.len() > 1 {
                mixed.push(name.clone());
            }
            for m in machines {
                match groups.iter_mut().find(|(g, _)| g == m) {
                    Some((_, names)) => names.push(name.clone()),
                    None => groups.push((m.clone(), vec![name.clone()])),
                }
            }
        }
        Machines {
            groups,
            mixed,
            runs: counted,
        }
    }

    /// Whether every run was trained on one kind of machine (then they are bit-comparable as
    /// far as the machine goes). A run resumed elsewhere makes two kinds.
    pub fn uniform(&self) -> bool {
        self.groups.len() <= 1
    }

    /// The headline: the one kind of machine, or how many kinds and what follows. `cpu` writes
    /// a CPU's name into the text (escaped for Markdown, or as it is). Empty with no run.
    fn headline(&self, cpu: impl Fn(&str) -> String) -> String {
        match (self.groups.first(), self.uniform()) {
            (None, _) => String::new(),
            (Some((m, _)), true) => format!(
                "{} trained on one kind of machine: oneMKL kernels `{}`, {}, {}, oneMKL dispatch \
                 `{}`.",
                match self.runs {
                    1 => "The run was".to_string(),
                    n => format!("All {n} runs were"),
                },
                family(m),
                cpu(&m.cpu),
                threads(m.threads),
                m.mkl_dispatch
            ),
            (Some(_), false) => format!(
                "The runs were trained on {} kinds of machine: they are statistically comparable, \
                 not bit-comparable (the oneMKL kernel family, the thread count and the dispatch \
                 change the order and rounding of floating-point sums).",
                self.groups.len()
            ),
        }
    }

    /// The table of kinds (only said when there are several): kernel family, CPU, threads,
    /// dispatch, runs.
    pub fn table(&self) -> Table {
        let mut table = Table::new(&[
            ("oneMKL kernels", false),
            ("CPU", false),
            ("threads", true),
            ("oneMKL dispatch", false),
            ("runs", false),
        ]);
        for (m, names) in &self.groups {
            table.push(vec![
                family(m).into(),
                m.cpu.clone().into(),
                m.threads.to_string().into(),
                m.mkl_dispatch.to_string().into(),
                names.join(", ").into(),
            ]);
        }
        table
    }

    /// The runs resumed on another kind of machine, when there are any.
    fn mixed_note(&self) -> Option<String> {
        (!self.mixed.is_empty()).then(|| {
            format!(
                "Trained on more than one kind of machine (resumed elsewhere, so in more than one \
                 row), and bit-identical to no uninterrupted run: {}.",
                self.mixed.join(", ")
            )
        })
    }

    /// The section of `summary.md` (`## Machines`, the headline, and when the runs differ the
    /// table and the runs resumed elsewhere); empty with no run.
    pub fn markdown(&self) -> String {
        if self.groups.is_empty() {
            return String::new();
        }
        let mut md = format!("\n## {HEADING}\n\n{}\n", self.headline(markdown_text));
        if !self.uniform() {
            md.push('\n');
            md.push_str(&self.table().markdown());
        }
        if let Some(note) = self.mixed_note() {
            let _ = writeln!(md, "\n{}", markdown_text(&note));
        }
        md
    }

    /// The same section as report-page blocks.
    pub fn blocks(&self) -> Vec<Block> {
        if self.groups.is_empty() {
            return Vec::new();
        }
        let mut blocks = vec![
            Block::Heading(HEADING.into()),
            Block::Text(self.headline(str::to_string)),
        ];
        if !self.uniform() {
            blocks.push(Block::Table(self.table()));
        }
        blocks.extend(self.mixed_note().map(Block::Text));
        blocks
    }

    /// The same as plain lines for a terminal: the headline, then one line per kind.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.headline(str::to_string).replace('`', "")];
        if !self.uniform() {
            for (m, names) in &self.groups {
                lines.push(format!(
                    "  oneMKL kernels {}, {}, {}, oneMKL dispatch {}: {}",
                    family(m),
                    m.cpu,
                    threads(m.threads),
                    m.mkl_dispatch,
                    names.join(", ")
                ));
            }
        }
        lines.extend(self.mixed_note());
        lines.retain(|l| !l.is_empty());
        lines
    }
}

/// The kernel family's name, `unrecorded` in runs from before initlab recorded it.
fn family(m: &Machine) -> &str {
    m.kernel_family.as_deref().unwrap_or("unrecorded")
}

/// `1 libtorch thread`, `2 libtorch threads`.
fn threads(n: i32) -> String {
    format!("{n} libtorch thread{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::parity::mkl::MklDispatch;

    fn machine(family: &str, threads: i32) -> Machine {
        Machine {
            kernel_family: Some(family.into()),
            cpu: "Intel(R) Xeon(R) CPU @ 2.90GHz".into(),
            threads,
            mkl_dispatch: MklDispatch::IntelPath,
        }
    }

    fn named(runs: &[(&str, Vec<Machine>)]) -> Machines {
        let runs: Vec<(String, Vec<Machine>)> = runs
            .iter()
            .map(|(n, m)| (n.to_string(), m.clone()))
            .collect();
        Machines::of_named(&runs)
    }

    #[test]
    fn runs_on_one_kind_of_machine_are_said_in_one_line() {
        let m = machine("avx512", 2);
        let all = named(&[("a", vec![m.clone()]), ("b", vec![m.clone()])]);
        assert!(all.uniform());
        let md = all.markdown();
        assert_eq!(
            md,
            "\n## Machines\n\nAll 2 runs were trained on one kind of machine: oneMKL kernels \
             `avx512`, Intel(R) Xeon(R) CPU @ 2.90GHz, 2 libtorch threads, oneMKL dispatch \
             `intel-path`.\n"
        );
        assert!(!md.contains('|'), "no table: {md}");
        assert_eq!(all.lines().len(), 1);
        assert_eq!(all.blocks().len(), 2);
        let one = named(&[("a", vec![m])]);
        assert!(one.markdown().contains("The run was trained on one kind"));
        assert_eq!(named(&[]).markdown(), "");
        assert!(named(&[]).lines().is_empty());
    }

    #[test]
    fn runs_on_different_machines_are_listed_in_a_table() {
        let (a, b) = (machine("avx512", 2), machine("avx2", 2));
        let mut c = machine("avx512", 1);
        c.mkl_dispatch = MklDispatch::Stock;
        let runs = named(&[
            ("r1", vec![a.clone()]),
            ("r2", vec![b.clone()]),
            ("r3", vec![a.clone()]),
            ("r4", vec![c]),
        ]);
        assert!(!runs.uniform());
        let md = runs.markdown();
        assert!(md.contains("trained on 3 kinds of machine"), "{md}");
        assert!(md.contains("not bit-comparable"), "{md}");
        assert!(
            md.contains("| oneMKL kernels | CPU | threads | oneMKL dispatch | runs |"),
            "{md}"
        );
        assert!(
            md.contains("| avx512 | Intel(R) Xeon(R) CPU @ 2.90GHz | 2 | intel-path | r1, r3 |"),
            "{md}"
        );
        assert!(
            md.contains("| avx2 | Intel(R) Xeon(R) CPU @ 2.90GHz | 2 | intel-path | r2 |"),
            "{md}"
        );
        assert!(
            md.contains("| avx512 | Intel(R) Xeon(R) CPU @ 2.90GHz | 1 | stock | r4 |"),
            "{md}"
        );
        assert!(!md.contains("more than one kind"), "{md}");
        assert_eq!(runs.lines().len(), 4);
        assert!(matches!(runs.blocks()[2], Block::Table(_)));
    }

    #[test]
    fn a_run_resumed_on_another_machine_is_mixed_even_alone() {
        let (a, b) = (machine("avx512", 2), machine("avx2", 2));
        let runs = named(&[("r1", vec![a.clone()]), ("r2", vec![a, b])]);
        assert!(!runs.uniform());
        assert_eq!(runs.mixed, ["r2"]);
        let md = runs.markdown();
        assert!(md.contains("| r1, r2 |") && md.contains("| r2 |"), "{md}");
        assert!(
            md.contains("bit-identical to no uninterrupted run: r2."),
            "{md}"
        );
        // One run resumed across two machines is not "one kind of machine" either.
        let alone = named(&[("r2", runs.groups.iter().map(|(m, _)| m.clone()).collect())]);
        assert!(!alone.uniform());
        assert!(alone.markdown().contains("2 kinds of machine"));
    }
}
