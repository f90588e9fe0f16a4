"""TradingView alerts on the venue (issue 5, signals.md §1.5–§1.7): a webhook body becomes engine commands on the
user's account. The grammar itself (pure values) is ``alfax.domain.alert_grammar`` / ``alert_model``.

- ``plan``    the order planner: ``plan_command`` (settings steps + entry / close / cancel orders) and ``plan_legs``
              (TP/SL/trailing legs once the entry executed), pure reads of the venue; ``sizing`` (amounts, prices,
              rounding, client ids) and ``legs`` are its parts.
- ``intake`` / ``executor`` / ``follow`` receive, dedupe and execute the plans (see their docstrings).
"""

from .plan import MAX_SHARED_ID_COMMANDS, Plan, Step, plan_command, plan_legs
from .sizing import tag_code

__all__ = ["MAX_SHARED_ID_COMMANDS", "Plan", "Step", "plan_command", "plan_legs", "tag_code"]
