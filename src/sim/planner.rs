//! The simulated planner's "understanding": keyword rules from a transcript to plan steps.
//! Pure; [`super::nodes`] adds the latency, the random rejections and the ids.

use serde::{Deserialize, Serialize};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// `pick`, `place`, `navigate`, `open`, `close` or `look`.
    pub action: String,
    /// What the action applies to (`red cup`, `kitchen`); may be empty.
    #[serde(default)]
    pub object: String,
}

/// Status of a plan as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// The plan will be executed.
    Accepted,
    /// The planner refused or did not understand the command.
    Rejected,
}

impl PlanStatus {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Accepted => "accepted",
            PlanStatus::Rejected => "rejected",
        }
    }
}

/// The JSON the planner publishes on `/planner/plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Command id: the utterance's tag, else `c<N>`.
    pub command_id: String,
    /// Accepted or rejected.
    pub status: PlanStatus,
    /// Steps (empty when rejected).
    pub steps: Vec<Step>,
}

/// Verbs and the action each maps to. Multi-word verbs are matched as their first word
/// (`go to`, `pick up`: the particle is dropped with the filler words).
const VERBS: &[(&str, &str)] = &[
    ("pick", "pick"),
    ("grab", "pick"),
    ("take", "pick"),
    ("place", "place"),
    ("put", "place"),
    ("drop", "place"),
    ("navigate", "navigate"),
    ("go", "navigate"),
    ("move", "navigate"),
    ("drive", "navigate"),
    ("open", "open"),
    ("close", "close"),
    ("shut", "close"),
    ("look", "look"),
    ("find", "look"),
    ("search", "look"),
];

/// Words that never belong to an object name.
const FILLER: &[&str] = &[
    "up", "down", "the", "a", "an", "to", "on", "onto", "in", "into", "at", "for", "it", "please",
    "of", "from", "over", "there",
];

/// Words that separate steps.
const SEPARATORS: &[&str] = &["and", "then"];

/// The steps of `text` (a transcript without its tag); empty when no known verb occurs.
pub fn steps(text: &str) -> Vec<Step> {
    let words = crate::core::kpi::wer::words(text);
    let mut steps: Vec<Step> = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    let mut finish = |current: &mut Option<(String, Vec<&str>)>| {
        if let Some((action, object)) = current.take() {
            steps.push(Step {
                action,
                object: object.join(" "),
            });
        }
    };
    for word in &words {
        let w = word.as_str();
        if SEPARATORS.contains(&w) {
            finish(&mut current);
        } else if let Some((_, action)) = VERBS.iter().find(|(verb, _)| *verb == w) {
            // A verb right after another verb's object starts a new step.
            finish(&mut current);
            current = Some(((*action).to_owned(), Vec::new()));
        } else if let Some((_, object)) = current.as_mut() {
            if !FILLER.contains(&w) {
                object.push(w);
            }
        }
    }
    finish(&mut current);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(action: &str, object: &str) -> Step {
        Step {
            action: action.into(),
            object: object.into(),
        }
    }

    #[test]
    fn keywords_map_to_steps_with_their_objects() {
        assert_eq!(steps("pick up the red cup"), vec![step("pick", "red cup")]);
        assert_eq!(
            steps("Pick up the red cup and place it on the table."),
            vec![step("pick", "red cup"), step("place", "table")]
        );
        assert_eq!(
            steps("go to the kitchen then open the fridge"),
            vec![step("navigate", "kitchen"), step("open", "fridge")]
        );
        assert_eq!(
            steps("close the drawer look at the yellow ball"),
            vec![step("close", "drawer"), step("look", "yellow ball")]
        );
        assert_eq!(steps("navigate home"), vec![step("navigate", "home")]);
    }

    #[test]
    fn text_without_a_known_verb_has_no_steps() {
        assert!(steps("sing me a song").is_empty());
        assert!(steps(crate::sim::speech::UNINTELLIGIBLE).is_empty());
        assert!(steps("").is_empty());
    }

    #[test]
    fn plans_serialise_as_the_collector_expects() {
        let plan = Plan {
            command_id: "c3".into(),
            status: PlanStatus::Accepted,
            steps: vec![step("pick", "red cup")],
        };
        let json: serde_json::Value = serde_json::to_value(&plan).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"command_id": "c3", "status": "accepted",
                "steps": [{"action": "pick", "object": "red cup"}]})
        );
    }
}
