//! A stand-in for the Composite resource in front of the org simulator, shared by the live
//! tests and the timing example.

use serde_json::{json, Value};

/// The simulator has no Composite resource (`POST /services/data/vNN.N/composite`), which
/// the CLI transport uses to run several query chunks in one `sf` process. This proxy sits
/// in front of it, serves that resource by running each GET subrequest against the
/// simulator, and passes everything else through unchanged, so the simulator still sees
/// (and counts and logs) every query.
pub struct CompositeProxy {
    pub url: String,
    _runtime: tokio::runtime::Runtime,
}

impl CompositeProxy {
    pub fn start(target: &str) -> CompositeProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = std::sync::Arc::new(target.to_string());
        let app = axum::Router::new()
            .fallback(proxy_request)
            .with_state(target);
        runtime.spawn(async move { axum::serve(listener, app).await });
        CompositeProxy {
            url,
            _runtime: runtime,
        }
    }
}

async fn proxy_request(
    axum::extract::State(target): axum::extract::State<std::sync::Arc<String>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let (status, content_type, text) =
        tokio::task::spawn_blocking(move || forward(&target, &parts, &body))
            .await
            .unwrap();
    (
        axum::http::StatusCode::from_u16(status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, content_type)],
        text,
    )
        .into_response()
}

fn forward(target: &str, parts: &axum::http::request::Parts, body: &[u8]) -> (u16, String, String) {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if parts.method == "POST" && path.trim_end_matches('/').ends_with("/composite") {
        let request: Value = serde_json::from_slice(body).unwrap();
        let answers: Vec<Value> = request["compositeRequest"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sub| {
                let (status, _, text) =
                    send(target, "GET", sub["url"].as_str().unwrap(), &auth, None);
                json!({
                    "body": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
                    "httpHeaders": {},
                    "httpStatusCode": status,
                    "referenceId": sub["referenceId"],
                })
            })
            .collect();
        let answer = json!({ "compositeResponse": answers }).to_string();
        return (200, "application/json;charset=UTF-8".into(), answer);
    }
    let body = (!body.is_empty()).then_some(body);
    send(target, parts.method.as_str(), path, &auth, body)
}

fn send(
    target: &str,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<&[u8]>,
) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{target}{path}"))
        .header("authorization", auth)
        .header("content-type", "application/json");
    let response = match body {
        Some(body) => agent.run(request.body(body.to_vec()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    let mut response = response.unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), content_type, text)
}
