//! Command-line interface (clap derive). Only parsing and conversion into the library's config
//! structs lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;
use initlab::base::nn::{
    model::{BiasInit, MlpSpec, Widths},
    scheme::{Activation, InitScheme},
};
use initlab::base::optim::OptimizerKind;
use initlab::base::parity::mkl::{MklDispatch, UnknownDispatch};
use initlab::base::train::{LrSchedule, TrainConfig};
use initlab::engine::executor::ExecOptions;
use initlab::engine::executor::WorkerCommand;
use initlab::experiments::compare::CompareConfig;
use initlab::experiments::inspect::InspectConfig;
use initlab::experiments::lab::LabConfig;
use initlab::experiments::picture::{Prepare, UnknownPrepare};
use initlab::experiments::pretrain::PretrainConfig;
use initlab::experiments::study::{self, Study, StudyConfig};
use initlab::pretraining::rbm::RbmConfig;

/// `predict --prepare`'s value.
fn parse_prepare(s: &str) -> Result<Prepare, UnknownPrepare> {
    s.parse()
}

/// `--mkl-dispatch`'s value.
fn parse_dispatch(s: &str) -> Result<MklDispatch, UnknownDispatch> {
    s.parse()
}

/// Weight initialization, seen with your own eyes: the PyTorch lab 9-2 on MNIST, in Rust.
#[derive(Debug, Parser)]
#[command(name = "initlab", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Hide progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// oneMKL's kernel choice on a non-Intel CPU: `stock` (the default) computes what PyTorch
    /// from PyPI computes on this CPU; `intel-path` what it computes on an Intel CPU with the same
    /// instruction sets (faster on some AMD CPUs). The same on Intel CPUs. Overrides
    /// INITLAB_MKL_DISPATCH; `initlab doctor` says which PyTorch prints the same numbers here.
    #[arg(long, global = true, value_name = "stock|intel-path", value_parser = parse_dispatch)]
    pub mkl_dispatch: Option<MklDispatch>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one MLP on MNIST and save its history, weights and loss chart.
    Train(TrainArgs),
    /// The lab's experiment, five runs: the shallow net with N(0,1), Xavier and He init, the deep
    /// net with Xavier, and the deep sigmoid net initialized from a DBN pretrained first; writes
    /// runs/lab/compare.png, report.md and report.html. Complete runs are reused, interrupted ones resumed.
    Lab(LabArgs),
    /// Draw a comparison chart from saved run directories.
    Plot(PlotArgs),
    /// Redraw a run's training dynamics (dynamics.png), or put several runs side by side.
    Dynamics(DynamicsArgs),
    /// Train one architecture under several inits and draw test error per epoch (the seed's figure).
    Compare(CompareArgs),
    /// Forward real MNIST through fresh networks: per-layer activation and gradient histograms,
    /// and their std by depth.
    Inspect(InspectArgs),
    /// Re-run a paper's experiment small enough for 2 cores (a re-enactment, not its numbers):
    /// glorot, he, lab, meanfield, isometry or dbn.
    Study(StudyArgs),
    /// Greedy layer-wise DBN pretraining (stacked RBMs); the result initializes `train --init dbn`.
    Pretrain(PretrainArgs),
    /// Evaluate a saved run on the test set: loss, accuracy, per-class accuracy and a
    /// confusion-matrix picture.
    Eval(EvalArgs),
    /// Classify one digit with a saved run: a test image (--index N) or a PNG or JPEG of your own
    /// (any size; a drawing or photo is made MNIST-like first).
    Predict(PredictArgs),
    /// What to paste into a bug report: versions, where libtorch and the data were found, the
    /// CPU and oneMKL's kernels, whether bit parity with PyTorch is expected here; exits 1 when
    /// something needed is missing.
    Doctor(DoctorArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    /// (`make install` installs bash's, zsh's and fish's).
    Completions(CompletionsArgs),
    /// Train one planned run for a plan's executor (`--jobs` above 1): reads the job as one line
    /// of JSON on stdin, writes its progress as JSON lines on stdout, stops cleanly when stdin
    /// closes. Not for people.
    #[command(hide = true)]
    Worker,
}

/// The hidden subcommand a plan's executor starts for each run side by side.
pub const WORKER_SUBCOMMAND: &str = "worker";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub data: DataArgs,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Where the data comes from (every command that reads MNIST).
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Directory with the four MNIST IDX files (gz or raw); Fashion-MNIST works too.
    /// Default: $INITLAB_DATA, else the user data folder ($XDG_DATA_HOME/initlab/mnist,
    /// ~/.local/share/initlab/mnist), else the checkout's data/mnist, else the MNIST compiled
    /// into initlab, unpacked into the user data folder on first use.
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub data_dir: Option<PathBuf>,
}

/// Several seeds per configuration (`compare`, `study`).
#[derive(Debug, Args)]
pub struct SeedsArgs {
    /// Seeds per configuration: N (N consecutive seeds from --seed) or a list like 1,2,3. Every
    /// (configuration, seed) is one run; the summary gives mean ± sd, the 95 % interval and
    /// Welch's p-value against the baseline.
    #[arg(long, value_name = "N|LIST", value_parser = parse_seeds)]
    pub seeds: Option<SeedList>,
}

/// `--seeds`: a count or an explicit list.
#[derive(Debug, Clone)]
pub enum SeedList {
    /// N consecutive seeds from `--seed`.
    Count(u32),
    /// These seeds.
    List(Vec<i64>),
}

impl SeedsArgs {
    /// The seeds, starting from `first` for a count.
    pub fn resolve(&self, first: i64) -> Vec<i64> {
        match &self.seeds {
            None => vec![first],
            Some(SeedList::Count(n)) => (0..*n as i64).map(|k| first + k).collect(),
            Some(SeedList::List(v)) => v.clone(),
        }
    }
}

fn parse_seeds(s: &str) -> Result<SeedList, String> {
    if s.contains(',') {
        let v = s
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{x:?} is not a seed (an integer)"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (i, a) in v.iter().enumerate() {
            if v[..i].contains(a) {
                return Err(format!("the seed {a} is listed twice"));
            }
        }
        Ok(SeedList::List(v))
    } else {
        match s.trim().parse::<u32>() {
            Ok(n) if (1..=1000).contains(&n) => Ok(SeedList::Count(n)),
            _ => Err(format!(
                "{s:?} is neither a count from 1 to 1000 nor a comma-separated list of seeds"
            )),
        }
    }
}

/// How runs treat their directories (every command that trains).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Retrain even when a run with the same configuration is complete in its directory.
    #[arg(long)]
    pub no_cache: bool,

    /// Replace a run directory that holds a run of another configuration, or of this one trained
    /// with another number of threads, or whose files fail their checksums.
    #[arg(long)]
    pub force: bool,

    /// Save a checkpoint every N epochs (0: only when interrupted).
    #[arg(long, value_name = "N", default_value_t = ExecOptions::default().checkpoint_every)]
    pub checkpoint_every: usize,

    /// Sample the training dynamics (per-layer activations, gradients, update:data ratios) every
    /// N steps into dynamics.csv and dynamics.png of each run (0: off).
    #[arg(long, value_name = "N", default_value_t = ExecOptions::default().monitor_every)]
    pub monitor_every: usize,
}

impl RunArgs {
    /// The executor's options.
    pub fn options(&self) -> ExecOptions {
        ExecOptions {
            use_cache: !self.no_cache,
            force: self.force,
            checkpoint_every: self.checkpoint_every,
            monitor_every: self.monitor_every,
            ..ExecOptions::default()
        }
    }
}

/// How a plan is handed out instead of trained here, or gathered after (`compare`, `study`,
/// `lab`).
#[derive(Debug, Args)]
pub struct PlanOutArgs {
    /// Print one self-contained `initlab train` command per run that is not complete yet, and
    /// train nothing (spread them with `xargs -P`, GNU parallel or a job array; run this command
    /// again with --gather, or without --emit-plan, to draw the summary).
    #[arg(long, conflicts_with = "slurm")]
    pub emit_plan: bool,

    /// Write the plan as Slurm batch jobs into DIR and train nothing here: a job array with one
    /// task per run not complete yet (requeued, and signalled with TERM 60 s before its limit: a preempted or requeued task
    /// resumes from its checkpoint), and a job that gathers and draws the results after it; then
    /// print the one command that submits them (or submit with --submit). `lab` adds a first job
    /// that pretrains its DBN when it is not pretrained yet. Run the same command again after a
    /// failure: only the runs not complete are submitted again.
    #[arg(long, value_name = "DIR")]
    pub slurm: Option<PathBuf>,

    /// With --slurm: submit the jobs with sbatch (each waiting for the one before).
    #[arg(long, requires = "slurm")]
    pub submit: bool,

    /// With --slurm: site settings from a .toml or .json file (partition, account, qos, sbatch =
    /// [extra options], modules = [to load], initlab = "/path/on/the/nodes", rate = work per
    /// second); the flags below override it.
    #[arg(long, value_name = "FILE", requires = "slurm")]
    pub slurm_config: Option<PathBuf>,

    /// With --slurm: the partition to submit to.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,

    /// With --slurm: the account to charge.
    #[arg(long, requires = "slurm")]
    pub account: Option<String>,

    /// With --slurm: the quality of service.
    #[arg(long, requires = "slurm")]
    pub qos: Option<String>,

    /// With --slurm: an extra #SBATCH option for every job, e.g. --sbatch=--mem=4G (repeatable).
    #[arg(
        long,
        value_name = "OPTION",
        requires = "slurm",
        allow_hyphen_values = true
    )]
    pub sbatch: Vec<String>,

    /// With --slurm: an environment module to load before initlab starts (repeatable).
    #[arg(long = "module", value_name = "NAME", requires = "slurm")]
    pub modules: Vec<String>,

    /// Train nothing: draw the summary, report page and charts from the plan's runs trained
    /// elsewhere (by --slurm's jobs or --emit-plan's commands). A run missing, still running,
    /// interrupted, failed, or made with other threads or another oneMKL dispatch than this
    /// command's is named with its directory and log, and the command fails. The summary names
    /// the machines the runs were trained on (more than one kind: not bit-comparable).
    #[arg(long, conflicts_with_all = ["emit_plan", "slurm"])]
    pub gather: bool,
}

/// The `PlanOutArgs` flags that belong to `--slurm` and take a value: the gathering job's
/// command is the planner's own without them ([`crate::commands::plans`]).
pub const SLURM_VALUE_FLAGS: &[&str] = &[
    "--slurm",
    "--slurm-config",
    "--partition",
    "--account",
    "--qos",
    "--sbatch",
    "--module",
];

/// The `PlanOutArgs` switches of `--slurm`.
pub const SLURM_SWITCHES: &[&str] = &["--submit"];

/// How many runs of a plan train at once (`lab`, `compare`, `study`).
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Train up to N runs of the plan at once, each in its own worker process with 1/N of
    /// libtorch's threads. Default for `compare` and `study`: one run per thread (on 2 cores,
    /// two runs with 1 thread each: up to twice the runs per hour) when the plan's largest run
    /// reaches 3e10 multiply-adds of forward passes (two epochs of the lab's shallow net), else 1;
    /// for `lab`: 1, one run at a time with every thread, the numbers PyTorch prints. A run's numbers depend on its thread
    /// count in the last digits (run.json records it; a run made with another count is neither
    /// reused nor resumed): --jobs 1 gives the numbers of one run at a time with every thread in
    /// every command. With `compare`'s and `study`'s --emit-plan, the printed commands set the
    /// thread count of N runs at once.
    #[arg(long, short = 'j', value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: Option<u32>,
}

impl JobsArgs {
    /// Runs at once: --jobs, else `default` (the command's).
    pub fn jobs(&self, default: usize) -> usize {
        self.jobs.map_or(default, |n| n as usize)
    }

    /// The executor's options: `run`'s, with [`JobsArgs::jobs`] runs at once and this binary as
    /// their worker program.
    pub fn options(&self, run: &RunArgs, default: usize) -> ExecOptions {
        ExecOptions {
            jobs: self.jobs(default),
            worker: std::env::current_exe().ok().map(|program| WorkerCommand {
                program,
                args: vec![WORKER_SUBCOMMAND.into()],
            }),
            ..run.options()
        }
    }
}

/// Settings shared by every training command; defaults are the lab's ([`TrainConfig::default`]).
#[derive(Debug, Args)]
pub struct TrainingArgs {
    /// Passes over the training set.
    #[arg(long, default_value_t = TrainConfig::default().epochs as u32, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub epochs: u32,

    /// Examples per mini-batch (the last partial batch is dropped).
    #[arg(long, default_value_t = TrainConfig::default().batch_size, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: i64,

    /// Learning rate.
    #[arg(long, default_value_t = TrainConfig::default().learning_rate, allow_negative_numbers = true, value_parser = positive_float)]
    pub lr: f64,

    /// Seed of torch's global generator, set before the model is built.
    #[arg(long, default_value_t = TrainConfig::default().seed, allow_negative_numbers = true)]
    pub seed: i64,

    /// Optimizer: adam (PyTorch's Adam, bit for bit), tch-adam (libtorch's C++ Adam; cannot be
    /// checkpointed) or sgd.
    #[arg(long, default_value_t = TrainConfig::default().optimizer, value_parser = parse_optimizer)]
    pub optim: OptimizerKind,

    /// Momentum of --optim sgd (0 = plain SGD; an error with Adam).
    #[arg(long, default_value_t = TrainConfig::default().momentum, allow_negative_numbers = true, value_parser = momentum_value)]
    pub momentum: f64,

    /// Train on the first N training images only (default: all of them but the validation split).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub train_limit: Option<i64>,

    /// How the learning rate changes over the epochs: constant (the lab) or cosine (annealed to
    /// zero, stepped per epoch, like CosineAnnealingLR).
    #[arg(long, default_value_t = TrainConfig::default().lr_schedule, value_parser = parse_schedule)]
    pub lr_schedule: LrSchedule,

    /// Hold out the last N training images as a validation split: the best epoch is chosen on
    /// them instead of on the test set (0: none). Default: 10000 in `compare`, whose summary
    /// chooses a best epoch; 0 in `train` and `lab`, which train on all 60,000 images as the
    /// notebooks do (their summaries say a best epoch is on the test set).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(0..))]
    pub validation: Option<i64>,

    #[command(flatten)]
    pub data: DataArgs,
}

impl TrainingArgs {
    /// The training settings, holding out `--validation` images, else `validation` (the
    /// command's default).
    fn train_config(&self, validation: i64) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs as usize,
            batch_size: self.batch_size,
            learning_rate: self.lr,
            seed: self.seed,
            optimizer: self.optim,
            train_limit: self.train_limit,
            momentum: self.momentum,
            validation: self.validation.unwrap_or(validation),
            lr_schedule: self.lr_schedule,
        }
    }
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// shallow (784-256-256-10), deep (784-512-512-512-512-10) or widths like 784,100,10.
    #[arg(long, default_value = "shallow", value_parser = parse_widths)]
    pub model: Widths,

    /// Weight init (see the list below; torch.nn.init's names like xavier_uniform_ work too).
    #[arg(long, default_value_t = InitScheme::XavierUniform, value_parser = parse_init, long_help = init_help())]
    pub init: InitScheme,

    /// Biases: torch-default (torch.nn.Linear's U(±1/√fan_in), as in the lab) or zeros (the
    /// papers' convention). Mean-field and dbn set their own.
    #[arg(long, default_value_t = BiasInit::default(), value_parser = parse_bias)]
    pub bias: BiasInit,

    /// Nonlinearity between layers: relu, tanh, sigmoid, softsign.
    #[arg(long, default_value = "relu", value_parser = parse_activation)]
    pub activation: Activation,

    #[command(flatten)]
    pub training: TrainingArgs,

    #[command(flatten)]
    pub run: RunArgs,

    /// Parent directory of the run directory.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    pub out: PathBuf,

    /// Name of the run directory (default: <model>-<activation>-<init>-<spec hash>).
    #[arg(long, value_parser = run_name)]
    pub name: Option<String>,

    /// Directory of a DBN saved by `initlab pretrain` (needed by --init dbn).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub pretrained: Option<PathBuf>,

    /// Continue the interrupted run in RUN_DIR (its run.json says what to train; the other
    /// training flags are not used).
    #[arg(long, value_name = "RUN_DIR", value_parser = existing_dir,
          conflicts_with_all = ["model", "init", "activation", "epochs", "batch_size", "lr", "seed", "optim", "momentum", "train_limit", "validation", "lr_schedule", "bias", "name", "pretrained", "out"])]
    pub resume: Option<PathBuf>,
}

impl TrainArgs {
    /// Model spec and training settings.
    pub fn configs(&self) -> (MlpSpec, TrainConfig) {
        let spec = MlpSpec {
            bias: self.bias,
            widths: self.model.clone(),
            activation: self.activation,
            init: self.init,
        };
        (
            spec,
            self.training
                .train_config(TrainConfig::default().validation),
        )
    }
}

/// The help text listing every init scheme and its aliases.
fn init_help() -> String {
    let mut s = String::from("Weight init:\n");
    for scheme in InitScheme::ALL {
        let aliases = scheme.aliases();
        s.push_str(&format!(
            "  {:<16} {}{}\n",
            scheme.name(),
            scheme.describe(),
            if aliases.is_empty() {
                String::new()
            } else {
                format!(" (also: {})", aliases.join(", "))
            }
        ));
    }
    s.push_str("Names are matched without regard to case, '-' or '_', and a trailing '_'.");
    s
}

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(flatten)]
    pub training: TrainingArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub plan_out: PlanOutArgs,

    /// Pretrain the lab's DBN (into OUT/dbn) and train nothing else (--slurm's first job).
    #[arg(long, conflicts_with_all = ["slurm", "gather", "emit_plan"])]
    pub pretrain_only: bool,

    #[command(flatten)]
    pub jobs: JobsArgs,

    #[command(flatten)]
    pub seeds: SeedsArgs,

    /// Output directory.
    #[arg(long, default_value = "runs/lab", value_name = "DIR")]
    pub out: PathBuf,

    /// Epochs per RBM for the DBN-initialized deep run.
    #[arg(long, default_value_t = LabConfig::default().dbn_epochs as u32, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub dbn_epochs: u32,
}

impl LabArgs {
    /// The lab's settings.
    pub fn config(&self) -> LabConfig {
        LabConfig {
            train: self
                .training
                .train_config(LabConfig::default().train.validation),
            out_dir: self.out.clone(),
            seeds: match self.seeds.seeds {
                Some(_) => self.seeds.resolve(self.training.seed),
                None => Vec::new(),
            },
            dbn_epochs: self.dbn_epochs as usize,
        }
    }
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run directories (each with run.json and history.json).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,

    /// Chart file to write (.png or .svg).
    #[arg(long, default_value = "compare.png", value_parser = chart_path)]
    pub out: PathBuf,

    /// Chart title.
    #[arg(long, default_value = "initialization schemes compared")]
    pub title: String,
}

#[derive(Debug, Args)]
pub struct DynamicsArgs {
    /// Run directories with dynamics.csv (written by every run trained with `train --monitor-every` above 0, the default).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,

    /// Chart file to write (.png or .svg). Default: RUN_DIR/dynamics.png for one run,
    /// dynamics-compare.png in the current directory for several.
    #[arg(long, value_parser = chart_path)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// shallow, deep or widths like 784,100,10.
    #[arg(long, default_value = "shallow", value_parser = parse_widths)]
    pub model: Widths,

    /// Nonlinearity between layers: relu, tanh, sigmoid, softsign.
    #[arg(long, default_value = "relu", value_parser = parse_activation)]
    pub activation: Activation,

    /// Comma-separated init schemes, e.g. normal,xavier-uniform,kaiming-normal,lsuv.
    #[arg(long, default_value = "normal,torch-default,xavier-uniform,kaiming-normal", value_parser = parse_inits)]
    pub inits: InitList,

    #[command(flatten)]
    pub training: TrainingArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub plan_out: PlanOutArgs,

    #[command(flatten)]
    pub jobs: JobsArgs,

    /// Output directory.
    #[arg(long, default_value = "runs/compare", value_name = "DIR")]
    pub out: PathBuf,

    /// Chart title.
    #[arg(long)]
    pub title: Option<String>,

    /// Directory of a DBN saved by `initlab pretrain` (needed when the inits include dbn).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub pretrained: Option<PathBuf>,

    #[command(flatten)]
    pub seeds: SeedsArgs,

    /// The init the others are tested against (default: the first of --inits).
    #[arg(long, value_name = "INIT", value_parser = parse_init)]
    pub baseline: Option<InitScheme>,

    /// Biases of every run: torch-default (torch.nn.Linear's, as in the lab) or zeros (the
    /// papers' convention; mean-field and dbn keep their own).
    #[arg(long, default_value_t = BiasInit::default(), value_parser = parse_bias)]
    pub bias: BiasInit,
}

impl CompareArgs {
    /// The comparison's settings (the DBN source is filled in by the caller).
    pub fn config(&self) -> CompareConfig {
        CompareConfig {
            widths: self.model.clone(),
            activation: self.activation,
            inits: self.inits.0.clone(),
            train: self
                .training
                .train_config(CompareConfig::default().train.validation),
            source: Default::default(),
            out_dir: self.out.clone(),
            title: self.title.clone(),
            seeds: self.seeds.resolve(self.training.seed),
            baseline: self.baseline,
            bias: self.bias,
        }
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// shallow, deep or widths like 784,256,256,256,10.
    #[arg(long, alias = "model", default_value = "784,256,256,256,256,256,256,256,256,256,10", value_parser = parse_widths)]
    pub widths: Widths,

    /// Nonlinearity between layers: relu, tanh, sigmoid, softsign.
    #[arg(long, default_value = "tanh", value_parser = parse_activation)]
    pub activation: Activation,

    /// Comma-separated init schemes.
    #[arg(long, alias = "init", default_value = "normal,glorot-standard,xavier-uniform,kaiming-normal", value_parser = parse_inits)]
    pub inits: InitList,

    /// Test images forwarded (the first N, scaled to [0, 1]).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i64).range(2..=10000))]
    pub batch: i64,

    /// Seed of torch's global generator, set before each model is built.
    #[arg(long, default_value_t = TrainConfig::default().seed, allow_negative_numbers = true)]
    pub seed: i64,

    #[command(flatten)]
    pub data: DataArgs,

    /// Output directory.
    #[arg(long, default_value = "runs/inspect", value_name = "DIR")]
    pub out: PathBuf,

    /// Directory of a DBN saved by `initlab pretrain` (needed when the inits include dbn).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub pretrained: Option<PathBuf>,
}

impl InspectArgs {
    /// The inspection's settings.
    pub fn config(&self) -> InspectConfig {
        InspectConfig {
            widths: self.widths.clone(),
            activation: self.activation,
            inits: self.inits.0.clone(),
            seed: self.seed,
            batch: self.batch,
            source: Default::default(),
            out_dir: self.out.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    /// glorot (Glorot & Bengio 2010), he (He et al. 2015), lab (the lab's nets, five inits),
    /// meanfield (Poole et al. 2016 / Schoenholz et al. 2017: phase diagram with the named inits,
    /// ξ_c, and a trained log-depth × σ_w² grid of tanh nets against 6 ξ_c after several step
    /// counts; default 2 seeds, depths to 128, ≈ 24 min of 2-core time; --full 3 seeds, depths to
    /// 256, ≈ 11 h), isometry (Saxe et al. 2014 / Pennington et al. 2017: Jacobian spectra of
    /// Gaussian vs orthogonal nets at criticality, and their test error over depth), dbn
    /// (Hinton et al. 2006: 784-500-500-2000-10 sigmoid net from a DBN pretrained per seed vs
    /// Xavier, LeCun-normal and He-normal, Adam with a cosine schedule, each init's learning rate
    /// chosen on the validation split by a sweep of 3e-4, 1e-3, 3e-3; default 3 seeds, 20
    /// epochs, ≈ 39 min of 2-core time; --full 5 seeds, 30 epochs, ≈ 1 h 15 min); and the steps
    /// a course shows next: initloss (the last layer ×0.01 and its bias 0, so the first loss is
    /// ln 10: every step's loss with and without it, Adam, 1 epoch) or optimizers (N(0,1), Xavier,
    /// He under plain SGD lr 0.1 and Adam lr 0.001, 5 epochs of 20,000 images).
    #[arg(value_parser = parse_study)]
    pub study: Study,

    /// The full-size setting (all 60,000 images, more epochs) instead of the 2-core budget.
    #[arg(long)]
    pub full: bool,

    /// Override the epochs of every run.
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub epochs: Option<u32>,

    /// Override the training subset of every run.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub train_limit: Option<i64>,

    /// Override the hidden width (small values for quick trials).
    #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub width: Option<i64>,

    /// Override the biases: torch-default or zeros (default: zeros in glorot and he, the papers'
    /// convention; torch-default in lab; mean-field sets its own).
    #[arg(long, value_parser = parse_bias)]
    pub bias: Option<BiasInit>,

    /// Override the validation split, in training images held out to choose the best epoch
    /// (and in dbn the learning rates) (default: 10000 in glorot, he and dbn; 0 in lab, which
    /// mirrors the notebooks, and in meanfield and isometry, whose summaries say a best epoch is
    /// on the test set).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(0..))]
    pub validation: Option<i64>,

    /// Seed of torch's global generator, set before each model is built.
    #[arg(long, default_value_t = TrainConfig::default().seed, allow_negative_numbers = true)]
    pub seed: i64,

    #[command(flatten)]
    pub data: DataArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub plan_out: PlanOutArgs,

    #[command(flatten)]
    pub jobs: JobsArgs,

    #[command(flatten)]
    pub seeds: SeedsArgs,

    /// Output directory (default: runs/study/<study>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl StudyArgs {
    /// The study's settings.
    pub fn config(&self) -> StudyConfig {
        let default = StudyConfig::new(self.study);
        StudyConfig {
            bias: self.bias.unwrap_or(default.bias),
            validation: self.validation.unwrap_or(default.validation),
            full: self.full,
            epochs: self.epochs.map(|e| e as usize),
            train_limit: self.train_limit,
            width: self.width,
            seeds: match self.seeds.seeds {
                Some(_) => self.seeds.resolve(self.seed),
                None => study::default_seeds(self.study, self.full, self.seed),
            },
            out_dir: self.out.clone().unwrap_or(default.out_dir.clone()),
            ..default
        }
    }
}

#[derive(Debug, Args)]
pub struct PretrainArgs {
    /// Layer widths, input first.
    #[arg(long, default_value = "784,500,500,2000", value_parser = parse_widths)]
    pub widths: Widths,

    /// Epochs per RBM.
    #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub epochs: u32,

    /// Gibbs steps of contrastive divergence (CD-k).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub cd_k: u32,

    /// Persistent contrastive divergence (PCD-k) instead of CD-k.
    #[arg(long)]
    pub persistent: bool,

    /// Learning rate of the RBM updates.
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true, value_parser = positive_float)]
    pub lr: f64,

    /// L2 weight decay.
    #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true, value_parser = non_negative_float)]
    pub weight_decay: f64,

    /// Examples per mini-batch.
    #[arg(long, default_value_t = 100, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub batch_size: i64,

    /// Train on the first N training images only.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub train_limit: Option<i64>,

    /// Seed of torch's global generator.
    #[arg(long, default_value_t = PretrainConfig::default().seed, allow_negative_numbers = true)]
    pub seed: i64,

    #[command(flatten)]
    pub data: DataArgs,

    /// Output directory.
    #[arg(long, default_value = "runs/dbn", value_name = "DIR")]
    pub out: PathBuf,
}

impl PretrainArgs {
    /// The pretraining settings.
    pub fn config(&self) -> PretrainConfig {
        PretrainConfig {
            widths: self.widths.0.clone(),
            epochs: self.epochs as usize,
            rbm: RbmConfig {
                learning_rate: self.lr,
                weight_decay: self.weight_decay,
                batch_size: self.batch_size,
                cd_k: self.cd_k as usize,
                persistent: self.persistent,
                ..RbmConfig::default()
            },
            train_limit: self.train_limit,
            seed: self.seed,
            out_dir: self.out.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run directory written by `initlab train`, `lab`, `compare` or `study` (run.json, model.safetensors).
    #[arg(value_name = "RUN_DIR", value_parser = existing_dir)]
    pub run: PathBuf,

    /// Directory with the MNIST IDX files (default: the one the run was trained on).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub data_dir: Option<PathBuf>,

    /// Confusion-matrix picture to write (default: RUN_DIR/confusion.png).
    #[arg(long, value_name = "FILE", value_parser = png_path)]
    pub out: Option<PathBuf>,

    /// Print the evaluation as JSON (exact numbers) instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("digit").required(true).args(["image", "index"])),
    override_usage = "initlab predict <RUN_DIR> <IMAGE|--index <N>> [OPTIONS]"
)]
pub struct PredictArgs {
    /// Run directory written by `initlab train`.
    #[arg(value_name = "RUN_DIR", value_parser = existing_dir)]
    pub run: PathBuf,

    /// A PNG or JPEG to classify, any size up to 4096×4096: colour is converted to gray (BT.601;
    /// transparent = black). A 28×28 picture is taken as an MNIST image, pixel for pixel; any
    /// other size (a drawing, a photo) is made MNIST-like first: dark on light is inverted, the
    /// digit's box is scaled to fit 20×20 and centred by its centre of mass in 28×28.
    #[arg(value_name = "IMAGE", value_parser = existing_file)]
    pub image: Option<PathBuf>,

    /// When IMAGE is made MNIST-like: `auto` (every size but 28×28), `always` (28×28 too: a small
    /// dark-on-light drawing), `never` (only 28×28 pictures are read).
    #[arg(long, value_name = "auto|always|never", default_value = "auto", value_parser = parse_prepare)]
    pub prepare: Prepare,

    /// Classify test image N (0-based, `mnist_test[N]`) instead; notebooks 9-3 and 9-4
    /// (`random.seed(777)`) pick 3757.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(0..))]
    pub index: Option<i64>,

    /// Directory with the MNIST IDX files for --index (default: the one the run was trained on).
    #[arg(long, value_name = "DIR", value_parser = existing_dir)]
    pub data_dir: Option<PathBuf>,

    /// Picture of the digit and its class probabilities (default:
    /// RUN_DIR/predict-test-N.png or RUN_DIR/predict-<image name>.png).
    #[arg(long, value_name = "FILE", value_parser = png_path)]
    pub out: Option<PathBuf>,

    /// Print the prediction as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

fn png_path(s: &str) -> Result<PathBuf, String> {
    if s.to_ascii_lowercase().ends_with(".png") {
        Ok(PathBuf::from(s))
    } else {
        Err(format!("{s} must end in .png"))
    }
}

fn momentum_value(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be in [0, 1), got {s}"))
    }
}

fn non_negative_float(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a finite number ≥ 0, got {s}"))
    }
}

/// A comma-separated list of init schemes.
#[derive(Debug, Clone)]
pub struct InitList(pub Vec<InitScheme>);

fn parse_inits(s: &str) -> Result<InitList, String> {
    let inits = s
        .split(',')
        .map(|x| x.trim().parse::<InitScheme>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if inits.is_empty() {
        return Err("give at least one init scheme".into());
    }
    for (i, a) in inits.iter().enumerate() {
        if inits[..i].contains(a) {
            return Err(format!(
                "{a} is listed twice (aliases included): the two runs would be identical"
            ));
        }
    }
    Ok(InitList(inits))
}

fn parse_study(s: &str) -> Result<Study, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

/// A run directory name: one path component.
fn run_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s != "." && s != ".." && !s.contains('/') && !s.starts_with('.');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not a run name (one folder name, not starting with '.', without '/')"
        ))
    }
}

fn positive_float(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a positive finite number, got {s}"))
    }
}

fn existing_dir(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("an empty path is not a directory".into());
    }
    let p = PathBuf::from(s);
    if p.is_dir() {
        Ok(p)
    } else if p.exists() {
        Err(format!("{s} is not a directory"))
    } else {
        Err(format!("directory {s} does not exist"))
    }
}

fn existing_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    if p.is_file() {
        Ok(p)
    } else if p.exists() {
        Err(format!("{s} is not a file"))
    } else {
        Err(format!("file {s} does not exist"))
    }
}

fn chart_path(s: &str) -> Result<PathBuf, String> {
    let lower = s.to_ascii_lowercase();
    if lower.ends_with(".png") || lower.ends_with(".svg") {
        Ok(PathBuf::from(s))
    } else {
        Err(format!("{s} must end in .png or .svg"))
    }
}

fn parse_widths(s: &str) -> Result<Widths, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn parse_init(s: &str) -> Result<InitScheme, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn parse_schedule(s: &str) -> Result<LrSchedule, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn parse_bias(s: &str) -> Result<BiasInit, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn parse_activation(s: &str) -> Result<Activation, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}

fn parse_optimizer(s: &str) -> Result<OptimizerKind, String> {
    s.parse().map_err(|e: anyhow::Error| e.to_string())
}
