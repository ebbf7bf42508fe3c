//! Bearer tokens with roles. A tokens file has one `ROLE TOKEN` per line
//! (`customer` or `operator`; `#` starts a comment). Customers may order;
//! operators may also restock and send observations. With no tokens file
//! the service runs with auth off (every caller is an operator) and says so
//! loudly at start: fine for a demo on loopback, never for a deployment.

use std::collections::HashMap;
use std::path::Path;

/// Longest token, bytes.
pub const TOKEN_BYTES_MAX: usize = 256;
/// Shortest token, bytes (guessable tokens are refused).
pub const TOKEN_BYTES_MIN: usize = 16;

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Orders: place, read, cancel; read stock.
    Customer,
    /// Everything a customer may, plus restock and observations.
    Operator,
}

impl Role {
    fn parse(text: &str) -> Option<Role> {
        match text {
            "customer" => Some(Role::Customer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }

    /// The role's name in tokens files and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Operator => "operator",
        }
    }
}

/// Why a caller was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one not known (401).
    Unauthenticated(String),
    /// A known token whose role may not do this (403).
    Forbidden(String),
}

/// The known tokens, or none (auth off).
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    roles: Option<HashMap<String, Role>>,
}

impl Tokens {
    /// Auth off: every caller is an operator.
    pub fn disabled() -> Tokens {
        Tokens { roles: None }
    }

    /// Whether tokens are checked.
    pub fn enabled(&self) -> bool {
        self.roles.is_some()
    }

    /// Parses a tokens file's text.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut roles = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(role), Some(token), None) = (words.next(), words.next(), words.next()) else {
                return Err(format!("line {}: write `ROLE TOKEN` (role customer or operator)", number + 1));
            };
            let role = Role::parse(role)
                .ok_or_else(|| format!("line {}: role `{role}` is neither customer nor operator", number + 1))?;
            if !(TOKEN_BYTES_MIN..=TOKEN_BYTES_MAX).contains(&token.len()) {
                return Err(format!(
                    "line {}: a token has {TOKEN_BYTES_MIN} to {TOKEN_BYTES_MAX} characters",
                    number + 1
                ));
            }
            if roles.insert(token.to_string(), role).is_some() {
                return Err(format!("line {}: this token is listed twice", number + 1));
            }
        }
        if roles.is_empty() {
            return Err("the tokens file lists no token".into());
        }
        Ok(Tokens { roles: Some(roles) })
    }

    /// Reads a tokens file.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks an `Authorization` header value for `needed`.
    pub fn check(&self, authorization: Option<&str>, needed: Role) -> Result<(), Denied> {
        let Some(roles) = &self.roles else {
            return Ok(());
        };
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Denied::Unauthenticated("send `Authorization: Bearer TOKEN`".into()))?;
        let role =
            roles.get(token.trim()).ok_or_else(|| Denied::Unauthenticated("the bearer token is not known".into()))?;
        if *role < needed {
            return Err(Denied::Forbidden(format!(
                "this needs the {} role; the token has the {} role",
                needed.as_str(),
                role.as_str()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_files_are_parsed_and_roles_checked() {
        let tokens =
            Tokens::parse("# roles\ncustomer cccccccccccccccccccc\noperator oooooooooooooooooooo  # ops\n\n").unwrap();
        let customer = Some("Bearer cccccccccccccccccccc");
        let operator = Some("Bearer oooooooooooooooooooo");
        assert_eq!(tokens.check(customer, Role::Customer), Ok(()));
        assert!(matches!(tokens.check(customer, Role::Operator), Err(Denied::Forbidden(_))));
        assert_eq!(tokens.check(operator, Role::Operator), Ok(()));
        assert_eq!(tokens.check(operator, Role::Customer), Ok(()));
        assert!(matches!(tokens.check(None, Role::Customer), Err(Denied::Unauthenticated(_))));
        assert!(matches!(tokens.check(Some("Bearer nope"), Role::Customer), Err(Denied::Unauthenticated(_))));
        assert!(Tokens::parse("admin aaaaaaaaaaaaaaaaaaaa").unwrap_err().contains("neither"));
        assert!(Tokens::parse("customer short").unwrap_err().contains("16"));
        assert!(Tokens::parse("# nothing").is_err());
        assert_eq!(Tokens::disabled().check(None, Role::Operator), Ok(()));
    }
}
