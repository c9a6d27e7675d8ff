//! carekit-email (skeleton; being built).
