"""storyboard.html: a self-contained contact sheet, one card per shot, every take side by side,
with the episode review and each character's consistency across shots above the cards."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path

from PIL import Image

from dramaforge.agents.consistency import OFF_MODEL
from dramaforge.media.memo import remembered
from dramaforge.schema import (
    CharacterConsistency,
    EpisodeReview,
    Manifest,
    ReviewCheck,
    Shot,
    ShotResult,
    Take,
)

THUMB_WIDTH = 240

STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC",system-ui,sans-serif;
  margin:24px;background:#f4f4f6;color:#222}
h1{margin:0 0 4px}.meta{color:#666;margin-bottom:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px}
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 3px #0002}
.card h2{font-size:15px;margin:0 0 6px}
.tag{display:inline-block;background:#eef;border-radius:4px;padding:0 6px;margin-right:4px;
  font-size:12px}
.takes{display:flex;gap:6px;overflow-x:auto}.take{flex:0 0 auto;text-align:center;font-size:11px}
.take img{width:140px;border:3px solid #ccc;border-radius:4px}
.take.chosen img{border-color:#2a9d8f}.take.failed img{border-color:#e76f51}
.prompt{font-size:12px;color:#555}.line{margin:4px 0}
.panel{background:#fff;border-radius:8px;padding:12px;margin-bottom:16px;box-shadow:0 1px 3px #0002}
.panel h2{font-size:16px;margin:0 0 8px}.panel table{border-collapse:collapse;font-size:13px}
.panel td,.panel th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
.ref{width:72px;border-radius:4px;margin-right:10px}.who{display:flex;margin:6px 0}
.ok{color:#2a9d8f}.bad{color:#e76f51;font-weight:bold}.note{color:#b5651d;font-size:11px}
"""


def thumbnail(path: Path) -> str:
    """The keyframe as an inline JPEG data URI, so the page needs no other file. Remembered
    per unchanged file: after an edit only the new keyframes are decoded and scaled again."""

    def make() -> str:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        rgb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 2))
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", quality=80)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()

    return remembered("thumbnail", path, make)


def _take(take: Take, chosen: bool) -> str:
    cls = "take chosen" if chosen else "take" if take.critique.passed else "take failed"
    verdict = "✓" if take.critique.passed else "✗ " + "; ".join(take.critique.issues)
    notes = take.critique.issues if take.critique.passed else []
    note = f'<div class="note">{escape("; ".join(notes))}</div>' if notes else ""
    src = thumbnail(Path(take.keyframe.path))
    return (
        f'<div class="{cls}"><img src="{src}" alt="take {take.number}">'
        f"<div>take {take.number} · {take.duration:.2f}s</div><div>{escape(verdict)}</div>"
        f"{note}</div>"
    )


def _card(shot: Shot, result: ShotResult) -> str:
    lines = "".join(
        f'<div class="line"><b>{escape(line.speaker or ("旁白" if line.narration else ""))}</b> '
        f"{escape(line.text)}</div>"
        for line in shot.lines
    )
    sfx = "".join(f'<span class="tag">♪ {escape(s)}</span>' for s in shot.sfx)
    takes = "".join(_take(t, i == result.chosen) for i, t in enumerate(result.takes))
    rejected = [r for r in result.keyframe_reviews if not r.critique.passed]
    takes += "".join(
        f'<div class="take failed"><img src="{thumbnail(Path(r.keyframe.path))}" '
        f'alt="rejected keyframe"><div>keyframe not animated</div>'
        f"<div>✗ {escape('; '.join(r.critique.issues))}</div></div>"
        for r in rejected
    )
    return (
        f'<div class="card" id="{escape(shot.id)}">'
        f"<h2>{escape(shot.id)} · {escape(shot.scene_heading)}</h2>"
        f'<span class="tag">{shot.framing}</span><span class="tag">{shot.camera}</span>'
        f'<span class="tag">{result.duration:.2f}s</span>{sfx}'
        f'<div class="takes">{takes}</div>{lines}'
        f'<p class="prompt">{escape(result.take.keyframe.prompt or shot.visual_prompt)}</p></div>'
    )


def _number(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:g} {unit}".strip()


def _check(check: ReviewCheck) -> str:
    mark = '<span class="ok">✓</span>' if check.passed else '<span class="bad">✗</span>'
    return (
        f"<tr><td>{mark}</td><td>{escape(check.name)}</td>"
        f"<td>{escape(_number(check.measured, check.unit))}</td>"
        f"<td>{escape(_number(check.target, check.unit))}</td><td>{escape(check.detail)}</td></tr>"
    )


def _review(review: EpisodeReview | None) -> str:
    """The episode review: every check with what was measured and what was asked for."""
    if review is None:
        return ""
    head = "passed" if review.passed else "failed"
    rows = "".join(_check(c) for c in review.checks)
    timing = [c.target for c in review.checks if c.name == "subtitle_timing"]
    floor = timing[0] if timing and timing[0] is not None else 0.0
    cues = " · ".join(
        f'<span class="{"ok" if c.speech >= floor else "bad"}" title="{escape(c.text)}">'
        f"{c.index}: {c.speech:.0%}</span>"
        for c in review.cues
    )
    return (
        f'<div class="panel" id="review"><h2>Episode review: {head}</h2><table>'
        "<tr><th></th><th>check</th><th>measured</th><th>target</th><th></th></tr>"
        f"{rows}</table>"
        + (f"<p>Speech under each subtitle: {cues}</p>" if cues else "")
        + "</div>"
    )


def _character(c: CharacterConsistency) -> str:
    src = thumbnail(Path(c.reference)) if Path(c.reference).is_file() else ""
    origin = "series bible" if c.reference_from == "bible" else f"shot {c.reference_from}"
    score = "no other shot" if c.score is None else f"mean {c.score:.2f}, lowest {c.lowest:.2f}"
    shots = " · ".join(
        f'<a class="{"ok" if x.score >= OFF_MODEL else "bad"}" href="#{escape(x.shot_id)}">'
        f"{escape(x.shot_id)}: {x.score:.2f}</a>"
        for x in c.shots
    )
    return (
        f'<div class="who"><img class="ref" src="{src}" alt="reference of {escape(c.name)}">'
        f"<div><b>{escape(c.name)}</b> · {escape(score)} · reference from {escape(origin)}"
        f"<br>{shots}</div></div>"
    )


def _consistency(characters: list[CharacterConsistency]) -> str:
    """Each character's reference and every shot's likeness to it (red: off-model)."""
    if not characters:
        return ""
    rows = "".join(_character(c) for c in characters)
    return f'<div class="panel" id="consistency"><h2>Character consistency</h2>{rows}</div>'


def contact_sheet(manifest: Manifest) -> str:
    results = {r.shot_id: r for r in manifest.shots}
    cards = "".join(_card(s, results[s.id]) for s in manifest.plan.shots if s.id in results)
    ep = manifest.episode
    meta = (
        f"{len(manifest.plan.shots)} shots · {ep.duration:.1f}s · {ep.width}x{ep.height} · "
        f"{ep.loudness_lufs if ep.loudness_lufs is not None else '?'} LUFS · "
        f"cost {manifest.total_cost:.2f}"
    )
    return (
        f'<!doctype html><html lang="{manifest.language}"><head><meta charset="utf-8">'
        f"<title>{escape(manifest.title)} — storyboard</title><style>{STYLE}</style></head>"
        f'<body><h1>{escape(manifest.title)}</h1><div class="meta">{escape(meta)}</div>'
        f"{_review(manifest.review)}{_consistency(manifest.consistency)}"
        f'<div class="grid">{cards}</div></body></html>'
    )
