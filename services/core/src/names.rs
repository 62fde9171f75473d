//! Stable upper-case names for the domain's enums: the form used in storage
//! and in messages, so that renaming a Rust variant never rewrites data.

/// A closed set of named values.
pub trait Named: Sized + Copy + 'static {
    /// Every value with its name.
    const NAMES: &'static [(Self, &'static str)];

    fn name(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::NAMES
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("", |(_, n)| n)
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(v, _)| *v)
    }
}

macro_rules! named {
    ($t:ty { $($v:ident => $n:literal),+ $(,)? }) => {
        impl $crate::names::Named for $t {
            const NAMES: &'static [(Self, &'static str)] = &[$((<$t>::$v, $n)),+];
        }
    };
}
pub(crate) use named;

use crate::earning::ServiceCategory;
use crate::journey::GpiStatus;
use crate::party::{PartyKind, Zone};
use crate::repatriation::Channel;

named!(PartyKind { Firm => "FIRM", Freelancer => "FREELANCER" });
named!(Zone { None => "NONE", Epz => "EPZ", EconomicZone => "ECONOMIC_ZONE", HiTechPark => "HI_TECH_PARK" });
named!(ServiceCategory { Software => "SOFTWARE", Ites => "ITES", Hardware => "HARDWARE" });
named!(Channel { Bank => "BANK", Platform => "PLATFORM", MobileFinancialService => "MOBILE_FINANCIAL_SERVICE" });
named!(GpiStatus { Acsp => "ACSP", Accc => "ACCC", Rjct => "RJCT" });
