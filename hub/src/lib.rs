//! The l2pay merchant hub: holds channels with shoppers and merchants, routes HTLC payments
//! between them (customer → hub → merchant), persists every channel before it speaks, and
//! watches the adjudicator contract.
//!
//! The hub is a driver of the sans-IO core in the `l2pay` crate: [`actor::HubActor`] owns the
//! channel cores and the router; [`server`] is the WebSocket/HTTP face; [`store`] the SQLite
//! or PostgreSQL persistence with group commit; [`watcher`] follows the chain.

pub mod actor;
pub mod admission;
pub mod client;
pub mod config;
pub mod metrics;
pub mod run;
pub mod server;
pub mod store;
pub mod watcher;
