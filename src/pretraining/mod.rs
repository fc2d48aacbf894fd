//! The RBM/DBN family: restricted Boltzmann machines, greedy deep-belief-net pretraining, and
//! their pictures. Built on [`crate::base`]; used as an initializer by [`crate::engine`].

pub mod dbn;
pub mod rbm;
pub mod rbm_plot;
