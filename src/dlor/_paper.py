"""The paper's numbering, and what each public name and experiment of dlor cites from it.

*Structural Correspondence and Universal Approximation in Diagonal plus Low-Rank Neural Networks*
(arXiv 2605.05659v1). ``NUMBERED`` lists the paper's numbered statements by their number and
title; ``SECTIONS``, ``APPENDICES`` and ``FIGURES`` its other numbers. ``CITATIONS`` maps each
public name (and each experiment, by its registry name) to the statements it implements or
tests. The tests check the table against the paper's text, and every "Theorem N", "Definition N",
"Lemma N", "Remark N", "Section N", "Appendix X" and "Figure N" in the README, the docs and the
docstrings against the table: a citation beside a name of ``CITATIONS`` must be one of its own.
"""

from __future__ import annotations

NUMBERED: dict[str, str] = {
    "Definition 1": "mean-periodic function",
    "Definition 2": "Orthogonal Blindness",
    "Definition 3": "Diagonal plus Low-Rank (DLoR) Component",
    "Assumption 1": "non-affine continuous activation, differentiable at c with rho'(c) != 0",
    "Theorem 1": "Scalar Interpolation",
    "Theorem 2": "Affine Collapse",
    "Theorem 3": "Additive Width Expansion",
    "Theorem 4": "Multiplicative Depth Extension",
    "Theorem 5": "Deep DLoR UAT",
    "Theorem 6": "Wide DLoR UAT",
    "Theorem 7": "General UAT Transfer",
    "Theorem 8": "Parameter Complexity for DLoR",
    "Theorem 9": "Thermometer Encoding",
    "Theorem 10": "Zero Error Memorization for Multi-Dimensional Targets",
    "Theorem 11": "Universal Approximation via Augmented State Space",
    "Lemma 1": "identity by an activation as h -> 0 (Kidger and Lyons, Lemma 4.1)",
    "Lemma 2": "Injective Random Projection",
    "Lemma 3": "bounded-width UAT of dense networks (Kidger and Lyons)",
    "Remark 1": "exact scalar interpolation matches Constantinescu and Popescu",
    "Remark 2": "Generalization to Rectangular Transformations",
    "Remark 3": "Hybrid Structural Combinations",
}
SECTIONS = ("1", "2", "3", "3.1", "3.2", "4", "4.1", "4.2", "5", "5.1", "5.2", "6", "6.1", "6.2", "7")
APPENDICES: tuple[str, ...] = ("A", "B", "B.1", "B.2", "B.3", "B.4", "C", "C.1", "C.2", "C.3", "D", "E", "E.1", "E.2")
APPENDICES += ("E.3", "E.4", "F", "G", "H", "H.1", "H.2", "H.3")
FIGURES = ("1", "2", "3", "4", "5", "6")

CITATIONS: dict[str, tuple[str, ...]] = {
    # the structured matrix and the layer
    "dlor.DLoR": ("Definition 3", "Remark 2"),
    "dlor.dlor_linear": ("Definition 3", "Remark 2"),
    "dlor.nn.DLoRLinear": ("Definition 3", "Remark 2", "Definition 2"),
    "dlor.nearest_dlor": ("Definition 3", "Remark 2"),
    "dlor.spectral_contributions": ("Appendix H.3", "Figure 2", "Figure 3"),
    # decompositions (Section 4, Appendix C)
    "dlor.additive_decompose": ("Theorem 3", "Section 4.1"),
    "dlor.multiplicative_decompose": ("Theorem 4", "Appendix C.3", "Appendix E.1", "Remark 2"),
    "dlor.hybrid_decompose": ("Remark 3", "Theorem 4"),
    "dlor.embed_square": ("Remark 2",),
    "dlor.decompose": ("Section 4", "Section 4.1", "Section 4.2", "Theorem 3", "Theorem 4", "Remark 2", "Remark 3", "Appendix C"),
    # the compiler (Section 5)
    "dlor.construct": ("Section 5", "Theorem 3", "Theorem 4", "Theorem 5", "Theorem 6", "Theorem 7", "Theorem 11", "Appendix F"),
    "dlor.construct.to_deep": ("Theorem 4", "Theorem 5", "Lemma 1", "Assumption 1", "Remark 2", "Appendix E.1"),
    "dlor.construct.to_wide": ("Theorem 3", "Theorem 6", "Assumption 1", "Remark 2", "Appendix E.2"),
    "dlor.construct.to_augmented": ("Theorem 11", "Appendix F", "Assumption 1"),
    # rank-1 networks (Section 3)
    "dlor.rank1": (
        "Section 3",
        "Section 3.1",
        "Section 3.2",
        "Theorem 1",
        "Theorem 2",
        "Theorem 9",
        "Theorem 10",
        "Definition 2",
        "Lemma 2",
    ),
    "dlor.rank1.interpolate": ("Theorem 1", "Theorem 9", "Theorem 10", "Lemma 2", "Appendix B.4", "Definition 1"),
    "dlor.rank1.affine_collapse_bound": ("Theorem 2",),
    "dlor.rank1.blindness_bound": ("Definition 2",),
    "dlor.rank1.conditional_variance": ("Definition 2",),
    # model surgery, pretraining and the trainer
    "dlor.dlorize": ("Theorem 4", "Remark 2"),
    "dlor.nn.dlorize": ("Theorem 4", "Remark 2"),
    "dlor.adapt": ("Appendix G", "Definition 3", "Remark 2"),
    "dlor.nn.DLoRAdapter": ("Appendix G", "Definition 3", "Remark 2"),
    "dlor.peft": ("Appendix G", "Definition 3", "Remark 2"),
    "dlor.lm": ("Appendix G", "Definition 3", "Remark 2", "Theorem 5"),
    "dlor.train": ("Section 6.2", "Appendix H.2"),
    "dlor.expressivity": ("Appendix D",),
    # experiments, by their registry names
    "training": ("Section 6.2", "Appendix H.2", "Figure 4", "Figure 6"),
    "uat": ("Section 6.1", "Appendix H.1", "Figure 2", "Figure 3", "Theorem 5", "Theorem 6"),
    "fig5": ("Section 3.2", "Definition 2", "Figure 5", "Remark 2"),
    "spectral": ("Appendix H.3", "Figure 2", "Figure 3", "Section 6.2"),
    "realdata": ("Appendix G", "Definition 2"),
    "protocol": ("Section 6.2", "Appendix H.2", "Figure 4"),
    "lm": ("Appendix G", "Theorem 3"),
    "expressivity": ("Appendix D",),
    "finetune": ("Appendix G", "Theorem 3", "Theorem 4", "Definition 3", "Remark 2"),
}


def known(citation: str) -> bool:
    """Whether ``citation`` ("Theorem 4", "Section 6.2", "Appendix C.3", "Figure 2(a)") is a number of the paper."""
    kind, _, number = citation.partition(" ")
    number = number.split("(")[0]
    if kind == "Section":
        return number in SECTIONS
    if kind == "Appendix":
        return number in APPENDICES
    if kind == "Figure":
        return number in FIGURES
    return citation in NUMBERED
