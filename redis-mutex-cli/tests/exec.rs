//! `redis-mutex exec` end to end: the real binary against a spawned redis-server.

#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "../../tests/common/mod.rs"]
mod common;

mod cli;

use std::thread;
use std::time::{Duration, Instant};

use cli::{
    PROMPTLY, TempDir, code, describe, eventually, finish, hold, is_held, kill, run, start, stderr,
    stdout, wait_for_file,
};

#[test]
fn eight_processes_increment_a_file_without_losing_an_update() {
    let server = support::shared();
    let lock = cli::name("counter");
    let dir = TempDir::new("counter");
    let counter = dir.file("count");
    std::fs::write(&counter, "0").unwrap();
    // Read, pause, write: without the lock, concurrent runs lose updates.
    let script = format!("n=$(cat '{counter}'); sleep 0.05; echo $((n + 1)) > '{counter}'");
    let (processes, rounds) = (8, 3);
    thread::scope(|scope| {
        for _ in 0..processes {
            scope.spawn(|| {
                for _ in 0..rounds {
                    let output = run(server, &["exec", &lock, "--", "sh", "-c", &script]);
                    assert_eq!(code(&output), 0, "{}", describe(&output));
                }
            });
        }
    });
    let total = std::fs::read_to_string(&counter).unwrap();
    assert_eq!(total.trim(), (processes * rounds).to_string());
    assert!(!is_held(server, &lock));
}

#[test]
fn the_commands_exit_status_is_passed_on() {
    let server = support::shared();
    let lock = cli::name("status");
    for (script, expected) in [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit 255", 255),
        ("kill -TERM $$", 128 + 15),
        ("kill -KILL $$", 128 + 9),
    ] {
        let output = run(server, &["exec", &lock, "--", "sh", "-c", script]);
        assert_eq!(code(&output), expected, "{script}: {}", describe(&output));
        assert!(!is_held(server, &lock), "{script} left the lock held");
    }
}

#[test]
fn no_wait_and_wait_give_up_with_75_naming_the_lock() {
    let server = support::shared();
    let lock = cli::name("busy");
    let held = hold(server, &lock);

    let started = Instant::now();
    let output = run(server, &["exec", "--no-wait", &lock, "--", "true"]);
    let message = cli::assert_fails(&output, cli::code::BUSY);
    assert!(message.contains(&lock), "{message}");
    assert!(
        started.elapsed() < PROMPTLY,
        "--no-wait took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let output = run(server, &["exec", "--wait", "1s", &lock, "--", "true"]);
    let message = cli::assert_fails(&output, cli::code::BUSY);
    let waited = started.elapsed();
    assert!(
        message.contains(&lock) && message.contains("1s"),
        "{message}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "gave up after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(1) + PROMPTLY,
        "gave up after {waited:?}"
    );

    let output = run(
        server,
        &["exec", "--quiet", "--no-wait", &lock, "--", "true"],
    );
    assert_eq!(code(&output), cli::code::BUSY);
    assert_eq!(stderr(&output), "", "--quiet prints nothing when busy");

    drop(held);
    let output = run(server, &["exec", "--no-wait", &lock, "--", "true"]);
    assert_eq!(code(&output), 0, "{}", describe(&output));
}

#[test]
fn a_waiter_runs_once_the_holder_releases() {
    let server = support::shared();
    let lock = cli::name("handover");
    let held = hold(server, &lock);
    let waiter = start(server, &["exec", "--wait", "10s", &lock, "--", "true"]);
    thread::sleep(Duration::from_millis(300));
    held.release().unwrap();
    let output = finish(waiter, PROMPTLY);
    assert_eq!(code(&output), 0, "{}", describe(&output));
}

#[test]
fn names_and_increasing_fencing_tokens_reach_the_command() {
    let server = support::shared();
    let (a, b) = (cli::name("env-a"), cli::name("env-b"));
    let script = r#"printf '%s|%s' "$REDIS_MUTEX_NAMES" "${REDIS_MUTEX_FENCE-unset}""#;
    let tokens = |output: &std::process::Output| -> Vec<u64> {
        assert_eq!(code(output), 0, "{}", describe(output));
        let text = stdout(output);
        let (names, fences) = text.split_once('|').unwrap();
        assert_eq!(names, format!("{a}\n{b}"), "names, sorted, one per line");
        fences.lines().map(|f| f.parse().unwrap()).collect()
    };
    let first = tokens(&run(
        server,
        &["exec", "--fence", &b, &a, "--", "sh", "-c", script],
    ));
    let second = tokens(&run(
        server,
        &["exec", "--fence", &a, &b, "--", "sh", "-c", script],
    ));
    assert_eq!(first.len(), 2);
    assert!(
        second
            .iter()
            .zip(&first)
            .all(|(later, earlier)| later > earlier),
        "{first:?} then {second:?}"
    );

    // Without --fence, no token, even one inherited from an enclosing redis-mutex.
    let output = cli::command(server, &["exec", &a, &b, "--", "sh", "-c", script])
        .env("REDIS_MUTEX_FENCE", "7")
        .output()
        .unwrap();
    assert_eq!(stdout(&output), format!("{a}\n{b}|unset"));
}

#[test]
fn sigterm_is_forwarded_and_the_lock_released_after_the_command_ends() {
    let server = support::shared();
    let lock = cli::name("sigterm");
    // The command finishes its own shutdown (writes `done`) on SIGTERM, then exits 42.
    let script = r#"trap 'touch "$SCRATCH/done"; exit 42' TERM; while :; do sleep 0.05; done"#;
    let running = start_script(server, &["exec", &lock], script);
    kill(running.child.id(), "-TERM");
    let output = finish(running.child, PROMPTLY);
    assert_eq!(code(&output), 42, "{}", describe(&output));
    assert!(running.dir.path().join("done").exists());
    assert!(!is_held(server, &lock), "released once the command ended");
}

#[test]
fn a_signal_while_waiting_stops_the_wait_and_leaves_nothing_held() {
    let server = support::shared();
    let lock = cli::name("interrupted");
    let held = hold(server, &lock);
    let waiter = start(server, &["exec", &lock, "--", "true"]);
    thread::sleep(Duration::from_millis(300));
    kill(waiter.id(), "-INT");
    let output = finish(waiter, PROMPTLY);
    assert_eq!(code(&output), 128 + 2, "{}", describe(&output));
    // The holder's release must not hand the lock to the waiter that left.
    held.release().unwrap();
    assert!(!is_held(server, &lock));
}

#[test]
fn a_killed_redis_mutex_takes_its_command_along_and_frees_the_lock_at_its_ttl() {
    let server = support::shared();
    let lock = cli::name("sigkill");
    let script =
        r#"echo $$ > "$SCRATCH/pid.tmp"; mv "$SCRATCH/pid.tmp" "$SCRATCH/pid"; exec sleep 30"#;
    let mut running = start_script(server, &["exec", "--ttl", "1s", &lock], script);
    let pid_file = running.dir.file("pid");
    wait_for_file(&pid_file);
    let command_pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_owned();
    let killed = Instant::now();
    running.child.kill().unwrap();
    running.child.wait().unwrap();
    let held_after_kill = is_held(server, &lock);
    assert!(
        held_after_kill || killed.elapsed() > Duration::from_millis(500),
        "freed at once, not at the TTL"
    );
    assert!(
        eventually(PROMPTLY, || gone(&command_pid)),
        "the command outlived redis-mutex"
    );
    assert!(
        eventually(PROMPTLY, || !is_held(server, &lock)),
        "never freed"
    );
    let freed = killed.elapsed();
    assert!(
        freed <= Duration::from_secs(1) + PROMPTLY,
        "freed after {freed:?}"
    );
}

/// Whether process `pid` has ended (it may linger as a zombie until its new parent reaps it).
fn gone(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[test]
fn a_lost_lock_terminates_the_command_with_79() {
    let server = support::shared();
    let lock = cli::name("lost");
    let running = start_script(server, &["exec", "--ttl", "1s", &lock], "exec sleep 30");
    delete_key(server, &lock);
    let output = finish(running.child, PROMPTLY);
    assert_eq!(code(&output), cli::code::LOST, "{}", describe(&output));
    let message = stderr(&output);
    assert!(
        message.contains(&lock) && message.contains("signal 15"),
        "{message}"
    );
}

#[test]
fn a_command_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let server = support::shared();
    let lock = cli::name("grace");
    let args = ["exec", "--ttl", "1s", "--kill-grace", "1s", &lock];
    let running = start_script(server, &args, "trap '' TERM; exec sleep 30");
    let deleted = Instant::now();
    delete_key(server, &lock);
    let output = finish(running.child, Duration::from_secs(1) + PROMPTLY);
    assert!(
        deleted.elapsed() >= Duration::from_secs(1),
        "killed before the grace period"
    );
    assert_eq!(code(&output), cli::code::LOST, "{}", describe(&output));
    assert!(
        stderr(&output).contains("signal 9"),
        "{}",
        describe(&output)
    );
}

/// A `redis-mutex ARGS -- sh -c SCRIPT` whose script has started (so it holds the lock).
struct Running {
    child: std::process::Child,
    /// A scratch directory, `$SCRATCH` in the script.
    dir: TempDir,
}

/// Starts `redis-mutex ARGS -- sh -c SCRIPT` and waits until SCRIPT runs.
fn start_script(server: &support::RedisServer, args: &[&str], script: &str) -> Running {
    let dir = TempDir::new("scratch");
    let script = format!(r#"touch "$SCRATCH/ready"; {script}"#);
    let mut args = args.to_vec();
    args.extend(["--", "sh", "-c", &script]);
    let child = cli::command(server, &args)
        .env("SCRATCH", dir.path())
        .spawn()
        .unwrap();
    wait_for_file(&dir.file("ready"));
    Running { child, dir }
}

/// Deletes the key of lock `name` behind its holder's back.
fn delete_key(server: &support::RedisServer, name: &str) {
    let _: () = redis::cmd("DEL")
        .arg(cli::key(server, name))
        .query(&mut server.raw())
        .unwrap();
}

#[test]
fn a_status_line_shows_the_wait_on_a_terminal_only() {
    let server = support::shared();
    let lock = cli::name("tty");
    let held = hold(server, &lock);
    let on_terminal = |extra: &str| {
        let args = format!("exec {extra} --wait 1500ms {lock} -- true");
        on_a_terminal(server, &args)
            .stdin(std::process::Stdio::null())
            .output()
    };
    let Ok(output) = on_terminal("") else {
        eprintln!("skipped: script(1) from util-linux is not installed");
        return;
    };
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(
        shown.contains(&format!("waiting for lock \"{lock}\"")),
        "{shown:?}"
    );
    assert_eq!(code(&output), cli::code::BUSY, "{shown:?}");
    let quiet = on_terminal("--quiet").unwrap();
    let shown = String::from_utf8_lossy(&quiet.stdout);
    assert!(!shown.contains("waiting for"), "{shown:?}");
    drop(held);
}

#[test]
fn ctrl_c_on_a_terminal_reaches_the_command_once() {
    let server = support::shared();
    let lock = cli::name("ctrl-c");
    let dir = TempDir::new("ctrl-c");
    let ready = dir.file("ready");
    // Counts its SIGINTs for a second and a half, then reports them.
    let perl = format!(
        r#"$|=1; $SIG{{INT}}=sub{{$n++}}; open(F, ">{ready}"); close(F); for (1..15) {{ select(undef,undef,undef,0.1) }} print "ints=", $n+0, "\n""#
    );
    // ^C on the pseudo-terminal's input is the terminal's Ctrl-C.
    let started = on_a_terminal(server, &format!("exec {lock} -- perl -e '{perl}'"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let (Ok(mut terminal), true) = (started, which("perl")) else {
        eprintln!("skipped: needs script(1) from util-linux and perl");
        return;
    };
    wait_for_file(&ready);
    let mut input = terminal.stdin.take().unwrap();
    std::io::Write::write_all(&mut input, b"\x03").unwrap();
    let output = finish(terminal, PROMPTLY);
    drop(input);
    let shown = stdout(&output);
    assert!(shown.contains("ints=1"), "{shown:?}");
}

/// Whether `program` is on `PATH`.
fn which(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `redis-mutex ARGS` (a shell command line) run by script(1) on a pseudo-terminal, which copies
/// what it prints to its own stdout.
fn on_a_terminal(server: &support::RedisServer, args: &str) -> std::process::Command {
    let line = format!("'{}' {args}", cli::BIN);
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .env("REDIS_MUTEX_URL", server.url());
    command
}
