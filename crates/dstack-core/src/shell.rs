//! Shell command lines built for instances and containers (the shim launcher, a container's
//! start script): one quoting rule for all of them.

/// `text` as one word of a POSIX shell command line (Python's `shlex.quote`).
pub fn quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r#"'"'"'"#))
}

/// `words` as one command line, each quoted (Python's `shlex.join`).
pub fn join<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(|word| quote(word.as_ref())).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_the_shell_would_split_or_expand_them() {
        assert_eq!(quote("/usr/local/bin/dstack-runner"), "/usr/local/bin/dstack-runner");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's $HOME"), r#"'it'"'"'s $HOME'"#);
        assert_eq!(join(&["echo", "a b", "c"]), "echo 'a b' c");
    }
}
