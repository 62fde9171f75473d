//! Names beside ids: the party's legal name, the invoice references a
//! repatriation pays, read from the server once per command and cached.
//!
//! A few ids are read one call each; many, a listing at a time. A record
//! the caller may not see, or that is gone, just has no name: the ids are
//! still printed, so nothing is hidden by a failed lookup.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use repat_proto::v1 as pb;

use crate::client::{Repat, with_retry};

/// Up to this many ids are read one call each; beyond, by listing.
const ONE_BY_ONE: usize = 20;

#[derive(Default)]
pub struct Names {
    parties: HashMap<String, String>,
    earnings: HashMap<String, String>,
    /// Repatriation id -> the earning ids it pays.
    pays: HashMap<String, Vec<String>>,
}

impl Names {
    /// Legal names of `ids`.
    pub async fn load_parties<'a>(
        &mut self,
        repat: &Repat,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> anyhow::Result<()> {
        let missing = wanted(ids, &self.parties);
        if missing.len() > ONE_BY_ONE {
            for p in list_parties(repat).await? {
                self.parties.insert(p.id, p.legal_name);
            }
            return Ok(());
        }
        let found = fetch(&missing, |id| {
            let mut c = repat.parties();
            async move {
                c.get_party(pb::GetPartyRequest {
                    id,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().legal_name)
            }
        })
        .await;
        self.parties.extend(found);
        Ok(())
    }

    /// Invoice references of the earnings `ids`.
    pub async fn load_earnings<'a>(
        &mut self,
        repat: &Repat,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> anyhow::Result<()> {
        let missing = wanted(ids, &self.earnings);
        if missing.len() > ONE_BY_ONE {
            let mut token = String::new();
            loop {
                let request = pb::ListEarningsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    ..Default::default()
                };
                let page = with_retry(|| {
                    let mut c = repat.earnings();
                    let r = request.clone();
                    async move { c.list_earnings(r).await.map(|r| r.into_inner()) }
                })
                .await?;
                self.earnings.extend(
                    page.earnings
                        .into_iter()
                        .map(|e| (e.id, e.invoice_reference)),
                );
                if page.next_page_token.is_empty() {
                    return Ok(());
                }
                token = page.next_page_token;
            }
        }
        let found = fetch(&missing, |id| {
            let mut c = repat.earnings();
            async move {
                c.get_earning(pb::GetEarningRequest { id })
                    .await
                    .map(|r| r.into_inner().invoice_reference)
            }
        })
        .await;
        self.earnings.extend(found);
        Ok(())
    }

    /// What the repatriations `ids` pay: their earnings and those
    /// earnings' invoice references.
    pub async fn load_repatriations<'a>(
        &mut self,
        repat: &Repat,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> anyhow::Result<()> {
        let missing: Vec<String> = ids
            .into_iter()
            .filter(|id| !id.is_empty() && !self.pays.contains_key(*id))
            .map(str::to_string)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if missing.len() > ONE_BY_ONE {
            let mut token = String::new();
            loop {
                let request = pb::ListRepatriationsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    ..Default::default()
                };
                let page = with_retry(|| {
                    let mut c = repat.repatriations();
                    let r = request.clone();
                    async move { c.list_repatriations(r).await.map(|r| r.into_inner()) }
                })
                .await?;
                self.pays.extend(page.repatriations.into_iter().map(|r| {
                    (
                        r.id,
                        r.allocations.into_iter().map(|a| a.earning_id).collect(),
                    )
                }));
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
        } else {
            let found = fetch(&missing, |id| {
                let mut c = repat.repatriations();
                async move {
                    c.get_repatriation(pb::GetRepatriationRequest { id })
                        .await
                        .map(|r| {
                            r.into_inner()
                                .allocations
                                .into_iter()
                                .map(|a| a.earning_id)
                                .collect()
                        })
                }
            })
            .await;
            self.pays.extend(found);
        }
        let earnings: Vec<String> = self.pays.values().flatten().cloned().collect();
        self.load_earnings(repat, earnings.iter().map(String::as_str))
            .await
    }

    /// The party's legal name; empty when unknown.
    pub fn party(&self, id: &str) -> String {
        self.parties.get(id).cloned().unwrap_or_default()
    }

    /// The earning's invoice reference; empty when unknown.
    pub fn invoice(&self, id: &str) -> String {
        self.earnings.get(id).cloned().unwrap_or_default()
    }

    /// The invoice references a repatriation pays, `;`-separated.
    pub fn invoices_of(&self, repatriation: &str) -> String {
        self.pays
            .get(repatriation)
            .map(|ids| {
                ids.iter()
                    .map(|e| self.invoice(e))
                    .filter(|i| !i.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }
}

fn wanted<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    known: &HashMap<String, String>,
) -> Vec<String> {
    ids.into_iter()
        .filter(|id| !id.is_empty() && !known.contains_key(*id))
        .map(str::to_string)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

/// `get` for each id, a few at a time; the ids it failed for are left out.
async fn fetch<T, F, Fut>(ids: &[String], get: F) -> Vec<(String, T)>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let get = &get;
    futures::stream::iter(ids.iter().cloned())
        .map(|id| async move { with_retry(|| get(id.clone())).await.ok().map(|v| (id, v)) })
        .buffer_unordered(8)
        .filter_map(|x| async move { x })
        .collect()
        .await
}

async fn list_parties(repat: &Repat) -> anyhow::Result<Vec<pb::Party>> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let request = pb::ListPartiesRequest {
            page_size: 1000,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = with_retry(|| {
            let mut c = repat.parties();
            let r = request.clone();
            async move { c.list_parties(r).await.map(|r| r.into_inner()) }
        })
        .await?;
        all.extend(page.parties);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}

/// A `--party` as given: its id, or its legal name (any case), which must
/// name exactly one party the caller can see.
pub async fn party_id(repat: &Repat, given: &str) -> anyhow::Result<String> {
    if let Ok(id) = uuid::Uuid::parse_str(given.trim()) {
        return Ok(id.to_string());
    }
    let wanted = given.trim().to_lowercase();
    let named: Vec<pb::Party> = list_parties(repat)
        .await?
        .into_iter()
        .filter(|p| p.legal_name.trim().to_lowercase() == wanted)
        .collect();
    match named.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => anyhow::bail!("--party: no party is named {given:?} (give its id or its legal name)"),
        many => anyhow::bail!(
            "--party: {} parties are named {given:?}; give the id of one: {}",
            many.len(),
            many.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An optional `--party`, resolved.
pub async fn optional_party(repat: &Repat, given: &Option<String>) -> anyhow::Result<String> {
    match given {
        Some(p) => party_id(repat, p).await,
        None => Ok(String::new()),
    }
}
