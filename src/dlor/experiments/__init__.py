"""The paper's experiments, one module per figure or table; each exposes ``run(out, budget, ...)``."""
