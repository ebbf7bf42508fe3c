//! Live mode: the HTTP reading, and the viewer following a real live twin
//! served on 127.0.0.1 port 0.

use crate::render::{assert_not_blank, load_png};
use crate::{scenario_path, temporary_folder, viewer};
use crowdtwin_live::TwinConfig;
use crowdtwin_live::clock::{Clock, WallClock};
use crowdtwin_service::{Service, router, serve};
use crowdtwin_sim::scenario::Scenario;
use crowdtwin_sim::{SimDuration, SimTime};
use crowdtwin_viz::live::{LiveData, Update, parse_response, poll, split_url};
use crowdtwin_viz::site::Site;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for the twin's first forecast.
const FIRST_FORECAST_WAIT_S: u64 = 90;

#[test]
fn responses_are_read_to_their_content_length_and_chunked_ones_refused() {
    let recorded =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"clock\":\"x\"}trailing";
    assert_eq!(parse_response(recorded).unwrap(), (200, &b"{\"clock\":\"x\"}"[..]));
    let problem = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\n{}";
    assert_eq!(parse_response(problem).unwrap().0, 503);
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    assert!(parse_response(chunked).unwrap_err().contains("chunked"));
    assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err(), "no end of head");
    assert_eq!(split_url("http://127.0.0.1:8080/twin/").unwrap(), ("127.0.0.1:8080".into(), "/twin".into()));
    assert!(split_url("https://example.org").is_err());
}

#[test]
fn viewer_follows_a_live_twin_state_and_forecast() {
    let dir = temporary_folder("live");
    let text = std::fs::read_to_string(scenario_path())
        .unwrap()
        .replace("end = \"25:00\"", "end = \"11:00\"")
        .replace("count = 60000", "count = 10000");
    let scenario_file = dir.join("morning.toml");
    std::fs::write(&scenario_file, &text).unwrap();
    let scenario = Scenario::parse(&text, "morning.toml").unwrap();
    let site = Site::from_scenario(&scenario);

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (url, stop) = runtime.block_on(async {
        // The twin's clock runs 600 times real time from 09:30.
        let clock: Arc<dyn Clock> = Arc::new(WallClock::new(SimTime::from_secs(9_000), 600.0));
        let config = TwinConfig { members: 2, threads: 1, horizon_min: 5, ..Default::default() };
        let service = Arc::new(Service::start(scenario, config, clock, SimDuration::from_secs(60)).await.unwrap());
        let ticker = service.clone();
        tokio::spawn(async move {
            loop {
                ticker.tick();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, router(service.state.clone()), async {
            let _ = stopped.await;
        }));
        (url, stop)
    });

    // Poll as the viewer does until the first forecast is out and the
    // twin has caught up with its clock.
    let (host, prefix) = split_url(&url).unwrap();
    let mut live = LiveData::new(site.clone());
    let started = Instant::now();
    let people = |live: &LiveData| live.frame(0).map_or(0.0, |f| f.elements.iter().map(|e| e.occupancy).sum::<f64>());
    while live.forecast.is_none() || people(&live) == 0.0 {
        assert!(started.elapsed() < Duration::from_secs(FIRST_FORECAST_WAIT_S), "no forecast: {:?}", live.error);
        let update = poll(&host, &prefix);
        if let Update::Failed(error) = &update {
            assert!(error.contains("503"), "only 'not ready yet' is expected: {error}");
        }
        live.apply(update);
        std::thread::sleep(Duration::from_millis(200));
    }
    let now = live.frame(0).unwrap();
    assert_eq!(now.elements.len(), site.element_count());
    assert!(now.elements.iter().all(|e| e.los_p90.is_none()), "the state has no P90 layer");
    let ahead = live.frame(3).unwrap();
    assert!(ahead.clock_s > now.clock_s, "the forecast is ahead of now");
    assert!(ahead.elements.iter().all(|e| e.los_p90.is_some_and(|p90| p90 >= e.los)), "P90 at least P50");
    assert!(live.forecast_series(0).len() == 5, "five forecast minutes for the inspector");

    // The viewer itself, following the service without a window.
    let shot = dir.join("live.png");
    let args = ["--live", &url, "--scenario", scenario_file.to_str().unwrap()];
    viewer(&[&args[..], &["--ahead-min", "3", "--screenshot", shot.to_str().unwrap()]].concat());
    let (width, height, pixels) = load_png(&shot);
    assert_not_blank(width, height, &pixels);
    let _ = stop.send(());
    runtime.shutdown_timeout(Duration::from_secs(5));
}
