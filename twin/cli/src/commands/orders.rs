//! Order store commands.

use crate::error::CliError;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum OrdersCommand {
    /// Write every order of a store (of a stopped service) to Parquet, one row per order line.
    Export {
        /// The service's --data folder.
        #[arg(long)]
        data: PathBuf,
        /// Output file.
        #[arg(long, default_value = "orders.parquet")]
        out: PathBuf,
    },
}

/// `crowdtwin orders ...`.
pub fn orders(command: OrdersCommand) -> Result<(), CliError> {
    match command {
        OrdersCommand::Export { data, out } => {
            let mut counts = (0, 0);
            crowdtwin_planner::output::write_atomically(&out, |file| {
                counts = crowdtwin_orders::export::export(&data, file)?;
                Ok::<(), CliError>(())
            })?;
            println!("wrote {} orders ({} lines) to {}", counts.0, counts.1, out.display());
            Ok(())
        }
    }
}
