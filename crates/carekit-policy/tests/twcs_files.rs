//! TWCS files as they come (Trust issue, finding 14): broken parent links,
//! ids exported as floats, CRLF line ends. Files are written to a temp dir
//! and read like the `replay_twcs` example reads them; the census it prints
//! counts a first response only after a customer's tweet, and agrees with
//! the what-if replay over the real data.

use carekit_core::{EscalationPolicy, SlaMetric};
use carekit_policy::replay::{ThreadCensus, WhatIf, nearest_rank};
use carekit_policy::{SlaPolicy, SlaSet, twcs};
use chrono::Duration;
use std::io::Write;
use std::sync::Arc;

const HEADER: &str =
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id";

/// Writes `rows` under the header with `eol` line ends and reads the file.
fn read_file(rows: &[&str], eol: &str) -> (Vec<twcs::Tweet>, Vec<twcs::RowError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twcs.csv");
    let mut file = std::fs::File::create(&path).unwrap();
    for line in std::iter::once(HEADER).chain(rows.iter().copied()) {
        write!(file, "{line}{eol}").unwrap();
    }
    drop(file);
    twcs::read(std::fs::File::open(&path).unwrap())
}

/// A brand broadcast customers answer hours later, two brand replies whose
/// parents are not in the file, an answered and an unanswered customer
/// thread, and a customer replying to a tweet not in the file; ids as
/// pandas writes them.
const ROWS: [&str; 11] = [
    // Broadcast at 08:00; a customer answers at 11:00, the brand at 11:30.
    "1.0,AcmeHelp,False,Tue Oct 31 08:00:00 +0000 2017,Maintenance tonight 22:00-23:00,\"2.0,4.0\",",
    "2.0,101,True,Tue Oct 31 11:00:00 +0000 2017,@AcmeHelp still down for me,4.0,1.0",
    "4.0,AcmeHelp,False,Tue Oct 31 11:30:00 +0000 2017,@101 sorry: DM us,,2.0e0",
    // Orphan brand replies (tweets 9 and 8 are not in the file).
    "10.0,AcmeHelp,False,Tue Oct 31 09:00:05 +0000 2017,@102 we're on it,,9.0",
    "11,AcmeHelp,False,Tue Oct 31 09:00:09 +0000 2017,@103 fixed now,,8",
    // Customer-started, answered after 10 minutes.
    "20.0,104,True,Tue Oct 31 09:00:00 +0000 2017,@AcmeHelp my order is late,21.0,",
    "21.0,AcmeHelp,False,Tue Oct 31 09:10:00 +0000 2017,@104 sorry! checking,22.0,20.0",
    "22.0,104,True,Tue Oct 31 09:20:00 +0000 2017,@AcmeHelp thanks,,21.0",
    // Customer-started, never answered.
    "30.0,105,True,Tue Oct 31 10:00:00 +0000 2017,@AcmeHelp hello?,,",
    // A customer answers a tweet not in the file; the brand after 5 minutes.
    "40.0,106,True,Tue Oct 31 12:00:00 +0000 2017,@AcmeHelp about your tweet,4.1e1,39.0",
    "4.1e1,AcmeHelp,False,Tue Oct 31 12:05:00 +0000 2017,@106 here is how,,40",
];

#[test]
fn broken_parents_float_ids_and_crlf_count_only_customer_started_threads() {
    for eol in ["\r\n", "\n"] {
        let (tweets, errors) = read_file(&ROWS, eol);
        assert!(errors.is_empty(), "{eol:?}: {errors:?}");
        assert_eq!(tweets.len(), ROWS.len());
        let ids: Vec<&str> = tweets.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "1", "2", "4", "10", "11", "20", "21", "22", "30", "40", "41"
            ]
        );
        assert!(tweets.iter().all(|t| !t.text.ends_with('\r')));
        assert_eq!(tweets[2].in_reply_to.as_deref(), Some("2"));
        assert_eq!(tweets[10].in_reply_to.as_deref(), Some("40"));

        let census = ThreadCensus::of_twcs(&tweets);
        assert_eq!(census.threads, 6, "{census:#?}");
        assert_eq!(census.brand_started, 3, "the broadcast and the two orphans");
        let started: Vec<&str> = census
            .customer_threads
            .iter()
            .map(|t| t.customer.as_str())
            .collect();
        assert_eq!(started, ["104", "105", "106"]);
        assert_eq!(census.answered(), 2);
        let seconds = census.first_response_seconds();
        assert_eq!(seconds, [300, 600], "no broadcast or orphan answers in 0 s");
        assert_eq!(nearest_rank(&seconds, 50.0), Some(300));
        assert_eq!(nearest_rank(&seconds, 90.0), Some(600));
        let brands = census.brands();
        assert_eq!(brands.len(), 1);
        assert_eq!(brands["AcmeHelp"].threads, 2);
        assert_eq!(brands["AcmeHelp"].first_response_seconds, [300, 600]);

        // The what-if replays exactly these threads, credited the same way.
        let report = WhatIf::new(one_hour()).run_twcs(&tweets);
        assert_eq!(report.threads, census.customer_threads.len());
        assert_eq!(report.accounts["AcmeHelp"].threads, 2);
        assert_eq!(report.accounts["(unanswered)"].threads, 1);
    }
}

#[test]
fn ids_written_as_floats_are_the_integers_they_stand_for() {
    for (text, id) in [
        ("119237", "119237"),
        ("119237.0", "119237"),
        (" 119237.000 ", "119237"),
        ("1.19237e5", "119237"),
        ("1.19237E+5", "119237"),
        ("2.0e0", "2"),
        ("7630", "7630"),
        ("18446744073709551615", "18446744073709551615"),
    ] {
        assert_eq!(twcs::parse_id(text).as_deref(), Some(id), "{text}");
    }
    for text in [
        "",
        ".",
        "1.5",
        "1.19237e4",
        "-1",
        "+1",
        "1e",
        "1e-1",
        "0x10",
        "1,0",
        "nan",
        "inf",
        "1e400",
        "18446744073709551616",
        "1.0.0",
        "e5",
        "١٢",
    ] {
        assert_eq!(twcs::parse_id(text), None, "{text:?}");
    }
    // A bad id is a row error, not a panic or a wrong thread.
    let (tweets, errors) = read_file(
        &[
            "1.5,104,True,Tue Oct 31 09:00:00 +0000 2017,half a tweet,,",
            "2,104,True,Tue Oct 31 09:00:00 +0000 2017,bad parent,,x1",
            "3,104,True,Tue Oct 31 09:00:00 +0000 2017,fine,,",
        ],
        "\r\n",
    );
    assert_eq!(tweets.len(), 1);
    assert_eq!(errors.iter().map(|e| e.record).collect::<Vec<_>>(), [1, 2]);
}

fn one_hour() -> Vec<Arc<dyn EscalationPolicy>> {
    let policy = SlaPolicy::builder("frt-1h")
        .target_all(SlaMetric::FirstResponse, Duration::hours(1))
        .build()
        .unwrap();
    vec![Arc::new(SlaSet::new(vec![policy]).unwrap())]
}

/// Over the real files: the census counts the threads the what-if replays,
/// per brand, and no brand-started thread gets a first response.
#[test]
fn the_census_agrees_with_the_what_if_over_the_real_files() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/twcs");
    for name in ["twcs-head5000.csv", "twcs-sample93.csv"] {
        let path = format!("{dir}/{name}");
        let Ok(file) = std::fs::File::open(&path) else {
            eprintln!("SKIPPED: TWCS data not found at {path}");
            return;
        };
        let (tweets, errors) = twcs::read(file);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let census = ThreadCensus::of_twcs(&tweets);
        let report = WhatIf::new(one_hour()).run_twcs(&tweets);
        assert_eq!(report.threads, census.customer_threads.len(), "{name}");
        for (brand, figures) in census.brands() {
            assert_eq!(
                report.accounts[&brand].threads, figures.threads,
                "{name} {brand}"
            );
        }
        assert_eq!(
            census.threads,
            census.brand_started + census.customer_threads.len()
        );
        assert!(census.answered() <= census.customer_threads.len());
        eprintln!(
            "{name}: {} threads, {} customer-started, {} answered, {} brand-started; first response p50 {:?} s, p90 {:?} s",
            census.threads,
            census.customer_threads.len(),
            census.answered(),
            census.brand_started,
            nearest_rank(&census.first_response_seconds(), 50.0),
            nearest_rank(&census.first_response_seconds(), 90.0),
        );
    }
}
