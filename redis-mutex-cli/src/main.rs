//! `redis-mutex`: run a command while holding named Redis locks; inspect and release locks.
//!
//! Built on the public API of the `redis-mutex` library. See `redis-mutex --help` and the
//! crate's README for the commands and their exit codes.
#![deny(missing_docs)]

mod admin;
mod args;
mod exec;
mod exit;
mod progress;
mod signals;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use redis_mutex::Client;

use crate::args::{Cli, Command, ServerArgs};
use crate::exit::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Failure::new(exit::OS, format!("cannot start: {error}")).report(),
    };
    match runtime.block_on(run(&cli)) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => failure.report(),
    }
}

/// Runs the subcommand; `Ok` carries the exit code.
async fn run(cli: &Cli) -> Result<u8, Failure> {
    let client = client(&cli.server)?;
    match &cli.command {
        Command::Exec(args) => exec::run(&client, args).await,
        Command::Status(args) => admin::status(&client, args).await.map(|()| 0),
        Command::Release(args) => admin::release(&client, args).await.map(|()| 0),
    }
}

/// The client `--server` and `--prefix` ask for (by default, as `Client::from_env`).
fn client(server: &ServerArgs) -> Result<Client, Failure> {
    let client = match &server.server {
        Some(url) => Client::open(url)?,
        None => Client::from_env()?,
    };
    Ok(match &server.prefix {
        Some(prefix) => client.with_prefix(prefix.as_str()),
        None => client,
    })
}

/// Help and version go to stdout with status 0; anything else is a one-line usage error.
fn usage_error(error: &clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = error.print();
        return ExitCode::SUCCESS;
    }
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = error.print();
        return ExitCode::from(exit::USAGE);
    }
    // clap's message is its first paragraph (then come a tip, the usage and a hint): one line.
    let rendered = error.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    Failure::usage(format!("{message} (see `redis-mutex --help`)")).report()
}
