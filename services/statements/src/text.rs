//! Bytes to text: which charset a file is in.

use std::borrow::Cow;

use encoding_rs::{Encoding, ISO_8859_2, UTF_8, WINDOWS_1252};

use crate::StatementError;

/// The charset a label names ("ISO-8859-1", "windows-1252", "latin2",
/// "utf-8", ...), as the WHATWG Encoding Standard reads labels (which
/// reads ISO-8859-1 as its superset Windows-1252).
pub fn charset(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}

fn decode_as(content: &[u8], enc: &'static Encoding) -> Result<String, StatementError> {
    let (text, had_errors) = enc.decode_without_bom_handling(content);
    if had_errors {
        return Err(StatementError::file(format!(
            "is not valid {} text",
            enc.name()
        )));
    }
    Ok(text.into_owned())
}

/// Letters outside ASCII: the more a decoding finds, the likelier it is
/// the file's (in ISO-8859-2, bytes that Windows-1252 reads as symbols
/// such as `±` or `¹` are the letters `ą` and `ą`'s kin).
fn letters(text: &str) -> usize {
    text.chars()
        .filter(|c| !c.is_ascii() && c.is_alphabetic())
        .count()
}

/// Text of an MT940, MT942 or CSV file: the charset given, else UTF-8
/// (a byte-order mark skipped), else the likelier of ISO-8859-2 and
/// Windows-1252.
pub fn plain<'a>(
    content: &'a [u8],
    given: Option<&'static Encoding>,
) -> Result<Cow<'a, str>, StatementError> {
    if let Some(enc) = given {
        let content = if enc == UTF_8 {
            content.strip_prefix(b"\xef\xbb\xbf").unwrap_or(content)
        } else {
            content
        };
        return decode_as(content, enc).map(Cow::Owned);
    }
    if let Ok(text) = std::str::from_utf8(content) {
        return Ok(Cow::Borrowed(text.strip_prefix('\u{feff}').unwrap_or(text)));
    }
    let western = decode_as(content, WINDOWS_1252);
    let central = decode_as(content, ISO_8859_2);
    match (western, central) {
        (Ok(w), Ok(c)) if letters(&c) > letters(&w) => Ok(Cow::Owned(c)),
        (Ok(w), _) => Ok(Cow::Owned(w)),
        (Err(_), Ok(c)) => Ok(Cow::Owned(c)),
        (Err(e), Err(_)) => Err(e),
    }
}

/// The `encoding="..."` of an XML declaration, if the file starts with one.
fn declared(content: &[u8]) -> Option<&'static Encoding> {
    let head = &content[..content.len().min(200)];
    let head = std::str::from_utf8(head).ok().or_else(|| {
        head.iter()
            .position(|b| !b.is_ascii())
            .and_then(|n| std::str::from_utf8(&head[..n]).ok())
    })?;
    let decl = head.trim_start().strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let value = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &value[1..];
    charset(&value[..value.find(quote)?])
}

/// Text of an XML file: by its byte-order mark, else the charset given,
/// else the one its declaration names, else UTF-8.
pub fn xml<'a>(
    content: &'a [u8],
    given: Option<&'static Encoding>,
) -> Result<Cow<'a, str>, StatementError> {
    if let Some((enc, bom)) = Encoding::for_bom(content) {
        return decode_as(&content[bom..], enc).map(Cow::Owned);
    }
    match given.or_else(|| declared(content)) {
        Some(enc) if enc != UTF_8 => decode_as(content, enc).map(Cow::Owned),
        _ => std::str::from_utf8(content)
            .map(Cow::Borrowed)
            .map_err(|e| {
                StatementError::file(format!(
                    "is not UTF-8 text, and its XML declaration names no other encoding: {e}"
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn western_and_central_european_text() {
        // "Müller" in Windows-1252 / ISO-8859-1.
        assert_eq!(plain(b"M\xfcller", None).unwrap(), "Müller");
        // "Łódź" in ISO-8859-2.
        assert_eq!(plain(b"\xa3\xf3d\xbc", None).unwrap(), "Łódź");
        assert_eq!(plain(b"\xa3\xf3d\xbc", Some(WINDOWS_1252)).unwrap(), "£ód¼");
        assert_eq!(plain(b"\xef\xbb\xbfok", None).unwrap(), "ok");
        assert!(plain(b"\xff", Some(UTF_8)).is_err());
    }

    #[test]
    fn xml_by_declaration() {
        let latin = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>M\xfcller</a>";
        assert!(xml(latin, None).unwrap().contains("Müller"));
        assert!(
            xml(b"<a>\xfc</a>", None)
                .unwrap_err()
                .reason
                .contains("not UTF-8")
        );
        assert_eq!(charset("latin2"), Some(ISO_8859_2));
    }
}
