//! keepalived.conf's syntax: statements of words on a line, some opening a `{ }` block;
//! comments start with `#` or `!`; a word may be a quoted string.

use crate::formats::{Note, Unreadable};

/// One statement: its words, where it starts, and its block if it opens one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub line: usize,
    pub words: Vec<String>,
    pub block: Option<Vec<Statement>>,
}

impl Statement {
    /// The statement's keyword (its first word), or `""` for an anonymous block.
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    /// The words after the keyword.
    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }

    /// The statements of its block (none when it opens none).
    pub fn body(&self) -> &[Statement] {
        self.block.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Open,
    Close,
    EndOfLine,
}

/// The file's statements, or every line that breaks its syntax.
pub fn parse(text: &str) -> Result<Vec<Statement>, Unreadable> {
    let mut tokens = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Err(message) = tokenize(line, n + 1, &mut tokens) {
            errors.push(Note::at(n + 1, message));
        }
    }
    if !errors.is_empty() {
        return Err(Unreadable(errors));
    }
    let mut at = 0;
    let statements = block(&tokens, &mut at, None)?;
    Ok(statements)
}

fn tokenize(line: &str, number: usize, out: &mut Vec<(usize, Token)>) -> Result<(), String> {
    let mut chars = line.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<(usize, Token)>| {
        if !word.is_empty() {
            out.push((number, Token::Word(std::mem::take(word))));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' | '!' if word.is_empty() => break,
            '"' => {
                let mut quoted = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => quoted.push(c),
                        None => return Err("a quoted string is not closed".into()),
                    }
                }
                word.push_str(&quoted);
                if word.is_empty() {
                    out.push((number, Token::Word(String::new())));
                }
            }
            '{' => {
                flush(&mut word, out);
                out.push((number, Token::Open));
            }
            '}' => {
                flush(&mut word, out);
                out.push((number, Token::Close));
            }
            c if c.is_whitespace() => flush(&mut word, out),
            c => word.push(c),
        }
    }
    flush(&mut word, out);
    out.push((number, Token::EndOfLine));
    Ok(())
}

/// The statements up to the `}` closing the block opened at `opened` (the file's end at
/// the top level).
fn block(
    tokens: &[(usize, Token)],
    at: &mut usize,
    opened: Option<usize>,
) -> Result<Vec<Statement>, Unreadable> {
    let mut statements = Vec::new();
    let mut words = Vec::new();
    let mut first_line = 0;
    let finish = |words: &mut Vec<String>, line: usize, statements: &mut Vec<Statement>| {
        if !words.is_empty() {
            statements.push(Statement {
                line,
                words: std::mem::take(words),
                block: None,
            });
        }
    };
    while let Some((line, token)) = tokens.get(*at) {
        *at += 1;
        match token {
            Token::Word(word) => {
                if words.is_empty() {
                    first_line = *line;
                }
                words.push(word.clone());
            }
            Token::EndOfLine => finish(&mut words, first_line, &mut statements),
            Token::Open => {
                let start = if words.is_empty() { *line } else { first_line };
                let body = block(tokens, at, Some(*line))?;
                statements.push(Statement {
                    line: start,
                    words: std::mem::take(&mut words),
                    block: Some(body),
                });
            }
            Token::Close => {
                finish(&mut words, first_line, &mut statements);
                return match opened {
                    Some(_) => Ok(statements),
                    None => Err(Unreadable(vec![Note::at(*line, "} closes no block")])),
                };
            }
        }
    }
    finish(&mut words, first_line, &mut statements);
    match opened {
        None => Ok(statements),
        Some(line) => Err(Unreadable(vec![Note::at(
            line,
            "the block opened here is not closed",
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(statement: &Statement) -> Vec<&str> {
        statement.words.iter().map(String::as_str).collect()
    }

    #[test]
    fn blocks_nest_and_comments_are_dropped() {
        let text = "! Configuration\n\
                    virtual_server 10.0.0.1 80 {   # the web\n\
                    \x20 lb_algo wrr\n\
                    \x20 real_server 10.1.0.1 80 {\n\
                    \x20   MISC_CHECK { misc_path \"/bin/check --port 80\" }\n\
                    \x20 }\n\
                    }\n";
        let statements = parse(text).unwrap();
        assert_eq!(statements.len(), 1);
        let server = &statements[0];
        assert_eq!(
            (server.line, words(server)),
            (2, vec!["virtual_server", "10.0.0.1", "80"])
        );
        let body = server.body();
        assert_eq!(words(&body[0]), vec!["lb_algo", "wrr"]);
        assert_eq!(body[1].line, 4);
        let check = &body[1].body()[0];
        assert_eq!(check.keyword(), "MISC_CHECK");
        assert_eq!(
            words(&check.body()[0]),
            vec!["misc_path", "/bin/check --port 80"]
        );
        assert_eq!(check.body()[0].line, 5);
    }

    #[test]
    fn unbalanced_braces_and_quotes_name_their_line() {
        let open = parse("a {\n b\n").unwrap_err();
        assert_eq!(
            open.to_string(),
            "line 1: the block opened here is not closed"
        );
        let close = parse("a\n}\n").unwrap_err();
        assert_eq!(close.to_string(), "line 2: } closes no block");
        let quote = parse("a\nb \"c\n").unwrap_err();
        assert_eq!(quote.to_string(), "line 2: a quoted string is not closed");
    }
}
