//! Planner commands: runs, recommendations, stress tests, checks, the
//! scenario schema, synthetic parks, model validation, OPTW and benchmarks.

use crate::error::CliError;
use crate::print;
use clap::Subcommand;
use crowdtwin_planner::run::{self, RunOptions};
use crowdtwin_planner::{bench, compare, site, stress, synthetic, validation};
use crowdtwin_sim::phold::PholdParams;
use std::path::PathBuf;

/// `crowdtwin run` arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Seed of every random stream (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (created if missing).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Threads to run the shards on (default: one per shard).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Spatial shards; the output is byte-identical for any count (default: 1, or one
    /// per node slot with --cluster).
    #[arg(long)]
    pub shards: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Run the shards on the worker nodes of this nodes file (see `crowdtwin node`).
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// With --cluster: simulated minutes between checkpoints of every shard.
    #[arg(long, default_value_t = 30.0)]
    pub checkpoint_every_min: f64,
}

/// `crowdtwin recommendations` arguments.
#[derive(clap::Args)]
pub struct RecommendationsArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Share of ticket holders and walk-ins who follow recommendations.
    #[arg(long, default_value_t = 0.5)]
    pub share: f64,
    /// Seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Shares to compare with nobody following, e.g. `0.25,0.5,1`: prints
    /// the table over `--seeds` paired seeds instead of one pair of runs.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["share", "seed"])]
    pub shares: Option<Vec<f64>>,
    /// Paired seeds of the table (the file's seed and the next N − 1).
    #[arg(long, default_value_t = 5, requires = "shares")]
    pub seeds: usize,
    /// Threads of the table's runs (default: all cores).
    #[arg(long, requires = "shares")]
    pub threads: Option<usize>,
}

/// `crowdtwin stress` arguments.
#[derive(clap::Args)]
pub struct StressArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// PARAM=LO..HI with PARAM one of arrivals.scale, gates.lanes, gates.lanes_scale, sessions.shift (min).
    #[arg(long)]
    pub vary: String,
    /// Points from LO to HI, both included.
    #[arg(long, default_value_t = 11)]
    pub steps: usize,
    /// Worst level of service a place may reach, e.g. "los<=D".
    #[arg(long, default_value = "los<=D")]
    pub criterion: String,
    /// Which elements the criterion applies to: all, places or walkways.
    #[arg(long, default_value = "all")]
    pub scope: String,
    /// Close this gate all day at every point (repeatable).
    #[arg(long = "close-gate")]
    pub close_gate: Vec<String>,
    /// Output folder (created if missing).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Seed of every point (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Threads running points (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Run the points on the worker nodes of this nodes file (see `crowdtwin node`).
    #[arg(long)]
    pub cluster: Option<PathBuf>,
}

/// `crowdtwin validate` arguments.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
}

/// `crowdtwin generate` arguments.
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Visitors.
    #[arg(long)]
    pub visitors: u64,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

/// `crowdtwin validate-model` arguments.
#[derive(clap::Args)]
pub struct ValidateModelArgs {
    /// Folder of experiment files (scenario files with a `[validation]` table).
    #[arg(long, default_value = "scenarios/validation")]
    pub dir: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also write the density-speed plot (SVG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// `crowdtwin optw` arguments.
#[derive(clap::Args)]
pub struct OptwArgs {
    /// Instance file (Righini-Salani / Solomon / Cordeau format).
    pub file: PathBuf,
    /// Time budget, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub budget_ms: u64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `crowdtwin import` formats.
#[derive(Subcommand)]
pub enum ImportCommand {
    /// A scenario skeleton (places, walkways) from a GeoJSON FeatureCollection of the site:
    /// Polygon places with `id`, `kind`, `name`; LineString walkways with `width_m`.
    Geojson(ImportGeojsonArgs),
}

/// `crowdtwin import geojson` arguments.
#[derive(clap::Args)]
pub struct ImportGeojsonArgs {
    /// GeoJSON FeatureCollection (RFC 7946).
    pub file: PathBuf,
    /// Scenario file to write (TOML); nothing is written if the site is refused.
    #[arg(long)]
    pub out: PathBuf,
    /// How to read the coordinates: lon-lat (WGS 84, RFC 7946) or local-m (metres east and
    /// north of the site origin). Default: the collection's `frame` member, else lon-lat.
    #[arg(long, value_parser = ["lon-lat", "local-m"])]
    pub frame: Option<String>,
}

/// `crowdtwin export` formats.
#[derive(Subcommand)]
pub enum ExportCommand {
    /// The site of a scenario as a GeoJSON FeatureCollection: places as polygons, walkways as
    /// LineStrings (longitude/latitude with `origin_lat_lon`, else local metres).
    Geojson(ExportGeojsonArgs),
}

/// `crowdtwin export geojson` arguments.
#[derive(clap::Args)]
pub struct ExportGeojsonArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// GeoJSON file to write.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Subcommand)]
pub enum BenchCommand {
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

/// `crowdtwin compare` arguments.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// The base scenario (TOML).
    pub base: PathBuf,
    /// The variant scenario (TOML), e.g. the base with a gate closed.
    pub variant: PathBuf,
    /// Paired seeds: the base's seed and the next N − 1, each run in both scenarios.
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Output folder for compare.json and compare.html (created if missing).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Print the comparison as JSON instead of a table of the significant changes.
    #[arg(long)]
    pub json: bool,
    /// Threads running the runs (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `crowdtwin compare`.
pub fn compare(args: CompareArgs) -> Result<(), CliError> {
    let base = run::load_scenario(&args.base)?;
    let variant = run::load_scenario(&args.variant)?;
    let options = compare::CompareOptions {
        seeds: args.seeds,
        threads: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        progress: !args.json,
    };
    let started = std::time::Instant::now();
    let report = compare::compare(&base, &variant, &options)?;
    let paths = compare::write_report(&args.out, &report, &base)?;
    if args.json {
        return print::json_line(&report);
    }
    let significant: Vec<_> = report.elements.iter().filter(|c| c.significant).collect();
    println!(
        "{} -> {}: {} seeds in {:.1} s; {} of {} element metrics changed significantly",
        report.base,
        report.variant,
        report.seeds.len(),
        started.elapsed().as_secs_f64(),
        significant.len(),
        report.elements.len()
    );
    for c in significant.iter().take(20) {
        println!(
            "  {:<40} {:<24} {:>10.2} -> {:>10.2}  ({:+.2}, 95% [{:.2}, {:.2}])",
            c.id, c.metric, c.base_mean, c.variant_mean, c.delta, c.ci_low, c.ci_high
        );
    }
    for path in paths {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// `crowdtwin run`.
pub fn run(args: RunArgs) -> Result<(), CliError> {
    let RunArgs { file, seed, out, threads, shards, quiet, cluster, checkpoint_every_min } = args;
    let started = std::time::Instant::now();
    let (output, paths) = match cluster {
        None => {
            let shards = shards.unwrap_or(1);
            let options = RunOptions { seed, shards, threads: threads.unwrap_or(shards), progress: !quiet };
            run::run_file(&file, &out, &options)?
        }
        #[cfg(feature = "cluster")]
        Some(nodes) => {
            let config = crowdtwin_cluster::read_nodes_file(&nodes)?;
            let shards = shards.unwrap_or_else(|| config.nodes.iter().map(|n| n.slots).sum());
            let options = RunOptions { seed, shards, threads: 1, progress: !quiet };
            crowdtwin_cluster::run_file_on_cluster(&file, &out, &options, &config, checkpoint_every_min)?
        }
        #[cfg(not(feature = "cluster"))]
        Some(_) => {
            let _ = checkpoint_every_min;
            return Err(CliError::no_cluster());
        }
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
    Ok(())
}

/// `crowdtwin recommendations`.
pub fn recommendations(args: RecommendationsArgs) -> Result<(), CliError> {
    let scenario = run::load_scenario(&args.file)?;
    if let Some(shares) = &args.shares {
        let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        return print::json_pretty(&crowdtwin_planner::recommendations::share_table(
            &scenario, shares, args.seeds, threads,
        )?);
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    print::json_pretty(&run::recommendation_effect(&scenario, args.share, seed)?)
}

/// `crowdtwin stress`.
pub fn stress(args: StressArgs) -> Result<(), CliError> {
    let options = stress::StressOptions {
        vary: stress::Vary::parse(&args.vary)?,
        steps: args.steps,
        criterion: stress::parse_criterion(&args.criterion)?,
        scope: stress::Scope::parse(&args.scope)?,
        close_gates: args.close_gate,
        seed: args.seed,
        threads: args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        progress: !args.quiet,
    };
    let (report, paths) = match args.cluster {
        #[cfg(feature = "cluster")]
        Some(nodes) => {
            let config = crowdtwin_cluster::read_nodes_file(&nodes)?;
            crowdtwin_cluster::stress_file_on_cluster(&args.file, &args.out, &options, &config)?
        }
        #[cfg(not(feature = "cluster"))]
        Some(_) => return Err(CliError::no_cluster()),
        None => stress::stress_file(&args.file, &args.out, &options)?,
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
    Ok(())
}

/// `crowdtwin validate`.
pub fn validate(args: ValidateArgs) -> Result<(), CliError> {
    let scenario = run::load_scenario(&args.file)?;
    let visitors = scenario.visitors.as_ref().map_or(0, |v| v.count);
    println!(
        "{}: ok: \"{}\", {} places, {} walkways, {} sessions, {} visitors, {} crowds, {} interventions",
        args.file.display(),
        scenario.name,
        scenario.places.len(),
        scenario.walkways.len(),
        scenario.sessions.len(),
        visitors,
        scenario.crowds.len(),
        scenario.interventions.len()
    );
    Ok(())
}

/// `crowdtwin import`.
pub fn import(command: ImportCommand) -> Result<(), CliError> {
    let ImportCommand::Geojson(args) = command;
    let frame = match args.frame.as_deref() {
        Some("local-m") => Some(site::Frame::LocalM),
        Some(_) => Some(site::Frame::LonLat),
        None => None,
    };
    let imported = site::import_geojson_file(&args.file, &site::ImportOptions { frame })?;
    let text = imported.toml(&args.file.display().to_string());
    std::fs::write(&args.out, text).map_err(|e| CliError::file(&args.out, e))?;
    for note in &imported.notes {
        println!("{note}");
    }
    println!(
        "wrote {}: {} places, {} walkways (checked as a scenario)",
        args.out.display(),
        imported.scenario.places.len(),
        imported.scenario.walkways.len()
    );
    Ok(())
}

/// `crowdtwin export`.
pub fn export(command: ExportCommand) -> Result<(), CliError> {
    let ExportCommand::Geojson(args) = command;
    let text = site::export_geojson_file(&args.file)?;
    std::fs::write(&args.out, text).map_err(|e| CliError::file(&args.out, e))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// `crowdtwin schema`.
pub fn schema() -> Result<(), CliError> {
    print!("{}", crowdtwin_sim::scenario::json_schema());
    Ok(())
}

/// `crowdtwin generate`.
pub fn generate(args: GenerateArgs) -> Result<(), CliError> {
    let visitors = args.visitors;
    if !(1_000..=crowdtwin_sim::scenario::VISITORS_MAX).contains(&visitors) {
        return Err(CliError::InvalidOption(format!(
            "--visitors {visitors}: must be between 1000 and {}",
            crowdtwin_sim::scenario::VISITORS_MAX
        )));
    }
    std::fs::write(&args.out, synthetic::park_toml(visitors)).map_err(|e| CliError::file(&args.out, e))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// `crowdtwin validate-model`.
pub fn validate_model(args: ValidateModelArgs) -> Result<(), CliError> {
    let report = validation::validate_model(&args.dir).map_err(CliError::InvalidOption)?;
    if args.json {
        print::json_line(&report)?;
    } else {
        print!("{}", validation::markdown(&report));
    }
    if let Some(path) = args.plot {
        std::fs::write(&path, validation::density_speed_svg()).map_err(|e| CliError::file(&path, e))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `crowdtwin optw`.
pub fn optw(args: OptwArgs) -> Result<(), CliError> {
    let OptwArgs { file, budget_ms, seed } = args;
    if !(1..=3_600_000).contains(&budget_ms) {
        return Err(CliError::InvalidOption(format!("--budget-ms {budget_ms} must be between 1 and 3600000")));
    }
    let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().to_string());
    let text = std::fs::read_to_string(&file).map_err(|e| CliError::file(&file, e))?;
    let instance = crowdtwin_sim::optw::parse(&text, &name).map_err(|e| CliError::file(&file, e))?;
    let started = std::time::Instant::now();
    let budget = std::time::Duration::from_millis(budget_ms);
    let solution = crowdtwin_sim::optw::solve(&instance, seed, |_| started.elapsed() >= budget);
    let wall_s = started.elapsed().as_secs_f64();
    let score = crowdtwin_sim::optw::evaluate(&instance, &solution.route)
        .unwrap_or_else(|e| panic!("the solver returned an infeasible route: {e}"));
    print::json_line(&serde_json::json!({
        "instance": name,
        "score": score,
        "route": solution.route,
        "customers": instance.customers(),
        "iterations": solution.iterations,
        "budget_ms": budget_ms,
        "wall_s": wall_s,
    }))
}

/// `crowdtwin bench ...`.
pub fn bench(command: BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Crowd { file, shards, threads, seed } => {
            let scenario = run::load_scenario(&file)?;
            print::json_line(&bench::run_crowd_shards(scenario, seed, shards, threads.unwrap_or(shards))?)
        }
        BenchCommand::Phold { lps, population, remote, lookahead, mean, end, seed, shards } => {
            let params = PholdParams { lps, population, remote, lookahead_s: lookahead, mean_s: mean };
            print::json_line(&bench::run_phold(params, end, seed, shards)?)
        }
    }
}
