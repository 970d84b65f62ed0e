"""What each page shows, read from a session and the episode folder into plain dicts.

Templates get only these dicts: every file in them is already a confined ``/files/`` URL (or
None), so no template can name a path outside the workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dramaforge.agents.identity import LIKENESS
from dramaforge.errors import DramaforgeError, WorkspaceError
from dramaforge.graph.batch import BatchReport
from dramaforge.graph.edits import CAMERAS, FRAMINGS
from dramaforge.graph.session import Session
from dramaforge.schema import IdentityReport, Manifest, ShotResult, Take
from dramaforge.serve.studio.episodes import SEGMENT, Studio
from dramaforge.serve.studio.jobs import Job

EXPORTS = (".fcpxml", ".otio", ".edl", ".xml", ".aaf", ".csv")


def _disk_manifest(folder: Path) -> Manifest | None:
    """The episode's last written manifest (the session's is None while edits are pending)."""
    path = folder / "manifest.json"
    return Manifest.model_validate_json(path.read_text("utf-8")) if path.is_file() else None


def _take(studio: Studio, take: Take, chosen: bool) -> dict[str, Any]:
    c = take.critique
    return {
        "number": take.number,
        "keyframe": studio.url(take.keyframe.path),
        "clip": studio.url(take.motion.path),
        "voice": studio.url(take.voice.path),
        "duration": take.duration,
        "passed": c.passed,
        "score": c.score,
        "sync": c.sync,
        "identity": c.identity,
        "lipsync": take.motion.backend if take.unsynced is not None else None,
        "issues": c.issues,
        "reviewer": c.reviewer,
        "prompt": take.shot.visual_prompt if take.shot else take.keyframe.prompt,
        "chosen": chosen,
    }


def _shot_identity(faces: IdentityReport, shot_id: str) -> dict[str, Any]:
    """One shot's identity on the board: each character's likeness to their reference, and
    whether the copy guard or the count check flagged its keyframe."""
    return {
        "likeness": {c.name: c.shots[shot_id] for c in faces.characters if shot_id in c.shots},
        "copy": shot_id in faces.copies,
        "miscounted": shot_id in faces.miscounted,
    }


def _takes(studio: Studio, result: ShotResult | None) -> list[dict[str, Any]]:
    if result is None:
        return []
    return [_take(studio, t, i == result.chosen) for i, t in enumerate(result.takes)]


def _planned(s: Session, folder: str, name: str) -> None:
    """Pages only show: a script not planned yet is planned by a POST (``/plan``), never by
    a GET that any page elsewhere can make with an ``<img>``."""
    if s.status() == "new":
        raise WorkspaceError(f"{folder}/{name} is not planned yet: plan it on the home page")


def board(studio: Studio, folder: str, name: str) -> dict[str, Any]:
    with studio.session(folder, name) as s:
        _planned(s, folder, name)
        plan, results, bible, status = s.plan(), s.results(), s.bible(), s.status()
        todo = {shot.id for shot in s.to_render()}
        cost = s.estimate()
        options = s.options
    on_disk = _disk_manifest(studio.folder(folder, name))
    faces = (on_disk.identity if on_disk else None) or IdentityReport()
    shots: list[dict[str, Any]] = []
    for n, shot in enumerate(plan.shots, 1):
        takes = _takes(studio, results.get(shot.id))
        chosen = next((t for t in takes if t["chosen"]), None)
        shots.append(
            {"n": n, "shot": shot, "takes": takes, "chosen": chosen, "pending": shot.id in todo}
            | _shot_identity(faces, shot.id)
        )
    refs = on_disk.bible.characters if on_disk else {}
    characters = []
    for who, look in bible.characters.items():
        sample = next(
            (
                row["chosen"]["voice"]
                for row in shots
                if row["chosen"] and any(ln.speaker == who for ln in row["shot"].lines)
            ),
            None,
        )
        ref = refs[who].reference_image if who in refs else look.reference_image
        characters.append(
            {
                "name": who,
                "look": look,
                "reference": studio.url(ref),
                "sample": sample,
                "identity": next((c for c in faces.characters if c.name == who), None),
                "planned": bible.to_make.voices.get(who),
                "sheet_planned": who in bible.to_make.sheets,
            }
        )
    return {
        "folder": folder,
        "name": name,
        "ref": f"{folder}/{name}",
        "plan": plan,
        "shots": shots,
        "status": status,
        "pending": len(todo),
        "estimate": cost,
        "budget": studio.settings.budget,
        "spent": on_disk.total_cost if on_disk else 0.0,
        "aspect": options.aspect,
        "size": f"{options.width}x{options.height}",
        "characters": characters,
        "narrator": bible.narrator,
        "narrator_planned": bible.to_make.narrator,
        "framings": FRAMINGS,
        "cameras": CAMERAS,
        "narrator_word": "旁白" if plan.language == "zh" else "VO",
        "identity": faces,
        "likeness": LIKENESS["drawn"],
    }


def render_page(studio: Studio, folder: str, name: str) -> dict[str, Any]:
    with studio.session(folder, name) as s:
        _planned(s, folder, name)
        plan, status, todo, cost = s.plan(), s.status(), s.to_render(), s.estimate()
        work = s.bible().to_make
    path = studio.folder(folder, name)
    on_disk = _disk_manifest(path)
    exports = sorted(p for p in path.glob("**/*") if p.suffix.lower() in EXPORTS)
    draft = _disk_manifest(path / "draft")
    return {
        "folder": folder,
        "name": name,
        "ref": f"{folder}/{name}",
        "title": plan.title,
        "status": status,
        "todo": todo,
        "shots": len(plan.shots),
        "estimate": cost,
        "to_make": work,
        "made_voices": {**work.voices, **({"narrator": work.narrator} if work.narrator else {})},
        "budget": studio.settings.budget,
        "manifest": on_disk,
        "video": studio.url(on_disk.episode.path) if on_disk else None,
        "srt": studio.url(on_disk.episode.srt) if on_disk else None,
        "manifest_url": studio.url(path / "manifest.json"),
        "storyboard": studio.url(path / "storyboard.html"),
        "exports": [(p.name, studio.url(p)) for p in exports],
        "draft": studio.url(draft.episode.path) if draft else None,
        "draft_cost": draft.total_cost if draft else None,
        "identity": on_disk.identity if on_disk else None,
        "likeness": LIKENESS["drawn"],
    }


def batch(studio: Studio, folder: str) -> dict[str, Any]:
    """A series: its report, and while its batch runs one line per episode with its node and
    stage (on the cluster, as the episodes' tasks write them to PostgreSQL)."""
    if not SEGMENT.match(folder):
        raise WorkspaceError(f"{folder!r} is not a folder name")
    job = studio.jobs.latest(f"batch/{folder}")
    path = studio.workspace.inside(f"{folder}/report.json", must_exist=job is None)
    data: dict[str, Any] = {"folder": folder, "series": folder, "rows": [], "failed": 0}
    data |= {"cost": 0.0, "job": job, "live": None}
    if job is not None and not job.done:
        data["live"] = _live(studio, job)
    if not path.is_file():
        return data
    report = BatchReport.model_validate_json(path.read_text("utf-8"))
    rows = []
    for e in report.episodes:
        link = None
        if e.episode:
            ep = Path(e.episode).resolve().parent
            if ep.parent.parent == studio.root and SEGMENT.match(ep.parent.name):
                link = f"/e/{ep.parent.name}/{ep.name}"
        rows.append({"e": e, "script": Path(e.script).name, "link": link})
    return data | {
        "series": report.series,
        "rows": rows,
        "failed": report.failed,
        "cost": round(sum(e.cost for e in report.episodes), 4),
    }


def _live(studio: Studio, job: Job) -> dict[str, Any]:
    """The running batch's episodes: from PostgreSQL on the cluster, from its events here."""
    if not job.batch:
        return {
            "batch": "",
            "episodes": [
                {
                    "episode": name,
                    "status": stage.split()[-1] if stage.startswith("episode ") else "running",
                    "node": "",
                    "stage": stage,
                }
                for name, stage in sorted(job.episodes().items())
            ],
        }
    from dramaforge.cluster.door import cluster_errors
    from dramaforge.cluster.status import read_batch

    try:
        run, rows = cluster_errors(lambda: read_batch(studio.settings.cluster, job.batch))()
    except DramaforgeError as err:
        return {"batch": job.batch, "episodes": [], "error": str(err)}
    return {
        "batch": job.batch,
        "ray_job": run.ray_job if run else None,
        "driver": run.driver if run else "",
        "episodes": [
            {"episode": r.episode, "status": r.status, "node": r.node[:12], "stage": r.stage}
            for r in rows
        ],
    }
