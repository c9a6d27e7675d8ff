//! Test support: the official X OpenAPI file as a request validator, and
//! fixtures shaped like X's documentation.
#![allow(dead_code, missing_docs)]

use regex::Regex;
use serde_json::Value;

pub const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/specs/x-api-v2.openapi.json"
);

/// Skips a test loudly when the shared spec is absent.
#[macro_export]
macro_rules! spec_or_skip {
    () => {
        match $crate::support::Spec::load() {
            Some(spec) => spec,
            None => {
                eprintln!(
                    "\n*** SKIPPED: X API spec not found at {} (shared/ is absent) ***\n",
                    $crate::support::SPEC_PATH
                );
                return;
            }
        }
    };
}

/// The X API v2 OpenAPI description.
pub struct Spec {
    doc: Value,
}

impl Spec {
    pub fn load() -> Option<Self> {
        let text = std::fs::read_to_string(SPEC_PATH).ok()?;
        Some(Self {
            doc: serde_json::from_str(&text).expect("the spec file is JSON"),
        })
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let mut cur = &self.doc;
            for part in r.trim_start_matches("#/").split('/') {
                cur = &cur[part];
            }
            v = cur;
        }
        v
    }

    /// The path template matching `path` (most literal segments wins).
    fn template(&self, path: &str) -> Option<&str> {
        let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(&str, usize)> = None;
        for tpl in self.doc["paths"].as_object()?.keys() {
            let t: Vec<&str> = tpl.split('/').collect();
            if t.len() != segs.len() {
                continue;
            }
            let mut literal = 0;
            let ok = t.iter().zip(&segs).all(|(a, b)| {
                if a.starts_with('{') {
                    !b.is_empty()
                } else if a == b {
                    literal += 1;
                    true
                } else {
                    false
                }
            });
            if ok && best.is_none_or(|(_, l)| literal > l) {
                best = Some((tpl, literal));
            }
        }
        best.map(|(t, _)| t)
    }

    /// Checks one request against the spec: path and method exist, every
    /// path and query parameter is declared and matches its schema, required
    /// ones are present, and the JSON body matches the request schema.
    pub fn validate(&self, method: &str, url: &url::Url, body: &[u8]) -> Result<String, String> {
        let path = url.path();
        let tpl = self
            .template(path)
            .ok_or_else(|| format!("no path in the spec matches {path}"))?;
        let item = &self.doc["paths"][tpl];
        let op = item
            .get(method.to_ascii_lowercase())
            .ok_or_else(|| format!("{method} is not defined for {tpl}"))?;
        let mut params: Vec<&Value> = Vec::new();
        for p in item["parameters"].as_array().into_iter().flatten() {
            params.push(self.resolve(p));
        }
        for p in op["parameters"].as_array().into_iter().flatten() {
            params.push(self.resolve(p));
        }
        // Path parameters.
        for (t, actual) in tpl.split('/').zip(path.split('/')) {
            if let Some(name) = t.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                let p = params
                    .iter()
                    .find(|p| p["name"] == name && p["in"] == "path")
                    .ok_or_else(|| format!("path parameter {name} not declared"))?;
                self.check_value(&p["schema"], actual, p)
                    .map_err(|e| format!("path parameter {name}={actual:?}: {e}"))?;
            }
        }
        // Query parameters.
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        for (name, value) in &pairs {
            let p = params
                .iter()
                .find(|p| p["name"] == name.as_str() && p["in"] == "query")
                .ok_or_else(|| {
                    format!("query parameter {name} is not declared for {method} {tpl}")
                })?;
            self.check_value(&p["schema"], value, p)
                .map_err(|e| format!("query parameter {name}={value:?}: {e}"))?;
        }
        for p in &params {
            if p["in"] == "query" && p["required"] == true {
                let name = p["name"].as_str().unwrap_or_default();
                if !pairs.iter().any(|(n, _)| n == name) {
                    return Err(format!("required query parameter {name} missing"));
                }
            }
        }
        // Body.
        if let Some(rb) = op.get("requestBody") {
            let rb = self.resolve(rb);
            if body.is_empty() {
                if rb["required"] == true {
                    return Err("request body required".into());
                }
            } else {
                let schema = &rb["content"]["application/json"]["schema"];
                let json: Value =
                    serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
                self.check_json(schema, &json, "body")?;
            }
        } else if !body.is_empty() {
            return Err(format!("{method} {tpl} takes no body"));
        }
        Ok(format!("{} {tpl}", method.to_ascii_uppercase()))
    }

    fn check_value(&self, schema: &Value, value: &str, param: &Value) -> Result<(), String> {
        let schema = self.resolve(schema);
        match schema["type"].as_str() {
            Some("integer") => {
                let n: i64 = value.parse().map_err(|_| "not an integer".to_string())?;
                if let Some(min) = schema["minimum"].as_i64()
                    && n < min
                {
                    return Err(format!("{n} < minimum {min}"));
                }
                if let Some(max) = schema["maximum"].as_i64()
                    && n > max
                {
                    return Err(format!("{n} > maximum {max}"));
                }
                Ok(())
            }
            Some("array") => {
                // style=form, explode=false: comma-separated.
                assert_eq!(param["explode"], false, "only comma arrays handled");
                let items: Vec<&str> = value.split(',').collect();
                if let Some(min) = schema["minItems"].as_u64()
                    && (items.len() as u64) < min
                {
                    return Err("too few items".into());
                }
                if schema["uniqueItems"] == true {
                    let mut seen = std::collections::HashSet::new();
                    if !items.iter().all(|i| seen.insert(*i)) {
                        return Err("duplicate items".into());
                    }
                }
                for item in items {
                    self.check_value(&schema["items"], item, param)?;
                }
                Ok(())
            }
            _ => self.check_string(schema, value),
        }
    }

    fn check_string(&self, schema: &Value, value: &str) -> Result<(), String> {
        if let Some(pattern) = schema["pattern"].as_str() {
            let re = Regex::new(pattern).map_err(|e| format!("bad pattern in spec: {e}"))?;
            if !re.is_match(value) {
                return Err(format!("does not match {pattern}"));
            }
        }
        if let Some(min) = schema["minLength"].as_u64()
            && (value.chars().count() as u64) < min
        {
            return Err(format!("shorter than minLength {min}"));
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.iter().any(|v| v == value)
        {
            return Err(format!("{value:?} not in enum"));
        }
        Ok(())
    }

    fn check_json(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = schema[key].as_array() {
                let errors: Vec<String> = options
                    .iter()
                    .filter_map(|o| self.check_json(o, v, at).err())
                    .collect();
                return if errors.len() < options.len() {
                    Ok(())
                } else {
                    Err(format!("{at}: matches none of {key}: {errors:?}"))
                };
            }
        }
        match schema["type"].as_str() {
            Some("object") => {
                let obj = v.as_object().ok_or(format!("{at}: not an object"))?;
                for r in schema["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap_or_default();
                    if !obj.contains_key(r) {
                        return Err(format!("{at}: required field {r} missing"));
                    }
                }
                let props = schema["properties"].as_object();
                for (k, val) in obj {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => self.check_json(s, val, &format!("{at}.{k}"))?,
                        None if schema["additionalProperties"] == false => {
                            return Err(format!("{at}: field {k} not allowed"));
                        }
                        None => {}
                    }
                }
                Ok(())
            }
            Some("string") => {
                let s = v.as_str().ok_or(format!("{at}: not a string"))?;
                self.check_string(schema, s)
                    .map_err(|e| format!("{at}: {e}"))
            }
            Some("boolean") if !v.is_boolean() => Err(format!("{at}: not a boolean")),
            Some("integer") if !v.is_i64() => Err(format!("{at}: not an integer")),
            Some("array") => {
                let items = v.as_array().ok_or(format!("{at}: not an array"))?;
                for (i, item) in items.iter().enumerate() {
                    self.check_json(&schema["items"], item, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Validates every request a mock server received; returns the
    /// operations seen.
    pub fn validate_all(&self, requests: &[wiremock::Request]) -> Vec<String> {
        assert!(!requests.is_empty(), "no requests were made");
        requests
            .iter()
            .map(|r| {
                let auth = r
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(
                    auth.starts_with("OAuth ") || auth.starts_with("Bearer "),
                    "request without OAuth/Bearer authorization: {}",
                    r.url
                );
                self.validate(r.method.as_str(), &r.url, &r.body)
                    .unwrap_or_else(|e| panic!("{} {} violates the X spec: {e}", r.method, r.url))
            })
            .collect()
    }
}

pub const BRAND: &str = "2244994945";
pub const CUSTOMER: &str = "6253282";

/// A v2 tweet as `GET /2/users/{id}/mentions` returns it with our fields.
pub fn v2_tweet(
    id: &str,
    author: &str,
    text: &str,
    conversation: &str,
    replied_to: Option<&str>,
) -> Value {
    let mut t = serde_json::json!({
        "id": id,
        "text": text,
        "author_id": author,
        "conversation_id": conversation,
        "created_at": "2026-03-02T09:00:00.000Z",
        "edit_history_tweet_ids": [id],
    });
    if let Some(parent) = replied_to {
        t["referenced_tweets"] = serde_json::json!([{ "type": "replied_to", "id": parent }]);
        t["in_reply_to_user_id"] =
            serde_json::json!(if author == BRAND { CUSTOMER } else { BRAND });
    }
    t
}

pub fn v2_user(id: &str, username: &str, followers: u64) -> Value {
    serde_json::json!({
        "id": id,
        "name": username.to_uppercase(),
        "username": username,
        "verified": false,
        "public_metrics": { "followers_count": followers, "following_count": 10, "tweet_count": 100, "listed_count": 1 }
    })
}

/// A mentions page: tweets newest first, with `includes.users` and `meta`.
pub fn mentions_page(tweets: Vec<Value>, next_token: Option<&str>) -> Value {
    let newest = tweets.first().map(|t| t["id"].clone());
    let oldest = tweets.last().map(|t| t["id"].clone());
    let mut meta = serde_json::json!({ "result_count": tweets.len() });
    if let Some(n) = newest {
        meta["newest_id"] = n;
        meta["oldest_id"] = oldest.unwrap_or_default();
    }
    if let Some(t) = next_token {
        meta["next_token"] = serde_json::json!(t);
    }
    if tweets.is_empty() {
        return serde_json::json!({ "meta": { "result_count": 0 } });
    }
    serde_json::json!({
        "data": tweets,
        "includes": { "users": [v2_user(CUSTOMER, "ann", 1234), v2_user(BRAND, "acme", 99000)] },
        "meta": meta,
    })
}

pub fn dm_event(id: &str, sender: &str, text: &str) -> Value {
    serde_json::json!({
        "id": id,
        "event_type": "MessageCreate",
        "text": text,
        "sender_id": sender,
        "dm_conversation_id": format!("{CUSTOMER}-{BRAND}"),
        "created_at": "2026-03-02T09:05:00.000Z",
    })
}

pub fn dm_page(events: Vec<Value>, next_token: Option<&str>) -> Value {
    let mut meta = serde_json::json!({ "result_count": events.len() });
    if let Some(t) = next_token {
        meta["next_token"] = serde_json::json!(t);
    }
    serde_json::json!({
        "data": events,
        "includes": { "users": [v2_user(CUSTOMER, "ann", 1234)] },
        "meta": meta,
    })
}

pub fn rate_headers(
    template: wiremock::ResponseTemplate,
    limit: u64,
    remaining: u64,
    reset: i64,
) -> wiremock::ResponseTemplate {
    template
        .insert_header("x-rate-limit-limit", limit.to_string().as_str())
        .insert_header("x-rate-limit-remaining", remaining.to_string().as_str())
        .insert_header("x-rate-limit-reset", reset.to_string().as_str())
}
