//! The command line: every command, its flags and their help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Connection;

#[derive(Debug, Parser)]
#[command(
    name = "repatctl",
    version,
    about = "repatctl: import earnings and journeys into repat, read incentives, delays and the audit trail"
)]
pub struct Cli {
    /// TOML file of connection settings (keys as the flags, with `_` for
    /// `-`); flags and environment variables take precedence over it.
    #[arg(
        long,
        env = "REPATCTL_CONFIG",
        global = true,
        help_heading = "Connection"
    )]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub connection: Connection,
    /// How to print results: a table for people, JSON or CSV for scripts.
    #[arg(long, short, env = "REPATCTL_OUTPUT", value_enum, default_value_t = OutputFormat::Table, global = true, help_heading = "Output")]
    pub output: OutputFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Firms and freelancers.
    Parties {
        #[command(subcommand)]
        command: PartiesCommand,
    },
    /// Documents firms hold: contracts, invoices, certificates.
    #[command(visible_alias = "document")]
    Documents {
        #[command(subcommand)]
        command: DocumentsCommand,
    },
    /// What was invoiced abroad.
    Earnings {
        #[command(subcommand)]
        command: EarningsCommand,
    },
    /// Payments home and their journeys.
    #[command(visible_alias = "repatriation")]
    Repatriations {
        #[command(subcommand)]
        command: RepatriationsCommand,
    },
    /// Steps of journeys.
    Steps {
        #[command(subcommand)]
        command: StepsCommand,
    },
    /// The cash incentive: assessments and what-if simulations.
    Incentive {
        #[command(subcommand)]
        command: IncentiveCommand,
    },
    /// Incentive claims.
    Claims {
        #[command(subcommand)]
        command: ClaimsCommand,
    },
    /// Delay statistics, plots, the G20 scorecard and deadline breaches.
    Metrics {
        #[command(subcommand)]
        command: MetricsCommand,
    },
    /// Bank statements (camt.053/054, MT940, CSV).
    Statements {
        #[command(subcommand)]
        command: StatementsCommand,
    },
    /// Match what arrived against what was invoiced.
    Reconcile {
        #[command(subcommand)]
        command: ReconcileCommand,
    },
    /// Everything that happens, as it happens: follow or page the event
    /// stream.
    #[command(visible_alias = "event")]
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Endpoints events are pushed to over HTTP, and their deliveries.
    #[command(visible_alias = "webhook")]
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// The tamper-evident audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The demo dataset.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

/// A month as the flags take it: YYYY-MM.
pub fn month(s: &str) -> Result<String, String> {
    let s = s.trim();
    chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a month YYYY-MM, e.g. 2024-06"))?;
    Ok(s.to_string())
}

/// A day as the flags take it: YYYY-MM-DD.
pub fn day(s: &str) -> Result<String, String> {
    crate::wire::parse_date(s)?;
    Ok(s.trim().to_string())
}

/// An instant as the flags take it: RFC 3339.
pub fn instant(s: &str) -> Result<String, String> {
    crate::wire::parse_timestamp(s)?;
    Ok(s.trim().to_string())
}

/// What every CSV import takes.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file (with a header row; columns in the README).
    pub file: PathBuf,
    /// Never show a progress bar (it is hidden anyway when stderr is not a
    /// terminal).
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum PartiesCommand {
    /// Register one party (administrators).
    Create {
        /// Firm or freelancer.
        #[arg(long, value_enum)]
        kind: PartyKindArg,
        /// Registered legal name.
        #[arg(long)]
        legal_name: String,
        /// ISO 3166-1 alpha-2 country of registration.
        #[arg(long, default_value = "BD")]
        country: String,
        /// Special zone the unit operates in (units in one are excluded from
        /// the incentive).
        #[arg(long, value_enum, default_value_t = ZoneArg::None)]
        zone: ZoneArg,
        /// Association membership as ASSOCIATION:NUMBER, e.g. BASIS:G-1024.
        #[arg(long)]
        membership: Option<String>,
        /// Bank account as BIC:ACCOUNT:CURRENCY.
        #[arg(long)]
        bank_account: Option<String>,
        /// Request id (UUID) making a retry safe; a fresh one when unset.
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// List the parties the caller may see.
    List {
        /// Only parties of this kind.
        #[arg(long, value_enum)]
        kind: Option<PartyKindArg>,
    },
    /// Register the parties of a CSV file; writes FILE.ids.csv (key,id).
    Import(ImportArgs),
    /// Show one party, with its zone, memberships and bank accounts as
    /// they are today or were on a day.
    Show {
        /// The party: its id or legal name.
        party: String,
        /// The day (YYYY-MM-DD, Dhaka) whose facts to show; today when unset.
        #[arg(long, value_parser = day)]
        as_of: Option<String>,
    },
    /// Record a change of a party's zone, memberships or bank accounts from
    /// a day on (give one of --zone, --memberships, --bank-accounts).
    /// Nothing is rewritten: the history keeps every change.
    Change(PartyChangeArgs),
    /// The changes of a party's facts, in the order recorded, each with the
    /// value it replaced, why, and who recorded it.
    History {
        /// The party: its id or legal name.
        party: String,
        /// Only changes of this fact.
        #[arg(long, value_enum)]
        fact: Option<FactArg>,
    },
    /// Correct a party's legal name or country (a revision, with why);
    /// facts that change over time are `parties change`.
    Correct {
        /// The party: its id or legal name.
        party: String,
        /// The corrected legal name.
        #[arg(long)]
        legal_name: Option<String>,
        /// The corrected ISO 3166-1 alpha-2 country.
        #[arg(long)]
        country: Option<String>,
        /// Why it is corrected.
        #[arg(long)]
        reason: String,
        /// Refuse unless the party is still at this revision.
        #[arg(long)]
        expected_revision: Option<u32>,
        /// Idempotency key (default: a new UUID).
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("fact").required(true).args(["zone", "memberships", "bank_accounts"])))]
pub struct PartyChangeArgs {
    /// The party: its id or legal name.
    pub party: String,
    /// The first day the new value applies (YYYY-MM-DD, Dhaka); may be in
    /// the past (a change recorded late) or the future.
    #[arg(long, value_parser = day)]
    pub from: String,
    /// Why it changed, for the record.
    #[arg(long)]
    pub reason: String,
    /// The zone from that day.
    #[arg(long, value_enum)]
    pub zone: Option<ZoneArg>,
    /// Every association membership from that day, comma-separated
    /// ASSOCIATION:NUMBER (e.g. BASIS:G-1024); "none" for none.
    #[arg(long)]
    pub memberships: Option<String>,
    /// Every bank account from that day, comma-separated
    /// BIC:ACCOUNT:CURRENCY; "none" for none.
    #[arg(long)]
    pub bank_accounts: Option<String>,
    /// Request id (UUID) making a retry safe; a fresh one when unset.
    #[arg(long)]
    pub request_id: Option<uuid::Uuid>,
}

/// A fact about a party that changes over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FactArg {
    Zone,
    Memberships,
    BankAccounts,
}

#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// Record one document against a party, an earning or a repatriation.
    Add(DocumentArgs),
    /// List documents, with the record each belongs to.
    List {
        /// Only this party's: its id or legal name.
        #[arg(long)]
        party: Option<String>,
        /// Only those of this earning (its id).
        #[arg(long)]
        earning: Option<String>,
        /// Only those of this repatriation (its id).
        #[arg(long)]
        repatriation: Option<String>,
        /// Only documents of this kind.
        #[arg(long, value_enum)]
        kind: Option<DocumentKindArg>,
    },
    /// Record the documents of a CSV file; bad rows go to FILE.errors.csv,
    /// the new ids to FILE.ids.csv (key party/kind/reference).
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// A `key,id` file of parties to resolve the `party` column.
        #[arg(long)]
        party_ids: Option<PathBuf>,
        /// A `key,id` file of repatriations to resolve the `repatriation`
        /// column.
        #[arg(long)]
        repatriation_ids: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("record").required(true).args(["party", "earning", "repatriation"])))]
pub struct DocumentArgs {
    /// What the document is.
    #[arg(long, value_enum)]
    pub kind: DocumentKindArg,
    /// Its number or reference, as written on it.
    #[arg(long)]
    pub reference: String,
    /// The day it was issued (YYYY-MM-DD).
    #[arg(long, value_parser = day)]
    pub issue_date: String,
    /// Who issued it: the client, the bank, the association, the marketplace.
    #[arg(long)]
    pub issuer: String,
    /// The party holding it (its id or legal name), for a document of the
    /// party itself (a certificate, a framework contract).
    #[arg(long)]
    pub party: Option<String>,
    /// The earning it belongs to (its id).
    #[arg(long)]
    pub earning: Option<String>,
    /// The repatriation it belongs to (its id).
    #[arg(long)]
    pub repatriation: Option<String>,
    /// The first day it is valid (YYYY-MM-DD), if it says.
    #[arg(long, value_parser = day)]
    pub valid_from: Option<String>,
    /// The last day it is valid (YYYY-MM-DD), if it says.
    #[arg(long, value_parser = day)]
    pub valid_until: Option<String>,
    /// SHA-256 of the file, hex (or give --file).
    #[arg(long, conflicts_with = "file")]
    pub sha256: Option<String>,
    /// The file, read here to send its SHA-256 (the file itself stays here).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Request id (UUID) making a retry safe; a fresh one when unset.
    #[arg(long)]
    pub request_id: Option<uuid::Uuid>,
}

/// What a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DocumentKindArg {
    ContractOrWorkOrder,
    Invoice,
    ProceedsRealizationCertificate,
    AssociationCertificate,
    MarketplaceEarningsStatement,
}

#[derive(Debug, Subcommand)]
pub enum EarningsCommand {
    /// Record the earnings of a CSV file (streamed); bad rows go to
    /// FILE.errors.csv, the new ids to FILE.ids.csv (key party/invoice).
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// A `key,id` file of parties (as `parties import` writes) to
        /// resolve the `party` column; UUIDs are used as they are.
        #[arg(long)]
        party_ids: Option<PathBuf>,
        /// Correct what is already recorded: a row whose invoice was
        /// imported with other details amends that earning (a new
        /// revision, with this reason) instead of being refused.
        #[arg(long, value_name = "REASON")]
        amend: Option<String>,
    },
    /// Void an earning recorded by mistake (kept, with the reason; refused
    /// while a repatriation or a match refers to it).
    Void {
        /// The earning's id.
        id: String,
        /// Why it is voided.
        #[arg(long)]
        reason: String,
        /// Refuse if the earning is no longer at this revision.
        #[arg(long)]
        expected_revision: Option<u32>,
        /// Request id (UUID) making a retry safe; random when unset.
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// The corrections of an earning: each revision, who made it, when,
    /// why, and what it changed.
    History {
        /// The earning's id.
        id: String,
    },
    /// List earnings, with how much of each is allocated to payments.
    List {
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
    /// Record one earning (an invoice).
    Create(EarningArgs),
}

#[derive(Debug, Args)]
pub struct EarningArgs {
    /// The exporter: its id or legal name.
    #[arg(long)]
    pub party: String,
    /// The foreign client billed.
    #[arg(long)]
    pub client_name: String,
    /// The client's ISO 3166-1 alpha-2 country, e.g. SE.
    #[arg(long)]
    pub client_country: String,
    /// What was exported.
    #[arg(long, value_enum, default_value_t = ServiceCategoryArg::Software)]
    pub service_category: ServiceCategoryArg,
    /// Amount invoiced, a plain decimal within the currency's minor units,
    /// e.g. 10000.00.
    #[arg(long)]
    pub amount: String,
    /// ISO 4217 currency of the amount.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// Invoice date, YYYY-MM-DD (the 120-day deadline counts from it).
    #[arg(long, value_parser = day)]
    pub invoice_date: String,
    /// Due date, YYYY-MM-DD.
    #[arg(long, value_parser = day)]
    pub due_date: Option<String>,
    /// The invoice's own reference (unique per party), e.g. INV-2024-031.
    #[arg(long)]
    pub invoice_reference: String,
    /// The marketplace it was earned on, e.g. Upwork.
    #[arg(long)]
    pub marketplace: Option<String>,
    /// Request id (UUID) making a retry safe; derived from party and
    /// invoice reference when unset, as imports do.
    #[arg(long)]
    pub request_id: Option<uuid::Uuid>,
}

#[derive(Debug, Subcommand)]
pub enum RepatriationsCommand {
    /// A journey as a timeline: each step, when it occurred and the wait
    /// before it.
    Show {
        /// The repatriation's id.
        id: String,
    },
    /// Open a repatriation for earnings of one party.
    Open {
        /// The party paid: its id or legal name.
        #[arg(long)]
        party: String,
        /// An earning paid, as ID or ID:AMOUNT (repeat for several).
        #[arg(long = "earning", required = true)]
        earnings: Vec<String>,
        /// How the money travels.
        #[arg(long, value_enum, default_value_t = ChannelArg::Bank)]
        channel: ChannelArg,
        /// Country the payment comes from; the first earning's client
        /// country when unset.
        #[arg(long)]
        payer_country: Option<String>,
        /// Request id (UUID) making a retry safe; a fresh one when unset.
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// List repatriations (without timelines), with the invoices they pay.
    List {
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
    /// Follow a journey: its state now, then each change as steps arrive,
    /// until it ends (returned or rejected) or you stop it. One line (or
    /// JSON object) per change.
    Watch {
        /// The repatriation's id.
        id: String,
    },
    /// Open the repatriations of a CSV file; writes FILE.ids.csv (key,id).
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// A `key,id` file of parties to resolve the `party` column.
        #[arg(long)]
        party_ids: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StepsCommand {
    /// Record the steps of a CSV file (streamed); bad rows go to
    /// FILE.errors.csv.
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// A `key,id` file of repatriations (as `repatriations import`
        /// writes) to resolve the `repatriation` column.
        #[arg(long)]
        repatriation_ids: Option<PathBuf>,
    },
    /// Record one step of a journey.
    Record(Box<StepArgs>),
    /// Void a mistaken step: the journey, its metrics and its assessments
    /// are recomputed (the assessments marked superseded).
    Void {
        /// The step's id.
        step: String,
        /// The repatriation it is of.
        #[arg(long)]
        repatriation: String,
        /// Why it is voided.
        #[arg(long)]
        reason: String,
    },
    /// Supersede a mistaken step with the corrected one given as `steps
    /// record` takes it.
    Correct {
        /// The step's id.
        #[arg(long)]
        step: String,
        /// Why it is corrected.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        replacement: Box<StepArgs>,
    },
}

#[derive(Debug, Args)]
pub struct StepArgs {
    /// The repatriation's id.
    pub repatriation: String,
    /// What happened, e.g. nostro-credited.
    #[arg(long, value_parser = step_kind)]
    pub kind: String,
    /// When it occurred (RFC 3339, e.g. 2024-03-04T09:00:00Z or ...+06:00).
    #[arg(long, value_parser = instant)]
    pub at: String,
    /// BIC of the institution at this step, e.g. CITIUS33.
    #[arg(long)]
    pub institution: Option<String>,
    /// Amount at this step, e.g. 9975.00.
    #[arg(long, requires = "currency")]
    pub amount: Option<String>,
    /// ISO 4217 currency of the amount.
    #[arg(long)]
    pub currency: Option<String>,
    /// A fee deducted at this step, e.g. 25.00 (in --currency).
    #[arg(long, requires = "currency")]
    pub fee: Option<String>,
    /// Who charged the fee (a BIC or a platform); the step's institution
    /// when unset.
    #[arg(long)]
    pub fee_charged_by: Option<String>,
    /// The fee's kind, e.g. CORRESPONDENT, PLATFORM, FX_MARGIN.
    #[arg(long)]
    pub fee_kind: Option<String>,
    /// Exchange rate of a conversion: units of --fx-to per one of
    /// --currency, e.g. 110.00 (USD/BDT).
    #[arg(long, requires = "currency")]
    pub fx_rate: Option<String>,
    /// The currency bought by the conversion.
    #[arg(long, default_value = "BDT")]
    pub fx_to: String,
    /// End-to-end id (ISO 20022 EndToEndId).
    #[arg(long)]
    pub end_to_end_id: Option<String>,
    /// SWIFT gpi UETR (a UUID).
    #[arg(long)]
    pub uetr: Option<String>,
    /// gpi status at this step: acsp, accc or rjct.
    #[arg(long)]
    pub gpi_status: Option<String>,
    /// Reason code of a return, rejection or hold, e.g. AC06 (blocked
    /// account) or G002.
    #[arg(long)]
    pub reason_code: Option<String>,
    /// Free text.
    #[arg(long)]
    pub note: Option<String>,
    /// Request id (UUID) making a retry safe; derived from the step's
    /// repatriation, kind, instant and institution when unset, as imports
    /// do.
    #[arg(long)]
    pub request_id: Option<uuid::Uuid>,
}

fn step_kind(s: &str) -> Result<String, String> {
    use repat_proto::v1::StepKind;
    let k = crate::wire::parse_enum(
        s,
        "STEP_KIND_",
        "step kind",
        StepKind::from_str_name,
        crate::wire::STEP_KINDS,
    )?;
    Ok(k.as_str_name().to_string())
}

#[derive(Debug, Subcommand)]
pub enum IncentiveCommand {
    /// What a journey's incentive is, with every rule broken and every line
    /// of arithmetic. A look: nothing is stored unless --record.
    Assess {
        /// The repatriation.
        id: String,
        /// The day deadlines are judged as of (YYYY-MM-DD); today in Dhaka
        /// when unset. An old journey never claimed is past its claim
        /// window today (CLAIM_WINDOW_EXPIRED): give the day its claim was
        /// (or would be) filed to see what it earned then.
        #[arg(long, value_parser = day)]
        as_of: Option<String>,
        /// A document held beyond the party's record (repeat).
        #[arg(long = "document")]
        documents: Vec<String>,
        /// BDT per unit of the credited currency, when the journey has no
        /// conversion rate.
        #[arg(long)]
        fx_rate: Option<String>,
        /// Store the assessment (it becomes the journey's current one, which
        /// a claim rests on); without it nothing is stored.
        #[arg(long)]
        record: bool,
        /// With --record: request id (UUID) making a retry safe; a fresh one
        /// when unset.
        #[arg(long, requires = "record")]
        request_id: Option<uuid::Uuid>,
    },
    /// What the rules would give for the inputs given; stores nothing.
    Simulate(SimulateArgs),
    /// Incentive assessed, claimed and disbursed, by month, programme and
    /// party, summed exactly.
    Totals {
        #[command(flatten)]
        range: MonthRange,
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Firm or freelancer (the programmes differ).
    #[arg(long, value_enum, default_value_t = PartyKindArg::Firm)]
    pub party_kind: PartyKindArg,
    /// The exporter's zone (units in an EPZ, economic zone or hi-tech park
    /// are excluded).
    #[arg(long, value_enum, default_value_t = ZoneArg::None)]
    pub zone: ZoneArg,
    /// What was exported.
    #[arg(long, value_enum, default_value_t = ServiceCategoryArg::Software)]
    pub service_category: ServiceCategoryArg,
    /// Came home through the banking channel (or an accepted platform).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub formal_channel: bool,
    /// The (earliest) invoice date, YYYY-MM-DD.
    #[arg(long, value_parser = day)]
    pub invoice_date: String,
    /// Day the proceeds were credited (YYYY-MM-DD); not realized when unset.
    #[arg(long, value_parser = day)]
    pub realized_on: Option<String>,
    /// Amount credited after fees deducted abroad, e.g. 9975.00.
    #[arg(long)]
    pub net_credited: Option<String>,
    /// ISO 4217 currency of --net-credited.
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// BDT per unit of the credited currency, e.g. 110.00.
    #[arg(long)]
    pub fx_rate: Option<String>,
    /// Day the claim was filed (YYYY-MM-DD).
    #[arg(long, value_parser = day)]
    pub claim_filed_on: Option<String>,
    /// The day deadlines are judged as of (YYYY-MM-DD); today in Dhaka when
    /// unset.
    #[arg(long, value_parser = day)]
    pub as_of: Option<String>,
    /// A document held, e.g. ASSOCIATION_CERTIFICATE (repeat).
    #[arg(long = "document")]
    pub documents: Vec<String>,
    /// Paid through a marketplace the rules recognise.
    #[arg(long)]
    pub recognised_marketplace: bool,
    /// A whole rule set (TOML) to evaluate under instead of a stored one.
    #[arg(long, conflicts_with = "rule_set_version")]
    pub rules: Option<PathBuf>,
    /// A stored rule set's version; the one in force when unset.
    #[arg(long)]
    pub rule_set_version: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClaimsCommand {
    /// File a claim for assessed, eligible repatriations of one party.
    File {
        /// The exporter: its id or legal name.
        #[arg(long)]
        party: String,
        /// A repatriation claimed (repeat).
        #[arg(long = "repatriation", required = true)]
        repatriations: Vec<String>,
        /// When it was filed (RFC 3339); now when unset.
        #[arg(long, value_parser = instant)]
        at: Option<String>,
        /// Request id (UUID) making a retry safe; a fresh one when unset.
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// Record the next step of a claim.
    Step {
        /// The claim.
        id: String,
        /// What happened.
        #[arg(long, value_enum)]
        kind: ClaimStepArg,
        /// When it happened (RFC 3339); now when unset.
        #[arg(long, value_parser = instant)]
        at: Option<String>,
        /// Why, for a rejection.
        #[arg(long)]
        reason: Option<String>,
        /// BDT paid, for a disbursement; the amount claimed when unset.
        #[arg(long)]
        amount: Option<String>,
        /// Request id (UUID) making a retry safe; a fresh one when unset.
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// Show a claim and its steps.
    Show {
        /// The claim's id.
        id: String,
    },
    /// List claims, with the exporter's name and where each stands.
    List {
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
        /// Only claims in this state.
        #[arg(long, value_enum)]
        status: Option<ClaimStatusArg>,
    },
    /// Assess, file and follow the claims of a CSV file; safe to re-run;
    /// writes the claims' ids to FILE.ids.csv (key: the repatriation).
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// A `key,id` file of repatriations to resolve the `repatriation`
        /// column.
        #[arg(long)]
        repatriation_ids: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Count, min, mean and percentiles of each wait and span, grouped; with
    /// --plot, a box plot of the waits per step.
    Delays(DelaysArgs),
    /// Per corridor and month: share within one hour and one business day,
    /// and cost, against the G20 targets.
    Scorecard {
        #[command(flatten)]
        range: MonthRange,
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
    /// Repatriations past a deadline, with the exporter's name and the
    /// invoices they pay.
    Breaches {
        /// Which deadline.
        #[arg(long, value_enum)]
        kind: BreachKindArg,
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
        /// Day to judge as of (YYYY-MM-DD); today in Dhaka when unset.
        #[arg(long, value_parser = day)]
        as_of: Option<String>,
        /// For in-flight: hours that count as stuck (default 48).
        #[arg(long)]
        threshold_hours: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct MonthRange {
    /// First month included, YYYY-MM.
    #[arg(long, value_parser = month)]
    pub from: Option<String>,
    /// Last month included, YYYY-MM.
    #[arg(long, value_parser = month)]
    pub to: Option<String>,
}

/// What delay statistics are grouped by, beside the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GroupBy {
    /// The step (or span) measured: always part of the key.
    Step,
    /// The payer's country.
    Corridor,
    /// Bank, platform or mobile financial service.
    Channel,
    /// The BIC of the step waited for.
    Institution,
    /// Firm or freelancer.
    PartyKind,
    /// The Dhaka month the wait ended in.
    Month,
}

#[derive(Debug, Args)]
pub struct DelaysArgs {
    /// Dimensions to group by, comma-separated (the step is always part of
    /// the key). With --plot, one panel per group.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub group_by: Vec<GroupBy>,
    #[command(flatten)]
    pub range: MonthRange,
    /// Only this party: its id or legal name.
    #[arg(long)]
    pub party: Option<String>,
    /// Only this measure: a step (NOSTRO_CREDITED) or a span
    /// (INITIATION_TO_FUNDS_AVAILABLE, ...).
    #[arg(long)]
    pub measure: Option<String>,
    /// Draw the waits before each step and the end-to-end spans as box
    /// plots to FILE.svg or FILE.png (one panel per group with --group-by).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Size of the plot in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1000x600")]
    pub plot_size: String,
}

#[derive(Debug, Subcommand)]
pub enum StatementsCommand {
    /// Import one statement file for the account holder; importing the
    /// same file again adds nothing.
    Import {
        /// The statement file as the bank sent it.
        file: PathBuf,
        /// The account holder: the party's id or legal name.
        #[arg(long)]
        party: String,
        /// The file's format; guessed from the extension or content when
        /// left out.
        #[arg(long, value_enum)]
        format: Option<StatementFormatArg>,
        /// The file's charset (e.g. ISO-8859-1, windows-1252, ISO-8859-2)
        /// when it is not UTF-8; left out, the server tells.
        #[arg(long)]
        charset: Option<String>,
    },
    /// Void a statement imported by mistake or for the wrong party: its
    /// matches are undone and the steps they recorded voided.
    Void {
        /// The statement's id.
        statement: String,
        /// Why it is voided.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatementFormatArg {
    Camt052,
    Camt053,
    Camt054,
    Mt940,
    Mt942,
    Csv,
}

impl StatementFormatArg {
    pub fn wire(self) -> repat_proto::v1::StatementFormat {
        use repat_proto::v1::StatementFormat as F;
        match self {
            StatementFormatArg::Camt053 => F::Camt053,
            StatementFormatArg::Camt054 => F::Camt054,
            StatementFormatArg::Mt940 => F::Mt940,
            StatementFormatArg::Csv => F::Csv,
            StatementFormatArg::Camt052 => F::Camt052,
            StatementFormatArg::Mt942 => F::Mt942,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReconcileCommand {
    /// Run the matching for a party (deterministic; a re-run changes
    /// nothing already settled).
    Run {
        /// The account holder: the party's id or legal name.
        #[arg(long)]
        party: String,
    },
    /// Credits and invoices that matched nothing, why, and the nearest
    /// candidates.
    Exceptions {
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
    /// Every match made (automatically or by hand): which credit paid which
    /// invoice, how much, and the fee and FX gaps.
    Matches {
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
    /// Each invoice with how much of it came home: unpaid, partially
    /// realized, realized or overpaid.
    Realizations {
        /// Only this party: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits 4 when it is broken (1 when it could
    /// not be checked).
    Verify {
        /// The checkpoint file the server appends to
        /// (`--audit-checkpoint-file`, one JSON object a line): the chain
        /// must lead to each checkpoint's signed hash, and each must still
        /// be in the database.
        #[arg(long)]
        checkpoints: Option<std::path::PathBuf>,
    },
    /// The trail's entries, oldest first: who changed what, when, with
    /// which request id, and the chain's hashes.
    List {
        /// Only entries by this subject (the token's `sub`).
        #[arg(long)]
        subject: Option<String>,
        /// Only entries of this RPC, e.g. repat.v1.PartyService/CreateParty.
        #[arg(long)]
        method: Option<String>,
        /// Only entries at or after this instant (RFC 3339).
        #[arg(long, value_parser = instant)]
        since: Option<String>,
        /// Only entries before this instant (RFC 3339).
        #[arg(long, value_parser = instant)]
        until: Option<String>,
        /// At most this many entries (the newest are left out).
        #[arg(long, default_value_t = 10_000)]
        limit: usize,
    },
}

/// Which events: a party's, of some types.
#[derive(Debug, Args)]
pub struct EventFilter {
    /// Only this party's events: its id or legal name (required when the
    /// token acts for several parties and one is wanted).
    #[arg(long)]
    pub party: Option<String>,
    /// Only events of this type, e.g. step.recorded (repeat for several).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print each event as it commits (one line, CSV row or JSON object
    /// each), reconnecting after a dropped connection without missing or
    /// repeating one. With --cursor, start after the sequence the file
    /// holds and keep it current, so the next run resumes where this one
    /// stopped.
    Follow {
        #[command(flatten)]
        filter: EventFilter,
        /// Start after this sequence (0: from the first event kept).
        #[arg(long, conflicts_with = "from_now")]
        after: Option<i64>,
        /// Only what commits from now on.
        #[arg(long)]
        from_now: bool,
        /// A file holding the last sequence handled: read at the start,
        /// written after each event.
        #[arg(long, value_name = "FILE")]
        cursor: Option<PathBuf>,
        /// Stop after this many events (default: follow until interrupted).
        #[arg(long)]
        count: Option<u64>,
    },
    /// The events after a sequence, oldest first.
    List {
        #[command(flatten)]
        filter: EventFilter,
        /// Start after this sequence.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint of a party; prints its signing secret, shown
    /// only this once.
    Add {
        /// The party whose events it receives: its id or legal name.
        #[arg(long)]
        party: String,
        /// Where events are POSTed (http:// or https://).
        #[arg(long)]
        url: String,
        /// Only events of this type (repeat for several; none: every type).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Idempotency key (default: a new UUID).
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// Endpoints, oldest first (without their secrets).
    List {
        /// Only this party's: its id or legal name.
        #[arg(long)]
        party: Option<String>,
    },
    /// Stop deliveries to an endpoint; what waited for it is not sent.
    Delete {
        /// The endpoint's id.
        id: String,
        /// Idempotency key (default: a new UUID).
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// Deliveries and their attempts, oldest first.
    Deliveries {
        /// Only this endpoint's.
        #[arg(long)]
        endpoint: Option<String>,
        /// Only this party's: its id or legal name.
        #[arg(long)]
        party: Option<String>,
        /// Only the dead-letter list.
        #[arg(long)]
        dead: bool,
    },
    /// Send a delivery again, with a fresh round of attempts.
    Replay {
        /// The delivery's id.
        id: String,
        /// Idempotency key (default: a new UUID).
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write the demo CSV files (parties, earnings, repatriations, steps,
    /// claims) to DIR. The same seed gives the same files.
    Generate {
        /// Directory to write to (created if missing).
        #[arg(default_value = "demo")]
        dir: PathBuf,
        /// Parties to generate.
        #[arg(long, default_value_t = 240)]
        parties: usize,
        /// Seed of the generator: the same seed, the same files.
        #[arg(long, default_value_t = 2024)]
        seed: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartyKindArg {
    Firm,
    Freelancer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZoneArg {
    None,
    Epz,
    EconomicZone,
    HiTechPark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServiceCategoryArg {
    Software,
    Ites,
    Hardware,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelArg {
    Bank,
    Platform,
    MobileFinancialService,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClaimStepArg {
    Audited,
    Disbursed,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClaimStatusArg {
    Filed,
    Audited,
    Disbursed,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BreachKindArg {
    RepatriationLate,
    ClaimWindowExpired,
    InFlight,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Every flag and argument of every command says what it is for.
    #[test]
    fn every_option_is_explained() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none()
                    && arg.get_long_help().is_none()
                    && !["help", "version"].contains(&id)
                {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no description)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "repatctl", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }

    #[test]
    fn months_and_days_are_checked_where_typed() {
        assert_eq!(month("2024-06").unwrap(), "2024-06");
        assert!(month("2024-13").unwrap_err().contains("YYYY-MM"));
        assert!(day("2024-02-30").is_err());
    }
}
