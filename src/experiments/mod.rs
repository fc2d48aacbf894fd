//! The experiments: planners that describe their runs as specs for the engine, then summarise and
//! draw. `lab` (the lab's main job), `compare`, `study`, `inspect`, `pretrain`; `eval` (a saved
//! run evaluated and asked to predict); `picture` (the PNG and JPEG
//! files `predict` reads); `report_html` (the self-contained `report.html` page of
//! `lab`, `compare` and `study`).

pub mod compare;
pub mod eval;
pub mod inspect;
pub mod lab;
pub mod machines;
pub mod picture;
pub mod pretrain;
pub mod report_html;
pub mod seeds;
pub mod study;
