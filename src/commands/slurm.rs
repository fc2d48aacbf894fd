//! `--slurm DIR` of the plan commands: the plan's runs that are not complete become a Slurm job
//! array, the same command with `--gather` the job after it ([`initlab::engine::slurm`]); and
//! `--gather`'s list of the machines the runs were trained on.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use initlab::base::parity::mkl;
use initlab::engine::executor::{Executor, PlannedRun, RunResult};
use initlab::engine::gather;
use initlab::engine::slurm::{self, JobFolder, SiteConfig, Task};
use initlab::engine::workers;
use initlab::experiments::machines::Machines;

use crate::cli::{self, PlanOutArgs, SLURM_SWITCHES, SLURM_VALUE_FLAGS};
use crate::commands::Done;
use crate::console;

/// What `--slurm` needs from a plan command besides its plan.
pub struct Planner<'a> {
    /// `compare`, `study` or `lab` (the jobs' names).
    pub name: &'a str,
    /// Runs at once in the command (the threads of each run follow from it).
    pub jobs: usize,
    /// The command's run flags (checkpoints, monitoring).
    pub run_args: &'a cli::RunArgs,
    /// The command's `--slurm` flags.
    pub out: &'a PlanOutArgs,
    /// The lab's DBN job, when its DBN is not pretrained yet: its work (for the time limit).
    pub pretrain_work: Option<f64>,
}

/// Writes the job folder of `plan` into `dir` (and submits it with `--submit`), printing what
/// was written and the command that submits it.
pub fn write_jobs(
    executor: &Executor,
    plan: &[PlannedRun],
    planner: &Planner,
    dir: &Path,
) -> Result<Done> {
    let site = site_config(planner.out)?;
    let exe = match &site.initlab {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("finding initlab's own path")?,
    };
    let threads = workers::threads_per_job(tch::get_num_threads(), planner.jobs);
    let dispatch = mkl::dispatch();
    let train_images = executor.data.train.len();
    let mut tasks = Vec::new();
    let mut finished = Vec::new();
    let mut most_work: f64 = 0.0;
    for run in plan {
        let work = workers::run_work(&run.spec, train_images);
        match gather::final_record(run, &run.spec.hash(), threads, dispatch) {
            Ok(record) => finished.push((work, record.seconds)),
            Err(_) => {
                let command = super::plans::train_command(&exe, run, planner.run_args)?;
                let dir = std::path::absolute(&run.dir)
                    .with_context(|| format!("making {} absolute", run.dir.display()))?;
                tasks.push(Task { dir, command });
                most_work = most_work.max(work);
            }
        }
    }
    let rate = (site.rate)
        .or_else(|| slurm::measured_rate(&finished))
        .unwrap_or(slurm::DEFAULT_RATE);
    let base = planner_argv(&exe)?;
    let with = |extra: &[&str]| -> Vec<String> {
        let mut words = vec![
            "env".to_string(),
            format!("{}={}", mkl::DISPATCH_VARIABLE, dispatch.as_str()),
        ];
        words.extend(base.iter().cloned());
        words.extend(extra.iter().map(|s| s.to_string()));
        words.extend(["--jobs".into(), "1".into()]);
        words
    };
    let folder = JobFolder {
        dir: std::path::absolute(dir)
            .with_context(|| format!("making {} absolute", dir.display()))?,
        name: format!("initlab-{}", planner.name),
        tasks,
        threads,
        minutes: slurm::time_minutes(most_work, rate),
        gather: with(&["--quiet", "--gather"]),
        pretrain: planner.pretrain_work.map(|w| {
            (
                with(&["--quiet", "--pretrain-only"]),
                slurm::time_minutes(w, rate),
            )
        }),
        workdir: std::env::current_dir().context("finding the working directory")?,
        site,
    };
    folder.write()?;
    report(&folder, plan.len(), rate, planner.out.submit)
}

/// Prints what the job folder holds, then submits it (`submit`) or prints how to.
fn report(folder: &JobFolder, runs: usize, rate: f64, submit: bool) -> Result<Done> {
    let n = folder.tasks.len();
    console::emit!(
        "{n} of {runs} runs to train as Slurm array tasks ({} thread(s) each, time limit {} min at \
         {rate:.3e} multiply-adds/s); {} complete already.",
        folder.threads,
        folder.minutes,
        runs - n
    )?;
    if folder.pretrain.is_some() {
        console::emit!("The DBN is pretrained first, in its own job.")?;
    }
    console::emit!("Job scripts: {}", folder.dir.display())?;
    let submit_sh = folder.dir.join(slurm::SUBMIT_SCRIPT);
    if !submit {
        console::emit!(
            "Submit with: sh {}",
            crate::commands::shell_word(&submit_sh)
        )?;
        return Ok(Done::Ok);
    }
    for (script, id) in folder.submit()? {
        console::emit!("Submitted {script}: job {id}")?;
    }
    console::emit!(
        "Watch with: squeue --me; the gathering job's report: {}",
        folder
            .dir
            .join(slurm::LOG_DIR)
            .join("gather-<job>.out")
            .display()
    )?;
    Ok(Done::Ok)
}

/// `--slurm-config`'s settings (if any) with the flags' over them, checked.
fn site_config(out: &PlanOutArgs) -> Result<SiteConfig> {
    let file = match &out.slurm_config {
        Some(f) => SiteConfig::read(f)?,
        None => SiteConfig::default(),
    };
    let site = file.overridden_by(SiteConfig {
        partition: out.partition.clone(),
        account: out.account.clone(),
        qos: out.qos.clone(),
        sbatch: out.sbatch.clone(),
        modules: out.modules.clone(),
        ..SiteConfig::default()
    });
    site.check()?;
    Ok(site)
}

/// This process's command line as the planner command a job runs: `exe` in place of the
/// program, without `--slurm`'s flags ([`without_slurm_flags`]).
fn planner_argv(exe: &Path) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for a in std::env::args_os().skip(1) {
        let text = a.into_string().map_err(|a| {
            anyhow::anyhow!(
                "--slurm cannot write the argument {:?} into a script: it is not valid UTF-8",
                PathBuf::from(a).display()
            )
        })?;
        args.push(text);
    }
    let exe = exe
        .to_str()
        .with_context(|| format!("initlab's path {} is not valid UTF-8", exe.display()))?;
    let mut argv = vec![exe.to_string()];
    argv.extend(without_slurm_flags(&args));
    Ok(argv)
}

/// `args` without the flags of `--slurm` (with their values, as `--flag V` or `--flag=V`) and
/// without `--jobs`/`-j` (the jobs set their own), in order.
pub fn without_slurm_flags(args: &[String]) -> Vec<String> {
    let mut kept = Vec::new();
    let mut skip_value = false;
    for a in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let name = a.split('=').next().unwrap_or(a);
        let valued = SLURM_VALUE_FLAGS.contains(&name) || name == "--jobs" || name == "-j";
        if valued {
            skip_value = !a.contains('=');
            continue;
        }
        let short_jobs = a.starts_with("-j") && a.len() > 2 && !a.starts_with("--");
        if SLURM_SWITCHES.contains(&a.as_str()) || short_jobs {
            continue;
        }
        kept.push(a.clone());
    }
    kept
}

/// After `--gather`: the machines the runs were trained on ([`Machines`], the same section as
/// the summary's); more than one kind is said out loud.
pub fn print_machines<'a>(results: impl Iterator<Item = &'a RunResult>) -> Result<()> {
    for line in Machines::of(results).lines() {
        console::emit!("{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::without_slurm_flags;

    fn strip(args: &str) -> String {
        let args: Vec<String> = args.split(' ').map(String::from).collect();
        without_slurm_flags(&args).join(" ")
    }

    #[test]
    fn the_gathering_command_is_the_planners_without_slurms_flags() {
        assert_eq!(
            strip("compare --seeds 2 --slurm jobs --submit --epochs 3"),
            "compare --seeds 2 --epochs 3"
        );
        assert_eq!(
            strip(
                "study he --slurm=jobs --partition p --qos=q --sbatch=--mem=4G --module gcc -j 2"
            ),
            "study he"
        );
        assert_eq!(
            strip("compare --jobs=2 -j2 --account a --slurm-config s.toml --out o"),
            "compare --out o"
        );
        assert_eq!(strip("lab --sbatch --mem=1G --quiet"), "lab --quiet");
    }
}
