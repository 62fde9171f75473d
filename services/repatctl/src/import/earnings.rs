//! `earnings import FILE.csv`: one invoice a row, streamed through
//! BatchCreateEarnings. A row is identified by its party and invoice
//! reference (unique per party), so re-running adds nothing. The new ids go
//! to FILE.ids.csv, keyed `party/invoice_reference` as written.

use std::path::Path;

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
    let sent = super::send_batch(prepared.ready, &bar, &column, |batch| {
        let mut client = client.clone();
        async move {
            client
                .batch_create_earnings(futures::stream::iter(batch))
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}
