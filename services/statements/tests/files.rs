//! The statement files of tests/data/statements, each read to its expected
//! entries (README.md beside them says what each holds).

use repat_core::reconcile::{BookingStatus, EntryKind, StatementFormat};
use repat_statements::{ReadOptions, Statement, StatementError, detect, parse};

fn file(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/data/statements/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(format: StatementFormat, name: &str) -> Statement {
    let mut all = parse(format, &file(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(all.len(), 1, "{name}: one statement");
    all.remove(0)
}

fn refused(format: StatementFormat, name: &str) -> StatementError {
    parse(format, &file(name)).expect_err(name)
}

fn amounts(s: &Statement) -> Vec<String> {
    s.entries.iter().map(|e| e.amount.to_string()).collect()
}

#[test]
fn camt053_v02_credits_debit_and_batch() {
    let s = read(StatementFormat::Camt053, "brac_camt053_v02.xml");
    assert_eq!(
        (s.message_id.as_str(), s.account.as_str()),
        ("BRAC-STMT-20240320-0001", "1501202900001")
    );
    assert_eq!(
        amounts(&s),
        ["9975.00 USD", "4000.00 USD", "15.00 USD", "3990.00 USD"]
    );
    let kinds: Vec<EntryKind> = s.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Credit,
            EntryKind::Credit,
            EntryKind::Debit,
            EntryKind::Credit
        ]
    );
    let e = &s.entries[0];
    assert_eq!(e.servicer_reference.as_deref(), Some("BRAC-0001"));
    assert_eq!(e.end_to_end_id.as_deref(), Some("E2E-1001"));
    assert_eq!(e.counterparty, "Nordic Retail AB");
    assert_eq!(e.charges.unwrap().to_string(), "25.00 USD");
    assert_eq!(e.instructed.unwrap().to_string(), "10000.00 USD");
    assert!(e.remittance.contains("INV-1001"));
    assert_eq!(
        s.entries[1].end_to_end_id, None,
        "NOTPROVIDED is no reference"
    );
    // The batch names both invoices and both end-to-end ids.
    let batch = &s.entries[3].remittance;
    for r in ["INV-1003", "INV-1004", "BATCH-7-1", "BATCH-7-2"] {
        assert!(batch.contains(r), "{batch}");
    }
}

#[test]
fn camt053_v08_conversion_and_reversal() {
    let s = read(StatementFormat::Camt053, "city_camt053_v08.xml");
    assert_eq!(s.account, "BD00CIBL1234567890123456");
    let e = &s.entries[0];
    assert_eq!(e.amount.to_string(), "1097250.00 BDT");
    let fx = e.fx_rate.as_ref().unwrap();
    assert_eq!(
        (
            fx.source.code(),
            fx.target.code(),
            fx.rate.to_string().as_str()
        ),
        ("USD", "BDT", "110")
    );
    assert_eq!(e.instructed.unwrap().to_string(), "9975.00 USD");
    assert_eq!(
        e.uetr.unwrap().to_string(),
        "8a562c67-ca16-48ba-b074-65581be6f001"
    );
    assert_eq!(e.counterparty, "Helsinki Games Oy");
    assert_eq!(
        e.booked_at.unwrap().to_rfc3339(),
        "2024-04-10T05:32:05+00:00"
    );
    assert_eq!(s.entries[2].kind, EntryKind::CreditReversal);
}

#[test]
fn camt054_v04_notification() {
    let s = read(StatementFormat::Camt054, "city_camt054_v04.xml");
    assert_eq!(amounts(&s), ["1097250.00 BDT"]);
    assert_eq!(s.entries[0].servicer_reference.as_deref(), Some("CITY-77"));
    let err = refused(StatementFormat::Camt053, "city_camt054_v04.xml");
    assert!(
        err.reason.contains("camt.054.001.04") && err.reason.contains("import it as camt.054"),
        "{err}"
    );
}

#[test]
fn mt940_credits_debit_and_reversal() {
    let s = read(StatementFormat::Mt940, "dbbl_mt940.sta");
    assert_eq!(
        (s.message_id.as_str(), s.account.as_str()),
        ("DBBL240410", "DBBLBDDH/1051100023456")
    );
    assert_eq!(
        amounts(&s),
        ["5990.00 USD", "25.00 USD", "100.00 USD", "400.00 USD"]
    );
    let kinds: Vec<EntryKind> = s.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Credit,
            EntryKind::Debit,
            EntryKind::DebitReversal,
            EntryKind::Credit
        ]
    );
    let e = &s.entries[0];
    assert_eq!(e.servicer_reference.as_deref(), Some("DBBL-5501"));
    assert_eq!(e.value_date.unwrap().to_string(), "2024-04-05");
    assert!(
        e.remittance.contains("INV-1002") && e.remittance.contains("Nordic Retail AB"),
        "{}",
        e.remittance
    );
}

#[test]
fn csv_columns_and_conversion() {
    let s = read(StatementFormat::Csv, "credits.csv");
    assert_eq!(s.entries.len(), 11);
    let e = &s.entries[8];
    assert_eq!(e.amount.to_string(), "212300.00 BDT");
    assert_eq!(e.instructed.unwrap().to_string(), "1930.00 USD");
    assert_eq!(e.fx_rate.as_ref().unwrap().rate.to_string(), "110");
    assert_eq!(s.entries[10].kind, EntryKind::Debit);
}

#[test]
fn a_bad_entry_refuses_the_file_and_names_the_entry() {
    let err = refused(StatementFormat::Camt053, "five_decimals_camt053_v05.xml");
    assert_eq!(err.entry, Some(1));
    assert!(
        err.to_string()
            .contains("has 5 decimal places but USD has 2"),
        "{err}"
    );
    let err = refused(StatementFormat::Mt940, "bad_amount_mt940.sta");
    assert_eq!((err.entry, err.line), (Some(1), Some(7)));
    assert!(err.to_string().contains("1O0,00"), "{err}");
    let err = parse(
        StatementFormat::Csv,
        b"booking_date,direction,amount,currency\n2024-01-01,CREDIT,1.5,JPY\n",
    )
    .unwrap_err();
    assert_eq!(err.entry, Some(0));
    assert!(err.to_string().contains("JPY has 0"), "{err}");
    assert!(
        parse(StatementFormat::Csv, b"booking_date,direction,amount\n")
            .unwrap_err()
            .reason
            .contains("currency is required")
    );
    assert!(
        parse(StatementFormat::Camt053, b"<not xml")
            .unwrap_err()
            .reason
            .contains("well-formed")
    );
}

#[test]
fn every_camt_version_from_02_on_is_read() {
    let v02 = String::from_utf8(file("brac_camt053_v02.xml")).unwrap();
    for version in 1..=16 {
        let xml = v02.replace("camt.053.001.02", &format!("camt.053.001.{version:02}"));
        let got = parse(StatementFormat::Camt053, xml.as_bytes());
        if version >= 2 {
            assert_eq!(got.unwrap()[0].entries.len(), 4, "version {version}");
        } else {
            assert!(
                got.unwrap_err().reason.contains("predates the shape read"),
                "version {version}"
            );
        }
    }
}

fn all(format: StatementFormat, name: &str) -> Vec<Statement> {
    parse(format, &file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn one_statement_per_account_each_entry_under_its_own() {
    let s = all(StatementFormat::Camt053, "ebl_camt053_v08_two_accounts.xml");
    let accounts: Vec<(&str, usize)> = s
        .iter()
        .map(|s| (s.account.as_str(), s.entries.len()))
        .collect();
    assert_eq!(
        accounts,
        [("1501202900001", 5), ("BD00CIBL1234567890123456", 1)]
    );
    assert_eq!(
        s[1].entries[0].index, 0,
        "entries count from 0 within their statement"
    );
    let m = all(StatementFormat::Mt940, "ucb_mt940_two_accounts_latin1.sta");
    let accounts: Vec<(&str, &str, usize)> = m
        .iter()
        .map(|s| (s.message_id.as_str(), s.account.as_str(), s.entries.len()))
        .collect();
    assert_eq!(
        accounts,
        [
            ("UCB240412A", "DBBLBDDH/1051100023456", 2),
            ("UCB240412B", "1501202900001", 1)
        ]
    );
}

#[test]
fn charges_counted_once() {
    let s = all(StatementFormat::Camt053, "ebl_camt053_v08_two_accounts.xml");
    // 25.00 at entry level and the same 25.00 in its transaction; a 0.00 tax beside it.
    assert_eq!(s[0].entries[0].charges.unwrap().to_string(), "25.00 USD");
    // Without an entry-level block the transactions' are summed.
    let xml = String::from_utf8(file("ebl_camt053_v08_two_accounts.xml")).unwrap();
    let start = xml.find("<Chrgs>\n          <TtlChrgsAndTaxAmt").unwrap();
    let end = start + xml[start..].find("</Chrgs>").unwrap() + "</Chrgs>".len();
    let only_tx = format!("{}{}", &xml[..start], &xml[end..]);
    let s = parse(StatementFormat::Camt053, only_tx.as_bytes()).unwrap();
    assert_eq!(s[0].entries[0].charges.unwrap().to_string(), "25.00 USD");
}

#[test]
fn zero_amounts_and_trailing_zeros_are_read() {
    let s = all(StatementFormat::Camt053, "ebl_camt053_v08_two_accounts.xml");
    assert_eq!(s[0].entries[1].amount.to_string(), "0.00 USD");
    assert!(s[0].entries[1].not_payable().unwrap().contains("zero"));
    assert_eq!(s[0].entries[2].amount.to_string(), "1200.50 USD");
    let m = all(StatementFormat::Mt940, "ucb_mt940_two_accounts_latin1.sta");
    assert_eq!(m[0].entries[1].amount.to_string(), "0.00 USD");
}

#[test]
fn optional_target_currency_is_inferred() {
    let s = all(StatementFormat::Camt053, "ebl_camt053_v08_two_accounts.xml");
    let e = &s[1].entries[0];
    let fx = e.fx_rate.as_ref().unwrap();
    assert_eq!(
        (
            fx.source.code(),
            fx.target.code(),
            fx.rate.to_string().as_str()
        ),
        ("USD", "BDT", "110")
    );
    assert_eq!(e.instructed.unwrap().to_string(), "4987.50 USD");
}

#[test]
fn pending_and_intraday_entries_are_not_booked() {
    let s = all(StatementFormat::Camt053, "ebl_camt053_v08_two_accounts.xml");
    let statuses: Vec<BookingStatus> = s[0].entries.iter().map(|e| e.status).collect();
    assert_eq!(statuses[3], BookingStatus::Pending);
    assert!(
        statuses
            .iter()
            .enumerate()
            .all(|(i, st)| i == 3 || *st == BookingStatus::Booked)
    );
    let r = all(StatementFormat::Camt052, "ebl_camt052_v08_intraday.xml");
    assert_eq!(
        r[0].entries[0].status,
        BookingStatus::Pending,
        "an intraday report's BOOK is provisional"
    );
    let i = all(StatementFormat::Mt942, "mbank_mt942_latin2.sta");
    assert_eq!(
        (
            i[0].entries[0].status,
            i[0].entries[0].amount.to_string().as_str()
        ),
        (BookingStatus::Pending, "2000.00 USD")
    );
    // Sts as a bare code (before .08) and an unknown code.
    let v02 = String::from_utf8(file("brac_camt053_v02.xml")).unwrap();
    let info = v02.replacen("<Sts>BOOK</Sts>", "<Sts>INFO</Sts>", 1);
    assert_eq!(
        parse(StatementFormat::Camt053, info.as_bytes()).unwrap()[0].entries[0].status,
        BookingStatus::Information
    );
    let odd = v02.replacen("<Sts>BOOK</Sts>", "<Sts>XXXX</Sts>", 1);
    let err = parse(StatementFormat::Camt053, odd.as_bytes()).unwrap_err();
    assert_eq!((err.entry, err.field.as_deref()), (Some(0), Some("Sts")));
}

#[test]
fn western_and_central_european_charsets() {
    let m = all(StatementFormat::Mt940, "ucb_mt940_two_accounts_latin1.sta");
    assert!(
        m[0].entries[0]
            .remittance
            .contains("Müller Gerätebau GmbH, Köln"),
        "{}",
        m[0].entries[0].remittance
    );
    assert!(m[1].entries[0].remittance.contains("Café Français Sàrl"));
    let i = all(StatementFormat::Mt942, "mbank_mt942_latin2.sta");
    assert!(
        i[0].entries[0].remittance.contains("Łódź Software"),
        "{}",
        i[0].entries[0].remittance
    );
    // The charset named wins over detection.
    let options = ReadOptions {
        charset: repat_statements::charset("windows-1252"),
        ..Default::default()
    };
    let forced = repat_statements::read(
        StatementFormat::Mt942,
        &file("mbank_mt942_latin2.sta"),
        &options,
    )
    .unwrap();
    assert!(
        forced[0].entries[0].remittance.contains("£ód¼"),
        "{}",
        forced[0].entries[0].remittance
    );
}

#[test]
fn empty_and_headless_files_are_refused() {
    assert!(
        refused(StatementFormat::Camt053, "empty_camt053_v08.xml")
            .reason
            .contains("holds no Stmt")
    );
    let err = refused(StatementFormat::Mt940, "header_only_mt940.sta");
    assert!(err.reason.contains("no account (:25:"), "{err}");
    let no_closing = b":20:X\n:25:1\n:60F:C240101EUR0,\n:61:240101C1,NTRF\n";
    assert!(
        parse(StatementFormat::Mt940, no_closing)
            .unwrap_err()
            .reason
            .contains("no closing balance")
    );
}

#[test]
fn local_times_are_the_banks() {
    let s = all(StatementFormat::Camt053, "ebl_camt053_v08_two_accounts.xml");
    let e = &s[0].entries[0];
    // 19:30 in Dhaka: 13:30 UTC, and the bank's day is still the 10th.
    assert_eq!(
        e.booked_at.unwrap().to_rfc3339(),
        "2024-04-10T13:30:00+00:00"
    );
    assert_eq!(e.booking_date.unwrap().to_string(), "2024-04-10");
    // The same file for an account whose bank keeps UTC+01:00.
    let cet = chrono::FixedOffset::east_opt(3600).unwrap();
    let options = ReadOptions {
        accounts: vec![("1501202900001".into(), cet)],
        ..Default::default()
    };
    let s = repat_statements::read(
        StatementFormat::Camt053,
        &file("ebl_camt053_v08_two_accounts.xml"),
        &options,
    )
    .unwrap();
    assert_eq!(
        s[0].entries[0].booked_at.unwrap().to_rfc3339(),
        "2024-04-10T18:30:00+00:00"
    );
    // A date-time with its offset is that instant, dated in the bank's zone.
    let intraday = all(StatementFormat::Camt052, "ebl_camt052_v08_intraday.xml");
    assert_eq!(
        intraday[0].entries[0].booked_at.unwrap().to_rfc3339(),
        "2024-04-10T05:42:00+00:00"
    );
}

#[test]
fn clear_reasons() {
    let err = refused(StatementFormat::Mt940, "mbank_mt942_latin2.sta");
    assert!(err.reason.contains("MT942 interim report"), "{err}");
    let err = refused(StatementFormat::Camt053, "ebl_camt052_v08_intraday.xml");
    assert!(
        err.reason
            .contains("camt.052.001.08 (an intraday account report)"),
        "{err}"
    );
    assert_eq!(
        detect(&file("ebl_camt052_v08_intraday.xml")),
        Some(StatementFormat::Camt052)
    );
    assert_eq!(
        detect(&file("mbank_mt942_latin2.sta")),
        Some(StatementFormat::Mt942)
    );
    assert_eq!(
        detect(&file("ucb_mt940_two_accounts_latin1.sta")),
        Some(StatementFormat::Mt940)
    );
    let err = refused(StatementFormat::Mt940, "missing_mark_mt940.sta");
    assert_eq!((err.entry, err.line), (Some(0), Some(5)));
    assert!(
        err.reason
            .contains("the mandatory debit/credit mark (C, D, RC or RD) is missing"),
        "{err}"
    );
}

#[test]
fn a_bad_tag_refuses_without_panicking() {
    let err = refused(StatementFormat::Mt940, "bad_tag_mt940.sta");
    assert_eq!(err.entry, Some(0));
    assert!(err.reason.contains("mandatory value date"), "{err}");
}
