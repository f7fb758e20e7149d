//! Integration tests against a real PostgreSQL and a real server on loopback, in one test
//! binary (linking the app once instead of once per file).

mod common;

mod accounts;
mod benchcmd;
mod contract;
mod dashboard;
mod database;
mod embedded;
mod hardening;
mod http;
mod load;
mod mail_and_cleanup;
mod org;
mod outage;
mod rls;
mod session_cache;
