//! The user's doc comments and attributes survive the expansion: `missing_docs` stays quiet,
//! `#[must_use]`, `#[inline]`, `#[cfg]` and `#[allow]` keep working.
#![deny(warnings, missing_docs)]

use redis_mutex::mutex;

/// Documented, and the documentation is kept.
#[mutex("docs")]
#[must_use = "the count is the point"]
#[inline]
pub fn documented() -> u32 {
    1
}

/// An `#[allow]` on the function still covers its body.
#[mutex("allow")]
#[allow(clippy::needless_return, unused_variables)]
pub fn allowed() -> u32 {
    let unused = 1;
    return 2;
}

/// Inner attributes in the body keep working, in `fn` and `async fn`.
#[mutex("inner")]
pub fn inner_attribute() -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    3
}

/// Inner attributes in an `async fn` body.
#[mutex("inner")]
pub async fn async_inner_attribute() -> u32 {
    #![allow(unused_variables)]
    let unused = 1;
    3
}

/// Compiled out: `#[cfg]` applies to the expanded function.
#[cfg(any())]
#[mutex("cfg")]
pub fn compiled_out() -> u32 {
    this_does_not_exist()
}

/// Attributes before and after `#[mutex]`.
#[doc(alias = "other")]
#[mutex("order")]
#[doc(alias = "another")]
pub async fn async_documented() {}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    if std::env::args().len() > 1000 {
        let _ = documented() + allowed() + inner_attribute();
        drop(async_inner_attribute());
        drop(async_documented());
    }
}
