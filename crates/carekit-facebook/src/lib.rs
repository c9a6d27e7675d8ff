//! carekit-facebook (skeleton; being built).
