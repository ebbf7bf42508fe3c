//! crowdtwin-twin's integration tests, one binary: the command line, the
//! live twin and its HTTP service.

mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod live;
mod service;
mod stress;
mod validation;
