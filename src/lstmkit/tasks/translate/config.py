"""Settings of ``lstmkit train translate``: the engine's, the decoder's (:class:`Seq2SeqConfig`), the data
and the encoder. Every field is a command-line flag."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...train import max_steps_opt, opt
from ..seq2seq_jobs import Seq2SeqConfig

__all__ = ["TranslateConfig", "GENERATED"]

#: the generated data sets (anything else in ``data`` is a file of tab-separated pairs)
GENERATED = ("numbers", "dates")
#: tokenisation of each side when ``source_tokens``/``target_tokens`` is ``auto``
AUTO_TOKENS = {"numbers": ("words", "chars"), "dates": ("chars", "chars"), "pairs": ("words", "words")}


@dataclass
class TranslateConfig(Seq2SeqConfig):
    """Sequence to sequence: a bidirectional recurrent encoder reads the source, an attending LSTM decoder
    writes the target.

    The default translates numbers written in English words into French words (num2words): held-out
    numbers are never seen in training, and the default reaches >= 99% exact match in a few minutes on
    2 CPU cores.

    Example::

        >>> from lstmkit.tasks.translate import TranslateConfig
        >>> cfg = TranslateConfig(data="dates", max_steps=100)
        >>> cfg.validate(); cfg.tokens()
        ('chars', 'chars')
    """

    task: ClassVar[str] = "translate"

    # ------------------------------------------------------------------ engine defaults for this job
    max_steps: int = max_steps_opt(3000)
    eval_every: int = opt(250, "steps between evaluations on the validation pairs (and checkpoints)")

    # ------------------------------------------------------------------ data
    data: str = opt("numbers", "numbers (written out in words, num2words), dates (written in several "
                               "locales -> ISO 8601, babel's CLDR data), or a file of tab-separated pairs "
                               "(source<TAB>target[<TAB>attribution], the Tatoeba/Anki export format)")
    dev: str = opt("", "pairs file of validation pairs (with --data FILE; default: --val-size pairs held out of it)")
    test: str = opt("", "pairs file of test pairs (with --data FILE; default: --test-size pairs held out of it)")
    source_lang: str = opt("en", "numbers: the language of the source words (a num2words language code)")
    target_lang: str = opt("fr", "numbers: the language of the target words (fr, de, es, it, ...)")
    max_number: int = opt(999_999, "numbers: the largest number; 0..max_number are split into train/val/test")
    locales: str = opt("en_US,en_GB,fr_FR,de_DE,es_ES,it_IT,pt_BR,nl_NL,ja_JP",
                       "dates: comma-separated CLDR locales the source dates are written in")
    date_from: str = opt("1950-01-01", "dates: the first date (ISO)")
    date_to: str = opt("2049-12-31", "dates: the last date (ISO)")
    val_size: int = opt(1000, "validation pairs held out (never trained on)")
    test_size: int = opt(2000, "test pairs held out and scored with the best checkpoint when training ends "
                               "(0: none)", control=True)
    source_tokens: str = opt("auto", "tokens of the source: chars, words, or auto (numbers: words; dates: "
                                     "chars; pairs: words)", choices=("auto", "chars", "words"))
    target_tokens: str = opt("auto", "tokens of the target: chars, words, or auto (numbers: chars, so German "
                                     "compounds spell out; dates: chars; pairs: words)",
                             choices=("auto", "chars", "words"))
    max_length: int = opt(0, "pairs file: drop pairs with more than this many tokens on either side (0: keep all)")
    reverse: bool = opt(False, "pairs file: translate the second column into the first")
    min_count: int = opt(1, "pairs file: tokens seen fewer times in training become <unk>")

    # ------------------------------------------------------------------ encoder
    cell: str = opt("lstm", "the encoder's recurrent cell", choices=("lstm", "gru", "rnn"))
    layers: int = opt(1, "encoder layers")
    hidden: int = opt(128, "encoder hidden units per direction")
    bidirectional: bool = opt(True, "read the source both ways")

    def kind(self) -> str:
        """``numbers``, ``dates`` or ``pairs``."""
        return self.data if self.data in GENERATED else "pairs"

    def tokens(self) -> tuple[str, str]:
        """The (source, target) tokenisation in force."""
        auto = AUTO_TOKENS[self.kind()]
        return (auto[0] if self.source_tokens == "auto" else self.source_tokens,
                auto[1] if self.target_tokens == "auto" else self.target_tokens)

    def validate(self) -> None:
        super().validate()
        for name in ("layers", "hidden", "val_size", "min_count"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("test_size", "max_length"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.kind() == "numbers" and self.max_number < self.val_size + self.test_size + 100:
            raise ValueError(f"max_number must leave at least 100 training numbers after val_size + test_size "
                             f"({self.val_size} + {self.test_size}), got {self.max_number}")
        if (self.dev or self.test) and self.kind() != "pairs":
            raise ValueError(f"--dev/--test are pairs files for --data FILE; expected no --dev/--test with "
                             f"--data {self.data}")
