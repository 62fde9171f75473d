//! The statement files of tests/data/statements, each read to its expected
//! entries (README.md beside them says what each holds).

use repat_core::reconcile::{EntryKind, StatementFormat};
use repat_statements::{Statement, StatementError, parse};

fn file(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/data/statements/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(format: StatementFormat, name: &str) -> Statement {
    parse(format, &file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
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
    assert!(err.reason.contains("camt.054.001.04"), "{err}");
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
fn every_camt_version_from_02_to_08_is_read_and_no_other() {
    let v02 = String::from_utf8(file("brac_camt053_v02.xml")).unwrap();
    for version in 2..=9 {
        let xml = v02.replace("camt.053.001.02", &format!("camt.053.001.{version:02}"));
        let got = parse(StatementFormat::Camt053, xml.as_bytes());
        if version <= 8 {
            assert_eq!(got.unwrap().entries.len(), 4, "version {version}");
        } else {
            assert!(
                got.unwrap_err()
                    .reason
                    .contains("versions .001.02 to .001.08"),
                "version {version}"
            );
        }
    }
}
