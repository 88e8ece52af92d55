r"""DLoR as a method of Hugging Face PEFT: ``alpha I + U V^T`` beside each targeted frozen weight.

Importing ``dlor.peft`` registers the method with ``peft.utils.register_peft_method`` (name
``"dlor"``), so PEFT's own API works unchanged::

    import dlor.peft
    from peft import PeftModel, get_peft_model

    model = get_peft_model(base, dlor.peft.DLoRConfig(r=8, target_modules=["q_proj", "v_proj"]))
    ...  # train
    model.save_pretrained("out")  # adapter_model.safetensors + adapter_config.json
    model = PeftModel.from_pretrained(base, "out")  # after `import dlor.peft`
    merged = model.merge_and_unload()  # plain nn.Linear layers, W_0 + s (alpha I + U V^T)

Needs the ``peft`` package (the ``hf`` extra: ``pip install 'dlor[hf]'``); the rest of dlor does
not. The same adapter without PEFT is [`dlor.nn.DLoRAdapter`][dlor.nn.DLoRAdapter] and
[`dlor.adapt`][dlor.adapt].
"""

from __future__ import annotations

try:
    import peft as _peft  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "dlor.peft needs the peft package, which is not installed; install it with pip install 'dlor[hf]' "
        "(or pip install peft), or use dlor.adapt, the same adapter without PEFT"
    ) from err

from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING
from peft.utils import register_peft_method

from ._config import DLoRConfig
from ._layer import DLoRAdapterLinear, DLoRLayer
from ._model import DLoRModel
from ._type import NAME, PEFT_TYPE

if PEFT_TYPE not in PEFT_TYPE_TO_CONFIG_MAPPING:
    register_peft_method(name=NAME, config_cls=DLoRConfig, model_cls=DLoRModel)

__all__ = ["DLoRConfig", "DLoRLayer", "DLoRAdapterLinear", "DLoRModel", "PEFT_TYPE"]
