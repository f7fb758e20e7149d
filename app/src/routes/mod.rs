//! One module per page or page group.

pub mod home;
pub mod not_found;
