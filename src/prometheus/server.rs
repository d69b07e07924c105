//! The HTTP/1 listener behind [`Exporter::serve`](super::Exporter::serve).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::{Error, Exporter, Result, CONTENT_TYPE as OPENMETRICS, METRICS_PATH};

/// Pause after a failed accept (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running `/metrics` endpoint; dropping it stops the listener.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    // Dropping the sender is the stop signal: every receiver's `changed()` then fails.
    stop: watch::Sender<()>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    /// The address actually bound (the chosen port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets in-flight scrapes finish, and waits until all connections closed.
    pub async fn shutdown(self) {
        let ServerHandle { stop, task, .. } = self;
        drop(stop);
        if let Err(error) = task.await {
            tracing::warn!(%error, "Prometheus endpoint task ended abnormally");
        }
    }
}

pub(super) async fn serve(exporter: Exporter, addr: SocketAddr) -> Result<ServerHandle> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| Error::LocalAddr { addr, source })?;
    let (stop, stopped) = watch::channel(());
    let task = tokio::spawn(accept_loop(listener, exporter, stopped));
    tracing::info!("serving Prometheus metrics on http://{local_addr}{METRICS_PATH}");
    Ok(ServerHandle {
        local_addr,
        stop,
        task,
    })
}

async fn accept_loop(listener: TcpListener, exporter: Exporter, mut stopped: watch::Receiver<()>) {
    let mut builder = http1::Builder::new();
    // With a timer hyper enforces its default header read timeout against idle clients.
    builder.timer(TokioTimer::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let exporter = exporter.clone();
                    let service = service_fn(move |request| {
                        let response = respond(&exporter, &request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let mut stopped = stopped.clone();
                    connections.spawn(async move {
                        tokio::pin!(connection);
                        let result = tokio::select! {
                            result = connection.as_mut() => result,
                            _ = stopped.changed() => {
                                connection.as_mut().graceful_shutdown();
                                connection.await
                            }
                        };
                        if let Err(error) = result {
                            tracing::debug!(%peer, %error, "Prometheus scrape connection failed");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "Prometheus endpoint cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

fn respond(exporter: &Exporter, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != METRICS_PATH {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match exporter.encode() {
        Ok(text) => {
            let mut response = Response::new(Full::new(Bytes::from(text)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
            response
        }
        Err(error) => {
            tracing::warn!(%error, "cannot encode Prometheus metrics");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n")
        }
    }
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::super::{Exporter, DEFAULT_LISTEN};
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, TcpStream};
    use std::time::Instant;

    /// Status, content type and body of one request, made by a real HTTP client.
    async fn fetch(method: &'static str, url: String) -> (u16, String, String) {
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .proxy(None)
                .build()
                .into();
            let mut response = match method {
                "GET" => agent.get(&url).call(),
                "HEAD" => agent.head(&url).call(),
                _ => agent.post(&url).send_empty(),
            }
            .expect("request");
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .map(|value| value.to_str().unwrap_or_default().to_owned())
                .unwrap_or_default();
            let body = response.body_mut().read_to_string().unwrap_or_default();
            (response.status().as_u16(), content_type, body)
        })
        .await
        .expect("client thread")
    }

    fn loopback_any_port() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
    }

    #[tokio::test]
    async fn metrics_path_answers_openmetrics_text() {
        let exporter = Exporter::new("r1");
        exporter.observe_stage_latency("plan", 0.2);
        let server = exporter.serve(loopback_any_port()).await.unwrap();
        let url = format!("http://{}/metrics", server.local_addr());
        let (status, content_type, body) = fetch("GET", url).await;
        assert_eq!(status, 200);
        assert_eq!(content_type, OPENMETRICS);
        assert!(body.contains(r#"vla_perf_stage_latency_seconds_count{robot="r1",stage="plan"} 1"#));
        assert!(body.ends_with("# EOF\n"), "{body}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn other_paths_answer_404_and_other_methods_405() {
        let server = Exporter::new("r1")
            .serve(loopback_any_port())
            .await
            .unwrap();
        let base = format!("http://{}", server.local_addr());
        for path in ["/", "/metrics/", "/metricsx", "/favicon.ico"] {
            let (status, _, _) = fetch("GET", format!("{base}{path}")).await;
            assert_eq!(status, 404, "{path}");
        }
        let (status, _, _) = fetch("POST", format!("{base}/metrics")).await;
        assert_eq!(status, 405);
        let (status, content_type, body) = fetch("HEAD", format!("{base}/metrics")).await;
        assert_eq!(
            (status, content_type.as_str(), body.as_str()),
            (200, OPENMETRICS, "")
        );
    }

    #[tokio::test]
    async fn default_address_with_port_zero_binds_loopback_only() {
        let addr = SocketAddr::new(DEFAULT_LISTEN.ip(), 0);
        let server = Exporter::new("r1").serve(addr).await.unwrap();
        assert_eq!(server.local_addr().ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(server.local_addr().port(), 0);
    }

    #[tokio::test]
    async fn shutdown_closes_the_listener() {
        let server = Exporter::new("r1")
            .serve(loopback_any_port())
            .await
            .unwrap();
        let addr = server.local_addr();
        assert!(TcpStream::connect(addr).is_ok());
        server.shutdown().await;
        assert!(TcpStream::connect(addr).is_err());
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_server() {
        let server = Exporter::new("r1")
            .serve(loopback_any_port())
            .await
            .unwrap();
        let addr = server.local_addr();
        drop(server);
        // The accept task notices on its next poll; give it a bounded while.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_ok() {
            assert!(Instant::now() < deadline, "still listening on {addr}");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn an_address_in_use_is_a_bind_error_naming_it() {
        let first = Exporter::new("r1")
            .serve(loopback_any_port())
            .await
            .unwrap();
        let taken = first.local_addr();
        let error = Exporter::new("r1").serve(taken).await.unwrap_err();
        assert!(
            matches!(error, Error::Bind { addr, .. } if addr == taken),
            "{error:?}"
        );
        assert!(error.to_string().contains(&taken.to_string()), "{error}");
    }
}
