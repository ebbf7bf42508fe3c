//! `crowdtwin-viz`: the 3D viewer. `--replay DIR` plays a run's output,
//! `--live URL` follows the live service; `--screenshot FILE.png` renders
//! one frame without a window, `--bench-frames N` times frames; `--compare
//! compare.json` colours the site by a comparison's change.

use bevy::math::UVec2;
use clap::{ArgGroup, Parser};
use crowdtwin_sim::scenario::{Scenario, parse_clock};
use crowdtwin_viz::VizError;
use crowdtwin_viz::app::{self, Mode, Source, VISITORS_DEFAULT_MAX, ViewerOptions};
use crowdtwin_viz::change::ChangeMap;
use crowdtwin_viz::live::{self, LiveData, Update};
use crowdtwin_viz::replay::{Replay, load_scenario};
use crowdtwin_viz::site::Site;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The scenario `crowdtwin serve --demo` runs: the live mode's default site.
const BUNDLED_SCENARIO: &str = include_str!("../../scenarios/gangneung-2018.toml");

#[derive(Parser, Debug)]
#[command(name = "crowdtwin-viz", version, about = "crowdtwin's 3D viewer")]
#[command(group(ArgGroup::new("source").required(true).args(["replay", "live"])))]
struct Cli {
    /// A run's output folder (`crowdtwin run ... --out DIR`).
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// The live service, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    live: Option<String>,
    /// The scenario with the site's geometry (default: the run's
    /// `scenario.toml`; live: the bundled Gangneung day of `serve --demo`).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Replay: start at this clock time.
    #[arg(long, value_name = "HH:MM")]
    at: Option<String>,
    /// Live: show this many minutes into the forecast.
    #[arg(long, value_name = "MIN", default_value_t = 0)]
    ahead_min: u32,
    /// Playback speed, simulated seconds per second.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// Live: seconds between polls.
    #[arg(long, default_value_t = 2.0)]
    poll_s: f64,
    /// Render one frame without a window into this PNG file and exit.
    #[arg(long, value_name = "FILE.png")]
    screenshot: Option<PathBuf>,
    /// Time this many frames without a window (drawing exactly --visitors
    /// visitors) and print mean and p95 frame time as JSON.
    #[arg(long, value_name = "N", conflicts_with = "screenshot")]
    bench_frames: Option<usize>,
    /// Image size without a window, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800")]
    size: String,
    /// Most visitors drawn.
    #[arg(long, default_value_t = VISITORS_DEFAULT_MAX)]
    visitors: usize,
    /// Colour the site by a comparison's change (`crowdtwin compare ...
    /// --out DIR` writes DIR/compare.json): red where crowding rose
    /// significantly, blue where it fell, grey where nothing changed beyond
    /// noise.
    #[arg(long, value_name = "compare.json")]
    compare: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<UVec2, VizError> {
    let bad = || VizError::Input(format!("--size {text}: write WIDTHxHEIGHT, e.g. 1280x800"));
    let (w, h) = text.split_once('x').ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(640..=8192).contains(&w) || !(400..=8192).contains(&h) {
        return Err(VizError::Input(format!("--size {text}: between 640x400 and 8192x8192")));
    }
    Ok(UVec2::new(w, h))
}

fn live_source(cli: &Cli, url: &str, headless: bool) -> Result<(Source, f64), VizError> {
    if !(0.1..=3_600.0).contains(&cli.poll_s) {
        return Err(VizError::Input(format!("--poll-s {}: between 0.1 and 3600", cli.poll_s)));
    }
    let scenario = match &cli.scenario {
        Some(path) => load_scenario(path)?,
        None => Scenario::parse(BUNDLED_SCENARIO, "gangneung-2018.toml").map_err(|e| VizError::Input(e.to_string()))?,
    };
    let mut data = LiveData::new(Site::from_scenario(&scenario));
    let (host, prefix) = live::split_url(url)?;
    // Without a window there is one chance to show something: wait for it.
    match live::poll(&host, &prefix) {
        Update::Failed(error) if headless => return Err(VizError::Live(error)),
        update => data.apply(update),
    }
    if headless && data.frame(cli.ahead_min).is_none() {
        return Err(VizError::Live(format!("{url}: no state yet")));
    }
    let updates = live::spawn_poller(url, Duration::from_secs_f64(cli.poll_s))?;
    Ok((Source::Live { data: Box::new(data), updates: Mutex::new(updates) }, cli.ahead_min as f64))
}

fn replay_source(cli: &Cli, dir: &std::path::Path) -> Result<(Source, f64), VizError> {
    let replay = Replay::load(dir, cli.scenario.as_deref())?;
    let start = match &cli.at {
        None => 0.0,
        Some(at) => {
            let clock = parse_clock(at).map_err(|e| VizError::Input(format!("--at: {e}")))?;
            let time_s = clock as f64 - replay.site.start_clock_s as f64;
            if !(0.0..=replay.duration_s()).contains(&time_s) {
                return Err(VizError::Input(format!("--at {at}: outside the run")));
            }
            time_s
        }
    };
    Ok((Source::Replay(Box::new(replay)), start))
}

fn run(cli: Cli) -> Result<(), VizError> {
    let size = parse_size(&cli.size)?;
    if !(0.0..=app::playback::SPEED_MAX).contains(&cli.speed) {
        return Err(VizError::Input(format!("--speed {}: between 0 and {}", cli.speed, app::playback::SPEED_MAX)));
    }
    if cli.visitors > app::VISITORS_MAX {
        return Err(VizError::Input(format!("--visitors {}: at most {}", cli.visitors, app::VISITORS_MAX)));
    }
    let mode = match (&cli.screenshot, cli.bench_frames) {
        (Some(path), _) => Mode::Screenshot { path: path.clone() },
        (None, Some(frames)) if frames > 0 => Mode::Bench { frames },
        (None, Some(_)) => return Err(VizError::Input("--bench-frames: at least 1".into())),
        (None, None) => Mode::Window,
    };
    let headless = mode != Mode::Window;
    let (source, start) = match (&cli.replay, &cli.live) {
        (Some(dir), _) => replay_source(&cli, dir)?,
        (None, Some(url)) => live_source(&cli, url, headless)?,
        (None, None) => unreachable!("clap requires --replay or --live"),
    };
    let visitors_fill = matches!(mode, Mode::Bench { .. });
    let comparison = match &cli.compare {
        Some(path) => Some(ChangeMap::load(path, source.site())?),
        None => None,
    };
    app::run(ViewerOptions {
        source,
        mode,
        size,
        start,
        speed: cli.speed,
        visitors_max: cli.visitors,
        visitors_fill,
        comparison,
    })
}

fn main() {
    if let Err(error) = run(Cli::parse()) {
        eprintln!("crowdtwin-viz: error: {error}");
        std::process::exit(1);
    }
}
