//! The engine.

mod error;

pub use error::DeskError;

/// The care desk engine (being built).
pub struct Desk {
    _private: (),
}

/// Builds a [`Desk`].
pub struct DeskBuilder {
    _private: (),
}
