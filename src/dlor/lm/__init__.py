"""Language-model pretraining with DLoR projections (issue 12, Appendix G): model, byte corpus, trainer."""

from .data import Corpus as Corpus
from .data import load_corpus as load_corpus
from .model import GPT as GPT
from .model import VARIANTS as VARIANTS
from .model import GPTConfig as GPTConfig
from .trainer import TrainSettings as TrainSettings
from .trainer import train as train

__all__ = ["Corpus", "GPT", "GPTConfig", "TrainSettings", "VARIANTS", "load_corpus", "train"]
