#!/usr/bin/env python3
"""archway's reliability suite: faults behind the gateway and hostile clients in front of it.

Starts `archway serve` and `archway echo` from the binary given, plus small Python backends that
misbehave on purpose, runs each scenario and prints one table row per scenario: requests sent,
succeeded, failed, how many of the failures were the expected answer (a 504 for a slow backend, a
400 for a smuggling vector), and the unexpected ones. Exit status 1 when any failure was unexpected.

    python3 reliability/suite.py --archway .build/release/archway           # full (about 2 minutes)
    python3 reliability/suite.py --archway .build/debug/archway --quick     # CI (about 30 seconds)
"""
import argparse
import http.client
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ---------------------------------------------------------------------------------------------
# Backends that misbehave on purpose


class RawBackend(threading.Thread):
    """A tiny HTTP/1.1 server whose answer is a function of the connection (runs it per request)."""

    def __init__(self, handler):
        super().__init__(daemon=True)
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, data = data.split(b"\r\n\r\n", 1)
                if not self.handler(conn, head):
                    return
        except OSError:
            pass
        finally:
            conn.close()


def slow_answer(delay):
    def handler(conn, head):
        time.sleep(delay)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow")
        return True
    return handler


def dying_answer(conn, head):
    """Promises 1 MiB, sends 64 KiB, then the process behind it 'dies' (the socket is reset)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n" + b"x" * 65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return False


# ---------------------------------------------------------------------------------------------
# The gateway under test


MANIFESTS = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: archway}}
spec: {{controllerName: archway.dev/gateway-controller}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw}}
spec:
  gatewayClassName: archway
  listeners: [{{name: http, protocol: HTTP, port: 80}}]
{services}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: suite}}
spec:
  parentRefs: [{{name: gw}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /slow}}}}]
    timeouts: {{request: 500ms}}
    backendRefs: [{{name: slow, port: 80}}]
  - matches: [{{path: {{type: PathPrefix, value: /dying}}}}]
    backendRefs: [{{name: dying, port: 80}}]
  - matches: [{{path: {{type: PathPrefix, value: /half-dead}}}}]
    retry: {{attempts: 1}}
    backendRefs: [{{name: half-dead, port: 80}}]
  - filters: [{{type: ResponseHeaderModifier, responseHeaderModifier: {{set: [{{name: X-Generation, value: "{generation}"}}]}}}}]
    backendRefs: [{{name: echo, port: 80}}]
"""


def service(name, ports):
    docs = [f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: 80, targetPort: 8080}}]}}"]
    for i, port in enumerate(ports):
        docs.append(f"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}-{i}, labels: {{kubernetes.io/service-name: {name}}}}}\n"
                    f"addressType: IPv4\nports: [{{port: {port}}}]\nendpoints: [{{addresses: [{HOST}]}}]")
    return "\n".join(docs)


class Gateway:
    def __init__(self, binary, workdir):
        self.binary = binary
        self.dir = os.path.join(workdir, "config")
        os.makedirs(self.dir)
        self.port, self.admin = free_port(), free_port()
        self.echo_port, dead = free_port(), free_port()
        self.slow = RawBackend(slow_answer(5))
        self.dying = RawBackend(dying_answer)
        self.services = "\n".join([
            service("echo", [self.echo_port]), service("slow", [self.slow.port]), service("dying", [self.dying.port]),
            service("half-dead", [dead, self.echo_port]),
        ])
        self.generation = 0
        self.write_routes()
        raise_fd_limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
        self.echo = subprocess.Popen([binary, "echo", f"echo={HOST}:{self.echo_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.log = open(os.path.join(workdir, "archway.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--config", self.dir, "--port-map", f"80={HOST}:{self.port}", "--admin", f"{HOST}:{self.admin}",
             "--header-timeout", "2", "--idle-timeout", "5", "--threads", "2"],
            stdout=self.log, stderr=self.log, preexec_fn=raise_fd_limit)
        if not wait_for(lambda: self.ready(), timeout=20):
            raise SystemExit("archway did not become ready; see " + self.log.name)
        wait_for(lambda: self.get("/")[0] == 200, timeout=10)

    def write_routes(self, text=None):
        self.generation += 1
        body = text if text is not None else MANIFESTS.format(services=self.services, generation=self.generation)
        temporary = os.path.join(self.dir, ".gw.yaml.tmp")
        with open(temporary, "w") as f:
            f.write(body)
        os.replace(temporary, os.path.join(self.dir, "gw.yaml"))

    def ready(self):
        try:
            return urllib.request.urlopen(f"http://{HOST}:{self.admin}/readyz", timeout=1).status == 200
        except OSError:
            return False

    def metric(self, name):
        text = urllib.request.urlopen(f"http://{HOST}:{self.admin}/metrics", timeout=2).read().decode()
        return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))

    def rss_kb(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def get(self, path, timeout=5):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Host": "suite.example.com"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self):
        self.process.terminate()
        self.echo.terminate()
        code = self.process.wait(timeout=40)
        self.echo.wait(timeout=5)
        return code


# ---------------------------------------------------------------------------------------------
# Load


class Load:
    """Keep-alive clients sending GET / until stopped; every answer must be a 200."""

    def __init__(self, gateway, clients=4):
        self.gateway, self.stop_flag = gateway, threading.Event()
        self.sent = self.ok = 0
        self.errors = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def client(self):
        conn = http.client.HTTPConnection(HOST, self.gateway.port, timeout=5)
        while not self.stop_flag.is_set():
            try:
                conn.request("GET", "/load", headers={"Host": "suite.example.com"})
                response = conn.getresponse()
                response.read()
                good = response.status == 200
                error = None if good else f"status {response.status}"
            except (OSError, http.client.HTTPException) as e:
                good, error = False, repr(e)
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.gateway.port, timeout=5)
            with self.lock:
                self.sent += 1
                self.ok += good
                if error:
                    self.errors.append(error)
        conn.close()

    def finish(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()
        return self.sent, self.ok


# ---------------------------------------------------------------------------------------------
# Scenarios: each returns (sent, succeeded, failed, expected_failures, note)


def killed_mid_stream(gw, quick):
    sent = ok = expected = 0
    for _ in range(5 if quick else 20):
        sent += 1
        started = time.time()
        try:
            status, body = gw.get("/dying/file", timeout=5)
            ok += status == 200 and len(body) == 1048576
        except (http.client.IncompleteRead, ConnectionResetError, http.client.RemoteDisconnected):
            expected += time.time() - started < 3  # seen as a cut, quickly, never a hang
        except OSError:
            pass
    status, _ = gw.get("/after-dying")
    return sent, ok, sent - ok, expected, f"client sees the cut; gateway still serves ({status})"


def slow_backend(gw, quick):
    sent = ok = expected = 0
    for _ in range(3 if quick else 10):
        sent += 1
        started = time.time()
        status, body = gw.get("/slow")
        expected += status == 504 and b"timeouts.request (500ms)" in body and time.time() - started < 2
    return sent, ok, sent - ok, expected, "504 at the route's 500ms timeout"


def refused_endpoint(gw, quick):
    sent = ok = 0
    for _ in range(10 if quick else 100):
        sent += 1
        status, _ = gw.get("/half-dead")
        ok += status == 200
    return sent, ok, sent - ok, 0, "one of two endpoints refuses; tries move to the other"


def invalid_config_during_load(gw, quick):
    load = Load(gw)
    time.sleep(0.5)
    failures_before = gw.metric("gateway_config_reload_failures_total")
    gw.write_routes("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: broken\nspec: [")
    wait_for(lambda: gw.metric("gateway_config_reload_failures_total") > failures_before, timeout=5)
    time.sleep(0.5)
    gw.write_routes()
    time.sleep(1.0)
    sent, ok = load.finish()
    rejected = gw.metric("gateway_config_reload_failures_total") > failures_before
    return sent, ok, sent - ok, 0, "invalid file rejected, last good kept" if rejected else "the invalid file was NOT reported"


def reload_storm(gw, quick):
    reloads = 10 if quick else 100
    load = Load(gw)
    start = gw.metric("gateway_config_reloads_total")
    for i in range(reloads):
        gw.write_routes()
        target = start + i + 1
        wait_for(lambda: gw.metric("gateway_config_reloads_total") >= target, timeout=5, step=0.02)
    sent, ok = load.finish()
    applied = int(gw.metric("gateway_config_reloads_total") - start)
    return sent, ok, sent - ok, 0, f"{applied} reloads applied under load"


SMUGGLING = [
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\n",
    b"GET /a/%2e%2e/%2e%2e/etc HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(150)) + b"\r\n",
]


def smuggling(gw, quick):
    expected = 0
    for vector in SMUGGLING:
        with socket.create_connection((HOST, gw.port), timeout=3) as s:
            s.sendall(vector + b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except socket.timeout:
                data += b"<hang>"
        refused = data.split(b" ", 2)[1:2] in ([b"400"], [b"431"])
        expected += refused and b"/smuggled" not in data and b"<hang>" not in data
    return len(SMUGGLING), 0, len(SMUGGLING), expected, "400/431 and close; the pipelined request never served"


def slowloris(gw, quick):
    count = 50 if quick else 500
    sockets = []
    for _ in range(count):
        s = socket.create_connection((HOST, gw.port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        sockets.append(s)
    started = time.time()
    good = [gw.get("/during-slowloris")[0] == 200 for _ in range(20)]
    closed = 0
    for s in sockets:
        try:
            s.settimeout(max(0.1, 3.5 - (time.time() - started)))
            data = s.recv(4096)
            closed += data.startswith(b"HTTP/1.1 408") or data == b""
        except OSError:
            pass
        s.close()
    sent = count + len(good)
    return sent, sum(good), sent - sum(good), closed, f"{closed}/{count} slow heads got 408 within the 2s header timeout (+1s)"


def idle_connections(gw, quick):
    count = 1000 if quick else 10000
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    before, fds_before = gw.rss_kb(), gw.open_fds()
    sockets = [socket.create_connection((HOST, gw.port), timeout=10) for _ in range(count)]
    wait_for(lambda: gw.open_fds() >= fds_before + count * 0.99, timeout=10)
    during = gw.rss_kb()
    per = (during - before) / count
    # No bytes sent: each is closed at the 2s header timeout.
    closed = wait_for(lambda: gw.open_fds() <= fds_before + 10, timeout=10)
    for s in sockets:
        s.close()
    ok = count if closed else 0
    idle_connections.figure = f"{count} idle: RSS {before // 1024}→{during // 1024} MiB, {per:.1f} KiB each"
    return count, ok, count - ok, 0, idle_connections.figure + ("; all closed by the header timeout" if closed else "; NOT closed")


def rapid_reset(gw, quick):
    try:
        import h2.config
        import h2.connection
        import h2.errors
    except ImportError:
        return 0, 0, 0, 0, "skipped: python h2 not installed"
    streams = 2000 if quick else 20000
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    s = socket.create_connection((HOST, gw.port), timeout=5)
    s.sendall(conn.data_to_send())
    headers = [(":method", "GET"), (":path", "/rapid"), (":scheme", "http"), (":authority", "suite.example.com")]
    sent = 0
    try:
        for _ in range(streams):
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, headers, end_stream=True)
            conn.reset_stream(stream, error_code=h2.errors.ErrorCodes.CANCEL)
            s.sendall(conn.data_to_send())
            sent += 1
    except (OSError, Exception):
        pass
    bounded = server_sent_goaway(s) or sent < streams
    note = f"{sent} HEADERS+RST sent, " + ("GOAWAY/close before the end" if bounded else "never stopped") + "; others still served"
    return attack_row(gw, bounded, "/after-rapid-reset", note)


def server_sent_goaway(s):
    """Reads what the gateway sends until it closes (or 2 s of silence) and says whether a GOAWAY
    frame (type 7) was among it. The frames are read raw: h2's state machine refuses frames for
    streams it already reset, which would hide the GOAWAY behind them."""
    s.settimeout(2)
    received = b""
    try:
        while data := s.recv(65536):
            received += data
    except OSError:
        pass
    s.close()
    offset, goaway = 0, False
    while offset + 9 <= len(received):
        goaway |= received[offset + 3] == 7
        offset += 9 + int.from_bytes(received[offset:offset + 3], "big")
    return goaway


def attack_row(gw, bounded, probe_path, note):
    """One row for an attack connection (an expected failure when it was bounded) plus ten ordinary
    requests sent after it, which must all succeed."""
    good = [gw.get(probe_path)[0] == 200 for _ in range(10)]
    return 1 + len(good), sum(good), 1 + len(good) - sum(good), 1 if bounded else 0, note


def continuation_flood(gw, quick):
    """HEADERS without END_HEADERS, then CONTINUATION frames of 1 KiB that never end the block."""
    frames = 2000 if quick else 20000
    def frame(kind, flags, stream, payload):
        return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    s = socket.create_connection((HOST, gw.port), timeout=5)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
    # A literal header field without indexing, name and value 1000 bytes of "a": valid HPACK, never finished.
    block = b"\x00\x7f\x81\x07" + b"a" * 1000
    sent = 0
    try:
        s.sendall(frame(1, 0, 1, block[:1000]))
        for _ in range(frames):
            s.sendall(frame(9, 0, 1, b"a" * 1024))
            sent += 1
    except OSError:
        pass
    bounded = server_sent_goaway(s) or sent < frames
    note = f"{sent} of {frames} CONTINUATION frames written; " + ("the gateway sent GOAWAY / closed" if bounded else "no GOAWAY: unbounded")
    return attack_row(gw, bounded, "/after-continuation", note)


SCENARIOS = [
    ("backend killed mid-stream", killed_mid_stream),
    ("slow backend", slow_backend),
    ("refused connections", refused_endpoint),
    ("invalid config during load", invalid_config_during_load),
    ("reload storm", reload_storm),
    ("smuggling probes", smuggling),
    ("slowloris", slowloris),
    ("HTTP/2 rapid reset", rapid_reset),
    ("HTTP/2 CONTINUATION flood", continuation_flood),
    ("idle connections", idle_connections),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archway", default=".build/release/archway")
    parser.add_argument("--quick", action="store_true", help="fewer requests and 1k idle connections (CI)")
    parser.add_argument("--only", help="run scenarios whose name contains this")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
    rows, unexpected_total = [], 0
    with tempfile.TemporaryDirectory() as workdir:
        gw = Gateway(os.path.abspath(args.archway), workdir)
        try:
            for name, scenario in SCENARIOS:
                if args.only and args.only not in name:
                    continue
                sent, ok, failed, expected, note = scenario(gw, args.quick)
                unexpected = failed - expected
                unexpected_total += max(unexpected, 0) + max(expected - failed, 0)
                rows.append((name, sent, ok, failed, expected, unexpected, note))
                print(f"  {name}: {note}", file=sys.stderr, flush=True)
        finally:
            code = gw.stop()
            rows.append(("SIGTERM", 1, int(code == 0), int(code != 0), 0, int(code != 0), f"exit {code}"))
            unexpected_total += int(code != 0)
    width = max(len(r[0]) for r in rows)
    print(f"{'scenario':{width}}  {'sent':>6} {'ok':>6} {'failed':>6} {'expected':>8} {'unexpected':>10}  note")
    for name, sent, ok, failed, expected, unexpected, note in rows:
        print(f"{name:{width}}  {sent:6} {ok:6} {failed:6} {expected:8} {unexpected:10}  {note}")
    print(f"\nunexpected failures: {unexpected_total}")
    return 1 if unexpected_total else 0


if __name__ == "__main__":
    sys.exit(main())
