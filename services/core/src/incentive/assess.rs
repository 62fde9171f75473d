//! The evaluation of one realized repatriation against a rule set: eligible
//! or not and why, the programme and rate, the base and the incentive in
//! BDT, the deadlines, and every multiplication and rounding written out as
//! decimal strings so an auditor can redo it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::rules::{Programme, Route, RuleSet};
use crate::document::DocumentKind;
use crate::earning::ServiceCategory;
use crate::money::exact_product;
use crate::party::{PartyKind, Zone};
use crate::{Money, Named};

/// What the rules need to know about a repatriation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub party_kind: PartyKind,
    pub zone: Zone,
    pub category: ServiceCategory,
    /// Came home through the banking channel (or a platform banks accept).
    pub formal_channel: bool,
    /// The (earliest) invoice date of what the repatriation pays.
    pub invoice_date: NaiveDate,
    /// Date of BENEFICIARY_CREDITED, when it happened.
    pub realized_on: Option<NaiveDate>,
    /// The amount credited after fees deducted abroad, in its currency.
    pub net_credited: Option<Money>,
    /// BDT per unit of the credited currency (the conversion step's rate).
    pub fx_rate: Option<Decimal>,
    /// When the claim was filed, if it was.
    pub claim_filed_on: Option<NaiveDate>,
    /// The date the assessment is made (an unfiled claim past its window).
    pub as_of: NaiveDate,
    /// Documents held, by name ("ASSOCIATION_CERTIFICATE").
    pub documents: Vec<String>,
    /// Paid through a marketplace the ICT Division recognises.
    pub recognised_marketplace: bool,
}

/// Why a case earns no incentive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    NoProgramme,
    ExcludedZone,
    InformalChannel,
    NotRealized,
    RepatriationLate,
    ClaimWindowExpired,
    NoRateInForce,
    MissingFxRate,
    MissingDocument,
}

crate::names::named!(Reason {
    NoProgramme => "NO_PROGRAMME",
    ExcludedZone => "EXCLUDED_ZONE",
    InformalChannel => "INFORMAL_CHANNEL",
    NotRealized => "NOT_REALIZED",
    RepatriationLate => "REPATRIATION_LATE",
    ClaimWindowExpired => "CLAIM_WINDOW_EXPIRED",
    NoRateInForce => "NO_RATE_IN_FORCE",
    MissingFxRate => "MISSING_FX_RATE",
    MissingDocument => "MISSING_DOCUMENT",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub reason: Reason,
    /// A sentence a person can read.
    pub message: String,
    /// The rule's source.
    pub source: String,
    /// The document missing, for MISSING_DOCUMENT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// One line of the arithmetic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calculation {
    pub description: String,
    /// For example "9975.00 × 110.00 = 1097250.0000".
    pub expression: String,
    pub result: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub rule_set_version: String,
    pub eligible: bool,
    pub programme: Option<String>,
    pub rate: Option<Decimal>,
    pub rate_source: String,
    /// Net credited × FX, rounded; `None` when it cannot be computed.
    pub base_bdt: Option<Decimal>,
    /// Base × rate, rounded; what the rules give before eligibility.
    pub computed_incentive_bdt: Option<Decimal>,
    /// The incentive due: the computed one when eligible, else zero.
    pub incentive_bdt: Decimal,
    pub repatriation_deadline: Option<NaiveDate>,
    pub claim_deadline: Option<NaiveDate>,
    pub violations: Vec<Violation>,
    pub arithmetic: Vec<Calculation>,
}

fn programme_for<'a>(rules: &'a RuleSet, case: &Case) -> Option<&'a Programme> {
    rules.programme_for(case.party_kind.name(), case.category.name())
}

fn violation(reason: Reason, message: String, source: &str) -> Violation {
    Violation {
        reason,
        message,
        source: source.to_string(),
        document: None,
    }
}

/// The documents programme `p` requires on `date` that the case does not
/// hold, each named with its rule's source. The simplified route stands
/// down exactly the documents its rules say it waives, and requires what
/// serves instead.
fn missing_documents(p: &Programme, case: &Case, date: NaiveDate) -> Vec<Violation> {
    let route = p
        .simplified_route
        .as_ref()
        .map_or(Route::Normal(None), |r| {
            r.route(
                date,
                case.net_credited.as_ref(),
                case.recognised_marketplace,
            )
        });
    let held = |name: &str| case.documents.iter().any(|d| d == name);
    let describe = |name: &str| {
        DocumentKind::from_name(name).map_or_else(|| name.to_lowercase(), |k| k.describe().into())
    };
    let mut missing = Vec::new();
    for rule in p.documents.iter().filter(|r| r.required_on(date)) {
        let (name, message) = match (&route, rule.waived_by_simplified_route) {
            (Route::Simplified, true) => match &rule.simplified_route_instead {
                Some(instead) if !held(instead) => (
                    instead,
                    format!(
                        "{instead} ({}) is missing: on the simplified route it serves instead of {} for proceeds realized on {date} under programme {}.",
                        describe(instead),
                        rule.document,
                        p.id
                    ),
                ),
                _ => continue,
            },
            _ if held(&rule.document) => continue,
            (Route::Normal(Some(why)), true) => (
                &rule.document,
                format!(
                    "{} ({}) is missing: programme {} requires it for proceeds realized on {date}, and the simplified route does not stand it down because {why}.",
                    rule.document,
                    describe(&rule.document),
                    p.id
                ),
            ),
            _ => (
                &rule.document,
                format!(
                    "{} ({}) is missing: programme {} requires it for proceeds realized on {date}.",
                    rule.document,
                    describe(&rule.document),
                    p.id
                ),
            ),
        };
        missing.push(Violation {
            document: Some(name.clone()),
            ..violation(Reason::MissingDocument, message, &rule.source)
        });
    }
    missing
}

/// A product of the assessment too large to compute exactly: the inputs
/// are beyond any real payment (validation bounds amounts and rates so
/// that this cannot happen through the API, but it is never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}: {a} × {b} is too large to compute exactly")]
pub struct Overflow {
    pub description: String,
    pub a: Decimal,
    pub b: Decimal,
}

/// `a × b`, rounded by the programme's rule, written out.
fn multiply(
    p: &Programme,
    description: &str,
    a: Decimal,
    b: Decimal,
    lines: &mut Vec<Calculation>,
) -> Result<Decimal, Overflow> {
    let exact = exact_product(a, b).ok_or_else(|| Overflow {
        description: description.to_string(),
        a,
        b,
    })?;
    let rounded = p.rounding.apply(exact);
    lines.push(Calculation {
        description: description.to_string(),
        expression: format!("{a} × {b} = {exact}"),
        result: exact,
    });
    lines.push(Calculation {
        description: format!("{description}, {}", p.rounding.describe()),
        expression: format!("round({exact}) = {rounded}"),
        result: rounded,
    });
    Ok(rounded)
}

/// Evaluates `case` under `rules`. Pure: the same inputs give the same
/// assessment, whatever order the journey's steps were recorded in.
pub fn assess(rules: &RuleSet, case: &Case) -> Result<Assessment, Overflow> {
    let mut violations = Vec::new();
    let mut arithmetic = Vec::new();
    let zero = {
        let mut z = Decimal::ZERO;
        z.rescale(2);
        z
    };
    let Some(p) = programme_for(rules, case) else {
        violations.push(violation(
            Reason::NoProgramme,
            format!(
                "No programme of rule set {} covers a {} exporting {}.",
                rules.version,
                case.party_kind.name().to_lowercase(),
                case.category.name()
            ),
            "",
        ));
        return Ok(Assessment {
            rule_set_version: rules.version.clone(),
            eligible: false,
            programme: None,
            rate: None,
            rate_source: String::new(),
            base_bdt: None,
            computed_incentive_bdt: None,
            incentive_bdt: zero,
            repatriation_deadline: None,
            claim_deadline: None,
            violations,
            arithmetic,
        });
    };

    if p.excluded_zones.iter().any(|z| z == case.zone.name()) {
        let zone = case.zone.name().replace('_', " ").to_lowercase();
        violations.push(violation(
            Reason::ExcludedZone,
            format!("Units in an {zone} are not eligible."),
            &p.exclusion_source,
        ));
    }
    if !case.formal_channel {
        violations.push(violation(
            Reason::InformalChannel,
            "The proceeds did not come home through the banking channel.".into(),
            "",
        ));
    }

    let repatriation_deadline = p.repatriation_deadline.from(case.invoice_date);
    let claim_deadline = case.realized_on.and_then(|r| p.claim_window.from(r));
    match (case.realized_on, case.net_credited) {
        (Some(realized), Some(_)) => {
            if let Some(deadline) = repatriation_deadline
                && realized > deadline
            {
                violations.push(violation(
                    Reason::RepatriationLate,
                    format!(
                        "Realized on {realized}, after the deadline of {deadline} ({} from the invoice dated {}).",
                        p.repatriation_deadline.describe(),
                        case.invoice_date
                    ),
                    &p.repatriation_deadline.source,
                ));
            }
            if let Some(deadline) = claim_deadline {
                let late = match case.claim_filed_on {
                    Some(filed) => {
                        (filed > deadline).then(|| format!("The claim was filed on {filed}"))
                    }
                    None => (case.as_of > deadline)
                        .then(|| format!("No claim was filed by {}", case.as_of)),
                };
                if let Some(what) = late {
                    violations.push(violation(
                        Reason::ClaimWindowExpired,
                        format!("{what}, after the claim deadline of {deadline} ({} from realization on {realized}).", p.claim_window.describe()),
                        &p.claim_window.source,
                    ));
                }
            }
        }
        _ => violations.push(violation(
            Reason::NotRealized,
            "The proceeds have not been credited to the exporter's account yet.".into(),
            "",
        )),
    }

    let rate_date = p.date_looked_at(case.invoice_date, case.realized_on);
    let rate = rate_date.and_then(|d| p.rate_on(d));
    if let (Some(d), None) = (rate_date, rate) {
        violations.push(violation(
            Reason::NoRateInForce,
            format!("Programme {} had no rate in force on {d}.", p.id),
            "",
        ));
    }
    if let Some(d) = rate_date {
        violations.extend(missing_documents(p, case, d));
    }

    // The arithmetic runs whenever its inputs exist, so even an ineligible
    // case shows what the rules would have given.
    let fx = match case.net_credited {
        Some(n) if n.currency().code() == "BDT" => Some(Decimal::ONE),
        Some(_) => case.fx_rate,
        None => None,
    };
    if case.net_credited.is_some() && fx.is_none() {
        violations.push(violation(
            Reason::MissingFxRate,
            "No exchange rate converts the credited amount to BDT.".into(),
            "",
        ));
    }
    let base_bdt = case
        .net_credited
        .zip(fx)
        .map(|(n, fx)| {
            multiply(
                p,
                "Base in BDT: net credited × exchange rate",
                n.amount(),
                fx,
                &mut arithmetic,
            )
        })
        .transpose()?;
    let computed = base_bdt
        .zip(rate)
        .map(|(base, r)| multiply(p, "Incentive: base × rate", base, r.rate, &mut arithmetic))
        .transpose()?;

    let eligible = violations.is_empty() && computed.is_some();
    Ok(Assessment {
        rule_set_version: rules.version.clone(),
        eligible,
        programme: Some(p.id.clone()),
        rate: rate.map(|r| r.rate),
        rate_source: rate.map(|r| r.source.clone()).unwrap_or_default(),
        base_bdt,
        computed_incentive_bdt: computed,
        incentive_bdt: if eligible {
            computed.unwrap_or(zero)
        } else {
            zero
        },
        repatriation_deadline,
        claim_deadline,
        violations,
        arithmetic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incentive::RuleSet;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    /// A firm's software export realized `realized`, invoiced 30 days before.
    fn case(kind: PartyKind, amount: &str, currency: &str, fx: &str, realized: &str) -> Case {
        let realized = d(realized);
        Case {
            party_kind: kind,
            zone: Zone::None,
            category: ServiceCategory::Software,
            formal_channel: true,
            invoice_date: realized - chrono::Days::new(30),
            realized_on: Some(realized),
            net_credited: Some(Money::parse(amount, currency).unwrap()),
            fx_rate: Some(dec(fx)),
            claim_filed_on: None,
            as_of: realized,
            documents: NORMAL_ROUTE.iter().map(|d| d.to_string()).collect(),
            recognised_marketplace: false,
        }
    }

    /// What a claim needs on the normal route.
    const NORMAL_ROUTE: [&str; 3] = [
        "CONTRACT_OR_WORK_ORDER",
        "INVOICE",
        "PROCEEDS_REALIZATION_CERTIFICATE",
    ];

    fn missing(a: &Assessment) -> Vec<&str> {
        a.violations
            .iter()
            .filter(|v| v.reason == Reason::MissingDocument)
            .filter_map(|v| v.document.as_deref())
            .collect()
    }

    fn run(c: &Case) -> Assessment {
        assess(&RuleSet::bangladesh(), c).unwrap()
    }

    #[test]
    fn worked_example_1_firm() {
        let a = run(&case(
            PartyKind::Firm,
            "9975.00",
            "USD",
            "110.00",
            "2023-09-12",
        ));
        assert!(a.eligible, "{:?}", a.violations);
        assert_eq!(a.base_bdt.unwrap().to_string(), "1097250.00");
        assert_eq!(a.rate.unwrap().to_string(), "0.10");
        assert_eq!(a.incentive_bdt.to_string(), "109725.00");
        assert_eq!(a.claim_deadline.unwrap().to_string(), "2024-03-10");
        assert_eq!(
            a.arithmetic[0].expression,
            "9975.00 × 110.00 = 1097250.0000"
        );
        assert_eq!(a.programme.as_deref(), Some("ICT_EXPORT_FIRM"));
    }

    #[test]
    fn worked_example_2_freelancer() {
        let a = run(&case(
            PartyKind::Freelancer,
            "1250.00",
            "USD",
            "104.50",
            "2023-05-02",
        ));
        assert!(a.eligible);
        assert_eq!(a.base_bdt.unwrap().to_string(), "130625.00");
        assert_eq!(a.incentive_bdt.to_string(), "5225.00");
    }

    #[test]
    fn worked_example_3_the_day_before_and_the_day_of_a_rate_cut() {
        let before = run(&case(
            PartyKind::Firm,
            "3333.33",
            "USD",
            "110.00",
            "2024-01-31",
        ));
        assert_eq!(before.base_bdt.unwrap().to_string(), "366666.30");
        assert_eq!(before.incentive_bdt.to_string(), "36666.63");
        let after = run(&case(
            PartyKind::Firm,
            "3333.33",
            "USD",
            "110.00",
            "2024-02-01",
        ));
        assert_eq!(after.rate.unwrap().to_string(), "0.08");
        assert_eq!(
            after.arithmetic[2].expression,
            "366666.30 × 0.08 = 29333.3040"
        );
        assert_eq!(after.incentive_bdt.to_string(), "29333.30");
    }

    #[test]
    fn worked_example_4_and_the_120_and_180_day_edges() {
        let mut c = case(PartyKind::Firm, "100.00", "USD", "110.00", "2023-11-29");
        c.invoice_date = d("2023-08-01");
        let a = run(&c);
        assert_eq!(a.repatriation_deadline.unwrap().to_string(), "2023-11-29");
        assert!(a.eligible, "realized on the last day is in time");
        c.realized_on = Some(d("2023-11-30"));
        c.as_of = d("2023-11-30");
        let late = run(&c);
        assert_eq!(
            late.violations.iter().map(|v| v.reason).collect::<Vec<_>>(),
            vec![Reason::RepatriationLate]
        );
        assert_eq!(late.incentive_bdt.to_string(), "0.00");
        assert_eq!(
            late.computed_incentive_bdt.unwrap().to_string(),
            "1100.00",
            "the figure is still shown"
        );

        let mut c = case(PartyKind::Firm, "100.00", "USD", "110.00", "2023-09-12");
        c.claim_filed_on = Some(d("2024-03-10"));
        assert!(run(&c).eligible, "filed on the last day of the window");
        c.claim_filed_on = Some(d("2024-03-11"));
        assert_eq!(run(&c).violations[0].reason, Reason::ClaimWindowExpired);
        c.claim_filed_on = None;
        c.as_of = d("2024-03-11");
        assert_eq!(run(&c).violations[0].reason, Reason::ClaimWindowExpired);
    }

    #[test]
    fn half_a_poisha_rounds_up() {
        // 0.05 × 0.10 ... base 10.05 BDT at 10% is 1.005: half a poisha.
        let a = run(&case(PartyKind::Firm, "10.05", "BDT", "1", "2023-09-12"));
        assert_eq!(a.arithmetic[2].expression, "10.05 × 0.10 = 1.0050");
        assert_eq!(a.incentive_bdt.to_string(), "1.01");
    }

    #[test]
    fn currencies_with_zero_and_three_minor_units() {
        let jpy = run(&case(
            PartyKind::Firm,
            "150000",
            "JPY",
            "0.7345",
            "2023-09-12",
        ));
        assert_eq!(jpy.base_bdt.unwrap().to_string(), "110175.00");
        assert_eq!(jpy.incentive_bdt.to_string(), "11017.50");
        let kwd = run(&case(
            PartyKind::Firm,
            "1000.125",
            "KWD",
            "357.20",
            "2023-09-12",
        ));
        assert_eq!(
            kwd.arithmetic[0].expression,
            "1000.125 × 357.20 = 357244.65000"
        );
        assert_eq!(kwd.base_bdt.unwrap().to_string(), "357244.65");
        assert_eq!(kwd.incentive_bdt.to_string(), "35724.47");
    }

    #[test]
    fn exclusions_channels_and_missing_inputs_are_named() {
        let mut c = case(PartyKind::Firm, "100.00", "USD", "110.00", "2023-09-12");
        c.zone = Zone::HiTechPark;
        c.formal_channel = false;
        let a = run(&c);
        let reasons: Vec<_> = a.violations.iter().map(|v| v.reason).collect();
        assert_eq!(reasons, vec![Reason::ExcludedZone, Reason::InformalChannel]);
        assert!(
            a.violations[0].message.contains("hi tech park") && !a.violations[0].source.is_empty()
        );

        let mut c = case(PartyKind::Firm, "100.00", "USD", "110.00", "2023-09-12");
        c.realized_on = None;
        c.net_credited = None;
        assert_eq!(run(&c).violations[0].reason, Reason::NotRealized);

        let mut c = case(PartyKind::Firm, "100.00", "USD", "110.00", "2023-09-12");
        c.fx_rate = None;
        assert_eq!(run(&c).violations[0].reason, Reason::MissingFxRate);

        let mut c = case(
            PartyKind::Freelancer,
            "100.00",
            "USD",
            "110.00",
            "2023-09-12",
        );
        c.category = ServiceCategory::Hardware;
        assert_eq!(run(&c).violations[0].reason, Reason::NoProgramme);
    }

    #[test]
    fn the_association_certificate_until_2022_04_10() {
        // Before 2022-04-11 a firm needs the association certificate, on
        // either route: the simplified route does not stand it down.
        let mut c = case(PartyKind::Firm, "4999.99", "USD", "86.00", "2022-03-01");
        assert_eq!(missing(&run(&c)), ["ASSOCIATION_CERTIFICATE"]);
        c.recognised_marketplace = true;
        c.documents.push("MARKETPLACE_EARNINGS_STATEMENT".into());
        assert_eq!(missing(&run(&c)), ["ASSOCIATION_CERTIFICATE"]);
        c.documents.push("ASSOCIATION_CERTIFICATE".into());
        assert!(run(&c).eligible);
        // From 2022-04-11 members and non-members both qualify.
        let c = case(PartyKind::Firm, "9000.00", "USD", "86.00", "2022-04-11");
        assert!(run(&c).eligible);
    }

    #[test]
    fn the_simplified_route_stands_down_the_contract_and_nothing_else() {
        let mut c = case(
            PartyKind::Freelancer,
            "4999.99",
            "USD",
            "110.00",
            "2024-03-01",
        );
        c.recognised_marketplace = true;
        c.documents = vec![
            "INVOICE".into(),
            "PROCEEDS_REALIZATION_CERTIFICATE".into(),
            "MARKETPLACE_EARNINGS_STATEMENT".into(),
        ];
        assert!(run(&c).eligible, "{:?}", run(&c).violations);
        c.net_credited = Some(Money::parse("5000.00", "USD").unwrap());
        assert!(run(&c).eligible, "exactly USD 5,000 qualifies");
        c.net_credited = Some(Money::parse("5000.01", "USD").unwrap());
        let over = run(&c);
        assert_eq!(
            missing(&over),
            ["CONTRACT_OR_WORK_ORDER"],
            "just over USD 5,000 does not"
        );
        assert!(
            over.violations[0]
                .message
                .contains("above its cap of USD 5000.00")
        );
        assert!(
            over.violations[0]
                .source
                .contains("Circular of 16 Jan 2022")
        );

        // On the route, the marketplace's record serves instead: it is needed.
        c.net_credited = Some(Money::parse("4999.99", "USD").unwrap());
        c.documents
            .retain(|d| d != "MARKETPLACE_EARNINGS_STATEMENT");
        assert_eq!(missing(&run(&c)), ["MARKETPLACE_EARNINGS_STATEMENT"]);
        // The invoice and the PRC are not waived.
        c.documents = vec!["MARKETPLACE_EARNINGS_STATEMENT".into()];
        assert_eq!(
            missing(&run(&c)),
            ["INVOICE", "PROCEEDS_REALIZATION_CERTIFICATE"]
        );
        // Not through a recognised marketplace, or before the route opened:
        // the normal route.
        let mut c = case(
            PartyKind::Freelancer,
            "100.00",
            "USD",
            "110.00",
            "2024-03-01",
        );
        c.documents.retain(|d| d != "CONTRACT_OR_WORK_ORDER");
        assert_eq!(missing(&run(&c)), ["CONTRACT_OR_WORK_ORDER"]);
        let mut c = case(
            PartyKind::Freelancer,
            "100.00",
            "USD",
            "86.00",
            "2022-01-15",
        );
        c.recognised_marketplace = true;
        c.documents = vec![
            "INVOICE".into(),
            "PROCEEDS_REALIZATION_CERTIFICATE".into(),
            "MARKETPLACE_EARNINGS_STATEMENT".into(),
        ];
        let early = run(&c);
        assert_eq!(missing(&early), ["CONTRACT_OR_WORK_ORDER"]);
        assert!(early.violations[0].message.contains("opened on 2022-01-16"));
    }

    #[test]
    fn fees_deducted_abroad_lower_the_base() {
        // Invoiced 10,000.00, 45.00 deducted on the way: the base is what arrived.
        let a = run(&case(
            PartyKind::Firm,
            "9955.00",
            "USD",
            "110.00",
            "2023-09-12",
        ));
        assert_eq!(a.base_bdt.unwrap().to_string(), "1095050.00");
        assert_eq!(a.incentive_bdt.to_string(), "109505.00");
    }
}
