//! A scheduled job that must run once across hosts: cron starts `nightly_report` on every host
//! at the same minute, and `#[mutex(.., wait = "0s")]` lets one host run it while the others
//! skip it at once.
//!
//! Three processes of this example stand for three hosts: run without arguments, it starts a
//! Redis if none is configured, then the hosts, which all fire at the same instant.
//!
//! ```text
//! cargo run --example scheduled_job
//! REDIS_MUTEX_URL=redis://127.0.0.1:6379/ cargo run --example scheduled_job
//! ```

mod common;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis_mutex::mutex;

const HOSTS: u32 = 3;

/// The job. `wait = "0s"`: try once; a host that finds it running gets `Error::Busy`.
///
/// A host that starts it after the winner has *finished* (its cron late by more than the run)
/// would run it again: a job that must run once per period also records that it ran (the date
/// of the last report, say) and checks that record first, inside the lock.
#[mutex("nightly-report", wait = "0s")]
fn nightly_report(host: u32) -> Result<(), redis_mutex::Error> {
    println!("host {host}: writing the nightly report");
    thread::sleep(Duration::from_secs(1));
    Ok(())
}

/// What cron runs on each host (the server comes from `REDIS_MUTEX_URL`).
fn on_host(host: u32) -> Result<(), redis_mutex::Error> {
    match nightly_report(host) {
        Ok(()) => println!("host {host}: report done"),
        Err(e) if e.is_busy() => println!("host {host}: skipped, another host is running it"),
        Err(e) => return Err(e),
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [host, fire_at] = args.as_slice() {
        thread::sleep(Duration::from_millis(fire_at.parse()?).saturating_sub(since_epoch()));
        return Ok(on_host(host.parse()?)?);
    }

    let server = common::server();
    // Every host's cron fires at the same instant: half a second from now.
    let fire_at = (since_epoch() + Duration::from_millis(500))
        .as_millis()
        .to_string();
    let hosts = (1..=HOSTS)
        .map(|host| {
            Command::new(std::env::current_exe()?)
                .args([host.to_string(), fire_at.clone()])
                .env("REDIS_MUTEX_URL", &server.url)
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ran = 0;
    for host in hosts {
        let output = host.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        print!("{stdout}");
        ran += stdout.matches("report done").count();
        assert!(output.status.success(), "a host failed: {}", output.status);
    }
    println!("{ran} of {HOSTS} hosts ran the nightly report");
    Ok(())
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
