//! The errors toml and serde find themselves (a value of the wrong type, an
//! unknown key): serde stops at the first and gives its position but not its
//! key. Here each gets its dotted key, found from toml's spanned parse, and
//! when it sits on a `key = value` line of its own, that line is blanked in a
//! copy of the text (spaces for every byte but newlines, so every position
//! holds) and the copy is read again: `stubborn check` then shows every such
//! problem, and the checks of the rest of the file, in one go.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

/// Problems reported from one file at most, so that a file that is not
/// TOML at all stops early.
const MAX_PROBLEMS: usize = 32;

/// One error of serde's: where, under which key (empty when none covers the
/// position, as for a syntax error), and serde's message.
pub struct SerdeProblem {
    pub span: Range<usize>,
    pub key: String,
    pub what: String,
}

/// `text` read as a `T` with its problem lines taken out, if that is
/// possible, and every problem serde reported on the way.
pub fn deserialize<T: DeserializeOwned>(text: &str) -> (Option<T>, Vec<SerdeProblem>) {
    let mut copy = text.to_string();
    let mut problems = Vec::new();
    // The keys taken out, each with the `[[table]]` item it sat in: serde
    // may then miss one of them ("missing field"), which is no new problem,
    // and the item goes too.
    let mut taken_out: Vec<(String, Option<Range<usize>>)> = Vec::new();
    for _ in 0..MAX_PROBLEMS {
        let error = match toml::from_str::<T>(&copy) {
            Ok(value) => return (Some(value), problems),
            Err(error) => error,
        };
        let what = error.message().to_string();
        let span = error.span().unwrap_or(0..0);
        let found = Found::at(&copy, span.start);
        let missing = missing_field(&what);
        let take_out = match missing.and_then(|field| taken_out.iter().find(|(key, _)| key == field)) {
            Some((_, item)) => item.clone(),
            None => {
                problems.push(SerdeProblem { span, key: found.path.join("."), what: what.clone() });
                if missing.is_some() { found.item.clone() } else { found.line.clone() }
            }
        };
        taken_out.push((found.path.last().cloned().unwrap_or_default(), found.item));
        match take_out.and_then(|range| blanked(&copy, range)) {
            Some(rest) if rest != copy => copy = rest,
            _ => return (None, problems),
        }
    }
    (None, problems)
}

/// The field of serde's "missing field `name`".
fn missing_field(what: &str) -> Option<&str> {
    what.strip_prefix("missing field `")?.split('`').next()
}

/// `text` with every byte of `range` but newlines made a space (`None` if
/// that would cut a character).
fn blanked(text: &str, range: Range<usize>) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    for byte in bytes.get_mut(range)? {
        if *byte != b'\n' {
            *byte = b' ';
        }
    }
    String::from_utf8(bytes).ok()
}

/// What covers a position of the text.
struct Found {
    /// The keys from the top down to the innermost whose name or value covers it.
    path: Vec<String>,
    /// That key's `key = value` line(s), from the start of its line to the
    /// end of its value, when nothing else stands before the key on its line
    /// and the value is no table: what can be taken out.
    line: Option<Range<usize>>,
    /// The `[[table]]` item it is in (its header to its last value).
    item: Option<Range<usize>>,
}

impl Found {
    fn at(text: &str, at: usize) -> Found {
        let mut found = Found { path: Vec::new(), line: None, item: None };
        if let Ok(document) = DeTable::parse(text) {
            found.in_table(text, document.get_ref(), at);
        }
        found
    }

    fn in_table(&mut self, text: &str, table: &DeTable<'_>, at: usize) -> bool {
        for (key, value) in table.iter() {
            let covers = key.span().contains(&at) || value.span().contains(&at);
            if !covers && !matches!(value.get_ref(), DeValue::Table(_) | DeValue::Array(_)) {
                continue;
            }
            let depth = self.path.len();
            self.path.push(key.get_ref().to_string());
            if key.span().contains(&at) || self.in_value(text, value, at) {
                if self.path.len() == depth + 1 {
                    self.line = pair_line(text, key.span(), value);
                }
                return true;
            }
            self.path.truncate(depth);
        }
        false
    }

    fn in_value(&mut self, text: &str, value: &Spanned<DeValue<'_>>, at: usize) -> bool {
        match value.get_ref() {
            DeValue::Table(table) => self.in_table(text, table, at) || value.span().contains(&at),
            DeValue::Array(items) => items.iter().any(|item| {
                let covers = self.in_value(text, item, at);
                if covers && let DeValue::Table(table) = item.get_ref() {
                    let end = table.values().map(|value| value.span().end).chain([item.span().end]).max();
                    self.item = self.item.clone().or(end.map(|end| item.span().start..end));
                }
                covers
            }),
            _ => value.span().contains(&at),
        }
    }
}

/// The range of `key = value` from the start of its line, if the key begins
/// its line and the value is a scalar or an array of scalars.
fn pair_line(text: &str, key: Range<usize>, value: &Spanned<DeValue<'_>>) -> Option<Range<usize>> {
    let scalar = |v: &DeValue<'_>| !matches!(v, DeValue::Table(_) | DeValue::Array(_));
    let plain = match value.get_ref() {
        DeValue::Array(items) => items.iter().all(|item| scalar(item.get_ref())),
        other => scalar(other),
    };
    let line_start = text.get(..key.start)?.rfind('\n').map_or(0, |nl| nl + 1);
    let alone = text.get(line_start..key.start)?.chars().all(|c| c == ' ' || c == '\t');
    (plain && alone && value.span().end >= key.end).then(|| line_start..value.span().end)
}
