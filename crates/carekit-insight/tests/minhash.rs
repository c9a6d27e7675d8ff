//! Shingles, MinHash estimates and near-duplicate groups against
//! hand-computed Jaccard similarities.

use carekit_insight::{MinHashError, NearDuplicates, jaccard, shingles};

/// Exact 3-word-shingle similarities (hand-counted, see each line):
/// 0–2: 7 shared of 10 = 0.70; 0–4: 8 of 9 = 0.89; 2–4: 7 of 11 = 0.64;
/// 1–3: 8 of 9 = 0.89; every other pair shares no shingle.
const COMPLAINTS: [&str; 6] = [
    "My parcel has not arrived yet and it is late",
    "The app crashes every time I try to log in",
    "my parcel has NOT arrived yet, and it is so late!",
    "the app crashes every time I try to log in today",
    "Hi, my parcel has not arrived yet and it is late",
    "Love the new store design",
];

#[test]
fn shingles_are_word_runs_ignoring_case_and_punctuation() {
    assert_eq!(shingles("The parcel, has NOT arrived", 3).len(), 3);
    assert_eq!(
        shingles("The parcel, has NOT arrived", 3),
        shingles("the parcel has not arrived!!", 3)
    );
    assert_eq!(
        shingles("too short", 3).len(),
        1,
        "one shingle of all words"
    );
    assert!(shingles(" ... ", 3).is_empty());
    assert_eq!(shingles("a b a b a b", 2).len(), 2, "deduplicated: ab, ba");
}

#[test]
fn exact_jaccard_matches_hand_counts() {
    let s = |i: usize| shingles(COMPLAINTS[i], 3);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(jaccard(&s(0), &s(2)), 7.0 / 10.0));
    assert!(close(jaccard(&s(0), &s(4)), 8.0 / 9.0));
    assert!(close(jaccard(&s(2), &s(4)), 7.0 / 11.0));
    assert!(close(jaccard(&s(1), &s(3)), 8.0 / 9.0));
    assert!(close(jaccard(&s(0), &s(1)), 0.0));
    assert!(close(jaccard(&s(5), &s(5)), 1.0));
    assert!(close(jaccard(&[], &[]), 0.0));
}

#[test]
fn minhash_estimates_track_the_exact_similarity() {
    let grouper = NearDuplicates::builder().hashes(256).build().unwrap();
    for (i, j) in [(0, 2), (0, 4), (2, 4), (1, 3), (0, 1), (3, 5)] {
        let exact = jaccard(&shingles(COMPLAINTS[i], 3), &shingles(COMPLAINTS[j], 3));
        let estimate = grouper
            .signature(COMPLAINTS[i])
            .similarity(&grouper.signature(COMPLAINTS[j]));
        assert!(
            (estimate - exact).abs() < 0.12,
            "{i}–{j}: exact {exact:.3}, estimate {estimate:.3}"
        );
    }
    let same = grouper.signature(COMPLAINTS[0]);
    assert_eq!(same.similarity(&grouper.signature(COMPLAINTS[0])), 1.0);
    assert_eq!(
        same.similarity(&grouper.signature("")),
        0.0,
        "empty texts match nothing"
    );
}

#[test]
fn signatures_are_deterministic_per_seed() {
    let a = NearDuplicates::builder().seed(7).build().unwrap();
    let b = NearDuplicates::builder().seed(7).build().unwrap();
    let c = NearDuplicates::builder().seed(8).build().unwrap();
    assert_eq!(a.signature(COMPLAINTS[1]), b.signature(COMPLAINTS[1]));
    assert_ne!(a.signature(COMPLAINTS[1]), c.signature(COMPLAINTS[1]));
}

#[test]
fn near_duplicates_are_grouped_largest_first() {
    let groups = NearDuplicates::default().group(&COMPLAINTS);
    let members: Vec<Vec<usize>> = groups.iter().map(|g| g.members.clone()).collect();
    assert_eq!(members, vec![vec![0, 2, 4], vec![1, 3]]);
    assert_eq!(groups[0].representative(), 0);
    assert_eq!(groups[0].len(), 3);
}

#[test]
fn the_threshold_decides_what_is_near() {
    // 8/9 ≈ 0.89 is below 0.95: nothing grouped, except true duplicates.
    let strict = NearDuplicates::builder().threshold(0.95).build().unwrap();
    assert!(strict.group(&COMPLAINTS).is_empty());
    let texts = [COMPLAINTS[1], "THE APP crashes every time i try to log in!"];
    assert_eq!(strict.group(&texts).len(), 1);
    // 0.75 separates 0–2 (0.70) and 2–4 (0.64), but 0–4 (0.89) stays together.
    let mid = NearDuplicates::builder()
        .threshold(0.75)
        .hashes(512)
        .build()
        .unwrap();
    let members: Vec<Vec<usize>> = mid
        .group(&COMPLAINTS)
        .into_iter()
        .map(|g| g.members)
        .collect();
    assert_eq!(members, vec![vec![0, 4], vec![1, 3]]);
}

#[test]
fn bad_settings_are_typed_errors() {
    assert_eq!(
        NearDuplicates::builder().threshold(0.0).build().err(),
        Some(MinHashError::Threshold(0.0))
    );
    assert_eq!(
        NearDuplicates::builder().threshold(1.5).build().err(),
        Some(MinHashError::Threshold(1.5))
    );
    assert_eq!(
        NearDuplicates::builder().hashes(0).build().err(),
        Some(MinHashError::NoHashes)
    );
    assert_eq!(
        NearDuplicates::builder().shingle(0).build().err(),
        Some(MinHashError::ShingleSize)
    );
}
