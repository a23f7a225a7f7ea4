#!/usr/bin/env python3
"""tests/monitoring/webhook.py: the webhook receiver of the monitoring end-to-end test.

    webhook.py PORT FILE

Listens on 127.0.0.1:PORT and appends each POSTed body (an Alertmanager notification, JSON) to
FILE as one line: {"received": UNIX_TIME, "path": PATH, "body": NOTIFICATION}. Answers 200 to
every POST. Its own log (one line per request) goes to stderr. Stops on SIGTERM.
"""
import http.server
import json
import signal
import sys
import time


def main():
    port, path = int(sys.argv[1]), sys.argv[2]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            line = json.dumps({"received": time.time(), "path": self.path, "body": body})
            with open(path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"webhook: listening on 127.0.0.1:{port}, appending to {path}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
