//! Runs of a plan grouped by configuration, each group with its seeds' histories: what the
//! charts of `compare`, `lab` and `study` and the report page draw one band per configuration
//! from.

use crate::base::train::chart::SeedCurves;
use crate::engine::executor::RunResult;
use crate::engine::rundir::{EndDetail, RunStatus};

/// The runs grouped by configuration (consecutive runs with the same `label`, as planned), one
/// group per configuration with its seeds' histories; labels of groups with a diverged or
/// unstable run say how many.
pub fn seed_groups(results: &[RunResult], label: impl Fn(&RunResult) -> String) -> Vec<SeedCurves> {
    let mut groups: Vec<(String, Vec<&RunResult>)> = Vec::new();
    for r in results {
        let l = label(r);
        match groups.last_mut() {
            Some((last, rs)) if *last == l => rs.push(r),
            _ => groups.push((l, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(l, rs)| {
            let diverged: Vec<usize> = rs
                .iter()
                .filter_map(|r| match &r.detail {
                    Some(EndDetail::Diverged { epoch, .. }) => Some(*epoch),
                    _ => None,
                })
                .collect();
            let unstable = rs
                .iter()
                .filter(|r| r.status == RunStatus::Unstable)
                .count();
            let mut label = l;
            match (diverged.as_slice(), rs.len()) {
                ([], _) => {}
                ([epoch], 1) => label.push_str(&format!(" (diverged, epoch {epoch})")),
                (d, n) => label.push_str(&format!(" ({} of {n} diverged)", d.len())),
            }
            if unstable > 0 {
                label.push_str(&format!(" ({unstable} unstable)"));
            }
            SeedCurves {
                label,
                histories: rs.iter().map(|r| r.history.clone()).collect(),
            }
        })
        .collect()
}
