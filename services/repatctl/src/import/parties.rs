//! `parties import FILE.csv`: one party a row, identified by its `key` (the
//! firm's own reference, such as its trade licence number). Writes
//! `FILE.ids.csv` so the earnings and repatriations files can name parties
//! by key.

use std::path::Path;

use repat_proto::v1 as pb;
use tonic::Code;

use super::{Prepared, column_of, request_id};
use crate::client::Repat;
use crate::output::Report;
use crate::wire::parse_enum;

pub const REQUIRED: &[&str] = &["key", "kind", "legal_name"];
pub const OPTIONAL: &[&str] = &[
    "country",
    "zone",
    "association",
    "membership_number",
    "bank_bic",
    "account_number",
    "account_currency",
];

const COLUMNS: &[(&str, &str)] = &[
    ("party.memberships[0].association", "association"),
    (
        "party.memberships[0].membership_number",
        "membership_number",
    ),
    ("party.bank_accounts[0].bank_bic", "bank_bic"),
    ("party.bank_accounts[0].account_number", "account_number"),
    ("party.bank_accounts[0].currency", "account_currency"),
];

pub fn party_kind(s: &str) -> Result<pb::PartyKind, String> {
    parse_enum(
        s,
        "PARTY_KIND_",
        "party kind",
        pb::PartyKind::from_str_name,
        &["FIRM", "FREELANCER"],
    )
}

pub fn zone(s: &str) -> Result<pb::Zone, String> {
    parse_enum(
        s,
        "ZONE_",
        "zone",
        pb::Zone::from_str_name,
        &["NONE", "EPZ", "ECONOMIC_ZONE", "HI_TECH_PARK"],
    )
}

pub async fn run(repat: &Repat, path: &Path, no_progress: bool) -> anyhow::Result<(Report, bool)> {
    let prepared = super::read(path, REQUIRED, OPTIONAL, |row| {
        let key = row.required("key").to_string();
        let kind = row.parse_required("kind", party_kind);
        let zone = row.parse("zone", zone).unwrap_or(pb::Zone::None);
        let legal_name = row.required("legal_name").to_string();
        let memberships = match (row.get("association"), row.get("membership_number")) {
            (Some(a), Some(n)) => vec![pb::AssociationMembership {
                association: a.to_ascii_uppercase(),
                membership_number: n.into(),
            }],
            (None, None) => vec![],
            (Some(_), None) => {
                row.error("membership_number", "is required with association");
                vec![]
            }
            (None, Some(_)) => {
                row.error("association", "is required with membership_number");
                vec![]
            }
        };
        let bank_accounts = match (row.get("bank_bic"), row.get("account_number")) {
            (Some(bic), Some(number)) => vec![pb::BankAccount {
                bank_bic: bic.to_ascii_uppercase(),
                account_number: number.into(),
                currency: row
                    .get("account_currency")
                    .unwrap_or("BDT")
                    .to_ascii_uppercase(),
                ..Default::default()
            }],
            (None, None) => vec![],
            _ => {
                row.error("bank_bic", "bank_bic and account_number go together");
                vec![]
            }
        };
        let party = pb::Party {
            kind: kind? as i32,
            legal_name,
            country: row.get("country").unwrap_or("BD").to_ascii_uppercase(),
            zone: zone as i32,
            memberships,
            bank_accounts,
            ..Default::default()
        };
        let id = request_id("party", &[&key]);
        Some(Prepared {
            line: row.line,
            key,
            request: pb::CreatePartyRequest {
                request_id: id.to_string(),
                party: Some(party),
            },
        })
    })?;
    let bar = super::progress(prepared.ready.len(), no_progress);
    let column = |path: &str, _: Code| column_of(path, COLUMNS);
    let client = repat.parties();
    let sent = super::send_each(prepared.ready, &bar, &column, |request| {
        let mut client = client.clone();
        async move {
            client
                .create_party(request)
                .await
                .map(|r| r.into_inner().id)
        }
    })
    .await;
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}
