from dlor.experiments import spectral


def test_spectral_tiny(tmp_path):
    s = spectral.run(tmp_path, budget="tiny", progress=False)
    for f in s.figures + s.data:
        assert (tmp_path / f).exists()
    assert len(s.claims) == 2 and all(c.verdict in ("confirmed", "partially confirmed", "not confirmed") for c in s.claims)
