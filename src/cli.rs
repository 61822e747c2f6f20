//! The command line as clap sees it. It lives in the library, not in
//! `main.rs`, so that the man page and shell completions are generated from
//! these very definitions (`cargo xtask man`, `cargo xtask completions`)
//! without clap_mangen or clap_complete in the shipped binary.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{config::DEFAULT_PATH, ctl::CtlArgs};

/// A local DNS stub resolver that keeps names resolving when upstream DNS fails.
#[derive(Parser)]
#[command(name = "stubborn", version = env!("STUBBORN_VERSION"), about, args_override_self = true)]
#[command(long_about = "A local DNS stub resolver that keeps names resolving when upstream DNS fails. \
It asks the upstream resolvers in priority order, stops waiting on a dead one, and when all of them \
fail answers from a stale-while-error cache (RFC 8767) instead of returning an error. \
Without a command it runs the resolver.")]
pub struct Cli {
    /// The config file.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub config: PathBuf,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate the config and exit: 0 valid, 1 invalid (each problem as PATH:LINE:COL: ...).
    ///
    /// Warnings (a config that works, but not quite as written yet) are printed as
    /// PATH:LINE:COL: warning: ... and leave the exit status 0.
    Check {
        /// Also print the config in effect as TOML: every default filled in, the servers a
        /// resolv_file names now, "<set>" in place of secrets.
        #[arg(long)]
        print: bool,
    },
    /// Talk to a running stubborn through its admin endpoint (like unbound-control, resolvectl).
    ///
    /// Exit status: 0 success; 1 an error reported by stubborn or a lookup that finds nothing;
    /// 2 a usage error; 3 the endpoint cannot be reached or the config has no [admin] listen.
    Ctl(CtlArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (with journald priorities under systemd).
    Text,
    /// One JSON object a line.
    Json,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
