"""Paid once under concurrency and lag: one writer per asset, lost replies are "unknown",
claims are account-wide and adoption matches the request.

Counts are the fake DashScope's own (``submits``: tasks created, that is tasks paid for).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from dramaforge.config import DashScopeSettings
from dramaforge.errors import ProviderError
from dramaforge.media.store import AssetStore, FileJournal, content_key
from dramaforge.schema import Asset
from dramaforge.tools.dashscope import lookup, reconcile
from dramaforge.tools.dashscope.image import DashScopeImage
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.protocols import Generated, ImageRequest, SubmitIntent
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import ROOT

BACKEND = "dashscope:qwen-image"


def settings(url: str, key: str, ledger: str, **extra: float) -> DashScopeSettings:
    values: dict[str, float] = {"timeout": 2.0, "list_lag": 0.5} | extra
    return DashScopeSettings(
        api_key=key, base_url=url, max_retries=2, poll_interval=0.01, ledger=Path(ledger),
        **values,
    )  # fmt: skip


def request(seed: int = 7, prompt: str = "a lantern-lit alley at night") -> ImageRequest:
    return ImageRequest(
        prompt=f"{prompt}, take {seed}", width=360, height=640, seed=seed,
        framing="wide", scene_heading="EXT. ALLEY - NIGHT",
    )  # fmt: skip


def keyframe(
    url: str,
    key: str,
    store: str,
    ledger: str,
    seed: int = 7,
    prompt: str = "a lantern-lit alley at night",
) -> Asset:
    """One keyframe through the asset store, as the graph makes it (also run in children)."""
    image = DashScopeImage("qwen-image", Transport(settings(url, key, ledger)))
    req = request(seed, prompt)

    def make(dest: Path, journal: FileJournal) -> Generated:
        return image.generate(req, dest, journal)

    asset, _ = AssetStore(Path(store)).produce("keyframe", BACKEND, req, "png", make)
    return asset


def journal_of(
    store: Path, seed: int = 7, prompt: str = "a lantern-lit alley at night"
) -> FileJournal:
    key = content_key("keyframe", BACKEND, request(seed, prompt))
    return FileJournal(AssetStore(store).path("keyframe", key, "png").with_suffix(".task.json"))


def assert_png(asset: Asset) -> None:
    with Image.open(asset.path) as img:
        assert img.size == (360, 640)


# -- one writer per asset ---------------------------------------------------------------------


def test_threads_producing_one_asset_pay_once(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """The same line in two shots has one speech key: four threads, one asset, one task."""
    dashscope_server.running_polls = 5  # the task takes a while, so the threads overlap
    ledger = str(tmp_path / "ledger")
    results: list[Asset] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(
                keyframe(
                    dashscope_server.url, dashscope_server.api_key, str(tmp_path / "s"), ledger
                )
            )
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == 4
    assert dashscope_server.submits["qwen-image"] == 1
    assert sum(not a.cached for a in results) == 1  # one made it, three read it
    assert len({a.path for a in results}) == 1
    assert_png(results[0])


@pytest.mark.slow
def test_four_processes_producing_one_asset_pay_once(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.running_polls = 20
    code = (
        "import sys; from tests.dashscope.test_paid_once import keyframe; "
        "print(keyframe(*sys.argv[1:5]).cached)"
    )
    store, ledger = str(tmp_path / "s"), str(tmp_path / "ledger")
    args = [
        sys.executable,
        "-c",
        code,
        dashscope_server.url,
        dashscope_server.api_key,
        store,
        ledger,
    ]
    children = [
        subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outs = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), outs
    assert sorted(out.strip() for out, _ in outs) == ["False", "True", "True", "True"]
    assert dashscope_server.submits["qwen-image"] == 1


# -- lost replies and a lagging task list --------------------------------------------------------


class VirtualClock:
    """Client and fake server share a clock that sleeping moves on: 8 s of lag in no time."""

    def __init__(self, fake: FakeDashScope, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake, self.offset, self.slept = fake, 0.0, 0.0
        monkeypatch.setattr(lookup, "clock", self.now)
        monkeypatch.setattr(lookup, "pause", self.sleep)

    def now(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += seconds
        self.slept += seconds
        self.fake.advance_clock(seconds)
        time.sleep(0.001)


def test_list_lagging_8s_with_a_lost_reply_is_looked_up_again_not_resubmitted(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply is lost and the task list shows the new task only 8 s later: the submit is
    looked up again with backoff until timeout + list_lag, and adopted."""
    clock = VirtualClock(dashscope_server, monkeypatch)
    dashscope_server.list_lag = 8.0
    dashscope_server.fault("submit", Fault("drop"))
    ledger = str(tmp_path / "ledger")
    asset = keyframe_lagged(dashscope_server, tmp_path, ledger, list_lag=8.0)
    assert dashscope_server.submits["qwen-image"] == 1
    assert dashscope_server.lists >= 3  # not shown at first; looked again with backoff
    assert 8.0 <= clock.slept <= 2.0 + 8.0 + 1.0
    assert_png(asset)
    (task_id,) = dashscope_server.tasks
    assert task_id in reconcile.read_ledger(Path(ledger))


def keyframe_lagged(
    dashscope_server: FakeDashScope, tmp_path: Path, ledger: str, *, list_lag: float
) -> Asset:
    image = DashScopeImage(
        "qwen-image",
        Transport(
            settings(dashscope_server.url, dashscope_server.api_key, ledger, list_lag=list_lag)
        ),
    )
    req = request()
    store = AssetStore(tmp_path / "s")
    asset, _ = store.produce(
        "keyframe", BACKEND, req, "png", lambda dest, j: image.generate(req, dest, j)
    )
    return asset


def test_lost_reply_still_unknown_stops_the_shot_and_the_next_run_resolves_it(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list lags 8 s but only 2 s were configured: the shot stops saying the paid state
    is unknown (never "nothing was paid"); a later run finds the task and pays nothing more."""
    VirtualClock(dashscope_server, monkeypatch)
    dashscope_server.list_lag = 8.0
    dashscope_server.fault("submit", Fault("drop"))
    ledger = str(tmp_path / "ledger")
    with pytest.raises(ProviderError) as err:
        keyframe_lagged(dashscope_server, tmp_path, ledger, list_lag=2.0)
    text = str(err.value)
    assert "paid state unknown" in text and "resolved on the next run" in text
    assert "nothing was paid" not in text and "safe to try again" not in text
    assert not err.value.retryable
    entry = journal_of(tmp_path / "s").read()
    assert entry.intent is not None and entry.task_id is None  # kept for the next run
    dashscope_server.advance_clock(8.0)  # the user runs again a little later
    asset = keyframe_lagged(dashscope_server, tmp_path, ledger, list_lag=2.0)
    assert dashscope_server.submits["qwen-image"] == 1
    assert_png(asset)


def test_a_young_intent_is_not_resubmitted_before_the_list_caught_up(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed right after sending, re-run at once while the list lags: the resumed run
    waits for the list before it concludes that nothing was created."""
    VirtualClock(dashscope_server, monkeypatch)
    dashscope_server.list_lag = 8.0
    req_body = DashScopeImage(
        "qwen-image",
        Transport(settings(dashscope_server.url, dashscope_server.api_key, str(tmp_path / "l"))),
    ).body(request())
    journal = journal_of(tmp_path / "s")
    digest = reconcile.body_digest(req_body)
    journal.intend(SubmitIntent(model="qwen-image", body_sha256=digest, sent_at=lookup.clock()))
    dashscope_server.create_task("image", req_body, None)  # it did reach the server
    asset = keyframe_lagged(dashscope_server, tmp_path, str(tmp_path / "l"), list_lag=8.0)
    assert dashscope_server.submits["qwen-image"] == 1
    assert_png(asset)


def test_a_gateway_page_on_submit_is_unknown_not_refused(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy's bare 502 page may come after the task was created: never read as "nothing
    was paid"; the task is found in the list and adopted, not submitted again."""
    VirtualClock(dashscope_server, monkeypatch)
    dashscope_server.fault("submit", Fault("gateway", status=502))
    asset = keyframe(
        dashscope_server.url, dashscope_server.api_key, str(tmp_path / "s"), str(tmp_path / "l")
    )
    assert dashscope_server.submits["qwen-image"] == 1
    assert dashscope_server.lists >= 1
    assert_png(asset)


# -- claims are account-wide, adoption matches the request ------------------------------------


def test_another_folders_task_with_another_prompt_is_not_adopted(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same model, same minute, another output folder's episode: its prompt differs, so this
    shot's lost submit is not matched to it even before that folder recorded it."""
    VirtualClock(dashscope_server, monkeypatch)
    ledger = str(tmp_path / "ledger")
    other = DashScopeImage(
        "qwen-image", Transport(settings(dashscope_server.url, dashscope_server.api_key, ledger))
    )
    foreign = dashscope_server.create_task("image", other.body(request(7, "a rainy harbour")), None)
    mine = journal_of(tmp_path / "a")
    body = other.body(request())
    digest = reconcile.body_digest(body)
    mine.intend(SubmitIntent(model="qwen-image", body_sha256=digest, sent_at=time.time()))
    asset = keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path / "a"), ledger)
    assert dashscope_server.submits["qwen-image"] == 2  # the foreign task and this shot's own
    assert foreign.task_id not in reconcile.read_ledger(Path(ledger))
    with Image.open(asset.path) as img:
        assert img.size == (360, 640)
    (own,) = (t for t in dashscope_server.tasks.values() if t.task_id != foreign.task_id)
    assert reconcile.prompt_of(own.body) == request().prompt


def test_the_same_prompt_is_adopted_from_the_task_detail(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    VirtualClock(dashscope_server, monkeypatch)
    ledger = str(tmp_path / "ledger")
    image = DashScopeImage(
        "qwen-image", Transport(settings(dashscope_server.url, dashscope_server.api_key, ledger))
    )
    body = image.body(request())
    dashscope_server.create_task("image", image.body(request(7, "a rainy harbour")), None)
    lost = dashscope_server.create_task("image", body, None)  # two candidates: the prompt decides
    journal = journal_of(tmp_path / "a")
    digest = reconcile.body_digest(body)
    journal.intend(SubmitIntent(model="qwen-image", body_sha256=digest, sent_at=time.time()))
    keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path / "a"), ledger)
    assert dashscope_server.submits["qwen-image"] == 2
    assert reconcile.read_ledger(Path(ledger)) == {lost.task_id}


def test_claims_in_the_ledger_are_seen_by_every_output_folder(
    dashscope_server: FakeDashScope, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folder A made a keyframe (its task is claimed in the shared ledger); folder B, in a new
    process, has a lost submit of the same prompt: A's task is not B's."""
    ledger = str(tmp_path / "ledger")
    keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path / "a"), ledger)
    (first,) = dashscope_server.tasks
    assert reconcile.read_ledger(Path(ledger)) == {first}
    monkeypatch.setattr(reconcile, "_CLAIMED", set())  # a new process
    VirtualClock(dashscope_server, monkeypatch)
    image = DashScopeImage(
        "qwen-image", Transport(settings(dashscope_server.url, dashscope_server.api_key, ledger))
    )
    body = image.body(request())
    journal = journal_of(tmp_path / "b")
    digest = reconcile.body_digest(body)
    journal.intend(SubmitIntent(model="qwen-image", body_sha256=digest, sent_at=time.time()))
    keyframe(dashscope_server.url, dashscope_server.api_key, str(tmp_path / "b"), ledger)
    assert dashscope_server.submits["qwen-image"] == 2
    assert first in reconcile.read_ledger(Path(ledger))
    assert len(reconcile.read_ledger(Path(ledger))) == 2  # and B's own


def test_ledger_defaults_to_the_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert (
        DashScopeSettings().ledger == tmp_path / "cache" / "dramaforge" / "dashscope-tasks.ledger"
    )


def test_old_claims_are_pruned_and_an_unwritable_ledger_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = tmp_path / "cache" / "ledger"
    ledger.parent.mkdir()
    now = int(time.time())
    old = [f"old-{n} {now - 5 * 24 * 3600}" for n in range(50)]
    ledger.write_text("\n".join([*old, f"recent {now - 3600}", "legacy-id", ""]))
    monkeypatch.setattr(reconcile, "PRUNE_BYTES", 100)
    reconcile.claim("fresh", ledger)
    assert reconcile.read_ledger(ledger) == {"recent", "legacy-id", "fresh"}
    reconcile.claim("fresh", ledger)  # claimed again: written once
    assert ledger.read_text().count("fresh") == 1

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    reconcile.claim("t-1", blocked / "ledger")  # its folder is a file: cannot be written
    assert "claimed here only" in caplog.text and "t-1" in reconcile.claimed_here()


def test_error_bodies_never_carry_the_key_or_url_credentials(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    echo = f"bad key {dashscope_server.api_key} from https://ann:s3cret-pw@proxy.example:8080/v1"
    dashscope_server.fault(
        "submit", Fault("status", status=400, code="InvalidParameter", message=echo)
    )
    with pytest.raises(ProviderError) as err:
        keyframe(
            dashscope_server.url, dashscope_server.api_key, str(tmp_path / "s"), str(tmp_path / "l")
        )
    text = f"{err.value!s} {err.value!r}"
    assert "InvalidParameter" in text and "proxy.example" in text  # still says what failed
    assert dashscope_server.api_key not in text and "s3cret-pw" not in text
    assert (
        dashscope_server.submits["qwen-image"] == 0
    )  # refused outright: nothing paid, journal cleared
    assert not journal_of(tmp_path / "s").path.exists()
