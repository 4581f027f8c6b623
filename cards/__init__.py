"""Model cards for published rzoo weights: Jinja templates + a renderer on huggingface_hub's ModelCard.

>>> from cards import CardSpec, render_card
>>> card = render_card(CardSpec(repo_id="me/resnet50.augmix_in1k", architecture="resnet50"))
>>> card.data.library_name
'timm'
"""

from __future__ import annotations

from cards._model_index import (
    TASKS,
    Summary,
    summarize_results,
    summary_from_hub_eval_results,
    to_hub_eval_results,
)
from cards._plot import PLOT_FILENAME, plot_robustness, severity_curve
from cards.render import CardSpec, card_data, corruption_rows, render_card, write_card

__all__ = [
    "PLOT_FILENAME",
    "TASKS",
    "CardSpec",
    "Summary",
    "card_data",
    "corruption_rows",
    "plot_robustness",
    "render_card",
    "severity_curve",
    "summarize_results",
    "summary_from_hub_eval_results",
    "to_hub_eval_results",
    "write_card",
]
