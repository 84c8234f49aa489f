//! `unsafe fn`, `extern "C" fn`: the body keeps its unsafe context.
#![deny(warnings)]

use redis_mutex::mutex;

/// # Safety
///
/// `ptr` must be valid for reads.
#[mutex("raw")]
pub unsafe fn read(ptr: *const u8) -> u8 {
    unsafe { *ptr }
}

/// # Safety
///
/// `ptr` must be valid for reads.
#[mutex("raw-async")]
pub async unsafe fn read_async(ptr: *const u8) -> u8 {
    unsafe { *ptr }
}

#[mutex("extern")]
pub extern "C" fn callback(x: i32) -> i32 {
    x + 1
}

/// Runs this case (called by the `ui-pass` binary, tests/ui/pass/main.rs).
pub fn main() {
    let _ = (
        read as unsafe fn(*const u8) -> u8,
        callback as extern "C" fn(i32) -> i32,
    );
    if std::env::args().len() > 1000 {
        let byte = 1u8;
        drop(unsafe { read_async(&byte) });
    }
}
