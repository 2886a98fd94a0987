"""evals.calibrate refuses to tune on test halves or on reporting data."""

import pytest


@pytest.mark.parametrize("args,message", [
    ({"split": "test"}, "dev data only"),
    ({"dataset": "../shared/external-eval/squad2-cs224n-dev/dev-v2.0.json"}, "reporting set"),
])
def test_calibration_refuses_test_and_reporting_data(args, message, capsys):
    from evals.calibrate import Calibration, main

    with pytest.raises(SystemExit) as exit_:
        main(Calibration(**args))
    assert message in str(exit_.value) and len(str(exit_.value).splitlines()) == 1
