#!/usr/bin/env python3
"""An SMTP server (aiosmtpd, nobody here wrote it) that prints every mail it receives.

    python3 tests/peers/smtp_sink.py --port P [--timeout S]

Listens on 127.0.0.1:P only. Prints one JSON line when ready ({"ready": P}), then one per
mail: {"from", "to", "subject", "body"}. Exits after --timeout seconds (default 60) or
when stdin closes.
"""
import argparse
import email
import email.policy
import json
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Printer:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": list(envelope.rcpt_tos),
                    "subject": str(message["subject"]),
                    "body": body.get_content() if body is not None else "",
                }
            ),
            flush=True,
        )
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    controller = Controller(Printer(), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(json.dumps({"ready": args.port}), flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(args.timeout)
    controller.stop()


if __name__ == "__main__":
    main()
