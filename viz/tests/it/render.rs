//! The viewer rendering without a window (Mesa's Vulkan driver on the CPU
//! here, a GPU where there is one).

use crate::{run_into, scenario_path, temporary_folder, viewer};
use bevy::math::{UVec2, Vec2, Vec3};
use crowdtwin_sim::model::Los;
use crowdtwin_sim::scenario::format_clock;
use crowdtwin_viz::app::camera::{Orbit, project, project_home, viewport_rect};
use crowdtwin_viz::app::labels::label_anchor;
use crowdtwin_viz::app::{BEACON_RGB, LABEL_PLATE_RGB, LABEL_TEXT_RGB, los_rgb, visitor_rgb};
use crowdtwin_viz::replay::Replay;
use crowdtwin_viz::site::{Site, WALKWAY_DRAWN_WIDTH_M_MIN, WALKWAY_RIM_M, point_along};
use std::collections::BTreeSet;
use std::path::Path;

/// Screenshot size, px.
const SIZE: UVec2 = UVec2::new(1280, 800);

/// Width, height and RGB bytes of a PNG.
pub fn load_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "the viewer writes RGB");
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

/// Asserts that an image is not one flat colour: its luminance varies and it
/// has many distinct colours.
pub fn assert_not_blank(width: u32, height: u32, pixels: &[u8]) {
    let n = (width * height) as f64;
    let luminance: Vec<f64> =
        pixels.chunks(3).map(|p| 0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64).collect();
    let mean = luminance.iter().sum::<f64>() / n;
    let spread = (luminance.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(spread > 10.0, "the image is nearly flat: luminance standard deviation {spread:.1}");
    let mut colours: Vec<[u8; 3]> = pixels.chunks(3).map(|p| [p[0], p[1], p[2]]).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "only {} distinct colours", colours.len());
}

fn near(pixel: &[u8], colour: [u8; 3]) -> bool {
    pixel.iter().zip(colour).all(|(&p, c)| p.abs_diff(c) <= 3)
}

/// The pixel (index into the RGB bytes) where ground point `ground` appears
/// from `home` (the home view, [`home_view`]), if inside the image.
fn pixel_at(home: &Orbit, ground: [f32; 2], y_m: f32) -> Option<usize> {
    let at = project(home, SIZE, 1.0, Vec3::new(ground[0], y_m, ground[1]))?;
    let (x, y) = (at.x.floor() as i64, at.y.floor() as i64);
    ((0..SIZE.x as i64).contains(&x) && (0..SIZE.y as i64).contains(&y))
        .then(|| ((y as u32 * SIZE.x + x as u32) * 3) as usize)
}

/// The camera's home view of `site` on the screenshot.
fn home_view(site: &Site) -> Orbit {
    let (_, size) = viewport_rect(SIZE, 1.0);
    Orbit::home(site, size.as_vec2())
}

/// How far inside a walkway strip's edge its pixels are sampled, m: the
/// edge pixels are the ground's or the strip's depending on rasterisation.
const STRIP_INSET_M: f32 = 1.5;

/// The smallest rectangle `(min, max)` holding `points`.
fn extent(points: &[[f32; 2]]) -> ([f32; 2], [f32; 2]) {
    points.iter().fold(([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]), |(lo, hi), p| {
        ([lo[0].min(p[0]), lo[1].min(p[1])], [hi[0].max(p[0]), hi[1].max(p[1])])
    })
}

/// The pixels where element `element` is drawn from the home view: its
/// pad, sampled every metre; or a walkway's strip where no place's pad is
/// drawn over it, sampled every half metre along and across,
/// [`STRIP_INSET_M`] inside its edges.
fn element_pixels(site: &Site, element: usize) -> BTreeSet<usize> {
    // The home view once: it measures the whole site.
    let home = home_view(site);
    let mut pixels = BTreeSet::new();
    if let Some(place) = site.places.get(element) {
        let (min, max) = extent(&place.pad.points);
        for x in (min[0] as i32)..=(max[0] as i32) {
            for z in (min[1] as i32)..=(max[1] as i32) {
                let point = [x as f32, z as f32];
                if place.pad.contains(point) {
                    pixels.extend(pixel_at(&home, point, 0.3));
                }
            }
        }
        return pixels;
    }
    let walkway = &site.walkways[element - site.places.len()];
    let length = walkway.line_length_m;
    let half_width = (walkway.width_m as f32 / 2.0 + WALKWAY_RIM_M).max(WALKWAY_DRAWN_WIDTH_M_MIN / 2.0);
    let reach = half_width - STRIP_INSET_M;
    let pads: Vec<_> = site.places.iter().map(|p| (&p.pad, extent(&p.pad.points))).collect();
    let under_a_pad = |point: [f32; 2]| {
        pads.iter().any(|(pad, (min, max))| {
            (min[0]..=max[0]).contains(&point[0]) && (min[1]..=max[1]).contains(&point[1]) && pad.contains(point)
        })
    };
    for step in 0..=(length * 2.0) as i32 {
        let (point, direction) = point_along(&walkway.line, step as f32 / 2.0);
        for across in -(reach * 2.0) as i32..=(reach * 2.0) as i32 {
            let across = across as f32 / 2.0;
            let sample = [point[0] - direction[1] * across, point[1] + direction[0] * across];
            if walkway.strip.contains(sample) && !under_a_pad(sample) {
                pixels.extend(pixel_at(&home, sample, 0.1));
            }
        }
    }
    pixels
}

/// How far from a name's plate or an alert marker a pixel counts as
/// covered by it, px (a name's letters lie on its plate, a few px from
/// plate-coloured pixels).
const OVERLAY_REACH_PX: i64 = 2;

/// The pixels covered by what is drawn over the site's ground: names
/// (their plates and letters) and alert markers.
fn overlays(image: &[u8]) -> BTreeSet<usize> {
    let (width, height) = (SIZE.x as i64, SIZE.y as i64);
    let mut covered = BTreeSet::new();
    for (i, pixel) in image.chunks(3).enumerate() {
        if !(near(pixel, LABEL_PLATE_RGB) || near(pixel, BEACON_RGB)) {
            continue;
        }
        let (x, y) = (i as i64 % width, i as i64 / width);
        for dy in -OVERLAY_REACH_PX..=OVERLAY_REACH_PX {
            for dx in -OVERLAY_REACH_PX..=OVERLAY_REACH_PX {
                let (x, y) = (x + dx, y + dy);
                if (0..width).contains(&x) && (0..height).contains(&y) {
                    covered.insert(((y * width + x) * 3) as usize);
                }
            }
        }
    }
    covered
}

/// Of `pixels`, how many are drawn in `colour`.
fn coloured(image: &[u8], pixels: &BTreeSet<usize>, colour: [u8; 3]) -> usize {
    pixels.iter().filter(|&&i| near(&image[i..i + 3], colour)).count()
}

/// The pixels within `half` px of `centre` (a square).
fn square(centre: Vec2, half: Vec2) -> BTreeSet<usize> {
    let mut pixels = BTreeSet::new();
    for y in (centre.y - half.y).max(0.0) as u32..((centre.y + half.y) as u32).min(SIZE.y) {
        for x in (centre.x - half.x).max(0.0) as u32..((centre.x + half.x) as u32).min(SIZE.x) {
            pixels.insert(((y * SIZE.x + x) * 3) as usize);
        }
    }
    pixels
}

#[test]
fn screenshot_of_gangneung_draws_crowded_places_in_their_level_of_service_colour() {
    let dir = temporary_folder("screenshot");
    let out = dir.join("out");
    run_into(&scenario_path(), &out);
    let replay = Replay::load(&out, None).unwrap();
    let site = &replay.site;
    // The densest moment of an element at level of service E or F, from the
    // run (on this day: walkways by the venues as sessions let out).
    let (element, interval) = (0..site.element_count())
        .flat_map(|e| (0..replay.intervals).map(move |i| (e, i)))
        .filter(|&(e, i)| replay.sample(e, i).los >= Los::E)
        .max_by(|&(e, i), &(f, j)| {
            replay.sample(e, i).density_p_per_m2.total_cmp(&replay.sample(f, j).density_p_per_m2)
        })
        .expect("the Gangneung day has a place or walkway at level of service E or F");
    let level = replay.sample(element, interval).los;
    let at = format_clock(site.start_clock_s + interval as u32 * replay.interval_s);

    let shot = dir.join("gangneung.png");
    let started = std::time::Instant::now();
    let size = format!("{}x{}", SIZE.x, SIZE.y);
    let args = ["--replay", out.to_str().unwrap(), "--at", &at, "--size", &size];
    viewer(&[&args[..], &["--screenshot", shot.to_str().unwrap()]].concat());
    eprintln!("screenshot at {at} in {:.1} s", started.elapsed().as_secs_f64());
    let (width, height, image) = load_png(&shot);
    assert_eq!((width, height), (SIZE.x, SIZE.y));
    assert_not_blank(width, height, &image);

    let id = site.element_id(element);
    // Where the element shows: its pixels not under a name or an alert
    // marker. Of those, its visitors are dark dots in its level's shade,
    // and the rest is mostly its level's colour.
    let covered = overlays(&image);
    let all = element_pixels(site, element);
    let pixels: BTreeSet<usize> = all.difference(&covered).copied().collect();
    let (level_colour, people) =
        (coloured(&image, &pixels, los_rgb(level)), coloured(&image, &pixels, visitor_rgb(level)));
    eprintln!(
        "{id}: of {} pixels, {} not under names or markers: {level_colour} in LOS {}, {people} in its visitors' shade",
        all.len(),
        pixels.len(),
        level.letter()
    );
    assert!(
        pixels.len() >= 50 && level_colour * 10 >= (pixels.len() - people) * 6,
        "{id} at LOS {} at {at}: {level_colour} of {} pixels without visitors where it shows are in its colour",
        level.letter(),
        pixels.len() - people
    );
    // Its visitors are visible at the default zoom: dark dots on it.
    assert!(people * 20 >= pixels.len(), "{id}: {people} of {} pixels show its visitors", pixels.len());
    // The colour belongs to that element: a place at level A then shows
    // almost none of it.
    let calm = (0..site.places.len()).filter(|&p| replay.sample(p, interval).los == Los::A);
    let mut checked = 0;
    for calm in calm {
        let pixels = element_pixels(site, calm);
        let matching = coloured(&image, &pixels, los_rgb(level));
        assert!(
            matching * 20 <= pixels.len(),
            "{} at LOS A shows {matching} of {} pixels of LOS {}",
            site.element_id(calm),
            pixels.len(),
            level.letter()
        );
        checked += 1;
    }
    assert!(checked > 0, "some place is calm at {at}");
    // Alerts are marked strongly: a wide ring and a pillar in the beacon
    // colour (no other part uses it) around each alerted element.
    let alerted = (0..site.element_count()).filter(|&e| replay.sample(e, interval).los >= Los::E).count();
    let beacon = image.chunks(3).filter(|p| near(p, BEACON_RGB)).count();
    eprintln!("{alerted} alerts, {beacon} pixels of alert markers");
    assert!(beacon >= 300 * alerted, "{alerted} alert markers drawn in {beacon} pixels");

    // The site is framed: every pad and walkway strip is inside the 3D
    // view, and the drawn site spans most of the view's width or height.
    let (view_at, view_size) = viewport_rect(SIZE, 1.0);
    let (view_min, view_max) = (view_at.as_vec2(), (view_at + view_size).as_vec2());
    let drawn: Vec<Vec2> =
        site.drawn_points().map(|[x, z]| project_home(site, SIZE, Vec3::new(x, 0.0, z)).unwrap()).collect();
    let (low, high) = drawn.iter().fold((Vec2::INFINITY, Vec2::NEG_INFINITY), |(l, h), &c| (l.min(c), h.max(c)));
    assert!(
        low.cmpge(view_min).all() && high.cmple(view_max).all(),
        "site {low}..{high} inside {view_min}..{view_max}"
    );
    let share = (high - low) / (view_max - view_min);
    assert!(share.max_element() >= 0.85, "the site spans {share} of the view");

    // Every place is named: a dark plate with white text at or near its
    // place (names may move two lines up or down to stay apart).
    let mut plates_total = 0;
    for (p, place) in site.places.iter().enumerate() {
        let anchor = project_home(site, SIZE, label_anchor(site, p)).unwrap();
        let around = square(anchor, Vec2::new(40.0, 40.0));
        let (plate, text) = (coloured(&image, &around, LABEL_PLATE_RGB), coloured(&image, &around, LABEL_TEXT_RGB));
        assert!(plate >= 150 && text >= 10, "{}: {plate} plate and {text} text pixels near {anchor}", place.name);
        plates_total += plate;
    }
    let plates_anywhere = coloured(&image, &square(SIZE.as_vec2() / 2.0, SIZE.as_vec2() / 2.0), LABEL_PLATE_RGB);
    eprintln!("{plates_total} plate pixels near places, {plates_anywhere} in the image");
}

#[test]
fn bench_times_frames_with_the_visitors_asked_for() {
    let dir = temporary_folder("bench");
    let text = std::fs::read_to_string(scenario_path()).unwrap().replace("end = \"25:00\"", "end = \"10:00\"");
    let scenario = dir.join("morning.toml");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.join("out");
    run_into(&scenario, &out);
    let output = viewer(&[
        "--replay",
        out.to_str().unwrap(),
        "--at",
        "09:30",
        "--bench-frames",
        "3",
        "--visitors",
        "5000",
        "--size",
        "640x400",
    ]);
    let stdout = String::from_utf8(output.stdout).unwrap();
    let figures: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(figures["frames"], 3);
    assert_eq!(figures["visitors"], 5000, "the crowd is scaled to the visitors asked for");
    let (mean, p95) = (figures["mean_ms"].as_f64().unwrap(), figures["p95_ms"].as_f64().unwrap());
    assert!(mean > 0.0 && p95 >= mean * 0.5, "{figures}");
}

#[test]
fn a_comparison_colours_the_site_by_change() {
    // The bundled variant (the west gate closed from noon) against the day
    // as planned, three paired seeds; the base run replayed under it.
    use crowdtwin_planner::compare::{CompareOptions, compare, write_report};
    use crowdtwin_viz::change::ChangeMap;
    use crowdtwin_wire::compare::Change;
    let dir = temporary_folder("compare");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let parse = |path: &Path| {
        crowdtwin_sim::scenario::Scenario::parse(&std::fs::read_to_string(path).unwrap(), "s.toml").unwrap()
    };
    let base = parse(&scenario_path());
    let variant = parse(&scenarios.join("variants/gangneung-west-gate-closed-noon.toml"));
    let options = CompareOptions { seeds: 3, threads: 2, progress: false };
    let report = compare(&base, &variant, &options).unwrap();
    write_report(&dir, &report, &base).unwrap();
    let out = dir.join("out");
    run_into(&scenario_path(), &out);
    let replay = Replay::load(&out, None).unwrap();
    let site = &replay.site;
    let map = ChangeMap::of(&report, site).unwrap();
    assert!(map.count(Change::Rose) > 0 && map.count(Change::Fell) > 0, "{map:?}");

    let shot = dir.join("change.png");
    let size = format!("{}x{}", SIZE.x, SIZE.y);
    let compare_json = dir.join("compare.json");
    let args = ["--replay", out.to_str().unwrap(), "--at", "07:00", "--visitors", "0", "--size", &size];
    let extra = ["--compare", compare_json.to_str().unwrap(), "--screenshot", shot.to_str().unwrap()];
    viewer(&[&args[..], &extra[..]].concat());
    let (width, height, image) = load_png(&shot);
    assert_not_blank(width, height, &image);
    // Each element shows in its change's colour where it is not under a
    // name or an alert marker; no level-of-service colouring is left.
    let covered = overlays(&image);
    let mut shown = [0; 3];
    for element in 0..site.element_count() {
        let pixels: BTreeSet<usize> = element_pixels(site, element).difference(&covered).copied().collect();
        if pixels.len() < 50 {
            continue;
        }
        let change = map.changes[element];
        let counts = [Change::Rose, Change::Fell, Change::Same].map(|c| coloured(&image, &pixels, c.colour_rgb()));
        let matching = coloured(&image, &pixels, change.colour_rgb());
        // A walkway's strip (off the pads) is all its own; a place's pad
        // also has the strips of the walkways that end on it drawn over it.
        let share = if element < site.places.len() { 5 } else { 8 };
        assert!(
            matching * 10 >= pixels.len() * share && counts.iter().all(|&n| n <= matching),
            "{} ({}): {matching} of {} pixels in its change's colour; rose, fell, same: {counts:?}",
            site.element_id(element),
            change.label(),
            pixels.len()
        );
        shown[[Change::Rose, Change::Fell, Change::Same].iter().position(|&c| c == change).unwrap()] += 1;
    }
    eprintln!("elements shown rose, fell, same: {shown:?}");
    assert!(shown.iter().all(|&n| n > 0), "every kind of change is on screen: {shown:?}");
    // A comparison of another site is refused before anything is drawn.
    let other = dir.join("other.json");
    let mut elsewhere = report.clone();
    for comparison in &mut elsewhere.elements {
        comparison.id = format!("elsewhere-{}", comparison.id);
    }
    std::fs::write(&other, serde_json::to_string(&elsewhere).unwrap()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crowdtwin-viz"))
        .args(["--replay", out.to_str().unwrap(), "--compare", other.to_str().unwrap(), "--screenshot"])
        .arg(dir.join("none.png"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("other.json"), "{stderr}");
    assert!(!dir.join("none.png").exists());
}
