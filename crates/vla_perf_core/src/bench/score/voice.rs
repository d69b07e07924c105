//! Voice processing: corpus WER of the transcripts against the references, and the
//! transcripts that never came.

use super::common::scenario_command;
use super::threshold_for;
use crate::bench::record::CommandRecord;
use crate::bench::report::{kpi, KpiFigure};
use crate::bench::scenario::{Expectations, Suite};
use crate::kpi::WerAccumulator;
use crate::trend::Direction;

/// The WER figures of `commands`; the second value counts commands skipped (no scenario
/// entry, or a text WER cannot score).
pub(super) fn kpis(
    suite: Suite,
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (Vec<KpiFigure>, u64) {
    let (wer, missing, skipped) = word_error_rate(commands, scenario);
    let limit = threshold_for(suite, kpi::WER, scenario.thresholds);
    let figures = vec![
        KpiFigure::new(kpi::WER, "1", wer, Some(Direction::HigherIsWorse), limit),
        KpiFigure::new(
            kpi::MISSING_TRANSCRIPTS,
            "count",
            Some(missing as f64),
            None,
            None,
        ),
    ];
    (figures, skipped)
}

/// Corpus WER (missing transcripts as empty), missing transcripts, skipped commands.
fn word_error_rate(
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (Option<f64>, u64, u64) {
    let mut acc = WerAccumulator::new();
    let (mut missing, mut skipped) = (0u64, 0u64);
    for c in commands {
        let Some(sc) = scenario_command(c, scenario) else {
            skipped += 1;
            continue;
        };
        if c.transcript.is_none() {
            missing += 1;
        }
        if acc
            .add(sc.reference(), c.transcript.as_deref().unwrap_or(""))
            .is_err()
        {
            skipped += 1;
        }
    }
    (acc.wer(), missing, skipped)
}

#[cfg(test)]
mod tests {
    use super::super::score_suite;
    use super::*;
    use crate::bench::scenario::{PassThresholds, Suite};
    use crate::bench::testing::{close, cmd, none, scenario, suite};
    use crate::timeline::Outcome::*;

    #[test]
    fn wer_counts_a_substitution_and_a_missing_transcript_as_deletions() {
        let mut a = cmd(0, 0.0, &[Some(0.5)], Succeeded);
        a.transcript = Some("Go to the kitten".into());
        let b = cmd(1, 1.0, &[None], TimedOut);
        let record = suite(
            Suite::VoiceProcessing,
            &["transcript"],
            2.0,
            vec![a.clone()],
        );
        let r = score_suite(&record, &scenario(none()));
        assert!(close(r.kpi_value(kpi::WER), 1.0 / 4.0));
        // "pick up the red cup": five deletions more, over nine reference words.
        let record = suite(Suite::VoiceProcessing, &["transcript"], 2.0, vec![a, b]);
        let r = score_suite(
            &record,
            &scenario(PassThresholds {
                max_wer: Some(0.5),
                ..none()
            }),
        );
        assert!(close(r.kpi_value(kpi::WER), 6.0 / 9.0));
        assert_eq!(r.kpi_value(kpi::MISSING_TRANSCRIPTS), Some(1.0));
        assert_eq!(r.kpi(kpi::WER).unwrap().passed, Some(false));
        assert!(!r.passed);
    }
}
