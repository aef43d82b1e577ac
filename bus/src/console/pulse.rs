//! The overview's charts: deliveries and failures per second, and delivery latency (from the
//! bus's acceptance to the peer's acknowledgement, mean and slowest), over the last half hour in
//! ten-second points, for the whole bus. Drawn as inline SVG on the server: no chart library,
//! nothing to load, and the live overview sends it again like the rest.
//!
//! The points are taken from the adapters' activity (a minute of one-second buckets each) when
//! the overview is drawn, so nothing runs while no one looks: a gap of more than a minute
//! without an open overview is a gap in the chart. Bounded: `POINTS` points.

use std::collections::VecDeque;
use std::sync::Mutex;

use maud::{Markup, html};

use crate::engine::activity::Span;
use crate::roster::Roster;

/// Seconds per point.
const STEP: i64 = 10;
/// Points kept: half an hour.
const POINTS: usize = 180;
/// The oldest point's end, back from the last boundary, whose seconds the adapters' activity
/// (60 one-second buckets) still holds whole.
const REACH: i64 = 40;

/// One point: what the deliveries of `STEP` seconds (or fewer, for the point in progress) came
/// to, ending at `end` (Unix seconds).
#[derive(Debug, Clone, Copy)]
struct Point {
    end: i64,
    seconds: i64,
    span: Span,
}

impl Point {
    fn per_second(&self, count: u64) -> f64 {
        count as f64 / self.seconds.max(1) as f64
    }

    fn mean_latency_ms(&self) -> Option<f64> {
        (self.span.timed > 0).then(|| self.span.latency_ms_sum as f64 / self.span.timed as f64)
    }
}

#[derive(Default)]
pub struct Pulse {
    points: Mutex<VecDeque<Point>>,
}

impl Pulse {
    /// Takes the points completed since the last look (as far back as the activity reaches) and
    /// draws the charts, with the point in progress at their end.
    pub fn charts(&self, roster: &Roster, now_ms: i64) -> Markup {
        let now = now_ms / 1000;
        let boundary = now - now.rem_euclid(STEP);
        let sum = |from: i64, to: i64| {
            let mut span = Span::default();
            for runtime in roster.adapters() {
                if let Some(activity) = roster.activity(&runtime.id) {
                    span += activity.span(from, to);
                }
            }
            span
        };
        let mut points = self.points.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let last = points.back().map_or(i64::MIN, |p| p.end);
        let mut end = (boundary - REACH).max(last.saturating_add(STEP));
        while end <= boundary {
            points.push_back(Point { end, seconds: STEP, span: sum(end - STEP, end) });
            end += STEP;
        }
        while points.len() > POINTS {
            points.pop_front();
        }
        let current = Point { end: now + 1, seconds: now + 1 - boundary, span: sum(boundary, now + 1) };
        let shown: Vec<Point> = points.iter().copied().chain(std::iter::once(current)).collect();
        drop(points);
        draw(&shown, now + 1)
    }
}

/// Chart size, in SVG units.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;

fn draw(points: &[Point], end: i64) -> Markup {
    let start = end - STEP * POINTS as i64;
    let total: Span = points.iter().fold(Span::default(), |mut sum, p| {
        sum += p.span;
        sum
    });
    let throughput: Vec<(i64, f64, f64)> =
        points.iter().map(|p| (p.end, p.per_second(p.span.delivered), p.per_second(p.span.failed))).collect();
    let latency: Vec<(i64, f64, f64)> =
        points.iter().filter_map(|p| Some((p.end, p.mean_latency_ms()?, f64::from(p.span.latency_ms_max)))).collect();
    let latest = points.last().copied();
    html! {
        section.charts {
            div {
                h2 { "Lưu lượng 30 phút qua" }
                figure.chart data-delivered=(total.delivered) data-failed=(total.failed) {
                    (plot(&throughput, start, end, "thông điệp/giây"))
                    figcaption {
                        span.delivered { "Đã chuyển: " strong.total { (total.delivered) } }
                        " · "
                        span.failed { "Lỗi: " strong { (total.failed) } }
                        @if let Some(p) = latest {
                            " · Hiện tại: " (format!("{:.1}", p.per_second(p.span.delivered))) " thông điệp/giây"
                        }
                    }
                }
            }
            div {
                h2 { "Độ trễ chuyển phát" }
                figure.chart data-timed=(total.timed) {
                    (plot(&latency, start, end, "ms"))
                    figcaption {
                        span.delivered { "Trung bình" }
                        " · "
                        span.failed { "Chậm nhất" }
                        @if total.timed > 0 {
                            " · 30 phút: trung bình "
                            strong { (format!("{:.0}", total.latency_ms_sum as f64 / total.timed as f64)) " ms" }
                            ", chậm nhất " strong { (total.latency_ms_max) " ms" }
                        }
                    }
                }
            }
        }
    }
}

/// Two lines (the first value of each point, and the second) on one scale, each broken where
/// points are missing; the top of the scale is labelled.
fn plot(values: &[(i64, f64, f64)], start: i64, end: i64, unit: &str) -> Markup {
    let top = values.iter().map(|&(_, a, b)| a.max(b)).fold(0.0, f64::max).max(1.0);
    let x = |at: i64| (at - start) as f64 / (end - start) as f64 * WIDTH;
    let y = |value: f64| HEIGHT - value / top * (HEIGHT - 4.0);
    // A lone point is drawn as a short dash, so that it shows.
    let lines = |pick: fn(&(i64, f64, f64)) -> f64| -> Vec<String> {
        let mut lines: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut previous: Option<i64> = None;
        for point in values.iter().filter(|p| p.0 > start) {
            if previous.is_none_or(|previous| point.0 - previous > STEP) {
                lines.push(Vec::new());
            }
            lines.last_mut().expect("a line was started").push((x(point.0), y(pick(point))));
            previous = Some(point.0);
        }
        lines
            .into_iter()
            .map(|mut line| {
                if let [(x, y)] = line[..] {
                    line.insert(0, (x - 3.0, y));
                }
                line.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
            })
            .collect()
    };
    // The scale's label is HTML: the SVG stretches to the page's width, text in it would too.
    html! {
        span.top { (format!("{top:.0} {unit}")) }
        svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) preserveAspectRatio="none" role="img" aria-label=(unit) {
            line.axis x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) {}
            @for points in lines(|p| p.2) { polyline.second points=(points) {} }
            @for points in lines(|p| p.1) { polyline.first points=(points) {} }
        }
        span.span { "30 phút trước" span { "bây giờ" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(end: i64, delivered: u64) -> Point {
        Point { end, seconds: STEP, span: Span { delivered, ..Default::default() } }
    }

    #[test]
    fn a_gap_breaks_the_line_and_the_caption_sums_every_point() {
        let end = 10_000;
        let points = [point(end - 60, 10), point(end - 50, 20), point(end - 10, 30)];
        let markup = draw(&points, end).into_string();
        assert_eq!(markup.matches("<polyline class=\"first\"").count(), 2, "{markup}");
        assert!(markup.contains("data-delivered=\"60\""), "{markup}");
        // The top of the scale is the busiest point: 30 in ten seconds.
        assert!(markup.contains("<span class=\"top\">3 thông điệp/giây</span>"), "{markup}");
    }
}
