//! The config module's error and warning types.

use std::fmt;

/// Result of loading or validating a configuration file.
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Why a configuration file was rejected.
///
/// Every variant names the file; those about a field also give its 1-based line and column,
/// its path from the document root (`collector.stages[2].correlation.mode`) and the value
/// found there, so an editor can jump to it and a reader sees what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {source}")]
    Read {
        /// The file as given.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed YAML.
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Syntax {
        /// The file as given.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the YAML parser reported.
        message: String,
    },
    /// The YAML does not have the structure of this kind of config: a wrong type, an
    /// unknown key, a missing field or an unknown enum value.
    #[error("{file}:{line}:{column}: {field}: {message}{}", found(.value))]
    Parse {
        /// The file as given.
        file: String,
        /// 1-based line of the field.
        line: usize,
        /// 1-based column of the field.
        column: usize,
        /// Path of the field from the document root.
        field: String,
        /// The value found there as written (empty when the field is missing).
        value: String,
        /// What is wrong.
        message: String,
    },
    /// The structure is right but a value breaks a rule (a zero window, warning beyond
    /// critical, duplicate stage names).
    #[error("{file}:{line}:{column}: {field}: {message}{}", found(.value))]
    Invalid {
        /// The file as given.
        file: String,
        /// 1-based line of the field.
        line: usize,
        /// 1-based column of the field.
        column: usize,
        /// Path of the field from the document root.
        field: String,
        /// The value found there as written (or as understood, for lists and maps).
        value: String,
        /// What is wrong.
        message: String,
    },
    /// The top-level keys match no kind of config (or several).
    #[error("{file}:{line}:{column}: {message}; found top-level keys [{found}]; expected `collector` (collector config), `rules`/`performance_alerts`/`notifications` (alert rules) or `scenario` (benchmark scenario)")]
    UnknownKind {
        /// The file as given.
        file: String,
        /// 1-based line of the first top-level key (1 for an empty file).
        line: usize,
        /// 1-based column of the first top-level key.
        column: usize,
        /// The top-level keys found, comma separated.
        found: String,
        /// Why no single kind matched.
        message: String,
    },
    /// The file is a valid kind of config, but not the kind the caller asked for.
    #[error("{file}: expected a {expected} file but this is a {found} file")]
    WrongKind {
        /// The file as given.
        file: String,
        /// The kind the caller wanted.
        expected: &'static str,
        /// The kind the file is.
        found: &'static str,
    },
}

fn found(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!(" (found: {value})")
    }
}

impl ConfigError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            ConfigError::Read { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Parse { file, .. }
            | ConfigError::Invalid { file, .. }
            | ConfigError::UnknownKind { file, .. }
            | ConfigError::WrongKind { file, .. } => file,
        }
    }

    /// 1-based line and column of the problem, when it has a place in the file.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ConfigError::Syntax { line, column, .. }
            | ConfigError::Parse { line, column, .. }
            | ConfigError::Invalid { line, column, .. }
            | ConfigError::UnknownKind { line, column, .. } => Some((*line, *column)),
            ConfigError::Read { .. } | ConfigError::WrongKind { .. } => None,
        }
    }

    /// Path of the offending field, for errors about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    /// The offending value as written, for errors about one field.
    pub fn value(&self) -> Option<&str> {
        match self {
            ConfigError::Parse { value, .. } | ConfigError::Invalid { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Something suspicious that does not stop a config from loading (an unknown metric name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file as given.
    pub file: String,
    /// 1-based line of the field.
    pub line: usize,
    /// 1-based column of the field.
    pub column: usize,
    /// Path of the field from the document root.
    pub field: String,
    /// The value found there.
    pub value: String,
    /// What is suspicious.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}{}",
            self.file,
            self.line,
            self.column,
            self.field,
            self.message,
            found(&self.value)
        )
    }
}
