"""A real gRPC peer (grpcio) for archway's tests, with raw-bytes messages so no protoc is needed.

server PORT NAME [CERT KEY]
                   serves echo.Echo/{Say,Chat,Fail,Headers} on 127.0.0.1:PORT, h2c or (with CERT and KEY) TLS
client PORT HOST   calls through 127.0.0.1:PORT with :authority HOST and prints one JSON result
say PORT HOST      one unary echo.Echo/Say call; prints the reply
headers PORT HOST NAME=VALUE...
                   one echo.Echo/Headers call with that metadata; prints the metadata the server saw (JSON)
unary PORT HOST /SERVICE/METHOD
                   one call with an empty message; prints {"reply": ...} or {"code": ..., "details": ...}
The server also serves the service upstream's conformance routes name,
gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/{Echo,EchoTwo}, replying with its NAME (raw bytes,
not upstream's protobuf messages: the routes match on the method path only).
"""
import json
import sys
from concurrent import futures

import grpc

identity = lambda payload: payload


def serve(port, name, cert=None, key=None):
    def say(request, context):
        metadata = dict(context.invocation_metadata())
        context.set_trailing_metadata((("x-served-by", name), ("x-saw-header", metadata.get("x-canary", ""))))
        return name.encode() + b":" + request

    def chat(requests, context):
        for index, request in enumerate(requests):
            yield b"%s:%d:%s" % (name.encode(), index, request)
        context.set_trailing_metadata((("x-messages", "done"),))

    def headers(request, context):
        seen = {}
        for key, value in context.invocation_metadata():
            seen.setdefault(key, []).append(value)
        return json.dumps(seen, sort_keys=True).encode()

    def fail(request, context):
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no entry for " + request.decode())

    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(say, identity, identity),
        "Chat": grpc.stream_stream_rpc_method_handler(chat, identity, identity),
        "Fail": grpc.unary_unary_rpc_method_handler(fail, identity, identity),
        "Headers": grpc.unary_unary_rpc_method_handler(headers, identity, identity),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    conformance = {
        "Echo": grpc.unary_unary_rpc_method_handler(lambda request, context: name.encode(), identity, identity),
        "EchoTwo": grpc.unary_unary_rpc_method_handler(lambda request, context: name.encode(), identity, identity),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("echo.Echo", handlers),
                                     grpc.method_handlers_generic_handler(
                                         "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho", conformance)))
    if cert:
        credentials = grpc.ssl_server_credentials(((open(key, "rb").read(), open(cert, "rb").read()),))
        server.add_secure_port("127.0.0.1:%d" % port, credentials)
    else:
        server.add_insecure_port("127.0.0.1:%d" % port)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def call(port, host):
    result = {}
    options = (("grpc.default_authority", host),)
    with grpc.insecure_channel("127.0.0.1:%d" % port, options=options) as channel:
        say = channel.unary_unary("/echo.Echo/Say", identity, identity)
        served = {}
        for index in range(40):
            reply, rpc = say.with_call(b"hello-%d" % index, metadata=(("x-canary", "yes"),), timeout=5)
            trailers = dict(rpc.trailing_metadata())
            served[trailers.get("x-served-by")] = served.get(trailers.get("x-served-by"), 0) + 1
            result["unary"] = reply.decode()
            result["saw_header"] = trailers.get("x-saw-header")
        result["served"] = served

        chat = channel.stream_stream("/echo.Echo/Chat", identity, identity)
        stream = chat(iter([b"m%d" % i for i in range(100)]), timeout=10)
        replies = [message.decode() for message in stream]
        result["stream_count"] = len(replies)
        result["stream_last"] = replies[-1] if replies else None
        result["stream_trailers"] = dict(stream.trailing_metadata())

        try:
            channel.unary_unary("/echo.Echo/Fail", identity, identity)(b"bob", timeout=5)
        except grpc.RpcError as error:
            result["fail_code"] = error.code().name
            result["fail_details"] = error.details()

        try:
            channel.unary_unary("/unknown.Service/Call", identity, identity)(b"x", timeout=5)
        except grpc.RpcError as error:
            result["unrouted_code"] = error.code().name
            result["unrouted_details"] = error.details()
        try:
            channel.unary_unary("/echo.Down/Call", identity, identity)(b"x", timeout=5)
        except grpc.RpcError as error:
            result["down_code"] = error.code().name
            result["down_details"] = error.details()
        # Routed to a backend that speaks only HTTP/1: must fail as UNAVAILABLE well before the deadline.
        try:
            channel.unary_unary("/echo.HTTP1/Call", identity, identity)(b"x", timeout=20)
        except grpc.RpcError as error:
            result["http1_code"] = error.code().name
            result["http1_details"] = error.details()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        serve(int(sys.argv[2]), sys.argv[3], *sys.argv[4:6])
    elif sys.argv[1] == "headers":
        options = (("grpc.default_authority", sys.argv[3]),)
        metadata = tuple(tuple(pair.split("=", 1)) for pair in sys.argv[4:])
        with grpc.insecure_channel("127.0.0.1:%s" % sys.argv[2], options=options) as channel:
            call = channel.unary_unary("/echo.Echo/Headers", identity, identity)
            print(call(b"", metadata=metadata, timeout=10).decode(), flush=True)
    elif sys.argv[1] == "unary":
        options = (("grpc.default_authority", sys.argv[3]),)
        with grpc.insecure_channel("127.0.0.1:%s" % sys.argv[2], options=options) as channel:
            try:
                reply = channel.unary_unary(sys.argv[4], identity, identity)(b"", timeout=10)
                print(json.dumps({"reply": reply.decode()}), flush=True)
            except grpc.RpcError as error:
                print(json.dumps({"code": error.code().name, "details": error.details()}), flush=True)
    elif sys.argv[1] == "say":
        options = (("grpc.default_authority", sys.argv[3]),)
        with grpc.insecure_channel("127.0.0.1:%s" % sys.argv[2], options=options) as channel:
            print(channel.unary_unary("/echo.Echo/Say", identity, identity)(b"hi", timeout=10).decode(), flush=True)
    else:
        call(int(sys.argv[2]), sys.argv[3])
