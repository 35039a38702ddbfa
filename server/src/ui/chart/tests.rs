//! The charts as their templates render them.

use askama::Template;

use super::scale::{HOUR, MINUTE, SECOND};
use super::*;

/// Tags balance, attribute values are quoted, and every `&` starts an entity.
fn assert_well_formed(svg: &str) {
    fn entities_ok(text: &str) -> bool {
        text.split('&').skip(1).all(|after| {
            let Some((name, _)) = after.split_once(';') else {
                return false;
            };
            let numeric = name.strip_prefix('#').is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            });
            numeric || ["amp", "lt", "gt", "quot", "apos"].contains(&name)
        })
    }
    assert!(svg.starts_with("<svg "), "{svg}");
    let mut open = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        assert!(entities_ok(&rest[..start]), "bad text in {svg}");
        let end = start + rest[start..].find('>').expect("unclosed tag");
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "`<` inside tag {tag}");
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in {tag}"
        );
        assert!(entities_ok(tag), "bad attribute in {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "in {svg}");
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().expect("tag name"));
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "unclosed {open:?}");
    assert!(rest.is_empty(), "text after </svg>");
}

/// The `d` attribute of the `n`th path.
fn path_d(svg: &str, n: usize) -> &str {
    let after = svg.split("<path ").nth(n + 1).expect("path");
    let start = after.find("d=\"").expect("d") + 3;
    &after[start..start + after[start..].find('"').expect("end of d")]
}

fn spark(values: &[f64], width: u32, height: u32) -> String {
    sparkline(values, width, height).render().expect("renders")
}

fn series(label: &str, points: Vec<(i64, f64)>) -> Series {
    Series {
        label: label.to_owned(),
        points,
    }
}

fn draw(series: &[Series], width: u32, height: u32, y_unit: &str) -> String {
    let svg = graph(series, width, height, y_unit)
        .render()
        .expect("renders");
    assert_well_formed(&svg);
    svg
}

fn draw_hour(series: &[Series], width: u32, height: u32, y_unit: &str) -> String {
    let svg = graph_window(series, Window::last_hour(NOW), width, height, y_unit)
        .render()
        .expect("renders");
    assert_well_formed(&svg);
    svg
}

#[test]
fn sparkline_scales_to_its_maximum() {
    let svg = spark(&[0.0, 5.0, 10.0], 100, 20);
    assert_well_formed(&svg);
    assert_eq!(path_d(&svg, 0), "M0,19L50,10L100,1");
    assert!(svg.contains(r#"class="spark""#));
    assert!(svg.contains(r#"viewBox="0 0 100 20""#));
    assert!(svg.contains(r#"role="img" aria-label="last value 10""#));
    let svg = sparkline_with_unit(&[1.0, 1234.0], 60, 16, "/s")
        .render()
        .expect("renders");
    assert!(svg.contains(r#"aria-label="last value 1.2k/s""#), "{svg}");
}

#[test]
fn empty_or_zero_sparkline_is_a_baseline() {
    for values in [&[][..], &[0.0, 0.0, 0.0], &[f64::NAN], &[-3.0, -1.0]] {
        let svg = spark(values, 100, 20);
        assert_well_formed(&svg);
        let d = path_d(&svg, 0);
        assert!(d.starts_with("M0,19L"), "{values:?}: {d}");
        assert!(d.split('L').skip(1).all(|p| p.ends_with(",19")), "{d}");
    }
    assert!(spark(&[], 100, 20).contains(r#"aria-label="no data""#));
    assert!(spark(&[0.0], 100, 20).contains(r#"aria-label="last value 0""#));
}

#[test]
fn sparkline_lifts_the_pen_over_missing_values() {
    let svg = spark(&[1.0, 2.0, f64::NAN, 2.0, f64::NAN, 1.0, 1.0], 60, 12);
    assert_well_formed(&svg);
    // The lone 2.0 between the gaps is a dot, not lost.
    assert_eq!(path_d(&svg, 0), "M0,6L10,1M30,1h0M50,6L60,6");
}

/// The cluster page draws 50 of these; an hour of minutes must stay small for the page to
/// stay under its 200 KB goal.
#[test]
fn an_hour_sparkline_stays_under_a_kilobyte() {
    let values: Vec<f64> = (0..60)
        .map(|i| f64::from(i * 7919 % 1000) * 1.37e6)
        .collect();
    let svg = spark(&values, 120, 24);
    assert!(svg.len() < 1024, "{} bytes: {svg}", svg.len());
}

const NOW: i64 = 1_800_000_000_000;

/// One sample every 10 s over the last hour, each `f(i)`.
fn hour(f: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
    (0..360)
        .map(|i| (NOW - HOUR + i * 10 * SECOND, f(i)))
        .collect()
}

#[test]
fn graph_labels_a_nice_y_axis_and_time_back_from_now() {
    let svg = draw_hour(
        &[series("Connections", hour(|i| i as f64 * 10.0))],
        600,
        200,
        "conn/s",
    );
    // Peak 3,590/s: four steps of 1k.
    for label in [
        "0 conn/s",
        "1k conn/s",
        "2k conn/s",
        "4k conn/s",
        "-60 min",
        "-30 min",
    ] {
        assert!(svg.contains(&format!(">{label}</text>")), "{label}: {svg}");
    }
    assert!(!svg.contains(">5k conn/s<"));
    assert!(svg.contains(">now</text>"));
    assert!(svg.contains(
        "<title>Last 60 min. Connections: latest 3.6k conn/s, peak 3.6k conn/s.</title>"
    ));
    assert_eq!(path_d(&svg, 0).matches('M').count(), 1);
}

#[test]
fn graph_breaks_the_line_where_samples_are_missing() {
    let mut points = hour(|_| 5.0);
    points.retain(|&(t, _)| !(NOW - 30 * MINUTE..NOW - 29 * MINUTE).contains(&t));
    points[10].1 = f64::NAN;
    let svg = draw_hour(&[series("in", points)], 600, 200, "B/s");
    assert_eq!(path_d(&svg, 0).matches('M').count(), 3, "{svg}");
    assert!(svg.contains(">2 B/s</text>") && svg.contains(">6 B/s</text>"));
}

#[test]
fn empty_graph_says_so() {
    for series in [vec![], vec![series("out", vec![])]] {
        let svg = draw(&series, 600, 200, "B/s");
        assert!(svg.contains(">No data</text>"));
        assert!(svg.contains(">0 B/s</text>") && svg.contains(">1 B/s</text>"));
        assert!(svg.contains(">now</text>"));
    }
    let svg = draw(&[series("out", vec![(NOW, 1.0)])], 600, 200, "B/s");
    assert!(!svg.contains("No data"), "{svg}");
}

#[test]
fn graph_drops_samples_outside_its_window_and_escapes_labels() {
    let points = vec![(NOW - 2 * HOUR, 1e9), (NOW - MINUTE, 10.0), (NOW, 20.0)];
    let label = r#"<b>"in" & 'out'</b>"#;
    let svg = draw_hour(&[series(label, points)], 400, 150, "/s");
    assert!(
        svg.contains(">20/s</text>"),
        "scaled to the visible peak: {svg}"
    );
    let escaped = "&#60;b&#62;&#34;in&#34; &#38; &#39;out&#39;&#60;/b&#62;";
    // In the legend, and in the summary both as text and as an attribute.
    assert!(
        svg.contains(&format!(r#"y="13">{escaped}</text>"#)),
        "{svg}"
    );
    assert!(svg.contains(&format!("<title>Last 60 min. {escaped}: latest")));
    assert!(svg.contains(&format!(r#"aria-label="Last 60 min. {escaped}: latest"#)));
    assert!(!svg.contains("<b>"));
}

#[test]
fn graph_without_a_window_spans_its_samples() {
    let points = vec![(NOW - 10 * MINUTE, 1.0), (NOW, 2.0)];
    let svg = draw(&[series("a", points)], 600, 200, "");
    assert!(
        svg.contains(">-10 min</text>") && svg.contains(">now</text>"),
        "{svg}"
    );
}

#[test]
fn output_is_deterministic() {
    let make = || {
        draw_hour(
            &[
                series("new", hour(|i| (i % 7) as f64)),
                series("active", hour(|i| (i % 11) as f64 * 1.5)),
            ],
            640,
            220,
            "conn/s",
        )
    };
    let svg = make();
    assert_eq!(svg, make());
    assert!(svg.contains(r#"class="series series-1""#));
    // The second series is dashed, in the legend and in the plot; the first is solid.
    assert_eq!(
        svg.matches(r#" stroke-dasharray="6 3"/>"#).count(),
        2,
        "{svg}"
    );
    assert_eq!(svg.matches("stroke-dasharray").count(), 2, "{svg}");
}

/// A page embeds a chart as its template rendered it: escaped once, not twice.
#[test]
fn pages_embed_charts_without_escaping_them_again() {
    #[derive(Template)]
    #[template(
        source = "<td>{{ spark }}</td><figure>{{ graph }}</figure>",
        ext = "html"
    )]
    struct Page {
        spark: Sparkline,
        graph: Graph,
    }
    let page = Page {
        spark: sparkline(&[1.0, 2.0], 60, 12),
        graph: graph(&[series("a & b", vec![(NOW, 1.0)])], 400, 150, ""),
    };
    let expected = format!(
        "<td>{}</td><figure>{}</figure>",
        page.spark.render().expect("renders"),
        page.graph.render().expect("renders")
    );
    assert_eq!(page.render().expect("renders"), expected);
    assert!(expected.contains(">a &#38; b</text>"), "{expected}");
}
