"""Scale on a cluster: 12 short episodes against the fake DashScope whose tasks take L seconds,
on a local Ray cluster of 1 node and then of 3, each node given one episode slot.

Every paid model allows C tasks at once cluster-wide (slot rows in PostgreSQL). Figures:
episodes per minute on 3 nodes over 1 node (target >= 2.5), the share of the C slots of
each model busy between its first submit and its last result on 3 nodes (target >= 0.9),
and the most PostgreSQL connections each node held at once (sampled from pg_stat_activity).

Run: ``python -m bench.cluster`` (PostgreSQL server binaries and the cluster extras
installed); writes ``cluster`` in bench/results.json (``--record KEY`` for another setup). The
nodes share this machine's cores, so the local work of three episodes at once (voices,
checks, encoding) competes for them; on separate machines it does not.

Two things bound the figures, whatever the cluster does:

* If one node's one episode can already fill C (an episode's shots all ask at once), a second
  node adds nothing: the account, not the cluster, is full. The default setup (3-shot
  episodes, C = 3) is such a case. ``--concurrency 1`` (two shots at a time an episode) with
  C above two thirds of what three nodes ask is the case the cluster is for: one node
  cannot fill the account, three can.
* Each shot's clip waits for its keyframe, so one model's slots wait while the shots are at
  the other model, unless more shots ask than there are slots. At L = 3 s on 2 cores the
  shots' local work (about 2.5 CPU s a shot) is the bound before the slots are: use a larger
  L (``--latency 6``) to see the provider bound the work as real latencies (30-300 s) do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.orchestration import IMAGE, VIDEO, SlowDashScope, busy_fraction
from dramaforge.cluster import pg
from dramaforge.cluster.job import run_cluster_batch
from dramaforge.config import Backends, ClusterSettings, DashScopeSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
MB = 1024 * 1024
LINES = 2
SLOTS = 3


SCENES = ["教室 - 白天 - 内", "走廊 - 白天 - 内", "操场 - 傍晚 - 外", "天台 - 夜晚 - 外"]


def scripts(folder: Path, tag: str, episodes: int, lines: int) -> Path:
    """``episodes`` scripts of ``lines`` dialogue lines each, a picture line before each (the
    rule director's wide shot opens each scene of four lines), every picture its own words: no
    keyframe or clip is shared between episodes by chance, so every shot is paid for."""
    folder.mkdir(parents=True)
    for i in range(1, episodes + 1):
        out = [f"# {tag} 第{i}集", "人物：阿明（男，高中生）；小雪（女，高中生）"]
        for n in range(lines):
            if n % 4 == 0:
                out.append(f"【场景{n // 4 + 1}】{SCENES[(n // 4) % len(SCENES)]}")
            who = "阿明" if n % 2 == 0 else "小雪"
            out.append(f"【画面】{who}抬起头，{tag}第{i}集第{n + 1}幕。")
            out.append(f"{who}：{tag}第{i}集第{n + 1}句，我们把今天的事再说一遍。")
        (folder / f"ep{i:02d}.zh.txt").write_text("\n".join(out) + "\n", encoding="utf-8")
    return folder


class Connections:
    """The most PostgreSQL connections each node held at once (by the application name the
    cluster's connections carry: ``dramaforge <role> <node>``)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.most: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        with pg.connect(self.dsn, role="bench watcher") as conn:
            while not self.stop.wait(0.25):
                names = conn.execute(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE application_name LIKE 'dramaforge %%'"
                ).fetchall()
                now: dict[str, int] = {}
                for (name,) in names:
                    node = str(name).split()[-1]
                    if len(node) == 12:  # a node's connection (not the driver's)
                        now[node] = now.get(node, 0) + 1
                for node, n in now.items():
                    self.most[node] = max(self.most.get(node, 0), n)

    def __enter__(self) -> Connections:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@dataclass(frozen=True)
class Setup:
    episodes: int
    lines: int
    latency: float
    slots: int
    concurrency: int | None


def run_on(nodes: int, tmp: Path, dsn: str, setup: Setup) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    node_args = {
        "num_cpus": 1,
        "object_store_memory": 80 * MB,
        "resources": {"episode_slot": 1},
        "include_dashboard": False,
    }
    cluster = Cluster(initialize_head=True, connect=False, head_node_args=node_args)
    for _ in range(nodes - 1):
        cluster.add_node(**node_args)
    cluster.wait_for_nodes()
    folder = scripts(tmp / f"series-{nodes}", f"规模{nodes}", setup.episodes, setup.lines)
    load = os.getloadavg()[0]
    try:
        with SlowDashScope(setup.latency) as fake:
            settings = Settings(
                backends=Backends(
                    image=f"dashscope:{IMAGE}", video=f"dashscope:{VIDEO}", speech="local:tts"
                ),
                dashscope=DashScopeSettings(
                    api_key=fake.api_key,
                    base_url=fake.url,
                    timeout=30.0,
                    poll_interval=0.05,
                    poll_timeout=600.0,
                    list_lag=1.0,
                    default_concurrency=setup.slots,
                    ledger=tmp / f"ledger-{nodes}",
                ),
                render=Settings().render.model_copy(
                    update={
                        "resolution": "360p",
                        "max_takes": 1,
                        "concurrency": setup.concurrency,
                    }
                ),
                cluster=ClusterSettings(
                    address=str(cluster.address),
                    database=dsn,
                    store=str(tmp / f"store-{nodes}"),
                    scratch=tmp / f"nodes-{nodes}",
                ),
            )
            with Connections(dsn) as watched:
                started = time.perf_counter()
                report = run_cluster_batch([folder], tmp / f"out-{nodes}", settings, on_line=print)
                wall = time.perf_counter() - started
            tasks = list(fake.tasks.values())
            done = sum(e.status == "done" for e in report.episodes)
            by_model = {m: [t for t in tasks if t.model == m] for m in (IMAGE, VIDEO)}
            return {
                "nodes": nodes,
                "episodes_done": done,
                "shots": sum(e.shots for e in report.episodes),
                "seconds": round(wall, 2),
                "episodes_per_minute": round(60 * done / wall, 3),
                "busy_fraction": {
                    m: round(busy_fraction(ts, setup.slots), 3) for m, ts in by_model.items()
                },
                "paid_tasks": {m: len(ts) for m, ts in by_model.items()},
                "max_in_flight": dict(fake.max_in_flight),
                "pg_connections_per_node": sorted(watched.most.values()),
                "load_average_at_start": round(load, 2),
            }
    finally:
        ray.shutdown()
        cluster.shutdown()


def main() -> None:
    from tests.fixtures_cluster import running_postgres  # the tests' real PostgreSQL

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--lines", type=int, default=LINES, help="dialogue lines an episode")
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--slots", type=int, default=SLOTS, help="each paid model's limit")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="[render] concurrency (default: its own)"
    )
    parser.add_argument(
        "--record", default="cluster", help="the key in bench/results.json for a 1 and 3 node run"
    )
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    setup = Setup(args.episodes, args.lines, args.latency, args.slots, args.concurrency)
    runs: dict[int, dict[str, Any]] = {}
    with running_postgres() as db, tempfile.TemporaryDirectory(prefix="df-cluster-") as name:
        pg.init(db.dsn)
        for nodes in args.nodes:
            runs[nodes] = run_on(nodes, Path(name), db.dsn, setup)
            print(json.dumps(runs[nodes], ensure_ascii=False))
    if sorted(runs) != [1, 3]:
        return  # an exploring run: printed, not recorded
    one, three = runs[1], runs[3]
    figure = {
        "ratio": round(three["episodes_per_minute"] / one["episodes_per_minute"], 3),
        "busy_on_three_nodes": min(three["busy_fraction"].values()),
        "seconds": {"one_node": one["seconds"], "three_nodes": three["seconds"]},
        "one_node": one,
        "three_nodes": three,
        "setup": asdict(setup),
        "target": "ratio >= 2.5 (3 nodes over 1), busy >= 0.9 on 3 nodes",
        "ratio_is": "episodes per minute on 3 nodes / on 1 node, one episode slot per node",
        "busy_is": "share of a model's slots x (its first submit .. its last result) in which "
        "a task of it ran; the smaller of the two models",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[args.record] = figure
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(figure, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
