//! `crowdtwin`: the command-line front end.

use clap::{Parser, Subcommand};
use crowdtwin_sim::phold::PholdParams;
use crowdtwin_twin::{TwinError, bench};
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "crowdtwin", version, about = "A digital twin of crowds at large events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks of the simulation engine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// PHOLD (Fujimoto 1990) on the kernel; prints one JSON line.
    Phold {
        /// Logical processes.
        #[arg(long, default_value_t = 10_000)]
        lps: u32,
        /// Initial events per process.
        #[arg(long, default_value_t = 16)]
        population: u32,
        /// Probability that an event goes to a random other process.
        #[arg(long, default_value_t = 0.1)]
        remote: f64,
        /// Fixed part of every delay (seconds); also the lookahead between shards.
        #[arg(long, default_value_t = 0.1)]
        lookahead: f64,
        /// Mean of the exponential part of every delay (seconds).
        #[arg(long, default_value_t = 1.0)]
        mean: f64,
        /// Simulated seconds to run.
        #[arg(long, default_value_t = 100.0)]
        end: f64,
        /// Seed of every random stream.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Shards, each on its own thread; the output is identical for any count.
        #[arg(long, default_value_t = 1)]
        shards: usize,
    },
}

fn run(cli: Cli) -> Result<(), TwinError> {
    match cli.command {
        Command::Bench(BenchCommand::Phold { lps, population, remote, lookahead, mean, end, seed, shards }) => {
            let params = PholdParams { lps, population, remote, lookahead_s: lookahead, mean_s: mean };
            let report = bench::run_phold(params, end, seed, shards)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crowdtwin: error: {error}");
            ExitCode::FAILURE
        }
    }
}
