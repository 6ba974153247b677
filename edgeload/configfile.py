"""Options from a config file, in Locust's own `locust.conf` format, for every command.

    # edgeload.conf
    max-clients = 20
    step-size = 5
    fail-if = latency_p95_ms>150
    headless = true          # under `edgeload throughput`: a Locust option, passed on

`edgeload COMMAND --config FILE` reads `key = value` lines (`#` comments, blank lines and
`[section]` headers are skipped; a key is an option's flag without its dashes). Options on the
command line win over the file. Under `edgeload throughput` a key that is not edgeload's goes
to Locust, so one file serves `edgeload throughput --config F` and `locust -f ... --config F`;
elsewhere an unknown key is an error.
"""

from __future__ import annotations

from pathlib import Path

from edgeload.errors import UsageError

TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


def read_config(path: str | Path) -> list[tuple[str, str, int]]:
    """(key, value, line number) of each setting in the file; UsageError for a bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"--config {str(path)!r} cannot be read ({exc.__class__.__name__})"
        ) from None
    settings = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith(("#", ";")) else ""
        if not line or (line.startswith("[") and line.endswith("]")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{path}:{number}: write KEY = VALUE, got {raw.strip()!r}")
        settings.append((key.strip().lstrip("-"), value.strip(), number))
    return settings


def config_argv(
    path: str | Path, known: dict[str, bool], *, pass_unknown: bool
) -> tuple[list[str], list[str]]:
    """(argv for edgeload, argv for Locust) from a config file.

    known: flag -> whether it takes a value (False: a switch such as --tls). A switch is given
    with true/false. Unknown keys go to Locust when `pass_unknown`, else UsageError.
    """
    ours: list[str] = []
    theirs: list[str] = []
    for key, value, number in read_config(path):
        flag = f"--{key}"
        if flag not in known:
            if not pass_unknown:
                raise UsageError(f"{path}:{number}: {key!r} is not an option of this command")
            theirs += _as_argv(flag, value)
            continue
        if known[flag]:
            ours += [flag, value]
        elif value.lower() in TRUE:
            ours.append(flag)
        elif value.lower() not in FALSE:
            raise UsageError(f"{path}:{number}: {key} is a switch: write true or false")
    return ours, theirs


def _as_argv(flag: str, value: str) -> list[str]:
    if value.lower() in TRUE:
        return [flag]
    if value.lower() in FALSE:
        return []
    return [flag, value]
