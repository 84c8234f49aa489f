//! Short fault campaigns: worker processes (both APIs, each behind a proxy of its own) take
//! one lock in a loop while the test freezes and kills them, stalls and drops their
//! connections, kills clients, pauses, blocks, freezes and restarts the server (which keeps
//! its data). The same on Redlock over five masters (workers connect straight to them): the
//! test freezes and kills workers, and pauses, blocks, freezes and restarts masters, one at a
//! time or a majority at once.
//! At the end the history of critical sections must show no two holders at once (see
//! `fault::history`), and the lock must still change hands.
//!
//! The faults are drawn at random, bounded in number and length; the seed is in every failure
//! message, and `FAULT_SEED=<n>` replays its draws (the timing, and so the victims, vary).

mod common;
mod fault;
mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::name;
use fault::server::{Clients, client_kill, client_pause, debug_sleep};
use fault::{ApiKind, Dir, Event, Flow, History, Proxy, Spec, Worker};
use support::RedisServer;

/// Workers per campaign; they alternate between the async and the blocking API.
const WORKERS: usize = 4;

/// Faults per campaign.
const STEPS: usize = 12;

/// The workers' lease; faults last from a fraction of it to a few times it.
const TTL: Duration = Duration::from_secs(1);

/// A small deterministic generator (xorshift64*), so that a seed replays a campaign.
struct Rng(u64);

impl Rng {
    fn from_env_or_clock() -> Rng {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fault::now() | 1);
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }

    /// Uniform in `from..to` at millisecond resolution.
    fn duration(&mut self, from: Duration, to: Duration) -> Duration {
        let span = u64::try_from((to - from).as_millis()).unwrap().max(1);
        from + Duration::from_millis(self.next() % span)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What a campaign may break.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `SIGSTOP` a worker (a holder, more often than not), `SIGCONT` it later.
    Freeze,
    /// `SIGKILL` a worker (a holder, more often than not) and start a new one in its place.
    Kill,
    /// Hold back one direction of one of a worker's connections for a while.
    Stall,
    /// Drop one of a worker's connections.
    Close,
    /// `CLIENT KILL` every command connection, or every subscriber connection.
    ClientKill,
    /// `CLIENT PAUSE` the server.
    Pause,
    /// `DEBUG SLEEP` the server.
    Sleep,
    /// `SIGSTOP` the server, `SIGCONT` it later.
    FreezeServer,
    /// Kill and restart the server, which keeps its data (append-only file).
    Restart,
    /// Redlock: `SIGSTOP` a majority of the masters at once, `SIGCONT` them later.
    FreezeMajority,
}

struct Slot {
    worker: Worker,
    /// `None` on Redlock, whose workers connect straight to the masters.
    proxy: Option<Proxy>,
    api: ApiKind,
}

struct Campaign {
    /// One server, or the Redlock masters.
    servers: Vec<RedisServer>,
    lock: String,
    history: Arc<History>,
    slots: Vec<Slot>,
    rng: Rng,
    seed: u64,
    spawned: usize,
    started: Instant,
    log: Vec<String>,
}

impl Campaign {
    /// A campaign on one server.
    fn start(tag: &str) -> Campaign {
        Campaign::on(tag, 1)
    }

    /// A campaign on Redlock over `masters` masters.
    fn start_redlock(tag: &str, masters: usize) -> Campaign {
        Campaign::on(tag, masters)
    }

    fn on(tag: &str, servers: usize) -> Campaign {
        let rng = Rng::from_env_or_clock();
        let mut campaign = Campaign {
            servers: (0..servers)
                .map(|_| fault::server::persistent().start())
                .collect(),
            lock: name(tag),
            history: Arc::new(History::new()),
            slots: Vec::new(),
            seed: rng.0,
            rng,
            spawned: 0,
            started: Instant::now(),
            log: Vec::new(),
        };
        for i in 0..WORKERS {
            let api = if i % 2 == 0 {
                ApiKind::Async
            } else {
                ApiKind::Blocking
            };
            let proxy = campaign.proxy();
            let worker = campaign.spawn(proxy.as_ref(), api);
            campaign.slots.push(Slot { worker, proxy, api });
        }
        campaign
    }

    /// A worker's proxy to the one server (`None` on Redlock).
    fn proxy(&self) -> Option<Proxy> {
        match self.servers.as_slice() {
            [server] => Some(Proxy::start(server.port())),
            _ => None,
        }
    }

    fn spawn(&mut self, proxy: Option<&Proxy>, api: ApiKind) -> Worker {
        self.spawned += 1;
        let url = match proxy {
            Some(proxy) => proxy.url(),
            None => {
                let masters: Vec<String> = self.servers.iter().map(RedisServer::addr).collect();
                format!("redis+redlock://{}", masters.join(","))
            }
        };
        let spec = Spec::new(url, self.lock.as_str())
            .api(api)
            .forever()
            .ttl(TTL)
            .hold(Duration::from_millis(120))
            .gap(Duration::from_millis(10))
            .wait(Some(Duration::from_secs(3)))
            .timeout(Duration::from_secs(1));
        let spec = match proxy {
            Some(_) => spec.check_key_on(self.servers[0].url()),
            None => spec.without_fencing(),
        };
        let label = format!("w{}-{api:?}", self.spawned);
        Worker::spawn(&label, &spec, Some(&self.history))
    }

    /// A worker to hit: one holding the lock (by its last event) with probability 70 %.
    fn victim(&mut self) -> usize {
        let holding = self
            .slots
            .iter()
            .position(|slot| matches!(slot.worker.events().last(), Some(Event::Acquired { .. })));
        match holding {
            Some(i) if self.rng.chance(70) => i,
            _ => self.rng.below(self.slots.len()),
        }
    }

    fn inflict(&mut self, fault: Fault) {
        let short = self.rng.duration(TTL / 5, TTL * 4 / 5);
        let long = self.rng.duration(TTL / 5, TTL * 5 / 2);
        let at = self.started.elapsed();
        let what = match fault {
            Fault::Freeze => {
                let i = self.victim();
                let slot = &mut self.slots[i];
                slot.worker.freeze();
                thread::sleep(long);
                slot.worker.thaw();
                format!("froze {} for {long:?}", slot.worker.label())
            }
            Fault::Kill => {
                let i = self.victim();
                let (proxy, api) = (self.proxy(), self.slots[i].api);
                let worker = self.spawn(proxy.as_ref(), api);
                let old = std::mem::replace(&mut self.slots[i], Slot { worker, proxy, api });
                let mut dead = old.worker;
                dead.kill();
                format!("killed {}", dead.label())
            }
            Fault::Stall | Fault::Close => {
                let i = self.victim();
                let Some(proxy) = &self.slots[i].proxy else {
                    return;
                };
                let conns = proxy.connections();
                let open: Vec<_> = conns.iter().filter(|c| !c.is_closed()).collect();
                if open.is_empty() {
                    return;
                }
                let conn = open[self.rng.below(open.len())].clone();
                let kind = if conn.is_pubsub() {
                    "pub/sub"
                } else {
                    "command"
                };
                let label = self.slots[i].worker.label().to_owned();
                if matches!(fault, Fault::Close) {
                    conn.close();
                    format!("closed {label}'s {kind} connection #{}", conn.n())
                } else {
                    let dir = if self.rng.chance(50) {
                        Dir::ToServer
                    } else {
                        Dir::ToClient
                    };
                    conn.set(dir, Flow::Stall);
                    thread::sleep(long);
                    conn.set(dir, Flow::Pass);
                    format!(
                        "stalled {dir:?} of {label}'s {kind} connection #{} for {long:?}",
                        conn.n()
                    )
                }
            }
            Fault::ClientKill => {
                let which = if self.rng.chance(50) {
                    Clients::Normal
                } else {
                    Clients::PubSub
                };
                let (s, server) = self.server();
                let killed = client_kill(server, which);
                format!("CLIENT KILL TYPE {which:?} on server {s}: {killed}")
            }
            Fault::Pause => {
                let (s, server) = self.server();
                client_pause(server, short);
                thread::sleep(short);
                format!("CLIENT PAUSE {short:?} on server {s}")
            }
            Fault::Sleep => {
                let (s, server) = self.server();
                debug_sleep(server, short).join().unwrap();
                format!("DEBUG SLEEP {short:?} on server {s}")
            }
            Fault::FreezeServer => {
                let (s, server) = self.server();
                server.pause();
                thread::sleep(short);
                server.resume();
                format!("froze server {s} for {short:?}")
            }
            Fault::Restart => {
                let s = self.rng.below(self.servers.len());
                self.servers[s].restart();
                format!("restarted server {s}")
            }
            Fault::FreezeMajority => {
                let majority = self.servers.len() / 2 + 1;
                let first = self.rng.below(self.servers.len());
                let frozen: Vec<usize> = (0..majority)
                    .map(|k| (first + k) % self.servers.len())
                    .collect();
                for &s in &frozen {
                    self.servers[s].pause();
                }
                thread::sleep(short);
                for &s in &frozen {
                    self.servers[s].resume();
                }
                format!("froze servers {frozen:?} for {short:?}")
            }
        };
        self.log
            .push(format!("at {:>5.1}s: {what}", at.as_secs_f64()));
    }

    /// A server to hit, with its index.
    fn server(&mut self) -> (usize, &RedisServer) {
        let s = self.rng.below(self.servers.len());
        (s, &self.servers[s])
    }

    /// Runs `steps` faults drawn from `faults`, with a short calm after each.
    fn run(&mut self, faults: &[Fault], steps: usize) {
        for _ in 0..steps {
            let fault = faults[self.rng.below(faults.len())];
            self.inflict(fault);
            let calm = self
                .rng
                .duration(Duration::from_millis(100), Duration::from_millis(500));
            thread::sleep(calm);
        }
    }

    /// Lets the workers run without faults, stops them, and checks the history.
    fn finish(mut self) {
        let context = format!(
            "seed {} (replay with FAULT_SEED={}); faults:\n{}",
            self.seed,
            self.seed,
            self.log.join("\n")
        );
        let before = self.history.sections().len();
        let calm_until = Instant::now() + Duration::from_secs(10);
        while self.history.sections().len() < before + 2 && Instant::now() < calm_until {
            thread::sleep(Duration::from_millis(50));
        }
        let recovered = self.history.sections().len() - before;
        for slot in &mut self.slots {
            slot.worker.stop(Duration::from_secs(10));
        }
        self.history.assert_exclusive(&context);
        assert!(
            recovered >= 2,
            "the lock changed hands {recovered} times in 10 s after the faults ended; {context}"
        );
        let sections = self.history.sections().len();
        eprintln!("{sections} critical sections, {recovered} after the faults; {context}");
        assert!(
            sections >= 10,
            "only {sections} critical sections in the campaign; {context}"
        );
    }
}

#[test]
fn holders_and_waiters_frozen_and_killed() {
    let mut campaign = Campaign::start("campaign-processes");
    campaign.run(&[Fault::Freeze, Fault::Freeze, Fault::Kill], STEPS);
    campaign.finish();
}

#[test]
fn connections_stalled_and_dropped_server_paused_and_restarted() {
    let mut campaign = Campaign::start("campaign-network");
    campaign.run(
        &[
            Fault::Stall,
            Fault::Stall,
            Fault::Close,
            Fault::ClientKill,
            Fault::Pause,
            Fault::Sleep,
            Fault::FreezeServer,
            Fault::Restart,
            Fault::Freeze,
        ],
        STEPS,
    );
    campaign.finish();
}

/// Redlock over five masters (kept on disk, as the spec's safe restarts need): holders frozen
/// past their lease and killed, and masters paused, blocked, frozen and restarted, one at a
/// time or a majority at once. Late calls abound here (attempts and releases held up on a
/// frozen master, then run after later ones): no two holders at once.
#[test]
fn redlock_holders_frozen_and_masters_paused_frozen_and_restarted() {
    let mut campaign = Campaign::start_redlock("campaign-redlock", 5);
    campaign.run(
        &[
            Fault::Freeze,
            Fault::Kill,
            Fault::ClientKill,
            Fault::Pause,
            Fault::Sleep,
            Fault::FreezeServer,
            Fault::FreezeServer,
            Fault::Restart,
            Fault::FreezeMajority,
        ],
        STEPS,
    );
    campaign.finish();
}
