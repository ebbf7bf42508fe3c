//! Playback: where on the timeline the viewer is (a replay's time, or how
//! far into the live forecast), stepped in `FixedUpdate`; live polls taken
//! in; the frame to show sampled once per frame.

use super::{CurrentFrame, Source, ViewerData, ViewerSet};
use crate::frame::Frame;
use bevy::prelude::*;

/// Fastest playback, simulated s per real s.
pub const SPEED_MAX: f64 = 3_600.0;

/// The timeline's state.
#[derive(Resource, Clone, Debug, PartialEq)]
pub struct Playback {
    /// Replay: s after the run's start.
    pub time_s: f64,
    /// Live: minutes ahead of now (0: the current state).
    pub minutes_ahead: u32,
    /// Whether the replay runs.
    pub playing: bool,
    /// Simulated s per real s.
    pub speed: f64,
    /// Live: draw the forecast's 90th percentile as rings around places.
    pub show_p90: bool,
}

/// The clock walkers move by, s: the replay's time, or real time when live.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq)]
pub struct MotionClock(pub f64);

/// Playback, live input and frame sampling.
pub struct PlaybackPlugin {
    /// Replay: s after the run's start; live: minutes ahead.
    pub start: f64,
    /// Simulated s per real s.
    pub speed: f64,
    /// Whether playback starts running.
    pub playing: bool,
}

impl Plugin for PlaybackPlugin {
    fn build(&self, app: &mut App) {
        let playback = Playback {
            time_s: self.start.max(0.0),
            minutes_ahead: self.start.max(0.0) as u32,
            playing: self.playing,
            speed: self.speed.clamp(0.0, SPEED_MAX),
            show_p90: true,
        };
        let empty = Frame { clock_s: 0.0, elements: Vec::new(), alerts: Vec::new() };
        app.insert_resource(playback)
            .insert_resource(CurrentFrame(empty))
            .init_resource::<MotionClock>()
            .add_systems(FixedUpdate, advance)
            .add_systems(Update, take_live_updates.in_set(ViewerSet::Input))
            .add_systems(Update, sample_frame.in_set(ViewerSet::Sample));
    }
}

/// Moves a running replay on by one fixed step, looping at the end.
fn advance(time: Res<Time>, data: Res<ViewerData>, mut playback: ResMut<Playback>) {
    let Source::Replay(replay) = &data.0 else { return };
    if !playback.playing {
        return;
    }
    let end = replay.duration_s();
    playback.time_s += time.delta_secs_f64() * playback.speed;
    if playback.time_s >= end {
        playback.time_s = 0.0;
    }
}

/// Takes in whatever the live poller has sent.
fn take_live_updates(mut data: ResMut<ViewerData>) {
    let Source::Live { data, updates } = &mut data.0 else { return };
    let updates = updates.get_mut().unwrap_or_else(|e| e.into_inner());
    while let Ok(update) = updates.try_recv() {
        data.apply(update);
    }
}

/// The frame at the playback position.
fn sample_frame(
    time: Res<Time>,
    data: Res<ViewerData>,
    mut playback: ResMut<Playback>,
    mut current: ResMut<CurrentFrame>,
    mut motion: ResMut<MotionClock>,
) {
    let frame = match &data.0 {
        Source::Replay(replay) => {
            playback.time_s = playback.time_s.clamp(0.0, replay.duration_s());
            let frame = replay.frame(playback.time_s);
            motion.0 = frame.clock_s;
            frame
        }
        Source::Live { data, .. } => {
            playback.minutes_ahead = playback.minutes_ahead.min(data.horizon_min());
            motion.0 = time.elapsed_secs_f64();
            let Some(frame) = data.frame(playback.minutes_ahead) else { return };
            frame
        }
    };
    if current.0 != frame {
        current.0 = frame;
    }
}
