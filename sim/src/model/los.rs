//! Fruin's level of service: the one scale crowding is reported on, from
//! the density of an element to its letter, rank and colour.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Fruin's level of service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Los {
    /// Free.
    A,
    /// Minor conflicts.
    B,
    /// Restricted.
    C,
    /// Restricted for most.
    D,
    /// Severely restricted, shuffling.
    E,
    /// Breakdown: dangerous crowding.
    F,
}

/// The colours of levels A to F: ColorBrewer's 6-class RdYlGn, green to
/// red, as `#rrggbb` (the same as [`LOS_COLOURS_RGB`]).
const LOS_COLOURS_HEX: [&str; 6] = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"];

/// [`LOS_COLOURS_HEX`] as red, green, blue.
const LOS_COLOURS_RGB: [[u8; 3]; 6] = [
    [0x1a, 0x98, 0x50],
    [0x91, 0xcf, 0x60],
    [0xd9, 0xef, 0x8b],
    [0xfe, 0xe0, 0x8b],
    [0xfc, 0x8d, 0x59],
    [0xd7, 0x30, 0x27],
];

impl Los {
    /// Every level, A to F.
    pub const ALL: [Los; 6] = [Los::A, Los::B, Los::C, Los::D, Los::E, Los::F];

    /// Level of service at `density` P/m². Walkway thresholds on space per
    /// person (A > 3.3 m², B 2.3–3.3, C 1.4–2.3, D 0.9–1.4, E 0.5–0.9,
    /// F < 0.5); queueing areas use Fruin's queue thresholds (A > 1.2,
    /// B 0.9–1.2, C 0.7–0.9, D 0.3–0.7, E 0.2–0.3, F < 0.2). shared/REFERENCES.md.
    pub fn from_density(density: f64, queueing_area: bool) -> Los {
        if density <= 0.0 {
            return Los::A;
        }
        let space = 1.0 / density;
        let limits = Los::space_limits_m2(queueing_area);
        let levels = [Los::A, Los::B, Los::C, Los::D, Los::E];
        levels.into_iter().zip(limits).find(|&(_, limit)| space > limit).map_or(Los::F, |(los, _)| los)
    }

    /// Lower limits of space per person, m², of levels A to E: a level
    /// holds while the space is above its limit (F below E's).
    pub fn space_limits_m2(queueing_area: bool) -> [f64; 5] {
        if queueing_area { [1.2, 0.9, 0.7, 0.3, 0.2] } else { [3.3, 2.3, 1.4, 0.9, 0.5] }
    }

    /// 0 for A up to 5 for F.
    pub fn rank(self) -> u8 {
        self as u8
    }

    /// The level of rank `rank` (see [`Los::rank`]); F for any rank above 5.
    pub fn from_rank(rank: u8) -> Los {
        Los::ALL[usize::from(rank.min(5))]
    }

    /// "A" to "F".
    pub fn letter(self) -> &'static str {
        ["A", "B", "C", "D", "E", "F"][self as usize]
    }

    /// The level written `letter` ("A" to "F", as [`Los::letter`] writes it).
    pub fn from_letter(letter: &str) -> Option<Los> {
        Los::ALL.into_iter().find(|los| los.letter() == letter)
    }

    /// The level's colour as `#rrggbb`, green (A) to red (F): the one
    /// palette of every report, map and view.
    pub fn colour_hex(self) -> &'static str {
        LOS_COLOURS_HEX[self as usize]
    }

    /// [`Los::colour_hex`] as red, green, blue.
    pub fn colour_rgb(self) -> [u8; 3] {
        LOS_COLOURS_RGB[self as usize]
    }
}

impl fmt::Display for Los {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_ranks_go_both_ways() {
        for (rank, los) in Los::ALL.into_iter().enumerate() {
            assert_eq!(los.rank() as usize, rank);
            assert_eq!(Los::from_rank(los.rank()), los);
            assert_eq!(Los::from_letter(los.letter()), Some(los));
            assert_eq!(los.to_string(), los.letter());
            let json = serde_json::to_string(&los).unwrap();
            assert_eq!(json, format!("\"{}\"", los.letter()));
            assert_eq!(serde_json::from_str::<Los>(&json).unwrap(), los);
        }
        assert_eq!(Los::ALL.map(Los::letter), ["A", "B", "C", "D", "E", "F"]);
        assert!(Los::ALL.is_sorted());
        assert_eq!(Los::from_rank(6), Los::F);
        assert_eq!(Los::from_rank(u8::MAX), Los::F);
        assert_eq!(Los::from_letter("a"), None);
        assert_eq!(Los::from_letter("G"), None);
        assert_eq!(Los::from_letter(""), None);
    }

    #[test]
    fn one_palette_green_to_red() {
        assert_eq!(Los::ALL.map(Los::colour_hex), ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"]);
        for los in Los::ALL {
            let [r, g, b] = los.colour_rgb();
            assert_eq!(format!("#{r:02x}{g:02x}{b:02x}"), los.colour_hex(), "{los}");
        }
        // Green falls and red rises from A to F.
        assert!(Los::A.colour_rgb()[1] > Los::F.colour_rgb()[1]);
        assert!(Los::A.colour_rgb()[0] < Los::F.colour_rgb()[0]);
    }

    #[test]
    fn density_thresholds_fall_on_fruins_limits() {
        // Walkways: 1 / 3.3 P/m² is still A's upper edge, above it is B.
        assert_eq!(Los::from_density(0.0, false), Los::A);
        assert_eq!(Los::from_density(0.25, false), Los::A);
        assert_eq!(Los::from_density(0.35, false), Los::B);
        assert_eq!(Los::from_density(2.1, false), Los::F);
        // Queueing areas tolerate more: 1 P/m² is B there, D on a walkway.
        assert_eq!(Los::from_density(1.0, true), Los::B);
        assert_eq!(Los::from_density(1.0, false), Los::D);
        assert_eq!(Los::from_density(6.0, true), Los::F);
    }
}
