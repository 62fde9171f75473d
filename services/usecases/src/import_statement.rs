//! ImportStatement: a bank statement file of a party's accounts, read
//! whole before anything is stored, and stored once per file.

use repat_core::party::parse_utc_offset;
use repat_core::reconcile::StatementFormat;
use repat_core::time::DHAKA;
use repat_statements::{Encoding, ReadOptions};
use repat_store::events::StatementSummary;
use repat_store::{
    EventType, Idempotency, NewEvent, StatementFile, StatementPart, StoredStatement, derive_id,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::App;
use crate::auth::{Action, Caller, authorize};
use crate::error::{Error, Result, Violation};

/// A statement file as received.
pub struct StatementUpload<'a> {
    /// The account holder.
    pub party_id: Uuid,
    pub format: StatementFormat,
    /// The text's charset, when the sender knows better than detection.
    pub charset: Option<&'static Encoding>,
    pub content: &'a [u8],
}

/// Stores the file's statements (one per account and period it holds), in
/// file order; the same file again returns those stored first.
pub async fn import_statement(
    app: &App,
    caller: &Caller,
    idem: &Idempotency,
    upload: &StatementUpload<'_>,
) -> Result<Vec<StoredStatement>> {
    let permit = authorize(caller, Action::Write(upload.party_id))?;
    let store = app.store(&permit);
    let party = store.get_party(upload.party_id).await?;
    let accounts = &party.details.bank_accounts;
    let options = ReadOptions {
        charset: upload.charset,
        accounts: accounts
            .iter()
            .map(|a| {
                (
                    a.account_number.clone(),
                    a.utc_offset
                        .as_deref()
                        .and_then(parse_utc_offset)
                        .unwrap_or(DHAKA),
                )
            })
            .collect(),
        default_offset: DHAKA,
    };
    // Read before storing anything: one bad entry, or one account the
    // party does not hold, refuses the file.
    let statements =
        repat_statements::read(upload.format, upload.content, &options).map_err(|e| {
            let field = e.entry.map_or_else(
                || "content".to_string(),
                |i| format!("content.entries[{i}]"),
            );
            Error::invalid(field, e.to_string())
        })?;
    let mut foreign = Vec::new();
    for (n, s) in statements.iter().enumerate() {
        if !s.account.is_empty()
            && !accounts
                .iter()
                .any(|a| repat_statements::same_account(&s.account, &a.account_number))
        {
            let held: Vec<&str> = accounts.iter().map(|a| a.account_number.as_str()).collect();
            foreign.push(Violation::new(
                "content",
                format!("statement {n} is for account {:?}, which is not among the party's registered bank accounts {held:?}", s.account),
            ));
        }
    }
    if !foreign.is_empty() {
        return Err(Error::Invalid(foreign));
    }
    let sha256 = hex::encode(Sha256::digest(upload.content));
    let parts: Vec<StatementPart> = statements
        .into_iter()
        .map(|s| StatementPart {
            message_id: s.message_id,
            account: s.account,
            entries: s.entries,
        })
        .collect();
    let file = StatementFile {
        party_id: upload.party_id,
        format: upload.format,
        sha256: &sha256,
    };

    let mut tx = store.begin().await?;
    if let Some(ids) = tx.replay_import(idem).await? {
        // The first answer, committed: read like any statement.
        drop(tx);
        let mut stored = Vec::with_capacity(ids.len());
        for id in ids {
            stored.push(store.get_statement(id).await?);
        }
        return Ok(stored);
    }
    tx.lock_reconciliation(upload.party_id).await?;
    let same = tx.statements_of_file(upload.party_id, &sha256).await?;
    let new = same.is_empty();
    let ids = if new {
        let first = derive_id(idem);
        let mut ids = Vec::with_capacity(parts.len());
        for (part, st) in parts.iter().enumerate() {
            let id = if part == 0 {
                first
            } else {
                Uuid::new_v5(&first, format!("part {part}").as_bytes())
            };
            tx.insert_statement(id, &file, part, st).await?;
            ids.push(id);
        }
        let audited: Vec<_> = ids
            .iter()
            .map(|id| (idem, format!("statements/{id}")))
            .collect();
        tx.audit(&audited).await?;
        ids
    } else {
        // The same file again: nothing new is stored.
        same
    };
    tx.respond(idem, &ids).await?;
    let mut stored = Vec::with_capacity(ids.len());
    for id in ids {
        stored.push(tx.statement(id).await?);
    }
    if new {
        let events = stored
            .iter()
            .map(|st| {
                NewEvent::new(
                    EventType::StatementImported,
                    st.party_id,
                    format!("statements/{}", st.id),
                    "",
                    &StatementSummary::from(st),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        tx.emit(events).await?;
    }
    tx.commit().await?;
    Ok(stored)
}
