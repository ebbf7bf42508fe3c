//! `crowdtwin node`: a worker node for `--cluster` runs.

use crate::error::CliError;
use std::path::PathBuf;

/// `crowdtwin node` arguments.
#[derive(clap::Args)]
pub struct NodeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// File holding the cookie shared by the nodes and the coordinator.
    #[arg(long)]
    pub cookie_file: PathBuf,
}

/// `crowdtwin node`.
pub fn node(args: NodeArgs) -> Result<(), CliError> {
    let cookie = crowdtwin_cluster::read_cookie(&args.cookie_file)?;
    crowdtwin_cluster::node::run_node(&args.listen, cookie)?;
    Ok(())
}
