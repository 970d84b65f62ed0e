"""The studio from outside, as an attacker and an impatient script try it: each finding of the
review of the doors (DNS rebinding, same-origin documents, lost edits, unchecked values, the
low ones) reproduced against the real app, on a real uvicorn where timing matters."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.testclient import TestClient

from dramaforge.errors import BudgetExceeded, EditError
from dramaforge.graph import edits
from dramaforge.graph.cost import Ledger
from dramaforge.graph.session import session_for
from dramaforge.serve.studio import create_app, slow
from dramaforge.serve.studio import guard as guard_module
from dramaforge.serve.studio.guard import hosts_for
from tests.helpers import FIXTURES, settings_for
from tests.studio_browser import serving

TEXT = (FIXTURES / "short.zh.txt").read_text("utf-8")


def _client(root: Path, base: str = "http://127.0.0.1:8700", **kwargs: Any) -> TestClient:
    return TestClient(create_app(root, settings_for(), **kwargs), base_url=base)


def _planned(root: Path, name: str = "pasted") -> TestClient:
    client = _client(root)
    board = client.post("/plan", data={"name": name, "text": TEXT})
    assert board.status_code == 200 and board.url.path == f"/e/out/{name}"
    return client


def _plan_of(root: Path, name: str = "pasted") -> Any:
    script = root / "scripts" / f"{name}.txt"
    with session_for(script, root / "out", settings_for(), approve=True) as s:
        return s.plan()


# ---- DNS rebinding: the exact bound names only ----------------------------------------------


REBOUND = (
    "127.0.0.1.evil.example:8700",
    "127.evil.example",
    "127.0.0.1.nip.io:8700",
    "[::1].evil.example",
    "localhost.evil.example",
    "evil.example",
)


def test_only_the_exact_loopback_names_are_answered(tmp_path: Path) -> None:
    client = _client(tmp_path)
    for host in REBOUND:
        assert client.get("/", headers={"host": host}).status_code == 403, host
        posted = client.post(
            "/plan",
            data={"name": "x", "text": TEXT},
            headers={"host": host, "origin": f"http://{host}"},
        )
        assert posted.status_code == 403, host
    assert not (tmp_path / "scripts").exists()  # nothing was planned through a rebound name
    for host in ("127.0.0.1:8700", "localhost:8700", "127.0.0.1"):
        assert client.get("/", headers={"host": host}).status_code == 200, host


def test_the_bound_address_decides_the_names() -> None:
    assert hosts_for("::1").allow("[::1]:8700") and not hosts_for("::1").allow("127.0.0.1")
    assert not hosts_for("127.0.0.2").allow("localhost")  # localhost is 127.0.0.1, not .2
    lan = hosts_for("192.0.2.7")
    assert lan.allow("192.0.2.7:8700") and not lan.allow("192.0.2.7.evil.example")
    anywhere = hosts_for("0.0.0.0")
    assert anywhere.allow("198.51.100.4:8700") and anywhere.allow("[2001:db8::1]:8700")
    assert not anywhere.allow("127.0.0.1.nip.io") and not anywhere.allow("evil.example")


def test_token_mode_checks_the_host_too_and_never_redirects_off_site(tmp_path: Path) -> None:
    remote = _client(tmp_path, "http://192.0.2.7:8700", host="0.0.0.0", token="s3cret")
    rebound = remote.get("/?token=s3cret", headers={"host": "127.0.0.1.evil.example"})
    assert rebound.status_code == 403
    for path in ("//evil.example/", "/\\evil.example/", "///evil.example"):
        entered = remote.get(f"http://192.0.2.7:8700{path}?token=s3cret", follow_redirects=False)
        where = entered.headers["location"]
        assert entered.status_code == 307 and where.startswith("/"), where
        assert not where.startswith(("//", "/\\")) and "token" not in where, where
    assert remote.get("/").status_code == 200  # the cookie carries the token from here


# ---- workspace files: documents are sandboxed or downloaded ---------------------------------


def test_workspace_documents_never_run_as_the_studio(tmp_path: Path) -> None:
    out = tmp_path / "out" / "ep"
    out.mkdir(parents=True)
    xhtml = (
        '<html xmlns="http://www.w3.org/1999/xhtml"><script src="/static/htmx.min.js"/>'
        "<body hx-post='/plan' hx-trigger='load'/></html>"
    )
    for name in ("cut.xml", "cut.fcpxml", "page.html", "manifest.json", "episode.srt"):
        (out / name).write_text(xhtml, encoding="utf-8")
    Image.new("RGB", (4, 4)).save(out / "frame.png")
    client = _client(tmp_path)
    for name in ("cut.xml", "cut.fcpxml"):
        got = client.get(f"/files/out/ep/{name}")
        assert got.status_code == 200
        assert got.headers["content-disposition"].startswith("attachment"), name
        assert got.headers["content-security-policy"].startswith("sandbox;"), name
    for name in ("page.html", "manifest.json", "episode.srt"):
        got = client.get(f"/files/out/ep/{name}")
        assert got.headers["content-security-policy"].startswith("sandbox;"), name
    picture = client.get("/files/out/ep/frame.png")
    assert not picture.headers["content-security-policy"].startswith("sandbox")
    assert "content-disposition" not in picture.headers


def test_hard_links_to_outside_files_are_not_served(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shots = root / "out" / "ep" / "shots" / "s01-01"
    shots.mkdir(parents=True)
    (tmp_path / "credentials").write_text('{"key": "secret"}')
    os.link(tmp_path / "credentials", root / "out" / "ep" / "notes.json")
    Image.new("RGB", (4, 4)).save(tmp_path / "store.png")
    os.link(tmp_path / "store.png", shots / "take1_keyframe.png")  # how takes are placed
    os.link(tmp_path / "store.png", root / "out" / "ep" / "elsewhere.png")
    client = _client(root)
    assert client.get("/files/out/ep/notes.json").status_code == 404
    assert client.get("/files/out/ep/elsewhere.png").status_code == 404
    assert client.get("/files/out/ep/shots/s01-01/take1_keyframe.png").status_code == 200


def test_nul_bytes_and_overlong_names_are_bad_requests(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.get("/files/out/a%00b.png").status_code == 400
    assert client.get("/files/" + "a" * 300 + ".png").status_code == 400
    long_name = client.post("/plan", data={"name": "n" * 300, "text": TEXT})
    assert long_name.status_code == 400 and "at most" in long_name.text
    nul = client.post("/plan", data={"script": "scripts/a\x00.txt"})
    assert nul.status_code == 400 and "usable path" in nul.text


# ---- refusals are 4xx; values are checked the same way everywhere ----------------------------


def test_refusals_have_a_4xx_status_and_say_why(tmp_path: Path) -> None:
    client = _planned(tmp_path)
    refused = client.post("/e/out/pasted/shots/1/edit", data={"camera": "spin"})
    assert refused.status_code == 400 and "one of" in refused.text
    moved = client.post("/e/out/pasted/shots/1/move", data={"to": "nan"})
    assert moved.status_code == 400 and "must be a number" in moved.text
    assert client.get("/e/out/nothing").status_code == 404
    done = client.post("/e/out/pasted/shots/1/edit", data={"framing": "wide"})
    assert done.status_code == 200 and done.history[0].status_code == 303


def test_added_shots_take_only_a_sane_duration(tmp_path: Path) -> None:
    client = _planned(tmp_path)
    for seconds in ("nan", "inf", "-inf", "-5", "0", "1e9"):
        data = {"after": "1", "prompt": "雨", "duration": seconds}
        added = client.post("/e/out/pasted/add", data=data)
        assert added.status_code == 400 and "seconds" in added.text, seconds
    assert len(_plan_of(tmp_path).shots) == 5
    assert "5</td>" in client.get("/").text  # the home page still counts 5 shots, no "nan"


def test_texts_are_bounded_on_every_path(tmp_path: Path) -> None:
    client = _planned(tmp_path)
    huge = "雨" * 100_000  # 300 kB of UTF-8: a form field the server reads, over the bound
    assert client.post("/e/out/pasted/add", data={"after": "1", "prompt": huge}).status_code == 400
    look = client.post("/e/out/pasted/characters/阿明", data={"look": huge})
    assert look.status_code == 400 and "at most" in look.text
    plan = _plan_of(tmp_path)
    assert len(plan.shots) == 5
    # The same rules for chat, MCP and rerender: they all edit through graph/edits.py.
    for bad in (math.nan, math.inf, -5.0, 0.0, 1e9):
        with pytest.raises(EditError):
            edits.add_shot(plan, 1, "雨", duration=bad)
        with pytest.raises(EditError):
            edits.edit_shot(plan, 1, "duration", bad)
    with pytest.raises(EditError):
        edits.edit_shot(plan, 1, "prompt", huge)


def test_the_budget_guard_refuses_a_cost_it_cannot_compare() -> None:
    ledger = Ledger(budget=1.0)
    for cost in (math.nan, math.inf, -1.0):
        with pytest.raises(BudgetExceeded):
            ledger.reserve(cost, "a clip")
    ledger.reserve(0.5, "a clip")
    ledger.settle(0.5, math.nan)  # a provider's odd answer keeps what was reserved
    assert ledger.spent == 0.5
    with pytest.raises(BudgetExceeded):
        ledger.reserve(0.75, "another clip")
    for budget in (math.nan, math.inf, -1.0):  # a budget of NaN would refuse nothing
        with pytest.raises(BudgetExceeded, match="not an amount"):
            Ledger(budget=budget).reserve(0.0, "a clip")


# ---- planning is a POST; the home page survives odd folders ----------------------------------


def test_a_get_never_plans_a_script(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copyfile(FIXTURES / "short.zh.txt", tmp_path / "scripts" / "short.zh.txt")
    client = _client(tmp_path)
    for url in ("/e/out/short", "/e/out/short/render"):
        got = client.get(url)
        assert got.status_code == 404 and "not planned yet" in got.text
    with session_for(tmp_path / "scripts" / "short.zh.txt", tmp_path / "out", settings_for()) as s:
        assert s.status() == "new"


def test_home_lists_only_episodes_inside_and_survives_a_broken_manifest(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "out" / "broken").mkdir(parents=True)
    (root / "out" / "broken" / "manifest.json").write_text("{not json")
    outside = tmp_path / "elsewhere" / "leaked"
    outside.mkdir(parents=True)
    (outside / "manifest.json").write_text('{"title": "SECRET TITLE"}')
    (root / "out" / "leaked").symlink_to(outside)
    client = _client(root)
    home = client.get("/")
    assert home.status_code == 200
    assert "out/broken" in home.text and "unreadable" in home.text
    assert "leaked" not in home.text and "SECRET" not in home.text
    for url in ("/e/out/broken", "/e/out/broken/render"):  # its pages say so, not 500
        page = client.get(url)
        assert page.status_code == 404 and "not a readable dramaforge manifest" in page.text
    edit = client.post("/e/out/broken/shots/1/edit", data={"framing": "wide"})
    assert edit.status_code == 404 and "not a readable dramaforge manifest" in edit.text


# ---- simultaneous edits, on a real server ----------------------------------------------------


def test_simultaneous_edits_are_all_kept(tmp_path: Path) -> None:
    _planned(tmp_path)
    app = create_app(tmp_path, settings_for())
    cameras = ["zoom_in", "zoom_out", "pan_left", "pan_right", "static"]
    edits_made = [(n, {"prompt": f"新的画面 {n}"}) for n in range(1, 6)]
    edits_made += [(n, {"camera": cameras[n - 1]}) for n in range(1, 6)]
    edits_made.append((3, {"framing": "wide"}))
    with serving(app) as base:

        def post(item: tuple[int, dict[str, str]]) -> int:
            n, data = item
            with httpx.Client(base_url=base) as http:
                return http.post(f"/e/out/pasted/shots/{n}/edit", data=data).status_code

        def add(i: int) -> int:
            with httpx.Client(base_url=base) as http:
                data = {"after": "1", "prompt": f"加的镜头 {i}", "duration": "2"}
                return http.post("/e/out/pasted/add", data=data).status_code

        with ThreadPoolExecutor(11) as pool:
            assert set(pool.map(post, edits_made)) == {303}
        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(add, range(4))) == {303}
    plan = _plan_of(tmp_path)
    assert len(plan.shots) == 9
    assert {s.visual_prompt for s in plan.shots if s.visual_prompt.startswith("加的镜头")} == {
        f"加的镜头 {i}" for i in range(4)
    }
    kept = [s for s in plan.shots if not s.visual_prompt.startswith("加的镜头")]
    assert [s.visual_prompt for s in kept] == [f"新的画面 {n}" for n in range(1, 6)]
    assert [s.camera for s in kept] == cameras
    assert kept[2].framing == "wide"


def test_an_edit_while_another_process_renders_the_episode_is_refused(tmp_path: Path) -> None:
    client = _planned(tmp_path)
    settings = settings_for()
    script = tmp_path / "scripts" / "pasted.txt"
    with session_for(script, tmp_path / "out", settings, approve=True) as s:
        lock = settings.state_root(tmp_path / "out") / "locks" / f"{s.thread}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)  # where Session.running's lock file goes
    holder = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
        "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"
    )
    other = subprocess.Popen([sys.executable, "-c", holder, str(lock)], stdout=subprocess.PIPE)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == b"held"
        refused = client.post("/e/out/pasted/shots/1/edit", data={"framing": "insert"})
        assert refused.status_code == 409 and "another dramaforge" in refused.text
    finally:
        other.kill()
        other.wait()
    done = client.post("/e/out/pasted/shots/1/edit", data={"framing": "insert"})
    assert done.status_code == 200 and done.history[0].status_code == 303
    assert _plan_of(tmp_path).shots[0].framing == "insert"


# ---- slow clients --------------------------------------------------------------------------


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    sock.settimeout(seconds)
    got = b""
    try:
        while chunk := sock.recv(4096):
            got += chunk
    except TimeoutError:
        raise AssertionError("the server kept a slow client's connection open") from None
    return got


def test_slow_headers_and_bodies_are_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(slow, "HEADER_SECONDS", 0.5)
    monkeypatch.setattr(guard_module, "BODY_SECONDS", 0.5)
    app = create_app(tmp_path, settings_for())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, http=slow.HeaderDeadline, log_level="warning"
        )
    )
    import threading

    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line
            assert _closed_within(sock, 5) == b""
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /plan HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nt"
            )
            answer = _closed_within(sock, 5)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
        ok = httpx.get(f"http://127.0.0.1:{port}/")
        assert ok.status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)


def test_an_oversized_body_is_refused(tmp_path: Path) -> None:
    client = _client(tmp_path)
    big = client.post("/plan", data={"name": "big", "text": "x" * (5 * 1024 * 1024)})
    assert big.status_code == 413
    assert not (tmp_path / "scripts" / "big.txt").exists()
