"""A large channel for the messages benchmark: realistic chat text, COPYed straight into the schema.

The text is a mix a busy international server would hold: English chat with a Zipf-like word
distribution and inflected forms (so stemming matters), Chinese and Japanese written without
spaces, links, user mentions, emoji, replies and edits. Ids are real snowflakes
(``harmoniq_common.ids`` layout), strictly increasing over the year before now (or since the id
epoch, if that is later), with ``created_at`` read back from them. One word has a known
frequency, so a search for it has a known answer: :data:`RARE_WORD` is in one message in
:data:`RARE_EVERY`.

Seeding drops the table's secondary indexes, COPYs (binary, ``copy_records_to_table``), rebuilds
the indexes from their own definitions, then runs ``VACUUM ANALYZE``. Bulk builds are many times
faster than a million incremental GIN insertions; a bulk-built index is also more compact than
one grown row by row, which flatters reads a little.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from harmoniq_common.ids import EPOCH_MS, SEQUENCE_BITS, WORKER_BITS

__all__ = ["RARE_EVERY", "RARE_WORD", "SeedReport", "sample_contents", "seed_channel"]

RARE_WORD = "kumquat"
RARE_EVERY = 20_000

# Vocabularies read better as text than as list literals.
_ENGLISH = """
the i you to a and it is that of in for this on we have be not with just but so are was do
can it's if at what my me like no all get will they one there up about out now think yeah
know it's an or he from would time your good how go ok make when then see need don't some
did going been more still work here right also really want got people yes because thanks
thing which day way only new lol sure should well any use could back them much other why
first last look today let maybe who try something any fix tomorrow already over same again
server channel message bot role user voice video call stream game match team play player
deploy deployed deploying deployment deploys build builds building built release released
releasing merge merged merging branch commit commits pull request review reviewed reviewing
test tests testing tested failing failed passes passing error errors bug bugs crash crashed
crashing issue issues ticket database query queries index indexes slow fast latency cache
cached caching restart restarted restarting running run runs ran install installed config
configure configured update updated updating upgrade upgraded migration migrations schema
meeting meetings schedule scheduled lunch dinner coffee weekend friday monday morning night
asynchronous synchronous synchronize employ employed employee employment display displayed
music song songs album listen listening watch watching watched movie movies episode season
please sorry thanks thank welcome hello hi hey morning evening great nice cool awesome fun
weird broken working works worked help helped helping question answer answered explain
docs documentation example examples tutorial guide link file files upload uploaded image
photo screenshot picture post posted posting reply replied replying thread pinned mention
everyone anyone someone nobody together later soon never always sometimes often usually
""".split()  # noqa: SIM905

_CHINESE = [
    "今天",
    "我们",
    "你们",
    "他们",
    "服务器",
    "部署",
    "数据库",
    "晚上",
    "吃饭",
    "问题",
    "已经",
    "修复",
    "明天",
    "会议",
    "上线",
    "测试",
    "没有",
    "一下",
    "可以",
    "什么",
    "时候",
    "知道",
    "现在",
    "一起",
    "朋友",
    "游戏",
    "频道",
    "消息",
    "大家",
    "谢谢",
    "好的",
    "没问题",
    "周末",
    "北京",
    "上海",
    "出去",
    "看看",
    "觉得",
    "非常",
    "喜欢",
    "电影",
    "音乐",
    "工作",
    "下班",
    "开会",
    "代码",
    "提交",
    "版本",
    "发布",
    "用户",
    "注册",
    "登录",
    "密码",
    "网络",
    "速度",
    "太慢",
    "重启",
]
_JAPANESE = [
    "今日は",
    "ありがとう",
    "よろしくお願いします",
    "サーバー",
    "デプロイ",
    "確認します",
    "すみません",
    "会議",
    "明日",
    "問題ない",
    "東京",
    "大阪",
    "ゲーム",
    "一緒に",
    "やりましょう",
    "元気",
    "お疲れ様です",
    "データベース",
    "遅い",
    "速い",
    "再起動",
    "テスト",
    "完了",
    "了解です",
    "なるほど",
    "楽しい",
    "映画",
    "音楽",
    "週末",
    "友達",
    "チャンネル",
    "メッセージ",
]
_LINKS = (
    "https://github.com/harmoniq/harmoniq/pull/{n}",
    "https://github.com/harmoniq/harmoniq/issues/{n}",
    "https://docs.python.org/3/library/asyncio-task.html#id{n}",
    "https://www.youtube.com/watch?v=dQw4w9W{n}",
    "https://example.com/blog/{w}-{n}",
    "https://www.postgresql.org/docs/current/pgtrgm.html",
    "https://twitter.com/someone/status/{n}",
)
_EMOJI = "👍 🎉 😂 🙏 🔥 ❤️ 👀 ✅ 😅 🤔".split()  # noqa: SIM905
_CJK_END = ("\u3002", "\uff1f", "\uff01", "")  # ideographic full stop, fullwidth ? and !


@dataclass(frozen=True)
class SeedReport:
    rows: int
    first_id: int
    last_id: int
    author_ids: list[int]
    generate_copy_seconds: float
    index_seconds: float
    vacuum_seconds: float
    table_bytes: int
    index_bytes: dict[str, int]


class _Text:
    """Message contents; one ``random.Random`` so a seed gives the same corpus every run."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        # Zipf-like: the word of rank r is drawn with weight 1/(r+1), as in real text.
        self._cum: list[float] = []
        total = 0.0
        for rank in range(len(_ENGLISH)):
            total += 1.0 / (rank + 1)
            self._cum.append(total)

    def english(self, words: int) -> str:
        picked = self._rng.choices(_ENGLISH, cum_weights=self._cum, k=words)
        return " ".join(picked)

    def content(self, n: int, authors: list[int]) -> tuple[str, bool, list[int]]:
        """(text, has a link, mentioned user ids) of message number ``n``."""
        rng = self._rng
        kind = rng.random()
        words = min(60, 1 + int(rng.expovariate(1 / 9)))
        mentions: list[int] = []
        link = False
        if kind < 0.10:
            text = "".join(rng.choices(_CHINESE, k=max(2, words // 2)))
            text += rng.choice(_CJK_END)
        elif kind < 0.15:
            text = "".join(rng.choices(_JAPANESE, k=max(2, words // 2)))
            text += rng.choice(_CJK_END)
        elif kind < 0.25:
            url = rng.choice(_LINKS).format(n=rng.randrange(1, 99_999), w=rng.choice(_ENGLISH))
            text = f"{self.english(words)} {url}"
            link = True
        else:
            text = self.english(words)
            if kind > 0.97:
                mentioned = rng.choice(authors)
                mentions.append(mentioned)
                text = f"<@{mentioned}> {text}"
            if kind > 0.9 and kind <= 0.97:
                text += " " + rng.choice(_EMOJI)
        if n % RARE_EVERY == RARE_EVERY // 2:
            text += f" {RARE_WORD}"
        return text, link, mentions


def _records(
    rows: int, server_id: int, channel_id: int, authors: list[int], start_ms: int, end_ms: int
) -> Iterator[tuple[object, ...]]:
    rng = random.Random(20261125)
    text = _Text(rng)
    # A handful of people write most of the messages (Zipf again).
    author_cum: list[float] = []
    total = 0.0
    for rank in range(len(authors)):
        total += 1.0 / (rank + 1)
        author_cum.append(total)
    mean_gap = (end_ms - start_ms) / rows
    now_ms, sequence, worker = start_ms, 0, 1
    recent: list[int] = []
    for n in range(rows):
        step = int(rng.expovariate(1 / mean_gap))
        if step == 0:
            sequence += 1
        else:
            now_ms, sequence = now_ms + step, 0
        snowflake = (
            ((now_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))
            | (worker << SEQUENCE_BITS)
            | sequence
        )
        content, link, mentions = text.content(n, authors)
        author = rng.choices(authors, cum_weights=author_cum)[0]
        reply_to = rng.choice(recent) if recent and rng.random() < 0.05 else None
        recent.append(snowflake)
        if len(recent) > 50:
            del recent[0]
        created = datetime.fromtimestamp(now_ms / 1000, UTC)
        edited = created if rng.random() < 0.02 else None
        yield (
            snowflake, server_id, channel_id, author, content, reply_to, mentions, link, edited,
            created,
        )  # fmt: skip


def sample_contents(count: int, seed: int) -> list[str]:
    """Message texts as the corpus writes them, for sends (without the rare word)."""
    text = _Text(random.Random(seed))
    return [text.content(1, [1_000_000])[0] for _ in range(count)]


_COLUMNS = [
    "id", "server_id", "channel_id", "author_id", "content", "reply_to_id", "mention_user_ids",
    "has_link", "edited_at", "created_at",
]  # fmt: skip


async def seed_channel(
    admin: asyncpg.Connection,
    *,
    schema: str,
    server_id: int,
    channel_id: int,
    rows: int,
    authors: int = 300,
) -> SeedReport:
    """COPY ``rows`` messages into one channel, spread over the year before now (the channel's
    real sends come after them). ``admin`` is a superuser connection to the fleet's database."""
    await admin.execute(f"SET search_path TO {schema}, extensions")
    await admin.execute("SET maintenance_work_mem = '512MB'")
    # The year before now, or as much of it as the id epoch allows (ids are never negative).
    end_ms = time.time_ns() // 1_000_000 - 60_000
    start_ms = max(EPOCH_MS + 2 * 86_400_000, end_ms - 365 * 86_400_000)
    author_ids = [
        ((start_ms - 86_400_000 - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)) | (2 << 12) | i
        for i in range(authors)
    ]
    await admin.copy_records_to_table(
        "users",
        schema_name=schema,
        columns=["id", "username"],
        records=[(a, f"member{i:03d}") for i, a in enumerate(author_ids)],
    )
    indexes = await admin.fetch(
        "SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition"
        " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = $1 AND t.relname = 'messages' AND NOT i.indisprimary",
        schema,
    )
    started = time.perf_counter()
    for index in indexes:
        await admin.execute(f'DROP INDEX "{schema}"."{index["name"]}"')
    await admin.copy_records_to_table(
        "messages",
        schema_name=schema,
        columns=_COLUMNS,
        records=_records(rows, server_id, channel_id, author_ids, start_ms, end_ms),
    )
    copied = time.perf_counter()
    for index in indexes:
        await admin.execute(index["definition"])
    indexed = time.perf_counter()
    await admin.execute("VACUUM (ANALYZE) messages")
    await admin.execute("ANALYZE users")
    vacuumed = time.perf_counter()
    bounds = await admin.fetchrow(
        "SELECT min(id) AS first, max(id) AS last FROM messages WHERE channel_id = $1", channel_id
    )
    sizes = await admin.fetch(
        "SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 AND (c.relname = 'messages' OR c.oid IN"
        " (SELECT indexrelid FROM pg_index WHERE indrelid = $2::regclass))",
        schema,
        f"{schema}.messages",
    )
    table = await admin.fetchval("SELECT pg_table_size($1::regclass)", f"{schema}.messages")
    return SeedReport(
        rows=rows,
        first_id=bounds["first"],
        last_id=bounds["last"],
        author_ids=author_ids,
        generate_copy_seconds=copied - started,
        index_seconds=indexed - copied,
        vacuum_seconds=vacuumed - indexed,
        table_bytes=table,
        index_bytes={r["name"]: r["bytes"] for r in sizes if r["name"] != "messages"},
    )
