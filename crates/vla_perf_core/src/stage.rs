//! The kinds of stage a VLA stack has, and their one set of names: the collector's default
//! pipeline, the benchmark's tracking, the recommendations and the understanding rate (the
//! planner stage's success) all name stages through [`StageKind`].

/// A stage of a VLA stack, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageKind {
    /// The spoken command (the pipeline's start).
    Voice,
    /// The speech recogniser's transcript.
    Transcript,
    /// The planner's plan.
    Plan,
    /// Detections after the plan.
    Vision,
    /// The action goal started executing.
    ActionStart,
    /// The action goal ended.
    ActionDone,
}

impl StageKind {
    /// Every kind, in pipeline order.
    pub const ALL: [StageKind; 6] = [
        StageKind::Voice,
        StageKind::Transcript,
        StageKind::Plan,
        StageKind::Vision,
        StageKind::ActionStart,
        StageKind::ActionDone,
    ];

    /// The stage's name, as in the collector's default pipeline and the reports.
    pub fn name(self) -> &'static str {
        match self {
            StageKind::Voice => "voice",
            StageKind::Transcript => "transcript",
            StageKind::Plan => "plan",
            StageKind::Vision => "vision",
            StageKind::ActionStart => "action_start",
            StageKind::ActionDone => "action_done",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<StageKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for kind in StageKind::ALL {
            assert_eq!(StageKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(StageKind::parse("asr"), None);
    }
}
