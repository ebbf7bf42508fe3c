//! Progress bars of long runs, drawn by `indicatif` on stderr.
//!
//! A bar is drawn only when asked for and stderr is a terminal, so logs and
//! pipes get no control characters; the outputs never depend on it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Steps of a bar: progress is reported as a per-mille of the run.
pub const STEPS: u64 = 1000;

/// A bar over [`STEPS`] steps labelled `prefix`, hidden unless `show` and
/// stderr is a terminal. `{msg}` carries the run's own figures.
pub fn bar(prefix: &str, show: bool) -> ProgressBar {
    let target = if show && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(STEPS), target);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}%  {msg}  {elapsed_precise}")
        .expect("the template is valid")
        .progress_chars("#>-");
    bar.set_style(style);
    bar.set_prefix(prefix.to_owned());
    bar
}

/// The step of `done` out of `total` (both in the run's own unit).
pub fn step(done: u64, total: u64) -> u64 {
    if total == 0 { STEPS } else { (u128::from(done) * u128::from(STEPS) / u128::from(total)) as u64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_scale_to_the_run() {
        assert_eq!(step(0, 3_600), 0);
        assert_eq!(step(1_800, 3_600), 500);
        assert_eq!(step(3_600, 3_600), STEPS);
        assert_eq!(step(0, 0), STEPS);
        assert_eq!(step(u64::MAX, u64::MAX), STEPS, "no overflow");
    }

    #[test]
    fn a_bar_not_asked_for_is_hidden() {
        assert!(bar("run", false).is_hidden());
    }
}
