from dlor.experiments import fig2c_fig3c_spectra as spectral
from dlor.experiments._context import RunContext


def test_spectral_tiny(tmp_path):
    s = spectral.run(spectral.SpectralConfig.tiny(), tmp_path, RunContext(progress=False))
    for f in s.figures + s.data:
        assert (tmp_path / f).exists()
    verdicts = ("confirmed", "partially confirmed", "not confirmed", "not judged")
    assert len(s.claims) == 2 and all(c.verdict in verdicts for c in s.claims)
