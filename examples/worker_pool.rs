//! A tokio worker pool: workers pull jobs from a Redis list in which some jobs appear twice (a
//! retry, two schedulers enqueueing the same job), and each job is done exactly once, under its
//! lock `job:{id}`, by whichever worker gets there first.
//!
//! ```text
//! cargo run --example worker_pool
//! REDIS_MUTEX_URL=redis://127.0.0.1:6379/ cargo run --example worker_pool
//! ```

mod common;

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use redis_mutex::{BoxError, Client};

const WORKERS: usize = 4;

/// What every worker shares: the locks, and Redis as the job queue and the record of done jobs
/// (in real code, the record is wherever the job's result goes).
#[derive(Clone)]
struct Pool {
    locks: Client,
    db: MultiplexedConnection,
    queue: String,
    done: String,
}

async fn worker(n: usize, mut pool: Pool) -> Result<usize, BoxError> {
    let mut did = 0;
    while let Some(job) = pool.db.lpop::<_, Option<u64>>(&pool.queue, None).await? {
        // A worker doing this job right now makes us wait; then we see that it is done.
        let guard = pool.locks.mutex(format!("job:{job}"))?.lock().await?;
        if pool.db.sismember::<_, _, bool>(&pool.done, job).await? {
            println!("worker {n}: job {job} already done, skipped");
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await; // the work
            pool.db.sadd::<_, _, ()>(&pool.done, job).await?;
            println!("worker {n}: did job {job}");
            did += 1;
        }
        guard.release().await?;
    }
    Ok(did)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let server = common::server();
    let run = std::process::id();
    let mut pool = Pool {
        locks: Client::open(&server.url)?, // real code: Client::from_env()?
        db: redis::Client::open(server.url.as_str())?
            .get_multiplexed_async_connection()
            .await?,
        queue: format!("worker-pool-example:{run}:queue"),
        done: format!("worker-pool-example:{run}:done"),
    };
    // Jobs 1 to 6; 2 and 5 enqueued twice.
    let jobs: [u64; 8] = [1, 2, 3, 2, 4, 5, 6, 5];
    pool.db.rpush::<_, _, ()>(&pool.queue, &jobs).await?;

    let mut workers = tokio::task::JoinSet::new();
    for n in 1..=WORKERS {
        workers.spawn(worker(n, pool.clone()));
    }
    let mut did = 0;
    while let Some(result) = workers.join_next().await {
        did += result??;
    }
    println!("{} queued jobs, {did} done, each once", jobs.len());
    assert_eq!(did, 6);
    pool.db.del::<_, ()>(&[&pool.queue, &pool.done]).await?;
    Ok(())
}
