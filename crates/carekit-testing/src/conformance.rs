//! The `Store` conformance suite (being built by the store work; see carekit-store-sql).
