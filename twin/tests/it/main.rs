//! crowdtwin-twin's integration tests, one binary: the command line, the
//! live twin and its HTTP service.

mod cli;
mod itinerary;
mod live;
mod service;
mod validation;
