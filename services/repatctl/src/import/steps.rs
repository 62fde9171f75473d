//! `steps import FILE.csv`: one step of a journey a row, streamed through
//! BatchRecordSteps (the server commits them in chunks). A step is
//! identified by its repatriation, kind, instant and institution, so
//! re-running adds nothing, and files may overlap. The new steps' ids go to
//! FILE.ids.csv, keyed `repatriation/kind/occurred_at[/institution_bic]` as
//! written.

use std::path::Path;

use repat_proto::v1 as pb;
use tonic::Code;

use super::{Prepared, Resolver, column_of, request_id};
use crate::client::Repat;
use crate::output::Report;
use crate::wire::{STEP_KINDS, canonical_instant, parse_enum, parse_timestamp};

pub const REQUIRED: &[&str] = &["repatriation", "kind", "occurred_at"];
pub const OPTIONAL: &[&str] = &[
    "institution_bic",
    "amount",
    "currency",
    "fee_amount",
    "fee_currency",
    "fee_charged_by",
    "fee_kind",
    "fx_rate",
    "fx_source_currency",
    "fx_target_currency",
    "end_to_end_id",
    "uetr",
    "gpi_status",
    "reason_code",
    "note",
];

const COLUMNS: &[(&str, &str)] = &[
    ("step.repatriation_id", "repatriation"),
    ("step.amount.amount", "amount"),
    ("step.amount.currency", "currency"),
    ("step.fees[0].amount.amount", "fee_amount"),
    ("step.fees[0].amount.currency", "fee_currency"),
    ("step.fees[0].charged_by", "fee_charged_by"),
    ("step.fees", "fee_amount"),
    ("step.fx_rate.rate", "fx_rate"),
    ("step.fx_rate", "fx_rate"),
];

/// The column a refusal without a field is about: the journey's order is
/// about the kind and instant, a missing repatriation about its column.
fn column(path: &str, code: Code) -> String {
    match (path, code) {
        ("", Code::NotFound) => "repatriation".into(),
        ("", _) => "kind".into(),
        _ => column_of(path, COLUMNS),
    }
}

pub async fn run(
    repat: &Repat,
    path: &Path,
    repatriation_ids: Option<&Path>,
    no_progress: bool,
) -> anyhow::Result<(Report, bool)> {
    let repatriations = Resolver::new("repatriation", repatriation_ids)?;
    let prepared = super::read(path, REQUIRED, OPTIONAL, |row| {
        let repatriation_id = row.parse_required("repatriation", |r| repatriations.resolve(r));
        let kind = row.parse_required("kind", |k| {
            parse_enum(
                k,
                "STEP_KIND_",
                "step kind",
                pb::StepKind::from_str_name,
                STEP_KINDS,
            )
        });
        let occurred_at = row.parse_required("occurred_at", parse_timestamp);
        let institution = row
            .get("institution_bic")
            .unwrap_or_default()
            .to_ascii_uppercase();
        let amount = row.get("amount").map(|a| pb::Money {
            amount: a.into(),
            currency: row.get("currency").unwrap_or_default().to_ascii_uppercase(),
        });
        let fees = match row.get("fee_amount") {
            Some(fee) => vec![pb::Fee {
                amount: Some(pb::Money {
                    amount: fee.into(),
                    currency: row
                        .get("fee_currency")
                        .or(row.get("currency"))
                        .unwrap_or_default()
                        .to_ascii_uppercase(),
                }),
                charged_by: row
                    .get("fee_charged_by")
                    .map(str::to_string)
                    .unwrap_or_else(|| institution.clone()),
                kind: row.get("fee_kind").unwrap_or_default().to_string(),
            }],
            None => vec![],
        };
        let fx_rate = row.get("fx_rate").map(|rate| pb::FxRate {
            source_currency: row
                .get("fx_source_currency")
                .or(row.get("currency"))
                .unwrap_or_default()
                .to_ascii_uppercase(),
            target_currency: row
                .get("fx_target_currency")
                .unwrap_or("BDT")
                .to_ascii_uppercase(),
            rate: rate.into(),
        });
        let gpi_status = row.parse("gpi_status", |g| {
            parse_enum(
                g,
                "GPI_STATUS_",
                "gpi status",
                pb::GpiStatus::from_str_name,
                &["ACSP", "ACCC", "RJCT"],
            )
        });
        let (repatriation_id, kind, occurred_at) = (repatriation_id?, kind?, occurred_at?);
        let id = request_id(
            "step",
            &[
                &repatriation_id,
                kind.as_str_name(),
                &canonical_instant(&occurred_at),
                &institution,
            ],
        );
        let key = [
            row.get("repatriation"),
            row.get("kind"),
            row.get("occurred_at"),
            row.get("institution_bic"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
        let step = pb::Step {
            repatriation_id,
            kind: kind as i32,
            occurred_at: Some(occurred_at),
            institution_bic: institution,
            amount,
            fees,
            fx_rate,
            end_to_end_id: row.get("end_to_end_id").unwrap_or_default().into(),
            uetr: row.get("uetr").unwrap_or_default().into(),
            gpi_status: gpi_status.map_or(0, |g| g as i32),
            reason_code: row.get("reason_code").unwrap_or_default().into(),
            note: row.get("note").unwrap_or_default().into(),
            ..Default::default()
        };
        Some(Prepared {
            line: row.line,
            key,
            request: pb::RecordStepRequest {
                request_id: id.to_string(),
                step: Some(step),
            },
        })
    })?;
    let bar = super::progress(prepared.ready.len(), no_progress);
    let client = repat.repatriations();
    let sent = super::send_batch(prepared.ready, &bar, &column, |batch| {
        let mut client = client.clone();
        async move {
            client
                .batch_record_steps(futures::stream::iter(batch))
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    bar.finish_and_clear();
    super::finish(path, prepared.rows, prepared.errors, sent, true)
}
