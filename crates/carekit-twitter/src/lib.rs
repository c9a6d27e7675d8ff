//! carekit-twitter (skeleton; being built).
