"""The step ramp: pure arithmetic, and the Locust shape driven by a fake clock."""

from types import SimpleNamespace

import pytest

from edgeload.shapes.step_ramp import StepRampShape, ramp_duration, ramp_steps, step_at


def test_ramp_steps_reach_max_clients_exactly():
    assert ramp_steps(10, 1) == list(range(1, 11))
    assert ramp_steps(10, 3) == [3, 6, 9, 10]  # the last step is capped, never skipped
    assert ramp_steps(4, 4) == [4]
    assert ramp_duration(10, 3, 30) == 120


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(-1.0, (0, 2)), (0.0, (0, 2)), (2.999, (0, 2)), (3.0, (1, 4)), (8.9, (2, 5)), (9.0, None)],
)
def test_step_at_is_a_function_of_elapsed_time(elapsed, expected):
    assert step_at(elapsed, max_clients=5, step_size=2, time_between_ramp=3) == expected


@pytest.mark.parametrize("bad", [(0, 1, 1), (5, 0, 1), (5, 1, 0)])
def test_step_at_refuses_non_positive_parameters(bad):
    with pytest.raises(ValueError):
        step_at(0, *bad)


class FakeClockShape(StepRampShape):
    """The shape with its clock replaced: `now` seconds since reset_time()."""

    def __init__(self, **options):
        super().__init__()
        self.now = 0.0
        self.runner = SimpleNamespace(
            environment=SimpleNamespace(parsed_options=SimpleNamespace(**options))
        )

    def get_run_time(self):
        return self.now


def test_shape_ticks_through_steps_then_stops_and_reports_each_step_once():
    shape = FakeClockShape(max_clients=5, step_size=2, time_between_ramp=10)
    steps, completions = [], []
    shape.on_step = lambda step, clients: steps.append((step, clients))
    shape.on_complete = lambda: completions.append(True)
    ticks = []
    for second in range(0, 32):
        shape.now = float(second)
        ticks.append(shape.tick())
    rate = ticks[0][1]
    assert ticks[0][0] == 2 and 2 / rate <= 0.05  # a whole step spawns within 50 ms
    assert ticks[9] == (2, rate) and ticks[10] == (4, rate) and ticks[29] == (5, rate)
    assert ticks[30] is None and ticks[31] is None
    assert steps == [(0, 2), (1, 4), (2, 5)]
    assert completions == [True] and shape.completed


def test_reset_time_restarts_the_ramp_and_reports_the_first_step_again():
    shape = FakeClockShape(max_clients=2, step_size=1, time_between_ramp=5)
    steps = []
    shape.on_step = lambda step, clients: steps.append(step)
    shape.now = 7.0
    shape.tick()
    shape.reset_time()
    shape.now = 0.5
    clients, rate = shape.tick()
    assert clients == 1 and 1 / rate <= 0.05
    assert steps == [1, 0] and shape.current == (0, 1) and not shape.completed


def test_shape_stopped_early_is_not_completed():
    shape = FakeClockShape(max_clients=3, step_size=1, time_between_ramp=5)
    shape.now = 6
    shape.tick()
    assert not shape.completed
