//! carekit-sms (skeleton; being built).
