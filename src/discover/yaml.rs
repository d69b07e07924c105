//! The proposed `collector.yaml`: every inferred choice with a comment saying how sure
//! discovery is, on how many commands, and what it rejected; ambiguous choices are marked
//! and their alternatives left as commented lines to swap in.

use std::fmt::Write as _;

use crate::core::discover::{Discovery, Evidence, FieldValues, ProposedStage, Spread};
use crate::core::timeline::Correlation;

/// Where the traffic came from, for the header comment.
#[derive(Debug, Clone)]
pub enum Source {
    /// Live on a DDS domain, for a while.
    Live {
        /// Domain id.
        domain: u16,
        /// Backend (`ros2-client`, `r2r`).
        backend: &'static str,
    },
    /// A recording.
    Recording(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Live { domain, backend } => {
                write!(f, "live on ROS_DOMAIN_ID {domain} ({backend} backend)")
            }
            Source::Recording(path) => write!(f, "the recording {path}"),
        }
    }
}

/// A YAML scalar: plain when safe, double-quoted otherwise.
fn scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        );
    if plain {
        text.to_owned()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

/// The correlation as a YAML flow mapping.
pub fn correlation(c: &Correlation) -> String {
    match c {
        Correlation::Id { field } => format!("{{mode: id, field: {}}}", scalar(field)),
        Correlation::HeaderStamp => "{mode: header_stamp}".into(),
        Correlation::Fifo => "{mode: fifo}".into(),
    }
}

fn field_values(f: &FieldValues) -> String {
    let values: Vec<String> = f.values.iter().map(|v| scalar(v)).collect();
    format!(
        "{{field: {}, values: [{}]}}",
        scalar(&f.field),
        values.join(", ")
    )
}

fn ms(d: std::time::Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

fn lag(s: &Spread) -> String {
    format!(
        "{} ms median ({}..{} ms, 10th..90th percentile)",
        ms(s.p50),
        ms(s.p10),
        ms(s.p90)
    )
}

fn evidence(out: &mut String, indent: &str, what: &str, e: &Evidence) {
    let _ = writeln!(
        out,
        "{indent}# {what} ({:.0}% confident, {} sample(s)): {}",
        e.confidence * 100.0,
        e.samples,
        e.reason
    );
    for r in &e.rejected {
        let _ = writeln!(out, "{indent}#   rejected: {r}");
    }
}

// Long: one stage's comment block and keys, in the order check-config reads them.
fn stage(out: &mut String, s: &ProposedStage) {
    let i = "    ";
    let _ = writeln!(
        out,
        "{i}# {}: {} messages on {}",
        s.name, s.messages, s.topic
    );
    if let Some(l) = &s.lag {
        let _ = writeln!(out, "{i}#   lag from the previous stage: {}", lag(l));
    }
    evidence(out, i, "stage", &s.placement);
    evidence(out, i, "correlation", &s.correlation_evidence);
    let ambiguous = s.correlation_evidence.ambiguous || s.placement.ambiguous;
    if ambiguous {
        let _ = writeln!(
            out,
            "{i}# AMBIGUOUS: discovery could not tell; check the evidence above and pick one of \
             the alternatives below if it fits better."
        );
        for r in &s.correlation_evidence.rejected {
            if let Some(end) = r.find('}') {
                let _ = writeln!(out, "{i}#   correlation: {}", &r[..=end]);
            }
        }
    }
    let _ = writeln!(out, "{i}- name: {}", scalar(&s.name));
    let _ = writeln!(out, "{i}  topic: {}", scalar(&s.topic));
    let _ = writeln!(out, "{i}  msg_type: {}", scalar(&s.msg_type));
    let _ = writeln!(out, "{i}  correlation: {}", correlation(&s.correlation));
    let keys: Vec<String> = [
        ("id", &s.json.id),
        ("confidence", &s.json.confidence),
        ("status", &s.json.status),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {}", scalar(v))))
    .collect();
    if !keys.is_empty() {
        let _ = writeln!(out, "{i}  json: {{{}}}", keys.join(", "));
    }
    if let Some(a) = &s.accept {
        let _ = writeln!(out, "{i}  accept: {}", field_values(a));
    }
    if let Some(f) = &s.failure {
        let _ = writeln!(out, "{i}  failure: {}", field_values(f));
    }
}

/// The commented configuration for `d`, observed from `source`.
pub fn render(d: &Discovery, source: &Source) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# vla_perf collector configuration proposed by `vla-perf discover` from {source}."
    );
    let _ = writeln!(
        out,
        "# {} command(s) over {:.1} s; {} stage(s), {} watched topic(s).",
        d.commands,
        d.span.as_secs_f64(),
        d.stages.len(),
        d.watched.len()
    );
    out.push_str(
        "# Each choice says how sure discovery is, on how many commands, and what it rejected;\n\
         # AMBIGUOUS marks a choice to check. Every key not written here keeps its default\n\
         # (config/collector.yaml documents them all). Check the file with\n\
         #   vla-perf check-config <this file>\n",
    );
    out.push_str("collector:\n  stages:\n");
    for s in &d.stages {
        stage(&mut out, s);
    }
    if d.watched.is_empty() {
        out.push_str("  topics: []\n");
    } else {
        out.push_str(
            "  # Streams watched for rate and age (topic health), not stages.\n  topics:\n",
        );
        for w in &d.watched {
            let _ = writeln!(out, "    # {:.1} Hz; {}", w.rate_hz, w.reason);
            let _ = writeln!(out, "    - topic: {}", scalar(&w.topic));
            let _ = writeln!(out, "      msg_type: {}", scalar(&w.msg_type));
            if w.rate_hz > 0.0 {
                let _ = writeln!(out, "      expected_rate_hz: {:.1}", w.rate_hz);
            }
            if !w.stamped {
                out.push_str("      stamped: false\n");
            }
        }
    }
    if !d.rejected.is_empty() {
        out.push_str("# Candidates discovery rejected:\n");
        for r in &d.rejected {
            let _ = writeln!(out, "#   {r}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_only_when_yaml_would_misread_them() {
        assert_eq!(scalar("/audio/utterance"), "/audio/utterance");
        assert_eq!(scalar("task.uid"), "task.uid");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar(""), "\"\"");
    }
}
