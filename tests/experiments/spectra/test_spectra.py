from dlor.experiments._context import RunContext
from dlor.experiments.spectra import experiment as spectral


def test_spectral_tiny(tmp_path):
    s = spectral.run(spectral.SpectralConfig.tiny(), tmp_path, RunContext(progress=False))
    for f in s.figures + s.data:
        assert (tmp_path / f).exists()
    verdicts = ("confirmed", "partially confirmed", "not confirmed", "not judged")
    assert len(s.claims) == 2 and all(c.verdict in verdicts for c in s.claims)
