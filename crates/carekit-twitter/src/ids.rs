//! X ids are decimal strings of 1 to 19 digits (`^[0-9]{1,19}$` in the API
//! spec). Checking before sending turns a malformed id into a local, typed
//! error instead of a 400 that burns a rate-limit slot.

use crate::TwitterError;

/// Whether `id` is a well-formed X id (tweet, user or DM event).
pub fn is_valid_id(id: &str) -> bool {
    (1..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// `Ok(id)` if well formed, else [`TwitterError::Invalid`] naming `what`.
pub(crate) fn check_id<'a>(what: &str, id: &'a str) -> Result<&'a str, TwitterError> {
    if is_valid_id(id) {
        Ok(id)
    } else {
        Err(TwitterError::Invalid(format!(
            "{what} must be 1-19 decimal digits, got {id:?}"
        )))
    }
}

/// The id X gives a one-to-one DM conversation: both user ids, smaller
/// first, joined by `-` (as `dm_conversation_id` in API v2). Webhook DMs do
/// not carry it, so it is derived to keep webhook and polling threads equal.
pub fn one_to_one_conversation_id(a: &str, b: &str) -> String {
    let (x, y) = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) if x <= y => (a, b),
        (Ok(_), Ok(_)) => (b, a),
        _ if a <= b => (a, b),
        _ => (b, a),
    };
    format!("{x}-{y}")
}

/// Compares two X ids numerically (ids grow with time).
pub(crate) fn id_greater(a: &str, b: &str) -> bool {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x > y,
        _ => (a.len(), a) > (b.len(), b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(is_valid_id("1346889436626259968"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("12345678901234567890"));
        assert!(!is_valid_id("12a"));
        assert!(check_id("tweet id", "../x").is_err());
    }

    #[test]
    fn conversation_id_puts_the_smaller_user_first() {
        assert_eq!(one_to_one_conversation_id("99", "100"), "99-100");
        assert_eq!(one_to_one_conversation_id("100", "99"), "99-100");
    }

    #[test]
    fn ids_compare_numerically() {
        assert!(id_greater("100", "99"));
        assert!(!id_greater("99", "100"));
    }
}
