//! Where the viewer draws visitors. Run outputs and the live service give
//! counts per place and walkway, not positions, so the viewer places people
//! deterministically: on a place, a sunflower spiral filling the middle of its
//! pad from the centre out; on a walkway, walkers spread along its centre
//! line, half each way, keeping to the middle of its width and moving at the
//! walkway's speed. A rim of each place and walkway stays free of visitors,
//! so that its level-of-service colour shows. The same frame and time always
//! give the same layout.

use crate::frame::Frame;
use crate::site::{Site, point_along};
use crowdtwin_sim::model::Los;

/// Golden angle, rad: successive spiral points never line up.
const GOLDEN_ANGLE_RAD: f32 = 2.399_963_3;
/// People per m² at which a pad's spiral reaches its rim.
pub const PAD_FILL_P_PER_M2: f32 = 1.0;
/// Share of a place's inner radius (and of a walkway's half width) where
/// its visitors stand; the rest is a rim in its level-of-service colour.
pub const CROWD_SHARE: f32 = 0.6;

/// One visitor to draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    /// Position on the ground `(x, z)`, m.
    pub ground: [f32; 2],
    /// The level of service where they are (their colour).
    pub los: Los,
}

/// How many visitors to draw per element: occupancy scaled so that the total
/// is at most `budget` (or exactly `budget` when `fill`), rounded so that the
/// counts add up to the rounded total.
pub fn counts(frame: &Frame, budget: usize, fill: bool) -> Vec<usize> {
    let total: f64 = frame.elements.iter().map(|e| e.occupancy.max(0.0)).sum();
    let scale = if total <= 0.0 || (!fill && total <= budget as f64) { 1.0 } else { budget as f64 / total };
    let mut cumulative = 0.0;
    let mut drawn = 0usize;
    frame
        .elements
        .iter()
        .map(|e| {
            cumulative += e.occupancy.max(0.0) * scale;
            let upto = (cumulative.round() as usize).min(budget);
            let n = upto - drawn;
            drawn = upto;
            n
        })
        .collect()
}

/// A fraction in [0, 1) from an integer, well spread (Weyl sequence).
fn spread(k: usize, multiplier: f64) -> f32 {
    ((k as f64 + 1.0) * multiplier).fract() as f32
}

/// Appends the visitors of `frame` at `clock_s` to `out` (cleared first).
pub fn place_visitors(site: &Site, frame: &Frame, clock_s: f64, budget: usize, fill: bool, out: &mut Vec<Placed>) {
    out.clear();
    let counts = counts(frame, budget, fill);
    for (element, (&n, state)) in counts.iter().zip(&frame.elements).enumerate() {
        if n == 0 {
            continue;
        }
        let los = state.los;
        if let Some(place) = site.places.get(element) {
            // The spiral grows with the number of people until it fills the
            // middle of the pad at PAD_FILL_P_PER_M2; beyond that it packs
            // the middle tighter.
            let full = (place.area_m2 as f32 * PAD_FILL_P_PER_M2).max(n as f32).max(1.0);
            let reach = place.inner_radius_m * CROWD_SHARE;
            for k in 0..n {
                let radius = reach * ((k as f32 + 0.5) / full).sqrt();
                let angle = k as f32 * GOLDEN_ANGLE_RAD;
                let ground = [place.centre[0] + radius * angle.cos(), place.centre[1] + radius * angle.sin()];
                out.push(Placed { ground, los });
            }
            continue;
        }
        let walkway = &site.walkways[element - site.places.len()];
        let (a, b) = (&site.places[walkway.a], &site.places[walkway.b]);
        let length = walkway.line_length_m.max(1e-3);
        // Walkers are drawn between the two pads.
        let start = a.pad_radius_m.min(0.45 * length);
        let end = length - b.pad_radius_m.min(0.45 * length);
        let speed = state.speed_mps.unwrap_or_else(|| site.walking_speed_mps(state.density_p_per_m2));
        let laps = (clock_s * speed / walkway.length_m.max(1.0)).fract() as f32;
        let half_width = walkway.width_m as f32 / 2.0 * CROWD_SHARE;
        for k in 0..n {
            let phase = spread(k, 0.618_033_988_749_895);
            let progress = if k % 2 == 0 { (phase + laps).fract() } else { (phase - laps).rem_euclid(1.0) };
            let (point, direction) = point_along(&walkway.line, start + (end - start) * progress);
            // Each direction keeps to its own half of the walkway.
            let lane = spread(k, 0.754_877_666_246_693) * 0.9 + 0.1;
            let offset = half_width * if k % 2 == 0 { lane } else { -lane };
            let ground = [point[0] - direction[1] * offset, point[1] + direction[0] * offset];
            out.push(Placed { ground, los });
        }
    }
}
