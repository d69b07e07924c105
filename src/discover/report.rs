//! The summary `vla-perf discover` prints: the graph's topics, the proposed pipeline with
//! the evidence for each stage, and what was rejected.

use std::fmt::Write as _;

use crate::core::discover::{Discovery, Role};

use super::yaml::correlation;

/// The printed summary of `d`.
pub fn summary(d: &Discovery) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Topics: {} seen over {:.1} s",
        d.topics.len(),
        d.span.as_secs_f64()
    );
    let width = d
        .topics
        .iter()
        .map(|t| t.topic.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "  {:width$}  {:40}  {:>6}  {:>8}  {:8}  PUBLISHERS",
        "TOPIC", "TYPE", "MSGS", "RATE Hz", "ROLE"
    );
    for t in &d.topics {
        let role = match t.role {
            Role::Stage => "stage",
            Role::Watched => "watched",
            Role::Ignored => "ignored",
        };
        let _ = writeln!(
            out,
            "  {:width$}  {:40}  {:>6}  {:>8.2}  {:8}  {}{}",
            t.topic,
            t.msg_type,
            t.messages,
            t.rate_hz,
            role,
            if t.publishers.is_empty() {
                "-".to_owned()
            } else {
                t.publishers.join(", ")
            },
            if t.undecodable > 0 {
                format!("  ({} undecodable)", t.undecodable)
            } else {
                String::new()
            }
        );
    }
    if d.stages.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nPipeline ({} commands):", d.commands);
    for (i, s) in d.stages.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. {:14} {} ({})  correlation {}{}",
            i + 1,
            s.name,
            s.topic,
            s.msg_type,
            correlation(&s.correlation),
            if s.correlation_evidence.ambiguous || s.placement.ambiguous {
                "  AMBIGUOUS"
            } else {
                ""
            }
        );
        let _ = writeln!(out, "       why here: {}", s.placement.reason);
        let _ = writeln!(
            out,
            "       why {}: {} ({:.0}% confident, {} samples)",
            correlation(&s.correlation),
            s.correlation_evidence.reason,
            s.correlation_evidence.confidence * 100.0,
            s.correlation_evidence.samples
        );
    }
    if !d.rejected.is_empty() {
        let _ = writeln!(out, "\nRejected:");
        for r in &d.rejected {
            let _ = writeln!(out, "  {r}");
        }
    }
    out
}
