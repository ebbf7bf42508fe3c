//! crowdtwin-client: tools that talk to a running service over HTTP.
//!
//! - [`http_client`]: a small keep-alive HTTP/1.1 client (loopback tools only).
//! - [`feed`]: observation files (NDJSON or Parquet) written from a truth
//!   scenario, and their replay into a running twin, paced by its clock.
//! - [`loadgen`]: load generators for GET, POST and order traffic.

#![warn(missing_docs)]

mod error;
pub mod feed;
pub mod http_client;
pub mod loadgen;

pub use error::ClientError;
