//! What the rules are applied to, read off a recorded journey: who was paid,
//! for what, when the money was credited and at what rate it became taka.
//! Only when steps occurred counts, never the order they were recorded in.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::assess::Case;
use super::rules::RuleSet;
use crate::Named;
use crate::document::{Document, DocumentKind, held_for};
use crate::earning::Earning;
use crate::facts::{PartyFact, party_on};
use crate::journey::{Step, StepKind};
use crate::party::Party;
use crate::time::dhaka_date;

/// The document an association membership stands for.
pub const ASSOCIATION_CERTIFICATE: &str = "ASSOCIATION_CERTIFICATE";

/// A recorded repatriation, as the rules see it.
pub struct JourneyFacts<'a> {
    pub repatriation_id: uuid::Uuid,
    /// The party as registered...
    pub party: &'a Party,
    /// ...and the changes of its facts, in the order recorded.
    pub party_facts: &'a [PartyFact],
    /// What the repatriation pays, at least one.
    pub earnings: &'a [Earning],
    pub steps: &'a [Step],
    /// The party's documents.
    pub documents: &'a [Document],
}

/// What the caller adds to the record.
#[derive(Debug, Clone, Default)]
pub struct Supplied {
    /// Documents held beyond an association membership.
    pub documents: Vec<String>,
    /// BDT per unit, used when no CONVERTED_TO_BDT step carries a rate.
    pub fx_rate: Option<Decimal>,
}

/// The earliest occurrence of `kind` (a kind occurs once, except hops).
fn first(steps: &[Step], kind: StepKind) -> Option<&Step> {
    steps
        .iter()
        .filter(|s| s.kind() == kind)
        .min_by_key(|s| (s.occurred_at(), s.id))
}

/// Builds the case of a recorded journey, as of `as_of`.
///
/// - The service category and invoice date are those of the earliest
///   invoice the repatriation pays.
/// - Realization is BENEFICIARY_CREDITED, dated in Dhaka; its amount is the
///   net credited after fees deducted abroad.
/// - The rate is that of CONVERTED_TO_BDT from the credited currency to BDT,
///   else the one supplied.
/// - Every channel repat records (bank, platform, mobile financial service)
///   is one banks accept (FE Circular Letter No. 02 of 5 Feb 2023).
/// - The party's zone and memberships, and the documents that count, are
///   those of the date the programme looks at (the realization date,
///   [`super::rules::Programme::date_looked_at`]; before realization, or
///   with no programme, `as_of`): re-assessing an old repatriation gives
///   the answer of its time.
/// - Documents held: those recorded ([`held_for`]), those supplied, the
///   association certificate that a membership in force stands for, and
///   the PRC, which is one fact with the journey's PRC_ISSUED step: the
///   step counts as the certificate.
pub fn case_of(
    rules: &RuleSet,
    facts: &JourneyFacts<'_>,
    supplied: &Supplied,
    as_of: NaiveDate,
) -> Option<Case> {
    let earliest = facts
        .earnings
        .iter()
        .min_by_key(|e| (e.details.invoice_date, e.id))?;
    let credited = first(facts.steps, StepKind::BeneficiaryCredited);
    let net_credited = credited.and_then(|s| s.details.amount);
    let journey_rate = first(facts.steps, StepKind::ConvertedToBdt)
        .and_then(|s| s.details.fx_rate.as_ref())
        .and_then(|fx| {
            let matches = net_credited.is_some_and(|n| n.currency() == fx.source)
                && fx.target.code() == "BDT";
            matches.then_some(fx.rate)
        });
    let realized_on = credited.map(|s| dhaka_date(s.occurred_at()));
    let looked_at = rules
        .programme_for(
            facts.party.details.kind.name(),
            earliest.details.service_category.name(),
        )
        .and_then(|p| p.date_looked_at(earliest.details.invoice_date, realized_on))
        .unwrap_or(as_of);
    let party = party_on(facts.party, facts.party_facts, looked_at);
    let earning_ids: Vec<_> = facts.earnings.iter().map(|e| e.id).collect();
    let mut documents = supplied.documents.clone();
    documents.extend(
        held_for(
            facts.documents,
            facts.repatriation_id,
            &earning_ids,
            looked_at,
        )
        .into_iter()
        .map(|k| k.name().to_string()),
    );
    if !party.details.memberships.is_empty() {
        documents.push(ASSOCIATION_CERTIFICATE.to_string());
    }
    if first(facts.steps, StepKind::PrcIssued).is_some() {
        documents.push(
            DocumentKind::ProceedsRealizationCertificate
                .name()
                .to_string(),
        );
    }
    documents.sort();
    documents.dedup();
    let recognised_marketplace = facts
        .earnings
        .iter()
        .all(|e| rules.recognises_marketplace(&e.details.marketplace));
    Some(Case {
        party_kind: party.details.kind,
        zone: party.details.zone,
        category: earliest.details.service_category,
        formal_channel: true,
        invoice_date: earliest.details.invoice_date,
        realized_on,
        net_credited,
        fx_rate: journey_rate.or(supplied.fx_rate),
        claim_filed_on: first(facts.steps, StepKind::IncentiveClaimFiled)
            .map(|s| dhaka_date(s.occurred_at())),
        as_of,
        documents,
        recognised_marketplace,
    })
}
