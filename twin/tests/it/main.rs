//! crowdtwin-twin's integration tests, one binary: the command line, the
//! live twin and its HTTP service.

mod cli;
mod live;
mod service;
mod stress;
mod validation;
