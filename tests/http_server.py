#!/usr/bin/env python3
"""A small HTTP server for the download tests, bound to 127.0.0.1.

Serves files of DIR under several behaviours chosen by the first path part:
  /files/NAME     normal, with Range support (206)
  /cut/NAME       without a Range header: announces the full length, sends
                  half and closes the connection; with Range: normal
  /norange/NAME   ignores Range (always 200 with the whole file)
  /stall/NAME     sends the headers and 1 kB, then nothing for 60 s
  /drip/NAME      sends the headers, then one byte every half second (a
                  stall that a "no data at all" check never sees)
  /endless/ANY    200 without a length, then zeros until the client hangs up
  /huge/ANY       announces a 10 GB body, sends a little, then hangs up
  /redirect/NAME  302 to /files/NAME
Writes its port to PORTFILE once listening and logs "METHOD PATH RANGE"
lines to LOGFILE.  Usage: http_server.py DIR PORTFILE LOGFILE
"""
import http.server
import os
import socketserver
import sys
import time

ROOT, PORTFILE, LOGFILE = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "-")
        with open(LOGFILE, "a") as log:
            log.write(f"GET {self.path} {rng}\n")
        parts = self.path.strip("/").split("/", 1)
        if len(parts) != 2 or ".." in parts[1]:
            self.send_error(404)
            return
        mode, name = parts
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/files/" + name)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "endless":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = bytes(1 << 16)
            try:
                while True:
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "huge":
            self.send_response(200)
            self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            try:
                self.wfile.write(bytes(1 << 16))
            except OSError:
                pass
            self.close_connection = True
            return
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        start = 0
        if rng != "-" and mode not in ("norange",) and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if mode == "cut" and rng == "-":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "drip":
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        if mode == "stall":
            self.wfile.write(body[:1024])
            self.wfile.flush()
            time.sleep(60)
            return
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients hanging up (the stall and cut tests) are expected


srv = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
