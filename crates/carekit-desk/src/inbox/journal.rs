//! The inbox on disk: numbered segment files (`00000000000000000000.log`, …)
//! of records `[length: u32 LE][crc32: u32 LE][payload]`, and a `cursor`
//! file naming the position up to which every record was handled.
//!
//! A crash can leave a torn record at the end of the last segment; opening
//! cuts it off (it was never acknowledged, because the write that made it
//! had not returned). The cursor is saved with write-and-rename and without
//! `fsync`: a cursor lost to a power cut only replays records the store
//! already holds, and the desk's dedupe makes those no-ops.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const HEADER: usize = 8;
/// A segment is closed and the next one started once it passes this size.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest payload read back; an event is far smaller (its text is at most
/// 256 KiB), so a larger length is damage, not data.
const MAX_RECORD: usize = 8 * 1024 * 1024;
const CURSOR: &str = "cursor";

/// A place in the journal: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
}

/// Appends records to the newest segment.
#[derive(Debug)]
pub(crate) struct Appender {
    dir: PathBuf,
    file: File,
    end: Position,
}

/// What opening found: where appends continue, where handling resumes,
/// and the segments holding records not yet handled.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) appender: Appender,
    pub(crate) cursor: Position,
    /// Segments from the cursor's on, oldest first.
    pub(crate) segments: Vec<u64>,
    /// The end of the journal at opening: replay stops here, and what is
    /// appended later arrives through the inbox's queue.
    pub(crate) end: Position,
}

/// One record read back: its payload and the position just past it.
pub(crate) struct Record {
    pub(crate) end: Position,
    pub(crate) payload: Vec<u8>,
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.log"))
}

fn open_segment(dir: &Path, segment: u64) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, segment))
}

/// Segment numbers in `dir`, oldest first.
fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_suffix(".log").and_then(|n| n.parse().ok()) {
            found.push(n);
        }
    }
    found.sort_unstable();
    Ok(found)
}

fn read_cursor(dir: &Path) -> io::Result<Option<Position>> {
    let text = match fs::read_to_string(dir.join(CURSOR)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(segment)), Some(Ok(offset))) => Ok(Some(Position { segment, offset })),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("inbox cursor `{}` is not `segment offset`", text.trim()),
        )),
    }
}

/// Records that `cursor` and everything before it are handled, and
/// deletes the segments wholly before it.
pub(crate) fn save_cursor(dir: &Path, cursor: Position) -> io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    fs::write(&tmp, format!("{} {}\n", cursor.segment, cursor.offset))?;
    fs::rename(&tmp, dir.join(CURSOR))?;
    for segment in list_segments(dir)? {
        if segment < cursor.segment {
            fs::remove_file(segment_path(dir, segment))?;
        }
    }
    Ok(())
}

/// Opens (creating) the journal in `dir`, cutting a torn record off the
/// end of the newest segment.
pub(crate) fn open(dir: &Path) -> io::Result<Opened> {
    fs::create_dir_all(dir)?;
    let cursor = read_cursor(dir)?.unwrap_or_default();
    let segments: Vec<u64> = list_segments(dir)?
        .into_iter()
        .filter(|s| *s >= cursor.segment)
        .collect();
    let last = segments.last().copied().unwrap_or(cursor.segment);
    let file = open_segment(dir, last)?;
    let mut length = file.metadata()?.len();
    let bytes = fs::read(segment_path(dir, last))?;
    let start = if last == cursor.segment {
        cursor.offset
    } else {
        0
    };
    let (_, good) = parse(&bytes, last, start);
    if good < length {
        tracing::warn!(
            segment = last,
            at = good,
            cut = length - good,
            "inbox: cutting a torn record off the journal's end (it was never acknowledged)"
        );
        file.set_len(good)?;
        length = good;
    }
    let end = Position {
        segment: last,
        offset: length,
    };
    let mut segments = segments;
    if segments.is_empty() {
        segments.push(last);
    }
    Ok(Opened {
        appender: Appender {
            dir: dir.to_owned(),
            file,
            end,
        },
        cursor,
        segments,
        end,
    })
}

/// Reads the records of `segment` from `from` up to `until` (exclusive of
/// anything past it). Damage in the middle of a segment stops that
/// segment's replay with a warning; the records before it are returned.
pub(crate) fn read_segment(
    dir: &Path,
    segment: u64,
    from: u64,
    until: Position,
) -> io::Result<Vec<Record>> {
    let bytes = match fs::read(segment_path(dir, segment)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let limit = if segment == until.segment {
        usize::try_from(until.offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len())
    } else {
        bytes.len()
    };
    let (records, good) = parse(&bytes[..limit], segment, from);
    if good < limit as u64 {
        tracing::warn!(
            segment,
            at = good,
            "inbox: damaged record; the rest of this segment is skipped"
        );
    }
    Ok(records)
}

/// Parses records from `start`; returns them and the offset where the
/// intact records end.
fn parse(bytes: &[u8], segment: u64, start: u64) -> (Vec<Record>, u64) {
    let mut records = Vec::new();
    let mut at = usize::try_from(start).unwrap_or(usize::MAX);
    while let Some(header) = at.checked_add(HEADER).and_then(|end| bytes.get(at..end)) {
        let (len, crc) = header.split_at(4);
        let len = u32::from_le_bytes(len.try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
        if len > MAX_RECORD {
            break;
        }
        let body_start = at + HEADER;
        let Some(payload) = bytes.get(body_start..body_start + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        at = body_start + len;
        records.push(Record {
            end: Position {
                segment,
                offset: at as u64,
            },
            payload: payload.to_vec(),
        });
    }
    (records, at.min(bytes.len()) as u64)
}

impl Appender {
    /// Writes one record; returns the position just past it. Starts a new
    /// segment (after `fsync`ing the full one) when this one is full.
    pub(crate) fn append(&mut self, payload: &[u8]) -> io::Result<Position> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len as usize <= MAX_RECORD)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a {}-byte event is too large for the inbox", payload.len()),
                )
            })?;
        let size = (HEADER + payload.len()) as u64;
        if self.end.offset > 0 && self.end.offset + size > SEGMENT_BYTES {
            self.file.sync_data()?;
            let next = self.end.segment + 1;
            self.file = open_segment(&self.dir, next)?;
            self.end = Position {
                segment: next,
                offset: 0,
            };
        }
        let mut record = Vec::with_capacity(HEADER + payload.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        record.extend_from_slice(payload);
        if let Err(e) = self.file.write_all(&record) {
            // A short write would leave a torn record under the next one.
            let _ = self.file.set_len(self.end.offset);
            return Err(e);
        }
        self.end.offset += size;
        Ok(self.end)
    }

    /// Another handle on the newest segment, to `fsync` without holding
    /// up appends.
    pub(crate) fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| String::from_utf8_lossy(&r.payload).into_owned())
            .collect()
    }

    #[test]
    fn records_read_back_in_order_from_the_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let mut opened = open(dir.path()).unwrap();
        let a = opened.appender.append(b"first").unwrap();
        let b = opened.appender.append(b"second").unwrap();
        assert_eq!(a.offset, 13);
        assert_eq!(b.offset, 13 + 14);
        drop(opened);
        let reopened = open(dir.path()).unwrap();
        assert_eq!(reopened.end, b);
        let all = read_segment(dir.path(), 0, 0, reopened.end).unwrap();
        assert_eq!(payloads(&all), ["first", "second"]);
        save_cursor(dir.path(), a).unwrap();
        let resumed = open(dir.path()).unwrap();
        assert_eq!(resumed.cursor, a);
        let rest = read_segment(dir.path(), 0, resumed.cursor.offset, resumed.end).unwrap();
        assert_eq!(payloads(&rest), ["second"]);
        assert_eq!(rest[0].end, b);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_appends_continue_after_the_last_good_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut opened = open(dir.path()).unwrap();
        let good = opened.appender.append(b"kept").unwrap();
        drop(opened);
        // A crash mid-write: a header promising 100 bytes, 3 written.
        let mut file = open_segment(dir.path(), 0).unwrap();
        file.write_all(&100u32.to_le_bytes()).unwrap();
        file.write_all(&[0, 0, 0, 0, b'a', b'b', b'c']).unwrap();
        drop(file);
        let mut reopened = open(dir.path()).unwrap();
        assert_eq!(reopened.end, good);
        let next = reopened.appender.append(b"after").unwrap();
        let all = read_segment(dir.path(), 0, 0, next).unwrap();
        assert_eq!(payloads(&all), ["kept", "after"]);
    }

    #[test]
    fn a_flipped_byte_stops_replay_at_the_damaged_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut opened = open(dir.path()).unwrap();
        opened.appender.append(b"one").unwrap();
        opened.appender.append(b"two").unwrap();
        let end = opened.appender.append(b"three").unwrap();
        drop(opened);
        let path = segment_path(dir.path(), 0);
        let mut bytes = fs::read(&path).unwrap();
        bytes[11 + HEADER] ^= 0xff; // inside "two"'s payload
        fs::write(&path, bytes).unwrap();
        let records = read_segment(dir.path(), 0, 0, end).unwrap();
        assert_eq!(payloads(&records), ["one"]);
    }

    #[test]
    fn a_full_segment_rolls_over_and_saving_the_cursor_deletes_handled_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut opened = open(dir.path()).unwrap();
        let big = vec![b'x'; 5 * 1024 * 1024];
        let mut last = Position::default();
        for _ in 0..14 {
            last = opened.appender.append(&big).unwrap();
        }
        assert_eq!(
            last.segment, 1,
            "64 MiB segments: the 13th record starts segment 1"
        );
        assert_eq!(list_segments(dir.path()).unwrap(), [0, 1]);
        save_cursor(dir.path(), last).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), [1]);
        let reopened = open(dir.path()).unwrap();
        assert_eq!(reopened.segments, [1]);
        assert_eq!(reopened.cursor, last);
        assert!(
            read_segment(dir.path(), 1, last.offset, reopened.end)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_malformed_cursor_is_an_error_not_a_silent_replay_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(CURSOR), "twelve").unwrap();
        let err = open(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
