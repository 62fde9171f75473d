//! ISO 20022 camt.052 (intraday account report), camt.053 (statement) and
//! camt.054 (debit/credit notification), versions from `.001.02` (to
//! `.001.13`, the latest published).
//! Elements are found by local name, so the namespace of each version
//! needs no code of its own; where versions differ both places are read:
//! `Chrgs/Amt` (.02) or `Chrgs/Rcrd/Amt` and `Chrgs/TtlChrgsAndTaxAmt`
//! (later); `Dbtr/Nm` (before .08) or `Dbtr/Pty/Nm`; `Sts` as a code
//! (before .08) or `Sts/Cd` / `Sts/Prtry` (from .08).
//!
//! What the schema makes optional is read when present and never
//! required: dates, references, charges, `CcyXchg/TrgtCcy` and
//! `UnitCcy`. Mandatory elements whose absence leaves nothing to read
//! (`Amt`, `CdtDbtInd`, the account) refuse the file naming them. An
//! entry without `Sts` (mandatory, but left out by some banks) counts as
//! booked in a statement or notification.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use repat_core::journey::FxRate;
use repat_core::money::parse_currency;
use repat_core::reconcile::{BookingStatus, Entry, EntryKind, StatementFormat};
use repat_core::{Currency, Money};
use roxmltree::{Document, Node};

use crate::{ReadOptions, Statement, StatementError, amount, rate};

/// Versions of the `.001` message read: from .02, the first of the shape
/// every later version keeps (.01 predates it); .13 is the latest
/// published as this is written, and later ones of the same shape read
/// alike (elements are found by name).
const VERSIONS: std::ops::RangeFrom<u32> = 2..;

/// The first child element named `name`.
fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(n: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The element at `path` below `n`.
fn at<'a, 'i>(n: Node<'a, 'i>, path: &[&str]) -> Option<Node<'a, 'i>> {
    path.iter().try_fold(n, |n, p| child(n, p))
}

fn text<'a>(n: Option<Node<'a, '_>>) -> Option<&'a str> {
    n.and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Every element named `name` below `n`, in document order.
fn descendants<'a, 'i: 'a>(
    n: Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.descendants()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// What a message is: its kind and the elements holding its parts.
struct Kind {
    number: &'static str,
    format: StatementFormat,
    what: &'static str,
    body: &'static str,
    part: &'static str,
}

const KINDS: [Kind; 3] = [
    Kind {
        number: "052",
        format: StatementFormat::Camt052,
        what: "an intraday account report",
        body: "BkToCstmrAcctRpt",
        part: "Rpt",
    },
    Kind {
        number: "053",
        format: StatementFormat::Camt053,
        what: "an end-of-day statement",
        body: "BkToCstmrStmt",
        part: "Stmt",
    },
    Kind {
        number: "054",
        format: StatementFormat::Camt054,
        what: "a debit/credit notification",
        body: "BkToCstmrDbtCdtNtfctn",
        part: "Ntfctn",
    },
];

/// The message's kind and version from the root's namespace, e.g.
/// `urn:iso:std:iso:20022:tech:xsd:camt.053.001.08`.
fn message_type(doc: &Document) -> Result<(&'static Kind, u32), StatementError> {
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or_default();
    let Some(rest) = ns.strip_prefix("urn:iso:std:iso:20022:tech:xsd:camt.") else {
        let body = root
            .children()
            .find(|c| c.is_element())
            .map(|c| c.tag_name().name())
            .unwrap_or_default();
        let hint = KINDS
            .iter()
            .find(|k| k.body == body)
            .map(|k| format!(" (its {body} is camt.{}'s)", k.number))
            .unwrap_or_default();
        return Err(StatementError::file(format!(
            "is not an ISO 20022 camt document: the root element's namespace is {ns:?}, not urn:iso:std:iso:20022:tech:xsd:camt.05x.001.nn{hint}"
        )));
    };
    let (number, version) = rest
        .split_once(".001.")
        .ok_or_else(|| StatementError::file(format!("names an unknown camt message {ns:?}")))?;
    let kind = KINDS.iter().find(|k| k.number == number).ok_or_else(|| {
        StatementError::file(format!(
            "is camt.{number}, not a statement, report or notification (camt.052, .053, .054)"
        ))
    })?;
    let version: u32 = version
        .parse()
        .map_err(|_| StatementError::file(format!("names an unknown camt version {ns:?}")))?;
    Ok((kind, version))
}

pub fn parse(
    format: StatementFormat,
    xml: &str,
    options: &ReadOptions,
) -> Result<Vec<Statement>, StatementError> {
    let doc = Document::parse(xml)
        .map_err(|e| StatementError::file(format!("is not well-formed XML: {e}")))?;
    let (kind, version) = message_type(&doc)?;
    let declared = KINDS
        .iter()
        .find(|k| k.format == format)
        .map_or("camt", |k| k.number);
    if kind.format != format {
        return Err(StatementError::file(format!(
            "is camt.{}.001.{version:02} ({}), not camt.{declared} as declared; import it as camt.{}",
            kind.number, kind.what, kind.number
        )));
    }
    if !VERSIONS.contains(&version) {
        return Err(StatementError::file(format!(
            "is camt.{}.001.{version:02}, which predates the shape read (versions from .001.{:02})",
            kind.number, VERSIONS.start
        )));
    }
    let body = child(doc.root_element(), kind.body).ok_or_else(|| {
        StatementError::file(format!(
            "has no {} (the camt.{} message body)",
            kind.body, kind.number
        ))
    })?;
    let message_id = text(at(body, &["GrpHdr", "MsgId"]))
        .unwrap_or_default()
        .to_string();
    let mut statements = Vec::new();
    let mut position = 0u32;
    for (n, part) in children(body, kind.part).enumerate() {
        let account = text(at(part, &["Acct", "Id", "IBAN"]))
            .or_else(|| text(at(part, &["Acct", "Id", "Othr", "Id"])))
            .ok_or_else(|| {
                StatementError::file(format!(
                    "{} {n}: the account (Acct/Id/IBAN or Acct/Id/Othr/Id, mandatory) is missing",
                    kind.part
                ))
            })?
            .to_string();
        let read = Reading {
            offset: options.offset_for(&account),
            provisional: kind.format == StatementFormat::Camt052,
        };
        let mut entries = Vec::new();
        for ntry in children(part, "Ntry") {
            entries.push(read.entry(position, entries.len() as u32, ntry)?);
            position += 1;
        }
        statements.push(Statement {
            format,
            message_id: message_id.clone(),
            account,
            entries,
        });
    }
    if statements.is_empty() {
        return Err(StatementError::file(format!(
            "holds no {} ({} of an account); there is nothing to import",
            kind.part, kind.what
        )));
    }
    Ok(statements)
}

/// How one part's entries are read.
struct Reading {
    /// The account servicer's local time.
    offset: FixedOffset,
    /// Every entry is provisional (an intraday report).
    provisional: bool,
}

impl Reading {
    /// A date (`Dt`) or date-time (`DtTm`) element: the bank's calendar
    /// date, and the instant when it gives one.
    fn date(
        &self,
        pos: u32,
        n: Option<Node>,
        field: &str,
    ) -> Result<(Option<NaiveDate>, Option<DateTime<Utc>>), StatementError> {
        let Some(n) = n else { return Ok((None, None)) };
        let bad = |what: &str, t: &str| {
            StatementError::at(pos, None, field, format!("{field} {t:?} is not a {what}"))
        };
        if let Some(d) = text(child(n, "Dt")) {
            // xs:date may carry a zone ("2024-03-01+01:00"); the day is the day.
            let day = d
                .get(..10)
                .filter(|_| d.len() == 10 || d[10..].starts_with(['Z', '+', '-']))
                .unwrap_or(d);
            let d = NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| bad("date (YYYY-MM-DD)", d))?;
            return Ok((Some(d), None));
        }
        if let Some(t) = text(child(n, "DtTm")) {
            let at = match DateTime::parse_from_rfc3339(t) {
                Ok(at) => at.with_timezone(&self.offset),
                // No offset: the account servicer's local time.
                Err(_) => NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                    .map_err(|_| bad("date-time", t))?
                    .and_local_timezone(self.offset)
                    .single()
                    .ok_or_else(|| bad("date-time", t))?,
            };
            return Ok((Some(at.date_naive()), Some(at.with_timezone(&Utc))));
        }
        Ok((None, None))
    }

    fn status(&self, pos: u32, ntry: Node) -> Result<BookingStatus, StatementError> {
        let code = child(ntry, "Sts").map(|s| {
            text(child(s, "Cd"))
                .or_else(|| text(child(s, "Prtry")))
                .or_else(|| text(Some(s)))
                .unwrap_or_default()
        });
        let status = match code {
            None | Some("BOOK") => BookingStatus::Booked,
            Some("PDNG") | Some("FUTR") => BookingStatus::Pending,
            Some("INFO") => BookingStatus::Information,
            Some(other) => {
                return Err(StatementError::at(
                    pos,
                    None,
                    "Sts",
                    format!("Sts {other:?} is not an entry status (BOOK, PDNG, INFO or FUTR)"),
                ));
            }
        };
        Ok(if self.provisional && status == BookingStatus::Booked {
            BookingStatus::Pending
        } else {
            status
        })
    }

    fn entry(&self, pos: u32, index: u32, ntry: Node) -> Result<Entry, StatementError> {
        let amt = child(ntry, "Amt")
            .ok_or_else(|| StatementError::at(pos, None, "Amt", "Amt (mandatory) is missing"))?;
        let booked = money(pos, amt, "Amt")?;
        let credit = match text(child(ntry, "CdtDbtInd")) {
            Some("CRDT") => true,
            Some("DBIT") => false,
            None => {
                return Err(StatementError::at(
                    pos,
                    None,
                    "CdtDbtInd",
                    "CdtDbtInd (mandatory) is missing",
                ));
            }
            Some(other) => {
                return Err(StatementError::at(
                    pos,
                    None,
                    "CdtDbtInd",
                    format!("CdtDbtInd must be CRDT or DBIT, got {other:?}"),
                ));
            }
        };
        let reversal = text(child(ntry, "RvslInd")).is_some_and(|r| r == "true" || r == "1");
        let kind = match (credit, reversal) {
            (true, false) => EntryKind::Credit,
            (false, false) => EntryKind::Debit,
            // A reversal of a credit is booked as a debit, and the other way round.
            (false, true) => EntryKind::CreditReversal,
            (true, true) => EntryKind::DebitReversal,
        };
        let status = self.status(pos, ntry)?;
        let (booking_date, booked_at) = self.date(pos, child(ntry, "BookgDt"), "BookgDt")?;
        let (value_date, _) = self.date(pos, child(ntry, "ValDt"), "ValDt")?;

        // A batch entry has several transactions: all their references count.
        let txs: Vec<Node> = descendants(ntry, "TxDtls").collect();
        let first_ref = |name: &str| {
            txs.iter()
                .find_map(|t| text(at(*t, &["Refs", name])))
                .map(str::to_string)
        };
        let end_to_end_id = first_ref("EndToEndId").filter(|r| r != "NOTPROVIDED");
        let uetr = match first_ref("UETR") {
            Some(u) => Some(uuid::Uuid::try_parse(&u).map_err(|_| {
                StatementError::at(pos, None, "UETR", format!("UETR {u:?} is not a UUID"))
            })?),
            None => None,
        };
        let mut remittance: Vec<String> = Vec::new();
        for t in &txs {
            if txs.len() > 1 {
                remittance.extend(
                    text(at(*t, &["Refs", "EndToEndId"]))
                        .filter(|r| *r != "NOTPROVIDED")
                        .map(str::to_string),
                );
            }
            for rmt in children(*t, "RmtInf") {
                remittance.extend(
                    children(rmt, "Ustrd")
                        .filter_map(|u| text(Some(u)))
                        .map(str::to_string),
                );
                remittance.extend(
                    descendants(rmt, "Ref")
                        .chain(descendants(rmt, "Nb"))
                        .filter_map(|r| text(Some(r)))
                        .map(str::to_string),
                );
            }
        }
        remittance.extend(text(child(ntry, "AddtlNtryInf")).map(str::to_string));
        let counterparty = txs
            .iter()
            .find_map(|t| {
                child(*t, "RltdPties")
                    .and_then(|p| child(p, "Dbtr"))
                    .and_then(|d| descendants(d, "Nm").next())
                    .and_then(|n| text(Some(n)))
            })
            .unwrap_or_default()
            .to_string();

        let instructed = match descendants(ntry, "InstdAmt")
            .next()
            .and_then(|i| child(i, "Amt"))
        {
            Some(a) => Some(money(pos, a, "AmtDtls/InstdAmt/Amt")?),
            None => None,
        };
        let fx_rate = match descendants(ntry, "CcyXchg").next() {
            Some(x) => exchange(pos, x, booked.currency())?,
            None => None,
        };

        Ok(Entry {
            index,
            kind,
            status,
            amount: booked,
            booking_date,
            value_date,
            booked_at,
            servicer_reference: text(child(ntry, "AcctSvcrRef"))
                .map(str::to_string)
                .or_else(|| first_ref("AcctSvcrRef")),
            end_to_end_id,
            uetr,
            remittance: remittance.join(" "),
            counterparty,
            charges: charges(pos, ntry, &txs)?,
            instructed,
            fx_rate,
        })
    }
}

/// An `<Amt Ccy="...">` element.
fn money(pos: u32, n: Node, field: &str) -> Result<Money, StatementError> {
    let ccy = n.attribute("Ccy").unwrap_or_default();
    amount(n.text().unwrap_or_default(), ccy)
        .map_err(|e| StatementError::at(pos, None, field, format!("{field}: {e}")))
}

fn add(pos: u32, sum: Option<Money>, m: Money) -> Result<Option<Money>, StatementError> {
    match sum {
        None => Ok(Some(m)),
        Some(s) => s.checked_add(m).map(Some).ok_or_else(|| {
            StatementError::at(pos, None, "Chrgs", "charges are in more than one currency")
        }),
    }
}

/// One `Chrgs` block: its total (`TtlChrgsAndTaxAmt`) when given, else the
/// sum of its records (`Rcrd/Amt`; `.02` writes the amount directly).
fn charges_block(pos: u32, chrgs: Node) -> Result<Option<Money>, StatementError> {
    if let Some(total) = child(chrgs, "TtlChrgsAndTaxAmt") {
        return money(pos, total, "Chrgs/TtlChrgsAndTaxAmt").map(Some);
    }
    let mut sum = None;
    for a in children(chrgs, "Amt").chain(children(chrgs, "Rcrd").filter_map(|r| child(r, "Amt"))) {
        sum = add(pos, sum, money(pos, a, "Chrgs/Amt")?)?;
    }
    Ok(sum)
}

/// The entry's charges: those it reports itself (its total), else the sum
/// of those of its transactions, never both (the entry's are theirs
/// summed).
fn charges(pos: u32, ntry: Node, txs: &[Node]) -> Result<Option<Money>, StatementError> {
    let own: Vec<Node> = children(ntry, "Chrgs").collect();
    let blocks: Vec<Node> = if own.is_empty() {
        txs.iter().flat_map(|t| children(*t, "Chrgs")).collect()
    } else {
        own
    };
    let mut sum = None;
    for b in blocks {
        if let Some(m) = charges_block(pos, b)? {
            sum = add(pos, sum, m)?;
        }
    }
    Ok(sum)
}

/// A `CcyXchg` block: `SrcCcy` and `XchgRate` are mandatory; `TrgtCcy`
/// is optional (then the other currency of the conversion: the booked
/// one, or the amount the block belongs to); `UnitCcy`, when given, is the
/// currency one unit of which the rate prices.
fn exchange(pos: u32, x: Node, booked: Currency) -> Result<Option<FxRate>, StatementError> {
    let currency = |name: &str| -> Result<Option<Currency>, StatementError> {
        match text(child(x, name)) {
            None => Ok(None),
            Some(code) => parse_currency(code).map(Some).map_err(|e| {
                StatementError::at(
                    pos,
                    None,
                    &format!("CcyXchg/{name}"),
                    format!("CcyXchg/{name} {e}"),
                )
            }),
        }
    };
    let source = currency("SrcCcy")?.ok_or_else(|| {
        StatementError::at(
            pos,
            None,
            "CcyXchg/SrcCcy",
            "CcyXchg/SrcCcy (mandatory) is missing",
        )
    })?;
    let written = text(child(x, "XchgRate")).ok_or_else(|| {
        StatementError::at(
            pos,
            None,
            "CcyXchg/XchgRate",
            "CcyXchg/XchgRate (mandatory) is missing",
        )
    })?;
    let r = rate(written).map_err(|e| StatementError::at(pos, None, "CcyXchg/XchgRate", e))?;
    let beside = x
        .parent()
        .and_then(|p| child(p, "Amt"))
        .and_then(|a| a.attribute("Ccy"))
        .and_then(|c| parse_currency(c.trim()).ok());
    let target = match currency("TrgtCcy")? {
        Some(t) => t,
        None if source != booked => booked,
        None => match beside.filter(|c| *c != source) {
            Some(c) => c,
            // Nothing says what it converts into: no conversion to use.
            None => return Ok(None),
        },
    };
    if target == source {
        return Ok(None);
    }
    Ok(Some(match currency("UnitCcy")? {
        Some(unit) if unit == target => FxRate {
            source: target,
            target: source,
            rate: r,
        },
        _ => FxRate {
            source,
            target,
            rate: r,
        },
    }))
}
