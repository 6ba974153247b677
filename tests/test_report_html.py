"""report.html (one self-contained page per run), steps.csv beside the JSON, and Locust's own
exports through `edgeload throughput ... -- --csv PREFIX`.

The renderer is tested on hand-made results (escaping, secrets, every check and metric, any
scenario's tables); write_reports and `edgeload report` on logfactory logs; a real short run
against the embedded simulator is opened in headless Chromium (it renders, every image loads,
no console error) and leaves Locust's CSV files."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import chromium
import pytest
from test_reporting_runfolder import ramp_log
from test_throughput_run import child_env

from edgeload.cli import main
from edgeload.reporting import write_reports
from edgeload.reporting.html import REPORT_FILENAME, format_number, render_report
from edgeload.reporting.plots.throughput import PLOTS
from edgeload.reporting.tables import csv_files, table_csv

CANARY = "api_CANARY7q3Zx9LeakTest_0123456789abcdef"
PNG = b"\x89PNG\r\n\x1a\n" + b"not really a png"


def results(**changes) -> dict:
    base = {
        "schema_version": 2,
        "scenario": "fps",
        "run_id": "r1",
        "status": "completed",
        "status_reason": "all sizes ran",
        "verdict": "fail",
        "verdict_reason": "a required check failed",
        "exit_code": 1,
        "target": {"kind": "real", "url": "https://edge.local:30143"},
        "inputs": {"image_sizes": ["640x480", "1920x1080"], "duration": 5.0},
        "metadata": {"created_at": "2026-12-01T08:06:28Z", "tool": "edgeload"},
        "outputs": {
            "summary": {"average_fps": 12.5, "latency_p95_ms": 80.25, "submissions": 40},
            "sizes": [
                {"image_size": "640x480", "average_fps": 14.0, "ok": True, "errors": {}},
                {"image_size": "1920x1080", "average_fps": 11.0, "ok": False, "errors": None},
            ],
            "notes": {"kept": 3},
        },
        "checks": [
            {
                "name": "every submission answered",
                "kind": "check",
                "status": "passed",
                "detail": "40 of 40",
                "required": True,
            },
            {
                "name": "fps goal",
                "kind": "goal",
                "status": "failed",
                "detail": "11 fps < 12",
                "required": True,
            },
            {
                "name": "edge inference",
                "kind": "integrity",
                "status": "not_observed",
                "detail": "no pod source",
                "required": False,
            },
        ],  # fmt: skip
        "warnings": [{"code": "few", "message": "only 40 submissions"}],
        "metrics": {
            "average_fps": {"unit": "frames/s", "higher_is_better": True, "description": "mean"},
            "latency_p95_ms": {"unit": "ms", "higher_is_better": False, "description": "p95"},
            "submissions": {"unit": "submissions", "higher_is_better": None, "description": "n"},
        },
        "definitions": {"fps": "1 / latency"},
    }
    base.update(changes)
    return base


def text_of(page: str) -> str:
    """The page's visible text, roughly (tags out, entities decoded)."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_check_metric_table_and_plot_is_on_the_page():
    r = results()
    page = render_report(r, [("fps_histogram_640x480.png", PNG)])
    text = text_of(page)
    for check in r["checks"]:
        assert check["name"] in text and check["detail"] in text
    assert "FAILED" in text and "not observed" in text and "passed" in text
    assert "FAIL" in text and "a required check failed" in text and "all sizes ran" in text
    for name, m in r["metrics"].items():
        assert name in text and m["unit"] in text
    assert "12.5" in text and "80.25" in text and "frames/s" in text
    # the per-size table as a table: a header cell per column, a row per size
    assert "<th>image_size</th>" in page and "<th>average_fps</th>" in page
    assert "1920x1080" in text and "Sizes (2 rows)" in text
    assert "https://edge.local:30143" in text and "real endpoint" in text
    assert "only 40 submissions" in text and "1 / latency" in text
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in page
    assert "fps_histogram_640x480.png" in text


def test_the_page_is_self_contained():
    page = render_report(results(), [("a.png", PNG)])
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # nothing can be fetched even if something slipped in


def test_everything_is_escaped():
    evil = "<script>alert('x')</script>"
    r = results(
        status_reason=evil,
        verdict_reason="a & b",
        checks=[
            {
                "name": evil,
                "kind": "check",
                "status": "failed",
                "detail": '"><img src=x>',
                "required": True,
            }
        ],  # fmt: skip
        warnings=[{"code": "<b>", "message": evil}],
        inputs={"<i>key</i>": evil, "nested": {"deep": [evil]}},
        outputs={"summary": {"<u>x</u>": 1.5}, "rows": [{"<th>": evil}]},
        definitions={evil: evil},
    )
    page = render_report(r, [(evil, PNG)])
    for raw in ("<script>", "<img src=x>", "<b>", "<i>", "<u>", "<th><"):
        assert raw not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &amp; b" in page


def test_a_secret_never_reaches_the_page():
    r = results(
        inputs={"api_token": CANARY, "comment": f"token was {CANARY}", "mode": "BINARY"},
        target={"kind": "real", "url": "http://user:hunter2pass@edge:30101", "token": CANARY},
        metadata={"GROUNDLIGHT_API_TOKEN": CANARY, "env": {"password": "hunter2pass"}},
        warnings=[{"code": "x", "message": f"refused {CANARY}"}],
    )
    page = render_report(r)
    assert CANARY not in page and CANARY[:12] not in page
    assert "hunter2pass" not in page
    assert "BINARY" in page and "http://edge:30101" in page


def test_numbers_are_short_and_plain():
    assert [format_number(x) for x in (1.0, 18.944, 0.0004, 1234.567, -2.5)] == [
        "1",
        "18.944",
        "0.0004",
        "1234.6",
        "-2.5",
    ]


def test_a_table_as_csv_spreads_nested_values():
    rows = [
        {"step": 0, "steady": True, "errors": {}, "p99": None},
        {"step": 1, "steady": False, "errors": {"http_503": 3}, "p99": 12.5},
    ]
    parsed = list(csv.DictReader(io.StringIO(table_csv(rows))))
    assert parsed[0] == {
        "step": "0",
        "steady": "true",
        "errors": "{}",
        "p99": "",
        "errors.http_503": "",
    }
    assert parsed[1]["errors.http_503"] == "3" and parsed[1]["p99"] == "12.5"
    assert csv_files({"steps": rows, "events": [{"a": 1}]}) == {"steps.csv": table_csv(rows)}
    assert csv_files({"summary": {}}) == {}


def test_write_reports_writes_report_html_and_steps_csv(tmp_path):
    run_dir = ramp_log(inputs={"detector_mode": "BINARY", "api_token": CANARY}).save(tmp_path)
    r = write_reports(run_dir, parallel=False)
    page = (run_dir / REPORT_FILENAME).read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == len(PLOTS)
    for name in PLOTS:
        encoded = base64.b64encode((run_dir / name).read_bytes()).decode()
        assert encoded in page, name
    assert CANARY[:12] not in page
    for check in r["checks"]:
        assert check["name"] in text_of(page)
    steps = list(csv.DictReader((run_dir / "steps.csv").open(encoding="utf-8")))
    assert [s["steady"] for s in steps] == ["true", "true", "false"]
    assert [float(s["achieved_rps"]) for s in steps] == [
        s["achieved_rps"] for s in r["outputs"]["steps"]
    ]
    assert steps[2]["errors.http_503"] == "30"
    assert not list(run_dir.glob(".*.tmp"))


def test_edgeload_report_re_renders_report_html(tmp_path, capsys):
    run_dir = ramp_log().save(tmp_path)
    write_reports(run_dir, parallel=True)
    first = (run_dir / REPORT_FILENAME).read_text(encoding="utf-8")
    (run_dir / REPORT_FILENAME).unlink()
    (run_dir / "steps.csv").unlink()
    # --no-plots: the page still shows the plots the first rendering drew
    assert main(["report", str(run_dir), "--no-plots"]) == 0
    again = (run_dir / REPORT_FILENAME).read_text(encoding="utf-8")
    assert again.count('src="data:image/png;base64,') == len(PLOTS)
    assert (run_dir / "steps.csv").is_file()
    assert len(again) == pytest.approx(len(first), rel=0.01)
    assert "report.html" in capsys.readouterr().out


# ---- a real run: Locust's CSV through the passthrough, and the page in a browser ---------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> tuple[Path, Path]:
    """A short throughput run against the embedded simulator with Locust's own exports:
    `-- --csv <tmp>/x --html <tmp>/locust.html --json-file <tmp>/locust`."""
    tmp = tmp_path_factory.mktemp("real")
    command = [sys.executable, "-m", "edgeload.cli", "throughput", "BINARY"]
    command += ["--image-width", "64", "--image-height", "48", "--client", "http"]
    command += ["--sim-profile", "zero-latency", "--sim-time-scale", "20"]
    command += ["--max-clients", "2", "--step-size", "1", "--time-between-ramp", "3"]
    command += ["--output-dir", str(tmp / "runs"), "--", "--csv", str(tmp / "x")]
    command += ["--html", str(tmp / "locust.html"), "--json-file", str(tmp / "locust")]
    proc = subprocess.run(
        command, env=child_env(), capture_output=True, text=True, timeout=180, check=False
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (run_dir,) = (tmp / "runs").iterdir()
    return tmp, run_dir


def test_locust_csv_html_and_json_pass_through_edgeload_throughput(real_run):
    tmp, run_dir = real_run
    for suffix in ("stats", "stats_history", "failures", "exceptions"):
        assert (tmp / f"x_{suffix}.csv").is_file(), suffix
    assert "<html" in (tmp / "locust.html").read_text(encoding="utf-8").lower()
    locust_json = json.loads((tmp / "locust.json").read_text(encoding="utf-8"))
    assert sum(e["num_requests"] for e in locust_json) > 0
    stats = list(csv.DictReader((tmp / "x_stats.csv").open(encoding="utf-8")))
    total = next(row for row in stats if row["Name"] == "Aggregated")
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert int(total["Request Count"]) == results["outputs"]["summary"]["requests"]
    steps = list(csv.DictReader((run_dir / "steps.csv").open(encoding="utf-8")))
    assert [int(s["clients"]) for s in steps] == [1, 2]


# In a copy of the page: the policy lets one inline script run, which reports how many images
# there are and how many decoded (naturalWidth > 0) into an attribute of <body>.
_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images', imgs.length + ':' + ok.length);
});
</script>"""


def test_report_html_renders_in_a_browser_with_every_image(real_run, tmp_path):
    chromium.require()
    _, run_dir = real_run
    page = (run_dir / REPORT_FILENAME).read_text(encoding="utf-8")
    policy = "style-src 'unsafe-inline'"
    probed = page.replace(policy, f"{policy}; script-src 'unsafe-inline'")
    probed = probed.replace("</body>", _PROBE + "</body>")
    copy = tmp_path / "probe.html"
    copy.write_text(probed, encoding="utf-8")
    shot = tmp_path / "report.png"
    loaded = chromium.load(copy.as_uri(), screenshot=shot, size=(1400, 2400), wait_ms=3000)
    assert 'data-images="3:3"' in loaded.dom, re.findall(r"data-images=\"[^\"]*\"", loaded.dom)
    assert "verdict v-pass" in loaded.dom and "Headline figures" in loaded.dom
    assert not [line for line in loaded.console if "error" in line.lower()], loaded.console
    assert shot.is_file() and shot.stat().st_size > 50_000
    # the page as written (no script at all) loads without a console message either
    plain = chromium.load((run_dir / REPORT_FILENAME).as_uri(), wait_ms=1000)
    assert "Checks" in plain.dom and not plain.console, plain.console
