//! Reusable pieces of the interface.

pub mod data;
pub mod forms;
pub mod guard;
pub mod hydration;
pub mod layout;
