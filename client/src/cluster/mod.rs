//! Redis Cluster support.
//!
//! - [`admin`]: cluster administration as a library, the equivalents of
//!   `redis-cli --cluster create`, `check`, `fix`, `reshard`, `rebalance`, `add-node` and
//!   `del-node`, talking to each node over a plain [`Connection`](crate::Connection).

pub mod admin;
