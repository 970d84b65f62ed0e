"""Each character's reference sheet: drawn once per series, kept in the series bible.

The first time a series meets a character (no reference picture in its bible yet), the plan
says so (the bible's ``to_make``, priced in the estimate) and, once it is approved, the cast
stage has the image backend draw their sheet: the face from the front and three-quarter
turned, and the whole figure in their outfit, on plain paper. The offline storyboard painter
draws it from the same figures it draws in every keyframe. The sheet is copied beside the
bible and recorded as the character's ``reference_image``, before any shot is drawn, so:

* image models that take a reference (``ImageRequest.reference``) draw every keyframe of the
  character from it, from the first episode on;
* the critic judges every keyframe's likeness against it (and redraws one that is unlike,
  before its clip is paid for), and the episode's identity scores are measured against it.

A backend that fails or refuses to draw a sheet leaves that character without one: the
reference is then picked from the episode's keyframes, as it is with sheets turned off
(``[identity] reference_sheets = false``).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from dramaforge.config import Settings
from dramaforge.errors import ProviderError
from dramaforge.graph.context import RenderContext
from dramaforge.graph.cost import units
from dramaforge.graph.progress import stage_event
from dramaforge.graph.series import SeriesBook
from dramaforge.graph.state import RenderOptions
from dramaforge.media.files import atomic_file
from dramaforge.schema import Asset, CharacterLook, Language, StyleBible
from dramaforge.tools.protocols import Generated, ImageRequest, TaskJournal

PROMPT = {
    "zh": (
        "{name}的角色设定图：同一人物的正面脸部、四分之三侧面脸部和全身服装三视图，"
        "纯色浅背景，{description}。画风：{look}"
    ),
    "en": (
        "Character reference sheet of {name}: the same person's face from the front and in "
        "three-quarter view, and their full-length outfit, plain light background; "
        "{description}. Style: {look}"
    ),
}


def sheet_request(
    bible: StyleBible, look: CharacterLook, opts: RenderOptions, language: Language
) -> ImageRequest:
    """What a character's sheet is drawn from: their bible look at the episode's frame size."""
    return ImageRequest(
        prompt=PROMPT[language].format(
            name=look.name, description=look.description or look.name, look=bible.look
        ),
        width=opts.width,
        height=opts.height,
        seed=look.seed,
        framing="close_up",
        scene_heading="",
        palette=bible.palette,
        characters={look.name: (look.color, look.slot)},
        focus=look.name,
        language=language,
    )


def _draw(ctx: RenderContext, request: ImageRequest) -> Asset:
    """The sheet from the image backend (stored and paid like a keyframe); the storyboard
    painter draws its own three-panel sheet."""
    image = ctx.image
    painter = getattr(image, "draw_sheet", None)
    if painter is not None:

        def paint(dest: Path, _journal: TaskJournal) -> Generated:
            made: Generated = painter(request, dest)
            return made

        asset, _ = ctx.store.produce(
            "keyframe", f"{image.name}:sheet", request.model_dump(mode="json"), "png", paint
        )
        return asset
    asset, _ = ctx.store.produce(
        "keyframe",
        image.name,
        request.model_dump(mode="json") | {"sheet": True},
        "png",
        lambda dest, journal: ctx.paid(
            image.name,
            units("image"),
            f"reference sheet {request.focus}",
            lambda: image.generate(request, dest, journal),
        ),
        seed=request.seed,
        prompt=request.prompt,
    )
    return asset


def _on_disk(look: CharacterLook | None) -> bool:
    return bool(look and look.reference_image and Path(look.reference_image).is_file())


def sheets_to_draw(bible: StyleBible, settings: Settings, series_file: str | None) -> list[str]:
    """Who of ``bible``'s characters the cast stage draws a reference sheet for
    (``ensure_sheets``): in a series, with sheets on, everyone whose look (the series bible's,
    for a character it knows) has no sheet on disk yet."""
    if series_file is None or not settings.identity.reference_sheets:
        return []
    return [name for name, look in bible.characters.items() if not _on_disk(look)]


def ensure_sheets(
    ctx: RenderContext,
    path: Path,
    book: SeriesBook,
    bible: StyleBible,
    opts: RenderOptions,
    language: Language,
    names: list[str],
) -> StyleBible:
    """``bible`` with the reference sheets of ``names`` (the approved plan's), drawing the
    ones the series lacks.

    Drawn outside the bible's lock (a paid call may take a minute); recorded under it, where
    a sheet another episode recorded meanwhile wins, so a series keeps one sheet per character.
    """
    drawn: dict[str, Path] = {}
    for name, look in bible.characters.items():
        if name not in names or _on_disk(look):
            continue
        try:
            drawn[name] = Path(_draw(ctx, sheet_request(bible, look, opts, language)).path)
        except ProviderError as err:
            stage_event("cast", "note", character=name, sheet=f"not drawn: {err}")
    if not drawn:
        return bible
    folder = path.with_suffix("")
    with book.locked(path):
        looks = book.load(path)
        for name, source in drawn.items():
            if _on_disk(looks.get(name)) or name not in looks:
                continue
            digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
            dest = folder / f"sheet-{digest}{source.suffix}"
            if not dest.is_file():
                with atomic_file(dest) as tmp:
                    shutil.copyfile(source, tmp)
            looks[name] = looks[name].model_copy(update={"reference_image": str(dest)})
        book.save(path, looks)
    characters = {
        name: look.model_copy(update={"reference_image": looks[name].reference_image})
        if name in looks and _on_disk(looks[name])
        else look
        for name, look in bible.characters.items()
    }
    stage_event("cast", "sheets", drawn=sorted(drawn))
    return bible.model_copy(update={"characters": characters})
