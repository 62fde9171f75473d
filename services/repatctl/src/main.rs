//! repatctl: the command-line client of repat.
//!
//! Exit codes: 0 done; 1 failed (the server's code and reason are printed);
//! 2 bad usage or configuration; 3 an import stored what it could but
//! refused some rows (see FILE.errors.csv); 4 the audit chain is broken.

mod cli;
mod client;
mod commands;
mod config;
mod demo;
mod import;
mod names;
mod output;
mod plot;
mod wire;

use std::process::ExitCode;

use cli::{
    AuditCommand, ClaimsCommand, Cli, Command, DelaysArgs, DemoCommand, DocumentsCommand,
    EarningsCommand, EventsCommand, IncentiveCommand, MetricsCommand, PartiesCommand,
    ReconcileCommand, RepatriationsCommand, StatementsCommand, StepsCommand, WebhooksCommand,
};
use client::Repat;
use commands::{documents, events, facts, incentive, journey, metrics, reconcile, webhooks};
use output::Report;

/// What a command ends with: a report, and whether it fully succeeded.
enum Outcome {
    Done(Report),
    /// Some rows were refused; the report says where they are.
    Partial(Report),
    /// The audit chain does not verify.
    Broken(Report),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match config::load_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(config::LoadError::Usage(e)) => e.exit(),
        Err(config::LoadError::File(message)) => {
            eprintln!("repatctl: {message}");
            return ExitCode::from(2);
        }
    };
    let format = cli.output;
    match run(cli).await {
        Ok(outcome) => {
            let (report, code) = match outcome {
                Outcome::Done(r) => (r, 0),
                Outcome::Partial(r) => (r, 3),
                Outcome::Broken(r) => (r, 4),
            };
            // A reader that stops early (`| head`) is handled inside.
            if let Err(e) = report.print(format) {
                eprintln!("repatctl: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::from(code)
        }
        Err(e) => {
            eprintln!("repatctl: {}", explain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error as a person reads it: a failed call as its code and the
/// server's reason, anything else with its causes.
fn explain(e: &anyhow::Error) -> String {
    match e.downcast_ref::<tonic::Status>() {
        Some(status) => client::describe(status),
        None => format!("{e:#}"),
    }
}

fn imported((report, clean): (Report, bool)) -> Outcome {
    if clean {
        Outcome::Done(report)
    } else {
        Outcome::Partial(report)
    }
}

async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    // Commands that need no server.
    if let Command::Demo {
        command: DemoCommand::Generate { dir, parties, seed },
    } = &cli.command
    {
        return Ok(Outcome::Done(demo::generate(dir, *parties, *seed)?));
    }
    let repat = Repat::connect(&cli.connection).await?;
    let r = &repat;
    let outcome = match cli.command {
        Command::Demo { .. } => unreachable!("handled above"),
        Command::Parties { command } => match command {
            PartiesCommand::Create {
                kind,
                legal_name,
                country,
                zone,
                membership,
                bank_account,
                request_id,
            } => Outcome::Done(
                journey::create_party(
                    r,
                    kind,
                    legal_name,
                    country,
                    zone,
                    membership,
                    bank_account,
                    request_id,
                )
                .await?,
            ),
            PartiesCommand::List { kind } => Outcome::Done(journey::list_parties(r, kind).await?),
            PartiesCommand::Import(args) => {
                imported(import::parties::run(r, &args.file, args.no_progress).await?)
            }
            PartiesCommand::Show { party, as_of } => {
                Outcome::Done(facts::show(r, party, as_of).await?)
            }
            PartiesCommand::Change(args) => Outcome::Done(facts::change(r, args).await?),
            PartiesCommand::History { party, fact } => {
                Outcome::Done(facts::history(r, party, fact).await?)
            }
            PartiesCommand::Correct {
                party,
                legal_name,
                country,
                reason,
                expected_revision,
                request_id,
            } => Outcome::Done(
                facts::correct(
                    r,
                    facts::Correction {
                        party,
                        legal_name,
                        country,
                        reason,
                        expected_revision,
                    },
                    request_id,
                )
                .await?,
            ),
        },
        Command::Documents { command } => match command {
            DocumentsCommand::Add(args) => Outcome::Done(documents::add(r, args).await?),
            DocumentsCommand::List {
                party,
                earning,
                repatriation,
                kind,
            } => Outcome::Done(documents::list(r, party, earning, repatriation, kind).await?),
            DocumentsCommand::Import {
                args,
                party_ids,
                repatriation_ids,
            } => imported(
                import::documents::run(
                    r,
                    &args.file,
                    party_ids.as_deref(),
                    repatriation_ids.as_deref(),
                    args.no_progress,
                )
                .await?,
            ),
        },
        Command::Earnings { command } => match command {
            EarningsCommand::Import {
                args,
                party_ids,
                amend,
            } => imported(
                import::earnings::run(
                    r,
                    &args.file,
                    party_ids.as_deref(),
                    amend.as_deref(),
                    args.no_progress,
                )
                .await?,
            ),
            EarningsCommand::Void {
                id,
                reason,
                expected_revision,
                request_id,
            } => Outcome::Done(
                journey::void_earning(r, id, reason, expected_revision, request_id).await?,
            ),
            EarningsCommand::History { id } => {
                Outcome::Done(journey::earning_history(r, id).await?)
            }
            EarningsCommand::List { party } => {
                Outcome::Done(journey::list_earnings(r, party).await?)
            }
            EarningsCommand::Create(args) => Outcome::Done(journey::create_earning(r, args).await?),
        },
        Command::Repatriations { command } => match command {
            RepatriationsCommand::Show { id } => Outcome::Done(journey::show(r, id).await?),
            RepatriationsCommand::Open {
                party,
                earnings,
                channel,
                payer_country,
                request_id,
            } => Outcome::Done(
                journey::open(r, party, earnings, channel, payer_country, request_id).await?,
            ),
            RepatriationsCommand::List { party } => {
                Outcome::Done(journey::list_repatriations(r, party).await?)
            }
            RepatriationsCommand::Watch { id } => {
                Outcome::Done(journey::watch(r, id, cli.output).await?)
            }
            RepatriationsCommand::Import { args, party_ids } => imported(
                import::repatriations::run(r, &args.file, party_ids.as_deref(), args.no_progress)
                    .await?,
            ),
        },
        Command::Steps { command } => match command {
            StepsCommand::Import {
                args,
                repatriation_ids,
            } => imported(
                import::steps::run(r, &args.file, repatriation_ids.as_deref(), args.no_progress)
                    .await?,
            ),
            StepsCommand::Record(args) => Outcome::Done(journey::record_step(r, *args).await?),
            StepsCommand::Void {
                step,
                repatriation,
                reason,
            } => Outcome::Done(journey::void_step(r, repatriation, step, reason, None).await?),
            StepsCommand::Correct {
                step,
                reason,
                replacement,
            } => {
                let replacement = journey::step_of(&replacement)?;
                let repatriation = replacement.repatriation_id.clone();
                Outcome::Done(
                    journey::void_step(r, repatriation, step, reason, Some(replacement)).await?,
                )
            }
        },
        Command::Incentive { command } => match command {
            IncentiveCommand::Assess {
                id,
                as_of,
                documents,
                fx_rate,
                record,
                request_id,
            } => Outcome::Done(
                incentive::assess(r, id, as_of, documents, fx_rate, record, request_id).await?,
            ),
            IncentiveCommand::Simulate(args) => Outcome::Done(incentive::simulate(r, args).await?),
            IncentiveCommand::Totals { range, party } => {
                Outcome::Done(incentive::totals(r, &range, party).await?)
            }
        },
        Command::Claims { command } => match command {
            ClaimsCommand::File {
                party,
                repatriations,
                at,
                request_id,
            } => {
                Outcome::Done(incentive::file_claim(r, party, repatriations, at, request_id).await?)
            }
            ClaimsCommand::Step {
                id,
                kind,
                at,
                reason,
                amount,
                request_id,
            } => Outcome::Done(
                incentive::claim_step(r, id, kind, at, reason, amount, request_id).await?,
            ),
            ClaimsCommand::Show { id } => Outcome::Done(incentive::show_claim(r, id).await?),
            ClaimsCommand::List { party, status } => {
                Outcome::Done(incentive::list_claims(r, party, status).await?)
            }
            ClaimsCommand::Import {
                args,
                repatriation_ids,
            } => imported(
                import::claims::run(r, &args.file, repatriation_ids.as_deref(), args.no_progress)
                    .await?,
            ),
        },
        Command::Metrics { command } => match command {
            MetricsCommand::Delays(args) => Outcome::Done(delays(r, &args).await?),
            MetricsCommand::Scorecard { range, party } => {
                Outcome::Done(metrics::scorecard(r, &range, party).await?)
            }
            MetricsCommand::Breaches {
                kind,
                party,
                as_of,
                threshold_hours,
            } => Outcome::Done(metrics::breaches(r, kind, party, as_of, threshold_hours).await?),
        },
        Command::Statements { command } => match command {
            StatementsCommand::Import {
                file,
                party,
                format,
                charset,
            } => Outcome::Done(
                reconcile::import(r, &file, party, format, charset.unwrap_or_default()).await?,
            ),
            StatementsCommand::Void { statement, reason } => {
                Outcome::Done(reconcile::void_statement(r, statement, reason).await?)
            }
        },
        Command::Reconcile { command } => match command {
            ReconcileCommand::Run { party } => Outcome::Done(reconcile::run(r, party).await?),
            ReconcileCommand::Exceptions { party } => {
                Outcome::Done(reconcile::exceptions(r, party).await?)
            }
            ReconcileCommand::Matches { party } => {
                Outcome::Done(reconcile::matches(r, party).await?)
            }
            ReconcileCommand::Realizations { party } => {
                Outcome::Done(reconcile::realizations(r, party).await?)
            }
        },
        Command::Events { command } => match command {
            EventsCommand::Follow {
                filter,
                after,
                from_now,
                cursor,
                count,
            } => {
                let start = events::Start {
                    after,
                    from_now,
                    cursor,
                };
                Outcome::Done(events::follow(r, filter, start, count, cli.output).await?)
            }
            EventsCommand::List {
                filter,
                after,
                limit,
            } => Outcome::Done(events::list(r, filter, after, limit).await?),
        },
        Command::Webhooks { command } => match command {
            WebhooksCommand::Add {
                party,
                url,
                types,
                description,
                request_id,
            } => Outcome::Done(
                webhooks::add(
                    r,
                    webhooks::NewEndpoint {
                        party,
                        url,
                        types,
                        description,
                        request_id,
                    },
                )
                .await?,
            ),
            WebhooksCommand::List { party } => Outcome::Done(webhooks::list(r, party).await?),
            WebhooksCommand::Delete { id, request_id } => {
                Outcome::Done(webhooks::delete(r, id, request_id).await?)
            }
            WebhooksCommand::Deliveries {
                endpoint,
                party,
                dead,
            } => Outcome::Done(webhooks::deliveries(r, endpoint, party, dead).await?),
            WebhooksCommand::Replay { id, request_id } => {
                Outcome::Done(webhooks::replay(r, id, request_id).await?)
            }
        },
        Command::Audit { command } => match command {
            AuditCommand::Verify { checkpoints } => {
                match metrics::verify_audit(r, checkpoints.as_deref()).await? {
                    (report, true) => Outcome::Done(report),
                    (report, false) => Outcome::Broken(report),
                }
            }
            AuditCommand::List {
                subject,
                method,
                since,
                until,
                limit,
            } => Outcome::Done(metrics::list_audit(r, subject, method, since, until, limit).await?),
        },
    };
    Ok(outcome)
}

/// Delay statistics, and with --plot their box plots (one panel per group).
async fn delays(r: &Repat, args: &DelaysArgs) -> anyhow::Result<Report> {
    // Check the plot's arguments before asking the server anything.
    let size = args
        .plot
        .as_ref()
        .map(|path| plot::check(path, &args.plot_size))
        .transpose()?;
    let party = names::optional_party(r, &args.party).await?;
    let mut report = metrics::delays(r, args, &party).await?;
    if let (Some(path), Some(size)) = (&args.plot, size) {
        let records = metrics::export(r, &args.range, &party, &args.measure).await?;
        let scope = match &args.party {
            Some(p) => {
                let mut names = names::Names::default();
                names.load_parties(r, [party.as_str()]).await?;
                let name = names.party(&party);
                if name.is_empty() { p.clone() } else { name }
            }
            None => "all parties".to_string(),
        };
        let plot = plot::Plot {
            title: plot::title(&records, &args.range, &scope, args.measure.as_deref()),
            dimensions: metrics::dimensions(&args.group_by),
        };
        let panels = plot.draw(path, size, &records)?;
        report = report.note(format!(
            "plot of {} observations ({panels} panel(s)) written to {}",
            records.len(),
            path.display()
        ));
    }
    Ok(report)
}
