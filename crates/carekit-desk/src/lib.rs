//! carekit-desk (skeleton; being built).
