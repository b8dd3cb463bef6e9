//! A purpose-built scan of the typical Graph envelope: the first tier of [`verdict`](crate::verdict).
//!
//! It answers one question, "is this certainly a valid Graph envelope?", and answers `false`
//! ("don't know") at anything it does not handle itself: a control character in a string, a `\u`
//! escape of a surrogate that is not a valid pair, an escaped member name, a number with an
//! exponent or more than 15 digits, nesting deeper than 64 levels, a repeated `value` or
//! `resourceUrl`. What it accepts is valid JSON by RFC 8259 and a valid envelope by `negotiate`'s
//! rules; everything else is negotiated in full, which decides. Strings, most of a body's bytes,
//! are scanned eight bytes at a time.
//!
//! Held to `negotiate`'s decision by the crate's property tests (random and mutated bodies) and by
//! the `negotiate` fuzz target.

/// Deeper than this, the scan gives up (`serde_json`'s own limit is 128).
const MAX_DEPTH: usize = 64;

/// At most this many digits in a number: beyond, parsing it exactly is the parser's business.
const MAX_DIGITS: usize = 15;

/// True when `text` (the body, BOM removed) is certainly a valid Graph envelope: a JSON object
/// with one `value` member, an array of objects with one `resourceUrl` string each.
pub(crate) fn is_graph_envelope(text: &str) -> bool {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        position: 0,
    };
    scanner.envelope().is_some()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    position: usize,
}

/// What a member name is, as far as the envelope cares.
#[derive(PartialEq, Eq)]
enum Name {
    Value,
    ResourceUrl,
    Other,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    /// Consumes `byte` (after whitespace), or gives up.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek() == Some(byte)).then(|| self.position += 1)
    }

    fn envelope(&mut self) -> Option<()> {
        self.expect(b'{')?;
        let mut has_value = false;
        self.members(|scanner, name| {
            if name == Name::Value {
                if has_value {
                    return None;
                }
                has_value = true;
                scanner.notifications()
            } else {
                scanner.value(1)
            }
        })?;
        self.skip_whitespace();
        (has_value && self.position == self.bytes.len()).then_some(())
    }

    /// `value`: an array of notifications.
    fn notifications(&mut self) -> Option<()> {
        self.expect(b'[')?;
        self.elements(Self::notification)
    }

    /// The elements of an array whose `[` was consumed, through its `]`; `element` reads each.
    fn elements(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Some(());
        }
        loop {
            element(self)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.position += 1,
                b']' => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// One notification: an object with one `resourceUrl` string.
    fn notification(&mut self) -> Option<()> {
        self.expect(b'{')?;
        let mut has_resource_url = false;
        self.members(|scanner, name| {
            if name == Name::ResourceUrl {
                if has_resource_url {
                    return None;
                }
                has_resource_url = true;
                scanner.skip_whitespace();
                scanner.string().map(|_| ())
            } else {
                scanner.value(3)
            }
        })?;
        has_resource_url.then_some(())
    }

    /// The members of an object whose `{` was consumed, through its `}`; `member` reads each value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, Name) -> Option<()>) -> Option<()> {
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Some(());
        }
        loop {
            self.skip_whitespace();
            let name = match self.string()? {
                Text::Plain(b"value") => Name::Value,
                Text::Plain(b"resourceUrl") => Name::ResourceUrl,
                Text::Plain(_) => Name::Other,
                // An escaped name might spell `value`: the parser decides.
                Text::Escaped => return None,
            };
            self.expect(b':')?;
            member(self, name)?;
            self.skip_whitespace();
            match self.peek()? {
                b',' => self.position += 1,
                b'}' => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Any JSON value at nesting `depth` (the envelope's members are at 1).
    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        match self.peek()? {
            b'{' => {
                self.position += 1;
                self.members(|scanner, _| scanner.value(depth + 1))
            }
            b'[' => {
                self.position += 1;
                self.elements(|scanner| scanner.value(depth + 1))
            }
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.position.checked_add(word.len())?;
        (self.bytes.get(self.position..end)? == word).then(|| self.position = end)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)?`, at most [`MAX_DIGITS`] digits; an exponent gives up.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.position += 1;
        }
        let integer = self.digits();
        let leading_zero = self.bytes.get(self.position.checked_sub(integer)?) == Some(&b'0');
        if integer == 0 || (leading_zero && integer > 1) {
            return None;
        }
        let mut total = integer;
        if self.peek() == Some(b'.') {
            self.position += 1;
            let fraction = self.digits();
            if fraction == 0 {
                return None;
            }
            total += fraction;
        }
        if total > MAX_DIGITS || matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.position;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.position += 1;
        }
        self.position - start
    }

    /// Four hex digits of a `\\u` escape, as a UTF-16 code unit.
    fn hex_unit(&mut self) -> Option<u16> {
        let hex = self.bytes.get(self.position..self.position + 4)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let unit = u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
        self.position += 4;
        Some(unit)
    }

    /// A string starting at the current `"`, through its closing `"`.
    fn string(&mut self) -> Option<Text<'_>> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.position += 1;
        let start = self.position;
        let mut escaped = false;
        loop {
            let rest = self.bytes.get(self.position..)?;
            self.position += find_special(rest)?;
            // Control characters must be escaped (serde_json refuses them raw).
            if self.peek()? < 0x20 {
                return None;
            }
            if self.peek() == Some(b'"') {
                let content = self.bytes.get(start..self.position)?;
                self.position += 1;
                return Some(if escaped {
                    Text::Escaped
                } else {
                    Text::Plain(content)
                });
            }
            // A backslash: one of the simple escapes, or `\u` with four hex digits that are not a
            // surrogate (a surrogate pair is the parser's business).
            escaped = true;
            self.position += 1;
            match self.peek()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.position += 1,
                b'u' => {
                    self.position += 1;
                    match self.hex_unit()? {
                        // A high surrogate must be followed by an escaped low one.
                        0xD800..=0xDBFF => {
                            if self.bytes.get(self.position..self.position + 2)? != b"\\u" {
                                return None;
                            }
                            self.position += 2;
                            if !(0xDC00..=0xDFFF).contains(&self.hex_unit()?) {
                                return None;
                            }
                        }
                        0xDC00..=0xDFFF => return None,
                        _ => {}
                    }
                }
                _ => return None,
            }
        }
    }
}

/// The index of the first byte of `bytes` that ends a run of plain string content: `"`, `\\` or a
/// control character. Eight bytes at a time (the usual "has a zero byte" word tricks: the lowest
/// flagged byte of each test is exact, which is the one taken), then byte by byte.
fn find_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let Ok(array) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(array);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let flagged = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let flagged = flagged & HIGHS;
        if flagged != 0 {
            return Some(offset + (flagged.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .map(|index| offset + index)
}

/// A scanned string, as far as member names care.
enum Text<'a> {
    /// Without escapes: the raw bytes are the text.
    Plain(&'a [u8]),
    /// With escapes.
    Escaped,
}

#[cfg(test)]
mod tests {
    use super::{find_special, is_graph_envelope};

    #[test]
    fn finds_the_first_special_byte_wherever_it_is() {
        for length in 0..40 {
            for special in [b'"', b'\\', 0x00, 0x01, 0x1f] {
                for at in 0..length {
                    let mut bytes = vec![b'a'; length];
                    // Bytes that the word tricks must not mistake for special ones.
                    for (index, byte) in bytes.iter_mut().enumerate() {
                        *byte = [b'a', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'['][index % 8];
                    }
                    if let Some(byte) = bytes.get_mut(at) {
                        *byte = special;
                    }
                    assert_eq!(find_special(&bytes), Some(at), "{bytes:?}");
                    // A second special byte later changes nothing.
                    bytes.push(b'"');
                    assert_eq!(find_special(&bytes), Some(at), "{bytes:?}");
                }
                let plain: Vec<u8> = (0..length)
                    .map(|index| [0x20, 0x7f, 0x80, 0xff][index % 4])
                    .collect();
                assert_eq!(find_special(&plain), None);
            }
        }
    }

    #[test]
    fn the_typical_bodies_are_scanned_to_the_end() {
        let body = include_str!("../benches/data/incoming-call.json");
        assert!(is_graph_envelope(body));
        for body in [
            r#"{"value":[]}"#,
            " {\t\"value\" :\n[ { \"resourceUrl\" : \"/a\" } ] }\r\n",
            r##"{"value":[{"resourceUrl":"/a","x":[1,-2.5,0,0.25,true,false,null,{},[],"\"\\\/\b\f\n\r\t\u00e9"]}],"@odata.type":"#x"}"##,
            r#"{"a":{"value":1},"value":[{"resourceUrl":"é","b":{"resourceUrl":1}}]}"#,
            r#"{"value":[{"resourceUrl":"/a","name":"\ud83d\ude00 \uD83D\uDE00"}]}"#,
        ] {
            assert!(is_graph_envelope(body), "{body}");
        }
    }

    #[test]
    fn anything_it_does_not_handle_is_left_to_the_parser() {
        for body in [
            "",
            "{}",
            r#"{"value":{}}"#,
            r#"{"value":[1]}"#,
            r#"{"value":[{}]}"#,
            r#"{"value":[{"resourceUrl":1}]}"#,
            r#"{"value":[],"value":[]}"#,
            r#"{"value":[{"resourceUrl":"/a","resourceUrl":"/b"}]}"#,
            r#"{"valu\u0065":[]}"#,
            r#"{"value":[]} x"#,
            r#"{"value":[],}"#,
            r#"{"value":[{"resourceUrl":"/a"},]}"#,
            r#"{"value":[{"resourceUrl":"/a","n":01}]}"#,
            r#"{"value":[{"resourceUrl":"/a","n":1.}]}"#,
            r#"{"value":[{"resourceUrl":"/a","n":1e5}]}"#,
            r#"{"value":[{"resourceUrl":"/a","n":-}]}"#,
            r#"{"value":[{"resourceUrl":"/a","n":1234567890123456}]}"#,
            r#"{"value":[{"resourceUrl":"/a","n":tru}]}"#,
            r#"{"value":[{"resourceUrl":"\ud800"}]}"#,
            r#"{"value":[{"resourceUrl":"\ud83d x"}]}"#,
            r#"{"value":[{"resourceUrl":"\ud83d\u0041"}]}"#,
            r#"{"value":[{"resourceUrl":"\ude00\ud83d"}]}"#,
            r#"{"value":[{"resourceUrl":"\x"}]}"#,
            r#"{"value":[{"resourceUrl":"\u12"}]}"#,
            "{\"value\":[{\"resourceUrl\":\"a\u{1}\"}]}",
            r#"{"value":[{"resourceUrl":"/a"#,
            r#"[{"value":[]}]"#,
        ] {
            assert!(!is_graph_envelope(body), "{body}");
        }
        let deep = format!(
            r#"{{"value":[{{"resourceUrl":"/a","d":{}{}}}]}}"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        assert!(!is_graph_envelope(&deep));
        let fine = format!(
            r#"{{"value":[{{"resourceUrl":"/a","d":{}{}}}]}}"#,
            "[".repeat(60),
            "]".repeat(60)
        );
        assert!(is_graph_envelope(&fine));
    }
}
