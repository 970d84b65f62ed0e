"""Faults at scale: 20 SIGKILLs at random moments of whole CLI renders against the fake
DashScope, each render resumed with ``--resume`` until it finishes.

A kill can land anywhere: while Python starts, between writing a submit's intent and reading
its reply, mid-poll, mid-download, mid-assembly. Whatever it hit, the resumed render must end
in a valid episode and must never pay for an asset twice: the fake's own record of created
tasks (tasks paid for) holds each request body once, and one image and one video task per shot.

When a render finishes before the kills are used up, the next one starts in a fresh output
folder (the account-wide ledger is shared, so a resumed render must also never adopt the
finished folder's tasks, whose bodies are identical).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import pytest

from dramaforge.media.probe import probe
from dramaforge.media.store import AssetStore, FileJournal, content_key
from dramaforge.script import load_script
from dramaforge.tools.protocols import Generated
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = FIXTURES / "short.zh.txt"
KILLS = 20
SEED = 15
KILL_AFTER = (0.0, 5.0)
"""Seconds after a run first reached the provider (its start-up over): from its first
requests to past the last submit and into assembly (an uninterrupted render's work after
start-up takes about 4-10 s here). Counted from that event, not from the process start, so
a loaded machine's slow start-up does not spend the kills before the render begins."""
IN_STARTUP = (0.2, (0.05, 0.4))
"""The share of kills that land in interpreter start-up instead, and when (seconds after
the process start: start-up takes longer than that on any machine)."""
STARTUP_CAP = 120.0
"""A run that has not reached the provider this long after its start (one with nothing
left to ask for, or a very loaded machine) has its kill counted from then."""
IMAGE, VIDEO = "qwen-image", "wan2.2-i2v-flash"
LEFTOVERS = (".task.json", ".part", ".tmp", ".download.wav", ".mono.wav")


class Watched(FakeDashScope):
    """The fake, noting each request that reaches it (every route asks for its faults)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self.reached = threading.Condition()

    def next_fault(self, endpoint: str, body: dict[str, Any] | None = None) -> Fault | None:
        with self.reached:
            self.requests += 1
            self.reached.notify_all()
        return super().next_fault(endpoint, body)


@pytest.fixture
def dashscope() -> Iterator[Watched]:
    fake = Watched()
    with fake:
        fake.running_polls = 10  # RUNNING for 10 polls (kept across runs): kills land mid-task
        yield fake


def cli_env(fake: FakeDashScope, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DASHSCOPE_API_KEY": fake.api_key,
        "DASHSCOPE_HTTP_BASE_URL": fake.url,
        "DRAMAFORGE_DASHSCOPE__POLL_INTERVAL": "0.05",
        "DRAMAFORGE_DASHSCOPE__TIMEOUT": "10",
        "DRAMAFORGE_DASHSCOPE__LIST_LAG": "1",
        "DRAMAFORGE_DASHSCOPE__LEDGER": str(tmp_path / "ledger" / "dashscope-tasks.ledger"),
        "DRAMAFORGE_BACKENDS__IMAGE": f"dashscope:{IMAGE}",
        "DRAMAFORGE_BACKENDS__VIDEO": f"dashscope:{VIDEO}",
        "DRAMAFORGE_BACKENDS__SPEECH": "dashscope:qwen-tts",
    }


@dataclass
class Episode:
    out: Path
    runs: int = 0
    kills: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    """Ids of the tasks the fake created while this episode was being rendered."""


class Killer:
    """Starts renders and SIGKILLs them (with their ffmpeg children) at seeded random moments."""

    def __init__(self, fake: Watched, tmp_path: Path) -> None:
        self.fake, self.tmp = fake, tmp_path
        self.env = cli_env(fake, tmp_path)
        self.rng = random.Random(SEED)
        self.kills = 0
        self.episodes: list[Episode] = []
        self.phases: Counter[str] = Counter()
        """Where the kills landed, by the fake's view of the paid tasks at that moment."""

    def run(self, episode: Episode, *, kill: bool) -> subprocess.CompletedProcess[str] | None:
        """One run of the render; None when it was killed."""
        cmd = [
            sys.executable, "-m", "dramaforge", "render", str(SCRIPT), "--out", str(episode.out),
            "--resolution", "360p", "--json",
        ]  # fmt: skip
        if episode.runs:
            cmd.append("--resume")
        episode.runs += 1
        log = self.tmp / "logs" / f"{len(self.episodes)}-{episode.runs}"
        log.parent.mkdir(exist_ok=True)
        with log.with_suffix(".out").open("w") as out, log.with_suffix(".err").open("w") as err:
            seen = self.fake.requests
            child = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=out, stderr=err, start_new_session=True
            )
            try:
                if not kill:
                    child.wait(timeout=300)
                elif self.rng.random() < IN_STARTUP[0]:
                    child.wait(timeout=self.rng.uniform(*IN_STARTUP[1]))
                else:
                    after = self.rng.uniform(*KILL_AFTER)
                    self.started_up(child, seen)
                    child.wait(timeout=after)
            except subprocess.TimeoutExpired:
                if not kill:
                    raise
                os.killpg(child.pid, signal.SIGKILL)
                self.phases[self.phase()] += 1
                child.wait(timeout=30)
                self.kills += 1
                episode.kills += 1
                return None
        return subprocess.CompletedProcess(
            cmd, child.returncode, log.with_suffix(".out").read_text(),
            log.with_suffix(".err").read_text(),
        )  # fmt: skip

    def started_up(self, child: subprocess.Popen[bytes], seen: int) -> None:
        """Return once ``child`` has sent the provider its first request (its start-up is
        over), has ended, or ``STARTUP_CAP`` has passed."""
        end = time.monotonic() + STARTUP_CAP
        with self.fake.reached:
            while self.fake.requests == seen and child.poll() is None:
                left = end - time.monotonic()
                if left <= 0:
                    return
                self.fake.reached.wait(min(left, 0.1))

    def phase(self) -> str:
        tasks = list(self.fake.tasks.values())
        if any(task.status not in ("SUCCEEDED", "FAILED") for task in tasks):
            return "a task in flight"
        return "all tasks finished" if tasks else "before the first task"

    def episode(self) -> Episode:
        """Kill and resume one render until it finishes or the kills are used up, then let
        it finish; every run that was not killed must succeed."""
        episode = Episode(self.tmp / f"out{len(self.episodes)}")
        self.episodes.append(episode)
        before = set(self.fake.tasks)
        while True:
            done = self.run(episode, kill=self.kills < KILLS)
            if done is None:
                continue
            assert done.returncode == 0, (episode.runs, done.stdout[-2000:], done.stderr[-4000:])
            assert "Traceback" not in done.stderr, done.stderr
            episode.summary = json.loads(done.stdout)
            break
        episode.tasks = [t for t in self.fake.tasks if t not in before]
        return episode


def body_key(body: dict[str, Any]) -> tuple[str, str]:
    """A paid request as the provider sees it: the model and the exact body."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return str(body.get("model")), hashlib.sha256(text.encode()).hexdigest()


def assert_valid_episode(path: Path) -> None:
    info = probe(path)
    assert info.has_video and info.has_audio, info
    assert info.duration > 0 and (info.width, info.height) == (360, 640), info
    with av.open(str(path)) as container:  # every frame decodes, to the end
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= int(info.duration * info.fps) - 2, (frames, info)


@pytest.mark.slow
def test_twenty_sigkills_each_resume_to_a_valid_episode_paying_once(
    dashscope: Watched, tmp_path: Path
) -> None:
    killer = Killer(dashscope, tmp_path)
    while killer.kills < KILLS:
        killer.episode()
    assert killer.kills == KILLS
    # The kills reached the paid part of the render, not only start-up and assembly.
    assert killer.phases["a task in flight"] >= 2, killer.phases

    for episode in killer.episodes:
        summary = episode.summary
        tasks = [dashscope.tasks[t] for t in episode.tasks]
        keys = Counter(body_key(task.body) for task in tasks)
        duplicates = {key: n for key, n in keys.items() if n > 1}
        assert duplicates == {}, f"paid twice after a kill: {duplicates}"
        models = Counter(task.model for task in tasks)
        assert models == {IMAGE: summary["shots"], VIDEO: summary["shots"]}, models

        assert_valid_episode(Path(summary["episode"]))
        assert Path(summary["srt"]).read_text(encoding="utf-8").strip()
        # Nothing half-done is left behind: no open submit journal, no temp or partial file.
        leftovers = [p for p in episode.out.rglob("*") if p.name.endswith(LEFTOVERS)]
        assert leftovers == [], leftovers
    spoken = len(load_script(SCRIPT).spoken_lines())
    print(
        f"TTS calls {sum(dashscope.tts_calls.values())} for {spoken} lines (synchronous: a "
        f"kill mid-call pays again); {dict(killer.phases)}; "
        f"{KILLS} kills over {len(killer.episodes)} render(s): "
        + "; ".join(
            f"{e.runs} runs, {e.kills} kills, {len(e.tasks)} tasks, {e.summary['shots']} shots"
            for e in killer.episodes
        )
    )


def test_a_killed_writers_temp_files_are_swept_when_the_asset_is_made(tmp_path: Path) -> None:
    """What a SIGKILL left beside an asset (the nested temp names of a store output, a
    download and a journal write) is removed by the next writer, under the asset's lock;
    another asset's files in the same folder are not touched."""
    store = AssetStore(tmp_path)
    payload = {"text": "早上好"}
    key = content_key("line", "dashscope:qwen-tts", payload)
    target = store.path("line", key, "wav")
    target.parent.mkdir(parents=True)
    stale = [
        f".{key}.4b1d1aab.tmp.wav",
        f"..{key}.4b1d1aab.tmp.99b10416.download.wav.688c2322.part",
        f".{key}.task.json.1f2e3d4c.tmp",
    ]
    other = f".{'f' * 24}.4b1d1aab.tmp.wav"  # a live writer of another asset
    for name in [*stale, other]:
        (target.parent / name).write_bytes(b"half")

    def make(dest: Path, journal: FileJournal) -> Generated:
        dest.write_bytes(b"RIFF")
        return Generated()

    store.produce("line", "dashscope:qwen-tts", payload, "wav", make)
    left = sorted(p.name for p in target.parent.iterdir())
    assert left == sorted([other, target.name, f"{key}.json", f"{key}.lock"])
