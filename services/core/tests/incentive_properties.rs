//! Properties of the incentive engine over generated cases.

use chrono::NaiveDate;
use proptest::prelude::*;
use repat_core::Money;
use repat_core::earning::ServiceCategory;
use repat_core::incentive::{Case, RuleSet, assess};
use repat_core::party::{PartyKind, Zone};
use rust_decimal::Decimal;

fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(PartyKind::Firm), Just(PartyKind::Freelancer)],
        prop_oneof![Just(Zone::None), Just(Zone::Epz), Just(Zone::HiTechPark)],
        prop_oneof![Just(ServiceCategory::Software), Just(ServiceCategory::Ites), Just(ServiceCategory::Hardware)],
        any::<bool>(),
        0i64..4000,
        0u64..200,
        1i64..100_000_000_000,
        prop_oneof![Just("USD"), Just("EUR"), Just("JPY"), Just("KWD"), Just("BDT")],
        1i64..20_000_000,
        any::<bool>(),
    )
        .prop_map(|(kind, zone, category, formal, invoice_offset, delay, minor, currency, fx_ten_thousandths, marketplace)| {
            let invoice = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap() + chrono::Days::new(invoice_offset as u64);
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
        })
}

proptest! {
    #[test]
    fn the_incentive_is_never_negative_nor_above_base_times_the_highest_rate(case in arb_case()) {
        let rules = RuleSet::bangladesh();
        let a = assess(&rules, &case);
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
