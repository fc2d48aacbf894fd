//! The experiments: planners that describe their runs as specs for the engine, then summarise and
//! draw. `lab` (the lab's main job), `compare`, `study`, `inspect`, `pretrain`; `eval` (a saved
//! run evaluated and asked to predict).

pub mod compare;
pub mod eval;
pub mod inspect;
pub mod lab;
pub mod pretrain;
pub mod study;
