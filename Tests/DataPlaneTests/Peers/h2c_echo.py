"""An HTTP/2-only backend (python h2): cleartext with prior knowledge, nothing else.

h2c_echo.py PORT NAME
    listens on 127.0.0.1:PORT and answers every request with JSON naming itself and what it saw
    (protocol, method, path, authority, headers). A connection that does not open with the HTTP/2
    preface (an HTTP/1.1 request, or an h2c Upgrade) is closed unanswered, so a request that got an
    answer from it reached it over HTTP/2.
"""
import json
import socket
import sys
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions


def serve_connection(conn, name):
    h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    h2conn.initiate_connection()
    conn.sendall(h2conn.data_to_send())
    requests = {}
    try:
        while True:
            data = conn.recv(65535)
            if not data:
                return
            for event in h2conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    requests[event.stream_id] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if isinstance(event, h2.events.StreamEnded) or (
                        isinstance(event, h2.events.RequestReceived) and event.stream_ended):
                    headers = requests.pop(event.stream_id, None)
                    if headers is None:
                        continue
                    body = json.dumps({
                        "name": name, "protocol": "HTTP/2", "method": headers.get(":method"),
                        "path": headers.get(":path"), "authority": headers.get(":authority"),
                        "headers": {k: v for k, v in headers.items() if not k.startswith(":")},
                    }).encode()
                    h2conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "application/json"),
                                                          ("content-length", str(len(body)))])
                    h2conn.send_data(event.stream_id, body, end_stream=True)
            conn.sendall(h2conn.data_to_send())
    except (h2.exceptions.ProtocolError, OSError):
        return
    finally:
        conn.close()


def main():
    port, name = int(sys.argv[1]), sys.argv[2]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_connection, args=(conn, name), daemon=True).start()


if __name__ == "__main__":
    main()
