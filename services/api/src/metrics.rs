//! MetricsService: where the money waits. The figures are computed by the
//! use cases (`repat_usecases::metrics`: exact up to a bound, then from
//! log buckets within a stated error); this reads requests and writes
//! answers.

use std::pin::Pin;

use chrono::{Duration, NaiveDate};
use futures::{Stream, StreamExt};
use repat_core::metrics::observe::is_measure;
use repat_core::metrics::sketch;
use repat_core::metrics::stats::Summary;
use repat_proto::v1 as pb;
use repat_proto::v1::metrics_service_server::MetricsService;
use repat_store::{BreachKind, DelayFilter, Dimension, GroupKey};
use repat_usecases::metrics::{self as usecase, BreachQuery, Freshness};
use repat_usecases::rules::ActiveRules;
use tonic::{Request, Response, Status};

use crate::auth::caller;
use crate::error::{ApiError, ApiResult};
use crate::incentive::incentive_totals;
use crate::validate::Violations;
use crate::{AppState, convert, paging};

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
}

fn freshness(f: Freshness) -> pb::Freshness {
    pb::Freshness {
        pending_journeys: f.pending_journeys,
        read_time: Some(convert::timestamp(f.read_time)),
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

/// The filter of a delay query; its party is the one asked for (the use
/// case scopes it to what the caller may see).
fn delay_filter(
    v: &mut Violations,
    start: &str,
    end: &str,
    party: &str,
    m: &str,
) -> Option<DelayFilter> {
    let start_month = month(v, "start_month", start);
    let end_month = month(v, "end_month", end);
    let party_id = v.optional_uuid("party_id", party);
    let measure = measure(v, m);
    start_month.zip(end_month).zip(measure).zip(party_id).map(
        |(((start_month, end_month), measure), party_id)| DelayFilter {
            start_month,
            end_month,
            party_id,
            measure,
        },
    )
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
                &req.start_month,
                &req.end_month,
                &req.party_id,
                &req.measure,
            );
            let filter = v.finish(|| filter)?;
            let stats = usecase::delay_statistics(&self.state.app, &caller, filter, &dims).await?;
            let exact = stats.exact;
            ApiResult::Ok(pb::GetDelayStatisticsResponse {
                groups: stats
                    .groups
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
                freshness: Some(freshness(stats.freshness)),
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
            let query = BreachQuery {
                kind,
                party_id,
                as_of,
                in_flight_threshold: threshold,
            };
            let found = usecase::deadline_breaches(
                &self.state.app,
                &self.rules,
                &caller,
                &query,
                after,
                size,
            )
            .await?;
            let next = found
                .next_after
                .map(|last| paging::encode_id(last, &filters))
                .unwrap_or_default();
            let date = |d: NaiveDate| Some(convert::date(d));
            let breaches = found
                .items
                .iter()
                .map(|late| {
                    let b = &late.breach;
                    pb::DeadlineBreach {
                        kind: req.kind,
                        repatriation_id: b.repatriation_id.to_string(),
                        party_id: b.party_id.to_string(),
                        corridor: b.corridor.clone(),
                        invoice_date: date(b.invoice_date),
                        deadline: date(late.deadline),
                        initiate_time: b.initiated_at.map(convert::timestamp),
                        funds_available_time: b.funds_at.map(convert::timestamp),
                        claim_file_time: b.claim_filed_at.map(convert::timestamp),
                        days_late: late.days_late,
                    }
                })
                .collect();
            ApiResult::Ok(pb::ListDeadlineBreachesResponse {
                breaches,
                next_page_token: next,
                freshness: Some(freshness(found.freshness)),
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
            let (entries, fresh) = usecase::scorecard(
                &self.state.app,
                &caller,
                start.as_deref(),
                end.as_deref(),
                party_id,
            )
            .await?;
            let entries = entries
                .into_iter()
                .map(|e| pb::ScorecardEntry {
                    corridor: e.counts.corridor,
                    month: e.counts.month,
                    completed: e.counts.completed,
                    within_one_hour: e.counts.within_hour,
                    within_one_business_day: e.counts.within_business_day,
                    share_within_one_hour: e.share_within_hour.to_string(),
                    share_within_one_business_day: e.share_within_business_day.to_string(),
                    average_cost: e.average_cost.map(|c| c.to_string()).unwrap_or_default(),
                    meets_speed_target: e.meets_speed_target,
                    meets_cost_target: e.meets_cost_target,
                    within_corridor_cost_cap: e.within_corridor_cost_cap,
                })
                .collect();
            ApiResult::Ok(pb::GetScorecardResponse {
                entries,
                targets: TARGETS.into(),
                freshness: Some(freshness(fresh)),
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
            &req.start_month,
            &req.end_month,
            &req.party_id,
            &req.measure,
        );
        let filter = v.finish(|| filter).map_err(ApiError::Invalid)?;
        let observations = usecase::export_durations(&self.state.app, &caller, filter)
            .await
            .map_err(ApiError::from)?;
        let stream = observations.map(|o| {
            o.map(|o| pb::DurationRecord {
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
            .map_err(|e| Status::from(ApiError::from(e)))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
