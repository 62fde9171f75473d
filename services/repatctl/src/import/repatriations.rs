//! `repatriations import FILE.csv`: one expected payment a row, identified
//! by its party and `key` (the payment's reference). The `earnings` column
//! lists the invoices it pays, by invoice reference (looked up among the
//! party's earnings) or earning id, each optionally `:AMOUNT` for part of
//! it. Writes `FILE.ids.csv` for the steps file.

use std::collections::HashMap;
use std::path::Path;

use futures::StreamExt;
use repat_proto::v1 as pb;
use tonic::Code;

use super::{Prepared, Resolver, column_of, request_id};
use crate::client::{Repat, describe, with_retry};
use crate::output::Report;
use crate::wire::parse_enum;

pub const REQUIRED: &[&str] = &["key", "party", "earnings", "channel"];
pub const OPTIONAL: &[&str] = &["payer_country"];

const COLUMNS: &[(&str, &str)] = &[
    ("party_id", "party"),
    ("allocations", "earnings"),
    ("payer_country", "payer_country"),
    ("channel", "channel"),
];

pub fn channel(s: &str) -> Result<pb::Channel, String> {
    parse_enum(
        s,
        "CHANNEL_",
        "channel",
        pb::Channel::from_str_name,
        &["BANK", "PLATFORM", "MOBILE_FINANCIAL_SERVICE"],
    )
}

/// A party's earnings by invoice reference and by id: (id, currency).
pub(super) type Invoices = HashMap<String, (String, String)>;

/// A party's earnings, read from the server.
pub(super) async fn earnings_of(repat: &Repat, party_id: &str) -> Result<Invoices, tonic::Status> {
    let mut by_reference = HashMap::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListEarningsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            party_id: party_id.into(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut client = repat.earnings();
            let request = request.clone();
            async move { client.list_earnings(request).await.map(|r| r.into_inner()) }
        })
        .await?;
        for e in page.earnings {
            let currency = e.amount.map(|m| m.currency).unwrap_or_default();
            by_reference.insert(e.id.clone(), (e.id.clone(), currency.clone()));
            by_reference.insert(e.invoice_reference, (e.id, currency));
        }
        if page.next_page_token.is_empty() {
            return Ok(by_reference);
        }
        page_token = page.next_page_token;
    }
}

pub async fn run(
    repat: &Repat,
    path: &Path,
    party_ids: Option<&Path>,
    no_progress: bool,
) -> anyhow::Result<(Report, bool)> {
    let parties = Resolver::new("party", party_ids)?;
    // First pass: the parties named, so their invoices can be looked up once each.
    let mut named = Vec::new();
    super::read(path, REQUIRED, OPTIONAL, |row| {
        if let Some(Ok(id)) = row.get("party").map(|p| parties.resolve(p)) {
            named.push(id);
        }
        None::<Prepared<()>>
    })?;
    named.sort();
    named.dedup();
    let listed: Vec<(String, Result<Invoices, tonic::Status>)> = futures::stream::iter(named)
        .map(|party| async move { (party.clone(), earnings_of(repat, &party).await) })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut invoices: HashMap<String, Invoices> = HashMap::new();
    for (party, listing) in listed {
        match listing {
            Ok(refs) => {
                invoices.insert(party, refs);
            }
            // The party's rows will say what went wrong.
            Err(status)
                if matches!(
                    status.code(),
                    Code::NotFound | Code::PermissionDenied | Code::InvalidArgument
                ) => {}
            Err(status) => anyhow::bail!(
                "listing the earnings of party {party}: {}",
                describe(&status)
            ),
        }
    }

    let prepared = super::read(path, REQUIRED, OPTIONAL, |row| {
        let key = row.required("key").to_string();
        let party_id = row.parse_required("party", |p| parties.resolve(p));
        let channel = row.parse_required("channel", channel);
        let payer_country = row
            .get("payer_country")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let refs = party_id.as_ref().and_then(|p| invoices.get(p));
        let allocations = row.parse_required("earnings", |list| {
            list.split(';')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|entry| {
                    let (reference, amount) = match entry.rsplit_once(':') {
                        Some((r, a)) => (r.trim(), Some(a.trim())),
                        None => (entry, None),
                    };
                    let Some((earning_id, currency)) = refs.and_then(|r| r.get(reference)) else {
                        return Err(format!("no earning of this party has the invoice reference (or id) {reference:?}"));
                    };
                    // Part of an earning is in the earning's currency.
                    let amount = amount.map(|a| pb::Money { amount: a.to_string(), currency: currency.clone() });
                    let earning_id = earning_id.clone();
                    Ok(pb::Allocation { earning_id, amount })
                })
                .collect::<Result<Vec<_>, String>>()
        });
        let (party_id, channel, allocations) = (party_id?, channel?, allocations?);
        let id = request_id("repatriation", &[&party_id, &key]);
        let request = pb::CreateRepatriationRequest {
            request_id: id.to_string(),
            party_id,
            allocations,
            channel: channel as i32,
            payer_country,
        };
        Some(Prepared {
            line: row.line,
            key,
            request,
        })
    })?;
    let bar = super::progress(prepared.ready.len(), no_progress);
    let column = |path: &str, _: Code| column_of(path, COLUMNS);
    let client = repat.repatriations();
    let sent = super::send_each(prepared.ready, &bar, &column, |request| {
        let mut client = client.clone();
        async move {
            client
                .create_repatriation(request)
                .await
                .map(|r| r.into_inner().id)
        }
    })
    .await;
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}
