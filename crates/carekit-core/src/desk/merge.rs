//! Merging two customers who turn out to be one person: an explicit act by
//! a person, audited on every conversation it touches. Ingest never merges
//! and never moves a conversation to another customer on its own.

use super::{Desk, DeskError, DeskEvent};
use crate::domain::{Actor, AuditEntry, AuditKind, Customer};
use crate::ids::{ConversationId, CustomerId};
use crate::store::{Commit, ConversationFilter, ConversationWrite, StoreError};

/// What a merge did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeOutcome {
    /// The customer kept, with every identity of both.
    pub kept: Customer,
    /// The merged customer's conversations, now the kept customer's.
    pub moved: Vec<ConversationId>,
}

impl Desk {
    /// Merges customer `absorb` into `keep`: `keep` gains every identity of
    /// `absorb`, `absorb`'s conversations become `keep`'s, and `absorb`
    /// remains only as a record pointing at `keep`. Every conversation of
    /// both carries an audit entry with `by` and `reason`. All of it is one
    /// commit.
    ///
    /// # Errors
    /// [`DeskError::InvalidRequest`] for an empty reason, the same customer
    /// twice, or a customer already merged; [`DeskError::UnknownCustomer`]
    /// for an unknown id.
    pub async fn merge_customers(
        &self,
        keep: CustomerId,
        absorb: CustomerId,
        by: Actor,
        reason: impl Into<String>,
    ) -> Result<MergeOutcome, DeskError> {
        let reason = reason.into();
        if reason.trim().is_empty() {
            return Err(DeskError::InvalidRequest(
                "a merge needs a reason for the audit trail".into(),
            ));
        }
        if keep == absorb {
            return Err(DeskError::InvalidRequest(
                "a customer cannot be merged into itself".into(),
            ));
        }
        let mut last = String::new();
        for _ in 0..self.inner.conflict_retries {
            match self.try_merge(keep, absorb, &by, &reason).await {
                Err(DeskError::Store(StoreError::Conflict(why))) => {
                    last = why;
                    tokio::task::yield_now().await;
                }
                Ok(outcome) => {
                    self.emit(DeskEvent::CustomersMerged {
                        kept: keep,
                        absorbed: absorb,
                    });
                    return Ok(outcome);
                }
                Err(other) => return Err(other),
            }
        }
        Err(DeskError::Store(StoreError::Conflict(format!(
            "customers kept changing; gave up after {} attempts: {last}",
            self.inner.conflict_retries
        ))))
    }

    async fn try_merge(
        &self,
        keep: CustomerId,
        absorb: CustomerId,
        by: &Actor,
        reason: &str,
    ) -> Result<MergeOutcome, DeskError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let mut kept = store
            .customer(keep)
            .await?
            .ok_or(DeskError::UnknownCustomer(keep))?;
        let mut absorbed = store
            .customer(absorb)
            .await?
            .ok_or(DeskError::UnknownCustomer(absorb))?;
        for c in [&kept, &absorbed] {
            if let Some(into) = c.merged_into {
                return Err(DeskError::InvalidRequest(format!(
                    "customer {} was already merged into {into}",
                    c.id
                )));
            }
        }
        for identity in std::mem::take(&mut absorbed.identities) {
            kept.link(identity);
        }
        kept.name = kept.name.take().or(absorbed.name.clone());
        kept.tier = kept.tier.take().or(absorbed.tier.clone());
        kept.vip |= absorbed.vip;
        kept.followers = kept.followers.max(absorbed.followers);
        kept.preferred_private = kept.preferred_private.or(absorbed.preferred_private);
        absorbed.merged_into = Some(keep);
        let entry = |conversation: ConversationId| {
            AuditEntry::new(
                conversation,
                now,
                AuditKind::CustomersMerged {
                    kept: keep,
                    absorbed: absorb,
                    by: by.clone(),
                    reason: reason.to_owned(),
                },
            )
        };
        let mut commit = Commit::new();
        commit.customers.push(absorbed);
        commit.customers.push(kept.clone());
        let mut moved = Vec::new();
        for mut record in store
            .list_conversations(&ConversationFilter::all().with_customer(absorb))
            .await?
        {
            let expected_version = record.version;
            record.version += 1;
            record.customer = kept.clone();
            commit.audit.push(entry(record.id));
            moved.push(record.id);
            commit.conversations.push(ConversationWrite::Update {
                record,
                expected_version,
            });
        }
        for record in store
            .list_conversations(&ConversationFilter::all().with_customer(keep))
            .await?
        {
            commit.audit.push(entry(record.id));
        }
        store.apply(commit).await?;
        tracing::info!(%keep, %absorb, "customers merged");
        Ok(MergeOutcome { kept, moved })
    }
}
