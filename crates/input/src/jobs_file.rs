//! JOBS.jsonl batch files (`adforge render JOBS.jsonl`): one `{"kind", "payload",
//! "idempotency_key"?, "priority"?, "max_attempts"?}` object per line, blank lines skipped. This
//! is the file's syntax; each line's payload is then checked by its kind's handler, and the
//! payloads of `render.video` and `creative.render` by [`crate::video_spec`] and
//! [`crate::creative`].

use serde::Deserialize;
use serde_json::Value;

/// Lines one batch file may hold.
pub const MAX_LINES: usize = 10_000;

/// One line of a batch file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchLine {
    pub kind: String,
    pub payload: Value,
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub priority: i64,
    pub max_attempts: Option<i64>,
}

/// A parsed line, numbered from 1 as an editor numbers it, with its trimmed text.
#[derive(Debug, Clone)]
pub struct ParsedLine<'a> {
    pub number: usize,
    pub text: &'a str,
    pub job: BatchLine,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsFileError {
    #[error("{count} job lines; a batch file holds 1 to {MAX_LINES}")]
    Count { count: usize },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
}

/// The non-blank lines of a JSON Lines text, trimmed, numbered from 1 as an editor numbers them
/// (blank lines keep their numbers). `POST /api/jobs/batch` reads its body with this too.
pub fn numbered_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// Every non-blank line, parsed; the first bad line refuses the file, naming it.
pub fn parse(text: &str) -> Result<Vec<ParsedLine<'_>>, JobsFileError> {
    let lines = numbered_lines(text);
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(JobsFileError::Count { count: lines.len() });
    }
    lines
        .into_iter()
        .map(|(number, text)| {
            let job = serde_json::from_str(text).map_err(|e| JobsFileError::Line {
                line: number,
                message: e.to_string(),
            })?;
            Ok(ParsedLine { number, text, job })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_as_in_the_file_and_blank_ones_skipped() {
        let text = "\n{\"kind\": \"text\", \"payload\": {}}\n  \n{\"kind\": \"b\", \"payload\": 1, \"priority\": 3}\n";
        let lines = parse(text).unwrap();
        assert_eq!(
            lines
                .iter()
                .map(|l| (l.number, l.job.kind.as_str()))
                .collect::<Vec<_>>(),
            [(2, "text"), (4, "b")]
        );
        assert_eq!(lines[1].job.priority, 3);
    }

    #[test]
    fn bad_lines_and_counts_are_named() {
        assert_eq!(
            parse(" \n\n").unwrap_err(),
            JobsFileError::Count { count: 0 }
        );
        let err = parse(
            "{\"kind\": \"a\", \"payload\": {}}\n{\"kind\": \"a\", \"payload\": {}, \"x\": 1}",
        )
        .unwrap_err();
        assert!(
            matches!(&err, JobsFileError::Line { line: 2, message } if message.contains("unknown field `x`")),
            "{err}"
        );
        let many = "{\"kind\": \"a\", \"payload\": 0}\n".repeat(MAX_LINES + 1);
        assert_eq!(
            parse(&many).unwrap_err(),
            JobsFileError::Count {
                count: MAX_LINES + 1
            }
        );
    }
}
