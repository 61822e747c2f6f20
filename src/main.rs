//! The `stubborn` command: parse the command line, set up logging, load the
//! config, run. Exit status: 0 clean stop, 1 bad config (or a snapshot
//! directory that cannot be created), 2 cannot bind. `stubborn ctl` exits
//! as [`stubborn::ctl`] says.

use std::{io::IsTerminal, process::ExitCode};

use clap::Parser;
use stubborn::cli::{Cli, Command, LogFormat};
use stubborn::systemd::JournalPriority;
use stubborn::{config::Config, output, run::Fatal};
use tracing::{error, warn};
use tracing_subscriber::EnvFilter;

/// glibc's malloc leaves the heap of a fast-filled cache about half holes
/// (docs/design.md "Memory"); mimalloc's size-class pages do not.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Ctl(args)) = &cli.command {
        return ExitCode::from(stubborn::ctl::run(args, &cli.config));
    }
    init_logging(cli.log_format);
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(problems) => {
            output::stderr(&format!("{problems}\n"));
            return ExitCode::from(1);
        }
    };
    if let Some(Command::Check { print }) = cli.command {
        return check(&config, print);
    }
    raise_fd_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(stubborn::run::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fatal::Bind(e)) => {
            error!(error = %e.source, protocol = e.protocol, address = %e.addr, "cannot bind listen address");
            eprintln!("stubborn: {e}");
            ExitCode::from(2)
        }
        Err(Fatal::SnapshotDir(e)) => {
            eprintln!("stubborn: {e}");
            ExitCode::from(1)
        }
    }
}

/// `stubborn check` of a valid config: its warnings on stderr, then `PATH:
/// ok` — with `--print` as a TOML comment heading the config in effect, so
/// that stdout stays TOML.
fn check(config: &Config, print: bool) -> ExitCode {
    for warning in &config.warnings {
        output::stderr(&format!("{warning}\n"));
    }
    let ok = format!("{}: ok", config.path.display());
    let text = if print { format!("# {ok}; the config in effect:\n\n{}", config.to_toml()) } else { format!("{ok}\n") };
    match output::stdout(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            output::stderr(&format!("stubborn: cannot write to stdout: {error}\n"));
            ExitCode::from(1)
        }
    }
}

/// Lifts the soft open-files limit to the hard one: every upstream query and
/// TCP client holds a descriptor, and the usual soft default (1024) is low
/// for a busy resolver. Failing to raise it is not fatal.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        warn!(error = %e, soft, "cannot raise the open-files limit");
    }
}

/// `RUST_LOG` wins; by default info for stubborn, warnings from libraries.
fn init_logging(format_choice: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,stubborn=info,hickory_net=error"));
    // Colour only on a terminal: a log file or journald gets plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // Under systemd the journal stamps each line and reads its priority from a `<N>` prefix.
    let journal = stubborn::systemd::stderr_is_journal();
    let format = tracing_subscriber::fmt::format();
    match (format_choice, journal) {
        (LogFormat::Text, false) => builder.event_format(format).init(),
        (LogFormat::Text, true) => builder.event_format(JournalPriority(format.without_time())).init(),
        (LogFormat::Json, false) => builder.json().init(),
        (LogFormat::Json, true) => builder.json().event_format(JournalPriority(format.json())).init(),
    }
}
