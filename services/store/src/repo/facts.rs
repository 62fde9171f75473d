//! Facts about parties that change over time: each change appended with
//! the value it replaced, under a lock of its party, so concurrent changes
//! of one party keep one linear history.

use async_trait::async_trait;
use repat_core::Named;
use repat_core::facts::{FactKind, PartyFact};
use repat_core::party::Party;
use uuid::Uuid;

use super::{SqlRepository, Write, page, page_limit};
use crate::codec;
use crate::db::Conn;
use crate::rows::{PartyFactRow, PartyRow};
use crate::types::DbTime;
use crate::{Page, PageRequest, PartyFactRepository, PartyHistory, StoreError};

fn party_not_found(id: Uuid) -> StoreError {
    StoreError::NotFound {
        kind: "party",
        id: id.to_string(),
    }
}

/// The party as registered, locked for the transaction when `lock`.
async fn fetch_party(c: &mut Conn<'_>, id: Uuid, lock: bool) -> Result<Party, StoreError> {
    let mut q = c.sql("SELECT * FROM parties WHERE id = ");
    q.bind(id);
    if lock {
        q.for_update();
    }
    let row: PartyRow = q
        .fetch_optional()
        .await?
        .ok_or_else(|| party_not_found(id))?;
    row.try_into()
}

/// Every change of the party's facts, in the order recorded.
pub(super) async fn fetch_facts(
    c: &mut Conn<'_>,
    party: Uuid,
) -> Result<Vec<PartyFact>, StoreError> {
    let rows: Vec<PartyFactRow> = c
        .query("SELECT * FROM party_facts WHERE party_id = $1 ORDER BY seq")
        .bind(party)
        .fetch_all()
        .await?;
    rows.into_iter().map(PartyFact::try_from).collect()
}

/// The changes of the parties with `seq` in `(after, last]`, in the order
/// recorded: the facts of one page of parties, in one query.
pub(super) async fn fetch_facts_of_page(
    c: &mut Conn<'_>,
    after: i64,
    last: i64,
) -> Result<Vec<PartyFact>, StoreError> {
    let rows: Vec<PartyFactRow> = c
        .query(
            "SELECT f.* FROM party_facts f JOIN parties p ON p.id = f.party_id
             WHERE p.seq > $1 AND p.seq <= $2 ORDER BY f.seq",
        )
        .bind(after)
        .bind(last)
        .fetch_all()
        .await?;
    rows.into_iter().map(PartyFact::try_from).collect()
}

#[async_trait]
impl PartyFactRepository for SqlRepository {
    async fn party_history(&self, party_id: Uuid) -> Result<PartyHistory, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        let party = fetch_party(&mut c, party_id, false).await?;
        let facts = fetch_facts(&mut c, party_id).await?;
        Ok(PartyHistory { party, facts })
    }

    async fn list_party_facts(
        &self,
        party_id: Uuid,
        kind: Option<FactKind>,
        p: PageRequest,
    ) -> Result<Page<PartyFact>, StoreError> {
        let mut pooled = self.pool.acquire().await?;
        let mut c = pooled.conn();
        fetch_party(&mut c, party_id, false).await?;
        let mut q = c.sql("SELECT * FROM party_facts WHERE seq > ");
        q.bind(p.after)
            .and_eq("party_id", Some(party_id))
            .and_eq("kind", kind.map(Named::name))
            .push(" ORDER BY seq LIMIT ")
            .bind(page_limit(p.size));
        let rows: Vec<PartyFactRow> = q.fetch_all().await?;
        page(rows, p.size, |r| r.seq, PartyFact::try_from)
    }
}

/// What the use case changing a party's facts writes.
impl Write {
    /// Locks the party until the transaction ends, so changes of one party
    /// keep one linear history; returns it as registered, with every change
    /// of its facts in the order recorded.
    pub async fn lock_party_history(&mut self, id: Uuid) -> Result<PartyHistory, StoreError> {
        let mut c = self.conn();
        let party = fetch_party(&mut c, id, true).await?;
        let facts = fetch_facts(&mut c, id).await?;
        Ok(PartyHistory { party, facts })
    }

    pub async fn insert_party_fact(&mut self, fact: &PartyFact) -> Result<(), StoreError> {
        let new = &fact.details;
        self.conn()
            .query(
                "INSERT INTO party_facts (id, party_id, kind, effective_from, value, previous, reason, recorded_by, record_time)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(fact.id)
            .bind(new.party_id)
            .bind(new.value.kind().name())
            .bind(new.effective_from)
            .bind(codec::to_json(&new.value)?)
            .bind(codec::to_json(&fact.previous)?)
            .bind(&new.reason)
            .bind(&fact.recorded_by)
            .bind(DbTime(fact.record_time))
            .execute()
            .await?;
        Ok(())
    }
}
