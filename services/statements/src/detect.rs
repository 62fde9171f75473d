//! Which format a file is in, from its content.

use repat_core::reconcile::StatementFormat;

/// The format `content` shows: a camt message by its namespace (or body
/// element), MT940 or MT942 by their fields, repat's CSV by its header;
/// none when it shows none of them.
pub fn detect(content: &[u8]) -> Option<StatementFormat> {
    let head = String::from_utf8_lossy(&content[..content.len().min(16 * 1024)]);
    let head = head.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if head.starts_with('<') {
        let kinds = [
            ("camt.052", "BkToCstmrAcctRpt", StatementFormat::Camt052),
            ("camt.053", "BkToCstmrStmt", StatementFormat::Camt053),
            (
                "camt.054",
                "BkToCstmrDbtCdtNtfctn",
                StatementFormat::Camt054,
            ),
        ];
        // The namespace names the message; the body's name when there is none.
        return kinds
            .iter()
            .find(|(ns, _, _)| head.contains(&format!("xsd:{ns}")))
            .or_else(|| {
                kinds
                    .iter()
                    .find(|(_, body, _)| head.contains(&format!("<{body}>")))
            })
            .map(|k| k.2);
    }
    if head
        .lines()
        .any(|l| l.trim_start().starts_with(":20:") || l.contains("{4:"))
    {
        let text = String::from_utf8_lossy(content);
        return Some(if crate::mt940::is_mt942(&text) {
            StatementFormat::Mt942
        } else {
            StatementFormat::Mt940
        });
    }
    let header = head.lines().next().unwrap_or_default().to_ascii_lowercase();
    header
        .split(',')
        .any(|c| c.trim() == "booking_date")
        .then_some(StatementFormat::Csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_content() {
        let camt = |v: &str| {
            format!(
                "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:{v}\">"
            )
        };
        assert_eq!(
            detect(camt("camt.052.001.08").as_bytes()),
            Some(StatementFormat::Camt052)
        );
        assert_eq!(
            detect(camt("camt.053.001.02").as_bytes()),
            Some(StatementFormat::Camt053)
        );
        assert_eq!(
            detect(camt("camt.054.001.13").as_bytes()),
            Some(StatementFormat::Camt054)
        );
        assert_eq!(
            detect(b"<Document><BkToCstmrStmt>"),
            Some(StatementFormat::Camt053)
        );
        assert_eq!(detect(b"<html>"), None);
        assert_eq!(
            detect(b":20:X\r\n:25:A\r\n:60F:C240101EUR1,\r\n:62F:C240101EUR1,\r\n"),
            Some(StatementFormat::Mt940)
        );
        assert_eq!(
            detect(b":20:X\n:25:A\n:34F:EUR0,\n:13D:2401011200+0100\n"),
            Some(StatementFormat::Mt942)
        );
        assert_eq!(
            detect(b"{1:F01X}{2:O9421200}{4:\n:20:X\n-}"),
            Some(StatementFormat::Mt942)
        );
        assert_eq!(
            detect(b"Booking_Date,direction,amount,currency\n"),
            Some(StatementFormat::Csv)
        );
        assert_eq!(detect(b"\xff\xfe"), None);
    }
}
