//! carekit-testing (skeleton; being built).
