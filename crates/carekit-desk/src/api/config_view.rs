//! `GET /api/admin/config` (admin): the configuration the desk runs with,
//! defaults filled in, as JSON. Secrets never appear: the file holds none,
//! a password in the store URL (or any URL the file names) is replaced by
//! `***`, and each secret the desk knows of is listed by name with whether
//! it is set.

use super::ApiState;
use crate::config::{DeskConfig, SECRET_NAMES, Secrets};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The effective configuration and the secrets' names, computed once when
/// the server is built (neither changes while it runs; a credential swap
/// changes values, never names).
pub(crate) fn effective(config: &DeskConfig, secrets: &Secrets) -> Value {
    let mut names: BTreeSet<&str> = SECRET_NAMES.iter().copied().collect();
    names.extend(config.notify.iter().filter_map(|n| n.url_secret.as_deref()));
    let secrets: Vec<Value> = names
        .into_iter()
        .map(|name| {
            let needed_by = config
                .notify
                .iter()
                .position(|n| n.url_secret.as_deref() == Some(name))
                .map(|i| format!("[[notify]] entry {}", i + 1));
            json!({ "name": name, "set": secrets.get(name).is_some(), "needed_by": needed_by })
        })
        .collect();
    // Serializing plain settings cannot fail; an empty object would only
    // hide settings, never show a secret.
    let config = serde_json::to_value(config).unwrap_or_else(|_| json!({}));
    json!({ "config": config, "secrets": secrets })
}

/// `GET /api/admin/config` (admin).
pub(crate) async fn show(State(state): State<ApiState>) -> Json<Value> {
    Json(state.config.as_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::effective;
    use crate::config::{DeskConfig, Secrets};

    #[test]
    fn a_store_password_and_secret_values_never_show() {
        let config = DeskConfig::from_toml_str(
            "[store]\nurl = \"postgres://carekit:hunter2@db/care?password=hunter3\"\n\
             [[notify]]\nvia = \"chat\"\nurl_secret = \"CHAT_URL\"\n",
        )
        .unwrap();
        let secrets = Secrets::new()
            .with("CHAT_URL", "https://chat.example/T/B/s3cr3t")
            .with("FB_PAGE_TOKEN", "EAAB-page");
        let body = effective(&config, &secrets).to_string();
        for value in ["hunter2", "hunter3", "s3cr3t", "chat.example", "EAAB-page"] {
            assert!(!body.contains(value), "{value}: {body}");
        }
        assert!(
            body.contains("postgres://carekit:***@db/care?password=***"),
            "{body}"
        );
        assert!(
            body.contains(r#"{"name":"CHAT_URL","needed_by":"[[notify]] entry 1","set":true}"#),
            "{body}"
        );
    }
}
