//! `earnings import FILE.csv`: one invoice a row, streamed through
//! BatchCreateEarnings. A row is identified by its party and invoice
//! reference (unique per party), so re-running adds nothing. The new ids go
//! to FILE.ids.csv, keyed `party/invoice_reference` as written.
//!
//! With `--amend`, a row whose invoice is already recorded with other
//! details (a corrected file imported again) amends that earning, with the
//! reason given, instead of being refused.

use std::collections::HashSet;
use std::path::Path;

use repat_proto::google::r#type::Date;
use repat_proto::v1 as pb;
use tonic::Code;

use super::{Prepared, Resolver, column_of, request_id};
use crate::client::Repat;
use crate::output::Report;
use crate::wire::{parse_date, parse_enum};

pub const REQUIRED: &[&str] = &[
    "party",
    "client_name",
    "client_country",
    "service_category",
    "amount",
    "currency",
    "invoice_date",
    "invoice_reference",
];
pub const OPTIONAL: &[&str] = &["due_date", "marketplace"];

/// API field paths to the file's columns.
const COLUMNS: &[(&str, &str)] = &[
    ("earning.party_id", "party"),
    ("earning.amount.amount", "amount"),
    ("earning.amount.currency", "currency"),
    ("earning.amount", "amount"),
];

pub async fn run(
    repat: &Repat,
    path: &Path,
    party_ids: Option<&Path>,
    amend: Option<&str>,
    no_progress: bool,
) -> anyhow::Result<(Report, bool)> {
    let parties = Resolver::new("party", party_ids)?;
    let prepared = super::read(path, REQUIRED, OPTIONAL, |row| {
        let party_id = row.parse_required("party", |p| parties.resolve(p));
        let service_category = row.parse_required("service_category", |s| {
            parse_enum(
                s,
                "SERVICE_CATEGORY_",
                "service category",
                pb::ServiceCategory::from_str_name,
                &["SOFTWARE", "ITES", "HARDWARE"],
            )
        });
        let invoice_date = row.parse_required("invoice_date", parse_date);
        let due_date = row.parse("due_date", parse_date);
        // The amount goes to the server as written: it checks the scale
        // against the currency and says so per row.
        let amount = pb::Money {
            amount: row.required("amount").to_string(),
            currency: row.required("currency").to_ascii_uppercase(),
        };
        let reference = row.required("invoice_reference").to_string();
        let client_name = row.required("client_name").to_string();
        let client_country = row.required("client_country").to_ascii_uppercase();
        let marketplace = row.get("marketplace").unwrap_or_default().to_string();
        let (party_id, service_category, invoice_date) =
            (party_id?, service_category?, invoice_date?);
        let earning = pb::Earning {
            party_id: party_id.clone(),
            client_name,
            client_country,
            service_category: service_category as i32,
            amount: Some(amount),
            invoice_date: Some(invoice_date),
            due_date,
            invoice_reference: reference.clone(),
            marketplace,
            ..Default::default()
        };
        let id = request_id("earning", &[&party_id, &reference]);
        let key = format!("{}/{reference}", row.get("party").unwrap_or_default());
        Some(Prepared {
            line: row.line,
            key,
            request: pb::CreateEarningRequest {
                request_id: id.to_string(),
                earning: Some(earning),
            },
        })
    })?;
    let bar = super::progress(prepared.ready.len(), no_progress);
    let column = |path: &str, _: Code| column_of(path, COLUMNS);
    let client = repat.earnings();
    let rows = amend.map(|_| prepared.ready.clone());
    let mut sent = super::send_batch(prepared.ready, &bar, &column, |batch| {
        let mut client = client.clone();
        async move {
            client
                .batch_create_earnings(futures::stream::iter(batch))
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    if let (Some(reason), Some(rows)) = (amend, rows) {
        // The rows refused as already recorded (with other details): each
        // amends its earning, named by party and invoice reference.
        let recorded: HashSet<u64> = sent
            .errors
            .iter()
            .filter(|e| e.reason.starts_with("AlreadyExists"))
            .map(|e| e.line)
            .collect();
        sent.errors.retain(|e| !recorded.contains(&e.line));
        let changed: Vec<_> = rows
            .into_iter()
            .filter(|p| recorded.contains(&p.line))
            .map(|p| Prepared {
                line: p.line,
                key: p.key,
                request: amendment(p.request, reason),
            })
            .collect();
        bar.inc_length(changed.len() as u64);
        let amended = super::send_each(changed, &bar, &column, |r| {
            let mut client = client.clone();
            async move { client.amend_earning(r).await.map(|e| e.into_inner().id) }
        })
        .await;
        sent.stored += amended.stored;
        sent.ids.extend(amended.ids);
        sent.errors.extend(amended.errors);
    }
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}

/// The amendment a corrected row makes. Its request id follows the row's
/// content and the reason, so importing the same corrected file again is a
/// retry, and a further correction a new revision.
fn amendment(create: pb::CreateEarningRequest, reason: &str) -> pb::AmendEarningRequest {
    let e = create.earning.unwrap_or_default();
    let date = |d: &Option<Date>| {
        d.as_ref()
            .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    let amount = e.amount.clone().unwrap_or_default();
    let id = request_id(
        "earning-amendment",
        &[
            &e.party_id,
            &e.invoice_reference,
            &e.client_name,
            &e.client_country,
            &e.service_category.to_string(),
            &amount.amount,
            &amount.currency,
            &date(&e.invoice_date),
            &date(&e.due_date),
            &e.marketplace,
            reason,
        ],
    );
    pb::AmendEarningRequest {
        request_id: id.to_string(),
        id: String::new(),
        earning: Some(e),
        reason: reason.to_string(),
        expected_revision: 0,
    }
}
