//! Tests of the HTML report.

use super::*;

fn place(id: &str, kind: &str, occupancy: Vec<f64>, queue: Vec<f64>, los: Vec<u8>) -> PlaceSeries {
    PlaceSeries {
        id: id.to_string(),
        name: String::new(),
        kind: kind.to_string(),
        area_m2: 100.0,
        occupancy,
        queue,
        los,
    }
}

/// A place whose series rise to `peak` and fall again over `minutes`.
fn hill(id: &str, kind: &str, minutes: usize, peak: f64) -> PlaceSeries {
    let occ: Vec<f64> = (0..minutes)
        .map(|m| peak * (1.0 - ((m as f64 - minutes as f64 / 2.0) / (minutes as f64 / 2.0)).abs()))
        .collect();
    let queue: Vec<f64> = occ.iter().map(|v| (v - peak * 0.6).max(0.0)).collect();
    let los: Vec<u8> = occ.iter().map(|v| ((v / peak.max(1.0)) * 5.0).floor().clamp(0.0, 5.0) as u8).collect();
    place(id, kind, occ, queue, los)
}

fn input<'a>(places: &'a [PlaceSeries], kpis: &'a [KpiRow]) -> ReportInput<'a> {
    ReportInput {
        title: "PyeongChang 2018 \u{2014} hockey day",
        seed: 42,
        start_clock_s: 7 * 3600,
        summary: vec![
            ("Visitors".to_string(), "12,000".to_string()),
            ("Peak on site".to_string(), "8,431".to_string()),
        ],
        places,
        kpis,
        map: &[],
        sessions: &[],
        balked: 0,
    }
}

/// The text of section `id` (from its opening tag to its end).
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let open = format!("<section id=\"{id}\">");
    let start = html.find(&open).expect("section present");
    let end = start + html[start..].find("</section>").expect("section closed");
    &html[start..end]
}

fn legend_items(section: &str) -> Vec<&str> {
    let Some(start) = section.find("<ul class=\"legend\">") else { return Vec::new() };
    let end = start + section[start..].find("</ul>").unwrap();
    section[start..end].split("<li>").skip(1).collect()
}

#[test]
fn deterministic_and_well_formed_start() {
    let places: Vec<PlaceSeries> = (0..20)
        .map(|i| hill(&format!("place-{i:02}"), ["venue", "gate", "walkway"][i % 3], 180, 50.0 + i as f64))
        .collect();
    let kpis = vec![KpiRow { place: "place-01".into(), kind: "gate".into(), ..KpiRow::default() }];
    let a = render_html(&input(&places, &kpis));
    let b = render_html(&input(&places, &kpis));
    assert_eq!(a, b);
    assert!(a.starts_with("<!DOCTYPE html>"));
    assert!(a.trim_end().ends_with("</html>"));
    for id in ["occupancy", "queues", "los", "kpis"] {
        section(&a, id);
    }
    assert!(a.contains("Seed <strong>42</strong>"));
    assert!(a.contains("<dt>Visitors</dt><dd>12,000</dd>"));
    // Summary in the given order.
    assert!(a.find("Visitors").unwrap() < a.find("Peak on site").unwrap());
}

#[test]
fn no_external_references() {
    let places: Vec<PlaceSeries> = (0..5).map(|i| hill(&format!("p{i}"), "plaza", 90, 10.0 * i as f64)).collect();
    let html = render_html(&input(&places, &[]));
    let stripped = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for bad in ["http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link", "<img", "<iframe"] {
        assert!(!stripped.contains(bad), "found {bad:?}");
    }
    assert!(!html.contains("//fonts."));
}

#[test]
fn text_is_escaped() {
    let places = vec![hill("<b>&", "venue\"'", 30, 20.0)];
    let kpis = vec![KpiRow { place: "<b>&".into(), kind: "a'b\"c".into(), ..KpiRow::default() }];
    let mut inp = input(&places, &kpis);
    inp.title = "Tom & Jerry's <show>";
    inp.summary = vec![("<k>".into(), "\"v\"".into())];
    let html = render_html(&inp);
    assert!(!html.contains("<b>&"));
    assert!(!html.contains("<show>"));
    assert!(!html.contains("<k>"));
    assert!(html.contains("&lt;b&gt;&amp;"));
    assert!(html.contains("Tom &amp; Jerry&#39;s &lt;show&gt;"));
    assert!(html.contains("venue&quot;&#39;"));
    assert!(html.contains("a&#39;b&quot;c"));
    assert!(html.contains("&quot;v&quot;"));
    assert_eq!(esc("&<>\"'x"), "&amp;&lt;&gt;&quot;&#39;x");
}

#[test]
fn los_strip_shows_f_colour() {
    let mut los = vec![0u8; 60];
    los[30..40].fill(5);
    let places = vec![place("gate-1", "gate", vec![1.0; 60], vec![0.0; 60], los), hill("venue-1", "venue", 60, 40.0)];
    let html = render_html(&input(&places, &[]));
    let strip = section(&html, "los");
    let f_fill = format!("fill=\"{}\"", los_colour(5));
    assert!(strip.contains(&f_fill));
    // gate-1: A, F, A -> three rects, one of them F.
    let gate_row = &strip[strip.find("gate-1 (gate)").unwrap()..strip.find("venue-1 (venue)").unwrap()];
    assert_eq!(gate_row.matches("<rect").count(), 3);
    assert_eq!(gate_row.matches(&f_fill).count(), 1);
    // Without LOS F there is no F cell in the strip.
    let calm = vec![place("gate-1", "gate", vec![1.0; 60], vec![0.0; 60], vec![2; 60])];
    let html = render_html(&input(&calm, &[]));
    let strip = section(&html, "los");
    assert!(!strip.contains(&f_fill));
    assert!(strip.contains(&format!("fill=\"{}\"", los_colour(2))));
}

#[test]
fn los_runs_are_merged() {
    let minutes = 1000;
    let places: Vec<PlaceSeries> = (0..150)
        .map(|i| {
            place(
                &format!("place-{i:03}"),
                "walkway",
                vec![5.0; minutes],
                vec![0.0; minutes],
                vec![(i % 6) as u8; minutes],
            )
        })
        .collect();
    let html = render_html(&input(&places, &[]));
    let strip = section(&html, "los");
    assert_eq!(strip.matches("<rect").count(), 150);
    assert!(html.len() < 500_000, "page is {} bytes", html.len());
}

#[test]
fn busy_thousand_minute_run_stays_small() {
    let minutes = 1000;
    let places: Vec<PlaceSeries> = (0..150)
        .map(|i| {
            let occ: Vec<f64> = (0..minutes).map(|m| ((m * 7 + i * 13) % 97) as f64 * 3.7 + i as f64).collect();
            let queue: Vec<f64> = occ.iter().map(|v| (v - 200.0).max(0.0)).collect();
            let los: Vec<u8> = (0..minutes).map(|m| ((m / 9 + i) % 6) as u8).collect();
            place(&format!("plaza-{i:03}--long-walkway-name-{i}"), ["walkway", "venue", "gate"][i % 3], occ, queue, los)
        })
        .collect();
    let kpis: Vec<KpiRow> = places
        .iter()
        .map(|p| KpiRow { place: p.id.clone(), kind: p.kind.clone(), peak_los: 5, ..KpiRow::default() })
        .collect();
    let html = render_html(&input(&places, &kpis));
    assert!(html.len() < 1_500_000, "page is {} bytes", html.len());
}

/// The figures (small charts) of a section.
fn figures(section: &str) -> Vec<&str> {
    section.split("<figure>").skip(1).map(|f| &f[..f.find("</figure>").expect("figure closed")]).collect()
}

/// The value tick labels of one small chart.
fn y_labels(figure: &str) -> Vec<&str> {
    figure.split("text-anchor=\"end\">").skip(1).map(|t| &t[..t.find('<').unwrap()]).collect()
}

#[test]
fn only_top_ten_as_small_multiples_on_one_scale() {
    let places: Vec<PlaceSeries> =
        (0..15).map(|i| hill(&format!("site-{i:02}"), "venue", 120, 100.0 + 10.0 * i as f64)).collect();
    let html = render_html(&input(&places, &[]));
    for id in ["occupancy", "queues"] {
        let sec = section(&html, id);
        let charts = figures(sec);
        assert_eq!(charts.len(), 10, "{id}: one small chart per place");
        // Highest first.
        assert!(charts[0].contains("site-14"), "{id}");
        assert!(charts[9].contains("site-05"), "{id}");
        for i in 0..5 {
            assert!(!sec.contains(&format!("site-{i:02}")), "{id}: site-{i:02} should not be shown");
        }
        // One line per chart, every chart on the same value scale.
        for chart in &charts {
            assert_eq!(chart.matches("<polyline").count(), 1, "{id}");
            assert_eq!(chart.matches("<svg").count(), 1, "{id}");
            assert_eq!(y_labels(chart), y_labels(charts[0]), "{id}: a shared y scale");
        }
        // The scale reaches the highest peak: site-14 peaks at 240 (occupancy) or 96 (queue).
        let top: f64 = y_labels(charts[0]).last().unwrap().replace(',', "").parse().unwrap();
        let highest = if id == "occupancy" { 240.0 } else { 96.0 };
        assert!(top >= highest && top < highest * 1.5, "{id}: top of scale {top}");
    }
    // The LOS strip has all places.
    let strip = section(&html, "los");
    for i in 0..15 {
        assert!(strip.contains(&format!("site-{i:02} (venue)")));
    }
}

#[test]
fn names_are_shown_and_ids_kept() {
    let mut named = hill("gangneung-hockey-centre", "venue", 60, 80.0);
    named.name = "Gangneung Hockey Centre".into();
    let places = vec![named, hill("plaza-north", "plaza", 60, 20.0)];
    let kpis = vec![KpiRow {
        place: "gangneung-hockey-centre".into(),
        name: "Gangneung Hockey Centre".into(),
        kind: "venue".into(),
        ..KpiRow::default()
    }];
    let html = render_html(&input(&places, &kpis));
    let occupancy = section(&html, "occupancy");
    assert!(
        occupancy.contains("<figcaption title=\"gangneung-hockey-centre (venue)\">Gangneung Hockey Centre <small>")
    );
    // Without a name, the id.
    assert!(occupancy.contains("<figcaption title=\"plaza-north (plaza)\">plaza-north <small>"));
    assert!(
        section(&html, "kpis")
            .contains("<td>Gangneung Hockey Centre<small class=\"id\">gangneung-hockey-centre</small></td>")
    );
    let strip = section(&html, "los");
    assert!(strip.contains("<title>gangneung-hockey-centre (venue)</title>Gangneung Hockey Centre</text>"));
}

/// A site: two outlined places, one without an outline, two walkways, the
/// second of which is the densest element and reached LOS F.
fn site() -> Vec<MapElement> {
    let place = |id: &str, name: &str, shape: MapShape, at: [f64; 2], los: u8, density: f64| MapElement {
        id: id.into(),
        name: name.into(),
        kind: "venue".into(),
        shape,
        label_at: Some(at),
        peak_los: los,
        peak_density_p_per_m2: density,
    };
    let walkway = |id: &str, points: Vec<[f64; 2]>, los: u8, density: f64| MapElement {
        id: id.into(),
        name: String::new(),
        kind: "walkway".into(),
        shape: MapShape::Line { points, width_m: 6.0 },
        label_at: None,
        peak_los: los,
        peak_density_p_per_m2: density,
    };
    let square = |x: f64, y: f64| {
        MapShape::Outline(vec![[x - 20.0, y - 20.0], [x + 20.0, y - 20.0], [x + 20.0, y + 20.0], [x - 20.0, y + 20.0]])
    };
    vec![
        place("south", "South Arena", square(0.0, 0.0), [0.0, 0.0], 1, 0.8),
        place("north", "North Hall", square(0.0, 400.0), [0.0, 400.0], 3, 1.1),
        place("kiosk", "", MapShape::Disc { centre: [300.0, 200.0], radius_m: 10.0 }, [300.0, 200.0], 0, 0.1),
        walkway("south--north", vec![[0.0, 0.0], [0.0, 400.0]], 2, 0.6),
        walkway("north--kiosk", vec![[0.0, 400.0], [150.0, 380.0], [300.0, 200.0]], 5, 2.4),
    ]
}

/// The markup of the map shape with `data-id` `id`, up to its closing tag.
fn shape<'a>(map: &'a str, id: &str) -> &'a str {
    let at = map.find(&format!("data-id=\"{id}\"")).unwrap_or_else(|| panic!("{id} on the map"));
    let start = map[..at].rfind('<').unwrap();
    &map[start..start + map[start..].find("</title>").unwrap()]
}

/// The SVG y of attribute `name` in `markup`.
fn attr(markup: &str, name: &str) -> f64 {
    let key = format!(" {name}=\"");
    let from = markup.find(&key).unwrap() + key.len();
    markup[from..from + markup[from..].find('"').unwrap()].parse().unwrap()
}

#[test]
fn site_map_draws_every_element_in_its_peak_los_colour() {
    let map = site();
    let mut inp = input(&[], &[]);
    inp.map = &map;
    let html = render_html(&inp);
    // The map comes first, before the tables and charts.
    assert!(html.find("<section id=\"map\">").unwrap() < html.find("<section id=\"kpis\">").unwrap());
    let sec = section(&html, "map");
    // One shape per place and per walkway.
    assert_eq!(sec.matches("class=\"place\"").count(), 3);
    assert_eq!(sec.matches("<polygon class=\"place\"").count(), 2);
    assert_eq!(sec.matches("<circle class=\"place\"").count(), 1);
    assert_eq!(sec.matches("<polyline class=\"walkway\"").count(), 2);
    // The densest element carries the colour of its peak LOS (F), and only it.
    let densest = map.iter().max_by(|a, b| a.peak_density_p_per_m2.total_cmp(&b.peak_density_p_per_m2)).unwrap();
    assert_eq!(densest.id, "north--kiosk");
    assert!(shape(sec, "north--kiosk").contains(&format!("stroke=\"{}\"", Los::F.colour_hex())));
    assert_eq!(sec.matches(Los::F.colour_hex()).count(), 2, "the walkway and the legend");
    for e in &map {
        let colour = Los::from_rank(e.peak_los).colour_hex();
        assert!(shape(sec, &e.id).contains(colour), "{} in {colour}", e.id);
    }
    // The centre line is drawn with its bend: three points.
    let points = shape(sec, "north--kiosk").split("points=\"").nth(1).unwrap().split('"').next().unwrap();
    assert_eq!(points.split(' ').count(), 3);
    // Labels: names, or the id where a place has none; none for walkways.
    for label in ["South Arena", "North Hall", "kiosk"] {
        assert!(sec.contains(&format!("text-anchor=\"middle\">{label}</text>")), "{label}");
    }
    assert_eq!(sec.matches("<text class=\"lbl\"").count(), 3);
    // North up: the northern hall is drawn above the southern arena.
    let y_of = |name: &str| {
        let end = sec.find(&format!(">{name}</text>")).unwrap();
        let start = sec[..end].rfind("<text class=\"lbl\"").unwrap();
        attr(&sec[start..end], "y")
    };
    assert!(y_of("North Hall") < y_of("South Arena") - 100.0);
    // Fit to the viewBox with a margin: every label inside, away from the edges.
    let view: Vec<f64> = sec
        .split("viewBox=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    for name in ["South Arena", "North Hall"] {
        let y = y_of(name);
        assert!(y > 20.0 && y < view[3] - 20.0, "{name} at {y} in {view:?}");
    }
    // The legend of the six colours, and why places and walkways differ.
    assert_eq!(legend_items(sec).len(), 6);
    for los in Los::ALL {
        assert!(sec.contains(&format!("background:{}\"></span>LOS {}", los.colour_hex(), los.letter())));
    }
    assert!(sec.contains("Fruin's queueing thresholds"));
    // No geometry: a note, no SVG.
    let html = render_html(&input(&[], &[]));
    assert!(section(&html, "map").contains("No site geometry"));
    assert!(!section(&html, "map").contains("<svg"));
}

#[test]
fn kpi_table_is_worst_first() {
    let row = |id: &str, los: u8, minutes: u32, density: f64| KpiRow {
        place: id.into(),
        kind: "gate".into(),
        peak_los: los,
        minutes_at_los_e_or_f: minutes,
        peak_density_p_per_m2: density,
        ..KpiRow::default()
    };
    // In file order, the F walkway last.
    let kpis = vec![
        row("dense-a", 0, 0, 3.0),
        row("e-short", 4, 5, 1.0),
        row("d-light", 3, 0, 0.9),
        row("e-long", 4, 30, 0.5),
        row("d-dense", 3, 0, 1.2),
        row("f-walkway", 5, 2, 2.5),
    ];
    let html = render_html(&input(&[], &kpis));
    let body = section(&html, "kpis").split("<tbody>").nth(1).unwrap();
    let order: Vec<&str> = body.split("<tr><td>").skip(1).map(|r| &r[..r.find("</td>").unwrap()]).collect();
    assert_eq!(order, ["f-walkway", "e-long", "e-short", "d-dense", "d-light", "dense-a"]);
}

#[test]
fn sessions_table_has_one_row_per_session() {
    let sessions = vec![
        SessionRow {
            name: "Men's quarterfinal".into(),
            sport: "ice hockey".into(),
            venue: "Gangneung Hockey Centre".into(),
            venue_id: "hockey".into(),
            start: "12:10".into(),
            tickets: 10_000,
            seated: 9_500,
            seated_on_time: 9_000,
            ended: Some("14:55".into()),
            egress_min: Some(12.34),
        },
        SessionRow {
            name: "Round robin".into(),
            sport: "curling".into(),
            venue: "curling".into(),
            venue_id: "curling".into(),
            start: "09:05".into(),
            tickets: 3_000,
            seated: 2_400,
            seated_on_time: 2_400,
            ended: None,
            egress_min: None,
        },
        SessionRow { name: "Empty".into(), start: "20:05".into(), ..SessionRow::default() },
    ];
    let mut inp = input(&[], &[]);
    inp.sessions = &sessions;
    let html = render_html(&inp);
    let sec = section(&html, "sessions");
    assert_eq!(sec.split("<tbody>").nth(1).unwrap().matches("<tr>").count(), 3);
    assert!(sec.contains("<td>12:10</td><td>Men&#39;s quarterfinal</td><td>ice hockey</td>"));
    assert!(sec.contains("Gangneung Hockey Centre<small class=\"id\">hockey</small>"));
    // 9,500 of 10,000 seated (95.0%), 9,000 of them on time (94.7%).
    assert!(sec.contains(">10,000</td><td class=\"n\">9,500</td><td class=\"n\">95.0</td>"));
    assert!(sec.contains(">9,000</td><td class=\"n\">94.7</td><td>14:55</td><td class=\"n\">12.3</td>"));
    // Not ended within the run: no egress time.
    assert!(sec.contains(">2,400</td><td class=\"n\">100.0</td><td>\u{2013}</td><td class=\"n\">\u{2013}</td>"));
    assert!(sec.contains(">2,400</td><td class=\"n\">80.0</td>"));
    // No tickets: no percentage.
    assert!(sec.contains(">0</td><td class=\"n\">\u{2013}</td>"));
    let html = render_html(&input(&[], &[]));
    assert!(section(&html, "sessions").contains("No sessions"));
}

#[test]
fn balks_and_waits_at_food_and_shops() {
    let kpis = vec![
        KpiRow { place: "gate-1".into(), kind: "gate".into(), total_queue_time_s: 99_999.0, ..KpiRow::default() },
        KpiRow {
            place: "food-1".into(),
            name: "Noodle bar".into(),
            kind: "food".into(),
            entries: 1_234,
            balked: 123,
            mean_wait_s: 150.0,
            total_queue_time_s: 185_100.0,
            max_queue: 40.0,
            ..KpiRow::default()
        },
        KpiRow {
            place: "shop-1".into(),
            kind: "shop".into(),
            entries: 56,
            mean_wait_s: 30.0,
            total_queue_time_s: 1_680.0,
            ..KpiRow::default()
        },
    ];
    let mut inp = input(&[], &kpis);
    inp.balked = 1_123;
    let html = render_html(&inp);
    let sec = section(&html, "errands");
    // The run's balks against everyone who came to an outlet (1,234 + 56).
    assert!(sec.contains("<strong class=\"balked\">1,123</strong> customers"));
    assert!(sec.contains("(balked): 87.1% of the 1,290 who came."), "{sec}");
    let body = sec.split("<tbody>").nth(1).unwrap();
    assert_eq!(body.matches("<tr>").count(), 2, "food and shops only");
    assert!(!body.contains("gate-1"));
    // Longest total queue time first: entries, balked (share of entries),
    // mean wait (min), total queue time (min).
    assert!(body.find("Noodle bar").unwrap() < body.find("shop-1").unwrap());
    assert!(body.contains(
        ">1,234</td><td class=\"n\">123 (10.0%)</td><td class=\"n\">2.5</td><td class=\"n\">3,085.0</td><td class=\"n\">40.0</td>"
    ));
    assert!(body.contains(">56</td><td class=\"n\">0 (0.0%)</td><td class=\"n\">0.5</td><td class=\"n\">28.0</td>"));
}

#[test]
fn no_queue_sentence() {
    let places = vec![place("shop-1", "shop", vec![3.0; 30], vec![0.0; 30], vec![0; 30])];
    let html = render_html(&input(&places, &[]));
    let sec = section(&html, "queues");
    assert!(sec.contains("No place had a queue"));
    assert!(!sec.contains("<svg"));
    assert!(section(&html, "occupancy").contains("<svg"));
}

#[test]
fn edge_cases_do_not_panic() {
    // Zero places.
    let html = render_html(&input(&[], &[]));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(section(&html, "occupancy").contains("No places"));
    assert!(section(&html, "kpis").contains("No KPI rows"));
    // Zero minutes.
    let empty = vec![place("a", "venue", vec![], vec![], vec![])];
    let html = render_html(&input(&empty, &[]));
    assert!(!html.contains("<svg"));
    // All zeros.
    let zeros = vec![place("z", "plaza", vec![0.0; 50], vec![0.0; 50], vec![0; 50])];
    let html = render_html(&input(&zeros, &[]));
    assert!(section(&html, "occupancy").contains("<polyline"));
    // NaN and infinities.
    let nan = vec![place(
        "n",
        "gate",
        vec![f64::NAN, 1.0, f64::INFINITY, -3.0, 2.0],
        vec![f64::NAN, f64::NEG_INFINITY, 4.0, 0.0, 1.0],
        vec![0, 9, 5, 1, 2],
    )];
    let kpis = vec![KpiRow {
        place: "n".into(),
        kind: "gate".into(),
        peak_density_p_per_m2: f64::NAN,
        peak_los: 200,
        minutes_at_los_e_or_f: 3,
        total_queue_time_s: f64::INFINITY,
        max_queue: f64::NAN,
        ..KpiRow::default()
    }];
    let html = render_html(&input(&nan, &kpis));
    assert!(!html.contains("NaN"));
    assert!(!html.contains("inf"));
    assert!(section(&html, "kpis").contains(">F</td>"));
    // A single minute.
    let one = vec![place("s", "venue", vec![7.0], vec![2.0], vec![3])];
    let html = render_html(&input(&one, &[]));
    assert!(section(&html, "occupancy").contains("<polyline"));
    assert!(section(&html, "los").contains(&format!("fill=\"{}\"", los_colour(3))));
    // Ragged series.
    let ragged = vec![place("r", "venue", vec![1.0; 10], vec![1.0; 3], vec![1; 5])];
    render_html(&input(&ragged, &[]));
    // Ten-thousand-minute run.
    let long = vec![hill("long", "venue", 10_000, 300.0)];
    let html = render_html(&input(&long, &[]));
    assert!(html.len() < 200_000);
}

#[test]
fn clock_labels() {
    let places = vec![hill("v", "venue", 120, 30.0)];
    let html = render_html(&input(&places, &[]));
    for id in ["occupancy", "los"] {
        let sec = section(&html, id);
        assert!(sec.contains(">07:00</text>"), "{id}");
        assert!(sec.contains(">08:00</text>"), "{id}");
        assert!(sec.contains(">09:00</text>"), "{id}");
    }
    assert_eq!(clock_label(25_200), "07:00");
    assert_eq!(clock_label(86_400 + 3_600 * 2 + 60 * 5), "02:05+1d");
    let labels: Vec<String> = clock_ticks(25_200, 120).into_iter().map(|t| t.1).collect();
    assert_eq!(labels, ["07:00", "07:15", "07:30", "07:45", "08:00", "08:15", "08:30", "08:45", "09:00"]);
    // Long runs tick every hour or more, short ones every few minutes.
    assert_eq!(tick_step_min(480, 8), 60);
    assert_eq!(tick_step_min(900, 8), 120);
    assert_eq!(tick_step_min(60, 8), 10);
    assert_eq!(tick_step_min(200, 8), 30);
    assert_eq!(tick_step_min(1, 8), 1);
    // Ticks stay on round clock times when the run starts off the hour.
    let ticks = clock_ticks(7 * 3600 + 20 * 60 + 30, 180);
    assert_eq!(ticks[0].1, "07:30");
    assert!((ticks[0].0 - 9.5).abs() < 1e-9);
}

#[test]
fn y_scale_is_round() {
    assert_eq!(nice_scale(0.0), (1.0, 1.0, 0));
    assert_eq!(nice_scale(f64::NAN), (1.0, 1.0, 0));
    let (step, top, dec) = nice_scale(873.0);
    assert_eq!((step, top, dec), (200.0, 1000.0, 0));
    let (step, top, _) = nice_scale(1000.0);
    assert_eq!((step, top), (200.0, 1000.0));
    let (step, top, dec) = nice_scale(0.34);
    assert!((step - 0.1).abs() < 1e-12 && (top - 0.4).abs() < 1e-12 && dec == 1);
    let (step, top, dec) = nice_scale(11.0);
    assert_eq!((step, top, dec), (2.5, 12.5, 1));
}

#[test]
fn kpi_table_rows() {
    let kpis = vec![
        KpiRow {
            place: "zeta".into(),
            kind: "gate".into(),
            peak_density_p_per_m2: 2.345,
            peak_los: 4,
            minutes_at_los_e_or_f: 17,
            total_queue_time_s: 123_456.0,
            max_queue: 87.25,
            ..KpiRow::default()
        },
        KpiRow { place: "alpha".into(), kind: "venue".into(), peak_los: 0, ..KpiRow::default() },
    ];
    let html = render_html(&input(&[], &kpis));
    let sec = section(&html, "kpis");
    assert!(sec.find("zeta").unwrap() < sec.find("alpha").unwrap(), "kept in the given order");
    assert!(sec.contains(">2.35</td>") || sec.contains(">2.34</td>"));
    assert!(sec.contains(">E</td>"));
    assert!(sec.contains(">A</td>"));
    assert!(sec.contains(">17</td>"));
    assert!(sec.contains(">2,057.6</td>"));
    assert!(sec.contains(">87.2</td>") || sec.contains(">87.3</td>"));
    assert_eq!(sec.matches("<tr>").count(), 3);
}

#[test]
fn number_formatting() {
    assert_eq!(num(-0.0, 1), "0.0");
    assert_eq!(num(-0.04, 1), "0.0");
    assert_eq!(num(-1.25, 1), "-1.2");
    assert_eq!(num_grouped(1_234_567.891, 2), "1,234,567.89");
    assert_eq!(num_grouped(999.0, 0), "999");
    assert_eq!(num_grouped(-12_345.0, 1), "-12,345.0");
    assert_eq!(los_letter(5), "F");
    assert_eq!(los_letter(99), "F");
    assert_eq!(los_letter(0), "A");
}

#[test]
fn line_points_reduce_long_runs() {
    let values: Vec<f64> = (0..10_000).map(|m| if m == 4321 { 99.0 } else { 1.0 }).collect();
    let pts = line_points(&values, values.len(), PLOT_W as usize);
    assert!(pts.len() <= 2 * PLOT_W as usize);
    assert!(pts.iter().any(|p| p.1 == 99.0), "the peak survives");
    assert_eq!(line_points(&[3.0], 1, 10), vec![(0.0, 3.0), (1.0, 3.0)]);
    assert_eq!(line_points(&[1.0, f64::NAN], 3, 10), vec![(0.5, 1.0), (1.5, 0.0), (2.5, 0.0)]);
}
