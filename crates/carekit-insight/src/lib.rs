//! carekit-insight (skeleton; being built).
