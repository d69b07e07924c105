//! README.md and docs/*.md name only what the code has:
//!
//! - every `vla-perf <subcommand>` is a subcommand of the built `vla-perf`, and every `--flag`
//!   on a command line of `vla-perf` or a node binary (`collector`, `alert_manager`,
//!   `benchmark`, `sim_stack`; also as `cargo run ... --` and `ros2 run vla_perf ...`) is in
//!   that binary's (or subcommand's) `--help`;
//! - every other `--flag` written anywhere is an option of one of those binaries or of a
//!   listed outside tool (cargo, colcon, rosdep, ros2, libtest);
//! - every `/vla_perf/<topic>` and `<ns>/<topic>` is a topic the code publishes under its
//!   namespace (a `format!("{ns}/<topic>")` in `src/`);
//! - every relative link `](path#anchor)` points to a file of the repository and, for a
//!   Markdown file, to one of its headings;
//! - every `snake_case` name in backticks (config key, metric, tag, test, function) occurs
//!   somewhere in the repository's sources, configs, messages or tests.
//!
//! Failures name the file, the line and the missing thing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, as (path relative to the repository, text).
fn documents() -> Vec<(String, String)> {
    let mut names = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(repo().join(&n)).unwrap();
            (n, text)
        })
        .collect()
}

/// The node binaries and their executables.
fn binaries() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("vla-perf", env!("CARGO_BIN_EXE_vla-perf")),
        ("collector", env!("CARGO_BIN_EXE_collector")),
        ("alert_manager", env!("CARGO_BIN_EXE_alert_manager")),
        ("benchmark", env!("CARGO_BIN_EXE_benchmark")),
        ("sim_stack", env!("CARGO_BIN_EXE_sim_stack")),
    ])
}

fn help(exe: &str, args: &[&str]) -> String {
    let out = Command::new(exe)
        .args(args)
        .arg("--help")
        .output()
        .unwrap_or_else(|e| panic!("{exe} {args:?} --help: {e}"));
    assert!(
        out.status.success(),
        "{exe} {args:?} --help failed: {out:?}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The long options a `--help` text lists (lines `  -x, --flag ...` or `      --flag ...`).
fn options_of(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = match l.strip_prefix('-') {
                Some(rest) if !rest.starts_with('-') => rest.split_once(", ")?.1,
                _ => l,
            };
            let flag = l.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty()).then(|| format!("--{name}"))
        })
        .collect()
}

/// The subcommands of a `--help` text's `Commands:` section.
fn subcommands_of(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// What each binary (and each `vla-perf` subcommand, as `vla-perf <sub>`) accepts.
struct Cli {
    subcommands: BTreeSet<String>,
    /// Subcommands of a subcommand (`export` -> `prometheus-rules`).
    nested: BTreeMap<String, BTreeSet<String>>,
    options: BTreeMap<String, BTreeSet<String>>,
}

impl Cli {
    fn load() -> Cli {
        let mut options = BTreeMap::new();
        let mut subcommands = BTreeSet::new();
        let mut nested = BTreeMap::new();
        for (name, exe) in binaries() {
            let text = help(exe, &[]);
            options.insert(name.to_owned(), options_of(&text));
            if name == "vla-perf" {
                subcommands = subcommands_of(&text);
                assert!(subcommands.contains("demo"), "{text}");
                for sub in subcommands.iter().filter(|s| *s != "help") {
                    let text = help(exe, &[sub]);
                    options.insert(format!("vla-perf {sub}"), options_of(&text));
                    let inner = subcommands_of(&text);
                    for inner_sub in inner.iter().filter(|s| *s != "help") {
                        let text = help(exe, &[sub, inner_sub]);
                        options.insert(format!("vla-perf {sub} {inner_sub}"), options_of(&text));
                    }
                    if !inner.is_empty() {
                        nested.insert(sub.clone(), inner);
                    }
                }
            }
        }
        Cli {
            subcommands,
            nested,
            options,
        }
    }

    fn any_has(&self, flag: &str) -> bool {
        self.options.values().any(|o| o.contains(flag))
    }
}

/// Options of tools that are not ours, which the documents use in their own command lines.
const OTHER_TOOLS_FLAGS: &[&str] = &[
    // cargo (and `cargo fmt -- --check`)
    "--release",
    "--bin",
    "--bench",
    "--test",
    "--features",
    "--no-default-features",
    "--all-targets",
    "--all",
    "--no-fail-fast",
    "--locked",
    "--check",
    // libtest
    "--nocapture",
    // colcon
    "--symlink-install",
    "--packages-select",
    // rosdep
    "--from-paths",
    "--ignore-src",
    // ros2 topic echo, ros2 run/launch
    "--once",
    "--params-file",
];

/// One line of a document with its number, and whether it is inside a fenced code block.
struct Line<'a> {
    number: usize,
    text: &'a str,
    code: bool,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut code = false;
    let mut out = Vec::new();
    for (i, text) in text.lines().enumerate() {
        if text.trim_start().starts_with("```") {
            code = !code;
            continue;
        }
        out.push(Line {
            number: i + 1,
            text,
            code,
        });
    }
    out
}

/// The inline code spans of a prose line.
fn spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Command lines with their first and last line numbers: every line of a code block
/// (comments cut, `\` continuations joined) and every inline code span.
fn command_lines(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for line in lines(text) {
        if line.code {
            let body = match line.text.find(" #") {
                Some(i) => &line.text[..i],
                None if line.text.trim_start().starts_with('#') => "",
                None => line.text,
            };
            let (start, mut joined) = pending.take().unwrap_or((line.number, String::new()));
            let trimmed = body.trim_end();
            if let Some(head) = trimmed.strip_suffix('\\') {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((start, joined));
            } else {
                joined.push_str(trimmed);
                out.push((start, line.number, joined));
            }
        } else {
            out.extend(
                spans(line.text)
                    .into_iter()
                    .map(|s| (line.number, line.number, s.to_owned())),
            );
        }
    }
    out
}

/// Cleans a token as written in a usage line: `[--noise` -> `--noise`, `--x=1` -> `--x`.
fn clean(token: &str) -> &str {
    let t = token.trim_start_matches(['[', '(']);
    let t = t.split('=').next().unwrap_or(t);
    t.trim_end_matches([']', ')', ',', ';', ':', '.'])
}

/// The binary (a key of `Cli::options`, with the `vla-perf` subcommand when one is named) a
/// command line runs, and the tokens after it; None when it runs none of ours.
fn invocation<'a>(cli: &Cli, tokens: &[&'a str]) -> Option<(String, Vec<&'a str>, Option<String>)> {
    let bins = binaries();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let base = t.rsplit('/').next().unwrap_or(t);
        let found = if t == "cargo" && tokens.get(i + 1) == Some(&"run") {
            // `cargo run [--release] [--bin NAME] -- ARGS`
            let rest = &tokens[i + 2..];
            let bin = rest
                .iter()
                .position(|t| *t == "--bin")
                .and_then(|p| rest.get(p + 1))
                .copied()
                .unwrap_or("vla-perf");
            let after = rest
                .iter()
                .position(|t| *t == "--")
                .map_or(rest.len(), |p| p + 1);
            Some((bin, i + 2 + after))
        } else if t == "ros2"
            && tokens.get(i + 1) == Some(&"run")
            && tokens.get(i + 2) == Some(&"vla_perf")
        {
            // `ros2 run vla_perf NAME ARGS`
            tokens.get(i + 3).map(|b| (*b, i + 4))
        } else if bins.contains_key(base)
            && (i == 0 || tokens[i - 1].contains('=') || base == "vla-perf")
        {
            Some((base, i + 1))
        } else {
            None
        };
        if let Some((bin, next)) = found.filter(|(bin, _)| bins.contains_key(bin)) {
            let rest = tokens[next.min(tokens.len())..].to_vec();
            if bin != "vla-perf" {
                return Some((bin.to_owned(), rest, None));
            }
            // A lowercase word right after `vla-perf` is a subcommand.
            return match rest.first().map(|w| clean(w)) {
                Some(w)
                    if !w.is_empty()
                        && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                        && !w.starts_with('-') =>
                {
                    let missing = (!cli.subcommands.contains(w)).then(|| w.to_owned());
                    // `vla-perf export prometheus-rules`: a subcommand of the subcommand.
                    if let Some(inner) = cli.nested.get(w) {
                        return match rest.get(1).map(|t| clean(t)) {
                            Some(v) if inner.contains(v) => {
                                Some((format!("vla-perf {w} {v}"), rest[2..].to_vec(), None))
                            }
                            other => Some((
                                format!("vla-perf {w}"),
                                rest[1..].to_vec(),
                                Some(format!("{w} {}", other.unwrap_or(""))),
                            )),
                        };
                    }
                    Some((format!("vla-perf {w}"), rest[1..].to_vec(), missing))
                }
                _ => Some(("vla-perf".to_owned(), rest, None)),
            };
        }
        i += 1;
    }
    None
}

fn check_flags(cli: &Cli, file: &str, text: &str, errors: &mut Vec<String>) {
    let known_other: BTreeSet<&str> = OTHER_TOOLS_FLAGS.iter().copied().collect();
    let mut on_command_lines = BTreeSet::new();
    for (number, last, line) in command_lines(text) {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some((bin, rest, missing_sub)) = invocation(cli, &tokens) else {
            continue;
        };
        if let Some(sub) = missing_sub {
            errors.push(format!(
                "{file}:{number}: `vla-perf {sub}`: vla-perf has no subcommand {sub} \
                 (subcommands: {:?}) in `{}`",
                cli.subcommands,
                line.trim()
            ));
            continue;
        }
        let options = &cli.options[&bin];
        for token in rest {
            if ["|", "&&", ";", "&", ">", "2>&1"].contains(&token) || token.starts_with('>') {
                break;
            }
            let flags = clean(token);
            if !flags.starts_with("--") || flags == "--" {
                continue;
            }
            // `--out/--csv/--mcap-out`: several options at once.
            for flag in flags.split('/').filter(|f| f.starts_with("--")) {
                for n in number..=last {
                    on_command_lines.insert((n, flag.to_owned()));
                }
                if !options.contains(flag) {
                    errors.push(format!(
                        "{file}:{number}: `{bin}` has no option {flag} (its --help lists \
                         {options:?}) in `{}`",
                        line.trim()
                    ));
                }
            }
            if flags == "--ros-args" {
                break; // what follows is ROS's: -p, --params-file
            }
        }
    }
    // Every other `--flag` written anywhere: ours (some binary's) or a listed tool's.
    for line in lines(text) {
        for (at, _) in line.text.match_indices("--") {
            let before = line.text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                continue;
            }
            let name: String = line.text[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            let flag = format!("--{}", name.trim_end_matches('-'));
            if on_command_lines.contains(&(line.number, flag.clone()))
                || cli.any_has(&flag)
                || known_other.contains(flag.as_str())
            {
                continue;
            }
            errors.push(format!(
                "{file}:{}: {flag} is an option of no vla_perf binary (nor of a tool listed in \
                 OTHER_TOOLS_FLAGS of tests/docs_names.rs)",
                line.number
            ));
        }
    }
}

/// Topics the code publishes under its namespace: every `"{ns}/<name>"` in `src/`.
fn code_topics() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (at, _) in text.match_indices("\"{ns}/") {
                    let name: String = text[at + 6..]
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if text[at + 6 + name.len()..].starts_with('"') && !name.is_empty() {
                        out.insert(name);
                    }
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&repo().join("src"), &mut out);
    out
}

fn check_topics(topics: &BTreeSet<String>, file: &str, text: &str, errors: &mut Vec<String>) {
    for line in lines(text) {
        for prefix in ["/vla_perf/", "<ns>/"] {
            for (at, _) in line.text.match_indices(prefix) {
                // `/etc/vla_perf/...`, `share/vla_perf/...` are paths, not topics.
                let before = line.text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_./-$)".contains(c)) {
                    continue;
                }
                let name: String = line.text[at + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && !topics.contains(&name) {
                    errors.push(format!(
                        "{file}:{}: {prefix}{name}: the code publishes no topic {name} under \
                         its namespace (it publishes {topics:?})",
                        line.number
                    ));
                }
            }
        }
    }
}

/// GitHub's anchor of a heading: lowercase, punctuation other than `-` and `_` dropped,
/// spaces to `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    lines(text)
        .into_iter()
        .filter(|l| !l.code && l.text.starts_with('#'))
        .map(|l| anchor(l.text.trim_start_matches('#')))
        .collect()
}

fn check_links(file: &str, text: &str, errors: &mut Vec<String>) {
    let root = repo().canonicalize().unwrap();
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    for line in lines(text) {
        if line.code {
            continue;
        }
        for (at, _) in line.text.match_indices("](") {
            let Some(target) = line.text[at + 2..].split(')').next() else {
                continue;
            };
            let target = target.split_whitespace().next().unwrap_or("");
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target, None),
            };
            let shown = format!("{file}:{}: link ({target})", line.number);
            if path.is_empty() {
                let fragment = fragment.unwrap_or("");
                if !anchors(text).contains(fragment) {
                    errors.push(format!(
                        "{shown}: {file} has no heading with anchor #{fragment}"
                    ));
                }
                continue;
            }
            let linked = repo().join(dir).join(path);
            let Ok(real) = linked.canonicalize() else {
                errors.push(format!("{shown}: no file {}", linked.display()));
                continue;
            };
            if !real.starts_with(&root) {
                errors.push(format!("{shown}: leaves the repository"));
                continue;
            }
            if let Some(fragment) = fragment {
                if real.extension().is_some_and(|e| e == "md") {
                    let target_text = std::fs::read_to_string(&real).unwrap();
                    if !anchors(&target_text).contains(fragment) {
                        errors.push(format!(
                            "{shown}: {} has no heading with anchor #{fragment}",
                            real.strip_prefix(&root).unwrap().display()
                        ));
                    }
                }
            }
        }
    }
}

/// Other projects' names the docs mention in backticks (ROS 2 tools).
const OTHER_PROJECTS_NAMES: &[&str] = &["foxglove_bridge", "rqt_plot"];

/// The text of everything the repository builds, configures and tests with (sources,
/// shipped configs, launch files, messages, tests and their fixtures), file names included:
/// a name the docs give must occur in it.
fn repository_text() -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    walk(&path, out);
                }
            } else if name != "docs_names.rs" {
                // (This file is skipped: its planted mistakes must not count as names.)
                out.push_str(&name);
                out.push('\n');
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push_str(&text);
                }
            }
        }
    }
    let mut out = String::new();
    for dir in [
        "src", "crates", "config", "launch", "msg", "tests", "benches", "fuzz", ".ci",
    ] {
        walk(&repo().join(dir), &mut out);
    }
    for file in ["Cargo.toml", "CMakeLists.txt", "package.xml"] {
        out.push_str(&std::fs::read_to_string(repo().join(file)).unwrap_or_default());
    }
    out
}

/// Every `snake_case` name in backticks (a config key, metric, tag, test, module or
/// function) must occur in the repository: a renamed key or metric leaves the docs wrong.
/// `docs/metrics.md` is generated from the catalogue and skipped.
fn check_names(repository: &str, file: &str, text: &str, errors: &mut Vec<String>) {
    if file == "docs/metrics.md" {
        return;
    }
    for (number, line) in text.lines().enumerate() {
        for span in line.split('`').skip(1).step_by(2) {
            let snake = span.contains('_')
                && span.starts_with(|c: char| c.is_ascii_lowercase())
                && span
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if snake && !OTHER_PROJECTS_NAMES.contains(&span) && !repository.contains(span) {
                errors.push(format!(
                    "{file}:{}: `{span}` occurs nowhere in the repository",
                    number + 1
                ));
            }
        }
    }
}

#[test]
fn readme_and_docs_name_only_what_the_code_has() {
    let cli = Cli::load();
    let topics = code_topics();
    assert!(topics.contains("command_latency"), "{topics:?}");
    let repository = repository_text();
    let mut errors = Vec::new();
    for (file, text) in documents() {
        check_flags(&cli, &file, &text, &mut errors);
        check_topics(&topics, &file, &text, &mut errors);
        check_links(&file, &text, &mut errors);
        check_names(&repository, &file, &text, &mut errors);
    }
    assert!(
        errors.is_empty(),
        "README.md / docs name things the code does not have:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let cli = Cli::load();
    let topics = code_topics();
    let doc = "```sh\nvla-perf bench s.yaml --bogus-flag\nvla-perf frobnicate\n\
               collector --nope --ros-args -p x:=1 --params-file f\n```\n\
               Prose `--no-such-option`, `/vla_perf/no_such_topic`, [x](no/such/file.md), \
               [y](#no-such-heading).\n# Heading\n[ok](#heading) `vla-perf demo --degrade` \
               `/vla_perf/metrics`\n";
    let mut errors = Vec::new();
    check_flags(&cli, "docs/x.md", doc, &mut errors);
    check_topics(&topics, "docs/x.md", doc, &mut errors);
    check_links("README.md", doc, &mut errors);
    let repository = repository_text();
    check_names(
        &repository,
        "docs/x.md",
        "`publish_period` and `publish_perod`",
        &mut errors,
    );
    let all = errors.join("\n");
    for expected in [
        "docs/x.md:2: `vla-perf bench` has no option --bogus-flag",
        "docs/x.md:3: `vla-perf frobnicate`",
        "docs/x.md:4: `collector` has no option --nope",
        "docs/x.md:6: --no-such-option is an option of no vla_perf binary",
        "docs/x.md:6: /vla_perf/no_such_topic",
        "README.md:6: link (no/such/file.md): no file",
        "README.md:6: link (#no-such-heading): README.md has no heading",
        "docs/x.md:1: `publish_perod` occurs nowhere in the repository",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    assert_eq!(errors.len(), 8, "{all}");
}
