"""Camera and lens sweeps (`edgeload lenses`): the config and its sweep, a frame's chain, the
pure analysis and the knee, the shared raw HTTP client of `--client http` and its answer
checks, one sweep of three runs end to end against the simulator
(configs/lenses-example.yaml, the README's example) giving one report, and a short sweep
with `--client http`."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import types
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from fake_endpoint import FakeEndpoint
from test_throughput_run import child_env

from edgeload import cli, runlog
from edgeload.clients import AnswerSpec, Outcome, SharedHttpSubmit
from edgeload.errors import UsageError
from edgeload.reporting.logreader import read_log
from edgeload.scenarios.lenses.analysis import analyze, lens_knee
from edgeload.scenarios.lenses.config import load_config, parse_config
from edgeload.scenarios.lenses.frames import (
    DETECTORS,
    FRAMES,
    RUN_END,
    Chain,
    Recorder,
    Stage,
    run_frame,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "configs" / "lenses-example.yaml"


def example() -> dict:
    return load_config(EXAMPLE)


# -- the config --------------------------------------------------------------------------------


def test_the_example_sweeps_three_runs_zipping_lists_and_keeping_scalars():
    config = parse_config(example(), str(EXAMPLE))
    assert config.runs == 3
    door, person, shelf = config.lenses
    assert door.cameras == (1, 4, 8) and door.copies == (1, 1, 1)
    assert person.objects == (2, 4, 8) and person.cameras == (2, 2, 2)
    assert shelf.copies == (1, 2, 3) and shelf.objects == (3, 3, 3)
    assert shelf.target_fps == 0 and door.target_fps == 5 and person.target_fps == 2
    assert person.image_size == (640, 480) and person.binary_image_size == (224, 224)
    assert [lens.users(2) for lens in config.lenses] == [8, 2, 3]
    assert config.run_label(1) == (
        "run 1 (door_lens cameras=4, person_lens objects=4, shelf_lens copies=2)"
    )
    assert config.run_params(2)["person_lens"]["objects"] == 8


def test_options_override_the_config_times():
    config = parse_config(example(), "x", duration_s=3, warmup_s=0)
    assert (config.duration_s, config.warmup_s) == (3, 0)


def test_no_list_is_one_run():
    config = parse_config({"lenses": [{"name": "a", "type": "single_binary"}]})
    assert config.runs == 1 and config.lenses[0].cameras == (1,)


def _with(change) -> dict:
    data = example()
    change(data)
    return data


BAD = {
    "unknown chain type": (
        lambda d: d["lenses"][0].update(type="triple_bbox"),
        "unknown type 'triple_bbox'",
    ),
    "lists of different lengths": (
        lambda d: d["lenses"][1].update(objects=[1, 2]),
        "same length: door_lens.cameras has 3, person_lens.objects has 2",
    ),
    "bad image_size": (lambda d: d["global"].update(image_size=[640]), "image_size must be"),
    "negative target_fps": (lambda d: d["lenses"][0].update(target_fps=-1), "target_fps must"),
    "objects on a binary lens": (
        lambda d: d["lenses"][0].update(objects=2),
        "'objects' is not a key of a single_binary lens",
    ),
    "unknown top-level key": (lambda d: d.update(run={"name": "x"}), "unknown key 'run'"),
    "empty list": (lambda d: d["lenses"][0].update(cameras=[]), "cameras is an empty list"),
    "zero cameras": (lambda d: d["lenses"][0].update(cameras=[1, 0, 2]), "cameras must be"),
    "duplicate names": (lambda d: d["lenses"][1].update(name="door_lens"), "used twice"),
    "an id with copies": (
        lambda d: d["lenses"][2].update(bbox_detector_id="det_" + "a" * 27),
        "copies must stay 1",
    ),
    "no lenses": (lambda d: d.update(lenses=[]), "non-empty list"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_config_is_one_line_naming_what_to_fix(case):
    change, words = BAD[case]
    with pytest.raises(UsageError) as caught:
        parse_config(_with(change), "cfg.yaml")
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_the_command_refuses_a_bad_config_with_exit_2_before_anything(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_with(lambda d: d["lenses"][0].update(type="x"))))
    out = tmp_path / "out"
    assert cli.main(["lenses", str(bad), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown type 'x'" in err[0]
    assert not out.exists()
    assert cli.main(["lenses", str(tmp_path / "missing.yaml")]) == 2
    assert cli.main(["lenses"]) == 2


def test_a_bad_client_is_one_line_with_exit_2_before_anything(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["lenses", str(EXAMPLE), "--client", "grpc", "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--client" in err[0] and "http" in err[0], err
    assert not out.exists()


def test_objects_that_do_not_fit_the_image_are_a_usage_error(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    lens = {"name": "tiny", "type": "single_bbox", "objects": 40, "image_size": [8, 8]}
    config.write_text(yaml.safe_dump({"lenses": [lens]}))
    assert cli.main(["lenses", str(config), "--output-dir", str(tmp_path / "out")]) == 2
    assert "do not fit in a 8x8 image" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- a frame -----------------------------------------------------------------------------------


def test_a_bbox_to_binary_frame_is_one_box_call_then_objects_calls_at_once():
    calls: list[str] = []
    batches: list[int] = []

    def submit(detector, jpeg, spec):
        calls.append(detector)
        return Outcome(200, None if detector != "bad" else "http_500")

    def parallel(fns):
        batches.append(len(fns))
        return [f() for f in fns]

    seen: list[str] = []
    stages = (Stage("bbox", "box", None, lambda: b"j"), Stage("binary", "crop", None, lambda: b"k"))
    ok = run_frame(
        Chain("l", "bbox_to_binary", stages, 3),
        submit,
        parallel,
        lambda t, ms, o, d: seen.append(d),
    )
    assert ok and calls == ["box", "crop", "crop", "crop"] and batches == [3] and seen == calls
    bad = (Stage("bbox", "box", None, lambda: b"j"), Stage("binary", "bad", None, lambda: b"k"))
    assert not run_frame(Chain("l", "bbox_to_binary", bad, 2), submit, parallel, lambda *a: None)
    single = (Stage("binary", "one", None, lambda: b"j"),)
    calls.clear()
    assert run_frame(Chain("l", "single_binary", single, 1), submit, parallel, lambda *a: None)
    assert calls == ["one"]


# -- the http client --------------------------------------------------------------------------

BOX = {"label": "circle", "score": 0.9, "geometry": dict(left=0, top=0, right=1, bottom=1)}
# what the fake box answers each detector (label, rois); "other" answers for another detector
ANSWERS = {
    "det_box": ("BOUNDING_BOX", [BOX]),
    "det_none_with_boxes": ("NO_OBJECTS", [BOX]),
    "det_box_without_geometry": ("BOUNDING_BOX", [{"label": "circle"}]),
    "det_yes": ("YES", None),
}


def fake_image_query(method: str, path: str, body: bytes) -> tuple[int, dict]:
    query = parse_qs(urlsplit(path).query)
    detector = query["detector_id"][0]
    assert query["human_review"] == ["NEVER"] and body == b"jpeg"
    if detector == "det_busy":
        return 503, {"detail": "busy"}
    label, rois = ANSWERS.get(detector, ("YES", None))
    answered = "det_someone_else" if detector == "det_other" else detector
    return 200, {
        "detector_id": answered,
        "result": {"from_edge": True, "label": label},
        "rois": rois,
    }


def test_the_shared_http_client_checks_answers_as_the_sdk_path_does():
    bbox = AnswerSpec.of({"mode": "BOUNDING_BOX", "class_names": None, "max": 2})
    with FakeEndpoint({"POST /device-api/v1/image-queries": fake_image_query}) as fake:
        target = types.SimpleNamespace(
            root_url=fake.url, verify_tls=True, ca_bundle=None, token="api_secret"
        )
        submit = SharedHttpSubmit(target, pool_size=2)
        try:
            assert submit("det_box", b"jpeg", bbox).ok
            assert submit("det_yes", b"jpeg", None).ok
            for detector, spec, error in (
                ("det_none_with_boxes", bbox, "bad_answer"),
                ("det_box_without_geometry", bbox, "bad_answer"),
                ("det_yes", bbox, "bad_answer"),
                ("det_other", None, "wrong_detector"),
                ("det_busy", None, "http_503"),
            ):
                assert submit(detector, b"jpeg", spec).error == error, detector
        finally:
            submit.close()
        assert all(h.get("x-api-token") == "api_secret" for h in fake.headers)
        assert "api_secret" not in repr(submit)
    gone = submit("det_yes", b"jpeg", None)  # the box is gone: categorised, never raised
    submit.close()
    assert gone.error == "connection" and gone.status == 0


def test_the_shared_http_client_serves_many_callers_on_its_pool():
    with FakeEndpoint({"POST /device-api/v1/image-queries": fake_image_query}) as fake:
        target = types.SimpleNamespace(
            root_url=fake.url, verify_tls=True, ca_bundle=None, token="api_secret"
        )
        submit = SharedHttpSubmit(target, pool_size=4)
        results: list[bool] = []

        def camera(k: int) -> None:
            for _ in range(10):
                results.append(submit("det_yes" if k % 2 else "det_box", b"jpeg", None).ok)

        threads = [threading.Thread(target=camera, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        submit.close()
    assert len(results) == 40 and all(results)
    # kept-alive connections, at most the pool's size, shared by every detector
    assert len(fake._connections) <= 4


# -- the analysis ------------------------------------------------------------------------------


def _row(run, fps, users=1, target=0.0, p95=10.0):
    return {
        "run": run,
        "fps": fps,
        "frames": 10,
        "users": users,
        "target_fps": target,
        "fps_per_camera": fps / users,
        "frame_latency_p95_ms": p95,
        "frame_budget_ms": 1e3 / target if target else None,
    }


def test_the_knee_of_a_paced_lens_is_below_90_percent_of_target_or_over_budget():
    assert lens_knee([_row(0, 10, 1, 10), _row(1, 19, 2, 10), _row(2, 26, 3, 10)])[0] == 2
    over = [_row(0, 10, 1, 10), _row(1, 20, 2, 10, p95=120.0)]
    run, why = lens_knee(over)
    assert run == 1 and "frame budget 100.0 ms" in why
    assert lens_knee([_row(0, 10, 1, 10), _row(1, 20, 2, 10)]) == (None, "no knee in the sweep")


def test_the_knee_of_an_unpaced_lens_is_where_frames_per_second_stop_growing():
    assert lens_knee([_row(0, 50, 1), _row(1, 90, 2), _row(2, 93, 3)])[0] == 2
    # fixed cameras: only a fall of more than 5 % is a knee
    assert lens_knee([_row(0, 50, 1), _row(1, 49, 1), _row(2, 40, 1)])[0] == 2


def _write_log(path: Path) -> None:
    w = runlog.LogWriter(path)
    lens = {"name": "door", "type": "single_binary"}
    w.write(
        runlog.header(
            scenario="lenses",
            run_id="r",
            target={"kind": "simulated"},
            inputs={"runs": 2, "lenses": [lens]},
            metadata={},
        )
    )
    w.write(
        runlog.sample(
            DETECTORS,
            t=0.5,
            detectors=[{"lens": "door", "stage": "binary", "copy": 0, "id": "det_a"}],
        )
    )
    params = {"type": "single_binary", "cameras": 2, "copies": 1, "users": 2, "target_fps": 10}
    for run, base in ((0, 1000.0), (1, 2000.0)):
        w.write(
            {
                "type": "step",
                "t": base,
                "step": run,
                "clients": 2,
                "expected_rps": 20.0,
                "run": run,
                "warmup_s": 1.0,
                "duration_s": 2.0,
                "lenses": {"door": params},
                "label": f"run {run}",
            }
        )
        # 40 frames in the window (1001..1003) of 20 ms, one failed; 5 in the warm-up
        starts = [base + 0.2 + i * 0.1 for i in range(5)] + [
            base + 1.0 + i * 0.05 for i in range(40)
        ]
        ok = [1] * 44 + [0] if run == 0 else [1] * 45
        rows = [
            ("door", run, i % 2, 0, s, 20.0 if run == 0 else 150.0, o)
            for i, (s, o) in enumerate(zip(starts, ok, strict=True))
        ]
        columns = {
            k: list(v)
            for k, v in zip(
                ("lens", "run", "camera", "copy", "start", "latency_ms", "ok"),
                zip(*rows, strict=True),
                strict=True,
            )
        }
        w.write(runlog.sample(FRAMES, t=base + 3, n=len(rows), **columns))
        w.write(
            {
                "type": "requests",
                "worker": "local",
                "n": len(rows),
                "t": columns["start"],
                "intended": [None] * len(rows),
                "latency_ms": columns["latency_ms"],
                "ok": columns["ok"],
                "status": [200] * len(rows),
                "error": [None] * len(rows),
                "detector": ["det_a"] * len(rows),
                "clients": [2] * len(rows),
                "step": [run] * len(rows),
            }
        )
        w.write(runlog.sample(RUN_END, t=base + 3.1, run=run, status="completed"))
    w.write(runlog.end("completed", "done", t=2004.0))
    w.close()


def test_the_analysis_counts_frames_in_each_window_and_finds_the_knee(tmp_path):
    path = tmp_path / runlog.LOG_FILENAME
    _write_log(path)
    a = analyze(read_log(path, keep_requests=True))
    first, second = a.outputs["runs"]
    assert first["frames"] == 39 and first["failed_frames"] == 1
    assert first["fps"] == pytest.approx(19.5) and first["fps_per_camera"] == pytest.approx(9.75)
    assert first["frame_latency_p95_ms"] == pytest.approx(20.0)
    assert first["binary_calls"] == 40 and first["binary_p50_ms"] == pytest.approx(20.0)
    # run 1: the last 3 frames end after the window; 9.25 frames/s per camera is above
    # 0.9 x 10, but 150 ms is over the 100 ms budget: the knee
    assert second["frames"] == 37 and second["fps_per_camera"] == pytest.approx(9.25)
    assert second["past_knee"] and not first["past_knee"]
    summary = a.outputs["summary"]
    assert summary["knee_run"] == 1 and summary["frames"] == 76 and summary["runs_measured"] == 2
    checks = {c.name: c for c in a.checks}
    assert checks["every lens made frames in every run"].status == "passed"
    errors = checks["failed frames at most 1%"]
    assert errors.status == "failed" and "1 of 77 frames failed (1.30%)" in errors.detail


def test_a_recorder_writes_rows_as_column_batches():
    written: list[dict] = []
    recorder = Recorder(written.append, lambda: None)
    recorder.request(1.0, 5.0, Outcome(200, None), "det", 3, 0)
    recorder.frame("lens", 0, 1, 0, 1.0, 6.0, True)
    recorder.flush()
    requests, frames = written
    assert requests["detector"] == ["det"] and requests["step"] == [0] and requests["n"] == 1
    assert frames["kind"] == FRAMES and frames["latency_ms"] == [6.0] and frames["ok"] == [1]


# -- end to end --------------------------------------------------------------------------------


def test_a_sweep_of_three_runs_gives_one_report(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgeload.cli",
            "lenses",
            str(EXAMPLE),
            "--duration",
            "3",
            "--warmup",
            "1",
            "--sim-time-scale",
            "10",
            "--output-dir",
            str(out),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert run_dir.name.endswith("-lenses")
    records = [json.loads(line) for line in (run_dir / runlog.LOG_FILENAME).open()]
    steps = [r for r in records if r["type"] == "step"]
    assert [s["run"] for s in steps] == [0, 1, 2]
    assert steps[2]["lenses"]["door_lens"]["cameras"] == 8
    assert records[-1]["type"] == "end" and records[-1]["status"] == "completed"
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["scenario"] == "lenses" and results["verdict"] == "pass"
    rows = results["outputs"]["runs"]
    assert len(rows) == 9 and all(r["frames"] > 0 for r in rows)
    person = [r for r in rows if r["lens"] == "person_lens"]
    # each frame of bbox_to_binary makes `objects` binary calls (a camera's frame at the
    # window's start may have some of its calls just before it)
    assert all(r["binary_calls"] >= (r["frames"] - r["users"]) * r["objects"] for r in person)
    assert [r["objects"] for r in person] == [2, 4, 8]
    for name in ("runs.csv", "lenses_fps.png", "lenses_stage_latency.png", "report.html"):
        assert (run_dir / name).is_file(), name
    assert "sweep knee:" in proc.stdout
    again = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", "report", str(run_dir)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    rerendered = json.loads((run_dir / "load_test_results.json").read_text())
    assert rerendered["outputs"]["runs"] == rows


def test_a_sweep_with_the_http_client_checks_every_call(tmp_path):
    config = tmp_path / "lenses.yaml"
    lenses = [
        {
            "name": "person",
            "type": "bbox_to_binary",
            "objects": [1, 2],
            "cameras": 2,
            "target_fps": 10,
            "image_size": [64, 48],
            "binary_image_size": [32, 32],
        },
        {"name": "door", "type": "single_binary", "target_fps": 10, "image_size": [64, 48]},
    ]
    config.write_text(json.dumps({"lenses": lenses}))  # JSON is YAML
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "edgeload.cli", "lenses", str(config), "--client", "http"]
        + ["--duration", "2", "--warmup", "0.5", "--sim-time-scale", "10"]
        + ["--output-dir", str(out)],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "cameras submitted through the http client" in proc.stdout
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    log = read_log(run_dir / runlog.LOG_FILENAME)
    assert log.header["inputs"]["client"] == "http"
    results = json.loads((run_dir / "load_test_results.json").read_text())
    assert results["inputs"]["client"] == "http" and results["verdict"] == "pass"
    rows = {(r["lens"], r["run"]): r for r in results["outputs"]["runs"]}
    assert len(rows) == 4
    assert all(r["frames"] > 0 and r["failed_frames"] == 0 for r in rows.values())
    for run, objects in ((0, 1), (1, 2)):
        person = rows[("person", run)]
        # every frame's box call, then its `objects` crops, each answer checked (200, ok)
        assert person["bbox_calls"] >= person["frames"] - person["users"]
        assert person["binary_calls"] >= (person["frames"] - person["users"]) * objects
        assert person["bbox_failed"] == person["binary_failed"] == 0
    records = [json.loads(line) for line in (run_dir / runlog.LOG_FILENAME).open()]
    requests = [r for r in records if r["type"] == runlog.REQUESTS]
    assert sum(r["n"] for r in requests) > 0
    assert all(ok == 1 for r in requests for ok in r["ok"])
    assert all(status == 200 for r in requests for status in r["status"])
