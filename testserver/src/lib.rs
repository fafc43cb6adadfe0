//! # rediscover-testserver
//!
//! A Redis-compatible server in pure Rust, for tests that need a real Redis without installing
//! one: start it in-process with [`TestServer::start`], or run the `rediscover-server` binary as
//! a drop-in for `redis-server`.
//!
//! Layers, in the order a command meets them: [`server`] (accept loop) → `connection` (one task
//! per client: decode a batch, run it under the node lock, write once) → [`cmd`] (table, arity,
//! gates, handlers) → [`keyspace`] (databases, values, expiry). [`node`] holds all of one node's
//! state, so many nodes can live in one process. [`repl`] is replication; [`sentinel`] runs a
//! node as Redis Sentinel; [`topology`] starts several nodes together.
#![warn(missing_docs)]

pub mod acl;
pub mod aof;
pub mod client;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod config_table;
mod connection;
pub mod fault;
pub mod glob;
pub mod info;
pub mod keyspace;
pub mod logging;
pub mod memory;
pub mod node;
pub mod notify;
pub mod pubsub;
pub mod rdb;
pub mod repl;
pub mod script;
pub mod sentinel;
pub mod server;
pub mod slowlog;
pub mod topology;
pub mod tracking;

pub use cluster::testing::{FailoverMode, TestCluster, TestClusterBuilder};
pub use server::{TestServer, TestServerBuilder};

/// The Redis version whose behaviour this server follows, as HELLO and INFO report it.
pub const REDIS_VERSION: &str = "7.0.15";
