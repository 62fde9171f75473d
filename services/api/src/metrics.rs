//! MetricsService: where the money waits. Statistics are exact (nearest
//! rank over every observation) while a query covers at most
//! [`EXACT_LIMIT`] observations; beyond that, min, max and percentiles are
//! read off the stored log buckets within a stated relative error, and
//! count and mean stay exact. Both paths give the same figures on SQLite
//! and PostgreSQL: the arithmetic is done here, on integers.

use std::collections::BTreeMap;
use std::pin::Pin;

use chrono::{Days, Duration, NaiveDate, Utc};
use futures::{Stream, StreamExt};
use repat_core::metrics::observe::is_measure;
use repat_core::metrics::sketch;
use repat_core::metrics::stats::{self, BucketCount, Summary};
use repat_core::money::ratio_half_up;
use repat_core::time::dhaka_date;
use repat_proto::v1 as pb;
use repat_proto::v1::metrics_service_server::MetricsService;
use repat_store::{BreachFilter, BreachKind, DelayFilter, Dimension, GroupKey};
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::auth::{Caller, caller, list_scope};
use crate::error::{ApiError, ApiResult};
use crate::incentive::{ActiveRules, incentive_totals};
use crate::validate::Violations;
use crate::{AppState, convert, paging};

/// Largest query answered exactly.
pub const EXACT_LIMIT: i64 = 100_000;
/// Journeys brought up to date per transaction.
const SETTLE_BATCH: u32 = 1000;
/// Rows per message batch of the export.
const EXPORT_CHUNK: u32 = 1000;
/// Default for "stuck in flight".
const IN_FLIGHT_DEFAULT: Duration = Duration::days(2);
const PERCENTILE_DEFINITION: &str =
    "nearest rank: the p-th percentile of n sorted durations is the one at rank ceil(p*n/100)";
const TARGETS: &str = "G20/FSB roadmap, end-2027: 75% of payments with funds available within one hour of initiation, the rest within \
                       one business day; average cost at most 1%, no corridor above 3%";

pub struct MetricsApi {
    state: AppState,
    rules: std::sync::Arc<ActiveRules>,
}

impl MetricsApi {
    pub fn new(state: AppState, rules: std::sync::Arc<ActiveRules>) -> Self {
        MetricsApi { state, rules }
    }

    /// Brings every pending journey's metrics up to date, so a read sees
    /// every step acknowledged before it.
    async fn settle(&self) -> ApiResult<()> {
        settle(self.state.repo.as_ref()).await
    }

    /// Calendar days from invoice to realization, and from realization to
    /// the claim, of the rules in force (the first programme's; months
    /// are counted as 30 days here).
    fn deadline_days(&self) -> (i32, i32) {
        let days = |d: &repat_core::incentive::rules::Deadline| {
            d.days
                .map_or_else(|| d.months.unwrap_or(0) as i32 * 30, |d| d as i32)
        };
        self.rules.rules.programmes.first().map_or((120, 180), |p| {
            (days(&p.repatriation_deadline), days(&p.claim_window))
        })
    }
}

fn month(v: &mut Violations, field: &str, s: &str) -> Option<Option<String>> {
    if s.is_empty() {
        return Some(None);
    }
    let ok = s.len() == 7 && NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok();
    if ok {
        Some(Some(s.to_string()))
    } else {
        v.add(field, format!("{s:?} is not a month; use \"YYYY-MM\""));
        None
    }
}

fn measure(v: &mut Violations, s: &str) -> Option<Option<String>> {
    if s.is_empty() {
        Some(None)
    } else if is_measure(s) {
        Some(Some(s.to_string()))
    } else {
        v.add(
            "measure",
            format!("{s:?} is neither a step kind nor a span"),
        );
        None
    }
}

fn dimension(d: i32) -> Option<Dimension> {
    match pb::Dimension::try_from(d).ok()? {
        pb::Dimension::Corridor => Some(Dimension::Corridor),
        pb::Dimension::Channel => Some(Dimension::Channel),
        pb::Dimension::Institution => Some(Dimension::Institution),
        pb::Dimension::PartyKind => Some(Dimension::PartyKind),
        pb::Dimension::Month => Some(Dimension::Month),
        pb::Dimension::Unspecified => None,
    }
}

/// The filter of a delay query, scoped to what the caller may see.
fn delay_filter(
    v: &mut Violations,
    caller: &Caller,
    start: &str,
    end: &str,
    party: &str,
    m: &str,
) -> ApiResult<Option<DelayFilter>> {
    let start_month = month(v, "start_month", start);
    let end_month = month(v, "end_month", end);
    let party_id = v.optional_uuid("party_id", party);
    let measure = measure(v, m);
    let Some(party_id) = party_id else {
        return Ok(None);
    };
    let party_id = list_scope(caller, party_id)?;
    Ok(start_month
        .zip(end_month)
        .zip(measure)
        .map(|((start_month, end_month), measure)| DelayFilter {
            start_month,
            end_month,
            party_id,
            measure,
        }))
}

fn duration(micros: i64) -> Option<prost_types::Duration> {
    Some(convert::duration(Duration::microseconds(micros)))
}

fn statistics(key: &GroupKey, dims: &[Dimension], s: &Summary) -> pb::DelayStatistics {
    let mut g = pb::DelayStatistics {
        measure: key[0].clone().unwrap_or_default(),
        count: s.count,
        min: duration(s.min),
        mean: duration(s.mean),
        p50: duration(s.p50),
        p90: duration(s.p90),
        p95: duration(s.p95),
        p99: duration(s.p99),
        max: duration(s.max),
        ..Default::default()
    };
    for (d, value) in dims.iter().zip(&key[1..]) {
        let value = value.clone().unwrap_or_default();
        match d {
            Dimension::Corridor => g.corridor = value,
            Dimension::Channel => g.channel = value,
            Dimension::Institution => g.institution = value,
            Dimension::PartyKind => g.party_kind = value,
            Dimension::Month => g.month = value,
        }
    }
    g
}

type ExportStream = Pin<Box<dyn Stream<Item = Result<pb::DurationRecord, Status>> + Send>>;

#[tonic::async_trait]
impl MetricsService for MetricsApi {
    async fn get_delay_statistics(
        &self,
        request: Request<pb::GetDelayStatisticsRequest>,
    ) -> Result<Response<pb::GetDelayStatisticsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let mut dims: Vec<Dimension> = Vec::new();
            for (i, d) in req.group_by.iter().enumerate() {
                match dimension(*d) {
                    Some(d) if dims.contains(&d) => {
                        v.add(format!("group_by[{i}]"), "repeats a dimension")
                    }
                    Some(d) => dims.push(d),
                    None => v.add(format!("group_by[{i}]"), format!("unknown dimension {d}")),
                }
            }
            let filter = delay_filter(
                &mut v,
                &caller,
                &req.start_month,
                &req.end_month,
                &req.party_id,
                &req.measure,
            )?;
            let filter = v.finish(|| filter)?;
            self.settle().await?;
            let buckets = self.state.repo.delay_buckets(&filter, &dims).await?;
            let total: i64 = buckets.iter().map(|b| b.count).sum();
            let exact = total <= EXACT_LIMIT;
            let summaries: BTreeMap<GroupKey, Summary> = if exact {
                let mut values: BTreeMap<GroupKey, Vec<i64>> = BTreeMap::new();
                for (key, micros) in self.state.repo.delay_values(&filter, &dims).await? {
                    values.entry(key).or_default().push(micros);
                }
                values
                    .into_iter()
                    .map(|(k, mut v)| (k, stats::exact(&mut v)))
                    .collect()
            } else {
                let mut groups: BTreeMap<GroupKey, Vec<BucketCount>> = BTreeMap::new();
                for b in buckets {
                    groups.entry(b.key).or_default().push(BucketCount {
                        bucket: b.bucket,
                        count: b.count,
                        sum: i128::from(b.sum_micros),
                    });
                }
                groups
                    .into_iter()
                    .map(|(k, mut b)| (k, stats::from_buckets(&mut b)))
                    .collect()
            };
            ApiResult::Ok(pb::GetDelayStatisticsResponse {
                groups: summaries
                    .iter()
                    .map(|(k, s)| statistics(k, &dims, s))
                    .collect(),
                exact,
                relative_error: if exact {
                    "0".into()
                } else {
                    sketch::RELATIVE_ERROR.into()
                },
                percentile_definition: PERCENTILE_DEFINITION.into(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn list_deadline_breaches(
        &self,
        request: Request<pb::ListDeadlineBreachesRequest>,
    ) -> Result<Response<pb::ListDeadlineBreachesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let kind = match pb::BreachKind::try_from(req.kind) {
                Ok(pb::BreachKind::RepatriationLate) => Some(BreachKind::RepatriationLate),
                Ok(pb::BreachKind::ClaimWindowExpired) => Some(BreachKind::ClaimWindowExpired),
                Ok(pb::BreachKind::InFlight) => Some(BreachKind::InFlight),
                _ => {
                    v.add(
                        "kind",
                        "must be REPATRIATION_LATE, CLAIM_WINDOW_EXPIRED or IN_FLIGHT",
                    );
                    None
                }
            };
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let as_of = v.optional_date("as_of", req.as_of.as_ref());
            let threshold = match &req.in_flight_threshold {
                None => Some(IN_FLIGHT_DEFAULT),
                Some(d) if d.seconds > 0 && d.nanos >= 0 => Some(Duration::seconds(d.seconds)),
                Some(_) => {
                    v.add("in_flight_threshold", "must be positive");
                    None
                }
            };
            let size = v.page_size(req.page_size);
            let filters = format!(
                "kind={};party={};as_of={:?};threshold={:?}",
                req.kind, req.party_id, req.as_of, req.in_flight_threshold
            );
            let after = paging::decode_id(&mut v, &req.page_token, &filters);
            let (kind, (party_id, (as_of, (threshold, (size, after))))) =
                v.finish(|| kind.zip(party_id.zip(as_of.zip(threshold.zip(size.zip(after))))))?;
            let party_id = list_scope(&caller, party_id)?;
            let today = as_of.unwrap_or_else(|| dhaka_date(Utc::now()));
            let (rep_days, claim_days) = self.deadline_days();
            let back = |days: i32| {
                today
                    .checked_sub_days(Days::new(days.max(0) as u64))
                    .unwrap_or(today)
            };
            let now = as_of.map_or_else(Utc::now, |d| {
                d.and_time(chrono::NaiveTime::MIN).and_utc() + Duration::days(1)
            });
            let filter = BreachFilter {
                kind,
                party_id,
                repatriation_days: rep_days,
                claim_days,
                invoice_cutoff: back(rep_days),
                realization_cutoff: back(claim_days),
                initiated_before: now - threshold,
            };
            self.settle().await?;
            let rows = self.state.repo.breaches(&filter, after, size + 1).await?;
            let more = rows.len() > size as usize;
            let page: Vec<_> = rows.into_iter().take(size as usize).collect();
            let next = match (more, page.last()) {
                (true, Some(last)) => paging::encode_id(last.repatriation_id, &filters),
                _ => String::new(),
            };
            let date = |d: NaiveDate| Some(convert::date(d));
            let breaches = page
                .iter()
                .map(|b| {
                    let (deadline, late) = match kind {
                        BreachKind::RepatriationLate => {
                            let deadline = b.invoice_date + Days::new(rep_days as u64);
                            (
                                deadline,
                                (b.realized_on.unwrap_or(today) - deadline).num_days(),
                            )
                        }
                        BreachKind::ClaimWindowExpired => {
                            let realized = b.realized_on.unwrap_or(today);
                            let deadline = realized + Days::new(claim_days as u64);
                            (
                                deadline,
                                (b.claim_filed_at.map(dhaka_date).unwrap_or(today) - deadline)
                                    .num_days(),
                            )
                        }
                        BreachKind::InFlight => {
                            let since = b.initiated_at.map_or(today, |i| dhaka_date(i + threshold));
                            (since, (today - since).num_days())
                        }
                    };
                    pb::DeadlineBreach {
                        kind: req.kind,
                        repatriation_id: b.repatriation_id.to_string(),
                        party_id: b.party_id.to_string(),
                        corridor: b.corridor.clone(),
                        invoice_date: date(b.invoice_date),
                        deadline: date(deadline),
                        initiate_time: b.initiated_at.map(convert::timestamp),
                        funds_available_time: b.funds_at.map(convert::timestamp),
                        claim_file_time: b.claim_filed_at.map(convert::timestamp),
                        days_late: late,
                    }
                })
                .collect();
            ApiResult::Ok(pb::ListDeadlineBreachesResponse {
                breaches,
                next_page_token: next,
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_scorecard(
        &self,
        request: Request<pb::GetScorecardRequest>,
    ) -> Result<Response<pb::GetScorecardResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let run = async {
            let mut v = Violations::default();
            let start = month(&mut v, "start_month", &req.start_month);
            let end = month(&mut v, "end_month", &req.end_month);
            let party_id = v.optional_uuid("party_id", &req.party_id);
            let (start, (end, party_id)) = v.finish(|| start.zip(end.zip(party_id)))?;
            let party_id = list_scope(&caller, party_id)?;
            self.settle().await?;
            let rows = self
                .state
                .repo
                .scorecard(start.as_deref(), end.as_deref(), party_id)
                .await?;
            let share = |n: i64, d: i64| {
                ratio_half_up(Decimal::from(n), Decimal::from(d), 4).unwrap_or(Decimal::ZERO)
            };
            let entries = rows
                .iter()
                .map(|r| {
                    let hour = share(r.within_hour, r.completed);
                    let day = share(r.within_business_day, r.completed);
                    // The mean of shares kept in parts per million: exact
                    // sum, one rounding at the end.
                    let cost = ratio_half_up(
                        Decimal::from(r.fee_share_ppm_sum),
                        Decimal::from(r.costed) * Decimal::from(1_000_000),
                        6,
                    );
                    pb::ScorecardEntry {
                        corridor: r.corridor.clone(),
                        month: r.month.clone(),
                        completed: r.completed,
                        within_one_hour: r.within_hour,
                        within_one_business_day: r.within_business_day,
                        share_within_one_hour: hour.to_string(),
                        share_within_one_business_day: day.to_string(),
                        average_cost: cost.map(|c| c.to_string()).unwrap_or_default(),
                        meets_speed_target: hour >= Decimal::new(75, 2),
                        meets_cost_target: cost.is_some_and(|c| c <= Decimal::new(1, 2)),
                        within_corridor_cost_cap: cost.is_some_and(|c| c <= Decimal::new(3, 2)),
                    }
                })
                .collect();
            ApiResult::Ok(pb::GetScorecardResponse {
                entries,
                targets: TARGETS.into(),
            })
        };
        Ok(Response::new(run.await?))
    }

    async fn get_incentive_totals(
        &self,
        request: Request<pb::GetIncentiveTotalsRequest>,
    ) -> Result<Response<pb::GetIncentiveTotalsResponse>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            incentive_totals(&self.state, &caller, &request.into_inner()).await?,
        ))
    }

    type ExportDurationsStream = ExportStream;

    async fn export_durations(
        &self,
        request: Request<pb::ExportDurationsRequest>,
    ) -> Result<Response<Self::ExportDurationsStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut v = Violations::default();
        let filter = delay_filter(
            &mut v,
            &caller,
            &req.start_month,
            &req.end_month,
            &req.party_id,
            &req.measure,
        )?;
        let filter = v.finish(|| filter).map_err(ApiError::Invalid)?;
        self.settle().await?;
        let repo = self.state.repo.clone();
        let stream = export_stream(repo, filter);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Drains the journeys whose metrics are behind their steps.
pub async fn settle(repo: &dyn repat_store::Repository) -> ApiResult<()> {
    while repo.drain_pending_metrics(SETTLE_BATCH).await? > 0 {}
    Ok(())
}

/// Pages through the observations, one message per observation.
fn export_stream(
    repo: std::sync::Arc<dyn repat_store::Repository>,
    filter: DelayFilter,
) -> impl Stream<Item = Result<pb::DurationRecord, Status>> + Send {
    futures::stream::unfold(
        (Some(None::<(Uuid, i32)>), repo, filter),
        |(cursor, repo, filter)| async move {
            let after = cursor?;
            match repo.export_observations(&filter, after, EXPORT_CHUNK).await {
                Err(e) => Some((
                    vec![Err(Status::from(ApiError::from(e)))],
                    (None, repo, filter),
                )),
                Ok(rows) => {
                    let next = (rows.len() == EXPORT_CHUNK as usize)
                        .then(|| rows.last().map(|r| (r.repatriation_id, r.position)));
                    if rows.is_empty() {
                        return None;
                    }
                    let items = rows
                        .into_iter()
                        .map(|o| {
                            Ok(pb::DurationRecord {
                                repatriation_id: o.repatriation_id.to_string(),
                                measure: o.measure,
                                end_time: Some(convert::timestamp(o.end_at)),
                                duration: duration(o.micros),
                                institution: o.institution.unwrap_or_default(),
                                corridor: o.corridor,
                                channel: o.channel,
                                party_kind: o.party_kind,
                                party_id: o.party_id.to_string(),
                                month: o.month,
                            })
                        })
                        .collect::<Vec<_>>();
                    Some((items, (next, repo, filter)))
                }
            }
        },
    )
    .flat_map(futures::stream::iter)
}
