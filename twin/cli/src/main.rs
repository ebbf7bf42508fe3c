//! `crowdtwin`: the command-line front end. Each command group lives in
//! [`commands`] as its arguments and a thin call into a library crate.

mod commands;
mod error;
mod print;

use clap::{Parser, Subcommand};
use commands::{live, orders, planner};
use error::CliError;
use std::process::ExitCode;

/// mimalloc: the service answers many small requests from several threads,
/// where glibc's allocator showed as ~10% of the server's time under order
/// load (benches/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "crowdtwin", version, about = "A digital twin of crowds at large events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write places.parquet, kpis.json and report.html.
    Run(planner::RunArgs),
    /// Compare crowding with nobody and with a share of visitors following
    /// recommendations (same seed); prints JSON.
    Recommendations(planner::RecommendationsArgs),
    /// Run a scenario over a range of one parameter and find where each place first breaks a
    /// level-of-service criterion; writes stress.json and stress.html.
    Stress(planner::StressArgs),
    /// Start a worker node that runs the jobs of `--cluster` runs; prints the address it listens on.
    #[cfg(feature = "cluster")]
    Node(commands::node::NodeArgs),
    /// Compare two scenarios over paired seeds: per element and metric the change, its 95%
    /// interval and whether it is significant; writes compare.json and compare.html.
    Compare(planner::CompareArgs),
    /// Check a scenario file and say what it holds.
    Validate(planner::ValidateArgs),
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Build a scenario skeleton from another format (GeoJSON site geometry).
    #[command(subcommand)]
    Import(planner::ImportCommand),
    /// Write a scenario in another format (its site as GeoJSON).
    #[command(subcommand)]
    Export(planner::ExportCommand),
    /// Write a synthetic scenario for scale tests.
    Generate(planner::GenerateArgs),
    /// Run the live twin as an HTTP service.
    Serve(live::ServeArgs),
    /// Write the observations sensors would make of a truth scenario (NDJSON, or Parquet for `.parquet`).
    Observe(live::ObserveArgs),
    /// Send an observation file to a running twin, paced by its clock.
    Replay(live::ReplayArgs),
    /// Score the live twin's forecasts: on a truth scenario it cannot see
    /// (`--scenario` + `--truth`), or on real counts (`--counts`); prints JSON.
    ForecastEval(live::ForecastEvalArgs),
    /// Solve an orienteering problem with time windows (OPTW benchmark file); prints JSON.
    Optw(planner::OptwArgs),
    /// Run the measured validation experiments and print measured against simulated.
    ValidateModel(planner::ValidateModelArgs),
    /// Benchmarks of the simulation engine.
    #[command(subcommand)]
    Bench(planner::BenchCommand),
    /// Load generators for a running service on loopback; print one JSON line.
    #[command(subcommand)]
    Loadgen(live::LoadgenCommand),
    /// The order store.
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run(args) => planner::run(args),
        Command::Recommendations(args) => planner::recommendations(args),
        Command::Stress(args) => planner::stress(args),
        #[cfg(feature = "cluster")]
        Command::Node(args) => commands::node::node(args),
        Command::Compare(args) => planner::compare(args),
        Command::Validate(args) => planner::validate(args),
        Command::Schema => planner::schema(),
        Command::Import(command) => planner::import(command),
        Command::Export(command) => planner::export(command),
        Command::Generate(args) => planner::generate(args),
        Command::Serve(args) => live::serve(args),
        Command::Observe(args) => live::observe(args),
        Command::Replay(args) => live::replay(args),
        Command::ForecastEval(args) => live::forecast_eval(args),
        Command::Optw(args) => planner::optw(args),
        Command::ValidateModel(args) => planner::validate_model(args),
        Command::Bench(command) => planner::bench(command),
        Command::Loadgen(command) => live::loadgen(command),
        Command::Orders(command) => orders::orders(command),
    }
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
