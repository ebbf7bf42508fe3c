//! `crowdtwin`: the command-line front end.

use clap::{Parser, Subcommand};
use crowdtwin_sim::phold::PholdParams;
use crowdtwin_twin::run::{self, RunOptions};
use crowdtwin_twin::{TwinError, bench, synthetic};
use std::io::Write;
use std::path::PathBuf;
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
        /// Spatial shards; the output is byte-identical for any count (default: 1, or one
        /// per node slot with --cluster).
        #[arg(long)]
        shards: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Run the shards on the worker nodes of this nodes file (see `crowdtwin node`).
        #[arg(long)]
        cluster: Option<PathBuf>,
        /// With --cluster: simulated minutes between checkpoints of every shard.
        #[arg(long, default_value_t = 30.0)]
        checkpoint_every_min: f64,
    },
    /// Compare crowding with nobody and with a share of visitors following
    /// recommendations (same seed); prints JSON.
    Recommendations {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Share of ticket holders and walk-ins who follow recommendations.
        #[arg(long, default_value_t = 0.5)]
        share: f64,
        /// Seed (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run a scenario over a range of one parameter and find where each place first breaks a
    /// level-of-service criterion; writes stress.json and stress.html.
    Stress {
        /// Scenario file (TOML).
        file: PathBuf,
        /// PARAM=LO..HI with PARAM one of arrivals.scale, gates.lanes, gates.lanes_scale, sessions.shift (min).
        #[arg(long)]
        vary: String,
        /// Points from LO to HI, both included.
        #[arg(long, default_value_t = 11)]
        steps: usize,
        /// Worst level of service a place may reach, e.g. "los<=D".
        #[arg(long, default_value = "los<=D")]
        criterion: String,
        /// Which elements the criterion applies to: all, places or walkways.
        #[arg(long, default_value = "all")]
        scope: String,
        /// Close this gate all day at every point (repeatable).
        #[arg(long = "close-gate")]
        close_gate: Vec<String>,
        /// Output folder (created if missing).
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Seed of every point (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Threads running points (default: the machine's cores).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress lines.
        #[arg(long)]
        quiet: bool,
        /// Run the points on the worker nodes of this nodes file (see `crowdtwin node`).
        #[arg(long)]
        cluster: Option<PathBuf>,
    },
    /// Start a worker node that runs the jobs of `--cluster` runs; prints the address it listens on.
    #[cfg(feature = "cluster")]
    Node {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// File holding the cookie shared by the nodes and the coordinator.
        #[arg(long)]
        cookie_file: PathBuf,
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
    /// Run the live twin as an HTTP service.
    Serve {
        /// Scenario the twin knows.
        #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
        scenario: Option<PathBuf>,
        /// Demo: the bundled Gangneung day, fed by a hidden truth run (30% more visitors) as live sensors.
        #[arg(long)]
        demo: bool,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Clock speed: simulated seconds per wall second (1 = real time).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Clock time to start at (default: the scenario's start).
        #[arg(long)]
        start: Option<String>,
        /// Ensemble members.
        #[arg(long, default_value_t = 32)]
        members: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated seconds between forecasts.
        #[arg(long, default_value_t = 60)]
        forecast_every_s: u64,
        /// Orders: keep the order store here (created if missing); without it the order endpoints answer 503.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Bearer tokens file, one `ROLE TOKEN` per line (customer, operator); without it auth is off.
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// Run the forecasts' members ahead on the worker nodes of this nodes file.
        #[arg(long)]
        cluster: Option<PathBuf>,
    },
    /// Write the observations sensors would make of a truth scenario (NDJSON, or Parquet for `.parquet`).
    Observe {
        /// Truth scenario.
        truth: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds between counts.
        #[arg(long, default_value_t = 60)]
        every_s: u64,
    },
    /// Send an observation file to a running twin, paced by its clock.
    Replay {
        /// Observation file (NDJSON, or Parquet for `.parquet`).
        file: PathBuf,
        /// The twin's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
    },
    /// Score the live twin's forecasts: on a truth scenario it cannot see
    /// (`--scenario` + `--truth`), or on real counts (`--counts`); prints JSON.
    ForecastEval {
        /// The scenario the twin knows (the plan).
        #[arg(long, required_unless_present = "counts", requires = "truth")]
        scenario: Option<PathBuf>,
        /// The scenario that really happens (sensors observe it).
        #[arg(long, requires = "scenario")]
        truth: Option<PathBuf>,
        /// Real counts: a CSV with columns timestamp,sensor,count (hourly).
        #[arg(long, conflicts_with_all = ["scenario", "truth"], requires = "train_until")]
        counts: Option<PathBuf>,
        /// With --counts: learn from the data before this date (YYYY-MM-DD), score the rest.
        #[arg(long)]
        train_until: Option<String>,
        /// With --counts: forecast horizon, whole hours (e.g. 1h).
        #[arg(long, default_value = "1h")]
        horizon: String,
        /// With --counts: print JSON (default: also JSON; kept for scripts that pass it).
        #[arg(long)]
        json: bool,
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
        /// Run the forecasts' members ahead on the worker nodes of this nodes file.
        #[arg(long, conflicts_with = "counts")]
        cluster: Option<PathBuf>,
    },
    /// Solve an orienteering problem with time windows (OPTW benchmark file); prints JSON.
    Optw {
        /// Instance file (Righini-Salani / Solomon / Cordeau format).
        file: PathBuf,
        /// Time budget, milliseconds.
        #[arg(long, default_value_t = 100)]
        budget_ms: u64,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run the measured validation experiments and print measured against simulated.
    ValidateModel {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Also write the density-speed plot (SVG) here.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Benchmarks of the simulation engine.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Load generators for a running service on loopback; print one JSON line.
    #[command(subcommand)]
    Loadgen(LoadgenCommand),
    /// The order store.
    #[command(subcommand)]
    Orders(OrdersCommand),
}

#[derive(Subcommand)]
enum OrdersCommand {
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

/// What every load run takes: where, how long, how many connections.
#[derive(clap::Args)]
struct LoadArgs {
    /// Full URL (for `orders`: the service's base URL), e.g. http://127.0.0.1:8080/v1/forecast.
    #[arg(long)]
    url: String,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Connections.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Subcommand)]
enum LoadgenCommand {
    /// POST a JSON body to a URL back to back from many connections (e.g. /v1/itineraries).
    Post {
        #[command(flatten)]
        load: LoadArgs,
        /// File holding the JSON body.
        #[arg(long)]
        body: PathBuf,
    },
    /// GET a URL back to back from many connections.
    Get {
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Place orders (fresh idempotency keys) back to back from many connections.
    Orders {
        #[command(flatten)]
        load: LoadArgs,
        /// Orders per request: 1 posts /v1/orders, more post /v1/orders/batch.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Bearer token (customer, or operator with --restock).
        #[arg(long)]
        token: Option<String>,
        /// Add this many units to every item before the run (operator), so that it measures confirmations.
        #[arg(long)]
        restock: Option<u32>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// A scenario on K shards: events, windows and messages between shards; prints one JSON line.
    Crowd {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Spatial shards.
        #[arg(long, default_value_t = 1)]
        shards: usize,
        /// Threads running them (default: one per shard).
        #[arg(long)]
        threads: Option<usize>,
        /// Seed (default: the file's).
        #[arg(long)]
        seed: Option<u64>,
    },
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
        Command::Run { file, seed, out, threads, shards, quiet, cluster, checkpoint_every_min } => {
            let started = std::time::Instant::now();
            let (output, paths) = match cluster {
                None => {
                    let shards = shards.unwrap_or(1);
                    let options = RunOptions { seed, shards, threads: threads.unwrap_or(shards), progress: !quiet };
                    run::run_file(&file, &out, &options)?
                }
                #[cfg(feature = "cluster")]
                Some(nodes) => {
                    let config = crowdtwin_twin::cluster::read_nodes_file(&nodes)?;
                    let shards = shards.unwrap_or_else(|| config.nodes.iter().map(|n| n.slots).sum());
                    let options = RunOptions { seed, shards, threads: 1, progress: !quiet };
                    crowdtwin_twin::cluster::run_file_on_cluster(&file, &out, &options, &config, checkpoint_every_min)?
                }
                #[cfg(not(feature = "cluster"))]
                Some(_) => return Err(TwinError::Input("--cluster: built without the `cluster` feature".into())),
            };
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
        Command::Recommendations { file, share, seed } => {
            let scenario = run::load_scenario(&file)?;
            let seed = seed.unwrap_or(scenario.seed);
            let effect = run::recommendation_effect(&scenario, share, seed)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &effect).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        #[cfg(feature = "cluster")]
        Command::Node { listen, cookie_file } => {
            let cookie = crowdtwin_twin::cluster::read_cookie(&cookie_file)?;
            crowdtwin_twin::cluster::node::run_node(&listen, cookie)?;
        }
        Command::Stress { file, vary, steps, criterion, scope, close_gate, out, seed, threads, quiet, cluster } => {
            let options = crowdtwin_twin::stress::StressOptions {
                vary: crowdtwin_twin::stress::Vary::parse(&vary)?,
                steps,
                criterion: crowdtwin_twin::stress::parse_criterion(&criterion)?,
                scope: crowdtwin_twin::stress::Scope::parse(&scope)?,
                close_gates: close_gate,
                seed,
                threads: threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                progress: !quiet,
            };
            let (report, paths) = match cluster {
                #[cfg(feature = "cluster")]
                Some(nodes) => {
                    let config = crowdtwin_twin::cluster::read_nodes_file(&nodes)?;
                    crowdtwin_twin::cluster::stress_file_on_cluster(&file, &out, &options, &config)?
                }
                #[cfg(not(feature = "cluster"))]
                Some(_) => return Err(TwinError::Input("--cluster: built without the `cluster` feature".into())),
                None => crowdtwin_twin::stress::stress_file(&file, &out, &options)?,
            };
            match &report.first_failure {
                Some(first) => println!(
                    "{}: first to break {}: {} ({}) at {} = {}",
                    report.scenario,
                    report.criterion,
                    first.elements[0],
                    first.los[0].letter(),
                    report.parameter,
                    first.value
                ),
                None => println!("{}: nothing breaks {} in this range", report.scenario, report.criterion),
            }
            for path in paths {
                println!("wrote {}", path.display());
            }
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
        Command::ForecastEval { counts: Some(counts), train_until, horizon, json: _, .. } => {
            let train_until = train_until.expect("clap requires --train-until with --counts");
            let start = crowdtwin_twin::counts::parse_hour(&format!("{train_until}T00:00"))
                .map_err(|e| TwinError::Input(format!("--train-until: {e}")))?;
            let hours: u32 = horizon
                .strip_suffix('h')
                .and_then(|h| h.parse().ok())
                .ok_or_else(|| TwinError::Input(format!("--horizon `{horizon}`: write whole hours, e.g. 1h")))?;
            let data = crowdtwin_twin::counts::read_counts(&counts)?;
            for (line, problem) in data.bad_rows.iter().take(crowdtwin_twin::counts::BAD_ROWS_LISTED_MAX) {
                eprintln!("{}:{line}: skipped: {problem}", counts.display());
            }
            let report = crowdtwin_twin::counts::evaluate(&data, start, hours)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Command::ForecastEval { scenario, truth, seed, members, every_min, horizon_min, cluster, .. } => {
            let (Some(scenario), Some(truth)) = (scenario, truth) else {
                return Err(TwinError::Input("give --scenario and --truth, or --counts".into()));
            };
            if every_min == 0 {
                return Err(TwinError::Input("--every-min must be at least 1".into()));
            }
            let nominal = run::load_scenario(&scenario)?;
            let truth = run::load_scenario(&truth)?;
            let run_ahead = match cluster {
                None => None,
                #[cfg(feature = "cluster")]
                Some(nodes) => Some(members_on_cluster(&nodes, &scenario)?),
                #[cfg(not(feature = "cluster"))]
                Some(_) => return Err(TwinError::Input("--cluster: built without the `cluster` feature".into())),
            };
            let config = crowdtwin_twin::eval::EvalConfig {
                twin: crowdtwin_twin::live::TwinConfig { members, horizon_min, ..Default::default() },
                forecast_every_min: every_min,
                first_forecast_clock_s: None,
                sensors: Default::default(),
            };
            let report = crowdtwin_twin::eval::forecast_eval_with(nominal, truth, &config, seed, run_ahead)
                .map_err(TwinError::Input)?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Command::Serve {
            scenario,
            demo,
            listen,
            speed,
            start,
            members,
            seed,
            forecast_every_s,
            data,
            tokens,
            cluster,
        } => {
            let orders = ServeOrders { data, tokens, cluster };
            serve(scenario, demo, &listen, speed, start, members, seed, forecast_every_s, orders)?;
        }
        Command::Observe { truth, out, seed, every_s } => {
            if every_s == 0 {
                return Err(TwinError::Input("--every-s must be at least 1".into()));
            }
            let truth = run::load_scenario(&truth)?;
            let sensors = crowdtwin_twin::eval::SensorConfig {
                every: crowdtwin_sim::SimDuration::from_secs(every_s),
                ..Default::default()
            };
            let count = crowdtwin_twin::feed::observe(truth, seed, sensors, &out)?;
            println!("wrote {count} observations to {}", out.display());
        }
        Command::Replay { file, url } => {
            let observations = crowdtwin_twin::feed::read_observations(&file)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let (accepted, duplicates, late) =
                runtime.block_on(crowdtwin_twin::feed::replay(observations, &url, |sent, total| {
                    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                        eprint!("\rreplayed {sent}/{total}");
                    }
                }))?;
            println!("replayed: {accepted} accepted, {duplicates} duplicates, {late} late");
        }
        Command::Loadgen(command) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let report = match command {
                LoadgenCommand::Get { load } => {
                    runtime.block_on(crowdtwin_twin::loadgen::run(&load.url, None, load.concurrency, load.duration))?
                }
                LoadgenCommand::Post { load, body } => {
                    let body =
                        std::fs::read(&body).map_err(|e| TwinError::Input(format!("{}: {e}", body.display())))?;
                    runtime.block_on(crowdtwin_twin::loadgen::run(
                        &load.url,
                        Some(body),
                        load.concurrency,
                        load.duration,
                    ))?
                }
                LoadgenCommand::Orders { load, batch, token, restock } => {
                    let load = crowdtwin_twin::loadgen::OrderLoad {
                        url: load.url,
                        duration_s: load.duration,
                        concurrency: load.concurrency,
                        batch,
                        token,
                        restock_units: restock,
                    };
                    runtime.block_on(crowdtwin_twin::loadgen::orders(&load))?
                }
            };
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Command::Orders(OrdersCommand::Export { data, out }) => {
            let (orders, rows) = crowdtwin_twin::orders::export::export(&data, &out)?;
            println!("wrote {orders} orders ({rows} lines) to {}", out.display());
        }
        Command::ValidateModel { json, plot } => {
            let report = crowdtwin_twin::validation::validate_model().map_err(TwinError::Input)?;
            if json {
                let mut out = std::io::stdout().lock();
                serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
                writeln!(out)?;
            } else {
                print!("{}", crowdtwin_twin::validation::markdown(&report));
            }
            if let Some(path) = plot {
                std::fs::write(&path, crowdtwin_twin::validation::density_speed_svg())
                    .map_err(|e| TwinError::Input(format!("{}: {e}", path.display())))?;
                eprintln!("wrote {}", path.display());
            }
        }
        Command::Optw { file, budget_ms, seed } => {
            if !(1..=3_600_000).contains(&budget_ms) {
                return Err(TwinError::Input(format!("--budget-ms {budget_ms} must be between 1 and 3600000")));
            }
            let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().to_string());
            let text =
                std::fs::read_to_string(&file).map_err(|e| TwinError::Input(format!("{}: {e}", file.display())))?;
            let instance = crowdtwin_sim::optw::parse(&text, &name).map_err(|e| TwinError::Input(e.to_string()))?;
            let started = std::time::Instant::now();
            let budget = std::time::Duration::from_millis(budget_ms);
            let solution = crowdtwin_sim::optw::solve(&instance, seed, |_| started.elapsed() >= budget);
            let wall_s = started.elapsed().as_secs_f64();
            let score = crowdtwin_sim::optw::evaluate(&instance, &solution.route).map_err(|e| {
                TwinError::Input(format!("internal error: the solver returned an infeasible route: {e}"))
            })?;
            let report = serde_json::json!({
                "instance": name,
                "score": score,
                "route": solution.route,
                "customers": instance.customers(),
                "iterations": solution.iterations,
                "budget_ms": budget_ms,
                "wall_s": wall_s,
            });
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
        Command::Bench(BenchCommand::Crowd { file, shards, threads, seed }) => {
            let scenario = run::load_scenario(&file)?;
            let report = bench::run_crowd_shards(scenario, seed, shards, threads.unwrap_or(shards))?;
            let mut out = std::io::stdout().lock();
            serde_json::to_writer(&mut out, &report).map_err(std::io::Error::from)?;
            writeln!(out)?;
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

const BUNDLED_SCENARIO: &str = include_str!("../../scenarios/gangneung-2018.toml");
const BUNDLED_TRUTH: &str = include_str!("../../scenarios/truths/gangneung-more-arrivals.toml");

/// `serve`'s order options.
struct ServeOrders {
    data: Option<PathBuf>,
    tokens: Option<PathBuf>,
    /// Nodes file: forecast members run on its nodes.
    cluster: Option<PathBuf>,
}

/// The live twin's members run ahead on the nodes of `nodes` (a nodes
/// file), for a twin of the scenario file `scenario`.
#[cfg(feature = "cluster")]
fn members_on_cluster(
    nodes: &std::path::Path,
    scenario: &std::path::Path,
) -> Result<std::sync::Arc<dyn crowdtwin_twin::live::ensemble::RunAhead>, TwinError> {
    let text =
        std::fs::read_to_string(scenario).map_err(|e| TwinError::Input(format!("{}: {e}", scenario.display())))?;
    members_on_cluster_text(nodes, &scenario.display().to_string(), &text)
}

#[cfg(feature = "cluster")]
fn members_on_cluster_text(
    nodes: &std::path::Path,
    file: &str,
    text: &str,
) -> Result<std::sync::Arc<dyn crowdtwin_twin::live::ensemble::RunAhead>, TwinError> {
    use crowdtwin_twin::cluster;
    let config = cluster::read_nodes_file(nodes)?;
    let connected = cluster::coordinator::Cluster::connect(&config)?;
    eprintln!("twin: forecast members run on {}", connected.addresses().join(", "));
    Ok(std::sync::Arc::new(cluster::members::ClusterRunAhead::new(connected, (file, text), |node, why| {
        eprintln!("twin: node {node} lost ({why}); its members run on the others")
    })))
}

#[allow(clippy::too_many_arguments)]
fn serve(
    scenario: Option<PathBuf>,
    demo: bool,
    listen: &str,
    speed: f64,
    start: Option<String>,
    members: usize,
    seed: u64,
    forecast_every_s: u64,
    orders: ServeOrders,
) -> Result<(), TwinError> {
    use crowdtwin_sim::scenario::Scenario;
    use crowdtwin_twin::live::clock::{Clock, WallClock};
    use std::sync::Arc;
    if !(speed.is_finite() && speed > 0.0 && speed <= 10_000.0) {
        return Err(TwinError::Input(format!("--speed {speed} must be between 0 and 10000")));
    }
    if forecast_every_s == 0 {
        return Err(TwinError::Input("--forecast-every-s must be at least 1".into()));
    }
    let scenario_path = scenario.clone();
    let (scenario, truth) = if demo {
        (Scenario::parse(BUNDLED_SCENARIO, "gangneung-2018.toml")?, Some(Scenario::parse(BUNDLED_TRUTH, "truth.toml")?))
    } else {
        (run::load_scenario(scenario.as_ref().expect("clap requires --scenario without --demo"))?, None)
    };
    let start_at = match start {
        Some(text) => {
            let seconds = crowdtwin_sim::scenario::parse_clock(&text).map_err(TwinError::Input)?;
            let offset = seconds
                .checked_sub(scenario.start_clock_s)
                .ok_or_else(|| TwinError::Input(format!("--start {text} is before the scenario starts")))?;
            crowdtwin_sim::SimTime::from_secs(offset as u64)
        }
        None => crowdtwin_sim::SimTime::ZERO,
    };
    let tokens = match &orders.tokens {
        Some(path) => crowdtwin_twin::auth::Tokens::load(path).map_err(TwinError::Input)?,
        None => {
            eprintln!(
                "crowdtwin serve: WARNING: no --tokens file: auth is OFF, anyone who reaches this address may order, restock and send observations"
            );
            crowdtwin_twin::auth::Tokens::disabled()
        }
    };
    let book = match &orders.data {
        Some(dir) => {
            let catalogue = crowdtwin_twin::orders::shop::Catalogue::from_scenario(&scenario);
            let config = crowdtwin_twin::orders::OrderBookConfig { data_dir: dir.clone() };
            let book = crowdtwin_twin::orders::OrderBook::open(&config, catalogue)
                .map_err(|e| TwinError::Input(e.to_string()))?;
            Some(Arc::new(book))
        }
        None => None,
    };
    let run_ahead = match &orders.cluster {
        None => None,
        #[cfg(feature = "cluster")]
        Some(nodes) => Some(match &scenario_path {
            Some(path) => members_on_cluster(nodes, path)?,
            None => members_on_cluster_text(nodes, "gangneung-2018.toml", BUNDLED_SCENARIO)?,
        }),
        #[cfg(not(feature = "cluster"))]
        Some(_) => return Err(TwinError::Input("--cluster: built without the `cluster` feature".into())),
    };
    let start_clock_s = scenario.start_clock_s;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let clock: Arc<dyn Clock> = Arc::new(WallClock::new(start_at, speed));
        let config = crowdtwin_twin::live::TwinConfig { members, seed, ..Default::default() };
        let service = crowdtwin_twin::service::Service::start_with(
            scenario,
            config,
            clock.clone(),
            crowdtwin_sim::SimDuration::from_secs(forecast_every_s),
            run_ahead,
        )
        .await
        .map_err(TwinError::Input)?;
        let listener =
            tokio::net::TcpListener::bind(listen).await.map_err(|e| TwinError::Input(format!("{listen}: {e}")))?;
        println!(
            "crowdtwin twin listening on http://{}  (GET /v1/forecast, /v1/alerts, /v1/state, /openapi.json)",
            listener.local_addr()?
        );
        let service = Arc::new(service);
        let ticker = service.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                interval.tick().await;
                ticker.tick();
            }
        });
        if let Some(truth) = truth {
            // The hidden truth plays as live sensors.
            let state = service.state.clone();
            let feed_clock = clock.clone();
            tokio::spawn(async move {
                let mut feed = crowdtwin_twin::eval::TruthFeed::new(truth, seed, Default::default());
                let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    interval.tick().await;
                    let now = feed_clock.now();
                    let observations = tokio::task::block_in_place(|| feed.observe_until(now));
                    if !observations.is_empty() {
                        crowdtwin_twin::service::ingest(&state, observations).await;
                    }
                }
            });
        }
        let mut state = service.state.clone().with_tokens(tokens);
        if let Some(book) = book {
            state = state.with_orders(book.clone());
            let feed = crowdtwin_twin::orders::live::feed_twin(
                state.clone(),
                book,
                clock.clone(),
                start_clock_s,
                std::time::Duration::from_secs(5),
            );
            tokio::spawn(feed);
        }
        let router = crowdtwin_twin::service::router(state);
        crowdtwin_twin::service::serve(listener, router, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        service.stop();
        Ok::<(), TwinError>(())
    })
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
