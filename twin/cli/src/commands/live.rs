//! Live commands: the HTTP service, sensor files and their replay, forecast
//! evaluation and load generators.

use crate::error::CliError;
use crate::print;
use clap::Subcommand;
use crowdtwin_live::clock::{Clock, WallClock};
use crowdtwin_live::ensemble::RunAhead;
use crowdtwin_live::{TwinConfig, counts, eval};
use crowdtwin_planner::run;
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, SimTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The scenario `serve --demo` runs.
pub const BUNDLED_SCENARIO: &str = include_str!("../../../../scenarios/gangneung-2018.toml");
/// The hidden truth that plays as live sensors in `serve --demo`.
pub const BUNDLED_TRUTH: &str = include_str!("../../../../scenarios/truths/gangneung-more-arrivals.toml");

/// `crowdtwin serve` arguments.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Scenario the twin knows.
    #[arg(long, required_unless_present = "demo", conflicts_with = "demo")]
    pub scenario: Option<PathBuf>,
    /// Demo: the bundled Gangneung day, fed by a hidden truth run (30% more visitors) as live sensors.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Clock speed: simulated seconds per wall second (1 = real time).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Clock time to start at (default: the scenario's start).
    #[arg(long)]
    pub start: Option<String>,
    /// Ensemble members.
    #[arg(long, default_value_t = 32)]
    pub members: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated seconds between forecasts.
    #[arg(long, default_value_t = 60)]
    pub forecast_every_s: u64,
    /// Orders: keep the order store here (created if missing); without it the order endpoints answer 503.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Bearer tokens file, one `ROLE TOKEN [PRINCIPAL]` per line (customer, operator); without it auth is off.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Run the forecasts' members ahead on the worker nodes of this nodes file.
    #[arg(long)]
    pub cluster: Option<PathBuf>,
    /// Log lines on stderr: human or json (one object per line); `RUST_LOG` filters (default info).
    #[arg(long, default_value = "human")]
    pub log_format: crowdtwin_service::logging::LogFormat,
}

/// `crowdtwin observe` arguments.
#[derive(clap::Args)]
pub struct ObserveArgs {
    /// Truth scenario.
    pub truth: PathBuf,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds between counts.
    #[arg(long, default_value_t = 60)]
    pub every_s: u64,
}

/// `crowdtwin replay` arguments.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// Observation file (NDJSON, or Parquet for `.parquet`).
    pub file: PathBuf,
    /// The twin's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
}

/// `crowdtwin forecast-eval` arguments.
#[derive(clap::Args)]
pub struct ForecastEvalArgs {
    /// The scenario the twin knows (the plan).
    #[arg(long, required_unless_present = "counts", requires = "truth")]
    pub scenario: Option<PathBuf>,
    /// The scenario that really happens (sensors observe it).
    #[arg(long, requires = "scenario")]
    pub truth: Option<PathBuf>,
    /// Real counts: a CSV with columns timestamp,sensor,count (hourly).
    #[arg(long, conflicts_with_all = ["scenario", "truth"], requires = "train_until")]
    pub counts: Option<PathBuf>,
    /// With --counts: learn from the data before this date (YYYY-MM-DD, its
    /// midnight) or hour (YYYY-MM-DDTHH:00), score the rest.
    #[arg(long)]
    pub train_until: Option<String>,
    /// With --counts: forecast horizon, whole hours (e.g. 1h).
    #[arg(long, default_value = "1h")]
    pub horizon: String,
    /// With --counts: print JSON (default: also JSON; kept for scripts that pass it).
    #[arg(long)]
    pub json: bool,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Ensemble members.
    #[arg(long, default_value_t = 32)]
    pub members: usize,
    /// Minutes between scored forecasts.
    #[arg(long, default_value_t = 15)]
    pub every_min: u32,
    /// Forecast horizon, minutes.
    #[arg(long, default_value_t = 30)]
    pub horizon_min: u32,
    /// Run the forecasts' members ahead on the worker nodes of this nodes file.
    #[arg(long, conflicts_with = "counts")]
    pub cluster: Option<PathBuf>,
    /// Also learn per-place service factors (experimental: finds a halted
    /// stop on a small site, but is worse than the plan on the bundled day
    /// when nothing unusual happens; see benches/README.md).
    #[arg(long)]
    pub local_assimilation: bool,
    /// Do not correct the people waiting at transit stops towards their
    /// counts (on by default; the members keep their service rates).
    #[arg(long, conflicts_with = "local_assimilation")]
    pub without_queue_correction: bool,
    /// Share of the way the learned parameters other than the arrival
    /// scale return to the plan's values at each resampling (0: a free
    /// walk; between 0 and 1).
    #[arg(long, default_value_t = crowdtwin_live::ensemble::PRIOR_PULL)]
    pub prior_pull: f64,
}

/// What every load run takes: where, how long, how many connections.
#[derive(clap::Args)]
pub struct LoadArgs {
    /// Full URL (for `orders`: the service's base URL), e.g. http://127.0.0.1:8080/v1/forecast.
    #[arg(long)]
    pub url: String,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Connections.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

#[derive(Subcommand)]
pub enum LoadgenCommand {
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

/// `crowdtwin observe`.
pub fn observe(args: ObserveArgs) -> Result<(), CliError> {
    if args.every_s == 0 {
        return Err(CliError::InvalidOption("--every-s must be at least 1".into()));
    }
    let truth = run::load_scenario(&args.truth)?;
    let sensors = eval::SensorConfig { every: SimDuration::from_secs(args.every_s), ..Default::default() };
    let count = crowdtwin_client::feed::observe(truth, args.seed, sensors, &args.out)?;
    println!("wrote {count} observations to {}", args.out.display());
    Ok(())
}

/// `crowdtwin replay`.
pub fn replay(args: ReplayArgs) -> Result<(), CliError> {
    let observations = crowdtwin_client::feed::read_observations(&args.file)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let (accepted, duplicates, late) =
        runtime.block_on(crowdtwin_client::feed::replay(observations, &args.url, |sent, total| {
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprint!("\rreplayed {sent}/{total}");
            }
        }))?;
    println!("replayed: {accepted} accepted, {duplicates} duplicates, {late} late");
    Ok(())
}

/// `crowdtwin forecast-eval`: on real counts, or on a truth scenario.
pub fn forecast_eval(args: ForecastEvalArgs) -> Result<(), CliError> {
    if let Some(counts) = &args.counts {
        return forecast_eval_counts(counts, &args);
    }
    let (Some(scenario), Some(truth)) = (&args.scenario, &args.truth) else {
        return Err(CliError::InvalidOption("give --scenario and --truth, or --counts".into()));
    };
    if args.every_min == 0 {
        return Err(CliError::InvalidOption("--every-min must be at least 1".into()));
    }
    let nominal = run::load_scenario(scenario)?;
    let truth = run::load_scenario(truth)?;
    let run_ahead = match &args.cluster {
        None => None,
        Some(nodes) => Some(members_on_cluster(nodes, scenario)?),
    };
    let config = eval::EvalConfig {
        twin: TwinConfig {
            members: args.members,
            horizon_min: args.horizon_min,
            local_assimilation: args.local_assimilation,
            queue_correction: !args.without_queue_correction,
            prior_pull: args.prior_pull,
            ..Default::default()
        },
        forecast_every_min: args.every_min,
        first_forecast_clock_s: None,
        sensors: Default::default(),
    };
    let report = eval::forecast_eval_with(nominal, truth, &config, args.seed, run_ahead)
        .map_err(|e| CliError::InvalidOption(e.to_string()))?;
    print::json_line(&report)
}

fn forecast_eval_counts(counts: &Path, args: &ForecastEvalArgs) -> Result<(), CliError> {
    let train_until = args.train_until.as_ref().expect("clap requires --train-until with --counts");
    let start =
        counts::parse_date_or_hour(train_until).map_err(|e| CliError::InvalidOption(format!("--train-until: {e}")))?;
    let horizon = &args.horizon;
    let hours: u32 = horizon
        .strip_suffix('h')
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| CliError::InvalidOption(format!("--horizon `{horizon}`: write whole hours, e.g. 1h")))?;
    let data = counts::read_counts(counts)?;
    for (line, problem) in data.bad_rows.iter().take(counts::BAD_ROWS_LISTED_MAX) {
        eprintln!("{}:{line}: skipped: {problem}", counts.display());
    }
    print::json_line(&counts::evaluate(&data, start, hours)?)
}

/// `crowdtwin loadgen ...`.
pub fn loadgen(command: LoadgenCommand) -> Result<(), CliError> {
    use crowdtwin_client::loadgen;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = match command {
        LoadgenCommand::Get { load } => {
            runtime.block_on(loadgen::run(&load.url, None, load.concurrency, load.duration))?
        }
        LoadgenCommand::Post { load, body } => {
            let body = std::fs::read(&body).map_err(|e| CliError::file(&body, e))?;
            runtime.block_on(loadgen::run(&load.url, Some(body), load.concurrency, load.duration))?
        }
        LoadgenCommand::Orders { load, batch, token, restock } => {
            let load = loadgen::OrderLoad {
                url: load.url,
                duration_s: load.duration,
                concurrency: load.concurrency,
                batch,
                token,
                restock_units: restock,
            };
            runtime.block_on(loadgen::orders(&load))?
        }
    };
    print::json_line(&report)
}

/// The live twin's members run ahead on the nodes of `nodes` (a nodes
/// file), for a twin of the scenario file `scenario`.
fn members_on_cluster(nodes: &Path, scenario: &Path) -> Result<Arc<dyn RunAhead>, CliError> {
    let text = std::fs::read_to_string(scenario).map_err(|e| CliError::file(scenario, e))?;
    members_on_cluster_text(nodes, &scenario.display().to_string(), &text)
}

#[cfg(feature = "cluster")]
fn members_on_cluster_text(nodes: &Path, file: &str, text: &str) -> Result<Arc<dyn RunAhead>, CliError> {
    use crowdtwin_cluster as cluster;
    let config = cluster::read_nodes_file(nodes)?;
    let connected = cluster::coordinator::Cluster::connect(&config)?;
    eprintln!("twin: forecast members run on {}", connected.addresses().join(", "));
    Ok(Arc::new(cluster::members::ClusterRunAhead::new(connected, (file, text), |node, why| {
        eprintln!("twin: node {node} lost ({why}); its members run on the others")
    })))
}

#[cfg(not(feature = "cluster"))]
fn members_on_cluster_text(_: &Path, _: &str, _: &str) -> Result<Arc<dyn RunAhead>, CliError> {
    Err(CliError::no_cluster())
}

/// `crowdtwin serve`.
pub fn serve(args: ServeArgs) -> Result<(), CliError> {
    crowdtwin_service::logging::init(args.log_format);
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 10_000.0) {
        return Err(CliError::InvalidOption(format!("--speed {} must be between 0 and 10000", args.speed)));
    }
    if args.forecast_every_s == 0 {
        return Err(CliError::InvalidOption("--forecast-every-s must be at least 1".into()));
    }
    let (scenario, truth) = if args.demo {
        (Scenario::parse(BUNDLED_SCENARIO, "gangneung-2018.toml")?, Some(Scenario::parse(BUNDLED_TRUTH, "truth.toml")?))
    } else {
        (run::load_scenario(args.scenario.as_ref().expect("clap requires --scenario without --demo"))?, None)
    };
    let start_at = start_time(&scenario, args.start.as_deref())?;
    let tokens = match &args.tokens {
        Some(path) => crowdtwin_service::auth::Tokens::load(path).map_err(CliError::InvalidOption)?,
        None => {
            tracing::warn!(
                "no --tokens file: auth is OFF, anyone who reaches this address may order, restock and send observations"
            );
            crowdtwin_service::auth::Tokens::disabled()
        }
    };
    let book = match &args.data {
        Some(dir) => {
            let catalogue = crowdtwin_orders::shop::Catalogue::from_scenario(&scenario);
            let config = crowdtwin_orders::OrderBookConfig { data_dir: dir.clone() };
            Some(Arc::new(crowdtwin_orders::OrderBook::open(&config, catalogue)?))
        }
        None => None,
    };
    let run_ahead = match &args.cluster {
        None => None,
        Some(nodes) => Some(match &args.scenario {
            Some(path) => members_on_cluster(nodes, path)?,
            None => members_on_cluster_text(nodes, "gangneung-2018.toml", BUNDLED_SCENARIO)?,
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let running = Running { scenario, truth, start_at, tokens, book, run_ahead };
    runtime.block_on(running.serve(&args))
}

/// `--start HH:MM` as a time from the scenario's start.
fn start_time(scenario: &Scenario, start: Option<&str>) -> Result<SimTime, CliError> {
    let Some(text) = start else { return Ok(SimTime::ZERO) };
    let seconds = crowdtwin_sim::scenario::parse_clock(text).map_err(CliError::InvalidOption)?;
    let offset = seconds
        .checked_sub(scenario.start_clock_s)
        .ok_or_else(|| CliError::InvalidOption(format!("--start {text} is before the scenario starts")))?;
    Ok(SimTime::from_secs(offset as u64))
}

/// What `serve` has checked and opened before the runtime starts.
struct Running {
    scenario: Scenario,
    truth: Option<Scenario>,
    start_at: SimTime,
    tokens: crowdtwin_service::auth::Tokens,
    book: Option<Arc<crowdtwin_orders::OrderBook>>,
    run_ahead: Option<Arc<dyn RunAhead>>,
}

impl Running {
    async fn serve(self, args: &ServeArgs) -> Result<(), CliError> {
        let start_clock_s = self.scenario.start_clock_s;
        let clock: Arc<dyn Clock> = Arc::new(WallClock::new(self.start_at, args.speed));
        let config = TwinConfig { members: args.members, seed: args.seed, ..Default::default() };
        let service = crowdtwin_service::Service::start_with(
            self.scenario,
            config,
            clock.clone(),
            SimDuration::from_secs(args.forecast_every_s),
            self.run_ahead,
        )
        .await
        .map_err(CliError::Service)?;
        let listen = &args.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| CliError::InvalidOption(format!("{listen}: {e}")))?;
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
        if let Some(truth) = self.truth {
            tokio::spawn(feed_truth(service.state.clone(), truth, args.seed, clock.clone()));
        }
        let mut state = service.state.clone().with_tokens(self.tokens);
        if let Some(book) = self.book {
            state = state.with_orders(book.clone());
            tokio::spawn(feed_orders(state.clone(), book, clock.clone(), start_clock_s));
        }
        let router = crowdtwin_service::router(state);
        crowdtwin_service::serve(listener, router, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        service.stop();
        Ok(())
    }
}

/// The demo's hidden truth plays as live sensors.
async fn feed_truth(state: crowdtwin_service::AppState, truth: Scenario, seed: u64, clock: Arc<dyn Clock>) {
    let mut feed = eval::TruthFeed::new(truth, seed, Default::default());
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        interval.tick().await;
        let now = clock.now();
        let observations = tokio::task::block_in_place(|| feed.observe_until(now));
        if !observations.is_empty() {
            crowdtwin_service::ingest(&state, observations).await;
        }
    }
}

/// Confirmed orders and pickups go to the twin every 5 s.
async fn feed_orders(
    state: crowdtwin_service::AppState,
    book: Arc<crowdtwin_orders::OrderBook>,
    clock: Arc<dyn Clock>,
    start_clock_s: u32,
) {
    let clock_s = move || start_clock_s + clock.now().as_secs_f64() as u32;
    let sink = move |batch| {
        let state = state.clone();
        async move { crowdtwin_service::ingest(&state, batch).await.is_some() }
    };
    crowdtwin_orders::feed::feed_twin(&book, clock_s, start_clock_s, std::time::Duration::from_secs(5), sink).await;
}
