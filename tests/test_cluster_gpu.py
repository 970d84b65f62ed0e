"""GPU shots on a cluster: one GPU actor per GPU, each shot sent where its model is loaded.

A local Ray cluster whose head has an episode slot and no GPU, and two worker nodes that
declare one GPU each and no episode slot; the actors run the tiny real pipelines of
``tests/fixtures_diffusers.py`` on the CPU (``[diffusers] devices = ["cpu"]``). PostgreSQL
and the S3 store are the real servers of ``tests/fixtures_cluster.py``. What is asserted is
what the actors report (every model each one loaded, in order), the node each asset names,
and the files: decoded pictures, probed clips, the episode's MP4.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dramaforge.cluster.gpu_actor import ActorState
from dramaforge.cluster.gpu_pool import choose
from dramaforge.config import Settings
from tests.fixtures_cluster import S3Server

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
IMAGE = "qwen-image"
VIDEO = "wan2.1-i2v-14b-480p"


def state(name: str, resident: list[str], calls: tuple[str, ...] = ()) -> ActorState:
    return ActorState(
        name=name,
        node=f"node-{name}",
        gpu="0",
        device="cpu",
        resident=resident,
        calls={f"{name}-{i}": m for i, m in enumerate(calls)},
        loads=list(resident),
    )


def test_a_shot_goes_where_its_model_is_loaded_unless_another_actor_is_free_sooner() -> None:
    idle = [state("a", []), state("b", [])]
    assert choose(idle, "wan").name == "a"
    # a's first clip is on its way: the keyframe goes to the free device, not behind it
    assert choose([state("a", [], ("wan",)), state("b", [])], "qwen").name == "b"
    # both loaded: each model's shots go to its own actor, whatever the queues' order
    loaded = [state("a", ["wan"]), state("b", ["qwen"])]
    assert choose(loaded, "wan").name == "a"
    assert choose(loaded, "qwen").name == "b"
    # a second clip while the first is still loading follows it (one load, not two)
    assert choose([state("a", [], ("wan",)), state("b", [], ("qwen",))], "wan").name == "a"
    # a queue longer than a load by more than one shot: the other actor loads the model too
    busy = [state("a", ["wan"], ("wan", "wan")), state("b", ["qwen"])]
    assert choose(busy, "wan").name == "b"
    # the same counts, one fewer shot waiting: the loaded actor still wins the tie
    assert choose([state("a", ["wan"], ("wan",)), state("b", ["qwen"])], "wan").name == "a"


def test_an_episode_process_builds_its_gpu_backends_without_torch(tmp_path: Path) -> None:
    """The backends an episode uses on a cluster are named as on one machine (the store keys
    by the name) and building them imports neither torch nor diffusers."""
    code = (
        "import sys\n"
        "from dramaforge.config import Settings\n"
        "from dramaforge.cluster.gpu_shots import gpu_backends\n"
        "s = Settings.model_validate({'backends': {'image': 'diffusers:qwen-image',"
        " 'video': 'diffusers:wan2.1-i2v-14b-480p'}, 'diffusers': {'models':"
        " {'qwen-image': {'steps': 4}}}})\n"
        "made = gpu_backends(s, ['dramaforge-gpu-b-0'])\n"
        "print(made['image'].name, made['video'].name, made['video'].takes_audio)\n"
        "print(sorted(m for m in ('torch', 'diffusers', 'ray') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    names, imported = done.stdout.splitlines()
    assert names == "diffusers:qwen-image[steps=4] diffusers:wan2.1-i2v-14b-480p False"
    assert imported == "[]"


# -- on a local Ray cluster ----------------------------------------------------------------


def tiny_settings(models_dir: Path, **cluster: Any) -> Settings:
    """The user's settings with tiny sizes, two steps and nine frames a clip, run on the CPU."""
    small = {"steps": 2, "frames": 9}
    return Settings.model_validate(
        {
            "backends": {"image": f"diffusers:{IMAGE}", "video": f"diffusers:{VIDEO}"},
            "diffusers": {
                "models_dir": str(models_dir),
                "devices": ["cpu"],
                "models": {
                    IMAGE: small | {"size": (32, 32)},
                    VIDEO: small | {"size": (32, 16)},
                },
            },
            "prices": {"diffusers:gpu-hour": 3.6},
            "render": {"resolution": "360p", "fps": 12, "max_takes": 1},
            "identity": {"reference_sheets": False},
            "cluster": cluster,
        }
    )


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("diffusers")
    from tests import fixtures_diffusers

    root = tmp_path_factory.mktemp("models")
    fixtures_diffusers.save(IMAGE, root / IMAGE)
    fixtures_diffusers.save(VIDEO, root / VIDEO)
    return root


class GpuCluster:
    """A head with an episode slot and no GPU, and two nodes with a GPU each and no slot."""

    def __init__(self) -> None:
        import ray
        from ray.cluster_utils import Cluster

        common = {"num_cpus": 1, "object_store_memory": 80 * MB}
        self.cluster = Cluster(
            initialize_head=True,
            connect=False,
            head_node_args=common | {"resources": {"episode_slot": 1}, "include_dashboard": False},
        )
        self.gpu_nodes = [self.cluster.add_node(**common, num_gpus=1) for _ in range(2)]
        self.cluster.wait_for_nodes()
        ray.init(address=self.cluster.address, namespace="dramaforge", log_to_driver=False)

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def head_node(self) -> str:
        return str(self.cluster.head_node.node_id)

    def gpu_node_ids(self) -> set[str]:
        return {str(n.node_id) for n in self.gpu_nodes}

    def shutdown(self) -> None:
        import ray

        ray.shutdown()
        self.cluster.shutdown()


@pytest.fixture(scope="module")
def gpu_cluster() -> Iterator[GpuCluster]:
    pytest.importorskip("ray")
    cluster = GpuCluster()
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def db(module_cluster_db: str) -> str:
    return module_cluster_db


def keyframe_request(seed: int) -> Any:
    from dramaforge.tools.protocols import ImageRequest

    return ImageRequest(
        prompt=f"a rainy street, take {seed}", width=48, height=64, seed=seed,
        framing="wide", scene_heading="EXT. STREET - NIGHT",
    )  # fmt: skip


def clip_request(keyframe: Path, seed: int) -> Any:
    from dramaforge.tools.protocols import VideoRequest

    return VideoRequest(
        prompt="a girl runs in the rain", keyframe=str(keyframe), width=72, height=128,
        fps=12, duration=1.0, camera="static", seed=seed,
    )  # fmt: skip


def named_actors(prefix: str) -> list[str]:
    import ray

    return [n for n in ray.util.list_named_actors() if n.startswith(prefix)]


@pytest.mark.slow
def test_each_model_loads_once_per_actor_and_its_shots_follow_it(
    gpu_cluster: GpuCluster, models_dir: Path, db: str, tmp_path: Path
) -> None:
    """Two GPU actors, keyframes of one model and clips of another: a keyframe and a clip sent
    at once go one to each idle actor; every later shot goes to the actor that loaded its
    model, so each model is loaded once in all. An actor that dies hands its model on."""
    import ray
    from typer.testing import CliRunner

    from dramaforge.cli.app import app
    from dramaforge.cluster.gpu_pool import actor_names, start_gpu_actors, stop_gpu_actors
    from dramaforge.cluster.gpu_shots import gpu_backends
    from dramaforge.media.probe import probe

    settings = tiny_settings(models_dir)
    lines: list[str] = []
    actors = start_gpu_actors("pool-test", settings, lines.append)
    assert len(actors) == 2 and "2 GPU actors" in lines[0]
    backends = gpu_backends(settings, actor_names("pool-test", 2))
    image, video = backends["image"], backends["video"]
    assert video.name == f"diffusers:{VIDEO}[steps=2,frames=9,size=32x16]"
    red = tmp_path / "red.png"
    Image.new("RGB", (48, 64), (200, 30, 30)).save(red)
    made: list[tuple[str, Any, Path]] = []

    def keyframe(seed: int) -> None:
        dest = tmp_path / f"key-{seed}.png"
        made.append((IMAGE, image.generate(keyframe_request(seed), dest), dest))

    def clip(seed: int) -> None:
        dest = tmp_path / f"clip-{seed}.mp4"
        made.append((VIDEO, video.generate(clip_request(red, seed), dest), dest))

    def at_once(*shots: Callable[[], None]) -> None:
        with ThreadPoolExecutor(len(shots)) as pool:
            for done in [pool.submit(shot) for shot in shots]:
                done.result()

    try:
        at_once(partial(keyframe, 1), partial(clip, 1))
        at_once(partial(clip, 2), partial(keyframe, 2))  # then more of both, in pairs
        at_once(partial(keyframe, 3), partial(clip, 3))

        states = {s.name: s for s in backends["image"].pool.states()}
        loads = sorted(s.loads for s in states.values())
        assert loads == [[IMAGE], [VIDEO]], states
        holder = {s.loads[0]: s for s in states.values()}
        assert {holder[IMAGE].node, holder[VIDEO].node} == gpu_cluster.gpu_node_ids()
        for model, generated, _ in made:  # each shot made on its model's node
            assert generated.node == holder[model].node
            assert generated.gpu_seconds is not None and generated.gpu_seconds > 0
            assert generated.model == f"diffusers:{model}"
        for _, _, dest in made:
            if dest.suffix == ".png":
                with Image.open(dest) as img:
                    assert img.size == (48, 64)
            else:
                info = probe(dest)
                assert (info.width, info.height, info.vcodec) == (72, 128, "h264")
                assert info.duration == pytest.approx(1.0, abs=1 / 12)

        shown = CliRunner().invoke(
            app,
            ["cluster", "status", "--json"],
            env={"DRAMAFORGE_CLUSTER__DATABASE": db, "RAY_ADDRESS": gpu_cluster.address},
        )
        assert shown.exit_code == 0, shown.output
        listed = {a["name"]: a for a in json.loads(shown.stdout)["gpu_actors"]}
        assert {n: a["resident"] for n, a in listed.items()} == {
            n: s.resident for n, s in states.items()
        }
        assert {a["node"] for a in listed.values()} == gpu_cluster.gpu_node_ids()

        ray.kill(ray.get_actor(holder[VIDEO].name))  # its node lost, say
        clip(4)
        (other,) = backends["video"].pool.states()
        assert other.name == holder[IMAGE].name and other.loads == [IMAGE, VIDEO]
        assert made[-1][1].node == other.node
    finally:
        stop_gpu_actors(actors)
    deadline = time.monotonic() + 20
    while named_actors("dramaforge-gpu-pool-test") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert named_actors("dramaforge-gpu-pool-test") == []


@pytest.mark.slow
def test_weights_missing_on_the_gpu_nodes_stop_the_batch_at_its_start(
    gpu_cluster: GpuCluster, tmp_path: Path
) -> None:
    from dramaforge.cluster.gpu_pool import start_gpu_actors
    from dramaforge.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        start_gpu_actors("no-weights", tiny_settings(tmp_path / "empty"), print)
    message = str(err.value)
    assert message.startswith("GPU actor dramaforge-gpu-no-weights-"), message
    assert str(tmp_path / "empty" / IMAGE) in message
    assert "huggingface-cli download" in message
    assert "Traceback" not in message
    deadline = time.monotonic() + 20
    while named_actors("dramaforge-gpu-no-weights") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert named_actors("dramaforge-gpu-no-weights") == []


@pytest.mark.slow
def test_an_episode_on_a_node_without_a_gpu_has_its_shots_made_by_the_gpu_actors(
    gpu_cluster: GpuCluster,
    models_dir: Path,
    db: str,
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    """One short episode through the batch driver: the episode task runs on the head (the
    only node with an episode slot, and no GPU); its keyframes and clips are made by the GPU
    actors on the other nodes, and the manifest says so; the actors end with the batch."""
    from dramaforge.cluster import pg
    from dramaforge.cluster.job import run_cluster_batch
    from dramaforge.media.probe import probe

    folder = tmp_path / "gpu-series"
    folder.mkdir()
    (folder / "ep01.zh.txt").write_text(
        "# 显卡 第1集\n人物：阿明（男，高中生）\n【场景1】教室 - 白天 - 内\n"
        "【画面】阿明推门进来。\n阿明：早上好。\n",
        encoding="utf-8",
    )
    settings = tiny_settings(
        models_dir,
        address=gpu_cluster.address,
        database=db,
        store=f"s3://{s3_server.bucket}/{tmp_path.name}",
        s3_endpoint=s3_server.endpoint,
        s3_access_key=s3_server.access_key,
        s3_secret_key=s3_server.secret_key,
        scratch=str(tmp_path / "nodes"),
    )
    out = tmp_path / "out"
    lines: list[str] = []
    report = run_cluster_batch([folder], out, settings, on_line=lines.append)

    (episode,) = report.episodes
    assert episode.status == "done", (episode.error, lines)
    assert any("2 GPU actors" in line for line in lines), lines
    video = Path(str(episode.episode))
    assert probe(video).duration > 1.0
    manifest = json.loads((video.parent / "manifest.json").read_text(encoding="utf-8"))
    assets = [t[k] for s in manifest["shots"] for t in s["takes"] for k in ("keyframe", "motion")]
    assert assets
    for asset in assets:
        assert asset["node"] in gpu_cluster.gpu_node_ids(), asset
        assert asset["gpu_seconds"] > 0
    with pg.connect(db) as conn:
        row = conn.execute(
            "SELECT e.node FROM dramaforge_episodes e JOIN dramaforge_batches b "
            "ON b.id = e.batch WHERE b.series = %s",
            (folder.name,),
        ).fetchone()
    assert row is not None and row[0] == gpu_cluster.head_node
    batch = episode_batch(lines)
    deadline = time.monotonic() + 20
    while named_actors(f"dramaforge-gpu-{batch}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert named_actors(f"dramaforge-gpu-{batch}") == []


def episode_batch(lines: list[str]) -> str:
    """The batch id from the driver's first line (``batch <id>: N episodes, ...``)."""
    return lines[0].split()[1].rstrip(":")
