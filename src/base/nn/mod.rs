//! Networks and their initialisation: the MLP built like `torch.nn.Linear`, the init schemes and
//! `torch.nn.init` written out, the data-dependent hook with LSUV, and the mean-field theory of
//! deep random networks.

pub mod hook;
pub mod init;
pub mod isometry;
pub mod last_layer;
pub mod lsuv;
pub mod meanfield;
pub mod model;
pub mod scheme;
