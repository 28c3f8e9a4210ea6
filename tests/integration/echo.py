"""A proxied HTTP backend for the integration tests: answers every request with the request line and the header
lines it received, exactly as they came over the wire, as JSON.

    /usr/bin/python3 echo.py [--port P]        (standalone; prints "ready http://127.0.0.1:P")

The tests start it in a thread (start()) and point a ProxyPass at it. Header lines are parsed by hand, not by
http.server, so that nothing is normalised away: order, case, duplicates, and any CR or stray byte a proxy might
have let through all show up. Bytes are carried into JSON as ISO-8859-1 (one code point per byte), so
value.encode("latin-1") gives back the exact bytes.

Answer: {"method", "target", "version", "headers": [[name, value], ...], "raw": [header line, ...], "body"}.
"""
import argparse
import json
import socketserver
import threading

MAX_LINE = 65536
MAX_HEADERS = 200


class EchoHandler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self):
        # HTTP/1.1 keep-alive: mod_proxy_http reuses its backend connections.
        while self.one_request():
            pass

    def one_request(self):
        line = self.rfile.readline(MAX_LINE)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_LINE)
        if not line:
            return False
        parts = line.rstrip(b"\r\n").split(b" ")
        if len(parts) != 3:
            self.reply(400, {"error": "bad request line", "line": line.decode("latin-1")}, close=True)
            return False
        method, target, version = (p.decode("latin-1") for p in parts)
        raw, headers = [], []
        while True:
            h = self.rfile.readline(MAX_LINE)
            if h in (b"\r\n", b"\n", b""):
                break
            raw.append(h.decode("latin-1"))
            if len(raw) > MAX_HEADERS:
                self.reply(431, {"error": "too many header lines"}, close=True)
                return False
            name, colon, value = h.rstrip(b"\r\n").partition(b":")
            headers.append([name.decode("latin-1"), value.strip(b" \t").decode("latin-1") if colon else None])
        lower = {n.lower(): v for n, v in headers}
        body = b""
        if lower.get("transfer-encoding", "").lower() == "chunked":
            body = self.read_chunked()
        elif lower.get("content-length"):
            body = self.rfile.read(int(lower["content-length"]))
        close = version != "HTTP/1.1" or (lower.get("connection") or "").lower() == "close"
        self.reply(200, {"method": method, "target": target, "version": version, "headers": headers, "raw": raw,
                         "body": body.decode("latin-1")}, close=close, head=(method == "HEAD"))
        return not close

    def read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline(MAX_LINE).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline(MAX_LINE)

    def reply(self, status, obj, close=False, head=False):
        data = json.dumps(obj, indent=1).encode("utf-8")
        head_lines = ["HTTP/1.1 %d %s" % (status, "OK" if status == 200 else "Error"),
                      "Content-Type: application/json; charset=utf-8",
                      "Content-Length: %d" % len(data),
                      "Cache-Control: no-store"]
        if close:
            head_lines.append("Connection: close")
        self.wfile.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("ascii") + (b"" if head else data))
        self.wfile.flush()


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start(host="127.0.0.1", port=0):
    """An echo server serving in a daemon thread; .port is where it listens, .shutdown() stops it."""
    server = EchoServer((host, port), EchoHandler)
    server.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = EchoServer(("127.0.0.1", args.port), EchoHandler)
    print("ready http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
