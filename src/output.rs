//! What the commands that print (`check`, `ctl`) write to stdout and stderr.
//! A reader that stops early (`stubborn ctl dump | head`) closes the pipe:
//! what is left to write is dropped and the command ends as it would have,
//! where `print!` would panic ("failed printing to stdout: Broken pipe") and
//! exit 101.

use std::io::{self, Write};

/// Writes `text` to stdout; a closed pipe is not an error.
pub fn stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    quietly(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// Writes `text` to stderr; nothing to do if that fails.
pub fn stderr(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

fn quietly(written: io::Result<()>) -> io::Result<()> {
    match written {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
