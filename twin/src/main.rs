//! `crowdtwin`: the command-line front end.

use clap::{Parser, Subcommand};
use crowdtwin_sim::phold::PholdParams;
use crowdtwin_twin::run::{self, RunOptions};
use crowdtwin_twin::{TwinError, bench, synthetic};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "crowdtwin", version, about = "A digital twin of crowds at large events")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write places.parquet, kpis.json and report.html.
    Run {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Seed of every random stream (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder (created if missing).
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Threads to run the shards on (default: one per shard).
        #[arg(long)]
        threads: Option<usize>,
        /// Spatial shards; the output is byte-identical for any count.
        #[arg(long, default_value_t = 1)]
        shards: usize,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a scenario file and say what it holds.
    Validate {
        /// Scenario file (TOML).
        file: PathBuf,
    },
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Write a synthetic scenario for scale tests.
    Generate {
        /// Visitors.
        #[arg(long)]
        visitors: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Score the live twin's 30-minute forecasts on a truth it cannot see; prints JSON.
    ForecastEval {
        /// The scenario the twin knows (the plan).
        #[arg(long)]
        scenario: PathBuf,
        /// The scenario that really happens (sensors observe it).
        #[arg(long)]
        truth: PathBuf,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Ensemble members.
        #[arg(long, default_value_t = 32)]
        members: usize,
        /// Minutes between scored forecasts.
        #[arg(long, default_value_t = 15)]
        every_min: u32,
        /// Forecast horizon, minutes.
        #[arg(long, default_value_t = 30)]
        horizon_min: u32,
    },
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
        Command::Run { file, seed, out, threads, shards, quiet } => {
            let options = RunOptions { seed, shards, threads: threads.unwrap_or(shards), progress: !quiet };
            let started = std::time::Instant::now();
            let (output, paths) = run::run_file(&file, &out, &options)?;
            let kpis = &output.kpis;
            println!(
                "{}: {} events in {:.2} s; peak density {:.2} P/m² at {} ({})",
                kpis.scenario,
                kpis.events,
                started.elapsed().as_secs_f64(),
                kpis.peak_density_p_per_m2,
                kpis.peak_density_element,
                kpis.peak_density_at
            );
            for path in paths {
                println!("wrote {}", path.display());
            }
            println!("open the report: {}", out.join("report.html").display());
        }
        Command::Validate { file } => {
            let scenario = run::load_scenario(&file)?;
            let visitors = scenario.visitors.as_ref().map_or(0, |v| v.count);
            println!(
                "{}: ok: \"{}\", {} places, {} walkways, {} sessions, {} visitors, {} crowds, {} interventions",
                file.display(),
                scenario.name,
                scenario.places.len(),
                scenario.walkways.len(),
                scenario.sessions.len(),
                visitors,
                scenario.crowds.len(),
                scenario.interventions.len()
            );
        }
        Command::ForecastEval { scenario, truth, seed, members, every_min, horizon_min } => {
            if every_min == 0 {
                return Err(TwinError::Input("--every-min must be at least 1".into()));
            }
            let nominal = run::load_scenario(&scenario)?;
            let truth = run::load_scenario(&truth)?;
            let config = crowdtwin_twin::eval::EvalConfig {
                twin: crowdtwin_twin::live::TwinConfig { members, horizon_min, ..Default::default() },
                forecast_every_min: every_min,
                first_forecast_clock_s: None,
                sensors: Default::default(),
            };
            let report =
                crowdtwin_twin::eval::forecast_eval(nominal, truth, &config, seed).map_err(TwinError::Input)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Command::Schema => print!("{}", crowdtwin_sim::scenario::json_schema()),
        Command::Generate { visitors, out } => {
            if !(1_000..=crowdtwin_sim::scenario::VISITORS_MAX).contains(&visitors) {
                return Err(TwinError::Input(format!(
                    "--visitors {visitors}: must be between 1000 and {}",
                    crowdtwin_sim::scenario::VISITORS_MAX
                )));
            }
            std::fs::write(&out, synthetic::park_toml(visitors))
                .map_err(|e| TwinError::Input(format!("{}: {e}", out.display())))?;
            println!("wrote {}", out.display());
        }
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
