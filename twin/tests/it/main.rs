//! crowdtwin-twin's integration tests, one binary: the command line, the
//! live twin, its HTTP service and orders.

mod cli;
mod live;
mod orders;
mod service;
mod validation;
