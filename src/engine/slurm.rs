//! A plan as Slurm batch jobs (`--slurm DIR`): a job array with one task per run that is not
//! complete, and a gathering job that runs after it (`--dependency=afterany:<array>`) and draws
//! the summary without training anything ([`crate::engine::gather`]). The lab's DBN, when it is
//! not pretrained yet, is a first job the array waits for (`afterok`).
//!
//! Each task `exec`s its `initlab train` command, so the batch step *is* initlab: the signal
//! Slurm sends before the time limit (`--signal=B:TERM@60`) or on `scontrol requeue`, preemption
//! or `scancel` reaches it once, and it saves a checkpoint and stops; with `--requeue` the task
//! starts again and resumes from it, ending bit-identical to a run never stopped. Everything
//! site-specific (partition, account, QoS, extra `#SBATCH` lines, modules, the initlab binary on
//! the nodes) comes from [`SiteConfig`], read from flags or a small TOML or JSON file — the
//! scripts are written, never edited.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::output::io;

/// File names in a job folder, decided here.
pub const ARRAY_SCRIPT: &str = "array.sbatch";
/// The gathering job.
pub const GATHER_SCRIPT: &str = "gather.sbatch";
/// The lab's DBN pretraining job.
pub const PRETRAIN_SCRIPT: &str = "pretrain.sbatch";
/// Submits the jobs in order, with their dependencies.
pub const SUBMIT_SCRIPT: &str = "submit.sh";
/// The batch scripts' own output (before a task's `exec`, and the gathering job's).
pub const LOG_DIR: &str = "logs";

/// Seconds before the time limit at which Slurm asks a task to stop (`--signal=B:TERM@60`).
pub const SIGNAL_BEFORE_S: u32 = 60;
/// Time limit of the gathering job and of the lab's DBN job's margin, in minutes.
pub const GATHER_MINUTES: u64 = 20;

/// Site settings of the batch scripts. `Default`: none, the cluster's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SiteConfig {
    /// `--partition`.
    #[serde(default)]
    pub partition: Option<String>,
    /// `--account`.
    #[serde(default)]
    pub account: Option<String>,
    /// `--qos`.
    #[serde(default)]
    pub qos: Option<String>,
    /// Extra `#SBATCH` options, one each (`--mem=4G`, `--constraint=avx512`).
    #[serde(default)]
    pub sbatch: Vec<String>,
    /// Environment modules loaded before initlab starts (`module load NAME`).
    #[serde(default)]
    pub modules: Vec<String>,
    /// The initlab binary on the compute nodes (default: this process's own path).
    #[serde(default)]
    pub initlab: Option<PathBuf>,
    /// Work (forward multiply-adds, [`crate::engine::workers::run_work`]) per second of one run
    /// on the nodes, for the time limits (default: measured from the plan's finished runs, else
    /// [`DEFAULT_RATE`]).
    #[serde(default)]
    pub rate: Option<f64>,
}

/// A site setting that cannot go into a batch script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SiteError {
    /// The settings file is neither TOML nor JSON by its name.
    #[error("{file}: site settings are read from a .toml or .json file")]
    UnknownFormat {
        /// The file.
        file: PathBuf,
    },
    /// The file does not parse.
    #[error("{file}: {why}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The parser's message.
        why: String,
    },
    /// A value would change the script's meaning.
    #[error("site setting {key} = {value:?}: {why}")]
    BadValue {
        /// The setting.
        key: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// Largest settings file read.
const MAX_SITE_BYTES: u64 = 64 << 10;

impl SiteConfig {
    /// Reads and checks a settings file: `.toml` or `.json` by its name; unknown keys, values
    /// of the wrong type and values that cannot go into a script are errors naming the file.
    pub fn read(file: &Path) -> Result<SiteConfig> {
        let bytes = io::read_bounded(file, MAX_SITE_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|_| SiteError::Syntax {
            file: file.to_path_buf(),
            why: "not UTF-8 text".into(),
        })?;
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
        Ok(SiteConfig::parse(&text, ext, file)?)
    }

    /// [`SiteConfig::read`] of `text` with extension `ext` (`toml` or `json`), named `file`.
    pub fn parse(text: &str, ext: &str, file: &Path) -> std::result::Result<Self, SiteError> {
        let syntax = |why: String| SiteError::Syntax {
            file: file.to_path_buf(),
            why,
        };
        let config: SiteConfig = match ext.to_ascii_lowercase().as_str() {
            "toml" => toml::from_str(text).map_err(|e| syntax(e.message().to_string()))?,
            "json" => serde_json::from_str(text).map_err(|e| syntax(e.to_string()))?,
            _ => {
                return Err(SiteError::UnknownFormat {
                    file: file.to_path_buf(),
                })
            }
        };
        config.check()?;
        Ok(config)
    }

    /// `self` with each setting of `flags` that is given in its place (lists added to).
    pub fn overridden_by(mut self, flags: SiteConfig) -> SiteConfig {
        self.partition = flags.partition.or(self.partition);
        self.account = flags.account.or(self.account);
        self.qos = flags.qos.or(self.qos);
        self.sbatch.extend(flags.sbatch);
        self.modules.extend(flags.modules);
        self.initlab = flags.initlab.or(self.initlab);
        self.rate = flags.rate.or(self.rate);
        self
    }

    /// Refuses values that would change a script's meaning: a line break anywhere, a name with
    /// characters Slurm does not allow, an extra option that is not one `--option`, a module
    /// name that is not one word, a rate that is not a positive number.
    pub fn check(&self) -> std::result::Result<(), SiteError> {
        let bad = |key, value: &str, why| SiteError::BadValue {
            key,
            value: value.into(),
            why,
        };
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.,:+".contains(c))
        };
        for (key, value) in [
            ("partition", &self.partition),
            ("account", &self.account),
            ("qos", &self.qos),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !name_ok(v)) {
                return Err(bad(key, v, "use letters, digits and _ - . , : + only"));
            }
        }
        for line in &self.sbatch {
            let one = line.starts_with("--") && !line.chars().any(|c| c.is_control());
            if !one || line.contains(char::is_whitespace) {
                return Err(bad("sbatch", line, "each entry is one --option[=value]"));
            }
        }
        for m in &self.modules {
            let word = !m.is_empty() && m.chars().all(|c| c.is_ascii_graphic() && c != '\'');
            if !word {
                return Err(bad("modules", m, "a module name is one word"));
            }
        }
        if let Some(p) = &self.initlab {
            let text = p.to_string_lossy();
            if p.to_str().is_none() || text.chars().any(|c| c.is_control()) || !p.is_absolute() {
                return Err(bad("initlab", &text, "an absolute UTF-8 path on one line"));
            }
        }
        if let Some(r) = self.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(bad("rate", &r.to_string(), "a positive number"));
        }
        Ok(())
    }

    /// The `#SBATCH` lines of these settings.
    fn sbatch_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (flag, value) in [
            ("partition", &self.partition),
            ("account", &self.account),
            ("qos", &self.qos),
        ] {
            if let Some(v) = value {
                lines.push(format!("#SBATCH --{flag}={v}"));
            }
        }
        lines.extend(self.sbatch.iter().map(|l| format!("#SBATCH {l}")));
        lines
    }

    /// The shell lines that load the modules.
    fn module_lines(&self) -> Vec<String> {
        self.modules
            .iter()
            .map(|m| format!("module load '{m}'"))
            .collect()
    }
}

/// Work per second of one run assumed when neither the site nor the plan's finished runs say:
/// 5·10⁸ forward multiply-adds a second, about a fifth of what the lab's shallow net made with
/// one thread on the 2-core Xeon here (784-256-256-10, 4 epochs of 12,000 images: 1.29·10¹⁰ in
/// 5.27 s of run.json, 2.4·10⁹ a second), so that a slower or busier node still fits.
pub const DEFAULT_RATE: f64 = 5e8;

/// Minutes for a task of `work` at `rate` per second ([`time_minutes`]): three times the
/// estimate, plus 5 minutes for starting, loading the data and the last checkpoint, at least
/// 10, rounded up to the minute. Pure arithmetic; the rate is measured ([`measured_rate`]).
pub fn time_minutes(work: f64, rate: f64) -> u64 {
    let seconds = 3.0 * work / rate + 300.0;
    (seconds / 60.0).ceil().max(10.0) as u64
}

/// The slowest rate of finished runs, each given as (work, wall seconds): work per second.
/// `None` when no run has both.
pub fn measured_rate(runs: &[(f64, f64)]) -> Option<f64> {
    runs.iter()
        .filter(|(w, s)| *w > 0.0 && *s > 0.0)
        .map(|(w, s)| w / s)
        .reduce(f64::min)
}

/// One task of the array: the run directory it writes and its command, one word each.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The run's directory (absolute).
    pub dir: PathBuf,
    /// The command, its words unquoted.
    pub command: Vec<String>,
}

/// A plan's job folder, written by [`JobFolder::write`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobFolder {
    /// The folder (absolute).
    pub dir: PathBuf,
    /// Job name prefix (`initlab-compare`).
    pub name: String,
    /// The tasks: the runs not complete.
    pub tasks: Vec<Task>,
    /// libtorch threads of each run (`--cpus-per-task`, `OMP_NUM_THREADS`).
    pub threads: i32,
    /// The array's time limit, minutes.
    pub minutes: u64,
    /// The gathering command, one word each.
    pub gather: Vec<String>,
    /// The lab's DBN pretraining command when it must run first, with its minutes.
    pub pretrain: Option<(Vec<String>, u64)>,
    /// The directory the jobs start in (relative paths of `gather` are read from there).
    pub workdir: PathBuf,
    /// Site settings.
    pub site: SiteConfig,
}

/// `s` as one POSIX shell word (single quotes unless plainly safe).
fn quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./,:+@%=".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn words(command: &[String]) -> String {
    command
        .iter()
        .map(|w| quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `p` is absolute and UTF-8 with only letters, digits and `_ - . / , : + @ =`: safe
/// in an `#SBATCH` line (no space, quote or `%`, which Slurm expands in file names).
pub fn plain(p: &Path) -> bool {
    p.is_absolute()
        && p.to_str().is_some_and(|s| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./,:+@=".contains(c))
        })
}

/// Text of a path in a script; the caller has made every path UTF-8 ([`JobFolder`]).
fn text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl JobFolder {
    /// The lines every script starts with: the interpreter, the job's options and the site's.
    fn header(&self, job: &str, cpus: i32, minutes: u64, output: &str) -> Vec<String> {
        let mut lines = vec![
            "#!/bin/bash".to_string(),
            format!("#SBATCH --job-name={}-{job}", self.name),
            "#SBATCH --ntasks=1".into(),
            format!("#SBATCH --cpus-per-task={cpus}"),
            format!("#SBATCH --time={minutes}"),
            // sbatch reads these lines itself, without a shell: the paths are plain ([`plain`]).
            format!("#SBATCH --chdir={}", text(&self.workdir)),
            format!(
                "#SBATCH --output={}",
                text(&self.dir.join(LOG_DIR).join(output))
            ),
            "#SBATCH --open-mode=append".into(),
        ];
        lines.extend(self.site.sbatch_lines());
        lines.push(
            "# Written by initlab; write it again with the same command rather than editing it."
                .into(),
        );
        lines.push("set -eu".into());
        lines.extend(self.site.module_lines());
        lines.push(format!("export OMP_NUM_THREADS={cpus}"));
        lines
    }

    /// The array's script: one `case` per task, each `exec`ing its command with its output next
    /// to its run directory.
    pub fn array_script(&self) -> String {
        let mut lines = self.header("runs", self.threads, self.minutes, "task-%A_%a.out");
        lines.insert(
            1,
            format!("#SBATCH --array=0-{}", self.tasks.len().max(1) - 1),
        );
        lines.insert(2, "#SBATCH --requeue".into());
        lines.insert(3, format!("#SBATCH --signal=B:TERM@{SIGNAL_BEFORE_S}"));
        lines.push("case \"${SLURM_ARRAY_TASK_ID:?}\" in".into());
        for (i, task) in self.tasks.iter().enumerate() {
            lines.push(format!("{i}) run={}", quote(&text(&task.dir))));
            lines.push(format!("   set -- {} ;;", words(&task.command)));
        }
        lines.push("*) echo \"no task $SLURM_ARRAY_TASK_ID in this array\" >&2; exit 2 ;;".into());
        lines.push("esac".into());
        lines.push("mkdir -p \"$(dirname \"$run\")\"".into());
        lines.push(
            "echo \"$(date -u +%FT%TZ) task $SLURM_ARRAY_TASK_ID, job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, on $(hostname): $run\""
                .into(),
        );
        lines.push(
            "# exec: Slurm's TERM reaches initlab itself, which checkpoints and stops.".into(),
        );
        lines.push("exec \"$@\" >>\"$run.slurm.out\" 2>>\"$run.slurm.err\"".into());
        lines.join("\n") + "\n"
    }

    /// The gathering job's script.
    pub fn gather_script(&self) -> String {
        let mut lines = self.header("gather", self.threads, GATHER_MINUTES, "gather-%j.out");
        lines.push(format!("exec {}", words(&self.gather)));
        lines.join("\n") + "\n"
    }

    /// The DBN job's script, when the lab's DBN is not pretrained yet.
    pub fn pretrain_script(&self) -> Option<String> {
        let (command, minutes) = self.pretrain.as_ref()?;
        let mut lines = self.header("dbn", self.threads, *minutes, "dbn-%j.out");
        lines.insert(1, "#SBATCH --requeue".into());
        lines.push(format!("exec {}", words(command)));
        Some(lines.join("\n") + "\n")
    }

    /// `submit.sh`: submits the jobs in order, each waiting for the one before, and prints their
    /// ids; one command submits the plan.
    pub fn submit_script(&self) -> String {
        let script = |name: &str| quote(&text(&self.dir.join(name)));
        let mut lines = vec![
            "#!/bin/sh".to_string(),
            "# Written by initlab: submits the plan's jobs with their dependencies.".into(),
            "set -eu".into(),
        ];
        let mut after = String::new();
        if self.pretrain.is_some() {
            lines.push(format!(
                "dbn=$(sbatch --parsable {})",
                script(PRETRAIN_SCRIPT)
            ));
            lines.push("dbn=${dbn%%;*}".into());
            lines.push("echo \"dbn job: $dbn\"".into());
            after = "--dependency=afterok:$dbn ".into();
        }
        if !self.tasks.is_empty() {
            lines.push(format!(
                "array=$(sbatch --parsable {after}{})",
                script(ARRAY_SCRIPT)
            ));
            lines.push("array=${array%%;*}".into());
            lines.push("echo \"array job: $array\"".into());
            after = "--dependency=afterany:$array ".into();
        }
        lines.push(format!(
            "gather=$(sbatch --parsable {after}{})",
            script(GATHER_SCRIPT)
        ));
        lines.push("echo \"gather job: ${gather%%;*}\"".into());
        lines.join("\n") + "\n"
    }

    /// Writes the scripts into [`JobFolder::dir`] (and its log folder), each atomically; an
    /// array script of an earlier plan with no task left is removed. The job folder and the
    /// working directory must be plain paths ([`plain`]), as `#SBATCH` lines name them.
    pub fn write(&self) -> Result<()> {
        for (what, p) in [
            ("job folder", &self.dir),
            ("working directory", &self.workdir),
        ] {
            anyhow::ensure!(
                plain(p),
                "the {what} {} cannot be named in an #SBATCH line, which Slurm reads without a \
                 shell: use an absolute path of letters, digits and _ - . / , : + @ = only",
                p.display()
            );
        }
        let logs = self.dir.join(LOG_DIR);
        std::fs::create_dir_all(&logs)
            .with_context(|| format!("creating the job folder {}", logs.display()))?;
        let put = |name: &str, text: &str| io::write_atomic(&self.dir.join(name), text.as_bytes());
        match self.tasks.is_empty() {
            true => remove(&self.dir.join(ARRAY_SCRIPT))?,
            false => put(ARRAY_SCRIPT, &self.array_script())?,
        }
        match self.pretrain_script() {
            Some(s) => put(PRETRAIN_SCRIPT, &s)?,
            None => remove(&self.dir.join(PRETRAIN_SCRIPT))?,
        }
        put(GATHER_SCRIPT, &self.gather_script())?;
        put(SUBMIT_SCRIPT, &self.submit_script())
    }

    /// Submits the jobs with `sbatch --parsable` (the DBN job, the array, then the gathering
    /// job, each depending on the one before); returns (script, job id) for each.
    pub fn submit(&self) -> Result<Vec<(&'static str, String)>> {
        let mut ids: Vec<(&'static str, String)> = Vec::new();
        let mut after: Option<String> = None;
        let mut steps = Vec::new();
        if self.pretrain.is_some() {
            steps.push((PRETRAIN_SCRIPT, "afterok"));
        }
        if !self.tasks.is_empty() {
            steps.push((ARRAY_SCRIPT, "afterany"));
        }
        steps.push((GATHER_SCRIPT, ""));
        for (script, kind) in steps {
            let id = sbatch(&self.dir.join(script), after.as_deref())?;
            after = Some(format!("{kind}:{id}"));
            ids.push((script, id));
        }
        Ok(ids)
    }
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Runs `sbatch --parsable [--dependency=D] SCRIPT` and returns the job id it prints
/// (`ID` or `ID;CLUSTER`).
fn sbatch(script: &Path, dependency: Option<&str>) -> Result<String> {
    let mut command = Command::new("sbatch");
    command.arg("--parsable");
    if let Some(d) = dependency {
        command.arg(format!("--dependency={d}"));
    }
    let out = command.arg(script).output().with_context(|| {
        format!(
            "running sbatch for {} (is Slurm installed here?)",
            script.display()
        )
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "sbatch {} failed ({}): {}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    parse_job_id(&stdout).with_context(|| {
        format!(
            "sbatch {} printed no job id: {:?}",
            script.display(),
            stdout.trim()
        )
    })
}

/// The job id of `sbatch --parsable`'s output (`123` or `123;cluster`).
pub fn parse_job_id(stdout: &str) -> Option<String> {
    let id = stdout.trim().split(';').next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small xorshift generator: the property tests' inputs, the same on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick(&mut self, from: &[char]) -> char {
            from[(self.next() % from.len() as u64) as usize]
        }

        fn word(&mut self, from: &[char], max: u64) -> String {
            let n = 1 + self.next() % max;
            (0..n).map(|_| self.pick(from)).collect()
        }
    }

    fn toml_string(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }

    fn toml_of(c: &SiteConfig) -> String {
        let mut t = String::new();
        for (k, v) in [
            ("partition", &c.partition),
            ("account", &c.account),
            ("qos", &c.qos),
        ] {
            if let Some(v) = v {
                t.push_str(&format!("{k} = {}\n", toml_string(v)));
            }
        }
        let list = |xs: &[String]| {
            xs.iter()
                .map(|x| toml_string(x))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.push_str(&format!("sbatch = [{}]\n", list(&c.sbatch)));
        t.push_str(&format!("modules = [{}]\n", list(&c.modules)));
        if let Some(r) = c.rate {
            t.push_str(&format!("rate = {r:e}\n"));
        }
        t
    }

    fn random_config(rng: &mut Rng) -> SiteConfig {
        let name: Vec<char> = "abcXYZ019_-.,:+".chars().collect();
        let module: Vec<char> = "abc019/._-+=\"\\".chars().collect();
        let maybe = |rng: &mut Rng| rng.next().is_multiple_of(2).then(|| rng.word(&name, 12));
        SiteConfig {
            partition: maybe(rng),
            account: maybe(rng),
            qos: maybe(rng),
            sbatch: (0..rng.next() % 4)
                .map(|_| format!("--{}", rng.word(&name, 10)))
                .collect(),
            modules: (0..rng.next() % 4).map(|_| rng.word(&module, 10)).collect(),
            initlab: None,
            rate: rng
                .next()
                .is_multiple_of(2)
                .then(|| (1 + rng.next() % 1_000_000) as f64 * 1e3),
        }
    }

    #[test]
    fn any_valid_settings_read_back_the_same_from_toml_and_json() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let file = Path::new("site");
        for _ in 0..500 {
            let config = random_config(&mut rng);
            config.check().unwrap();
            let json = serde_json::to_string(&config).unwrap();
            assert_eq!(SiteConfig::parse(&json, "json", file), Ok(config.clone()));
            let toml = toml_of(&config);
            assert_eq!(SiteConfig::parse(&toml, "toml", file), Ok(config), "{toml}");
        }
    }

    #[test]
    fn garbage_is_an_error_naming_the_file_never_a_panic() {
        let mut rng = Rng(12345);
        let alphabet: Vec<char> = "ab=[]{}\"',:\n #\\-0.9e+\u{0}é".chars().collect();
        let file = Path::new("/etc/site.toml");
        for _ in 0..2000 {
            let text = rng.word(&alphabet, 40);
            for ext in ["toml", "json"] {
                if let Err(e) = SiteConfig::parse(&text, ext, file) {
                    let shown = e.to_string();
                    assert!(
                        shown.contains("/etc/site.toml") || shown.starts_with("site setting"),
                        "{shown}"
                    );
                }
            }
        }
    }

    #[test]
    fn values_that_would_change_a_script_are_refused() {
        let file = Path::new("s.toml");
        let parse = |t: &str| SiteConfig::parse(t, "toml", file);
        assert!(parse("partition = \"gpu\nrm -rf\"").is_err());
        assert!(parse("partition = \"a b\"").is_err());
        assert!(parse("sbatch = [\"--mem=4G\"]").is_ok());
        assert!(parse("sbatch = [\"--mem=4G --x\"]").is_err());
        assert!(parse("sbatch = [\"mem=4G\"]").is_err());
        assert!(parse("modules = [\"a'b\"]").is_err());
        assert!(parse("modules = [\"gcc/12 x\"]").is_err());
        assert!(parse("rate = -1.0").is_err());
        assert!(parse("initlab = \"relative/initlab\"").is_err());
        let unknown = parse("partitions = \"x\"").unwrap_err().to_string();
        assert!(
            unknown.contains("s.toml") && unknown.contains("partitions"),
            "{unknown}"
        );
        let wrong = parse("modules = \"gcc\"").unwrap_err().to_string();
        assert!(wrong.contains("s.toml"), "{wrong}");
        let other = SiteConfig::parse("", "yaml", Path::new("s.yaml")).unwrap_err();
        assert_eq!(
            other.to_string(),
            "s.yaml: site settings are read from a .toml or .json file"
        );
    }

    #[test]
    fn flags_override_the_file_and_add_to_its_lists() {
        let file = SiteConfig {
            partition: Some("a".into()),
            qos: Some("q".into()),
            modules: vec!["m1".into()],
            ..SiteConfig::default()
        };
        let flags = SiteConfig {
            partition: Some("b".into()),
            modules: vec!["m2".into()],
            ..SiteConfig::default()
        };
        let both = file.overridden_by(flags);
        assert_eq!(both.partition.as_deref(), Some("b"));
        assert_eq!(both.qos.as_deref(), Some("q"));
        assert_eq!(both.modules, ["m1", "m2"]);
    }

    #[test]
    fn time_limits_are_three_times_the_estimate_plus_five_minutes() {
        assert_eq!(time_minutes(0.0, 1e8), 10);
        // 1.2e12 at 1e8/s: 12,000 s, ×3 + 300 s = 36,300 s = 605 min.
        assert_eq!(time_minutes(1.2e12, 1e8), 605);
        assert_eq!(
            measured_rate(&[(1e9, 10.0), (4e9, 20.0), (0.0, 1.0)]),
            Some(1e8)
        );
        assert_eq!(measured_rate(&[]), None);
    }

    fn folder(tasks: usize, pretrain: bool) -> JobFolder {
        JobFolder {
            dir: PathBuf::from("/w/jobs"),
            name: "initlab-compare".into(),
            tasks: (0..tasks)
                .map(|i| Task {
                    dir: PathBuf::from(format!("/w/runs/it's {i}")),
                    command: vec![
                        "/bin/initlab".into(),
                        "train".into(),
                        format!("--name=r {i}"),
                    ],
                })
                .collect(),
            threads: 2,
            minutes: 12,
            gather: vec!["/bin/initlab".into(), "compare".into(), "--gather".into()],
            pretrain: pretrain.then(|| (vec!["/bin/initlab".into(), "lab".into()], 30)),
            workdir: PathBuf::from("/w"),
            site: SiteConfig {
                partition: Some("short".into()),
                modules: vec!["gcc/12".into()],
                ..SiteConfig::default()
            },
        }
    }

    #[test]
    fn the_array_execs_each_task_with_its_threads_requeue_and_signal() {
        let s = folder(3, false).array_script();
        for line in [
            "#SBATCH --array=0-2",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:TERM@60",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --time=12",
            "#SBATCH --partition=short",
            "module load 'gcc/12'",
            "export OMP_NUM_THREADS=2",
            "2) run='/w/runs/it'\\''s 2'",
            "   set -- /bin/initlab train '--name=r 2' ;;",
            "exec \"$@\" >>\"$run.slurm.out\" 2>>\"$run.slurm.err\"",
        ] {
            assert!(s.lines().any(|l| l == line), "{line} not in\n{s}");
        }
        assert!(s.starts_with("#!/bin/bash\n"));
    }

    #[test]
    fn submit_chains_the_jobs_by_their_dependencies() {
        let s = folder(2, true).submit_script();
        assert!(s.contains("dbn=$(sbatch --parsable /w/jobs/pretrain.sbatch)"));
        assert!(
            s.contains("array=$(sbatch --parsable --dependency=afterok:$dbn /w/jobs/array.sbatch)")
        );
        assert!(s.contains(
            "gather=$(sbatch --parsable --dependency=afterany:$array /w/jobs/gather.sbatch)"
        ));
        let done = folder(0, false).submit_script();
        assert!(!done.contains("array"));
        assert!(done.contains("gather=$(sbatch --parsable /w/jobs/gather.sbatch)"));
    }

    #[test]
    fn job_ids_are_read_with_or_without_a_cluster_name() {
        assert_eq!(parse_job_id("42\n").as_deref(), Some("42"));
        assert_eq!(parse_job_id("42;cluster\n").as_deref(), Some("42"));
        assert_eq!(parse_job_id("Submitted batch job 42"), None);
        assert_eq!(parse_job_id(""), None);
    }
}
