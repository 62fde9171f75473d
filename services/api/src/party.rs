//! PartyService: firms and freelancers.

use repat_core::facts::{FactKind, FactValue, NewPartyFact};
use repat_core::party::{ASSOCIATIONS, BankAccount, Membership, NewParty, PartyCorrection, Zone};
use repat_proto::v1 as pb;
use repat_proto::v1::party_service_server::PartyService;
use repat_store::PageRequest;
use repat_usecases::{correct_party, create_party, create_party_fact, parties};
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::error::ApiResult;
use crate::validate::{Violations, request_id};
use crate::{AppState, convert, fingerprint, paging};

pub struct PartyApi {
    state: AppState,
}

impl PartyApi {
    pub fn new(state: AppState) -> Self {
        PartyApi { state }
    }
}

const CREATE: &str = "repat.v1.PartyService/CreateParty";
const CREATE_FACT: &str = "repat.v1.PartyService/CreatePartyFact";
const CORRECT: &str = "repat.v1.PartyService/CorrectParty";

/// Memberships as given under `field`; each bad one is reported and left out.
fn decode_memberships(
    v: &mut Violations,
    field: &str,
    given: &[pb::AssociationMembership],
) -> Vec<Membership> {
    let mut memberships = Vec::new();
    for (i, m) in given.iter().enumerate() {
        if !ASSOCIATIONS.contains(&m.association.as_str()) {
            v.add(
                format!("{field}[{i}].association"),
                format!("must be one of {ASSOCIATIONS:?}, got {:?}", m.association),
            );
        }
        let number = v.required_text(
            &format!("{field}[{i}].membership_number"),
            &m.membership_number,
        );
        if let Some(membership_number) = number {
            memberships.push(Membership {
                association: m.association.clone(),
                membership_number,
            });
        }
    }
    memberships
}

/// Bank accounts as given under `field`; each bad one is reported and left out.
fn decode_bank_accounts(
    v: &mut Violations,
    field: &str,
    given: &[pb::BankAccount],
) -> Vec<BankAccount> {
    let mut bank_accounts = Vec::new();
    for (i, a) in given.iter().enumerate() {
        let bic = v.optional_bic(&format!("{field}[{i}].bank_bic"), &a.bank_bic);
        if a.bank_bic.is_empty() {
            v.add(format!("{field}[{i}].bank_bic"), "is required");
        }
        let number = v.required_text(&format!("{field}[{i}].account_number"), &a.account_number);
        let currency = v.currency(&format!("{field}[{i}].currency"), &a.currency);
        let utc_offset = match a.utc_offset.as_str() {
            "" => Some(None),
            s if repat_core::party::parse_utc_offset(s).is_some() => Some(Some(s.to_string())),
            s => {
                v.add(
                    format!("{field}[{i}].utc_offset"),
                    format!("must be +HH:MM or -HH:MM (at most 14 hours), got {s:?}"),
                );
                None
            }
        };
        if let (Some(Some(bank_bic)), Some(account_number), Some(currency), Some(utc_offset)) =
            (bic, number, currency, utc_offset)
        {
            bank_accounts.push(BankAccount {
                bank_bic,
                account_number,
                currency,
                utc_offset,
            });
        }
    }
    bank_accounts
}

/// A zone as given (unspecified is none).
fn decode_zone(v: &mut Violations, field: &str, z: i32) -> Option<Zone> {
    match z {
        0 => Some(Zone::None),
        z => {
            let zone = convert::zone_from(z);
            if zone.is_none() {
                v.add(field, format!("unknown zone {z}"));
            }
            zone
        }
    }
}

/// The value of a fact change: its kind, and that kind's field.
fn decode_fact_value(v: &mut Violations, value: Option<&pb::PartyFactValue>) -> Option<FactValue> {
    let Some(value) = value else {
        v.add("value", "is required");
        return None;
    };
    let kind = convert::fact_kind_from(value.kind);
    let stray = |v: &mut Violations, field: &str, set: bool| {
        if set {
            v.add(
                format!("value.{field}"),
                format!(
                    "is not part of a change of kind {}",
                    value.kind().as_str_name()
                ),
            );
        }
    };
    match kind {
        None => {
            v.add(
                "value.kind",
                "must be PARTY_FACT_KIND_ZONE, PARTY_FACT_KIND_MEMBERSHIPS or PARTY_FACT_KIND_BANK_ACCOUNTS",
            );
            None
        }
        Some(FactKind::Zone) => {
            stray(v, "memberships", !value.memberships.is_empty());
            stray(v, "bank_accounts", !value.bank_accounts.is_empty());
            if value.zone == 0 {
                v.add("value.zone", "is required (ZONE_NONE for no special zone)");
                return None;
            }
            decode_zone(v, "value.zone", value.zone).map(FactValue::Zone)
        }
        Some(FactKind::Memberships) => {
            stray(v, "zone", value.zone != 0);
            stray(v, "bank_accounts", !value.bank_accounts.is_empty());
            Some(FactValue::Memberships(decode_memberships(
                v,
                "value.memberships",
                &value.memberships,
            )))
        }
        Some(FactKind::BankAccounts) => {
            stray(v, "zone", value.zone != 0);
            stray(v, "memberships", !value.memberships.is_empty());
            Some(FactValue::BankAccounts(decode_bank_accounts(
                v,
                "value.bank_accounts",
                &value.bank_accounts,
            )))
        }
    }
}

fn decode_party(v: &mut Violations, p: Option<&pb::Party>) -> Option<NewParty> {
    let Some(p) = p else {
        v.add("party", "is required");
        return None;
    };
    let kind = convert::party_kind_from(p.kind);
    if kind.is_none() {
        v.add(
            "party.kind",
            "must be PARTY_KIND_FIRM or PARTY_KIND_FREELANCER",
        );
    }
    let zone = decode_zone(v, "party.zone", p.zone);
    let legal_name = v.required_text("party.legal_name", &p.legal_name);
    let country = v.country("party.country", &p.country);
    let memberships = decode_memberships(v, "party.memberships", &p.memberships);
    let bank_accounts = decode_bank_accounts(v, "party.bank_accounts", &p.bank_accounts);
    Some(NewParty {
        kind: kind?,
        legal_name: legal_name?,
        country: country?,
        memberships,
        zone: zone?,
        bank_accounts,
    })
}

#[tonic::async_trait]
impl PartyService for PartyApi {
    async fn create_party(
        &self,
        request: Request<pb::CreatePartyRequest>,
    ) -> Result<Response<pb::Party>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            create_party::permit(&caller)?;
            let mut v = Violations::default();
            let id = request_id(&mut v, &req.request_id);
            let party = decode_party(&mut v, req.party.as_ref());
            let (id, party) = v.finish(|| id.zip(party))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, CREATE, id, &req);
            let stored =
                create_party::create_party(&self.state.app, &caller, &idem, &party).await?;
            ApiResult::Ok(convert::party(&stored))
        };
        Ok(Response::new(run.await?))
    }

    async fn get_party(
        &self,
        request: Request<pb::GetPartyRequest>,
    ) -> Result<Response<pb::Party>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let id = v.required_uuid("id", &req.id);
            let as_of = v.optional_date("as_of", req.as_of.as_ref());
            let (id, as_of) = v.finish(|| id.zip(as_of))?;
            let party = parties::get_party(&self.state.app, &caller, id, as_of).await?;
            ApiResult::Ok(convert::party(&party))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_parties(
        &self,
        request: Request<pb::ListPartiesRequest>,
    ) -> Result<Response<pb::ListPartiesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let kind = match req.kind {
                0 => Some(None),
                k => {
                    let kind = convert::party_kind_from(k);
                    if kind.is_none() {
                        v.add("kind", format!("unknown party kind {k}"));
                    }
                    kind.map(Some)
                }
            };
            let filters = format!("kind={}", req.kind);
            if !parties::sees_all(&caller) {
                // Firms and integrators list just the parties they act for,
                // in id order, paged like everyone else.
                let after = paging::decode_id(&mut v, &req.page_token, &filters);
                let (size, (kind, after)) = v.finish(|| size.zip(kind.zip(after)))?;
                let (found, next) =
                    parties::list_own_parties(&self.state.app, &caller, kind, after, size).await?;
                return ApiResult::Ok(pb::ListPartiesResponse {
                    parties: found.iter().map(convert::party).collect(),
                    next_page_token: next
                        .map(|last| paging::encode_id(last, &filters))
                        .unwrap_or_default(),
                });
            }
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (kind, after)) = v.finish(|| size.zip(kind.zip(after)))?;
            let page =
                parties::list_parties(&self.state.app, &caller, kind, PageRequest { after, size })
                    .await?;
            ApiResult::Ok(pb::ListPartiesResponse {
                parties: page.items.iter().map(convert::party).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn create_party_fact(
        &self,
        request: Request<pb::CreatePartyFactRequest>,
    ) -> Result<Response<pb::PartyFact>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let id = request_id(&mut v, &req.request_id);
            let party_id = v.required_uuid("party_id", &req.party_id);
            let effective_from = v.date("effective_from", req.effective_from.as_ref());
            let value = decode_fact_value(&mut v, req.value.as_ref());
            let reason = v.required_text("reason", &req.reason);
            let (id, (party_id, (effective_from, (value, reason)))) =
                v.finish(|| id.zip(party_id.zip(effective_from.zip(value.zip(reason)))))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, CREATE_FACT, id, &req);
            let fact = NewPartyFact {
                party_id,
                effective_from,
                value,
                reason,
            };
            let stored =
                create_party_fact::create_party_fact(&self.state.app, &caller, &idem, &fact)
                    .await?;
            ApiResult::Ok(convert::party_fact(&stored))
        };
        Ok(Response::new(run.await?))
    }

    async fn correct_party(
        &self,
        request: Request<pb::CorrectPartyRequest>,
    ) -> Result<Response<pb::Party>, Status> {
        let caller = caller(&request)?;
        let mut req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let rid = request_id(&mut v, &req.request_id);
            let id = v.required_uuid("id", &req.id);
            let legal_name = match req.legal_name.as_str() {
                "" => Some(None),
                name => v.required_text("legal_name", name).map(Some),
            };
            let country = match req.country.as_str() {
                "" => Some(None),
                c => v.country("country", c).map(Some),
            };
            if req.legal_name.is_empty() && req.country.is_empty() {
                v.add("legal_name", "a correction needs legal_name or country");
            }
            let reason = v.required_text("reason", &req.reason);
            let expected = v.expected_revision("expected_revision", req.expected_revision);
            let (rid, (id, (legal_name, (country, (reason, expected))))) =
                v.finish(|| rid.zip(id.zip(legal_name.zip(country.zip(reason.zip(expected))))))?;
            req.request_id.clear();
            let idem = fingerprint::idempotency(&caller, CORRECT, rid, &req);
            let correction = PartyCorrection {
                legal_name,
                country,
            };
            let party = correct_party::correct_party(
                &self.state.app,
                &caller,
                &idem,
                id,
                &correction,
                &reason,
                expected,
            )
            .await?;
            ApiResult::Ok(convert::party(&party))
        };
        Ok(Response::new(run.await?))
    }

    async fn list_party_revisions(
        &self,
        request: Request<pb::ListPartyRevisionsRequest>,
    ) -> Result<Response<pb::ListPartyRevisionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let id = crate::validate::id_field("id", &req.id)?;
            let revisions = parties::list_party_revisions(&self.state.app, &caller, id).await?;
            ApiResult::Ok(pb::ListPartyRevisionsResponse {
                revisions: revisions.iter().map(convert::revision).collect(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_party_facts(
        &self,
        request: Request<pb::ListPartyFactsRequest>,
    ) -> Result<Response<pb::ListPartyFactsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let size = v.page_size(req.page_size);
            let party_id = v.required_uuid("party_id", &req.party_id);
            let kind = match req.kind {
                0 => Some(None),
                k => {
                    let kind = convert::fact_kind_from(k);
                    if kind.is_none() {
                        v.add("kind", format!("unknown party fact kind {k}"));
                    }
                    kind.map(Some)
                }
            };
            let filters = format!("party={};kind={}", req.party_id, req.kind);
            let after = paging::decode(&mut v, &req.page_token, &filters);
            let (size, (party_id, (kind, after))) =
                v.finish(|| size.zip(party_id.zip(kind.zip(after))))?;
            let page = parties::list_party_facts(
                &self.state.app,
                &caller,
                party_id,
                kind,
                PageRequest { after, size },
            )
            .await?;
            ApiResult::Ok(pb::ListPartyFactsResponse {
                facts: page.items.iter().map(convert::party_fact).collect(),
                next_page_token: paging::next_token(page.next_after, &filters),
            })
        };
        Ok(Response::new(run.await?))
    }
}
