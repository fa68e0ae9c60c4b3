//! The SMTP connection customer mails leave by (lettre's blocking transport, rustls): built from
//! `PUDO_SMTP_URL` and the `PUDO_SMTP_FROM` sender. Nothing here ever logs or returns an
//! address or a credential: errors say what failed in words of their own.

use super::mail_text::{Mail, QR_CONTENT_ID};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Message, SmtpTransport, Transport};
use std::time::Duration;

/// How long one SMTP conversation may take before it counts as failed (and is retried).
const TIMEOUT: Duration = Duration::from_secs(10);

/// A sender of customer mails.
#[derive(Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    /// The server without credentials, for logs.
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .finish()
    }
}

impl Mailer {
    /// A mailer for `url` (`smtp://host:port` in plain text, `smtp://…?tls=required` with
    /// STARTTLS, `smtps://user:pass@host` with TLS from the start) sending from `from`
    /// (`Name <address>` or a bare address). The error names the setting, never its value.
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let transport = SmtpTransport::from_url(url)
            .map_err(|_| {
                "PUDO_SMTP_URL is not an smtp:// or smtps:// URL lettre can use \
                 (smtp://host:port, smtps://user:password@host, ?tls=required for STARTTLS)"
                    .to_owned()
            })?
            .timeout(Some(TIMEOUT))
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|_| "PUDO_SMTP_FROM is not a mailbox (address or Name <address>)")?;
        Ok(Self {
            transport,
            from,
            server: redact(url),
        })
    }

    /// The server as logs may show it: scheme, host and port, no user or password.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends `mail` to `to` with `message_id` (the same for every attempt at one mail, so a
    /// client can drop a duplicate of an at-least-once delivery). The error is a reason that
    /// names no address.
    pub fn send(&self, to: &str, mail: &Mail, message_id: &str) -> Result<(), String> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| "the stored address no longer parses".to_owned())?;
        let mut related = MultiPart::related().singlepart(SinglePart::html(mail.html.clone()));
        if let Some(png) = &mail.qr_png {
            let png_type = ContentType::parse("image/png").map_err(|e| e.to_string())?;
            related = related.singlepart(
                Attachment::new_inline(QR_CONTENT_ID.to_owned()).body(png.clone(), png_type),
            );
        }
        let body = MultiPart::alternative()
            .singlepart(SinglePart::plain(mail.text.clone()))
            .multipart(related);
        let domain = self.from.email.domain().to_owned();
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{message_id}@{domain}>")))
            .multipart(body)
            .map_err(|_| "the message could not be built".to_owned())?;
        self.transport.send(&message).map(|_| ()).map_err(|e| {
            if let Some(code) = e.status() {
                format!("the SMTP server answered {code}")
            } else if e.is_timeout() {
                "the SMTP server did not answer in time".to_owned()
            } else if e.is_tls() {
                "TLS with the SMTP server failed".to_owned()
            } else {
                "the SMTP server could not be reached".to_owned()
            }
        })
    }
}

/// `scheme://host[:port]` of a URL, without user info, path or query.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("smtp", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            redact("smtps://user:s3cret@mail.example.com:465?tls=required"),
            "smtps://mail.example.com:465"
        );
        assert_eq!(redact("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
        let e = Mailer::new("http://user:s3cret@x", "a@b.c").expect_err("not smtp");
        assert!(!e.contains("s3cret") && e.contains("PUDO_SMTP_URL"));
        let e = Mailer::new("smtp://127.0.0.1:2525", "not a mailbox").expect_err("from");
        assert!(e.contains("PUDO_SMTP_FROM"));
        let ok = Mailer::new(
            "smtps://user:s3cret@mail.example.com",
            "pudo <pudo@example.com>",
        )
        .expect("valid");
        assert!(!format!("{ok:?}").contains("s3cret"));
    }
}
