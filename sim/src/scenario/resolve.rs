//! Resolution of a [`ScenarioFile`] into the checked [`Scenario`]: the run's
//! window and limits first, then one function per section (places,
//! walkways, sessions, visitors, crowds, interventions). Each section checks
//! every entry and reports every problem at once, each named with its entry
//! and the line of the field it is about (a place reference) or else of the
//! entry's table. Later sections look places up by the ids the places
//! section resolved, so they run only when it passed; the interventions
//! likewise need the sessions.

use super::clock::parse_clock;
use super::error::{Lines, ScenarioError};
use super::file::{
    CrowdSpec, InterventionSpec, ItemSpec, ModelParams, PlaceKind, PlaceSpec, ScenarioFile, SessionSpec,
    ValidationSpec, VisitorSpec, WalkwaySpec, default_ticket_fill,
};
use super::{
    Crowd, Intervention, PLACES_MAX, Place, RUN_DURATION_S_MAX, SCENARIO_FORMAT_VERSION, SESSIONS_MAX, Scenario,
    Session, VISITORS_MAX, Visitors, WALKWAYS_MAX, Walkway,
};
use crate::kernel::{SimDuration, SimTime};
use crate::model::{congested_density_p_per_m2, weidmann_capacity_p_per_m_s};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;

impl Scenario {
    /// Parses and checks a scenario from TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let lines = Lines { text };
        let raw: ScenarioFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim();
            // A value of the wrong type or range: name the key it was written to.
            let key = e.span().filter(|_| message.starts_with("invalid")).and_then(|s| lines.key_before(s.start));
            let message = match key {
                Some(key) => format!("`{key}`: {message}"),
                None => message.to_string(),
            };
            ScenarioError::new(file, e.span().map(|s| lines.of(s.start)), message)
        })?;
        Scenario::resolve(&raw, text, file)
    }

    /// Checks an already-deserialised file. `text` is the source the spans
    /// point into (empty for files built in code: errors then carry no line).
    /// Every error in the file comes back at once (see [`ScenarioError::each`]).
    pub fn resolve(raw: &ScenarioFile, text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let mut resolver = Resolver::new(raw, text, file)?;
        let places = resolver.places()?;
        let mut errors = Vec::new();
        let walkways = kept(&mut errors, resolver.walkways(&places));
        let before_sessions = errors.len();
        let sessions = kept(&mut errors, resolver.sessions(&places));
        let sessions_passed = errors.len() == before_sessions;
        let visitors = kept(&mut errors, resolver.visitors(&places));
        let crowds = kept(&mut errors, resolver.crowds());
        let total_people =
            visitors.as_ref().map_or(0, |v| v.count) + crowds.iter().map(|c| c.count as u64).sum::<u64>();
        if total_people > VISITORS_MAX {
            errors.push(resolver.top(format!("{total_people} people in all is above the limit of {VISITORS_MAX}")));
        }
        let interventions =
            if sessions_passed { kept(&mut errors, resolver.interventions(&places, &sessions)) } else { Vec::new() };
        if sessions_passed {
            errors.extend(resolver.item_sports(&places, &sessions));
        }
        if let Some([lat, lon]) = raw.origin_lat_lon
            && !(lat.is_finite() && lon.is_finite() && lat.abs() <= 85.0 && lon.abs() <= 180.0)
        {
            errors.push(resolver.top(format!(
                "origin_lat_lon = [{lat}, {lon}] is not a latitude in [-85, 85] and a longitude in [-180, 180]"
            )));
        }
        let validation = kept(&mut errors, resolver.validation());
        if let Some(error) = ScenarioError::all(errors) {
            return Err(error);
        }
        Ok(Scenario {
            name: raw.name.clone(),
            seed: raw.seed,
            origin_lat_lon: raw.origin_lat_lon,
            start_clock_s: resolver.start_clock_s,
            duration: SimDuration::from_secs((resolver.end_clock_s - resolver.start_clock_s) as u64),
            params: raw.model.clone(),
            places,
            walkways,
            sessions,
            visitors,
            crowds,
            interventions,
            validation,
        })
    }
}

/// The value of `result`, or its error added to `errors` and the default.
fn kept<T: Default>(errors: &mut Vec<ScenarioError>, result: Result<T, ScenarioError>) -> T {
    result.unwrap_or_else(|e| {
        errors.push(e);
        T::default()
    })
}

/// What is wrong with one entry: each problem with the span of the field it
/// is about, where known (else the entry's table is meant).
struct Problems(Vec<(Option<Range<usize>>, String)>);

impl From<String> for Problems {
    fn from(message: String) -> Self {
        Problems(vec![(None, message)])
    }
}

/// What every section's checks need: the file, where its errors point, the
/// run's clock window and the place ids resolved so far.
struct Resolver<'a> {
    raw: &'a ScenarioFile,
    file: &'a str,
    lines: Lines<'a>,
    start_clock_s: u32,
    end_clock_s: u32,
    /// Place index by id (filled by [`Resolver::places`]).
    index_of: BTreeMap<&'a str, usize>,
}

impl<'a> Resolver<'a> {
    /// Checks the format version, the model parameters, the run's window
    /// and the sizes.
    fn new(raw: &'a ScenarioFile, text: &'a str, file: &'a str) -> Result<Self, ScenarioError> {
        let top = |message: String| ScenarioError::new(file, None, message);
        if raw.version != SCENARIO_FORMAT_VERSION {
            return Err(top(format!(
                "format version {} is not supported; this build reads version {SCENARIO_FORMAT_VERSION}",
                raw.version
            )));
        }
        check_model(&raw.model).map_err(top)?;
        let start_clock_s = parse_clock(&raw.start).map_err(|e| top(format!("start: {e}")))?;
        let end_clock_s = parse_clock(&raw.end).map_err(|e| top(format!("end: {e}")))?;
        if end_clock_s <= start_clock_s || end_clock_s - start_clock_s > RUN_DURATION_S_MAX {
            return Err(top(format!("end {} must be after start {} and at most 48 hours later", raw.end, raw.start)));
        }
        if raw.places.is_empty() {
            return Err(top("no places: a site needs at least one `[[places]]`".into()));
        }
        if raw.places.len() > PLACES_MAX || raw.walkways.len() > WALKWAYS_MAX || raw.sessions.len() > SESSIONS_MAX {
            return Err(top(format!(
                "too large: at most {PLACES_MAX} places, {WALKWAYS_MAX} walkways, {SESSIONS_MAX} sessions"
            )));
        }
        let lines = Lines { text };
        Ok(Resolver { raw, file, lines, start_clock_s, end_clock_s, index_of: BTreeMap::new() })
    }

    /// An error at the entry or field that starts at `span`.
    fn at(&self, span: Range<usize>, message: String) -> ScenarioError {
        let line = if self.lines.text.is_empty() { None } else { Some(self.lines.of(span.start)) };
        ScenarioError::new(self.file, line, message)
    }

    /// An error about the file as a whole.
    fn top(&self, message: String) -> ScenarioError {
        ScenarioError::new(self.file, None, message)
    }

    /// Checks every entry of a section with `check` (given the entries
    /// checked before it) and reports all their problems, each prefixed with
    /// `name` of its entry.
    fn section<'e, S, T>(
        &self,
        entries: &'e [Spanned<S>],
        name: impl Fn(&S) -> String,
        mut check: impl FnMut(&'e S, &[T]) -> Result<T, Problems>,
    ) -> Result<Vec<T>, ScenarioError> {
        let mut checked = Vec::with_capacity(entries.len());
        let mut errors = Vec::new();
        for spanned in entries {
            match check(spanned.get_ref(), &checked) {
                Ok(value) => checked.push(value),
                Err(Problems(problems)) => errors.extend(problems.into_iter().map(|(span, message)| {
                    self.at(span.unwrap_or_else(|| spanned.span()), format!("{}: {message}", name(spanned.get_ref())))
                })),
            }
        }
        match ScenarioError::all(errors) {
            Some(error) => Err(error),
            None => Ok(checked),
        }
    }

    /// A clock time as simulation time. Times may lie after the end (a
    /// session the run stops in the middle of, an intervention it never
    /// reaches) but not before the start.
    fn clock(&self, text: &str) -> Result<SimTime, String> {
        let seconds = parse_clock(text)?;
        if seconds < self.start_clock_s {
            return Err(format!("{text} is before the run starts ({})", self.raw.start));
        }
        Ok(SimTime::from_secs((seconds - self.start_clock_s) as u64))
    }

    /// The index of place `id`, named `what` in the error.
    fn place(&self, id: &str, what: &str) -> Result<usize, String> {
        self.index_of.get(id).copied().ok_or_else(|| format!("{what} `{id}` is not a place id"))
    }

    /// The indices of the places `refs` name (each with its field's name),
    /// or every one that names no place, at its field.
    fn places_at(&self, refs: &[(&Spanned<String>, &str)]) -> Result<Vec<usize>, Problems> {
        let mut indices = Vec::with_capacity(refs.len());
        let mut problems = Vec::new();
        for (id, what) in refs {
            match self.place(id.get_ref(), what) {
                Ok(index) => indices.push(index),
                Err(message) => problems.push((Some(id.span()), message)),
            }
        }
        if problems.is_empty() { Ok(indices) } else { Err(Problems(problems)) }
    }

    fn places(&mut self) -> Result<Vec<Place>, ScenarioError> {
        let raw = self.raw;
        let mut index_of: BTreeMap<&'a str, usize> = BTreeMap::new();
        let places = self.section(
            &raw.places,
            |p| format!("place `{}`", p.id),
            |p, before| {
                if p.id.is_empty() || p.id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(String::from("an id must be non-empty with no spaces").into());
                }
                if index_of.contains_key(p.id.as_str()) {
                    return Err(String::from("the id is used twice").into());
                }
                let resolved = place(p, &raw.model)?;
                index_of.insert(&p.id, before.len());
                Ok(resolved)
            },
        )?;
        self.index_of = index_of;
        Ok(places)
    }

    /// Items' sports that no session has (a misspelt sport would never be
    /// recommended), one error per place. A site without sessions (a
    /// skeleton imported from GeoJSON, say) is not checked: its sessions
    /// are still to come.
    fn item_sports(&self, places: &[Place], sessions: &[Session]) -> Vec<ScenarioError> {
        let known: BTreeSet<&str> = sessions.iter().map(|s| s.sport.as_str()).collect();
        let mut errors = Vec::new();
        if known.is_empty() {
            return errors;
        }
        for (place, spanned) in places.iter().zip(&self.raw.places) {
            let unknown: Vec<String> = place
                .items
                .iter()
                .flat_map(|item| item.sports.iter().map(move |sport| (item, sport)))
                .filter(|(_, sport)| !known.contains(sport.as_str()))
                .map(|(item, sport)| format!("`{sport}` (item `{}`)", item.id))
                .collect();
            if !unknown.is_empty() {
                let sports: Vec<&str> = known.iter().copied().collect();
                errors.push(self.at(
                    spanned.span(),
                    format!(
                        "place `{}`: no session has the sport {}; the sessions' sports are: {}",
                        place.id,
                        unknown.join(", "),
                        sports.join(", ")
                    ),
                ));
            }
        }
        errors
    }

    fn walkways(&self, places: &[Place]) -> Result<Vec<Walkway>, ScenarioError> {
        let model = &self.raw.model;
        let walkway_capacity = model.walkway_capacity_p_per_m_s.unwrap_or_else(|| weidmann_capacity_p_per_m_s(model));
        self.section(
            &self.raw.walkways,
            |w| format!("walkway {} -> {}", w.from.get_ref(), w.to.get_ref()),
            |w, _| self.walkway(w, places, walkway_capacity),
        )
    }

    fn walkway(&self, w: &WalkwaySpec, places: &[Place], walkway_capacity: f64) -> Result<Walkway, Problems> {
        let model = &self.raw.model;
        let ends = self.places_at(&[(&w.from, "from"), (&w.to, "to")])?;
        let (a, b) = (ends[0], ends[1]);
        if a == b {
            return Err("a walkway must join two different places".to_string().into());
        }
        let length_m = match w.length_m {
            Some(length) => length,
            None => {
                let (p, q) = (places[a].position_m, places[b].position_m);
                ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
            }
        };
        if !((0.1..=100_000.0).contains(&length_m)) {
            return Err(format!(
                "length {length_m} m must be between 0.1 and 100000 (give length_m where positions coincide)"
            )
            .into());
        }
        if let Some(line) = &w.line_m {
            check_line(line)?;
        }
        if !(w.width_m.is_finite() && w.width_m >= 0.1 && w.width_m <= 1_000.0) {
            return Err(format!("width_m = {} must be between 0.1 and 1000", w.width_m).into());
        }
        let default_capacity =
            if w.bottleneck { model.bottleneck_capacity_p_per_s(w.width_m) / w.width_m } else { walkway_capacity };
        let specific = w.capacity_p_per_m_s.unwrap_or(default_capacity);
        if !(specific.is_finite() && specific > 0.0 && specific <= 20.0) {
            return Err(format!("capacity_p_per_m_s = {specific} must be > 0 and <= 20").into());
        }
        let mut capacity_p_per_s = specific * w.width_m;
        if capacity_p_per_s <= 0.0 {
            return Err(format!("its capacity {capacity_p_per_s} P/s is not positive").into());
        }
        let entry_capacity_p_per_s = capacity_p_per_s;
        if let Some(exit) = w.exit_width_m {
            if !(exit.is_finite() && exit >= 0.1 && exit <= w.width_m) {
                return Err(format!("exit_width_m = {exit} must be between 0.1 and width_m = {}", w.width_m).into());
            }
            capacity_p_per_s = capacity_p_per_s.min(model.exit_capacity_p_per_m_s * exit);
        }
        let storage_p = if w.bottleneck {
            // What crosses it at free speed in its crossing time, and one more.
            let crossing_s = length_m / model.walk_speed_mps_free;
            let crossing = (capacity_p_per_s * crossing_s).ceil() + 1.0;
            (model.jam_density_p_per_m2 * length_m * w.width_m).floor().max(crossing)
        } else {
            let density = congested_density_p_per_m2(model, capacity_p_per_s / w.width_m);
            (density * length_m * w.width_m).floor().max(1.0)
        };
        let storage_p = storage_p.min(u32::MAX as f64) as u32;
        Ok(Walkway {
            a,
            b,
            length_m,
            width_m: w.width_m,
            line_m: w.line_m.clone(),
            bottleneck: w.bottleneck,
            capacity_p_per_s,
            entry_capacity_p_per_s,
            storage_p,
        })
    }

    /// The `[validation]` table, its walkway references checked.
    fn validation(&self) -> Result<Option<ValidationSpec>, ScenarioError> {
        let Some(validation) = &self.raw.validation else { return Ok(None) };
        for measured in &validation.measured {
            let known =
                self.raw.walkways.iter().any(|w| {
                    format!("{}--{}", w.get_ref().from.get_ref(), w.get_ref().to.get_ref()) == measured.walkway
                });
            if !known {
                return Err(
                    self.top(format!("validation.measured: no walkway {:?} (write \"from--to\")", measured.walkway))
                );
            }
            if !(measured.value.is_finite() && measured.value > 0.0) {
                return Err(self.top(format!(
                    "validation.measured {:?}: value = {} must be > 0",
                    measured.walkway, measured.value
                )));
            }
        }
        Ok(Some(validation.clone()))
    }

    fn sessions(&self, places: &[Place]) -> Result<Vec<Session>, ScenarioError> {
        let ticket_fill = self.raw.visitors.as_ref().map_or(default_ticket_fill(), |v| v.get_ref().ticket_fill);
        self.section(
            &self.raw.sessions,
            |s| format!("session at {} {}", s.venue.get_ref(), s.start),
            |s, before| self.session(s, places, before, ticket_fill),
        )
    }

    /// A session, checked against the venue and the sessions before it.
    fn session(
        &self,
        s: &SessionSpec,
        places: &[Place],
        before: &[Session],
        ticket_fill: f64,
    ) -> Result<Session, Problems> {
        let venue = self.places_at(&[(&s.venue, "venue")])?[0];
        if places[venue].kind != PlaceKind::Venue {
            return Err(format!("`{}` is a {}, not a venue", s.venue, places[venue].kind.as_str()).into());
        }
        let start = self.clock(&s.start)?;
        let end = self.clock(&s.end)?;
        if end <= start {
            return Err("end must be after start".to_string().into());
        }
        let seats = places[venue].seats;
        let tickets = s.tickets.unwrap_or((seats as f64 * ticket_fill).round() as u32);
        if tickets > seats {
            return Err(format!("{tickets} tickets for {seats} seats").into());
        }
        if let Some(other) = before.iter().find(|o| o.venue == venue && o.start < end && start < o.end) {
            return Err(format!("overlaps the session starting at {} at the same venue", other.start).into());
        }
        Ok(Session { venue, sport: s.sport.clone(), name: s.name.clone(), start, end, tickets })
    }

    fn visitors(&self, places: &[Place]) -> Result<Option<Visitors>, ScenarioError> {
        let Some(spanned) = &self.raw.visitors else { return Ok(None) };
        let here = |message: String| self.at(spanned.span(), format!("visitors: {message}"));
        self.visitor_population(spanned.get_ref(), places).map(Some).map_err(here)
    }

    fn visitor_population(&self, v: &VisitorSpec, places: &[Place]) -> Result<Visitors, String> {
        check_visitor_shares(v)?;
        let walk_in_window = self.walk_in_window(v)?;
        for (sport, weight) in &v.sport_preferences {
            if !(weight.is_finite() && *weight >= 0.0) {
                return Err(format!("sport_preferences.{sport} must be >= 0"));
            }
        }
        if v.count > 0 && !places.iter().any(|p| p.kind == PlaceKind::Transit) {
            return Err("visitors arrive by transit: the site needs a `transit` place".into());
        }
        if places.iter().filter(|p| p.kind == PlaceKind::Transit).map(|p| p.arrival_share).sum::<f64>() <= 0.0
            && v.count > 0
        {
            return Err("the transit places' arrival_share must not all be 0".into());
        }
        let [earliest, mode, latest] = v.arrive_before_first_session_min;
        Ok(Visitors {
            count: v.count,
            session_count_weights: v.session_count_weights.clone(),
            arrive_before_s: [earliest * 60.0, mode * 60.0, latest * 60.0],
            walk_in_window,
            walk_in_stay_s: minutes_range("walk_in_stay_min", v.walk_in_stay_min)?,
            food_probability: v.food_probability,
            shop_probability: v.shop_probability,
            fan_zone_probability: v.fan_zone_probability,
            recommended_share: v.recommended_share,
            eat_s: minutes_range("eat_min", v.eat_min)?,
            fan_zone_dwell_s: minutes_range("fan_zone_dwell_min", v.fan_zone_dwell_min)?,
            plaza_linger_probability: v.plaza_linger_probability,
            plaza_linger_s: minutes_range("plaza_linger_min", v.plaza_linger_min)?,
            sport_preferences: v.sport_preferences.clone(),
        })
    }

    /// The walk-ins' arrival window: as written, or the first 60% of the run.
    fn walk_in_window(&self, v: &VisitorSpec) -> Result<(SimTime, SimTime), String> {
        let Some([from, to]) = &v.walk_in_window else {
            let run_s = (self.end_clock_s - self.start_clock_s) as f64;
            return Ok((SimTime::ZERO, SimTime::ZERO + SimDuration::from_secs_f64(run_s * 0.6)));
        };
        let from = self.clock(from).map_err(|e| format!("walk_in_window: {e}"))?;
        let to = self.clock(to).map_err(|e| format!("walk_in_window: {e}"))?;
        if to < from {
            return Err("walk_in_window must run forwards".into());
        }
        Ok((from, to))
    }

    fn crowds(&self) -> Result<Vec<Crowd>, ScenarioError> {
        self.section(&self.raw.crowds, |c| format!("crowd `{}`", c.name), |c, _| self.crowd(c))
    }

    fn crowd(&self, c: &CrowdSpec) -> Result<Crowd, Problems> {
        let refs: Vec<_> = [(&c.from, "from")].into_iter().chain(c.via.iter().map(|v| (v, "via"))).collect();
        let mut stops = self.places_at(&[refs.as_slice(), &[(&c.to, "to")]].concat())?;
        let from = stops.remove(0);
        let to = *stops.last().expect("`to` is a stop");
        let start = self.clock(&c.start)?;
        if !(c.spread_s.is_finite() && c.spread_s >= 0.0 && c.spread_s <= RUN_DURATION_S_MAX as f64) {
            return Err(format!("spread_s = {} must be >= 0", c.spread_s).into());
        }
        if c.count as u64 > VISITORS_MAX {
            return Err(format!("count {} is above the limit of {VISITORS_MAX}", c.count).into());
        }
        if stops.windows(2).any(|w| w[0] == w[1]) || stops[0] == from {
            return Err("consecutive stops must differ".to_string().into());
        }
        if c.laps == 0 || c.laps as u64 * stops.len() as u64 > u32::MAX as u64 {
            return Err(format!("laps = {} must be at least 1 (and laps x stops below 2^32)", c.laps).into());
        }
        if c.laps > 1 && stops.last() == stops.first() {
            return Err("a lap must not end where the next one starts".to_string().into());
        }
        Ok(Crowd {
            name: c.name.clone(),
            count: c.count,
            from,
            to,
            stops,
            laps: c.laps,
            start,
            spread: SimDuration::from_secs_f64(c.spread_s),
            arrival: c.arrival,
            screening: c.screening,
        })
    }

    /// The interventions, in time order (stable: the file's order at equal times).
    fn interventions(&self, places: &[Place], sessions: &[Session]) -> Result<Vec<Intervention>, ScenarioError> {
        let mut interventions = self.section(
            &self.raw.interventions,
            |_| "intervention".to_string(),
            |spec, _| Ok(self.intervention(spec, places, sessions)?),
        )?;
        interventions.sort_by_key(|i| i.at());
        Ok(interventions)
    }

    fn intervention(
        &self,
        spec: &InterventionSpec,
        places: &[Place],
        sessions: &[Session],
    ) -> Result<Intervention, String> {
        let place_of_kind = |id: &str, what: &str, kind: PlaceKind| of_kind(places, self.place(id, what)?, kind);
        Ok(match spec {
            InterventionSpec::CloseGate { at, place } => {
                Intervention::CloseGate { at: self.clock(at)?, place: place_of_kind(place, "place", PlaceKind::Gate)? }
            }
            InterventionSpec::OpenGate { at, place } => {
                Intervention::OpenGate { at: self.clock(at)?, place: place_of_kind(place, "place", PlaceKind::Gate)? }
            }
            InterventionSpec::DelaySession { at, venue, session_start, minutes, reported } => {
                let venue = place_of_kind(venue, "venue", PlaceKind::Venue)?;
                let start = self.clock(session_start)?;
                let session = sessions
                    .iter()
                    .position(|s| s.venue == venue && s.start == start)
                    .ok_or_else(|| format!("no session starts at {session_start} at that venue"))?;
                if !(minutes.is_finite() && *minutes >= 0.0 && *minutes <= 24.0 * 60.0) {
                    return Err(format!("minutes = {minutes} must be between 0 and 1440"));
                }
                Intervention::DelaySession {
                    at: self.clock(at)?,
                    session,
                    delay: SimDuration::from_secs_f64(minutes * 60.0),
                    reported: *reported,
                }
            }
            InterventionSpec::TransitDisruption { at, place, until, capacity_factor, reported } => {
                let at = self.clock(at)?;
                let until = self.clock(until)?;
                if until < at {
                    return Err("until must not be before at".into());
                }
                if !(0.0..=1.0).contains(capacity_factor) {
                    return Err(format!("capacity_factor = {capacity_factor} must be in [0, 1]"));
                }
                let place = place_of_kind(place, "place", PlaceKind::Transit)?;
                Intervention::TransitDisruption {
                    at,
                    place,
                    until,
                    capacity_factor: *capacity_factor,
                    reported: *reported,
                }
            }
            InterventionSpec::SlowService { at, place, until, rate_factor } => {
                let (at, until) = (self.clock(at)?, self.clock(until)?);
                if until < at {
                    return Err("until must not be before at".into());
                }
                if !(rate_factor.is_finite() && *rate_factor > 0.0 && *rate_factor <= 1.0) {
                    return Err(format!("rate_factor = {rate_factor} must be in (0, 1]"));
                }
                let place = self.place(place, "place")?;
                if places[place].servers == 0 {
                    return Err(format!(
                        "`{}` serves nobody: slow_service applies to gates, venues, shops and food",
                        places[place].id
                    ));
                }
                Intervention::SlowService { at, place, until, rate_factor: *rate_factor }
            }
            InterventionSpec::Behaviour { at, until, kinds, outdoor, attraction, dwell_factor, reported } => {
                let at = self.clock(at)?;
                let until = match until {
                    Some(until) => self.clock(until)?,
                    None => SimTime::MAX,
                };
                if until < at {
                    return Err("until must not be before at".into());
                }
                if let Some(kind) =
                    kinds.iter().find(|k| !matches!(k, PlaceKind::Food | PlaceKind::Shop | PlaceKind::FanZone))
                {
                    return Err(format!("kinds: `{}` is not an activity (food, shop, fan_zone)", kind.as_str()));
                }
                if kinds.is_empty() && !outdoor {
                    return Err("behaviour applies to nothing: give kinds or outdoor = true".into());
                }
                if !(attraction.is_finite() && (0.0..=10.0).contains(attraction)) {
                    return Err(format!("attraction = {attraction} must be between 0 and 10"));
                }
                if !(dwell_factor.is_finite() && (0.1..=10.0).contains(dwell_factor)) {
                    return Err(format!("dwell_factor = {dwell_factor} must be between 0.1 and 10"));
                }
                Intervention::Behaviour(Box::new(crate::scenario::Behaviour {
                    at,
                    until,
                    kinds: kinds.clone(),
                    outdoor: *outdoor,
                    attraction: *attraction,
                    dwell_factor: *dwell_factor,
                    reported: *reported,
                }))
            }
        })
    }
}

/// `index` if place `index` is of `kind`.
fn of_kind(places: &[Place], index: usize, kind: PlaceKind) -> Result<usize, String> {
    let place = &places[index];
    if place.kind == kind {
        Ok(index)
    } else {
        Err(format!("`{}` is a {}, not a {}", place.id, place.kind.as_str(), kind.as_str()))
    }
}

/// Every model parameter in its range.
fn check_model(params: &ModelParams) -> Result<(), String> {
    let positive = |name: &str, value: f64, max: f64| {
        if value.is_finite() && value > 0.0 && value <= max {
            Ok(())
        } else {
            Err(format!("model.{name} = {value} must be > 0 and <= {max}"))
        }
    };
    positive("walk_speed_mps_free", params.walk_speed_mps_free, 10.0)?;
    positive("weidmann_gamma_p_per_m2", params.weidmann_gamma_p_per_m2, 100.0)?;
    positive("jam_density_p_per_m2", params.jam_density_p_per_m2, 20.0)?;
    positive("walk_speed_mps_min", params.walk_speed_mps_min, params.walk_speed_mps_free)?;
    if let Some(c) = params.walkway_capacity_p_per_m_s {
        positive("walkway_capacity_p_per_m_s", c, 20.0)?;
    }
    positive("bottleneck_capacity_p_per_m_s", params.bottleneck_capacity_p_per_m_s, 20.0)?;
    positive("exit_capacity_p_per_m_s", params.exit_capacity_p_per_m_s, 20.0)?;
    positive("bottleneck_capacity_wide_p_per_m_s", params.bottleneck_capacity_wide_p_per_m_s, 20.0)?;
    if !(params.bottleneck_capacity_decline_p_per_m2_s.is_finite()
        && (0.0..=10.0).contains(&params.bottleneck_capacity_decline_p_per_m2_s))
    {
        return Err(format!(
            "model.bottleneck_capacity_decline_p_per_m2_s = {} must be between 0 and 10",
            params.bottleneck_capacity_decline_p_per_m2_s
        ));
    }
    positive("place_hold_density_p_per_m2", params.place_hold_density_p_per_m2, 20.0)?;
    positive("handoff_s", params.handoff_s, 60.0)?;
    if params.handoff_s < 0.001 {
        return Err("model.handoff_s must be at least 0.001 s".into());
    }
    positive("output_interval_s", params.output_interval_s, 3_600.0)?;
    if params.output_interval_s.fract() != 0.0 {
        return Err("model.output_interval_s must be a whole number of seconds".into());
    }
    Ok(())
}

/// Gates and venues check people in lanes.
fn serves(kind: PlaceKind) -> bool {
    matches!(kind, PlaceKind::Gate | PlaceKind::Venue)
}

/// Shops and food outlets sell at servers.
fn sells(kind: PlaceKind) -> bool {
    matches!(kind, PlaceKind::Shop | PlaceKind::Food)
}

/// A place of `kind` needs `field`.
fn needs(kind: PlaceKind, field: &str, present: bool) -> Result<(), String> {
    if present { Ok(()) } else { Err(format!("a {} needs `{field}`", kind.as_str())) }
}

/// One place, its id already checked.
fn place(p: &PlaceSpec, params: &ModelParams) -> Result<Place, String> {
    if !(p.area_m2.is_finite() && p.area_m2 > 0.0) {
        return Err(format!("area_m2 = {} must be > 0", p.area_m2));
    }
    if !p.position_m.iter().all(|x| x.is_finite()) {
        return Err("position_m must be finite".into());
    }
    if let Some(polygon) = &p.polygon_m {
        check_polygon(polygon)?;
    }
    check_fields_apply(p)?;
    let (servers, service_s) = service(p)?;
    let (seats, egress_p_per_s) = venue(p, params)?;
    check_items(&p.items)?;
    let (departure_interval_s, departure_capacity) = departures(p)?;
    let arrival_share = p.arrival_share.unwrap_or(if p.kind == PlaceKind::Transit { 1.0 } else { 0.0 });
    if !(arrival_share.is_finite() && arrival_share >= 0.0) {
        return Err("arrival_share must be >= 0".into());
    }
    Ok(Place {
        id: p.id.clone(),
        name: p.name.clone().unwrap_or_else(|| p.id.clone()),
        kind: p.kind,
        position_m: p.position_m,
        area_m2: p.area_m2,
        polygon_m: p.polygon_m.clone(),
        servers,
        service_s,
        seats,
        egress_p_per_s,
        items: p.items.clone(),
        departure_interval_s,
        departure_capacity,
        arrival_share,
        outdoor: p.outdoor,
        hold_p: (params.place_hold_density_p_per_m2 * p.area_m2).floor().clamp(1.0, u32::MAX as f64) as u32,
    })
}

/// An outline: finite coordinates, at least 3 distinct points, an area.
fn check_polygon(ring: &[[f64; 2]]) -> Result<(), String> {
    if !ring.iter().flatten().all(|x| x.is_finite()) {
        return Err("polygon_m: every coordinate must be finite".into());
    }
    let mut distinct = ring.to_vec();
    distinct.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    distinct.dedup();
    if distinct.len() < 3 {
        return Err(format!("polygon_m has {} distinct points; an outline needs at least 3", distinct.len()));
    }
    let area = ring_area_m2(ring);
    if area.abs() < 1e-6 {
        return Err("polygon_m has zero area (its points lie on one line, or it crosses itself)".into());
    }
    Ok(())
}

/// The area a ring encloses, m² (shoelace; the sign is its winding,
/// positive anticlockwise). A closing point equal to the first adds nothing.
fn ring_area_m2(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let ([x0, y0], [x1, y1]) = (ring[i], ring[(i + 1) % n]);
            x0 * y1 - x1 * y0
        })
        .sum::<f64>()
        / 2.0
}

/// A centre line: finite coordinates, at least 2 points, a length.
fn check_line(line: &[[f64; 2]]) -> Result<(), String> {
    if !line.iter().flatten().all(|x| x.is_finite()) {
        return Err("line_m: every coordinate must be finite".into());
    }
    if line.len() < 2 {
        return Err(format!("line_m has {} point(s); a line needs at least 2", line.len()));
    }
    if line.windows(2).all(|w| w[0] == w[1]) {
        return Err("line_m has zero length (all its points coincide)".into());
    }
    Ok(())
}

/// Refuses fields that do not apply to the place's kind.
fn check_fields_apply(p: &PlaceSpec) -> Result<(), String> {
    let allowed = |field: &str, present: bool, kinds: &str| {
        if present { Err(format!("`{field}` applies only to {kinds}")) } else { Ok(()) }
    };
    let (serves, sells) = (serves(p.kind), sells(p.kind));
    allowed("lanes", p.lanes.is_some() && !serves, "gates and venues")?;
    allowed("servers", p.servers.is_some() && !sells, "shops and food")?;
    allowed("service_s", p.service_s.is_some() && !(serves || sells), "gates, venues, shops and food")?;
    allowed("seats", p.seats.is_some() && p.kind != PlaceKind::Venue, "venues")?;
    allowed("egress_width_m", p.egress_width_m.is_some() && p.kind != PlaceKind::Venue, "venues")?;
    allowed("items", !p.items.is_empty() && !sells, "shops and food")?;
    let transit = p.kind == PlaceKind::Transit;
    allowed("departure_interval_s", p.departure_interval_s.is_some() && !transit, "transit")?;
    allowed("departure_capacity", p.departure_capacity.is_some() && !transit, "transit")?;
    allowed("arrival_share", p.arrival_share.is_some() && !transit, "transit")
}

/// Lanes or servers and the mean service time (0 and 0.0 where the place
/// serves nobody).
fn service(p: &PlaceSpec) -> Result<(u32, f64), String> {
    let (serves, sells) = (serves(p.kind), sells(p.kind));
    let servers = if serves {
        needs(p.kind, "lanes", p.lanes.is_some())?;
        p.lanes.unwrap_or(0)
    } else if sells {
        needs(p.kind, "servers", p.servers.is_some())?;
        p.servers.unwrap_or(0)
    } else {
        0
    };
    if (serves || sells) && !(1..=10_000).contains(&servers) {
        return Err(format!("{servers} lanes/servers: must be between 1 and 10000"));
    }
    if !(serves || sells) {
        return Ok((servers, 0.0));
    }
    needs(p.kind, "service_s", p.service_s.is_some())?;
    let s = p.service_s.unwrap_or(0.0);
    if !(s.is_finite() && s > 0.0 && s <= 3_600.0) {
        return Err(format!("service_s = {s} must be > 0 and <= 3600"));
    }
    Ok((servers, s))
}

/// A venue's seats and egress flow, persons/s (0 and 0.0 elsewhere).
fn venue(p: &PlaceSpec, params: &ModelParams) -> Result<(u32, f64), String> {
    if p.kind != PlaceKind::Venue {
        return Ok((0, 0.0));
    }
    needs(p.kind, "seats", p.seats.is_some())?;
    needs(p.kind, "egress_width_m", p.egress_width_m.is_some())?;
    let width = p.egress_width_m.unwrap_or(0.0);
    if !(width.is_finite() && width > 0.0) {
        return Err(format!("egress_width_m = {width} must be > 0"));
    }
    let seats = p.seats.unwrap_or(0);
    if seats == 0 {
        return Err("seats = 0: a venue needs at least one seat".into());
    }
    Ok((seats, params.bottleneck_capacity_p_per_s(width)))
}

/// Item ids once each, prices not negative.
fn check_items(items: &[ItemSpec]) -> Result<(), String> {
    let mut item_ids = BTreeSet::new();
    for item in items {
        if !item_ids.insert(item.id.as_str()) {
            return Err(format!("item `{}` is listed twice", item.id));
        }
        if !(item.price.is_finite() && item.price >= 0.0) {
            return Err(format!("item `{}`: price must be >= 0", item.id));
        }
        let mut sports = BTreeSet::new();
        for sport in &item.sports {
            if sport.trim().is_empty() || !sports.insert(sport.as_str()) {
                return Err(format!("item `{}`: sports must be named once each, not empty", item.id));
            }
        }
    }
    Ok(())
}

/// A transit place's departure interval, s, and capacity (0.0 and 0 elsewhere).
fn departures(p: &PlaceSpec) -> Result<(f64, u32), String> {
    if p.kind != PlaceKind::Transit {
        return Ok((0.0, 0));
    }
    let interval = p.departure_interval_s.unwrap_or(60.0);
    let capacity = p.departure_capacity.unwrap_or(1_000);
    if !((1.0..=86_400.0).contains(&interval)) {
        return Err(format!("departure_interval_s = {interval} must be between 1 and 86400"));
    }
    if capacity == 0 {
        return Err("departure_capacity must be at least 1".into());
    }
    Ok((interval, capacity))
}

/// The visitors' probabilities, count, ticket weights and arrival triangle.
fn check_visitor_shares(v: &VisitorSpec) -> Result<(), String> {
    probability("ticket_fill", v.ticket_fill)?;
    probability("food_probability", v.food_probability)?;
    probability("shop_probability", v.shop_probability)?;
    probability("fan_zone_probability", v.fan_zone_probability)?;
    probability("plaza_linger_probability", v.plaza_linger_probability)?;
    probability("recommended_share", v.recommended_share)?;
    if v.count > VISITORS_MAX {
        return Err(format!("count {} is above the limit of {VISITORS_MAX}", v.count));
    }
    if v.session_count_weights.is_empty()
        || v.session_count_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
        || v.session_count_weights.iter().sum::<f64>() <= 0.0
    {
        return Err("session_count_weights must be non-negative with a positive sum".into());
    }
    let [earliest, mode, latest] = v.arrive_before_first_session_min;
    if !(earliest >= mode && mode >= latest && latest >= 0.0 && earliest <= 24.0 * 60.0) {
        return Err(
            "arrive_before_first_session_min must be [earliest, mode, latest] with earliest >= mode >= latest >= 0"
                .into(),
        );
    }
    Ok(())
}

/// `p` is a probability.
fn probability(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) { Ok(()) } else { Err(format!("{name} = {p} must be in [0, 1]")) }
}

/// A [shortest, longest] range in minutes, as seconds.
fn minutes_range(name: &str, r: [f64; 2]) -> Result<[f64; 2], String> {
    if r[0].is_finite() && r[0] >= 0.0 && r[1] >= r[0] && r[1] <= 48.0 * 60.0 {
        Ok([r[0] * 60.0, r[1] * 60.0])
    } else {
        Err(format!("{name} must be [shortest, longest] minutes with 0 <= shortest <= longest"))
    }
}
