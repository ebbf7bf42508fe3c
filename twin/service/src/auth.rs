//! Bearer tokens with roles and principals. A tokens file has one
//! `ROLE TOKEN [PRINCIPAL]` per line (`customer` or `operator`; `#` starts a
//! comment). The principal names who the token speaks for: orders belong to
//! it, and several tokens may share one (rotation). Without a name the
//! principal is `ROLE-` and 16 hex digits of a hash of the token (stable
//! while the token is). Customers may order, and read and cancel their own
//! orders; operators may also read and cancel everyone's, restock and send
//! observations. With no tokens file the service runs with auth off (every
//! caller is the operator `anonymous`) and says so loudly at start: fine
//! for a demo on loopback, never for a deployment.

use crowdtwin_orders::{Viewer, valid_principal};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

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

/// Who is calling: the token's principal and role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The principal the orders belong to.
    pub principal: Arc<str>,
    /// What it may do.
    pub role: Role,
}

impl Caller {
    /// Which orders this caller may read and cancel: its own (customers) or all (operators).
    pub fn viewer(&self) -> Viewer<'_> {
        match self.role {
            Role::Customer => Viewer::Owner(&self.principal),
            Role::Operator => Viewer::Everyone,
        }
    }
}

/// The principal of every caller when auth is off.
pub const ANONYMOUS: &str = "anonymous";

/// Why a caller was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one not known (401).
    Unauthenticated(String),
    /// A known token whose role may not do this (403).
    Forbidden(String),
}

/// The known tokens, or none (auth off).
#[derive(Clone, Debug)]
pub struct Tokens {
    roles: Option<HashMap<String, Caller>>,
    /// The caller of every request with auth off.
    anonymous: Caller,
}

impl Default for Tokens {
    fn default() -> Tokens {
        Tokens::disabled()
    }
}

fn anonymous() -> Caller {
    Caller { principal: Arc::from(ANONYMOUS), role: Role::Operator }
}

/// The principal of an unnamed token: its role and a 64-bit FNV-1a hash of it.
fn default_principal(role: Role, token: &str) -> String {
    let hash = crowdtwin_wire::fnv1a64(token.as_bytes());
    format!("{}-{hash:016x}", role.as_str())
}

impl Tokens {
    /// Auth off: every caller is an operator.
    pub fn disabled() -> Tokens {
        Tokens { roles: None, anonymous: anonymous() }
    }

    /// Whether tokens are checked.
    pub fn enabled(&self) -> bool {
        self.roles.is_some()
    }

    /// Parses a tokens file's text.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut roles = HashMap::new();
        let mut principals: HashMap<String, Role> = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(role), Some(token), principal, None) = (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(format!("line {}: write `ROLE TOKEN [PRINCIPAL]` (role customer or operator)", number + 1));
            };
            let role = Role::parse(role)
                .ok_or_else(|| format!("line {}: role `{role}` is neither customer nor operator", number + 1))?;
            if !(TOKEN_BYTES_MIN..=TOKEN_BYTES_MAX).contains(&token.len()) {
                return Err(format!(
                    "line {}: a token has {TOKEN_BYTES_MIN} to {TOKEN_BYTES_MAX} characters",
                    number + 1
                ));
            }
            let principal = match principal {
                Some(name) if valid_principal(name) => name.to_string(),
                Some(name) => {
                    return Err(format!(
                        "line {}: principal `{name}` must be 1 to {} letters, digits, `.`, `_`, `-` or `@`",
                        number + 1,
                        crowdtwin_orders::PRINCIPAL_BYTES_MAX
                    ));
                }
                None => default_principal(role, token),
            };
            if principal == ANONYMOUS {
                return Err(format!("line {}: `{ANONYMOUS}` is the principal of auth off; name another", number + 1));
            }
            if let Some(other) = principals.insert(principal.clone(), role)
                && other != role
            {
                return Err(format!(
                    "line {}: principal `{principal}` is listed as {} and as {}; one principal has one role",
                    number + 1,
                    other.as_str(),
                    role.as_str()
                ));
            }
            let caller = Caller { principal: principal.into(), role };
            if roles.insert(token.to_string(), caller).is_some() {
                return Err(format!("line {}: this token is listed twice", number + 1));
            }
        }
        if roles.is_empty() {
            return Err("the tokens file lists no token".into());
        }
        Ok(Tokens { roles: Some(roles), anonymous: anonymous() })
    }

    /// Reads a tokens file.
    pub fn load(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks an `Authorization` header value for `needed`; answers who calls.
    pub fn check(&self, authorization: Option<&str>, needed: Role) -> Result<Caller, Denied> {
        let Some(roles) = &self.roles else {
            return Ok(self.anonymous.clone());
        };
        let token = authorization
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Denied::Unauthenticated("send `Authorization: Bearer TOKEN`".into()))?;
        let caller =
            roles.get(token.trim()).ok_or_else(|| Denied::Unauthenticated("the bearer token is not known".into()))?;
        if caller.role < needed {
            return Err(Denied::Forbidden(format!(
                "this needs the {} role; the token has the {} role",
                needed.as_str(),
                caller.role.as_str()
            )));
        }
        Ok(caller.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_files_are_parsed_and_roles_checked() {
        let tokens = Tokens::parse(
            "# roles\ncustomer cccccccccccccccccccc\noperator oooooooooooooooooooo  # ops\n\ncustomer aaaaaaaaaaaaaaaaaaaa alice\ncustomer bbbbbbbbbbbbbbbbbbbb alice\n",
        )
        .unwrap();
        let customer = Some("Bearer cccccccccccccccccccc");
        let operator = Some("Bearer oooooooooooooooooooo");
        let principal = |auth| tokens.check(auth, Role::Customer).unwrap().principal.to_string();
        assert_eq!(tokens.check(customer, Role::Customer).unwrap().role, Role::Customer);
        assert!(matches!(tokens.check(customer, Role::Operator), Err(Denied::Forbidden(_))));
        assert_eq!(tokens.check(operator, Role::Operator).unwrap().role, Role::Operator);
        assert_eq!(tokens.check(operator, Role::Customer).unwrap().role, Role::Operator);
        // Unnamed tokens get distinct stable principals; named ones share theirs.
        assert!(principal(customer).starts_with("customer-"), "{}", principal(customer));
        assert_ne!(principal(customer), principal(Some("Bearer aaaaaaaaaaaaaaaaaaaa")));
        assert_eq!(principal(Some("Bearer aaaaaaaaaaaaaaaaaaaa")), "alice");
        assert_eq!(principal(Some("Bearer bbbbbbbbbbbbbbbbbbbb")), "alice");
        assert!(Tokens::parse("customer cccccccccccccccccccc a/b").unwrap_err().contains("principal"));
        assert!(
            Tokens::parse("customer cccccccccccccccccccc x\noperator oooooooooooooooooooo x")
                .unwrap_err()
                .contains("one role")
        );
        assert!(matches!(tokens.check(None, Role::Customer), Err(Denied::Unauthenticated(_))));
        assert!(matches!(tokens.check(Some("Bearer nope"), Role::Customer), Err(Denied::Unauthenticated(_))));
        assert!(Tokens::parse("admin aaaaaaaaaaaaaaaaaaaa").unwrap_err().contains("neither"));
        assert!(Tokens::parse("customer short").unwrap_err().contains("16"));
        assert!(Tokens::parse("# nothing").is_err());
        let anonymous = Tokens::disabled().check(None, Role::Operator).unwrap();
        assert_eq!((&*anonymous.principal, anonymous.role), (ANONYMOUS, Role::Operator));
    }
}
