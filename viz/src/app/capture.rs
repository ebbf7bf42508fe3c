//! Without a window: `--screenshot` renders a few frames, saves the image
//! as PNG and exits; `--bench-frames` times frames and prints the figures.

use super::Mode;
use super::camera::HeadlessTarget;
use super::crowd::CrowdBudget;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Frames rendered before the screenshot is taken (pipelines are compiled
/// synchronously without a window, so a few suffice for fonts and layout).
pub const SCREENSHOT_FRAME: u32 = 6;
/// Frames rendered before timing starts.
pub const BENCH_WARM_UP_FRAMES: u32 = 5;

/// The screenshot or bench.
pub struct CapturePlugin {
    /// What to do.
    pub mode: Mode,
}

/// Frame times of a bench, s.
#[derive(Resource, Default, Debug)]
struct BenchTimes {
    frames: usize,
    last: Option<Instant>,
    times_s: Vec<f64>,
}

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        match &self.mode {
            Mode::Window => {}
            Mode::Screenshot { path } => {
                let path = path.clone();
                app.add_systems(Last, move |commands: Commands, target: Res<HeadlessTarget>, frames: Local<u32>| {
                    take_screenshot(commands, &target, frames, &path);
                });
            }
            Mode::Bench { frames } => {
                app.insert_resource(BenchTimes { frames: *frames, ..default() }).add_systems(First, time_frame);
            }
        }
    }
}

fn take_screenshot(mut commands: Commands, target: &HeadlessTarget, mut frames: Local<u32>, path: &Path) {
    *frames += 1;
    if *frames != SCREENSHOT_FRAME {
        return;
    }
    let path: PathBuf = path.to_path_buf();
    commands.spawn(Screenshot::image(target.image.clone())).observe(
        move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| match save_png(&captured.image, &path)
        {
            Ok(()) => {
                info!("wrote {}", path.display());
                exit.write(AppExit::Success);
            }
            Err(error) => {
                error!("{}: {error}", path.display());
                exit.write(AppExit::error());
            }
        },
    );
}

/// Saves `image` as an RGB PNG at `path` (through a temporary file).
fn save_png(image: &Image, path: &Path) -> Result<(), String> {
    let rgb = image.clone().try_into_dynamic().map_err(|e| e.to_string())?.to_rgb8();
    let mut temporary = path.to_path_buf();
    temporary.as_mut_os_string().push(".tmp.png");
    rgb.save(&temporary).map_err(|e| e.to_string())?;
    std::fs::rename(&temporary, path).map_err(|e| e.to_string())
}

/// Records the time between frames; prints the figures and exits when done.
fn time_frame(
    mut times: ResMut<BenchTimes>,
    crowd: Res<CrowdBudget>,
    target: Res<HeadlessTarget>,
    mut exit: MessageWriter<AppExit>,
    mut frame: Local<u32>,
) {
    *frame += 1;
    if *frame <= BENCH_WARM_UP_FRAMES {
        return;
    }
    let now = Instant::now();
    if let Some(last) = times.last.replace(now) {
        times.times_s.push((now - last).as_secs_f64());
    }
    if times.times_s.len() < times.frames {
        return;
    }
    let mut sorted = times.times_s.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
    let p95 = sorted[((sorted.len() as f64 * 0.95).ceil() as usize).clamp(1, sorted.len()) - 1];
    println!(
        "{}",
        serde_json::json!({
            "frames": sorted.len(),
            "visitors": crowd.drawn,
            "width": target.size.x,
            "height": target.size.y,
            "mean_ms": (mean * 1e4).round() / 10.0,
            "p95_ms": (p95 * 1e4).round() / 10.0,
            "fps": (10.0 / mean).round() / 10.0,
        })
    );
    exit.write(AppExit::Success);
}
