//! Threading over real mailing-list mail (`../shared/data/email`), through
//! the real `Desk` (MemoryStore) and the email intake with its thread index:
//! every message must land in the conversation its Message-ID /
//! In-Reply-To / References graph says (missing roots, disagreeing parent
//! headers, a reference loop, duplicates), never by subject.

mod common;

use carekit_core::{ChannelKind, ConversationId, Store};
use carekit_email::{DEFAULT_MAX_MESSAGE_BYTES, ParsedEmail, parse_message};
use common::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

struct Mail {
    path: PathBuf,
    raw: Vec<u8>,
    parsed: ParsedEmail,
}

fn load(dir: &Path) -> Vec<Mail> {
    let mut mails: Vec<Mail> = files_under(dir)
        .into_iter()
        .map(|path| {
            let raw = std::fs::read(&path).unwrap();
            let parsed = parse_message(&raw, DEFAULT_MAX_MESSAGE_BYTES)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Mail { path, raw, parsed }
        })
        .collect();
    // Arrival order: by Date, then by file name.
    mails.sort_by(|a, b| (a.parsed.date, &a.path).cmp(&(b.parsed.date, &b.path)));
    mails
}

/// Union-find over every id a message names: the JWZ notion of "same
/// thread" (ghost parents included), computed independently of the desk.
fn expected_groups(mails: &[Mail]) -> HashMap<String, String> {
    let mut parent: HashMap<String, String> = HashMap::new();
    fn find(p: &mut HashMap<String, String>, x: &str) -> String {
        let next = p
            .entry(x.to_owned())
            .or_insert_with(|| x.to_owned())
            .clone();
        if next == x {
            return next;
        }
        let root = find(p, &next);
        p.insert(x.to_owned(), root.clone());
        root
    }
    for m in mails {
        let own = m.parsed.message_id.clone();
        for other in m.parsed.in_reply_to.iter().chain(&m.parsed.references) {
            let (a, b) = (find(&mut parent, &own), find(&mut parent, other));
            if a != b {
                parent.insert(a, b);
            }
        }
    }
    mails
        .iter()
        .map(|m| {
            let id = m.parsed.message_id.clone();
            let g = find(&mut parent, &id);
            (id, g)
        })
        .collect()
}

async fn ingest_all(r: &Rig, mails: &[Mail]) -> HashMap<String, ConversationId> {
    for m in mails {
        r.intake
            .ingest_raw(&m.raw)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", m.path.display()));
    }
    let mut out = HashMap::new();
    for m in mails {
        let found = r
            .store
            .locate_message(ChannelKind::Email, &m.parsed.message_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} not stored", m.parsed.message_id));
        out.insert(m.parsed.message_id.clone(), found.conversation_id);
    }
    out
}

/// No conversation holds messages of two different threads (never merge
/// wrongly); returns how many conversations each thread is spread over.
fn assert_never_merges(
    got: &HashMap<String, ConversationId>,
    expected: &HashMap<String, String>,
) -> HashMap<String, usize> {
    let mut conv_to_group: HashMap<ConversationId, &String> = HashMap::new();
    let mut spread: HashMap<String, BTreeSet<ConversationId>> = HashMap::new();
    for (id, conv) in got {
        let group = &expected[id];
        if let Some(g) = conv_to_group.insert(*conv, group) {
            assert_eq!(g, group, "{id}: conversation {conv} merges two threads");
        }
        spread.entry(group.clone()).or_default().insert(*conv);
    }
    spread.into_iter().map(|(g, c)| (g, c.len())).collect()
}

/// The two partitions of Message-IDs are identical.
fn assert_same_partition(
    got: &HashMap<String, ConversationId>,
    expected: &HashMap<String, String>,
) {
    let mut conv_to_group: HashMap<ConversationId, &String> = HashMap::new();
    let mut group_to_conv: HashMap<&String, ConversationId> = HashMap::new();
    for (id, conv) in got {
        let group = &expected[id];
        if let Some(g) = conv_to_group.insert(*conv, group) {
            assert_eq!(g, group, "{id}: conversation {conv} merges two threads");
        }
        if let Some(c) = group_to_conv.insert(group, *conv) {
            assert_eq!(c, *conv, "{id}: thread {group} split over conversations");
        }
    }
}

#[tokio::test]
async fn lkml_threads_match_the_reference_graph_and_duplicates_are_stored_once() {
    let Some(dir) = shared_email_dir("lkml threading") else {
        return;
    };
    let mails = load(&dir.join("lkml"));
    assert_eq!(mails.len(), 210, "corpus changed");
    let distinct: BTreeSet<_> = mails.iter().map(|m| m.parsed.message_id.clone()).collect();
    assert_eq!(distinct.len(), 176);

    // In arrival order every thread is exactly one conversation. In reverse
    // order (every reply before its parent) the desk, which never merges
    // two conversations, may split a thread whose branches only meet in a
    // later message, but it must still never merge two threads.
    for order in ["arrival", "reverse"] {
        let mut mails = load(&dir.join("lkml"));
        if order == "reverse" {
            mails.reverse();
        }
        let r = rig();
        let got = ingest_all(&r, &mails).await;
        let expected = expected_groups(&mails);
        let spread = assert_never_merges(&got, &expected);
        if order == "reverse" {
            let split: usize = spread.values().map(|n| n - 1).sum();
            eprintln!(
                "lkml (reverse): {split} extra conversations from replies that arrived before their parents"
            );
            assert!(split <= 10, "reverse order split too much: {split}");
            continue;
        }
        assert_same_partition(&got, &expected);

        // Duplicates were recognised: 176 messages stored, not 210.
        let convs: BTreeSet<ConversationId> = got.values().copied().collect();
        let mut stored = 0;
        let mut sizes = BTreeMap::new();
        for c in &convs {
            let n = r.desk.conversation(*c).await.unwrap().messages.len();
            stored += n;
            sizes.insert(*c, n);
        }
        assert_eq!(stored, 176, "{order}: duplicates must be stored once");
        // The long thread stays one conversation.
        let biggest = sizes.values().max().copied().unwrap_or(0);
        assert!(
            biggest >= 90,
            "{order}: largest thread has {biggest} messages"
        );
        let groups: BTreeSet<&String> = expected.values().collect();
        assert_eq!(convs.len(), groups.len(), "{order}");
        eprintln!(
            "lkml ({order}): {} messages, {} stored, {} conversations, largest {biggest}",
            mails.len(),
            stored,
            convs.len()
        );
    }
}

#[tokio::test]
async fn ghost_root_threads_join_through_the_missing_root() {
    let Some(dir) = shared_email_dir("ghost-root threading") else {
        return;
    };
    let mails = load(&dir.join("threading/ghost-root"));
    let r = rig();
    let got = ingest_all(&r, &mails).await;
    let conv = |id: &str| got[id];
    // The example.org family: a real root, a child, grand-children, and a
    // "fake root" whose In-Reply-To names a message that never arrived.
    let family = [
        "000-real-root@example.org",
        "001-child@example.org",
        "001-grand-child@example.org",
        "001-grand-child2@example.org",
        "001-great-grand-child@example.org",
        "001-fake-message-root@example.org",
    ];
    for id in family {
        assert_eq!(conv(id), conv(family[0]), "{id}");
    }
    // The RT ticket: an original, an auto-reply to it, and a "resolved"
    // mail that only references the ticket id (a root that never arrived).
    let rt_original = "87bmc6lp3h.fsf@len.workgroup";
    let rt: Vec<&String> = got.keys().filter(|k| k.starts_with("rt-")).collect();
    assert_eq!(rt.len(), 2);
    for id in &rt {
        assert_eq!(got[*id], conv(rt_original), "{id}");
    }
    assert_ne!(conv(rt_original), conv(family[0]));
    assert_same_partition(&got, &expected_groups(&mails));
}

#[tokio::test]
async fn parent_priority_in_reply_to_wins_over_a_broken_references() {
    let Some(dir) = shared_email_dir("parent-priority threading") else {
        return;
    };
    let mails = load(&dir.join("threading/parent-priority"));
    let r = rig();
    let got = ingest_all(&r, &mails).await;
    let root = got["B00-root@example.org"];
    assert_eq!(got["B01-child@example.org"], root);
    assert_eq!(got["B01-grand-child@example.org"], root);
    // The child was threaded by its In-Reply-To (References names a typo'd root).
    let child = r
        .store
        .locate_message(ChannelKind::Email, "B01-child@example.org")
        .await
        .unwrap()
        .unwrap();
    let trail = r.desk.audit_trail(child.conversation_id).await.unwrap();
    let explained = format!("{trail:?}");
    assert!(explained.contains("B00-root@example.org"), "{explained}");
}

#[tokio::test]
async fn a_reference_loop_is_one_conversation_in_either_order() {
    let Some(dir) = shared_email_dir("loop threading") else {
        return;
    };
    for reverse in [false, true] {
        let mut mails = load(&dir.join("broken/loop"));
        if reverse {
            mails.reverse();
        }
        let r = rig();
        let got = ingest_all(&r, &mails).await;
        assert_eq!(
            got["mid-loop-12@example.org"], got["mid-loop-21@example.org"],
            "reverse={reverse}"
        );
    }
}
