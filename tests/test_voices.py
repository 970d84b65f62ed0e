"""Voices by design: described in the cast header, designed by Qwen-TTS voice design, cloned by
CosyVoice enrollment with the owner's consent, or matched to the closest offline voice; kept in
the bible so a series reuses it. Against the fake DashScope (real HTTP, real uploads)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dramaforge.agents.bible import build_bible
from dramaforge.agents.voices import VoiceWish, closest, make_voices, wishes_from
from dramaforge.chat.repl import Chat
from dramaforge.chat.voices import cast_flags, voice_wish
from dramaforge.cli.app import app
from dramaforge.cli.doctor import Check, run_checks
from dramaforge.config import DashScopeSettings, Settings, VoiceSettings
from dramaforge.errors import ConfigError, DramaforgeError, ProviderError
from dramaforge.graph.session import session_for
from dramaforge.graph.verbs import render_episode
from dramaforge.media.files import write_wav
from dramaforge.media.probe import probe
from dramaforge.schema import Script, StyleBible, Voice
from dramaforge.script import load_script
from dramaforge.tools.dashscope.cosyvoice import CosyVoice
from dramaforge.tools.dashscope.speech import DashScopeSpeech
from dramaforge.tools.dashscope.transport import Transport
from dramaforge.tools.local.speech import VOICES as LOCAL_VOICES
from dramaforge.tools.protocols import SpeechRequest
from tests.fakes.cosyvoice_server import FakeCosyVoice
from tests.fakes.dashscope_server import FakeDashScope, Fault
from tests.helpers import provider_settings, settings_for

VD = "qwen3-tts-vd-2026-01-26"
ZH = """# 雨夜
角色：林小雨 — 温柔、略带沙哑的女声；老周（六十岁的老人，低沉苍老的男声）
【场景1】街角 - 夜 - 外
林小雨：你还在等吗？
老周：一直在等。
"""
EN = """# Rain
Cast: Mia — warm, slightly husky female voice; Tom — an old man with a deep voice
[Scene 1] Cafe - night - int
Mia: Are you still waiting?
Tom: Always.
"""


def _script(tmp_path: Path, text: str = ZH) -> Script:
    path = tmp_path / "script.txt"
    path.write_text(text, encoding="utf-8")
    return load_script(path)


def _bible(script: Script, voices: list) -> StyleBible:  # type: ignore[type-arg]
    from dramaforge.agents.director import RuleDirector

    return build_bible(script, RuleDirector().direct(script), voices)


def _sample(path: Path, seconds: float) -> Path:
    """A voice-like sample: a 180 Hz tone that swells and fades like syllables."""
    rate = 16000
    frames = b"".join(
        struct.pack(
            "<h",
            int(
                9000
                * abs(math.sin(math.pi * 3 * i / rate))
                * math.sin(2 * math.pi * 180 * i / rate)
            ),
        )
        for i in range(int(seconds * rate))
    )
    write_wav(path, frames, channels=1, rate=rate)
    return path


def _settings(fake: FakeDashScope) -> DashScopeSettings:
    return provider_settings(fake, DashScopeSettings, timeout=10.0, max_retries=1)


def test_cast_header_descriptions_become_voice_wishes(tmp_path: Path) -> None:
    zh, en = wishes_from(_script(tmp_path, ZH)), wishes_from(_script(tmp_path, EN))
    assert zh["林小雨"].description == "温柔、略带沙哑的女声"
    assert "男声" in zh["老周"].description
    assert en == {
        "Mia": VoiceWish(description="warm, slightly husky female voice"),
        "Tom": VoiceWish(description="an old man with a deep voice"),
    }
    given = {"Mia": VoiceWish(sample=tmp_path / "mia.wav", consent=True)}
    assert wishes_from(_script(tmp_path, EN), given)["Mia"].sample == tmp_path / "mia.wav"


def test_voice_design_makes_a_voice_the_vd_model_then_speaks_with(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    script = _script(tmp_path)
    speech = DashScopeSpeech(VD, Transport(_settings(dashscope_server)))
    bible, notes = make_voices(
        _bible(script, speech.voices("zh")), wishes_from(script), speech, "zh", speech.voices("zh")
    )
    assert notes == []
    voice = bible.characters["林小雨"].voice
    assert voice.origin == "designed" and voice.id.startswith("qwen-tts-vd-")
    made = dashscope_server.voices.made[voice.id]
    assert made.prompt == "温柔、略带沙哑的女声" and made.target_model == VD
    assert bible.characters["老周"].voice.id != voice.id
    # The vd model refuses any voice not designed for it: this line proves the id is sent.
    dest = tmp_path / "line.wav"
    speech.synthesize(SpeechRequest(text="你还在等吗？", voice=voice, language="zh"), dest)
    assert probe(dest).has_audio
    assert dashscope_server.tts_calls[VD] == 1
    # The vd model speaks designed voices only, so the narrator got one too.
    assert bible.narrator.origin == "designed"
    narration = SpeechRequest(text="夜深了。", voice=bible.narrator, language="zh")
    speech.synthesize(narration, tmp_path / "narration.wav")


def test_cloning_uploads_the_sample_once_and_keeps_the_consent(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    script = _script(tmp_path)
    sample = _sample(tmp_path / "voice.wav", 12.0)
    speech = CosyVoice("cosyvoice-v2", _settings(dashscope_server))
    wishes = {"林小雨": VoiceWish(sample=sample, owner="Wang Fang", consent=True)}
    bible, _ = make_voices(_bible(script, speech.voices("zh")), wishes, speech, "zh", [])
    voice = bible.characters["林小雨"].voice
    assert voice.origin == "cloned" and voice.id.startswith("cosyvoice-v2-")
    assert dashscope_server.voices.made[voice.id].sample == sample.read_bytes()
    assert [f.data for f in dashscope_server.uploads.files.values()] == [sample.read_bytes()]
    assert voice.consent is not None
    assert voice.consent.owner == "Wang Fang" and voice.consent.affirmed
    assert voice.consent.sample_sha256 == hashlib.sha256(sample.read_bytes()).hexdigest()
    # Made once: a second pass over the same bible (the next episode) asks for nothing.
    again, _ = make_voices(bible, wishes, speech, "zh", [])
    assert again.characters["林小雨"].voice == voice
    assert dashscope_server.voices.calls == 1


def test_cloning_without_consent_is_refused_before_anything_is_sent(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    script = _script(tmp_path)
    sample = _sample(tmp_path / "voice.wav", 12.0)
    speech = CosyVoice("cosyvoice-v2", _settings(dashscope_server))
    wishes = {"林小雨": VoiceWish(sample=sample)}
    with pytest.raises(ConfigError, match="--i-own-this-voice"):
        make_voices(_bible(script, speech.voices("zh")), wishes, speech, "zh", [])
    assert dashscope_server.uploads.files == {} and dashscope_server.voices.calls == 0


def test_a_too_short_sample_is_the_servers_clear_refusal(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    speech = CosyVoice("cosyvoice-v2", _settings(dashscope_server))
    with pytest.raises(ProviderError, match=r"Audio\.AudioShortError"):
        speech.clone_voice(_sample(tmp_path / "short.wav", 1.0), "Mia")


def test_offline_engines_say_they_cannot_and_pick_the_closest_voice(tmp_path: Path) -> None:
    for text, language in ((ZH, "zh"), (EN, "en")):
        script = _script(tmp_path, text)
        offered = [v.model_copy() for v in LOCAL_VOICES[language]]
        bible, notes = make_voices(
            _bible(script, offered), wishes_from(script), object(), language, offered
        )
        assert len(notes) == 1 and "cannot design voices" in notes[0]
        woman, man = (bible.characters[n].voice for n in list(wishes_from(script)))
        assert woman.origin == man.origin == "matched"
        assert (woman.id, woman.pitch) != (man.id, man.pitch)
        assert woman.pitch > 1.0 > man.pitch


def test_closest_reads_gender_age_and_warmth() -> None:
    zh = LOCAL_VOICES["zh"]
    assert "+f" in closest("清脆活泼的小女孩", zh).id
    assert "+m" in closest("低沉的中年男声", zh).id
    child, old = (
        closest("a little girl", LOCAL_VOICES["en"]),
        closest("an old woman", LOCAL_VOICES["en"]),
    )
    assert child.pitch > old.pitch
    taken = {f"{child.id}|{child.pitch}|{child.rate}"}
    assert closest("a little girl", LOCAL_VOICES["en"], taken) != child


EPISODE_1 = """# 雨夜
角色：林小雨 — 温柔、略带沙哑的女声；老周（六十岁的老人，低沉苍老的男声）
【场景1】街角 - 夜 - 外
林小雨：你还在等吗？
老周：一直在等。
"""
EPISODE_2 = """# 雨夜 第2集
【场景1】车站 - 夜 - 外
老周：你来了。
林小雨：我来了。
"""


@pytest.mark.slow
def test_a_cloned_voice_is_made_once_and_speaks_every_episode_of_the_series(
    tmp_path: Path, cosyvoice_server: FakeCosyVoice
) -> None:
    """Two episodes with CosyVoice speech: the sample is enrolled once (episode 1), both
    manifests carry the same voice id and its consent, and the WebSocket saw it spoken."""
    sample = _sample(tmp_path / "xiaoyu.wav", 12.0)
    scripts = []
    for n, text in enumerate((EPISODE_1, EPISODE_2), 1):
        scripts.append(tmp_path / f"ep{n}.txt")
        scripts[-1].write_text(text, encoding="utf-8")
    with FakeDashScope() as fake:
        cosyvoice_server.enrolled = lambda voice: voice in fake.voices.made
        base = settings_for(max_takes=1)
        settings = base.model_copy(
            update={
                "backends": base.backends.model_copy(update={"speech": "dashscope:cosyvoice-v2"}),
                "dashscope": _settings(fake).model_copy(
                    update={"websocket_url": cosyvoice_server.url}
                ),
                "voices": VoiceSettings(
                    cast={"林小雨": VoiceWish(sample=sample, owner="Wang Fang", consent=True)}
                ),
            }
        )
        out = tmp_path / "out"
        first = render_episode(scripts[0], out, settings, series="雨夜")
        second = render_episode(scripts[1], out, settings, series="雨夜")
        assert fake.voices.calls == 1
    ids = {m.bible.characters["林小雨"].voice.id for m in (first, second)}
    assert len(ids) == 1 and next(iter(ids)).startswith("cosyvoice-v2-")
    for manifest in (first, second):
        voice = manifest.bible.characters["林小雨"].voice
        assert voice.origin == "cloned" and voice.consent is not None
        assert voice.consent.sample_sha256 == hashlib.sha256(sample.read_bytes()).hexdigest()
        # Written to disk too, for whoever audits the episode later.
        on_disk = json.loads((Path(manifest.episode.path).parent / "manifest.json").read_text())
        assert on_disk["bible"]["characters"]["林小雨"]["voice"]["consent"]["owner"] == "Wang Fang"
    # 老周 was described, not sampled: CosyVoice cannot design, so a matched system voice.
    assert first.bible.characters["老周"].voice.origin == "matched"
    spoken = {
        (m.get("payload") or {}).get("parameters", {}).get("voice")
        for m in cosyvoice_server.messages
    }
    assert next(iter(ids)) in spoken


def test_chat_voice_words_and_samples_are_wishes_and_id_edits_are_not(tmp_path: Path) -> None:
    assert voice_wish(["id=Cherry", "rate=1.1"]) is None
    assert voice_wish(["温柔、略带沙哑的女声"]) == VoiceWish(description="温柔、略带沙哑的女声")
    wish = voice_wish(["sample=voice.wav", "consent=yes", "owner=Wang"])
    assert wish == VoiceWish(sample=Path("voice.wav"), consent=True, owner="Wang")
    assert voice_wish(["sample=voice.wav"]) == VoiceWish(sample=Path("voice.wav"))
    with pytest.raises(DramaforgeError, match="unknown colour"):
        voice_wish(["colour=red"])
    assert cast_flags(["Mia=mia.wav", "Tom=an old man, deep voice"], owned=True) == {
        "Mia": VoiceWish(sample=Path("mia.wav"), consent=True),
        "Tom": VoiceWish(description="an old man, deep voice"),
    }


def test_render_refuses_to_clone_without_the_flag_in_one_line(tmp_path: Path) -> None:
    script = tmp_path / "ep.txt"
    script.write_text(EPISODE_1, encoding="utf-8")
    sample = _sample(tmp_path / "voice.wav", 12.0)
    args = ["render", str(script), "--out", str(tmp_path / "o"), "--voice", f"林小雨={sample}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ConfigError.exit_code
    assert "--i-own-this-voice" in result.output and "Traceback" not in result.output
    assert not list((tmp_path / "o").rglob("*.mp4"))


def test_a_designed_voice_is_paid_once_even_for_a_fresh_bible(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """A new render of the same cast (no series, a new thread) reuses the kept voice."""
    script = _script(tmp_path)
    speech = DashScopeSpeech(VD, Transport(_settings(dashscope_server)))
    kept = tmp_path / "state" / "voices.json"
    made = [
        make_voices(
            _bible(script, speech.voices("zh")),
            wishes_from(script),
            speech,
            "zh",
            speech.voices("zh"),
            kept,
        )[0]
        for _ in range(2)
    ]
    assert made[0].characters == made[1].characters
    assert dashscope_server.voices.calls == 3  # 林小雨, 老周 and the narrator, once each


def test_a_plain_voice_dumps_as_before_so_old_fingerprints_hold() -> None:
    assert Voice(id="Cherry").model_dump() == {"id": "Cherry", "pitch": 1.0, "rate": 1.0}
    made = Voice(id="v", origin="designed", description="warm")
    assert Voice.model_validate_json(made.model_dump_json()) == made


@pytest.mark.slow
def test_offline_render_says_it_cannot_design_and_each_character_sounds_apart(
    tmp_path: Path,
) -> None:
    script = tmp_path / "ep.txt"
    script.write_text(EPISODE_1, encoding="utf-8")
    out = tmp_path / "o"
    result = CliRunner().invoke(app, ["render", str(script), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.count("cannot design voices") == 1
    manifest = json.loads(next(out.rglob("manifest.json")).read_text(encoding="utf-8"))
    voices = {n: c["voice"] for n, c in manifest["bible"]["characters"].items()}
    assert voices["林小雨"]["origin"] == voices["老周"]["origin"] == "matched"
    assert voices["林小雨"]["pitch"] > 1.0 > voices["老周"]["pitch"]


def test_chat_voice_designs_anew_and_refuses_a_sample_without_consent(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    script = tmp_path / "ep.txt"
    script.write_text(EPISODE_1, encoding="utf-8")
    sample = _sample(tmp_path / "voice.wav", 12.0)
    base = settings_for(max_takes=1)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"speech": f"dashscope:{VD}"}),
            "dashscope": _settings(dashscope_server),
        }
    )
    screen = io.StringIO()
    with session_for(script, tmp_path / "o", settings) as session:
        chat = Chat(session, Console(file=screen, width=200))
        planned = session.bible()
        assert planned.characters["林小雨"].voice.origin is None  # planned, not yet paid for
        assert planned.to_make.voices["林小雨"].description == "温柔、略带沙哑的女声"
        chat.handle("/voice 林小雨 清脆活泼的少女声")
        after = session.bible()
        voice = after.characters["林小雨"].voice
        assert voice.origin == "designed" and "林小雨" not in after.to_make.voices
        assert dashscope_server.voices.made[voice.id].prompt == "清脆活泼的少女声"
        chat.handle(f"/voice 老周 sample={sample}")
        assert "--i-own-this-voice" in screen.getvalue()
        unchanged = session.bible()
        assert unchanged.characters["老周"].voice.origin is None
        assert unchanged.to_make.voices["老周"].how == "design"  # still waits for approval
    assert dashscope_server.voices.calls == 1  # none at planning, the one asked for in chat


def test_a_voice_made_in_chat_speaks_in_the_next_episode_of_the_series(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    """``/voice`` in episode 1's chat writes the voice to the series bible: episode 2 plans
    with it (nothing designed again), and a rate edit is kept the same way."""
    scripts = []
    for n, text in enumerate((EPISODE_1, EPISODE_2), 1):
        scripts.append(tmp_path / f"ep{n}.txt")
        scripts[-1].write_text(text, encoding="utf-8")
    base = settings_for(max_takes=1)
    settings = base.model_copy(
        update={
            "backends": base.backends.model_copy(update={"speech": f"dashscope:{VD}"}),
            "dashscope": _settings(dashscope_server),
        }
    )
    out = tmp_path / "out"
    with session_for(scripts[0], out, settings, series="雨夜") as session:
        chat = Chat(session, Console(file=io.StringIO(), width=200))
        chat.handle("/voice 林小雨 清脆活泼的少女声")
        chat.handle("/voice 老周 rate=0.8")
        made = session.bible().characters["林小雨"].voice
    assert made.origin == "designed"
    assert dashscope_server.voices.made[made.id].prompt == "清脆活泼的少女声"
    calls = dashscope_server.voices.calls
    with session_for(scripts[1], out, settings, series="雨夜") as session:
        next_episode = session.bible()
    assert next_episode.characters["林小雨"].voice == made
    assert next_episode.characters["老周"].voice.rate == 0.8
    assert dashscope_server.voices.calls == calls  # nothing designed again, the narrator kept
    book = json.loads((settings.state_root(out) / "series" / "雨夜.json").read_text("utf-8"))
    assert book["林小雨"]["voice"]["id"] == made.id


def test_chat_series_flag_keeps_a_voice_for_the_series(tmp_path: Path) -> None:
    script = tmp_path / "ep.txt"
    script.write_text(EPISODE_1, encoding="utf-8")
    out = tmp_path / "out"
    args = ["chat", str(script), "--out", str(out), "--resolution", "360p", "--series", "雨夜"]
    said = CliRunner().invoke(app, args, input="/voice 老周 温柔的男声\n")
    assert said.exit_code == 0, said.output
    assert "老周's voice is matched" in said.output
    book = json.loads((settings_for().state_root(out) / "series" / "雨夜.json").read_text("utf-8"))
    assert book["老周"]["voice"]["origin"] == "matched"
    assert book["老周"]["voice"]["description"] == "温柔的男声"


def test_a_chat_on_its_own_writes_no_series_bible(tmp_path: Path) -> None:
    script = tmp_path / "ep.txt"
    script.write_text(EPISODE_1, encoding="utf-8")
    out = tmp_path / "out"
    with session_for(script, out, settings_for()) as session:
        Chat(session, Console(file=io.StringIO(), width=200)).handle("/voice 林小雨 温柔的女声")
        assert session.bible().characters["林小雨"].voice.origin == "matched"
    assert not (settings_for().state_root(out) / "series").exists()


def test_an_account_without_voice_design_is_one_clear_error_naming_the_character(
    dashscope_server: FakeDashScope, tmp_path: Path
) -> None:
    dashscope_server.fault(
        "customize",
        Fault("status", status=403, code="AccessDenied", message="Access denied."),
    )
    script = _script(tmp_path)
    speech = DashScopeSpeech(VD, Transport(_settings(dashscope_server)))
    with pytest.raises(ProviderError) as raised:
        make_voices(_bible(script, speech.voices("zh")), wishes_from(script), speech, "zh", [])
    message = str(raised.value)
    assert "voice design for 林小雨" in message and "AccessDenied" in message
    assert "\n" not in message and not raised.value.retryable


def test_doctor_says_what_the_speech_backend_can_and_checks_each_sample(tmp_path: Path) -> None:
    def voices_row(settings: Settings) -> Check:
        return next(c for c in run_checks(settings) if c.name == "voices by design")

    base = settings_for()
    row = voices_row(base)
    assert row.ok and "neither designs nor clones" in row.detail
    sample = _sample(tmp_path / "voice.wav", 5.0)
    cast = {"Mia": VoiceWish(sample=sample)}
    row = voices_row(base.model_copy(update={"voices": VoiceSettings(cast=cast)}))
    assert not row.ok and "--i-own-this-voice" in row.detail
    cast = {"Mia": VoiceWish(sample=sample, consent=True)}
    row = voices_row(base.model_copy(update={"voices": VoiceSettings(cast=cast)}))
    assert row.ok and "Mia's sample is 5 s" in row.detail
