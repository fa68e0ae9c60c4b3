"""A loopback SMTP server for pudo's tests: aiosmtpd receives, Python's email package parses.

    smtp_sink.py PORT DIR

Listens on 127.0.0.1:PORT and writes each message received to DIR as JSON (one file per
message, numbered in order of arrival, written whole then renamed): the envelope, the decoded
subject and headers, the MIME structure, the plain-text and HTML bodies, and the inline images
(content type, Content-ID, size, whether it is a PNG). Prints "ready" once listening; runs
until killed.
"""

import json
import os
import sys
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def structure(part):
    if part.is_multipart():
        inner = ", ".join(structure(p) for p in part.iter_parts())
        return f"{part.get_content_type()}({inner})"
    return part.get_content_type()


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "structure": structure(message),
            "text": None,
            "html": None,
            "images": [],
        }
        for part in message.walk():
            kind = part.get_content_type()
            if kind == "text/plain" and record["text"] is None:
                record["text"] = part.get_content()
            elif kind == "text/html" and record["html"] is None:
                record["html"] = part.get_content()
            elif kind.startswith("image/"):
                data = part.get_content()
                record["images"].append(
                    {
                        "content_type": kind,
                        "content_id": str(part["Content-ID"]),
                        "disposition": part.get_content_disposition(),
                        "size": len(data),
                        "png": data[:8] == b"\x89PNG\r\n\x1a\n",
                    }
                )
        with self.lock:
            self.count += 1
            name = os.path.join(self.directory, f"{self.count:05d}.json")
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
