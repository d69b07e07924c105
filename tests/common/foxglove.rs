//! A bare WebSocket client of the Foxglove server, for the tests that need to control the
//! connection itself (read the channel list, subscribe, then stop reading). Decoding with a
//! real Foxglove client is `tests/foxglove/client.mjs`'s job (tests/foxglove_client.rs).

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The subprotocol Foxglove's SDK servers negotiate (the `foxglove.websocket.v1` messages).
pub const SUBPROTOCOL: &str = "foxglove.sdk.v1";

/// One advertised channel.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: u64,
    pub topic: String,
    pub encoding: String,
    pub schema_name: String,
    pub schema_encoding: String,
    pub schema: String,
}

/// A connected client.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub server_info: Value,
    pub channels: Vec<Channel>,
}

impl Client {
    /// Connects to `url` and reads `serverInfo` and the channel advertisements until
    /// `expect` channels are known.
    pub async fn connect(url: &str, expect: usize) -> Self {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", SUBPROTOCOL.parse().unwrap());
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            SUBPROTOCOL,
            "negotiated subprotocol"
        );
        let mut client = Self {
            ws,
            server_info: Value::Null,
            channels: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while client.server_info.is_null() || client.channels.len() < expect {
            let message = tokio::time::timeout_at(deadline, client.ws.next())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{url}: {} of {expect} channels advertised",
                        client.channels.len()
                    )
                })
                .expect("connection open")
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            let op: Value = serde_json::from_str(&text).unwrap();
            match op["op"].as_str() {
                Some("serverInfo") => client.server_info = op,
                Some("advertise") => {
                    for c in op["channels"].as_array().unwrap() {
                        let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                        client.channels.push(Channel {
                            id: c["id"].as_u64().unwrap(),
                            topic: text("topic"),
                            encoding: text("encoding"),
                            schema_name: text("schemaName"),
                            schema_encoding: text("schemaEncoding"),
                            schema: text("schema"),
                        });
                    }
                }
                _ => {}
            }
        }
        client
    }

    /// Subscribes to every advertised channel (subscription id = channel id).
    pub async fn subscribe_all(&mut self) {
        let subscriptions: Vec<Value> = self
            .channels
            .iter()
            .map(|c| json!({"id": c.id, "channelId": c.id}))
            .collect();
        let op = json!({"op": "subscribe", "subscriptions": subscriptions});
        self.ws.send(Message::text(op.to_string())).await.unwrap();
    }

    /// The next message data frame: (subscription id, payload).
    pub async fn next_message(&mut self) -> (u32, Vec<u8>) {
        loop {
            match self.ws.next().await.expect("connection open").unwrap() {
                // opcode 1, subscription id u32, log time u64, payload (little endian)
                Message::Binary(data) if data.first() == Some(&1) => {
                    let id = u32::from_le_bytes(data[1..5].try_into().unwrap());
                    return (id, data[13..].to_vec());
                }
                _ => continue,
            }
        }
    }
}

/// The channel of `topic`.
pub fn channel<'a>(channels: &'a [Channel], topic: &str) -> &'a Channel {
    channels
        .iter()
        .find(|c| c.topic == topic)
        .unwrap_or_else(|| panic!("{topic} not advertised"))
}
