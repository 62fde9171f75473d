//! Properties of the incentive engine over generated cases.

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use repat_core::Money;
use repat_core::earning::{Earning, NewEarning, ServiceCategory};
use repat_core::incentive::{Case, JourneyFacts, RuleSet, Supplied, assess, case_of};
use repat_core::journey::{FxRate, NewStep, Step, StepKind};
use repat_core::party::{NewParty, Party, PartyKind, Zone};
use rust_decimal::Decimal;
use uuid::Uuid;

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(PartyKind::Firm), Just(PartyKind::Freelancer)],
        prop_oneof![Just(Zone::None), Just(Zone::Epz), Just(Zone::HiTechPark)],
        prop_oneof![
            Just(ServiceCategory::Software),
            Just(ServiceCategory::Ites),
            Just(ServiceCategory::Hardware)
        ],
        any::<bool>(),
        0i64..4000,
        0u64..200,
        1i64..100_000_000_000,
        prop_oneof![
            Just("USD"),
            Just("EUR"),
            Just("JPY"),
            Just("KWD"),
            Just("BDT")
        ],
        1i64..20_000_000,
        any::<bool>(),
    )
        .prop_map(
            |(
                kind,
                zone,
                category,
                formal,
                invoice_offset,
                delay,
                minor,
                currency,
                fx_ten_thousandths,
                marketplace,
            )| {
                let invoice = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap()
                    + chrono::Days::new(invoice_offset as u64);
                let realized = invoice + chrono::Days::new(delay);
                let c = repat_core::Currency::from_code(currency).unwrap();
                let amount = Decimal::new(minor, c.minor_units());
                Case {
                    party_kind: kind,
                    zone,
                    category,
                    formal_channel: formal,
                    invoice_date: invoice,
                    realized_on: Some(realized),
                    net_credited: Some(Money::new(amount, c).unwrap()),
                    fx_rate: Some(Decimal::new(fx_ten_thousandths, 4)),
                    claim_filed_on: None,
                    as_of: realized,
                    documents: vec![],
                    recognised_marketplace: marketplace,
                }
            },
        )
}

/// Cases at the validation limits: amounts up to fifteen integer digits at
/// the currency's scale, rates up to the largest accepted with ten places.
fn arb_extreme_case() -> impl Strategy<Value = Case> {
    (
        arb_case(),
        1i64..=999_999_999_999_999_999,
        1i64..=10_000_000_000_000_000,
        0u32..=10,
    )
        .prop_map(|(mut case, digits, rate, rate_scale)| {
            let c = case.net_credited.unwrap().currency();
            let limit = 10i64.pow(repat_core::money::MAX_INTEGER_DIGITS as u32 + c.minor_units());
            case.net_credited =
                Some(Money::new(Decimal::new(digits % limit + 1, c.minor_units()), c).unwrap());
            let rate = Decimal::new(rate, rate_scale).min(repat_core::money::MAX_RATE);
            case.fx_rate = Some(rate.max(Decimal::new(1, 10)));
            case
        })
}

proptest! {
    #[test]
    fn at_the_validation_limits_the_figures_are_exact_or_refused(case in arb_extreme_case()) {
        let rules = RuleSet::bangladesh();
        // Never a panic: exact figures, or an overflow naming the product.
        match assess(&rules, &case) {
            Ok(a) => {
                if let (Some(base), Some(n), Some(fx)) = (a.base_bdt, case.net_credited, case.fx_rate)
                    && n.currency().code() != "BDT"
                {
                    {
                        let exact = a.arithmetic[0].result;
                        prop_assert_eq!(exact.checked_div(fx).map(|x| x.normalize()), Some(n.amount().normalize()));
                        prop_assert!((base - exact).abs() <= Decimal::new(5, 3));
                    }
                }
                prop_assert!(a.incentive_bdt >= Decimal::ZERO);
            }
            Err(e) => prop_assert!(e.to_string().contains("too large to compute exactly")),
        }
    }

    #[test]
    fn the_incentive_is_never_negative_nor_above_base_times_the_highest_rate(case in arb_case()) {
        let rules = RuleSet::bangladesh();
        let a = assess(&rules, &case).unwrap();
        prop_assert!(a.incentive_bdt >= Decimal::ZERO);
        if let (Some(base), Some(programme)) = (a.base_bdt, a.programme.as_ref()) {
            let highest = rules.programmes.iter().find(|p| &p.id == programme).unwrap().highest_rate();
            // Rounding half-up can add at most half a poisha to the exact product.
            prop_assert!(a.incentive_bdt <= base * highest + Decimal::new(5, 3), "{} > {} × {}", a.incentive_bdt, base, highest);
        }
        prop_assert_eq!(a.eligible, a.violations.is_empty() && a.computed_incentive_bdt.is_some());
        if !a.eligible {
            prop_assert!(a.incentive_bdt.is_zero());
        }
    }

    #[test]
    fn the_documents_held_count_not_their_order(case in arb_case(), flip in any::<bool>()) {
        let rules = RuleSet::bangladesh();
        let mut a = case.clone();
        a.documents = vec!["ASSOCIATION_CERTIFICATE".into(), "CONTRACT".into()];
        let mut b = case;
        b.documents = vec!["CONTRACT".into(), "ASSOCIATION_CERTIFICATE".into()];
        if flip { std::mem::swap(&mut a, &mut b); }
        prop_assert_eq!(assess(&rules, &a), assess(&rules, &b));
    }
}

/// A realized journey of a firm's software export: the canonical steps with
/// increasing gaps (two correspondent hops), a conversion rate, and a claim.
fn arb_journey() -> impl Strategy<Value = (Party, Earning, Vec<Step>)> {
    (
        proptest::collection::vec(60i64..2_000_000, 10),
        1i64..10_000_000,
        1_000_000i64..1_300_000,
    )
        .prop_flat_map(|(gaps, minor, fx)| {
            let usd = repat_core::Currency::from_code("USD").unwrap();
            let bdt = repat_core::Currency::from_code("BDT").unwrap();
            let rid = Uuid::from_u128(7);
            let party = Party {
                id: Uuid::from_u128(1),
                details: NewParty {
                    kind: PartyKind::Firm,
                    legal_name: "Dhaka Soft Ltd".into(),
                    country: "BD".into(),
                    memberships: vec![],
                    zone: Zone::None,
                    bank_accounts: vec![],
                },
                create_time: Utc::now(),
            };
            let start: DateTime<Utc> = "2024-03-01T04:00:00Z".parse().unwrap();
            let earning = Earning {
                id: Uuid::from_u128(2),
                details: NewEarning {
                    party_id: party.id,
                    client_name: "Client GmbH".into(),
                    client_country: "DE".into(),
                    service_category: ServiceCategory::Software,
                    amount: Money::new(Decimal::new(minor + 5_000, 2), usd).unwrap(),
                    invoice_date: start.date_naive(),
                    due_date: None,
                    invoice_reference: "INV-1".into(),
                    marketplace: String::new(),
                },
                allocated: Money::zero(usd),
                create_time: Utc::now(),
                revision: 1,
                void: None,
            };
            let kinds = [
                StepKind::InvoiceIssued,
                StepKind::PaymentInitiated,
                StepKind::IntermediaryProcessed,
                StepKind::IntermediaryProcessed,
                StepKind::NostroCredited,
                StepKind::BeneficiaryCredited,
                StepKind::ConvertedToBdt,
                StepKind::PrcIssued,
                StepKind::IncentiveClaimFiled,
            ];
            let mut at = start;
            let steps: Vec<Step> = kinds
                .iter()
                .enumerate()
                .map(|(i, &kind)| {
                    at += chrono::Duration::seconds(gaps[i]);
                    let mut new = NewStep::new(rid, kind, at);
                    if kind == StepKind::BeneficiaryCredited {
                        new.amount = Some(Money::new(Decimal::new(minor, 2), usd).unwrap());
                    }
                    if kind == StepKind::ConvertedToBdt {
                        new.fx_rate = Some(FxRate {
                            source: usd,
                            target: bdt,
                            rate: Decimal::new(fx, 4),
                        });
                    }
                    Step {
                        id: Uuid::from_u128(100 + i as u128),
                        details: new,
                        recorded_at: at,
                    }
                })
                .collect();
            (
                Just(party),
                Just(earning),
                Just(steps.clone()).prop_shuffle(),
            )
        })
}

proptest! {
    #[test]
    fn the_order_steps_were_recorded_in_changes_nothing((party, earning, shuffled) in arb_journey()) {
        let rules = RuleSet::bangladesh();
        let mut in_order = shuffled.clone();
        in_order.sort_by_key(|s| s.occurred_at());
        let as_of = in_order.last().unwrap().occurred_at().date_naive();
        let earnings = [earning];
        let of = |steps: &[Step]| {
            let facts = JourneyFacts {
                repatriation_id: Uuid::from_u128(7),
                party: &party,
                party_facts: &[],
                earnings: &earnings,
                steps,
                documents: &[],
            };
            case_of(&rules, &facts, &Supplied::default(), as_of).unwrap()
        };
        let (a, b) = (of(&shuffled), of(&in_order));
        prop_assert!(a.realized_on.is_some() && a.fx_rate.is_some() && a.claim_filed_on.is_some());
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(assess(&rules, &a), assess(&rules, &b));
    }
}
