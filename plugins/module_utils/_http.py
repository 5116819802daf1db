# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""One HTTP transport for the fleet and Consul clients: ansible's urls.Request, unix sockets, TLS, bounded retries."""

from __future__ import annotations

import json
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import quote

from ansible.module_utils.urls import Request, make_context

RETRY_STATUSES = frozenset((502, 503, 504))


class RequestError(Exception):
    """A failed HTTP exchange: the operation, the resource, and the server's answer (status, body, headers).

    ``status`` is None when no answer came (connection refused, timeout, TLS failure).
    """

    def __init__(self, operation, url, status=None, body="", headers=None, reason=""):
        self.operation = operation
        self.url = url
        self.status = status
        self.body = body if isinstance(body, str) else body.decode("utf-8", "replace")
        self.headers = dict(headers or {})
        self.reason = reason
        super().__init__(str(self))

    def __str__(self):
        if self.status is None:
            return f"{self.operation} {self.url}: no answer: {self.reason}"
        answer = self.body.strip() or self.reason
        return f"{self.operation} {self.url}: HTTP {self.status}: {answer}"


def quote_path(segment):
    """Quote one path segment (unit names keep '@'; fleet accepts it and '%40')."""
    return quote(segment, safe="@:")


class HttpTransport:
    """Issue requests against one base URL (``http(s)://host:port`` or ``unix:///path/to.sock``).

    Connection errors and 502/503/504 answers are retried ``retries`` times with exponential backoff
    starting at ``backoff`` seconds; any other HTTP error raises RequestError at once.
    """

    def __init__(self, endpoint, timeout=10, retries=3, backoff=0.2, validate_certs=True,
                 ca_path=None, client_cert=None, client_key=None, headers=None, sleep=time.sleep):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.headers = dict(headers or {})
        self._sleep = sleep
        if self.endpoint.startswith("unix://"):
            self.unix_socket = self.endpoint[len("unix://"):]
            self.base_url = "http://localhost"
        else:
            self.unix_socket = None
            self.base_url = self.endpoint if "://" in self.endpoint else "http://" + self.endpoint
        self._context = None

    def _ssl_context(self):
        # open_url builds a new TLS context (loading the system CA bundle) for every request, https or not.
        # One context per transport; plain http and unix sockets get a bare one that is never used.
        if self._context is None:
            if self.base_url.startswith("https://"):
                self._context = make_context(cafile=self.ca_path, validate_certs=self.validate_certs,
                                             client_cert=self.client_cert, client_key=self.client_key)
            else:
                self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        return self._context

    def request(self, method, path, body=None, headers=None, timeout=None, operation=None, retry=True):
        """Return (status, body bytes, headers dict). ``body`` may be bytes, str, or a JSON-serialisable value."""
        url = self.base_url + path
        operation = operation or method
        all_headers = dict(self.headers)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        all_headers.update(headers or {})
        attempts = 1 + (self.retries if retry else 0)
        delay = self.backoff
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = Request().open(
                    method, url, data=body, headers=all_headers,
                    timeout=timeout or self.timeout, validate_certs=self.validate_certs,
                    unix_socket=self.unix_socket, follow_redirects="none", use_proxy=self.unix_socket is None,
                    use_netrc=False, context=self._ssl_context(),
                )
                return response.status, response.read(), dict(response.headers.items())
            except HTTPError as e:
                data = e.read() if hasattr(e, "read") else b""
                if e.code in RETRY_STATUSES and not last:
                    self._sleep(delay)
                    delay *= 2
                    continue
                raise RequestError(operation, self._display(url), e.code, data, dict(e.headers.items()) if e.headers else {}, e.reason)
            except (URLError, socket.timeout, ConnectionError, OSError) as e:
                if not last:
                    self._sleep(delay)
                    delay *= 2
                    continue
                reason = getattr(e, "reason", None) or e
                raise RequestError(operation, self._display(url), None, "", None, str(reason))
        raise AssertionError("unreachable")

    def request_json(self, method, path, body=None, **kwargs):
        """Like request(), with the body decoded as JSON (None for an empty body)."""
        status, data, headers = self.request(method, path, body=body, **kwargs)
        if not data:
            return status, None, headers
        try:
            return status, json.loads(data), headers
        except ValueError as e:
            raise RequestError(kwargs.get("operation") or method, self._display(self.base_url + path), status, data, headers,
                               f"answer is not JSON: {e}")

    def _display(self, url):
        if self.unix_socket:
            return f"unix://{self.unix_socket}:{url[len(self.base_url):]}"
        return url
