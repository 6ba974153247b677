"""The option layer and config files: one declaration serves argparse, Locust and files."""

from __future__ import annotations

import argparse

import pytest

from edgeload import cli
from edgeload import options as opt
from edgeload.errors import UsageError
from edgeload.scenarios.throughput import command as throughput


def parse(options, argv, positionals=()):
    parser = argparse.ArgumentParser()
    opt.add_arguments(parser, options, positionals=positionals)
    return opt.parse_options(parser.parse_args(argv), options)


def test_values_are_typed_bounded_and_defaulted():
    values = parse(
        [opt.DETECTOR_MODE, opt.IMAGE_SIZES, opt.SIM_TIME_SCALE, opt.NUM_DETECTORS],
        ["count", "--image-size", "640x480,1920x1080", "--image-size", "640x480"],
        positionals=[opt.DETECTOR_MODE],
    )
    assert values == {
        "detector_mode": "COUNT",
        "image_size": [(640, 480), (1920, 1080)],  # repeated and comma-separated, once each
        "sim_time_scale": 1.0,
        "num_detectors": 1,
    }


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sim-time-scale", "inf"], "--sim-time-scale must be a finite number"),
        (["--sim-time-scale", "0"], "--sim-time-scale must be above 0"),
        (["--num-detectors", "1.5"], "--num-detectors must be a whole number"),
        (["--image-size", "640"], "--image-size must be WIDTHxHEIGHT"),
        (["BINARY", "--detector-mode", "COUNT"], "MODE 'BINARY' and --detector-mode 'COUNT'"),
    ],
)
def test_bad_values_are_one_line(argv, message):
    with pytest.raises(UsageError, match=message):
        parse(
            [opt.DETECTOR_MODE, opt.IMAGE_SIZES, opt.SIM_TIME_SCALE, opt.NUM_DETECTORS],
            argv,
            positionals=[opt.DETECTOR_MODE],
        )


def test_to_command_line_gives_the_values_back():
    options = [opt.IMAGE_SIZES, opt.SIM_TIME_SCALE, opt.DETECTOR_MODE]
    values = parse(options, ["--image-size", "64x48,32x24", "--sim-time-scale", "2.5"])
    assert parse(options, opt.to_command_line(values, options)) == values


def test_a_config_file_gives_options_the_command_line_wins_and_locust_gets_the_rest(tmp_path):
    config = tmp_path / "edgeload.conf"
    config.write_text(
        "[edgeload]\n# a ramp\nmax-clients = 8\nstep-size = 2\nlatency-slo = p95:150ms\n"
        "html = report.html\nheadless = true\n"
    )
    parser = cli.build_parser()
    argv = ["throughput", "BINARY", "--config", str(config), "--step-size", "4"]
    argv, locust_args = cli._with_config(parser, parser.parse_args(argv), argv, [])
    command = throughput.locust_command(parser.parse_args(argv))
    flag = {command[i]: command[i + 1] for i in range(len(command) - 1)}
    assert flag["--max-clients"] == "8" and flag["--step-size"] == "4"  # the command line wins
    assert flag["--latency-slo"] == "p95:150ms"
    assert locust_args == ["--html", "report.html", "--headless"]  # Locust's own keys


def test_a_config_key_no_command_knows_is_one_line(tmp_path, capsys):
    config = tmp_path / "bad.conf"
    config.write_text("no-such-option = 3\n")
    assert cli.main(["report", str(tmp_path), "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.conf:1: 'no-such-option' is not an option" in err
