#!/usr/bin/env python3
"""An HTTP server that records every POST it receives (Python's http.server).

    python3 tests/peers/webhook_receiver.py [--fail-first N] [--timeout S]

Listens on 127.0.0.1 on a free port. Prints {"ready": port} when ready, then one line per
request: {"path", "status", "body"} where body is the parsed JSON (or the raw text). The
first N requests are answered 500, the rest 200. Exits after --timeout seconds (default
60) or when stdin closes.
"""
import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"seen": 0, "fail_first": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        with lock:
            state["seen"] += 1
            status = 500 if state["seen"] <= state["fail_first"] else 200
            print(json.dumps({"path": self.path, "status": status, "body": body}), flush=True)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    state["fail_first"] = args.fail_first
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"ready": server.server_address[1]}), flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait(args.timeout)
    server.shutdown()


if __name__ == "__main__":
    main()
