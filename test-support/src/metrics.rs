//! The Prometheus text format stubborn's `/metrics` serves, read back: its
//! series (name, labels, value), and the sum of the series a query such as
//! `stubborn_answers_total{source="stale"}` matches.

/// One series of the Prometheus text format: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Parses `name{a="x",b="y"} value` (also used for queries, without value).
/// A series' name, its labels, and what follows them on the line.
type Parsed<'a> = (String, Vec<(String, String)>, &'a str);

fn parse_series(line: &str) -> Option<Parsed<'_>> {
    let line = line.trim();
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(line.len());
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let mut key = String::new();
        let end;
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    end = i + 1;
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '\\' => {
                                let (_, e) = chars.next()?;
                                value.push(match e {
                                    'n' => '\n',
                                    other => other,
                                });
                            }
                            '"' => break,
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
        rest = &after[end..];
    }
    Some((name, labels, rest.trim()))
}

/// Every series in a /metrics text.
pub fn parse_metrics(text: &str) -> Vec<Series> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, labels, rest) = parse_series(l)?;
            let value = rest.split_whitespace().next()?;
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            Some(Series { name, labels, value })
        })
        .collect()
}

/// Sum of the series matching `query` (`name` or `name{k="v",...}`, labels
/// matched as a subset); 0 when none matches.
pub fn metric_in(text: &str, query: &str) -> f64 {
    let (name, wanted, _) = parse_series(query).unwrap_or_else(|| panic!("bad metric query {query:?}"));
    parse_metrics(text)
        .into_iter()
        .filter(|s| s.name == name && wanted.iter().all(|w| s.labels.contains(w)))
        .map(|s| s.value)
        .sum()
}

/// Whether any series named `name` exists.
pub fn metric_present(text: &str, name: &str) -> bool {
    parse_metrics(text).iter().any(|s| s.name == name)
}
