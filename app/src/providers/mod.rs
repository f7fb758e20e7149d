//! Contexts provided at the root of the app.

pub mod auth;
