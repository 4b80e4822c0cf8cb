"""moto's server, with one change for the Shipyard testbed: response request ids come from a
generator of their own instead of moto's seedable one.

The testbed keeps Route 53 state across restarts by replaying moto's request recording after
a recorded seed. Every response draws a 52-character request id from that same seeded
generator, so every read would move it along, and a recording could only be replayed whole,
polls and all, growing forever. With request ids drawn elsewhere, Route 53 reads leave the
seeded generator alone, and the testbed can drop them from the recording before replaying.

Written against the pinned moto version; if moto moves the function, this fails at start-up
instead of silently losing the guarantee.
"""

import random
import string
import sys

import moto.core.responses as core_responses
import moto.utilities.aws_headers as aws_headers
from moto.server import main

_request_ids = random.SystemRandom()
_ALPHABET = string.ascii_letters + string.digits


def _request_id(headerdict=None):
    request_id = "".join(_request_ids.choice(_ALPHABET) for _ in range(52))
    if isinstance(headerdict, dict):
        headerdict["x-amzn-requestid"] = request_id
    return request_id


for module in (core_responses, aws_headers):
    if not hasattr(module, "gen_amzn_requestid_long"):
        sys.exit(f"moto_server.py: {module.__name__}.gen_amzn_requestid_long is gone; this moto version is not supported")
    module.gen_amzn_requestid_long = _request_id

if __name__ == "__main__":
    sys.exit(main())
