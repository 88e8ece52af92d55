"""Language-model pretraining with DLoR projections (Appendix G): model, byte corpus, trainer, saving and sampling."""

from .batched import train_batched as train_batched
from .data import Corpus as Corpus
from .data import load_corpus as load_corpus
from .model import GPT as GPT
from .model import VARIANTS as VARIANTS
from .model import GPTConfig as GPTConfig
from .saved import load_model as load_model
from .saved import save_model as save_model
from .trainer import DivergedError as DivergedError
from .trainer import TrainSettings as TrainSettings
from .trainer import train as train

__all__ = [
    "Corpus",
    "DivergedError",
    "GPT",
    "GPTConfig",
    "TrainSettings",
    "VARIANTS",
    "load_corpus",
    "load_model",
    "save_model",
    "train",
    "train_batched",
]
