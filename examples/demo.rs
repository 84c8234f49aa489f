//! Lost updates without a lock, an exact count with one.
//!
//! Several OS processes, several threads each, increment one Redis counter with a non-atomic
//! read-modify-write: `GET`, a short pause (the "work"), `SET value+1`. Run once without a
//! lock, increments overwrite each other and updates are lost; run again with each increment
//! inside a `redis_mutex::blocking` lock, the count is exact.
//!
//! ```text
//! cargo run --release --example demo                 # or: scripts/demo
//! cargo run --release --example demo -- --processes 3 --threads 8 --iterations 40
//! REDIS_MUTEX_URL=redis://127.0.0.1:6379/ cargo run --release --example demo
//! ```
//!
//! Without `REDIS_MUTEX_URL` / `REDIS_URL` the demo starts a throwaway `redis-server` of its
//! own. Workers are this same executable, re-run with `REDIS_MUTEX_DEMO_WORKER` set.

mod common;

use std::io::{BufRead, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Set (to the mode) in the environment of worker processes.
const WORKER_ENV: &str = "REDIS_MUTEX_DEMO_WORKER";

const USAGE: &str = "\
usage: demo [--processes N] [--threads N] [--iterations N] [--work-us N]

  --processes N    worker processes (default 4)
  --threads N      threads per process (default 4)
  --iterations N   increments per thread (default 50)
  --work-us N      pause between GET and SET, in microseconds (default 1000)

Uses REDIS_MUTEX_URL or REDIS_URL when set, else starts a throwaway redis-server.";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unlocked,
    Locked,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Unlocked => "unlocked",
            Mode::Locked => "locked",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "unlocked" => Some(Mode::Unlocked),
            "locked" => Some(Mode::Locked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Config {
    processes: usize,
    threads: usize,
    iterations: usize,
    work: Duration,
}

impl Config {
    fn total(&self) -> usize {
        self.processes * self.threads * self.iterations
    }
}

/// What a worker needs, passed on its command line.
#[derive(Debug, Clone)]
struct Job {
    url: String,
    counter_key: String,
    lock_name: String,
    threads: usize,
    iterations: usize,
    work: Duration,
}

fn main() -> ExitCode {
    let result = match std::env::var(WORKER_ENV) {
        Ok(mode) => worker(&mode),
        Err(_) => coordinator(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("demo: {err}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Coordinator: starts the server if needed, runs both phases, reports.

fn coordinator() -> Result<ExitCode, BoxError> {
    let Some(config) = parse_args(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };

    let server = common::server();
    let url = server.url.clone();
    // The client's own view of the address: password redacted.
    let client = redis_mutex::blocking::Client::open(&url)?;
    let id = std::process::id();
    let job = Job {
        url: url.clone(),
        counter_key: format!("redis-mutex-demo:counter:{id}"),
        lock_name: format!("redis-mutex-demo:{id}"),
        threads: config.threads,
        iterations: config.iterations,
        work: config.work,
    };

    println!(
        "redis-mutex demo: {} processes x {} threads x {} increments = {} increments of one counter",
        config.processes,
        config.threads,
        config.iterations,
        config.total()
    );
    println!("server: {}", client.server());
    println!(
        "each increment: GET {key}, pause {work:?}, SET {key} value+1\n",
        key = job.counter_key,
        work = config.work
    );

    let mut con = redis::Client::open(url.as_str())?.get_connection()?;

    println!("1) without a lock");
    let unlocked = run_phase(&mut con, &config, &job, Mode::Unlocked)?;
    report(&config, &unlocked);

    println!("\n2) with a lock: redis_mutex::blocking, lock() .. release() around each increment");
    let locked = run_phase(&mut con, &config, &job, Mode::Locked)?;
    report(&config, &locked);

    redis::cmd("DEL").arg(&job.counter_key).exec(&mut con)?;

    let expected = config.total() as i64;
    println!();
    if locked.count == expected {
        println!(
            "the lock made the count exact ({} of {} increments were lost without it)",
            expected - unlocked.count,
            expected
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "BUG: {} updates were lost even with the lock",
            expected - locked.count
        );
        Ok(ExitCode::FAILURE)
    }
}

struct Outcome {
    count: i64,
    elapsed: Duration,
}

fn run_phase(
    con: &mut redis::Connection,
    config: &Config,
    job: &Job,
    mode: Mode,
) -> Result<Outcome, BoxError> {
    redis::cmd("SET").arg(&job.counter_key).arg(0).exec(con)?;
    let exe = std::env::current_exe()?;
    let mut workers: Vec<Child> = (0..config.processes)
        .map(|_| {
            Command::new(&exe)
                .env(WORKER_ENV, mode.as_str())
                .args(job.to_args())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
        })
        .collect::<Result<_, _>>()?;

    // Each worker connects, prints "ready", then waits for "go" so all of them start together.
    for child in &mut workers {
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(format!("a worker failed to start (said {line:?})").into());
        }
    }
    let start = Instant::now();
    for child in &mut workers {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(b"go\n")?;
    }
    let mut failures = 0;
    for mut child in workers {
        if !child.wait()?.success() {
            failures += 1;
        }
    }
    let elapsed = start.elapsed();
    if failures > 0 {
        return Err(format!("{failures} worker process(es) failed").into());
    }
    let count: i64 = redis::cmd("GET").arg(&job.counter_key).query(con)?;
    Ok(Outcome { count, elapsed })
}

fn report(config: &Config, outcome: &Outcome) {
    let expected = config.total() as i64;
    let lost = expected - outcome.count;
    let verdict = if lost == 0 {
        "exact".to_owned()
    } else {
        format!(
            "{lost} updates lost ({:.0}%)",
            lost as f64 * 100.0 / expected as f64
        )
    };
    let secs = outcome.elapsed.as_secs_f64();
    println!(
        "   expected {expected}, got {}: {verdict}\n   {secs:.2} s, {:.0} increments/s",
        outcome.count,
        expected as f64 / secs.max(1e-9)
    );
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, BoxError> {
    let mut config = Config {
        processes: 4,
        threads: 4,
        iterations: 50,
        work: Duration::from_micros(1000),
    };
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let mut number = || -> Result<usize, BoxError> {
            let value = args
                .next()
                .ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))?;
            value
                .parse()
                .map_err(|err| format!("{arg} {value}: {err}\n\n{USAGE}").into())
        };
        match arg.as_str() {
            "--processes" => config.processes = number()?.max(1),
            "--threads" => config.threads = number()?.max(1),
            "--iterations" => config.iterations = number()?,
            "--work-us" => config.work = Duration::from_micros(number()? as u64),
            _ => return Err(format!("unknown argument {arg:?}\n\n{USAGE}").into()),
        }
    }
    Ok(Some(config))
}

// ---------------------------------------------------------------------------------------------
// Worker: `threads` threads, each `iterations` read-modify-write increments.

impl Job {
    fn to_args(&self) -> Vec<String> {
        vec![
            self.url.clone(),
            self.counter_key.clone(),
            self.lock_name.clone(),
            self.threads.to_string(),
            self.iterations.to_string(),
            self.work.as_micros().to_string(),
        ]
    }

    fn from_args(args: &[String]) -> Result<Self, BoxError> {
        let [url, counter_key, lock_name, threads, iterations, work_us] = args else {
            return Err(format!("worker: expected 6 arguments, got {args:?}").into());
        };
        Ok(Job {
            url: url.clone(),
            counter_key: counter_key.clone(),
            lock_name: lock_name.clone(),
            threads: threads.parse()?,
            iterations: iterations.parse()?,
            work: Duration::from_micros(work_us.parse()?),
        })
    }
}

fn worker(mode: &str) -> Result<ExitCode, BoxError> {
    let mode = Mode::parse(mode).ok_or_else(|| format!("{WORKER_ENV}={mode:?}: unknown mode"))?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let job = Job::from_args(&args)?;

    let client = redis_mutex::blocking::Client::open(&job.url)?;
    let redis = redis::Client::open(job.url.as_str())?;
    let connections = (0..job.threads)
        .map(|_| redis.get_connection())
        .collect::<Result<Vec<_>, _>>()?;

    println!("ready");
    std::io::stdout().flush()?;
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;

    let handles: Vec<_> = connections
        .into_iter()
        .map(|mut con| {
            let job = job.clone();
            let client = client.clone();
            thread::spawn(move || -> Result<(), BoxError> {
                let mutex = client
                    .mutex(job.lock_name.as_str())?
                    .with_wait(Some(Duration::from_secs(60)));
                for _ in 0..job.iterations {
                    match mode {
                        Mode::Unlocked => increment(&mut con, &job)?,
                        Mode::Locked => {
                            let guard = mutex.lock()?;
                            increment(&mut con, &job)?;
                            guard.release()?;
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();

    let mut ok = true;
    for handle in handles {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                eprintln!("demo worker {}: {err}", std::process::id());
                ok = false;
            }
            Err(_) => ok = false,
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The unsafe part on purpose: read, work, write back. Two of these interleaving lose one.
fn increment(con: &mut redis::Connection, job: &Job) -> redis::RedisResult<()> {
    let value: i64 = redis::cmd("GET").arg(&job.counter_key).query(con)?;
    thread::sleep(job.work);
    redis::cmd("SET")
        .arg(&job.counter_key)
        .arg(value + 1)
        .exec(con)
}
