//! carekit-policy (skeleton; being built).
