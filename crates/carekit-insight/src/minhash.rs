//! Near-duplicate complaints: word shingles, MinHash signatures, and
//! grouping of texts whose estimated Jaccard similarity reaches a threshold.
//!
//! Written by hand and fully deterministic: shingles are hashed with 64-bit
//! FNV-1a, and the `k` hash functions are `splitmix64(shingle ^ seed_i)` with
//! seeds drawn from one configured seed, so the same texts give the same
//! groups on every machine and every run.
//!
//! Grouping compares every pair of signatures (`O(n² · k)`): simple and
//! exact with respect to the estimate, fine for the few thousand complaints
//! of a report. Groups are connected components ("single link"): if A is
//! near B and B near C, all three form one group even if A and C are further
//! apart.

use crate::taxonomy::words;
use serde::Serialize;

/// Why a [`NearDuplicates`] could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MinHashError {
    /// The threshold is not in (0, 1].
    #[error("threshold {0} is not in (0, 1]")]
    Threshold(f64),
    /// No hash functions.
    #[error("at least one hash function is needed")]
    NoHashes,
    /// Shingles of zero words.
    #[error("shingles need at least one word")]
    ShingleSize,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The hashed word shingles of `text`: every run of `size` consecutive
/// words (case and punctuation ignored); a text shorter than `size` words is
/// one shingle of all its words; an empty text has none.
pub fn shingles(text: &str, size: usize) -> Vec<u64> {
    let words = words(text);
    if words.is_empty() || size == 0 {
        return Vec::new();
    }
    let hash = |ws: &[String]| fnv1a(ws.join(" ").as_bytes());
    let mut out: Vec<u64> = if words.len() < size {
        vec![hash(&words)]
    } else {
        words.windows(size).map(hash).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// Exact Jaccard similarity of two shingle sets (sorted, deduplicated, as
/// [`shingles`] returns them); 0 when both are empty.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}

/// A MinHash signature: for each hash function, the least hash of the
/// text's shingles. Empty texts have an all-`u64::MAX` signature that
/// matches nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    mins: Vec<u64>,
    empty: bool,
}

impl Signature {
    /// The estimated Jaccard similarity with `other`: the share of hash
    /// functions whose minimums agree (0 if either text was empty).
    pub fn similarity(&self, other: &Signature) -> f64 {
        if self.empty || other.empty || self.mins.len() != other.mins.len() {
            return 0.0;
        }
        let same = self
            .mins
            .iter()
            .zip(&other.mins)
            .filter(|(a, b)| a == b)
            .count();
        same as f64 / self.mins.len() as f64
    }
}

/// One group of near-duplicate texts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// Indexes of the texts, ascending.
    pub members: Vec<usize>,
}

impl Group {
    /// The first member, a natural example.
    pub fn representative(&self) -> usize {
        self.members[0]
    }
    /// How many texts.
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// Never true for a reported group; here for completeness.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Groups near-duplicate texts with MinHash. Build with
/// [`NearDuplicates::builder`].
#[derive(Clone, Debug)]
pub struct NearDuplicates {
    threshold: f64,
    shingle: usize,
    seeds: Vec<u64>,
}

/// Builds a [`NearDuplicates`].
#[derive(Clone, Debug)]
pub struct NearDuplicatesBuilder {
    threshold: f64,
    hashes: usize,
    shingle: usize,
    seed: u64,
}

fn seeds(seed: u64, n: usize) -> Vec<u64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = splitmix64(state);
            state
        })
        .collect()
}

impl Default for NearDuplicates {
    /// As [`NearDuplicates::builder`] with its defaults.
    fn default() -> Self {
        Self {
            threshold: 0.5,
            shingle: 3,
            seeds: seeds(0x5eed, 128),
        }
    }
}

impl NearDuplicates {
    /// Threshold 0.5, 128 hash functions, 3-word shingles, seed 0x5eed.
    pub fn builder() -> NearDuplicatesBuilder {
        NearDuplicatesBuilder {
            threshold: 0.5,
            hashes: 128,
            shingle: 3,
            seed: 0x5eed,
        }
    }

    /// The similarity at or above which texts are grouped.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The MinHash signature of `text`.
    pub fn signature(&self, text: &str) -> Signature {
        let shingles = shingles(text, self.shingle);
        let mins = self
            .seeds
            .iter()
            .map(|seed| {
                shingles
                    .iter()
                    .map(|s| splitmix64(s ^ seed))
                    .min()
                    .unwrap_or(u64::MAX)
            })
            .collect();
        Signature {
            mins,
            empty: shingles.is_empty(),
        }
    }

    /// Groups of at least two texts whose estimated similarity links them,
    /// largest first (ties: earliest first member first).
    pub fn group<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Group> {
        let signatures: Vec<Signature> = texts.iter().map(|t| self.signature(t.as_ref())).collect();
        let mut parent: Vec<usize> = (0..texts.len()).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        for i in 0..signatures.len() {
            for j in i + 1..signatures.len() {
                if signatures[i].similarity(&signatures[j]) >= self.threshold {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
            }
        }
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for i in 0..texts.len() {
            let root = find(&mut parent, i);
            groups.entry(root).or_default().push(i);
        }
        let mut out: Vec<Group> = groups
            .into_values()
            .filter(|m| m.len() >= 2)
            .map(|members| Group { members })
            .collect();
        out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.members[0].cmp(&b.members[0])));
        out
    }
}

impl NearDuplicatesBuilder {
    /// Estimated Jaccard similarity at or above which texts are grouped, in (0, 1].
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
    /// Number of hash functions (more: a finer estimate, slower).
    pub fn hashes(mut self, hashes: usize) -> Self {
        self.hashes = hashes;
        self
    }
    /// Words per shingle.
    pub fn shingle(mut self, words: usize) -> Self {
        self.shingle = words;
        self
    }
    /// The seed of the hash functions.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// The grouper.
    ///
    /// # Errors
    /// [`MinHashError`] for a threshold outside (0, 1], no hashes, or empty shingles.
    pub fn build(self) -> Result<NearDuplicates, MinHashError> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(MinHashError::Threshold(self.threshold));
        }
        if self.hashes == 0 {
            return Err(MinHashError::NoHashes);
        }
        if self.shingle == 0 {
            return Err(MinHashError::ShingleSize);
        }
        Ok(NearDuplicates {
            threshold: self.threshold,
            shingle: self.shingle,
            seeds: seeds(self.seed, self.hashes),
        })
    }
}
