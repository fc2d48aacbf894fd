//! The run engine: plain run specs with a content hash, the one place that resolves an init
//! scheme to its data-dependent hook, durable run directories with checkpoints and locks, each
//! run's TensorBoard log, the executor that runs, caches and resumes lists of specs (side by
//! side in worker processes when asked, or as Slurm batch jobs gathered afterwards), and `doctor`, the facts of a bug report. Built on
//! [`crate::base`] and [`crate::pretraining`]; the experiments above only plan specs and
//! summarise outcomes.

pub mod board;
pub mod checkpoint;
pub mod doctor;
pub mod executor;
pub mod gather;
pub mod hooks;
pub mod rundir;
pub mod runs;
pub mod sinks;
pub mod slurm;
pub mod spec;
pub mod workers;
