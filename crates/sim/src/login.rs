//! The login handshake `sf` makes (`/services/oauth2/userinfo`), the Versions URI and the
//! resource map of a version.

use axum::extract::{Path, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::state::{org_id, SimState};
use crate::wire::{check_version, json_response, LATEST_API_VERSION};

pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

pub(crate) async fn userinfo(State(state): State<SimState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let instance = state.instance();
    let org = org_id(&instance);
    let user_id = instance.api_user_id.clone();
    let user = instance.org.find("User", &user_id);
    let field = |k: &str| {
        user.and_then(|u| u.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let username = field("Username");
    let v = format!("{LATEST_API_VERSION}.0");
    json_response(
        StatusCode::OK,
        &json!({
            "sub": format!("{base}/id/{org}/{user_id}"),
            "user_id": user_id,
            "organization_id": org,
            "preferred_username": username,
            "nickname": username.split('@').next().unwrap_or(""),
            "name": field("Name"),
            "email": field("Email"),
            "email_verified": true,
            "given_name": field("FirstName"),
            "family_name": field("LastName"),
            "zoneinfo": "America/Los_Angeles",
            "photos": {
                "picture": format!("{base}/profilephoto/005/F"),
                "thumbnail": format!("{base}/profilephoto/005/T"),
            },
            "profile": format!("{base}/{user_id}"),
            "picture": format!("{base}/profilephoto/005/F"),
            "address": {},
            "is_salesforce_integration_user": false,
            "urls": {
                "enterprise": format!("{base}/services/Soap/c/{{version}}/{org}"),
                "partner": format!("{base}/services/Soap/u/{{version}}/{org}"),
                "rest": format!("{base}/services/data/v{{version}}/"),
                "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
                "search": format!("{base}/services/data/v{{version}}/search/"),
                "query": format!("{base}/services/data/v{{version}}/query/"),
                "recent": format!("{base}/services/data/v{{version}}/recent/"),
                "tooling_rest": format!("{base}/services/data/v{{version}}/tooling/"),
                "profile": format!("{base}/{user_id}"),
                "custom_domain": base,
            },
            "active": true,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -28_800_000,
            "updated_at": instance.org.find("User", &user_id).and_then(|u| u.get("LastModifiedDate")).cloned().unwrap_or(Value::Null),
            "api_version": v,
        }),
    )
}

/// Release names of API versions: v62.0 is Winter '25, and there are three releases a year.
pub(crate) fn release_label(major: u32) -> String {
    let index = i64::from(major) - 62 + 75;
    let season = ["Winter", "Spring", "Summer"][index.rem_euclid(3) as usize];
    format!("{season} '{:02}", index.div_euclid(3))
}

pub(crate) async fn versions() -> Response {
    let list: Vec<Value> = (20..=LATEST_API_VERSION)
        .map(|v| {
            json!({
                "label": release_label(v),
                "url": format!("/services/data/v{v}.0"),
                "version": format!("{v}.0"),
            })
        })
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

pub(crate) async fn resources(Path(version): Path<String>) -> Response {
    let v = match check_version(&version) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut map = Map::new();
    for name in [
        "tooling",
        "metadata",
        "eclair",
        "folders",
        "prechatForms",
        "contact-tracing",
        "jsonxform",
        "chatter",
        "tabs",
        "appMenu",
        "quickActions",
        "queryAll",
        "commerce",
        "wave",
        "iot",
        "analytics",
        "search",
        "smartdatadiscovery",
        "identity",
        "composite",
        "parameterizedSearch",
        "fingerprint",
        "theme",
        "nouns",
        "event",
        "serviceTemplates",
        "recent",
        "connect",
        "licensing",
        "limits",
        "process",
        "dedupe",
        "async-queries",
        "query",
        "match",
        "emailConnect",
        "compactLayouts",
        "knowledgeManagement",
        "sobjects",
        "actions",
        "support",
    ] {
        let url = if name == "identity" {
            "/id".to_string()
        } else {
            format!("/services/data/{v}/{name}")
        };
        map.insert(name.into(), Value::String(url));
    }
    json_response(StatusCode::OK, &Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_labels() {
        assert_eq!(release_label(62), "Winter '25");
        assert_eq!(release_label(61), "Summer '24");
        assert_eq!(release_label(60), "Spring '24");
        assert_eq!(release_label(20), "Winter '11");
    }
}
