//! A correct distributed mutex on Redis, for async and blocking Rust.
//!
//! ```no_run
//! # async fn demo() -> redis_mutex::Result<()> {
//! let client = redis_mutex::Client::open("redis://127.0.0.1/")?;
//! let guard = client.mutex("orders")?.lock().await?;
//! // ... only one holder of "orders" across every process runs this ...
//! guard.release().await?;
//! # Ok(()) }
//! ```
//!
//! # Which API
//!
//! * [`Client`], [`Mutex`], [`Guard`]: async, usable from any executor.
//! * [`blocking`]: the same for plain threads.
//! * `#[mutex("name")]` (feature `macros`, on by default): hold named locks for the duration of
//!   a function, like the Python decorator this crate started from.
//!
//! # Guarantees
//!
//! See [`Mutex`] for what the lock guarantees and what no lease-based lock can, and
//! [`Mutex::with_fencing`] for the remedy.
//!
//! # Architecture
//!
//! All Redis I/O runs on one background thread owned by the crate (`runtime`), through a
//! `Backend` seam (one Redis server today; Redlock and Cluster fit behind it). The protocol —
//! keys, tokens, Lua scripts — lives in one module (`protocol`).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod blocking;
mod client;
mod error;
mod guard;
mod lease;
mod lock;
mod names;
mod observe;
mod protocol;
mod queue;
mod runtime;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use client::{Client, ClientBuilder, DEFAULT_URL};
pub use error::{Error, Result};
pub use guard::Guard;
pub use lock::Mutex;
pub use names::{IntoLockNames, LockNames};

#[cfg(feature = "macros")]
pub use redis_mutex_macros::mutex;

/// The README's examples, compiled as doc tests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
