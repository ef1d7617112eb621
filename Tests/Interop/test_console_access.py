"""Who may use the console (issue #16) when its admin listener is reachable from other machines.

On loopback nobody is asked for anything (test_console.py). Here the broker runs in a network
namespace made for the test, its Kafka listener on the namespace's 127.0.0.1 and its admin
listener on 10.78.0.1, an address that is not loopback; the test's HTTP requests are made from a
thread that has joined that namespace. Nothing binds outside it. With `console.password.hash` set,
every page asks for a sign-in (a browser is sent to /login, anything else gets 401 with a Basic
challenge, which Prometheus can answer); with `console.readonly.password.hash` a second password
sees everything and changes nothing; with no hash at all the console stays off there while
/metrics, /v1/*, /health and /ready answer as before. Needs root (network namespaces).
"""

from __future__ import annotations

import base64
import concurrent.futures
import ctypes
import http.client
import itertools
import os
import shutil
import subprocess
import tempfile
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import pytest

import cluster_network
from strom_server import STROM_BINARY, StromServer, unique_topic
from test_console import browser, snapshot  # noqa: F401 (browser is a fixture)

ADMIN_ADDRESS = "10.78.0.1"
CLONE_NEWNET = 0x40000000
ADMIN_PASSWORD = "correct horse battery staple"
READ_ONLY_PASSWORD = "just looking"
CONSOLE_PAGES = ["/", "/topics", "/topics/{topic}", "/messages", "/messages?topic={topic}", "/groups", "/alerts"]


def hash_password(password: str) -> str:
    """`strom console hash-password` (cost 4: quick to check, as a test wants)."""
    made = subprocess.run([STROM_BINARY, "console", "hash-password", "--cost", "4"], input=password + "\n",
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, made.stderr
    hashed = made.stdout.strip()
    assert hashed.startswith("$2") and len(hashed) == 60, hashed
    return hashed


class Namespace:
    """A network namespace with only its loopback device, which also holds ADMIN_ADDRESS/32; and a
    thread inside it for the test's HTTP requests (setns moves only the thread that calls it)."""

    made = itertools.count()

    def __init__(self):
        self.name = f"strom{os.getpid()}-console{next(Namespace.made)}"
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None

    def create(self) -> "Namespace":
        for command in (["ip", "netns", "add", self.name], ["ip", "-n", self.name, "link", "set", "lo", "up"],
                        ["ip", "-n", self.name, "addr", "add", f"{ADMIN_ADDRESS}/32", "dev", "lo"]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, initializer=self._enter)
        return self

    def _enter(self):
        descriptor = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(descriptor, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {self.name} failed")
        finally:
            os.close(descriptor)

    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, function, *args):
        """`function(*args)` on the thread inside the namespace."""
        return self.executor.submit(function, *args).result(timeout=60)

    def destroy(self):
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Answer:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: str):
        self.status, self.headers, self.body = status, headers, body

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def cookies(self) -> dict[str, str]:
        """The Set-Cookie headers by name: the whole header (value and attributes)."""
        return {header.split("=", 1)[0]: header for header in self.headers.get_all("Set-Cookie") or []}

    def __repr__(self):
        return f"{self.status} {self.location or ''} {self.body[:200]!r}"


class Browser:
    """What a browser does that matters here: keeps cookies, sends forms; follows no redirect (the
    test checks each). Its requests go out from inside the namespace."""

    def __init__(self, namespace: Namespace, admin_port: int):
        self.namespace, self.port = namespace, admin_port
        self.cookies: dict[str, str] = {}

    @property
    def csrf(self) -> str:
        return self.cookies["strom_csrf"]

    def request(self, method: str, path: str, fields: dict | None = None, headers: dict | None = None) -> Answer:
        def send() -> Answer:
            connection = http.client.HTTPConnection(ADMIN_ADDRESS, self.port, timeout=20)
            sent = dict(headers or {})
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            body = None
            if fields is not None:
                body = urllib.parse.urlencode(fields)
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            try:
                connection.request(method, path, body=body, headers=sent)
                answer = connection.getresponse()
                return Answer(answer.status, answer.msg, answer.read().decode("utf-8", "replace"))
            finally:
                connection.close()

        answer = self.namespace.run(send)
        for name, header in answer.cookies().items():
            value = header.split(";")[0].split("=", 1)[1]
            attributes = [part.strip().lower() for part in header.split(";")[1:]]
            if value == "" or "max-age=0" in attributes:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def get(self, path: str, **headers) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: dict) -> Answer:
        return self.request("POST", path, fields)

    def sign_in(self, password: str, next_path: str = "/") -> Answer:
        page = self.get(f"/login?next={urllib.parse.quote(next_path, safe='')}")
        assert page.status == 200 and "strom_csrf" in self.cookies, page
        return self.post("/login", {"csrf": self.csrf, "password": password, "next": next_path})


@contextmanager
def broker_in_namespace(overrides: dict):
    """A broker in a fresh namespace: Kafka on its 127.0.0.1, the admin listener on ADMIN_ADDRESS.
    Stopped by pid, then the namespace deleted, whatever happens."""
    if not STROM_BINARY:
        pytest.skip("STROM_BINARY is not set (scripts/test.sh sets it)")
    reason = cluster_network.available()
    if reason is not None:
        # The README calls sign-in proven: a machine that cannot show it fails rather than skips.
        pytest.fail(f"network namespaces are not available here: {reason}")
    data_dir = Path(tempfile.mkdtemp(prefix="strom-console-access-"))
    namespace = Namespace()
    server = None
    try:
        namespace.create()
        server = StromServer(data_dir / "broker", overrides=overrides, command_prefix=namespace.prefix(),
                             admin_host=ADMIN_ADDRESS).start()
        yield server, namespace
    finally:
        try:
            if server is not None:
                assert server.stop() == 0, "strom serve did not exit cleanly on SIGTERM"
        finally:
            namespace.destroy()
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def guarded():
    """One broker for the module, with both passwords set."""
    overrides = {"console.password.hash": hash_password(ADMIN_PASSWORD),
                 "console.readonly.password.hash": hash_password(READ_ONLY_PASSWORD)}
    with broker_in_namespace(overrides) as (server, namespace):
        yield server, namespace


def pages(topic: str) -> list[str]:
    return [page.format(topic=topic) for page in CONSOLE_PAGES]


def test_off_loopback_every_page_asks_for_the_password_and_machines_get_a_basic_challenge(guarded):
    """Without a session: each console page sends the browser to /login (and back after), the
    machine endpoints and any form answer 401 with a Basic challenge, the probes answer."""
    server, namespace = guarded
    stranger = Browser(namespace, server.admin_port)
    for page in pages("some-topic"):
        answer = stranger.get(page)
        assert answer.status == 303 and answer.location.startswith("/login?next="), (page, answer)
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(answer.location).query)["next"] == [page], (page, answer)
    for endpoint in ["/metrics", "/v1/cluster", "/v1/topics"]:
        answer = stranger.get(endpoint)
        assert answer.status == 401, (endpoint, answer)
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="strom"'), answer.headers
    assert stranger.get("/login").status == 200 and "strom_csrf" in stranger.cookies
    # A form with a good CSRF token is still not a sign-in.
    answer = stranger.post("/topics", {"csrf": stranger.csrf, "name": unique_topic(), "partitions": "1"})
    assert answer.status == 401 and answer.headers["WWW-Authenticate"].startswith('Basic realm="strom"'), answer
    for probe in ["/health", "/ready"]:
        assert stranger.get(probe).status == 200, probe
    assert "strom_session" not in stranger.cookies


def test_the_admin_password_signs_in_and_its_forms_need_the_csrf_token(guarded):
    """A wrong password goes back to the form with ?failed=1; the right one sets a session cookie
    and goes where the browser was going; then every page opens and the create-topic form works,
    but only with the CSRF token. Prometheus's Basic credentials read /metrics. Signing out ends
    the session."""
    server, namespace = guarded
    user = Browser(namespace, server.admin_port)
    answer = user.sign_in("not the password", "/topics")
    assert answer.status == 303 and answer.location.startswith("/login?failed=1"), answer
    assert "strom_session" not in user.cookies
    failed = user.get(answer.location)
    assert failed.status == 200 and "Wrong password." in failed.body
    # A sign-in form without the token signs nobody in.
    answer = user.request("POST", "/login", {"password": ADMIN_PASSWORD, "next": "/topics"})
    assert answer.status == 403 and "strom_session" not in user.cookies, answer

    answer = user.sign_in(ADMIN_PASSWORD, "/topics")
    assert (answer.status, answer.location) == (303, "/topics"), answer
    session = answer.cookies().get("strom_session", "")
    assert "strom_session" in user.cookies, answer.cookies()
    assert "samesite=strict" in session.lower() and "httponly" in session.lower(), session

    topic = unique_topic()
    answer = user.post("/topics", {"csrf": user.csrf, "name": topic, "partitions": "2", "replication": ""})
    assert (answer.status, answer.location) == (303, f"/topics/{topic}"), answer
    created = user.get(f"/topics/{topic}")
    assert created.status == 200 and '<p class="notice ok" role="status">Created topic ' + topic + ".</p>" in created.body
    for page in pages(topic):
        answer = user.get(page)
        assert answer.status == 200, (page, answer)
        assert '<span class="where">admin</span>' in answer.body and "Sign out" in answer.body, page
    assert 'Create topic</button>' in user.get("/topics").body

    # Signed in, a form still needs the token of the cookie.
    for fields in [{"name": unique_topic()}, {"name": unique_topic(), "csrf": "f" * 64}]:
        answer = user.post("/topics", fields)
        assert (answer.status, answer.body) == (403, "missing or wrong CSRF token\n"), answer
        assert user.get(f"/topics/{fields['name']}").status == 404, "a refused form created the topic"
    answer = user.post(f"/topics/{topic}/delete", {"confirm": topic})
    assert answer.status == 403 and user.get(f"/topics/{topic}").status == 200

    # Prometheus sends Basic credentials (any user name).
    prometheus = Browser(namespace, server.admin_port)
    for password in [ADMIN_PASSWORD, READ_ONLY_PASSWORD]:
        token = base64.b64encode(f"prometheus:{password}".encode()).decode()
        answer = prometheus.get("/metrics", Authorization=f"Basic {token}")
        assert answer.status == 200 and "kafka_server_" in answer.body, answer
    wrong = base64.b64encode(b"prometheus:guess").decode()
    assert prometheus.get("/metrics", Authorization=f"Basic {wrong}").status == 401

    # A next= that leaves the console is not followed.
    elsewhere = Browser(namespace, server.admin_port)
    answer = elsewhere.sign_in(ADMIN_PASSWORD, "//example.com/")
    assert (answer.status, answer.location) == (303, "/"), answer

    answer = user.post("/logout", {"csrf": user.csrf})
    assert (answer.status, answer.location) == (303, "/login"), answer
    assert user.get("/topics").status == 303, "signed out, the pages ask again"


def test_the_read_only_password_sees_every_page_and_changes_nothing(guarded):
    """The read-only role opens every page, is shown no form that changes anything, and each
    change it posts anyway (with a valid CSRF token) is refused; it can sign out."""
    server, namespace = guarded
    admin = Browser(namespace, server.admin_port)
    assert admin.sign_in(ADMIN_PASSWORD).status == 303
    topic = unique_topic()
    assert admin.post("/topics", {"csrf": admin.csrf, "name": topic, "partitions": "1"}).status == 303

    reader = Browser(namespace, server.admin_port)
    answer = reader.sign_in(READ_ONLY_PASSWORD, f"/topics/{topic}")
    assert (answer.status, answer.location) == (303, f"/topics/{topic}"), answer
    for page in pages(topic):
        answer = reader.get(page)
        assert answer.status == 200, (page, answer)
        assert '<span class="where">read-only</span>' in answer.body, page
        for button in ["Create topic", "Add partitions", "Set config", "Delete topic", "Produce", "Preview (dry run)"]:
            assert f">{button}</button>" not in answer.body, (page, button)
        assert "Sign out</button>" in answer.body
    assert f"<h1>{topic}</h1>" in reader.get(f"/topics/{topic}").body

    refused = {"/topics": {"name": unique_topic(), "partitions": "1"},
               f"/topics/{topic}/partitions": {"count": "3"},
               f"/topics/{topic}/configs": {"name": "retention.ms", "value": "1000"},
               f"/topics/{topic}/delete": {"confirm": topic},
               "/messages/produce": {"topic": topic, "partition": "0", "key": "k", "value": "v", "headers": ""},
               "/groups/some-group/reset": {"topic": topic, "to": "earliest"}}
    for path, fields in refused.items():
        answer = reader.post(path, {"csrf": reader.csrf, **fields})
        assert (answer.status, answer.body) == (403, "the read-only role cannot change anything\n"), (path, answer)
    assert reader.get(f"/topics/{refused['/topics']['name']}").status == 404
    page = admin.get(f"/topics/{topic}").body
    assert page.count('<span class="ok">in sync</span>') == 1, "still one partition"
    assert "retention.ms</td><td>1000<" not in page
    messages = admin.get(f"/messages?topic={topic}&partition=0&from=beginning").body
    assert "No records here." in messages, "nothing produced"

    answer = reader.post("/logout", {"csrf": reader.csrf})
    assert (answer.status, answer.location) == (303, "/login"), answer
    assert reader.get("/topics").status == 303


def test_off_loopback_without_a_password_the_console_is_off_but_the_endpoints_answer():
    """No console.password.hash: the console's pages and forms answer 403 off loopback (nobody could
    sign in), while Prometheus, the CLI's /v1 and the probes are served as before the console."""
    with broker_in_namespace({}) as (server, namespace):
        visitor = Browser(namespace, server.admin_port)
        for page in [*pages("some-topic"), "/login"]:
            answer = visitor.get(page)
            assert answer.status == 403 and answer.body.startswith("The console is off"), (page, answer)
        answer = visitor.post("/topics", {"csrf": "x", "name": unique_topic()})
        assert answer.status == 403 and answer.body.startswith("The console is off"), answer
        assert "strom_csrf" not in visitor.cookies
        metrics = visitor.get("/metrics")
        assert metrics.status == 200 and "kafka_server_" in metrics.body
        for endpoint in ["/v1/cluster", "/v1/topics", "/health", "/ready"]:
            assert visitor.get(endpoint).status == 200, endpoint


def test_the_sign_in_page_reads_well_in_a_browser(guarded, browser):
    """The sign-in page as the guarded listener serves it, shown by chromium (which runs outside
    the namespace, so it is given the page's HTML): no console errors, fits a phone; its
    screenshots join the others."""
    server, namespace = guarded
    answer = Browser(namespace, server.admin_port).get("/login?next=/topics")
    assert answer.status == 200 and 'name="password"' in answer.body, answer
    browser.get("data:text/html;base64," + base64.b64encode(answer.body.encode()).decode())
    snapshot(browser, "login")
