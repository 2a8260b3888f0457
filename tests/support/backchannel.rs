#![allow(dead_code)]
//! A relying party's back-channel logout endpoint (Back-Channel Logout 1.0
//! §2.5) on loopback: records every POST.

use std::sync::{Arc, Mutex};

/// A relying party's back-channel logout endpoint: records every body.
pub struct Receiver {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let router = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |body: String| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(body);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, bodies, _server: server }
    }

    pub fn tokens(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                url::form_urlencoded::parse(b.as_bytes()).find(|(k, _)| k == "logout_token").unwrap().1.into_owned()
            })
            .collect()
    }
}
