//! PartyService: firms and freelancers.

use repat_core::party::{ASSOCIATIONS, BankAccount, Membership, NewParty};
use repat_proto::v1 as pb;
use repat_proto::v1::party_service_server::PartyService;
use repat_store::PageRequest;
use repat_usecases::{create_party, parties};
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::error::ApiResult;
use crate::validate::{Violations, id_field, request_id};
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
    let zone = match p.zone {
        0 => Some(repat_core::party::Zone::None),
        z => {
            let zone = convert::zone_from(z);
            if zone.is_none() {
                v.add("party.zone", format!("unknown zone {z}"));
            }
            zone
        }
    };
    let legal_name = v.required_text("party.legal_name", &p.legal_name);
    let country = v.country("party.country", &p.country);
    let mut memberships = Vec::new();
    for (i, m) in p.memberships.iter().enumerate() {
        if !ASSOCIATIONS.contains(&m.association.as_str()) {
            v.add(
                format!("party.memberships[{i}].association"),
                format!("must be one of {ASSOCIATIONS:?}, got {:?}", m.association),
            );
        }
        let number = v.required_text(
            &format!("party.memberships[{i}].membership_number"),
            &m.membership_number,
        );
        if let Some(membership_number) = number {
            memberships.push(Membership {
                association: m.association.clone(),
                membership_number,
            });
        }
    }
    let mut bank_accounts = Vec::new();
    for (i, a) in p.bank_accounts.iter().enumerate() {
        let bic = v.optional_bic(&format!("party.bank_accounts[{i}].bank_bic"), &a.bank_bic);
        if a.bank_bic.is_empty() {
            v.add(format!("party.bank_accounts[{i}].bank_bic"), "is required");
        }
        let number = v.required_text(
            &format!("party.bank_accounts[{i}].account_number"),
            &a.account_number,
        );
        let currency = v.currency(&format!("party.bank_accounts[{i}].currency"), &a.currency);
        let utc_offset = match a.utc_offset.as_str() {
            "" => Some(None),
            s if repat_core::party::parse_utc_offset(s).is_some() => Some(Some(s.to_string())),
            s => {
                v.add(
                    format!("party.bank_accounts[{i}].utc_offset"),
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
            let id = id_field("id", &req.id)?;
            let party = parties::get_party(&self.state.app, &caller, id).await?;
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
}
