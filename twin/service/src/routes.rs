//! The routes, one file per group.

pub mod itineraries;
pub mod orders;
pub mod twin;
