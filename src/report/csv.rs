//! The little CSV the reports need: quoting a field on the way out (RFC 4180) and
//! splitting a line on the way back in. Names in these files come from the scenario
//! and the cluster, so a comma or a quote in one must not shift the columns.

/// `field` as a CSV field: quoted when it holds a comma, a quote or a line break.
pub fn field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Splits one line into fields, undoing [`field`]'s quoting.
pub fn split(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if current.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_round_trip() {
        for name in ["n1", "a,b", "say \"hi\"", "", "x\"y,z"] {
            let line = format!("{},{}", field(name), field("2"));
            assert_eq!(split(&line), [name, "2"], "{line}");
        }
        assert_eq!(field("a,b"), "\"a,b\"");
    }
}
