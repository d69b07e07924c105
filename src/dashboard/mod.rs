//! The live terminal dashboard (`vla-perf dashboard`, and `vla-perf demo` on a terminal).
//!
//! [`model`] is pure: it takes the collector's and the alert node's messages with their
//! receive times. [`view`] draws it with ratatui. This module wires both to the middleware
//! ([`subscribe`]: any running collector, through a node of its own) and to the terminal
//! ([`run_terminal`]: raw mode and the alternate screen, restored on exit and on panic).

pub mod model;
pub mod view;

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;

pub use model::{Dashboard, Update};
pub use view::{render, ViewContext};

use crate::msg::diagnostic_msgs::DiagnosticArray;
use crate::msg::{Alert, CommandLatency, MetricArray, ResourceUsage, RosMessage};
use crate::transport::{self, wall_clock, Node, Qos, Received, Subscription, Typed};

/// Updates queued between the middleware and the screen.
const QUEUE: usize = 1024;
/// How often the screen is redrawn.
pub const REDRAW_PERIOD: Duration = Duration::from_millis(250);

/// A message with the wall-clock time it was received (since the UNIX epoch).
pub type Timed = (Duration, Update);

fn forward<T>(
    node: &mut dyn Node,
    topic: &str,
    qos: Qos,
    tx: &mpsc::Sender<Timed>,
    wrap: fn(T) -> Update,
) -> transport::Result<()>
where
    T: RosMessage + serde::de::DeserializeOwned + Send + 'static,
{
    Subscription::<Typed<T>>::typed(node, topic, qos)?
        .forward(tx.clone(), move |r: Received<T>| {
            (r.received_at, wrap(r.message))
        });
    Ok(())
}

/// Subscribes `node` to everything the dashboard shows: `<namespace>/command_latency`,
/// `metrics`, `topic_health`, `resources`, `alerts` and `/diagnostics`. Updates arrive
/// on the returned receiver; the node must live as long as they are wanted.
pub fn subscribe(node: &mut dyn Node, namespace: &str) -> transport::Result<mpsc::Receiver<Timed>> {
    let ns = namespace.trim_end_matches('/');
    let (tx, rx) = mpsc::channel(QUEUE);
    forward::<CommandLatency>(
        node,
        &format!("{ns}/command_latency"),
        Qos::reliable(100),
        &tx,
        Update::Command,
    )?;
    for topic in ["metrics", "topic_health"] {
        forward::<MetricArray>(
            node,
            &format!("{ns}/{topic}"),
            Qos::reliable(10),
            &tx,
            Update::Metrics,
        )?;
    }
    forward::<ResourceUsage>(
        node,
        &format!("{ns}/resources"),
        Qos::reliable(10),
        &tx,
        Update::Resources,
    )?;
    forward::<Alert>(
        node,
        &format!("{ns}/alerts"),
        Qos::reliable(100),
        &tx,
        Update::Alert,
    )?;
    forward::<DiagnosticArray>(
        node,
        "/diagnostics",
        Qos::reliable(10),
        &tx,
        Update::Diagnostics,
    )?;
    Ok(rx)
}

/// How the terminal dashboard ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user pressed q, Esc or Ctrl-C.
    Quit,
    /// `done` resolved (the demo finished), or the updates stopped.
    Finished,
}

/// Restores the terminal when dropped, whichever way the dashboard leaves.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn is_quit(event: &crossterm::event::Event) -> bool {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers};
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)
                || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL))
        }
        _ => false,
    }
}

/// Shows the dashboard on the terminal (alternate screen, raw mode) until q / Esc / Ctrl-C
/// or until `done` resolves; the terminal is restored on return and, through ratatui's
/// panic hook, on panic. Returns how it ended and the final model.
pub async fn run_terminal(
    mut updates: mpsc::Receiver<Timed>,
    namespace: &str,
    note: &str,
    done: impl Future<Output = ()>,
) -> std::io::Result<(Ending, Dashboard)> {
    let mut terminal = ratatui::try_init()?;
    let _restore = Restore;
    let mut model = Dashboard::new();
    let mut events = crossterm::event::EventStream::new();
    let mut tick = tokio::time::interval(REDRAW_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut updates_open, mut events_open) = (true, true);
    tokio::pin!(done);
    let ending = loop {
        tokio::select! {
            _ = &mut done => break Ending::Finished,
            update = updates.recv(), if updates_open => match update {
                Some((at, update)) => {
                    model.apply(at, &update);
                    continue;
                }
                None => updates_open = false,
            },
            event = events.next(), if events_open => match event {
                Some(Ok(e)) if is_quit(&e) => break Ending::Quit,
                Some(Ok(_)) => {}
                // No terminal input any more: keep showing until done.
                Some(Err(_)) | None => events_open = false,
            },
            _ = tick.tick() => {}
        }
        let ctx = ViewContext {
            namespace: namespace.to_owned(),
            now: wall_clock(),
            note: note.to_owned(),
        };
        terminal.draw(|frame| render(frame, &model, &ctx))?;
    };
    Ok((ending, model))
}
