//! The Bevy application: one plugin per file, systems ordered in
//! [`ViewerSet`], playback stepped in `FixedUpdate`.

pub mod camera;
pub mod capture;
pub mod crowd;
pub mod labels;
pub mod panels;
pub mod playback;
pub mod scene;

use crate::VizError;
use crate::frame::Frame;
use crate::live::{LiveData, Update};
use crate::replay::Replay;
use crate::site::Site;
use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::render::RenderPlugin;
use bevy::window::ExitCondition;
use bevy::winit::WinitPlugin;
use crowdtwin_sim::model::Los;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// Width of the left panel (KPIs, alerts), logical px.
pub const LEFT_PANEL_WIDTH_PX: f32 = 270.0;
/// Width of the right panel (place inspector), logical px.
pub const RIGHT_PANEL_WIDTH_PX: f32 = 300.0;
/// Height of the timeline at the bottom, logical px.
pub const TIMELINE_HEIGHT_PX: f32 = 64.0;
/// Most visitors drawn by default.
pub const VISITORS_DEFAULT_MAX: usize = 60_000;
/// Most visitors drawn at all (the entity pool is this big at most).
pub const VISITORS_MAX: usize = 1_000_000;

/// The order of the viewer's systems within a frame (`Update`).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewerSet {
    /// Camera input, live updates.
    Input,
    /// The frame to show is computed from the playback position.
    Sample,
    /// The scene follows the frame: colours, visitors, markers.
    Scene,
}

/// Where the data comes from.
pub enum Source {
    /// A run's output folder.
    Replay(Box<Replay>),
    /// The live service, polled on a background thread.
    Live {
        /// What is known so far.
        data: Box<LiveData>,
        /// Polls arriving from the poller thread.
        updates: Mutex<Receiver<Update>>,
    },
}

/// The data being shown.
#[derive(Resource)]
pub struct ViewerData(pub Source);

impl Source {
    /// The site.
    pub fn site(&self) -> &Site {
        match self {
            Source::Replay(replay) => &replay.site,
            Source::Live { data, .. } => &data.site,
        }
    }
}

impl ViewerData {
    /// The site.
    pub fn site(&self) -> &Site {
        self.0.site()
    }
}

/// The frame on screen.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct CurrentFrame(pub Frame);

/// A comparison colouring the site by change (`--compare`), if any.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Comparison(pub Option<crate::change::ChangeMap>);

/// The element the inspector shows.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selected(pub Option<usize>);

/// How the viewer runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// A window with panels and input.
    Window,
    /// Render one frame without a window, save it as PNG, exit.
    Screenshot {
        /// PNG file to write.
        path: PathBuf,
    },
    /// Render `frames` frames without a window, print frame times, exit.
    Bench {
        /// Frames timed (after a warm-up).
        frames: usize,
    },
}

/// Everything `run` needs.
pub struct ViewerOptions {
    /// The data.
    pub source: Source,
    /// Window, screenshot or bench.
    pub mode: Mode,
    /// Image size without a window, physical px.
    pub size: UVec2,
    /// Replay: s after the run's start; live: minutes ahead of now.
    pub start: f64,
    /// Playback speed, simulated s per real s.
    pub speed: f64,
    /// Most visitors drawn.
    pub visitors_max: usize,
    /// Draw exactly `visitors_max` visitors, scaling the crowd (bench).
    pub visitors_fill: bool,
    /// Colour the site by this comparison's change instead of the level of service.
    pub comparison: Option<crate::change::ChangeMap>,
}

/// The colour of a level of service (green through red to purple).
pub fn los_color(los: Los) -> Color {
    let [r, g, b] = los_rgb(los);
    Color::srgb_u8(r, g, b)
}

/// The sRGB bytes of a level of service's colour, as drawn on pads and roofs.
pub fn los_rgb(los: Los) -> [u8; 3] {
    los.colour_rgb()
}

/// The sRGB bytes of the visitors' shade of a level's colour: a third as
/// bright, so that people stand out as dark dots on their pad or walkway
/// and its own colour still shows around them.
pub fn visitor_rgb(los: Los) -> [u8; 3] {
    los_rgb(los).map(|c| c / 3)
}

/// The sRGB bytes of the alert markers' colour (no level uses magenta).
pub const BEACON_RGB: [u8; 3] = [255, 40, 200];
/// The sRGB bytes of the plates under place names.
pub const LABEL_PLATE_RGB: [u8; 3] = [12, 14, 20];
/// The sRGB bytes of place names.
pub const LABEL_TEXT_RGB: [u8; 3] = [255, 255, 255];

/// All six levels, A to F.
pub const LEVELS: [Los; 6] = Los::ALL;

/// Builds and runs the viewer; returns when the window closes or the
/// screenshot or bench is done.
pub fn run(options: ViewerOptions) -> Result<(), VizError> {
    let ViewerOptions { source, mode, size, start, speed, visitors_max, visitors_fill, comparison } = options;
    let data = ViewerData(source);
    let headless = mode != Mode::Window;
    let mut app = App::new();
    // Without a window, compile pipelines before drawing so that the first
    // frames already show everything.
    let render = RenderPlugin { synchronous_pipeline_compilation: headless, ..default() };
    if headless {
        let window = WindowPlugin { primary_window: None, exit_condition: ExitCondition::DontExit, ..default() };
        app.add_plugins(DefaultPlugins.set(window).set(render).disable::<WinitPlugin>())
            .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::ZERO));
    } else {
        let title = format!("crowdtwin-viz: {}", data.site().name);
        let window = WindowPlugin { primary_window: Some(Window { title, ..default() }), ..default() };
        app.add_plugins(DefaultPlugins.set(window).set(render));
    }
    app.configure_sets(Update, (ViewerSet::Input, ViewerSet::Sample, ViewerSet::Scene).chain())
        .insert_resource(data)
        .insert_resource(Comparison(comparison))
        .init_resource::<Selected>()
        .add_plugins(bevy_egui::EguiPlugin::default())
        .add_plugins((
            playback::PlaybackPlugin { start, speed, playing: !matches!(mode, Mode::Screenshot { .. }) },
            camera::CameraPlugin { headless_size: headless.then_some(size) },
            scene::ScenePlugin,
            labels::LabelsPlugin,
            crowd::CrowdPlugin { visitors_max: visitors_max.min(VISITORS_MAX), fill: visitors_fill },
            panels::PanelsPlugin,
            capture::CapturePlugin { mode },
        ));
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => {
            Err(VizError::Render(format!("the viewer stopped with code {code}; see the log above")))
        }
    }
}
