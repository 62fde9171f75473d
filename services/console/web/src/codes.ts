// What the codes on a journey mean, for people.

/** SWIFT gpi transaction statuses. */
export const GPI_STATUS: Record<string, string> = {
  ACSP: "settlement in progress",
  ACCC: "credited to the beneficiary's account",
  RJCT: "rejected",
};

/** gpi reason codes (with ACSP) and ISO 20022 status reason codes. */
export const REASON_CODES: Record<string, string> = {
  G000: "forwarded to the next gpi agent",
  G001: "forwarded to a non-gpi agent",
  G002: "credit may not be on the same day",
  G003: "awaiting documents from the creditor",
  G004: "awaiting cover funds",
  AC01: "incorrect account number",
  AC03: "invalid creditor account number",
  AC04: "account closed",
  AC06: "account blocked",
  AG01: "transaction forbidden on this account",
  AG02: "invalid bank operation code",
  AM04: "insufficient funds",
  AM05: "duplicate payment",
  BE04: "creditor address missing or incorrect",
  CUST: "requested by the customer",
  DUPL: "duplicate payment",
  FF01: "invalid file format",
  MS02: "reason not specified, by the customer",
  MS03: "reason not specified, by the agent",
  RC01: "bank identifier incorrect",
  RR04: "regulatory reason",
};

export function reasonText(code: string): string {
  if (code === "") return "";
  const meaning = REASON_CODES[code.toUpperCase()];
  return meaning ? `${code} — ${meaning}` : `${code} — (no description known)`;
}

/** Why a credit or earning is left open (ExceptionReason). */
export const EXCEPTION_REASONS: Record<string, string> = {
  NO_CANDIDATE: "nothing of the party could be this",
  AMOUNT_OUTSIDE_TOLERANCE: "candidates exist; none within the amount tolerances",
  DATE_OUTSIDE_WINDOW: "the amount fits; the date is outside the window",
  CURRENCY_MISMATCH: "the currencies differ and no rate converts one into the other",
  DUPLICATE_CREDIT: "the same credit was reported before",
  AMBIGUOUS: "several invoices fit equally",
  REVERSED: "a reversal takes the credit back",
  HELD_FOR_MANUAL_MATCH: "unmatched by hand; waits for a manual match",
};
