"""Runtime options: what `POST /config` changes while the gateway runs, persisted across restarts.

`RuntimeConfig` holds the current `RuntimeOptions` (stream check, vision ability, slow pool and
the custom page contents). Readers take `config.current`, a frozen value, once per request; an
update builds a new value, writes it to `DATA_DIR/runtime-config.json` atomically (temp file,
fsync, rename, fsync of the folder; in a worker thread), and only then makes it current. With an
empty `DATA_DIR` changes apply but are not kept across restarts. A file that
is missing starts from the settings' defaults; a file that cannot be read is reported in the log and
ignored (the defaults apply), never half-applied.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, cast, get_args

import orjson

from gateway.atomic import write_atomic
from gateway.config import Settings, VisionAbility

log = logging.getLogger(__name__)

ContentType = Literal["default", "text", "html"]
FILE_NAME: Final = "runtime-config.json"
MAX_PAGE_BYTES: Final = 1024 * 1024
VISION_CHOICES: Final[tuple[str, ...]] = get_args(VisionAbility)
CONTENT_TYPES: Final[tuple[str, ...]] = get_args(ContentType)
# Pages whose content an operator may replace. `/config` is not one of them, so the page that undoes
# a customisation always stays reachable.
CUSTOMISABLE_PATHS: Final = (
    "/",
    "/logs",
    "/tokeninfo",
    "/env-example",
    "/static/shared-styles.css",
    "/static/shared.js",
)


class RuntimeConfigError(ValueError):
    """An update that cannot be applied; `field` names the offending option."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class PageContent:
    content_type: Literal["text", "html"]
    content: str


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    enable_stream_check: bool
    vision_ability: VisionAbility
    enable_slow_pool: bool
    pages: Mapping[str, PageContent] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> RuntimeOptions:
        return cls(
            enable_stream_check=settings.enable_stream_check,
            vision_ability=settings.vision_ability,
            enable_slow_pool=settings.enable_slow_pool,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "enable_stream_check": self.enable_stream_check,
            "vision_ability": self.vision_ability,
            "enable_slow_pool": self.enable_slow_pool,
            "pages": {
                path: {"content_type": page.content_type, "content": page.content}
                for path, page in sorted(self.pages.items())
            },
        }


@dataclass(frozen=True, slots=True)
class Update:
    """One `update` action: `None` leaves an option as it is."""

    enable_stream_check: bool | None = None
    vision_ability: VisionAbility | None = None
    enable_slow_pool: bool | None = None
    path: str | None = None
    content_type: ContentType | None = None
    content: str | None = None


def check_path(path: str) -> str:
    if path not in CUSTOMISABLE_PATHS:
        raise RuntimeConfigError(
            f"'{path}' is not a customisable page; use one of: {', '.join(CUSTOMISABLE_PATHS)}.", "path"
        )
    return path


def apply_update(options: RuntimeOptions, update: Update) -> RuntimeOptions:
    """The options after `update` (pure).

    A page changes when `content` or `content_type` is given (with its `path`): `default` restores
    the built-in page; `text`/`html` serve `content` (a missing `content_type` means `html`).
    """
    changes: dict[str, object] = {}
    if update.enable_stream_check is not None:
        changes["enable_stream_check"] = update.enable_stream_check
    if update.vision_ability is not None:
        changes["vision_ability"] = update.vision_ability
    if update.enable_slow_pool is not None:
        changes["enable_slow_pool"] = update.enable_slow_pool
    if update.content_type is not None or update.content is not None:
        if update.path is None:
            raise RuntimeConfigError("'content' needs the 'path' of the page it replaces.", "path")
        path = check_path(update.path)
        content_type = update.content_type or ("html" if update.content is not None else "default")
        pages = dict(options.pages)
        if content_type == "default":
            pages.pop(path, None)
        else:
            if update.content is None:
                raise RuntimeConfigError(f"content_type '{content_type}' needs 'content'.", "content")
            if len(update.content.encode("utf-8", "surrogatepass")) > MAX_PAGE_BYTES:
                raise RuntimeConfigError(f"'content' is larger than {MAX_PAGE_BYTES} bytes.", "content")
            pages[path] = PageContent(content_type, update.content)
        changes["pages"] = pages
    return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


def reset(options: RuntimeOptions, defaults: RuntimeOptions, path: str | None) -> RuntimeOptions:
    """`reset` with a path restores that page; without one, every option and every page."""
    if path is None:
        return defaults
    check_path(path)
    pages = dict(options.pages)
    pages.pop(path, None)
    return dataclasses.replace(options, pages=pages)


def parse_file(raw: bytes, defaults: RuntimeOptions) -> RuntimeOptions:
    """The persisted options; unknown keys are ignored, a wrong value raises `RuntimeConfigError`."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RuntimeConfigError(f"not JSON: {exc}", "file") from None
    if not isinstance(data, dict):
        raise RuntimeConfigError("not a JSON object", "file")
    update = Update(
        enable_stream_check=_optional_bool(data, "enable_stream_check"),
        vision_ability=_optional_vision(data, "vision_ability"),
        enable_slow_pool=_optional_bool(data, "enable_slow_pool"),
    )
    options = apply_update(defaults, update)
    pages = data.get("pages", {})
    if not isinstance(pages, dict):
        raise RuntimeConfigError("'pages' must be an object", "pages")
    for path, page in pages.items():
        if not isinstance(page, dict) or not isinstance(page.get("content"), str):
            raise RuntimeConfigError(f"page {path!r} must have a string 'content'", "pages")
        content_type = page.get("content_type")
        if content_type not in ("text", "html"):
            raise RuntimeConfigError(f"page {path!r} has content_type {content_type!r}", "pages")
        options = apply_update(options, Update(path=path, content_type=content_type, content=page["content"]))
    return options


def _optional_bool(data: Mapping[str, object], name: str) -> bool | None:
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise RuntimeConfigError(f"'{name}' must be true or false.", name)


def _optional_vision(data: Mapping[str, object], name: str) -> VisionAbility | None:
    value = data.get(name)
    if value is None:
        return None
    if value not in VISION_CHOICES:
        raise RuntimeConfigError(f"'{name}' must be one of: {', '.join(VISION_CHOICES)}.", name)
    return cast(VisionAbility, value)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class RuntimeConfig:
    """The live options; `update()`/`reset()` persist first, then switch `current`."""

    def __init__(self, path: Path | None, defaults: RuntimeOptions) -> None:
        self.path = path
        self.defaults = defaults
        self.current = defaults
        self._lock = asyncio.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> RuntimeConfig:
        folder = Path(settings.data_dir) if settings.data_dir else None
        return cls(folder / FILE_NAME if folder else None, RuntimeOptions.from_settings(settings))

    async def load(self) -> None:
        if self.path is None:
            return
        raw = await asyncio.to_thread(_read, self.path)
        if raw is None:
            return
        try:
            self.current = parse_file(raw, self.defaults)
        except RuntimeConfigError as exc:
            log.error("ignoring %s (%s); the settings' defaults apply", self.path, exc)

    async def update(self, update: Update) -> RuntimeOptions:
        async with self._lock:
            return await self._store(apply_update(self.current, update))

    async def reset(self, path: str | None) -> RuntimeOptions:
        async with self._lock:
            return await self._store(reset(self.current, self.defaults, path))

    def _write(self, text: str) -> None:
        if self.path is None:  # DATA_DIR is empty: changes live until the next restart
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, text)

    async def _store(self, options: RuntimeOptions) -> RuntimeOptions:
        text = orjson.dumps(options.to_json(), option=orjson.OPT_INDENT_2).decode()
        await asyncio.to_thread(self._write, text)
        self.current = options
        return options
