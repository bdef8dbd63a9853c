"""The demo's public map: more synthetic consented reports (so the map looks like a map,
not six dots), their drafts on the demo workstation, and the map instance at
``<demo>/map`` fed the workstation's publication bundles.

The extra reports go through the same path as the hand-written demo reports: made on the
demo server as a source would send them, exported, imported on the workstation, drafted,
redaction-checked and published in the signed bundle. Their text says in every sentence
that it is invented; each is spread over districts (a grid cell in the district, or one
of its metro stations), types, services and the last 24 months, and some keep their
story.
"""

from __future__ import annotations

import datetime
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from journalist_interface.workstation import places, publish
from journalist_interface.workstation.casestore import Connection
from public_map import store
from public_map.ingest import IngestRefused, ingest
from public_map.instance import CONFIG_FILE, MapError, init_map
from securedrop_like import codenames, grid
from securedrop_like.config import Config
from securedrop_like.derivation import Deriver
from securedrop_like.service import ReportService, Submission

MAP_REPORTS = 48  # synthetic consented reports made for the map, all published
MAP_FOLDER = "map"
STORY_SHARE = 0.4  # of the synthetic entries that keep her (invented) story
_SEED = 10

# Every synthetic text opens with this (per language): the workstation tells the
# map's synthetic reports from the hand-written demo reports by it.
MARKERS = {
    "az": "Bu, demo üçün uydurulmuş hekayədir, onu real insan yazmayıb.",
    "ru": "Это выдуманная история для демо, её не писал реальный человек.",
    "en": "This is an invented story for the demo, not written by a real person.",
}
_CLOSING = {
    "az": "Burada yazılanlar heç kimin başına gəlməyib.",
    "ru": "Ничего из этого ни с кем не происходило.",
    "en": "Nothing here happened to anyone.",
}


@dataclass(frozen=True)
class _Scene:
    types: tuple[str, ...]
    perpetrators: tuple[str, ...]
    services: tuple[str, ...]
    story: dict[str, str]
    summary: dict[str, str]
    online: bool = False


_SCENES = (
    _Scene(
        ("sextortion", "verbal"),
        ("official", "police"),
        ("documents", "benefits", "police", "housing"),
        {
            "az": "Xidmət pəncərəsindəki kişi dedi ki, işdən sonra onunla görüşsəm, "
            "sənədlərim tez hazır olar.",
            "ru": "Мужчина в окне приёма сказал, что документы будут готовы быстрее, "
            "если я встречусь с ним после работы.",
            "en": "The man at the service window said my papers would be ready sooner "
            "if I met him after work.",
        },
        {
            "az": "Uydurma demo yazısı: məmur sənədləri tezləşdirmək üçün qadından "
            "görüş tələb edib.",
            "ru": "Выдуманная демо-запись: чиновник требовал от женщины встречи за "
            "ускорение документов.",
            "en": "Invented demo entry: an official asked a woman for a meeting in "
            "exchange for faster papers.",
        },
    ),
    _Scene(
        ("verbal", "nonverbal"),
        ("stranger",),
        ("none", "other"),
        {
            "az": "Avtobusda bir kişi lap yanımda durub, dayanacağa qədər mənə sözlər atdı.",
            "ru": "В автобусе мужчина стоял вплотную и до самой остановки отпускал замечания.",
            "en": "On the bus a man stood right against me and made remarks until my stop.",
        },
        {
            "az": "Uydurma demo yazısı: nəqliyyatda tanımadığı kişi qadına söz atıb.",
            "ru": "Выдуманная демо-запись: незнакомец в транспорте приставал к женщине "
            "с замечаниями.",
            "en": "Invented demo entry: a stranger on public transport made remarks at a woman.",
        },
    ),
    _Scene(
        ("online", "verbal"),
        ("teacher",),
        ("education",),
        {
            "az": "Müəllim qiymətim barədə mənə gecə gec saatlarda mesajlar yazırdı.",
            "ru": "Преподаватель писал мне поздно ночью сообщения о моей оценке.",
            "en": "A teacher kept writing to me late at night about my grade.",
        },
        {
            "az": "Uydurma demo yazısı: müəllim tələbəyə gecələr narahat edici mesajlar yazıb.",
            "ru": "Выдуманная демо-запись: преподаватель писал студентке навязчивые "
            "сообщения по ночам.",
            "en": "Invented demo entry: a teacher sent a student unwanted messages at night.",
        },
    ),
    _Scene(
        ("touching",),
        ("workplace", "medical", "official"),
        ("health", "employment", "benefits"),
        {
            "az": "Növbədə gözləyəndə bir işçi mənə toxundu və güldü.",
            "ru": "Пока я ждала в очереди, сотрудник дотронулся до меня и засмеялся.",
            "en": "While I waited in the queue, a staff member touched me and laughed.",
        },
        {
            "az": "Uydurma demo yazısı: növbədə gözləyən qadına işçi toxunub.",
            "ru": "Выдуманная демо-запись: сотрудник трогал женщину, ожидавшую в очереди.",
            "en": "Invented demo entry: a staff member touched a woman waiting in a queue.",
        },
    ),
    _Scene(
        ("stalking", "threats"),
        ("stranger", "acquaintance"),
        ("none",),
        {
            "az": "Tanımadığım biri bir neçə həftə işdən evə qədər arxamca gəldi.",
            "ru": "Незнакомый человек несколько недель шёл за мной от работы до дома.",
            "en": "Someone I did not know followed me home from work for weeks.",
        },
        {
            "az": "Uydurma demo yazısı: qadını həftələrlə kimsə izləyib.",
            "ru": "Выдуманная демо-запись: женщину неделями преследовал человек.",
            "en": "Invented demo entry: a woman was followed for weeks.",
        },
    ),
    _Scene(
        ("online", "threats"),
        ("acquaintance", "prefer_not_to_say"),
        ("none",),
        {
            "az": "Sosial şəbəkədə biri şəkillərimi yaymaqla məni hədələdi.",
            "ru": "В соцсети мне угрожали выложить мои фотографии.",
            "en": "Someone online threatened to share my photos.",
        },
        {
            "az": "Uydurma demo yazısı: qadını internetdə şəkillərini yaymaqla hədələyiblər.",
            "ru": "Выдуманная демо-запись: женщине в интернете угрожали публикацией фото.",
            "en": "Invented demo entry: a woman was threatened online with her photos.",
        },
        online=True,
    ),
    _Scene(
        ("sextortion",),
        ("landlord", "workplace"),
        ("housing", "employment"),
        {
            "az": "Ev sahibi dedi ki, onunla yaxın olsam, kirayə haqqını artırmayacaq.",
            "ru": "Хозяин квартиры сказал, что не поднимет плату, если я буду с ним поближе.",
            "en": "The landlord said he would not raise the rent if I were closer to him.",
        },
        {
            "az": "Uydurma demo yazısı: ev sahibi kirayə müqabilində yaxınlıq istəyib.",
            "ru": "Выдуманная демо-запись: арендодатель требовал близости в обмен на цену аренды.",
            "en": "Invented demo entry: a landlord asked for intimacy in exchange for the rent.",
        },
    ),
)
# Where the synthetic reports happened: weighted to the central districts, as real
# reports would be; "online" only for scenes online.
_DISTRICTS = (
    ("nasimi", 5),
    ("yasamal", 4),
    ("narimanov", 4),
    ("nizami", 3),
    ("khatay", 3),
    ("sabail", 3),
    ("binagady", 2),
    ("sabunchu", 2),
    ("surakhany", 1),
    ("khazar", 1),
    ("karadag", 1),
    ("pirallahi", 1),
)
_LANGS = ("az", "ru", "en")


def is_map_report(document: dict[str, Any]) -> bool:
    """Whether a report is one of :func:`add_map_reports`'s (by its opening words)."""
    text = document.get("text")
    return isinstance(text, str) and any(text.startswith(m) for m in MARKERS.values())


def _months_back(today: datetime.date, back: int) -> str:
    index = today.year * 12 + today.month - 1 - back
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _report(rng: random.Random, n: int, today: datetime.date) -> dict[str, Any]:
    scene = rng.choice(_SCENES)
    lang = _LANGS[n % len(_LANGS)]
    names, weights = zip(*_DISTRICTS, strict=True)
    location = "online" if scene.online else rng.choices(names, weights)[0]
    types = sorted(rng.sample(scene.types, rng.randint(1, len(scene.types))))
    return {
        "lang": lang,
        "text": f"{MARKERS[lang]} {scene.story[lang]} {_CLOSING[lang]}",
        "types": types,
        "when": {"precision": "month", "date": _months_back(today, rng.randrange(24)),
                 "part_of_day": rng.choice(["morning", "afternoon", "evening", "night"])},
        "where": {"location": location, "landmark": ""},
        "perpetrator": rng.choice(scene.perpetrators),
        "service": rng.choice(scene.services),
        "role": "self",
        "wants": ["legal_help"],
        "consent": "yes",
        "channel": "web",
    }  # fmt: skip


def add_map_reports(config: Config, count: int = MAP_REPORTS, seed: int = _SEED) -> int:
    """Make ``count`` synthetic reports that consent to publication on the demo server."""
    rng = random.Random(seed)  # noqa: S311 - picks demo content, not secrets
    today = datetime.date.today()
    service = ReportService.open(config)
    deriver = Deriver(config)
    try:
        for n in range(count):
            keys = deriver.derive(deriver.normalise(codenames.generate_codename()))
            service.create_source(keys, Submission("report", _report(rng, n, today)))
    finally:
        service.close()
    return count


def _summary(document: dict[str, Any]) -> str:
    lang = str(document.get("lang")) if document.get("lang") in _LANGS else "en"
    text = document.get("text") or ""
    for scene in _SCENES:
        if scene.story[lang] in text:
            return scene.summary[lang]
    return _SCENES[0].summary[lang]


def _random_point(rng: random.Random, district: str) -> tuple[float, float]:
    """A random place inside the district (the workstation moves it to its grid cell)."""
    shape = grid.district_shapes()[district]
    while True:
        lat_e6 = rng.randint(shape.south, shape.north)
        lon_e6 = rng.randint(shape.west, shape.east)
        if shape.contains(lat_e6, lon_e6):
            return grid.from_e6(lat_e6), grid.from_e6(lon_e6)


def draft_map_entry(
    conn: Connection, case_id: int, document: dict[str, Any], rng: random.Random
) -> str:
    """A draft for one synthetic report, placed as a reviewer would place it; its id."""
    draft_id = publish.create_draft(conn, case_id)
    draft = publish.get_draft(conn, draft_id)
    district = draft.district
    if district and district in grid.district_shapes():
        stations = places.metro_stations(district)
        if stations and rng.random() < 0.3:
            publish.set_station(conn, draft_id, rng.choice(stations).code)
        else:
            publish.set_place(conn, draft_id, district, *_random_point(rng, district))
    publish.update_draft(
        conn,
        draft_id,
        summary=_summary(document),
        story=draft.story if rng.random() < STORY_SHARE else None,
    )
    return draft_id


def set_map_contacts(home: Path, **values: str) -> None:
    """Put the demo's ways to report in ``map.toml``: the source onion (with ``--tor``
    each demo run has a new one, else none) and the intake's SMS number, e-mail
    address, Messenger link and X account (its ``[intake.public]``), so that the
    map's "how to report" page shows what the demo really takes."""
    path = home / CONFIG_FILE
    text = path.read_text("utf-8")
    for key, value in values.items():
        line = re.compile(rf'^{key} = "[^"\n]*"', re.MULTILINE)
        # A JSON string is a valid TOML basic string (the same escapes); its
        # backslashes doubled, so that re.sub does not read them as group references.
        setting = f"{key} = {json.dumps(value)}".replace("\\", "\\\\")
        text = line.sub(setting, text, count=1)
    path.write_text(text, "utf-8")


def open_demo_map(demo_root: Path, desk: Path) -> Path:
    """The demo's map folder, made on first use for the key of the demo workstation at
    ``desk`` and fed its first publication bundle (``map.toml`` starts with no way
    to report: :func:`set_map_contacts` fills them in)."""
    home = demo_root / MAP_FOLDER
    if (home / store.DB_FILE).exists():
        return home
    try:
        instance = init_map(home, desk / "publication.verify")
        first = desk / "publications" / "sesim-publication-1.json"
        if first.exists():
            ingest(instance, first.read_bytes())
    except (MapError, IngestRefused) as exc:
        raise click.ClickException(f"cannot make the demo's public map: {exc}") from None
    return home
