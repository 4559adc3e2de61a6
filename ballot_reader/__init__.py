"""The PCOS ballot reader: scanned page → style, target scores and states, verdict.

``interpret(image, election)`` is the entry point; see docs/reader.md for the pipeline,
the thresholds and the data behind them, the envelope and the overlay legend.
"""

from ballot_reader.interpret import Reader, interpret
from ballot_reader.interpretation import Interpretation, TargetReading, TargetState, Unreadable

__all__ = ["Interpretation", "Reader", "TargetReading", "TargetState", "Unreadable", "interpret"]
