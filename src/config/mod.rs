//! Typed YAML configuration.
//!
//! Three kinds of file, told apart by their top-level keys:
//! - collector config: `collector:` ([`CollectorConfig`]);
//! - alert rules: `rules:`, `performance_alerts:` and/or `notifications:` ([`AlertRules`]);
//! - benchmark scenario: `scenario:` ([`Scenario`]).
//!
//! Loading parses with serde (unknown keys are errors), then validates what serde cannot
//! express. Every error names the file, the 1-based line and column, the field path from
//! the document root and the value found ([`ConfigError`]); suspicious but legal content
//! becomes a [`ConfigWarning`].

pub mod alerts;
pub mod collector;
pub mod duration;
mod error;
pub mod scenario;
mod yaml;

use std::path::Path;

pub use alerts::{Aggregation, AlertRule, AlertRules, Channel, Notifications, SmtpTls};
pub use collector::{
    AudioFormat, CollectorConfig, FieldMatch, FoxgloveConfig, JsonFields, PrometheusConfig,
    QosProfile, ResourcesConfig, SloConfig, StageConfig, SubscriptionQos, WatchedTopic,
};
pub use error::{ConfigError, ConfigWarning, Result};
pub use scenario::{
    ImageSet, LoadMode, LoadSettings, PassThresholds, Scenario, ScenarioCommand, StopCondition,
    Suite,
};

use yaml::{Checker, Document, FieldPath};

/// The kinds of configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKind {
    /// Collector node settings (`collector:`).
    Collector,
    /// Alert rules and notification channels (`rules:` / `performance_alerts:` / `notifications:`).
    AlertRules,
    /// Benchmark scenario (`scenario:`).
    Scenario,
}

impl ConfigKind {
    /// Every kind, in a stable order.
    pub const ALL: [ConfigKind; 3] = [
        ConfigKind::Collector,
        ConfigKind::AlertRules,
        ConfigKind::Scenario,
    ];

    /// Top-level keys that identify this kind.
    pub fn marker_keys(self) -> &'static [&'static str] {
        match self {
            ConfigKind::Collector => &["collector"],
            ConfigKind::AlertRules => &["rules", "performance_alerts", "notifications"],
            ConfigKind::Scenario => &["scenario"],
        }
    }

    /// Human name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            ConfigKind::Collector => "collector config",
            ConfigKind::AlertRules => "alert rules",
            ConfigKind::Scenario => "benchmark scenario",
        }
    }
}

/// The kind of config `text` holds, from its top-level keys; `None` when the text is not
/// YAML, has no known key, or has keys of several kinds.
pub fn detect_kind(text: &str) -> Option<ConfigKind> {
    let tree = yaml::parse_tree(text).ok()??;
    kind_of(
        &tree
            .keys()
            .iter()
            .filter_map(|k| k.scalar())
            .collect::<Vec<_>>(),
    )
    .ok()
}

/// The single kind the top-level `keys` identify, or why there is none.
fn kind_of(keys: &[&str]) -> std::result::Result<ConfigKind, &'static str> {
    let kinds: Vec<ConfigKind> = ConfigKind::ALL
        .into_iter()
        .filter(|kind| kind.marker_keys().iter().any(|m| keys.contains(m)))
        .collect();
    match kinds.as_slice() {
        [kind] => Ok(*kind),
        [] => Err("not a vla_perf config: no known top-level key"),
        _ => Err("top-level keys of several config kinds in one file"),
    }
}

/// A config together with the warnings found while loading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// The validated config.
    pub config: T,
    /// Suspicious but legal content (unknown metric names).
    pub warnings: Vec<ConfigWarning>,
}

/// A config of any kind.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyConfig {
    /// A collector config.
    Collector(CollectorConfig),
    /// Alert rules.
    AlertRules(AlertRules),
    /// A benchmark scenario.
    Scenario(Scenario),
}

impl AnyConfig {
    /// The kind of this config.
    pub fn kind(&self) -> ConfigKind {
        match self {
            AnyConfig::Collector(_) => ConfigKind::Collector,
            AnyConfig::AlertRules(_) => ConfigKind::AlertRules,
            AnyConfig::Scenario(_) => ConfigKind::Scenario,
        }
    }

    /// A readable account of what was understood.
    pub fn summary(&self) -> String {
        match self {
            AnyConfig::Collector(config) => config.summary(),
            AnyConfig::AlertRules(rules) => rules.summary(),
            AnyConfig::Scenario(scenario) => scenario.summary(),
        }
    }
}

/// Parses `text` as whichever kind its top-level keys name; `file` is used in messages.
pub fn parse_any(file: &str, text: &str) -> Result<Loaded<AnyConfig>> {
    let document = Document::parse(file, text)?;
    match identify(&document)? {
        ConfigKind::Collector => {
            finish_collector(&document, text).map(|l| l.map(AnyConfig::Collector))
        }
        ConfigKind::AlertRules => {
            finish_alerts(&document, text).map(|l| l.map(AnyConfig::AlertRules))
        }
        ConfigKind::Scenario => {
            finish_scenario(&document, text).map(|l| l.map(AnyConfig::Scenario))
        }
    }
}

/// Parses a collector config from `text`; `file` is used in messages.
pub fn parse_collector(file: &str, text: &str) -> Result<Loaded<CollectorConfig>> {
    let document = Document::parse(file, text)?;
    expect_kind(&document, ConfigKind::Collector)?;
    finish_collector(&document, text)
}

/// Parses alert rules from `text`; `file` is used in messages.
pub fn parse_alerts(file: &str, text: &str) -> Result<Loaded<AlertRules>> {
    let document = Document::parse(file, text)?;
    expect_kind(&document, ConfigKind::AlertRules)?;
    finish_alerts(&document, text)
}

/// Parses a benchmark scenario from `text`; `file` is used in messages.
pub fn parse_scenario(file: &str, text: &str) -> Result<Loaded<Scenario>> {
    let document = Document::parse(file, text)?;
    expect_kind(&document, ConfigKind::Scenario)?;
    finish_scenario(&document, text)
}

/// Reads and validates a file of any kind, with its warnings (what `check-config` does).
pub fn check_file(path: impl AsRef<Path>) -> Result<Loaded<AnyConfig>> {
    let (file, text) = read(path.as_ref())?;
    parse_any(&file, &text)
}

/// Loads a collector config; warnings are logged.
pub fn load_collector(path: impl AsRef<Path>) -> Result<CollectorConfig> {
    let (file, text) = read(path.as_ref())?;
    parse_collector(&file, &text).map(log_warnings)
}

/// Loads alert rules; warnings (unknown metric names) are logged.
pub fn load_alerts(path: impl AsRef<Path>) -> Result<AlertRules> {
    let (file, text) = read(path.as_ref())?;
    parse_alerts(&file, &text).map(log_warnings)
}

/// Loads a benchmark scenario; warnings are logged.
pub fn load_scenario(path: impl AsRef<Path>) -> Result<Scenario> {
    let (file, text) = read(path.as_ref())?;
    parse_scenario(&file, &text).map(log_warnings)
}

impl<T> Loaded<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Loaded<U> {
        Loaded {
            config: f(self.config),
            warnings: self.warnings,
        }
    }
}

fn log_warnings<T>(loaded: Loaded<T>) -> T {
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    loaded.config
}

fn read(path: &Path) -> Result<(String, String)> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((file, text)),
        Err(source) => Err(ConfigError::Read { file, source }),
    }
}

fn identify(document: &Document) -> Result<ConfigKind> {
    if document.tree.is_none() {
        return Err(ConfigError::UnknownKind {
            file: document.file.clone(),
            line: 1,
            column: 1,
            found: String::new(),
            message: "empty document".to_owned(),
        });
    }
    let keys: Vec<&yaml::Node> = document.tree.as_ref().map(|t| t.keys()).unwrap_or_default();
    let names: Vec<&str> = keys.iter().filter_map(|k| k.scalar()).collect();
    kind_of(&names).map_err(|message| {
        let (line, column) = match (keys.first(), &document.tree) {
            (Some(key), _) => (key.line, key.column),
            (None, Some(tree)) => (tree.line, tree.column),
            (None, None) => (1, 1),
        };
        ConfigError::UnknownKind {
            file: document.file.clone(),
            line,
            column,
            found: names.join(", "),
            message: message.to_owned(),
        }
    })
}

fn expect_kind(document: &Document, expected: ConfigKind) -> Result<()> {
    // Only a file that clearly is another kind is refused here; anything else goes on to
    // parsing, whose unknown-key error points at the offending line.
    let keys: Vec<&str> = document
        .tree
        .as_ref()
        .map(|t| t.keys().iter().filter_map(|k| k.scalar()).collect())
        .unwrap_or_default();
    match kind_of(&keys) {
        Ok(found) if found != expected => Err(ConfigError::WrongKind {
            file: document.file.clone(),
            expected: expected.name(),
            found: found.name(),
        }),
        _ => Ok(()),
    }
}

fn finish<T>(document: &Document, config: T, check: Checker) -> Result<Loaded<T>> {
    match document.first_error(&check) {
        Some(error) => Err(error),
        None => Ok(Loaded {
            config,
            warnings: document.warnings(&check),
        }),
    }
}

fn finish_collector(document: &Document, text: &str) -> Result<Loaded<CollectorConfig>> {
    let file: collector::CollectorFile = document.deserialize(text)?;
    let mut check = Checker::default();
    file.collector
        .validate(&FieldPath::root().key("collector"), &mut check);
    finish(document, file.collector, check)
}

fn finish_alerts(document: &Document, text: &str) -> Result<Loaded<AlertRules>> {
    let file: alerts::AlertFile = document.deserialize(text)?;
    let mut check = Checker::default();
    let rules = file.build(&mut check);
    finish(document, rules, check)
}

fn finish_scenario(document: &Document, text: &str) -> Result<Loaded<Scenario>> {
    let file: scenario::ScenarioFile = document.deserialize(text)?;
    let mut check = Checker::default();
    let scenario = file.build(&mut check);
    finish(document, scenario, check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_detected_from_top_level_keys() {
        assert_eq!(detect_kind("collector: {}\n"), Some(ConfigKind::Collector));
        assert_eq!(detect_kind("rules: []\n"), Some(ConfigKind::AlertRules));
        assert_eq!(
            detect_kind("performance_alerts: {}\nnotifications: {}\n"),
            Some(ConfigKind::AlertRules)
        );
        assert_eq!(detect_kind("scenario: {}\n"), Some(ConfigKind::Scenario));
        assert_eq!(detect_kind("hello: world\n"), None);
        assert_eq!(detect_kind("collector: {}\nscenario: {}\n"), None);
        assert_eq!(detect_kind("[1, 2]\n"), None);
        assert_eq!(detect_kind("a: [\n"), None);
    }

    #[test]
    fn a_file_of_no_kind_lists_the_keys_found_and_expected() {
        let error = parse_any("x.yaml", "\n\nstages: []\nfoo: 1\n").unwrap_err();
        assert_eq!(error.position(), Some((3, 1)));
        let text = error.to_string();
        assert!(
            text.contains("found top-level keys [stages, foo]"),
            "{text}"
        );
        assert!(
            text.contains("`collector`") && text.contains("`scenario`"),
            "{text}"
        );
    }

    #[test]
    fn loading_the_wrong_kind_says_which_kind_the_file_is() {
        let error = parse_collector("x.yaml", "scenario: {}\n").unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::WrongKind {
                    found: "benchmark scenario",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_key_is_reported_at_the_key_with_its_path() {
        let error = parse_any(
            "x.yaml",
            "collector:\n  slo:\n    threshold: 5s\n    targett: 0.9\n",
        )
        .unwrap_err();
        assert_eq!(error.field(), Some("collector.slo.targett"));
        assert_eq!(error.position(), Some((4, 5)));
        assert_eq!(error.value(), Some("targett"));
        assert!(
            error
                .to_string()
                .starts_with("x.yaml:4:5: collector.slo.targett: unknown field"),
            "{error}"
        );
    }

    #[test]
    fn a_wrong_type_is_reported_at_the_value() {
        let error = parse_any("x.yaml", "collector:\n  max_open_commands: lots\n").unwrap_err();
        assert_eq!(error.field(), Some("collector.max_open_commands"));
        assert_eq!(error.position(), Some((2, 22)));
        assert_eq!(error.value(), Some("lots"));
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let error = check_file("/nonexistent/vla_perf.yaml").unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }));
        assert!(error.to_string().contains("/nonexistent/vla_perf.yaml"));
    }

    fn shipped(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name)
    }

    #[test]
    fn the_shipped_collector_config_equals_the_built_in_defaults() {
        assert_eq!(
            load_collector(shipped("collector.yaml")).unwrap(),
            CollectorConfig::default()
        );
    }

    #[test]
    fn every_shipped_config_is_valid_warning_free_and_of_the_expected_kind() {
        for (name, kind) in [
            ("collector.yaml", ConfigKind::Collector),
            ("alerts.yaml", ConfigKind::AlertRules),
            ("alerts_compact.yaml", ConfigKind::AlertRules),
            ("scenarios/basic.yaml", ConfigKind::Scenario),
        ] {
            let loaded = check_file(shipped(name)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(loaded.config.kind(), kind, "{name}");
            assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
        }
    }

    #[test]
    fn the_compact_example_covers_the_five_classic_metrics() {
        let rules = load_alerts(shipped("alerts_compact.yaml")).unwrap();
        let mut names: Vec<&str> = rules.rules.iter().map(|r| r.metric.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "cpu_usage",
                "memory_usage",
                "response_time",
                "success_rate",
                "throughput"
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_yields_a_config_or_an_error_never_a_panic(text in "\\PC{0,300}") {
            let _ = parse_any("p.yaml", &text);
        }

        #[test]
        fn yaml_shaped_text_yields_a_config_or_an_error_never_a_panic(
            text in "(collector|rules|scenario|stages|- |name|: |\\{|\\}|\\[|\\]|, |\n  |[a-z0-9._/-]{1,8}|-1|0|1e999|\\.nan){0,40}"
        ) {
            if let Err(error) = parse_any("p.yaml", &text) {
                // Every error that has a place points inside the text.
                if let Some((line, column)) = error.position() {
                    proptest::prop_assert!(line >= 1 && column >= 1);
                    proptest::prop_assert!(line <= text.lines().count().max(1) + 1, "{error}");
                }
            }
        }
    }
}
