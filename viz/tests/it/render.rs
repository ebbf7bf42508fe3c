//! The viewer rendering without a window (Mesa's Vulkan driver on the CPU
//! here, a GPU where there is one).

use crate::{run_into, scenario_path, temporary_folder, viewer};
use bevy::math::{UVec2, Vec2, Vec3};
use crowdtwin_sim::model::Los;
use crowdtwin_sim::scenario::format_clock;
use crowdtwin_viz::app::camera::project_home;
use crowdtwin_viz::app::{BEACON_RGB, los_rgb, visitor_rgb};
use crowdtwin_viz::replay::Replay;
use crowdtwin_viz::site::Site;
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

/// The pixels (indices into the RGB bytes) within `radius` px of `centre`.
fn disc(centre: Vec2, radius: f32, into: &mut BTreeSet<usize>) {
    for y in (centre.y - radius).floor() as i64..=(centre.y + radius).ceil() as i64 {
        for x in (centre.x - radius).floor() as i64..=(centre.x + radius).ceil() as i64 {
            let inside = (x as f32 - centre.x).powi(2) + (y as f32 - centre.y).powi(2) <= radius * radius;
            if inside && x >= 0 && y >= 0 && x < SIZE.x as i64 && y < SIZE.y as i64 {
                into.insert(((y as u32 * SIZE.x + x as u32) * 3) as usize);
            }
        }
    }
}

/// The pixels where element `element` is drawn from the home view: a
/// place's pad, or the middle of a walkway (its ends may hide behind
/// buildings).
fn element_pixels(site: &Site, element: usize) -> BTreeSet<usize> {
    let project = |ground: [f32; 2]| {
        project_home(site, SIZE, Vec3::new(ground[0], 0.3, ground[1])).expect("in front of the camera")
    };
    let mut pixels = BTreeSet::new();
    if let Some(place) = site.places.get(element) {
        let centre = project(place.centre);
        let rim = project([place.centre[0] + place.pad_radius_m, place.centre[1]]);
        disc(centre, (rim - centre).length().max(4.0), &mut pixels);
        return pixels;
    }
    let walkway = &site.walkways[element - site.places.len()];
    let (a, b) = (site.places[walkway.a].centre, site.places[walkway.b].centre);
    for step in 6..=14 {
        let t = step as f32 / 20.0;
        let point = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
        let centre = project(point);
        let side = project([point[0] + walkway.width_m as f32 / 2.0, point[1]]);
        disc(centre, (side - centre).length().max(2.0), &mut pixels);
    }
    pixels
}

/// Of `pixels`, those drawn in `los`'s colour (pads, roofs, walkways) or its
/// visitors' shade: `(matching, all)`.
fn level_pixels(image: &[u8], pixels: &BTreeSet<usize>, los: Los) -> (usize, usize) {
    let matching = pixels
        .iter()
        .filter(|&&i| near(&image[i..i + 3], los_rgb(los)) || near(&image[i..i + 3], visitor_rgb(los)))
        .count();
    (matching, pixels.len())
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
    let (matching, all) = level_pixels(&image, &element_pixels(site, element), level);
    assert!(
        all > 20 && matching * 10 >= all * 3,
        "{id} at LOS {} at {at}: {matching} of {all} pixels where it is drawn in its colour",
        level.letter()
    );
    // The colour belongs to that element: a place at level A then shows
    // almost none of it.
    let calm = (0..site.places.len()).filter(|&p| replay.sample(p, interval).los == Los::A);
    let mut checked = 0;
    for calm in calm {
        let (matching, all) = level_pixels(&image, &element_pixels(site, calm), level);
        assert!(
            matching * 20 <= all,
            "{} at LOS A shows {matching} of {all} pixels of LOS {}",
            site.element_id(calm),
            level.letter()
        );
        checked += 1;
    }
    assert!(checked > 0, "some place is calm at {at}");
    // Alerts are marked: the beacon colour is on screen (a beacon seen from
    // the default camera covers 15-40 pixels of this 640 px frame; no other
    // element uses its colour).
    let beacon = image.chunks(3).filter(|p| near(p, BEACON_RGB)).count();
    assert!(beacon >= 10, "alert beacons drawn: {beacon} pixels");
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
