//! One chart vocabulary for the PNG and SVG charts drawn with plotters and the inline SVG charts
//! of `report.html`: the same axes, ticks, log ranges and number format ([`axis`]), the same
//! colour per init scheme and line looks ([`style`]), the same legend rules ([`legend`]).
//!
//! The plotters side: [`canvas`] (files, font, one plot set-up for every chart, lines),
//! [`panel`] (line panels and figures of panels), [`heatmap`], [`grid`] (rows of panels and
//! heatmaps). Charts that know an experiment live beside it: a run's history in
//! `base::train::chart`, the mean-field figures in `base::nn::meanfield::chart`, the RBM pictures
//! in `pretraining::rbm_plot`.

pub mod axis;
pub mod canvas;
pub mod grid;
pub mod heatmap;
pub mod legend;
pub mod panel;
pub mod series;
pub mod style;
