//! A scenario comparison (`crowdtwin compare ... --out DIR`, its
//! `compare.json`) laid over the site: each place and walkway coloured by
//! how its crowding changed from base to variant, in the palette of the
//! comparison's own change map (red rose, blue fell, grey no change beyond
//! noise). Plain data, no Bevy.

use crate::VizError;
use crate::site::Site;
use crowdtwin_wire::compare::{Change, CompareReport};
use std::path::Path;

/// How every element of the site changed, and what was compared.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeMap {
    /// Per element of the site (places, then walkways): its change.
    pub changes: Vec<Change>,
    /// The base scenario's name.
    pub base: String,
    /// The variant's name.
    pub variant: String,
    /// Paired seeds behind it.
    pub seeds: usize,
}

impl ChangeMap {
    /// Reads `path` (a `compare.json`) for `site`. Refused with the reason:
    /// a file that cannot be read, is not a comparison, or compares another
    /// site (none of its elements is in this one).
    pub fn load(path: &Path, site: &Site) -> Result<ChangeMap, VizError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| VizError::Input(format!("--compare {}: {e}", path.display())))?;
        let report: CompareReport = serde_json::from_str(&text).map_err(|e| {
            VizError::Input(format!(
                "--compare {}: not a comparison (`crowdtwin compare ... --out DIR` writes DIR/compare.json): {e}",
                path.display()
            ))
        })?;
        ChangeMap::of(&report, site).map_err(|e| VizError::Input(format!("--compare {}: {e}", path.display())))
    }

    /// The change map of `report` over `site`.
    pub fn of(report: &CompareReport, site: &Site) -> Result<ChangeMap, String> {
        if !report.elements.iter().any(|c| site.element_index(&c.id).is_some()) {
            return Err(format!(
                "it compares `{}` with `{}`, whose places and walkways are not this site's ({})",
                report.base, report.variant, site.name
            ));
        }
        let changes = (0..site.element_count()).map(|e| report.crowding_change(site.element_id(e))).collect();
        Ok(ChangeMap { changes, base: report.base.clone(), variant: report.variant.clone(), seeds: report.seeds.len() })
    }

    /// Elements with `change`.
    pub fn count(&self, change: Change) -> usize {
        self.changes.iter().filter(|&&c| c == change).count()
    }
}
