"""The paper's experiments, one module per artefact it reproduces (``table1_fig4_fig6_sweep``,
``fig2_fig3_compiled_mlp``, ``appendix_d_depth_width``, ...), each registered in
:mod:`dlor.experiments._registry` under its short name (``training``, ``uat``, ``expressivity``,
...) with a config dataclass (``paper()``, ``quick()``, ``tiny()``) and ``run(cfg, out, ctx)``."""
