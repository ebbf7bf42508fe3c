//! Logs: `tracing` events, written by `tracing-subscriber` to stderr as
//! human lines or JSON lines, filtered by `RUST_LOG` (default `info`). Each
//! request runs in an info span made by tower-http's trace layer (method,
//! path, version), so what is logged while serving it carries them; the
//! line closing each request (status, latency) is at debug
//! (`RUST_LOG=info,tower_http=debug`): see [`crate::router`].

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line (for log shippers).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<LogFormat, String> {
        match text {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format `{other}`: write human or json")),
        }
    }
}

/// Installs the global subscriber (once; later calls change nothing).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(terminal);
    let _ = match format {
        LogFormat::Human => builder.with_span_events(FmtSpan::NONE).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
