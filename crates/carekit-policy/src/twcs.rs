//! The TWCS corpus ("Customer Support on Twitter", Thought Vector, CC BY-NC-SA
//! 4.0): real brand–customer threads, for replays and benchmarks. carekit
//! does not ship the data; point the loader at your copy.
//!
//! Columns: `tweet_id, author_id, inbound, created_at, text,
//! response_tweet_id, in_response_to_tweet_id`. Line ends may be LF or
//! CRLF; ids may be written as floats (`119237.0`), as pandas exports do
//! (see [`parse_id`]).

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::io::Read;

/// One tweet of the corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tweet {
    /// Tweet id.
    pub id: String,
    /// A brand's screen name, or a customer's anonymised number.
    pub author: String,
    /// Written by a customer.
    pub inbound: bool,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Text.
    pub text: String,
    /// The tweet it answers, if any (may be absent from the file).
    pub in_reply_to: Option<String>,
}

/// A row that could not be read; the rest of the file still is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based record number (header excluded).
    pub record: usize,
    /// What was wrong.
    pub reason: String,
}

/// Reads TWCS CSV. Malformed rows are returned as [`RowError`]s, never a panic.
pub fn read<R: Read>(reader: R) -> (Vec<Tweet>, Vec<RowError>) {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let mut tweets = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let record_no = i + 1;
        let row = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    record: record_no,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        match parse_row(&row) {
            Ok(t) => tweets.push(t),
            Err(reason) => errors.push(RowError {
                record: record_no,
                reason,
            }),
        }
    }
    (tweets, errors)
}

fn parse_row(row: &csv::StringRecord) -> Result<Tweet, String> {
    if row.len() != 7 {
        return Err(format!("expected 7 columns, found {}", row.len()));
    }
    let id = parse_id(&row[0]).ok_or_else(|| format!("bad tweet_id `{}`", row[0].trim()))?;
    let inbound = match row[2].trim() {
        "True" => true,
        "False" => false,
        other => return Err(format!("bad inbound `{other}`")),
    };
    let created_at = DateTime::parse_from_str(row[3].trim(), "%a %b %d %H:%M:%S %z %Y")
        .map_err(|e| format!("bad created_at `{}`: {e}", &row[3]))?
        .to_utc();
    let parent = row[6].trim();
    let in_reply_to = if parent.is_empty() {
        None
    } else {
        Some(parse_id(parent).ok_or_else(|| format!("bad in_response_to_tweet_id `{parent}`"))?)
    };
    Ok(Tweet {
        id,
        author: row[1].trim().to_owned(),
        inbound,
        created_at,
        text: row[4].to_owned(),
        in_reply_to,
    })
}

/// A tweet id as the corpus writes it, as the decimal integer it stands
/// for: `119237`, or as exports through pandas write it, `119237.0` or
/// `1.19237e5`. Exact (no floating point): `1.5`, a sign, a number over
/// `u64` or anything but digits, one `.` and one exponent is `None`.
pub fn parse_id(text: &str) -> Option<String> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    // The decimal point sits after `int.len() + exponent` of these digits.
    let digits = format!("{int}{frac}");
    let point = i64::try_from(int.len()).ok()? + i64::from(exponent);
    if !(1..=20).contains(&point) {
        return None;
    }
    let point = usize::try_from(point).ok()?;
    let whole = if point >= digits.len() {
        format!("{digits}{}", "0".repeat(point - digits.len()))
    } else if digits[point..].bytes().all(|b| b == b'0') {
        digits[..point].to_owned()
    } else {
        return None;
    };
    whole.parse::<u64>().ok().map(|n| n.to_string())
}

/// Thread of each tweet: connected components of the reply graph (tweets
/// whose parent is absent start their own component). Returns tweet id →
/// the thread's representative id. Rows repeating an id are one tweet, so
/// every row's parent counts.
pub fn threads(tweets: &[Tweet]) -> HashMap<String, String> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(tweets.len());
    for (i, t) in tweets.iter().enumerate() {
        index.entry(t.id.as_str()).or_insert(i);
    }
    let mut parent: Vec<usize> = (0..tweets.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for (i, t) in tweets.iter().enumerate() {
        let first = index[t.id.as_str()];
        if first != i {
            let (a, b) = (find(&mut parent, i), find(&mut parent, first));
            if a != b {
                parent[a] = b;
            }
        }
        if let Some(p) = t.in_reply_to.as_deref().and_then(|p| index.get(p)) {
            let (a, b) = (find(&mut parent, i), find(&mut parent, *p));
            if a != b {
                parent[a] = b;
            }
        }
    }
    (0..tweets.len())
        .map(|i| {
            let root = find(&mut parent, i);
            (tweets[i].id.clone(), tweets[root].id.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_rows_are_reported_not_fatal() {
        let data = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n\
                    1,sprintcare,False,Tue Oct 31 22:10:47 +0000 2017,hello,2,3\n\
                    x,115712,True,Tue Oct 31 22:11:45 +0000 2017,bad id,,\n\
                    4,115712,Maybe,Tue Oct 31 22:11:45 +0000 2017,bad flag,,\n\
                    5,115712,True,yesterday,bad date,,\n\
                    6,115712,True\n\
                    7,115712,True,Tue Oct 31 22:11:45 +0000 2017,\"fine, with comma\",,1\n";
        let (tweets, errors) = read(data.as_bytes());
        assert_eq!(
            tweets.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["1", "7"]
        );
        assert_eq!(
            errors.iter().map(|e| e.record).collect::<Vec<_>>(),
            [2, 3, 4, 5]
        );
        assert_eq!(tweets[1].text, "fine, with comma");
        assert_eq!(tweets[1].in_reply_to.as_deref(), Some("1"));
        let threads = threads(&tweets);
        assert_eq!(threads["7"], threads["1"]);
    }

    #[test]
    fn a_repeated_id_keeps_the_parent_either_row_names() {
        let row = |id: &str, parent: &str| Tweet {
            id: id.into(),
            author: "115712".into(),
            inbound: true,
            created_at: DateTime::UNIX_EPOCH,
            text: String::new(),
            in_reply_to: (!parent.is_empty()).then(|| parent.to_owned()),
        };
        let tweets = [row("13", ""), row("17", "13"), row("17", "")];
        let threads = threads(&tweets);
        assert_eq!(threads["17"], threads["13"]);
    }
}
