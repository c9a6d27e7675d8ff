//! carekit-store-sql (skeleton; being built).
