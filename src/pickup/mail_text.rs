//! The words of customer e-mails in English, Chinese and Spanish, and the mails made of them:
//! a subject, a plain-text body and an HTML body saying the same (the two parts of a
//! `multipart/alternative` message), and the QR code as a PNG the HTML shows inline.

use super::contacts::{Due, Language};

/// The `Content-ID` of the inline QR code image, as the HTML names it (`cid:`).
pub const QR_CONTENT_ID: &str = "pickup-code-qr";

/// What a mail says about the point the parcel waits at or goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointText {
    /// Its name, in the customer's language where the partner gave one.
    pub name: String,
    /// Its address on one line; `None` when the partner gave none.
    pub address: Option<String>,
    /// Its weekly opening hours; `None` when open around the clock.
    pub hours: Option<String>,
    /// Its phone, if any.
    pub phone: Option<String>,
}

/// Everything a mail says.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The language.
    pub language: Language,
    /// The merchant's order reference (the customer knows it from the order).
    pub order_ref: &'a str,
    /// The point.
    pub point: PointText,
    /// The pickup code in clear (arrival and reminder only).
    pub code: Option<&'a str>,
    /// The end of the holding period in the point's local time, with its zone.
    pub hold_end: Option<String>,
    /// Whether the parcel waits at the point already (a redirect on the day) rather than
    /// being on its way (a move before arrival).
    pub waiting: bool,
}

/// A mail ready to send.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// The QR code of the pickup code, PNG, shown inline by the HTML body.
    pub qr_png: Option<Vec<u8>>,
}

struct Words {
    subject_arrival: &'static str,
    subject_reminder: &'static str,
    subject_moved: &'static str,
    arrival: &'static str,
    reminder: &'static str,
    moved: &'static str,
    redirected: &'static str,
    order: &'static str,
    code: &'static str,
    code_hint: &'static str,
    address: &'static str,
    hours: &'static str,
    always_open: &'static str,
    phone: &'static str,
    hold_end: &'static str,
    footer: &'static str,
}

const EN: Words = Words {
    subject_arrival: "Your parcel {order} is ready for pickup",
    subject_reminder: "Reminder: pick up your parcel {order} by {end}",
    subject_moved: "Your parcel {order} goes to a new pickup point",
    arrival: "Your parcel has arrived at {point} and is waiting for you.",
    reminder: "Your parcel is still waiting at {point}. Its holding period ends soon; after that it is sent back.",
    moved: "Your parcel now goes to another pickup point: {point}. We will e-mail you when it arrives.",
    redirected: "Your parcel was moved to another pickup point, where it is waiting for you: {point}. Your pickup code stays the same.",
    order: "Order",
    code: "Pickup code",
    code_hint: "Show this code or the QR code at the counter.",
    address: "Address",
    hours: "Opening hours",
    always_open: "Open around the clock",
    phone: "Phone",
    hold_end: "Pick up by",
    footer: "This message was sent by pudo for the shop you ordered from. Please do not reply.",
};

const ZH: Words = Words {
    subject_arrival: "您的包裹 {order} 已到达，可以取件",
    subject_reminder: "提醒：请在 {end} 前取走您的包裹 {order}",
    subject_moved: "您的包裹 {order} 已改送至新的取件点",
    arrival: "您的包裹已到达 {point}，正在等您取件。",
    reminder: "您的包裹仍在 {point} 等您取件。保管期即将结束，逾期将被退回。",
    moved: "您的包裹已改送至另一个取件点：{point}。包裹到达时我们会再发邮件通知您。",
    redirected: "您的包裹已转至另一个取件点，正在那里等您取件：{point}。取件码不变。",
    order: "订单",
    code: "取件码",
    code_hint: "请在柜台出示此取件码或二维码。",
    address: "地址",
    hours: "营业时间",
    always_open: "24小时营业",
    phone: "电话",
    hold_end: "取件截止",
    footer: "此邮件由 pudo 代您下单的商家发送，请勿回复。",
};

const ES: Words = Words {
    subject_arrival: "Tu paquete {order} está listo para recoger",
    subject_reminder: "Recordatorio: recoge tu paquete {order} antes del {end}",
    subject_moved: "Tu paquete {order} va a un nuevo punto de recogida",
    arrival: "Tu paquete ha llegado a {point} y te está esperando.",
    reminder: "Tu paquete sigue esperando en {point}. El plazo de recogida termina pronto; después se devolverá.",
    moved: "Tu paquete va ahora a otro punto de recogida: {point}. Te avisaremos por correo cuando llegue.",
    redirected: "Tu paquete se ha trasladado a otro punto de recogida, donde te espera: {point}. Tu código de recogida no cambia.",
    order: "Pedido",
    code: "Código de recogida",
    code_hint: "Muestra este código o el código QR en el mostrador.",
    address: "Dirección",
    hours: "Horario",
    always_open: "Abierto las 24 horas",
    phone: "Teléfono",
    hold_end: "Recoger antes del",
    footer: "Este mensaje lo envía pudo en nombre de la tienda donde hiciste el pedido. Por favor, no respondas.",
};

fn words(language: Language) -> &'static Words {
    match language {
        Language::En => &EN,
        Language::Zh => &ZH,
        Language::Es => &ES,
    }
}

/// The mail `due` for these facts.
pub fn compose(due: Due, facts: &Facts<'_>) -> Mail {
    let w = words(facts.language);
    let end = facts.hold_end.as_deref().unwrap_or("");
    let fill = |t: &str| {
        t.replace("{order}", facts.order_ref)
            .replace("{end}", end)
            .replace("{point}", &facts.point.name)
    };
    let (subject, intro) = match due {
        Due::Arrival => (w.subject_arrival, w.arrival),
        Due::Reminder => (w.subject_reminder, w.reminder),
        Due::Moved if facts.waiting => (w.subject_moved, w.redirected),
        Due::Moved => (w.subject_moved, w.moved),
    };
    let code = match due {
        Due::Arrival | Due::Reminder => facts.code,
        Due::Moved => None,
    };
    let mut lines: Vec<(&str, String)> = vec![(w.order, facts.order_ref.to_owned())];
    if let Some(code) = code {
        lines.push((w.code, code.to_owned()));
    }
    if let Some(end) = facts.hold_end.as_deref().filter(|_| due != Due::Moved) {
        lines.push((w.hold_end, end.to_owned()));
    }
    lines.push((w.address, point_line(&facts.point)));
    lines.push((
        w.hours,
        facts
            .point
            .hours
            .clone()
            .unwrap_or_else(|| w.always_open.to_owned()),
    ));
    if let Some(phone) = &facts.point.phone {
        lines.push((w.phone, phone.clone()));
    }
    let intro = fill(intro);
    let mut text = format!("{intro}\n\n");
    for (label, value) in &lines {
        text.push_str(&format!("{label}: {value}\n"));
    }
    if code.is_some() {
        text.push_str(&format!("\n{}\n", w.code_hint));
    }
    text.push_str(&format!("\n-- \n{}\n", w.footer));
    let qr_png = code.and_then(super::codes::qr_png);
    Mail {
        subject: fill(subject),
        html: html(
            &intro,
            &lines,
            code.map(|_| w.code_hint),
            qr_png.is_some(),
            w,
        ),
        text,
        qr_png,
    }
}

fn point_line(point: &PointText) -> String {
    match &point.address {
        Some(address) => format!("{}, {address}", point.name),
        None => point.name.clone(),
    }
}

fn html(intro: &str, lines: &[(&str, String)], hint: Option<&str>, qr: bool, w: &Words) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\
         <body style=\"font-family:sans-serif;line-height:1.4\">\n",
    );
    out.push_str(&format!("<p>{}</p>\n<table>\n", escape(intro)));
    for (label, value) in lines {
        out.push_str(&format!(
            "<tr><th style=\"text-align:left;padding-right:1em\">{}</th><td>{}</td></tr>\n",
            escape(label),
            escape(value)
        ));
    }
    out.push_str("</table>\n");
    if qr {
        out.push_str(&format!(
            "<p><img src=\"cid:{QR_CONTENT_ID}\" alt=\"QR\" width=\"232\" height=\"232\"></p>\n"
        ));
    }
    if let Some(hint) = hint {
        out.push_str(&format!("<p>{}</p>\n", escape(hint)));
    }
    out.push_str(&format!(
        "<p style=\"color:#666;font-size:small\">{}</p>\n</body></html>\n",
        escape(w.footer)
    ));
    out
}

/// Text as HTML: the five characters that could start markup or end an attribute escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(language: Language) -> Facts<'static> {
        Facts {
            language,
            order_ref: "A-1",
            point: PointText {
                name: "Kiosko <Sol> & Co".into(),
                address: Some("Calle Mayor 1, 28013 Madrid, ES".into()),
                hours: Some("Mo-Fr 09:00-14:00".into()),
                phone: None,
            },
            code: Some("12345678"),
            hold_end: Some("2026-12-14 18:00 (Europe/Madrid)".into()),
            waiting: false,
        }
    }

    #[test]
    fn each_language_has_its_own_words_and_the_same_facts() {
        let subjects: Vec<String> = [Language::En, Language::Zh, Language::Es]
            .into_iter()
            .map(|l| compose(Due::Arrival, &facts(l)).subject)
            .collect();
        assert_eq!(subjects[0], "Your parcel A-1 is ready for pickup");
        assert_eq!(subjects[1], "您的包裹 A-1 已到达，可以取件");
        assert_eq!(subjects[2], "Tu paquete A-1 está listo para recoger");
        for l in [Language::En, Language::Zh, Language::Es] {
            let mail = compose(Due::Arrival, &facts(l));
            for part in [&mail.text, &mail.html] {
                assert!(part.contains("12345678"), "{part}");
                assert!(part.contains("Mo-Fr 09:00-14:00"));
                assert!(part.contains("2026-12-14 18:00 (Europe/Madrid)"));
            }
            assert!(mail.text.contains("Kiosko <Sol> & Co, Calle Mayor 1"));
            assert!(mail.html.contains("Kiosko &lt;Sol&gt; &amp; Co"));
            assert!(!mail.html.contains("<Sol>"));
            assert!(mail.qr_png.is_some());
            assert!(mail.html.contains("cid:pickup-code-qr"));
        }
    }

    #[test]
    fn a_move_names_the_new_point_without_the_code() {
        let mail = compose(Due::Moved, &facts(Language::Es));
        assert!(mail.text.contains("Kiosko <Sol> & Co"));
        assert!(!mail.text.contains("12345678"));
        assert!(mail.qr_png.is_none());
        let waiting = Facts {
            waiting: true,
            ..facts(Language::En)
        };
        assert!(compose(Due::Moved, &waiting)
            .text
            .contains("Your pickup code stays the same"));
    }
}
