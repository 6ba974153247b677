"""The one option layer: every option of every command is declared once, as typed data.

An `Option` knows its flag, value kind, default, unit, bounds and help. The same declaration
serves `edgeload <command>` (argparse), the locustfiles (Locust's own parser and its web UI
start form) and config files, and `parse_options` checks every value with one line that says
what to fix (UsageError, exit 2) before anything starts. Shared options (detector mode, image
size, CA bundle, provision timeout, simulator profile and time scale, output folder, ...) are
the constants below, spelled the same on every command and in the locustfiles.

Values arrive as text (command line, web UI form, environment) or as YAML values (config
files); every kind converts both. Numbers must be finite and within their bounds, so an `inf`
or a value whose products overflow never reaches a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from edgeload import modes
from edgeload.errors import UsageError

DETECTOR_MODES = modes.MODES  # the one definition: edgeload.modes
DETECTOR_ID_PATTERN = re.compile(r"^det_[A-Za-z0-9]{27}$")
MAX_IMAGE_SIDE = 10_000
_SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")

# -- value kinds -------------------------------------------------------------------------------


def _is_unset(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _integer(option: Option, raw: Any) -> int:
    if isinstance(raw, bool):
        raise option.error("a whole number", raw)
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise option.error("a whole number", raw) from None


def _real(option: Option, raw: Any) -> float:
    if isinstance(raw, bool):
        raise option.error("a number", raw)
    try:
        value = float(raw) if isinstance(raw, int | float) else float(str(raw).strip())
    except ValueError:
        raise option.error("a number", raw) from None
    if not math.isfinite(value):
        raise option.error("a finite number", raw)
    return value


def _text(option: Option, raw: Any) -> str:
    return str(raw).strip()


def _choice(option: Option, raw: Any) -> str:
    value = str(raw).strip()
    for choice in option.choices:
        if value.lower() == choice.lower():
            return choice
    raise option.error(f"one of {', '.join(option.choices)}", raw)


def _size(option: Option, raw: Any) -> tuple[int, int]:
    if isinstance(raw, list | tuple) and len(raw) == 2:
        raw = f"{raw[0]}x{raw[1]}"
    match = _SIZE_PATTERN.match(str(raw))
    if not match:
        raise option.error("WIDTHxHEIGHT, e.g. 640x480", raw)
    width, height = int(match.group(1)), int(match.group(2))
    for side in (width, height):
        if not 1 <= side <= MAX_IMAGE_SIDE:
            raise option.error(f"at most {MAX_IMAGE_SIDE} px a side and at least 1", raw)
    return width, height


def _file(option: Option, raw: Any) -> str:
    path = str(raw).strip()
    if not os.path.isfile(path):
        raise UsageError(f"{option.flag} {path!r} is not a file: {option.file_hint}")
    return path


def _detector_id(option: Option, raw: Any) -> str:
    value = str(raw).strip()
    if not DETECTOR_ID_PATTERN.match(value):
        raise UsageError(
            f"{option.flag} {value!r} is not a detector id (det_ and 27 letters/digits)"
        )
    return value


INT = "int"
FLOAT = "float"
TEXT = "text"
CHOICE = "choice"
SIZE = "size"
FILE = "file"
DETECTOR_ID = "detector id"

_CONVERTERS: dict[str, Callable[[Option, Any], Any]] = {
    INT: _integer,
    FLOAT: _real,
    TEXT: _text,
    CHOICE: _choice,
    SIZE: _size,
    FILE: _file,
    DETECTOR_ID: _detector_id,
}

# -- the option --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One option, declared once.

    many: the value is a list; the option may be repeated and each value may be a
    comma-separated list (`--image-size 640x480,1920x1080`).
    above / minimum / maximum: bounds (above is exclusive); maximum also keeps products of
    options (clients x rate) far from overflow.
    positional: the metavar of the upstream scripts' positional form, on commands that take one.
    web_ui: shown in Locust's web UI start form (ramp options, changeable per test).
    """

    flag: str
    kind: str
    default: Any
    help: str
    unit: str = ""
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    many: bool = False
    positional: str | None = None
    web_ui: bool = False
    aliases: tuple[str, ...] = ()
    metavar: str | None = None
    file_hint: str = "give an existing file"

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def with_default(self, default: Any) -> Option:
        """The same option with another default (e.g. the simulator profile per scenario)."""
        return dataclasses.replace(self, default=default)

    def error(self, wanted: str, raw: Any) -> UsageError:
        return UsageError(f"{self.flag} must be {wanted}, got {_shown(raw)}")

    def parse(self, raw: Any) -> Any:
        """The typed value of `raw` (text or a config file's value); the default when unset."""
        if self.many:
            parts = _split_many(self, raw)
            if not parts:
                return self.default
            values = [self._one(p) for p in parts]
            return list(dict.fromkeys(values))  # repeated values count once, order kept
        if _is_unset(raw):
            return self.default
        return self._one(raw)

    def _one(self, raw: Any) -> Any:
        value = _CONVERTERS[self.kind](self, raw)
        if self.kind in (INT, FLOAT):
            self._check_bounds(value, raw)
        return value

    def _check_bounds(self, value: float, raw: Any) -> None:
        unit = f" {self.unit}" if self.unit and self.unit != "s" else self.unit
        if self.above is not None and not value > self.above:
            raise self.error(f"above {self.above:g}{unit}", raw)
        if self.minimum is not None and value < self.minimum:
            raise self.error(f"at least {self.minimum:g}{unit}", raw)
        if self.maximum is not None and value > self.maximum:
            raise self.error(f"at most {self.maximum:g}{unit}", raw)

    def help_text(self) -> str:
        default = self.default
        if isinstance(default, tuple) and len(default) == 2 and self.kind == SIZE:
            default = f"{default[0]}x{default[1]}"
        elif isinstance(default, list):
            default = ",".join(_text_of(d) for d in default) or None
        shown = "" if default is None else f" (default: {default}{_unit(self.unit)})"
        return f"{self.help}{shown}".replace("%", "%%")

    def default_text(self) -> str:
        """The default as a form field shows it (Locust's web UI)."""
        if self.default is None:
            return ""
        if isinstance(self.default, list):
            return ",".join(_text_of(d) for d in self.default)
        return _text_of(self.default)


def _unit(unit: str) -> str:
    return f" {unit}" if unit else ""


def _text_of(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]}x{value[1]}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(raw: Any) -> str:
    text = repr(raw) if isinstance(raw, str) else str(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _split_many(option: Option, raw: Any) -> list[Any]:
    if _is_unset(raw):
        return []
    items = raw if isinstance(raw, list | tuple) and not _looks_like_size(raw) else [raw]
    parts: list[Any] = []
    for item in items:
        if isinstance(item, str):
            pieces = [p.strip() for p in item.split(",")]
            if item.strip() and not any(pieces):
                raise UsageError(f"{option.flag} {item!r} holds no value between its commas")
            parts += [p for p in pieces if p]
        elif item is not None:
            parts.append(item)
    return parts


def _looks_like_size(raw: Any) -> bool:
    return (
        isinstance(raw, list | tuple)
        and len(raw) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    )


# -- shared options ----------------------------------------------------------------------------

DETECTOR_MODE = Option(
    "--detector-mode",
    CHOICE,
    "BINARY",
    "detector mode: BINARY (YES/NO), COUNT (circles, up to --max-count), MULTI_CLASS "
    "(--num-classes), BOUNDING_BOX (--max-num-bboxes)",
    choices=DETECTOR_MODES,
    positional="MODE",
)
NUM_CLASSES = Option(
    "--num-classes",
    INT,
    None,
    f"MULTI_CLASS only: classes of the detector (default: {modes.SPECS['MULTI_CLASS'].default_n})",
    minimum=modes.SPECS["MULTI_CLASS"].min_n,
    maximum=modes.SPECS["MULTI_CLASS"].max_n,
    metavar="N",
)
MAX_COUNT = Option(
    "--max-count",
    INT,
    None,
    f"COUNT only: most objects the detector counts; more is answered greater_than_max "
    f"(default: {modes.SPECS['COUNT'].default_n})",
    minimum=modes.SPECS["COUNT"].min_n,
    maximum=modes.SPECS["COUNT"].max_n,
    metavar="N",
)
MAX_NUM_BBOXES = Option(
    "--max-num-bboxes",
    INT,
    None,
    f"BOUNDING_BOX only: most objects (boxes) the detector reports per image (default: "
    f"{modes.SPECS['BOUNDING_BOX'].default_n})",
    minimum=modes.SPECS["BOUNDING_BOX"].min_n,
    maximum=modes.SPECS["BOUNDING_BOX"].max_n,
    metavar="N",
)
# the options that set a mode's size n, one per sized mode (`modes.SIZE_FLAGS`)
SIZE_OPTIONS = (MAX_COUNT, NUM_CLASSES, MAX_NUM_BBOXES)
MAX_PIPELINE_CONFIG_CHARS = 100  # the API's bound on a detector's edge_pipeline_config
EDGE_PIPELINE_CONFIG = Option(
    "--edge-pipeline-config",
    TEXT,
    None,
    "create the detector(s) with this edge pipeline config (a name, as the Groundlight API "
    "takes it) and wait until the edge's status page says it runs exactly that config "
    "(default: the mode's default edge pipeline)",
    metavar="NAME",
)
NUM_DETECTORS = Option(
    "--num-detectors",
    INT,
    1,
    "detectors to create (or reuse) and load",
    minimum=1,
    maximum=1000,
    positional="NUM_DETECTORS",
)
DETECTOR_IDS = Option(
    "--detector-id",
    DETECTOR_ID,
    None,
    "use these existing detector(s) (comma-separated or repeated ids) instead of edgeload's own",
    many=True,
)
IMAGE_WIDTH = Option(
    "--image-width", INT, 640, "image width", unit="px", minimum=1, maximum=MAX_IMAGE_SIDE
)
IMAGE_HEIGHT = Option(
    "--image-height", INT, 480, "image height", unit="px", minimum=1, maximum=MAX_IMAGE_SIDE
)
IMAGE_SIZES = Option(
    "--image-size",
    SIZE,
    None,
    "image size WIDTHxHEIGHT; overrides --image-width/--image-height",
    many=True,
    metavar="WxH",
)
CLIENT = Option(
    "--client",
    CHOICE,
    "sdk",
    "sdk: the groundlight SDK (hidden retries off); http: a raw HTTP POST of the same request",
    choices=("sdk", "http"),
)
CA_BUNDLE = Option(
    "--ca-bundle",
    FILE,
    None,
    "PEM file of the CA(s) that signed an https endpoint's certificate (e.g. the edge "
    "endpoint's self-signed one); or set DISABLE_TLS_VERIFY=1 to skip verification",
    metavar="PATH",
    file_hint="give a PEM file of CAs",
)
PROVISION_TIMEOUT = Option(
    "--provision-timeout",
    FLOAT,
    1200.0,
    "seconds each provisioning wait (training, the edge serving the detector) may take",
    unit="s",
    above=0,
    maximum=7 * 86400,
)
SIM_PROFILE = Option(
    "--sim-profile",
    TEXT,
    "demo",
    "simulator profile: a name from `edgeload sim --list-profiles` or a YAML file (a scenario "
    "starts the simulator only when GROUNDLIGHT_ENDPOINT is not set)",
)
SIM_TIME_SCALE = Option(
    "--sim-time-scale",
    FLOAT,
    1.0,
    "simulator speed-up: >1 runs simulated minutes in seconds; reported times stay in "
    "simulated seconds",
    above=0,
    maximum=10_000,
    aliases=("--time-scale",),
)
FAIL_IF = Option(
    "--fail-if",
    TEXT,
    None,
    "gates on this run's figures, comma-separated METRIC<OP>NUMBER clauses; the run fails "
    "(exit 1) when one holds, e.g. 'latency_p95_ms>150,success_rate<0.99'",
    metavar="GATES",
)
OUTPUT_DIR = Option(
    "--output-dir",
    TEXT,
    "load_tests",
    "folder that receives the run folders (<UTC time>-<scenario>/)",
    metavar="DIR",
)

# -- argparse (edgeload commands) --------------------------------------------------------------

_POSITIONAL_PREFIX = "_positional_"


def add_arguments(
    parser: argparse.ArgumentParser,
    options: Sequence[Option],
    *,
    positionals: Sequence[Option] = (),
) -> None:
    """Declare `options` on an argparse parser. Values stay text until `parse_options`, so a
    bad one gets edgeload's one-line message. `positionals` also take the upstream positional
    form (e.g. `edgeload throughput BINARY`), optional when the flag is given."""
    for option in positionals:
        parser.add_argument(
            f"{_POSITIONAL_PREFIX}{option.dest}",
            metavar=option.positional,
            nargs="?",
            default=None,
            help=f"{option.help} (or {option.flag})",
        )
    for option in options:
        parser.add_argument(
            option.flag,
            *option.aliases,
            dest=option.dest,
            default=None,
            action="append" if option.many else "store",
            metavar=option.metavar or _metavar(option),
            help=option.help_text(),
        )


def _metavar(option: Option) -> str:
    if option.kind == CHOICE:
        return "{" + ",".join(option.choices) + "}"
    return option.dest.upper()


def parse_options(namespace: Any, options: Iterable[Option]) -> dict[str, Any]:
    """Every option's typed value from parsed arguments (argparse or Locust's), defaults for
    the unset ones; UsageError (one line) for the first bad value."""
    values = {}
    for option in options:
        raw = getattr(namespace, option.dest, None)
        positional = getattr(namespace, f"{_POSITIONAL_PREFIX}{option.dest}", None)
        if _is_unset(positional):
            values[option.dest] = option.parse(raw)
            continue
        # a bad value is named as the user gave it (NUM_DETECTORS, not --num-detectors)
        value = dataclasses.replace(option, flag=option.positional).parse(positional)
        if not _is_unset(raw) and option.parse(raw) != value:
            raise UsageError(
                f"{option.positional} {positional!r} and {option.flag} {raw!r} disagree: "
                "give one of them"
            )
        values[option.dest] = value
    return values


# -- Locust (the locustfiles) ------------------------------------------------------------------


def add_locust_arguments(parser: Any, options: Sequence[Option], title: str) -> None:
    """Declare `options` on Locust's parser (`events.init_command_line_parser`). Web-UI
    options appear in the start form with their defaults; values stay text for
    `parse_options`; a `many` option may be repeated, as on the edgeload commands."""
    group = parser.add_argument_group(title)
    for option in options:
        action = group.add_argument(
            option.flag,
            *option.aliases,
            dest=option.dest,
            type=str,
            action="append" if option.many and not option.web_ui else "store",
            default=option.default_text() if option.web_ui else None,
            metavar=option.metavar or _metavar(option),
            help=option.help_text(),
        )
        # Locust's web UI reads these attributes (its own add_argument sets them)
        action.include_in_web_ui = option.web_ui
        action.is_secret = action.is_required = action.is_multiple = False


def to_command_line(values: dict[str, Any], options: Iterable[Option]) -> list[str]:
    """The flags that give `values` back (to start a child process with the same options)."""
    argv: list[str] = []
    for option in options:
        value = values.get(option.dest)
        if value is None:
            continue
        if option.many:
            argv += [option.flag, ",".join(_text_of(v) for v in value)]
        else:
            argv += [option.flag, _text_of(value) if not isinstance(value, str) else value]
    return argv


def mode_size(values: dict[str, Any]) -> int | None:
    """The size `n` of the run's detectors (max count of COUNT, classes of MULTI_CLASS, max
    boxes of BOUNDING_BOX; None for BINARY, and for COUNT without --max-count) from
    --max-count / --num-classes / --max-num-bboxes, or the mode's default. UsageError when a
    size is given to a mode it does not apply to."""
    mode = values["detector_mode"]
    n = None
    for option in SIZE_OPTIONS:
        given = values.get(option.dest)
        if given is not None:
            n = modes.resolve_n(mode, given, flag=option.flag)
    return modes.resolve_n(mode, n)


def edge_pipeline_config(values: dict[str, Any]) -> str | None:
    """--edge-pipeline-config, checked: one line of at most 100 characters, or None."""
    value = values.get("edge_pipeline_config")
    if value is None:
        return None
    if len(value) > MAX_PIPELINE_CONFIG_CHARS or any(ord(c) < 32 for c in value):
        raise UsageError(
            f"{EDGE_PIPELINE_CONFIG.flag} must be one line of at most "
            f"{MAX_PIPELINE_CONFIG_CHARS} characters, got {_shown(value)}"
        )
    return value


# The run-level options every scenario takes and records under the same names.
RUN_FIELDS = ("output_dir", "sim_profile", "sim_time_scale", "ca_bundle", "fail_if")


def run_values(values: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The run-level fields of a scenario's `Inputs` (RUN_FIELDS), from its parsed values;
    its --fail-if gates are checked now (UsageError), not after the run."""
    from edgeload.reporting.gates import parse_thresholds

    parse_thresholds(values["fail_if"], scenario)
    return {name: values[name] for name in RUN_FIELDS}


def image_sizes(values: dict[str, Any]) -> list[tuple[int, int]]:
    """The image sizes of a run: --image-size, else --image-width x --image-height."""
    sizes = values.get("image_size")
    if sizes:
        return list(sizes)
    return [(values["image_width"], values["image_height"])]
