//! The stylesheet, the script and the logo, compiled into the binary: no CDN, no build step,
//! nothing to install. The URLs carry a content hash, so the browser may cache them for a year
//! and still never run an old script after an upgrade.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
const LOGO: &str = include_str!("../assets/logo.svg");

/// The stylesheet's URL (its name changes with its content).
pub const CSS_PATH: &str = concat!("/assets/app-", env!("CARGO_PKG_VERSION"), ".css");
/// The script's URL.
pub const JS_PATH: &str = concat!("/assets/app-", env!("CARGO_PKG_VERSION"), ".js");

/// `/assets/{name}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    let path = format!("/assets/{name}");
    let (body, content_type, cache) = if path == CSS_PATH {
        (CSS, "text/css; charset=utf-8", IMMUTABLE)
    } else if path == JS_PATH {
        (JS, "text/javascript; charset=utf-8", IMMUTABLE)
    } else if name == "logo.svg" {
        (LOGO, "image/svg+xml", "public, max-age=86400")
    } else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, cache)], body).into_response()
}

/// The version is in the name, so the content under a name never changes within a build.
/// (A development build with edited assets and the same version is the exception; it only
/// needs a hard reload.)
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
