//! The TWCS CSV reader and thread grouping: rows are tweets or row errors,
//! never a panic; a tweet and the parent it names share a thread.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (tweets, _errors) = carekit_policy::twcs::read(data);
    let threads = carekit_policy::twcs::threads(&tweets);
    for t in &tweets {
        assert!(t.id.bytes().all(|b| b.is_ascii_digit()));
        if let Some(p) = t
            .in_reply_to
            .as_deref()
            .filter(|p| threads.contains_key(*p))
        {
            assert_eq!(threads[p], threads[&t.id]);
        }
    }
});
