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
}

#[derive(Debug, Subcommand)]
pub enum EarningsCommand {
    /// Record the earnings of a CSV file (streamed); bad rows go to
    /// FILE.errors.csv.
    Import {
        #[command(flatten)]
        args: ImportArgs,
        /// A `key,id` file of parties (as `parties import` writes) to
        /// resolve the `party` column; UUIDs are used as they are.
        #[arg(long)]
        party_ids: Option<PathBuf>,
    },
    /// List earnings.
    List {
        /// Only this party (its id).
        #[arg(long)]
        party: Option<String>,
    },
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
        /// The party paid (its id).
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
    /// List repatriations (without timelines).
    List {
        /// Only this party (its id).
        #[arg(long)]
        party: Option<String>,
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
}

#[derive(Debug, Subcommand)]
pub enum IncentiveCommand {
    /// Assess a realized repatriation and store the result.
    Assess {
        /// The repatriation.
        id: String,
        /// Day to assess as of (YYYY-MM-DD); today in Dhaka when unset.
        #[arg(long)]
        as_of: Option<String>,
        /// A document held beyond the party's record (repeat).
        #[arg(long = "document")]
        documents: Vec<String>,
        /// BDT per unit of the credited currency, when the journey has no
        /// conversion rate.
        #[arg(long)]
        fx_rate: Option<String>,
        /// Request id (UUID) making a retry safe; a fresh one when unset.
        #[arg(long)]
        request_id: Option<uuid::Uuid>,
    },
    /// What the rules would give for the inputs given; stores nothing.
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[arg(long, value_enum, default_value_t = PartyKindArg::Firm)]
    pub party_kind: PartyKindArg,
    #[arg(long, value_enum, default_value_t = ZoneArg::None)]
    pub zone: ZoneArg,
    #[arg(long, value_enum, default_value_t = ServiceCategoryArg::Software)]
    pub service_category: ServiceCategoryArg,
    /// Came home through the banking channel (or an accepted platform).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub formal_channel: bool,
    /// YYYY-MM-DD.
    #[arg(long)]
    pub invoice_date: String,
    /// Day the proceeds were credited (YYYY-MM-DD); not realized when unset.
    #[arg(long)]
    pub realized_on: Option<String>,
    /// Amount credited after fees deducted abroad, e.g. 9975.00.
    #[arg(long)]
    pub net_credited: Option<String>,
    #[arg(long, default_value = "USD")]
    pub currency: String,
    /// BDT per unit of the credited currency, e.g. 110.00.
    #[arg(long)]
    pub fx_rate: Option<String>,
    /// Day the claim was filed (YYYY-MM-DD).
    #[arg(long)]
    pub claim_filed_on: Option<String>,
    /// Day to judge as of (YYYY-MM-DD); today when unset.
    #[arg(long)]
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
        /// The exporter (its id).
        #[arg(long)]
        party: String,
        /// A repatriation claimed (repeat).
        #[arg(long = "repatriation", required = true)]
        repatriations: Vec<String>,
        /// When it was filed (RFC 3339); now when unset.
        #[arg(long)]
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
        #[arg(long)]
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
    /// Assess, file and follow the claims of a CSV file; safe to re-run.
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
        /// Only this party (its id).
        #[arg(long)]
        party: Option<String>,
    },
    /// Repatriations past a deadline.
    Breaches {
        /// Which deadline.
        #[arg(long, value_enum)]
        kind: BreachKindArg,
        /// Only this party (its id).
        #[arg(long)]
        party: Option<String>,
        /// Day to judge as of (YYYY-MM-DD); today in Dhaka when unset.
        #[arg(long)]
        as_of: Option<String>,
        /// For in-flight: hours that count as stuck (default 48).
        #[arg(long)]
        threshold_hours: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub struct MonthRange {
    /// First month included, YYYY-MM.
    #[arg(long)]
    pub from: Option<String>,
    /// Last month included, YYYY-MM.
    #[arg(long)]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct DelaysArgs {
    /// Dimensions to group by, comma-separated: corridor, channel,
    /// institution, party-kind, month (`step`, the measure, is always
    /// part of the key).
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,
    #[command(flatten)]
    pub range: MonthRange,
    /// Only this party (its id).
    #[arg(long)]
    pub party: Option<String>,
    /// Only this measure: a step (NOSTRO_CREDITED) or a span
    /// (INITIATION_TO_FUNDS_AVAILABLE, ...).
    #[arg(long)]
    pub measure: Option<String>,
    /// Draw the waits before each step as a box plot to FILE.svg or FILE.png.
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
        file: PathBuf,
        /// The account holder's party id.
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
        #[arg(long)]
        party: String,
    },
    /// Credits and invoices that matched nothing, why, and the nearest
    /// candidates.
    Exceptions {
        #[arg(long)]
        party: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; exits 1 when it is broken.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write the demo CSV files (parties, earnings, repatriations, steps,
    /// claims) to DIR. The same seed gives the same files.
    Generate {
        #[arg(default_value = "demo")]
        dir: PathBuf,
        /// Parties to generate.
        #[arg(long, default_value_t = 240)]
        parties: usize,
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
pub enum BreachKindArg {
    RepatriationLate,
    ClaimWindowExpired,
    InFlight,
}
