//! Message-IDs as headers carry them (`<id@host>`) and as threading compares them.

/// A Message-ID without angle brackets or surrounding space.
pub fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_owned()
}
