//! Graph API errors mapped to carekit's `ChannelError`, which decides
//! whether the desk retries, waits, pauses the channel or gives up.
//!
//! | Graph code | meaning | `ChannelError` |
//! |---|---|---|
//! | 4, 17, 32, 613, 80000-80099 | throttled (app, user, page, custom, business use case) | `RateLimited` |
//! | 190, 102 | page token expired or revoked | `Unauthorized` (refresh the page token) |
//! | 10 with subcode 2018278 | Messenger window closed | `OutsideWindow` |
//! | 10, 200-299 | permission missing | `Unauthorized` (grant the permission) |
//! | 551, 10900, 368, subcodes 2018xxx, others | this request is refused | `Rejected` |
//! | 1, 2, `is_transient`, HTTP 5xx | Meta had a problem | `Server` (retryable) |

use carekit_core::ChannelError;
use serde::Deserialize;
use std::time::Duration;

/// `{"error": {...}}` as Graph sends it.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub(crate) error: GraphErrorBody,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GraphErrorBody {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) code: Option<i64>,
    #[serde(default)]
    pub(crate) error_subcode: Option<i64>,
    #[serde(default)]
    pub(crate) is_transient: Option<bool>,
    #[serde(default)]
    pub(crate) fbtrace_id: Option<String>,
}

/// Maps an HTTP error answer. `retry_after` is the wait to report for
/// throttling (from the usage headers, or the configured slowdown).
pub(crate) fn map_error(status: u16, body: &[u8], retry_after: Duration) -> ChannelError {
    let Ok(ErrorEnvelope { error }) = serde_json::from_slice::<ErrorEnvelope>(body) else {
        return match status {
            429 => ChannelError::RateLimited { retry_after },
            401 => ChannelError::Unauthorized {
                reason: format!("Graph API answered HTTP {status}; check the page access token"),
            },
            s if s >= 500 => ChannelError::Server { status: s },
            s => ChannelError::Rejected {
                code: Some(format!("http {s}")),
                reason: "Graph API refused the request without an error body".into(),
            },
        };
    };
    let code = error.code.unwrap_or_default();
    let subcode = error.error_subcode;
    let message = tidy(&error.message);
    let code_text = match subcode {
        Some(sub) => format!("{code}/{sub}"),
        None => code.to_string(),
    };
    if let Some(trace) = &error.fbtrace_id {
        tracing::debug!(code = %code_text, fbtrace_id = %trace, "Graph API error");
    }
    let outside_window = subcode == Some(2_018_278)
        || message
            .to_ascii_lowercase()
            .contains("outside of allowed window");
    match code {
        4 | 17 | 32 | 613 | 80_000..=80_099 => ChannelError::RateLimited { retry_after },
        190 | 102 => ChannelError::Unauthorized {
            reason: format!(
                "the page access token is expired or revoked (Graph error {code_text}: {message}); \
                 generate a new long-lived page access token and update the configuration"
            ),
        },
        10 if outside_window => ChannelError::OutsideWindow {
            reason: format!("Meta refused: outside the messaging window ({code_text}: {message})"),
        },
        10 | 200..=299 => ChannelError::Unauthorized {
            reason: format!(
                "the app or page token lacks a permission (Graph error {code_text}: {message}); \
                 grant pages_messaging, pages_manage_engagement and pages_read_user_content"
            ),
        },
        1 | 2 => ChannelError::Server {
            status: if status >= 500 { status } else { 503 },
        },
        _ if error.is_transient == Some(true) => ChannelError::Server {
            status: if status >= 500 { status } else { 503 },
        },
        _ if status >= 500 && subcode.is_none() && code == 0 => ChannelError::Server { status },
        _ => ChannelError::Rejected {
            code: Some(code_text),
            reason: message,
        },
    }
}

/// Keeps platform messages to one short line.
fn tidy(message: &str) -> String {
    let one_line: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, subcode: Option<i64>, message: &str) -> Vec<u8> {
        serde_json::json!({"error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_subcode": subcode, "fbtrace_id": "AbCdEf"
        }})
        .to_string()
        .into_bytes()
    }

    const WAIT: Duration = Duration::from_secs(120);

    #[test]
    fn throttling_codes_become_rate_limited() {
        for code in [4, 17, 32, 613, 80_001, 80_006] {
            assert_eq!(
                map_error(
                    400,
                    &err(code, None, "(#4) Application request limit reached"),
                    WAIT
                ),
                ChannelError::RateLimited { retry_after: WAIT },
                "code {code}"
            );
        }
    }

    #[test]
    fn expired_token_says_what_to_do() {
        let e = map_error(
            400,
            &err(
                190,
                Some(463),
                "Error validating access token: Session has expired",
            ),
            WAIT,
        );
        let ChannelError::Unauthorized { reason } = e else {
            panic!("{e:?}")
        };
        assert!(reason.contains("page access token"), "{reason}");
        assert!(reason.contains("190/463"));
    }

    #[test]
    fn permission_window_and_recipient_errors() {
        assert!(matches!(
            map_error(
                400,
                &err(
                    10,
                    Some(2_018_278),
                    "(#10) This message is sent outside of allowed window."
                ),
                WAIT
            ),
            ChannelError::OutsideWindow { .. }
        ));
        assert!(matches!(
            map_error(
                403,
                &err(
                    200,
                    None,
                    "(#200) Requires pages_manage_engagement permission"
                ),
                WAIT
            ),
            ChannelError::Unauthorized { .. }
        ));
        assert!(matches!(
            map_error(400, &err(551, None, "This person isn't available right now."), WAIT),
            ChannelError::Rejected { code: Some(c), .. } if c == "551"
        ));
        assert!(matches!(
            map_error(400, &err(100, Some(2_018_001), "No matching user found"), WAIT),
            ChannelError::Rejected { code: Some(c), .. } if c == "100/2018001"
        ));
        assert!(matches!(
            map_error(400, &err(10_900, None, "Activity already replied to"), WAIT),
            ChannelError::Rejected { .. }
        ));
    }

    #[test]
    fn transient_and_unreadable_answers() {
        assert_eq!(
            map_error(500, &err(2, None, "Service temporarily unavailable"), WAIT),
            ChannelError::Server { status: 500 }
        );
        assert_eq!(
            map_error(502, b"<html>bad gateway</html>", WAIT),
            ChannelError::Server { status: 502 }
        );
        assert_eq!(
            map_error(429, b"", WAIT),
            ChannelError::RateLimited { retry_after: WAIT }
        );
        assert!(matches!(
            map_error(400, b"{\"error\":", WAIT),
            ChannelError::Rejected { .. }
        ));
    }
}
