//! What the scene shows at one instant: per element occupancy, density and
//! level of service (and, in a forecast, the 90th percentile), plus alerts.
//! Replays and the live service both produce `Frame`s.

use crate::site::Site;
use crowdtwin_sim::model::Los;

/// One place or walkway at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ElementFrame {
    /// People present.
    pub occupancy: f64,
    /// Density, P/m².
    pub density_p_per_m2: f64,
    /// Level of service.
    pub los: Los,
    /// People queueing (0 where unknown).
    pub queue_length: f64,
    /// Walking speed on a walkway, m/s (`None`: from the density).
    pub speed_mps: Option<f64>,
    /// The 90th-percentile level of service, in a forecast.
    pub los_p90: Option<Los>,
}

impl ElementFrame {
    /// An element at `density_p_per_m2` with `occupancy` people, its level of
    /// service classified as the model classifies it.
    pub fn at_density(site: &Site, element: usize, occupancy: f64, density_p_per_m2: f64) -> ElementFrame {
        ElementFrame {
            occupancy,
            density_p_per_m2,
            los: Los::from_density(density_p_per_m2, site.is_queueing_area(element)),
            queue_length: 0.0,
            speed_mps: None,
            los_p90: None,
        }
    }
}

/// A place at level of service E or F, now or forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Element index in the site.
    pub element: usize,
    /// Level of service (E or F).
    pub level: Los,
    /// Clock time it is (or is forecast to be) reached, `HH:MM`.
    pub at: String,
    /// More: probability, density.
    pub detail: String,
}

/// Everything the scene shows at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Clock time, s after midnight.
    pub clock_s: f64,
    /// Per element, in the site's element order.
    pub elements: Vec<ElementFrame>,
    /// Alerts, soonest first.
    pub alerts: Vec<Alert>,
}

/// Level of service from its letter.
pub fn los_from_letter(letter: &str) -> Option<Los> {
    [Los::A, Los::B, Los::C, Los::D, Los::E, Los::F].into_iter().find(|los| los.letter() == letter)
}

/// Alerts for every element at level of service E or F in `elements`.
pub fn alerts_at_e_or_f(site: &Site, elements: &[ElementFrame], clock: &str) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e.los >= Los::E)
        .map(|(element, e)| Alert {
            element,
            level: e.los,
            at: clock.to_string(),
            detail: format!("{} at {:.2} P/m²", site.element_name(element), e.density_p_per_m2),
        })
        .collect();
    alerts.sort_by(|a, b| b.level.cmp(&a.level).then(a.element.cmp(&b.element)));
    alerts
}

/// Where the people of a frame are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeopleCounts {
    /// In the places' walkable areas, queueing included (the run's place
    /// occupancy, which leaves out seated spectators).
    pub at_places: f64,
    /// Of those, queueing.
    pub queueing: f64,
    /// On walkways.
    pub walking: f64,
    /// Seated at the sessions under way: their attendance as the run
    /// reported it (`None`: the data has no attendance, as live).
    pub seated: Option<u64>,
}

/// Counts the people of `frame` where they are; `attendance` holds the
/// spectators seated per session of the site, where known.
pub fn count_people(site: &Site, frame: &Frame, attendance: Option<&[u32]>) -> PeopleCounts {
    let places = site.places.len();
    let seated = attendance.map(|seated| {
        site.sessions_under_way(frame.clock_s).map(|(s, _)| seated.get(s).copied().unwrap_or(0) as u64).sum()
    });
    PeopleCounts {
        at_places: frame.elements.iter().take(places).map(|e| e.occupancy).sum(),
        queueing: frame.elements.iter().take(places).map(|e| e.queue_length).sum(),
        walking: frame.elements.iter().skip(places).map(|e| e.occupancy).sum(),
        seated,
    }
}
