"""A minimal HTTP/2 client (python h2) for archway's tests: requests one after another on ONE h2c
connection with prior knowledge, which curl 7.88 cannot do across --next.

h2_client.py PORT HOST METHOD:PATH [METHOD:PATH ...]   prints each response status, space-separated
A body-less request ends its stream with the HEADERS frame (content-length: 0 for POST/PUT).
"""
import socket
import sys

import h2.config
import h2.connection
import h2.events


def main(port, host, requests):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    statuses = []
    for request in requests:
        method, path = request.split(":", 1)
        stream = conn.get_next_available_stream_id()
        headers = [(":method", method), (":path", path), (":scheme", "http"), (":authority", host)]
        if method in ("POST", "PUT", "PATCH"):
            headers.append(("content-length", "0"))
        conn.send_headers(stream, headers, end_stream=True)
        sock.sendall(conn.data_to_send())
        status, done = "000", False
        while not done:
            data = sock.recv(65536)
            if not data:
                done = True
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    status = dict(event.headers).get(b":status", b"000").decode()
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == stream:
                    done = True
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                    status, done = "reset", True
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            sock.sendall(conn.data_to_send())
        statuses.append(status)
    print(" ".join(statuses), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3:])
