//! # rediscover
//!
//! A tokio Redis client that knows the shape of the deployment it talks to: a standalone server,
//! a Sentinel-managed master, or a Cluster.
//!
//! ```no_run
//! use rediscover::{Client, Commands, Pipeline};
//!
//! # async fn demo() -> rediscover::Result<()> {
//! let client = Client::connect("redis://127.0.0.1:6379").await?;
//! client.set("greeting", "hello").await?;
//! let value = client.get("greeting").await?; // Option<Bytes>
//! let len: i64 = client.cmd("STRLEN").arg("greeting").query().await?;
//!
//! let mut pipe = Pipeline::new();
//! pipe.cmd("INCR").arg("hits");
//! pipe.cmd("EXPIRE").arg("hits").arg(60);
//! let (hits, _): (i64, bool) = pipe.query(&client).await?;
//! # Ok(()) }
//! ```
//!
//! Layers, bottom up:
//!
//! - [`resp`]: RESP2/RESP3 frames, an incremental decoder with limits, encoders. No I/O; the
//!   bundled test server (`rediscover-testserver`) speaks through exactly the same code.
//! - [`Connection`]: a handle to a driver task that owns one socket, batches every queued
//!   request into one write and matches replies in order. Cancellation-safe.
//! - [`Client`]: a managed connection that reconnects with backoff and retries requests that
//!   were never sent, within one deadline per request.
//! - [`Commands`] (typed methods), [`Cmd`] / [`FromReply`] (the generic path), [`Pipeline`],
//!   [`Transaction`], [`Subscriber`] (pub/sub) and [`Pool`] (dedicated connections).
//! - [`Error`]: every failure, with its [`ErrorKind`] and the [`RetryAction`]
//!   a caller should take.
//! - [`slot`], [`error_codes`], [`command`]: the shared tables of hash slots, error codes and
//!   commands.
#![warn(missing_docs)]

pub mod command;
pub mod error_codes;
pub mod resp;
pub mod slot;

mod client;
mod cmd;
mod commands;
mod config;
mod conn;
mod error;
mod pipeline;
mod pool;
mod pubsub;
mod value;

pub use client::Client;
pub use cmd::{cmd, Cmd, ToArgs};
pub use commands::{BoundCmd, Commands, Execute, Scan};
pub use config::{Config, Protocol};
pub use conn::Connection;
pub use error::{Error, ErrorKind, Result, ServerError};
pub use error_codes::{ErrorCode, RetryAction};
pub use pipeline::{Pipeline, PipelineCmd, Transaction};
pub use pool::{Manager as PoolManager, Pool, PooledConnection};
pub use pubsub::{Message, MessageStream, Subscriber};
pub use value::FromReply;
