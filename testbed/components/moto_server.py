"""moto's server, with three changes for the Shipyard testbed.

1. Response request ids come from a generator of their own instead of moto's seedable one.

The testbed keeps Route 53 state across restarts by replaying moto's request recording after
a recorded seed. Every response draws a 52-character request id from that same seeded
generator, so every read would move it along, and a recording could only be replayed whole,
polls and all, growing forever. With request ids drawn elsewhere, Route 53 reads leave the
seeded generator alone, and the testbed can drop them from the recording before replaying.

2. Route 53 changes can stay PENDING for a while, as they do on AWS (up to about a minute).

moto answers every ChangeResourceRecordSets and GetChange with INSYNC and one fixed change id,
so the wait for a change would never be exercised. Here each change gets its own id and reads
PENDING until `sync seconds` after it was submitted, then INSYNC. The delay starts from
SHIPYARD_ROUTE53_SYNC_SECONDS (default 0: INSYNC at once, moto's own behaviour) and can be
changed while the server runs, for every zone or for one hosted zone (so a test can slow down
its own zone without slowing everybody sharing the server):

    POST /shipyard/route53/sync-seconds   {"seconds": 3}                          every zone
    POST /shipyard/route53/sync-seconds   {"seconds": 3, "hostedZoneId": "Z…"}    one zone
    POST /shipyard/route53/sync-seconds   {"seconds": null, "hostedZoneId": "Z…"} back to the default
    GET  /shipyard/route53/sync-seconds   the current settings

These settings are not part of moto's recording (they are not Route 53 state), and change ids
come from the unseeded generator too, so replaying the recording is unaffected. A change id
the server does not know (e.g. from before a restart) reads INSYNC, as moto answers.

3. One request at a time (see _one_at_a_time below): moto's threaded server can lose a change
batch that runs beside another.

Written against the pinned moto version; if moto moves a patched function, this fails at
start-up instead of silently losing a guarantee.
"""

import json
import os
import random
import string
import sys
import threading
import time

import moto.core.responses as core_responses
import moto.route53.responses as route53_responses
import moto.server as moto_server
import moto.utilities.aws_headers as aws_headers

_request_ids = random.SystemRandom()
_ALPHABET = string.ascii_letters + string.digits


def _request_id(headerdict=None):
    request_id = "".join(_request_ids.choice(_ALPHABET) for _ in range(52))
    if isinstance(headerdict, dict):
        headerdict["x-amzn-requestid"] = request_id
    return request_id


def _require(owner, name):
    if not hasattr(owner, name):
        sys.exit(f"moto_server.py: {getattr(owner, '__name__', owner)}.{name} is gone; this moto version is not supported")
    return getattr(owner, name)


for module in (core_responses, aws_headers):
    _require(module, "gen_amzn_requestid_long")
    module.gen_amzn_requestid_long = _request_id


# ---------------------------------------------------------------------------------------------
# Change propagation


def _seconds(raw, what):
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number of seconds, got {raw!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {raw!r}")
    return value


class _Propagation:
    """When each change was submitted, and how long a zone's changes stay PENDING."""

    def __init__(self, default_seconds):
        self._lock = threading.Lock()
        self.default_seconds = default_seconds
        self.zone_seconds = {}
        # change id -> when it reads INSYNC (time.monotonic()); only changes still PENDING are kept,
        # since an unknown id reads INSYNC anyway
        self.changes = {}

    def submit(self, zone_id):
        change_id = "C" + "".join(_request_ids.choice(string.ascii_uppercase + string.digits) for _ in range(13))
        now = time.monotonic()
        with self._lock:
            self.changes = {known: at for known, at in self.changes.items() if at > now}
            self.changes[change_id] = now + self.zone_seconds.get(zone_id, self.default_seconds)
        return change_id

    def status(self, change_id):
        with self._lock:
            in_sync_at = self.changes.get(change_id)
        return "PENDING" if in_sync_at is not None and time.monotonic() < in_sync_at else "INSYNC"

    def configure(self, seconds, zone_id):
        with self._lock:
            if zone_id is None:
                self.default_seconds = 0.0 if seconds is None else seconds
            elif seconds is None:
                self.zone_seconds.pop(zone_id, None)
            else:
                self.zone_seconds[zone_id] = seconds

    def settings(self):
        with self._lock:
            return {"defaultSeconds": self.default_seconds, "zones": dict(self.zone_seconds)}


try:
    _propagation = _Propagation(_seconds(os.environ.get("SHIPYARD_ROUTE53_SYNC_SECONDS") or 0, "SHIPYARD_ROUTE53_SYNC_SECONDS"))
except ValueError as err:
    sys.exit(f"moto_server.py: {err}")


def _bare(resource_id, prefix):
    return resource_id[len(prefix):] if resource_id.startswith(prefix) else resource_id


_change_resource_record_sets = _require(route53_responses.Route53, "change_resource_record_sets")
_get_change = _require(route53_responses.Route53, "get_change")


def change_resource_record_sets(self):
    answer = _change_resource_record_sets(self)
    zone_id = _bare(self._get_param("HostedZoneId") or "", "/hostedzone/")
    change_id = _propagation.submit(zone_id)
    info = answer.result["ChangeInfo"]
    info["Id"] = f"/change/{change_id}"
    info["Status"] = _propagation.status(change_id)
    return answer


def get_change(self):
    answer = _get_change(self)
    info = answer.result["ChangeInfo"]
    change_id = _bare(info["Id"] or "", "/change/")
    info["Id"] = f"/change/{change_id}"
    info["Status"] = _propagation.status(change_id)
    return answer


route53_responses.Route53.change_resource_record_sets = change_resource_record_sets
route53_responses.Route53.get_change = get_change


# ---------------------------------------------------------------------------------------------
# The testbed's own endpoint, in front of moto (so moto neither sees nor records it)

SYNC_SECONDS_PATH = "/shipyard/route53/sync-seconds"


def _json_response(start_response, status, body):
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def _sync_seconds_endpoint(environ, start_response):
    method = environ.get("REQUEST_METHOD")
    if method == "GET":
        return _json_response(start_response, "200 OK", _propagation.settings())
    if method != "POST":
        return _json_response(start_response, "405 Method Not Allowed", {"error": "use GET or POST"})
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if not isinstance(body, dict) or "seconds" not in body:
            raise ValueError('expected {"seconds": <number or null>, "hostedZoneId"?: "<zone id>"}')
        seconds = None if body["seconds"] is None else _seconds(body["seconds"], "seconds")
        zone_id = body.get("hostedZoneId")
        if zone_id is not None and not isinstance(zone_id, str):
            raise ValueError("hostedZoneId must be a string")
        if seconds is None and zone_id is None:
            raise ValueError("seconds may be null only for one hostedZoneId (back to the default)")
    except ValueError as err:
        return _json_response(start_response, "400 Bad Request", {"error": str(err)})
    _propagation.configure(seconds, None if zone_id is None else _bare(zone_id, "/hostedzone/"))
    return _json_response(start_response, "200 OK", _propagation.settings())


_Dispatcher = _require(moto_server, "DomainDispatcherApplication")


# moto keeps a zone's records in plain lists that a change rebuilds (filter, then assign), and its
# server answers on many threads: two change batches at once can lose one of them (a record a
# teardown deleted came back when another teardown's batch was assigned over it — seen with 200
# teardowns at once). Route 53 applies each batch atomically; here, one request at a time.
_one_at_a_time = threading.Lock()


class _WithShipyardEndpoint(_Dispatcher):
    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == SYNC_SECONDS_PATH:
            return _sync_seconds_endpoint(environ, start_response)
        if environ.get("PATH_INFO", "").startswith("/moto-api/"):
            # Replaying the recording sends each request to this server again, over HTTP.
            return super().__call__(environ, start_response)
        with _one_at_a_time:
            response = super().__call__(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()


moto_server.DomainDispatcherApplication = _WithShipyardEndpoint

if __name__ == "__main__":
    sys.exit(moto_server.main())
