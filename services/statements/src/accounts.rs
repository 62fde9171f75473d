//! Whether the account a statement names is an account as registered.

/// Upper case, without the spaces, dashes and dots banks print in account
/// numbers.
fn plain(account: &str) -> String {
    account
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '\t'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// Whether `named` (camt `Acct/Id`, MT940 `:25:`) is the account
/// `registered` (an IBAN or account number). MT940 writes `:25:` as the
/// account alone, `BIC/account` or `bank code/account`, sometimes with
/// the currency after the number (`NL69INGB0123456789EUR`).
pub fn same_account(named: &str, registered: &str) -> bool {
    let (named, registered) = (plain(named), plain(registered));
    if registered.is_empty() || named.is_empty() {
        return false;
    }
    let number = named.rsplit('/').next().unwrap_or(&named);
    let without_currency = |s: &str| -> Option<String> {
        let cut = s.len().checked_sub(3)?;
        (s.is_char_boundary(cut) && s[cut..].bytes().all(|b| b.is_ascii_uppercase()))
            .then(|| s[..cut].to_string())
    };
    number == registered
        || named == registered
        || without_currency(number).is_some_and(|n| n == registered)
}

#[cfg(test)]
mod tests {
    use super::same_account;

    #[test]
    fn forms_of_one_account() {
        assert!(same_account("DBBLBDDH/1051100023456", "1051100023456"));
        assert!(same_account("NL69 INGB 0123 4567 89", "NL69INGB0123456789"));
        assert!(same_account("NL69INGB0123456789EUR", "nl69ingb0123456789"));
        assert!(same_account("50010517/0123456789", "0123456789"));
        assert!(!same_account("DBBLBDDH/1051100023457", "1051100023456"));
        assert!(!same_account("", "1"));
        assert!(!same_account("1051100023456", ""));
    }
}
