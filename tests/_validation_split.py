"""The check every rate-tuning experiment makes of its tuning data."""


def assert_held_out_of_the_training_set(data: dict, full: dict, fraction: float) -> None:
    """``data`` (a tuning group's sets) fits on part of ``full``'s training points and is scored
    on the rest of them, ``fraction`` of the whole; the test points take no part."""
    fit, val, test = (set(t.flatten().tolist()) for t in (data["x_train"], data["x_test"], full["x_test"]))
    assert fit | val == set(full["x_train"].flatten().tolist()) and not fit & val
    assert not (fit | val) & test
    assert len(val) == round(fraction * len(full["x_train"]))
