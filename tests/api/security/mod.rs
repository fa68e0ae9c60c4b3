//! The security review's tests: the route × role table of docs/security.md, tokens, body
//! limits, the token endpoint's rate limit, and secrets kept out of the logs.

mod authz;
mod limits;
mod logs;
mod rate_limit;
mod tokens;
