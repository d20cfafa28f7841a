#!/usr/bin/env python3
"""A collector stand-in for measuring the cost of tracing (docs/PERFORMANCE.md, "Tracing cost").

Accepts OTLP/HTTP exports (`POST /v1/traces`), reads and discards them, answers 200; `GET /`
answers "<requests> <bytes>" received so far. Usage: bench/otlp_sink.py PORT, then run bench/run
with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT in its environment.
"""
import http.server
import sys
import threading

count = {"requests": 0, "bytes": 0}
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        with lock:
            count["requests"] += 1
            count["bytes"] += length
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self):
        body = f'{count["requests"]} {count["bytes"]}\n'.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
