//! Documents a firm holds for its exports: what each is, which record it
//! belongs to, and when it is valid. The file itself stays with the firm;
//! repat keeps its particulars and, optionally, a hash of its content.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a document is. The incentive rules name these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocumentKind {
    /// The export contract or the work order.
    ContractOrWorkOrder,
    Invoice,
    /// The bank's Proceeds Realization Certificate (PRC).
    ProceedsRealizationCertificate,
    /// A trade association's certificate (BASIS, BACCO, BCS).
    AssociationCertificate,
    /// A marketplace's record of what the freelancer or firm earned there.
    MarketplaceEarningsStatement,
}

crate::names::named!(DocumentKind {
    ContractOrWorkOrder => "CONTRACT_OR_WORK_ORDER",
    Invoice => "INVOICE",
    ProceedsRealizationCertificate => "PROCEEDS_REALIZATION_CERTIFICATE",
    AssociationCertificate => "ASSOCIATION_CERTIFICATE",
    MarketplaceEarningsStatement => "MARKETPLACE_EARNINGS_STATEMENT",
});

impl DocumentKind {
    /// How people call it.
    pub fn describe(self) -> &'static str {
        match self {
            DocumentKind::ContractOrWorkOrder => "the export contract or work order",
            DocumentKind::Invoice => "the invoice",
            DocumentKind::ProceedsRealizationCertificate => {
                "the bank's proceeds realization certificate (PRC)"
            }
            DocumentKind::AssociationCertificate => "the trade association's certificate",
            DocumentKind::MarketplaceEarningsStatement => "the marketplace's earnings statement",
        }
    }
}

/// The record a document belongs to: its party always, and at most one of
/// an earning or a repatriation of that party.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Attachment {
    Party,
    Earning(Uuid),
    Repatriation(Uuid),
}

/// A document as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDocument {
    pub party_id: Uuid,
    pub attached_to: Attachment,
    pub kind: DocumentKind,
    /// The document's own number or reference, as written on it.
    pub reference: String,
    pub issue_date: NaiveDate,
    /// Who issued it (a client, a bank, an association, a marketplace).
    pub issuer: String,
    /// The first and last days it is valid, when it says.
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// SHA-256 of the file, lower-case hex, when given.
    pub content_sha256: Option<String>,
}

impl NewDocument {
    /// Whether the document is valid on `date` (one without a validity
    /// period always is).
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| date >= f) && self.valid_until.is_none_or(|u| date <= u)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: Uuid,
    #[serde(flatten)]
    pub details: NewDocument,
    /// Who recorded it.
    pub recorded_by: String,
    pub record_time: DateTime<Utc>,
}

/// The kinds of document that count for a repatriation on `date`: those
/// valid that day and recorded against the party, against the
/// repatriation, or against every earning it pays. `documents` are the
/// party's.
pub fn held_for(
    documents: &[Document],
    repatriation: Uuid,
    earnings: &[Uuid],
    date: NaiveDate,
) -> Vec<DocumentKind> {
    let valid: Vec<&NewDocument> = documents
        .iter()
        .map(|d| &d.details)
        .filter(|d| d.valid_on(date))
        .collect();
    let mut held: Vec<DocumentKind> = valid
        .iter()
        .filter(|d| match d.attached_to {
            Attachment::Party => true,
            Attachment::Repatriation(r) => r == repatriation,
            Attachment::Earning(_) => false,
        })
        .map(|d| d.kind)
        .collect();
    let for_every_earning = |kind: DocumentKind| {
        !earnings.is_empty()
            && earnings.iter().all(|e| {
                valid
                    .iter()
                    .any(|d| d.kind == kind && d.attached_to == Attachment::Earning(*e))
            })
    };
    held.extend(
        valid
            .iter()
            .map(|d| d.kind)
            .filter(|k| for_every_earning(*k))
            .collect::<Vec<_>>(),
    );
    held.sort();
    held.dedup();
    held
}

/// A SHA-256 as lower-case hex.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn doc(kind: DocumentKind, attached_to: Attachment) -> Document {
        Document {
            id: Uuid::new_v4(),
            details: NewDocument {
                party_id: Uuid::nil(),
                attached_to,
                kind,
                reference: "R-1".into(),
                issue_date: d("2024-01-01"),
                issuer: "Nordic Retail AB".into(),
                valid_from: None,
                valid_until: None,
                content_sha256: None,
            },
            recorded_by: "test".into(),
            record_time: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn an_earnings_document_counts_when_every_earning_has_one() {
        let (r, e1, e2) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let one = [doc(DocumentKind::Invoice, Attachment::Earning(e1))];
        assert!(held_for(&one, r, &[e1, e2], d("2024-02-01")).is_empty());
        let both = [
            doc(DocumentKind::Invoice, Attachment::Earning(e1)),
            doc(DocumentKind::Invoice, Attachment::Earning(e2)),
        ];
        assert_eq!(
            held_for(&both, r, &[e1, e2], d("2024-02-01")),
            [DocumentKind::Invoice]
        );
    }

    #[test]
    fn party_and_repatriation_documents_count_another_repatriations_do_not() {
        let (r, other, e) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let docs = [
            doc(DocumentKind::AssociationCertificate, Attachment::Party),
            doc(
                DocumentKind::ProceedsRealizationCertificate,
                Attachment::Repatriation(other),
            ),
            doc(
                DocumentKind::ContractOrWorkOrder,
                Attachment::Repatriation(r),
            ),
        ];
        assert_eq!(
            held_for(&docs, r, &[e], d("2024-02-01")),
            [
                DocumentKind::ContractOrWorkOrder,
                DocumentKind::AssociationCertificate
            ]
        );
    }

    #[test]
    fn a_document_counts_only_while_valid() {
        let r = Uuid::new_v4();
        let mut cert = doc(DocumentKind::AssociationCertificate, Attachment::Party);
        cert.details.valid_from = Some(d("2023-01-01"));
        cert.details.valid_until = Some(d("2023-12-31"));
        let docs = [cert];
        assert_eq!(held_for(&docs, r, &[], d("2023-12-31")).len(), 1);
        assert!(held_for(&docs, r, &[], d("2024-01-01")).is_empty());
        assert!(held_for(&docs, r, &[], d("2022-12-31")).is_empty());
    }
}
