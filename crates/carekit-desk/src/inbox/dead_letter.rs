//! Events the desk could not take: one JSON line each in
//! `dead-letters.jsonl` beside the journal, with the reason, the time and
//! the event itself, so that the cursor can move on and an operator can
//! look at them and replay them.

use carekit_core::InboundEvent;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// The dead-letter file's name in the inbox directory.
pub const DEAD_LETTER_FILE: &str = "dead-letters.jsonl";

/// Why an event was set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetterKind {
    /// The desk refused it for a reason no retry mends (data the store
    /// cannot hold, a rule of the data it breaks).
    Rejected,
    /// The desk kept answering "unavailable" for it while it stored other
    /// events: whatever the store says, this event is what fails.
    Unavailable,
    /// Its journal record no longer decodes as an event (written by
    /// another version); `event` holds the record as it was.
    Unreadable,
}

impl DeadLetterKind {
    /// `"rejected"`, `"unavailable"`, `"unreadable"` (the metric's label).
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::Rejected => "rejected",
            DeadLetterKind::Unavailable => "unavailable",
            DeadLetterKind::Unreadable => "unreadable",
        }
    }
}

/// One line of the dead-letter file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// When it was set aside (the desk's clock).
    pub at: DateTime<Utc>,
    /// What kind of failure.
    pub kind: DeadLetterKind,
    /// The desk's last answer, in words.
    pub reason: String,
    /// How many times the desk was asked.
    pub attempts: u32,
    /// The event as journaled (an [`InboundEvent`] in JSON; for
    /// [`DeadLetterKind::Unreadable`], whatever the record held).
    pub event: serde_json::Value,
}

impl DeadLetter {
    /// The event, to hand to the desk again (`Desk::ingest`) once the
    /// cause is mended.
    ///
    /// # Errors
    /// The stored event is not an `InboundEvent` (an unreadable record).
    pub fn inbound_event(&self) -> Result<InboundEvent, serde_json::Error> {
        serde_json::from_value(self.event.clone())
    }
}

/// The dead-letter file of the inbox in `dir`.
pub fn dead_letter_path(dir: &Path) -> PathBuf {
    dir.join(DEAD_LETTER_FILE)
}

/// Reads every dead letter of the inbox in `dir` (none when the file does
/// not exist). A line that does not parse is skipped with a warning.
///
/// # Errors
/// The file exists but cannot be read.
pub fn read_dead_letters(dir: &Path) -> io::Result<Vec<DeadLetter>> {
    let file = match fs::File::open(dead_letter_path(dir)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (n, line) in io::BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(letter) => out.push(letter),
            Err(e) => {
                tracing::warn!(line = n + 1, error = %e, "inbox: a dead-letter line does not parse")
            }
        }
    }
    Ok(out)
}

/// Lines in the dead-letter file (0 when there is none).
pub(crate) fn count(path: &Path) -> io::Result<u64> {
    match fs::File::open(path) {
        Ok(file) => {
            let mut n = 0;
            for line in io::BufReader::new(file).lines() {
                if !line?.trim().is_empty() {
                    n += 1;
                }
            }
            Ok(n)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Appends one line and `fsync`s it: the cursor passes the event only
/// once its dead letter is on disk.
pub(crate) fn append(path: &Path, letter: &DeadLetter) -> io::Result<()> {
    let mut line = serde_json::to_vec(letter).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&line)?;
    file.sync_data()
}

/// The record as JSON if it is JSON, else as a string of its bytes.
pub(crate) fn record_value(payload: &[u8]) -> serde_json::Value {
    serde_json::from_slice(payload).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
    })
}
