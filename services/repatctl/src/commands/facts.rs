//! A party's facts over time: its zone, memberships and bank accounts as
//! they stand on a day, a change recorded from a day on, and the history
//! of changes.

use repat_proto::v1 as pb;

use crate::cli::{FactArg, PartyChangeArgs};
use crate::client::{Repat, in_flag_terms, with_retry};
use crate::commands::journey::{party_fields, zone};
use crate::names::party_id;
use crate::output::{Cell, Report, text};
use crate::wire::{date, enum_name, parse_date, timestamp, zone_name};

fn fact_kind(f: FactArg) -> pb::PartyFactKind {
    match f {
        FactArg::Zone => pb::PartyFactKind::Zone,
        FactArg::Memberships => pb::PartyFactKind::Memberships,
        FactArg::BankAccounts => pb::PartyFactKind::BankAccounts,
    }
}

/// `ASSOCIATION:NUMBER,...`, or "none".
fn memberships(list: &str) -> anyhow::Result<Vec<pb::AssociationMembership>> {
    if list.trim().eq_ignore_ascii_case("none") {
        return Ok(vec![]);
    }
    list.split(',')
        .map(|m| {
            let (a, n) = m.trim().split_once(':').ok_or_else(|| {
                anyhow::anyhow!(
                    "--memberships is ASSOCIATION:NUMBER,... (e.g. BASIS:G-1024), or none; got {m:?}"
                )
            })?;
            Ok(pb::AssociationMembership {
                association: a.trim().to_ascii_uppercase(),
                membership_number: n.trim().into(),
            })
        })
        .collect()
}

/// `BIC:ACCOUNT:CURRENCY,...`, or "none".
fn bank_accounts(list: &str) -> anyhow::Result<Vec<pb::BankAccount>> {
    if list.trim().eq_ignore_ascii_case("none") {
        return Ok(vec![]);
    }
    list.split(',')
        .map(|b| {
            let parts: Vec<&str> = b.trim().split(':').collect();
            let [bic, number, currency] = parts[..] else {
                anyhow::bail!(
                    "--bank-accounts is BIC:ACCOUNT:CURRENCY,... (e.g. BRAKBDDH:1501202900001:USD), or none; got {b:?}"
                )
            };
            Ok(pb::BankAccount {
                bank_bic: bic.to_ascii_uppercase(),
                account_number: number.into(),
                currency: currency.to_ascii_uppercase(),
                ..Default::default()
            })
        })
        .collect()
}

/// A fact's value as one line: the zone, or the memberships or accounts.
fn describe(v: &Option<pb::PartyFactValue>) -> String {
    let Some(v) = v else { return String::new() };
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_string()
        } else {
            items.join(", ")
        }
    };
    match pb::PartyFactKind::try_from(v.kind) {
        Ok(pb::PartyFactKind::Zone) => zone_name(v.zone),
        Ok(pb::PartyFactKind::Memberships) => list(
            v.memberships
                .iter()
                .map(|m| format!("{} {}", m.association, m.membership_number))
                .collect(),
        ),
        Ok(pb::PartyFactKind::BankAccounts) => list(
            v.bank_accounts
                .iter()
                .map(|a| format!("{} {} {}", a.bank_bic, a.account_number, a.currency))
                .collect(),
        ),
        _ => String::new(),
    }
}

const FACT_COLUMNS: &[&str] = &[
    "fact",
    "effective_from",
    "value",
    "previous",
    "reason",
    "recorded_by",
    "recorded_at",
    "id",
];

fn fact_row(f: &pb::PartyFact) -> Vec<Cell> {
    let kind = f
        .value
        .as_ref()
        .and_then(|v| pb::PartyFactKind::try_from(v.kind).ok())
        .map(|k| enum_name(k.as_str_name(), "PARTY_FACT_KIND_"))
        .unwrap_or_default();
    vec![
        text(kind),
        text(date(&f.effective_from)),
        text(describe(&f.value)),
        text(describe(&f.previous)),
        text(f.reason.clone()),
        text(f.recorded_by.clone()),
        text(timestamp(&f.record_time)),
        text(f.id.clone()),
    ]
}

pub async fn show(repat: &Repat, party: String, as_of: Option<String>) -> anyhow::Result<Report> {
    let id = party_id(repat, &party).await?;
    let request = pb::GetPartyRequest {
        id,
        as_of: as_of
            .as_deref()
            .map(parse_date)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--as-of: {e}"))?,
    };
    let p = with_retry(|| {
        let mut c = repat.parties();
        let r = request.clone();
        async move { c.get_party(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    let mut fields = party_fields(&p);
    fields.push(("as_of", text(as_of.unwrap_or_else(|| "today".into()))));
    Ok(Report::default().fields("party", fields))
}

pub async fn change(repat: &Repat, args: PartyChangeArgs) -> anyhow::Result<Report> {
    let party = party_id(repat, &args.party).await?;
    let value = match (&args.zone, &args.memberships, &args.bank_accounts) {
        (Some(z), _, _) => pb::PartyFactValue {
            kind: pb::PartyFactKind::Zone as i32,
            zone: zone(*z) as i32,
            ..Default::default()
        },
        (_, Some(m), _) => pb::PartyFactValue {
            kind: pb::PartyFactKind::Memberships as i32,
            memberships: memberships(m)?,
            ..Default::default()
        },
        (_, _, Some(b)) => pb::PartyFactValue {
            kind: pb::PartyFactKind::BankAccounts as i32,
            bank_accounts: bank_accounts(b)?,
            ..Default::default()
        },
        _ => anyhow::bail!("give one of --zone, --memberships or --bank-accounts"),
    };
    let request = pb::CreatePartyFactRequest {
        request_id: args
            .request_id
            .unwrap_or_else(uuid::Uuid::new_v4)
            .to_string(),
        party_id: party,
        effective_from: Some(parse_date(&args.from).map_err(anyhow::Error::msg)?),
        value: Some(value),
        reason: args.reason.clone(),
    };
    let f = with_retry(|| {
        let mut c = repat.parties();
        let r = request.clone();
        async move { c.create_party_fact(r).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| {
        in_flag_terms(
            s,
            &[
                ("effective_from", "--from"),
                ("value.memberships", "--memberships"),
                ("value.bank_accounts", "--bank-accounts"),
                ("value.zone", "--zone"),
                ("reason", "--reason"),
            ],
        )
    })?;
    Ok(Report::default().fields(
        "change",
        FACT_COLUMNS.iter().copied().zip(fact_row(&f)).collect(),
    ))
}

pub async fn history(
    repat: &Repat,
    party: String,
    fact: Option<FactArg>,
) -> anyhow::Result<Report> {
    let party = party_id(repat, &party).await?;
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListPartyFactsRequest {
            party_id: party.clone(),
            page_size: 1000,
            page_token: page_token.clone(),
            kind: fact.map_or(0, |f| fact_kind(f) as i32),
        };
        let page = with_retry(|| {
            let mut c = repat.parties();
            let r = request.clone();
            async move { c.list_party_facts(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        rows.extend(page.facts.iter().map(fact_row));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Report::default().table("changes", FACT_COLUMNS, rows))
}

/// What `parties correct` changes.
pub struct Correction {
    pub party: String,
    pub legal_name: Option<String>,
    pub country: Option<String>,
    pub reason: String,
    pub expected_revision: Option<u32>,
}

pub async fn correct(
    repat: &Repat,
    c: Correction,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    anyhow::ensure!(
        c.legal_name.is_some() || c.country.is_some(),
        "give --legal-name or --country (facts over time are `parties change`)"
    );
    let request = pb::CorrectPartyRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        id: party_id(repat, &c.party).await?,
        legal_name: c.legal_name.unwrap_or_default(),
        country: c.country.unwrap_or_default().to_ascii_uppercase(),
        reason: c.reason,
        expected_revision: c.expected_revision.map(i64::from).unwrap_or_default(),
    };
    let p = with_retry(|| {
        let mut client = repat.parties();
        let r = request.clone();
        async move { client.correct_party(r).await.map(|r| r.into_inner()) }
    })
    .await
    .map_err(|s| {
        in_flag_terms(
            s,
            &[
                ("legal_name", "--legal-name"),
                ("country", "--country"),
                ("reason", "--reason"),
            ],
        )
    })?;
    let mut fields = vec![("id", text(p.id.clone()))];
    fields.extend(party_fields(&p));
    Ok(Report::default().fields("party", fields))
}
