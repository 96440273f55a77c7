//! Word wrapping for finding texts.

/// Splits `text` into lines of at most `width` characters at spaces
/// (longer words stay whole). Existing line breaks are kept.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn wraps_at_spaces() {
        assert_eq!(super::wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(
            super::wrap("averylongword x", 4),
            vec!["averylongword", "x"]
        );
    }
}
