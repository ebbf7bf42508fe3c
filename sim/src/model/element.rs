//! Elements: the places and walkways outputs are kept per, in one order
//! (places in scenario order, then walkways), and what kind each one is.

use crate::scenario::PlaceKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What an element is: a place of some kind, or a walkway. Written (in
/// outputs, JSON, reports) as the place kind's name ("gate", "fan_zone",
/// ...) or "walkway".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElementKind {
    /// A place.
    Place(PlaceKind),
    /// A walkway between two places.
    Walkway,
}

impl ElementKind {
    /// Every kind: the place kinds in declaration order, then the walkway.
    pub const ALL: [ElementKind; 8] = [
        ElementKind::Place(PlaceKind::Gate),
        ElementKind::Place(PlaceKind::Plaza),
        ElementKind::Place(PlaceKind::Venue),
        ElementKind::Place(PlaceKind::Shop),
        ElementKind::Place(PlaceKind::Food),
        ElementKind::Place(PlaceKind::FanZone),
        ElementKind::Place(PlaceKind::Transit),
        ElementKind::Walkway,
    ];

    /// The name written in outputs: the place kind's, or "walkway".
    pub fn as_str(self) -> &'static str {
        match self {
            ElementKind::Place(kind) => kind.as_str(),
            ElementKind::Walkway => "walkway",
        }
    }

    /// Whether the element is a walkway.
    pub fn is_walkway(self) -> bool {
        self == ElementKind::Walkway
    }

    /// The place's kind; none for a walkway.
    pub fn place_kind(self) -> Option<PlaceKind> {
        match self {
            ElementKind::Place(kind) => Some(kind),
            ElementKind::Walkway => None,
        }
    }

    /// Whether Fruin's queue thresholds apply (see [`super::Los::from_density`]):
    /// places where people stand in line (gates, venues, shops, food
    /// outlets, transit stops), not plazas, fan zones or walkways.
    pub fn is_queueing_area(self) -> bool {
        matches!(
            self.place_kind(),
            Some(PlaceKind::Gate | PlaceKind::Venue | PlaceKind::Shop | PlaceKind::Food | PlaceKind::Transit)
        )
    }
}

/// Whether Fruin's queue thresholds apply to elements of this kind; the
/// same as [`ElementKind::is_queueing_area`].
pub fn is_queueing_area(kind: ElementKind) -> bool {
    kind.is_queueing_area()
}

impl From<PlaceKind> for ElementKind {
    fn from(kind: PlaceKind) -> ElementKind {
        ElementKind::Place(kind)
    }
}

impl fmt::Display for ElementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no element kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownElementKind(pub String);

impl fmt::Display for UnknownElementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a kind of place or \"walkway\"", self.0)
    }
}

impl std::error::Error for UnknownElementKind {}

impl FromStr for ElementKind {
    type Err = UnknownElementKind;

    /// The kind named as [`ElementKind::as_str`] writes it.
    fn from_str(name: &str) -> Result<ElementKind, UnknownElementKind> {
        ElementKind::ALL.into_iter().find(|kind| kind.as_str() == name).ok_or_else(|| UnknownElementKind(name.into()))
    }
}

impl AsRef<str> for ElementKind {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for ElementKind {
    fn eq(&self, name: &str) -> bool {
        self.as_str() == name
    }
}

impl PartialEq<&str> for ElementKind {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

impl Serialize for ElementKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ElementKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ElementKind, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_written_as_the_files_name_them() {
        let names: Vec<&str> = ElementKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["gate", "plaza", "venue", "shop", "food", "fan_zone", "transit", "walkway"]);
        for kind in ElementKind::ALL {
            assert_eq!(kind.to_string(), kind.as_str());
            assert_eq!(kind.as_str().parse::<ElementKind>(), Ok(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ElementKind>(&json).unwrap(), kind);
            assert_eq!(kind.is_walkway(), kind == ElementKind::Walkway);
            assert_eq!(kind.place_kind().map(ElementKind::from), (!kind.is_walkway()).then_some(kind));
            assert!(kind == kind.as_str());
            assert_eq!(kind.as_ref(), kind.as_str());
        }
        for kind in PlaceKind::ALL {
            assert_eq!(ElementKind::from(kind).as_str(), kind.as_str());
        }
        assert_eq!("lawn".parse::<ElementKind>(), Err(UnknownElementKind("lawn".into())));
        assert!("Walkway".parse::<ElementKind>().is_err());
        assert!(serde_json::from_str::<ElementKind>("\"lawn\"").is_err());
    }

    #[test]
    fn queues_form_where_people_are_served() {
        let queueing: Vec<&str> =
            ElementKind::ALL.into_iter().filter(|k| k.is_queueing_area()).map(|k| k.as_str()).collect();
        assert_eq!(queueing, ["gate", "venue", "shop", "food", "transit"]);
        assert!(!is_queueing_area(ElementKind::Walkway));
    }
}
