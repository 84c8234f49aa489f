//! A program that uses redis-mutex the way a short-lived application does, for
//! tests/lifecycle.rs: how a process' end, or a fork, meets the crate's runtime thread.
//!
//! `lifecycle-child drop-at-exit URL NAME`: takes the lock in async code and drops the guard as
//! `main` returns (the release is still on its way when the process starts exiting).
//!
//! `lifecycle-child fork URL NAME`: takes and releases the lock, forks, and tries the lock in the
//! child; prints the child's error and exits 0 when it got `Error::Forked`, 1 otherwise.
//!
//! `lifecycle-child fence URL NAME`: takes the fenced lock 20 times with the blocking API,
//! appending each fencing token to the Redis list `NAME:fences` while holding the lock.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, url, name] = args.as_slice() else {
        eprintln!("usage: lifecycle-child drop-at-exit|fork|fence URL NAME");
        return ExitCode::from(64);
    };
    let client = redis_mutex::Client::open(url).expect("a valid URL");
    match mode.as_str() {
        "drop-at-exit" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let guard = client.mutex(name.as_str()).unwrap().lock().await.unwrap();
                println!("{}", guard.token());
                drop(guard);
            });
            ExitCode::SUCCESS
        }
        "fork" => fork_and_lock(&client, name),
        "fence" => {
            let mutex = client
                .blocking()
                .mutex(name.as_str())
                .unwrap()
                .with_fencing(true);
            let mut con = redis::Client::open(url.as_str())
                .and_then(|c| c.get_connection())
                .expect("a raw connection");
            for _ in 0..20 {
                let guard = mutex.lock().unwrap();
                let fence = guard.fencing_token().expect("fencing was asked for");
                redis::cmd("RPUSH")
                    .arg(format!("{name}:fences"))
                    .arg(fence)
                    .exec(&mut con)
                    .expect("RPUSH");
                guard.release().unwrap();
            }
            ExitCode::SUCCESS
        }
        _ => ExitCode::from(64),
    }
}

fn fork_and_lock(client: &redis_mutex::Client, name: &str) -> ExitCode {
    let blocking = client.blocking();
    let mutex = blocking.mutex(name).unwrap();
    mutex.lock().unwrap().release().unwrap();
    // SAFETY: the child only calls into redis-mutex (which must fail at once, touching no lock
    // held by another thread at the fork), prints, and leaves with `_exit`.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            let code = match mutex.try_lock() {
                Err(error @ redis_mutex::Error::Forked { .. }) => {
                    println!("child: {error}");
                    0
                }
                other => {
                    println!("child: expected Error::Forked, got {other:?}");
                    1
                }
            };
            // SAFETY: ends the child without running the parent's exit handlers twice.
            unsafe { libc::_exit(code) }
        }
        child => {
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(child, &mut status, 0) };
            // The parent still works.
            mutex.lock().unwrap().release().unwrap();
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
