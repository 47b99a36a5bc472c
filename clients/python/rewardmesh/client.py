"""The HTTP client: POST /v1/rewards with retries, standard library only."""

import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

DEFAULT_URL = "http://127.0.0.1:8080"

# Statuses that say the mesh, not the request, failed: worth sending again.
_RETRYABLE_STATUSES = {408, 429, 500, 502, 503, 504}

# Item error codes that blame the item itself, as the gateway's 4xx do.
_BAD_ITEM_CODES = {"invalid", "too_large", "not_found"}

# Items per request: well under the gateway's 20,000-item and 64 MiB limits, and
# small enough that a few requests in flight keep every replica busy.
_CHUNK = 1024
_PARALLEL_CHUNKS = 4


class RewardMeshError(Exception):
    """A request or item the mesh answered with an error.

    code is the API's error code (invalid, unavailable, timeout, busy, ...);
    retryable says the mesh failed rather than the item.
    """

    def __init__(self, code, message, retryable=False, status=None):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status


class MeshUnavailable(RewardMeshError):
    """The mesh could not score, and retrying for retry_for seconds did not help."""


class InvalidItem(RewardMeshError, ValueError):
    """The item (or request) is wrong itself; sending it again cannot help."""


def _env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value else default


def item_error(result):
    """The error of one result of /v1/rewards as an exception, or None."""
    err = result.get("error") if isinstance(result, dict) else None
    if not err:
        return None
    code, message = err.get("code", "internal"), err.get("message", "")
    if is_retryable(result):
        return MeshUnavailable(code, message, retryable=True)
    if code in _BAD_ITEM_CODES:
        return InvalidItem(code, message)
    return RewardMeshError(code, message)


def is_retryable(result):
    err = result.get("error") if isinstance(result, dict) else None
    return bool(err) and (err.get("retryable") is True or err.get("code") == "busy")


class Client:
    """A rewardmesh gateway.

    base_url defaults to $REWARDMESH_URL (else http://127.0.0.1:8080); timeout is
    one HTTP request's limit in seconds ($REWARDMESH_TIMEOUT, default 600);
    retry_for is how long failures of the mesh are retried, with backoff, before
    they are given up ($REWARDMESH_RETRY_FOR, default 120).
    """

    def __init__(self, base_url=None, timeout=None, retry_for=None, backoff=0.5, max_backoff=10.0):
        self.base_url = (base_url or os.environ.get("REWARDMESH_URL") or DEFAULT_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else _env_float("REWARDMESH_TIMEOUT", 600.0)
        self.retry_for = retry_for if retry_for is not None else _env_float("REWARDMESH_RETRY_FOR", 120.0)
        self.backoff = backoff
        self.max_backoff = max_backoff

    def rewards(self, items):
        """Score /v1/rewards items ({"domain","response","reference"}), one result
        dict per item, in order. Failures of the mesh (connection refused, 429,
        5xx, items answered retryable or busy) are retried with backoff for up to
        retry_for seconds; an item still failing then keeps its error. A request
        the gateway refuses as wrong (4xx) raises InvalidItem at once."""
        items = list(items)
        if len(items) <= _CHUNK:
            return self._rewards_chunk(items)
        chunks = [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]
        with ThreadPoolExecutor(max_workers=_PARALLEL_CHUNKS) as pool:
            results = []
            for chunk_results in pool.map(self._rewards_chunk, chunks):
                results.extend(chunk_results)
            return results

    def _rewards_chunk(self, items):
        results = [None] * len(items)
        pending = list(range(len(items)))
        deadline = time.monotonic() + self.retry_for
        delay = self.backoff
        while pending:
            try:
                answered = self._post("/v1/rewards", {"items": [items[i] for i in pending]})["results"]
                if len(answered) != len(pending):
                    raise RewardMeshError("internal", "%d results for %d items" % (len(answered), len(pending)), retryable=True)
                again = []
                for i, result in zip(pending, answered):
                    results[i] = result
                    if is_retryable(result):
                        again.append(i)
                pending = again
            except RewardMeshError as e:
                if not e.retryable:
                    raise
                for i in pending:
                    results[i] = {"error": {"code": e.code, "message": e.message, "retryable": True}}
            if not pending or time.monotonic() + delay > deadline:
                break
            time.sleep(delay * (1 + random.random() / 2))
            delay = min(2 * delay, self.max_backoff)
        return results

    def _post(self, path, body):
        data = json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise _http_error(e) from None
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
            reason = getattr(e, "reason", e)
            raise MeshUnavailable("unavailable", "POST %s%s: %s" % (self.base_url, path, reason), retryable=True) from None
        except ValueError as e:  # a body that is not JSON: a proxy's error page, a cut connection
            raise MeshUnavailable("internal", "POST %s%s answered undecodable JSON: %s" % (self.base_url, path, e), retryable=True) from None


def _http_error(e):
    try:
        err = json.loads(e.read()).get("error") or {}
    except (ValueError, AttributeError, OSError):
        err = {}
    code = err.get("code") or "http_%d" % e.code
    message = err.get("message") or str(e.reason)
    if e.code in _RETRYABLE_STATUSES:
        return MeshUnavailable(code, message, retryable=True, status=e.code)
    if 400 <= e.code < 500:
        return InvalidItem(code, message, status=e.code)
    return RewardMeshError(code, message, status=e.code)


_default = None
_default_lock = threading.Lock()


def default_client():
    """The client the module-level functions use, built from the environment on
    first use (REWARDMESH_URL, REWARDMESH_TIMEOUT, REWARDMESH_RETRY_FOR)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def configure(**kwargs):
    """Replace the client the module-level functions use: configure(base_url=...,
    timeout=..., retry_for=...) takes Client's arguments, where a trainer's config
    cannot set the environment. Returns the new client."""
    global _default
    with _default_lock:
        _default = Client(**kwargs)
        return _default
