"""Reading a novel for adaptation: its chapters, who speaks each quoted line, its cast and places.

A web novel or a classic arrives as one long text. Chapters are found by their headings
(``第三章 …``, ``第十回``, ``Chapter 3``, ``三、…``, ``## 3``); with none, the text is one chapter.
Offline, speech is found by rule: a quote (“…”) is a line, said by whoever the words around it
name (``母亲说：“…”``, ``“…”他说``; a pronoun is the last person named); a quote with no one
named goes to the other side of the conversation in progress; everything else is narration.
The cast is gathered once for the whole book: names that speak, nicknames given to them
(``人都叫伊“豆腐西施”``), and the first sentence that says what each looks like.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from dramaforge.errors import ScriptError

CHAPTER = re.compile(
    r"^\s*(?:#{1,3}\s*)?(?:"
    r"第\s*[0-9零〇一二三四五六七八九十百千两]{1,7}\s*[章回节卷集幕]"
    r"|chapter\s+(?:\d{1,4}|[ivxlc]{1,8}|[a-z]{3,12})\b"
    r"|[0-9]{1,3}[.、]\s*\S"
    r"|[一二三四五六七八九十]{1,3}、\s*\S"
    r")(?P<rest>.{0,40})$",
    re.IGNORECASE,
)
QUOTE = re.compile(r"[“「](?P<text>[^”」]{1,600})[”」]|\"(?P<plain>[^\"\n]{1,600})\"")
EN_SAY = r"(?:said|asked|replied|answered|cried|shouted|whispered|called|added)"
EN_AFTER = re.compile(
    rf"^\s*,?\s*(?:(?P<who>[A-Z][a-z]+(?: [A-Z][a-z]+)?) {EN_SAY}\b"
    rf"|{EN_SAY} (?P<after>[A-Z][a-z]+))"
)
EN_BEFORE = re.compile(rf"(?P<who>[A-Z][a-z]+(?: [A-Z][a-z]+)?) {EN_SAY}[,:]?\s*$")
SAY = r"(?:说|道|问|叫|喊|嚷|答|笑道|笑着说|回答|接着说|大声说|低声说|慢慢地说|说道|问道)"
BEFORE = re.compile(rf"(?P<who>[\u4e00-\u9fff]{{1,4}}?)(?:[^，。：“”]{{0,6}}?){SAY}[，,：:]?\s*$")
AFTER = re.compile(rf"^\s*[，,]?(?P<who>[\u4e00-\u9fff]{{1,4}}?)(?:[^，。“”]{{0,6}}?){SAY}")
PRONOUNS = {"他", "她", "伊", "他们", "她们"}
NOT_NAMES = {
    "我们", "你们", "大家", "有人", "别人", "人们", "众人", "一个", "这个", "那个", "自己",
    "于是", "然而", "但是", "因为", "所以", "只是", "便", "又", "也", "都", "却", "就",
    "忽然", "后来", "接着", "一面", "一边", "笑", "只", "还", "再", "便是", "这时",
    "从旁", "分明", "人都", "大声", "低声", "轻声", "冷笑", "笑着", "慢慢", "终于", "立刻",
    "连忙", "赶紧", "随即", "说着", "一齐", "同声", "高声", "小声", "回头", "对我", "对他",
}  # fmt: skip
LOOK_WORDS = re.compile(
    r"脸|头|眼|眉|鼻|嘴|唇|颧骨|胡子|辫|发|皱纹|身材|个子|穿|戴|衣|裙|帽|圈|手|脚|皮肤|瘦|胖|"
    r"高|矮|face|hair|eyes|wears?|wearing|tall|short|thin|coat|dress|hat"
)
PLACE = re.compile(
    r"[\u4e00-\u9fff]{1,4}?(?:村|镇|庄|城|街|海边|沙地|瓜地|家里|屋里|院子|堂屋|厨房|船上|河边|"
    r"码头|学校|教室|酒店|茶馆|土谷祠|衙门)"
)
ALIAS = re.compile(
    r"(?:叫(?:做|作)?|称(?:为|作)?|绰号|外号)[他她伊]?(?:作|做)?[“「\"](?P<alias>[^”」\"]{2,8})[”」\"]"
)
SENTENCE = re.compile(r"[^。！？!?…]+[。！？!?…]*[”」]?")


@dataclass
class Chapter:
    number: int
    title: str
    text: str


@dataclass
class Person:
    name: str
    aliases: list[str] = field(default_factory=list)
    look: str = ""


@dataclass
class Said:
    """One beat of a chapter: a line with its speaker, or narration (``speaker`` None)."""

    text: str
    speaker: str | None = None


def chapters(text: str, source: str = "<novel>") -> list[Chapter]:
    """The chapters of ``text`` in order; text before the first heading is a preface chapter
    when it holds more than a title line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found: list[tuple[int, str]] = [
        (i, line.strip().lstrip("#").strip()) for i, line in enumerate(lines) if CHAPTER.match(line)
    ]
    if not "".join(lines).strip():
        raise ScriptError("the novel is empty", path=source)
    if not found:
        return [Chapter(1, "", text.strip())]
    out: list[Chapter] = []
    preface = "\n".join(lines[: found[0][0]]).strip()
    if len(preface) > 80:
        out.append(Chapter(1, "", preface))
    for k, (at, title) in enumerate(found):
        end = found[k + 1][0] if k + 1 < len(found) else len(lines)
        body = "\n".join(lines[at + 1 : end]).strip()
        if body:
            out.append(Chapter(len(out) + 1, title, body))
    return out


def paragraphs(text: str) -> list[str]:
    return [p.strip().strip("\u3000") for p in re.split(r"\n\s*\n|\n(?=[\u3000\s]{1,4})|\n", text)
            if p.strip()]  # fmt: skip


def _speaker(who: str, last_named: str | None, cast: set[str]) -> str | None:
    """A name from the words around a quote: a cast name (longest inside), a pronoun's last
    named person, ``我`` for the one telling the story."""
    for name in sorted(cast, key=len, reverse=True):
        if name in who:
            return name
    if who.endswith("我") or who == "我":
        return "我"
    if any(who.endswith(p) for p in PRONOUNS):
        return last_named
    return None


def said(chapter: str, cast: dict[str, Person]) -> list[Said]:
    """The chapter as lines with speakers and narration, in reading order."""
    names = {p.name for p in cast.values()}
    alias_of = {a: p.name for p in cast.values() for a in p.aliases}
    known = names | set(alias_of)
    out: list[Said] = []
    last_named: str | None = None
    talk: list[str] = []  # the speakers of the conversation in progress
    for para in paragraphs(chapter):
        at = 0
        for m in QUOTE.finditer(para):
            before, after = para[at : m.start()], para[m.end() :]
            last_named = _last_name(before, known, alias_of) or last_named
            who, cut = _who(before, after, last_named, known, alias_of)
            if who is None and _a_term(_quoted(m)):
                continue  # 人都叫伊“豆腐西施”: a quoted name, part of the narration

            if _worded(before[: len(before) - cut]):
                out.append(Said(_clean(before[: len(before) - cut])))
            if who is None and len(talk) >= 2:
                who = talk[-2]  # the other side of the conversation
            if who is not None:
                talk = talk if talk and talk[-1] == who else [*talk[-1:], who]
                last_named = who if who != "我" else last_named
            out.append(Said(_quoted(m).strip().rstrip(",，"), who))
            at = m.end()
            tail = AFTER.match(after) or EN_AFTER.match(after)
            if tail is not None and who is not None:
                at = m.end() + tail.end()
        rest = para[at:]
        if _worded(rest):
            out.append(Said(_clean(rest)))
            last_named = _last_name(rest, known, alias_of) or last_named
    return [s for s in out if s.text]


def _who(
    before: str, after: str, last: str | None, known: set[str], alias_of: dict[str, str]
) -> tuple[str | None, int]:
    """Who says the quote between ``before`` and ``after``, and how much of ``before`` the
    attribution takes (``母亲说：``, cut from the narration). A verb of saying with no name
    (``分明的叫道：``) is said by the last person named, as Chinese drops the subject."""
    tail = before[-30:]
    head = BEFORE.search(tail)
    if head is not None:
        name = _speaker(tail[: head.end()], last, known)
        return alias_of.get(name, name) if name else last, len(tail) - head.start()
    if (behind := AFTER.match(after[:30])) is not None:
        name = _speaker(after[: behind.end()], last, known)
        return (alias_of.get(name, name) if name else last), 0
    if (en := EN_BEFORE.search(tail)) is not None:  # Tom said, "…"
        return alias_of.get(en.group("who"), en.group("who")), len(tail) - en.start()
    if (en := EN_AFTER.match(after[:40])) is not None:  # "…," Tom said. / "…," said Mary.
        who = en.group("who") or en.group("after")
        return alias_of.get(who, who), 0
    return None, 0


def _worded(text: str) -> bool:
    """Whether narration has words in it (not the ``.`` left after ``Tom said``)."""
    return bool(re.search(r"[^\W_]", text))


def _quoted(m: re.Match[str]) -> str:
    return m.group("text") or m.group("plain") or ""


def _a_term(text: str) -> bool:
    """A short quote without a sentence in it: a nickname or a term, not speech."""
    return len(text) <= 8 and not re.search(r"[。！？!?，,…]", text)


def _last_name(text: str, known: set[str], alias_of: dict[str, str]) -> str | None:
    hits = [(text.rfind(n), n) for n in known if n in text]
    if not hits:
        return None
    name = max(hits)[1]
    return alias_of.get(name, name)


def _clean(text: str) -> str:
    return text.strip().strip("，,：:").strip()


def gather_cast(book: list[Chapter], limit: int = 12) -> dict[str, Person]:
    """The people of the whole book, once: those named as speaking, their nicknames and the
    first sentence that shows their look. The name is the part of the words before a verb of
    saying that the book uses most (``杨二嫂冷笑说`` -> 杨二嫂)."""
    text = "\n".join(c.text for c in book)
    speakers: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    for m in QUOTE.finditer(text):
        if _a_term(_quoted(m)):  # 人都叫伊“豆腐西施”: a nickname, nobody speaking
            continue
        for en in (EN_BEFORE.search(text[max(0, m.start() - 40) : m.start()]),
                   EN_AFTER.match(text[m.end() : m.end() + 40])):  # fmt: skip
            who = (en.group("who") or en.groupdict().get("after")) if en is not None else None
            if who and text.count(who) >= 2:
                speakers[who] += 1
        windows = [text[max(0, m.start() - 12) : m.start()], text[m.end() : m.end() + 12]]
        for window in windows:
            said_at = re.search(SAY, window)
            if said_at is None:
                continue
            words = re.split(r"[，。：:“”！？、；\s]", window[: said_at.start()])[-1]
            name = _likely_name(words, text, mentions)
            if name is not None:
                speakers[name] += 1
    people: dict[str, Person] = {}
    for name, _ in speakers.most_common():
        if not any(name in other or other in name for other in people):
            people[name] = Person(name, _aliases(text, name), _look(text, name))
        if len(people) >= limit:
            break
    if re.search(rf"[“」”]\s*我{SAY}|我{SAY}[：:，]?\s*[“「]", text):
        people.setdefault("我", Person("我"))
    return people


def _likely_name(words: str, text: str, mentions: Counter[str]) -> str | None:
    """The 2-4 character run in ``words`` that the book mentions most (twice at least)."""
    best: tuple[int, int, str] | None = None
    for size in (4, 3, 2):
        for i in range(len(words) - size + 1):
            name = words[i : i + size]
            if not _plausible(name) or words[i + size : i + size + 1] in ("的", "地"):
                continue  # ``分明的叫道``: how it is said, not who says it
            if name not in mentions:
                mentions[name] = text.count(name)
            count = mentions[name]
            if count >= 2 and (best is None or (count, size) > best[:2]):
                best = (count, size, name)
    return best[2] if best else None


def _plausible(name: str) -> bool:
    return (
        name not in NOT_NAMES
        and not any(name.startswith(w) for w in ("我", "你", "他", "她", "伊", "这", "那", "便"))
        and not name.endswith(("们", "的", "了", "着", "地"))
    )


def _aliases(text: str, name: str) -> list[str]:
    found: list[str] = []
    for m in re.finditer(re.escape(name), text):
        window = text[m.end() : m.end() + 40]
        if (alias := ALIAS.search(window)) is not None and alias.group("alias") != name:
            found.append(alias.group("alias"))
    return list(dict.fromkeys(found))[:3]


def _look(text: str, name: str) -> str:
    for m in SENTENCE.finditer(text):
        sentence = m.group(0)
        if name in sentence and LOOK_WORDS.search(sentence) and not QUOTE.search(sentence):
            return sentence.strip()[:80]
    return ""


PLACE_LEAD = set("的是下面上在到和与着了从向往这那一个些便又就都也们日")


def places(chapter: str) -> list[str]:
    """Places the chapter names, most mentioned first (``荒村``, ``海边``, ``沙地``)."""
    found = []
    for m in PLACE.finditer(chapter):
        pieces = [p for p in re.split(f"[{''.join(sorted(PLACE_LEAD))}]", m.group(0)) if p]
        found.append(pieces[-1] if pieces and len(pieces[-1]) >= 2 else m.group(0))
    return [p for p, _ in Counter(found).most_common(3)]
