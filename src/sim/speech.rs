//! Speech side of the simulation: the utterance convention, the command tag and the ASR's
//! word error noise. Pure functions; the nodes in [`super::nodes`] call them.
//!
//! Utterance convention (SIMULATED): an `audio_common_msgs/msg/AudioStamped` on
//! `/audio/utterance` whose `audio.info.format` is [`TEXT_FORMAT`] carries the spoken
//! command as UTF-8 in `audio.audio_data.uint8_data`. Real PCM (any PortAudio format, e.g.
//! `int16_data` with format 8) is accepted, but the simulated ASR cannot listen, so it
//! transcribes it as [`UNINTELLIGIBLE`] and the planner rejects it.
//!
//! Command tag: text that starts with `[ID] ` (e.g. `[c7] pick up the red cup`) names the
//! command; the ASR passes the tag through untouched (it is metadata, not speech) and the
//! planner uses `ID` as the plan's `command_id`, so a benchmark can match its ground truth.

use rand::{Rng, RngExt};

use super::config::WerNoise;
use crate::msg::audio_common_msgs::{Audio, AudioData, AudioInfo, AudioStamped};
use crate::msg::std_msgs::Header;

/// `audio.info.format` of a simulated utterance: not a PortAudio sample format (those are
/// positive bit flags), so it cannot be mistaken for 8-bit PCM.
pub const TEXT_FORMAT: i32 = -1;

/// What the ASR publishes for audio it cannot "hear" (real PCM).
pub const UNINTELLIGIBLE: &str = "<unintelligible>";

/// Words the noise substitutes and inserts: plausible mishearings in a robot's domain.
const CONFUSIONS: &[&str] = &[
    "the", "a", "cap", "cut", "read", "bread", "blew", "glue", "table", "cable", "bowl", "ball",
    "kitchen", "chicken", "door", "drawer", "pic", "peck", "plays", "grin", "yellow", "hello",
    "box", "socks", "left", "lift", "up", "of", "and", "then", "it", "on",
];

/// A simulated utterance of `text` stamped with `header`.
pub fn utterance(text: &str, header: Header) -> AudioStamped {
    AudioStamped {
        header,
        audio: Audio {
            audio_data: AudioData {
                uint8_data: text.as_bytes().to_vec(),
                ..AudioData::default()
            },
            info: AudioInfo {
                format: TEXT_FORMAT,
                channels: 1,
                rate: 0,
                chunk: i32::try_from(text.len()).unwrap_or(i32::MAX),
            },
        },
    }
}

/// What an utterance holds, as far as the simulated ASR can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Simulated speech: the command text.
    Text(String),
    /// Real audio samples, which the simulation cannot transcribe.
    Audio,
}

/// Why an utterance could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("utterance text is not UTF-8 (byte {valid_up_to})")]
pub struct NotUtf8 {
    /// Length of the valid prefix.
    pub valid_up_to: usize,
}

/// Reads an utterance per the convention above.
pub fn hear(audio: &Audio) -> Result<Heard, NotUtf8> {
    if audio.info.format != TEXT_FORMAT {
        return Ok(Heard::Audio);
    }
    std::str::from_utf8(&audio.audio_data.uint8_data)
        .map(|t| Heard::Text(t.to_owned()))
        .map_err(|e| NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })
}

/// Splits a leading `[ID] ` tag off `text`: `(Some("c7"), "pick up the cup")`. A tag must
/// be non-empty and free of spaces and brackets; anything else is not a tag.
pub fn split_tag(text: &str) -> (Option<&str>, &str) {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix('[') {
        if let Some((id, after)) = rest.split_once(']') {
            let valid = !id.is_empty()
                && id
                    .chars()
                    .all(|c| !c.is_whitespace() && c != '[' && c != ']');
            if valid {
                return (Some(id), after.trim_start());
            }
        }
    }
    (None, trimmed)
}

/// `text` with word errors drawn from `noise`; also how many edits were made. Each word is
/// deleted, substituted (by a different word) or kept, and a spurious word may follow it,
/// so the expected word error rate is the sum of the three probabilities. A leading
/// command tag is kept as is.
pub fn add_noise<R: Rng + ?Sized>(text: &str, noise: &WerNoise, rng: &mut R) -> (String, usize) {
    let (tag, speech) = split_tag(text);
    let mut out: Vec<&str> = Vec::new();
    let mut edits = 0;
    let pick = |rng: &mut R, avoid: &str| loop {
        let w = CONFUSIONS[rng.random_range(0..CONFUSIONS.len())];
        if !w.eq_ignore_ascii_case(avoid) {
            break w;
        }
    };
    for word in speech.split_whitespace() {
        let roll: f64 = rng.random();
        if roll < noise.deletion {
            edits += 1;
        } else if roll < noise.deletion + noise.substitution {
            edits += 1;
            out.push(pick(rng, word));
        } else {
            out.push(word);
        }
        if rng.random_bool(noise.insertion.clamp(0.0, 1.0)) {
            edits += 1;
            out.push(pick(rng, ""));
        }
    }
    let body = out.join(" ");
    let text = match tag {
        Some(id) => format!("[{id}] {body}"),
        None => body,
    };
    (text, edits)
}

/// The confidence the ASR reports: high for a clean transcript, lower the more it garbled.
pub fn confidence(words: usize, edits: usize) -> f64 {
    if edits == 0 {
        return 0.95;
    }
    let garbled = edits as f64 / words.max(1) as f64;
    (0.85 - 0.6 * garbled).clamp(0.05, 0.85)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::kpi::wer::WerAccumulator;
    use rand::SeedableRng;

    const SENTENCES: &[&str] = &[
        "pick up the red cup",
        "place the green box on the table",
        "go to the kitchen and open the fridge",
        "look at the yellow ball then pick it up",
        "close the top drawer",
        "navigate to the charging dock",
    ];

    #[test]
    fn tags_are_split_only_when_well_formed() {
        assert_eq!(split_tag("[c7] pick it"), (Some("c7"), "pick it"));
        assert_eq!(split_tag("pick it"), (None, "pick it"));
        assert_eq!(split_tag("[] pick"), (None, "[] pick"));
        assert_eq!(split_tag("[a b] x"), (None, "[a b] x"));
        assert_eq!(split_tag("[open"), (None, "[open"));
    }

    #[test]
    fn utterances_round_trip_and_real_audio_is_not_text() {
        let u = utterance("[t1] open the door", Header::default());
        assert_eq!(hear(&u.audio), Ok(Heard::Text("[t1] open the door".into())));
        let mut pcm = u.audio.clone();
        pcm.info.format = 8;
        pcm.audio_data.int16_data = vec![0; 160];
        assert_eq!(hear(&pcm), Ok(Heard::Audio));
        let mut bad = u.audio;
        bad.audio_data.uint8_data = vec![b'o', 0xff, 0xfe];
        assert_eq!(hear(&bad), Err(NotUtf8 { valid_up_to: 1 }));
    }

    #[test]
    fn noise_at_rate_zero_leaves_the_text_unchanged() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for s in SENTENCES {
            let tagged = format!("[c1] {s}");
            assert_eq!(add_noise(&tagged, &WerNoise::NONE, &mut rng), (tagged, 0));
        }
    }

    #[test]
    fn noise_at_rate_p_gives_a_measured_wer_near_p() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for noise in [
            WerNoise {
                substitution: 0.1,
                deletion: 0.05,
                insertion: 0.05,
            },
            WerNoise {
                substitution: 0.02,
                deletion: 0.0,
                insertion: 0.0,
            },
        ] {
            let mut acc = WerAccumulator::new();
            for i in 0..3000 {
                let reference = SENTENCES[i % SENTENCES.len()];
                let (hyp, _) = add_noise(reference, &noise, &mut rng);
                acc.add(reference, &hyp).unwrap();
            }
            let p = noise.expected_wer();
            let wer = acc.wer().unwrap();
            // ~18 000 words: the standard error is below 0.004; alignment may merge an
            // insertion with a neighbouring edit, so the measure can only come out lower.
            assert!(wer <= p + 0.01 && wer >= p * 0.85, "p {p}: measured {wer}");
        }
    }

    #[test]
    fn garbled_transcripts_are_less_confident() {
        assert!(confidence(5, 0) > confidence(5, 1));
        assert!(confidence(5, 1) > confidence(5, 3));
        assert!(confidence(0, 9) >= 0.05);
    }
}
