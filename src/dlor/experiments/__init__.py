"""The paper's experiments, one folder each (``section6_training``, ``section6_uat``,
``orthogonal_blindness``, ``spectra``, ``digits``, ``section6_readings``, ``pretraining``,
``depth_width``), every one holding its config and ``run(cfg, out, ctx)`` (``experiment.py``), its
claims, its figures and its page (``page(folder, out)``). Each is registered in
``dlor.experiments._registry`` under its short name (``training``, ``uat``, ``fig5``, ...).

Shared plumbing sits beside the folders: the registry, the run context, the summary type, the
writers (``_common``), the sawtooth data, the sweep runner and the page helpers (``_page``)."""
