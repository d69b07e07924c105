//! Email over SMTP (lettre, tokio, rustls). Host, port and TLS mode come from the config;
//! credentials only from the environment, and they are never logged.

use futures::future::BoxFuture;
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{rfc3339, Error, Notifier, Result};
use crate::config::{Channel, SmtpTls};
use crate::core::alert::{Notification, State};

/// Environment variable holding the SMTP user name.
pub const SMTP_USERNAME_VAR: &str = "VLA_PERF_SMTP_USERNAME";
/// Environment variable holding the SMTP password.
pub const SMTP_PASSWORD_VAR: &str = "VLA_PERF_SMTP_PASSWORD";

/// Sends one mail per notification to every recipient.
pub struct EmailNotifier {
    id: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl EmailNotifier {
    /// The notifier of an `email` channel.
    pub fn new(id: String, channel: &Channel) -> Result<Self> {
        let Channel::Email {
            recipients,
            smtp_server,
            from,
            tls,
        } = channel
        else {
            return Err(Error::Config {
                channel: id,
                message: "not an email channel".into(),
            });
        };
        let bad = |message: String| Error::Config {
            channel: id.clone(),
            message,
        };
        let parse = |address: &str| {
            address.parse::<Mailbox>().map_err(|source| Error::Address {
                channel: id.clone(),
                address: address.to_owned(),
                source,
            })
        };
        let from = parse(from)?;
        let to = recipients
            .iter()
            .map(|r| parse(r))
            .collect::<Result<Vec<_>>>()?;
        let (host, port) = smtp_server
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| bad(format!("smtp_server {smtp_server:?} is not host:port")))?;
        let relay = |tls: &'static str, source| Error::SmtpRelay {
            channel: id.clone(),
            tls,
            host: host.to_owned(),
            source,
        };
        let builder = match tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| relay("starttls", e))?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| relay("tls", e))?
            }
        }
        .port(port)
        .timeout(Some(std::time::Duration::from_secs(10)));
        let builder = match (
            std::env::var(SMTP_USERNAME_VAR),
            std::env::var(SMTP_PASSWORD_VAR),
        ) {
            (Ok(user), Ok(password)) => {
                if *tls == SmtpTls::None && !is_loopback(host) {
                    tracing::warn!(
                        "{id}: SMTP credentials would cross the network unencrypted; \
                         set `tls: starttls` or `tls: tls`"
                    );
                }
                builder.credentials(Credentials::new(user, password))
            }
            _ => builder,
        };
        Ok(Self {
            id,
            from,
            to,
            transport: builder.build(),
        })
    }

    /// The mail for a notification.
    fn message(&self, n: &Notification) -> Result<Message> {
        let robot = n.labels.get("robot_id").map_or("", String::as_str);
        let status = match n.status {
            State::Resolved => "RESOLVED".to_owned(),
            _ => format!("FIRING {}", n.severity.as_str()),
        };
        let subject = if robot.is_empty() {
            format!("[vla_perf] {status}: {}", n.rule)
        } else {
            format!("[vla_perf] {status}: {} on {robot}", n.rule)
        };
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("  {k}={v}")).collect();
        let body = format!(
            "{message}\n\nrule: {rule}\nmetric: {metric}\nvalue: {value}\nwarning threshold: {warning}\ncritical threshold: {critical}\nstatus: {status_word}\nseverity: {severity}\nstarted: {start}\n{end}alert id: {alert_id}\nnotification id: {id}\nlabels:\n{labels}\n",
            message = n.message,
            rule = n.rule,
            metric = n.metric,
            value = n.value.map_or_else(|| "no data".to_owned(), |v| v.to_string()),
            warning = n.warning,
            critical = n.critical,
            status_word = n.status.as_str(),
            severity = n.severity.as_str(),
            start = rfc3339(n.starts_at),
            end = n
                .ends_at
                .map(|e| format!("resolved: {}\n", rfc3339(e)))
                .unwrap_or_default(),
            alert_id = n.alert_id,
            id = n.id,
            labels = labels.join("\n"),
        );
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.body(body).map_err(|source| Error::BuildMail {
            channel: self.id.clone(),
            source,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Notifier for EmailNotifier {
    fn id(&self) -> &str {
        &self.id
    }

    fn deliver<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let message = self.message(n)?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|source| Error::Smtp {
                    channel: self.id.clone(),
                    source,
                })
        })
    }
}
