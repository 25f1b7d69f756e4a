"""HTTP/2 client scenarios (python h2, prior-knowledge h2c) for archway's stream tests. Each prints
one line the Swift test reads.

h2_streams.py concurrent PORT HOST N    N streams at once on one connection, half GETs and half POSTs
                                         with bodies; prints "ok N" or the first mismatch
h2_streams.py upload PORT HOST BYTES    one POST of BYTES; sends while the window allows, stops after
                                         2 s without a window update; prints the bytes it could send
h2_streams.py download PORT HOST BYTES  GET /__echo/bytes/BYTES without ever reopening the window;
                                         prints the bytes received after 2 s
h2_streams.py reset PORT HOST           a 64 MiB download reset after its first DATA, then a GET on the
                                         same connection; prints "<status> <path the backend saw>"
h2_streams.py malformed PORT HOST       four malformed streams and a good one on one connection;
                                         prints each outcome ("reset:CODE" or the status)
h2_streams.py drain PORT HOST BYTES FILE GET /__echo/bytes/BYTES read to the end while the gateway
                                         drains (FILE is created once the first DATA came); prints "<bytes> goaway:<last stream id> <closed|open>"
h2_streams.py grpc PORT HOST PATH       a gRPC call; prints "<frames> <grpc-status>" where frames is
                                         how many HEADERS frames the answer took
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings


def connect(port, validate=True, window=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    config = h2.config.H2Configuration(client_side=True, validate_outbound_headers=validate,
                                       normalize_outbound_headers=validate, validate_inbound_headers=True)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    if window is not None:
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
    sock.sendall(conn.data_to_send())
    return sock, conn


def request_headers(host, method, path, extra=()):
    return [(":method", method), (":path", path), (":scheme", "http"), (":authority", host)] + list(extra)


def pump(sock, conn, until, acknowledge=True, timeout=10):
    """Reads events until `until(events_so_far)` is true; returns every event seen."""
    seen = []
    sock.settimeout(timeout)
    while not until(seen):
        data = sock.recv(1 << 20)
        if not data:
            break
        for event in conn.receive_data(data):
            seen.append(event)
            if acknowledge and isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        sock.sendall(conn.data_to_send())
    return seen


def poll(sock, conn):
    """The events of what arrives within the socket's timeout: [] if nothing did, None once closed."""
    try:
        data = sock.recv(1 << 16)
    except socket.timeout:
        return []
    if not data:
        return None
    events = conn.receive_data(data)
    sock.sendall(conn.data_to_send())
    return events


def ended(streams):
    return lambda events: streams <= {e.stream_id for e in events
                                      if isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))}


def concurrent(port, host, count):
    sock, conn = connect(port)
    expected, bodies_left = {}, {}
    for i in range(count):
        stream = conn.get_next_available_stream_id()
        if i % 2:
            bodies_left[stream] = b"b" * (i * 100)
            conn.send_headers(stream, request_headers(host, "POST", f"/c/{i}", [("content-length", str(i * 100))]))
        else:
            conn.send_headers(stream, request_headers(host, "GET", f"/c/{i}"), end_stream=True)
        expected[stream] = (f"/c/{i}", i * 100 if i % 2 else 0)
    sock.sendall(conn.data_to_send())
    events = []
    while bodies_left or not ended(set(expected))(events):
        # The bodies go out as the windows allow; the rest waits for the server's WINDOW_UPDATEs.
        for stream, body in list(bodies_left.items()):
            size = min(len(body), conn.local_flow_control_window(stream), conn.max_outbound_frame_size)
            if size > 0 or not body:
                conn.send_data(stream, body[:size], end_stream=size == len(body))
                bodies_left[stream] = body[size:]
                if size == len(body):
                    del bodies_left[stream]
        sock.sendall(conn.data_to_send())
        events += pump(sock, conn, lambda seen: len(seen) > 0)
    status = {e.stream_id: dict(e.headers).get(b":status") for e in events if isinstance(e, h2.events.ResponseReceived)}
    bodies = {}
    for e in events:
        if isinstance(e, h2.events.DataReceived):
            bodies[e.stream_id] = bodies.get(e.stream_id, b"") + e.data
    for stream, (path, size) in expected.items():
        if status.get(stream) != b"200":
            return print(f"stream {stream} {path}: status {status.get(stream)}")
        echo = json.loads(bodies.get(stream, b"{}"))
        if echo.get("path") != path or echo.get("body_bytes") != size:
            return print(f"stream {stream} {path}: backend saw {echo.get('path')} with {echo.get('body_bytes')} bytes")
    print(f"ok {count}")


def upload(port, host, total):
    sock, conn = connect(port)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(host, "POST", "/upload", [("content-length", str(total))]))
    sock.sendall(conn.data_to_send())
    sent, chunk = 0, b"u" * 16384
    sock.settimeout(0.2)
    last_progress = time.monotonic()
    while sent < total and time.monotonic() - last_progress < 2:
        window = min(conn.local_flow_control_window(stream), conn.max_outbound_frame_size, total - sent)
        if window > 0:
            conn.send_data(stream, chunk[:window])
            sent += window
            last_progress = time.monotonic()
            sock.sendall(conn.data_to_send())
        elif poll(sock, conn) is None:
            break
    print(sent)


def download(port, host, total):
    sock, conn = connect(port, window=65535)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(host, "GET", f"/__echo/bytes/{total}"), end_stream=True)
    sock.sendall(conn.data_to_send())
    received, deadline = 0, time.monotonic() + 2
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        events = poll(sock, conn)
        if events is None:
            break
        # Never acknowledged: the window stays closed.
        received += sum(len(e.data) for e in events if isinstance(e, h2.events.DataReceived))
    print(received, flush=True)
    time.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 0)


def reset(port, host):
    sock, conn = connect(port)
    big = conn.get_next_available_stream_id()
    conn.send_headers(big, request_headers(host, "GET", f"/__echo/bytes/{64 << 20}"), end_stream=True)
    sock.sendall(conn.data_to_send())
    pump(sock, conn, lambda events: any(isinstance(e, h2.events.DataReceived) for e in events))
    conn.reset_stream(big, error_code=8)  # CANCEL
    after = conn.get_next_available_stream_id()
    conn.send_headers(after, request_headers(host, "GET", "/after"), end_stream=True)
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, ended({after}))
    status = next((dict(e.headers).get(b":status", b"?").decode() for e in events
                   if isinstance(e, h2.events.ResponseReceived) and e.stream_id == after), "none")
    body = b"".join(e.data for e in events if isinstance(e, h2.events.DataReceived) and e.stream_id == after)
    try:
        path = json.loads(body).get("path")
    except ValueError:
        path = "garbled"
    print(status, path)


def malformed(port, host):
    sock, conn = connect(port, validate=False)
    streams = []
    for headers in (
        [(":method", "GET"), (":scheme", "http"), (":authority", host)],        # no :path
        request_headers(host, "GET", "/bad", [("connection", "keep-alive")]),   # connection-specific
        [(":method", "GET"), (":path", "/bad"), (":scheme", "http")],          # no :authority
        request_headers(host, "GET", "/bad", [("X-Upper", "1")]),               # uppercase name
        request_headers(host, "GET", "/good"),
    ):
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, headers, end_stream=True)
        streams.append(stream)
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, ended(set(streams)))
    outcome = {}
    for e in events:
        if isinstance(e, h2.events.StreamReset):
            outcome[e.stream_id] = f"reset:{int(e.error_code)}"
        elif isinstance(e, h2.events.ResponseReceived):
            outcome[e.stream_id] = dict(e.headers).get(b":status", b"?").decode()
    print(" ".join(outcome.get(s, "none") for s in streams))


def frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def drain(port, host, total, ready_file):
    """Frames are read by hand: python h2 stops at a GOAWAY, while RFC 9113 §6.8 has the streams it
    names go on to their end."""
    sock, conn = connect(port)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(host, "GET", f"/__echo/bytes/{total}"), end_stream=True)
    sock.sendall(conn.data_to_send())
    buffered, received, goaway, state = b"", 0, None, "open"
    while True:
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            break
        if not data:
            state = "closed"
            break
        buffered += data
        while len(buffered) >= 9 and len(buffered) >= 9 + int.from_bytes(buffered[:3], "big"):
            length, kind, flags = int.from_bytes(buffered[:3], "big"), buffered[3], buffered[4]
            payload, buffered = buffered[9:9 + length], buffered[9 + length:]
            if kind == 0 and length:  # DATA: the window goes back at once, for the stream and the connection
                if not received:
                    open(ready_file, "w").close()
                received += length
                if not flags & 1:  # not END_STREAM: more is to come
                    sock.sendall(frame(8, 0, 0, length.to_bytes(4, "big")) + frame(8, 0, stream, length.to_bytes(4, "big")))
            elif kind == 4 and not flags & 1:  # SETTINGS: acknowledged
                sock.sendall(frame(4, 1, 0, b""))
            elif kind == 7:  # GOAWAY
                goaway = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
    print(received, f"goaway:{goaway}", state)


def grpc(port, host, path):
    sock, conn = connect(port)
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, request_headers(host, "POST", path, [("content-type", "application/grpc"), ("te", "trailers")]))
    conn.send_data(stream, b"\x00\x00\x00\x00\x00", end_stream=True)
    sock.sendall(conn.data_to_send())
    events = pump(sock, conn, ended({stream}))
    blocks = [dict(e.headers) for e in events if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived))]
    status = next((b[b"grpc-status"].decode() for b in blocks if b"grpc-status" in b), "none")
    print(len(blocks), status)


if __name__ == "__main__":
    mode, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "concurrent":
        concurrent(port, host, int(sys.argv[4]))
    elif mode == "upload":
        upload(port, host, int(sys.argv[4]))
    elif mode == "download":
        download(port, host, int(sys.argv[4]))
    elif mode == "reset":
        reset(port, host)
    elif mode == "malformed":
        malformed(port, host)
    elif mode == "drain":
        drain(port, host, int(sys.argv[4]), sys.argv[5])
    elif mode == "grpc":
        grpc(port, host, sys.argv[4])
