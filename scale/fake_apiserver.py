"""A small fake Kubernetes API server for `scale/run --kubernetes` (a benchmark tool, not a test).

It answers the requests `archway serve --kubernetes` makes, as kube-apiserver would, and no more:
  discovery     GET /api, /apis, /api/v1, /apis/GROUP, /apis/GROUP/VERSION; an unknown group or version
                is the real server's plain-text "404 page not found" (archway then skips optional kinds)
  list          GET .../PLURAL[?fieldSelector=metadata.name=X] with the collection's resourceVersion;
                built-in kinds' items come without apiVersion/kind, as the real server sends them;
                with `limit`, in pages linked by `continue` tokens, all served from the first page's snapshot
  watch         GET .../PLURAL?watch=true&resourceVersion=RV: a chunked stream of JSON lines
                {"type": "ADDED|MODIFIED|DELETED|BOOKMARK", "object": ...}, replaying the history after RV
                first and ending after timeoutSeconds
  get           GET .../PLURAL/NAME
  status PATCH  PATCH .../PLURAL/NAME/status, a JSON merge patch; a metadata.resourceVersion that is not
                the object's current one is answered 409 Conflict. Every PATCH is recorded with its time.
  Leases        create (POST), get, update (PUT, same 409 precondition): leader election.
The kinds it serves are those of Tests/DataPlaneTests/FakeAPIServer.swift (the Gateway API v1.6 standard
channel, archway.dev's BackendTrafficPolicy, and the core kinds archway reads); all of them at one version.
Only what the benchmark needs is kept: no authentication check, no compaction (410), no label selectors.
Python 3 standard library only.
"""
import json, queue, threading, time
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# One REST collection: served at `version` only. `builtin`: a core kind (lists leave out apiVersion/kind,
# discovery lists no status subresource).
Collection = namedtuple("Collection", "group version plural kind namespaced builtin")

GATEWAY = "gateway.networking.k8s.io"
COLLECTIONS = [Collection(GATEWAY, "v1", plural, kind, namespaced, False) for plural, kind, namespaced in [
    ("gatewayclasses", "GatewayClass", False), ("gateways", "Gateway", True), ("httproutes", "HTTPRoute", True),
    ("grpcroutes", "GRPCRoute", True), ("tcproutes", "TCPRoute", True), ("tlsroutes", "TLSRoute", True),
    ("udproutes", "UDPRoute", True), ("referencegrants", "ReferenceGrant", True),
    ("backendtlspolicies", "BackendTLSPolicy", True), ("listenersets", "ListenerSet", True)]] + [
    # archway's own CRDs: only BackendTrafficPolicy, as in the Swift fake; the others are then "not installed".
    Collection("archway.dev", "v1alpha1", "backendtrafficpolicies", "BackendTrafficPolicy", True, False),
    Collection("", "v1", "services", "Service", True, True),
    Collection("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, True),
    Collection("", "v1", "namespaces", "Namespace", False, True),
    Collection("", "v1", "secrets", "Secret", True, True),
    Collection("", "v1", "configmaps", "ConfigMap", True, True),
    Collection("networking.k8s.io", "v1", "ingresses", "Ingress", True, True),
    Collection("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, True),
    Collection("coordination.k8s.io", "v1", "leases", "Lease", True, True),
]


def api_version(collection):
    return collection.version if collection.group == "" else f"{collection.group}/{collection.version}"


def key_of(metadata):
    return f"{metadata.get('namespace') or ''}/{metadata.get('name', '')}"


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def failure(code, reason, message):
    """A metav1.Status, as the API server answers errors."""
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


class FakeAPIServer:
    def __init__(self):
        self.lock = threading.Lock()
        self.revision = 100
        self.objects = {c: {} for c in COLLECTIONS}      # collection -> "namespace/name" -> object
        self.history = []                                 # (revision, collection, event line bytes per version)
        self.watchers = []                                # (collection, namespace, name, queue)
        self.status_patches = []                          # (time.monotonic(), "Kind namespace/name", HTTP code)
        self.calls = {}                                   # "VERB path-pattern" -> count, for the curious
        self.list_snapshots = []                          # paged lists: (collection, revision, items, request), None once read
        self.httpd = None

    # MARK: controls, for scale/run

    def start(self):
        server = self

        class Handler(APIHandler):
            fake = server
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.httpd.server_address[1]

    def stop(self):
        with self.lock:
            for *_, events in self.watchers:
                events.put(None)
            self.watchers = []
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def apply(self, objects):
        """Creates or replaces each object (a dict with apiVersion and kind), emitting ADDED or MODIFIED.
        A replaced object keeps its uid and status; its generation goes up by one, as a spec change does."""
        with self.lock:
            for obj in objects:
                collection = next(c for c in COLLECTIONS if c.kind == obj["kind"] and api_version(c) == obj["apiVersion"])
                obj = dict(obj)
                metadata = dict(obj.get("metadata", {}))
                if collection.namespaced:
                    metadata.setdefault("namespace", "default")
                existing = self.objects[collection].get(key_of(metadata))
                old = existing["metadata"] if existing else {}
                metadata["generation"] = old.get("generation", 0) + 1
                metadata["uid"] = old.get("uid", f"uid-{self.revision + 1}")
                obj["metadata"] = metadata
                if existing and "status" in existing and "status" not in obj:
                    obj["status"] = existing["status"]
                self._store(collection, obj, "MODIFIED" if existing else "ADDED")

    def status_write_times(self):
        with self.lock:
            return [at for at, _, _ in self.status_patches]

    # MARK: storage (call with the lock held)

    def _store(self, collection, obj, event_type):
        self.revision += 1
        metadata = obj["metadata"]
        metadata["resourceVersion"] = str(self.revision)
        metadata.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        obj["apiVersion"], obj["kind"] = api_version(collection), collection.kind
        self.objects[collection][key_of(metadata)] = obj
        self._emit(collection, obj, event_type)

    def _emit(self, collection, obj, event_type):
        # Serialised once: every watcher of the collection gets the same line.
        line = json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"
        metadata = obj["metadata"]
        self.history.append((self.revision, collection, metadata.get("namespace"), metadata.get("name"), line))
        for watched, namespace, name, events in self.watchers:
            if watched == collection and namespace in (None, metadata.get("namespace")) and name in (None, metadata.get("name")):
                events.put(line)

    # MARK: requests

    def handle(self, method, path, query, body):
        """Everything but a watch: (HTTP code, JSON body or plain-text str)."""
        segments = [s for s in path.split("/") if s]
        discovery = self._discovery(segments)
        if discovery:
            return discovery
        if segments[:1] == ["api"] and len(segments) >= 2:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 3:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return 404, "404 page not found\n"
        # A group/version nothing serves has no handler at all: plain 404, as the real server.
        if not any(c.group == group and c.version == version for c in COLLECTIONS):
            return 404, "404 page not found\n"
        namespace = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        collection = next((c for c in COLLECTIONS if c.group == group and c.version == version and rest and c.plural == rest[0]), None)
        if collection is None:
            return failure(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        field = query.get("fieldSelector", [""])[0]
        only = field[len("metadata.name="):] if field.startswith("metadata.name=") else None
        verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method)
        with self.lock:
            tag = f"{verb} {collection.plural}" + (f"/{subresource}" if subresource else "")
            self.calls[tag] = self.calls.get(tag, 0) + 1
            stored = self.objects[collection]
            if verb == "list" and "continue" in query:
                return self._next_page(path, query)
            if verb == "list":
                items = []
                for key in sorted(stored):
                    obj = stored[key]
                    metadata = obj["metadata"]
                    if namespace not in (None, metadata.get("namespace")) or only not in (None, metadata.get("name")):
                        continue
                    if collection.builtin:
                        obj = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
                    items.append(obj)
                return self._page(collection, items, path, query)
            if verb == "get":
                obj = stored.get(f"{namespace or ''}/{name}")
                return (200, obj) if obj else failure(404, "NotFound", f'{collection.plural} "{name}" not found')
            try:
                sent = json.loads(body or b"{}")
            except ValueError:
                return failure(400, "BadRequest", "body is not JSON")
            if verb == "create":
                metadata = dict(sent.get("metadata", {}))
                if collection.namespaced:
                    metadata["namespace"] = namespace or "default"
                if key_of(metadata) in stored:
                    return failure(409, "AlreadyExists", f'{collection.plural} "{metadata.get("name")}" already exists')
                sent["metadata"] = metadata
                self._store(collection, sent, "ADDED")
                return 201, sent
            if verb in ("update", "patch"):
                key = f"{namespace or ''}/{name}"
                existing = stored.get(key)
                is_status = subresource == "status" and verb == "patch"
                code, answer = self._update(collection, key, existing, sent, verb, subresource)
                if is_status:
                    self.status_patches.append((time.monotonic(), f"{collection.kind} {key}", code))
                return code, answer
            return failure(405, "MethodNotAllowed", "not supported here")

    @staticmethod
    def _list_request(path, query):
        """What a continuation must ask for again: the same collection, namespace and selectors."""
        return (path, query.get("fieldSelector", [""])[0], query.get("labelSelector", [""])[0])

    def _page(self, collection, items, path, query):
        """The first `limit` items and a continue token for the rest, served later from this snapshot
        (as etcd serves every page at the first page's revision)."""
        limit = int(query.get("limit", ["0"])[0] or 0)
        if limit <= 0 or len(items) <= limit:
            return 200, {"kind": collection.kind + "List", "apiVersion": api_version(collection),
                         "metadata": {"resourceVersion": str(self.revision)}, "items": items}
        self.list_snapshots.append((collection, str(self.revision), items, self._list_request(path, query)))
        if len(self.list_snapshots) > 64:
            self.list_snapshots[-65] = None  # a list left unfinished long ago: let it go
        return self._continued(len(self.list_snapshots) - 1, 0, limit)

    def _continued(self, snapshot, offset, limit):
        collection, revision, items, _ = self.list_snapshots[snapshot]
        end = min(offset + limit, len(items))
        metadata = {"resourceVersion": revision}
        if end < len(items):
            metadata["continue"] = f"{snapshot}:{end}"
            metadata["remainingItemCount"] = len(items) - end
        else:
            self.list_snapshots[snapshot] = None  # read to the end: let it go
        return 200, {"kind": collection.kind + "List", "apiVersion": api_version(collection),
                     "metadata": metadata, "items": items[offset:end]}

    def _next_page(self, path, query):
        try:
            snapshot, offset = (int(part) for part in query["continue"][0].split(":"))
            limit = int(query["limit"][0])
            assert self.list_snapshots[snapshot] is not None and limit > 0
        except (ValueError, KeyError, IndexError, AssertionError):
            return failure(400, "BadRequest", "invalid continue token")
        if self.list_snapshots[snapshot][3] != self._list_request(path, query):
            return failure(400, "BadRequest", "continue token was issued for another list")
        return self._continued(snapshot, offset, limit)

    def _update(self, collection, key, existing, sent, verb, subresource):
        if existing is None:
            return failure(404, "NotFound", f'{collection.plural} "{key}" not found')
        precondition = (sent.get("metadata") or {}).get("resourceVersion")
        if precondition and precondition != existing["metadata"]["resourceVersion"]:
            return failure(409, "Conflict", f'Operation cannot be fulfilled on {collection.plural} "{key.split("/")[-1]}": '
                                            "the object has been modified; please apply your changes to the latest version and try again")
        if subresource == "status":
            # The status subresource changes status only, whatever else the body says.
            updated = dict(existing)
            if verb == "patch":  # a patch without "status" leaves it as it is
                status = merge_patch(existing.get("status", {}), sent["status"]) if "status" in sent else existing.get("status")
            else:
                status = sent.get("status")
            if status is None:
                updated.pop("status", None)
            else:
                updated["status"] = status
            updated["metadata"] = dict(existing["metadata"])
        else:
            updated = merge_patch(existing, sent) if verb == "patch" else dict(sent)
            updated["metadata"] = dict(updated.get("metadata") or {}, namespace=existing["metadata"].get("namespace"))
        self._store(collection, updated, "MODIFIED")
        return 200, updated

    def start_watch(self, path, query):
        """Registers a watch; returns its queue of event lines (None ends it), or an error answer."""
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["api"] and len(segments) >= 2:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 3:
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return None, (404, "404 page not found\n")
        namespace = None
        if rest[:1] == ["namespaces"] and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        collection = next((c for c in COLLECTIONS if c.group == group and c.version == version and rest and c.plural == rest[0]), None)
        if collection is None:
            return None, (404, "404 page not found\n")
        field = query.get("fieldSelector", [""])[0]
        name = field[len("metadata.name="):] if field.startswith("metadata.name=") else None
        since = int(query.get("resourceVersion", ["0"])[0] or 0)
        events = queue.Queue()
        with self.lock:
            tag = f"watch {collection.plural}"
            self.calls[tag] = self.calls.get(tag, 0) + 1
            # What happened after the version asked for (the list's), then live events: no gap, no repeat.
            if since:
                for revision, watched, ns, nm, line in self.history:
                    if revision > since and watched == collection and namespace in (None, ns) and name in (None, nm):
                        events.put(line)
            watcher = (collection, namespace, name, events)
            self.watchers.append(watcher)
        return watcher, None

    def end_watch(self, watcher):
        with self.lock:
            if watcher in self.watchers:
                self.watchers.remove(watcher)

    def _discovery(self, segments):
        """The discovery documents, or None for any other path."""
        def group_document(group):
            versions = sorted({c.version for c in COLLECTIONS if c.group == group})
            entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
            return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries, "preferredVersion": entries[0]}
        if segments == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if segments == ["apis"]:
            groups = sorted({c.group for c in COLLECTIONS} - {""})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_document(g) for g in groups]}
        if len(segments) == 2 and segments[0] == "apis":
            known = any(c.group == segments[1] for c in COLLECTIONS)
            return (200, group_document(segments[1])) if known else (404, "404 page not found\n")
        if (len(segments) == 2 and segments[0] == "api") or (len(segments) == 3 and segments[0] == "apis"):
            group = "" if segments[0] == "api" else segments[1]
            served = [c for c in COLLECTIONS if c.group == group and c.version == segments[-1]]
            if not served:
                return 404, "404 page not found\n"
            resources = []
            for c in served:
                resources.append({"name": c.plural, "singularName": c.kind.lower(), "namespaced": c.namespaced, "kind": c.kind,
                                  "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
                if not c.builtin:
                    resources.append({"name": c.plural + "/status", "singularName": "", "namespaced": c.namespaced,
                                      "kind": c.kind, "verbs": ["get", "patch", "update"]})
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version(served[0]), "resources": resources}
        return None


class APIHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (archway pools its connections); each watch holds its connection's thread."""
    protocol_version = "HTTP/1.1"
    fake = None  # set by FakeAPIServer.start

    def log_message(self, *args):
        pass

    def answer(self, code, body):
        data = body.encode() if isinstance(body, str) else json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "GET" and query.get("watch", [""])[0] in ("true", "1"):
            return self.watch(url.path, query)
        try:
            self.answer(*self.fake.handle(self.command, url.path, query, body))
        except OSError:
            self.close_connection = True  # the client went away (archway stopping mid-request)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

    def watch(self, path, query):
        watcher, error = self.fake.start_watch(path, query)
        if error:
            return self.answer(*error)
        events = watcher[3]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + int(query.get("timeoutSeconds", ["1800"])[0])
        try:
            while True:
                try:
                    line = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break  # timeoutSeconds reached: end the stream, the client watches again
                ended = line is None
                chunk = line or b""
                # Whatever else is queued goes out in the same chunk.
                while not ended and not events.empty():
                    more = events.get_nowait()
                    ended = more is None
                    chunk += more or b""
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                if ended:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            self.fake.end_watch(watcher)
