//! Plots as hand-built SVG: a line chart with axes, ticks and a legend. Small, dependency
//! free, and valid XML (every text is escaped).

use std::fmt::Write;

use super::Report;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// One named line of (x, y) points.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// Legend label.
    pub name: String,
    /// Points; non-finite ones are left out.
    pub points: Vec<(f64, f64)>,
}

/// Escapes text for XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A step of 1, 2 or 5 times a power of ten giving about `n` ticks over `span`.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = span / n;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

fn label(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A line chart; with no finite point it says "no data".
// Long: one SVG drawn in order (frame, axes, ticks, lines, legend) from shared scale locals.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, lines: &[Line]) -> String {
    let finite: Vec<(f64, f64)> = lines
        .iter()
        .flat_map(|l| l.points.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        escape(title)
    );
    let pw = WIDTH - LEFT - RIGHT;
    let ph = HEIGHT - TOP - BOTTOM;
    if finite.is_empty() {
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no data</text>
</svg>"##,
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
        return out;
    }
    let (mut x0, mut x1, y0, mut y1) = finite.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, f64::NEG_INFINITY),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if x1 <= x0 {
        x0 -= 0.5;
        x1 += 0.5;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    y1 += (y1 - y0) * 0.05;
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
    );
    for (lo, hi, vertical) in [(x0, x1, true), (y0, y1, false)] {
        let step = tick_step(hi - lo, 6.0);
        let first = (lo / step).ceil();
        // Counted, not accumulated: a step below the values' precision must not loop.
        for k in 0..50 {
            let v = (first + k as f64) * step;
            if v > hi + step * 1e-9 {
                break;
            }
            if vertical {
                let x = sx(v);
                let _ = writeln!(
                    out,
                    r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                    TOP + ph,
                    TOP + ph + 16.0,
                    label(v)
                );
            } else {
                let y = sy(v);
                let _ = writeln!(
                    out,
                    r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                    LEFT + pw,
                    LEFT - 6.0,
                    y + 4.0,
                    label(v)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 12.0,
        escape(x_label),
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        escape(y_label)
    );
    for (i, line) in lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = line
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.2},{:.2}", sx(x), sy(y)))
            .collect();
        if pts.len() == 1 {
            let _ = writeln!(
                out,
                r#"<circle cx="{}" r="3" fill="{colour}"/>"#,
                pts[0].replacen(',', "\" cy=\"", 1)
            );
        } else if !pts.is_empty() {
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
                pts.join(" ")
            );
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 12.0;
        let _ = writeln!(
            out,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(&line.name)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Cumulative latency distribution of each stage and end to end.
pub fn latency_cdf(r: &Report) -> String {
    let lines: Vec<Line> = r
        .stages
        .iter()
        .map(|s| &s.latency)
        .chain(std::iter::once(&r.end_to_end))
        .filter(|l| !l.cdf.is_empty())
        .map(|l| Line {
            name: l.name.clone(),
            points: steps(&l.cdf),
        })
        .collect();
    line_chart(
        &format!("Latency distribution: {}", r.title),
        "latency (ms)",
        "fraction of commands at or below",
        &lines,
    )
}

/// A CDF drawn as steps in milliseconds, from 0 at its first value.
fn steps(cdf: &[[f64; 2]]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(cdf.len() * 2 + 1);
    let mut previous = 0.0;
    for p in cdf {
        let x = p[0] * 1e3;
        out.push((x, previous));
        out.push((x, p[1]));
        previous = p[1];
    }
    out
}

/// End-to-end p50 and p95 over the collector's first window, across the run.
pub fn latency_over_time(r: &Report) -> String {
    let pick = |f: fn(&super::SeriesPoint) -> Option<f64>| {
        r.series
            .points()
            .iter()
            .filter_map(|p| f(p).map(|v| (p.t, v * 1e3)))
            .collect()
    };
    let lines = [
        Line {
            name: "end to end p50".into(),
            points: pick(|p| p.end_to_end_p50),
        },
        Line {
            name: "end to end p95".into(),
            points: pick(|p| p.end_to_end_p95),
        },
    ];
    line_chart(
        &format!("End-to-end latency over time: {}", r.title),
        "time since start (s)",
        "latency (ms)",
        &lines,
    )
}

/// Commands finished per minute (over the collector's first window) and messages per
/// second, across the run.
pub fn throughput(r: &Report) -> String {
    let points = r.series.points();
    // The last interval is cut short by the end of the run: its rate would be noise.
    let full = match points {
        [.., a, b] if b.interval < a.interval / 2.0 => &points[..points.len() - 1],
        _ => points,
    };
    let lines = [
        Line {
            name: "commands / min".into(),
            points: full
                .iter()
                .filter_map(|p| p.command_rate_hz.map(|hz| (p.t, hz * 60.0)))
                .collect(),
        },
        Line {
            name: "messages / s".into(),
            points: full
                .iter()
                .filter(|p| p.interval > 0.0)
                .map(|p| (p.t, p.messages as f64 / p.interval))
                .collect(),
        },
    ];
    line_chart(
        &format!("Throughput: {}", r.title),
        "time since start (s)",
        "rate",
        &lines,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_so_the_svg_stays_well_formed() {
        let svg = line_chart(
            "a <b> & \"c\"",
            "x",
            "y",
            &[Line {
                name: "</svg>".into(),
                points: vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)],
            }],
        );
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains("&lt;/svg&gt;"));
        assert_eq!(svg.matches("</svg>").count(), 1);
        assert!(svg.contains("<polyline"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = line_chart("t", "x", "y", &[Line::default()]);
        assert!(svg.contains("no data"));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(10.0, 5.0), 2.0);
        assert_eq!(tick_step(0.07, 6.0), 0.01);
        assert_eq!(label(0.30000000000000004), "0.3");
    }
}
