//! Bad input: a one-line message, the documented exit code, no panic, no lock left held.

#[path = "../../tests/support/mod.rs"]
mod support;

#[path = "../../tests/common/mod.rs"]
mod common;

mod cli;

use cli::{assert_fails, code, describe, is_held, run};

#[test]
fn usage_errors_exit_64_with_one_line() {
    let server = support::shared();
    let lock = cli::name("usage");
    for (args, says) in [
        (vec!["exec", "--bogus", &lock, "--", "true"], "--bogus"),
        (vec!["exec", &lock, "echo", "hi"], "`--`"),
        (vec!["exec", &lock, "--"], "missing command"),
        (vec!["exec", &lock, "--", ""], "empty command"),
        (vec!["exec", "--ttl", "soon", &lock, "--", "true"], "soon"),
        (vec!["exec", "--wait=-1s", &lock, "--", "true"], "-1s"),
        (vec!["exec", "--wait", "-1s", &lock, "--", "true"], "-1"),
        (vec!["exec", "--kill-grace", "x", &lock, "--", "true"], "x"),
        (
            vec!["exec", "--no-wait", "--wait", "1s", &lock, "--", "true"],
            "--wait",
        ),
        (vec!["exec", "--", "true"], "NAME"),
        (vec!["exec", "", "--", "true"], "empty"),
        (vec!["status"], "NAME"),
        (vec!["frobnicate"], "frobnicate"),
        (
            vec!["--server", "redis://[::1", "status", &lock],
            "invalid Redis URL",
        ),
        (
            vec!["--server", "http://127.0.0.1/", "exec", &lock, "--", "true"],
            "http",
        ),
    ] {
        let message = assert_fails(&run(server, &args), cli::code::USAGE);
        assert!(message.contains(says), "{args:?}: {message}");
    }
    assert!(!is_held(server, &lock));
}

#[test]
fn a_bad_url_from_the_environment_is_a_usage_error_too() {
    let server = support::shared();
    let output = cli::command(server, &["status", "x"])
        .env("REDIS_MUTEX_URL", "not a url")
        .output()
        .unwrap();
    assert_fails(&output, cli::code::USAGE);
}

#[test]
fn an_unreachable_server_exits_69() {
    let server = support::shared();
    let closed = format!("redis://127.0.0.1:{}/", support::free_port());
    for args in [
        vec!["--server", &closed, "exec", "x", "--", "true"],
        vec!["--server", &closed, "status", "x"],
        vec!["--server", &closed, "release", "--force", "x"],
    ] {
        let message = assert_fails(&run(server, &args), cli::code::UNAVAILABLE);
        assert!(
            message.contains("127.0.0.1") && message.contains("refused"),
            "{message}"
        );
    }
}

#[test]
fn a_command_that_cannot_run_exits_126_or_127_and_releases() {
    let server = support::shared();
    let lock = cli::name("cannot-run");
    let dir = cli::TempDir::new("cannot-run");
    let missing = dir.file("no-such-command");
    let message = assert_fails(
        &run(server, &["exec", &lock, "--", &missing]),
        cli::code::NOT_FOUND,
    );
    assert!(message.contains("not found"), "{message}");
    let message = assert_fails(
        &run(
            server,
            &["exec", &lock, "--", "no-such-command-on-path-xyz"],
        ),
        cli::code::NOT_FOUND,
    );
    assert!(message.contains("no-such-command-on-path-xyz"), "{message}");
    let directory = dir.path().display().to_string();
    assert_fails(
        &run(server, &["exec", &lock, "--", &directory]),
        cli::code::CANNOT_EXECUTE,
    );
    assert!(!is_held(server, &lock));
}

#[test]
fn a_key_that_is_not_a_lock_exits_65() {
    let server = support::shared();
    let lock = cli::name("hash");
    let _: () = redis::cmd("HSET")
        .arg(cli::key(server, &lock))
        .arg("field")
        .arg("value")
        .query(&mut server.raw())
        .unwrap();
    for args in [
        vec!["exec", &lock, "--", "true"],
        vec!["exec", "--no-wait", &lock, "--", "true"],
        vec!["status", &lock],
        vec!["release", "--force", &lock],
    ] {
        let message = assert_fails(&run(server, &args), cli::code::DATA);
        assert!(message.contains(&lock), "{args:?}: {message}");
    }
}

#[test]
fn help_and_version_exit_0_and_list_every_exit_code() {
    let server = support::shared();
    for args in [vec!["--help"], vec!["exec", "--help"]] {
        let output = run(server, &args);
        assert_eq!(code(&output), 0, "{}", describe(&output));
        let help = cli::stdout(&output);
        for exit in [
            "64", "65", "69", "70", "71", "75", "79", "126", "127", "128+N",
        ] {
            assert!(
                help.contains(&format!("  {exit} ")),
                "{args:?} lacks {exit}"
            );
        }
    }
    assert_eq!(code(&run(server, &["--version"])), 0);
}
