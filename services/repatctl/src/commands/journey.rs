//! Parties, earnings and repatriations: create, list, and a journey shown
//! as a timeline.

use repat_proto::v1 as pb;
use serde_json::{Value, json};

use crate::cli::{ChannelArg, PartyKindArg, ZoneArg};
use crate::client::{Repat, with_retry};
use crate::output::{Report, text};
use crate::wire::{
    channel_name, date, human_duration, money, party_kind_name, seconds, status_name,
    step_kind_name, timestamp, zone_name,
};

fn party_kind(k: PartyKindArg) -> pb::PartyKind {
    match k {
        PartyKindArg::Firm => pb::PartyKind::Firm,
        PartyKindArg::Freelancer => pb::PartyKind::Freelancer,
    }
}

pub fn zone(z: ZoneArg) -> pb::Zone {
    match z {
        ZoneArg::None => pb::Zone::None,
        ZoneArg::Epz => pb::Zone::Epz,
        ZoneArg::EconomicZone => pb::Zone::EconomicZone,
        ZoneArg::HiTechPark => pb::Zone::HiTechPark,
    }
}

pub fn party_kind_arg(k: PartyKindArg) -> pb::PartyKind {
    party_kind(k)
}

fn channel(c: ChannelArg) -> pb::Channel {
    match c {
        ChannelArg::Bank => pb::Channel::Bank,
        ChannelArg::Platform => pb::Channel::Platform,
        ChannelArg::MobileFinancialService => pb::Channel::MobileFinancialService,
    }
}

fn party_row(p: &pb::Party) -> Vec<Value> {
    vec![
        json!(p.id),
        json!(party_kind_name(p.kind)),
        json!(p.legal_name),
        json!(p.country),
        json!(zone_name(p.zone)),
        text(
            p.memberships
                .iter()
                .map(|m| format!("{} {}", m.association, m.membership_number))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        text(
            p.bank_accounts
                .iter()
                .map(|a| format!("{} {} {}", a.bank_bic, a.account_number, a.currency))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]
}

const PARTY_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "legal_name",
    "country",
    "zone",
    "memberships",
    "bank_accounts",
];

#[allow(clippy::too_many_arguments)]
pub async fn create_party(
    repat: &Repat,
    kind: PartyKindArg,
    legal_name: String,
    country: String,
    zone_arg: ZoneArg,
    membership: Option<String>,
    bank_account: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let memberships = match membership {
        Some(m) => {
            let (a, n) = m.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("--membership is ASSOCIATION:NUMBER, e.g. BASIS:G-1024")
            })?;
            vec![pb::AssociationMembership {
                association: a.to_ascii_uppercase(),
                membership_number: n.into(),
            }]
        }
        None => vec![],
    };
    let bank_accounts = match bank_account {
        Some(b) => {
            let parts: Vec<&str> = b.split(':').collect();
            let [bic, number, currency] = parts[..] else {
                anyhow::bail!(
                    "--bank-account is BIC:ACCOUNT:CURRENCY, e.g. BRAKBDDH:1501202900001:USD"
                )
            };
            vec![pb::BankAccount {
                bank_bic: bic.to_ascii_uppercase(),
                account_number: number.into(),
                currency: currency.to_ascii_uppercase(),
                ..Default::default()
            }]
        }
        None => vec![],
    };
    let request = pb::CreatePartyRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        party: Some(pb::Party {
            kind: party_kind(kind) as i32,
            legal_name,
            country: country.to_ascii_uppercase(),
            zone: zone(zone_arg) as i32,
            memberships,
            bank_accounts,
            ..Default::default()
        }),
    };
    let p = with_retry(|| {
        let mut c = repat.parties();
        let r = request.clone();
        async move { c.create_party(r).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(Report::default().table("party", PARTY_COLUMNS, vec![party_row(&p)]))
}

pub async fn list_parties(repat: &Repat, kind: Option<PartyKindArg>) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListPartiesRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            kind: kind.map_or(0, |k| party_kind(k) as i32),
        };
        let page = with_retry(|| {
            let mut c = repat.parties();
            let r = request.clone();
            async move { c.list_parties(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        rows.extend(page.parties.iter().map(party_row));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Report::default().table("parties", PARTY_COLUMNS, rows))
}

pub async fn list_earnings(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListEarningsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            party_id: party.clone().unwrap_or_default(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut c = repat.earnings();
            let r = request.clone();
            async move { c.list_earnings(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        for e in &page.earnings {
            rows.push(vec![
                json!(e.id),
                json!(e.party_id),
                json!(e.invoice_reference),
                json!(e.client_name),
                json!(e.client_country),
                json!(date(&e.invoice_date)),
                json!(money(&e.amount)),
                json!(money(&e.allocated)),
            ]);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Report::default().table(
        "earnings",
        &[
            "id",
            "party",
            "invoice_reference",
            "client",
            "client_country",
            "invoice_date",
            "amount",
            "allocated",
        ],
        rows,
    ))
}

pub async fn open(
    repat: &Repat,
    party: String,
    earnings: Vec<String>,
    channel_arg: ChannelArg,
    payer_country: Option<String>,
    request_id: Option<uuid::Uuid>,
) -> anyhow::Result<Report> {
    let mut allocations = Vec::new();
    for e in earnings {
        let (id, amount) = match e.split_once(':') {
            Some((id, a)) => (id.to_string(), Some(a.to_string())),
            None => (e, None),
        };
        // The currency of part of an earning is the earning's own.
        let amount = match amount {
            Some(a) => {
                let earning = repat
                    .earnings()
                    .get_earning(pb::GetEarningRequest { id: id.clone() })
                    .await?
                    .into_inner();
                Some(pb::Money {
                    amount: a,
                    currency: earning.amount.map(|m| m.currency).unwrap_or_default(),
                })
            }
            None => None,
        };
        allocations.push(pb::Allocation {
            earning_id: id,
            amount,
        });
    }
    let request = pb::CreateRepatriationRequest {
        request_id: request_id.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        party_id: party,
        allocations,
        channel: channel(channel_arg) as i32,
        payer_country: payer_country.unwrap_or_default().to_ascii_uppercase(),
    };
    let r = with_retry(|| {
        let mut c = repat.repatriations();
        let req = request.clone();
        async move { c.create_repatriation(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    Ok(Report::default().table(
        "repatriation",
        REPATRIATION_COLUMNS,
        vec![repatriation_row(&r)],
    ))
}

const REPATRIATION_COLUMNS: &[&str] = &[
    "id", "party", "status", "channel", "corridor", "expected", "steps", "opened",
];

fn repatriation_row(r: &pb::Repatriation) -> Vec<Value> {
    vec![
        json!(r.id),
        json!(r.party_id),
        json!(status_name(r.status)),
        json!(channel_name(r.channel)),
        json!(r.payer_country),
        json!(money(&r.expected_amount)),
        json!(r.step_count),
        json!(timestamp(&r.create_time)),
    ]
}

pub async fn list_repatriations(repat: &Repat, party: Option<String>) -> anyhow::Result<Report> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListRepatriationsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
            party_id: party.clone().unwrap_or_default(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut c = repat.repatriations();
            let r = request.clone();
            async move { c.list_repatriations(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        rows.extend(page.repatriations.iter().map(repatriation_row));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Report::default().table("repatriations", REPATRIATION_COLUMNS, rows))
}

/// The journey: what it is, then each step with when it occurred and how
/// long the money waited for it.
pub async fn show(repat: &Repat, id: String) -> anyhow::Result<Report> {
    let r = with_retry(|| {
        let mut c = repat.repatriations();
        let id = id.clone();
        async move {
            c.get_repatriation(pb::GetRepatriationRequest { id })
                .await
                .map(|r| r.into_inner())
        }
    })
    .await?;
    let d = r.durations.unwrap_or_default();
    let fees = r.fees.clone().unwrap_or_default();
    let share = if fees.fee_share_of_initiated.is_empty() {
        Value::Null
    } else {
        json!(fees.fee_share_of_initiated)
    };
    let summary = vec![
        ("id", json!(r.id)),
        ("party", json!(r.party_id)),
        ("status", json!(status_name(r.status))),
        ("channel", json!(channel_name(r.channel))),
        ("corridor", json!(r.payer_country)),
        ("expected", json!(money(&r.expected_amount))),
        (
            "earnings",
            json!(
                r.allocations
                    .iter()
                    .map(|a| format!("{} ({})", a.earning_id, money(&a.amount)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "initiation_to_funds_available",
            json!(human_duration(&d.initiation_to_funds_available)),
        ),
        (
            "invoice_to_realization",
            json!(human_duration(&d.invoice_to_realization)),
        ),
        (
            "invoice_to_realization_days",
            if d.invoice_to_realization.is_some() {
                json!(d.invoice_to_realization_days)
            } else {
                Value::Null
            },
        ),
        ("total", json!(human_duration(&d.total))),
        (
            "initiation_to_funds_available_secs",
            seconds(&d.initiation_to_funds_available),
        ),
        (
            "invoice_to_realization_secs",
            seconds(&d.invoice_to_realization),
        ),
        ("total_secs", seconds(&d.total)),
        (
            "fees",
            json!(
                fees.total_fees
                    .iter()
                    .map(|m| money(&Some(m.clone())))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        ("fee_share_of_initiated", share),
        (
            "initiated_minus_credited",
            json!(money(&fees.initiated_minus_credited)),
        ),
    ];
    let rows = r
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                json!(i + 1),
                json!(step_kind_name(s.kind)),
                json!(timestamp(&s.occurred_at)),
                json!(human_duration(&s.wait_before)),
                seconds(&s.wait_before),
                text(s.institution_bic.clone()),
                text(money(&s.amount)),
                text(
                    s.fees
                        .iter()
                        .map(|f| format!("{} {}", money(&f.amount), f.charged_by))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                text(
                    s.fx_rate
                        .as_ref()
                        .map(|f| format!("{}/{} {}", f.target_currency, f.source_currency, f.rate))
                        .unwrap_or_default(),
                ),
                text(if s.reason_code.is_empty() {
                    s.note.clone()
                } else {
                    format!("{} {}", s.reason_code, s.note).trim().to_string()
                }),
            ]
        })
        .collect();
    Ok(Report::default()
        .fields("repatriation", summary)
        .table(
            "timeline",
            &[
                "#",
                "step",
                "occurred_at",
                "wait",
                "wait_secs",
                "institution",
                "amount",
                "fees",
                "fx",
                "note",
            ],
            rows,
        )
        .main())
}
