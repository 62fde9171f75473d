//! ISO 20022 camt.053 (statement) and camt.054 (notification), versions
//! `.001.02` to `.001.08`. Elements are found by local name, so the
//! namespace of each version needs no code of its own; where versions
//! differ (`Chrgs/Amt` in .02, `Chrgs/Rcrd/Amt` later; `Dbtr/Nm` before
//! .08, `Dbtr/Pty/Nm` from .08) both places are read.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use repat_core::Money;
use repat_core::journey::FxRate;
use repat_core::money::parse_currency;
use repat_core::reconcile::{Entry, EntryKind, StatementFormat};
use roxmltree::{Document, Node};

use crate::{Statement, StatementError, amount, rate};

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

/// The message type and version of the namespace, e.g. ("053", 8).
fn message_type(doc: &Document) -> Option<(String, u32)> {
    let ns = doc.root_element().tag_name().namespace()?;
    let rest = ns.strip_prefix("urn:iso:std:iso:20022:tech:xsd:camt.")?;
    let (kind, version) = rest.split_once(".001.")?;
    Some((kind.to_string(), version.parse().ok()?))
}

pub fn parse(format: StatementFormat, xml: &str) -> Result<Statement, StatementError> {
    let doc = Document::parse(xml)
        .map_err(|e| StatementError::file(format!("is not well-formed XML: {e}")))?;
    let want = if format == StatementFormat::Camt053 {
        "053"
    } else {
        "054"
    };
    match message_type(&doc) {
        Some((kind, version)) if kind == want && (2..=8).contains(&version) => {}
        Some((kind, version)) => {
            return Err(StatementError::file(format!(
                "is camt.{kind}.001.{version:02}; declared camt.{want}, versions .001.02 to .001.08 are read"
            )));
        }
        None => {
            return Err(StatementError::file(
                "is not an ISO 20022 camt document (no camt namespace on the root element)",
            ));
        }
    }
    let body_name = if want == "053" {
        "BkToCstmrStmt"
    } else {
        "BkToCstmrDbtCdtNtfctn"
    };
    let part_name = if want == "053" { "Stmt" } else { "Ntfctn" };
    let body = child(doc.root_element(), body_name)
        .ok_or_else(|| StatementError::file(format!("has no {body_name}")))?;
    let message_id = text(at(body, &["GrpHdr", "MsgId"]))
        .unwrap_or_default()
        .to_string();
    let mut account = String::new();
    let mut entries = Vec::new();
    for part in children(body, part_name) {
        if account.is_empty() {
            account = text(at(part, &["Acct", "Id", "IBAN"]))
                .or_else(|| text(at(part, &["Acct", "Id", "Othr", "Id"])))
                .unwrap_or_default()
                .to_string();
        }
        for ntry in children(part, "Ntry") {
            let index = entries.len() as u32;
            entries.push(entry(index, ntry)?);
        }
    }
    Ok(Statement {
        format,
        message_id,
        account,
        entries,
    })
}

fn date(
    index: u32,
    n: Option<Node>,
    field: &str,
) -> Result<(Option<NaiveDate>, Option<DateTime<Utc>>), StatementError> {
    let Some(n) = n else { return Ok((None, None)) };
    if let Some(d) = text(child(n, "Dt")) {
        let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            StatementError::at(
                index,
                None,
                field,
                format!("{field} {d:?} is not a date (YYYY-MM-DD)"),
            )
        })?;
        return Ok((Some(d), None));
    }
    if let Some(t) = text(child(n, "DtTm")) {
        let at = DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
            })
            .map_err(|_| {
                StatementError::at(
                    index,
                    None,
                    field,
                    format!("{field} {t:?} is not a date-time"),
                )
            })?;
        return Ok((Some(repat_core::time::dhaka_date(at)), Some(at)));
    }
    Ok((None, None))
}

/// An `<Amt Ccy="...">` element.
fn money(index: u32, n: Node, field: &str) -> Result<Money, StatementError> {
    let ccy = n.attribute("Ccy").unwrap_or_default();
    amount(n.text().unwrap_or_default(), ccy)
        .map_err(|e| StatementError::at(index, None, field, format!("{field}: {e}")))
}

fn entry(index: u32, ntry: Node) -> Result<Entry, StatementError> {
    let amt = child(ntry, "Amt")
        .ok_or_else(|| StatementError::at(index, None, "Amt", "Amt is missing"))?;
    let booked = money(index, amt, "Amt")?;
    let credit = match text(child(ntry, "CdtDbtInd")) {
        Some("CRDT") => true,
        Some("DBIT") => false,
        other => {
            return Err(StatementError::at(
                index,
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
    let (booking_date, booked_at) = date(index, child(ntry, "BookgDt"), "BookgDt")?;
    let (value_date, _) = date(index, child(ntry, "ValDt"), "ValDt")?;

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
            StatementError::at(index, None, "UETR", format!("UETR {u:?} is not a UUID"))
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

    // Charges: every amount of every Chrgs block (entry or transactions).
    let mut charges: Option<Money> = None;
    for chrgs in descendants(ntry, "Chrgs") {
        for a in chrgs
            .descendants()
            .filter(|c| c.is_element() && c.tag_name().name() == "Amt")
        {
            let m = money(index, a, "Chrgs/Amt")?;
            charges = Some(match charges {
                None => m,
                Some(sum) => sum.checked_add(m).ok_or_else(|| {
                    StatementError::at(
                        index,
                        None,
                        "Chrgs",
                        "charges are in more than one currency",
                    )
                })?,
            });
        }
    }

    let instructed = match descendants(ntry, "InstdAmt")
        .next()
        .and_then(|i| child(i, "Amt"))
    {
        Some(a) => Some(money(index, a, "AmtDtls/InstdAmt/Amt")?),
        None => None,
    };
    let fx_rate = match descendants(ntry, "CcyXchg").next() {
        Some(x) => {
            let cur = |name: &str| -> Result<repat_core::Currency, StatementError> {
                let code = text(child(x, name)).unwrap_or_default();
                parse_currency(code).map_err(|e| {
                    StatementError::at(
                        index,
                        None,
                        &format!("CcyXchg/{name}"),
                        format!("CcyXchg/{name} {e}"),
                    )
                })
            };
            let r = rate(text(child(x, "XchgRate")).unwrap_or_default())
                .map_err(|e| StatementError::at(index, None, "CcyXchg/XchgRate", e))?;
            Some(FxRate {
                source: cur("SrcCcy")?,
                target: cur("TrgtCcy")?,
                rate: r,
            })
        }
        None => None,
    };

    Ok(Entry {
        index,
        kind,
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
        charges,
        instructed,
        fx_rate,
    })
}
