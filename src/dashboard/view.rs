//! Draws a [`Dashboard`] with ratatui: one frame from the model, no state of its own.

use std::time::Duration;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::model::{severity_name, state_name, Dashboard, LatencyRow};
use crate::core::trend::Trend;
use crate::msg::diagnostic_msgs::DiagnosticStatus;
use crate::msg::{Alert, CommandLatency};

/// What the view needs besides the model.
#[derive(Debug, Clone)]
pub struct ViewContext {
    /// Namespace of the collector topics (`/vla_perf`).
    pub namespace: String,
    /// Now, on the clock of the model's update times.
    pub now: Duration,
    /// A note after the title (`SIMULATED stack`, `attached`).
    pub note: String,
}

const HEADING: Style = Style::new().add_modifier(Modifier::BOLD);
const DIM: Style = Style::new().fg(Color::DarkGray);

fn block(title: &str) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(format!(" {title} "), HEADING))
}

fn ms(seconds: f64) -> String {
    if !seconds.is_finite() {
        "-".into()
    } else if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else {
        format!("{:.0} ms", seconds * 1e3)
    }
}

fn percent(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("{:.1}%", fraction * 100.0)
    } else {
        "-".into()
    }
}

fn bytes(b: u64) -> String {
    let gib = b as f64 / (1u64 << 30) as f64;
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

/// The arrow of a latency trend: rising latency is bad (red), falling good (green).
fn arrow(trend: Option<Trend>) -> Span<'static> {
    match trend {
        Some(Trend::Rising) => Span::styled("↑", Style::new().fg(Color::Red)),
        Some(Trend::Falling) => Span::styled("↓", Style::new().fg(Color::Green)),
        Some(Trend::Stable) => Span::styled("→", DIM),
        None => Span::styled(" ", DIM),
    }
}

/// Colour of an alert severity.
pub fn severity_style(severity: u8) -> Style {
    match severity {
        Alert::SEVERITY_CRITICAL => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Alert::SEVERITY_WARNING => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Cyan),
    }
}

fn level_style(level: u8) -> Style {
    match level {
        DiagnosticStatus::ERROR => Style::new().fg(Color::Red),
        DiagnosticStatus::WARN => Style::new().fg(Color::Yellow),
        DiagnosticStatus::STALE => DIM,
        _ => Style::new().fg(Color::Green),
    }
}

fn level_name(level: u8) -> &'static str {
    match level {
        DiagnosticStatus::OK => "OK",
        DiagnosticStatus::WARN => "WARN",
        DiagnosticStatus::ERROR => "ERROR",
        DiagnosticStatus::STALE => "STALE",
        _ => "?",
    }
}

/// Draws the whole dashboard into `frame`.
pub fn render(frame: &mut Frame, d: &Dashboard, ctx: &ViewContext) {
    let area = frame.area();
    let latency_rows = d.stages.len() as u16 + 1;
    let [title, top, spark, middle, bottom, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length((latency_rows + 3).max(9)),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    render_title(frame, title, d, ctx);
    let [latency, slo, success] = Layout::horizontal([
        Constraint::Percentage(48),
        Constraint::Percentage(26),
        Constraint::Percentage(26),
    ])
    .areas(top);
    render_latency(frame, latency, d);
    render_slo(frame, slo, d);
    render_success(frame, success, d);
    render_sparkline(frame, spark, d);
    let [resources, topics, recent] = Layout::horizontal([
        Constraint::Percentage(34),
        Constraint::Percentage(33),
        Constraint::Percentage(33),
    ])
    .areas(middle);
    render_resources(frame, resources, d);
    render_topics(frame, topics, d);
    render_recent(frame, recent, d);
    let [alerts, diagnostics] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    render_alerts(frame, alerts, d, ctx);
    render_diagnostics(frame, diagnostics, d);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" q", HEADING),
            Span::raw(" / Ctrl-C quit   "),
            Span::styled(
                "latency trends compare with the previous window (±10%)",
                DIM,
            ),
        ])),
        help,
    );
}

fn render_title(frame: &mut Frame, area: Rect, d: &Dashboard, ctx: &ViewContext) {
    let robot = if d.robot_id.is_empty() {
        "-"
    } else {
        &d.robot_id
    };
    let updated = match d.last_update {
        Some(t) => format!(
            "last update {:.1} s ago",
            ctx.now.saturating_sub(t).as_secs_f64()
        ),
        None => format!("waiting for a collector on {}", ctx.namespace),
    };
    let mut spans = vec![
        Span::styled(
            " vla_perf dashboard ",
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Span::raw(format!(
            " robot {robot} | {} | {} commands | {updated}",
            ctx.namespace, d.commands_seen
        )),
    ];
    if !ctx.note.is_empty() {
        spans.push(Span::styled(format!(" | {}", ctx.note), DIM));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn latency_cells(row: &LatencyRow, window: Option<Duration>) -> Row<'static> {
    let trends = window.and_then(|w| row.trends(w));
    let t = |i: usize| arrow(trends.map(|t| t[i]));
    let p = row.latest;
    Row::new(vec![
        Cell::from(row.name.clone()),
        Cell::from(Line::from(vec![
            Span::raw(format!("{:>8} ", ms(p.p50))),
            t(0),
        ])),
        Cell::from(Line::from(vec![
            Span::raw(format!("{:>8} ", ms(p.p95))),
            t(1),
        ])),
        Cell::from(Line::from(vec![
            Span::raw(format!("{:>8} ", ms(p.p99))),
            t(2),
        ])),
    ])
}

fn render_latency(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let window = d.window_duration();
    let title = match d.window {
        Some(w) => format!("Latency per stage ({w:.0} s window)"),
        None => "Latency per stage".to_owned(),
    };
    let mut rows: Vec<Row> = d.stages.iter().map(|r| latency_cells(r, window)).collect();
    if let Some(e2e) = &d.end_to_end {
        rows.push(latency_cells(e2e, window).style(HEADING));
    }
    if rows.is_empty() {
        rows.push(Row::new(vec![Cell::from(Span::styled(
            "no latency measured yet",
            DIM,
        ))]));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Min(14),
            Constraint::Length(11),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
    )
    .header(Row::new(vec!["stage", "     p50", "     p95", "     p99"]).style(HEADING))
    .block(block(&title));
    frame.render_widget(table, area);
}

fn render_slo(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let mut lines = Vec::new();
    let slo_style = match d.slo_met {
        Some(true) => Style::new().fg(Color::Green),
        Some(false) => Style::new().fg(Color::Red),
        None => Style::new(),
    };
    let met = match d.slo_met {
        Some(true) => " (met)",
        Some(false) => " (missed)",
        None => "",
    };
    lines.push(Line::from(vec![
        Span::raw("SLO compliance "),
        Span::styled(
            format!("{}{met}", d.slo_compliance.map_or("-".into(), percent)),
            slo_style,
        ),
    ]));
    lines.push(Line::from(format!(
        "command rate   {}",
        d.command_rate
            .map_or("-".into(), |r| format!("{r:.2} /s ({:.1} /min)", r * 60.0))
    )));
    lines.push(Line::from(format!(
        "in flight      {}",
        d.in_flight.map_or("-".into(), |n| format!("{n:.0}"))
    )));
    let outcomes: Vec<String> = d
        .outcomes
        .iter()
        .filter(|(_, n)| **n > 0.0)
        .map(|(k, n)| format!("{k} {n:.0}"))
        .collect();
    lines.push(Line::from(format!(
        "outcomes       {}",
        if outcomes.is_empty() {
            "-".to_owned()
        } else {
            outcomes.join(", ")
        }
    )));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(block("SLO and rates")),
        area,
    );
}

fn render_success(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let rate_style = |v: f64| match v {
        v if v >= 0.95 => Style::new().fg(Color::Green),
        v if v >= 0.8 => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Red),
    };
    let mut rows: Vec<Row> = d
        .success
        .iter()
        .map(|(name, v)| {
            Row::new(vec![
                Cell::from(name.clone()),
                Cell::from(Span::styled(format!("{:>6}", percent(*v)), rate_style(*v))),
            ])
        })
        .collect();
    if rows.is_empty() {
        rows.push(Row::new(vec![Cell::from(Span::styled(
            "no commands finished yet",
            DIM,
        ))]));
    }
    let table = Table::new(rows, [Constraint::Min(10), Constraint::Length(7)])
        .block(block("Success rates"));
    frame.render_widget(table, area);
}

fn render_sparkline(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let inner_width = area.width.saturating_sub(2) as usize;
    let values: Vec<f64> = d.e2e_values().collect();
    let shown = &values[values.len().saturating_sub(inner_width)..];
    let data: Vec<u64> = shown.iter().map(|v| (v * 1e3).round() as u64).collect();
    let title = match (shown.last(), shown.iter().copied().reduce(f64::max)) {
        (Some(last), Some(max)) => format!(
            "End-to-end latency per command (last {}, max {}, {} shown)",
            ms(*last),
            ms(max),
            shown.len()
        ),
        _ => "End-to-end latency per command (none finished yet)".to_owned(),
    };
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::new().fg(Color::Cyan))
            .block(block(&title)),
        area,
    );
}

fn render_resources(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let mut lines = Vec::new();
    match &d.resources {
        None => lines.push(Line::styled("no resource sample yet", DIM)),
        Some(r) => {
            lines.push(Line::from(format!(
                "CPU     {:5.1}%  ({} cores)",
                r.cpu_percent,
                r.cpu_per_core_percent.len()
            )));
            if r.memory_total_bytes > 0 {
                lines.push(Line::from(format!(
                    "memory  {:5.1}%  ({} of {})",
                    r.memory_used_bytes as f64 / r.memory_total_bytes as f64 * 100.0,
                    bytes(r.memory_used_bytes),
                    bytes(r.memory_total_bytes)
                )));
            }
            if r.gpus.is_empty() {
                let why = if r.gpu_status.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.gpu_status)
                };
                lines.push(Line::styled(format!("GPU metrics unavailable{why}"), DIM));
            }
            for g in &r.gpus {
                lines.push(Line::from(format!(
                    "GPU {} {:5.1}%  mem {} of {}  {:.0} °C",
                    g.index,
                    g.utilization_percent,
                    bytes(g.memory_used_bytes),
                    bytes(g.memory_total_bytes),
                    g.temperature_celsius
                )));
            }
            for p in &r.processes {
                lines.push(Line::from(format!(
                    "{:<12} {:5.1}%  {}",
                    p.name,
                    p.cpu_percent,
                    bytes(p.rss_bytes)
                )));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block("Resources")), area);
}

fn render_topics(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let rows: Vec<Row> = d
        .topics
        .iter()
        .map(|(topic, t)| {
            Row::new(vec![
                topic.clone(),
                t.rate_hz.map_or("-".into(), |r| format!("{r:6.1} Hz")),
                t.age.map_or("-".into(), ms),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(20),
            Constraint::Length(10),
            Constraint::Length(9),
        ],
    )
    .header(Row::new(vec!["topic", "rate", "age"]).style(HEADING))
    .block(block("Topics"));
    frame.render_widget(table, area);
}

fn render_recent(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let rows: Vec<Row> = d
        .recent
        .iter()
        .rev()
        .map(|c| {
            let style = match c.outcome {
                CommandLatency::OUTCOME_SUCCEEDED => Style::new().fg(Color::Green),
                CommandLatency::OUTCOME_FAILED => Style::new().fg(Color::Yellow),
                _ => Style::new().fg(Color::Red),
            };
            let outcome = if c.failed_stage.is_empty() {
                CommandLatency::outcome_name(c.outcome).to_owned()
            } else {
                format!(
                    "{} ({})",
                    CommandLatency::outcome_name(c.outcome),
                    c.failed_stage
                )
            };
            Row::new(vec![
                Cell::from(c.command_id.clone()),
                Cell::from(Span::styled(outcome, style)),
                Cell::from(ms(c.end_to_end)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Min(12),
            Constraint::Length(9),
        ],
    )
    .header(Row::new(vec!["command", "outcome", "e2e"]).style(HEADING))
    .block(block("Recent commands"));
    frame.render_widget(table, area);
}

fn render_alerts(frame: &mut Frame, area: Rect, d: &Dashboard, ctx: &ViewContext) {
    let active = d.active_alerts();
    let mut lines: Vec<Line> = active
        .iter()
        .map(|a| {
            let style = severity_style(a.severity);
            Line::from(vec![
                Span::styled(
                    format!(
                        "{:<8} {:<7} ",
                        severity_name(a.severity).to_uppercase(),
                        state_name(a.state)
                    ),
                    style,
                ),
                Span::styled(format!("{} ", a.rule), HEADING),
                Span::raw(format!(
                    "{} = {:.3} for {:.0} s  {}",
                    a.metric,
                    a.value,
                    ctx.now.saturating_sub(a.since).as_secs_f64(),
                    a.message
                )),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled("none", Style::new().fg(Color::Green)));
    }
    if !d.alert_changes.is_empty() {
        lines.push(Line::styled(
            format!(
                "recent changes ({} fired, {} resolved):",
                d.fired, d.resolved
            ),
            DIM,
        ));
        for c in d.alert_changes.iter().rev() {
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "  {:>5.0} s ago ",
                        ctx.now.saturating_sub(c.at).as_secs_f64()
                    ),
                    DIM,
                ),
                Span::raw(format!("{} ", c.rule)),
                Span::styled(
                    format!("{} {}", state_name(c.state), severity_name(c.severity)),
                    severity_style(c.severity),
                ),
            ]));
        }
    }
    let title = format!("Active alerts ({})", active.len());
    frame.render_widget(Paragraph::new(lines).block(block(&title)), area);
}

fn render_diagnostics(frame: &mut Frame, area: Rect, d: &Dashboard) {
    let problems = d.diagnostic_problems();
    let mut lines: Vec<Line> = problems
        .iter()
        .map(|s| {
            Line::from(vec![
                Span::styled(format!("{:<6}", level_name(s.level)), level_style(s.level)),
                Span::raw(format!("{}: {}", s.name, s.message)),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            if d.diagnostics.is_empty() {
                "no /diagnostics yet".to_owned()
            } else {
                format!("all {} components OK", d.diagnostics.len())
            },
            if d.diagnostics.is_empty() {
                DIM
            } else {
                Style::new().fg(Color::Green)
            },
        ));
    }
    let title = format!(
        "Diagnostics ({} of {} not OK)",
        problems.len(),
        d.diagnostics.len()
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(block(&title)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::model::Update;
    use crate::msg::diagnostic_msgs::{DiagnosticArray, KeyValue};
    use crate::msg::{MetricArray, MetricSummary, ResourceUsage};
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::Terminal;

    fn text(buffer: &Buffer) -> String {
        let area = buffer.area;
        let mut out = String::new();
        for y in 0..area.height {
            for x in 0..area.width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn draw(d: &Dashboard, width: u16, height: u16) -> (String, Buffer) {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let ctx = ViewContext {
            namespace: "/vla_perf".into(),
            now: Duration::from_secs(130),
            note: "test".into(),
        };
        terminal.draw(|f| render(f, d, &ctx)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        (text(&buffer), buffer)
    }

    fn summary(name: &str, p: [f64; 3], tags: &[(&str, &str)]) -> MetricSummary {
        MetricSummary {
            name: name.into(),
            window: 10.0,
            count: 4,
            mean: p[0],
            p50: p[0],
            p90: p[1],
            p95: p[1],
            p99: p[2],
            tags: tags
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
            ..MetricSummary::default()
        }
    }

    fn populated() -> Dashboard {
        let mut d = Dashboard::new();
        let batch = |plan: f64| {
            Update::Metrics(MetricArray {
                robot_id: "demo_robot".into(),
                metrics: vec![
                    summary(
                        "stage_latency",
                        [0.30, 0.31, 0.32],
                        &[("stage", "transcript")],
                    ),
                    summary("stage_latency", [0.6, plan, plan], &[("stage", "plan")]),
                    summary("end_to_end_latency", [2.4, 2.9, 3.1], &[]),
                    summary("slo_compliance", [0.5; 3], &[("met", "false")]),
                    summary("command_rate", [0.33; 3], &[]),
                    summary("task_success_rate", [0.9; 3], &[]),
                    summary("topic_rate", [29.9; 3], &[("topic", "/camera/image_raw")]),
                ],
                ..MetricArray::default()
            })
        };
        d.apply(Duration::from_secs(110), &batch(0.7));
        d.apply(Duration::from_secs(120), &batch(2.1));
        for (i, e2e) in [2.4, 2.5, 5.9].iter().enumerate() {
            d.apply(
                Duration::from_secs(121 + i as u64),
                &Update::Command(CommandLatency {
                    command_id: format!("c{i}"),
                    end_to_end: *e2e,
                    ..CommandLatency::default()
                }),
            );
        }
        d.apply(
            Duration::from_secs(125),
            &Update::Alert(Alert {
                alert_id: "x".into(),
                rule: "planner_latency_high".into(),
                metric: "stage_latency".into(),
                state: Alert::STATE_FIRING,
                severity: Alert::SEVERITY_CRITICAL,
                value: 2.1,
                ..Alert::default()
            }),
        );
        d.apply(
            Duration::from_secs(126),
            &Update::Resources(ResourceUsage {
                cpu_percent: 37.5,
                cpu_per_core_percent: vec![30.0, 45.0],
                memory_used_bytes: 3 << 30,
                memory_total_bytes: 8 << 30,
                gpu_status: "NVML not found".into(),
                ..ResourceUsage::default()
            }),
        );
        d.apply(
            Duration::from_secs(127),
            &Update::Diagnostics(DiagnosticArray {
                status: vec![DiagnosticStatus {
                    level: DiagnosticStatus::WARN,
                    name: "vla_perf: stage plan".into(),
                    message: "p95 above warning".into(),
                    ..DiagnosticStatus::default()
                }],
                ..DiagnosticArray::default()
            }),
        );
        d
    }

    #[test]
    fn an_empty_dashboard_shows_every_heading_and_that_it_waits() {
        let (screen, _) = draw(&Dashboard::new(), 160, 50);
        for heading in [
            "vla_perf dashboard",
            "Latency per stage",
            "SLO and rates",
            "Success rates",
            "End-to-end latency",
            "Resources",
            "Topics",
            "Recent commands",
            "Active alerts (0)",
            "Diagnostics",
            "waiting for a collector on /vla_perf",
            "no resource sample yet",
        ] {
            assert!(screen.contains(heading), "{heading:?} missing:\n{screen}");
        }
    }

    #[test]
    fn a_populated_dashboard_shows_values_trends_alerts_and_resources() {
        let (screen, buffer) = draw(&populated(), 160, 50);
        for expected in [
            "Latency per stage (10 s window)",
            "robot demo_robot",
            "3 commands",
            "transcript",
            "2.10 s ↑",
            "310 ms →",
            "end to end",
            "SLO compliance 50.0% (missed)",
            "0.33 /s (19.8 /min)",
            "task",
            "90.0%",
            "CRITICAL firing  planner_latency_high",
            "CPU      37.5%  (2 cores)",
            "memory   37.5%  (3.0 GiB of 8.0 GiB)",
            "GPU metrics unavailable (NVML not found)",
            "/camera/image_raw",
            "29.9 Hz",
            "WARN  vla_perf: stage plan: p95 above warning",
            "last 5.90 s",
            "c2",
        ] {
            assert!(screen.contains(expected), "{expected:?} missing:\n{screen}");
        }
        // The critical alert is drawn in red.
        let line = screen
            .lines()
            .position(|l| l.contains("CRITICAL firing"))
            .unwrap();
        let x = screen.lines().nth(line).unwrap().find("CRITICAL").unwrap();
        let x = screen.lines().nth(line).unwrap()[..x].chars().count() as u16;
        assert_eq!(buffer[(x, line as u16)].fg, Color::Red);
        // The sparkline has drawn bars.
        assert!(
            screen.contains('█') || screen.contains('▇'),
            "no sparkline:\n{screen}"
        );
    }

    #[test]
    fn a_small_terminal_still_renders_without_panicking() {
        let (screen, _) = draw(&populated(), 60, 16);
        assert!(screen.contains("vla_perf"), "{screen}");
        let (screen, _) = draw(&populated(), 1, 1);
        assert_eq!(screen.trim().chars().count(), 1);
    }
}
