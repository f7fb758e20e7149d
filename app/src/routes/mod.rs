//! One module per page or page group.

pub mod agents;
pub mod auth;
pub mod calls;
pub mod dashboard;
pub mod home;
pub mod not_found;
pub mod organization;
pub mod settings;
