"""The studio's words in English and Chinese, and which one a request gets.

The ``lang`` cookie (set by the switch in the page header) wins; otherwise the browser's
``Accept-Language`` in its own order of preference; English when neither says zh or en.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

LANGS = ("en", "zh")

WORDS: dict[str, tuple[str, str]] = {
    "studio": ("dramaforge studio", "dramaforge 工作室"),
    "home": ("Episodes", "剧集"),
    "episodes": ("Episodes", "剧集"),
    "episode": ("Episode", "剧集"),
    "title": ("Title", "标题"),
    "status": ("Status", "状态"),
    "length": ("Length", "时长"),
    "shots": ("Shots", "镜头"),
    "shot": ("Shot", "镜头"),
    "cost": ("Cost", "费用"),
    "spent": ("Spent", "已花费"),
    "budget": ("Budget", "预算"),
    "no_budget": ("no budget set", "未设预算"),
    "estimate": ("Estimated cost of the next render", "下次渲染预计费用"),
    "unpriced": ("No price configured for", "未配置价格："),
    "series": ("Series", "系列"),
    "scripts": ("Scripts in the workspace", "工作区中的剧本"),
    "plan": ("Plan (free)", "分镜规划（免费）"),
    "paste": ("Or paste a script", "或粘贴剧本"),
    "name": ("Name", "名称"),
    "nothing": ("Nothing here yet.", "这里还没有内容。"),
    "board": ("Board", "分镜板"),
    "render": ("Render", "渲染"),
    "characters": ("Characters", "角色"),
    "narrator": ("Narrator", "旁白"),
    "look": ("Look", "外观描述"),
    "voice": ("Voice", "声音"),
    "rate": ("Rate", "语速"),
    "pitch": ("Pitch", "音高"),
    "reference": ("Reference", "参考图"),
    "sample": ("Voice sample", "声音样本"),
    "save": ("Save", "保存"),
    "redo": ("Redo now", "立即重做"),
    "redo_hint": (
        "Save renders at the next approval; Redo now renders this shot at once.",
        "保存：下次确认时渲染；立即重做：马上重新生成本镜头。",
    ),
    "edit": ("Edit", "编辑"),
    "prompt": ("Prompt", "画面提示词"),
    "framing": ("Framing", "景别"),
    "camera": ("Camera", "运镜"),
    "duration": ("Seconds", "秒数"),
    "line": ("Line", "台词"),
    "play": ("Play", "播放"),
    "takes": ("Takes", "版本"),
    "take": ("Take", "版本"),
    "in_use": ("in use", "使用中"),
    "use_take": ("Use this take", "使用此版本"),
    "passed": ("passed", "通过"),
    "failed": ("failed", "未通过"),
    "score": ("score", "评分"),
    "up": ("Up", "上移"),
    "down": ("Down", "下移"),
    "remove": ("Remove", "删除"),
    "add": ("Add a shot after this one", "在此后添加镜头"),
    "add_first": ("Add a shot", "添加镜头"),
    "speaker": ("Speaker", "说话人"),
    "to_render": ("to render", "待渲染"),
    "pending": ("shot(s) to render", "个镜头待渲染"),
    "review_approve": ("Review and approve", "查看并确认"),
    "approve": ("Approve and render", "确认并渲染"),
    "approve_hint": (
        "Renders only the shots listed here; every other shot is reused.",
        "只渲染此处列出的镜头，其余镜头直接复用。",
    ),
    "nothing_to_render": (
        "No shot changed: approving re-assembles the episode only.",
        "没有镜头改动：确认只会重新合成剧集。",
    ),
    "draft": ("Draft (cheap, low resolution)", "草稿（低成本、低分辨率）"),
    "progress": ("Progress", "进度"),
    "running": ("Rendering…", "渲染中…"),
    "finished": ("Finished", "完成"),
    "player": ("Episode", "成片"),
    "downloads": ("Downloads", "下载"),
    "subtitles": ("Subtitles (SRT)", "字幕（SRT）"),
    "manifest": ("Manifest", "清单"),
    "storyboard": ("Storyboard", "故事板"),
    "exports": ("Editor exports", "剪辑工程导出"),
    "draft_video": ("Draft", "草稿"),
    "pass_draft": ("draft", "草稿"),
    "pass_final": ("final", "正式"),
    "busy": ("A render is running", "正在渲染"),
    "review": ("Review", "审片"),
    "lang": ("中文", "English"),
    "st_done": ("rendered", "已渲染"),
    "st_edited": ("edited, not rendered", "已修改，未渲染"),
    "st_rendering": ("rendering", "渲染中"),
    "st_awaiting_approval": ("planned, awaiting approval", "已规划，待确认"),
    "st_interrupted": ("awaiting approval (edited or interrupted)", "待确认（已修改或中断）"),
    "st_new": ("new", "新建"),
    "st_unreadable": ("unreadable", "无法读取"),
    "st_failed": ("failed", "失败"),
    "fr_wide": ("wide", "远景"),
    "fr_medium": ("medium", "中景"),
    "fr_close_up": ("close-up", "特写"),
    "fr_reaction": ("reaction", "反应镜头"),
    "fr_insert": ("insert", "插入镜头"),
    "cam_static": ("static", "固定"),
    "cam_zoom_in": ("zoom in", "推镜"),
    "cam_zoom_out": ("zoom out", "拉镜"),
    "cam_pan_left": ("pan left", "左摇"),
    "cam_pan_right": ("pan right", "右摇"),
    "error": ("Error", "错误"),
}


def choose(request: Request) -> str:
    cookie = request.cookies.get("lang")
    if cookie in LANGS:
        return cookie
    ranked: list[tuple[float, str]] = []
    for part in request.headers.get("accept-language", "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        base = tag.split("-")[0].lower()
        if base in LANGS:
            ranked.append((q, base))
    return max(ranked, key=lambda r: r[0])[1] if ranked else "en"


def words(lang: str) -> Callable[[str], str]:
    """``t(key)`` for templates; an unknown key shows itself, so a gap is visible, not fatal."""
    i = LANGS.index(lang) if lang in LANGS else 0

    def t(key: str) -> str:
        pair = WORDS.get(key)
        return pair[i] if pair else key

    return t
