//! Reconciliation values to and from the wire.

use repat_core::Named;
use repat_core::journey::FxRate;
use repat_core::reconcile::{
    Candidate, EntryKind, Exception, ExceptionReason, MatchMethod, RealizationStatus,
    StatementFormat, Subject,
};
use repat_proto::v1 as pb;
use repat_store::{EarningRealization, EntryStatus, StoredEntry, StoredMatch, StoredStatement};
use repat_usecases::run_matching::MatchingRun;

use crate::convert::{date, enum_map, money, timestamp};

enum_map!(format, format_from, pb::StatementFormat, StatementFormat, {
    Camt053 <=> Camt053, Camt054 <=> Camt054, Mt940 <=> Mt940, Csv <=> Csv, Camt052 <=> Camt052, Mt942 <=> Mt942,
});
enum_map!(entry_kind, entry_kind_from, pb::EntryKind, EntryKind, {
    Credit <=> Credit, Debit <=> Debit, CreditReversal <=> CreditReversal, DebitReversal <=> DebitReversal,
});
enum_map!(entry_status, entry_status_from, pb::EntryStatus, EntryStatus, {
    Open <=> Open, Matched <=> Matched, Exception <=> Exception, NotACredit <=> NotACredit, Pending <=> Pending,
});
enum_map!(method, method_from, pb::MatchMethod, MatchMethod, {
    Reference <=> Reference, AmountAndDate <=> AmountAndDate, Manual <=> Manual,
});
enum_map!(reason, reason_from, pb::ExceptionReason, ExceptionReason, {
    NoCandidate <=> NoCandidate, AmountOutsideTolerance <=> AmountOutsideTolerance, DateOutsideWindow <=> DateOutsideWindow,
    CurrencyMismatch <=> CurrencyMismatch, DuplicateCredit <=> DuplicateCredit, Ambiguous <=> Ambiguous,
    Reversed <=> Reversed, HeldForManualMatch <=> HeldForManualMatch, Undated <=> Undated,
});
enum_map!(realization_status, realization_status_from, pb::RealizationStatus, RealizationStatus, {
    Unpaid <=> Unpaid, PartiallyRealized <=> PartiallyRealized, Realized <=> Realized, Overpaid <=> Overpaid,
});

fn fx(r: &FxRate) -> pb::FxRate {
    pb::FxRate {
        source_currency: r.source.code().into(),
        target_currency: r.target.code().into(),
        rate: r.rate.to_string(),
    }
}

pub fn entry(s: &StoredEntry) -> pb::StatementEntry {
    let e = &s.entry;
    pb::StatementEntry {
        id: s.id.to_string(),
        index: e.index as i32,
        kind: entry_kind(e.kind) as i32,
        amount: Some(money(e.amount)),
        booking_date: e.booking_date.map(date),
        value_date: e.value_date.map(date),
        servicer_reference: e.servicer_reference.clone().unwrap_or_default(),
        end_to_end_id: e.end_to_end_id.clone().unwrap_or_default(),
        uetr: e.uetr.map(|u| u.to_string()).unwrap_or_default(),
        remittance: e.remittance.clone(),
        counterparty: e.counterparty.clone(),
        charges: e.charges.map(money),
        instructed: e.instructed.map(money),
        fx_rate: e.fx_rate.as_ref().map(fx),
        status: entry_status(s.status) as i32,
    }
}

pub fn statement(s: &StoredStatement) -> pb::Statement {
    pb::Statement {
        id: s.id.to_string(),
        party_id: s.party_id.to_string(),
        format: format(s.format) as i32,
        message_id: s.message_id.clone(),
        account: s.account.clone(),
        sha256: s.sha256.clone(),
        entries: s.entries.iter().map(entry).collect(),
        import_time: Some(timestamp(s.import_time)),
        other_statements: vec![],
        void_time: s.void.as_ref().map(|v| timestamp(v.time)),
        void_reason: s
            .void
            .as_ref()
            .map(|v| v.reason.clone())
            .unwrap_or_default(),
    }
}

pub fn stored_match(m: &StoredMatch) -> pb::Match {
    let d = &m.detail;
    pb::Match {
        id: m.id.to_string(),
        credit_id: d.credit.to_string(),
        earning_id: d.invoice.to_string(),
        party_id: d.party.to_string(),
        method: method(d.method) as i32,
        covered: Some(money(d.covered)),
        converted: Some(money(d.converted)),
        fee_gap: Some(money(d.fee_gap)),
        fx_gap: Some(money(d.fx_gap)),
        fx_rate: d.rate.as_ref().map(fx),
        days: d.days as i32,
        reference: d.reference.clone().unwrap_or_default(),
        repatriation_id: m.repatriation_id.map(|r| r.to_string()).unwrap_or_default(),
        step_id: m.step_id.map(|s| s.to_string()).unwrap_or_default(),
        journey_note: m.journey_note.clone().unwrap_or_default(),
        create_time: Some(timestamp(m.create_time)),
        note: m.note.clone().unwrap_or_default(),
    }
}

pub fn run(r: &MatchingRun) -> pb::MatchingRun {
    pb::MatchingRun {
        party_id: r.party_id.to_string(),
        matches: r.matches.iter().map(stored_match).collect(),
        exception_count: r.exception_count as i32,
        run_time: Some(timestamp(r.run_time)),
    }
}

fn candidate(c: &Candidate) -> pb::Candidate {
    pb::Candidate {
        id: c.id.to_string(),
        amount: Some(money(c.amount)),
        amount_difference: c.amount_difference.map(money),
        days: c.days.unwrap_or(0) as i32,
        has_days: c.days.is_some(),
    }
}

pub fn exception(x: &Exception) -> pb::ReconciliationException {
    let (credit_id, earning_id) = match x.subject {
        Subject::Credit(c) => (c.to_string(), String::new()),
        Subject::Invoice(e) => (String::new(), e.to_string()),
    };
    pb::ReconciliationException {
        credit_id,
        earning_id,
        party_id: x.party.to_string(),
        reason: reason(x.reason) as i32,
        code: x.reason.name().to_string(),
        message: x.message.clone(),
        candidates: x.candidates.iter().map(candidate).collect(),
        credit: None,
    }
}

pub fn realization(r: &EarningRealization) -> pb::Realization {
    pb::Realization {
        earning_id: r.earning.id.to_string(),
        invoice_reference: r.earning.details.invoice_reference.clone(),
        amount: Some(money(r.earning.details.amount)),
        status: realization_status(r.realization.status) as i32,
        realized: Some(money(r.realization.realized)),
        outstanding: Some(money(r.realization.outstanding)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_crosses_the_wire_and_back() {
        for (v, _) in StatementFormat::NAMES {
            assert_eq!(format_from(format(*v) as i32), Some(*v));
        }
        for (v, _) in EntryKind::NAMES {
            assert_eq!(entry_kind_from(entry_kind(*v) as i32), Some(*v));
        }
        for (v, _) in MatchMethod::NAMES {
            assert_eq!(method_from(method(*v) as i32), Some(*v));
        }
        for (v, _) in ExceptionReason::NAMES {
            assert_eq!(reason_from(reason(*v) as i32), Some(*v));
        }
        for (v, _) in RealizationStatus::NAMES {
            assert_eq!(
                realization_status_from(realization_status(*v) as i32),
                Some(*v)
            );
        }
        for v in [
            EntryStatus::Open,
            EntryStatus::Matched,
            EntryStatus::Exception,
            EntryStatus::NotACredit,
            EntryStatus::Pending,
        ] {
            assert_eq!(entry_status_from(entry_status(v) as i32), Some(v));
        }
    }
}
