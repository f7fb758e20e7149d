//! One module per page or page group.

pub mod auth;
pub mod dashboard;
pub mod home;
pub mod not_found;
pub mod settings;
