//! Webhook: the notification as JSON in an HTTP POST, with a timeout per attempt.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{payload, Error, Notifier, Result};
use crate::core::alert::Notification;

/// POSTs every notification to one URL.
pub struct WebhookNotifier {
    id: String,
    url: String,
    agent: ureq::Agent,
}

impl WebhookNotifier {
    /// A webhook to `url`; each attempt gives up after `timeout`.
    pub fn new(id: String, url: &str, timeout: Duration) -> Self {
        Self {
            id,
            url: url.to_owned(),
            agent: agent(timeout),
        }
    }
}

/// An HTTP agent whose whole request (connect, send, answer) is bounded by `timeout`; any
/// status >= 400 is an error.
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// POSTs `body` as JSON on a blocking thread (ureq is synchronous).
pub(super) async fn post_json(
    agent: &ureq::Agent,
    channel: &str,
    url: &str,
    body: serde_json::Value,
) -> Result<()> {
    let agent = agent.clone();
    let target = url.to_owned();
    let result = tokio::task::spawn_blocking(move || {
        agent
            .post(&target)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map(|_| ())
    })
    .await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(Error::Post {
            channel: channel.to_owned(),
            url: url.to_owned(),
            source: Box::new(source),
        }),
        Err(source) => Err(Error::PostTask {
            channel: channel.to_owned(),
            url: url.to_owned(),
            source,
        }),
    }
}

impl Notifier for WebhookNotifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(post_json(&self.agent, &self.id, &self.url, payload(n)))
    }
}
