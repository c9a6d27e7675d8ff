//! The console's pages: each renders from a compile-time-checked `maud`
//! template, which escapes every value it is given.

pub(crate) mod admin;
pub(crate) mod case;
pub(crate) mod inbox;
pub(crate) mod layout;
pub(crate) mod login;
