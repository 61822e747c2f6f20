//! `cargo xtask`: files generated from the clap definitions in
//! `stubborn::cli` at packaging time, so that the shipped binary carries
//! neither clap_mangen nor clap_complete (the way ripgrep's and fd's
//! packaging scripts do it, but in a workspace member instead of a hidden
//! flag of the binary).
//!
//! ```text
//! cargo xtask man DIR           DIR/stubborn.8 (every subcommand, with its options)
//! cargo xtask completions DIR   DIR/stubborn.bash, DIR/_stubborn (zsh), DIR/stubborn.fish
//! cargo xtask deb-assets DIR    both of the above under DIR/man and DIR/completions, and
//!                               DIR/systemd/stubborn.service: deploy/systemd's unit running /usr/bin/stubborn
//! ```
//!
//! `stubborn.toml(5)` is not generated: it is written by hand in
//! `doc/stubborn.toml.5` from docs/reference.md's config section, and a unit test
//! (`config::tests::man_page_lists_every_config_key`) checks that it names
//! every key the config parser accepts.

use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Arg, Command, CommandFactory};
use clap_complete::Shell;
use roff::{Roff, bold, italic, roman};

const USAGE: &str = "usage: cargo xtask (man|completions|deb-assets) DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [task, dir] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let result = match task.as_str() {
        "man" => man(&dir),
        "completions" => completions(&dir),
        "deb-assets" => deb_assets(&dir),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn deb_assets(dir: &Path) -> Result<()> {
    man(&dir.join("man"))?;
    completions(&dir.join("completions"))?;
    // The unit in deploy/systemd runs /usr/local/bin/stubborn (a binary
    // installed by hand); the package installs /usr/bin/stubborn.
    let unit = fs::read_to_string(repo_root().join("deploy/systemd/stubborn.service"))?;
    if !unit.contains("/usr/local/bin/stubborn") {
        return Err("deploy/systemd/stubborn.service no longer runs /usr/local/bin/stubborn".into());
    }
    let unit = unit.replace("/usr/local/bin/stubborn", "/usr/bin/stubborn").replace(
        "# Install (see deploy/README.md, \"systemd\"):",
        "# Installed by the Debian package (not enabled). By hand (see deploy/README.md, \"systemd\"):",
    );
    write(&dir.join("systemd/stubborn.service"), unit)
}

fn completions(dir: &Path) -> Result<()> {
    for (shell, file) in [(Shell::Bash, "stubborn.bash"), (Shell::Zsh, "_stubborn"), (Shell::Fish, "stubborn.fish")] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut stubborn::cli::Cli::command(), "stubborn", &mut out);
        write(&dir.join(file), out)?;
    }
    Ok(())
}

/// `stubborn(8)`: clap_mangen's title, NAME, SYNOPSIS, DESCRIPTION and
/// OPTIONS of the top-level command, then a COMMANDS section with every
/// subcommand (and `ctl`'s own subcommands) and its options, then the
/// sections clap does not know: exit status, signals, files, environment.
fn man(dir: &Path) -> Result<()> {
    let mut cmd = stubborn::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let man = clap_mangen::Man::new(cmd.clone())
        .section("8")
        .source(format!("stubborn {}", version.split_whitespace().next().unwrap_or_default()))
        .manual("System Manager's Manual");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;

    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    let globals: Vec<String> = cmd.get_arguments().map(|a| a.get_id().to_string()).collect();
    for sub in cmd.get_subcommands() {
        subcommand(&mut roff, sub, "stubborn", &globals);
    }
    roff.to_writer(&mut out)?;
    out.extend_from_slice(MAN_TAIL.as_bytes());
    write(&dir.join("stubborn.8"), out)
}

/// One `.SS` per command: its usage line, its help, then its own arguments
/// (those inherited from a parent are described there).
fn subcommand(roff: &mut Roff, cmd: &Command, parent: &str, inherited: &[String]) {
    let path = format!("{parent} {}", cmd.get_name());
    let own: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !inherited.iter().any(|g| g == a.get_id().as_str()))
        .filter(|a| a.get_id() != "help")
        .collect();
    let mut synopsis = vec![bold(path.clone())];
    for arg in &own {
        synopsis.push(roman(" "));
        synopsis.extend(arg_synopsis(arg));
    }
    if cmd.has_subcommands() {
        synopsis.push(roman(" "));
        synopsis.push(italic("COMMAND"));
    }
    roff.control("SS", [path.as_str()]);
    roff.text(synopsis);
    roff.control("PP", []);
    let help = cmd.get_long_about().or(cmd.get_about()).map(|s| s.to_string()).unwrap_or_default();
    for (i, paragraph) in help.split("\n\n").enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(paragraph.replace('\n', " "))]);
    }
    for arg in &own {
        roff.control("TP", []);
        roff.text(arg_synopsis(arg));
        let help = arg.get_long_help().or(arg.get_help()).map(|s| s.to_string()).unwrap_or_default();
        roff.text([roman(help)]);
    }
    let mut inherited = inherited.to_vec();
    inherited.extend(own.iter().filter(|a| a.is_global_set()).map(|a| a.get_id().to_string()));
    for sub in cmd.get_subcommands() {
        subcommand(roff, sub, &path, &inherited);
    }
}

fn arg_synopsis(arg: &Arg) -> Vec<roff::Inline> {
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
    match arg.get_long() {
        Some(long) if arg.get_action().takes_values() => {
            vec![roman("["), bold(format!("--{long}")), roman(" "), italic(value), roman("]")]
        }
        Some(long) => vec![roman("["), bold(format!("--{long}")), roman("]")],
        None if arg.is_required_set() => vec![italic(value)],
        None => vec![roman("["), italic(value), roman("]")],
    }
}

/// Written by hand: what clap does not describe. Kept in step with the
/// docs/operations.md and docs/reference.md.
const MAN_TAIL: &str = r#".SH "EXIT STATUS"
.TP
.B 0
clean stop (SIGTERM, SIGINT, SIGQUIT); for \fBcheck\fR: the config is valid (warnings may have been printed).
.TP
.B 1
bad config (each problem printed as \fIPATH\fR:\fILINE\fR:\fICOL\fR: \fIkey\fR: what is wrong), or a
\fB[cache] persist\fR directory that cannot be created.
.TP
.B 2
a listen address cannot be bound (the message names the address and the OS error).
.PP
\fBstubborn ctl\fR exits 0 on success, 1 on an error reported by stubborn or a \fBlookup\fR that finds
nothing, 2 on a usage error, 3 when the admin endpoint cannot be reached or the config has no
\fB[admin] listen\fR.
.SH SIGNALS
.TP
.B SIGHUP
reload the config, as \fBstubborn ctl reload\fR does; an invalid file is logged and the running config keeps serving. The cache is kept.
.TP
.BR SIGTERM ", " SIGINT ", " SIGQUIT
stop accepting, let queries in flight finish (at most 2 s), write the cache snapshot, exit 0.
.TP
.B SIGUSR1
log a one-screen state summary (upstreams, services, cache size, degraded names); keep running.
.TP
.B SIGUSR2
flush the whole cache, with the count logged; keep running.
.TP
.B SIGALRM
logged and ignored.
.SH FILES
.TP
.I /etc/stubborn/stubborn.toml
the config file (see \fBstubborn.toml\fR(5)).
.TP
.I /var/lib/stubborn/cache.snapshot
the cache snapshot of the packaged config (\fB[cache] persist\fR), so that stale answers survive
restarts and reboots.
.TP
.I /usr/lib/systemd/system/stubborn.service
the systemd unit: \fBType=notify\fR, \fBWatchdogSec=30s\fR, a dynamic unprivileged user holding \fBCAP_NET_BIND_SERVICE\fR only,
\fBStateDirectory=stubborn\fR. The package installs it without enabling it.
.SH ENVIRONMENT
.TP
.B RUST_LOG
log filter (tracing-subscriber's syntax); default \fBwarn,stubborn=info\fR.
.TP
.B NO_COLOR
no colours in log lines on a terminal.
.TP
.BR NOTIFY_SOCKET ", " JOURNAL_STREAM
set by systemd: readiness and reload notifications are sent, and log lines carry journald priorities.
.SH EXAMPLES
.nf
stubborn check --config /etc/stubborn/stubborn.toml
sudo systemctl enable \-\-now stubborn
dig @127.0.0.1 example.com
stubborn ctl status
stubborn ctl lookup www.example.com A
stubborn ctl flush\-zone example.com
.fi
.SH "SEE ALSO"
.BR stubborn.toml (5),
.BR resolv.conf (5),
.BR systemd-resolved (8),
.BR unbound-control (8)
"#;
